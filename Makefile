# Postern - plain Makefile, no autotools.
#
#   make            deps + bin/posternd bin/postern bin/sendmail
#   make run        deps + build + (first time) ./run instance + demo user, posternd -f
#   make test       every test (unit + integration); SAN=1 under ASan + UBSan
#   make fuzz       libFuzzer harnesses (clang); make fuzz-run runs each briefly
#   make docs       regenerates docs/CONFIG.md from the parameter registry
#   make install    PREFIX=/usr/local DESTDIR=
#
# Objects go to build/rel or build/san so that a sanitizer build never mixes
# with a release build; release binaries land in bin/, sanitizer ones in
# build/san/bin/.

SAN ?= 0
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PYTHON ?= /usr/bin/python3

PKGS := libevent libevent_openssl openssl libsodium lmdb libpcre2-8 zlib libcares pam

ifeq ($(SAN),1)
VARIANT := san
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN := -fsanitize=address,undefined
BIN := build/san/bin
else
VARIANT := rel
OPT := -O2 -g -D_FORTIFY_SOURCE=2
LDSAN :=
BIN := bin
endif
B := build/$(VARIANT)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypt

CFLAGS_ALL = -std=gnu11 $(OPT) -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-unused-parameter -fstack-protector-strong -fPIE -D_GNU_SOURCE \
	-Ilib -I. $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pie -Wl,-z,relro,-z,now $(LDSAN) $(LDFLAGS)

LIB_SRCS := $(wildcard lib/*.c)
ROLE_DIRS := auth smtp smtp/queue smtp/resolve smtp/client imap pop3 store web-admin
ROLE_SRCS := $(foreach d,$(ROLE_DIRS),$(wildcard $(d)/*.c))
MASTER_SRCS := $(wildcard master/*.c)
# Everything of the master but main(): linked into posternd, into postern
# (the built-role table for init/check) and into the unit tests.
MASTER_LIB_SRCS := $(filter-out master/main.c,$(MASTER_SRCS))
SENDMAIL_SRCS := $(wildcard cli/sendmail*.c)
CLI_SRCS := $(filter-out $(SENDMAIL_SRCS),$(wildcard cli/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))
LIB_A := $(B)/libpostern.a
ROLES_A := $(B)/libroles.a
MASTER_A := $(B)/libmaster.a
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))

.PHONY: all build deps run test unit fuzz fuzz-run docs install clean bench-store
# Keep object files that make would otherwise treat as intermediate and
# delete (the fuzz objects), so a second make fuzz does not rebuild all.
.SECONDARY:

all: deps
	@$(MAKE) --no-print-directory build

deps:
	@sh mk/deps.sh build

build: $(BIN)/posternd $(BIN)/postern $(BIN)/sendmail

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB_A): $(call obj,$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(ROLES_A): $(call obj,$(ROLE_SRCS))
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(MASTER_A): $(call obj,$(MASTER_LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

# Link order: master (role table) -> roles -> lib.
LINK_LIBS = $(MASTER_A) $(ROLES_A) $(LIB_A) $(PKG_LIBS)

$(BIN)/posternd: $(B)/master/main.o $(MASTER_A) $(ROLES_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(B)/master/main.o $(LINK_LIBS)

$(BIN)/postern: $(call obj,$(CLI_SRCS)) $(MASTER_A) $(ROLES_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(call obj,$(CLI_SRCS)) $(LINK_LIBS)

$(BIN)/sendmail: $(call obj,$(SENDMAIL_SRCS)) $(MASTER_A) $(ROLES_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(call obj,$(SENDMAIL_SRCS)) $(LINK_LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(MASTER_A) $(ROLES_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LINK_LIBS) $(shell pkg-config --libs cmocka)

# make test: unit binaries + the pytest integration and interop suites, one summary line.
test: deps
	@$(MAKE) --no-print-directory build $(UNIT_BINS)
	@POSTERN_BIN=$(abspath $(BIN)) POSTERN_SAN=$(SAN) $(PYTHON) tests/run_all.py $(UNIT_BINS)

unit: deps
	@$(MAKE) --no-print-directory $(UNIT_BINS)
	@POSTERN_BIN=$(abspath $(BIN)) POSTERN_SAN=$(SAN) $(PYTHON) tests/run_all.py --unit-only $(UNIT_BINS)

run: deps
	@$(MAKE) --no-print-directory build
	@sh mk/run.sh $(BIN)

# Fuzzing: clang + libFuzzer, always with ASan + UBSan.
FZ := build/fuzz
FUZZ_CFLAGS = -std=gnu11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-D_GNU_SOURCE -DPOSTERN_FUZZ -Ilib -I. $(PKG_CFLAGS)
FUZZ_LIB_OBJS = $(patsubst %.c,$(FZ)/%.o,$(LIB_SRCS) $(ROLE_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FZ)/bin/%,$(FUZZ_SRCS))

$(FZ)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FZ)/bin/%: $(FZ)/tests/fuzz/%.o $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)

fuzz:
	@sh mk/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

# Each harness runs FUZZ_SECONDS on a copy of its seed corpus; any crash,
# leak or sanitizer report fails the target.
FUZZ_SECONDS ?= 20
fuzz-run: fuzz
	@sh mk/fuzz-run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

docs: build
	$(BIN)/postern config --markdown > docs/CONFIG.md

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/postern \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)/etc/pam.d
	install -m 0755 bin/posternd $(DESTDIR)$(PREFIX)/sbin/posternd
	install -m 0755 bin/postern $(DESTDIR)$(PREFIX)/sbin/postern
	install -m 0755 bin/sendmail $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf sendmail $(DESTDIR)$(PREFIX)/sbin/mailq
	ln -sf sendmail $(DESTDIR)$(PREFIX)/sbin/newaliases
	install -m 0644 etc/postern.conf.sample $(DESTDIR)/etc/postern/postern.conf.sample
	install -m 0644 etc/aliases.sample $(DESTDIR)/etc/postern/aliases.sample
	install -m 0644 etc/pam.d/postern $(DESTDIR)/etc/pam.d/postern
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' etc/postern.service > $(DESTDIR)/lib/systemd/system/postern.service

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)

# bench/store: the store benchmark program (bench/store/run.sh runs it).
$(B)/bench/store/bench_store: $(B)/bench/store/bench_store.o $(MASTER_A) $(ROLES_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LINK_LIBS)

bench-store: deps
	@$(MAKE) --no-print-directory $(B)/bench/store/bench_store
