#!/bin/sh
# milter_startsig - a signal during start-up does not kill keyturnd: HUP,
# TERM and INT are blocked from the start of main until it serves, then
# handled. SIGHUP is sent again and again while a keystore of 200 domains
# loads; keyturnd must come up, sign, and have reloaded.
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

# sigstate PID - from one read of /proc/PID/status: "blocked" when HUP, INT
# and TERM are blocked, "serving" when they are caught and not blocked,
# else "early" (shell builtins only: the start-up window is short)
sigstate() {
	blk=0 cgt=0
	while read -r k v; do
		case $k in
		SigBlk:) blk=$(( 0x$v & 0x4003 )) ;;
		SigCgt:) cgt=$(( 0x$v & 0x4003 )) ;;
		esac
	done <"/proc/$1/status"
	if [ "$blk" = $(( 0x4003 )) ]; then
		echo blocked
	elif [ "$cgt" = $(( 0x4003 )) ]; then
		echo serving
	else
		echo early
	fi
} 2>/dev/null

kt_launch
i=0
while :; do
	case $(sigstate "$KPID") in
	blocked) break ;;
	serving) kt_fail "HUP/INT/TERM not blocked during start-up" ;;
	esac
	kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd died at start"
	i=$((i + 1))
	[ $i -gt 5000 ] && kt_fail "HUP/INT/TERM never blocked at start-up"
done
n=0
while [ ! -S "$W/sock" ] || [ $n -lt 20 ]; do
	kill -HUP "$KPID" 2>/dev/null || kt_fail "keyturnd killed by SIGHUP"
	n=$((n + 1))
	[ $n -gt 2000 ] && kt_fail "keyturnd socket did not appear"
	sleep 0.01
done
sleep 0.2
kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd killed by SIGHUP"
i=0
until grep -q "SIGHUP: reloading" "$W/keyturnd.log"; do
	i=$((i + 1))
	[ $i -gt 100 ] && kt_fail "the SIGHUPs of start-up were never handled"
	sleep 0.05
done
kt_miltc --client 127.0.0.1 "$W/m.eml" >"$W/m.txt" || kt_fail "miltc"
grep -q "	insheader	0	DKIM-Signature	.*d=d7.test; s=e1;" "$W/m.txt" ||
    kt_fail "not signed after the start-up SIGHUPs"
kt_ok "$n SIGHUPs during start-up: handled once serving, none fatal"
kt_stop

# In the background (no -f) the signals pending at daemon(3) must reach
# the child: a SIGTERM during start-up stops the daemon once it serves.
rm -f "$W/sock" "$W/keyturnd.pid"
"$KEYTURND" -c "$W/keyturn.conf" >>"$W/keyturnd.log" 2>&1 &
PPID_=$!
i=0
until [ "$(sigstate "$PPID_")" = blocked ]; do
	kill -0 "$PPID_" 2>/dev/null || kt_fail "keyturnd -c left before blocking"
	i=$((i + 1))
	[ $i -gt 5000 ] && kt_fail "HUP/INT/TERM never blocked (background)"
done
kill -TERM "$PPID_"
wait "$PPID_" || kt_fail "keyturnd (background) start-up exited non-zero"
i=0
while [ -S "$W/sock" ] || [ -s "$W/keyturnd.pid" ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && kt_fail "the SIGTERM of start-up was lost in the background"
	sleep 0.05
done
kt_ok "SIGTERM during a background start-up: the daemon stopped"
exit 0
