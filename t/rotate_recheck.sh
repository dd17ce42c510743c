#!/bin/sh
# rotate_recheck.sh - which keys a rotation pass asks DNS about, and the
# same pass with several domains at once, against real DNS.
#
# A Knot primary (127.0.0.81) and a secondary (127.0.0.82, NOTIFY + IXFR)
# serve rc.test (TTL and SOA minimum 1 s). Its subdomains are keyturn
# domains, all ed25519 with one active key:
#	a.rc.test	an active key a1 and a pending standby a2, both
#			records published: a2 becomes ready, then both are
#			confirmed
#	b.rc.test	a pending key b1 whose record is never published
#	c.rc.test	as a.rc.test (c1 active, c2 the standby); later c1's
#			record is removed
#	d.rc.test	an active key d1 whose name serves another key, and
#			a standby d2 that is published
# The passes run through t/rotate_run on a simulated clock: 100 s apart,
# RecheckInterval 1000 s, so days of re-checks take seconds. Shows:
#   (a) a key whose record is confirmed is asked about once per
#       RecheckInterval, at the first pass after its own phase point:
#       exactly every 10th pass, never between;
#   (b) a pending key, and a key whose record is not confirmed, is asked
#       about on every pass;
#   (c) a record removed under an active key raises the alarm at that
#       key's next re-check, not before, and the swap for the standby
#       that the alarm makes checks the standby in that very pass;
#   (d) the same passes with DNSConcurrency 4 print the same lines in the
#       same order and leave the same keys, states and history as with 1,
#       and so does keyturn rotate over every domain;
# and the per-pass counts (keys checked, DNS queries) agree with the
# checks printed. Nothing is timed: the clock of the passes is simulated.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
run=$top_builddir/t/rotate_run
keyturn=$top_builddir/keystore/keyturn

skip() {
	echo "SKIP: $*"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
}

. "$top_srcdir/t/lib/knot.sh"
knot_available || skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
command -v openssl >/dev/null || skip "openssl missing"
[ -x "$run" ] && [ -x "$keyturn" ] || skip "rotate_run or keyturn not built"

knot_init || exit 1
T=$KNOT_DIR
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
# ok WHAT - said when nothing failed since the last ok
okfails=0
ok() {
	[ $fails = $okfails ] && echo "ok: $*"
	okfails=$fails
}
die() {
	echo "FAIL: $*"
	exit 1
}

knot_pair rc.test 127.0.0.81 127.0.0.82 1 || die "cannot start knot"

R=1000			# RecheckInterval, simulated seconds
S=100			# between passes: a re-check every R / S = 10 passes
T0=$(date +%s)
DOMS="a.rc.test b.rc.test c.rc.test d.rc.test"
KS=$T/ks
kt() {
	"$keyturn" -K "$KS" "$@"
}
kt init >/dev/null || die "keyturn init"

# key DOMAIN SELECTOR - a new ed25519 key
key() {
	kt key new "$1" --algorithm ed25519 --selector "$2" >/dev/null 2>&1 ||
	    die "keyturn key new $1 $2"
}
# publish DOMAIN SELECTOR [VALUE] - its record (by default its own) at
# the primary
publish() {
	_v=${3:-$(kt dns "$1" | sed -n "s/^$2\._domainkey\.$1\. //p")}
	[ -n "$_v" ] || die "no record for $2 of $1"
	knot_set prim rc.test "$2._domainkey.${1%.rc.test}" 1 TXT \
	    $(knot_txt "$_v") || die "knot_set $2 of $1"
}
# synced - the secondary serves what the primary does
synced() {
	knot_wait_serial sec rc.test "$(knot_serial prim rc.test)" ||
	    die "the secondary did not follow"
}

for d in $DOMS; do
	kt domain add "$d" --algorithms ed25519 --active-keys 1 \
	    --rotate-after 100d --retire-after 100d >/dev/null ||
	    die "keyturn domain add $d"
done
key a.rc.test a1; key a.rc.test a2
key b.rc.test b1
key c.rc.test c1; key c.rc.test c2
key d.rc.test d1; key d.rc.test d2
for k in a.rc.test:a1 c.rc.test:c1 d.rc.test:d1; do
	kt activate --force "${k%:*}" "${k#*:}" >/dev/null 2>&1 ||
	    die "keyturn activate $k"
done
other=$(openssl genpkey -algorithm ed25519 2>/dev/null |
    openssl pkey -pubout -outform DER 2>/dev/null | tail -c 32 | base64)
publish a.rc.test a1; publish a.rc.test a2
publish c.rc.test c1; publish c.rc.test c2
publish d.rc.test d1 "v=DKIM1; k=ed25519; p=$other"
publish d.rc.test d2
synced

# passes KEYSTORE OUT FIRST N J [DOMAINS] - N passes numbered from the
# simulated pass FIRST (1 at T0), DNSConcurrency J; the lines in OUT,
# pass numbers counted from T0
passes() {
	"$run" -K "$1" -r "127.0.0.81:$KNOT_PORT" -p "$KNOT_PORT" -t 5000 \
	    -R $R -T $((T0 + ($3 - 1) * S)) -S $S -i 0 -n "$4" -j "$5" \
	    ${6:-$DOMS} > "$2.raw" 2>> "$T/run.err" ||
	    { cat "$T/run.err"; die "rotate_run failed"; }
	awk -v n=$(($3 - 1)) '$1 == "pass" { $2 += n } { print }' \
	    "$2.raw" > "$2"
}
# checks OUT DOMAIN SELECTOR - the passes that asked about the key
checks() {
	awk -v d="$2" -v s="$3" '$3 == d && $4 == "check" && $5 == s {
	    print $2 }' "$1"
}
# every_tenth OUT DOMAIN SELECTOR - asked about 10 passes apart, exactly
every_tenth() {
	_k=$3
	_p=$(checks "$@" | tr '\n' ' ')
	set -- $_p
	[ $# -ge 2 ] || { fail "$_k asked about in passes '$_p' only"; return; }
	_prev=$1; shift
	for _c; do
		[ $((_c - _prev)) = $((R / S)) ] || {
			fail "$_k asked about in passes $_p: not every $((R / S))th"
			return
		}
		_prev=$_c
	done
}
# counts OUT - each pass's checked= is the number of checks it printed,
# and it sent DNS queries exactly when it checked something
counts() {
	awk '$4 == "check" { n[$2]++ }
	    $3 == "stats" { split($6, c, "="); split($7, q, "=")
		if (c[2] != n[$2] + 0) { print "pass " $2 ": checked=" c[2] \
		    ", " n[$2] + 0 " checks printed"; bad = 1 }
		if ((c[2] == 0) != (q[2] == 0)) { print "pass " $2 ": " $6 \
		    " " $7; bad = 1 } }
	    END { exit bad }' "$1" || fail "the pass counts of $1 are wrong"
}

# --- the first passes: everything is asked once, a2 and c2 become ready,
# d1 (another key at its name) is swapped for d2
passes "$KS" "$T/warm" 1 3 1
sed 's/^/  warm: /' "$T/warm" | grep -v " check "
for k in a.rc.test:a2 c.rc.test:c2; do
	grep -q "^pass 2 ${k%:*} ready ${k#*:} done" "$T/warm" ||
	    fail "${k#*:} not ready at pass 2"
done
grep -q "^pass [0-9]* d.rc.test swap d2 done" "$T/warm" ||
    fail "d1 not swapped for d2"
for k in a1 a2 b1 c1 c2 d1 d2; do
	grep -q "^pass 1 [a-d].rc.test check $k " "$T/warm" ||
	    fail "$k not asked about at the first pass"
done

cp -a "$KS" "$T/ksj"			# (d): the same with concurrency 4
cp -a "$KS" "$T/ksa"			# a.rc.test alone

# --- (a) and (b): 30 passes, three intervals (and the same passes with
# DNSConcurrency 4, for (d))
passes "$KS" "$T/main" 4 30 1
passes "$T/ksj" "$T/mainj" 4 30 4
counts "$T/main"
for k in a.rc.test:a1 a.rc.test:a2 c.rc.test:c1 c.rc.test:c2; do
	every_tenth "$T/main" "${k%:*}" "${k#*:}"
done
for k in b.rc.test:b1 d.rc.test:d1; do
	[ "$(checks "$T/main" "${k%:*}" "${k#*:}" | wc -l)" = 30 ] ||
	    fail "${k#*:} not asked about on each of the 30 passes"
done
grep -q " check a1 published$" "$T/main" || fail "a1 not confirmed"
grep -Eq " (alarm|swap|activate|retire|ready) " "$T/main" &&
    fail "transitions or alarms with nothing due"
ok "a1 a2 c1 c2 asked about every $((R / S))th pass, b1 and d1 (not confirmed) on each"

# a domain whose records are all confirmed: ten passes in a row ask
# about each key once, and the other passes send no query at all
passes "$T/ksa" "$T/alone" 4 10 1 a.rc.test
# one domain: no domain column; put one in
sed '/ stats /!s/^pass \([0-9]*\) /pass \1 a.rc.test /' "$T/alone" \
    > "$T/alone.d"
counts "$T/alone.d"
for k in a1 a2; do
	[ "$(checks "$T/alone.d" a.rc.test $k | wc -l)" = 1 ] ||
	    fail "$k asked about $(checks "$T/alone.d" a.rc.test $k | wc -l) times in $((R / S)) passes"
done
[ "$(grep -c ' stats .* queries=0$' "$T/alone")" -ge 8 ] ||
    fail "passes with nothing due asked DNS: $(grep stats "$T/alone")"
ok "a.rc.test alone: each key once in $((R / S)) passes, $(grep -c ' stats .* queries=0$' "$T/alone") passes without a query"

# --- (c): c1's record removed; the next re-check of c1 finds it
knot_unset prim rc.test "c1._domainkey.c" TXT || die "knot_unset c1"
synced
passes "$KS" "$T/gone" 34 12 1
passes "$T/ksj" "$T/gonej" 34 12 4
counts "$T/gone"
first=$(checks "$T/gone" c.rc.test c1 | head -n 1)
alarm=$(awk '$3 == "c.rc.test" && $4 == "alarm" && $5 == "c1" { print $2; exit }' "$T/gone")
last=$(checks "$T/main" c.rc.test c1 | tail -n 1)
if [ -z "$first" ] || [ -z "$alarm" ]; then
	fail "no check ($first) or no alarm ($alarm) of c1 after its removal"
else
	[ "$alarm" = "$first" ] ||
	    fail "alarm at pass $alarm, c1 asked about at pass $first"
	[ $((first - last)) = $((R / S)) ] ||
	    fail "c1 asked about at pass $first, $((first - last)) after the last check"
	grep -q "^pass $first c.rc.test check c1 published" "$T/gone" &&
	    fail "c1 still published"
	grep -q "^pass $first c.rc.test check c2 " "$T/gone" ||
	    fail "the standby c2 not asked about before the swap"
	grep -q "^pass $first c.rc.test swap c2 done: alarm" "$T/gone" ||
	    fail "c1 not swapped for c2 at pass $first"
	# retiring with no record: not confirmed, asked about every pass
	n=$(checks "$T/gone" c.rc.test c1 | wc -l)
	[ "$n" = $((34 + 12 - first)) ] ||
	    fail "c1 asked about $n times from pass $first to 45"
	ok "c1 last confirmed at pass $last, its removal found and alarmed at its re-check, pass $first, with c2 checked and swapped in"
fi
kt history c.rc.test > "$T/hist" 2>&1
[ "$(grep -c 'c1 .*(unchanged) *alarm: ' "$T/hist")" = 1 ] ||
    { cat "$T/hist"; fail "not one alarm line for c1 in the history"; }

# --- (d): the same passes, four domains at once
for o in main gone; do
	cmp -s "$T/$o" "$T/${o}j" ||
	    { diff "$T/$o" "$T/${o}j" | head -20; fail "$o: concurrency 4 differs"; }
done
# same keys and states, same history but for the clock of each write
# (the simulated clock plus the real time the pass took)
state() {
	for _d in $DOMS; do
		"$keyturn" -K "$1" list "$_d" | awk 'NR > 1 { print $1, $2, $5 }'
		"$keyturn" -K "$1" history "$_d" |
		    sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/T/g'
	done
}
state "$KS" > "$T/state1"
state "$T/ksj" > "$T/state4"
cmp -s "$T/state1" "$T/state4" ||
    { diff "$T/state1" "$T/state4" | head -20; fail "states or history differ"; }
ok "DNSConcurrency 4: the same $(wc -l < "$T/mainj") + $(wc -l < "$T/gonej") lines, keys and history as 1"

# keyturn rotate over every domain, DNSConcurrency 1 and 4: the same
# lines in the order of the domains (a pass at the real clock, earlier
# than the simulated one: every key is asked about again)
for j in 1 4; do
	cp -a "$KS" "$T/ksc$j"
	cat > "$T/c$j.conf" <<C
KeyStore $T/ksc$j
Resolver 127.0.0.81:$KNOT_PORT
DNSPort $KNOT_PORT
DNSTimeout 5s
DNSConcurrency $j
C
	"$keyturn" -c "$T/c$j.conf" rotate > "$T/cli$j" 2> "$T/cli$j.err" ||
	    fail "keyturn rotate (DNSConcurrency $j)"
	sed -i 's/ in [0-9.]* s (.*$//' "$T/cli$j"
done
cmp -s "$T/cli1" "$T/cli4" ||
    { diff "$T/cli1" "$T/cli4"; fail "keyturn rotate: concurrency 4 differs"; }
sort -s -t: -k1,1 "$T/cli4" | cmp -s - "$T/cli4" ||
    fail "keyturn rotate: not in the order of the domains"
grep -q "^rotation pass: 4 domains, " "$T/cli4" ||
    fail "keyturn rotate: no summary line"
sed 's/^/  keyturn rotate: /' "$T/cli4" | grep -v ": dns "

if [ $fails -gt 0 ]; then
	sed 's/^/  err: /' "$T/run.err" | tail -20
	echo "$fails failure(s)"
	exit 1
fi
echo "re-checks by schedule, alarms at the re-check, concurrency without a difference"
exit 0
