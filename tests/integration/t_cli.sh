#!/usr/bin/env bash
# The command-line contract: version, --help, unknown commands.
. "$(dirname "$0")/lib.sh"

out=$("$SIPSEC" version) || fail "sipsec version exited $?"
grep -q '^sipsec [0-9]' <<<"$out" || fail "no sipsec version in: $out"
grep -q '^OpenSSL 3' <<<"$out" || fail "no OpenSSL version in: $out"
grep -q '^libsrtp2 2' <<<"$out" || fail "no libsrtp2 version in: $out"

"$SIPSEC" --help | grep -q 'version' || fail "--help does not list version"
"$SIPSEC" version --help | grep -q 'usage: sipsec version' || fail "version --help"

set +e
"$SIPSEC" frobnicate 2>"$T/err"; rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown command exited $rc, expected 2"
grep -q "not a sipsec command" "$T/err" || fail "unknown command message: $(cat "$T/err")"
"$SIPSEC" >/dev/null 2>&1 && fail "no command should be a usage error"
echo "cli ok"
