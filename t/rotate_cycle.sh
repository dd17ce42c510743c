#!/bin/sh
# rotate_cycle.sh - whole key lifecycles in seconds: the rotation pass
# (rot_pass, through t/rotate_run) against a real keystore and real DNS.
#
# A Knot primary (127.0.0.41) takes RFC 2136 updates signed with a TSIG
# key; a Knot secondary (127.0.0.42) follows it by NOTIFY and IXFR. The
# publish hook is contrib/publish/keyturn-nsupdate (nsupdate, TSIG). TTL
# and SOA minimum are 1 s, rotate_after 6 s, retire_after 4 s. Passes a
# second apart run until the domain has gone generate -> publish ->
# confirm -> activate -> swap -> retire -> revoke twice, with no alarm and
# no failed action, and DNS must end up with the active key at both
# servers and "p=" for revoked keys.
#
# Nothing is timed. Every step waits on a pass that sees DNS (the record
# at both servers, then again past the 1 s hold) or on the policy's
# durations, which a slower machine only reaches in fewer passes; the
# limit on passes only catches a rotation that is stuck. The DNS timeout
# (TMO) and the hook's -w only bound servers that answer in milliseconds.
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
command -v nsupdate >/dev/null || skip "nsupdate missing (Debian: dnsutils)"
command -v openssl >/dev/null || skip "openssl missing"
[ -x "$run" ] && [ -x "$keyturn" ] || skip "rotate_run or keyturn not built"

knot_init || exit 1
T=$KNOT_DIR
TMO=5000	# ms
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

knot_pair cyc.test 127.0.0.41 127.0.0.42 1 upd ||
    { echo "cannot start knot"; exit 1; }
cat > "$T/hook.sh" <<EOF
#!/bin/sh
# publish hook: contrib/publish/keyturn-nsupdate, RFC 2136 to the primary
echo "\$KEYTURN_ACTION \$KEYTURN_NAME" >> "$T/hook.log"
[ -e "$T/hook-broken" ] && exit 3
exec "$top_srcdir/contrib/publish/keyturn-nsupdate" -s 127.0.0.41 \
    -p $KNOT_PORT -k "$KNOT_TSIG_FILE" -l 1 -w 30
EOF

KS=$T/keystore
"$keyturn" -K "$KS" init >/dev/null || { echo "keyturn init failed"; exit 1; }
"$keyturn" -K "$KS" domain add cyc.test --algorithms ed25519 \
    --active-keys 1 --rotate-after 6s --retire-after 4s >/dev/null ||
    { echo "keyturn domain add failed"; exit 1; }

# a failing hook: the record is not there, nothing becomes ready, and
# the publish is tried again on every pass
touch "$T/hook-broken"
"$run" -K "$KS" -r "127.0.0.41:$KNOT_PORT" -p "$KNOT_PORT" -t $TMO \
    -c "sh $T/hook.sh" -n 4 -i 500 cyc.test > "$T/broken.out" 2>&1
sed 's/^/  broken hook: /' "$T/broken.out" | grep -v " check "
[ "$(grep -c '^pass [0-9]* publish .* failed: publish command exited 3' "$T/broken.out")" -eq 3 ] ||
    fail "the failed publish was not retried on each pass"
grep -q "^pass [0-9]* ready" "$T/broken.out" && fail "ready without a record"
rm -f "$T/hook-broken"

count() {
	grep -c "$1" "$T/run.out"
}
# done_twice - two swaps, two revocations, two revoked records handed over
done_twice() {
	[ "$(count '^pass [0-9]* swap .* done')" -ge 2 ] &&
	    [ "$(count '^pass [0-9]* revoke .* done')" -ge 2 ] &&
	    [ "$(count '^pass [0-9]* unpublish .* done')" -ge 2 ]
}

# five passes at a time (numbered on from the last), until done_twice;
# about 20 passes do it, 300 would mean a stuck rotation
: > "$T/run.out"; : > "$T/run.err"
n=0
until done_twice; do
	[ $n -lt 300 ] || { fail "no two full cycles in $n passes"; break; }
	"$run" -K "$KS" -r "127.0.0.41:$KNOT_PORT" -p "$KNOT_PORT" -t $TMO \
	    -c "sh $T/hook.sh" -n 5 -i 1000 cyc.test > "$T/chunk.out" \
	    2>> "$T/run.err" ||
	    { cat "$T/run.err"; fail "rotate_run failed"; break; }
	awk -v n=$n '$1 == "pass" { $2 += n } { print }' "$T/chunk.out" \
	    >> "$T/run.out"
	n=$((n + 5))
	sleep 1		# the pace of the passes, as -i within a run
done
grep -v " check " "$T/run.out" | sed 's/^/  /'
[ "$(count '^pass [0-9]* swap .* done')" -ge 2 ] || fail "fewer than 2 swaps"
[ "$(count '^pass [0-9]* revoke .* done')" -ge 2 ] || fail "fewer than 2 revocations"
[ "$(count '^pass [0-9]* unpublish .* done')" -ge 2 ] || fail "fewer than 2 revoked records handed over"
[ "$(count '^pass [0-9]* [a-z]* .* failed')" -eq 0 ] || fail "failed actions"
[ "$(count '^pass [0-9]* alarm ')" -eq 0 ] || fail "alarms"
[ "$(count '^pass [0-9]* check .* mismatch')" -eq 0 ] || fail "a server served another key"

# every key that became active was first made ready on DNS evidence
for s in $(sed -n 's/^pass [0-9]* \(activate\|swap\) \([^ ]*\) done.*/\2/p' "$T/run.out"); do
	grep -q "^pass [0-9]* ready $s done" "$T/run.out" ||
	    fail "$s active without being confirmed"
done
# ... and the keystore history says so, with the DNS reason
"$keyturn" -K "$KS" history cyc.test > "$T/history" 2>&1
grep -Eq "pending +-> ready +dns: every nameserver serves" "$T/history" ||
    { cat "$T/history"; fail "history lacks the DNS evidence"; }

# DNS now (once the secondary has the primary's last change): the active
# key at both servers, p= empty for revoked keys
knot_wait_serial sec cyc.test "$(knot_serial prim cyc.test)" ||
    fail "the secondary did not catch up"
"$keyturn" -K "$KS" list cyc.test > "$T/list" 2>&1
for srv in 127.0.0.41 127.0.0.42; do
	for s in $(awk '$5 == "revoked" { print $2 }' "$T/list"); do
		v=$(kdig @$srv -p "$KNOT_PORT" +norec +short +timeout=10 TXT "$s._domainkey.cyc.test" | tr -d '"')
		[ "$v" = "v=DKIM1; p=" ] || fail "$s at $srv: '$v', not revoked"
	done
	for s in $(awk '$5 == "active" { print $2 }' "$T/list"); do
		v=$(kdig @$srv -p "$KNOT_PORT" +norec +short +timeout=10 TXT "$s._domainkey.cyc.test" | tr -d '" ')
		p=$("$keyturn" -K "$KS" dns cyc.test 2>/dev/null |
		    grep "^$s\._domainkey" | sed 's/^[^ ]* //' | tr -d '" ')
		[ -n "$v" ] && [ "$v" = "$p" ] || fail "$s at $srv: '$v' is not '$p'"
	done
done
sed 's/^/  list: /' "$T/list"

if [ $fails -gt 0 ]; then
	sed 's/^/  err: /' "$T/run.err" | tail -20
	echo "$fails failure(s)"
	exit 1
fi
echo "rotation cycles confirmed against the primary and the secondary"
exit 0
