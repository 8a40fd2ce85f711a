#!/usr/bin/env bash
# Calls through the stateful proxy (issue 5, item 6) between SIPp agents over
# every pair of transports: caller and callee each on UDP or TLS (UDP-UDP,
# TLS-TLS, UDP-TLS, TLS-UDP). Per pair, five calls, each to a callee user of
# its own (no binding left over from another case):
#   hold       answered (407 first, INVITE/100/180/200/ACK), the caller puts
#              the call on hold by a re-INVITE (a=sendonly) and sends BYE
#   calleebye  answered; the callee sends a re-INVITE (hold) and the BYE
#   cancel     the caller CANCELs while it rings: 200, 487 at both ends
#   busy       the callee answers 486, the caller gets 486
#   fork       two contacts of the callee (one on the pair's callee
#              transport, one on the other): one answers, the other gets
#              sipsec's CANCEL (RFC 3261 16.7 step 10); the caller sees one 200
#
# TLS legs: Debian's SIPp has no TLS, so each TLS agent talks TCP to its own
# socat, which holds ONE TLS connection to sipsec (no `fork`: the one
# accepted SIPp connection, kept open in both directions). A TLS callee
# registers through that connection and must get its INVITE back over it
# (SIPp's Via and Contact say TCP: sipsec must use the registered flow).
# A callee is a SIPp client that registers (callee_register.xml) and handles
# the incoming call with an out-of-call scenario (-oocsf callee_*.xml), which
# logs "CALLEE-DONE" and stops SIPp once its side of the call is complete.
. "$(dirname "$0")/lib.sh"

# Ports: one python run hands out a pool of distinct free ports (a pyenv
# shim first in PATH costs about 0.7 s per python start, and this test needs
# about 90 ports).
PY=$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
# shellcheck disable=SC2207
PORTS=($("$PY" - <<'PYEOF'
import socket
held = []
while len(held) < 120:
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", t.getsockname()[1]))
    except OSError:
        t.close(); u.close(); continue
    held.append((t, u))
print(" ".join(str(t.getsockname()[1]) for t, u in held))
PYEOF
))
NEXT_PORT=0
# next_port VAR: the next port of the pool into VAR (not in a subshell: the
# index must advance).
next_port() {
	[ $NEXT_PORT -lt ${#PORTS[@]} ] || fail "out of ports"
	printf -v "$1" '%s' "${PORTS[$NEXT_PORT]}"
	NEXT_PORT=$((NEXT_PORT + 1))
}

D=$T/data
next_port SIP
next_port TLS
SC=$SPS_TOP/tests/integration/scenarios
CASES="hold calleebye cancel busy fork"
PAIRS="udp-udp tls-tls udp-tls tls-udp"

add_user() {
	printf '%s\n' "$2" | "$SIPSEC" user add "$1" --password-stdin --data "$D" --domain sip.test \
		>/dev/null || fail "user add $1"
}
add_user alice password123
for p in $PAIRS; do
	for c in $CASES; do
		add_user "${p/-/}$c" "pw-$p-$c"
	done
done
# SIPp 3.6 answers only the first challenge and knows only MD5
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS" --digest-algorithms MD5
"$SIPSEC" cert ca-export "$T/cert.pem" --data "$D" >/dev/null || fail "ca-export"

# listening PORT: something listens on 127.0.0.1:PORT (TCP). Read from
# /proc: a probe connection would use up socat's single accept.
listening() {
	awk -v p=":$(printf '%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
		END { exit !f }' /proc/net/tcp
}

# sipp_target NAME TP: the SIPp transport and target for one agent: UDP
# straight to sipsec, TLS through a socat of its own (verifying the exported
# CA and the domain). Sets TARGET.
sipp_target() {
	local name=$1 tp=$2 soc
	if [ "$tp" = udp ]; then
		TARGET="-t u1 127.0.0.1:$SIP"
		return
	fi
	next_port soc
	socat "TCP-LISTEN:$soc,bind=127.0.0.1,reuseaddr" \
		"OPENSSL:127.0.0.1:$TLS,cafile=$T/cert.pem,verify=1,commonname=sip.test" \
		2>"$T/$name.socat.log" &
	SPS_PIDS+=($!)
	wait_for listening "$soc" || fail "$name: socat did not listen"
	TARGET="-t t1 127.0.0.1:$soc"
}

# start_callee NAME USER PASSWORD TP OOC: a callee registered over TP that
# answers one call with scenarios/OOC.xml; returns once registered.
start_callee() {
	local name=$1 user=$2 pass=$3 tp=$4 ooc=$5 pid lp
	mkdir -p "$T/$name"
	printf 'SEQUENTIAL\n%s;%s\n' "$user" "$pass" >"$T/$name/user.csv"
	sipp_target "$name" "$tp"
	next_port lp
	# shellcheck disable=SC2086 # TARGET is two words
	(cd "$T/$name" && exec sipp -sf "$SC/callee_register.xml" -oocsf "$SC/$ooc.xml" \
		-inf user.csv -m 1 -i 127.0.0.1 -p "$lp" $TARGET -timeout 30s -nostdin \
		-trace_err -trace_logs -trace_msg >/dev/null 2>&1) &
	pid=$!
	SPS_PIDS+=("$pid")
	echo "$pid" >"$T/$name/pid"
	for _ in $(seq 1 200); do
		grep -qs '^REGISTERED' "$T/$name"/*_logs.log && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/$name"/*_errors.log "$T/$name"/*_messages.log "$T/$name.socat.log" >&2 2>/dev/null
	fail "$name: $user did not register over $tp"
}

# callee_done NAME WHAT TP: the callee's SIPp ended its call as WHAT (stop_now
# exits 97) and the INVITE it got came over the transport it registered on.
callee_done() {
	local name=$1 what=$2 tp=$3 rc=0
	wait "$(cat "$T/$name/pid")" || rc=$?
	if [ $rc -ne 97 ] || ! grep -q "^CALLEE-DONE $what\$" "$T/$name"/*_logs.log; then
		cat "$T/$name"/*_errors.log "$T/$name"/*_messages.log >&2 2>/dev/null
		fail "$name: the callee did not complete '$what' (SIPp status $rc)"
	fi
	# the forwarded INVITE's top Via is sipsec's, on the callee's transport
	grep -A3 '^INVITE ' "$T/$name"/*_messages.log | grep -m1 '^Via:' |
		grep -qi "^Via: SIP/2.0/$tp " || fail "$name: INVITE did not arrive over $tp"
}

# call NAME CALLER_TP CALLEE_USER SCENARIO: alice calls once.
call() {
	local name=$1 tp=$2 callee=$3 sc=$4 lp
	mkdir -p "$T/$name"
	printf 'SEQUENTIAL\nalice;password123;%s\n' "$callee" >"$T/$name/user.csv"
	sipp_target "$name" "$tp"
	next_port lp
	# shellcheck disable=SC2086
	(cd "$T/$name" && sipp -sf "$SC/$sc.xml" -inf user.csv -m 1 -i 127.0.0.1 -p "$lp" \
		$TARGET -timeout 20s -timeout_error -nostdin -trace_err -trace_msg >/dev/null 2>&1) ||
		{
			cat "$T/$name"/*_errors.log "$T/$name"/*_messages.log >&2 2>/dev/null
			fail "$name: the caller's $sc failed"
		}
}

other() { [ "$1" = udp ] && echo tls || echo udp; }

for p in $PAIRS; do
	a=${p%-*} b=${p#*-} u=${p/-/}
	start_callee "$p-hold-callee" "${u}hold" "pw-$p-hold" "$b" callee_held
	call "$p-hold" "$a" "${u}hold" caller_hold_bye
	callee_done "$p-hold-callee" held "$b"

	start_callee "$p-calleebye-callee" "${u}calleebye" "pw-$p-calleebye" "$b" callee_hold_bye
	call "$p-calleebye" "$a" "${u}calleebye" caller_wait_bye
	callee_done "$p-calleebye-callee" "hung up" "$b"

	start_callee "$p-cancel-callee" "${u}cancel" "pw-$p-cancel" "$b" callee_cancelled
	call "$p-cancel" "$a" "${u}cancel" caller_cancel
	callee_done "$p-cancel-callee" cancelled "$b"

	start_callee "$p-busy-callee" "${u}busy" "pw-$p-busy" "$b" callee_busy
	call "$p-busy" "$a" "${u}busy" caller_busy
	callee_done "$p-busy-callee" busy "$b"

	start_callee "$p-fork-answer" "${u}fork" "pw-$p-fork" "$b" callee_answer
	start_callee "$p-fork-ring" "${u}fork" "pw-$p-fork" "$(other "$b")" callee_cancelled
	call "$p-fork" "$a" "${u}fork" call_uac
	callee_done "$p-fork-answer" answered "$b"
	callee_done "$p-fork-ring" cancelled "$(other "$b")"
	# 16.7 step 5: only the answering branch's 2xx reached the caller (its
	# retransmissions aside), though both branches rang
	"$PY" - "$T/$p-fork"/*_messages.log <<'PYEOF' || fail "$p-fork: the caller's 200s: $(cat "$T/$p-fork"/*_messages.log)"
import re, sys
msgs = re.split(r"\n-{20,} [^\n]*\n", open(sys.argv[1]).read())
def tags(status):
    return {re.search(r"^To:.*;tag=([^;\s]+)", m, re.M).group(1) for m in msgs
            if "message received" in m.split("\n")[0] and ("\nSIP/2.0 %d " % status) in m
            and re.search(r"^CSeq: 2 INVITE", m, re.M)}
ok, ringing = tags(200), tags(180)
assert len(ok) == 1 and len(ringing) == 2 and ok < ringing, (ok, ringing)
PYEOF
	echo "$p ok"
done
stop_sipsec
echo "calls matrix ok"
