#!/usr/bin/env bash
# Calls between two baresip 1.0 softphones through sipsec (issue 5, item 6):
# both registered over TLS (verified against the exported CA; SDES-SRTP
# mandatory, so the SDP with a=crypto only ever crosses TLS hops), both
# answer automatically. alice calls bob: 407 answered, the call is
# established and SRTP-encrypted at both ends, then bob (the callee) hangs
# up and his BYE reaches alice through sipsec's Record-Route. bob calls
# alice and hangs up himself (the caller's BYE). Events come from baresip's
# ctrl_tcp (CALL_ESTABLISHED, CALL_MENC, CALL_CLOSED).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/baresip.sh"

D=$T/data
SIP=$(free_port)
TLS=$(free_port)
# baresip 1.0 answers MD5 challenges only
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS" --digest-algorithms MD5
"$SIPSEC" cert ca-export "$T/cert.pem" --data "$D" >/dev/null || fail "ca-export"
for u in alice:password123 bob:password456; do
	printf '%s\n' "${u#*:}" | "$SIPSEC" user add "${u%%:*}" --password-stdin --data "$D" >/dev/null ||
		fail "user add ${u%%:*}"
done

baresip_start alice alice password123 sip.test "$TLS" "$T/cert.pem" ";answermode=auto"
baresip_start bob bob password456 sip.test "$TLS" "$T/cert.pem" ";answermode=auto"
baresip_wait_registered alice
baresip_wait_registered bob

# both bindings are TLS flows
"$SIPSEC" registrations --json --data "$D" >"$T/regs.json" || fail "registrations --json"
"$BS_PY" -c "import json, sys
regs = json.load(open(sys.argv[1]))
for aor in ('sip:alice@sip.test', 'sip:bob@sip.test'):
    r = [x for x in regs if x['aor'] == aor]
    assert len(r) == 1 and r[0]['transport'] == 'tls', (aor, regs)
" "$T/regs.json" || fail "bindings: $(cat "$T/regs.json")"

# call FROM TO HANGUP: FROM dials TO; both ends established with SRTP; HANGUP
# hangs up and the other end must see CALL_CLOSED (the BYE came through).
call() {
	local from=$1 to=$2 hangup=$3 other m0 m1
	other=$([ "$hangup" = "$from" ] && echo "$to" || echo "$from")
	m0=$(baresip_event_count "$from")
	m1=$(baresip_event_count "$to")
	baresip_cmd "$from" dial "sip:$to@sip.test" >/dev/null || fail "$from: dial $to"
	baresip_wait_event "$from" CALL_ESTABLISHED --since "$m0" >/dev/null ||
		{ tail -40 "$T/baresip-$from/baresip.log"; fail "$from -> $to: not established at $from"; }
	baresip_wait_event "$to" CALL_ESTABLISHED --since "$m1" >/dev/null ||
		{ tail -40 "$T/baresip-$to/baresip.log"; fail "$from -> $to: not established at $to"; }
	for n in "$from:$m0" "$to:$m1"; do
		baresip_wait_event "${n%%:*}" CALL_MENC --match AES_CM_128_HMAC_SHA1_80 --since "${n#*:}" \
			>/dev/null || fail "$from -> $to: no SRTP at ${n%%:*}"
	done
	local before
	before=$(baresip_event_count "$other")
	baresip_cmd "$hangup" hangup >/dev/null || fail "$hangup: hangup"
	baresip_wait_event "$hangup" CALL_CLOSED --since "$([ "$hangup" = "$from" ] && echo "$m0" || echo "$m1")" \
		>/dev/null || fail "$from -> $to: $hangup's own call did not close"
	# baresip 1.0 closes a call on a BYE with "Connection reset by peer"
	baresip_wait_event "$other" CALL_CLOSED --match "Connection reset by peer" --since "$before" \
		--timeout 10 >"$T/closed.json" ||
		{ tail -40 "$T/baresip-$other/baresip.log"; fail "$from -> $to: $hangup's BYE did not reach $other"; }
	echo "$from -> $to, $hangup hung up: $(cat "$T/closed.json")"
}
call alice bob bob   # the callee's BYE
call bob alice bob   # the caller's BYE

# both still registered: nothing in the calls broke their TLS flows
{ baresip_registered alice && baresip_registered bob; } || fail "a registration was lost"
baresip_stop alice
baresip_stop bob
stop_sipsec
echo "baresip calls ok"
