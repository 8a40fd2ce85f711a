#!/usr/bin/env bash
# The stateful proxy (issue 5, first part) between two SIPp agents over UDP:
# bob registers (digest), alice calls him: 407 challenge, authenticated
# INVITE forwarded to bob's binding, 180/200 back, ACK and BYE routed through
# sipsec by its Record-Route. Unknown callee 404; outside-to-outside 403.
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
SC=$SPS_TOP/tests/integration/scenarios
printf 'password123\n' | "$SIPSEC" user add alice --password-stdin --data "$D" --domain sip.test >/dev/null
printf 'password456\n' | "$SIPSEC" user add bob --password-stdin --data "$D" --domain sip.test >/dev/null
# SIPp 3.6 answers only the first challenge and knows only MD5
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$(free_port)" --digest-algorithms MD5
UAS=$(free_port)
printf 'SEQUENTIAL\nbob;password456;%s\n' "$UAS" >"$T/bob.csv"
printf 'SEQUENTIAL\nalice;password123;bob\n' >"$T/alice.csv"
(cd "$T" && sipp -sf "$SC/register_contact.xml" -inf "$T/bob.csv" -m 1 -i 127.0.0.1 -p "$(free_port)" \
	"127.0.0.1:$SIP" -timeout 10s -timeout_error -nostdin >/dev/null 2>&1) || fail "bob's REGISTER"
(cd "$T" && exec sipp -sf "$SC/call_uas.xml" -inf "$T/bob.csv" -m 1 -i 127.0.0.1 -p "$UAS" \
	-timeout 30s -timeout_error -nostdin -trace_err >/dev/null 2>&1) &
UASPID=$!
SPS_PIDS+=("$UASPID")
wait_for python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
try:
    s.bind(('127.0.0.1',int(sys.argv[1]))); sys.exit(1)
except OSError: sys.exit(0)" "$UAS" || fail "SIPp UAS did not start"
(cd "$T" && sipp -sf "$SC/call_uac.xml" -inf "$T/alice.csv" -m 1 -i 127.0.0.1 -p "$(free_port)" \
	"127.0.0.1:$SIP" -timeout 20s -timeout_error -nostdin -trace_err >/dev/null 2>&1) ||
	{ cat "$T"/*errors.log 2>/dev/null; fail "alice's call did not complete"; }
wait "$UASPID" || { cat "$T"/*errors.log 2>/dev/null; fail "bob did not see INVITE, ACK and BYE"; }

python3 - "$SIP" <<'PY' || fail "404 / 403 answers"
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.settimeout(5)
def inv(ruri, frm, n):
    return ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKq%d;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <%s>;tag=x\r\nTo: <%s>\r\nCall-ID: q%d\r\n"
            "CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n"
            % (ruri, s.getsockname()[1], n, frm, ruri, n, s.getsockname()[1])).encode()
def final(msg):
    s.sendto(msg, ("127.0.0.1", port))
    while True:
        m = s.recv(65535).decode()
        code = int(m.split(" ", 2)[1])
        if code >= 200:
            return code
# from outside the domain to an unknown local user: no auth needed, 404
assert final(inv("sip:nobody@sip.test", "sip:x@other.example", 1)) == 404
# outside to outside: relaying refused
assert final(inv("sip:y@elsewhere.example", "sip:x@other.example", 2)) == 403
PY
stop_sipsec
echo "calls ok"
