#!/bin/sh
# deps.sh - install the Debian packages Postern needs to build and test.
#
# Called by `make deps` (and so by make, make run, make test). Installs only
# what is missing; as root it runs apt-get, otherwise it prints the exact
# command to run and fails, so a build never proceeds half-equipped.
#
# Usage: mk/deps.sh [build|fuzz|ci|bench]
#
# ci also installs the software tests/interop/ runs against Postern
# (Postfix, swaks, fetchmail, getmail, mbsync, mutt, curl) and the Python
# DNS library the test DNS server uses; a developer's `make test` does
# not, and those tests skip with the reason. Postfix is preseeded to "No
# configuration" first, so installing it asks nothing and configures (and
# starts) nothing. bench installs Dovecot for the side-by-side benchmarks;
# its service is kept from starting (policy-rc.d): the benchmarks start
# their own Dovecot on loopback.
set -eu

build_pkgs="gcc make pkg-config libevent-dev libssl-dev libsodium-dev liblmdb-dev
libpam0g-dev zlib1g-dev libpcre2-dev libc-ares-dev libcmocka-dev python3 python3-pytest
swaks"
fuzz_pkgs="clang libclang-rt-14-dev"
interop_pkgs="postfix swaks fetchmail getmail6 isync mutt curl python3-dnslib"
ci_pkgs="$fuzz_pkgs $interop_pkgs"
bench_pkgs="postfix swaks dovecot-imapd dovecot-pop3d"

case "${1:-build}" in
build) want="$build_pkgs" ;;
fuzz) want="$build_pkgs $fuzz_pkgs" ;;
ci) want="$build_pkgs $ci_pkgs" ;;
bench) want="$build_pkgs $bench_pkgs" ;;
*) echo "usage: $0 [build|fuzz|ci|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "postern: missing Debian packages:$missing" >&2
	echo "postern: install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "postern: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
case " $missing " in
*" postfix "*)
	# Without this, postfix's debconf question stops a non-interactive
	# install or writes a main.cf for a mail system we do not want.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	;;
esac
# Keep package scripts from starting daemons (dovecot, postfix): tests and
# benchmarks start their own instances on loopback.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=yes
fi
# A fresh machine has empty package lists; update once, then install.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
[ "$own_policy" = yes ] && rm -f "$policy"
exit 0
