#!/bin/sh
# rotate_dnsfault.sh - keyturn check against a nameserver that answers badly
#
# Topology (all on loopback, one port):
#
#   127.0.0.74  Knot "parent": the test. zone, the Resolver; delegates,
#               with glue, fault.test to ns1 + ns2 and all.test to ns0 + ns1
#   127.0.0.75  Knot: ns1.fault.test and ns1.all.test, both zones, each
#               with the key record of its domain
#   127.0.0.76  t/dnsfault.py: ns2.fault.test, the same zone; the question
#               keyturn check asks it (s1._domainkey.fault.test TXT) gets
#               the fault of the moment, every other question the truth
#   127.0.0.77  t/dnsfault.py -a: ns0.all.test, first in the referral;
#               every question gets the fault: the zone cut, the NS set
#               and the address lookups as well as the key record
#
# For each fault mode (t/dnsfault.py lists them) `keyturn check` runs as
# an operator would, with DNSTimeout 1s, and must: end by itself, not by
# a signal; print a verdict that is not "published" (the good Knot next
# to the faulty server serves the right key, so anything but a refusal of
# the bad answer shows as "published"); give the faulty address's line
# with the status and the reason expected of that fault; and the faulty
# server must have been asked. Mode "correct", the right answer from the
# same server, must reach "published", so the harness can confirm a key.
#
# The time of each check is printed and bounded, and that bound only
# catches a hang: it is three times the longest a check may legitimately
# take (one query to the faulty server: DNSTimeout over UDP, then again
# over TCP after a truncation; with -a, the check's own budget of ten
# DNSTimeouts plus that last query) and two seconds to start the process.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
PYTHON3=${PYTHON3:-python3}
KT=$top_builddir/keystore/keyturn

skip() {
	echo "SKIP: $*"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
}

. "$top_srcdir/t/lib/knot.sh"
knot_available || skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
command -v "$PYTHON3" >/dev/null || skip "$PYTHON3 missing"
[ -x "$KT" ] || skip "$KT not built"

knot_init || exit 1
T=$KNOT_DIR
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
die() {
	echo "FAIL: $*"
	exit 1
}

TMO=1				# DNSTimeout, seconds
BOUND=$((3 * 2 * TMO + 2))	# one faulty query, see above
BOUND_ALL=$((3 * 12 * TMO + 2))	# every query may be faulty

# --- the keystore and its records ----------------------------------------

cat > "$T/keyturn.conf" <<C
KeyStore $T/ks
Resolver 127.0.0.74:$KNOT_PORT
DNSPort $KNOT_PORT
DNSTimeout ${TMO}s
C
kt() {
	"$KT" -c "$T/keyturn.conf" "$@"
}
kt init >/dev/null || die "keyturn init"
for d in fault.test all.test; do
	kt domain add $d --algorithms ed25519 --active-keys 1 >/dev/null &&
	    kt key new $d --algorithm ed25519 --selector s1 >/dev/null ||
	    die "keyturn domain add / key new $d"
done
# rec DOMAIN - the TXT value keyturn dns prints for s1
rec() {
	kt dns "$1" | sed -n "s/^s1\._domainkey\.$1\. //p"
}
RF=$(rec fault.test) && [ -n "$RF" ] || die "no record for fault.test"
RA=$(rec all.test) && [ -n "$RA" ] || die "no record for all.test"

# --- the servers ----------------------------------------------------------

soa() {
	echo "\$TTL 1"
	echo "@ SOA ns1.$1. host.invalid. 1 60 60 600 1"
}
{
	soa test
	echo "@ NS ns"
	echo "ns A 127.0.0.74"
	echo "fault NS ns1.fault"
	echo "fault NS ns2.fault"
	echo "ns1.fault A 127.0.0.75"
	echo "ns2.fault A 127.0.0.76"
	echo "all NS ns0.all"
	echo "all NS ns1.all"
	echo "ns0.all A 127.0.0.77"
	echo "ns1.all A 127.0.0.75"
} > "$T/test.zone"
{
	soa fault.test
	echo "@ NS ns1"
	echo "@ NS ns2"
	echo "ns1 A 127.0.0.75"
	echo "ns2 A 127.0.0.76"
	echo "s1._domainkey TXT $(knot_txt "$RF")"
} > "$T/fault.zone"
{
	soa all.test
	echo "@ NS ns0"
	echo "@ NS ns1"
	echo "ns0 A 127.0.0.77"
	echo "ns1 A 127.0.0.75"
	echo "s1._domainkey TXT $(knot_txt "$RA")"
} > "$T/all.zone"

knot_server parent 127.0.0.74
knot_zone parent test "$T/test.zone"
knot_server good 127.0.0.75
knot_zone good fault.test "$T/fault.zone"
knot_zone good all.test "$T/all.zone"
for s in parent good; do
	knot_start $s || die "cannot start knot $s"
done

echo correct > "$T/mode"
"$PYTHON3" "$top_srcdir/t/dnsfault.py" 127.0.0.76 "$KNOT_PORT" "$T/mode" \
    fault.test s1._domainkey.fault.test "$RF" \
    ns1.fault.test=127.0.0.75 ns2.fault.test=127.0.0.76 \
    > "$T/fault.log" 2>&1 &
fpid=$!
"$PYTHON3" "$top_srcdir/t/dnsfault.py" -a 127.0.0.77 "$KNOT_PORT" "$T/mode" \
    all.test s1._domainkey.all.test "$RA" \
    ns0.all.test=127.0.0.77 ns1.all.test=127.0.0.75 \
    > "$T/all.log" 2>&1 &
apid=$!
trap 'kill $fpid $apid 2>/dev/null; knot_stop_all
    [ -n "${KNOT_KEEP:-}" ] || rm -rf "$KNOT_DIR"' EXIT
# each says "listening" once bound; KNOT_HANG only catches one that never
# binds
end=$(($(date +%s) + KNOT_HANG))
until grep -q listening "$T/fault.log" && grep -q listening "$T/all.log"; do
	kill -0 $fpid 2>/dev/null && kill -0 $apid 2>/dev/null &&
	    [ "$(date +%s)" -lt $end ] ||
	    die "fault server down: $(cat "$T/fault.log" "$T/all.log")"
	sleep 0.1
done

# --- one check per mode -------------------------------------------------

# asked LOG PATTERN - how many queries the fault server logged that match
asked() {
	grep -Ec "^query $2" "$1"
}

# check DOMAIN MODE STATUS VERDICT DETAIL - keyturn check of DOMAIN's s1
# with the fault server in MODE: its address's line says STATUS with a
# reason matching DETAIL, the good server's says $GOOD, the verdict is
# VERDICT, never $YES unless MODE is $CONTROL, and the check ends by
# itself within the bound
GOOD=match YES=published CONTROL=correct
check() {
	_d=$1; _m=$2; _st=$3; _v=$4; _why=$5
	case $_d in
	fault.test) _log=$T/fault.log; _ns=ns2.fault.test;
	    _a=127.0.0.76; _b=$BOUND ;;
	*) _log=$T/all.log; _ns=ns0.all.test; _a=127.0.0.77; _b=$BOUND_ALL ;;
	esac
	_o=$T/out.$_d.$(echo "$_m" | tr ':' '_')
	echo "$_m" > "$T/mode.new" && mv "$T/mode.new" "$T/mode"
	_q0=$(asked "$_log" "(udp|tcp) s1._domainkey.$_d 16 ")
	_t0=$(date +%s.%N)
	kt check "$_d" s1 > "$_o" 2>&1
	_rc=$?
	_t1=$(date +%s.%N)
	_s=$(awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.2f", b - a }')
	_q1=$(asked "$_log" "(udp|tcp) s1._domainkey.$_d 16 ")
	_line=$(grep "^auth $_d $_ns $_a:$KNOT_PORT s1._domainkey.$_d " "$_o")
	_got=$(echo "$_line" | awk '{ print $6 }')
	_ver=$(sed -n 's/^verdict \([a-z]*\) .*/\1/p' "$_o")
	printf '  %-9s %-17s %-9s %-9s rc=%-3s %5ss  %s\n' "$_d" "$_m" \
	    "${_got:--}" "${_ver:--}" "$_rc" "$_s" \
	    "$(echo "$_line" | cut -d' ' -f10-)"
	# a signal is 128 + its number; check exits 0, or 1 on a mismatch
	[ $_rc -le 1 ] || fail "$_d $_m: keyturn check exited $_rc"
	[ "$_ver" = "$_v" ] ||
	    fail "$_d $_m: verdict '${_ver:-none}', expected $_v"
	[ "$_m" = $CONTROL ] || [ "$_ver" != $YES ] ||
	    fail "$_d $_m: a faulty answer made the verdict $YES"
	[ "$_got" = "$_st" ] ||
	    fail "$_d $_m: $_ns $_a said '${_got:-nothing}', expected $_st"
	echo "$_line" | cut -d' ' -f10- | grep -Eq "$_why" ||
	    fail "$_d $_m: reason '$(echo "$_line" | cut -d' ' -f10-)' lacks /$_why/"
	grep -q "^auth $_d ns1.$_d 127.0.0.75:$KNOT_PORT s1._domainkey.$_d $GOOD " \
	    "$_o" || fail "$_d $_m: the good server's $GOOD is not in the output"
	[ "$_q1" -gt "$_q0" ] ||
	    fail "$_d $_m: the fault server was not asked the question"
	case $_m in
	tc:*|big) [ "$(asked "$_log" "tcp s1._domainkey.$_d 16 ")" -gt 0 ] ||
	    fail "$_d $_m: never asked over TCP" ;;
	esac
	awk -v s="$_s" -v b="$_b" 'BEGIN { exit !(s <= b) }' ||
	    fail "$_d $_m: the check took ${_s}s, more than the ${_b}s that only a hang exceeds"
	[ $_rc -le 1 ] && [ "$_ver" = "$_v" ] && [ "$_got" = "$_st" ] ||
	    sed 's/^/      /' "$_o"
}

echo "  domain    mode              status    verdict   rc     time  reason"
# the faulty server as one of two, on the key record only
# mode                 status   verdict   reason
while read -r m st v why; do
	check fault.test "$m" "$st" "$v" "$why"
done <<'MODES'
correct                match    published p= matches
garbage                timeout  partial   replies ignored
short                  timeout  partial   replies ignored
wrong-id               timeout  partial   the last: another query id
other-qname            timeout  partial   the last: another question
other-owner            error    partial   1 answer records, none a TXT
other-qtype            timeout  partial   the last: another question
other-rrtype           error    partial   1 answer records, none a TXT
compress-loop          timeout  partial   replies ignored
compress-past          timeout  partial   replies ignored
silent                 timeout  partial   ^no answer in 1000 ms$
servfail               error    partial   rcode SERVFAIL
refused                error    partial   rcode REFUSED
servfail-answer        error    partial   rcode SERVFAIL
nxdomain-answer        error    partial   rcode NXDOMAIN with 1 TXT record
noaa                   error    partial   not authoritative
big                    mismatch mismatch  [0-9]{3} TXT records at the name
tc:short-len           error    partial   ^tcp: .
tc:stall               timeout  partial   ^tcp: no answer in 1000 ms
tc:close               error    partial   ^tcp: .
tc:tc                  error    partial   ^tcp: answer truncated
tc:garbage             error    partial   ^tcp: .
tc:short               error    partial   ^tcp: .
tc:wrong-id            error    partial   ^tcp: another query id
tc:other-qname         error    partial   ^tcp: another question
tc:compress-loop       error    partial   ^tcp: .
tc:compress-past       error    partial   ^tcp: .
tc:servfail-answer     error    partial   rcode SERVFAIL
MODES

# the key revoked: "p=" at the good server; a right NXDOMAIN next to it
# confirms the revocation, a bad answer must not
knot_set good fault.test s1._domainkey 1 TXT '"v=DKIM1; p="' ||
    die "cannot revoke the record at ns1.fault.test"
GOOD=empty YES=revoked CONTROL=nxdomain
while read -r m st v why; do
	check fault.test "$m" "$st" "$v" "$why"
done <<'MODES'
nxdomain               nxdomain revoked   .*
other-owner            error    absent    1 answer records, none a TXT
other-rrtype           error    absent    1 answer records, none a TXT
servfail               error    absent    rcode SERVFAIL
refused                error    absent    rcode REFUSED
silent                 timeout  absent    ^no answer in 1000 ms$
tc:close               error    absent    ^tcp: .
MODES

# the faulty server first of two, on every question: the zone cut, the
# NS set and the addresses are found at the good one
GOOD=match YES=published CONTROL=correct
while read -r m st v why; do
	check all.test "$m" "$st" "$v" "$why"
done <<'MODES'
correct                match    published p= matches
silent                 timeout  partial   ^no answer in 1000 ms$
servfail-answer        error    partial   rcode SERVFAIL
tc:tc                  error    partial   ^tcp: answer truncated
big                    mismatch mismatch  [0-9]{3} TXT records at the name
MODES
# the lookups did reach it
n=$(grep -Evc "^(listening|query (udp|tcp) s1._domainkey.all.test 16 )" \
    "$T/all.log")
[ "$n" -gt 0 ] || fail "ns0.all.test was asked nothing but the key record"

for p in $fpid $apid; do
	kill -0 $p 2>/dev/null || fail "a fault server died: $(cat "$T/fault.log" "$T/all.log" | grep -v '^query' | tail -5)"
done
if [ $fails -gt 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "every faulty answer ended in a verdict, none in published"
exit 0
