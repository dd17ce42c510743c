#!/bin/sh
# cli_rotate - keyturn rotate, check and status against real Knot servers
#
# A Knot primary (127.0.0.51) and a secondary (127.0.0.52, NOTIFY + IXFR)
# serve cli.test with TTL and SOA minimum 1 s; keyturn reads Resolver,
# DNSPort and DNSTimeout from a keyturn.conf given with -c. Shows: rotate
# --dry-run changes nothing (every keystore file identical) while saying
# what it would do; rotate generates, then promotes a key only once both
# servers serve it and the TTL hold has passed; check prints one line per
# server address; status --json parses and says what is active, standby
# and next, and carries the alarm when a server serves another key; the
# history gets one alarm line over several passes with that fault and one
# "alarm cleared" line once the right key is back, also when the broken
# key is swapped out for a confirmed standby.
#
# Nothing is timed. The TTL hold is real time, so the test waits on the
# clock until the end of the hold that keyturn status announces; the
# DNSTimeout only bounds servers that answer in milliseconds (a timeout
# would break the all-agree streak, so it is large).
. "$top_srcdir/t/keystore_lib.sh"
set +e
. "$top_srcdir/t/lib/knot.sh"
knot_available || skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
knot_init || fail "knot_init"
trap 'set +e; knot_stop_all; rm -rf "$KNOT_DIR" "$T"' EXIT
set -e

json() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); $1"; }

knot_pair cli.test 127.0.0.51 127.0.0.52 1 || fail "cannot start knot"

K=$T/ks
cat > "$T/keyturn.conf" <<C
KeyStore $K
Resolver 127.0.0.51:$KNOT_PORT
DNSPort $KNOT_PORT
DNSTimeout 10s
C
kt() { "$KT" -c "$T/keyturn.conf" "$@"; }
# snap - every keystore file with its checksum and mode
snap() {
	(cd "$K" && find . -type f -print | sort | xargs md5sum &&
	    find . -printf '%p %m\n' | sort) > "$1"
}
# publish SEL VALUE - the record at the primary; wait for the secondary
publish() {
	knot_set prim cli.test "$1._domainkey" 1 TXT $(knot_txt "$2") ||
	    fail "knot_set $1"
	knot_wait_serial sec cli.test "$(knot_serial prim cli.test)" ||
	    fail "the secondary did not follow"
}
state() {
	kt list cli.test | awk -v s="$1" '$2 == s { print $5 }'
}
# hold_passed SEL - status says SEL becomes ready at the end of its TTL
# hold (whole seconds from the check that first saw the record at both
# servers, at most the 1 s TTL away; "now" when a slow machine has passed
# it already); wait on the clock until then, so that the next pass starts
# past it
hold_passed() {
	run 0 kt status --json
	due=$(json "x=d[0]; assert x['next'].startswith('ready $1 at ') or x['next'].startswith('ready $1 now:'), x; print(x['next_at'])" < "$T/out")
	[ $((due - $(date +%s))) -le 1 ] || fail "the hold of $1 ends at $due"
	while [ "$(date +%s)" -lt "$due" ]; do
		sleep 0.1
	done
}

run 0 kt init
run 0 kt domain add cli.test --algorithms ed25519 --active-keys 1 \
    --rotate-after 1h --retire-after 1h

# --- usage
run 2 kt rotate a.test b.test
run 2 kt rotate --frobnicate
run 2 kt check
run 2 kt check cli.test a b
run 2 kt status extra
run 1 kt check no.test; has "$T/err" "no.test"

# --- an empty domain: the dry run says it would generate, and does not
snap "$T/before"
run 0 kt rotate --dry-run
has "$T/out" "cli.test: would generate -:"
snap "$T/after"
cmp -s "$T/before" "$T/after" || fail "rotate --dry-run changed the keystore"
run 0 kt status --json
json 'x=d[0]; assert x["domain"]=="cli.test" and x["active"]==[] and x["standby"]==[] and x["pending"]==[], x; assert x["next"].startswith("generate - now"), x' < "$T/out"

# --- a real pass: a pending key; no PublishCommand, so the record is
# left to the operator (logged) and the pass says so
run 0 kt rotate cli.test
has "$T/out" "cli.test: generate "
sel=$(sed -n 's/^cli\.test: generate \([^ :]*\):.*/\1/p' "$T/out")
[ -n "$sel" ] || fail "no selector generated"
[ "$(state "$sel")" = pending ] || fail "$sel is $(state "$sel")"
run 0 kt rotate cli.test
has "$T/out" "cli.test: dns $sel: revoked"	# NXDOMAIN everywhere
has "$T/out" "cli.test: publish $sel:"
has "$T/err" "no PublishCommand"

# --- check before the record exists: one line per server, nxdomain
run 0 kt check cli.test "$sel"
has "$T/out" "$sel ed25519 (pending):"
for a in 127.0.0.51 127.0.0.52; do
	grep -q "^auth cli\.test ns[12]\.cli\.test $a:$KNOT_PORT .* nxdomain " "$T/out" ||
	    fail "check: no nxdomain line for $a"
done
has "$T/out" "verdict revoked"
# a selector is a DNS label: any case names the key, as in other commands
run 0 kt check cli.test "$(echo "$sel" | tr a-z A-Z)"
has "$T/out" "$sel ed25519 (pending):"

# --- the record on both servers: check says match for each address
rec=$(kt dns cli.test 2>/dev/null | grep "^$sel\._domainkey" | sed 's/^[^ ]* //')
publish "$sel" "$rec"
run 0 kt check cli.test
for a in 127.0.0.51 127.0.0.52; do
	grep -q "^auth cli\.test ns[12]\.cli\.test $a:$KNOT_PORT $sel\._domainkey\.cli\.test\.\? match ttl=1 " "$T/out" ||
	    fail "check: no match line for $a"
done
has "$T/out" "verdict published published=1"

# --- first sight starts the TTL hold: not ready yet
run 0 kt rotate cli.test
has "$T/out" "cli.test: dns $sel: published"
grep -q "ready $sel" "$T/out" && fail "ready before the TTL hold"
[ "$(state "$sel")" = pending ] || fail "$sel is $(state "$sel")"
hold_passed "$sel"

# --- the hold has passed: the dry run would promote, and changes nothing
snap "$T/before"
run 0 kt rotate cli.test --dry-run
has "$T/out" "cli.test: would ready $sel:"
snap "$T/after"
cmp -s "$T/before" "$T/after" || fail "rotate --dry-run changed the keystore"
[ "$(state "$sel")" = pending ] || fail "dry run: $sel is $(state "$sel")"

# --- the real pass promotes it: ready on DNS evidence, then active
# (one pass: ready, then activate to fill the empty active set)
run 0 kt rotate cli.test
has "$T/out" "cli.test: ready $sel: "
has "$T/out" "cli.test: activate $sel:"
sed 's/^/  promoting pass: /' "$T/out"
[ "$(state "$sel")" = active ] || fail "$sel is $(state "$sel"), not active"
run 0 kt history cli.test "$sel"
grep -Eq "pending +-> ready +dns: " "$T/out" || fail "history lacks the DNS reason"

run 0 kt status --json
json "x=d[0]; assert x['active']==['$sel'], x; assert x['alarms']==[], x; assert x['next'] is not None, x" < "$T/out"
run 0 kt status
has "$T/out" "active:  $sel"
has "$T/out" "alarm:   none"

# --- another key at both servers: an alarm, check exits 1, status shows it
other=$(openssl genpkey -algorithm ed25519 2>/dev/null |
    openssl pkey -pubout -outform DER 2>/dev/null | tail -c 32 | base64)
publish "$sel" "v=DKIM1; k=ed25519; p=$other"
run 1 kt check cli.test "$sel"
has "$T/out" "mismatch"
run 0 kt rotate cli.test
has "$T/out" "cli.test: dns $sel: mismatch"
has "$T/out" "cli.test: ALARM $sel:"
[ "$(state "$sel")" = active ] || fail "$sel left active with no replacement"
run 0 kt status --json
json "x=d[0]; assert [a['selector'] for a in x['alarms']]==['$sel'], x" < "$T/out"
run 0 kt status
has "$T/out" "ALARM:"

# --- the history records the alarm once, however many passes see it
# alarm_lines KIND - the notes of $sel whose reason starts with KIND
alarm_lines() {
	kt history cli.test "$sel" > "$T/hist" 2>&1 || fail "keyturn history"
	grep -Ec "^[^ ]+ $sel +[a-z]+ +\(unchanged\) +$1" "$T/hist"
}
for pass in 2 3; do
	run 0 kt rotate cli.test
	has "$T/out" "cli.test: ALARM $sel:"
done
[ "$(alarm_lines 'alarm: ')" = 1 ] ||
    { cat "$T/hist"; fail "not exactly one alarm line after 3 passes"; }
grep -q "alarm: .*serves another key" "$T/hist" || fail "alarm line says why"
[ "$(alarm_lines 'alarm cleared: ')" = 0 ] || fail "cleared while broken"
run 0 kt history cli.test --json
json "e=[x for x in d if x['reason'].startswith('alarm')]; assert len(e)==1 and e[0]['from']==e[0]['to']=='active', e" < "$T/out"
# a note changes no state: the key is still active
[ "$(state "$sel")" = active ] || fail "$sel is $(state "$sel")"

# --- the right key again: the alarm clears, once
publish "$sel" "$rec"
for pass in 1 2; do
	run 0 kt rotate cli.test
	has "$T/out" "cli.test: dns $sel: published"
	grep -q "ALARM" "$T/out" && fail "alarm after the fix"
done
[ "$(alarm_lines 'alarm cleared: ')" = 1 ] ||
    { cat "$T/hist"; fail "not exactly one cleared line"; }
grep -q "alarm cleared: every nameserver serves $sel again" "$T/hist" ||
    fail "cleared line says why"
[ "$(alarm_lines 'alarm: ')" = 1 ] || fail "a second alarm line"
run 0 kt status --json
json "x=d[0]; assert x['alarms']==[], x" < "$T/out"

# --- the same fault with a confirmed standby: the broken key is swapped
# out of signing (a transition), the alarm is still recorded once, and it
# stays open while the retiring key's record is wrong
sb=$(kt list cli.test | awk '$5 == "pending" { print $2; exit }')
[ -n "$sb" ] || fail "no pending standby"
sbrec=$(kt dns cli.test 2>/dev/null | grep "^$sb\._domainkey" | sed 's/^[^ ]* //')
publish "$sb" "$sbrec"
run 0 kt rotate cli.test
hold_passed "$sb"
run 0 kt rotate cli.test
[ "$(state "$sb")" = ready ] || fail "standby $sb is $(state "$sb")"
publish "$sel" "v=DKIM1; k=ed25519; p=$other"
run 0 kt rotate cli.test
has "$T/out" "cli.test: ALARM $sel:"
has "$T/out" "cli.test: swap $sb:"
[ "$(state "$sel")" = retiring ] || fail "$sel is $(state "$sel")"
[ "$(state "$sb")" = active ] || fail "$sb is $(state "$sb")"
for pass in 2 3; do
	run 0 kt rotate cli.test
	has "$T/out" "cli.test: dns $sel: mismatch"
done
[ "$(alarm_lines 'alarm: ')" = 2 ] ||
    { cat "$T/hist"; fail "not one more alarm line for the swapped key"; }
grep -Eq "^[^ ]+ $sel +active +-> retiring +policy: alarm: " "$T/hist" ||
    fail "no take-out transition"
[ "$(alarm_lines 'alarm cleared: ')" = 1 ] || fail "cleared while retiring"
# status still shows the open alarm of the retiring key
run 0 kt status
has "$T/out" "ALARM:   $sel: "
has "$T/out" "(retiring; open in the history)"
run 0 kt status --json
json "x=d[0]; assert [a['selector'] for a in x['alarms']]==['$sel'], x" < "$T/out"
publish "$sel" "$rec"
run 0 kt rotate cli.test
run 0 kt rotate cli.test
[ "$(alarm_lines 'alarm cleared: ')" = 2 ] ||
    { cat "$T/hist"; fail "the retiring key's alarm did not clear once"; }
grep -Eq "^[^ ]+ $sel +retiring +\(unchanged\) +alarm cleared: " "$T/hist" ||
    fail "cleared line of the retiring key"
[ "$(alarm_lines 'alarm: ')" = 2 ] || fail "a third alarm line"
run 0 kt status --json
json "x=d[0]; assert x['alarms']==[], x" < "$T/out"

echo "keyturn rotate, check and status against two Knot servers: ok"
