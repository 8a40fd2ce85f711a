# Shared helpers for integration tests (sourced). Every test gets a temp dir $T
# that is removed at exit, with any server it started stopped.
set -euo pipefail
: "${SIPSEC:?SIPSEC must name the sipsec binary}"
T=$(mktemp -d /tmp/sipsec-it.XXXXXX)
SPS_PIDS=()
cleanup() {
	for p in "${SPS_PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$T"
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
