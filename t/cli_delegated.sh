#!/bin/sh
# cli_delegated - delegated domains through the CLI, no DNS: domain add and
# set with the slot check's numbers, keyturn dns, key ids in list and
# history, a slot's selector used again only retire-after after its key
# stopped signing, and audit naming the key a slot held at t= (two keys
# that held the same selector at different times)
. "$top_srcdir/t/keystore_lib.sh"

K="$T/ks"
kt() { "$KT" -K "$K" "$@"; }
json() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); $1"; }
SIGN="$top_builddir/t/ktsign"
[ -x "$SIGN" ] || skip "t/ktsign not built (make check builds it)"

run 0 kt init

# --- domain add: the numbers of the slot check
run 1 kt domain add two.test --delegate-to prov.test --slots 2 \
    --rotate-after 10s --retire-after 8s --dns-hold 5s
has "$T/err" "8s + 5s = 13s"
has "$T/err" "10s × 1 = 10s"
has "$T/err" "or use --slots 3"
run 1 kt domain add two.test --delegate-to prov.test --slots 2 \
    --rotate-after 13s --retire-after 8s --dns-hold 5s
run 0 kt domain add two.test --delegate-to prov.test --slots 2 \
    --rotate-after 14s --retire-after 8s --dns-hold 5s --algorithms ed25519
has "$T/out" "delegated to prov.test with 2 slots"
has "$T/out" "kt1._domainkey.two.test. IN CNAME kt1.two.test.prov.test."
has "$T/out" "kt2._domainkey.two.test. IN CNAME kt2.two.test.prov.test."
run 1 kt domain set two.test --rotate-after 12s; has "$T/err" "= 13s"
run 0 kt domain set two.test --slots 3 --dns-hold 1s
run 0 kt domain list --json
json 'x=[e for e in d if e["domain"]=="two.test"][0]; assert x["slots"]==3 and x["delegate_to"]=="prov.test" and x["dns_hold"]==1, x' <"$T/out" ||
    fail "domain list --json"
run 0 kt domain list; has "$T/out" "DELEGATE-TO"

# --- refusals: usage errors exit 2, the keystore's exit 1
run 2 kt domain add x.test --slots 2
run 2 kt domain add x.test --delegate-to prov.test --active-keys 2
run 2 kt domain add x.test --delegate-to prov.test --algorithms rsa,ed25519
run 2 kt domain add x.test --delegate-to prov.test --slots 4
run 1 kt domain add x.test --delegate-to prov.test --slot-selector kt
has "$T/err" "%n"
run 1 kt domain add x.test --delegate-to prov.test --slot-target '%s.other.test'
has "$T/err" "outside the delegate-to zone"
run 2 kt domain set two.test --slot-selector 'a%n'
run 0 kt domain add plain.test
run 1 kt domain set plain.test --slots 2; has "$T/err" "not delegated"

# --- dns: the CNAMEs once, the slots' TXT records under the provider zone
run 0 kt domain add cust.test --delegate-to Prov.Test. --slots 2 \
    --algorithms ed25519 --rotate-after 10s --retire-after 3s --dns-hold 0s
run 0 kt dns cust.test
has "$T/out" "; cust.test: delegated to prov.test, 2 slots"
has "$T/out" "kt2._domainkey.cust.test. IN CNAME kt2.cust.test.prov.test."
has "$T/out" "; slot 1 kt1 empty"
run 0 kt key new cust.test --slot 1
kid1=$(sed -n 's/^; slot 1 pending key //p' "$T/out")
[ ${#kid1} = 16 ] || fail "key new --slot: key id \"$kid1\""
run 0 kt dns cust.test --provider
has "$T/out" "; slot 1 kt1 pending key $kid1"
has "$T/out" 'kt1.cust.test.prov.test. IN TXT "v=DKIM1; k=ed25519; p='
grep -q CNAME "$T/out" && fail "dns --provider has CNAMEs"
run 0 kt dns cust.test --customer
grep -q TXT "$T/out" && fail "dns --customer has TXT records"
run 0 kt dns cust.test --json
json 'r=[e for e in d if e["type"]=="TXT"]; assert len(r)==1 and r[0]["key_id"]=="'"$kid1"'" and r[0]["zone"]=="prov.test" and r[0]["slot"]==1, r; assert len([e for e in d if e["type"]=="CNAME"])==2' <"$T/out" ||
    fail "dns --json"
run 2 kt dns cust.test --customer --provider

# --- keys of a delegated domain live in slots
run 1 kt key new cust.test --slot 1; has "$T/err" "slot"
run 2 kt key new cust.test --slot 1 --selector foo
run 1 kt key new cust.test --selector foo; has "$T/err" "delegated"
run 1 kt key new plain.test --slot 1; has "$T/err" "not delegated"
openssl genpkey -algorithm ed25519 -out "$T/imp.pem" 2>/dev/null
run 1 kt key import cust.test kt2 "$T/imp.pem"; has "$T/err" "delegated"

# --- list and history show key ids
run 0 kt list cust.test; has "$T/out" "KEY"; has "$T/out" "$kid1"
run 0 kt list cust.test --json
json 'assert d[0]["key_id"]=="'"$kid1"'" and d[0]["slot"]==1, d' <"$T/out" ||
    fail "list --json"

# --- slot 1's key signs; slot 2 takes over; slot 1 is reused only
# retire-after (3s) after its key stopped signing
printf 'From: a@cust.test\r\nTo: b@x.test\r\nSubject: one\r\n\r\nbody\r\n' \
    >"$T/msg"
run 0 kt activate cust.test kt1 --force
t1=$(date +%s)
"$SIGN" -k "$K/cust.test/keys/kt1.$kid1.pem" -d cust.test -s kt1 -t "$t1" \
    "$T/msg" >"$T/m1.eml" 2>/dev/null || fail "ktsign kt1 key 1"
run 0 kt key new cust.test --slot 2
kid2=$(sed -n 's/^; slot 2 pending key //p' "$T/out")
run 0 kt retire cust.test kt1 --force
run 0 kt activate cust.test kt2 --force
run 0 kt revoke cust.test kt1
run 1 kt key new cust.test --slot 1; has "$T/err" "retire-after"
sleep 4
run 0 kt key new cust.test --slot 1
kid3=$(sed -n 's/^; slot 1 pending key //p' "$T/out")
[ ${#kid3} = 16 ] && [ "$kid3" != "$kid1" ] || fail "slot 1 key $kid3"
run 0 kt retire cust.test kt2 --force
run 0 kt activate cust.test kt1 --force
t3=$(date +%s)
"$SIGN" -k "$K/cust.test/keys/kt1.$kid3.pem" -d cust.test -s kt1 -t "$t3" \
    "$T/msg" >"$T/m3.eml" 2>/dev/null || fail "ktsign kt1 key 3"
[ -e "$K/cust.test/keys/kt1.$kid1.pem" ] && fail "revoked key file kept"

run 0 kt history cust.test kt1
has "$T/out" "kt1   $kid1"; has "$T/out" "kt1   $kid3"
run 0 kt history cust.test --json
json 'k=[e["key"] for e in d if e["selector"]=="kt1" and e["from"]=="-"]; assert k==["'"$kid1"'","'"$kid3"'"], k' <"$T/out" ||
    fail "history --json key"
run 0 kt history cust.test "$kid2"; has "$T/out" "kt2"
run 0 kt pubkey cust.test "$kid1"; has "$T/out" "BEGIN PUBLIC KEY"

# --- audit: each message names the key kt1 held at its t=
run 0 kt audit "$T/m1.eml"
has "$T/out" "allowed: kt1 held key $kid1 (slot 1)"
has "$T/out" "signature verified"
run 0 kt audit "$T/m3.eml"
has "$T/out" "allowed: kt1 held key $kid3 (slot 1), active at"
run 0 kt --json audit "$T/m3.eml"
json 'assert d[0]["key_id"]=="'"$kid3"'" and d[0]["verified"] is True and d[0]["verdict"]=="allowed", d' <"$T/out" ||
    fail "audit --json"
# the first key's signature with the later t=: the later key does not verify it
sed "s/t=$t1;/t=$t3;/" "$T/m1.eml" >"$T/m1b.eml"
run 1 kt audit "$T/m1b.eml"
has "$T/out" "NOT allowed: the signature does not verify with key $kid3"
# an altered body fails with the right key too
sed 's/^body/bodY/' "$T/m3.eml" >"$T/m3b.eml"
run 1 kt audit "$T/m3b.eml"; has "$T/out" "does not verify with key $kid3"
# before slot 1 held any key
sed "s/t=$t1;/t=1000000000;/" "$T/m1.eml" >"$T/m1c.eml"
run 1 kt audit "$T/m1c.eml"; has "$T/out" "kt1 held no key of cust.test"

# --- a plain domain: --verify checks the signature with its key
run 0 kt domain add plain2.test --algorithms ed25519
run 0 kt key new plain2.test
psel=$(head -n1 "$T/out")
run 0 kt activate plain2.test "$psel" --force
"$SIGN" -k "$K/plain2.test/keys/$psel.pem" -d plain2.test -s "$psel" \
    -t "$(date +%s)" "$T/msg" >"$T/p.eml" 2>/dev/null || fail "ktsign plain"
run 0 kt audit "$T/p.eml"; has "$T/out" "allowed: $psel was active"
run 0 kt audit --verify "$T/p.eml"; has "$T/out" "signature verified"
sed 's/^body/bodY/' "$T/p.eml" >"$T/pb.eml"
run 0 kt audit "$T/pb.eml"	# history only, as without --verify always
run 1 kt audit --verify "$T/pb.eml"; has "$T/out" "does not verify"

echo ok
