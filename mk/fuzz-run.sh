#!/bin/sh
# fuzz-run.sh - run each libFuzzer harness briefly; fail on any finding.
#
# Usage: mk/fuzz-run.sh SECONDS HARNESS...
# Each harness build/fuzz/bin/fuzz_NAME starts from a scratch copy of its
# seed corpus tests/fuzz/corpus/fuzz_NAME (or NAME), so CI never writes into
# the tree. A crash, leak, timeout or sanitizer report makes libFuzzer exit
# non-zero, and this script with it; the reproducer is kept in build/fuzz/.
set -eu
secs=$1
shift
status=0
for bin in "$@"; do
	name=$(basename "$bin")
	short=${name#fuzz_}
	work=$(mktemp -d)
	for seed in tests/fuzz/corpus/"$name" tests/fuzz/corpus/"$short"; do
		[ -d "$seed" ] && cp -r "$seed"/. "$work"/
	done
	echo "fuzz: $name for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 -artifact_prefix=build/fuzz/"$name"- "$work" \
		>build/fuzz/"$name".log 2>&1; then
		echo "fuzz: $name FAILED; last lines of build/fuzz/$name.log:"
		tail -n 40 build/fuzz/"$name".log
		status=1
	fi
	rm -rf "$work"
done
exit $status
