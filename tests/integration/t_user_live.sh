#!/usr/bin/env bash
# `sipsec user passwd` and `user del` in another process while serve runs
# take effect for the very next registration and call: serve answers its
# per-call lookups (the caller's HA1, the callee, the callee's bindings)
# from memory (store.h sps_store_cache), and must notice the CLI's commits
# at once. The UAs are small Python ones over UDP: alice calls, bob answers
# every INVITE with 486 (a quick final answer that proves the INVITE was
# authenticated and forwarded to bob's binding).
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
TLS=$(free_port)
for u in alice:alice-password-1 bob:bob-password-1; do
	printf '%s\n' "${u#*:}" | "$SIPSEC" user add "${u%%:*}" --password-stdin --data "$D" \
		--domain live.test >/dev/null || fail "user add ${u%%:*}"
done
start_sipsec "$D" --domain live.test --sip-port "$SIP" --tls-port "$TLS"

python3 - "$SIPSEC" "$D" "$SIP" <<'PY' || fail "a change by the CLI did not take effect at once"
import hashlib, re, socket, subprocess, sys, time

sipsec, data, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = ("127.0.0.1", port)
md5 = lambda x: hashlib.md5(x.encode()).hexdigest()
seq = [0]

def sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s

def recv_final(s, want_branch, msg):
    """The final response of our transaction, resending the request every
    0.5 s until a response comes (RFC 3261 17.1.1.2 Timer A over UDP: the
    server may still be busy starting up)."""
    deadline = time.time() + 20
    heard = False
    while time.time() < deadline:
        s.settimeout(0.5)
        try:
            m = s.recv(65535).decode()
        except socket.timeout:
            if not heard:
                s.sendto(msg, srv)
            continue
        if m.startswith("SIP/2.0 ") and want_branch in m.split("\r\n\r\n")[0]:
            heard = True
            code = int(m.split(" ", 2)[1])
            if code >= 200:
                return code, m
    raise SystemExit("no final response")

def digest(m, method, uri, user, password, hdr):
    nonce = re.search(r'algorithm=MD5, nonce="([^"]+)"', m).group(1)
    ha1 = md5("%s:live.test:%s" % (user, password))
    resp = md5("%s:%s:00000001:c1:auth:%s" % (ha1, nonce, md5("%s:%s" % (method, uri))))
    return ('%s: Digest username="%s", realm="live.test", nonce="%s", uri="%s", '
            'response="%s", algorithm=MD5, cnonce="c1", nc=00000001, qop=auth\r\n'
            % (hdr, user, nonce, uri, resp))

def request(s, method, uri, user, to, extra="", body="", call_id=None):
    seq[0] += 1
    lp = s.getsockname()[1]
    branch = "z9hG4bKlive%d" % seq[0]
    msg = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:%s@live.test>;tag=t%d\r\nTo: <sip:%s@live.test>\r\n"
           "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:%s@127.0.0.1:%d>\r\n%s"
           "Content-Length: %d\r\n\r\n%s"
           % (method, uri, lp, branch, user, seq[0], to, call_id or "live-%d" % seq[0],
              seq[0], method, user, lp, extra, len(body), body))
    s.sendto(msg.encode(), srv)
    return recv_final(s, branch, msg.encode())

def ack(s, resp):
    """ACK a non-2xx final (RFC 3261 17.1.1.3), so the server's INVITE
    transaction ends."""
    head = resp.split("\r\n\r\n")[0].split("\r\n")
    get = lambda n: next(l for l in head if l.lower().startswith(n.lower() + ":"))
    via, frm, to, cid = get("Via"), get("From"), get("To"), get("Call-ID")
    num = get("CSeq").split(":", 1)[1].split()[0]
    s.sendto(("ACK sip:bob@live.test SIP/2.0\r\n%s\r\nMax-Forwards: 70\r\n%s\r\n%s\r\n%s\r\n"
              "CSeq: %s ACK\r\nContent-Length: 0\r\n\r\n" % (via, frm, to, cid, num)).encode(), srv)

def register(s, user, password):
    code, m = request(s, "REGISTER", "sip:live.test", user, user)
    if code != 401:
        return code
    code, _ = request(s, "REGISTER", "sip:live.test", user, user,
                      digest(m, "REGISTER", "sip:live.test", user, password, "Authorization"))
    return code

def call(s, password):
    """alice INVITEs bob; returns the final status of the authenticated INVITE."""
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    ct = "Content-Type: application/sdp\r\n"
    code, m = request(s, "INVITE", "sip:bob@live.test", "alice", "bob", ct, sdp)
    ack(s, m)
    if code != 407:
        return code
    code, m = request(s, "INVITE", "sip:bob@live.test", "alice", "bob",
                      ct + digest(m, "INVITE", "sip:bob@live.test", "alice", password,
                                  "Proxy-Authorization"), sdp)
    ack(s, m)
    return code

def cli(*args, stdin=None):
    subprocess.run([sipsec, "user", *args, "--data", data], input=stdin, text=True,
                   check=True, stdout=subprocess.DEVNULL)

# bob: registered on his own socket, answers every INVITE with 486
import threading
bob = sock()
assert register(bob, "bob", "bob-password-1") == 200, "bob could not register"
stop = threading.Event()
def bob_uas():
    while not stop.is_set():
        bob.settimeout(0.2)
        try:
            m = bob.recv(65535).decode()
        except socket.timeout:
            continue
        if not m.startswith("INVITE "):
            continue
        head = m.split("\r\n\r\n")[0].split("\r\n")
        keep = [l for l in head[1:] if l.split(":")[0].lower() in
                ("via", "from", "call-id", "cseq")]
        to = next(l for l in head if l.lower().startswith("to:"))
        bob.sendto(("SIP/2.0 486 Busy Here\r\n%s\r\n%s;tag=bob1\r\nContent-Length: 0\r\n\r\n"
                    % ("\r\n".join(keep), to)).encode(), srv)
bob_thread = threading.Thread(target=bob_uas, daemon=True)
bob_thread.start()

alice = sock()
# the same lookups twice, so that the second time they come from memory
for i in range(2):
    assert register(alice, "alice", "alice-password-1") == 200, "alice REGISTER"
    got = call(alice, "alice-password-1")
    assert got == 486, "the call did not reach bob: %d" % got

# a new password for alice: the old one fails at once, the new one works
cli("passwd", "alice", "--password-stdin", stdin="alice-password-2\n")
got = register(alice, "alice", "alice-password-1")
assert got == 403, "REGISTER with the old password after passwd: %d" % got
got = call(alice, "alice-password-1")
assert got == 403, "INVITE with the old password after passwd: %d" % got
assert register(alice, "alice", "alice-password-2") == 200, "REGISTER with the new password"
got = call(alice, "alice-password-2")
assert got == 486, "INVITE with the new password: %d" % got

# bob deleted: calls to him are 404 at once, his bindings went with him,
# and he cannot register any more
cli("del", "bob")
got = call(alice, "alice-password-2")
assert got == 404, "INVITE to a deleted user: %d" % got
stop.set()
bob_thread.join()
got = register(bob, "bob", "bob-password-1")
assert got == 403, "REGISTER of a deleted user: %d" % got

# bob added again (another password): registered, reachable, no old binding
cli("add", "bob", "--password-stdin", stdin="bob-password-2\n")
got = call(alice, "alice-password-2")
assert got == 480, "INVITE to a user without bindings: %d" % got
PY

grep -q "AddressSanitizer\|runtime error" "$D.log" && { cat "$D.log"; fail "sanitizer report"; }
stop_sipsec
echo "ok: user passwd / user del while serve runs"
