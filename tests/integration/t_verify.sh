#!/usr/bin/env bash
# `sipsec verify` (issue 9) on captures this test records itself with dumpcap
# (tshark's capture engine; it starts in well under a second) on the loopback
# interface, filtered on the test's own ports (sipsec's SIP
# and TLS ports, each agent's RTP port range), during calls between two
# baresip 1.0 agents through sipsec (media anchored at sipsec's relay: two
# RTP streams per leg, issue 6):
#   (d) registration over TLS only, no call        -> INCONCLUSIVE, exit 3
#   (a) TLS signalling + SDES-SRTP (srtp-mand)      -> SECURE, exit 0
#   (b) UDP signalling + plain RTP                  -> INSECURE, exit 1
#   (c) UDP signalling + SDES-SRTP: sipsec refuses it (488, the key-leak
#       guard); the same call made directly between the two agents leaks
#       the keys -> INSECURE, exit 1, the key text (read from the capture)
#       never printed
#   (e) bad inputs: missing, garbage, empty, truncated, unsupported link type
#
# baresip 1.0 sends RTCP in clear twice: an APP "PING"/"PONG" when a stream
# starts (a NAT pinhole opener, ignored by verify) and its RTCP BYE + SDES
# (CNAME = the user's SIP URI) at hangup, after its SRTP context is gone -
# verify reports that one as unencrypted RTCP. So the captures of (a) stop
# while the call is up; hanging up comes after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/baresip.sh"

D=$T/data
SIP=$(free_port)
TLS=$(free_port)
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS" --https-port 0 \
	--digest-algorithms MD5
"$SIPSEC" cert ca-export "$T/cert.pem" --data "$D" >/dev/null || fail "ca-export"
for u in alice bob carol dave erin frank; do
	printf 'pw-%s-123\n' "$u" | "$SIPSEC" user add "$u" --password-stdin --data "$D" >/dev/null ||
		fail "user add $u"
done

# rtp_range: 20 ports (even start) for one agent's RTP and RTCP
rtp_range() {
	local p
	p=$(free_port)
	p=$((p - p % 2))
	[ "$p" -gt 65000 ] && p=40000
	echo "$p-$((p + 19))"
}

# agent NAME USER TRANSPORT(tls|udp) MEDIAENC(srtp-mand|none) RTP_RANGE [PARAMS]:
# a baresip like baresip_start's (same directory layout, so baresip_cmd and
# friends work), but with its own RTP port range (for the capture filter),
# a chosen transport to sipsec and SRTP on or off.
agent() {
	local name=$1 user=$2 tr=$3 menc=$4 range=$5 extra=${6:-}
	local dir=$T/baresip-$name ctrl tone port
	mkdir -p "$dir"
	ctrl=$(free_port)
	tone=$(baresip_tone)
	port=$([ "$tr" = tls ] && echo "$TLS" || echo "$SIP")
	cat >"$dir/config" <<EOF
poll_method		epoll
sip_listen		127.0.0.1:0
sip_cafile		$T/cert.pem
call_local_timeout	120
audio_player		alsa,null
audio_alert		alsa,null
audio_source		aufile,$tone
audio_level		no
rtp_stats		no
rtp_ports		${range%-*}-${range#*-}
net_interface		127.0.0.1
module_path		/usr/lib/baresip/modules
module			g711.so
module			alsa.so
module			aufile.so
module			srtp.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$ctrl
EOF
	local enc="" ob
	[ "$menc" != none ] && enc=";mediaenc=$menc"
	ob=";outbound=\"sip:127.0.0.1:$port;transport=$tr\";regint=600"
	# DIRECT=1: not registered, calls go straight to the URI dialled
	[ "${DIRECT:-0}" = 1 ] && ob=";regint=0"
	printf '<sip:%s@sip.test;transport=%s>%s;auth_pass=pw-%s-123%s%s\n' \
		"$user" "$tr" "$extra" "$user" "$ob" "$enc" >"$dir/accounts"
	baresip -f "$dir" -s </dev/null >"$dir/baresip.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$dir/pid"
	SPS_PIDS+=("$pid")
	"$BS_PY" "$BSCTL" --hub "$ctrl" "$dir" 2>"$dir/hub.err" &
	SPS_PIDS+=($!)
	wait_for test -S "$dir/ctl.sock" || { tail -20 "$dir/baresip.log" >&2; fail "baresip $name did not start"; }
}

# capture_start NAME FILTER: dumpcap on lo into $T/NAME.pcapng; returns once
# it says it is capturing.
capture_start() {
	local name=$1 filter=$2
	dumpcap -i lo -f "$filter" -w "$T/$name.pcapng" -q >"$T/$name.dumpcap.log" 2>&1 &
	CAP_PID=$!
	SPS_PIDS+=("$CAP_PID")
	wait_for grep -q "Capturing on" "$T/$name.dumpcap.log" ||
		{ cat "$T/$name.dumpcap.log" >&2; fail "dumpcap did not start capturing"; }
}

# capture_stop: SIGINT, and wait until dumpcap has written the file out.
capture_stop() {
	kill -INT "$CAP_PID"
	wait "$CAP_PID" || true
}

# rtp_flowing NAME MIN: the capture file holds at least MIN bytes (audio
# flows at ~ 11 KB/s each way: 50 packets of ~ 220 bytes).
grown() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }

# call FROM TO: FROM dials TO (who answers by itself) and both ends have
# their audio stream up.
call() {
	local m0 m1
	m0=$(baresip_event_count "$1")
	m1=$(baresip_event_count "$2")
	baresip_cmd "$1" dial "sip:$2@sip.test" >/dev/null || fail "$1: dial $2"
	baresip_wait_event "$1" CALL_ESTABLISHED --since "$m0" >/dev/null ||
		{ tail -30 "$T/baresip-$1/baresip.log" >&2; fail "$1 -> $2 not established"; }
	baresip_wait_event "$2" CALL_RTPESTAB --since "$m1" >/dev/null ||
		{ tail -30 "$T/baresip-$2/baresip.log" >&2; fail "$1 -> $2: no RTP at $2"; }
	baresip_wait_event "$1" CALL_RTPESTAB --since "$m0" >/dev/null ||
		fail "$1 -> $2: no RTP at $1"
}

# hangup FROM OTHER: FROM hangs up; returns once OTHER got the BYE.
hangup() {
	local m
	m=$(baresip_event_count "$2")
	baresip_cmd "$1" hangup >/dev/null || true
	baresip_wait_event "$2" CALL_CLOSED --since "$m" >/dev/null || fail "$2: call did not close"
}

# verify CAPTURE EXPECTED_STATUS: runs sipsec verify (text and --json) and
# checks the exit status of both; the JSON ends up in $T/CAPTURE.json, the
# text in $T/CAPTURE.txt.
verify() {
	local name=$1 want=$2 rc=0
	"$SIPSEC" verify "$T/$name.pcapng" >"$T/$name.txt" 2>"$T/$name.err" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$T/$name.txt" "$T/$name.err" >&2; fail "$name: exit $rc, expected $want"; }
	rc=0
	"$SIPSEC" verify "$T/$name.pcapng" --json >"$T/$name.json" 2>>"$T/$name.err" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$T/$name.json" "$T/$name.err" >&2; fail "$name --json: exit $rc, expected $want"; }
}

# check NAME PYTHON: assertions on r, the parsed report of capture NAME
check() {
	"$BS_PY" -c "import json, sys
r = json.load(open(sys.argv[1]))
$2" "$T/$1.json" || { cat "$T/$1.txt" >&2; fail "$1: report does not match"; }
}

RA=$(rtp_range)
RB=$(rtp_range)
PORTS="udp portrange $RA or udp portrange $RB"

# (d) + (a): alice and bob over TLS with SRTP mandatory
capture_start reg "tcp port $TLS or port $SIP or $PORTS"
agent alice alice tls srtp-mand "$RA"
agent bob bob tls srtp-mand "$RB" ";answermode=auto"
baresip_wait_registered alice
baresip_wait_registered bob
capture_stop

capture_start tls "tcp port $TLS or port $SIP or $PORTS"
call alice bob
wait_for grown "$T/tls.pcapng" 120000 || fail "tls: too little audio captured"
capture_stop
hangup alice bob

verify reg 3
check reg "
assert r['verdict'] == 'INCONCLUSIVE', r['verdict']
assert any('no RTP media' in x for x in r['reasons']), r['reasons']
tls = [f for f in r['signalling'] if f['protocol'] == 'tls']
assert len(tls) >= 2 and len(tls) == len(r['signalling']), r['signalling']
for f in tls:
    assert f['tls_version'] in ('TLS 1.2', 'TLS 1.3') and f['cipher_suite'].startswith('TLS_'), f
    assert f['server'] == '127.0.0.1:$TLS' and not f['below_tls12'], f
"
head -1 "$T/reg.txt" | grep -qx "VERDICT: INCONCLUSIVE" || fail "reg: first line $(head -1 "$T/reg.txt")"

verify tls 0
check tls "
assert r['verdict'] == 'SECURE' and r['reasons'] == [], r
sig = r['signalling']
assert sig and all(f['protocol'] == 'tls' and f['encrypted'] for f in sig), sig
# the connections were opened before this capture: judged by the record layer
assert all(f['record_version'] == 'TLS 1.2' and not f['below_tls12'] for f in sig), sig
rtp = [m for m in r['media'] if m['type'] == 'rtp']
assert len(rtp) == 4, r['media']  # each phone <-> the relay, both ways
for m in rtp:
    assert m['encryption'] == 'srtp' and m['codec'] == 'PCMU', m
    assert m['auth_tag_bytes'] == 10 and m['entropy_bits_per_byte'] > 7.9, m
    assert m['associated_by'] == 'heuristic' and m['packets'] >= 100, m
assert all(m['encryption'] in ('srtp', 'srtcp') for m in r['media']), r['media']
assert r['calls'] == [], r['calls']
"
head -1 "$T/tls.txt" | grep -qx "VERDICT: SECURE" || fail "tls: first line $(head -1 "$T/tls.txt")"
baresip_stop alice
baresip_stop bob

# (b) carol and dave over UDP, no SRTP
RC=$(rtp_range)
RD=$(rtp_range)
agent carol carol udp none "$RC"
agent dave dave udp none "$RD" ";answermode=auto"
baresip_wait_registered carol
baresip_wait_registered dave
capture_start udp "port $SIP or udp portrange $RC or udp portrange $RD"
call carol dave
wait_for grown "$T/udp.pcapng" 120000 || fail "udp: too little audio captured"
hangup carol dave
# dumpcap hands packets over in blocks (TPACKET_V3, with a block timeout) and
# a SIGINT drops what is not yet handed over: wait until the BYE is in the
# file (sipsec verify reads a file still being written, up to its last block)
bye_captured() {
	{ "$SIPSEC" verify "$T/udp.pcapng" --json 2>/dev/null || true; } | "$BS_PY" -c "import json, sys
r = json.load(sys.stdin)
sys.exit(0 if any('BYE' in f.get('methods', []) for f in r['signalling']) else 1)"
}
wait_for bye_captured || fail "udp: the BYE did not show up in the capture"
capture_stop
baresip_stop carol
baresip_stop dave

verify udp 1
check udp "
assert r['verdict'] == 'INSECURE', r['verdict']
sip = [f for f in r['signalling'] if f['protocol'] == 'sip']
assert sip and all(f['transport'] == 'udp' and not f['encrypted'] for f in sip), sip
methods = set(m for f in sip for m in f['methods'])
assert {'INVITE', 'ACK', 'BYE'} <= methods, methods
users = set(u for f in sip for u in f['users'])
assert 'carol@sip.test' in users and 'dave@sip.test' in users, users
assert len(r['calls']) == 1 and not r['calls'][0]['sdes_keys_leaked'], r['calls']
assert r['calls'][0]['from'] == 'carol@sip.test' and r['calls'][0]['to'] == 'dave@sip.test', r['calls']
rtp = [m for m in r['media'] if m['type'] == 'rtp']
assert len(rtp) == 4, r['media']  # each phone <-> the relay, both ways
for m in rtp:
    assert m['encryption'] == 'plaintext' and m['auth_tag_bytes'] == 0, m
    assert m['entropy_bits_per_byte'] < 7.5 and m['chi_square'] > 1000, m
    assert m['call_id'] == r['calls'][0]['call_id'] and m['associated_by'] == 'sdp', m
assert any(x.startswith('plaintext SIP over UDP') for x in r['reasons']), r['reasons']
assert any(x.startswith('unencrypted RTP') for x in r['reasons']), r['reasons']
"

# (c) erin and frank over UDP with SDES-SRTP. Through sipsec the call is
# refused with 488 (keys never cross a hop without TLS); made directly
# between the two agents (erin2 dials frank's contact), the keys cross in clear
RE=$(rtp_range)
RF=$(rtp_range)
agent erin erin udp srtp-mand "$RE"
agent frank frank udp srtp-mand "$RF" ";answermode=auto"
baresip_wait_registered erin
baresip_wait_registered frank
m=$(baresip_event_count erin)
baresip_cmd erin dial "sip:frank@sip.test" >/dev/null || fail "erin: dial frank"
baresip_wait_event erin CALL_CLOSED --match 488 --since "$m" >/dev/null ||
	{ tail -30 "$T/baresip-erin/baresip.log" >&2; fail "erin -> frank over UDP with SRTP keys: not refused with 488"; }
baresip_stop erin
FPORT=$(grep -o 'Contact: <sip:frank-[^>]*@127\.0\.0\.1:[0-9]*' "$T/baresip-frank/baresip.log" | head -1 | sed 's/.*://')
[ -n "$FPORT" ] || fail "frank's SIP port not found in its log"
DIRECT=1 agent erin2 erin udp srtp-mand "$RE"
capture_start leak "port $FPORT or udp portrange $RE or udp portrange $RF"
m0=$(baresip_event_count erin2)
m1=$(baresip_event_count frank)
baresip_cmd erin2 dial "sip:frank@127.0.0.1:$FPORT;transport=udp" >/dev/null || fail "erin2: dial frank"
baresip_wait_event erin2 CALL_RTPESTAB --since "$m0" >/dev/null ||
	{ tail -30 "$T/baresip-erin2/baresip.log" >&2; fail "erin2 -> frank: no RTP at erin2"; }
baresip_wait_event frank CALL_RTPESTAB --since "$m1" >/dev/null || fail "erin2 -> frank: no RTP at frank"
wait_for grown "$T/leak.pcapng" 60000 || fail "leak: too little audio captured"
capture_stop
hangup erin2 frank
baresip_stop erin2
baresip_stop frank

verify leak 1
check leak "
assert r['verdict'] == 'INSECURE', r['verdict']
c0 = r['calls'][0]
# baresip repeats transport=udp in the Request-URI and To of this direct INVITE
# (RFC 3261 19.1.1 forbids it): the parser refuses it, and verify still names the
# users from the raw From and To
assert c0['from'] == 'erin@sip.test' and c0['to'] == 'frank@127.0.0.1', c0
assert r['reasons'][0].startswith('SRTP keys leaked: call '), r['reasons']
c = r['calls']
assert len(c) == 1 and c[0]['sdes_keys_leaked'] and c[0]['media_profiles'] == ['RTP/SAVP'], c
rtp = [m for m in r['media'] if m['type'] == 'rtp']
assert len(rtp) == 2 and all(m['encryption'] == 'srtp' and m['call_id'] == c[0]['call_id'] for m in rtp), rtp
"
# the key material is in the capture, and nowhere in what verify printed
"$BS_PY" - "$T/leak.pcapng" "$T/leak.txt" "$T/leak.json" "$T/leak.err" <<'PY' || fail "leak: key text printed"
import re, sys
cap = open(sys.argv[1], "rb").read()
keys = set(re.findall(rb"inline:([A-Za-z0-9+/=]{20,})", cap))
assert keys, "no a=crypto key in the capture"
for f in sys.argv[2:]:
    out = open(f, "rb").read()
    for k in keys:
        assert k not in out and k[:16] not in out, (f, "shows the key")
    assert b"inline:" not in out, f
PY

# (e) bad input: one line on stderr naming the problem, exit 1, nothing on stdout
bad() {
	local name=$1 want=$2 rc=0
	shift 2
	"$SIPSEC" verify "$@" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	[ "$rc" -eq 1 ] || fail "$name: exit $rc, expected 1"
	[ ! -s "$T/bad.out" ] || fail "$name: printed a report: $(cat "$T/bad.out")"
	[ "$(wc -l <"$T/bad.err")" -eq 1 ] || fail "$name: not one line: $(cat "$T/bad.err")"
	grep -q "$want" "$T/bad.err" || fail "$name: $(cat "$T/bad.err")"
}
bad missing "cannot open" "$T/nope.pcap"
head -c 5000 /dev/urandom >"$T/garbage.pcap"
bad garbage "is not a packet capture" "$T/garbage.pcap" --json
: >"$T/empty.pcap"
bad empty "is empty" "$T/empty.pcap"
cp "$SIPSEC" "$T/binary"
bad binary "is not a packet capture" "$T/binary"
"$BS_PY" -c "import struct,sys; open(sys.argv[1],'wb').write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,105)+struct.pack('<IIII',0,0,4,4)+b'abcd')" "$T/wifi.pcap"
bad linktype "link type IEEE802_11" "$T/wifi.pcap"
# a capture cut inside the header of its first packet
head -c 30 "$T/udp.pcapng" >"$T/cut-head.pcapng"
bad cut-head "is truncated before its first packet" "$T/cut-head.pcapng"
# cut in the middle: the packets before the cut are analysed, with a warning
size=$(stat -c %s "$T/udp.pcapng")
head -c $((size / 2)) "$T/udp.pcapng" >"$T/half.pcapng"
rc=0
"$SIPSEC" verify "$T/half.pcapng" --json >"$T/half.json" 2>"$T/half.err" || rc=$?
[ "$rc" -eq 1 ] || fail "half: exit $rc: $(cat "$T/half.err")"
check half "
assert r['capture']['truncated'] and 'cut short' in r['capture']['warnings'][0], r['capture']
assert r['verdict'] == 'INSECURE', r['verdict']
"
# usage errors: exit 2
rc=0
"$SIPSEC" verify >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "no argument: exit $rc"
rc=0
"$SIPSEC" verify "$T/udp.pcapng" --bogus >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "unknown option: exit $rc"
"$SIPSEC" verify --help | grep -q "INCONCLUSIVE  3" || fail "--help does not list the exit statuses"

stop_sipsec
echo "verify ok"
