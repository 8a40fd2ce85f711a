#!/usr/bin/env bash
# Devices and phone provisioning (issue 8): `sipsec device` errors and
# output, then the HTTPS provisioning server of `sipsec serve` fetched with
# curl trusting only the exported CA: the right device gets its files (well
# formed XML, the values it was given), another device's credentials get 403,
# none or wrong ones 401 (logged with the source address), an unknown file
# 404, and plain HTTP serves only the CA and the bootstrap file.
. "$(dirname "$0")/lib.sh"

D="$T/data"
DOM=sip.test

run_rc() {
	local want=$1 rc
	shift
	set +e
	"$SIPSEC" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ $rc -eq "$want" ] || fail "'sipsec $*' exited $rc, expected $want: $(cat "$T/err")"
}
one_line_err() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected one error line: $(cat "$T/err")"
	grep -q -- "$1" "$T/err" || fail "error message: $(cat "$T/err") (wanted: $1)"
}

"$SIPSEC" --help | grep -q '^  device ' || fail "--help does not list device"
"$SIPSEC" device --help | grep -q -- '--transport' || fail "device --help"
"$SIPSEC" serve --help | grep -q -- '--http-port' || fail "serve --help lacks --http-port"

# the golden files of the unit tests (tests/data/provision) are well-formed XML
TOP=${SPS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
python3 - "$TOP/tests/data/provision" <<'PY' || fail "golden files are not well-formed XML"
import glob, sys, xml.etree.ElementTree as ET
files = [f for f in glob.glob(sys.argv[1] + "/*/*") if "/yealink/" not in f]
assert len(files) >= 6, files
for f in files:
    ET.parse(f)
PY

echo 'alice-password-1' | "$SIPSEC" user add alice --password-stdin --domain $DOM --data "$D" >/dev/null
echo 'bob-password-22' | "$SIPSEC" user add bob --password-stdin --data "$D" >/dev/null
echo 'carol-password-3' | "$SIPSEC" user add carol --password-stdin --data "$D" >/dev/null

# ---- CLI errors: one line naming the problem and the fix ----
run_rc 1 device add 00:04:f2:81:9f --vendor polycom --model VVX450 --line alice --data "$D"
one_line_err "invalid MAC address '00:04:f2:81:9f'"
run_rc 1 device add 0004f2819fa3 --vendor nokia --model X --line alice --data "$D"
one_line_err "unknown vendor 'nokia'"
run_rc 1 device add 0004f2819fa3 --vendor polycom --model VVX450 --line mallory --data "$D"
one_line_err "no user mallory"
run_rc 1 device add 0004f2819fa3 --vendor polycom --model VVX450 --line alice --transport SCTP --data "$D"
one_line_err "invalid --transport 'SCTP'"
run_rc 1 device add 0004f2819fa3 --vendor polycom --model VVX450 --line alice --srtp maybe --data "$D"
one_line_err "invalid --srtp 'maybe'"
run_rc 2 device add 0004f2819fa3 --vendor polycom --model VVX450 --data "$D"
one_line_err "missing --line"
run_rc 2 device add 0004f2819fa3 --vendor polycom --line alice --data "$D"
one_line_err "missing --model"
run_rc 1 device show zz:zz --data "$D"
one_line_err "invalid MAC address"
run_rc 1 device show 0004f2819fa3 --data "$D"
one_line_err "no device 00:04:f2:81:9f:a3"
run_rc 2 device frobnicate --data "$D"
one_line_err "unknown subcommand 'frobnicate'"
# a wrong current password with --password-stdin is refused, and nothing is stored
set +e
echo 'not-alices' | "$SIPSEC" device add 0004f2819fa3 --vendor polycom --model VVX450 \
	--line alice --password-stdin --data "$D" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a wrong --password-stdin was accepted"
one_line_err "is not the user's password"
run_rc 1 device show 0004f2819fa3 --data "$D"

# ---- devices ----
# Polycom with alice (keeps her password) and bob (gets a new one), TLS, SRTP offer
printf 'alice-password-1\nbob-password-22\n' >"$T/pw"
run_rc 0 device add 00:04:F2:81:9F:A3 --vendor polycom --model VVX450 --line alice --line bob \
	--transport TLS --srtp offer --password-stdin --data "$D" <"$T/pw"
grep -q 'provisioning user: *prov-0004f2819fa3' "$T/out" || fail "add output: $(cat "$T/out")"
run_rc 1 device add 0004f2819fa3 --vendor yealink --model T54W --line carol --data "$D"
one_line_err "already exists"
run_rc 0 device add 0004f2aabbcc --vendor yealink --model T54W --line carol --srtp require --data "$D"
grep -q "carol's SIP password was replaced" "$T/out" || fail "no note of carol's new password"
run_rc 0 device add 000b82112233 --vendor grandstream --model GRP2614 --line bob \
	--transport TCPOnly --srtp off --password-stdin --data "$D" <<<'bob-password-22'
grep -q 'sent only over TLS' "$T/err" && fail "SRTP off with TCP must not warn: $(cat "$T/err")"
# a softphone: what to enter, including TLS, 5061, SDES-SRTP and the CA file
run_rc 0 device add 02:00:00:00:00:01 --vendor generic --line alice --password-stdin \
	--data "$D" <<<'alice-password-1'
for w in "domain / server:  $DOM" 'user name: *alice' 'transport: *TLS' 'port: *5061' 'SDES-SRTP' \
	'ca-export'; do
	grep -q -- "$w" "$T/out" || fail "generic add lacks '$w': $(cat "$T/out")"
done
run_rc 0 device show 020000000001 --data "$D"
grep -q 'SDES-SRTP' "$T/out" || fail "device show of a softphone does not repeat the settings"

run_rc 0 device list --data "$D"
[ "$(grep -c '^0' "$T/out")" -eq 4 ] || fail "list: $(cat "$T/out")"
grep -q 'password' "$T/out" && fail "list shows secrets"
run_rc 0 device list --json --data "$D"
python3 - "$T/out" <<'PY' || fail "list --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert [x["mac"] for x in d] == ["0004f2819fa3", "0004f2aabbcc", "000b82112233", "020000000001"], d
p = d[0]
assert p["vendor"] == "polycom" and p["transport"] == "TLS" and p["srtp"] == "offer", p
assert [l["user"] for l in p["lines"]] == ["alice", "bob"], p
assert "prov_password" not in p and all("sip_password" not in l for l in p["lines"])
PY
run_rc 0 device show 0004f2819fa3 --json --data "$D"
PW1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prov_password"])' "$T/out")
run_rc 0 device show 0004f2aabbcc --json --data "$D"
PW2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prov_password"])' "$T/out")
[ ${#PW1} -eq 20 ] && [ "$PW1" != "$PW2" ] || fail "provisioning passwords: '$PW1' '$PW2'"
[ "$(stat -c %a "$D/sipsec.db")" = 600 ] || fail "the database is not 0600"

# the old bob password was kept for the polycom line, and a new one for no one
echo 'alice-password-1' | "$SIPSEC" user passwd alice --password-stdin --data "$D" >/dev/null

# ---- the server ----
SP=$(free_port)
TP=$(free_port)
HP=$(free_port)
PP=$(free_port)
start_sipsec "$D" --domain $DOM --sip-port "$SP" --tls-port "$TP" --https-port "$HP" --http-port "$PP"
grep -q "listening on HTTPS 127.0.0.1:$HP" "$D.log" || fail "no HTTPS listener: $(cat "$D.log")"
grep -q "warn.*plain HTTP provisioning is on" "$D.log" || fail "no warning for plain HTTP"
"$SIPSEC" cert ca-export "$T/ca.pem" --data "$D" >/dev/null 2>&1 ||
	cp "$D/certs/ca.pem" "$T/ca.pem"
URL="https://$DOM:$HP/prov"
C=(curl -sS --max-time 10 --cacert "$T/ca.pem" --resolve "$DOM:$HP:127.0.0.1")

# code PATH [curl args]: the HTTP status of a fetch
code() {
	local p=$1
	shift
	"${C[@]}" -o "$T/body" -w '%{http_code}' "$@" "$URL/$p"
}

# public over HTTPS without credentials
[ "$(code ca.pem)" = 200 ] || fail "ca.pem over HTTPS"
cmp -s "$T/body" "$T/ca.pem" || fail "ca.pem served is not the exported CA"
# no credentials: 401 with Digest (SHA-256 and MD5) and Basic challenges
"${C[@]}" -o /dev/null -D "$T/hdr" "$URL/0004f2819fa3.cfg"
head -1 "$T/hdr" | grep -q ' 401' || fail "no 401: $(cat "$T/hdr")"
grep -qi '^WWW-Authenticate: Digest .*algorithm=SHA-256' "$T/hdr" || fail "no SHA-256 challenge"
grep -qi '^WWW-Authenticate: Digest .*algorithm=MD5' "$T/hdr" || fail "no MD5 challenge"
grep -qi '^WWW-Authenticate: Basic' "$T/hdr" || fail "no Basic challenge"

# the right device gets its files, with digest and with basic
for f in 0004f2819fa3.cfg 0004f2819fa3-sec.cfg 0004f2819fa3-reg.cfg; do
	[ "$(code $f --digest -u "prov-0004f2819fa3:$PW1")" = 200 ] || fail "digest fetch of $f"
	cp "$T/body" "$T/$f"
	[ "$(code $f -u "prov-0004f2819fa3:$PW1")" = 200 ] || fail "basic fetch of $f"
	cmp -s "$T/body" "$T/$f" || fail "$f differs between fetches"
done
# exactly what `device config` prints
"$SIPSEC" device config 0004f2819fa3 --data "$D" >"$T/config"
python3 - "$T" <<'PY' || fail "device config differs from what the server serves"
import sys, re
t = sys.argv[1]
parts = re.split(r"(?:^|\n)==> (\S+) <==\n", open(t + "/config").read())[1:]
files = dict(zip(parts[0::2], parts[1::2]))
assert sorted(files) == ["0004f2819fa3-reg.cfg", "0004f2819fa3-sec.cfg", "0004f2819fa3.cfg"], files.keys()
for name, body in files.items():
    served = open(t + "/" + name).read()
    assert served == body or served == body.rstrip("\n") + "\n", name
PY
# parsed back as XML, values checked, secrets only in the reg file
python3 - "$T" "$DOM" "$TP" <<'PY' || fail "polycom files"
import sys, xml.etree.ElementTree as ET
t, dom, tls_port = sys.argv[1], sys.argv[2], sys.argv[3]
def attrs(f):
    a = {}
    for e in ET.parse(t + "/" + f).getroot().iter():
        a.update(e.attrib)
    return a
m = ET.parse(t + "/0004f2819fa3.cfg").getroot()
assert m.tag == "APPLICATION"
assert [x.strip() for x in m.get("CONFIG_FILES").split(",")] == ["0004f2819fa3-sec.cfg", "0004f2819fa3-reg.cfg"]
r = attrs("0004f2819fa3-reg.cfg")
want = {"address": "alice", "auth.userId": "alice", "label": "alice",
        "server.1.address": dom, "server.1.port": tls_port, "server.1.transport": "TLS",
        "server.1.expires": "3600", "server.1.expires.overlap": "60", "server.1.register": "1",
        "server.1.retryTimeOut": "0", "server.1.retryMaxCount": "3",
        "server.1.expires.lineSeize": "30"}
for k, v in want.items():
    assert r["reg.1." + k] == v, (k, r.get("reg.1." + k))
assert r["reg.2.address"] == "bob" and r["reg.2.server.1.transport"] == "TLS"
assert r["reg.1.auth.password"] == "alice-password-1", "kept password"
assert r["reg.2.auth.password"] == "bob-password-22"
s = attrs("0004f2819fa3-sec.cfg")
assert (s["sec.srtp.enable"], s["sec.srtp.offer"], s["sec.srtp.require"]) == ("1", "1", "0")
assert s["sec.srtp.offer.HMAC_SHA1_80"] == "1"
ca = open(t + "/ca.pem").read()
assert s["device.sec.TLS.customCaCert1"].strip() == ca.strip()
assert s["device.sec.TLS.customCaCert1.set"] == "1"
assert s["sec.TLS.profileSelection.SIP"] == "PlatformProfile1"
for f in ("0004f2819fa3.cfg", "0004f2819fa3-sec.cfg"):
    body = open(t + "/" + f).read()
    assert "password" not in body.lower(), f + " holds a password"
PY

# another device's credentials: 403; wrong or unknown credentials: 401
[ "$(code 0004f2819fa3-reg.cfg --digest -u "prov-0004f2aabbcc:$PW2")" = 403 ] || fail "other device: not 403"
[ "$(code 0004f2819fa3.cfg -u "prov-0004f2aabbcc:$PW2")" = 403 ] || fail "other device basic: not 403"
[ "$(code 0004f2819fa3.cfg --digest -u "prov-0004f2819fa3:wrong")" = 401 ] || fail "wrong password: not 401"
[ "$(code 0004f2819fa3.cfg -u "prov-nobody:$PW1")" = 401 ] || fail "unknown user: not 401"
# unknown files: 404 (also paths that try to leave /prov/)
[ "$(code 0004f2819fa3-nope.cfg --digest -u "prov-0004f2819fa3:$PW1")" = 404 ] || fail "unknown file: not 404"
[ "$(code 0004f2ffffff.cfg --digest -u "prov-0004f2819fa3:$PW1")" = 404 ] || fail "no such device: not 404"
[ "$(code ..%2fsipsec.db --digest -u "prov-0004f2819fa3:$PW1")" = 404 ] || fail "traversal: not 404"
# Yealink and Grandstream get their own formats
[ "$(code 0004f2aabbcc.cfg --digest -u "prov-0004f2aabbcc:$PW2")" = 200 ] || fail "yealink fetch"
head -1 "$T/body" | grep -qx '#!version:1.0.0.1' || fail "yealink header"
grep -qx 'account.1.transport = 2' "$T/body" || fail "yealink transport"
grep -qx 'account.1.srtp_encryption = 2' "$T/body" || fail "yealink srtp"
grep -qx "static.trusted_certificates.url = https://$DOM:$HP/prov/ca.pem" "$T/body" || fail "yealink CA url"
"$SIPSEC" device show 000b82112233 --json --data "$D" >"$T/gs.json"
PW3=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prov_password"])' "$T/gs.json")
[ "$(code cfg000b82112233.xml --digest -u "prov-000b82112233:$PW3")" = 200 ] || fail "grandstream fetch"
python3 - "$T/body" "$DOM" "$SP" <<'PY' || fail "grandstream file"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
c = r.find("config")
assert r.tag == "gs_provision" and r.find("mac").text == "000b82112233"
v = {e.tag: e.text for e in c}
assert v["P47"] == sys.argv[2] + ":" + sys.argv[3], v["P47"]
assert v["P35"] == "bob" and v["P34"] == "bob-password-22"
assert v["P130"] == "1" and v["P183"] == "0", (v["P130"], v["P183"])
PY

# every failed attempt is logged with the source address
wait_for grep -q "failed authentication from 127.0.0.1:[0-9]* for /prov/0004f2819fa3.cfg" "$D.log" ||
	fail "failed attempt not logged: $(tail -5 "$D.log")"
grep -q "another device's file asked for from 127.0.0.1" "$D.log" || fail "403 not logged"
grep -q "$PW1\|$PW2\|alice-password-1" "$D.log" && fail "a password reached the log"

# plain HTTP: the CA and the bootstrap file only, never a config
H=(curl -sS --max-time 10 -o "$T/body" -w '%{http_code}')
[ "$("${H[@]}" "http://127.0.0.1:$PP/prov/ca.pem")" = 200 ] || fail "CA over HTTP"
[ "$("${H[@]}" "http://127.0.0.1:$PP/prov/000000000000.cfg")" = 200 ] || fail "bootstrap over HTTP"
[ "$("${H[@]}" "http://127.0.0.1:$PP/prov/sipsec-bootstrap.cfg")" = 200 ] || fail "bootstrap file over HTTP"
python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T/body" || fail "bootstrap XML"
grep -q "password" "$T/body" && fail "bootstrap holds a password"
grep -q "device.prov.serverName=\"$DOM:$HP/prov\"" "$T/body" || fail "bootstrap does not point at HTTPS"
# 404 (a Polycom then falls back to the bootstrap), even with credentials
[ "$("${H[@]}" -u "prov-0004f2819fa3:$PW1" "http://127.0.0.1:$PP/prov/0004f2819fa3-reg.cfg")" = 404 ] ||
	fail "a config over plain HTTP"
grep -q "PRIVATE\|password" "$T/body" && fail "plain HTTP served a secret"

# bounded requests: a huge head is refused, the server stays up
python3 - "$HP" "$T/ca.pem" <<'PY' || fail "oversized request"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10),
                    server_hostname="sip.test")
s.sendall(b"GET /prov/ca.pem HTTP/1.1\r\nHost: sip.test\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
resp = s.recv(4096).decode()
assert resp.startswith("HTTP/1.1 431"), resp[:60]
PY
[ "$(code ca.pem)" = 200 ] || fail "server gone after a bad request"

# persistent connections: two pipelined requests, two answers in order;
# HTTP/1.0 is answered with Connection: close and the server closes
python3 - "$HP" "$T/ca.pem" <<'PY' || fail "keep-alive / pipelining"
import re, socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10),
                           server_hostname="sip.test")
def read_all(s, until):
    data, end = b"", time.time() + 10
    while time.time() < end and not until(data):
        b = s.recv(65536)
        if not b:
            break
        data += b
    return data
s = conn()
s.sendall(b"GET /prov/ca.pem HTTP/1.1\r\nHost: sip.test\r\n\r\n"
          b"HEAD /prov/nothing.cfg HTTP/1.1\r\nHost: sip.test\r\n\r\n")
d = read_all(s, lambda d: d.count(b"HTTP/1.1 ") >= 2)
codes = re.findall(rb"HTTP/1\.1 (\d{3}) ", d)
assert codes == [b"200", b"401"], codes
s = conn()
s.sendall(b"GET /prov/ca.pem HTTP/1.0\r\n\r\n")
d = read_all(s, lambda d: False)  # until the server closes
assert d.startswith(b"HTTP/1.1 200") and b"Connection: close" in d, d[:80]
PY

# the failure limiter: ten wrong passwords in a minute block the address (429)
for i in $(seq 1 10); do
	code 0004f2819fa3.cfg -u "prov-0004f2819fa3:wrong$i" >/dev/null
done
[ "$(code 0004f2819fa3.cfg -u "prov-0004f2819fa3:$PW1")" = 429 ] || fail "no block after 10 failures"
grep -q "127.0.0.1:[0-9]* blocked for 5 minutes" "$D.log" || fail "the block is not logged"

stop_sipsec
echo "t_devices: ok"
