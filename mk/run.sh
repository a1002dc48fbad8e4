#!/bin/sh
# run.sh - `make run`: a demo Postern instance in ./run, in the foreground.
#
# Called by the Makefile as `sh mk/run.sh BINDIR` after the build. The
# first time it creates the instance with `postern init ./run` (as root on
# a free port base from 10000 up, so a demo never takes port 25 from a
# real mail server; as another user, init picks free ports itself), and a
# demo user when this Postern has `postern user`. Then it prints what
# listens where and how to try it, and execs `posternd -f`: logs go to the
# terminal, Ctrl-C (SIGINT) stops the master and every role cleanly.
set -eu

bin=${1:-bin}
case "$bin" in /*) ;; *) bin="$(pwd)/$bin" ;; esac
dir="$(pwd)/run"
conf="$dir/postern.conf"
postern="$bin/postern"

# A base N whose eight ports N+25, N+587, ... are all free on this host.
free_base() {
	python3 - <<'PY'
import socket
for base in range(10000, 60001, 10000):
    socks = []
    try:
        for p in (25, 587, 465, 143, 993, 110, 995, 443):
            s = socket.socket()
            socks.append(s)
            s.bind(("", base + p))
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
}

if [ ! -f "$conf" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		base=$(free_base)
		if [ -z "$base" ]; then
			echo "run.sh: no free port base among 10000..60000; free some ports or run postern init yourself" >&2
			exit 1
		fi
		"$postern" init "$dir" --port-base "$base"
	else
		"$postern" init "$dir"
	fi
	domain=$("$postern" -c "$conf" config mydomain 2>/dev/null | sed 's/^[^=]*= *//')
	if "$postern" --help 2>&1 | grep -q '^  user '; then
		printf 'demo' | "$postern" -c "$conf" user add "demo@$domain" --password-stdin &&
			echo "demo user: demo@$domain, password demo"
	else
		echo "(no demo user: this Postern has no \"postern user\" command yet)"
	fi
	echo
fi

host=$("$postern" -c "$conf" config myhostname 2>/dev/null | sed 's/^[^=]*= *//')
enabled=$(grep -E '^[A-Za-z0-9_.-]+/listen[[:space:]]*=' "$conf" || true)
echo "Postern demo instance: $conf"
if [ -z "$enabled" ]; then
	echo "No listener is enabled: no protocol role is built into this Postern yet,"
	echo "so the master runs alone (postern -c $conf status shows it)."
else
	echo "$enabled" | while IFS= read -r line; do
		name=${line%%/listen*}
		val=${line#*=}
		set -- $val
		proto=$1 addr=$2 tls=${3#tls=}
		port=${addr##*:}
		echo "  $name: $proto on $addr ($tls)"
		case "$proto:$tls" in
		smtp:starttls) echo "    try: openssl s_client -starttls smtp -connect 127.0.0.1:$port" ;;
		smtp:implicit) echo "    try: openssl s_client -connect 127.0.0.1:$port" ;;
		imap:starttls) echo "    try: openssl s_client -starttls imap -connect 127.0.0.1:$port" ;;
		pop3:starttls) echo "    try: openssl s_client -starttls pop3 -connect 127.0.0.1:$port" ;;
		*:implicit) echo "    try: openssl s_client -connect 127.0.0.1:$port" ;;
		*) echo "    try: telnet 127.0.0.1 $port" ;;
		esac
		case "$name" in
		submission) echo "    Thunderbird outgoing: server $host, port $port, STARTTLS, normal password" ;;
		imaps) echo "    Thunderbird incoming: IMAP, server $host, port $port, SSL/TLS, normal password" ;;
		esac
	done
fi
echo "Other terminal: $postern -c $conf status | check | reload | stop"
echo "Ctrl-C stops it."
echo
exec "$bin/posternd" -c "$conf" -f
