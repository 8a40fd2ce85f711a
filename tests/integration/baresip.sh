# baresip 1.0.0 as a headless TLS + SDES-SRTP softphone for integration tests
# (sourced after lib.sh). Each agent NAME gets its own directory $T/baresip-NAME
# (config, accounts, baresip.log with the full SIP trace, events.jsonl) and its
# own ports: SIP on 127.0.0.1 port 0 (the kernel picks them), ctrl_tcp on a
# free port. A hub (bsctl.py --hub) holds ctrl_tcp's single connection, logs
# every event and relays commands; see bsctl.py for the protocol.
#
#   baresip_start NAME USER PASSWORD DOMAIN TLS_PORT CAFILE [ACCOUNT_PARAMS]
#   baresip_cmd NAME COMMAND [PARAMS...]       prints the answer, status 0 if ok
#   baresip_cmd_wait NAME EVENT COMMAND [PARAMS...]  command, then its event
#   baresip_wait_event NAME EVENT [--match TEXT] [--timeout S] [--since N]
#   baresip_event_count NAME                   for --since
#   baresip_registered NAME [AOR] / baresip_reg_failed NAME [AOR]
#   baresip_wait_registered NAME [AOR]
#   baresip_stop NAME                          SIGTERM; baresip un-registers first
#
# What baresip 1.0.0 sends (see the REGISTER in baresip.log): Request-URI
# sip:DOMAIN;transport=tls, Route <sip:127.0.0.1:TLS_PORT;transport=tls;lr> (the
# outbound proxy), Contact <sip:USER-0x...@127.0.0.1:PORT;transport=tls>;
# expires=REGINT;+sip.instance="<urn:uuid:...>" (reg-id=1 and "Supported:
# gruu, outbound, path" only with ACCOUNT_PARAMS ";sipnat=outbound"), no
# Expires header. It answers only MD5 challenges: a 401 that also offers
# SHA-256 makes it give up ("Register: Function not implemented"), so serve
# with --digest-algorithms MD5. Refreshes (at 90% of the expiry) and the
# un-REGISTER carry no credentials: each costs a 401 round trip. On a 423 it
# retries with Min-Expires, reusing the nonce (nc=00000002).
#
# Calls: ACCOUNT_PARAMS ";answermode=auto" makes the callee answer by itself;
# events then include CALL_MENC (param "0,audio,AES_CM_128_HMAC_SHA1_80"),
# CALL_ESTABLISHED, CALL_RTPESTAB, CALL_CLOSED. The audio source is a 120 s
# tone (aufile): longer calls run out of audio.

BSCTL=${BSCTL:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bsctl.py}
# Debian's python3 starts in under 0.1 s; a pyenv shim first in PATH takes
# about 0.6 s per call, which matters when polling.
BS_PY=${BS_PY:-$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}

# baresip_tone: an 8 kHz mono 16-bit WAV (a 440 Hz tone, 120 s) for the aufile
# source, made once per test: PCMU/PCMA need 8 kHz (ausine only does 48 kHz).
baresip_tone() {
	local f=$T/baresip-tone.wav
	[ -s "$f" ] || "$BS_PY" - "$f" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
one = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000))
w.writeframes(one * 120)
w.close()
PY
	echo "$f"
}

# baresip_start NAME USER PASSWORD DOMAIN TLS_PORT CAFILE [ACCOUNT_PARAMS]
# Registers sip:USER@DOMAIN over TLS through 127.0.0.1:TLS_PORT (the outbound
# proxy: the domain needs no DNS), SRTP mandatory. ACCOUNT_PARAMS (e.g.
# ";answermode=auto;regint=60") come before the defaults, so they win.
# Returns once the hub holds the ctrl_tcp connection; registration may still
# be under way: use baresip_wait_registered.
baresip_start() {
	local name=$1 user=$2 pass=$3 domain=$4 tls_port=$5 cafile=$6 extra=${7:-}
	local dir=$T/baresip-$name ctrl tone
	[ -n "$extra" ] && [ "${extra#;}" = "$extra" ] && extra=";$extra"
	mkdir -p "$dir"
	rm -f "$dir/ctl.sock" "$dir/events.jsonl" # a restart: events start afresh
	ctrl=$(free_port)
	tone=$(baresip_tone)
	cat >"$dir/config" <<EOF
poll_method		epoll
sip_listen		127.0.0.1:0
sip_cafile		$cafile
call_local_timeout	120
call_max_calls		4
audio_player		alsa,null
audio_alert		alsa,null
audio_source		aufile,$tone
audio_level		no
rtp_stats		no
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
	printf '<sip:%s@%s;transport=tls>%s;auth_pass=%s;outbound="sip:127.0.0.1:%s;transport=tls";regint=600;mediaenc=srtp-mand\n' \
		"$user" "$domain" "$extra" "$pass" "$tls_port" >"$dir/accounts"
	echo "$ctrl" >"$dir/ctrl_port"
	baresip -f "$dir" -s </dev/null >"$dir/baresip.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$dir/pid"
	SPS_PIDS+=("$pid")
	"$BS_PY" "$BSCTL" --hub "$ctrl" "$dir" 2>"$dir/hub.err" &
	SPS_PIDS+=($!)
	local i
	for i in $(seq 1 200); do
		[ -S "$dir/ctl.sock" ] && return 0
		kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/baresip.log" >&2; fail "baresip $name exited early"; }
		sleep 0.1
	done
	tail -20 "$dir/baresip.log" "$dir/hub.err" >&2
	fail "baresip $name: ctrl_tcp on port $ctrl did not answer"
}

# baresip_cmd NAME COMMAND [PARAMS...]: one ctrl_tcp command (menu commands:
# reginfo, dial URI, hangup, listcalls, ...); prints the answer without colour
# codes, status 0 when baresip said ok.
baresip_cmd() {
	local name=$1
	shift
	"$BS_PY" "$BSCTL" "$T/baresip-$name/ctl.sock" "$@"
}

# baresip_wait_event NAME EVENT [--match TEXT] [--timeout S] [--since N]:
# prints the first event of that type (JSON, one line) logged since event
# number N (default 0: since start); status 1 after the timeout (20 s).
baresip_wait_event() {
	local name=$1
	shift
	"$BS_PY" "$BSCTL" "$T/baresip-$name/ctl.sock" --wait-event "$@"
}

# baresip_cmd_wait NAME EVENT COMMAND [PARAMS...]: run the command, then wait
# for an event of that type that came after it, e.g.
#   baresip_cmd_wait a CALL_ESTABLISHED dial sip:bob@sip.test
baresip_cmd_wait() {
	local name=$1 ev=$2
	shift 2
	"$BS_PY" "$BSCTL" "$T/baresip-$name/ctl.sock" --wait-event "$ev" "$@"
}

# baresip_event_count NAME: events logged so far (a mark for --since).
baresip_event_count() {
	"$BS_PY" "$BSCTL" "$T/baresip-$1/ctl.sock" --count
}

# reginfo in 1.0.0 prints one line per account ("> " marks the current one):
#   "> sip:alice@sip.test      OK   Expires 600s"   registered (last answer 200)
#   "> sip:alice@sip.test      ERR  Expires 0s"     failed (last answer >= 300, or an error)
#   "> sip:alice@sip.test      zzz  Expires 0s"     no answer yet
# baresip_registered NAME [AOR] / baresip_reg_failed NAME [AOR]: status 0 when
# the account (AOR, default: any) is in that state.
baresip_reginfo_has() {
	baresip_cmd "$1" reginfo 2>/dev/null | grep -F -- "${3:-sip:}" | grep -Eq "^[> ] sip:[^ ]* +$2"
}
baresip_registered() {
	baresip_reginfo_has "$1" 'OK +Expires [1-9]' "${2:-}"
}
baresip_reg_failed() {
	baresip_reginfo_has "$1" 'ERR ' "${2:-}"
}

# baresip_wait_registered NAME [AOR]: until reginfo says OK (20 s), else fail
# with what baresip logged.
baresip_wait_registered() {
	wait_for baresip_registered "$1" "${2:-}" && return 0
	baresip_cmd "$1" reginfo >&2 || true
	grep -a 'reg:\|SIP/2.0 [0-9]' "$T/baresip-$1/baresip.log" | tail -10 >&2
	fail "baresip $1 did not register"
}

# baresip_stop NAME: SIGTERM and wait until it exited (within about 2 s): it
# first un-registers (REGISTER with expires=0 in the Contact), so its binding
# is gone afterwards. The hub exits with it.
baresip_stop() {
	local pid
	pid=$(cat "$T/baresip-$1/pid")
	kill -TERM "$pid" 2>/dev/null || return 0
	wait "$pid" 2>/dev/null || true
}
