#!/bin/sh
# milter_protofuzz - keyturnd under a broken MTA. t/protofuzz sends
# thousands of mutated sessions, eight at a time (bad lengths, commands out
# of order, huge and odd-count macro packets, a header of exactly
# libmilter's packet limit and one byte more, truncated packets, random
# bytes), three of them the odd-count macro list that crashes a libmilter
# process; meanwhile t/miltc sends one well-formed message at a time.
# keyturnd's parent must live through it all and its socket accept every
# connection; each crash is logged by the parent (the signal) and a new
# signing process serves the sessions that follow; every well-formed
# message is signed and verifies (one in flight in a process that crashed
# is sent again, as the MTA does after its default tempfail, at most once
# per crash); no message that cannot have reached keyturnd whole (a header
# cut short and then the end of message, say) is signed, and every fuzzed
# message that is signed names every field it was sent in h= and verifies.
# KEYTURN_FUZZ_SEED picks another run; the run is bounded to 60 s (-d),
# which only cuts a slow machine's run short.
. "$top_srcdir/t/milter_lib.sh"

PROTOFUZZ=$(kt_find "$top_builddir/t/protofuzz") ||
    kt_skip "t/protofuzz not built"
SEED=${KEYTURN_FUZZ_SEED:-20261122}
CRASHERS=3

kt_init milter_protofuzz
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_conf "LogLevel info"
kt_msg "$W/m.eml" "From: alice@example.com"
mkdir "$W/fz" "$W/wf" || kt_fail "mkdir"
kt_start
[ "$(cat "$W/keyturnd.pid")" = "$KPID" ] || kt_fail "pid file: not the parent"

# well_formed N - one message through t/miltc, signed; a session that a
# crash dropped is sent again (counted in $drops), a refused connection
# fails the test
drops=0
well_formed() {
	_try=0
	until kt_miltc --client 127.0.0.1 -o "$W/wf/$1.eml" "$W/m.eml" \
	    >"$W/wf/$1.txt" 2>"$W/wf/$1.err"; do
		grep -q ": connect " "$W/wf/$1.err" &&
		    kt_fail "the socket refused a connection: $(cat "$W/wf/$1.err")"
		drops=$((drops + 1))
		_try=$((_try + 1))
		[ $_try -lt 5 ] ||
		    kt_fail "well-formed message $1 dropped 5 times: $(cat "$W/wf/$1.err")"
	done
	grep -q "	insheader	0	DKIM-Signature	.*d=example.com; s=e1;" \
	    "$W/wf/$1.txt" ||
	    kt_fail "well-formed message $1 not signed: $(cat "$W/wf/$1.txt")"
}

"$PROTOFUZZ" -s "unix:$S/sock" -S "$SEED" -n 8000 -c 8 -x $CRASHERS -t 20 \
    -d 60 -O "$W/fz" >"$W/fuzz.out" 2>"$W/fuzz.err" &
FPID=$!
n=0
while kill -0 "$FPID" 2>/dev/null; do
	kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd (the parent) died"
	n=$((n + 1))
	well_formed $n
done
wait "$FPID" || kt_fail "protofuzz (seed $SEED): $(cat "$W/fuzz.out")
$(head -20 "$W/fuzz.err")"
cat "$W/fuzz.out"
damaged=$(sed -n 's/.* \([0-9]*\) damaged unsigned.*/\1/p' "$W/fuzz.out")
[ "${damaged:-0}" -gt 0 ] || kt_fail "no damaged session ran"
kt_ok "seed $SEED: no violation ($damaged damaged sessions unsigned), every connection accepted, no timeout"

kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd (the parent) died"
[ "$(cat "$W/keyturnd.pid")" = "$KPID" ] || kt_fail "pid file changed"
crashes=$(kt_count "signing process [0-9]* killed by signal" \
    "$W/keyturnd.log")
segv=$(kt_count "signing process [0-9]* killed by signal 11 (Segmentation fault)" \
    "$W/keyturnd.log")
restarts=$(kt_count "signing process [0-9]* serves on unix:$S/sock (restart" \
    "$W/keyturnd.log")
[ "$crashes" -ge 1 ] || kt_fail "no signing process crashed: the odd-count macro list did not fault"
[ "$crashes" -le $CRASHERS ] && [ "$segv" = "$crashes" ] ||
    kt_fail "crashes that were not forced: $(grep 'killed by signal' "$W/keyturnd.log")"
[ "$restarts" = "$crashes" ] ||
    kt_fail "$crashes crashes but $restarts new signing processes serving"
[ "$drops" -le "$crashes" ] ||
    kt_fail "$drops well-formed sessions dropped for $crashes crashes"
kt_ok "$crashes crashes, each logged by the parent and followed by a new signing process; $drops of $n well-formed sessions sent again"

n=$((n + 1))
well_formed $n
[ "$drops" -le "$crashes" ] || kt_fail "the last well-formed session was dropped"
kt_verify "$W"/wf/*.eml
kt_ok "$n well-formed messages signed and verified"

signed=$(ls "$W/fz" | wc -l)
[ "$signed" -gt 0 ] || kt_fail "no fuzzed message was signed"
kt_verify "$W"/fz/*.eml
kt_ok "$signed fuzzed messages signed: each names every field sent and verifies"
kt_stop
exit 0
