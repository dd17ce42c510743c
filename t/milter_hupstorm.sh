#!/bin/sh
# milter_hupstorm - SIGHUP as fast as it can be sent, for a second while
# keyturnd starts and a second while it serves, with messages in between:
# keyturnd neither crashes (a handler interrupted by its own signal, again
# and again, runs out of stack) nor stops (libmilter's own signal thread
# stops the filter on any SIGHUP it gets hold of). It keeps signing,
# reloads, and exits 0 on SIGTERM.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_hupstorm
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_msg "$W/m.eml" "From: alice@example.com"
kt_conf "LogLevel info"

# storm PID SECONDS - SIGHUP to PID in a tight loop; 1 if PID went away
storm() {
	"${PYTHON3:-python3}" - "$1" "$2" <<'PYEOF'
import os, sys, time
pid, secs = int(sys.argv[1]), float(sys.argv[2])
end, n = time.monotonic() + secs, 0
while time.monotonic() < end:
    try:
        os.kill(pid, 1)
    except ProcessLookupError:
        print("gone after %d SIGHUPs" % n)
        sys.exit(1)
    n += 1
print(n)
PYEOF
}

# signs - one message through keyturnd, signed
signs() {
	kt_miltc --client 127.0.0.1 "$W/m.eml" >"$W/m.txt" ||
	    kt_fail "miltc after $1"
	grep -q "	insheader	0	DKIM-Signature	.*d=example.com; s=e1;" \
	    "$W/m.txt" || kt_fail "not signed after $1"
}

kt_launch
kt_handles_signals "$KPID"
n1=$(storm "$KPID" 1) || kt_fail "keyturnd died in a SIGHUP storm at start-up: $n1"
kt_ready
signs "$n1 SIGHUPs at start-up"

n2=$(storm "$KPID" 1) || kt_fail "keyturnd died in a SIGHUP storm while serving: $n2"
sleep 0.3
kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd stopped after $n2 SIGHUPs"
signs "$n2 SIGHUPs while serving"
grep -q "SIGHUP: reloading" "$W/keyturnd.log" || kt_fail "no SIGHUP handled"
grep -q "stopped" "$W/keyturnd.log" && kt_fail "keyturnd stopped on its own"
kt_ok "$n1 + $n2 SIGHUPs: still serving, signing and reloading"
kt_stop
exit 0
