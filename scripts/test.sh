#!/usr/bin/env bash
# Install what is needed, build with AddressSanitizer + UndefinedBehaviorSanitizer,
# and run every test: unit tests, integration tests with real peers, fuzzers.
# Ends with the line "N passed, N failed"; exits non-zero when anything failed.
#   FUZZ_SECONDS=60  how long each libFuzzer target runs (default 60)
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --test || exit 1

total_pass=0
total_fail=0
count() { # count LABEL "N passed, M failed" line from a log
	local line
	line=$(grep -E '^[a-z-]*:? ?[0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
	if [ -z "$line" ]; then
		echo "$1: no result line (crashed?)"
		total_fail=$((total_fail + 1))
		return
	fi
	local p f
	p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
	f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== build (ASan+UBSan, warnings are errors)"
mkdir -p build/logs
if ! make -j"$(nproc)" MODE=asan WERROR=1 all test-bin bench >build/logs/build.log 2>&1; then
	cat build/logs/build.log
	echo "0 passed, 1 failed"
	exit 1
fi

echo "== unit tests"
build/asan/unit-tests >build/logs/unit.log 2>&1
cat build/logs/unit.log
count unit build/logs/unit.log

echo "== integration tests"
SIPSEC=$PWD/build/asan/sipsec tests/integration/run.sh >build/logs/integration.log 2>&1
cat build/logs/integration.log
count integration build/logs/integration.log

echo "== fuzzing"
if ! make -j"$(nproc)" fuzz WERROR=1 >build/logs/fuzz-build.log 2>&1; then
	cat build/logs/fuzz-build.log
	total_fail=$((total_fail + 1))
else
	fuzz/run.sh "${FUZZ_SECONDS:-60}" >build/logs/fuzz.log 2>&1
	cat build/logs/fuzz.log
	count fuzz build/logs/fuzz.log
fi

echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
