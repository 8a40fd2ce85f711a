#!/usr/bin/env bash
# `sipsec user add | list | del | passwd | set`: help, usage errors, password
# rules, SRTP policy, the database holds no password and is private, and the
# CLI works while `sipsec serve` runs on the same data dir.
. "$(dirname "$0")/lib.sh"

D="$T/data"
PW='correct horse battery'

# run_rc EXPECTED CMD...: run a sipsec command, stdout in $T/out, stderr in
# $T/err, and fail unless it exits with EXPECTED.
run_rc() {
	local want=$1 rc
	shift
	set +e
	"$SIPSEC" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ $rc -eq "$want" ] || fail "'sipsec $*' exited $rc, expected $want: $(cat "$T/err")"
}
# one_line_err PATTERN: exactly one line on stderr, matching PATTERN
one_line_err() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected one error line: $(cat "$T/err")"
	grep -q -- "$1" "$T/err" || fail "error message: $(cat "$T/err") (wanted: $1)"
}

"$SIPSEC" --help | grep -q '^  user ' || fail "--help does not list user"
out=$("$SIPSEC" user --help) || fail "user --help exited $?"
for w in 'usage: sipsec user add NAME' 'user list' 'user del NAME' 'user passwd NAME' \
	'user set NAME --srtp MODE' '--password-stdin' '--json' '--domain' '--srtp MODE'; do
	grep -q -- "$w" <<<"$out" || fail "user --help lacks '$w': $out"
done
for sub in add list del passwd set; do
	"$SIPSEC" user $sub --help | grep -q 'usage: sipsec user' || fail "user $sub --help"
done

# usage errors exit 2
for args in "user" "user frobnicate" "user add" "user add a b" "user add --bogus x" \
	"user list extra" "user list --password-stdin" "user del" "user del x --json" \
	"user passwd" "user add x --data" "user passwd x --domain d" "user set" "user set x" \
	"user set x --srtp" "user passwd x --srtp off" "user list --srtp off"; do
	set +e
	# shellcheck disable=SC2086
	"$SIPSEC" $args --data "$T/never" </dev/null >/dev/null 2>"$T/err"; rc=$?
	set -e
	[ $rc -eq 2 ] || fail "'sipsec $args' exited $rc, expected 2 ($(cat "$T/err"))"
done
# no terminal and no --password-stdin: told to use --password-stdin
run_rc 2 user add alice --data "$D" </dev/null
one_line_err "use --password-stdin\|with --password-stdin"
# list on a dir without a database: exit 1, nothing created
run_rc 1 user list --data "$T/none"
one_line_err "no user database in $T/none"
[ ! -e "$T/none" ] || fail "user list created the data dir"

# add
run_rc 0 user add alice --password-stdin --data "$D" --domain sip.test <<<"$PW"
grep -q '^added user alice (realm sip.test)$' "$T/out" || fail "add output: $(cat "$T/out")"
[ "$(wc -l <"$T/out")" -eq 1 ] || fail "add: more than one line: $(cat "$T/out")"
# the first add recorded the realm: the next one (no --domain) uses it
printf 'another secret\n' | "$SIPSEC" user add bob --password-stdin --data "$D" >"$T/out" ||
	fail "add bob"
grep -q '^added user bob (realm sip.test)$' "$T/out" || fail "realm not kept: $(cat "$T/out")"
# $SIPSEC_DATA is the default data dir
printf 'carols password\n' | SIPSEC_DATA="$D" "$SIPSEC" user add carol.x+1 --password-stdin \
	>/dev/null || fail "add with SIPSEC_DATA"

# duplicate, bad name, short and empty passwords: exit 1 with the reason
run_rc 1 user add alice --password-stdin --data "$D" <<<"$PW"
one_line_err "user alice already exists; use 'sipsec user passwd alice' to change the password"
run_rc 1 user add 'bad name' --password-stdin --data "$D" <<<"$PW"
one_line_err "invalid user name 'bad name'"
run_rc 1 user add "$(printf 'x%.0s' $(seq 1 65))" --password-stdin --data "$D" <<<"$PW"
one_line_err "invalid user name"
run_rc 1 user add dave --password-stdin --data "$D" <<<"short"
one_line_err "password too short (5 characters); use at least 8"
run_rc 1 user add dave --password-stdin --data "$D" </dev/null
one_line_err "empty password"
run_rc 1 user add dave --password-stdin --data "$D" <<<""
one_line_err "empty password"

# SRTP policy: set at add, changed with set, "default" follows serve --srtp-default
run_rc 1 user add frank --password-stdin --srtp maybe --data "$D" <<<"$PW"
one_line_err "invalid --srtp 'maybe': use off, enable, offer, require or default"
run_rc 0 user add frank --password-stdin --srtp require --data "$D" <<<"$PW"
grep -q '^added user frank (realm sip.test, srtp require)$' "$T/out" ||
	fail "add --srtp output: $(cat "$T/out")"
run_rc 0 user set frank --srtp off --data "$D"
grep -q '^user frank: srtp off$' "$T/out" || fail "set output: $(cat "$T/out")"
run_rc 1 user set nobody --srtp off --data "$D"
one_line_err "no user nobody in $D"
run_rc 1 user set frank --srtp OFF --data "$D"
one_line_err "invalid --srtp 'OFF'"
run_rc 0 user set carol.x+1 --srtp=enable --data "$D"
run_rc 0 user set carol.x+1 --srtp default --data "$D"
run_rc 0 user list --data "$D"
grep -Eq '^frank +sip\.test +off +[0-9]{4}-' "$T/out" || fail "frank's srtp: $(cat "$T/out")"
run_rc 0 user del frank --data "$D"

# list: header and one line per user, in name order
run_rc 0 user list --data "$D"
[ "$(sed -n 1p "$T/out" | tr -s ' ')" = "NAME REALM SRTP CREATED" ] ||
	fail "header: $(cat "$T/out")"
[ "$(wc -l <"$T/out")" -eq 4 ] || fail "list: $(cat "$T/out")"
grep -Eq '^alice +sip\.test +default +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
	"$T/out" || fail "list row: $(cat "$T/out")"
[ "$(sed -n '2,$p' "$T/out" | awk '{print $1}' | tr '\n' ' ')" = "alice bob carol.x+1 " ] ||
	fail "list order: $(cat "$T/out")"
# --json parses, and holds the same users and fields
run_rc 0 user list --json --data "$D"
python3 - "$T/out" <<'PY' || fail "list --json: $(cat "$T/out")"
import json, re, sys
users = json.load(open(sys.argv[1]))
assert [u["name"] for u in users] == ["alice", "bob", "carol.x+1"], users
for u in users:
    assert set(u) == {"name", "realm", "srtp", "created"}, u
    assert u["realm"] == "sip.test", u
    assert u["srtp"] == "default", u
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", u["created"]), u
PY

# the database: mode 600, no password in it (also not in the WAL while open)
[ "$(stat -c %a "$D/sipsec.db")" = 600 ] || fail "sipsec.db mode $(stat -c %a "$D/sipsec.db")"
[ "$(stat -c %a "$D")" = 700 ] || fail "data dir mode $(stat -c %a "$D")"
for f in "$D"/sipsec.db*; do
	! grep -aq -- "$PW" "$f" || fail "the password is in $f"
	! grep -aq -- "another secret" "$f" || fail "bob's password is in $f"
done
# the stored hash is HA1 = MD5(name:realm:password) (RFC 7616 3.4.2)
want=$(printf '%s' "alice:sip.test:$PW" | md5sum | cut -d' ' -f1)
python3 - "$D/sipsec.db" "$want" <<'PY' || fail "HA1 of alice is not MD5(alice:sip.test:password)"
import sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute(
    "SELECT ha1_md5, length(ha1_sha256) FROM users WHERE name = 'alice'").fetchone()
assert row == (sys.argv[2], 64), row
PY

# passwd: new hashes, same realm; unknown user exit 1
run_rc 0 user passwd alice --password-stdin --data "$D" <<<"a new password"
grep -q '^changed the password of alice' "$T/out" || fail "passwd output: $(cat "$T/out")"
want=$(printf '%s' "alice:sip.test:a new password" | md5sum | cut -d' ' -f1)
python3 -c "import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(\"SELECT ha1_md5 FROM users WHERE name='alice'\").fetchone(); sys.exit(r[0] != sys.argv[2])" \
	"$D/sipsec.db" "$want" || fail "passwd did not change the hash"
run_rc 1 user passwd alice --password-stdin --data "$D" <<<"short"
one_line_err "password too short"
run_rc 1 user passwd nobody --password-stdin --data "$D" <<<"a new password"
one_line_err "no user nobody in $D"

# del
run_rc 0 user del bob --data "$D"
grep -q '^deleted user bob' "$T/out" || fail "del output: $(cat "$T/out")"
run_rc 1 user del bob --data "$D"
one_line_err "no user bob in $D"
"$SIPSEC" user list --data "$D" | grep -q '^bob ' && fail "bob still listed"

# while `sipsec serve` runs on the same data dir
start_sipsec "$D" --domain sip.test --sip-port "$(free_port)" --tls-port "$(free_port)"
run_rc 0 user add erin --password-stdin --data "$D" <<<"erins password"
run_rc 0 user list --json --data "$D"
python3 -c "import json,sys; assert 'erin' in [u['name'] for u in json.load(open(sys.argv[1]))]" \
	"$T/out" || fail "erin not listed while serve runs"
run_rc 0 user passwd erin --password-stdin --data "$D" <<<"erins new password"
run_rc 0 user del erin --data "$D"
kill -0 "$SPS_PID" || fail "serve died while the CLI used its database"
stop_sipsec
[ "$(stat -c %a "$D/sipsec.db")" = 600 ] || fail "sipsec.db mode after serve"
echo "user cli ok"
