#!/bin/sh
# seed_dns.sh - the seed corpus of fuzz_dns: real answers of Knot
#
#	t/fuzz/seed_dns.sh FUZZ_DNS [OUTDIR]
#
# Three Knot servers on loopback: 127.0.0.3 for the zone test, which
# delegates example.test and prov.test to 127.0.0.1 and 127.0.0.2 (both
# serve both zones). The harness FUZZ_DNS (built by t/fuzz/run.sh) runs
# each query of the list below against them in its recording mode
# (KT_FUZZ_DNS_RECORD), once asking 127.0.0.3 first (referrals) and once
# 127.0.0.1, and each recording becomes a seed in OUTDIR (default
# t/fuzz/corpus/dns). The records carry the test keys of fuzz_keys.h.

set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
FUZZ=${1:?usage: seed_dns.sh FUZZ_DNS [OUTDIR]}
OUT=${2:-$here/corpus/dns}
. "$top_srcdir/t/lib/knot.sh"
knot_available ||
    { echo "seed_dns.sh: knotd, knotc or kdig missing" >&2; exit 2; }
knot_init
W=$KNOT_DIR/w
mkdir -p "$W" "$OUT"

# key NAME - a PEM of fuzz_keys.h
key() {
	sed -n "/^static const char $1\\[\\]/,/;\$/p" "$here/fuzz_keys.h" |
	    sed -n 's/^ *"\(.*\)\\n"[;]*$/\1/p'
}
key fuzz_ed >"$W/ed.pem"
key fuzz_rsa >"$W/rsa.pem"
ED=$(openssl pkey -in "$W/ed.pem" -pubout -outform DER | tail -c 32 |
    base64 -w0)
RSA=$(openssl pkey -in "$W/rsa.pem" -pubout -outform DER | base64 -w0)
NOTE=$(printf '%0200d' 0 | tr 0 n)

cat >"$W/example.test.zone" <<EOF
\$ORIGIN example.test.
\$TTL 300
@	SOA ns1 hostmaster 1 3600 600 86400 60
@	NS ns1
@	NS ns2
ns1	A 127.0.0.1
ns2	A 127.0.0.2
kt1._domainkey	TXT "v=DKIM1; k=ed25519; p=$ED"
kt2._domainkey	TXT "v=DKIM1; k=rsa; p=$RSA"
kt3._domainkey	CNAME kt3.example.test.prov.test.
revoked._domainkey	TXT "v=DKIM1; p="
chain1._domainkey	CNAME chain2._domainkey
chain2._domainkey	CNAME kt1._domainkey
two._domainkey	TXT "v=DKIM1; k=ed25519; p=$ED"
two._domainkey	TXT "v=DKIM1; p="
long._domainkey	TXT $(knot_txt \
    "v=DKIM1; k=rsa; h=sha256; s=email; n=$NOTE; p=$RSA")
sub.kt1._domainkey	TXT "v=DKIM1; k=ed25519; t=s; p=$ED"
EOF
cat >"$W/prov.test.zone" <<EOF
\$ORIGIN prov.test.
\$TTL 600
@	SOA ns1 hostmaster 1 3600 600 86400 30
@	NS ns1
ns1	A 127.0.0.2
kt3.example.test	TXT "v=DKIM1; k=ed25519; p=$ED"
EOF
cat >"$W/test.zone" <<EOF
\$ORIGIN test.
\$TTL 3600
@	SOA ns hostmaster 1 3600 600 86400 3600
@	NS ns
ns	A 127.0.0.3
example	NS ns1.example
example	NS ns2.example
ns1.example	A 127.0.0.1
ns2.example	A 127.0.0.2
prov	NS ns1.prov
ns1.prov	A 127.0.0.2
EOF
for s in a:127.0.0.1 b:127.0.0.2; do
	knot_server "${s%%:*}" "${s#*:}"
	knot_zone "${s%%:*}" example.test "$W/example.test.zone"
	knot_zone "${s%%:*}" prov.test "$W/prov.test.zone"
	knot_start "${s%%:*}"
done
knot_server t 127.0.0.3
knot_zone t test "$W/test.zone"
knot_start t

# the queries: MODE-BYTE NAME-BYTE LABEL (fuzz_dns.c says what they mean)
n=0
while read -r mode name label; do
	for srv in 127.0.0.3 127.0.0.1; do
		printf "\\$(printf %o "$mode")\\$(printf %o "$name")" >"$W/in"
		KT_FUZZ_DNS_RECORD=$OUT/$label-$srv \
		    KT_FUZZ_DNS_SERVER=$srv:$KNOT_PORT \
		    "$FUZZ" -close_fd_mask=3 "$W/in" >/dev/null 2>&1 ||
		    { echo "seed_dns.sh: $label at $srv failed" >&2; exit 1; }
		n=$((n + 1))
	done
done <<EOF
4 0 ed-kt1
0 1 rsa-kt2
4 2 ed-kt3-cname
4 3 revoked
4 4 chain
4 5 two-records
4 6 nxdomain
0 7 long-txt
4 8 under-a-key
5 0 no-follow
6 2 cname-mode
7 6 any-key-nxdomain
12 0 extra-resolver
EOF
echo "seed_dns.sh: $n seeds in $OUT"
