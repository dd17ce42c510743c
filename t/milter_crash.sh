#!/bin/sh
# milter_crash - keyturnd's two processes. The pid file names the parent,
# which keeps the sockets while one signing process, in a process group
# of its own, serves. A signing process that crashes (t/protofuzz -x: the
# odd-count macro list that libmilter walks past its end) is logged by the
# parent with its signal and replaced at once on the same sockets: the
# next message is signed, /metrics answers again, and the configuration a
# SIGHUP brought in is the new process's too. Past 10 deaths within 60 s
# the parent waits before the next process and says so; the socket
# accepts meanwhile, and the message that waits is signed. SIGTERM to the
# parent stops it with exit 0, whether a signing process runs (it drains)
# or the parent is waiting; SIGKILL to the parent makes the signing
# process stop by itself. The bounds on the waits only catch a hang.
. "$top_srcdir/t/milter_lib.sh"

PROTOFUZZ=$(kt_find "$top_builddir/t/protofuzz") ||
    kt_skip "t/protofuzz not built"
command -v ps >/dev/null 2>&1 || kt_skip "ps missing (procps)"

kt_init milter_crash
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
MPORT=$(free_port)
kt_conf "LogLevel info" "MetricsListen 127.0.0.1:$MPORT"
kt_msg "$W/m.eml" "From: alice@example.com"

# child - the signing process: the parent's one child, once it has one
child() {
	_i=0
	until _c=$(ps -o pid= --ppid "$KPID" | tr -d ' ') && [ -n "$_c" ]; do
		_i=$((_i + 1))
		[ $_i -gt 600 ] && kt_fail "no signing process"
		sleep 0.05
	done
	echo "$_c"
}

# signs [PATTERN] - one message signed (with PATTERN in its signature)
signs() {
	kt_miltc --client 127.0.0.1 "$W/m.eml" >"$W/m.txt" 2>"$W/m.err" ||
	    kt_fail "miltc: $(cat "$W/m.err")"
	grep -q "	insheader	0	DKIM-Signature	.*d=example.com; s=e1;" \
	    "$W/m.txt" || kt_fail "not signed: $(cat "$W/m.txt")"
	[ -z "${1:-}" ] || grep -q "	DKIM-Signature	.*$1" "$W/m.txt" ||
	    kt_fail "signed without $1: $(cat "$W/m.txt")"
}

# metrics N - /metrics answers, and counts N restarts
metrics() {
	"$PYTHON3" -c '
import sys, urllib.request
body = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
sys.exit(0 if "keyturn_messages_signed_total" in body and
         "\nkeyturn_signer_restarts_total %s\n" % sys.argv[2] in body else 1)' \
	    "http://127.0.0.1:$MPORT/metrics" "$1" ||
	    kt_fail "/metrics: no answer, or not $1 restarts"
}

# logged COUNT PATTERN - until the log has PATTERN COUNT times
logged() {
	_i=0
	until [ "$(kt_count "$2" "$W/keyturnd.log")" -ge "$1" ]; do
		_i=$((_i + 1))
		[ $_i -gt 600 ] && kt_fail "never logged ($1 times): $2"
		sleep 0.05
	done
}

# crash - one crasher session; until the parent logged one more death
deaths=0
crash() {
	"$PROTOFUZZ" -s "unix:$S/sock" -n 1 -x 1 -t 20 >"$W/crash.out" \
	    2>&1 || kt_fail "protofuzz: $(cat "$W/crash.out")"
	deaths=$((deaths + 1))
	logged $deaths "signing process [0-9]* killed by signal 11 (Segmentation fault)"
}

kt_start
c1=$(child)
[ "$(cat "$W/keyturnd.pid")" = "$KPID" ] || kt_fail "pid file: not the parent"
[ "$(ps -o pgid= -p "$c1" | tr -d ' ')" = "$c1" ] ||
    kt_fail "the signing process is not in a process group of its own"
signs
metrics 0
kt_ok "the parent ($KPID) in the pid file; signing process $c1 in its own group"

crash
grep -q "signing process $c1 killed by signal 11 (Segmentation fault).*a new one starts now" \
    "$W/keyturnd.log" || kt_fail "the crash of $c1 not logged as such"
c2=$(child)
[ "$c2" != "$c1" ] || kt_fail "the same signing process after a crash"
signs
metrics 1
kill -0 "$KPID" || kt_fail "the parent died"
[ "$(cat "$W/keyturnd.pid")" = "$KPID" ] || kt_fail "pid file changed"
kt_ok "signing process $c1 crashed (logged with its signal); $c2 signs, /metrics answers"

# a SIGHUP's configuration outlives the process that read it
grep -q "; x=" "$W/m.txt" && kt_fail "x= before SignatureTTL"
echo "SignatureTTL 1d" >>"$W/keyturn.conf"
kill -HUP "$KPID"
logged 1 "reload: in force"
signs "; x=[0-9]"
crash
logged 1 "signing process [0-9]*: reading the configuration again"
logged 2 "reload: in force"
c3=$(child)
signs "; x=[0-9]"
kt_ok "SIGHUP forwarded; after a crash, signing process $c3 signs with its configuration (x=)"

# more than 10 deaths within 60 s: a wait, said in the log, before the next
i=0
until grep -q "more than 10 signing processes died within 60 s: the next one starts in 1 s" \
    "$W/keyturnd.log"; do
	i=$((i + 1))
	[ $i -gt 12 ] && kt_fail "no back-off after $deaths deaths"
	crash
done
signs
kill -0 "$KPID" || kt_fail "the parent died"
kt_ok "$deaths deaths: the parent waits before the next process, the socket accepts, the message that waited is signed"

# SIGTERM while the parent waits (or, on a slow machine, once a new
# process serves): exit 0, no pid file, no socket
crash
logged 1 "the next one starts in 2 s"
kt_stop
[ ! -e "$W/keyturnd.pid" ] || kt_fail "pid file left after SIGTERM"
[ ! -e "$S/sock" ] || kt_fail "socket left after SIGTERM"
if grep -q "SIGTERM: no signing process runs: exiting" "$W/keyturnd.log"; then
	how="while waiting"
else
	how="with a signing process, which drained"
fi
kt_ok "SIGTERM $how: exit 0, pid file and socket removed"

# the parent killed: its signing process does not serve on alone
kt_start
c4=$(child)
kill -KILL "$KPID"
wait "$KPID" 2>/dev/null
KPID=
i=0
while kill -0 "$c4" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 600 ] && kt_fail "signing process $c4 outlived its parent"
	sleep 0.05
done
grep -q "the supervising process is gone: finishing 0 messages in flight" \
    "$W/keyturnd.log" || kt_fail "signing process $c4 did not say why it stopped"
kt_ok "SIGKILL to the parent: signing process $c4 stopped by itself"
exit 0
