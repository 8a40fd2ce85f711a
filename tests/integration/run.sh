#!/usr/bin/env bash
# Runs every tests/integration/t_*.sh (or those named in $@) against the
# sipsec binary in $SIPSEC. Each test exits 0 on success. Ends with the line
# "integration: N passed, N failed".
set -u
cd "$(dirname "$0")"
export SIPSEC=${SIPSEC:-$PWD/../../build/asan/sipsec}
export SPS_TOP=$(cd ../.. && pwd)
pass=0
fail=0
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(t_*.sh)
for t in "${tests[@]}"; do
	[ -e "$t" ] || continue
	log=$(mktemp)
	start=$(date +%s)
	if timeout 300 bash "$t" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $t ($(($(date +%s) - start))s)"
	else
		fail=$((fail + 1))
		echo "FAIL $t ($(($(date +%s) - start))s)"
		sed 's/^/    /' "$log" | tail -60
	fi
	rm -f "$log"
done
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
