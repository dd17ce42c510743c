#!/bin/sh
# keystore_bench.sh - keyturnd on the keystore of a provider, beside OpenDKIM
#
# SYNOPSIS
#   keystore_bench.sh [-n DOMAINS] [-k CACHE] [-s SAMPLE] [-c CONC]
#       [-r STARTS] [-C CHANGES] [-j THREADS]
#
# DESCRIPTION
#   Runs keyturnd on the keystore of DOMAINS domains (default 1,000,000),
#   each with an active RSA-2048 key, an active Ed25519 key and a ready
#   RSA-2048 standby, that t/bench/keystore_bench builds once into
#   CACHE/DOMAINS (CACHE: -k, else $KEYTURN_BENCH_CACHE, else
#   /var/tmp/keyturn-bench; a million domains take minutes and about 33 GB
#   the first time) and reuses. keyturnd runs in the foreground on a unix
#   socket of a short mktemp directory under /tmp with its defaults
#   (KeyCache among them), and t/bench/domsend plays the MTA (t/miltc's
#   conversation, a milter connection per message as Postfix has it,
#   from 127.0.0.1, each message From: a domain of the keystore; the 2 KB
#   message of t/bench/milter_bench.sh). The files of the domains a part
#   sends from are read just before it (page cache). It prints, each
#   beside its target:
#
#   (a) start: from the exec of keyturnd to the reply that carries the
#       first signature, domsend connecting every millisecond until
#       keyturnd answers, the message from a domain of the middle of the
#       keystore; STARTS times (default 3), a fresh keyturnd each time.
#   (b) the first message of a domain: SAMPLE domains (default 10,000, or
#       every domain but d0 when there are fewer) spread over the keystore
#       each send one message, one after the other, to a keyturnd that has
#       read none of them (cold), then each sends the same message again
#       (warm); the latency of each message (mean, p50, p99, first command
#       to final reply), their difference and keyturnd's CPU per message
#       (utime+stime of /proc/PID/stat over the pass). Then keyturnd
#       against floor -k at 2 KB: t/bench/milter_bench.sh runs its rows
#       floor, floor-rsa, keyturnd-rsa, keyturnd-warm and keyturnd-cold
#       (this keystore, RSA only, so that keyturnd makes the one signature
#       the floor makes) at concurrency 1, and its "in-filter" ratio of
#       keyturnd-warm is the figure.
#   (c) memory: keyturnd's VmRSS once the sample (and d0) sent mail, then
#       while every domain of the keystore sends one message (CONC
#       connections, default 4), at 100,000, 250,000, 500,000 and all.
#   (d) a change to one domain: `keyturn compromised` takes a warm
#       domain's active RSA key out and its ready standby signs; domsend
#       sends a message every 5 ms and times from the command's exit to
#       the first reply signed with the standby's selector (5 domains).
#       Then CHANGES (default 100) such commands, one after the other, on
#       other warm domains with keyturnd otherwise idle, and a second to let
#       it see them: its CPU over that time (utime+stime, and the run time
#       of its threads from /proc/PID/task/*/schedstat, which counts in
#       nanoseconds where the other counts in ticks), less what it spends
#       idle (its rate over 5 s before and 5 s after), per change; beside
#       it what a walk of the keystore costs (t/bench/keystore_bench -w:
#       the list of the domains and a stat of each one's policy and state).
#       That every change was seen is checked (one message each).
#   (e) OpenDKIM (Debian's, Mode s, relaxed/relaxed, RequireSafeKeys no
#       as t/bench/milter_bench.sh runs it) with a KeyTable and a
#       SigningTable of one entry per domain (its active RSA key): its
#       start as in (a), its VmRSS, and its CPU and latency per message for
#       the sample's messages, cold and warm as in (b); beside it keyturnd
#       as in (b) and keyturnd with Algorithms rsa (one signature, as
#       OpenDKIM makes).
#   With at most 100,000 domains it also runs t/bench/keystore_bench on the
#   fixture (what the library costs to load it all).
#
#   The domains that (d) changes are listed in CACHE/DOMAINS/dirty first
#   and put back as built (t/bench/keystore_bench -r) once keyturnd has
#   stopped, at the next run if this one was killed.
#
#   keyturnd's CPU and memory above are its signing process's (keyturnd(8),
#   PROCESSES: the only child of the parent started here, it does all the
#   work while the parent waits for it); the start lines of (a) also give
#   the parent's VmRSS. OpenDKIM -f is one process.
#
# Environment: BENCH_SKIP, parts to leave out, of "library floor sweep
# opendkim"; BENCH_ROUNDS, rounds of t/bench/milter_bench.sh (default 3);
# BENCH_KEEP=1 keeps the work directory.
#
# Not a test: prints numbers, exits non-zero only on errors.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(cd "$here/../.." && pwd)/_b}"
[ -x "$top_builddir/t/bench/domsend" ] ||
    top_builddir=$(cd "$here/../.." && pwd)
DOMSEND=$top_builddir/t/bench/domsend
KSBENCH=$top_builddir/t/bench/keystore_bench
KEYTURN=$top_builddir/keystore/keyturn
KEYTURND=$top_builddir/keyturnd
PYTHON3=${PYTHON3:-/usr/bin/python3}
TCK=$(getconf CLK_TCK)

N=1000000 CACHE=${KEYTURN_BENCH_CACHE:-/var/tmp/keyturn-bench}
SAMPLE= CONC=4 STARTS=3 CHANGES=100 THREADS=4
while getopts n:k:s:c:r:C:j: o; do
	case $o in
	n) N=$OPTARG ;;
	k) CACHE=$OPTARG ;;
	s) SAMPLE=$OPTARG ;;
	c) CONC=$OPTARG ;;
	r) STARTS=$OPTARG ;;
	C) CHANGES=$OPTARG ;;
	j) THREADS=$OPTARG ;;
	*) echo "usage: keystore_bench.sh [-n DOMAINS] [-k CACHE] [-s SAMPLE]" \
	    "[-c CONC] [-r STARTS] [-C CHANGES] [-j THREADS]" >&2; exit 2 ;;
	esac
done
[ -n "$SAMPLE" ] || SAMPLE=$((N - 1 < 10000 ? N - 1 : 10000))
[ "$N" -ge 2 ] && [ "$SAMPLE" -ge 1 ] && [ "$SAMPLE" -lt "$N" ] || {
	echo "keystore_bench.sh: want 2 domains or more, a sample below them" >&2
	exit 2; }
for p in "$DOMSEND" "$KSBENCH" "$KEYTURN" "$KEYTURND"; do
	[ -x "$p" ] || { echo "keystore_bench.sh: $p not built (make)" >&2
		exit 1; }
done

FIX=$CACHE/$N
W=$(mktemp -d /tmp/ktks.XXXXXX) || exit 1
MSG=$W/msg-2k.eml
DPID= SPID=

# skip PART - is PART in BENCH_SKIP
skip() {
	case " ${BENCH_SKIP:-} " in *" $1 "*) return 0 ;; esac
	return 1
}

# fail MESSAGE - stop, with the daemon's last words
fail() {
	echo "keystore_bench.sh: $*" >&2
	[ -f "$W/daemon.log" ] && tail -20 "$W/daemon.log" >&2
	exit 1
}

# restore_dirty - the domains a change left behind, as built
restore_dirty() {
	[ -s "$FIX/dirty" ] || return 0
	"$KSBENCH" -r -n "$N" -k "$CACHE" $(sort -u "$FIX/dirty") &&
	    rm -f "$FIX/dirty"
}

# cleanup - at exit: the daemon stopped, the fixture as built
cleanup() {
	stop_daemon
	restore_dirty
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}

# cpu_ticks PID - utime+stime (fields 14 and 15 of /proc/PID/stat)
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# run_ns PID - nanoseconds its live threads ran (schedstat)
run_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null |
	    awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# status_kb PID FIELD - VmRSS or VmHWM in kB
status_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# now_ns - CLOCK_REALTIME in ns
now_ns() {
	date +%s%N
}

# make_message - t/bench/milter_bench.sh's 2 KB message
make_message() {
	"$PYTHON3" - "$MSG" <<'EOF'
import sys
path, size, target = sys.argv[1], "2k", 2048
head = ("From: Alice Example <alice@example.com>\nTo: bob@example.net\n"
        "Cc: carol@example.org\nSubject: benchmark message of %s\n"
        "Date: Sun, 22 Nov 2026 21:00:00 +0000\n"
        "Message-ID: <bench-%s@example.com>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n\n" % (size, size))
words = "the quick brown fox jumps over the lazy dog and keeps running ".split()
out, n, i = [head], len(head), 0
while n < target:
    line = " ".join(words[(i + k) % len(words)] for k in range(11)) + "\n"
    out.append(line); n += len(line); i += 1
open(path, "w").write("".join(out)[:target].rsplit("\n", 1)[0] + "\n")
EOF
}

# send ARGS... - domsend against the daemon's socket; its summary line
send() {
	"$DOMSEND" -s "unix:$W/sock" -t 300 -R "$@" "$MSG"
}

# field LINE NAME - the value of NAME= in a domsend line
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# worker PID - the process that serves the daemon PID's messages: its
# only child if it has one (keyturnd's signing process), else PID itself
worker() {
	_w=$(ps -o pid= --ppid "$1" | tr -d ' ')
	case $_w in
	'') echo "$1" ;;
	*[!0-9]*) fail "pid $1 has several children" ;;
	*) echo "$_w" ;;
	esac
}

# start_daemon FIRST COMMAND... - start it, wait until a message from
# domain number FIRST comes back signed; START_MS: exec to that reply;
# the daemon's pid in DPID, the pid of the process that signs in SPID
start_daemon() {
	_first=$1
	shift
	rm -f "$W/sock"
	send -P "$KS" -p -f "$_first" -n 1 || fail "cannot read $KS"
	(now_ns >"$W/t0"; exec "$@") >>"$W/daemon.log" 2>&1 &
	DPID=$!
	_r=$("$DOMSEND" -S -s "unix:$W/sock" -f "$_first" "$MSG") ||
	    fail "$1 signed nothing"
	SPID=$(worker "$DPID") || exit 1
	START_MS=$(awk -v a="$(field "$_r" signed_at_ns)" -v b="$(cat "$W/t0")" \
	    'BEGIN { printf "%.1f", (a - b) / 1e6 }')
}

# stop_daemon - SIGTERM to the daemon started last, and its exit
stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID= SPID=
}

# pass NAME ARGS... - one domsend run; its line in $W/NAME, the daemon's
# CPU per message in CPU_US and $W/NAME.cpu
pass() {
	_p=$1
	shift
	_c0=$(cpu_ticks "$SPID")
	send "$@" >"$W/$_p" || fail "$_p: $(cat "$W/$_p")"
	_c1=$(cpu_ticks "$SPID")
	_l=$(cat "$W/$_p")
	[ "$(field "$_l" unsigned)" = 0 ] || fail "$_p: unsigned messages: $_l"
	CPU_US=$(awk -v d=$((_c1 - _c0)) -v t="$TCK" -v n="$(field "$_l" messages)" \
	    'BEGIN { printf "%.0f", d / t * 1e6 / n }')
	echo "$CPU_US" >"$W/$_p.cpu"
}

# lat FILE - "mean M p50 P p99 Q" in ms of a domsend line
lat() {
	_l=$(cat "$1")
	awk -v m="$(field "$_l" mean_us)" -v a="$(field "$_l" p50_us)" \
	    -v b="$(field "$_l" p99_us)" 'BEGIN {
		printf "mean %.2f p50 %.2f p99 %.2f ms", m / 1e3, a / 1e3, b / 1e3 }'
}

# cold_warm NAME - the sample cold then warm; $W/NAME-cold, $W/NAME-warm
cold_warm() {
	send -P "$KS" -p -f 1 -e "$STEP" -n "$SAMPLE" || fail "cannot read $KS"
	pass "$1-cold" -f 1 -e "$STEP" -n "$SAMPLE"
	pass "$1-warm" -f 1 -e "$STEP" -n "$SAMPLE"
	echo "  $1 cold: $(lat "$W/$1-cold"), CPU $(cat "$W/$1-cold.cpu") us/msg"
	echo "  $1 warm: $(lat "$W/$1-warm"), CPU $(cat "$W/$1-warm.cpu") us/msg"
}

# sample_domain J - the number of the sample's J-th domain
sample_domain() {
	echo $((1 + $1 * STEP))
}

# mb KB - in MB, one decimal
mb() {
	awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the fixture
restore_dirty
"$KSBENCH" -B -n "$N" -k "$CACHE" -j "$THREADS" || exit 1
KS=$(sed -n 's/^keystore //p' "$FIX/fixture")
SEL_A=$(sed -n 's/^active-rsa //p' "$FIX/fixture")
SEL_R=$(sed -n 's/^ready-rsa //p' "$FIX/fixture")
BUILD_S=$(sed -n 's/^build-seconds //p' "$FIX/fixture")
DISK=$(sed -n 's/^disk-bytes //p' "$FIX/fixture")
INODES=$(sed -n 's/^inodes //p' "$FIX/fixture")
STEP=$(( (N - 1) / SAMPLE ))
make_message
echo "keystore_bench.sh: $N domains in $KS, $(nproc) CPUs, $(uname -r)," \
    "sample $SAMPLE domains (every ${STEP}th), work directory $W;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$N" -le 100000 ] && ! skip library; then
	echo
	echo "library (t/bench/keystore_bench):"
	"$KSBENCH" -n "$N" -k "$CACHE" | sed 's/^/  /' || exit 1
fi
echo
"$KSBENCH" -w -n "$N" -k "$CACHE" | sed 's/^/  /' | tee "$W/walk"
WALK_MS=$(sed -n 's/.*again: .* wall, \([0-9]*\) ms CPU/\1/p' "$W/walk")

AR=
[ "$(id -u)" = 0 ] && AR="AllowRoot yes"
# conf [LINES...] - keyturnd's configuration: our socket, the fixture
conf() {
	printf 'Socket unix:%s\nKeyStore %s\nLogLevel warning\n%s\n' \
	    "$W/sock" "$KS" "$AR"
	for l; do echo "$l"; done
}
conf >"$W/keyturnd.conf"
conf "Algorithms rsa" >"$W/keyturnd-rsa.conf"

# ---- (a)
echo
echo "(a) start: exec to the first signed reply"
: >"$W/starts"
i=0
while [ $i -lt "$STARTS" ]; do
	start_daemon $((N / 2 + i)) "$KEYTURND" -f -c "$W/keyturnd.conf"
	echo "  keyturnd start $((i + 1)): $START_MS ms, VmRSS" \
	    "$(mb "$(status_kb "$SPID" VmRSS)") MB (parent" \
	    "$(mb "$(status_kb "$DPID" VmRSS)") MB)"
	echo "$START_MS" >>"$W/starts"
	stop_daemon
	i=$((i + 1))
done
START_MED=$(sort -n "$W/starts" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
START_MAX=$(sort -n "$W/starts" | tail -1)

# ---- (b)
echo
echo "(b) $SAMPLE domains, one message each, one after the other"
start_daemon 0 "$KEYTURND" -f -c "$W/keyturnd.conf"
cold_warm keyturnd
RSS_SAMPLE=$(status_kb "$SPID" VmRSS)
DIFF=$(awk -v c="$(field "$(cat "$W/keyturnd-cold")" mean_us)" \
    -v w="$(field "$(cat "$W/keyturnd-warm")" mean_us)" \
    'BEGIN { printf "%.2f", (c - w) / 1e3 }')
DIFF50=$(awk -v c="$(field "$(cat "$W/keyturnd-cold")" p50_us)" \
    -v w="$(field "$(cat "$W/keyturnd-warm")" p50_us)" \
    'BEGIN { printf "%.2f", (c - w) / 1e3 }')
DIFF99=$(awk -v c="$(field "$(cat "$W/keyturnd-cold")" p99_us)" \
    -v w="$(field "$(cat "$W/keyturnd-warm")" p99_us)" \
    'BEGIN { printf "%.2f", (c - w) / 1e3 }')
echo "  cold - warm: mean $DIFF p50 $DIFF50 p99 $DIFF99 ms"
echo "  VmRSS with $((SAMPLE + 1)) domains warm: $(mb "$RSS_SAMPLE") MB"

# ---- (d)
echo
echo "(d) keyturn compromised DOMAIN $SEL_A: exit to the first reply signed s=$SEL_R"
: >"$W/changes"
j=0
while [ $j -lt 5 ] && [ $j -lt "$SAMPLE" ]; do
	d=$(sample_domain $j)
	echo "d$d.bench.example" >>"$FIX/dirty"
	r=$("$DOMSEND" -s "unix:$W/sock" -R -f "$d" -w "$SEL_R" -i 5 "$MSG" -- \
	    "$KEYTURN" -K "$KS" compromised "d$d.bench.example" "$SEL_A" \
	    2>>"$W/keyturn.log") || fail "d$d: $r"
	echo "  d$d.bench.example: $r"
	field "$r" exit_to_new_ms >>"$W/changes"
	j=$((j + 1))
done
CHANGE_MAX=$(sort -n "$W/changes" | tail -1)
: >"$W/cpuchanges"
k=0
while [ $k -lt "$CHANGES" ] && [ $((j + k)) -lt "$SAMPLE" ]; do
	echo "d$(sample_domain $((j + k))).bench.example" >>"$W/cpuchanges"
	k=$((k + 1))
done
cat "$W/cpuchanges" >>"$FIX/dirty"
sleep 1
t0=$(now_ns) c0=$(cpu_ticks "$SPID") n0=$(run_ns "$SPID")
sleep 5
t1=$(now_ns) c1=$(cpu_ticks "$SPID") n1=$(run_ns "$SPID")
while read -r d; do
	"$KEYTURN" -K "$KS" compromised "$d" "$SEL_A" >>"$W/keyturn.log" 2>&1 ||
	    fail "keyturn compromised $d"
done <"$W/cpuchanges"
sleep 1
t2=$(now_ns) c2=$(cpu_ticks "$SPID") n2=$(run_ns "$SPID")
sleep 5
t3=$(now_ns) c3=$(cpu_ticks "$SPID") n3=$(run_ns "$SPID")
CHG=$(awk -v k="$k" -v t="$TCK" -v i0="$t0" -v i1="$t1" -v i2="$t2" \
    -v i3="$t3" -v c0="$c0" -v c1="$c1" -v c2="$c2" -v c3="$c3" \
    -v n0="$n0" -v n1="$n1" -v n2="$n2" -v n3="$n3" '
	BEGIN {
		if (k == 0) { print "- - - - -"; exit }
		idle = (i1 - i0 + i3 - i2) / 1e9; busy = (i2 - i1) / 1e9
		ct = (c1 - c0 + c3 - c2) / idle; cn = (n1 - n0 + n3 - n2) / idle
		tk = ((c2 - c1) - ct * busy) / t * 1e3
		ns = ((n2 - n1) - cn * busy) / 1e6
		printf "%.2f %.2f %.2f %.2f %.1f", tk / k, ns / k,
		    ct / t * 1e3, cn / 1e6, busy
	}')
set -- $CHG
CHG_TICK=$1 CHG_NS=$2
echo "  $k changes in $5 s, keyturnd otherwise idle: $1 ms CPU each" \
    "(utime+stime), $2 ms (its threads' run time); idle: $3 / $4 ms per" \
    "second"
r=$(send -f "$(sample_domain "$j")" -e "$STEP" -n "$k" -E "$SEL_R")
[ "$(field "$r" selector)" = "$k" ] || fail "the changes were not all seen: $r"

# ---- (c)
if ! skip sweep; then
	echo
	echo "(c) every domain sends one message ($CONC connections)"
	echo "  domains  VmRSS_MB  VmHWM_MB  seconds  msgs/s"
	from=0
	for cp in 100000 250000 500000 "$N"; do
		[ "$cp" -gt "$N" ] && continue
		[ "$cp" -le "$from" ] && continue
		send -f "$from" -n $((cp - from)) -c "$CONC" >"$W/sweep" ||
		    fail "sweep: $(cat "$W/sweep")"
		[ "$(field "$(cat "$W/sweep")" unsigned)" = 0 ] ||
		    fail "sweep: unsigned messages: $(cat "$W/sweep")"
		RSS_ALL=$(status_kb "$SPID" VmRSS)
		printf '  %7d  %8s  %8s  %7s  %6s\n' "$cp" "$(mb "$RSS_ALL")" \
		    "$(mb "$(status_kb "$SPID" VmHWM)")" \
		    "$(field "$(cat "$W/sweep")" seconds)" \
		    "$(field "$(cat "$W/sweep")" msgs_per_s)"
		from=$cp
	done
	HWM_ALL=$(status_kb "$SPID" VmHWM)
fi
stop_daemon
restore_dirty

# ---- (e)
if ! skip opendkim; then
	echo
	echo "(e) the same $SAMPLE messages: keyturnd with Algorithms rsa, then OpenDKIM"
	start_daemon 0 "$KEYTURND" -f -c "$W/keyturnd-rsa.conf"
	KT_RSA_START=$START_MS
	cold_warm keyturnd-rsa
	KT_RSA_RSS=$(status_kb "$SPID" VmRSS)
	stop_daemon
	cat >"$W/opendkim.conf" <<EOF
Mode			s
Socket			local:$W/sock
KeyTable		$FIX/opendkim.keytable
SigningTable		$FIX/opendkim.signingtable
Canonicalization	relaxed/relaxed
RequireSafeKeys		no
EOF
	start_daemon $((N / 2)) opendkim -f -x "$W/opendkim.conf"
	OD_START=$START_MS
	OD_RSS0=$(status_kb "$SPID" VmRSS)
	echo "  opendkim start: $OD_START ms, VmRSS $(mb "$OD_RSS0") MB"
	cold_warm opendkim
	OD_RSS=$(status_kb "$SPID" VmRSS)
	stop_daemon
fi

# ---- keyturnd against floor -k (t/bench/milter_bench.sh)
if ! skip floor; then
	echo
	echo "t/bench/milter_bench.sh, 2 KB, concurrency 1, ${BENCH_ROUNDS:-3} rounds:"
	BENCH_DAEMONS="floor floor-rsa keyturnd-rsa keyturnd-warm keyturnd-cold" \
	    BENCH_SIZES=2k BENCH_CONC=1 BENCH_ROUNDS=${BENCH_ROUNDS:-3} \
	    BENCH_KS_DOMAINS=$N BENCH_KS_CACHE=$CACHE top_builddir=$top_builddir \
	    sh "$here/milter_bench.sh" >"$W/milter_bench" 2>&1 ||
	    { cat "$W/milter_bench"; fail "milter_bench.sh failed"; }
	sed 's/^/  /' "$W/milter_bench"
	FLOOR_RATIO=$(awk '/^in-filter/ { f = 1 } f && $1 == "keyturnd-warm" &&
	    $2 == "2k" { print $3 }' "$W/milter_bench")
fi

# ---- the table
echo
echo "keystore of $N domains: $KS; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  built in %s s, %.1f GB, %s inodes (d1: 2 directories and 6 files)\n' \
    "$BUILD_S" "$(awk -v b="$DISK" 'BEGIN { print b / 1e9 }')" "$INODES"
printf '%-58s %22s  %s\n' "" measured target
# row LABEL FIGURE TARGET - one line of the table
row() {
	printf '%-58s %22s  %s\n' "$1" "$2" "$3"
}
row "(a) exec to first signed reply (median of $STARTS; max)" \
    "$START_MED; $START_MAX ms" "<= 2000 ms"
row "(b) cold - warm latency per message, mean (p50, p99)" \
    "$DIFF ($DIFF50, $DIFF99) ms" "<= 1 ms"
row "    cold: $(lat "$W/keyturnd-cold")" "" ""
row "    warm: $(lat "$W/keyturnd-warm")" "" ""
row "    keyturnd CPU per message, cold; warm (RSA + Ed25519)" \
    "$(cat "$W/keyturnd-cold.cpu"); $(cat "$W/keyturnd-warm.cpu") us" ""
skip floor ||
    row "    warm CPU: keyturnd / floor -k, 2 KB, c=1 (median)" \
    "${FLOOR_RATIO:--}" "<= 1.05x"
row "(c) VmRSS, $((SAMPLE + 1)) domains have sent mail" \
    "$(mb "$RSS_SAMPLE") MB" "<= 300 MB (10,000 domains)"
skip sweep ||
    row "    VmRSS (VmHWM), all $N domains have sent mail" \
    "$(mb "$RSS_ALL") ($(mb "$HWM_ALL")) MB" "<= 1024 MB"
row "(d) command exit to new selector signing (max of $(wc -l <"$W/changes"))" \
    "$CHANGE_MAX ms" "<= 1000 ms"
row "    keyturnd CPU per change, $k (utime+stime; run time)" \
    "$CHG_TICK; $CHG_NS ms" "O(domain)"
row "    a walk of all $N domains (list, 2 stats each), CPU" \
    "$WALK_MS ms" ""
if ! skip opendkim; then
	row "(e) start: keyturnd; keyturnd rsa; OpenDKIM" \
	    "$START_MED; $KT_RSA_START; $OD_START ms" ""
	row "    VmRSS after the sample: same" \
	    "$(mb "$RSS_SAMPLE"); $(mb "$KT_RSA_RSS"); $(mb "$OD_RSS") MB" ""
	row "    CPU per message, cold; warm: keyturnd (2 signatures)" \
	    "$(cat "$W/keyturnd-cold.cpu"); $(cat "$W/keyturnd-warm.cpu") us" ""
	row "                                 keyturnd rsa (1 signature)" \
	    "$(cat "$W/keyturnd-rsa-cold.cpu"); $(cat "$W/keyturnd-rsa-warm.cpu") us" ""
	row "                                 OpenDKIM (1 signature)" \
	    "$(cat "$W/opendkim-cold.cpu"); $(cat "$W/opendkim-warm.cpu") us" ""
	row "    latency, cold: keyturnd rsa $(lat "$W/keyturnd-rsa-cold")" "" ""
	row "                   OpenDKIM     $(lat "$W/opendkim-cold")" "" ""
	row "    latency, warm: keyturnd rsa $(lat "$W/keyturnd-rsa-warm")" "" ""
	row "                   OpenDKIM     $(lat "$W/opendkim-warm")" "" ""
fi
