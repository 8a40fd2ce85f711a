#!/usr/bin/env bash
# Every RFC 4475 invalid message sent over UDP gets a 400 or no answer, and
# the server still answers OPTIONS afterwards (and did not crash under ASan).
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$(free_port)"
python3 - "$SIP" "$SPS_TOP/tests/data/rfc4475" <<'PY'
import socket, sys
port, d = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
me = s.getsockname()[1]
bad = []
for line in open(d + "/MANIFEST.tsv").read().splitlines()[1:]:
    f, sec, cls = line.split("\t")[:3]
    if cls != "invalid":
        continue
    s.sendto(open(d + "/" + f, "rb").read(), ("127.0.0.1", port))
    s.settimeout(0.5)
    try:
        while True:
            data = s.recv(70000)
            code = data.split(b" ", 2)[1]
            if code not in (b"400",):
                bad.append((f, data[:60]))
    except socket.timeout:
        pass
    except Exception as e:
        bad.append((f, repr(e)))
opt = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKafter;rport\r\n"
       "From: <sip:t@sip.test>;tag=9\r\nTo: <sip:127.0.0.1>\r\nCall-ID: after\r\nCSeq: 1 OPTIONS\r\n"
       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (port, me)).encode()
s.settimeout(5)
s.sendto(opt, ("127.0.0.1", port))
r = s.recv(70000)
if not r.startswith(b"SIP/2.0 200"):
    bad.append(("options-after", r[:60]))
for b in bad:
    print("unexpected:", b)
sys.exit(1 if bad else 0)
PY
stop_sipsec
echo "torture over UDP ok"
