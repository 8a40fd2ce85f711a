#!/usr/bin/env bash
# Late offer (RFC 3261 13.2.1, RFC 3264 4) through the media relay (issue 6):
# a SIPp caller sends an INVITE without SDP, the SIPp callee offers in its
# 200, the caller answers in the ACK. Both over UDP with policy off: plain
# RTP, but anchored - the 200 the caller gets and the ACK the callee gets
# point at the relay (127.0.0.1, a port of --media-port-min/max), each leg
# on its own relay port. Then the callee's policy is require: its plain offer
# cannot be satisfied, the 200 still reaches the caller (RFC 3261 13.3.1.4)
# with the stream disabled (port 0, no key), the ACK reaches the callee with
# the stream rejected, and sipsec ends the call with a BYE to both sides
# carrying a Reason header (RFC 3326). No a=crypto ever crosses UDP.
# Over TLS (both policy offer, the callee offers SRTP in its 200): each leg
# gets SRTP with a key sipsec made for it; then a re-INVITE without SDP
# (RFC 3264 8): the callee's new offer in its 200 and the caller's answer in
# the ACK are anchored the same way (relay ports and sipsec's keys, never
# the other phone's). A UDP caller of that TLS callee is bridged: plain RTP
# and no key towards it, SRTP on the callee's leg.
. "$(dirname "$0")/lib.sh"

SC=$SPS_TOP/tests/integration/scenarios
D=$T/data
SIP=$(free_port)
PY=$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
# a media range of its own, away from the default one other servers may use
MIN=$((41000 + (RANDOM % 40) * 200))
MAX=$((MIN + 199))
printf 'password123\n' | "$SIPSEC" user add alice --password-stdin --srtp off --data "$D" \
	--domain sip.test >/dev/null || fail "user add alice"
printf 'password456\n' | "$SIPSEC" user add bob --password-stdin --srtp off --data "$D" \
	--domain sip.test >/dev/null || fail "user add bob"
# SIPp 3.6 answers only the first challenge and knows only MD5
TLS=$(free_port)
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS" \
	--digest-algorithms MD5 --media-port-min "$MIN" --media-port-max "$MAX"

# one call: $1 the caller's scenario, $2 a name for its logs
late_call() {
	local uas uaspid
	uas=$(free_port)
	mkdir -p "$T/$2/uas" "$T/$2/uac"
	printf 'SEQUENTIAL\nbob;password456;%s\n' "$uas" >"$T/$2/bob.csv"
	printf 'SEQUENTIAL\nalice;password123;bob\n' >"$T/$2/alice.csv"
	(cd "$T/$2" && sipp -sf "$SC/register_contact.xml" -inf "$T/$2/bob.csv" -m 1 -i 127.0.0.1 \
		-p "$(free_port)" "127.0.0.1:$SIP" -timeout 10s -timeout_error -nostdin >/dev/null 2>&1) ||
		fail "$2: bob's REGISTER"
	(cd "$T/$2/uas" && exec sipp -sf "$SC/call_uas.xml" -inf "$T/$2/bob.csv" -m 1 -i 127.0.0.1 \
		-p "$uas" -timeout 30s -timeout_error -nostdin -trace_msg -trace_err >/dev/null 2>&1) &
	uaspid=$!
	SPS_PIDS+=("$uaspid")
	wait_for "$PY" -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
try:
    s.bind(('127.0.0.1',int(sys.argv[1]))); sys.exit(1)
except OSError: sys.exit(0)" "$uas" || fail "$2: SIPp UAS did not start"
	(cd "$T/$2/uac" && sipp -sf "$SC/$1" -inf "$T/$2/alice.csv" -m 1 -i 127.0.0.1 \
		-p "$(free_port)" "127.0.0.1:$SIP" -timeout 20s -timeout_error -nostdin -trace_msg \
		-trace_err >/dev/null 2>&1) ||
		{ cat "$T/$2"/uac/*errors.log 2>/dev/null; tail -20 "$D.log"; fail "$2: alice's call did not complete"; }
	wait "$uaspid" || { cat "$T/$2"/uas/*errors.log 2>/dev/null; tail -20 "$D.log"; fail "$2: bob did not see INVITE, ACK and BYE"; }
}

# the messages each SIPp agent received, from its -trace_msg log
cat >"$T/check.py" <<'PY'
import glob, re, sys
mode, d, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def received(side):
    text = open(glob.glob(d + "/" + side + "/*_messages.log")[0], errors="replace").read()
    out = []
    for blk in re.split(r"(?m)^-{10,}.*$", text):
        m = re.search(r"message received \[\d+\] bytes :\s*\n\n(.*)", blk, re.S)
        if m:
            out.append(m.group(1).replace("\r", ""))
    return out

def first(msgs, start):
    got = [m for m in msgs if m.startswith(start)]
    assert got, "no %r in %s" % (start, [m.split("\n")[0] for m in msgs])
    return got[0]

def media(msg):
    c = re.search(r"(?m)^c=IN IP4 (\S+)", msg)
    p = re.search(r"(?m)^m=audio (\d+) (\S+)", msg)
    assert c and p, msg
    return c.group(1), int(p.group(1)), p.group(2)

uac, uas = received("uac"), received("uas")
inv = first(uas, "INVITE ")
assert "m=audio" not in inv, "the callee's INVITE has an SDP:\n" + inv
ok = [m for m in uac if m.startswith("SIP/2.0 200") and "INVITE" in re.search(r"(?m)^CSeq:.*$", m).group(0)]
assert ok, "the caller got no 200 to its INVITE"
ack = first(uas, "ACK ")
for m in uac + uas:
    assert "a=crypto" not in m, "a key crossed UDP:\n" + m
c0, p0, pr0 = media(ok[0])
c1, p1, pr1 = media(ack)
assert c0 == "127.0.0.1" and c1 == "127.0.0.1", (c0, c1)
assert pr0 == "RTP/AVP" and pr1 == "RTP/AVP", (pr0, pr1)
if mode == "ok":
    assert lo <= p0 <= hi and lo <= p1 <= hi and p0 != p1, ("ports not the relay's", p0, p1)
    print("late offer anchored: caller leg port %d, callee leg port %d" % (p0, p1))
else:
    assert p0 == 0 and p1 == 0, ("the stream was not disabled", p0, p1)
    for who, msgs in (("caller", uac), ("callee", uas)):
        bye = first(msgs, "BYE ")
        r = re.search(r"(?m)^Reason: *SIP;cause=488;text=\"([^\"]*)\"", bye)
        assert r and "require" in r.group(1), "%s's BYE without the Reason:\n%s" % (who, bye)
    print("late offer refused: stream disabled, BYE with Reason to both:", r.group(1))
PY

late_call late_uac.xml ok
"$PY" "$T/check.py" ok "$T/ok" "$MIN" "$MAX" || fail "late offer not anchored on the relay"
grep -q "media plain (offering callee off" "$D.log" || fail "the late offer's decision is not logged"

# bob requires SRTP but offers plain RTP over UDP: the call cannot be satisfied
"$SIPSEC" user set bob --srtp require --data "$D" >/dev/null || fail "user set bob --srtp require"
late_call late_uac_refused.xml refused
"$PY" "$T/check.py" refused "$T/refused" "$MIN" "$MAX" || fail "refused late offer not handled"
[ "$(grep -c "media refused (late offer in the 2xx)" "$D.log")" -eq 1 ] ||
	fail "the refusal is not logged exactly once"

# TLS (SIPp talks TCP to a socat of its own that holds one TLS connection to
# sipsec, as in t_calls_matrix.sh). carol1/carol2 (policy offer) register
# over TLS and offer SRTP with a key of their own in the 200.
"$SIPSEC" cert ca-export "$T/cert.pem" --data "$D" >/dev/null || fail "ca-export"
"$SIPSEC" user set alice --srtp offer --data "$D" >/dev/null || fail "user set alice --srtp offer"
for u in carol1 carol2; do
	printf 'pw-%s\n' "$u" | "$SIPSEC" user add "$u" --password-stdin --srtp offer --data "$D" \
		--domain sip.test >/dev/null || fail "user add $u"
done
# listening PORT: something listens on 127.0.0.1:PORT (TCP), from /proc (a
# probe connection would use up socat's single accept)
listening() {
	awk -v p=":$(printf '%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
		END { exit !f }' /proc/net/tcp
}
# sipp_target NAME TP: SIPp's transport and target (UDP straight, TLS via socat)
sipp_target() {
	local soc
	if [ "$2" = udp ]; then
		TARGET="-t u1 127.0.0.1:$SIP"
		return
	fi
	soc=$(free_port)
	socat "TCP-LISTEN:$soc,bind=127.0.0.1,reuseaddr" \
		"OPENSSL:127.0.0.1:$TLS,cafile=$T/cert.pem,verify=1,commonname=sip.test" \
		2>"$T/$1.socat.log" &
	SPS_PIDS+=($!)
	wait_for listening "$soc" || fail "$1: socat did not listen"
	TARGET="-t t1 127.0.0.1:$soc"
}
# tls_call NAME CALLER_TP CALLEE CALLER_SCENARIO CALLEE_SCENARIO [DONE]: CALLEE
# registers over TLS and answers with CALLEE_SCENARIO (which logs
# "CALLEE-DONE DONE", default late); alice calls it over CALLER_TP.
tls_call() {
	local name=$1 pid rc=0
	mkdir -p "$T/$name/uas" "$T/$name/uac"
	printf 'SEQUENTIAL\n%s;pw-%s\n' "$3" "$3" >"$T/$name/uas/user.csv"
	sipp_target "$name-uas" tls
	# shellcheck disable=SC2086 # TARGET is two words
	(cd "$T/$name/uas" && exec sipp -sf "$SC/callee_register.xml" -oocsf "$SC/$5" \
		-inf user.csv -m 1 -i 127.0.0.1 -p "$(free_port)" $TARGET -timeout 30s -nostdin \
		-trace_err -trace_logs -trace_msg >/dev/null 2>&1) &
	pid=$!
	SPS_PIDS+=("$pid")
	registered() { grep -qs '^REGISTERED' "$T/$name"/uas/*_logs.log; }
	wait_for registered || fail "$name: $3 did not register over TLS"
	printf 'SEQUENTIAL\nalice;password123;%s\n' "$3" >"$T/$name/uac/user.csv"
	sipp_target "$name-uac" "$2"
	# shellcheck disable=SC2086
	(cd "$T/$name/uac" && sipp -sf "$SC/$4" -inf user.csv -m 1 -i 127.0.0.1 -p "$(free_port)" \
		$TARGET -timeout 20s -timeout_error -nostdin -trace_err -trace_msg >/dev/null 2>&1) ||
		{ cat "$T/$name"/uac/*errors.log 2>/dev/null; tail -20 "$D.log"; fail "$name: alice's call failed"; }
	wait "$pid" || rc=$?
	if [ $rc -ne 97 ] || ! grep -q "^CALLEE-DONE ${6:-late}\$" "$T/$name"/uas/*_logs.log; then
		cat "$T/$name"/uas/*errors.log 2>/dev/null
		fail "$name: the callee did not complete the call ($rc)"
	fi
}
# the SIP messages a SIPp agent received (from its -trace_msg log) and the
# first audio stream of an SDP: for check_tls.py and check_re.py
cat >"$T/sipplog.py" <<'PY'
import glob, re

def received(d, side):
    text = open(glob.glob(d + "/" + side + "/*_messages.log")[0], errors="replace").read()
    return [m.group(1).replace("\r", "") for m in
            re.finditer(r"message received \[\d+\] bytes :\s*\n\n(.*?)(?=\n-{10,}|\Z)", text, re.S)]

def media(msg):
    c = re.search(r"(?m)^c=IN IP4 (\S+)", msg).group(1)
    p = re.search(r"(?m)^m=audio (\d+) (\S+)", msg)
    keys = re.findall(r"(?m)^a=crypto:\d+ \S+ inline:(\S+)", msg)
    return c, int(p.group(1)), p.group(2), keys
PY
cat >"$T/check_tls.py" <<'PY'
import re, sys
from sipplog import received, media
mode, d, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
CALLEE_KEY = "ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGC"
CALLER_KEY = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"
# the keys of the re-INVITE's offer (callee) and answer (caller)
PHONE_KEYS = (CALLEE_KEY, CALLER_KEY, "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB",
              "yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl")

uac, uas = received(d, "uac"), received(d, "uas")
ok = [m for m in uac if m.startswith("SIP/2.0 200") and re.search(r"(?m)^CSeq: \d+ INVITE", m)][0]
ack = [m for m in uas if m.startswith("ACK ")][0]
inv = [m for m in uas if m.startswith("INVITE ")][0]
assert "m=audio" not in inv, inv
c0, p0, pr0, k0 = media(ok)
c1, p1, pr1, k1 = media(ack)
assert c0 == c1 == "127.0.0.1" and lo <= p0 <= hi and lo <= p1 <= hi and p0 != p1, (c0, p0, c1, p1)
assert pr1 == "RTP/SAVP" and len(k1) == 1 and k1[0] not in (CALLER_KEY, CALLEE_KEY), (pr1, k1)
if mode == "srtp":
    assert pr0 == "RTP/SAVP" and len(k0) == 1 and k0[0] not in (CALLER_KEY, CALLEE_KEY, k1[0]), (pr0, k0)
    print("TLS late offer transcrypted: ports %d/%d, keys of sipsec's own per leg" % (p0, p1))
    # the re-INVITE without SDP: its 200 (CSeq 3) offers, its ACK answers
    re_ok = [m for m in uac if m.startswith("SIP/2.0 200") and re.search(r"(?m)^CSeq: 3 INVITE", m)]
    re_inv = [m for m in uas if m.startswith("INVITE ")][1:]
    re_ack = [m for m in uas if m.startswith("ACK ") and re.search(r"(?m)^CSeq: 3 ACK", m)]
    assert re_ok and re_inv and re_ack, "re-INVITE exchange incomplete"
    assert "m=audio" not in re_inv[0], re_inv[0]
    c2, p2, pr2, k2 = media(re_ok[0])
    c3, p3, pr3, k3 = media(re_ack[0])
    assert (c2, p2, pr2) == ("127.0.0.1", p0, "RTP/SAVP"), ("re-INVITE offer not anchored", re_ok[0])
    assert (c3, p3, pr3) == ("127.0.0.1", p1, "RTP/SAVP"), ("re-INVITE answer not anchored", re_ack[0])
    # each leg keeps the key sipsec made for it (RFC 4568 7.1.4: an offer
    # may bring new keys; ours stay), never a phone's, never the other leg's
    assert k2 == k0 and k3 == k1 and not set(k2 + k3) & set(PHONE_KEYS), (k0, k1, k2, k3)
    print("re-INVITE without SDP anchored: offer in the 200 on port %d, answer in the ACK on port %d" % (p2, p3))
else:  # the caller is on UDP: plain RTP and no key towards it (RFC 4568 8.3)
    assert pr0 == "RTP/AVP" and not k0 and "a=crypto" not in "".join(uac), ok
    print("UDP caller, TLS callee: bridged, no key over UDP, ports %d/%d" % (p0, p1))
PY
tls_call tls-srtp tls carol1 late_uac_srtp.xml late_callee_srtp_reinvite.xml
"$PY" "$T/check_tls.py" srtp "$T/tls-srtp" "$MIN" "$MAX" || fail "TLS late offer not transcrypted"
tls_call udp-bridge udp carol2 late_uac.xml late_callee_srtp.xml
"$PY" "$T/check_tls.py" bridge "$T/udp-bridge" "$MIN" "$MAX" || fail "UDP caller of a TLS callee not bridged"

# an early-offer SRTP call over TLS in which the callee re-INVITEs without
# SDP: the caller's offer in its 200 reaches the callee on the callee leg's
# relay port with the key sipsec gave that leg, the callee's answer in the
# ACK reaches the caller on the caller leg's port with its leg's key
cat >"$T/check_re.py" <<'PY'
import re, sys
from sipplog import received, media
d, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PHONE_KEYS = ("ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGC", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e",
              "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB", "yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl")

def one(msgs, start, cseq):
    got = [m for m in msgs if m.startswith(start) and re.search(r"(?m)^CSeq: " + cseq, m)]
    assert got, "no %s (CSeq %s) in %s" % (start, cseq, [m.split("\n")[0] for m in msgs])
    return got[0]

uac, uas = received(d, "uac"), received(d, "uas")
inv = one(uas, "INVITE ", "2 INVITE")          # the caller's offer, at the callee
ok = one(uac, "SIP/2.0 200", "2 INVITE")       # the callee's answer, at the caller
re_inv = one(uac, "INVITE ", "1 INVITE")       # the callee's re-INVITE, at the caller
re_ok = one(uas, "SIP/2.0 200", "1 INVITE")    # the caller's offer in the 200, at the callee
re_ack = one(uac, "ACK ", "1 ACK")             # the callee's answer in the ACK, at the caller
assert "m=audio" not in re_inv, re_inv
ci, pi, _, ki = media(inv)
co, po, _, ko = media(ok)
c2, p2, pr2, k2 = media(re_ok)
c3, p3, pr3, k3 = media(re_ack)
assert lo <= pi <= hi and lo <= po <= hi and pi != po, (pi, po)
assert len(ki) == 1 and len(ko) == 1 and ki != ko and media(inv)[2] == "RTP/SAVP", (ki, ko)
assert (c2, p2, pr2) == ("127.0.0.1", pi, "RTP/SAVP"), ("offer in the 200 not anchored", re_ok)
assert (c3, p3, pr3) == ("127.0.0.1", po, "RTP/SAVP"), ("answer in the ACK not anchored", re_ack)
assert k2 == ki and k3 == ko and not set(k2 + k3) & set(PHONE_KEYS), (ki, ko, k2, k3)
print("callee's re-INVITE without SDP anchored: offer on port %d, answer on port %d" % (p2, p3))
PY
"$SIPSEC" user add dave1 --password-stdin --srtp offer --data "$D" --domain sip.test \
	>/dev/null <<<"pw-dave1" || fail "user add dave1"
tls_call tls-reinvite tls dave1 srtp_caller_reoffers.xml srtp_callee_reinvites.xml reinvited
"$PY" "$T/check_re.py" "$T/tls-reinvite" "$MIN" "$MAX" ||
	fail "callee's re-INVITE without SDP not anchored"

# keys never reach the log
if grep -q "inline:" "$D.log"; then fail "an SRTP key was logged"; fi
no_calls() { [ "$("$SIPSEC" calls --json --data "$D")" = "[]" ]; }
wait_for no_calls || fail "call still listed: $("$SIPSEC" calls --json --data "$D")"
stop_sipsec
echo "late offer ok"
