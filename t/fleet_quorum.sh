#!/bin/sh
# fleet_quorum.sh - etcd loses its raft leader, then its quorum; the
# fleet signs throughout and rotates again once etcd can
#
# Three etcd members, three keyturnd (Rotation yes, FleetLeaseTTL 2s,
# FleetStaleAfter 3s), a Knot pair, a stream of messages to every daemon,
# each verified with dkimpy when it was signed.
#
# 1. kill -9 the member that is the raft leader: signing never stops, and
#    the rotation goes on: a key added afterwards (through the CLI, on
#    the members left) is published and confirmed by the leading daemon.
#    The member comes back.
# 2. Stop two members (no quorum): every daemon goes on signing from its
#    mirror, the staleness alarm is logged by each, no rotation write is
#    committed, and a write through the CLI fails and changes nothing.
# 3. Start them again: each daemon says etcd answers again, a key added
#    now reaches every mirror and is confirmed, and every mirror equals
#    etcd. No message of any stream was lost or left unsigned.
#
# Nothing is timed; every bound (FL_HANG) only catches a hang.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/knot.sh"
. "$top_srcdir/t/lib/etcd.sh"
. "$top_srcdir/t/lib/fleet.sh"
fl_needs_dns
FL_HANG=180
fl_init fleet_quorum
P=$KNOT_PORT

knot_pair fq.test 127.0.0.95 127.0.0.96 1 keyturn ||
    kt_fail "cannot start knot"
etcd_cluster 3 || kt_fail "cannot start etcd"
cat > "$W/hook.sh" <<H
#!/bin/sh
exec "$top_srcdir/contrib/publish/keyturn-nsupdate" -s 127.0.0.95 -p $P \\
    -k "$KNOT_TSIG_FILE" -l 1 -w 30
H
fl_kek
for i in 1 2 3; do
	fl_conf $i "LogLevel info" "Rotation yes" "RotationInterval 1s" \
	    "Resolver 127.0.0.95:$P" "DNSPort $P" "DNSTimeout 10s" \
	    "PublishCommand sh $W/hook.sh"
	fl_cli $i init
done
fl_cli 1 domain add fq.test --algorithms ed25519 --active-keys 1 \
    --rotate-after 1h --retire-after 1h
for i in 1 2 3; do
	fl_start $i
done
fl_leader > /dev/null || kt_fail "no daemon leads the rotation"
alive() {
	fl_alive 1 2 3
}
# state I SELECTOR STATE - daemon I's mirror has SELECTOR in STATE
state() {
	alive
	"$KEYTURN" -K "$W/ks$1" list fq.test 2>/dev/null |
	    grep -q " $2 .* $3 "
}
active_all() {
	state 1 "kt-[-0-9a-z]*" active && state 2 "kt-[-0-9a-z]*" active &&
	    state 3 "kt-[-0-9a-z]*" active
}
fl_until "the first key is not active everywhere" active_all

kt_msg "$W/msg.eml" "From: alice@fq.test"
fl_streams "$W/msg.eml" "127.0.0.95:$P" "127.0.0.96:$P" 1 2 3
# more_mail - every stream signed 10 more messages than at mark_mail
mark_mail() {
	for i in 1 2 3; do
		eval "mark_$i=$(wc -l < "$W/stream$i.log")"
	done
}
more_mail() {
	alive
	for i in 1 2 3; do
		eval "_m=\$mark_$i"
		[ "$(wc -l < "$W/stream$i.log")" -ge $((_m + 10)) ] || return 1
	done
}

# 1. the raft leader dies
RL=$(etcd_leader) || kt_fail "no raft leader"
etcd_kill "$RL"
mark_mail
fl_until "mail stopped after the raft leader died" more_mail
fl_cli 1 key new fq.test --algorithm ed25519 --selector afterkill
ready_all() {
	state 1 "$1" ready && state 2 "$1" ready && state 3 "$1" ready
}
fl_until "afterkill was not confirmed" ready_all afterkill
kt_ok "raft leader $RL killed: mail flowed, afterkill published and confirmed"
etcd_start "$RL" || kt_fail "$RL did not come back"

# 2. no quorum
set -- $KT_ETCD_MEMBERS
etcd_stop "$1"
etcd_stop "$2"
LEFT=$3
stale_all() {
	alive
	for i in 1 2 3; do
		grep -q "fleet: alarm: no answer from etcd" "$W/k$i.log" ||
		    return 1
	done
}
fl_until "no staleness alarm" stale_all
# from here on (a transaction under way at the stop may have made it
# before) nothing can commit
for i in 1 2 3; do
	eval "commits_$i=$(fl_commits $i | wc -l)"
done
mark_mail
fl_until "mail stopped without quorum" more_mail
if "$KEYTURN" -c "$W/k1.conf" key new fq.test --algorithm ed25519 \
    --selector noquorum > "$W/noquorum.out" 2>&1; then
	kt_fail "a write succeeded without quorum"
fi
grep -q "nothing was changed" "$W/noquorum.out" ||
    kt_fail "the failed write does not say nothing changed: $(cat "$W/noquorum.out")"
"$KEYTURN" -K "$W/ks1" list fq.test | grep -q noquorum &&
    kt_fail "the failed write left noquorum in the mirror"
for i in 1 2 3; do
	eval "_c=\$commits_$i"
	[ "$(fl_commits $i | wc -l)" = "$_c" ] ||
	    kt_fail "daemon $i committed a rotation write without quorum"
done
kt_ok "without quorum ($LEFT alone): alarms raised, mail signed, nothing committed: $(sed 's/^keyturn: //' "$W/noquorum.out" | head -1)"

# 3. quorum again
etcd_start "$1" || kt_fail "$1 did not come back"
etcd_start "$2" || kt_fail "$2 did not come back"
answers_all() {
	alive
	for i in 1 2 3; do
		grep -q "fleet: etcd answers again" "$W/k$i.log" || return 1
	done
}
fl_until "the daemons did not reach etcd again" answers_all
fl_leader > /dev/null || kt_fail "no leader after quorum came back"
fl_cli 2 key new fq.test --algorithm ed25519 --selector back
fl_until "back was not confirmed everywhere" ready_all back
mark_mail
fl_until "no mail after quorum came back" more_mail
fl_streams_stop
kt_ok "quorum back: back published and confirmed, every mirror follows"

for i in 1 2 3; do
	fl_stop $i
done
fl_mirrors_equal 1 2 3
fl_terms_ok 1 2 3 > "$W/terms.out" ||
    kt_fail "two leaders interleaved: $(cat "$W/terms.out")"
"$KEYTURN" -K "$W/ks1" history fq.test --json > "$W/history.json" ||
    kt_fail "keyturn history"
for i in 1 2 3; do
	fl_streams_check fq.test $i
done
kt_ok "every message of every stream signed and verified; mirrors equal etcd"
exit 0
