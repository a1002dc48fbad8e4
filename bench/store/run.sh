#!/bin/sh
# bench/store/run.sh - the store benchmark: Postern's bench_store and, when
# doveadm is installed (Debian's dovecot-core), the same work done by
# Dovecot on the same machine. Prints "name seconds" lines; the figures go
# into docs/BENCHMARKS.md by hand (with the machine they came from).
#
#   sh bench/store/run.sh [N] [DIR]     N messages (100000), DIR a scratch
#                                       directory (/dev/shm/postern-bench)
#
# Postern is timed in-process (no process start-up); doveadm figures are
# whole commands (about 20 ms of start-up each, shown as dovecot_noop).
# Needs root for the Dovecot part (it runs as mail_owner "postern").
set -eu
N=${1:-100000}
DIR=${2:-/dev/shm/postern-bench}
rm -rf "$DIR"
mkdir -p "$DIR"
make -s bench-store
echo "== postern ($N messages)"
build/rel/bench/store/bench_store "$DIR/postern" "$N"

command -v doveadm >/dev/null 2>&1 || { echo "== dovecot: doveadm not installed, skipped"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "== dovecot: needs root, skipped"; exit 0; }
DC="$DIR/dovecot"
mkdir -p "$DC/mail/cur" "$DC/mail/new" "$DC/mail/tmp" "$DC/run"
python3 - "$DC/mail/new" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    msg = ("Return-Path: <s@example.net>\nDelivered-To: bench\n"
           "From: sender%d@example.net\nTo: bench@example.org\nSubject: message %d%s\n"
           "Message-ID: <%d@bench>\n\nHello %d\n" % (i % 100, i, " needle" if i % 1000 == 0 else "", i, i))
    with open(os.path.join(d, "1795600000.M%dP1Q%d.bench" % (i, i)), "w") as f:
        f.write(msg)
PY
chown -R postern:postern "$DC/mail"
cat > "$DC/dovecot.conf" <<CONF
base_dir = $DC/run
protocols =
log_path = $DC/dovecot.log
ssl = no
mail_location = maildir:$DC/mail
first_valid_uid = 1
passdb {
  driver = static
  args = password=x
}
userdb {
  driver = static
  args = uid=postern gid=postern home=$DC/mail
}
default_internal_user = postern
default_login_user = postern
CONF
dovecot -c "$DC/dovecot.conf"
D="doveadm -c $DC/dovecot.conf"
echo "== dovecot ($N messages)"
/usr/bin/time -f "dovecot_noop %e" $D user -u bench >/dev/null
/usr/bin/time -f "dovecot_first_open %e" $D mailbox status -u bench messages INBOX >/dev/null
sleep 3
/usr/bin/time -f "dovecot_warm_open %e" $D mailbox status -u bench messages INBOX >/dev/null
/usr/bin/time -f "dovecot_all_flags %e" sh -c "$D fetch -u bench flags all >/dev/null"
/usr/bin/time -f "dovecot_header_search %e" sh -c "$D search -u bench header subject needle >/dev/null"
rm -f "$DC"/mail/dovecot.index*
/usr/bin/time -f "dovecot_cold_open %e" $D mailbox status -u bench messages INBOX >/dev/null
kill "$(cat "$DC/run/master.pid")"
