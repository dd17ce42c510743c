#!/bin/sh
# milter_reload - keystore changes while mail streams through keyturnd:
# the daemon notices them by itself within seconds, SIGHUP reloads, a
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

# wait_for PATTERN SECONDS - until the log shows it
wait_for() {
	i=0
	while ! grep -q -- "$1" "$W/keyturnd.log"; do
		i=$((i + 1))
		[ $i -gt $(($2 * 20)) ] && kt_fail "not within $2 s: $1"
		sleep 0.05
	done
}

sleep 1
kt_key example.com ed25519 e2			# keyturn CLI, no signal
wait_for "signed d=example.com s=e2 " 5
kt_ok "new active key signs within 5 s, no signal"

kt_cli retire example.com e1
sleep 3
n1=$(grep -c "s=e1 " "$W/keyturnd.log")
sleep 1
[ "$(grep -c "s=e1 " "$W/keyturnd.log")" = "$n1" ] ||
    kt_fail "retired key e1 still signs 3 s later"
kt_ok "retired key stops signing within 3 s"

kt_cli key new example.com --algorithm ed25519 --selector e3
kt_cli activate example.com e3 --force
kill -HUP "$KPID"
wait_for "signed d=example.com s=e3 " 5
kt_ok "SIGHUP reload"

# another domain that does not load: marked with file:line, this one signs
cp -p "$KS/other.test/state" "$W/state.good"
echo "garbage line" >>"$KS/other.test/state"
kill -HUP "$KPID"
wait_for "domain other.test unusable, .*state:[0-9]" 5
before=$(grep -c "signed d=example.com" "$W/keyturnd.log")
sleep 1
after=$(grep -c "signed d=example.com" "$W/keyturnd.log")
[ "$after" -gt "$before" ] || kt_fail "signing stopped with a broken domain"
kt_ok "broken domain marked with file:line, the others sign"
cp -p "$W/state.good" "$KS/other.test/state"
touch "$KS/other.test/state"
kill -HUP "$KPID"
sleep 1

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
[ "$total" -ge 10000 ] || kt_fail "stream too short: $total messages"
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
