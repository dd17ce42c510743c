#!/bin/sh
# rotate_dns.sh - the propagation check against real Knot servers
#
# Topology (all on loopback, one port, five knotd and one silent socket):
#
#   127.0.0.10  "parent": the test. zone, used as the Resolver; delegates
#               example.test and provider.test (with glue) and silent.test
#   127.0.0.11  ns1.example.test (also ::1): example.test, silent.test
#   127.0.0.12  ns2.example.test: example.test, silent.test
#   127.0.0.13  ns3.example.test: a UDP socket that never answers, third
#               NS of silent.test
#   127.0.0.21  ns1.provider.test: provider.test (CNAME targets)
#   127.0.0.22  ns2.provider.test: provider.test
#
# The zone cut, the NS sets and every address come from real referrals
# and real NS/A/AAAA records. TTLs and SOA minimum are 2 seconds, so the
# TTL hold is 2 seconds.
#
# Nothing is timed: every assertion is on what the probe printed. Its
# query timeout (TMO) only decides when a server that answers in
# milliseconds would count as silent on a stalled machine, so it is
# large; a pass count with -u only bounds a hang (the probe stops at the
# first ready pass).
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
PYTHON3=${PYTHON3:-python3}
probe=$top_builddir/t/rotate_probe

skip() {
	echo "SKIP: $*"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
}

. "$top_srcdir/t/lib/knot.sh"
knot_available || skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
command -v openssl >/dev/null || skip "openssl missing"
[ -x "$probe" ] || skip "$probe not built"

knot_init || exit 1
T=$KNOT_DIR
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# --- keys ---------------------------------------------------------------

# edkey FILE - a new Ed25519 key; prints the raw public key in base64
edkey() {
	openssl genpkey -algorithm ed25519 -out "$1" 2>/dev/null &&
	    openssl pkey -in "$1" -pubout -outform DER 2>/dev/null |
	    tail -c 32 | base64 | tr -d '\n'
}

# rsakey FILE BITS - a new RSA key; prints its SubjectPublicKeyInfo
rsakey() {
	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:"$2" \
	    -out "$1" 2>/dev/null &&
	    openssl pkey -in "$1" -pubout -outform DER 2>/dev/null |
	    base64 | tr -d '\n'
}

KA=$(edkey "$T/a.pem") && KB=$(edkey "$T/b.pem") &&
    KR=$(rsakey "$T/r.pem" 2048) || { echo "cannot make keys"; exit 1; }

# --- zones --------------------------------------------------------------

soa() {
	echo "\$TTL 2"
	echo "@ SOA $1 host.invalid. 1 60 60 600 2"
}

{
	soa ns.test.
	echo "@ NS ns"
	echo "ns A 127.0.0.10"
	echo "example NS ns1.example"
	echo "example NS ns2.example"
	echo "ns1.example A 127.0.0.11"
	echo "ns1.example AAAA ::1"
	echo "ns2.example A 127.0.0.12"
	echo "provider NS ns1.provider"
	echo "provider NS ns2.provider"
	echo "ns1.provider A 127.0.0.21"
	echo "ns2.provider A 127.0.0.22"
	echo "silent NS ns1.example"
	echo "silent NS ns2.example"
	echo "silent NS ns3.example"
} > "$T/test.zone"
{
	soa ns1.example.test.
	echo "@ NS ns1"
	echo "@ NS ns2"
	echo "ns1 A 127.0.0.11"
	echo "ns1 AAAA ::1"
	echo "ns2 A 127.0.0.12"
	echo "ns3 A 127.0.0.13"
	echo "cn._domainkey CNAME cn.keys.provider.test."
} > "$T/example.zone"
{
	soa ns1.example.test.
	echo "@ NS ns1.example.test."
	echo "@ NS ns2.example.test."
	echo "@ NS ns3.example.test."
} > "$T/silent.zone"
{
	soa ns1.provider.test.
	echo "@ NS ns1"
	echo "@ NS ns2"
	echo "ns1 A 127.0.0.21"
	echo "ns2 A 127.0.0.22"
} > "$T/provider.zone"

knot_server parent 127.0.0.10
knot_zone parent test "$T/test.zone"
knot_server ns1 127.0.0.11 ::1
knot_zone ns1 example.test "$T/example.zone"
knot_zone ns1 silent.test "$T/silent.zone"
knot_server ns2 127.0.0.12
knot_zone ns2 example.test "$T/example.zone"
knot_zone ns2 silent.test "$T/silent.zone"
knot_server p1 127.0.0.21
knot_zone p1 provider.test "$T/provider.zone"
knot_server p2 127.0.0.22
knot_zone p2 provider.test "$T/provider.zone"
for s in parent ns1 ns2 p1 p2; do
	knot_start $s || { echo "cannot start knot $s"; exit 1; }
done

"$PYTHON3" "$top_srcdir/t/lib/silent_udp.py" 127.0.0.13 "$KNOT_PORT" \
    > "$T/silent.out" 2>&1 &
silent_pid=$!
trap 'kill $silent_pid 2>/dev/null; knot_stop_all
    [ -n "${KNOT_KEEP:-}" ] || rm -rf "$KNOT_DIR"' EXIT
# it says "listening" once bound; KNOT_HANG seconds only catch one that
# never binds
end=$(($(date +%s) + KNOT_HANG))
until grep -q listening "$T/silent.out"; do
	kill -0 $silent_pid 2>/dev/null && [ "$(date +%s)" -lt $end ] ||
	    { echo "silent server down: $(cat "$T/silent.out")"; exit 1; }
	sleep 0.1
done

# --- helpers ------------------------------------------------------------

R=127.0.0.10:$KNOT_PORT
TMO=5000	# ms, one try

# probe OUT ALG KEY NAME [ARGS...] - run the probe, keep its output
probe() {
	_lbl=$1; _alg=$2; _key=$3; _name=$4; shift 4
	"$probe" -r "$R" -p "$KNOT_PORT" -t $TMO -T 1 -a "$_alg" -k "$_key" \
	    "$@" "$_name" > "$T/$_lbl" 2>&1
	sed "s/^/  [$_lbl] /" "$T/$_lbl"
}

# expect OUT PATTERN WHAT - the probe output has a line matching PATTERN
expect() {
	grep -Eq "$2" "$T/$1" || fail "$3 (no /$2/ in $1)"
}

# expect_not OUT PATTERN WHAT
expect_not() {
	grep -Eq "$2" "$T/$1" && fail "$3 (/$2/ in $1)"
}

rec() {
	knot_txt "v=DKIM1; k=$1; p=$2"
}

S1=s1._domainkey.example.test

# --- 1. published on one server only: not confirmed ---------------------
echo "== key on ns1 only"
knot_set ns1 example.test s1._domainkey 2 TXT $(rec ed25519 "$KA")
probe one ed25519 "$KA" $S1 -n 4 -i 700
expect one "^auth example.test ns1.example.test 127.0.0.11:$KNOT_PORT $S1 match" \
    "ns1 (IPv4) serves the key"
expect one "^auth example.test ns1.example.test \[::1\]:$KNOT_PORT $S1 match" \
    "ns1 (IPv6, from its AAAA) serves the key"
expect one "^auth example.test ns2.example.test 127.0.0.12:$KNOT_PORT $S1 nxdomain" \
    "ns2 has no record yet"
expect one "^verdict absent published=0" "verdict is absent"
expect_not one "action=ready" "a key on one server of two became ready"
[ "$(grep -c '^auth ' "$T/one")" -eq 12 ] ||
    fail "expected 3 addresses x 4 passes"

# --- 2. on both: confirmed only after the TTL hold ----------------------
echo "== key on ns1 and ns2"
knot_set ns2 example.test s1._domainkey 2 TXT $(rec ed25519 "$KA")
probe both ed25519 "$KA" $S1 -n 60 -i 250 -u
expect both "^verdict published published=1 revoked=0 ttl=2 neg=2 hold=2" \
    "published everywhere, hold = max(TTL 2, SOA negative 2)"
expect both "^pass 1 .*dns=published action=none" \
    "first all-agree pass must not confirm"
expect both "action=ready" "confirmed after the hold"
# a lower bound: the hold is honoured (a slower machine only adds time)
ready_at=$(sed -n 's/^pass .* elapsed=\([0-9.]*\) .*action=ready.*/\1/p' "$T/both")
awk -v t="${ready_at:-0}" 'BEGIN { exit !(t >= 1.0) }' ||
    fail "ready after ${ready_at:-?}s, before the 2s hold could pass"

# --- 3. a server with another key: alarm, not confirmed -----------------
echo "== ns2 serves another key"
knot_set ns2 example.test s1._domainkey 2 TXT $(rec ed25519 "$KB")
probe other ed25519 "$KA" $S1 -n 3 -i 700
expect other "^auth example.test ns2.example.test 127.0.0.12:$KNOT_PORT $S1 mismatch .*another key" \
    "ns2 reported as serving another key"
expect other "^verdict mismatch" "verdict is mismatch"
expect other "dns=mismatch action=alarm" "the policy raises the alarm"
expect_not other "action=ready" "confirmed despite another key"
# an extra resolver that disagrees vetoes too (ns2 answers it directly)
knot_set ns2 example.test s1._domainkey 2 TXT $(rec ed25519 "$KA")
probe extra ed25519 "$KA" $S1 -e "127.0.0.12:$KNOT_PORT" -e "[::1]:$KNOT_PORT"
expect extra "^resolver - 127.0.0.12:$KNOT_PORT 127.0.0.12:$KNOT_PORT $S1 match" \
    "extra resolver asked and agrees"
expect extra "^resolver - \[::1\]:$KNOT_PORT \[::1\]:$KNOT_PORT $S1 match" \
    "extra IPv6 resolver asked and agrees"
expect extra "^verdict published" "all agree with the extra resolvers"

# --- 4. a silent server: timeout, not confirmed -------------------------
echo "== silent third nameserver"
S2=s2._domainkey.silent.test
knot_set ns1 silent.test s2._domainkey 2 TXT $(rec ed25519 "$KA")
knot_set ns2 silent.test s2._domainkey 2 TXT $(rec ed25519 "$KA")
# every pass waits TMO on ns3: the second begins past the 2 s hold, and
# still nothing is confirmed
probe silent ed25519 "$KA" $S2 -n 2 -i 500
expect silent "^auth silent.test ns3.example.test 127.0.0.13:$KNOT_PORT $S2 timeout" \
    "ns3 times out"
expect silent "^auth silent.test ns2.example.test 127.0.0.12:$KNOT_PORT $S2 match" \
    "ns2 of silent.test serves the key"
expect silent "^verdict partial published=0" "verdict is partial"
expect_not silent "action=(ready|alarm)" "a timeout confirmed or alarmed"

# --- 5. CNAME-delegated selector, confirmed at the target's servers -----
echo "== CNAME to provider.test"
CN=cn._domainkey.example.test
knot_set p1 provider.test cn.keys 2 TXT $(rec rsa "$KR")
probe cname1 rsa "$KR" $CN -n 3 -i 700
expect cname1 "^auth example.test ns1.example.test 127.0.0.11:$KNOT_PORT $CN cname" \
    "ns1 answers the CNAME"
expect cname1 "^auth provider.test ns1.provider.test 127.0.0.21:$KNOT_PORT cn.keys.provider.test match" \
    "the target's first server has the key"
expect cname1 "^auth provider.test ns2.provider.test 127.0.0.22:$KNOT_PORT cn.keys.provider.test nxdomain" \
    "the target's second server does not"
expect_not cname1 "action=ready" "confirmed with a target server lagging"
knot_set p2 provider.test cn.keys 2 TXT $(rec rsa "$KR")
probe cname2 rsa "$KR" $CN -n 60 -i 250 -u
expect cname2 "^auth provider.test ns2.provider.test 127.0.0.22:$KNOT_PORT cn.keys.provider.test match" \
    "the target's second server has it now"
expect cname2 "^verdict published" "CNAME chain published"
expect cname2 "action=ready" "CNAME-delegated selector confirmed"

# --- 6. a large record: TCP after truncation, strings joined ------------
echo "== record larger than the UDP payload"
note=$(head -c 1400 /dev/zero | tr '\0' 'n')
knot_set ns1 example.test big._domainkey 2 TXT $(knot_txt "v=DKIM1; k=rsa; n=$note; p=$KR")
knot_set ns2 example.test big._domainkey 2 TXT $(knot_txt "v=DKIM1; k=rsa; n=$note; p=$KR")
probe big rsa "$KR" big._domainkey.example.test
expect big "^auth example.test ns2.example.test 127.0.0.12:$KNOT_PORT big._domainkey.example.test match ttl=2 neg=0 tcp=1" \
    "truncated answer retried over TCP and matched"
expect big "^verdict published" "large record published"

# --- 7. revocation: p= empty (or no record) everywhere ------------------
echo "== revocation"
knot_set ns1 example.test s1._domainkey 2 TXT $(rec ed25519 "")
probe rev1 ed25519 "$KA" $S1
expect rev1 "^auth example.test ns1.example.test 127.0.0.11:$KNOT_PORT $S1 empty" \
    "ns1 serves the revoked record"
expect rev1 "^verdict absent published=0 revoked=0" \
    "not revoked while ns2 still serves the key"
knot_unset ns2 example.test s1._domainkey TXT
probe rev2 ed25519 "$KA" $S1
expect rev2 "^auth example.test ns2.example.test 127.0.0.12:$KNOT_PORT $S1 nxdomain ttl=0 neg=2" \
    "ns2 has no record, negative TTL from its SOA"
expect rev2 "^verdict revoked published=0 revoked=1" "revocation confirmed"

# --- 8. RFC 2136 update at a primary, secondary follows by NOTIFY ------
echo "== dynamic update, primary and secondary"
SECRET=$(openssl rand -base64 32)
{
	soa ns1.dyn.test.
	echo "@ NS ns1"
	echo "@ NS ns2"
	echo "ns1 A 127.0.0.31"
	echo "ns2 A 127.0.0.32"
} > "$T/dyn.zone"
knot_server prim 127.0.0.31
knot_key prim upd "$SECRET"
knot_zone prim dyn.test "$T/dyn.zone" update=upd notify=127.0.0.32
knot_server sec 127.0.0.32
knot_secondary sec dyn.test 127.0.0.31
{ knot_start prim && knot_start sec; } || fail "primary/secondary start"
knotc_ parent zone-begin test >/dev/null
knotc_ parent zone-set test dyn 2 NS ns1.dyn.test. >/dev/null
knotc_ parent zone-set test dyn 2 NS ns2.dyn.test. >/dev/null
knotc_ parent zone-set test ns1.dyn 2 A 127.0.0.31 >/dev/null
knotc_ parent zone-set test ns2.dyn 2 A 127.0.0.32 >/dev/null
knotc_ parent zone-commit test >/dev/null
serial=$(knot_serial prim dyn.test) || fail "the primary does not answer"
knsupdate -t 30 > "$T/upd.out" 2>&1 <<EOF
server 127.0.0.31 $KNOT_PORT
zone dyn.test
key hmac-sha256:upd $SECRET
update add d1._domainkey.dyn.test. 2 TXT $(rec ed25519 "$KA")
send
EOF
[ $? -eq 0 ] || { cat "$T/upd.out"; fail "signed update refused"; }
knot_wait_serial sec dyn.test $((serial + 1)) ||
    fail "secondary did not follow the primary (NOTIFY/IXFR)"
probe dyn ed25519 "$KA" d1._domainkey.dyn.test -n 60 -i 250 -u
expect dyn "^auth dyn.test ns2.dyn.test 127.0.0.32:$KNOT_PORT d1._domainkey.dyn.test match" \
    "the secondary serves the updated record"
expect dyn "action=ready" "update confirmed at primary and secondary"
# an update without the key is refused (an answer that says so: -t only
# catches a server that never answers)
knsupdate -t 30 > "$T/upd2.out" 2>&1 <<EOF
server 127.0.0.31 $KNOT_PORT
zone dyn.test
update add d2._domainkey.dyn.test. 2 TXT "v=DKIM1; p="
send
EOF
[ $? -ne 0 ] || fail "unsigned update accepted"
grep -Eq "status: (NOTAUTH|REFUSED)" "$T/upd2.out" ||
    fail "unsigned update not refused: $(cat "$T/upd2.out")"

# --- 9. no zone cut ------------------------------------------------------
echo "== name outside every zone"
probe nocut rsa "$KR" s._domainkey.nowhere.invalid
expect nocut "^verdict unknown published=0" "no zone, no verdict"

if [ $fails -gt 0 ]; then
	echo "$fails failure(s); knot logs in $KNOT_DIR (KNOT_KEEP=1 keeps them)"
	exit 1
fi
echo "all DNS propagation checks passed"
exit 0
