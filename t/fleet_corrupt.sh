#!/bin/sh
# fleet_corrupt.sh - a domain whose files in etcd cannot be used keeps
# its last good state in every mirror; the other domains go on
#
# One etcd member, two keyturnd (Rotation no). a.test and b.test sign
# with keys made active through the CLI. Then, one at a time, a.test's
# files in etcd are damaged the ways a disk, an operator or an attacker
# with etcd access could:
#   - its private key replaced by bytes keyturn never sealed;
#   - its key replaced by b.test's sealed key, a valid blob in the wrong
#     place (the etcd key name is the AAD: it does not open there);
#   - its state replaced by a line that does not parse.
# Each time both daemons log the domain and the file, the mirror keeps
# a.test as it was (it still signs, verified with dkimpy), and a change
# to b.test made meanwhile (a second active key) reaches both daemons.
# The CLI says how many domains it could not use. Finally a.test's
# files are put back and a.test follows etcd again.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/etcd.sh"
. "$top_srcdir/t/lib/fleet.sh"
command -v curl >/dev/null || kt_skip "curl missing"

FL_HANG=60
fl_init fleet_corrupt
etcd_cluster 1 || kt_fail "cannot start etcd"
EP=$(etcd_url m1)

# gw_get KEY - the value of KEY, base64 (etcd's JSON gateway)
gw_get() {
	curl -sf "$EP/v3/kv/range" -d "{\"key\":\"$(printf %s "$1" | base64 -w0)\"}" |
	    "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["value"])'
}
# gw_put KEY B64VALUE
gw_put() {
	curl -sf "$EP/v3/kv/put" -d "{\"key\":\"$(printf %s "$1" | base64 -w0)\",\"value\":\"$2\"}" >/dev/null ||
	    kt_fail "cannot put $1"
}

fl_kek
for i in 1 2; do
	fl_conf $i "LogLevel info"
	fl_cli $i init
done
fl_cli 1 domain add a.test --algorithms ed25519
fl_cli 1 key new a.test --algorithm ed25519 --selector a1
fl_cli 1 activate a.test a1 --force
fl_cli 1 domain add b.test --algorithms ed25519 --active-keys 2
fl_cli 1 key new b.test --algorithm ed25519 --selector b1
fl_cli 1 activate b.test b1 --force
for i in 1 2; do
	fl_start $i
done
kt_msg "$W/a.eml" "From: alice@a.test"
kt_msg "$W/b.eml" "From: bob@b.test"
KS=$W/ks1

# signs D I - daemon I signs a message of D; its selectors in $W/sel
signs() {
	"$MILTC" -s "unix:$S/s$2" -t 30 -o "$W/out.$1.$2.eml" \
	    --client 127.0.0.1 "$W/$1.eml" > /dev/null ||
	    kt_fail "miltc to daemon $2"
	kt_verify "$W/out.$1.$2.eml"
	sed -n 's/^DKIM-Signature:.* s=\([^;]*\);.*/\1/p' "$W/out.$1.$2.eml"
}
for i in 1 2; do
	signs a $i | grep -qx a1 || kt_fail "daemon $i does not sign a.test"
	signs b $i | grep -qx b1 || kt_fail "daemon $i does not sign b.test"
done
kt_ok "both daemons sign a.test and b.test"

AKEY=${FL_PREFIX}d/a.test/keys/a1.pem
GOOD_KEY=$(gw_get "$AKEY") || kt_fail "a.test's key is not in etcd"
GOOD_STATE=$(gw_get "${FL_PREFIX}d/a.test/state") || kt_fail "no state"
BKEY_BLOB=$(gw_get "${FL_PREFIX}d/b.test/keys/b1.pem") || kt_fail "no b1"

# a b.test change that must reach both daemons despite a.test
nb=1
b_changes() {
	nb=$((nb + 1))
	fl_cli 1 key new b.test --algorithm ed25519 --selector "b$nb"
	fl_cli 1 activate b.test "b$nb" --force
	fl_cli 1 retire b.test "b$((nb - 1))" --force
	for i in 1 2; do
		_end=$(($(date +%s) + FL_HANG))
		until signs b $i | grep -qx "b$nb"; do
			[ "$(date +%s)" -lt $_end ] ||
			    kt_fail "daemon $i never signed with b$nb"
		done
	done
}
# refused WHAT PATTERN - both daemons logged a.test refused for PATTERN;
# a.test still signs with a1 on both; b.test changes
refused() {
	logged() {
		grep -q "fleet: a.test: $2.*the mirror keeps the domain" \
		    "$W/k1.log" &&
		grep -q "fleet: a.test: $2.*the mirror keeps the domain" \
		    "$W/k2.log"
	}
	fl_until "$1: not refused" logged "$1" "$2"
	for i in 1 2; do
		signs a $i | grep -qx a1 ||
		    kt_fail "$1: daemon $i no longer signs a.test with a1"
	done
	b_changes
	kt_ok "$1: refused by both daemons ($(grep -o "fleet: a.test: $2[^:]*:[^:]*" "$W/k1.log" | tail -1)); a.test signs as before; b.test moved on to b$nb"
	: > "$W/k1.log"
	: > "$W/k2.log"
}

# bytes keyturn never sealed
gw_put "$AKEY" "$(printf 'not a sealed key' | base64 -w0)"
refused "garbage key" "key a1.pem: kek: not encrypted by keyturn"
"$KEYTURN" -c "$W/k1.conf" list > "$W/cli.out" 2>&1 ||
    kt_fail "keyturn list with a damaged domain: $(cat "$W/cli.out")"
grep -q "1 domains in etcd cannot be used" "$W/cli.out" ||
    kt_fail "the CLI does not say a domain cannot be used: $(cat "$W/cli.out")"
grep -q "^a.test .* a1 .* active" "$W/cli.out" ||
    kt_fail "the CLI lost a.test: $(cat "$W/cli.out")"

# a valid blob in the wrong place
gw_put "$AKEY" "$BKEY_BLOB"
refused "b.test's key under a.test" "key a1.pem: kek: damaged or encrypted under another FleetKEK"

# a state that does not parse
gw_put "$AKEY" "$GOOD_KEY"
gw_put "${FL_PREFIX}d/a.test/state" "$(printf 'keyturn-state 1\nnot a key line\n' | base64 -w0)"
refused "a damaged state" "etcd a.test/state"

# put back: a.test follows etcd again
gw_put "${FL_PREFIX}d/a.test/state" "$GOOD_STATE"
fl_cli 1 key new a.test --algorithm ed25519 --selector a2
fl_cli 1 activate a.test a2 --force
fl_cli 1 retire a.test a1 --force
for i in 1 2; do
	_end=$(($(date +%s) + FL_HANG))
	until signs a $i | grep -qx a2; do
		[ "$(date +%s)" -lt $_end ] || kt_fail "daemon $i never signed with a2"
	done
done
kt_ok "a.test repaired in etcd: both daemons follow it again (a2)"
for i in 1 2; do
	fl_stop $i
done
exit 0
