#!/bin/sh
# deps.sh - install the Debian packages Postern needs to build and test.
#
# Called by `make deps` (and so by make, make run, make test). Installs only
# what is missing; as root it runs apt-get, otherwise it prints the exact
# command to run and fails, so a build never proceeds half-equipped.
#
# Usage: mk/deps.sh [build|fuzz|ci]
set -eu

build_pkgs="gcc make pkg-config libevent-dev libssl-dev libsodium-dev liblmdb-dev
libpam0g-dev zlib1g-dev libpcre2-dev libc-ares-dev libcmocka-dev python3 python3-pytest
swaks"
fuzz_pkgs="clang libclang-rt-14-dev"
ci_pkgs="$fuzz_pkgs"

case "${1:-build}" in
build) want="$build_pkgs" ;;
fuzz) want="$build_pkgs $fuzz_pkgs" ;;
ci) want="$build_pkgs $ci_pkgs" ;;
*) echo "usage: $0 [build|fuzz|ci]" >&2; exit 2 ;;
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
# A fresh machine has empty package lists; update once, then install.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
