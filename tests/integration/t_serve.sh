#!/usr/bin/env bash
# `sipsec serve`: first start creates the CA; SIPp OPTIONS over UDP, TCP and
# TLS (socat in front of SIPp's TCP mode) get 200; the exported CA verifies
# the server certificate; a port in use is a clear error; SIGTERM stops cleanly;
# a low soft open-file limit is raised for the connections and media ports;
# on the wildcard address the certificate names the host's addresses.
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
TLS=$(free_port)
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS"
grep -q "listening on UDP 127.0.0.1:$SIP" "$D.log" || fail "no UDP listener line"
grep -q "listening on TLS 127.0.0.1:$TLS" "$D.log" || fail "no TLS listener line"

# keys are private
for k in "$D"/certs/*.key; do
	[ "$(stat -c %a "$k")" = 600 ] || fail "$k is mode $(stat -c %a "$k"), expected 600"
done

# the CA an administrator hands to softphones
"$SIPSEC" cert ca-export "$T/cert.pem" --data "$D" || fail "ca-export"
openssl verify -CAfile "$T/cert.pem" "$D/certs/sip.pem" || fail "server cert does not verify"
"$SIPSEC" cert show --data "$D" >"$T/show" || fail "cert show"
grep -q "sip.test" "$T/show" || fail "cert show does not name the domain"

SC=$SPS_TOP/tests/integration/scenarios
run_sipp() { # transport target
	local lp
	lp=$(free_port)
	(cd "$T" && sipp -sf "$SC/options.xml" -m 1 -t "$1" -i 127.0.0.1 -p "$lp" "$2" \
		-timeout 15s -timeout_error -nostdin -trace_err >/dev/null 2>&1) ||
		{ cat "$T"/*errors.log 2>/dev/null; return 1; }
}
run_sipp u1 "127.0.0.1:$SIP" || fail "SIPp OPTIONS over UDP did not get 200"
run_sipp t1 "127.0.0.1:$SIP" || fail "SIPp OPTIONS over TCP did not get 200"

# TLS: socat terminates TLS towards sipsec, verifying its certificate and name
SOC=$(free_port)
socat "TCP-LISTEN:$SOC,bind=127.0.0.1,reuseaddr,fork" \
	"OPENSSL:127.0.0.1:$TLS,cafile=$T/cert.pem,verify=1,commonname=sip.test" 2>"$T/socat.log" &
SPS_PIDS+=($!)
wait_port "$SOC" || fail "socat did not start"
run_sipp t1 "127.0.0.1:$SOC" || { cat "$T/socat.log"; fail "SIPp OPTIONS over TLS did not get 200"; }

# a second server on the same ports: one line naming the port, status 1
set +e
"$SIPSEC" serve --data "$T/d2" --listen 127.0.0.1 --sip-port "$SIP" --tls-port "$(free_port)" \
	2>"$T/err2" >/dev/null
rc=$?
set -e
[ $rc -eq 1 ] || fail "port in use exited $rc, expected 1"
grep -q "port $SIP is already in use" "$T/err2" || fail "port in use message: $(cat "$T/err2")"

stop_sipsec
grep -q "stopped" "$D.log" || fail "no clean stop logged"

# started with a soft open-file limit of 256, serve raises it towards what
# --max-connections and the media port range need (as far as the hard limit
# allows) and warns when that is not enough
D3=$T/data3
(ulimit -S -n 256 && start_sipsec "$D3" --domain sip.test --sip-port "$(free_port)" \
	--tls-port "$(free_port)" --max-connections 2000 --media-port-min 30000 \
	--media-port-max 31999 && echo "$SPS_PID" >"$T/pid3")
P3=$(cat "$T/pid3")
SPS_PIDS+=("$P3")
python3 - "$P3" "$D3.log" <<'PY' || fail "open-file limit not raised"
import sys
pid, log = sys.argv[1], open(sys.argv[2]).read()
line = [l for l in open("/proc/%s/limits" % pid) if l.startswith("Max open files")][0].split()
soft, hard = int(line[3]), int(line[4]) if line[4] != "unlimited" else 1 << 62
want = 2000 + 2000 + 256
assert soft == min(want, hard), (soft, hard, want)
assert ("open-file limit" in log) == (hard < want), log
PY
kill "$P3"

# on the wildcard address (the default) the certificate names the host's
# addresses, for phones set up with the server's IP, and 127.0.0.1
D4=$T/data4
start_sipsec "$D4" --listen 0.0.0.0 --domain sip.test --sip-port "$(free_port)" \
	--tls-port "$(free_port)"
sans=$("$SIPSEC" cert show --data "$D4" | grep -m1 "SANs:")
command -v ip >/dev/null || fail "ip (iproute2) is needed"
# the same rule as sipsec's: interfaces that are up, addresses not 127/8
mapfile -t want < <(ip -4 -o addr show up |
	awk '{ sub("/.*", "", $4); if ($4 !~ /^127\./) print $4 }' | sort -u)
[ ${#want[@]} -le 32 ] || want=() # more than fit: only 127.0.0.1 is certain
for ip in 127.0.0.1 "${want[@]}"; do
	case "$sans, " in *"IP:$ip, "*) ;; *) fail "IP:$ip not in the certificate: $sans" ;; esac
done
stop_sipsec
[ ! -e "$D/sipsec.pid" ] || fail "pid file left behind"
echo "serve ok"
