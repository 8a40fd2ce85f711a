#!/usr/bin/env bash
# TLS: openssl s_client verifies the server against the exported CA, completes
# a TLS 1.3 handshake, and after a server restart resumes the session with the
# ticket it got before (ticket keys live in the data dir), gets a new ticket
# and resumes again with it. The same for TLS 1.2 (RFC 5077 tickets: what
# most deployed phones resume with). TLS 1.1 is refused.
. "$(dirname "$0")/lib.sh"

D=$T/data
SIP=$(free_port)
TLS=$(free_port)
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS"
"$SIPSEC" cert ca-export "$T/cert.pem" --data "$D"

# One OPTIONS, then bytes without Content-Length: the server answers the
# OPTIONS, then closes the stream as broken, which ends s_client (no sleeps).
req() {
	printf 'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bK%s\r\nFrom: <sip:t@sip.test>;tag=1\r\nTo: <sip:sip.test>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\nEND\r\n\r\n' "$1" "$1"
}
client() {
	timeout 20 openssl s_client -connect "127.0.0.1:$TLS" -CAfile "$T/cert.pem" \
		-verify_return_error -verify_hostname sip.test -servername sip.test -ign_eof "$@"
}
req a1 | client -tls1_3 -sess_out "$T/sess.pem" >"$T/s1.out" 2>&1 || true
grep -q "Verify return code: 0 (ok)" "$T/s1.out" || { cat "$T/s1.out"; fail "certificate not verified"; }
grep -q "New, TLSv1.3" "$T/s1.out" || { cat "$T/s1.out"; fail "no TLS 1.3 handshake"; }
grep -q "SIP/2.0 200 OK" "$T/s1.out" || { cat "$T/s1.out"; fail "no 200 to OPTIONS over TLS"; }
[ -s "$T/sess.pem" ] || fail "no session ticket saved"
req b1 | client -tls1_2 -sess_out "$T/sess12.pem" >"$T/t1.out" 2>&1 || true
grep -q "New, TLSv1.2" "$T/t1.out" || { cat "$T/t1.out"; fail "no TLS 1.2 handshake"; }
grep -q "TLS session ticket:" "$T/t1.out" || { cat "$T/t1.out"; fail "no TLS 1.2 session ticket"; }
grep -q "SIP/2.0 200 OK" "$T/t1.out" || fail "no 200 to OPTIONS over TLS 1.2"

stop_sipsec
start_sipsec "$D" --domain sip.test --sip-port "$SIP" --tls-port "$TLS"
req a2 | client -tls1_3 -sess_in "$T/sess.pem" -sess_out "$T/sess2.pem" >"$T/s2.out" 2>&1 || true
grep -q "Reused, TLSv1.3" "$T/s2.out" || { cat "$T/s2.out"; fail "session not resumed after restart"; }
grep -q "SIP/2.0 200 OK" "$T/s2.out" || fail "no 200 on the resumed session"
# A resumed TLS 1.3 session gets a fresh ticket (RFC 8446 C.4: one use each),
# and that one resumes too.
grep -q "New Session Ticket arrived" "$T/s2.out" || { cat "$T/s2.out"; fail "no new ticket after resumption"; }
cmp -s "$T/sess.pem" "$T/sess2.pem" && fail "the resumed session kept its old ticket"
req a2b | client -tls1_3 -sess_in "$T/sess2.pem" >"$T/s2b.out" 2>&1 || true
grep -q "Reused, TLSv1.3" "$T/s2b.out" || { cat "$T/s2b.out"; fail "the renewed ticket does not resume"; }
grep -q "SIP/2.0 200 OK" "$T/s2b.out" || fail "no 200 on the second resumed session"
# TLS 1.2: the ticket from before the restart resumes (abbreviated handshake,
# no key exchange), twice: a TLS 1.2 ticket may be used again (RFC 5077 3.3)
for i in 1 2; do
	req b2$i | client -tls1_2 -sess_in "$T/sess12.pem" >"$T/t2$i.out" 2>&1 || true
	grep -q "Reused, TLSv1.2" "$T/t2$i.out" || { cat "$T/t2$i.out"; fail "TLS 1.2 session not resumed after restart ($i)"; }
	grep -q "SIP/2.0 200 OK" "$T/t2$i.out" || fail "no 200 on the resumed TLS 1.2 session ($i)"
done

# TLS 1.1 is refused
if echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >"$T/s4.out" 2>&1; then
	grep -q "Cipher is (NONE)\|handshake failure\|no protocols available\|alert" "$T/s4.out" ||
		{ cat "$T/s4.out"; fail "TLS 1.1 was accepted"; }
fi
stop_sipsec
echo "tls resume ok"
