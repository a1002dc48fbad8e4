#!/bin/sh
# bench/imap/run.sh - Postern's IMAP role against Dovecot, same machine,
# same run, same Maildir (two copies of one generated mailbox), same
# client (imapbench.py, Python stdlib).
#
#   sh bench/imap/run.sh [MESSAGES] [SESSIONS] [ROUNDS] [IDLE]
#       MESSAGES in INBOX (2000), concurrent SESSIONS (8), ROUNDS of the
#       operation mix per session (10), IDLE sessions for memory (1000)
#   SKIP_POSTERN=1 / SKIP_DOVECOT=1 measure one side only; SINGLE_ROUNDS
#   (5) rounds of the one-session pass; ONLY_SINGLE=1 runs the warm-up and
#   the one-session pass only (no load, no idle sessions: minutes less).
#
# 1. load: SESSIONS sessions at once, each ROUNDS times SELECT, FETCH
#    (1:* FLAGS; 20 header sets; one whole message), SEARCH (UNSEEN,
#    SUBJECT word, BODY word), STORE +FLAGS, APPEND, EXPUNGE, all on the
#    same INBOX; median and p95 per operation, ratio Postern/Dovecot.
# 2. single: one session alone, each operation ROUNDS times in turn, with
#    whole-mailbox STORE and FETCH ENVELOPE and SENTSINCE/FROM searches.
# 3. idle: IDLE sessions held open in IDLE, plain then TLS; the servers'
#    RSS and PSS summed over their process trees (/proc/PID/smaps_rollup)
#    before and after, in KB per session.
#
# Cache: both servers get one warm-up round first (index built, page cache
# warm); the figures are warm-cache figures. Dovecot runs with its
# defaults (high-security login processes, one imap process per session)
# plus the limits 1,000 sessions need; it is a private instance on
# loopback ports in a temporary directory (never the system service).
# Needs root (Dovecot's privilege separation, Postern's mail_owner).
# Results: $OUT (default /tmp/postern-imap-bench) *.json and report.md.
set -eu
MESSAGES=${1:-2000}
SESSIONS=${2:-8}
ROUNDS=${3:-10}
IDLE=${4:-1000}
SINGLE_ROUNDS=${SINGLE_ROUNDS:-5}
OUT=${OUT:-/tmp/postern-imap-bench}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
BENCH="$PY $HERE/imapbench.py"
USER_NAME=bench@example.test
PASSWORD=bench-password
DC_PORT=${DC_PORT:-31143}
DC_TLS_PORT=${DC_TLS_PORT:-31993}

[ "$(id -u)" = 0 ] || { echo "bench/imap: run as root (Dovecot and mail_owner need it)" >&2; exit 1; }
sh "$ROOT/mk/deps.sh" bench
command -v dovecot >/dev/null 2>&1 || { echo "bench/imap: dovecot not installed (sh mk/deps.sh bench)" >&2; exit 1; }
ulimit -n 20000

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$OUT"
mkdir -p "$OUT"
chmod 755 "$OUT"
echo "== mailbox: $MESSAGES messages"
$BENCH maildir "$OUT/Maildir" "$MESSAGES"

DC_PID=
PN_PID=
SKIP_OPS=
cleanup() {
	[ -n "$DC_PID" ] && kill "$DC_PID" 2>/dev/null || true
	[ -n "$PN_PID" ] && kill "$PN_PID" 2>/dev/null || true
	sleep 1
}
trap cleanup EXIT INT TERM

wait_port() {
	i=0
	while ! $PY -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "bench/imap: nothing listens on port $1" >&2; return 1; }
		sleep 0.2
	done
}

run_side() { # name port tls_port pid
	echo "== $1: warm-up"
	$BENCH load --name "$1" --port "$2" --user "$USER_NAME" --password "$PASSWORD" \
		--sessions 1 --rounds 1 >"$OUT/$1-warmup.json"
	if [ "${ONLY_SINGLE:-0}" = 1 ]; then
		echo "== $1: one session alone ($SINGLE_ROUNDS rounds)"
		$BENCH single --name "$1" --port "$2" --user "$USER_NAME" --password "$PASSWORD" \
			--rounds "$SINGLE_ROUNDS" >"$OUT/$1-single.json"
		return 0
	fi
	echo "== $1: load ($SESSIONS sessions x $ROUNDS rounds)"
	$BENCH load --name "$1" --port "$2" --user "$USER_NAME" --password "$PASSWORD" \
		--sessions "$SESSIONS" --rounds "$ROUNDS" >"$OUT/$1-load.json"
	echo "== $1: one session alone ($SINGLE_ROUNDS rounds)"
	$BENCH single --name "$1" --port "$2" --user "$USER_NAME" --password "$PASSWORD" \
		--rounds "$SINGLE_ROUNDS" >"$OUT/$1-single.json"
	echo "== $1: $IDLE idle sessions, plain and TLS"
	$BENCH idle --name "$1" --port "$2" --tls-port "$3" --user "$USER_NAME" \
		--password "$PASSWORD" --count "$IDLE" --pid "$4" >"$OUT/$1-idle.json"
}

if [ "${SKIP_POSTERN:-0}" != 1 ]; then
	make -s -C "$ROOT" build
	PN="$OUT/postern"
	# a port base whose eight listener ports are all free (other instances
	# may run on this machine)
	PORT_BASE=${PORT_BASE:-$($PY - <<'PY'
import socket
for base in range(33000, 61000, 1000):
    socks = []
    try:
        for p in (25, 587, 465, 143, 993, 110, 995, 443):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", base + p))
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
)}
	"$ROOT/bin/postern" init "$PN" --port-base "$PORT_BASE" --listen 127.0.0.1 \
		--hostname mail.example.test >/dev/null
	"$ROOT/bin/postern" -c "$PN/postern.conf" config -e mail_max_userip_connections=0 >/dev/null
	"$ROOT/bin/postern" -c "$PN/postern.conf" config -e imap_processes=2 >/dev/null
	# like Dovecot's raised limits: 1,000 sessions from one address
	"$ROOT/bin/postern" -c "$PN/postern.conf" config -e client_connection_limit=0 >/dev/null
	"$ROOT/bin/postern" -c "$PN/postern.conf" config -e connection_limit=5000 >/dev/null
	echo "$PASSWORD" | "$ROOT/bin/postern" -c "$PN/postern.conf" user add "$USER_NAME" \
		--password-stdin >/dev/null
	owner=$(stat -c %u:%g "$PN/mail")
	mkdir -p "$PN/mail/example.test"
	cp -a "$OUT/Maildir" "$PN/mail/example.test/bench"
	chown -R "$owner" "$PN/mail/example.test"
	chmod -R go-rwx "$PN/mail/example.test"
	"$ROOT/bin/posternd" -c "$PN/postern.conf" -f >"$PN/stderr" 2>&1 &
	PN_PID=$!
	wait_port $((PORT_BASE + 143))
	kill -0 "$PN_PID" 2>/dev/null || { echo "bench/imap: posternd did not start:" >&2; cat "$PN/stderr" >&2; exit 1; }
	run_side postern $((PORT_BASE + 143)) $((PORT_BASE + 993)) "$PN_PID"
	kill "$PN_PID"
	wait "$PN_PID" 2>/dev/null || true
	PN_PID=
	[ -f "$OUT/postern-load.json" ] && SKIP_OPS=$($PY -c "import json,sys; print(','.join(json.load(open(sys.argv[1]))['unsupported']))" \
		"$OUT/postern-load.json")
fi

if [ "${SKIP_DOVECOT:-0}" != 1 ]; then
	DC="$OUT/dovecot"
	mkdir -p "$DC"
	cp -a "$OUT/Maildir" "$DC/Maildir"
	chown -R nobody:nogroup "$DC/Maildir"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DC/key.pem" -out "$DC/cert.pem" \
		-days 30 -subj /CN=localhost >/dev/null 2>&1
	CONF=$($BENCH dovecot-conf "$DC" --maildir "$DC/Maildir" --port "$DC_PORT" \
		--tls-port "$DC_TLS_PORT" --user "$USER_NAME" --password "$PASSWORD")
	dovecot -c "$CONF" -F >"$DC/stdout" 2>&1 &
	DC_PID=$!
	wait_port "$DC_PORT"
	run_side dovecot "$DC_PORT" "$DC_TLS_PORT" "$DC_PID"
	# Postern lacking a command: Dovecot again with the same mix, so the
	# ratios compare like with like (the full mix above stays on record)
	if [ -n "$SKIP_OPS" ]; then
		echo "== dovecot: load again without: $SKIP_OPS"
		mv "$OUT/dovecot-load.json" "$OUT/dovecot-load-full.json"
		$BENCH load --name dovecot --port "$DC_PORT" --user "$USER_NAME" \
			--password "$PASSWORD" --sessions "$SESSIONS" --rounds "$ROUNDS" \
			--skip "$SKIP_OPS" >"$OUT/dovecot-load.json"
	fi
	kill "$DC_PID"
	wait "$DC_PID" 2>/dev/null || true
	DC_PID=
fi

{
	echo "# IMAP benchmark $(date -u +%Y-%m-%d), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo
	echo "Command: sh bench/imap/run.sh $MESSAGES $SESSIONS $ROUNDS $IDLE (warm cache)"
	echo
	echo "Load average at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	if [ -f "$OUT/postern-load.json" ] && [ -f "$OUT/dovecot-load.json" ]; then
		$BENCH report "$OUT/postern-load.json" "$OUT/dovecot-load.json"
	fi
	if [ -f "$OUT/postern-single.json" ] && [ -f "$OUT/dovecot-single.json" ]; then
		echo
		echo "One session alone:"
		echo
		$BENCH report "$OUT/postern-single.json" "$OUT/dovecot-single.json"
	fi
	if [ -f "$OUT/dovecot-load-full.json" ]; then
		echo
		echo "Dovecot with the full operation mix:"
		echo
		$BENCH report "$OUT/dovecot-load-full.json"
	fi
	echo
	$PY - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = {}
for name in ("postern", "dovecot"):
    p = os.path.join(out, name + "-idle.json")
    if os.path.exists(p):
        rows[name] = json.load(open(p))
print("| idle sessions | server | opened | RSS KB/session | PSS KB/session | processes after |")
print("|---|---|---|---|---|---|")
for name, d in rows.items():
    for kind in ("plain", "tls"):
        k = d.get(kind)
        if not k:
            continue
        f = lambda v: "%.1f" % v if v is not None else "-"
        print("| %s | %s | %d%s | %s | %s | %d |" % (
            kind, name, k["sessions"], " (" + k["error"] + ")" if k["error"] else "",
            f(k["rss_kb_per_session"]), f(k["pss_kb_per_session"]), k["after"]["processes"]))
PY
} >"$OUT/report.md"
cat "$OUT/report.md"
