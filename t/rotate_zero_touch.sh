#!/bin/sh
# rotate_zero_touch.sh - keyturnd rotates its keys by itself while it signs
#
# A Knot primary (127.0.0.71) takes RFC 2136 updates signed with a TSIG
# key; a Knot secondary (127.0.0.72) follows it by NOTIFY and IXFR. Both
# are the authoritative servers of zt.test (TTL and SOA minimum 1 s).
# keyturnd runs with Rotation yes, RotationInterval 1s, and the publish
# hook contrib/publish/keyturn-nsupdate; the domain signs with rsa and
# ed25519, one active key each, rotate-after 8s, retire-after 5s. Nobody
# touches the keystore: keyturnd generates, publishes, confirms, swaps,
# retires and revokes every key.
#
# A steady stream of messages goes through keyturnd (t/miltc, one at a
# time) from the start; each one is verified with dkimpy right after it
# was signed, against both servers (t/lib/ztstream.py). The stream runs
# until each algorithm has had two swaps and two revocations. Then:
# every message after the first activation is signed, every signature
# verified at both servers when it was made, every s= had been made
# active by its t= and was not revoked, no key signs again once its
# successor has, each algorithm's keys signed in the order they were made
# active with none left out (three at least: the first and two swaps),
# and DNS ends with "v=DKIM1; p=" for every revoked key at both servers.
#
# Nothing is timed. The stream stops once keyturnd has handed the last
# revoked records over and more mail has been signed since; keyturnd is
# stopped at rest (with an hour's durations nothing more comes due, a
# pass that began after that change has ended and a dry run has nothing
# left to do), so SIGTERM cuts no hook short. Every bound below (HANG)
# only catches a hang; DNSTimeout and the hook's -w only bound servers
# that answer in milliseconds.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/knot.sh"
knot_available || kt_skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
command -v nsupdate >/dev/null || kt_skip "nsupdate missing (Debian: dnsutils)"
command -v openssl >/dev/null || kt_skip "openssl missing"
"$PYTHON3" -c 'import dns.message' 2>/dev/null ||
    kt_skip "$PYTHON3 lacks dnspython (python3-dnspython)"

HANG=300	# s: the whole rotation takes about 30

kt_init rotate_zero_touch
knot_init || kt_fail "knot_init"
trap 'kt_cleanup; [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; knot_stop_all; rm -rf "$KNOT_DIR"' EXIT
P=$KNOT_PORT

knot_pair zt.test 127.0.0.71 127.0.0.72 1 keyturn ||
    kt_fail "cannot start knot"
cat > "$W/hook.sh" <<H
#!/bin/sh
echo "\$(date +%s) \$KEYTURN_ACTION \$KEYTURN_NAME" >> "$W/hook.log"
exec "$top_srcdir/contrib/publish/keyturn-nsupdate" -s 127.0.0.71 -p $P \\
    -k "$KNOT_TSIG_FILE" -l 1 -w 30
H

kt_cli domain add zt.test --algorithms rsa,ed25519 --active-keys 1 \
    --rotate-after 8s --retire-after 5s
kt_conf "LogLevel info" "Rotation yes" "RotationInterval 1s" \
    "Resolver 127.0.0.71:$P" "DNSPort $P" "DNSTimeout 10s" \
    "PublishCommand sh $W/hook.sh"
kt_msg "$W/msg.eml" "From: alice@zt.test"
kt_start

# the stream, from the start (tempfail until the first keys are active)
rm -f "$W/stop"
"$PYTHON3" "$top_srcdir/t/lib/ztstream.py" stream --miltc "$MILTC" \
    --socket "unix:$S/sock" --msg "$W/msg.eml" --dns "127.0.0.71:$P" \
    --dns "127.0.0.72:$P" --out "$W/stream.log" --stop "$W/stop" \
    --max $((3 * HANG)) --keep "$W/failed" 2> "$W/stream.err" &
SPID=$!

# until_ok WHY COMMAND... - until COMMAND succeeds (polled), else fail
# after HANG seconds with WHY (expanded then); the stream and keyturnd
# must stay up
until_ok() {
	_why=$1; shift
	_end=$(($(date +%s) + HANG))
	until "$@"; do
		kill -0 "$SPID" 2>/dev/null ||
		    kt_fail "the stream stopped: $(tail -5 "$W/stream.err")"
		kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd died"
		[ "$(date +%s)" -lt $_end ] ||
		    kt_fail "after $HANG s: $(eval "echo \"$_why\"")"
		sleep 0.5
	done
}

# until each algorithm had two swaps and two revocations
count() {
	grep -c "$1" "$W/hist.now" || true
}
twice() {
	"$KEYTURN" -K "$KS" history zt.test > "$W/hist.now" 2>/dev/null
	swr=$(count " kt-[0-9]*-r2048[-0-9]* *ready *-> active *policy: .*swapped for")
	swe=$(count " kt-[0-9]*-ed[-0-9]* *ready *-> active *policy: .*swapped for")
	rvr=$(count " kt-[0-9]*-r2048[-0-9]* *retiring *-> revoked")
	rve=$(count " kt-[0-9]*-ed[-0-9]* *retiring *-> revoked")
	sw=$((swr + swe)); rv=$((rvr + rve))
	[ "$swr" -ge 2 ] && [ "$swe" -ge 2 ] && [ "$rvr" -ge 2 ] &&
	    [ "$rve" -ge 2 ]
}
t0=$(date +%s)
until_ok '$sw swaps, $rv revocations' twice
took=$(($(date +%s) - t0))

# the last revoked records reach DNS while mail still flows: until
# keyturnd has handed over the record of every key revoked so far, then
# for five more messages
handed_over() {
	for _s in $("$KEYTURN" -K "$KS" list zt.test |
	    awk '$5 == "revoked" { print $2 }'); do
		grep -q "keyturnd: zt.test: unpublish $_s: " "$W/keyturnd.log" ||
		    return 1
	done
}
until_ok "revoked records not handed over" handed_over
n0=$(wc -l < "$W/stream.log")
more_mail() {
	[ "$(wc -l < "$W/stream.log")" -ge $((n0 + 5)) ]
}
until_ok "no more mail after the revocations" more_mail
touch "$W/stop"
wait "$SPID" || kt_fail "the stream failed: $(tail -5 "$W/stream.err")"
SPID=

# stop keyturnd at rest. With an hour's durations nothing more comes due;
# keyturnd logs the end of every pass, so after two more have ended a
# pass that began after the change has ended; then a dry run that would
# do nothing means no hook is left to run, and the SIGTERM cuts none short
kt_cli domain set zt.test --rotate-after 1h --retire-after 1h
# passes_ended - the passes keyturnd has logged the end of
passes_ended() {
	grep -c "keyturnd: rotation: pass over " "$W/keyturnd.log" || true
}
# passes_turn N - until N more rotation passes have ended
passes_turn() {
	_want=$(($(passes_ended) + $1))
	_end=$(($(date +%s) + HANG))
	while [ "$(passes_ended)" -lt $_want ]; do
		[ "$(date +%s)" -lt $_end ] || kt_fail "no rotation pass ended"
		kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd died"
		sleep 0.05
	done
}
# at_rest - a dry run of the next pass would do nothing
at_rest() {
	"$KEYTURN" -c "$W/keyturn.conf" rotate --dry-run zt.test \
	    > "$W/dryrun" 2>&1 || kt_fail "keyturn rotate --dry-run"
	! grep -q ": would " "$W/dryrun"
}
passes_turn 2
_end=$(($(date +%s) + HANG))
until at_rest; do
	[ "$(date +%s)" -lt $_end ] ||
	    kt_fail "keyturnd never at rest: $(cat "$W/dryrun")"
	passes_turn 1
done
kt_stop
kt_ok "$took s: $sw swaps ($swr rsa, $swe ed25519) and $rv revocations ($rvr rsa, $rve ed25519) by keyturnd alone"

"$KEYTURN" -K "$KS" history zt.test --json > "$W/history.json" ||
    kt_fail "keyturn history"
"$KEYTURN" -K "$KS" history zt.test > "$W/history.txt"
sed 's/^/  /' "$W/history.txt"

# the cycle, from the history: every key that signed went pending -> ready
# on DNS evidence before it became active
for s in $(awk '$4 == "->" && $5 == "active" { print $2 }' "$W/history.txt"); do
	grep -Eq "^[^ ]+ $s +pending +-> ready +dns: every nameserver serves" "$W/history.txt" ||
	    kt_fail "$s active without DNS confirmation"
done
[ "$(grep -c '^[0-9]* publish ' "$W/hook.log")" -ge 6 ] ||
    kt_fail "fewer than 6 records published by the hook"
[ "$(grep -c '^[0-9]* revoke ' "$W/hook.log")" -ge 4 ] ||
    kt_fail "fewer than 4 revoked records handed to the hook"
grep -q "alarm" "$W/keyturnd.log" && kt_fail "alarm in keyturnd.log"
grep -q "failed" "$W/keyturnd.log" && kt_fail "a failed action in keyturnd.log"

# the stream against the history
"$PYTHON3" "$top_srcdir/t/lib/ztstream.py" check --log "$W/stream.log" \
    --history "$W/history.json" --domain zt.test \
    --daemon-log "$W/keyturnd.log" --min-signers 3 > "$W/check.out"
rc=$?
sed 's/^/  /' "$W/check.out"
[ $rc = 0 ] || kt_fail "the stream does not match the history"

# DNS at the end: revoked keys are "v=DKIM1; p=" at both servers
knot_wait_serial sec zt.test "$(knot_serial prim zt.test)" ||
    kt_fail "the secondary did not catch up"
"$KEYTURN" -K "$KS" list zt.test > "$W/list"
for srv in 127.0.0.71 127.0.0.72; do
	for s in $(awk '$5 == "revoked" { print $2 }' "$W/list"); do
		v=$(kdig @$srv -p "$P" +norec +short +timeout=10 TXT "$s._domainkey.zt.test" | tr -d '"')
		[ "$v" = "v=DKIM1; p=" ] || kt_fail "$s at $srv: '$v', not revoked"
	done
done
kt_ok "every message verified when signed, by the key the history had active"
exit 0
