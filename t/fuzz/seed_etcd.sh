#!/bin/sh
# seed_etcd.sh - the seed corpus of fuzz_etcd: real answers of etcd
#
#	t/fuzz/seed_etcd.sh FUZZ_ETCD KEYTURN [OUTDIR]
#
# One etcd member on loopback holds a fleet keystore written by the real
# CLI KEYTURN (keystore/keyturn) under the KEK of fuzz_keys.h: example.com
# with an active Ed25519 key, and the history of a removed domain. The
# harness FUZZ_ETCD (built by t/fuzz/run.sh) runs each operation list
# below against it in its recording mode (KT_FUZZ_ETCD_RECORD), and each
# recording becomes a seed in OUTDIR (default t/fuzz/corpus/etcd).

set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
FUZZ=${1:?usage: seed_etcd.sh FUZZ_ETCD KEYTURN [OUTDIR]}
KT=${2:?usage: seed_etcd.sh FUZZ_ETCD KEYTURN [OUTDIR]}
OUT=${3:-$here/corpus/etcd}
. "$top_srcdir/t/lib/etcd.sh"
etcd_available || { echo "seed_etcd.sh: etcd or etcdctl missing" >&2; exit 2; }
etcd_init
etcd_cluster 1
W=$KT_ETCD_DIR/w
mkdir -p "$W" "$OUT"

# the KEK of fuzz_keys.h: its 31 characters and a NUL
printf 'keyturn fuzz KEK, not a secret!\000' >"$W/kek"
chmod 600 "$W/kek"
{
	echo "KeyStore $W/ks"
	echo "FleetEndpoints $KT_ETCD_ENDPOINTS"
	echo "FleetKEK $W/kek"
	[ "$(id -u)" = 0 ] && echo "AllowRoot yes"
} >"$W/keyturn.conf"
kt() { "$KT" -c "$W/keyturn.conf" "$@" >>"$W/keyturn.log" 2>&1; }
kt init
kt domain add example.com --algorithms ed25519
kt key new example.com --algorithm ed25519 --selector s1
kt activate example.com s1 --force
kt domain add gone.test --algorithms ed25519
kt domain remove gone.test --force

# operation lists: CONFIG-BYTE OP... LABEL (fuzz_etcd.c says what they are)
while read -r line; do
	label=${line##* }
	bytes=
	for b in ${line% *}; do
		bytes="$bytes\\$(printf %o "$b")"
	done
	printf "$bytes" >"$W/in"
	KT_FUZZ_ETCD_RECORD=$OUT/$label KT_FUZZ_ETCD=$KT_ETCD_ENDPOINTS \
	    "$FUZZ" -close_fd_mask=3 "$W/in" >/dev/null 2>&1 ||
	    { echo "seed_etcd.sh: $label failed" >&2; exit 1; }
done <<EOF
0 10 12 sync
0 0 1 2 ranges
0 7 8 status-members
0 4 5 6 3 leases-txn
0 9 watch
4 0 auth-refused
0 11 1 format-create
EOF
echo "seed_etcd.sh: $(find "$OUT" -type f | wc -l) seeds in $OUT"
