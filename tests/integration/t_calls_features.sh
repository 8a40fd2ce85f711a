#!/usr/bin/env bash
# Proxy features of issue 5 with SIPp over UDP: a caller from outside the
# domain reaches a local user without authentication (Max-Forwards
# decremented, Replaces passed through) while `sipsec calls --json` lists the
# call until the callee's BYE; in-dialog REFER/NOTIFY/INFO/UPDATE; a 3xx to a
# local user is followed, to a foreign one passed back, to itself ends in 482;
# a request that loops back to sipsec gets 482; outside-to-outside 403; a
# local From is challenged; Timer C cancels a branch that rings forever (408);
# 407 challenges of two branches are merged into one response; a forged
# Route cannot relay an in-dialog request (403); a sips: request to a
# UDP-only user gets 480 with a Reason header.
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
SC=$SPS_TOP/tests/integration/scenarios
for u in bob carol dave erin loop; do
	printf 'pw-%s-123\n' "$u" | "$SIPSEC" user add "$u" --password-stdin --data "$D" --domain sip.test >/dev/null
done

# no server yet: `sipsec calls` says so, naming the data dir
out=$("$SIPSEC" calls --data "$D" 2>&1) && fail "sipsec calls without a server succeeded"
echo "$out" | grep -q "no server is running on $D" || fail "sipsec calls without a server: $out"

# SIPp 3.6 answers only MD5 challenges; Timer C short for the test
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$(free_port)" --https-port "$(free_port)" \
	--digest-algorithms MD5 --timer-c 3
[ "$(stat -c %a "$D/control.sock")" = 600 ] || fail "control.sock is not mode 0600"
[ "$("$SIPSEC" calls --json --data "$D")" = "[]" ] || fail "calls listed before any call"
"$SIPSEC" calls --data "$D" | grep -q "no calls in progress" || fail "empty calls table"

# register USER PORT: a binding sip:USER@127.0.0.1:PORT (digest auth)
register() {
	printf 'SEQUENTIAL\n%s;pw-%s-123;%s\n' "$1" "$1" "$2" >"$T/reg-$1-$2.csv"
	(cd "$T" && sipp -sf "$SC/register_contact.xml" -inf "$T/reg-$1-$2.csv" -m 1 -i 127.0.0.1 \
		-p "$(free_port)" "127.0.0.1:$SIP" -timeout 10s -timeout_error -nostdin >/dev/null 2>&1) ||
		fail "REGISTER of $1 ($2)"
}
udp_bound() {
	python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
try:
    s.bind(('127.0.0.1',int(sys.argv[1]))); sys.exit(1)
except OSError: sys.exit(0)" "$1"
}
# uas NAME SCENARIO PORT CSVLINE: a SIPp UAS in the background (pid in UAS_NAME)
uas() {
	printf 'SEQUENTIAL\n%s\n' "$4" >"$T/uas-$1.csv"
	(cd "$T" && exec sipp -sf "$SC/$2" -inf "$T/uas-$1.csv" -m 1 -i 127.0.0.1 -p "$3" \
		-timeout 30s -timeout_error -nostdin -trace_err -error_file "$T/uas-$1.err" \
		>/dev/null 2>&1) &
	local pid=$!
	SPS_PIDS+=("$pid")
	printf -v "UAS_$1" '%s' "$pid"
	wait_for udp_bound "$3" || fail "SIPp UAS $1 did not start"
}
# uac SCENARIO CSVLINE: a SIPp UAC towards sipsec; returns its status
uac() {
	printf 'SEQUENTIAL\n%s\n' "$2" >"$T/uac.csv"
	(cd "$T" && sipp -sf "$SC/$1" -inf "$T/uac.csv" -m 1 -i 127.0.0.1 -p "$(free_port)" \
		"127.0.0.1:$SIP" -timeout 20s -timeout_error -nostdin -trace_err \
		-error_file "$T/uac.err" >/dev/null 2>&1)
}
uas_ok() { # NAME: the UAS finished its scenario
	local v="UAS_$1"
	wait "${!v}" || { cat "$T/uas-$1.err" 2>/dev/null; fail "$2"; }
}

BOB=$(free_port)
CAROL=$(free_port)
register bob "$BOB"
register carol "$CAROL"

# ---- outside caller -> bob without auth; listed by `sipsec calls` ----
uas bob uas_hangup.xml "$BOB" "bob"
uac uac_wait_bye.xml "bob" &
UACPID=$!
SPS_PIDS+=("$UACPID")
listed() {
	"$SIPSEC" calls --json --data "$D" | python3 -c '
import json, sys
calls = json.load(sys.stdin)
assert len(calls) == 1, calls
c = calls[0]
assert c["state"] == "established", c
assert c["caller"] == "sip:stranger@other.example" and c["callee"] == "sip:bob@sip.test", c
assert [l["side"] for l in c["legs"]] == ["caller", "callee"], c
assert all(l["transport"] == "udp" for l in c["legs"]), c
assert c["legs"][1]["address"] == "127.0.0.1:" + sys.argv[1], c
assert c["started_at"].endswith("Z") and c["answered_at"] and c["call_id"], c
assert c["legs"][0]["media_profile"] is None and c["legs"][0]["packets_in"] is None, c
' "$BOB"
}
wait_for listed || { "$SIPSEC" calls --json --data "$D"; fail "the call is not listed while up"; }
in_table() {
	"$SIPSEC" calls --data "$D" | grep -q "sip:stranger@other.example .*established .*udp 127.0.0.1:$BOB"
}
wait_for in_table || fail "the table does not show the call: $("$SIPSEC" calls --data "$D")"
wait "$UACPID" || { cat "$T/uac.err" 2>/dev/null; fail "the outside caller's call (no auth) failed"; }
uas_ok bob "bob did not get Max-Forwards 69 / Replaces, or his BYE did not pass"
empty() { [ "$("$SIPSEC" calls --json --data "$D")" = "[]" ]; }
wait_for empty || { "$SIPSEC" calls --json --data "$D"; fail "the call is still listed after BYE"; }

# ---- in-dialog REFER / NOTIFY / INFO / UPDATE ----
uas carol uas_refer.xml "$CAROL" "carol"
uac uac_refer.xml "carol" || { cat "$T/uac.err" 2>/dev/null; fail "REFER/NOTIFY/INFO/UPDATE in dialog"; }
uas_ok carol "carol did not get REFER/INFO/UPDATE/BYE or her NOTIFY did not pass"

# ---- 3xx: followed to a local user, passed back for a foreign one, loop ----
uas bob uas_redirect.xml "$BOB" "bob;sip:carol@sip.test"
uas carol call_uas.xml "$CAROL" "carol"
uac uac_noauth_call.xml "bob" || { cat "$T/uac.err" 2>/dev/null; fail "302 to carol not followed"; }
uas_ok bob "bob's 302"
uas_ok carol "carol did not get the forwarded call"

uas bob uas_redirect.xml "$BOB" "bob;sip:someone@elsewhere.example"
uac uac_expect_302.xml "sip:bob@sip.test" || fail "302 to a foreign target not passed back"
uas_ok bob "bob's 302 (foreign)"

uas bob uas_redirect.xml "$BOB" "bob;sip:bob@sip.test"
uac uac_expect_482.xml "sip:bob@sip.test" || fail "302 back to bob himself did not end in 482"
uas_ok bob "bob's 302 (to himself)"

# ---- a request that loops back to sipsec: 482 (RFC 3261 16.3 item 4) ----
register loop "$SIP" # contact sip:loop@127.0.0.1:SIP is sipsec itself
uac uac_expect_482.xml "sip:loop@sip.test" || fail "looping INVITE not answered 482"

# ---- outside to outside: no open relay ----
uac uac_expect_403.xml "sip:y@elsewhere.example" || fail "outside-to-outside not refused 403"

# ---- Timer C: a branch that rings forever is cancelled, the caller gets 408 ----
DAVE=$(free_port)
register dave "$DAVE"
uas dave uas_ring.xml "$DAVE" "dave"

# ---- two branches challenge with 407: one response with both challenges ----
E1=$(free_port)
E2=$(free_port)
register erin "$E1"
register erin "$E2"
uas erin1 uas_challenge.xml "$E1" "erin;realm-one"
uas erin2 uas_challenge.xml "$E2" "erin;realm-two"

python3 - "$SIP" <<'PY' || fail "Timer C / 407 merging / local From challenge"
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.settimeout(15)
me = s.getsockname()[1]
def inv(ruri, frm, n):
    return ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKf%d;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <%s>;tag=x%d\r\nTo: <%s>\r\nCall-ID: f%d\r\n"
            "CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n"
            % (ruri, me, n, frm, n, ruri, n, me)).encode()
def responses(msg):
    # the responses to msg (others, such as retransmitted finals, skipped);
    # the final is ACKed (RFC 3261 17.1.1.3)
    s.sendto(msg, ("127.0.0.1", port))
    cid = [l for l in msg.decode().split("\r\n") if l.startswith("Call-ID:")][0]
    seen = []
    while True:
        m = s.recv(65535).decode()
        if cid not in m.split("\r\n"):
            continue
        code = int(m.split(" ", 2)[1])
        seen.append((code, m, time.monotonic()))
        if code >= 200:
            hs = dict((l.split(":", 1)[0], l) for l in m.split("\r\n")[1:] if ":" in l)
            req = msg.decode().split("\r\n")
            ack = [req[0].replace("INVITE", "ACK", 1)] + [l for l in req[1:] if l.split(":")[0] in ("Via", "From", "Call-ID", "Max-Forwards")]
            ack += [hs["To"], "CSeq: 1 ACK", "Content-Length: 0", "", ""]
            s.sendto("\r\n".join(ack).encode(), ("127.0.0.1", port))
            return seen
# RFC 3261 26.2.2: a sips: request is never forwarded over UDP (dave's only
# binding); 480 with a Reason header that says why (RFC 3326)
r = responses(inv("sips:dave@sip.test", "sips:x@other.example", 4))
assert r[-1][0] == 480, r[-1][1]
why = [l for l in r[-1][1].split("\r\n") if l.lower().startswith("reason:")]
assert len(why) == 1 and "cause=480" in why[0] and "26.2.2" in why[0], r[-1][1]
# a caller that claims to be a local user is challenged
r = responses(inv("sip:carol@sip.test", "sip:bob@sip.test", 1))
assert r[-1][0] == 407, r[-1][1]
# no open relay through a forged Route: an in-dialog request (To tag) whose
# Route to us is not a flow token issued for its dialog is refused
for n, route in ((4, "<sip:127.0.0.1:%d;lr>" % port),
                 (5, "<sip:u.0123456789abcdef@127.0.0.1:%d;lr>" % port)):
    bye = ("BYE sip:victim@127.0.0.9:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr%d;rport\r\n"
           "Route: %s\r\nMax-Forwards: 70\r\nFrom: <sip:x@other.example>;tag=a\r\n"
           "To: <sip:victim@elsewhere.example>;tag=b\r\nCall-ID: r%d\r\nCSeq: 2 BYE\r\n"
           "Content-Length: 0\r\n\r\n" % (me, n, route, n)).encode()
    s.sendto(bye, ("127.0.0.1", port))
    while True:
        m = s.recv(65535).decode()
        if "Call-ID: r%d" % n in m.split("\r\n"):
            break
    assert m.startswith("SIP/2.0 403 "), m
# Timer C (3 s here): 180, then the branch is CANCELled and the caller gets 408
t0 = time.monotonic()
r = responses(inv("sip:dave@sip.test", "sip:x@other.example", 2))
codes = [c for c, _, _ in r]
assert 180 in codes and codes[-1] == 408, codes
assert 2.5 < r[-1][2] - t0 < 10, r[-1][2] - t0
# 16.7 item 7: both branches' challenges in the one 407
r = responses(inv("sip:erin@sip.test", "sip:x@other.example", 3))
final = r[-1][1]
assert r[-1][0] == 407, final
pa = [l for l in final.split("\r\n") if l.lower().startswith("proxy-authenticate:")]
assert len(pa) == 2 and any("realm-one" in l for l in pa) and any("realm-two" in l for l in pa), final
PY
uas_ok dave "dave did not see the Timer C CANCEL"
uas_ok erin1 "erin's first phone"
uas_ok erin2 "erin's second phone"
wait_for empty || { "$SIPSEC" calls --json --data "$D"; fail "failed calls still listed"; }

stop_sipsec
[ ! -e "$D/control.sock" ] || fail "control.sock left after stop"
echo "call features ok"
