#!/bin/sh
# fleet_bench.sh - what a fleet costs: a swap's way to every keyturnd, the
# mirror's sync, the CPU per message
#
# SYNOPSIS
#   fleet_bench.sh [swap | sync | cpu | all]      (default all)
#
# Three etcd members on 127.0.0.1-3 (t/lib/etcd.sh: raft at test speed,
# heartbeat 50 ms, election 500 ms), started once; each part has a prefix
# of its own (/bench-swap/, /bench-sync/, /bench-cpu/) and its own
# keyturnd, all with Rotation no. Nothing leaves 127.0.0.0/8.
#
# swap - swap propagation. Three keyturnd (LogLevel info, FleetLeaseTTL
#   2s), each with its own mirror; fb.test signs with ed25519,
#   --active-keys 2, one key active. t/bench/fleet_swap.py sends messages
#   back to back to each daemon (one thread each, one t/miltc per message)
#   while it makes BENCH_SWAPS (100) swaps through daemon 1's
#   configuration: key new sN, then activate sN --force (t0 before, t1
#   after: the etcd commit is done when it returns), then, once every
#   daemon has completed a message signed with sN, retire s(N-1) --force.
#   Printed: p50, p90 and max over the swaps of t1 (and t0) to the first
#   message signed with sN of the last daemon, the same per daemon, and
#   the senders' message rates (the measurement's granularity: with two
#   active keys keyturnd round-robins, so the first message after the
#   update may still carry the old key). Daemon 1 shares its mirror with
#   the command, which writes the mirror itself: daemon 1 sees the change
#   as it sees a local write (the keystore's generation, looked at five
#   times a second), daemons 2 and 3 through etcd's watch.
#
# sync - the mirror at BENCH_FLEET_DOMAINS (10,000) domains: the keystore
#   of t/bench/keystore_bench (-B -n N; built once into BENCH_KS_CACHE,
#   default $KEYTURN_BENCH_CACHE, else /var/tmp/keyturn-bench, as the
#   other benches do; only read here) is uploaded with keyturn fleet push
#   (timed). A keyturnd (LogLevel debug, FleetLeaseTTL at its default)
#   starts on an empty mirror (keyturn init): wall time from exec to its
#   line "fleet: at start, the mirror is etcd's at revision" (the log's
#   time stamp; keyturnd serves from then on) and its CPU then
#   (utime+stime, /proc/PID/stat, of both its processes: the parent
#   loads the keystore before it forks, the signing process syncs the
#   mirror), the mirror's size on disk; then a
#   restart on the full mirror (it catches up from its .fleet-revision),
#   the same figures. Then what one keyturn -c CONF list DOMAIN takes at
#   that many domains through a configuration with a mirror of its own:
#   on its empty mirror (the whole prefix read), then on the full one
#   (the keys written since its .fleet-revision).
#   Then 20 one-domain changes through that configuration (keyturn key new
#   dN --algorithm ed25519 --selector fbkI, one domain): for each, from the
#   command's return (and its start) to the daemon's log line "fleet:
#   DOMAIN follows etcd" (its mirror's state file then holds the
#   selector). The daemon's CPU per change: before the first to after the
#   last, / 20 (idle included, while each command catches its own
#   mirror up); and within a window per
#   change, from when the key file appears in the command's mirror (the
#   command writes its mirror, then commits to etcd) to 0.3 s after the
#   daemon's line, net of its idle rate (measured for 10 s before), in
#   utime+stime (/proc/PID/stat, 10 ms ticks) and in its threads' run time
#   (/proc/PID/task/*/schedstat, ns), both of its signing process: the
#   parent's only child, which runs the mirror's threads and signs while
#   the parent waits for it (keyturnd(8), PROCESSES).
#
# cpu - CPU per message, fleet mirror against a local keystore: one local
#   keystore with example.com (t/bench/milter_bench.sh's messages are
#   From: alice@example.com) signing with one RSA-2048 key, a copy of it
#   pushed into /bench-cpu/, and a keyturnd on a fresh mirror of that
#   prefix (FleetLeaseTTL at its default); BENCH_ROUNDS (5) rounds of
#   `milter_bench.sh run` for each (2 KB, concurrency 1, keyturnd started
#   afresh for each row, LogLevel warning), their order alternating;
#   each round's rows, the ratio fleet/local of cpu_us, and the median
#   ratio.
#
# Environment: top_builddir (as the other benches: the build directory,
# default _b beside the sources, else the sources), BENCH_SWAPS,
# BENCH_FLEET_DOMAINS, BENCH_KS_CACHE, BENCH_ROUNDS, BENCH_KEEP=1 keeps
# the work directory (/tmp/kt-fleet.XXXXXX) and etcd's. Needs etcd and
# etcdctl, python3, and keyturn, keyturnd, t/miltc, t/bench/keystore_bench
# and (for cpu) t/bench/floor and t/bench/rawcost built:
#   make t/miltc t/bench/keystore_bench t/bench/floor t/bench/rawcost
#
# Not a test: prints numbers and asserts no speed; exits non-zero only
# when something fails.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
: "${top_builddir:=$top_srcdir/_b}"
[ -x "$top_builddir/t/miltc" ] || top_builddir=$top_srcdir
export top_builddir
KEYTURN=$top_builddir/keystore/keyturn
KEYTURND=$top_builddir/keyturnd
MILTC=$top_builddir/t/miltc
KSBENCH=$top_builddir/t/bench/keystore_bench
PYTHON3=${PYTHON3:-/usr/bin/python3}
TCK=$(getconf CLK_TCK)
SWAPS=${BENCH_SWAPS:-100}
NDOM=${BENCH_FLEET_DOMAINS:-10000}
KS_CACHE=${BENCH_KS_CACHE:-${KEYTURN_BENCH_CACHE:-/var/tmp/keyturn-bench}}
ROUNDS=${BENCH_ROUNDS:-5}
CHANGES=20

. "$top_srcdir/t/lib/etcd.sh"

PARTS=${1:-all}
case $PARTS in
all) PARTS="swap sync cpu" ;;
swap|sync|cpu) ;;
*) echo "usage: fleet_bench.sh [swap|sync|cpu|all]" >&2; exit 2 ;;
esac

need() {
	for _p; do
		[ -x "$_p" ] || { echo "fleet_bench: $_p not built (make)" >&2
			exit 1; }
	done
}
need "$KEYTURN" "$KEYTURND" "$MILTC"
case " $PARTS " in *" sync "*) need "$KSBENCH" ;; esac
case " $PARTS " in *" cpu "*)
	need "$top_builddir/t/bench/floor" "$top_builddir/t/bench/rawcost" ;;
esac
etcd_available || { echo "fleet_bench: etcd or etcdctl missing" >&2; exit 1; }

W=$(mktemp -d /tmp/kt-fleet.XXXXXX) || exit 1
chmod 755 "$W"
DAEMONS=		# names of the keyturnd running (their pid in PID_name)

fail() {
	echo "fleet_bench: $*" >&2
	exit 1
}

# now_ns - CLOCK_REALTIME in ns
now_ns() {
	date +%s%N
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

# secs TICKS - in seconds
secs() {
	awk -v t="$1" -v k="$TCK" 'BEGIN { printf "%.2f", t / k }'
}

# ms NS - nanoseconds in ms, one decimal
ms() {
	awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'
}

# stamp_ns LINE - the time stamp of a keyturnd -f log line, in ns
stamp_ns() {
	date -u -d "${1%%Z *}Z" +%s%N
}

# kt ARGS... - the keyturn CLI, its output in $W/keyturn.log
kt() {
	echo "\$ keyturn $*" >>"$W/keyturn.log"
	"$KEYTURN" "$@" >>"$W/keyturn.log" 2>&1 ||
	    { tail -5 "$W/keyturn.log" >&2; fail "keyturn $* failed"; }
}

# conf FILE KEYSTORE SOCKET [LINE...] - a keyturnd configuration
conf() {
	_f=$1 _ks=$2 _sock=$3
	shift 3
	{
		echo "Socket unix:$_sock"
		echo "KeyStore $_ks"
		echo "Rotation no"
		[ "$(id -u)" = 0 ] && echo "AllowRoot yes"
		for _l; do echo "$_l"; done
	} >"$_f"
}

# fleet_lines PREFIX - the configuration lines of a fleet under PREFIX
fleet_lines() {
	echo "FleetEndpoints $KT_ETCD_ENDPOINTS"
	echo "FleetKEK $W/kek"
	echo "FleetPrefix $1"
}

# start NAME CONF SOCKET LOG - keyturnd -f -c CONF in the background, its
# pid in PID_NAME and the time of its exec in $W/NAME.t0; returns at once
start() {
	rm -f "$3"
	(now_ns >"$W/$1.t0"; exec "$KEYTURND" -f -c "$2") >>"$4" 2>&1 &
	eval "PID_$1=$!"
	DAEMONS="$DAEMONS $1"
}

# pid NAME
pid() {
	eval "echo \${PID_$1:-}"
}

# signer NAME - the pid of its signing process, the only child of the
# keyturnd started (keyturnd(8), PROCESSES), once there is one; the bound
# only catches a keyturnd that never forks
signer() {
	_i=0
	until _c=$(ps -o pid= --ppid "$(pid "$1")" | tr -d ' ') &&
	    [ -n "$_c" ]; do
		_i=$((_i + 1))
		[ $_i -gt 6000 ] && fail "keyturnd $1: no signing process"
		sleep 0.05
	done
	echo "$_c"
}

# daemon_ticks NAME - utime+stime of keyturnd NAME and its signing process
daemon_ticks() {
	echo $(($(cpu_ticks "$(pid "$1")") + $(cpu_ticks "$(signer "$1")")))
}

# ready NAME SOCKET LOG - until its socket listens
ready() {
	_i=0
	while ! listening "$2"; do
		kill -0 "$(pid "$1")" 2>/dev/null ||
		    { tail -20 "$3" >&2; fail "keyturnd $1 died at start"; }
		_i=$((_i + 1))
		[ $_i -gt 6000 ] && fail "keyturnd $1: no socket after 300 s"
		sleep 0.05
	done
}

# stop NAME - SIGTERM, and its exit
stop() {
	_p=$(pid "$1")
	[ -n "$_p" ] || return 0
	kill -TERM "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PID_$1="
	DAEMONS=$(echo "$DAEMONS" | sed "s/ $1\$//; s/ $1 / /")
}

# await_line NAME LOG TEXT [SKIP] - until LOG has more than SKIP lines
# (default 0) holding TEXT (fixed string); the last such line in LINE,
# the daemon's CPU ticks right then (its two processes') in TICKS
await_line() {
	_n=${4:-0}
	_i=0
	until [ "$(grep -cF -- "$3" "$2")" -gt "$_n" ]; do
		kill -0 "$(pid "$1")" 2>/dev/null ||
		    { tail -20 "$2" >&2; fail "keyturnd $1 died"; }
		_i=$((_i + 1))
		[ $_i -gt 180000 ] && fail "keyturnd $1: no \"$3\" after an hour"
		sleep 0.02
	done
	TICKS=$(daemon_ticks "$1")
	LINE=$(grep -F -- "$3" "$2" | tail -1)
}

cleanup() {
	for _d in $DAEMONS; do
		_p=$(pid "$_d")
		[ -n "$_p" ] && kill -KILL "$_p" 2>/dev/null && wait "$_p" 2>/dev/null
	done
	etcd_stop_all
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "fleet_bench: kept $W and $KT_ETCD_DIR" >&2
	else
		rm -rf "$W" "$KT_ETCD_DIR"
	fi
}

etcd_init || fail "etcd_init"
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
etcd_cluster 3 || fail "cannot start etcd"
(umask 077; head -c 32 /dev/urandom >"$W/kek")
echo "fleet_bench: $(nproc) CPUs, $(uname -r), etcd $("$ETCD" --version |
    sed -n 's/^etcd Version: //p') x3 on $KT_ETCD_ENDPOINTS, work" \
    "directory $W; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- swap
part_swap() {
	echo
	echo "swap propagation: 3 keyturnd (FleetLeaseTTL 2s), $SWAPS swaps"
	for i in 1 2 3; do
		conf "$W/k$i.conf" "$W/ks$i" "$W/s$i" "LogLevel info" \
		    "FleetLeaseTTL 2s"
		fleet_lines /bench-swap/ >>"$W/k$i.conf"
		kt -c "$W/k$i.conf" init
	done
	kt -c "$W/k1.conf" domain add fb.test --algorithms ed25519 \
	    --active-keys 2
	kt -c "$W/k1.conf" key new fb.test --algorithm ed25519 --selector s0
	kt -c "$W/k1.conf" activate fb.test s0 --force
	for i in 1 2 3; do
		start k$i "$W/k$i.conf" "$W/s$i" "$W/k$i.log"
	done
	for i in 1 2 3; do
		ready k$i "$W/s$i" "$W/k$i.log"
	done
	printf 'From: Alice <alice@fb.test>\nTo: bob@example.org\nSubject: fleet swap\nDate: Sun, 22 Nov 2026 21:00:00 +0000\nMessage-ID: <swap@fb.test>\n\nHello,\n\nthis is a benchmark message.\n' \
	    >"$W/swap.eml"
	"$PYTHON3" "$here/fleet_swap.py" --keyturn "$KEYTURN" \
	    --conf "$W/k1.conf" --miltc "$MILTC" --msg "$W/swap.eml" \
	    --domain fb.test --work "$W" --swaps "$SWAPS" \
	    "$W/s1" "$W/s2" "$W/s3" || {
		for i in 1 2 3; do
			grep -v ' signed d=' "$W/k$i.log" | tail -5 >&2
		done
		fail "fleet_swap.py failed"
	}
	for i in 1 2 3; do
		stop k$i
	done
}

# ---- sync
# measure_start NAME CONF SOCKET LOG - keyturnd started, and waited for
# until it serves with its mirror synced (before it serves; the mirror
# thread then watches from there); prints what it took
measure_start() {
	: >"$4"
	start "$1" "$2" "$3" "$4"
	await_line "$1" "$4" "fleet: at start, the mirror is etcd's at revision"
	_t0=$(cat "$W/$1.t0")
	_a=$(($(stamp_ns "$LINE") - _t0)) _at=$TICKS
	_what=$(echo "$LINE" | sed 's/.*revision [0-9]* (\(.*\))$/\1/')
	ready "$1" "$3" "$4"
	printf '  %-36s %9s ms  %6s s CPU   (%s)\n' \
	    "exec -> mirror synced, serving" "$(ms $_a)" "$(secs "$_at")" \
	    "$_what"
}

part_sync() {
	echo
	echo "mirror sync at $NDOM domains"
	"$KSBENCH" -B -n "$NDOM" -k "$KS_CACHE" >"$W/ksbench.out" 2>&1 ||
	    { cat "$W/ksbench.out" >&2; fail "keystore_bench -B failed"; }
	KS=$(sed -n 's/^keystore //p' "$KS_CACHE/$NDOM/fixture")
	[ -d "$KS" ] || fail "no keystore in $KS_CACHE/$NDOM/fixture"
	echo "  keystore $KS (t/bench/keystore_bench: 2 RSA-2048 keys and 1" \
	    "Ed25519 key per domain, $(du -sk "$KS" | cut -f1) kB)"
	fleet_lines /bench-sync/ >"$W/fl-sync"
	conf "$W/push.conf" "$KS" "$W/push.sock"
	cat "$W/fl-sync" >>"$W/push.conf"
	_t0=$(now_ns)
	"$KEYTURN" -c "$W/push.conf" fleet push >"$W/push.out" 2>&1 ||
	    fail "fleet push: $(cat "$W/push.out")"
	_t1=$(now_ns)
	printf '  %-36s %9s ms   (%s)\n' "keyturn fleet push" \
	    "$(ms $((_t1 - _t0)))" "$(head -1 "$W/push.out")"
	echo "  etcd: $(etcdctl_ endpoint status -w table 2>/dev/null |
	    awk -F'|' 'NR == 4 { gsub(/^ +| +$/, "", $5); print "db " $5 }')," \
	    "$(etcdctl_ get --prefix /bench-sync/ --keys-only --limit 1 -w json \
	    2>/dev/null | sed -n 's/.*"count":\([0-9]*\).*/\1/p') keys under" \
	    "/bench-sync/"

	conf "$W/m.conf" "$W/mirror" "$W/m.sock" "LogLevel debug"
	cat "$W/fl-sync" >>"$W/m.conf"
	kt -c "$W/m.conf" init
	echo "  keyturnd on an empty mirror:"
	measure_start m "$W/m.conf" "$W/m.sock" "$W/m1.log"
	_du=$(du -sk "$W/mirror" | cut -f1)
	_files=$(find "$W/mirror" -type f | wc -l)
	echo "  mirror on disk: $_du kB, $_files files ($(du -sk --apparent-size "$W/mirror" | cut -f1) kB apparent)"
	stop m
	echo "  keyturnd restarted on the full mirror:"
	measure_start m "$W/m.conf" "$W/m.sock" "$W/m2.log"

	# the CLI, with a mirror of its own
	conf "$W/c.conf" "$W/cmirror" "$W/c.sock"
	cat "$W/fl-sync" >>"$W/c.conf"
	kt -c "$W/c.conf" init
	D=d$((NDOM / 2)).bench.example
	_t0=$(now_ns)
	kt -c "$W/c.conf" list "$D"
	_t1=$(now_ns)
	kt -c "$W/c.conf" list "$D"
	_t2=$(now_ns)
	echo "  keyturn -c CONF list $D (a mirror of its own; each command"
	echo "  first catches it up with etcd since its .fleet-revision):"
	printf '  %-36s %9s ms\n' "on an empty mirror (fills it)" \
	    "$(ms $((_t1 - _t0)))"
	printf '  %-36s %9s ms\n' "on the full mirror (nothing to write)" \
	    "$(ms $((_t2 - _t1)))"

	# one-domain changes. The daemon's CPU is taken before the first and
	# after the last (the whole span, idle included: each command catches
	# the CLI's mirror up first), and around each change: from when the key
	# file appears in the CLI's mirror (the command writes its mirror,
	# then commits to etcd: the daemon cannot have seen it yet) to 0.3 s
	# after the daemon's log line, net of the idle rate measured before;
	# the signing process's, which runs the mirror's threads.
	_p=$(signer m)
	sleep 1
	_i0=$(now_ns) _c0=$(cpu_ticks "$_p") _n0=$(run_ns "$_p")
	sleep 10
	_i1=$(now_ns) _c1=$(cpu_ticks "$_p") _n1=$(run_ns "$_p")
	"$PYTHON3" - "$KEYTURN" "$W/c.conf" "$D" "$CHANGES" "$_p" "$W/m2.log" \
	    "$W/cmirror" "$W/mirror" >"$W/changes" <<'PY' ||
import glob, os, subprocess, sys, time
from datetime import datetime, timezone
keyturn, conf, dom, n, pid, log, cmirror, mirror = sys.argv[1:]
n = int(n)
tck = os.sysconf("SC_CLK_TCK")
def ticks():
    with open("/proc/%s/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])
def run_ns():
    t = 0
    for p in glob.glob("/proc/%s/task/*/schedstat" % pid):
        try:
            with open(p) as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t
def follows():
    with open(log) as f:
        return [l for l in f if ("fleet: %s follows etcd" % dom) in l]
def stamp(line):
    d = datetime.strptime(line.split("Z ", 1)[0], "%Y-%m-%dT%H:%M:%S.%f")
    return int(d.replace(tzinfo=timezone.utc).timestamp() * 1e9)
for k in range(1, n + 1):
    sel = "fbk%d" % k
    key = os.path.join(cmirror, dom, "keys", sel + ".pem")
    seen = len(follows())
    t0 = time.time_ns()
    cli = subprocess.Popen([keyturn, "-c", conf, "key", "new", dom,
        "--algorithm", "ed25519", "--selector", sel],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    # the command writes its mirror, then commits to etcd: the daemon's
    # CPU is read once the key file is there, before the commit
    while not os.path.exists(key) and cli.poll() is None:
        time.sleep(0.001)
    wa, ca, na = time.monotonic_ns(), ticks(), run_ns()
    early = len(follows()) > seen
    out = cli.communicate()[0]
    t1 = time.time_ns()
    if cli.returncode != 0:
        sys.exit("keyturn key new %s: %s" % (dom, out.decode().strip()))
    end = time.monotonic() + 600
    while len(follows()) <= seen:
        if time.monotonic() > end:
            sys.exit("the daemon never followed %s's change %s" % (dom, sel))
        time.sleep(0.002)
    ts = stamp(follows()[-1])
    with open(os.path.join(mirror, dom, "state")) as f:
        if sel not in f.read():
            sys.exit("%s followed etcd without %s" % (dom, sel))
    time.sleep(0.3)
    wb, cb, nb = time.monotonic_ns(), ticks(), run_ns()
    print(t1 - t0, ts - t1, ts - t0, wb - wa, cb - ca, nb - na, int(early))
    sys.stdout.flush()
PY
	    fail "the changes failed"
	_i2=$(now_ns) _c2=$(cpu_ticks "$_p") _n2=$(run_ns "$_p")
	awk -v n=$CHANGES -v tck="$TCK" -v i0="$_i0" -v i1="$_i1" -v i2="$_i2" \
	    -v c0="$_c0" -v c1="$_c1" -v c2="$_c2" -v n0="$_n0" -v n1="$_n1" \
	    -v n2="$_n2" -v dom="$D" '
	{ cli[NR] = $1; a[NR] = $2; b[NR] = $3
	  win += $4; wt += $5; wn += $6; early += $7 }
	function sort(v, k,   i, j, t) {
		for (i = 2; i <= k; i++)
			for (j = i; j > 1 && v[j] < v[j - 1]; j--) {
				t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
			}
	}
	function p(v, q,   k) { k = int((q * NR + 99) / 100); if (k < 1) k = 1
		return v[k] / 1e6 }
	END {
		sort(cli, NR); sort(a, NR); sort(b, NR)
		printf "  %d changes of %s (keyturn key new --algorithm ed25519):\n", NR, dom
		printf "  %-36s p50 %8.1f  p90 %8.1f  max %8.1f ms\n", \
		    "keyturn key new (the whole command)", p(cli, 50), p(cli, 90), cli[NR] / 1e6
		printf "  %-36s p50 %8.1f  p90 %8.1f  max %8.1f ms\n", \
		    "command returned -> daemon follows", p(a, 50), p(a, 90), a[NR] / 1e6
		printf "  %-36s p50 %8.1f  p90 %8.1f  max %8.1f ms\n", \
		    "command started -> daemon follows", p(b, 50), p(b, 90), b[NR] / 1e6
		idle_t = (c1 - c0) / tck / ((i1 - i0) / 1e9)
		idle_n = (n1 - n0) / 1e9 / ((i1 - i0) / 1e9)
		span = (i2 - i1) / 1e9
		printf "  daemon idle: %.2f ms CPU per second (utime+stime), %.2f ms (run time)\n", \
		    idle_t * 1e3, idle_n * 1e3
		printf "  daemon CPU per change, first to last / %d: %.1f ms utime+stime, %.1f ms run time\n", \
		    n, (c2 - c1) / tck / n * 1e3, (n2 - n1) / 1e9 / n * 1e3
		printf "    (%.0f s, idle included: %.1f ms per change at the idle rate)\n", \
		    span, idle_n * span / n * 1e3
		printf "  daemon CPU per change, its window only (%.2f s on average), net of idle:\n", \
		    win / 1e9 / NR
		printf "    %.1f ms utime+stime (10 ms ticks), %.1f ms run time\n", \
		    (wt / tck - idle_t * win / 1e9) / NR * 1e3, \
		    (wn / 1e9 - idle_n * win / 1e9) / NR * 1e3
		if (early)
			printf "    (%d windows began after the daemon had followed)\n", early
	}' "$W/changes"
	stop m
}

# ---- cpu
# mb_row NAME CONF SOCK - one milter_bench.sh run row; the row on stdout
mb_row() {
	BENCH_SIZES=2k BENCH_CONC=1 BENCH_DIR=$W/mb top_builddir=$top_builddir \
	    sh "$here/milter_bench.sh" run "$1" "unix:$3" \
	    "$KEYTURND" -f -c "$2" >"$W/mb.out" 2>&1 ||
	    { cat "$W/mb.out" >&2; fail "milter_bench.sh run $1 failed"; }
	awk -v n="$1" '$1 == n' "$W/mb.out"
}

part_cpu() {
	echo
	echo "CPU per message, fleet mirror vs local keystore (milter_bench.sh" \
	    "run, 2 KB, concurrency 1, $ROUNDS rounds)"
	L=$W/cpu-local
	kt -K "$L" init
	kt -K "$L" domain add example.com --algorithms rsa
	kt -K "$L" key new example.com --algorithm rsa --bits 2048 --selector b1
	kt -K "$L" activate example.com b1 --force
	cp -a "$L" "$W/cpu-pushed"
	fleet_lines /bench-cpu/ >"$W/fl-cpu"
	conf "$W/cpu-push.conf" "$W/cpu-pushed" "$W/cpu-push.sock"
	cat "$W/fl-cpu" >>"$W/cpu-push.conf"
	kt -c "$W/cpu-push.conf" fleet push
	mkdir -p "$W/mb"
	conf "$W/local.conf" "$L" "$W/mb/local.sock" "LogLevel warning"
	conf "$W/fleet.conf" "$W/cpu-mirror" "$W/mb/fleet.sock" \
	    "LogLevel warning"
	cat "$W/fl-cpu" >>"$W/fleet.conf"
	kt -c "$W/fleet.conf" init
	# both sign the message with b1
	printf 'From: Alice <alice@example.com>\nTo: bob@example.net\nSubject: check\n\nHello.\n' \
	    >"$W/cpu-check.eml"
	for _d in local fleet; do
		start "cpu_$_d" "$W/$_d.conf" "$W/mb/$_d.sock" "$W/cpu-$_d.log"
		ready "cpu_$_d" "$W/mb/$_d.sock" "$W/cpu-$_d.log"
		"$MILTC" -s "unix:$W/mb/$_d.sock" -t 30 -o "$W/cpu-$_d.eml" \
		    --client 127.0.0.1 "$W/cpu-check.eml" >/dev/null ||
		    fail "miltc to keyturnd-$_d"
		grep -q '^DKIM-Signature:.* d=example.com; s=b1;' "$W/cpu-$_d.eml" ||
		    fail "keyturnd-$_d did not sign with example.com's b1: $(head -3 "$W/cpu-$_d.eml")"
		stop "cpu_$_d"
	done
	printf '  %-5s %-16s %5s %4s %6s %10s %9s %8s %8s %8s\n' round daemon \
	    size conc msgs cpu_us msgs/s p50_ms p99_ms rss_kB
	: >"$W/ratios"
	_r=1
	while [ $_r -le "$ROUNDS" ]; do
		if [ $((_r % 2)) = 1 ]; then _o="local fleet"; else _o="fleet local"; fi
		for _d in $_o; do
			_row=$(mb_row "keyturnd-$_d" "$W/$_d.conf" "$W/mb/$_d.sock")
			[ -n "$_row" ] || fail "no row for keyturnd-$_d"
			echo "  $_r     $_row"
			eval "CPU_$_d=$(echo "$_row" | awk '{ print $5 }')"
		done
		_x=$(awk -v f="$CPU_fleet" -v l="$CPU_local" \
		    'BEGIN { printf "%.3f", f / l }')
		echo "  $_r     fleet/local cpu_us: $_x"
		echo "$_x" >>"$W/ratios"
		_r=$((_r + 1))
	done
	sort -n "$W/ratios" | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "  median fleet/local cpu_us over %d rounds: %.3f [%.3f-%.3f]\n",
		    NR, m, v[1], v[NR] }'
}

for part in $PARTS; do
	part_$part
done
echo
echo "fleet_bench: done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
