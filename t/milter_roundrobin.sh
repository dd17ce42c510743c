#!/bin/sh
# milter_roundrobin - three active keys share the signing exactly: in
# sequence (one connection) the selectors cycle, and over 3,000 messages
# each signs 1,000, also with concurrent connections.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_roundrobin
kt_cli domain add example.com --algorithms rsa,ed25519 --active-keys 3
kt_key example.com rsa r1
kt_key example.com rsa r2
kt_key example.com rsa r3
kt_cli domain add ed.test --algorithms ed25519 --active-keys 3
kt_key ed.test ed25519 e1
kt_key ed.test ed25519 e2
kt_key ed.test ed25519 e3
kt_conf "LogLevel warning"
kt_start
kt_msg "$W/rsa.eml" "From: alice@example.com"
kt_msg "$W/ed.eml" "From: alice@ed.test"

# selectors FILE - "N SELECTOR" per signature, by message number
selectors() {
	grep "	insheader	0	DKIM-Signature	" "$1" |
	    sed 's/^\([0-9]*\)	.* s=\([^;]*\);.*/\1 \2/' | sort -n
}

# even FILE N - every selector exactly N times, three selectors
even() {
	selectors "$1" | awk '{ print $2 }' | sort | uniq -c >"$1.count"
	[ "$(wc -l <"$1.count")" = 3 ] || kt_fail "$1: $(cat "$1.count")"
	awk -v n="$2" '$1 != n { exit 1 }' "$1.count" ||
	    kt_fail "$1: uneven: $(tr '\n' ' ' <"$1.count")"
}

# in sequence: r1 r2 r3 r1 r2 r3 ... from wherever the rotation starts
kt_miltc -n 3000 -c 1 -k 50 --client 127.0.0.1 "$W/rsa.eml" >"$W/seq.txt" ||
    kt_fail "miltc (sequence)"
[ "$(kt_count "	continue$" "$W/seq.txt")" = 3000 ] || kt_fail "not all continue"
even "$W/seq.txt" 1000
selectors "$W/seq.txt" | awk '
	NR <= 3 { first[NR] = $2; if (NR == 3 && (first[1] == first[2] ||
	    first[2] == first[3] || first[1] == first[3])) exit 1; next }
	$2 != first[(NR - 1) % 3 + 1] { exit 1 }' ||
    kt_fail "rsa selectors do not cycle in sequence"
kt_ok "3,000 messages in sequence: 1,000 per selector, cycling"

# concurrently: 4 connections, still exactly even
kt_miltc -n 3000 -c 4 -k 25 --client 127.0.0.1 "$W/ed.eml" >"$W/conc.txt" ||
    kt_fail "miltc (concurrent)"
[ "$(kt_count "	continue$" "$W/conc.txt")" = 3000 ] || kt_fail "not all continue"
even "$W/conc.txt" 1000
kt_ok "3,000 messages over 4 connections: 1,000 per selector"

# a sample of each run verifies
mkdir -p "$W/out"
kt_miltc -n 6 -c 1 -O "$W/out" --client 127.0.0.1 "$W/rsa.eml" "$W/ed.eml" \
    >/dev/null || kt_fail "miltc (sample)"
kt_verify "$W"/out/*.eml
kt_ok "sample verifies"
kt_stop
exit 0
