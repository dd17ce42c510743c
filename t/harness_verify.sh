#!/bin/sh
# harness_verify.sh - the two independent verifiers of t/lib/verify.sh
# against keys served by a loopback Knot: messages signed by OpenDKIM
# (through t/miltc, and through a private Postfix) and by dkimpy, RSA-2048
# and Ed25519, one or two signatures, pass in dkimpy and in OpenDKIM's
# verifier; after tampering with the body or a signed header, or with a
# selector not in DNS, both fail.
set -u

: "${top_builddir:=.}" "${top_srcdir:=.}"
PY=${PYTHON3:-/usr/bin/python3}
. "$top_srcdir/t/lib/verify.sh"
. "$top_srcdir/t/lib/postfix.sh"

for tool in knotd knotc kdig opendkim openssl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 && continue
	echo "skip: $tool not found"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
done
if ! "$PY" -c 'import dkim, dns.query' 2>/dev/null; then
	echo "skip: python3 dkim (python3-dkim) or dns (python3-dnspython) missing"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
fi

T=$(mktemp -d /tmp/kt-vfy.XXXXXX)
chmod 755 "$T"
DNSPORT=$(pf_free_port)
failures=0
cleanup() {
	pf_stop "$T/pf" 2>/dev/null
	vf_opendkim_stop "$T"
	vf_dns_stop "$T"
	[ $failures -eq 0 ] && rm -rf "$T" || echo "kept $T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
# both NAME FILE: both verifiers must pass
both() {
	vf_dkimpy "$T" "$2" && ok "$1: dkimpy pass" || fail "$1: dkimpy"
	vf_opendkim "$T" "$2" && ok "$1: opendkim pass" || fail "$1: opendkim"
}
# neither NAME FILE: both verifiers must fail
neither() {
	vf_dkimpy "$T" "$2" && fail "$1: dkimpy passed" || ok "$1: dkimpy fails"
	vf_opendkim "$T" "$2" && fail "$1: opendkim passed" ||
	    ok "$1: opendkim fails"
}

cat >"$T/m.eml" <<'EOF'
From: Alice <alice@example.com>
To: bob@sink.test
Subject:  a folded
	subject line
Date: Sun, 22 Nov 2026 21:00:00 +0000
Message-ID: <vfy1@example.com>

Hello Bob,

  this body has trailing spaces   
and an empty line at the end.

EOF

vf_keygen "$T" rsa1 rsa && vf_keygen "$T" ed1 ed25519 &&
    vf_keygen "$T" rsa2 rsa || { fail "keygen"; exit 1; }
vf_dns_init "$T" 127.0.0.1 "$DNSPORT" && vf_dns_zone "$T" example.com &&
    vf_dns_key "$T" example.com rsa1 rsa1 &&
    vf_dns_key "$T" example.com ed1 ed1 || { fail "zone"; exit 1; }
vf_dns_start "$T" || { fail "knot"; exit 1; }
ok "knot on 127.0.0.1:$DNSPORT"
# a record added while Knot runs is served at once
vf_dns_txt "$T" example.com late "hello" &&
    [ "$(kdig +short @127.0.0.1 -p "$DNSPORT" late.example.com TXT </dev/null)" = '"hello"' ] &&
    ok "record added at run time" || fail "record added at run time"
[ "$(kdig +short @127.0.0.1 -p "$DNSPORT" rsa1._domainkey.example.com TXT </dev/null |
    tr -d '" \n')" = "$(tr -d ' \n' <"$T/rsa1.txt")" ] &&
    ok "RSA record split and served whole" || fail "RSA record"

vf_opendkim_start "$T" || { fail "opendkim verifier"; exit 1; }
vf_opendkim_signer "$T" rsa "unix:$T/sign-rsa.sock" example.com rsa1 "$T/rsa1.pem" &&
vf_opendkim_signer "$T" ed "unix:$T/sign-ed.sock" example.com ed1 "$T/ed1.pem" ed25519-sha256 &&
vf_opendkim_signer "$T" unpub "unix:$T/sign-unpub.sock" example.com rsa2 "$T/rsa2.pem" ||
    { fail "opendkim signers"; exit 1; }

M="$top_builddir/t/miltc"
"$M" -s "unix:$T/sign-rsa.sock" -q -o "$T/o-rsa.eml" "$T/m.eml" &&
"$M" -s "unix:$T/sign-ed.sock" -q -o "$T/o-ed.eml" "$T/m.eml" &&
"$M" -s "unix:$T/sign-ed.sock" --style sendmail -q -o "$T/o-ed-sm.eml" "$T/m.eml" &&
"$M" -s "unix:$T/sign-ed.sock" -B random:9:50 -q -o "$T/o-ed-ch.eml" "$T/m.eml" &&
"$M" -s "unix:$T/sign-unpub.sock" -q -o "$T/o-unpub.eml" "$T/m.eml" ||
    fail "signing through miltc"
"$PY" "$top_srcdir/t/lib/dkimverify.py" --sign --key "$T/ed1.pem" \
    --domain example.com --selector ed1 "$T/m.eml" >"$T/p-ed.eml" &&
"$PY" "$top_srcdir/t/lib/dkimverify.py" --sign --key "$T/rsa1.pem" \
    --domain example.com --selector rsa1 "$T/m.eml" >"$T/p-rsa.eml" &&
"$PY" "$top_srcdir/t/lib/dkimverify.py" --sign --key "$T/ed1.pem" \
    --domain example.com --selector ed1 "$T/o-rsa.eml" >"$T/dual.eml" ||
    fail "signing with dkimpy"

both "opendkim rsa" "$T/o-rsa.eml"
both "opendkim ed25519" "$T/o-ed.eml"
both "opendkim ed25519, sendmail style" "$T/o-ed-sm.eml"
both "opendkim ed25519, random chunks" "$T/o-ed-ch.eml"
both "dkimpy rsa" "$T/p-rsa.eml"
both "dkimpy ed25519" "$T/p-ed.eml"
both "two signatures" "$T/dual.eml"
[ "$(vf_dkimpy "$T" "$T/dual.eml" | grep -c 'result=pass')" = 2 ] &&
    ok "dkimpy checked both signatures" || fail "dual: not two passes"

{ cat "$T/o-rsa.eml"; echo "one more line"; } >"$T/x-body.eml"
neither "body tampered (rsa)" "$T/x-body.eml"
sed 's/^Subject:  a folded/Subject:  A folded/' "$T/o-ed.eml" >"$T/x-subj.eml"
neither "subject tampered (ed25519)" "$T/x-subj.eml"
sed 's/^From: Alice/From: Mallory/' "$T/dual.eml" >"$T/x-dual.eml"
neither "from tampered (two signatures)" "$T/x-dual.eml"
neither "selector not in DNS" "$T/o-unpub.eml"
neither "unsigned message" "$T/m.eml"

# the whole chain through a private Postfix with OpenDKIM signing
if command -v postfix >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	chmod 666 "$T/sign-rsa.sock"
	PFPORT=$(pf_free_port)
	pf_init "$T/pf" 127.0.0.1 "$PFPORT" "unix:$T/sign-rsa.sock" &&
	    pf_start "$T/pf" || fail "postfix"
	for i in 1 2 3; do
		pf_send "$T/pf" alice@example.com "bob$i@sink.test" "$T/m.eml" \
		    >/dev/null || fail "send $i"
	done
	pf_wait "$T/pf" 3 || fail "delivery"
	for f in $(pf_messages "$T/pf"); do
		both "through postfix $(basename "$f" | cut -c1-20)" "$f"
	done
	pf_stop "$T/pf"
elif [ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ]; then
	fail "postfix part not run"
fi

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
exit 0
