#!/bin/sh
# bench/pop3/run.sh - POP3 login + STAT on a 50,000-message Maildir and
# RETR throughput, Postern's pop3 role side by side with Dovecot's pop3
# (dovecot-pop3d) on the same machine and a copy of the same Maildir.
# Dovecot runs as a private instance (dovecot -c CONF -F, loopback, a free
# high port, passwd-file auth) in the scratch directory; the system's
# Dovecot service is never touched. Prints "server measure value" lines
# and a markdown table for docs/BENCHMARKS.md ("POP3"). Page cache warm
# (the Maildir was just written; nothing is dropped). Login + STAT is then
# measured again in two configurations, both servers without an auth
# cache (defaults) and both with auth_cache_size = 10M.
#
#   sh bench/pop3/run.sh [N] [BIG_MB] [DIR]
#        N messages (50000), BIG_MB size of the big message (50),
#        DIR scratch directory (/dev/shm/postern-pop3-bench)
#
# BENCH_POP3_LOGIN_ONLY=1: only the login + STAT comparison;
# BENCH_POP3_AUTH_DEBUG=1: Dovecot's auth_debug on in the cached run, and
# its count of "cache hit" log lines printed.
#
# Needs root (the mail belongs to mail_owner "postern") and a release
# build (make).
set -eu
cd "$(dirname "$0")/../.."
make -s
exec /usr/bin/python3 bench/pop3/bench_pop3.py "${1:-50000}" "${2:-50}" "${3:-/dev/shm/postern-pop3-bench}"
