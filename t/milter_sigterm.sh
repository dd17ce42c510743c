#!/bin/sh
# milter_sigterm - SIGTERM while messages stream through keyturnd: it stops
# accepting, every message already in flight is finished and signed, one
# that begins after it on an open connection gets tempfail (the MTA keeps
# it), and it exits 0.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_sigterm
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_conf "LogLevel info"

# a 2 MB message, so that messages are in flight at any moment
{
	printf 'From: alice@example.com\nTo: bob@example.org\nSubject: big\n\n'
	i=0
	while [ $i -lt 20000 ]; do
		printf '%s line of the body of a large message, %08d\n' \
		    "This is one" $i
		i=$((i + 1))
	done
} >"$W/big.eml"

attempt() {
	: >"$W/keyturnd.log"
	kt_start
	kt_miltc -n 400 -c 4 -k 1 -R --client 127.0.0.1 "$W/big.eml" \
	    >"$W/run.txt" 2>"$W/run.err" &
	MPID=$!
	i=0
	while [ "$(kt_count "signed d=" "$W/keyturnd.log")" -lt 8 ]; do
		i=$((i + 1))
		[ $i -gt 1200 ] && kt_fail "the stream did not start"	# a hang
		sleep 0.05
	done
	kt_stop				# fails unless keyturnd exits 0
	wait "$MPID"			# miltc fails: later connections are refused
	inflight=$(sed -n 's/.*SIGTERM: finishing \([0-9]*\) message.*/\1/p' \
	    "$W/keyturnd.log")
	[ -n "$inflight" ] || kt_fail "no SIGTERM log line"
}

tries=0
while :; do
	attempt
	[ "$inflight" -gt 0 ] && break
	tries=$((tries + 1))
	[ $tries -ge 3 ] && kt_fail "no message was ever in flight at SIGTERM"
done

# no conversation broke off in the middle of a message
if grep "^miltc: message" "$W/run.err"; then
	kt_fail "a message in flight was lost"
fi
done_msgs=$(grep -c "	continue$" "$W/run.txt" || true)
late=$(grep -c "	tempfail$" "$W/run.txt" || true)
other=$(grep -v "	insheader	" "$W/run.txt" |
    grep -v "	continue$" | grep -vc "	tempfail$" || true)
sigs=$(grep -c "	insheader	0	DKIM-Signature	" "$W/run.txt" || true)
signed=$(kt_count "signed d=" "$W/keyturnd.log")
[ "$other" = 0 ] || kt_fail "$other messages neither continued nor tempfailed"
[ "$late" = "$(kt_count "not signed: shutting down" "$W/keyturnd.log")" ] ||
    kt_fail "$late tempfails, not all of them for the shutdown"
[ "$sigs" = "$done_msgs" ] || kt_fail "$done_msgs messages, $sigs signatures"
[ "$signed" = "$done_msgs" ] ||
    kt_fail "keyturnd signed $signed messages, the client got $done_msgs"
[ "$done_msgs" -lt 400 ] || kt_fail "the stream finished before SIGTERM"
[ ! -S "$S/sock" ] || kt_fail "socket still there"
kt_ok "SIGTERM with $inflight in flight: all $done_msgs messages signed, $late begun later tempfailed, exit 0"
exit 0
