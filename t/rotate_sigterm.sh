#!/bin/sh
# rotate_sigterm.sh - SIGTERM does not wait for a rotation pass: a DNS
# check that waits on a nameserver that never answers, and a publish hook
# that hangs, are both cut short, and keyturnd exits 0. The proof is what
# keyturnd logs ("rotation pass cancelled", "publish command stopped:
# cancelled"), not a stopwatch. DNSTimeout is 60 s, so a keyturnd that
# waited would take a minute or more (the check asks again until 10
# timeouts have passed; the hook runs up to 60 s): the 45 s bound on its
# exit only catches that, and a loaded machine is far inside it.
. "$top_srcdir/t/milter_lib.sh"

# HANG - seconds after which a wait here has hung (waits are on evidence)
HANG=45

SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	[ -f "$W/hookbg.pid" ] && kill "$(cat "$W/hookbg.pid")" 2>/dev/null
	kt_cleanup
}

# free_port - a UDP port on 127.0.0.1 that nothing is bound to
free_port() {
	"$PYTHON3" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until WHY COMMAND... - until COMMAND succeeds, else (after HANG
# seconds: a hang) fail with WHY
wait_until() {
	_why=$1
	shift
	_end=$(($(date +%s) + HANG))
	until "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || kt_fail "$_why"
		sleep 0.05
	done
}

# gone PID - the process has exited (a zombie not yet reaped counts)
gone() {
	! [ -e "/proc/$1" ] ||
	    awk '{ sub(/.*\) /, ""); exit $1 != "Z" }' "/proc/$1/stat" 2>/dev/null
}

# stop - SIGTERM; keyturnd must exit 0. The time it took goes to $ms, for
# the report only; the wait fails only past HANG (a keyturnd that waited
# for DNSTimeout or the hook)
stop() {
	t0=$(date +%s%N)
	kill -TERM "$KPID" || kt_fail "keyturnd is gone"
	wait_until "keyturnd still running $HANG s after SIGTERM" gone "$KPID"
	wait "$KPID"
	rc=$?
	KPID=
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $rc = 0 ] || kt_fail "keyturnd exited $rc after SIGTERM"
}

# silent_up - the silent nameserver is bound, or it died trying
silent_up() {
	grep -q listening "$W/silent.out" || gone "$SPID"
}

# silent - a nameserver that never answers, on a free port in $P; the port
# is tried again if something took it between the choice and the bind
silent() {
	for _try in 1 2 3 4 5; do
		P=$(free_port)
		"$PYTHON3" "$top_srcdir/t/lib/silent_udp.py" 127.0.0.1 "$P" \
		    >"$W/silent.out" 2>&1 &
		SPID=$!
		wait_until "silent nameserver did not start" silent_up
		grep -q listening "$W/silent.out" && return 0
		wait "$SPID" 2>/dev/null
		SPID=
	done
	kt_fail "silent nameserver did not start: $(cat "$W/silent.out")"
}

kt_init rotate_sigterm
trap 'cleanup' EXIT
trap 'cleanup; exit 1' INT TERM
kt_cli domain add slow.test --algorithms ed25519
kt_key slow.test ed25519 e1
kt_cli key new slow.test --algorithm ed25519 --selector e2

# 1. the resolver keyturnd asks first never answers
silent
kt_conf "Rotation yes" "RotationInterval 1s" "Resolver 127.0.0.1:$P" \
    "DNSPort $P" "DNSTimeout 60s"
kt_start
# the first pass waits on the resolver
wait_until "keyturnd never asked the resolver" grep -q query "$W/silent.out"
stop
grep -q "rotation pass cancelled" "$W/keyturnd.log" ||
    kt_fail "no 'rotation pass cancelled' in keyturnd.log"
kt_ok "SIGTERM during a DNS wait: exit 0 after $ms ms"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=

# 2. DNS fails at once (nothing bound: refused), so e2's record goes to
# the publish hook, which hangs with a child of its own
P=$(free_port)
cat >"$W/hook.sh" <<EOF
sleep 300 &
echo \$! > "$W/hookbg.pid"
sleep 300
EOF
: >"$W/keyturnd.log"
kt_conf "Rotation yes" "RotationInterval 1s" "Resolver 127.0.0.1:$P" \
    "DNSPort $P" "DNSTimeout 60s" "PublishCommand sh $W/hook.sh"
kt_start
wait_until "the publish hook did not run" test -s "$W/hookbg.pid"
stop
grep -q "publish command stopped: cancelled" "$W/keyturnd.log" ||
    kt_fail "the hook's end not logged as cancelled"
bg=$(cat "$W/hookbg.pid")
wait_until "the hook's child $bg outlived keyturnd" gone "$bg"
kt_ok "SIGTERM during a hung publish hook: exit 0 after $ms ms, hook stopped"
