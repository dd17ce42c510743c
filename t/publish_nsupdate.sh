#!/bin/sh
# publish_nsupdate.sh - contrib/publish/keyturn-nsupdate against a Knot
# primary that accepts RFC 2136 updates signed with a TSIG key, with a
# secondary following it by NOTIFY and IXFR.
#
# The hook is run the way keyturn runs it (rot_hook: /bin/sh -c COMMAND
# with the KEYTURN_* environment); t/rotate_cycle.sh drives it from real
# rotation passes.
#
# Shows: publish puts an RSA-2048 record (two strings) with the TTL asked
# for, and the secondary serves it too; publish again replaces it (one TXT
# record, never two); revoke leaves "v=DKIM1; p="; withdraw removes it;
# a wrong TSIG secret, a name outside the zone, an unknown action and a
# value with a newline (an attempt to add nsupdate commands) fail with a
# non-zero status and change nothing.
#
# Nothing is timed: the hook's -w and kdig's timeout only bound servers
# that answer in milliseconds (a refusal is an answer too), and the
# secondary is waited for by its serial.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
hook=$top_srcdir/contrib/publish/keyturn-nsupdate

skip() {
	echo "SKIP: $*"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
}

. "$top_srcdir/t/lib/knot.sh"
knot_available || skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
command -v nsupdate >/dev/null || skip "nsupdate missing (Debian: dnsutils)"
command -v openssl >/dev/null || skip "openssl missing"

knot_init || exit 1
T=$KNOT_DIR
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# pub.test on 127.0.0.61 (updates signed with TSIG key "keyturn") and
# 127.0.0.62; $KNOT_TSIG_FILE is the key file nsupdate -k reads
knot_pair pub.test 127.0.0.61 127.0.0.62 60 keyturn ||
    { echo "cannot start knot"; exit 1; }
sed "s|$KNOT_TSIG_SECRET|$(openssl rand -base64 32)|" "$KNOT_TSIG_FILE" > "$T/wrong.key"
cmp -s "$KNOT_TSIG_FILE" "$T/wrong.key" && { echo "wrong.key is right"; exit 1; }

# strings VALUE - KEYTURN_VALUE_STRINGS as rot_hook builds it
strings() {
	printf '%s' "$1" | fold -w 255 | sed 's/.*/"&"/' | tr '\n' ' ' |
	    sed 's/ $//'
}
# hook ACTION SELECTOR VALUE [HOOK OPTIONS...] - run it the way keyturn does
hook() {
	_a=$1; _s=$2; _v=$3; shift 3
	env KEYTURN_ACTION="$_a" KEYTURN_DOMAIN=pub.test \
	    KEYTURN_SELECTOR="$_s" KEYTURN_NAME="$_s._domainkey.pub.test" \
	    KEYTURN_VALUE="$_v" KEYTURN_VALUE_STRINGS="$(strings "$_v")" \
	    /bin/sh -c "$hook -s 127.0.0.61 -p $KNOT_PORT -w 30 $*" \
	    > "$T/hook.out" 2>&1
}
# txt SERVER SELECTOR - what SERVER answers, the strings joined; "-" for
# no record; one line per record
txt() {
	kdig @"$1" -p "$KNOT_PORT" +norec +short +timeout=10 TXT \
	    "$2._domainkey.pub.test" | sed 's/" "//g; s/"//g'
}
ttl() {
	kdig @"$1" -p "$KNOT_PORT" +norec +noall +answer +timeout=10 TXT \
	    "$2._domainkey.pub.test" | awk '{ print $2; exit }'
}
sync_sec() {
	knot_wait_serial sec pub.test "$(knot_serial prim pub.test)" ||
	    fail "the secondary did not follow the primary"
}

P=$(openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
    openssl pkey -pubout -outform DER 2>/dev/null | base64 | tr -d '\n')
REC="v=DKIM1; k=rsa; p=$P"
[ ${#REC} -gt 255 ] || { echo "the RSA record should need two strings"; exit 1; }

# --- publish: the record, at both servers, with the TTL asked for
hook publish s1 "$REC" -k "$KNOT_TSIG_FILE" -l 120 ||
    { cat "$T/hook.out"; fail "publish failed"; }
sync_sec
for srv in 127.0.0.61 127.0.0.62; do
	[ "$(txt $srv s1)" = "$REC" ] || fail "publish: $srv serves '$(txt $srv s1)'"
	[ "$(ttl $srv s1)" = 120 ] || fail "publish: TTL $(ttl $srv s1) at $srv"
done

# --- publish again with another key: replaced, not added
P2=$(openssl genpkey -algorithm ed25519 2>/dev/null |
    openssl pkey -pubout -outform DER 2>/dev/null | tail -c 32 | base64)
REC2="v=DKIM1; k=ed25519; p=$P2"
hook publish s1 "$REC2" -k "$KNOT_TSIG_FILE" ||
    { cat "$T/hook.out"; fail "second publish failed"; }
sync_sec
[ "$(txt 127.0.0.62 s1)" = "$REC2" ] || fail "republish: '$(txt 127.0.0.62 s1)'"
[ "$(ttl 127.0.0.61 s1)" = 300 ] || fail "default TTL $(ttl 127.0.0.61 s1)"

# --- refused: nothing changes
serial=$(knot_serial prim pub.test) || fail "the primary does not answer"
hook publish s1 "$REC" -k "$T/wrong.key" && fail "a wrong TSIG key was accepted"
grep -q "failed (nsupdate exit" "$T/hook.out" || { cat "$T/hook.out"; fail "no failure message"; }
grep -q "NOTAUTH" "$T/hook.out" || { cat "$T/hook.out"; fail "not refused by the server"; }
hook publish s1 "$REC" && fail "no -k accepted"
env KEYTURN_ACTION=publish KEYTURN_DOMAIN=pub.test KEYTURN_NAME=s1._domainkey.other.test \
    KEYTURN_VALUE_STRINGS="\"$REC2\"" "$hook" -s 127.0.0.61 -p "$KNOT_PORT" \
    -k "$KNOT_TSIG_FILE" > "$T/hook.out" 2>&1 && fail "a name outside the zone was accepted"
grep -q "not in zone pub.test" "$T/hook.out" || fail "no zone message: $(cat "$T/hook.out")"
hook frobnicate s1 "$REC" -k "$KNOT_TSIG_FILE" && fail "an unknown action was accepted"
env KEYTURN_ACTION=publish KEYTURN_DOMAIN=pub.test KEYTURN_NAME=s1._domainkey.pub.test \
    KEYTURN_VALUE_STRINGS="\"v=DKIM1; p=x\"
update add evil._domainkey.pub.test. 60 TXT \"x\"" "$hook" -s 127.0.0.61 \
    -p "$KNOT_PORT" -k "$KNOT_TSIG_FILE" > "$T/hook.out" 2>&1 &&
    fail "a value with a newline was accepted"
grep -q "several lines\|never has" "$T/hook.out" || fail "no message: $(cat "$T/hook.out")"
hook publish 'x y' "$REC" -k "$KNOT_TSIG_FILE" && fail "a name with a space was accepted"
[ "$(knot_serial prim pub.test)" = "$serial" ] || fail "a refused update changed the zone"
[ -z "$(txt 127.0.0.61 evil)" ] || fail "injected record"
[ "$(txt 127.0.0.61 s1)" = "$REC2" ] || fail "a refused update changed s1"

# --- revoke: "v=DKIM1; p=", whatever the value passed
hook revoke s1 "v=DKIM1; p=" -k "$KNOT_TSIG_FILE" -l 60 ||
    { cat "$T/hook.out"; fail "revoke failed"; }
sync_sec
for srv in 127.0.0.61 127.0.0.62; do
	[ "$(txt $srv s1)" = "v=DKIM1; p=" ] || fail "revoke: $srv serves '$(txt $srv s1)'"
done

# --- withdraw: no TXT record left
hook withdraw s1 "" -k "$KNOT_TSIG_FILE" || { cat "$T/hook.out"; fail "withdraw failed"; }
sync_sec
[ -z "$(txt 127.0.0.62 s1)" ] || fail "withdraw: '$(txt 127.0.0.62 s1)' still served"

# --- -z: keys in a zone above KEYTURN_DOMAIN's name
env KEYTURN_ACTION=publish KEYTURN_DOMAIN=mail.pub.test \
    KEYTURN_NAME=s2._domainkey.mail.pub.test \
    KEYTURN_VALUE_STRINGS="\"$REC2\"" "$hook" -s 127.0.0.61 -p "$KNOT_PORT" \
    -k "$KNOT_TSIG_FILE" -z pub.test > "$T/hook.out" 2>&1 ||
    { cat "$T/hook.out"; fail "publish with -z failed"; }
v=$(kdig @127.0.0.61 -p "$KNOT_PORT" +norec +short +timeout=10 TXT s2._domainkey.mail.pub.test | tr -d '"')
[ "$v" = "$REC2" ] || fail "-z: '$v'"

# --- a delegated domain's slot: KEYTURN_NAME is the target in the
# provider's zone (KEYTURN_ZONE), whatever KEYTURN_DOMAIN and -z say
env KEYTURN_ACTION=publish KEYTURN_DOMAIN=cust.example \
    KEYTURN_SELECTOR=kt1 KEYTURN_NAME=kt1.cust.example.pub.test \
    KEYTURN_ZONE=pub.test KEYTURN_CNAME=kt1._domainkey.cust.example \
    KEYTURN_SLOT=1 KEYTURN_KEY_ID=77aa01c3d4e5f607 \
    KEYTURN_VALUE_STRINGS="\"$REC2\"" "$hook" -s 127.0.0.61 -p "$KNOT_PORT" \
    -k "$KNOT_TSIG_FILE" -z cust.example > "$T/hook.out" 2>&1 ||
    { cat "$T/hook.out"; fail "publish to KEYTURN_ZONE failed"; }
v=$(kdig @127.0.0.61 -p "$KNOT_PORT" +norec +short +timeout=10 TXT kt1.cust.example.pub.test | tr -d '"')
[ "$v" = "$REC2" ] || fail "KEYTURN_ZONE: '$v'"
# -Z: delegate-to (dkim.pub.test) below the zone's apex (pub.test)
env KEYTURN_ACTION=publish KEYTURN_DOMAIN=cust.example \
    KEYTURN_SELECTOR=kt2 KEYTURN_NAME=kt2.cust.example.dkim.pub.test \
    KEYTURN_ZONE=dkim.pub.test KEYTURN_SLOT=2 \
    KEYTURN_VALUE_STRINGS="\"$REC2\"" "$hook" -s 127.0.0.61 -p "$KNOT_PORT" \
    -k "$KNOT_TSIG_FILE" -Z pub.test > "$T/hook.out" 2>&1 ||
    { cat "$T/hook.out"; fail "publish with -Z failed"; }
v=$(kdig @127.0.0.61 -p "$KNOT_PORT" +norec +short +timeout=10 TXT kt2.cust.example.dkim.pub.test | tr -d '"')
[ "$v" = "$REC2" ] || fail "-Z: '$v'"
# -Z applies to delegated records only: a plain one still uses -z/DOMAIN
env KEYTURN_ACTION=publish KEYTURN_DOMAIN=pub.test KEYTURN_SELECTOR=s3 \
    KEYTURN_NAME=s3._domainkey.pub.test \
    KEYTURN_VALUE_STRINGS="\"$REC2\"" "$hook" -s 127.0.0.61 -p "$KNOT_PORT" \
    -k "$KNOT_TSIG_FILE" -Z nosuch.test > "$T/hook.out" 2>&1 ||
    { cat "$T/hook.out"; fail "a plain publish with -Z failed"; }
# a target outside KEYTURN_ZONE is refused, nothing sent
serial=$(knot_serial prim pub.test) || fail "the primary does not answer"
env KEYTURN_ACTION=publish KEYTURN_DOMAIN=cust.example \
    KEYTURN_SELECTOR=kt3 KEYTURN_NAME=kt3._domainkey.cust.example \
    KEYTURN_ZONE=pub.test KEYTURN_SLOT=3 \
    KEYTURN_VALUE_STRINGS="\"$REC2\"" "$hook" -s 127.0.0.61 -p "$KNOT_PORT" \
    -k "$KNOT_TSIG_FILE" > "$T/hook.out" 2>&1 &&
    fail "a target outside KEYTURN_ZONE was accepted"
grep -q "not in zone pub.test" "$T/hook.out" || fail "no zone message: $(cat "$T/hook.out")"
[ "$(knot_serial prim pub.test)" = "$serial" ] || fail "a refused delegated update changed the zone"
# revoke at the target: "v=DKIM1; p="
env KEYTURN_ACTION=revoke KEYTURN_DOMAIN=cust.example \
    KEYTURN_SELECTOR=kt1 KEYTURN_NAME=kt1.cust.example.pub.test \
    KEYTURN_ZONE=pub.test KEYTURN_SLOT=1 KEYTURN_VALUE="v=DKIM1; p=" \
    KEYTURN_VALUE_STRINGS='"v=DKIM1; p="' "$hook" -s 127.0.0.61 \
    -p "$KNOT_PORT" -k "$KNOT_TSIG_FILE" > "$T/hook.out" 2>&1 ||
    { cat "$T/hook.out"; fail "revoke at the target failed"; }
sync_sec
v=$(kdig @127.0.0.62 -p "$KNOT_PORT" +norec +short +timeout=10 TXT kt1.cust.example.pub.test | tr -d '"')
[ "$v" = "v=DKIM1; p=" ] || fail "revoke at the target: secondary serves '$v'"

if [ $fails -gt 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "keyturn-nsupdate: publish, replace, revoke, withdraw, refusals and delegated targets (-Z) ok"
exit 0
