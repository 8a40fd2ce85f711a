# Shared helpers for integration tests (sourced). Every test gets a temp dir $T
# that is removed at exit (kept when SPS_KEEP_TMP=1, for a post-mortem), with
# any server it started stopped.
set -euo pipefail
: "${SIPSEC:?SIPSEC must name the sipsec binary}"
T=$(mktemp -d /tmp/sipsec-it.XXXXXX)
SPS_PIDS=()
cleanup() {
	local status=$?
	set +e
	for p in "${SPS_PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ "${SPS_KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
	exit $status
}
trap cleanup EXIT

fail() {
	echo "FAILED: $*" >&2
	exit 1
}

# free_port [udp|tcp]: a port that is free on 127.0.0.1 for both TCP and UDP.
free_port() {
	python3 - <<'PY'
import socket
while True:
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close(); u.close(); continue
    t.close(); u.close()
    print(port)
    break
PY
}

# wait_for CMD...: retry CMD every 0.1 s for up to 20 s (a readiness probe, not a fixed sleep).
wait_for() {
	local i
	for i in $(seq 1 200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# start_sipsec DATA_DIR [serve flags...]: start `sipsec serve` in the
# background on 127.0.0.1 and wait until it wrote its pid file (readiness).
# Sets SPS_PID; the log goes to DATA_DIR.log.
start_sipsec() {
	local data=$1
	shift
	rm -f "$data/sipsec.pid"
	# --https-port 0 unless the test gives one (the last flag wins): the
	# provisioning server must not collide on 8443 with other servers
	"$SIPSEC" serve --data "$data" --listen 127.0.0.1 --https-port 0 "$@" >"$data.log" 2>&1 &
	SPS_PID=$!
	SPS_PIDS+=("$SPS_PID")
	local i
	for i in $(seq 1 300); do
		[ -s "$data/sipsec.pid" ] && return 0
		kill -0 "$SPS_PID" 2>/dev/null || { cat "$data.log" >&2; fail "sipsec serve exited early"; }
		sleep 0.1
	done
	cat "$data.log" >&2
	fail "sipsec serve did not become ready"
}

# stop_sipsec: SIGTERM the last started server and wait for it; fails if it
# did not exit cleanly (status 0).
stop_sipsec() {
	kill -TERM "$SPS_PID"
	local rc=0
	wait "$SPS_PID" || rc=$?
	[ $rc -eq 0 ] || fail "sipsec serve exited with $rc after SIGTERM"
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (TCP).
wait_port() {
	wait_for python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1"
}
