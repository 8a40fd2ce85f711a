#!/usr/bin/env bash
# Media anchoring and SRTP policy on proxied calls (issue 6): two baresip
# agents registered over TLS with mediaenc=srtp-mand call each other through
# sipsec with audio from a WAV file. Each side's SDP must point at the relay
# (127.0.0.1 and a port of --media-port-min/max) and carry a key sipsec made
# for that leg (not the other side's, RFC 4568 transcrypting); `sipsec calls
# --json` during the call shows SRTP on both legs and packets relayed both
# ways. A gateway user with policy off on UDP (SIPp) is bridged: SRTP on
# alice's leg, plain RTP and no key on its own. Then bob's policy is set to
# require and an outside caller over UDP offering plain RTP (SIPp) is refused
# with 488 and a Warning 305.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/baresip.sh"

SC=$SPS_TOP/tests/integration/scenarios
D=$T/data
SIP=$(free_port)
TLS=$(free_port)
# a media range of its own, away from the default one other servers may use
MIN=$((41000 + (RANDOM % 40) * 200))
MAX=$((MIN + 199))
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS" --digest-algorithms MD5 \
	--media-port-min "$MIN" --media-port-max "$MAX"
"$SIPSEC" cert ca-export "$T/cert.pem" --data "$D" >/dev/null || fail "ca-export"
for u in alice:password123 bob:password456; do
	printf '%s\n' "${u#*:}" | "$SIPSEC" user add "${u%%:*}" --password-stdin --data "$D" >/dev/null ||
		fail "user add ${u%%:*}"
done

baresip_start alice alice password123 sip.test "$TLS" "$T/cert.pem" ";answermode=auto"
baresip_start bob bob password456 sip.test "$TLS" "$T/cert.pem" ";answermode=auto"
baresip_wait_registered alice
baresip_wait_registered bob

m0=$(baresip_event_count alice)
m1=$(baresip_event_count bob)
baresip_cmd alice dial "sip:bob@sip.test" >/dev/null || fail "alice: dial bob"
for n in "alice:$m0" "bob:$m1"; do
	baresip_wait_event "${n%%:*}" CALL_ESTABLISHED --since "${n#*:}" >/dev/null ||
		{ tail -40 "$T/baresip-${n%%:*}/baresip.log"; cat "$D.log"; fail "not established at ${n%%:*}"; }
	baresip_wait_event "${n%%:*}" CALL_MENC --match AES_CM_128_HMAC_SHA1_80 --since "${n#*:}" \
		>/dev/null || fail "no SRTP at ${n%%:*}"
done

# sipsec calls --json: SRTP on both legs, packets relayed both ways (polled,
# bounded: audio flows every 20 ms once both ends are up)
ok=
for i in $(seq 1 100); do
	"$SIPSEC" calls --json --data "$D" >"$T/calls.json" 2>"$T/calls.err" || fail "calls --json: $(cat "$T/calls.err")"
	if "$BS_PY" - "$T/calls.json" <<'PY'
import json, sys
calls = json.load(open(sys.argv[1]))
assert len(calls) == 1, calls
legs = calls[0]["legs"]
for l in legs:
    assert l["media_profile"] == "SRTP AES_CM_128_HMAC_SHA1_80", l
    assert l["packets_in"] > 20 and l["packets_out"] > 20 and l["auth_failed"] == 0, l
PY
	then ok=1; break; fi
	sleep 0.1
done
[ -n "$ok" ] || { cat "$T/calls.json"; cat "$D.log"; fail "calls --json does not show SRTP relayed on both legs"; }
echo "calls: $(cat "$T/calls.json")"
# the table shows each leg's media too
"$SIPSEC" calls --data "$D" >"$T/calls.txt" || fail "calls"
[ "$(grep -o "SRTP AES_CM_128_HMAC_SHA1_80 [0-9]*/[0-9]*" "$T/calls.txt" | wc -l)" -eq 2 ] ||
	fail "calls table without both legs' media: $(cat "$T/calls.txt")"

# the SDP each agent sent and received, from baresip's SIP trace
cat >"$T/sdp.py" <<'PY'
import re, sys
mode, lo, hi = sys.argv[1], int(sys.argv[4]), int(sys.argv[5])

def sdps(path):
    """(first line, sdp) of every SIP message with an SDP body."""
    text = open(path, errors="replace").read()
    out = []
    # baresip -s prints each message whole: start line, headers, blank line, body
    for m in re.finditer(r"(?m)^(INVITE |SIP/2\.0 200)[^\n]*\n((?:[^\r\n]+\r?\n)*)\r?\n(v=0.*?)(?=\r?\n\r?\n|\Z)", text, re.S):
        out.append((m.group(1), m.group(3)))
    return out

def key(sdp):
    k = re.findall(r"a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)", sdp)
    assert len(k) == 1, sdp
    return k[0]

def media(sdp):
    c = re.search(r"c=IN IP4 (\S+)", sdp).group(1)
    p = int(re.search(r"m=audio (\d+) RTP/SAVP", sdp).group(1))
    return c, p

a, b = sdps(sys.argv[2]), sdps(sys.argv[3])
a_inv = [s for f, s in a if f.startswith("INVITE")]   # alice's offers (sent)
a_ok = [s for f, s in a if f.startswith("SIP")]       # the answers alice received
b_inv = [s for f, s in b if f.startswith("INVITE")]   # the offers bob received
b_ok = [s for f, s in b if f.startswith("SIP")]       # bob's answers (sent)
assert a_inv and a_ok and b_inv and b_ok, (len(a_inv), len(a_ok), len(b_inv), len(b_ok))
for s in (a_ok[-1], b_inv[-1]):
    c, p = media(s)
    assert c == "127.0.0.1" and lo <= p <= hi, (c, p, s)
alice_own, alice_got = key(a_inv[0]), key(a_ok[0])
bob_got, bob_own = key(b_inv[0]), key(b_ok[0])
if mode == "call":
    assert media(a_inv[0])[1] != media(b_inv[-1])[1], "bob got alice's own port"
    assert bob_got != alice_own, "bob received alice's key"
    assert alice_got != bob_own, "alice received bob's key"
    assert alice_got != bob_got, "both legs have the same key"
    print("keys: 4 distinct, both SDPs on the relay", media(a_ok[-1]), media(b_inv[-1]))
else:  # hold: alice's re-INVITE (sendonly) reached bob through the relay, same leg key
    assert len(b_inv) >= 2 and "a=sendonly" in b_inv[-1], b_inv[-1]
    assert media(b_inv[-1]) == media(b_inv[0]) and key(b_inv[-1]) == bob_got, "hold moved bob's leg"
    assert len(a_ok) >= 2 and "a=recvonly" in a_ok[-1] and key(a_ok[-1]) == alice_got, a_ok[-1]
    print("hold: re-INVITE anchored", media(b_inv[-1]))
PY
sdp_check() {
	"$BS_PY" "$T/sdp.py" "$1" "$T/baresip-alice/baresip.log" "$T/baresip-bob/baresip.log" "$MIN" "$MAX"
}
sdp_check call || fail "SDP checks failed"

# hold (RFC 3264 8.4): alice's re-INVITE goes through the relay with the keys of each leg
baresip_cmd alice hold >/dev/null || fail "alice: hold"
wait_for sdp_check hold || { sdp_check hold; fail "hold re-INVITE not anchored"; }
sdp_check hold

before=$(baresip_event_count bob)
baresip_cmd alice hangup >/dev/null || fail "alice: hangup"
baresip_wait_event bob CALL_CLOSED --since "$before" --timeout 10 >/dev/null || fail "BYE did not reach bob"
# the BYE ended the call and its media session
no_calls() { [ "$("$SIPSEC" calls --json --data "$D")" = "[]" ]; }
wait_for no_calls || fail "call still listed after BYE: $("$SIPSEC" calls --json --data "$D")"

# A gateway without SRTP (policy off) on UDP: alice (srtp-mand over TLS) still
# gets SRTP on her leg, the gateway's leg is bridged to plain RTP, and no key
# goes to it over UDP (issue 6: bridge SRTP <-> RTP, key-leak guard).
printf 'gwpass789\n' | "$SIPSEC" user add gw --password-stdin --srtp off --data "$D" >/dev/null ||
	fail "user add gw"
GW=$(free_port)
printf 'SEQUENTIAL\ngw;gwpass789;%s\n' "$GW" >"$T/gw.csv"
(cd "$T" && sipp -sf "$SC/register_contact.xml" -inf "$T/gw.csv" -m 1 -i 127.0.0.1 -p "$(free_port)" \
	"127.0.0.1:$SIP" -timeout 10s -timeout_error -nostdin >/dev/null 2>&1) || fail "gw's REGISTER"
mkdir -p "$T/gw"
(cd "$T/gw" && exec sipp -sf "$SC/call_uas.xml" -inf "$T/gw.csv" -m 1 -i 127.0.0.1 -p "$GW" \
	-timeout 30s -timeout_error -nostdin -trace_msg -trace_err >/dev/null 2>&1) &
GWPID=$!
SPS_PIDS+=("$GWPID")
wait_for "$BS_PY" -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
try:
    s.bind(('127.0.0.1',int(sys.argv[1]))); sys.exit(1)
except OSError: sys.exit(0)" "$GW" || fail "gateway UAS did not start"
m0=$(baresip_event_count alice)
baresip_cmd alice dial "sip:gw@sip.test" >/dev/null || fail "alice: dial gw"
baresip_wait_event alice CALL_ESTABLISHED --since "$m0" >/dev/null ||
	{ tail -20 "$D.log"; fail "call to the gateway not established"; }
baresip_wait_event alice CALL_MENC --match AES_CM_128_HMAC_SHA1_80 --since "$m0" >/dev/null ||
	fail "alice's leg to the gateway is not SRTP"
"$SIPSEC" calls --json --data "$D" >"$T/gw.json" || fail "calls --json (gateway call)"
"$BS_PY" - "$T/gw.json" <<'PY' || { cat "$T/gw.json"; fail "gateway call legs are not SRTP + RTP"; }
import json, sys
calls = json.load(open(sys.argv[1]))
assert len(calls) == 1, calls
profiles = sorted(l["media_profile"] for l in calls[0]["legs"])
assert profiles == ["RTP", "SRTP AES_CM_128_HMAC_SHA1_80"], profiles
PY
before=$(baresip_event_count alice)
baresip_cmd alice hangup >/dev/null || fail "alice: hangup (gateway call)"
wait "$GWPID" || { cat "$T"/gw/*errors.log 2>/dev/null; fail "the gateway did not see INVITE, ACK and BYE"; }
inv=$(awk '/INVITE sip:/,/^m=audio/' "$T"/gw/*_messages.log)
grep -q "m=audio [0-9]* RTP/AVP " <<<"$inv" || { echo "$inv"; fail "the gateway was not offered plain RTP"; }
if grep -q "a=crypto" "$T"/gw/*_messages.log; then fail "a key was sent to the UDP gateway"; fi
gwport=$(sed -n 's/^m=audio \([0-9]*\) .*/\1/p' <<<"$inv" | head -1)
[ -n "$gwport" ] && [ "$gwport" -ge "$MIN" ] && [ "$gwport" -le "$MAX" ] ||
	fail "the gateway's media port $gwport is not the relay's ($MIN-$MAX)"

# bob requires SRTP: a plain-RTP caller over UDP (outside the domain) gets 488
"$SIPSEC" user set bob --srtp require --data "$D" >/dev/null || fail "user set bob --srtp require"
printf 'SEQUENTIAL\n%s\n' "sip:bob@sip.test" >"$T/uac.csv"
(cd "$T" && sipp -sf "$SC/uac_expect_488.xml" -inf "$T/uac.csv" -m 1 -i 127.0.0.1 \
	-p "$(free_port)" -mp "$(free_port)" "127.0.0.1:$SIP" -timeout 20s -timeout_error -nostdin \
	-trace_err -error_file "$T/uac.err" >/dev/null 2>&1) ||
	{ cat "$T/uac.err" 2>/dev/null; tail -20 "$D.log"; fail "plain RTP to a require callee not refused with 488/305"; }
grep -q "media refused (488)" "$D.log" || fail "the 488 decision is not logged"
# keys never reach the log
if grep -q "inline:" "$D.log"; then fail "an SRTP key was logged"; fi

baresip_stop alice
baresip_stop bob
stop_sipsec
echo "media ok"
