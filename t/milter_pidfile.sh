#!/bin/sh
# milter_pidfile - the pid file is written without following a symbolic
# link (root writes it, possibly in a directory its user owns): a link at
# its path stops the start-up with a clear error, its target untouched.
# The bounds on its waits (60 s) only catch a hang.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_pidfile
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_conf

printf 'precious\n' >"$W/target"
ln -s "$W/target" "$W/keyturnd.pid"
kt_launch
i=0
while kill -0 "$KPID" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "keyturnd started over a symlinked pid file"
	sleep 0.05
done
wait "$KPID"
rc=$?
KPID=
[ $rc = 1 ] || kt_fail "keyturnd exited $rc, want 1"
grep -q "keyturnd.pid: PidFile is a symbolic link, refused" \
    "$W/keyturnd.log" || kt_fail "no clear error for the symlink"
[ "$(cat "$W/target")" = precious ] || kt_fail "the link's target was written"
kt_ok "a symlink at the pid file path: refused, target untouched"

rm -f "$W/keyturnd.pid"
mkfifo "$W/keyturnd.pid"
"$KEYTURND" -f -c "$W/keyturn.conf" >>"$W/keyturnd.log" 2>&1
[ $? = 1 ] || kt_fail "keyturnd did not refuse a FIFO pid file"
grep -q "keyturnd.pid: PidFile is not a regular file, refused" \
    "$W/keyturnd.log" || kt_fail "no clear error for the FIFO"
kt_ok "a FIFO at the pid file path: refused"

rm -f "$W/keyturnd.pid"
printf '999999999\nold junk\n' >"$W/keyturnd.pid"
kt_start
[ "$(cat "$W/keyturnd.pid")" = "$KPID" ] ||
    kt_fail "pid file: $(cat "$W/keyturnd.pid"), want $KPID"
kt_stop
[ ! -e "$W/keyturnd.pid" ] || kt_fail "pid file left after SIGTERM"
kt_ok "a stale regular pid file is overwritten with our pid"
exit 0
