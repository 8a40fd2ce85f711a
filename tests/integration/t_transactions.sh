#!/usr/bin/env bash
# Transactions (RFC 3261 17, RFC 3581) seen from a UDP peer: an INVITE gets
# 100 then its final response, retransmitted (Timer G) until the ACK, and
# never after it; a retransmitted request is answered from the transaction
# with the same response; a CANCEL for a known INVITE gets 200, an unknown
# one 481; responses carry received= and rport= on the top Via.
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$(free_port)"

python3 - "$SIP" <<'PY' || fail "transaction behaviour (see above)"
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
lport = s.getsockname()[1]

def req(method, branch, cseq_method=None, to_tag="", callid="tx1"):
    cm = cseq_method or method
    return (f"{method} sip:bob@sip.test SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.9:5999;branch={branch};rport\r\n"
            f"From: <sip:alice@sip.test>;tag=a1\r\n"
            f"To: <sip:bob@sip.test>{to_tag}\r\n"
            f"Call-ID: {callid}\r\nCSeq: 1 {cm}\r\nMax-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n").encode()

def recv(timeout):
    s.settimeout(timeout)
    try:
        return s.recv(65535).decode()
    except socket.timeout:
        return None

def status(m):
    return int(m.split(" ", 2)[1]) if m else None

def check(cond, what):
    if not cond:
        print("FAILED:", what); sys.exit(1)

dst = ("127.0.0.1", port)
# INVITE: 100, then a final (405: no calls yet), retransmitted until ACK
s.sendto(req("INVITE", "z9hG4bKinv1"), dst)
m1 = recv(2); check(status(m1) == 100, f"first answer to INVITE is 100, got {m1!r}")
# the response went to our source port although Via said 5999 (rport)
check(f"received=127.0.0.1;rport={lport}" in m1, f"received/rport on the Via: {m1!r}")
m2 = recv(2); check(status(m2) and status(m2) >= 300, f"final answer, got {m2!r}")
t0 = time.monotonic()
m3 = recv(3); check(m3 == m2, f"final response retransmitted (Timer G), got {m3!r}")
check(time.monotonic() - t0 >= 0.3, "retransmission came after about T1")
# a retransmitted INVITE in Completed gets the final again
s.sendto(req("INVITE", "z9hG4bKinv1"), dst)
m4 = recv(2); check(m4 == m2, f"retransmitted INVITE answered from the transaction: {m4!r}")
# CANCEL for this INVITE: 200; for an unknown one: 481
s.sendto(req("CANCEL", "z9hG4bKinv1"), dst)
while True:
    m = recv(2); check(m is not None, "answer to CANCEL")
    if "CANCEL" in m.split("CSeq:")[1].split("\r\n")[0]:
        break
check(status(m) == 200, f"CANCEL of a known INVITE gets 200, got {m!r}")
to_tag = ";tag=" + m2.split("To:")[1].split("tag=")[1].split("\r\n")[0]
s.sendto(req("ACK", "z9hG4bKinv1", to_tag=to_tag), dst)
# after the ACK: nothing more (drain what was in flight first)
deadline = time.monotonic() + 2.5
late = []
while time.monotonic() < deadline:
    m = recv(max(0.05, deadline - time.monotonic()))
    if m and time.monotonic() > deadline - 2.0:
        late.append(m)
check(not late, f"no retransmission after the ACK, got {late!r}")
s.sendto(req("CANCEL", "z9hG4bKnone"), dst)
m = recv(2); check(status(m) == 481, f"CANCEL of an unknown INVITE gets 481, got {m!r}")

# OPTIONS retransmission: the same response again, from the transaction
s.sendto(req("OPTIONS", "z9hG4bKopt1", callid="tx2").replace(b"bob@", b""), dst)
o1 = recv(2); check(status(o1) == 200, f"OPTIONS 200, got {o1!r}")
s.sendto(req("OPTIONS", "z9hG4bKopt1", callid="tx2").replace(b"bob@", b""), dst)
o2 = recv(2); check(o2 == o1, "retransmitted OPTIONS answered with the same 200")
print("transactions ok")
PY
stop_sipsec
