#!/bin/sh
# milter_startsig - a signal during start-up does not kill keyturnd: HUP,
# TERM and INT are blocked from the start of main until it serves, then
# handled. keyturn.conf is first a named pipe, so that keyturnd waits in
# its start-up, signals blocked, until the test writes the configuration:
# the state is observed, never raced. SIGHUP is sent then, and again and
# again while a keystore of 200 domains loads; keyturnd must come up, sign,
# and have reloaded.
. "$top_srcdir/t/milter_lib.sh"

[ -r /proc/self/status ] || kt_skip "no /proc/PID/status"
kt_init milter_startsig
i=0
while [ $i -lt 200 ]; do
	i=$((i + 1))
	kt_cli domain add "d$i.test" --algorithms ed25519
	kt_cli key new "d$i.test" --algorithm ed25519 --selector e1
	kt_cli activate "d$i.test" e1 --force
done
kt_msg "$W/m.eml" "From: alice@d7.test"
kt_conf

# conf_fifo - keyturn.conf a named pipe, the real file kept aside
conf_fifo() {
	mv "$W/keyturn.conf" "$W/real.conf" || kt_fail "mv keyturn.conf"
	mkfifo "$W/keyturn.conf" || kt_fail "mkfifo"
}

# conf_open - once keyturnd has the pipe open, the real file takes its
# name (a reload reads that), and fd 3 holds the pipe's writing end
conf_open() {
	exec 3>"$W/keyturn.conf"
	cp "$W/real.conf" "$W/real.conf.tmp" &&
	    mv "$W/real.conf.tmp" "$W/keyturn.conf" || kt_fail "keyturn.conf"
}

# conf_feed - the configuration through the pipe; keyturnd goes on
conf_feed() {
	cat "$W/real.conf" >&3
	exec 3>&-
}

# blocked_wait PID - until PID shows HUP, INT and TERM blocked; it waits
# for the pipe there, so nothing can move it past that state meanwhile.
# Until the exec, PID is the shell that forked it, whose own handlers
# (the test's traps) look like a keyturnd that serves: only keyturnd's
# state counts. Its name is read before its state, so that a state read
# after the name said keyturnd is keyturnd's.
blocked_wait() {
	i=0
	while :; do
		_comm=$(cat "/proc/$1/comm" 2>/dev/null)
		case $(kt_sigstate "$1") in
		blocked) return 0 ;;
		serving)
			[ "$_comm" = keyturnd ] &&
			    kt_fail "HUP/INT/TERM not blocked during start-up"
			;;
		esac
		kill -0 "$1" 2>/dev/null || kt_fail "keyturnd died at start"
		i=$((i + 1))
		# a bound that only catches a keyturnd that never blocks them
		[ $i -gt 20000 ] && kt_fail "HUP/INT/TERM never blocked at start-up"
	done
}

conf_fifo
kt_launch
blocked_wait "$KPID"
conf_open
kill -HUP "$KPID" 2>/dev/null || kt_fail "keyturnd killed by SIGHUP"
[ "$(kt_sigstate "$KPID")" = blocked ] ||
    kt_fail "a SIGHUP before the configuration was read was not held"
conf_feed
n=0
while [ ! -S "$S/sock" ] || [ $n -lt 20 ]; do
	kill -HUP "$KPID" 2>/dev/null || kt_fail "keyturnd killed by SIGHUP"
	n=$((n + 1))
	# bounds here and below only catch a hang
	[ $n -gt 3000 ] && kt_fail "keyturnd socket did not appear"
	sleep 0.01
done
sleep 0.2
kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd killed by SIGHUP"
i=0
until grep -q "SIGHUP: reloading" "$W/keyturnd.log"; do
	i=$((i + 1))
	[ $i -gt 600 ] && kt_fail "the SIGHUPs of start-up were never handled"
	sleep 0.05
done
kt_miltc --client 127.0.0.1 "$W/m.eml" >"$W/m.txt" || kt_fail "miltc"
grep -q "	insheader	0	DKIM-Signature	.*d=d7.test; s=e1;" "$W/m.txt" ||
    kt_fail "not signed after the start-up SIGHUPs"
kt_ok "$n SIGHUPs during start-up: handled once serving, none fatal"
kt_stop

# In the background (no -f) the signals pending at daemon(3) must reach
# the child: a SIGTERM during start-up stops the daemon once it serves.
rm -f "$S/sock" "$W/keyturnd.pid"
conf_fifo
"$KEYTURND" -c "$W/keyturn.conf" >>"$W/keyturnd.log" 2>&1 &
PPID_=$!
blocked_wait "$PPID_"
conf_open
kill -TERM "$PPID_"
conf_feed
wait "$PPID_" || kt_fail "keyturnd (background) start-up exited non-zero"
i=0
while [ -S "$S/sock" ] || [ -s "$W/keyturnd.pid" ]; do
	i=$((i + 1))
	[ $i -gt 600 ] && kt_fail "the SIGTERM of start-up was lost in the background"
	sleep 0.05
done
kt_ok "SIGTERM during a background start-up: the daemon stopped"
exit 0
