#!/bin/sh
# milter_reload - keystore changes while mail streams through keyturnd:
# the daemon notices them by itself, SIGHUP reloads, a
# domain that fails to load is marked with its file and line while the
# others go on signing, and no message fails or leaves unsigned at any
# point.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_reload
kt_cli domain add example.com --algorithms ed25519 --active-keys 3
kt_key example.com ed25519 e1
kt_cli domain add other.test --algorithms ed25519
kt_key other.test ed25519 o1
kt_conf "LogLevel info"
kt_start
kt_msg "$W/m.eml" "From: alice@example.com"

# the stream: batches of 2,000 messages over 4 connections until told to stop
stream() {
	b=0
	while [ ! -f "$W/stop" ]; do
		b=$((b + 1))
		kt_miltc -n 2000 -c 4 -k 20 --client 127.0.0.1 "$W/m.eml" \
		    >"$W/batch.$b" 2>"$W/batch.$b.err" ||
		    echo "batch $b: miltc exit $?" >>"$W/stream.err"
	done
}
stream &
SPID=$!

# wait_for PATTERN - until the log shows it; the bound (60 s) only
# catches a daemon that never gets there
wait_for() {
	i=0
	while ! grep -q -- "$1" "$W/keyturnd.log"; do
		i=$((i + 1))
		[ $i -gt 1200 ] && kt_fail "never in the log: $1"
		sleep 0.05
	done
}

# count PATTERN - lines of the log that match
count() {
	grep -c -- "$1" "$W/keyturnd.log" || true
}

# more_signed N - until N more messages were signed than now (hang bound
# as in wait_for)
more_signed() {
	_want=$(( $(count "signed d=example.com") + $1 ))
	i=0
	while [ "$(count "signed d=example.com")" -lt "$_want" ]; do
		i=$((i + 1))
		[ $i -gt 1200 ] && kt_fail "signing stopped"
		sleep 0.05
	done
}

more_signed 10
kt_key example.com ed25519 e2			# keyturn CLI, no signal
wait_for "signed d=example.com s=e2 "
kt_ok "new active key signs, no signal"

# retired: once the snapshot without e1 is in, the messages begun before
# it (at most one per connection) finish, and then e1 signs no more
swaps=$(count "keystore change: ")
kt_cli retire example.com e1
i=0
while [ "$(count "keystore change: ")" -le "$swaps" ]; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "the retirement of e1 was never loaded"
	sleep 0.05
done
more_signed 200
n1=$(count "s=e1 ")
more_signed 200
[ "$(count "s=e1 ")" = "$n1" ] ||
    kt_fail "retired key e1 still signs 200 messages after the reload"
kt_ok "retired key stops signing once the keystore change is loaded"

kt_cli key new example.com --algorithm ed25519 --selector e3
kt_cli activate example.com e3 --force
kill -HUP "$KPID"
wait_for "signed d=example.com s=e3 "
kt_ok "SIGHUP reload"

# another domain that does not load: marked with file:line, this one signs
kt_msg "$W/o.eml" "From: olga@other.test"
kt_miltc --client 127.0.0.1 "$W/o.eml" >"$W/o1.txt" || kt_fail "miltc (o1)"
grep -q "	insheader	0	DKIM-Signature	.*d=other.test; s=o1;" "$W/o1.txt" ||
    kt_fail "other.test does not sign: $(cat "$W/o1.txt")"
cp -p "$KS/other.test/state" "$W/state.good"
echo "garbage line" >>"$KS/other.test/state"
kill -HUP "$KPID"
wait_for "domain other.test unusable, .*state:[0-9]"
more_signed 100
kt_ok "broken domain marked with file:line, the others sign"
cp -p "$W/state.good" "$KS/other.test/state"
touch "$KS/other.test/state"
kill -HUP "$KPID"
wait_for "domain other.test loads again"

touch "$W/stop"
wait "$SPID"
kill -0 "$KPID" || kt_fail "keyturnd died"

# every message of every batch: continue with exactly one signature
[ ! -s "$W/stream.err" ] || kt_fail "$(cat "$W/stream.err")"
cat "$W"/batch.[0-9]* >"$W/all.txt"
total=$(grep -c "	continue$" "$W/all.txt" || true)
other=$(grep -v "	insheader	" "$W/all.txt" | grep -vc "	continue$" || true)
sigs=$(grep -c "	insheader	0	DKIM-Signature	" "$W/all.txt" || true)
[ "$other" = 0 ] || kt_fail "$other messages not continued"
# the waits above saw at least 510 signed while the changes were made
[ "$total" -ge 510 ] || kt_fail "stream too short: $total messages"
[ "$sigs" = "$total" ] || kt_fail "$total messages, $sigs signatures"
grep -q ": tempfail" "$W/keyturnd.log" && kt_fail "a message tempfailed"
kt_ok "$total messages during the changes: all signed, none failed"

mkdir -p "$W/out"
kt_miltc -n 6 -c 2 -O "$W/out" --client 127.0.0.1 "$W/m.eml" >"$W/last.txt" ||
    kt_fail "miltc (sample)"
grep -q "s=e1;" "$W/last.txt" && kt_fail "retired e1 signs"
kt_verify "$W"/out/*.eml
kt_ok "signatures after the changes verify"
kt_stop
exit 0
