#!/bin/sh
# fleet_failover.sh - a rotation leader that is paused past its lease
# loses the lead, and the write it had under way is refused by etcd
#
# Three etcd members, three keyturnd that may all lead (FleetLeaseTTL
# 2s), a Knot pair for the domain's records. The publish hook of the
# leader L is held (it waits for a file) while L publishes a new key;
# then L is stopped (SIGSTOP) past its lease. Another daemon N takes the
# lead and rotates: it publishes and confirms the key L was publishing,
# and swaps keys as the policy says. L's hook is released while L is
# still stopped, then L is continued (SIGCONT): the write that follows
# its publish is refused (etcd's transaction compares the leader key's
# create revision and lease, or L already knows it lost the lease) and L
# steps down. Meanwhile mail to N and to the third daemon M is signed
# and verified throughout. The history has no interleaving: the commits
# of each term come from one daemon, and once N committed, L never did.
#
# Nothing is timed; every bound (FL_HANG) only catches a hang.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/knot.sh"
. "$top_srcdir/t/lib/etcd.sh"
. "$top_srcdir/t/lib/fleet.sh"
fl_needs_dns
FL_HANG=180
fl_init fleet_failover
P=$KNOT_PORT

knot_pair ff.test 127.0.0.93 127.0.0.94 1 keyturn ||
    kt_fail "cannot start knot"
etcd_cluster 3 || kt_fail "cannot start etcd"
# the hook of daemon I (its argument) waits while $W/hold.I exists
cat > "$W/hook.sh" <<H
#!/bin/sh
if [ -e "$W/hold.\$1" ]; then
	touch "$W/inhook.\$1"
	while [ -e "$W/hold.\$1" ]; do sleep 0.05; done
	rm -f "$W/inhook.\$1"
fi
echo "\$(date +%s) \$1 \$KEYTURN_ACTION \$KEYTURN_NAME" >> "$W/hook.log"
exec "$top_srcdir/contrib/publish/keyturn-nsupdate" -s 127.0.0.93 -p $P \\
    -k "$KNOT_TSIG_FILE" -l 1 -w 30
H

fl_kek
for i in 1 2 3; do
	fl_conf $i "LogLevel info" "Rotation yes" "RotationInterval 1s" \
	    "Resolver 127.0.0.93:$P" "DNSPort $P" "DNSTimeout 10s" \
	    "PublishCommand sh $W/hook.sh $i"
	fl_cli $i init
done
fl_cli 1 domain add ff.test --algorithms ed25519 --active-keys 1 \
    --rotate-after 1h --retire-after 1h
for i in 1 2 3; do
	fl_start $i
done
L=$(fl_leader) || kt_fail "no daemon leads the rotation"
LPID=$(fl_pid "$L")
N=
M=
for i in 1 2 3; do
	[ "$i" = "$L" ] && continue
	if [ -z "$N" ]; then N=$i; else M=$i; fi
done
active() {
	"$KEYTURN" -K "$W/ks$M" list ff.test 2>/dev/null | grep -q ' active '
}
fl_until "no key became active" active
kt_ok "daemon $L (pid $LPID) leads; the first key is active"

# mail to the two daemons that keep running
kt_msg "$W/msg.eml" "From: alice@ff.test"
fl_streams "$W/msg.eml" "127.0.0.93:$P" "127.0.0.94:$P" $N $M

# L publishes a new key and is held in its hook, then paused
touch "$W/hold.$L"
fl_cli "$M" key new ff.test --algorithm ed25519 --selector next1
in_hook() {
	[ -e "$W/inhook.$L" ]
}
fl_until "the leader never ran its publish hook" in_hook
LSIG=$(kt_signer "$LPID") || kt_fail "daemon $L has no signing process"
kill -STOP "$LSIG"
kt_ok "daemon $L paused inside its publish of next1"

# another daemon leads, and rotates: next1 published and confirmed
new_leader() {
	_p=$(fl_leader_pid)
	[ -n "$_p" ] && [ "$_p" != "$LPID" ]
}
fl_until "nobody took over from the paused leader" new_leader
NL=$(fl_leader) || kt_fail "the new leader is not one of ours"
[ "$NL" != "$L" ] || kt_fail "the paused daemon still leads"
ready_next() {
	"$KEYTURN" -K "$W/ks$M" list ff.test 2>/dev/null |
	    grep -q ' next1 .* ready '
}
fl_until "the new leader did not confirm next1" ready_next
kt_ok "daemon $NL took over and confirmed next1"

# L's hook ends while it is stopped; then L runs on
rm -f "$W/hold.$L"
out_of_hook() {
	[ ! -e "$W/inhook.$L" ]
}
fl_until "the held hook did not end" out_of_hook
kill -CONT "$LSIG"
stepped_down() {
	grep -q "no longer leading the rotation\|lease of term .* is lost\|not written: this keyturnd does not lead\|not committed" "$W/k$L.log"
}
fl_until "the old leader did not step down" stepped_down
kt_ok "daemon $L: $(grep -o 'not committed.*\|not written.*\|no longer leading.*\|lease of term.*' "$W/k$L.log" | head -3 | tr '\n' ';')"

# the new leader goes on rotating: a swap it makes after L is back
fl_cli "$M" domain set ff.test --rotate-after 3s --retire-after 1h
swapped() {
	"$KEYTURN" -K "$W/ks$M" history ff.test 2>/dev/null |
	    grep -q ' next1 *ready *-> active'
}
fl_until "the new leader never swapped in next1" swapped
fl_cli "$M" domain set ff.test --rotate-after 1h --retire-after 1h
n0=$(wc -l < "$W/stream$M.log")
more() {
	[ "$(wc -l < "$W/stream$M.log")" -ge $((n0 + 5)) ]
}
fl_until "no mail after the swap" more
fl_streams_stop

# L holds no lead; its commits all precede the new term's
lpid_now=$(fl_leader_pid)
[ "$lpid_now" != "$LPID" ] || kt_fail "the old leader leads again"
fl_terms_ok 1 2 3 > "$W/terms.out" ||
    kt_fail "two leaders interleaved: $(cat "$W/terms.out")"
lterm=$(fl_commits "$L" | awk '{ print $2 }' | sort -n | tail -1)
nterm=$(fl_commits "$NL" | awk '{ print $2 }' | sort -n | head -1)
[ -n "$nterm" ] || kt_fail "the new leader committed nothing"
[ -z "$lterm" ] || [ "$lterm" -lt "$nterm" ] ||
    kt_fail "term $lterm of the old leader is not before $nterm"
lrev=$(fl_commits "$L" | awk '{ print $1 }' | sort -n | tail -1)
nrev=$(fl_commits "$NL" | awk '{ print $1 }' | sort -n | head -1)
[ -z "$lrev" ] || [ "$lrev" -lt "$nrev" ] ||
    kt_fail "the old leader committed at revision $lrev, after the new leader's $nrev"
kt_ok "old leader's last commit at revision ${lrev:-none} (term ${lterm:-none}), new leader's first at $nrev (term $nterm)"

"$KEYTURN" -K "$W/ks$M" history ff.test --json > "$W/history.json" ||
    kt_fail "keyturn history"
for i in $N $M; do
	fl_streams_check ff.test $i
done
# each transition of next1 happened once
"$KEYTURN" -K "$W/ks$M" history ff.test next1 > "$W/next1.txt"
for t in "- *-> pending" "pending *-> ready" "ready *-> active"; do
	[ "$(grep -c " next1 *$t" "$W/next1.txt")" = 1 ] ||
	    kt_fail "next1 $t: not exactly once: $(cat "$W/next1.txt")"
done
kt_ok "mail signed and verified throughout; one transition per step"
exit 0
