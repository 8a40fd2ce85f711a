#!/usr/bin/env bash
# `sipsec cert`: help, usage errors, and the error when no CA exists yet.
# (Once `sipsec serve` exists: start it on a temp data dir, then check
# `cert show` and `cert ca-export` against the certificates it created.)
. "$(dirname "$0")/lib.sh"

"$SIPSEC" --help | grep -q '^  cert ' || fail "--help does not list cert"
out=$("$SIPSEC" cert --help) || fail "cert --help exited $?"
grep -q 'usage: sipsec cert show' <<<"$out" || fail "cert --help: $out"
grep -q 'ca-export' <<<"$out" || fail "cert --help does not list ca-export: $out"
"$SIPSEC" cert show --help | grep -q 'usage: sipsec cert' || fail "cert show --help"
"$SIPSEC" cert ca-export --help | grep -q 'usage: sipsec cert' || fail "cert ca-export --help"

# usage errors exit 2
for args in "cert" "cert frobnicate" "cert show extra" "cert show --bogus" "cert show --data" \
	"cert ca-export a b"; do
	set +e
	# shellcheck disable=SC2086
	"$SIPSEC" $args >/dev/null 2>"$T/err"; rc=$?
	set -e
	[ $rc -eq 2 ] || fail "'sipsec $args' exited $rc, expected 2 ($(cat "$T/err"))"
done

# no certificates yet: exit 1 with a one-line error naming the directory and the fix
mkdir "$T/empty"
for sub in show ca-export; do
	set +e
	"$SIPSEC" cert $sub --data "$T/empty" >"$T/out" 2>"$T/err"; rc=$?
	set -e
	[ $rc -eq 1 ] || fail "cert $sub on an empty data dir exited $rc, expected 1"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "cert $sub: expected one error line: $(cat "$T/err")"
	grep -q "^sipsec cert $sub: no certificates in $T/empty/certs; start 'sipsec serve' once" \
		"$T/err" || fail "cert $sub message: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "cert $sub printed on stdout: $(cat "$T/out")"
done
# the data dir comes from $SIPSEC_DATA, then ./sipsec-data
set +e
SIPSEC_DATA="$T/env" "$SIPSEC" cert show 2>"$T/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "no certificates in $T/env/certs" "$T/err" ||
	fail "SIPSEC_DATA not used: $(cat "$T/err")"
set +e
(cd "$T" && env -u SIPSEC_DATA "$SIPSEC" cert show 2>"$T/err"); rc=$?
set -e
[ $rc -eq 1 ] && grep -q "no certificates in ./sipsec-data/certs" "$T/err" ||
	fail "default data dir: $(cat "$T/err")"
[ ! -e "$T/sipsec-data" ] || fail "cert show created the data dir"
echo "cert cli ok"
