#!/usr/bin/env bash
# Certificates (issue 7): `sipsec cert import` refuses each bad certificate
# with its one-line reason while the running server keeps serving the old one;
# a good chain is imported while baresip stays registered over TLS, and a new
# `openssl s_client` sees the new certificate and chain without a restart, on
# the SIP TLS port and on HTTPS (and still resumes a session from before);
# rollback restores the old one; renew
# gives a new key with the same names; a server renews a built-in certificate
# that expires within 30 days by itself, and `cert show` warns about a CA that
# expires within 90 days. Test certificates come from the openssl command line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/baresip.sh"

DOM=pbx.example.test
D=$T/data
SIP=$(free_port)
TLS=$(free_port)
HTTPS=$(free_port)
serve() {
	start_sipsec "$D" --domain "$DOM" --sip-port "$SIP" --tls-port "$TLS" --https-port "$HTTPS" \
		--digest-algorithms MD5
}
serve
"$SIPSEC" cert ca-export "$T/builtin-ca.pem" --data "$D" || fail "ca-export"

# ---- test certificates ----
C=$T/pki
mkdir -p "$C"
eckey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ext() { local f=$1; shift; printf '%s\n' "$@" >"$f"; }
ext "$C/ca.ext" "basicConstraints=critical,CA:TRUE" "keyUsage=critical,keyCertSign,cRLSign" \
	"subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid:always"
ext "$C/leaf.ext" "basicConstraints=critical,CA:FALSE" \
	"keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" \
	"subjectAltName=DNS:$DOM,IP:127.0.0.1"
# a second CA (a root) and an intermediate under it
eckey "$C/root.key"
openssl req -x509 -new -key "$C/root.key" -subj "/O=Test/CN=Test Root CA" -days 3650 -sha256 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out "$C/root.pem" || fail "root CA"
eckey "$C/int.key"
openssl req -new -key "$C/int.key" -subj "/O=Test/CN=Test Intermediate CA" -out "$C/int.csr"
openssl x509 -req -in "$C/int.csr" -CA "$C/root.pem" -CAkey "$C/root.key" -set_serial 0x1001 \
	-days 1800 -sha256 -extfile "$C/ca.ext" -out "$C/int.pem" 2>/dev/null || fail "intermediate"
# leaf NAME KEY EXTFILE [openssl x509 args]: $C/NAME.pem for $DOM, from the intermediate
leaf() {
	local n=$1 key=$2 extf=$3
	shift 3
	openssl req -new -key "$key" -subj "/O=Test/CN=$DOM" -out "$C/$n.csr"
	openssl x509 -req -in "$C/$n.csr" -CA "${CA_PEM:-$C/int.pem}" -CAkey "${CA_KEY:-$C/int.key}" \
		-set_serial "0x$(openssl rand -hex 8)" -days 400 -sha256 -extfile "$extf" \
		-out "$C/$n.pem" "$@" 2>/dev/null || fail "making $n.pem"
}
eckey "$C/good.key"
leaf good "$C/good.key" "$C/leaf.ext"
cat "$C/int.pem" "$C/root.pem" >"$C/chain.pem"
cat "$C/root.pem" "$C/int.pem" >"$C/reversed.pem"
cat "$C/good.key" "$C/good.pem" "$C/int.pem" "$C/root.pem" >"$C/all-in-one.pem"
eckey "$C/other.key" # a key of no certificate here
ext "$C/wild.ext" "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" \
	"subjectAltName=DNS:*.${DOM#*.}"
leaf wild "$C/good.key" "$C/wild.ext"
ext "$C/nosan.ext" "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" \
	"subjectAltName=DNS:other.${DOM#*.}"
leaf nosan "$C/good.key" "$C/nosan.ext" # CN is $DOM, the SAN is not
ext "$C/eku.ext" "basicConstraints=CA:FALSE" "extendedKeyUsage=clientAuth" "subjectAltName=DNS:$DOM"
leaf eku "$C/good.key" "$C/eku.ext"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$C/rsa1024.key" 2>/dev/null
leaf rsa1024 "$C/rsa1024.key" "$C/leaf.ext"
leaf sha1 "$C/good.key" "$C/leaf.ext" -sha1
# expired: `openssl x509 -days` cannot go back in time on OpenSSL 3.0;
# `openssl ca` takes explicit start and end dates
mkdir -p "$C/ca.d/new"
: >"$C/ca.d/index.txt"
echo 1000 >"$C/ca.d/serial"
cat >"$C/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
dir = $C/ca.d
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
organizationName = optional
EOF
openssl ca -batch -config "$C/ca.cnf" -cert "$C/int.pem" -keyfile "$C/int.key" \
	-in "$C/good.csr" -startdate 20200101000000Z -enddate 20210101000000Z \
	-extfile "$C/leaf.ext" -notext -out "$C/expired.pem" 2>/dev/null || fail "expired cert"

# ---- helpers ----
fp_file() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
# the certificate a new TLS connection to port $TLS (or $1) gets (with -showcerts
# output in $T/sc.out)
fp_served() {
	timeout 10 openssl s_client -connect "127.0.0.1:${1:-$TLS}" -servername "$DOM" -showcerts \
		</dev/null >"$T/sc.out" 2>&1 || true
	openssl x509 -in "$T/sc.out" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
# wait_served FP: poll new connections until they get FP (5 s at most)
wait_served() {
	local i got=
	for i in $(seq 1 50); do
		got=$(fp_served)
		[ "$got" = "$1" ] && return 0
		sleep 0.1
	done
	fail "the server still serves $got, expected $1"
}
check_regs() {
	"$SIPSEC" registrations --json --data "$D" >"$T/regs.json" || fail "registrations --json"
	"$BS_PY" -c "import json, sys
regs = json.load(open(sys.argv[1]))
$2" "$T/regs.json" || fail "$1: $(cat "$T/regs.json")"
}
# One OPTIONS then bytes that end the stream, so s_client gets the TLS 1.3
# ticket and exits by itself (as in t_tls_resume.sh).
req() {
	printf 'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bK%s\r\nFrom: <sip:t@%s>;tag=1\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\nEND\r\n\r\n' "$1" "$DOM" "$DOM" "$1"
}

FP0=$(fp_file "$D/certs/sip.pem")
[ "$(fp_served)" = "$FP0" ] || fail "the server does not serve certs/sip.pem"
cp "$D/certs/sip.pem" "$T/sip0.pem"

# a baresip agent registered over TLS before anything changes
printf 'bobpass1\n' | "$SIPSEC" user add bob --password-stdin --domain "$DOM" --data "$D" \
	>/dev/null || fail "user add"
baresip_start b bob bobpass1 "$DOM" "$TLS" "$T/builtin-ca.pem"
baresip_wait_registered b
check_regs "bob registered over TLS" "
r = [r for r in regs if r['aor'] == 'sip:bob@$DOM']
assert len(r) == 1 and r[0]['transport'] == 'tls' and r[0]['flow'] == 'open', r
open(sys.argv[1] + '.src', 'w').write(r[0]['source'])
"
BOB_SRC=$(cat "$T/regs.json.src")
# a TLS 1.3 session from before the reload
req s1 | timeout 20 openssl s_client -connect "127.0.0.1:$TLS" -servername "$DOM" -tls1_3 \
	-ign_eof -sess_out "$T/sess.pem" >"$T/s1.out" 2>&1 || true
[ -s "$T/sess.pem" ] || { cat "$T/s1.out"; fail "no session ticket"; }

# ---- each bad certificate is refused, with its reason, and nothing changes ----
# refuse WHAT REGEX IMPORT_ARGS...
refuse() {
	local what=$1 re=$2 rc=0
	shift 2
	"$SIPSEC" cert import --data "$D" "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ $rc -eq 1 ] || fail "$what: import exited $rc, expected 1 ($(cat "$T/err"))"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "$what: expected one line: $(cat "$T/err")"
	grep -Eq "^sipsec cert import: $re" "$T/err" || fail "$what: wrong reason: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "$what: printed $(cat "$T/out")"
	cmp -s "$D/certs/sip.pem" "$T/sip0.pem" || fail "$what: certs/sip.pem was changed"
	[ ! -e "$D/certs/sip.prev.pem" ] || fail "$what: a previous certificate was recorded"
}
refuse "mismatched key" "the private key does not match the certificate" \
	--cert "$C/good.pem" --key "$C/other.key" --chain "$C/chain.pem"
refuse "incomplete chain" "the chain is incomplete: the issuer of .*Test Intermediate CA.* is neither in the chain nor a trusted CA" \
	--cert "$C/good.pem" --key "$C/good.key"
refuse "missing intermediate" "the chain is incomplete: certificate 1 .* its issuer .*Test Intermediate CA.* is missing" \
	--cert "$C/good.pem" --key "$C/good.key" --chain "$C/root.pem"
refuse "chain out of order" "the chain is out of order: certificate 1 " \
	--cert "$C/good.pem" --key "$C/good.key" --chain "$C/reversed.pem"
refuse "expired" "the certificate .*CN=$DOM.* expired on 2021-01-01 00:00:00 UTC" \
	--cert "$C/expired.pem" --key "$C/good.key" --chain "$C/chain.pem"
refuse "wildcard" "the certificate is a wildcard certificate \(\*\.example\.test\); Polycom phones reject wildcard certificates - import one issued for $DOM" \
	--cert "$C/wild.pem" --key "$C/good.key" --chain "$C/chain.pem"
refuse "domain only in CN" "the SIP domain $DOM is not among the certificate's subjectAltNames \(DNS:other.example.test\); the CN alone is not enough" \
	--cert "$C/nosan.pem" --key "$C/good.key" --chain "$C/chain.pem"
refuse "RSA 1024" "the certificate .* has an RSA 1024-bit key, weaker than RSA 2048 or EC P-256" \
	--cert "$C/rsa1024.pem" --key "$C/rsa1024.key" --chain "$C/chain.pem"
refuse "SHA-1" "the certificate .* is signed with SHA1 \(ecdsa-with-SHA1\)" \
	--cert "$C/sha1.pem" --key "$C/good.key" --chain "$C/chain.pem"
refuse "no serverAuth" "the certificate's extendedKeyUsage lacks serverAuth" \
	--cert "$C/eku.pem" --key "$C/good.key" --chain "$C/chain.pem"
refuse "no key" "no private key given" --cert "$C/good.pem" --chain "$C/chain.pem"
refuse "not PEM" "$C/ca.cnf holds no PEM certificate or key" --cert "$C/ca.cnf" --key "$C/good.key"
# usage error: no --cert
rc=0
"$SIPSEC" cert import --data "$D" --key "$C/good.key" 2>"$T/err" || rc=$?
[ $rc -eq 2 ] || fail "import without --cert exited $rc, expected 2"
# the server kept serving the old certificate all along
[ "$(fp_served)" = "$FP0" ] || fail "the server changed its certificate after refused imports"

# ---- a good chain (one PEM: key, certificate, chain) while bob stays registered ----
"$SIPSEC" cert import --data "$D" --cert "$C/all-in-one.pem" >"$T/out" 2>"$T/err" ||
	fail "good import: $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "good import warned: $(cat "$T/err")"
grep -q "^imported .*CN=$DOM.*2 chain certificates" "$T/out" || fail "import said: $(cat "$T/out")"
[ "$(stat -c %a "$D/certs/sip.key")" = 600 ] || fail "sip.key mode $(stat -c %a "$D/certs/sip.key")"
[ "$(stat -c %a "$D/certs/sip.pem")" = 600 ] || fail "sip.pem mode $(stat -c %a "$D/certs/sip.pem")"
FP1=$(fp_file "$C/good.pem")
wait_served "$FP1"
grep -q "^ 1 s:O = Test, CN = Test Intermediate CA" "$T/sc.out" || { cat "$T/sc.out"; fail "no intermediate served"; }
grep -q "^ 2 s:O = Test, CN = Test Root CA" "$T/sc.out" || fail "no root served"
# HTTPS (provisioning) uses the same certificate and reload
[ "$(fp_served "$HTTPS")" = "$FP1" ] || fail "HTTPS does not serve the imported certificate"
timeout 10 openssl s_client -connect "127.0.0.1:$TLS" -servername "$DOM" -CAfile "$C/root.pem" \
	-verify_return_error -verify_hostname "$DOM" </dev/null >"$T/v.out" 2>&1 || true
grep -q "Verify return code: 0 (ok)" "$T/v.out" || { cat "$T/v.out"; fail "new chain does not verify"; }
# the session from before the reload resumes (ticket keys survive the reload)
req s2 | timeout 20 openssl s_client -connect "127.0.0.1:$TLS" -servername "$DOM" -tls1_3 \
	-ign_eof -sess_in "$T/sess.pem" >"$T/s2.out" 2>&1 || true
grep -q "Reused, TLSv1.3" "$T/s2.out" || { cat "$T/s2.out"; fail "no resumption after the reload"; }
# bob is still registered, on the same TLS connection
baresip_registered b || fail "baresip lost its registration"
check_regs "bob's connection survived the reload" "
r = [r for r in regs if r['aor'] == 'sip:bob@$DOM']
assert len(r) == 1 and r[0]['flow'] == 'open' and r[0]['source'] == '$BOB_SRC', r
"

# ---- cert show lists what is in use, with the checks ----
"$SIPSEC" cert show --json --data "$D" >"$T/show.json" || fail "cert show --json"
"$BS_PY" - "$T/show.json" "$FP1" "$FP0" "$DOM" <<'PY' || fail "cert show --json: $(cat "$T/show.json")"
import json, sys
j = json.load(open(sys.argv[1]))
fp1, fp0, dom = sys.argv[2:5]
assert j["domain"] == dom, j["domain"]
roles = [c["role"] for c in j["certificates"]]
assert roles == ["sip", "chain", "chain", "ca"], roles
sip = j["certificates"][0]
assert sip["sha256"] == fp1 and "DNS:" + dom in sip["sans"] and sip["key"] == "EC P-256", sip
assert 390 <= sip["days_left"] <= 400 and "Test Intermediate CA" in sip["issuer"], sip
assert j["certificates"][2]["self_signed"] and j["certificates"][2]["ca"], j["certificates"][2]
names = [c["name"] for c in j["checks"]]
assert names == ["key_match", "chain", "validity", "wildcard", "domain", "key_strength",
                 "signature", "server_auth", "expiry"], names
assert all(c["result"] == "pass" for c in j["checks"]), j["checks"]
assert j["previous"]["sha256"] == fp0, j["previous"]
PY
"$SIPSEC" cert show --data "$D" >"$T/show.txt" || fail "cert show"
grep -q "^Chain certificate 1" "$T/show.txt" && grep -q "^    domain        pass" "$T/show.txt" ||
	fail "cert show text: $(cat "$T/show.txt")"

# ---- rollback, and rollback of the rollback ----
"$SIPSEC" cert rollback --data "$D" >/dev/null || fail "rollback"
wait_served "$FP0"
"$SIPSEC" cert rollback --data "$D" >/dev/null || fail "second rollback"
wait_served "$FP1"
# renew refuses an imported certificate (only its CA can renew it)
rc=0
"$SIPSEC" cert renew --data "$D" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 1 ] && grep -q "was not issued by the built-in CA" "$T/err" ||
	fail "renew of an imported certificate: rc $rc, $(cat "$T/err")"
"$SIPSEC" cert rollback --data "$D" >/dev/null || fail "third rollback"
wait_served "$FP0"

# ---- renew: same names, new key ----
"$SIPSEC" cert renew --data "$D" >"$T/out" 2>"$T/err" || fail "renew: $(cat "$T/err")"
FP2=$(fp_file "$D/certs/sip.pem")
[ "$FP2" != "$FP0" ] || fail "renew did not change the certificate"
san() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2; }
pub() { openssl x509 -in "$1" -noout -pubkey; }
[ "$(san "$D/certs/sip.pem")" = "$(san "$T/sip0.pem")" ] || fail "renew changed the names"
[ "$(openssl x509 -in "$D/certs/sip.pem" -noout -subject)" = "$(openssl x509 -in "$T/sip0.pem" -noout -subject)" ] ||
	fail "renew changed the subject"
[ "$(pub "$D/certs/sip.pem")" != "$(pub "$T/sip0.pem")" ] || fail "renew kept the key"
wait_served "$FP2"
baresip_registered b || fail "baresip lost its registration after renew"
check_regs "bob's connection survived three reloads" "
r = [r for r in regs if r['aor'] == 'sip:bob@$DOM']
assert len(r) == 1 and r[0]['flow'] == 'open' and r[0]['source'] == '$BOB_SRC', r
"
baresip_stop b

# ---- expiring soon: a warning, and the server renews it by itself ----
CA_PEM=$D/certs/ca.pem CA_KEY=$D/certs/ca.key leaf soon "$C/good.key" "$C/leaf.ext" -days 10
"$SIPSEC" cert import --data "$D" --cert "$C/soon.pem" --key "$C/good.key" >"$T/out" \
	2>"$T/err" || fail "import of a certificate expiring in 10 days: $(cat "$T/err")"
grep -Eq "^sipsec cert import: warning: the certificate expires in (9|10) days" "$T/err" ||
	fail "no expiry warning: $(cat "$T/err")"
stop_sipsec
serve
FP3=$(fp_file "$D/certs/sip.pem")
[ "$FP3" != "$(fp_file "$C/soon.pem")" ] || fail "the server did not renew a certificate expiring in 10 days"
[ "$(fp_served)" = "$FP3" ] || fail "the renewed certificate is not served"
openssl x509 -in "$D/certs/sip.pem" -noout -checkend $((800 * 86400)) >/dev/null ||
	fail "the renewed certificate is not valid for 825 days"
openssl verify -CAfile "$D/certs/ca.pem" "$D/certs/sip.pem" >/dev/null || fail "renewed from another CA"

# ---- a CA that expires within 90 days is warned about ----
D2=$T/data2
mkdir -p "$D2/certs"
chmod 700 "$D2" "$D2/certs"
eckey "$D2/certs/ca.key"
openssl req -x509 -new -key "$D2/certs/ca.key" -subj "/CN=sipsec CA short" -days 60 -sha256 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out "$D2/certs/ca.pem" || fail "short CA"
CA_PEM=$D2/certs/ca.pem CA_KEY=$D2/certs/ca.key leaf short "$C/good.key" "$C/leaf.ext" -days 50
cp "$C/short.pem" "$D2/certs/sip.pem"
cp "$C/good.key" "$D2/certs/sip.key"
"$SIPSEC" cert show --data "$D2" --domain "$DOM" >"$T/show2.txt" || fail "cert show (short CA)"
grep -Eq "WARNING: +the CA expires in (59|60) days" "$T/show2.txt" || fail "no CA warning: $(cat "$T/show2.txt")"
"$SIPSEC" cert show --json --data "$D2" --domain "$DOM" |
	"$BS_PY" -c "import json,sys; j=json.load(sys.stdin); c=j['certificates'][-1]; assert c['role']=='ca' and c['expiry_warning'], c" ||
	fail "cert show --json: no CA expiry warning"
stop_sipsec

# ---- outgoing TLS trust: a --tls-ca-bundle that holds no certificate is refused ----
rc=0
timeout 60 "$SIPSEC" serve --data "$T/data3" --listen 127.0.0.1 --sip-port 0 --tls-port 0 \
	--https-port 0 --tls-ca-bundle "$C/ca.cnf" >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 1 ] || fail "serve with a bad --tls-ca-bundle exited $rc"
grep -q "^sipsec serve: cannot load the CA bundle $C/ca.cnf: no PEM certificate in it" "$T/err" ||
	fail "bad --tls-ca-bundle: $(cat "$T/err")"
echo "cert import ok"
