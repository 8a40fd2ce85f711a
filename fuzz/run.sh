#!/usr/bin/env bash
# Run every libFuzzer target built by `make fuzz` (build/fuzz/NAME for each
# fuzz/NAME.c) for SECONDS seconds each, one after another.
#   fuzz/run.sh [SECONDS]   (default 60)
# Each target works on a fresh temporary copy of its seed corpus
# (fuzz/corpus/NAME, also passed read-only) with the dictionary fuzz/sip.dict.
# Crash artifacts go to build/fuzz-artifacts/. Prints "ok   NAME (N runs)" or
# "FAIL NAME" with the tail of the output, and ends with
# "fuzz: N passed, N failed"; exits non-zero when a target failed.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
case "$secs" in
'' | *[!0-9]*)
	echo "usage: fuzz/run.sh SECONDS" >&2
	exit 2
	;;
esac

artifacts=build/fuzz-artifacts
logs=build/fuzz-logs
mkdir -p "$artifacts" "$logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/sipsec-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
shopt -s nullglob
srcs=(fuzz/*.c)
if [ ${#srcs[@]} -eq 0 ]; then
	echo "no fuzz targets in fuzz/"
fi
for src in "${srcs[@]}"; do
	name=$(basename "$src" .c)
	bin=build/fuzz/$name
	if [ ! -x "$bin" ]; then
		echo "FAIL $name"
		echo "    $bin is not built: run 'make fuzz' first"
		failed=$((failed + 1))
		continue
	fi
	seeds=fuzz/corpus/$name
	corpus=$work/$name
	mkdir -p "$corpus"
	if [ -d "$seeds" ]; then
		cp -r "$seeds/." "$corpus/"
	else
		seeds=
	fi
	dict=()
	[ -f fuzz/sip.dict ] && dict=(-dict=fuzz/sip.dict)
	log=$logs/$name.log
	"$bin" -max_total_time="$secs" "${dict[@]}" -max_len=70000 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$name-" "$corpus" ${seeds:+"$seeds"} \
		>"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
		echo "ok   $name (${runs:-?} runs)"
		passed=$((passed + 1))
	else
		echo "FAIL $name (libFuzzer exit $rc; log $log)"
		tail -n 40 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
