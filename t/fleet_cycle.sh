#!/bin/sh
# fleet_cycle.sh - three keyturnd of one fleet sign while one of them
# rotates the keys in etcd
#
# Three etcd members (127.0.0.1-3, raft at test speed) hold the keystore;
# three keyturnd each mirror it into their own KeyStore and each may lead
# (Rotation yes, FleetRotation yes). A Knot primary (127.0.0.91) takes
# RFC 2136 updates from the publish hook; a Knot secondary (127.0.0.92)
# follows it. The domain is added once, through daemon 1's configuration
# (the CLI writes etcd). Nobody touches the keystore again: the leader
# generates, publishes, confirms, swaps, retires and revokes every key,
# each write an etcd transaction fenced on its term.
#
# A stream of messages goes to each daemon (t/lib/ztstream.py), each
# message verified with dkimpy at both DNS servers right after it was
# signed. Once each algorithm has had two swaps and two revocations:
# every message of every stream signed and verified, by a key the history
# had made active, each daemon's keys in the history's order (no key
# signs again once its successor has); exactly one daemon led, the
# commits of each term come from one daemon and terms never interleave;
# every mirror equal to etcd (the files of every domain); the members
# registered in `keyturn fleet status`. How long each daemon kept
# signing with a swapped-out key after the leader wrote the swap is
# printed (ztstream's lateness), not asserted: t/bench/fleet_bench.sh
# measures the propagation.
#
# Nothing is timed; every bound (FL_HANG) only catches a hang.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/knot.sh"
. "$top_srcdir/t/lib/etcd.sh"
. "$top_srcdir/t/lib/fleet.sh"
fl_needs_dns
FL_HANG=300
fl_init fleet_cycle
P=$KNOT_PORT

knot_pair fc.test 127.0.0.91 127.0.0.92 1 keyturn ||
    kt_fail "cannot start knot"
etcd_cluster 3 || kt_fail "cannot start etcd"
cat > "$W/hook.sh" <<H
#!/bin/sh
echo "\$(date +%s) \$KEYTURN_ACTION \$KEYTURN_NAME" >> "$W/hook.log"
exec "$top_srcdir/contrib/publish/keyturn-nsupdate" -s 127.0.0.91 -p $P \\
    -k "$KNOT_TSIG_FILE" -l 1 -w 30
H

fl_kek
for i in 1 2 3; do
	fl_conf $i "LogLevel info" "Rotation yes" "RotationInterval 1s" \
	    "Resolver 127.0.0.91:$P" "DNSPort $P" "DNSTimeout 10s" \
	    "PublishCommand sh $W/hook.sh"
	fl_cli $i init
done
fl_cli 1 domain add fc.test --algorithms rsa,ed25519 --active-keys 1 \
    --rotate-after 8s --retire-after 5s
etcdctl_ get --prefix "${FL_PREFIX}d/fc.test/" --keys-only | grep -q policy ||
    kt_fail "the domain is not in etcd"
for i in 1 2 3; do
	fl_start $i
done
L=$(fl_leader) || kt_fail "no daemon leads the rotation"
kt_ok "daemon $L leads the rotation"

kt_msg "$W/msg.eml" "From: alice@fc.test"
fl_streams "$W/msg.eml" "127.0.0.91:$P" "127.0.0.92:$P" 1 2 3

alive() {
	fl_alive 1 2 3
}
count() {
	grep -c "$1" "$W/hist.now" || true
}
twice() {
	alive
	"$KEYTURN" -K "$W/ks1" history fc.test > "$W/hist.now" 2>/dev/null
	swr=$(count " kt-[0-9]*-r2048[-0-9]* *ready *-> active *policy: .*swapped for")
	swe=$(count " kt-[0-9]*-ed[-0-9]* *ready *-> active *policy: .*swapped for")
	rvr=$(count " kt-[0-9]*-r2048[-0-9]* *retiring *-> revoked")
	rve=$(count " kt-[0-9]*-ed[-0-9]* *retiring *-> revoked")
	sw=$((swr + swe)); rv=$((rvr + rve))
	[ "$swr" -ge 2 ] && [ "$swe" -ge 2 ] && [ "$rvr" -ge 2 ] &&
	    [ "$rve" -ge 2 ]
}
t0=$(date +%s)
fl_until '$sw swaps, $rv revocations' twice
took=$(($(date +%s) - t0))

# more mail after the last revocation, on every daemon
more_mail() {
	alive
	for i in 1 2 3; do
		eval "_n0=\$n0_$i"
		[ "$(wc -l < "$W/stream$i.log")" -ge $((_n0 + 5)) ] || return 1
	done
}
for i in 1 2 3; do
	eval "n0_$i=$(wc -l < "$W/stream$i.log")"
done
fl_until "no more mail after the revocations" more_mail
fl_streams_stop
# quiet: an hour's durations, then the daemons stop
fl_cli 1 domain set fc.test --rotate-after 1h --retire-after 1h
kt_ok "$took s: $sw swaps ($swr rsa, $swe ed25519) and $rv revocations by the fleet's leader"

# every mirror equal to etcd: compare each with a fresh sync
"$KEYTURN" -c "$W/k1.conf" fleet status > "$W/status.out" 2>&1 ||
    kt_fail "keyturn fleet status: $(cat "$W/status.out")"
sed 's/^/  /' "$W/status.out"
[ "$(grep -c ' \(yes\|no\)$' "$W/status.out")" = 3 ] ||
    kt_fail "fleet status does not show three members"
[ "$(grep -c ' yes$' "$W/status.out")" = 1 ] ||
    kt_fail "fleet status does not show one leader"
for i in 1 2 3; do
	fl_stop $i
done
fl_mirrors_equal 1 2 3
kt_ok "every mirror holds what etcd holds"

# one leader per term, terms in order
fl_terms_ok 1 2 3 > "$W/terms.out" ||
    kt_fail "two leaders wrote: $(cat "$W/terms.out")"
nterm=$(for i in 1 2 3; do fl_commits $i; done | awk '{ print $2 }' | sort -u | wc -l)
ncommit=$(for i in 1 2 3; do fl_commits $i; done | wc -l)
[ "$ncommit" -gt 0 ] || kt_fail "no rotation write was committed"
kt_ok "$ncommit rotation writes in $nterm term(s), one daemon each"

# every stream against the history
"$KEYTURN" -K "$W/ks1" history fc.test --json > "$W/history.json" ||
    kt_fail "keyturn history"
cat "$W/k1.log" "$W/k2.log" "$W/k3.log" | sort > "$W/all.log"
for i in 1 2 3; do
	fl_streams_check fc.test $i --daemon-log "$W/all.log" --min-signers 3
done
"$KEYTURN" -K "$W/ks1" history fc.test > "$W/history.txt"
for s in $(awk '$4 == "->" && $5 == "active" { print $2 }' "$W/history.txt"); do
	grep -Eq "^[^ ]+ $s +pending +-> ready +dns: every nameserver serves" "$W/history.txt" ||
	    kt_fail "$s active without DNS confirmation"
done
grep -q "alarm" "$W/k1.log" "$W/k2.log" "$W/k3.log" &&
    kt_fail "an alarm was logged"
kt_ok "every message of the three daemons signed and verified"
exit 0
