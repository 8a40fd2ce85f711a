#!/usr/bin/env bash
# Registrar with digest authentication, driven by the project's own small UA
# (tests/integration/sipua.py) where SIPp cannot go: TLS with RFC 5626
# outbound and CRLF keep-alive pong, stale nonces, replay refusal, the
# failure limiter, and durability across a clean restart and a SIGKILL right
# after the 200 OK. SIPp and baresip drive the same server in t_register_peers.sh.
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
TLS=$(free_port)
UA="python3 $SPS_TOP/tests/integration/sipua.py register --domain sip.test"
printf 'password123\n' | "$SIPSEC" user add alice --password-stdin --data "$D" --domain sip.test >/dev/null ||
	fail "user add alice"
printf 'secret-bob-1\n' | "$SIPSEC" user add bob --password-stdin --data "$D" --domain sip.test >/dev/null ||
	fail "user add bob"
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS" --nonce-ttl 2
"$SIPSEC" cert ca-export "$T/ca.pem" --data "$D" >/dev/null || fail "ca-export"
TLSUA="$UA --server 127.0.0.1:$TLS --transport tls --ca $T/ca.pem --sni sip.test"

# 1. TLS with outbound: 200 with Require: outbound, the flow answers pings
$TLSUA --user alice --password password123 --outbound --pong --hold 30 \
	--ready-file "$T/tls-ready" >"$T/tls.out" 2>&1 &
TLSPID=$!
SPS_PIDS+=("$TLSPID")
wait_for test -e "$T/tls-ready" || { cat "$T/tls.out"; fail "TLS REGISTER did not get 200"; }
wait_for grep -q pong "$T/tls.out" || { cat "$T/tls.out"; fail "no CRLF pong on the TLS flow"; }
grep -q "Require: outbound" "$T/tls.out" || fail "no Require: outbound in the 200"
"$SIPSEC" registrations --json --data "$D" >"$T/regs.json" || fail "registrations --json"
python3 - "$T/regs.json" <<'PY' || fail "registrations after the TLS REGISTER: $(cat "$T/regs.json")"
import json, sys
regs = json.load(open(sys.argv[1]))
tls = [r for r in regs if r["transport"] == "tls"]
assert len(tls) == 1, regs
r = tls[0]
assert r["aor"] == "sip:alice@sip.test", r
assert "transport=tls" in r["contact"], r
assert r["flow"] == "open", r
assert r["instance"], r
assert r["source"].startswith("127.0.0.1:"), r
assert 3500 <= r["expires_in"] <= 3600, r
assert r["user_agent"] == "sipsec-test-ua", r
PY
"$SIPSEC" registrations --data "$D" | grep -q "transport=tls" || fail "text view lacks transport=tls"

# 2. wrong password and unknown user: the same answer (403), no name oracle
$UA --server "127.0.0.1:$SIP" --user alice --password wrong-pass >"$T/wrong.out" 2>&1 &&
	fail "wrong password registered"
$UA --server "127.0.0.1:$SIP" --user nosuchuser --password wrong-pass >"$T/unknown.out" 2>&1 &&
	fail "unknown user registered"
grep -q "^403 " "$T/wrong.out" || fail "wrong password: $(cat "$T/wrong.out")"
diff <(grep -v challenge "$T/wrong.out") <(grep -v challenge "$T/unknown.out") >/dev/null ||
	fail "wrong password and unknown user answered differently"

# 3. a nonce older than --nonce-ttl: stale=true, then 200 with the new one
$UA --server "127.0.0.1:$SIP" --transport tcp --user bob --password secret-bob-1 \
	--algorithm MD5 --wait-stale 3 >"$T/stale.out" 2>&1 || { cat "$T/stale.out"; fail "stale refresh"; }
grep -q "challenge stale" "$T/stale.out" || { cat "$T/stale.out"; fail "no stale=true challenge"; }

# 4. a replayed Authorization (same nonce, same nc) is refused
python3 - "$SIP" <<'PY' || fail "replayed credentials were accepted"
import hashlib, re, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.settimeout(5)
lp = s.getsockname()[1]
def req(cseq, branch, auth=""):
    return ("REGISTER sip:sip.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:bob@sip.test>;tag=r1\r\nTo: <sip:bob@sip.test>\r\n"
            "Call-ID: replay-1\r\nCSeq: %d REGISTER\r\nContact: <sip:bob@127.0.0.1:%d>\r\n%s"
            "Content-Length: 0\r\n\r\n" % (lp, branch, cseq, lp, auth)).encode()
s.sendto(req(1, "r1"), ("127.0.0.1", port))
m = s.recv(65535).decode()
nonce = re.search(r'algorithm=MD5, nonce="([^"]+)"', m).group(1)
md5 = lambda x: hashlib.md5(x.encode()).hexdigest()
ha1 = md5("bob:sip.test:secret-bob-1"); ha2 = md5("REGISTER:sip:sip.test")
resp = md5("%s:%s:00000001:c1:auth:%s" % (ha1, nonce, ha2))
auth = ('Authorization: Digest username="bob", realm="sip.test", nonce="%s", uri="sip:sip.test", '
        'response="%s", algorithm=MD5, cnonce="c1", nc=00000001, qop=auth\r\n' % (nonce, resp))
s.sendto(req(2, "r2", auth), ("127.0.0.1", port))
first = s.recv(65535).decode().split(" ", 2)[1]
s.sendto(req(3, "r3", auth), ("127.0.0.1", port))
second = s.recv(65535).decode().split(" ", 2)[1]
assert first == "200", first
assert second in ("401", "403"), second
PY

# 5. durability: a clean restart keeps the bindings; the TLS flow of the old
#    run is reported closed
kill "$TLSPID" 2>/dev/null || true
stop_sipsec
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS"
"$SIPSEC" registrations --json --data "$D" >"$T/regs2.json"
python3 - "$T/regs2.json" <<'PY' || fail "after a restart: $(cat "$T/regs2.json")"
import json, sys
regs = json.load(open(sys.argv[1]))
assert any(r["aor"] == "sip:bob@sip.test" for r in regs), regs
tls = [r for r in regs if r["transport"] == "tls"]
assert tls and tls[0]["flow"] == "closed", tls
PY

# 6. SIGKILL right after the 200 OK: the binding is there after a restart
$UA --server "127.0.0.1:$SIP" --user bob --password secret-bob-1 --call-id kill-test \
	--ready-file "$T/kill-ready" --expires 1800 >"$T/kill.out" 2>&1 || fail "REGISTER before SIGKILL"
kill -KILL "$SPS_PID"
wait "$SPS_PID" 2>/dev/null || true
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS"
"$SIPSEC" registrations --json --data "$D" | python3 -c '
import json, sys
regs = json.load(sys.stdin)
assert any(r["aor"] == "sip:bob@sip.test" and 1700 <= r["expires_in"] <= 1800 for r in regs), regs
' || fail "binding lost after SIGKILL"

# 7. repeated failures from one address: refused for a while, logged once
for i in $(seq 1 12); do
	$UA --server "127.0.0.1:$SIP" --user alice --password "bad-$i" >/dev/null 2>&1 || true
done
$UA --server "127.0.0.1:$SIP" --user alice --password password123 >"$T/blocked.out" 2>&1 &&
	fail "a blocked address could still register"
grep -q "Too Many Failed" "$T/blocked.out" || fail "blocked answer: $(cat "$T/blocked.out")"
[ "$(grep -c "too many failed authentications" "$D.log")" = 1 ] || fail "block not logged exactly once"
stop_sipsec
echo "register ok"
