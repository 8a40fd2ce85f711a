#!/usr/bin/env python3
"""A small SIP user agent for integration tests (stdlib only): REGISTER with
digest authentication (MD5 or SHA-256, qop=auth) over UDP, TCP or TLS, for
what SIPp cannot do (TLS, RFC 5626 outbound, stale nonces, pipelining).

  sipua.py register --server HOST:PORT --transport udp|tcp|tls [--ca FILE]
           [--sni NAME] --domain D --user U --password P [--expires N]
           [--outbound] [--cseq N] [--call-id ID] [--hold SECONDS]
           [--wait-stale SECONDS] [--pong]

Prints one line per final response: "<code> <reason>" and for 200 the
Contact lines; exits 0 when the last REGISTER got 200, 1 otherwise.
"""
import argparse
import hashlib
import os
import re
import socket
import ssl
import sys
import time


def H(alg, s):
    h = hashlib.sha256 if alg.upper() == "SHA-256" else hashlib.md5
    return h(s.encode()).hexdigest()


class Conn:
    def __init__(self, transport, server, ca=None, sni=None):
        host, port = server.rsplit(":", 1)
        self.dst = (host, int(port))
        self.transport = transport
        if transport == "udp":
            self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.s.bind(("127.0.0.1", 0))
        else:
            raw = socket.create_connection(self.dst, 5)
            if transport == "tls":
                ctx = ssl.create_default_context(cafile=ca)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                if not sni:
                    ctx.check_hostname = False
                self.s = ctx.wrap_socket(raw, server_hostname=sni or host)
            else:
                self.s = raw
        self.local = self.s.getsockname()
        self.buf = b""

    def send(self, data):
        if self.transport == "udp":
            self.s.sendto(data, self.dst)
        else:
            self.s.sendall(data)

    def recv(self, timeout=5.0):
        """One SIP message (str), b"\\r\\n" for a keep-alive pong, or None."""
        self.s.settimeout(timeout)
        if self.transport == "udp":
            try:
                return self.s.recv(65535).decode()
            except socket.timeout:
                return None
        deadline = time.monotonic() + timeout
        while True:
            if self.buf.startswith(b"\r\n") and not self.buf.startswith(b"\r\n\r\n"):
                self.buf = self.buf[2:]
                return b"\r\n"
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buf[:end].decode()
                m = re.search(r"(?im)^(content-length|l)\s*:\s*(\d+)", head)
                n = int(m.group(2)) if m else 0
                if len(self.buf) >= end + 4 + n:
                    msg = self.buf[: end + 4 + n].decode()
                    self.buf = self.buf[end + 4 + n:]
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65535)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk


def status(msg):
    return int(msg.split(" ", 2)[1]) if msg and msg.startswith("SIP/2.0 ") else 0


def headers(msg, name):
    return [m.group(1).strip() for m in re.finditer(r"(?im)^" + name + r"\s*:(.*)$", msg)]


def params(challenge):
    return dict((k.lower(), v1 or v2) for k, v1, v2 in
                re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', challenge))


class UA:
    def __init__(self, a):
        self.a = a
        self.c = Conn(a.transport, a.server, a.ca, a.sni)
        self.cseq = a.cseq
        self.call_id = a.call_id or "reg-%s-%d" % (a.user, os.getpid())
        self.tag = "t%d" % os.getpid()
        self.nc = 0
        self.chal = None

    def request(self, expires, auth=None):
        a = self.a
        lh, lp = self.c.local[0], self.c.local[1]
        tp = a.transport.upper()
        branch = "z9hG4bK" + os.urandom(8).hex()
        contact = "<sip:%s@%s:%d;transport=%s>" % (a.user, lh, lp, a.transport)
        if a.outbound:
            contact += ';reg-id=1;+sip.instance="<urn:uuid:00000000-0000-4000-8000-%012d>"' % os.getpid()
        lines = [
            "REGISTER sip:%s SIP/2.0" % a.domain,
            "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (tp, lh, lp, branch),
            "Max-Forwards: 70",
            "From: <sip:%s@%s>;tag=%s" % (a.user, a.domain, self.tag),
            "To: <sip:%s@%s>" % (a.user, a.domain),
            "Call-ID: %s" % self.call_id,
            "CSeq: %d REGISTER" % self.cseq,
            "Contact: %s" % contact,
            "Expires: %d" % expires,
            "User-Agent: sipsec-test-ua",
        ]
        if a.outbound:
            lines.append("Supported: outbound, path")
        if auth:
            lines.append("Authorization: " + auth)
        lines.append("Content-Length: 0")
        self.cseq += 1
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def authorization(self):
        p = self.chal
        alg = p.get("algorithm", "MD5")
        self.nc += 1
        nc = "%08x" % self.nc
        cnonce = os.urandom(8).hex()
        uri = "sip:%s" % self.a.domain
        ha1 = H(alg, "%s:%s:%s" % (self.a.user, p["realm"], self.a.password))
        ha2 = H(alg, "REGISTER:%s" % uri)
        resp = H(alg, "%s:%s:%s:%s:auth:%s" % (ha1, p["nonce"], nc, cnonce, ha2))
        v = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
             'algorithm=%s, cnonce="%s", nc=%s, qop=auth' %
             (self.a.user, p["realm"], p["nonce"], uri, resp, alg, cnonce, nc))
        if "opaque" in p:
            v += ', opaque="%s"' % p["opaque"]
        return v

    def final(self, req):
        """Send req and return its final response (skipping pongs and 1xx)."""
        self.c.send(req)
        while True:
            m = self.c.recv(5)
            if m is None:
                return None
            if isinstance(m, bytes):
                continue
            if status(m) >= 200:
                return m

    def register(self, expires):
        """REGISTER, answering challenges (at most 3). Returns the final response."""
        auth = self.authorization() if self.chal else None
        for _ in range(3):
            m = self.final(self.request(expires, auth))
            if m is None or status(m) not in (401, 407):
                return m
            chals = headers(m, "WWW-Authenticate")
            want = self.a.algorithm.upper()
            pick = [c for c in chals if params(c).get("algorithm", "MD5").upper() == want]
            if not pick:
                return m
            self.chal = params(pick[0])
            self.nc = 0
            auth = self.authorization()
            print("challenge%s" % (" stale" if self.chal.get("stale", "").lower() == "true" else ""))
            sys.stdout.flush()
        return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["register"])
    ap.add_argument("--server", required=True)
    ap.add_argument("--transport", default="udp", choices=["udp", "tcp", "tls"])
    ap.add_argument("--ca")
    ap.add_argument("--sni")
    ap.add_argument("--domain", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--algorithm", default="SHA-256")
    ap.add_argument("--expires", type=int, default=3600)
    ap.add_argument("--cseq", type=int, default=1)
    ap.add_argument("--call-id")
    ap.add_argument("--outbound", action="store_true")
    ap.add_argument("--hold", type=float, default=0, help="keep the connection this long after")
    ap.add_argument("--wait-stale", type=float, default=0,
                    help="after the 200, wait this long and refresh with the old nonce")
    ap.add_argument("--pong", action="store_true", help="check a CRLFCRLF ping gets a pong")
    ap.add_argument("--ready-file", help="touch this file after the first 200")
    a = ap.parse_args()
    ua = UA(a)
    m = ua.register(a.expires)
    code = status(m)
    print(code, m.split("\r\n", 1)[0][12:] if m else "no answer")
    for c in headers(m or "", "Contact"):
        print("Contact:", c)
    for r in headers(m or "", "Require"):
        print("Require:", r)
    sys.stdout.flush()
    if code == 200 and a.ready_file:
        open(a.ready_file, "w").close()
    if code == 200 and a.wait_stale:
        time.sleep(a.wait_stale)
        m = ua.register(a.expires)
        code = status(m)
        print(code, m.split("\r\n", 1)[0][12:] if m else "no answer")
    if code == 200 and a.pong:
        ua.c.send(b"\r\n\r\n")
        r = ua.c.recv(5)
        print("pong" if r == b"\r\n" else "no pong: %r" % (r,))
        if r != b"\r\n":
            code = 0
    if a.hold:
        time.sleep(a.hold)
    sys.exit(0 if code == 200 else 1)


if __name__ == "__main__":
    main()
