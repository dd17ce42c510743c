#!/bin/sh
# milter_bench.sh - what a signing milter costs, measured from the outside
#
# SYNOPSIS
#   milter_bench.sh [all]
#       floor filter, floor -k with each key, OpenDKIM RSA-2048, OpenDKIM
#       Ed25519, keyturnd RSA-2048 and keyturnd Ed25519 (same keys), then
#       the raw crypto costs; one table, then ratios.
#   milter_bench.sh soak NAME SOCKET COMMAND...
#       100,000 messages (BENCH_SOAK) of 2 KB at concurrency 4 in batches
#       of a tenth, printing the daemon's VmRSS and VmHWM after each: a
#       daemon that leaks grows here.
#   milter_bench.sh run NAME SOCKET COMMAND...
#       one daemon: COMMAND must stay in the foreground and listen on
#       SOCKET (unix:/path or inet:PORT@HOST); it is started afresh for
#       every row so each row's peak RSS is its own.
#
# For each message size (2 KB, 100 KB, 10 MB) and concurrency (1, 4, 16)
# t/miltc sends N messages after a warm-up whose CPU cost sets N (about
# 1.5 s of daemon CPU, within per-size bounds). Each message is one SMTP
# session in Postfix style on a milter connection of its own, which is
# what Postfix does (it opens a new connection to each milter for every
# SMTP client, since libmilter closes the connection when the client
# leaves) and Sendmail too; BENCH_CONN=persistent keeps one connection per
# client thread instead, sessions separated by QUIT_NC, which leaves out
# the connection's own cost (accept, a thread, the connect callback). The
# row reports:
#   cpu_us    the daemon's own CPU per message: utime+stime of its pid in
#             /proc/PID/stat over the measured messages (the client's cost
#             is not in it; 10 ms tick resolution, hence N of a few thousand)
#   msgs/s    messages per second seen by the client
#   p50/p99   latency per message, first command to final reply (ms)
#   rss_kB    the daemon's peak RSS, VmHWM from /proc/PID/status
# For keyturnd, PID is its signing process, the only child of the
# supervising parent started here (keyturnd(8), PROCESSES), which does all
# the work; the parent only waits for it (the floor and OpenDKIM -f are
# one process). The soak's VmRSS and VmHWM are the signing process's too.
# The rows floor-rsa and floor-ed are the floor doing the raw work of a
# signer itself (floor -k: SHA-256 of the body bytes, one signature with
# the same key). The daemons of one size and concurrency run back to back
# (in reverse order every other round), and after them t/bench/rawcost
# times one RSA-2048 and one Ed25519 signature with the same keys and
# SHA-256 over the same body bytes (their medians over all cells and
# rounds are printed). At the end two tables of ratios at each
# concurrency: keyturnd against the issue's references (floor at the same
# concurrency + one signature for 2 KB, + SHA-256 of the body for 10 MB),
# and keyturnd against floor -k. Each ratio is taken within one round
# from the rows and raw costs of one size and concurrency, measured
# minutes apart at most rather than a whole round apart, since the load on
# a shared machine drifts; with rounds, a cell shows the median of its
# rounds' ratios and their range.
#
# The rows keyturnd-cold and keyturnd-warm run keyturnd on the keystore of
# a provider: BENCH_KS_DOMAINS domains (default 1,000,000) with an active
# RSA-2048 key, an active Ed25519 key and a ready RSA-2048 standby each,
# which t/bench/keystore_bench builds once into BENCH_KS_CACHE (default
# $KEYTURN_BENCH_CACHE, else /var/tmp/keyturn-bench) and reuses. keyturnd
# signs there with Algorithms rsa, one RSA-2048 signature per message as
# keyturnd-rsa and floor-rsa make, and t/bench/domsend sends the messages
# (t/miltc's conversation, each message From: a domain of the keystore).
# keyturnd-cold: every message of the row, warm-up included, comes from a
# domain keyturnd has not read since it started, so each one parses its
# domain's keys first (as many domains as the keystore has, at most);
# keyturnd-warm: BENCH_KS_WARM domains (1,000) send one message each
# before the warm-up and the row's messages cycle over them. Before each
# row the files of its domains are read once (page cache), keyturnd is
# started afresh and waited for until it signs (a message from d0, outside
# the row's domains). They are in the default rows when that keystore is
# built already (building a million domains takes minutes and about 33 GB:
# t/bench/keystore_bench -B -n 1000000); naming them in BENCH_DAEMONS
# builds it.
#
# Environment: BENCH_CONC ("1 4 16"), BENCH_SIZES ("2k 100k 10m"),
# BENCH_DAEMONS (the rows to run, of "floor floor-rsa floor-ed
# opendkim-rsa opendkim-ed keyturnd-rsa keyturnd-ed keyturnd-cold
# keyturnd-warm"; the references need floor),
# BENCH_ROUNDS (runs every row that many times and reports the median of
# each row and of each ratio; default 1),
# BENCH_SCALE (multiplies the message counts; default 1),
# BENCH_PIN (none, the default: the scheduler places daemon and client;
# split: the daemon and rawcost on the last CPU, t/miltc on the others;
# same: all on CPU 0. A daemon's CPU per message depends on the
# placement, since waking a process on another CPU costs the waker an
# interrupt, which a virtual machine makes dear: left free, a row at
# concurrency 1 lands between the split and the same costs, differently
# from one row to the next. Pinned, the rows at concurrency 1 repeat
# closely, but at 16 the daemon has one CPU for 16 sessions),
# BENCH_CONN (session: a milter connection per SMTP session, the default;
# persistent: one per client thread), BENCH_MILTC_OPTS (more t/miltc
# options: "-k 10" sends ten messages per session), BENCH_KEEP=1 keeps the
# work directory.
#
# OpenDKIM runs with Mode s, Canonicalization relaxed/relaxed, its other
# settings at their defaults, except RequireSafeKeys no (the work directory
# is under /tmp, which OpenDKIM would refuse at start-up; no effect per
# message). Not a test: prints numbers, exits non-zero only on errors.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/listening.sh"
: "${top_builddir:=$(cd "$here/../.." && pwd)/_b}"
[ -x "$top_builddir/t/miltc" ] || top_builddir=$(cd "$here/../.." && pwd)
MILTC=$top_builddir/t/miltc
FLOOR=$top_builddir/t/bench/floor
RAWCOST=$top_builddir/t/bench/rawcost
KEYTURN=$top_builddir/keystore/keyturn
KEYTURND=$top_builddir/keyturnd
CONC=${BENCH_CONC:-1 4 16}
SIZES=${BENCH_SIZES:-2k 100k 10m}
SCALE=${BENCH_SCALE:-1}
ROUNDS=${BENCH_ROUNDS:-1}
case ${BENCH_CONN:-session} in
session) MILTC_OPTS="-R ${BENCH_MILTC_OPTS:-}" ;;
persistent) MILTC_OPTS=${BENCH_MILTC_OPTS:-} ;;
*) echo "milter_bench: BENCH_CONN: want session or persistent" >&2; exit 2 ;;
esac
ALL_DAEMONS="floor floor-rsa floor-ed opendkim-rsa opendkim-ed keyturnd-rsa keyturnd-ed"
DAEMONS=${BENCH_DAEMONS:-$ALL_DAEMONS}
# the rows on the keystore of many domains (see above)
DOMSEND=$top_builddir/t/bench/domsend
KSBENCH=$top_builddir/t/bench/keystore_bench
KS_N=${BENCH_KS_DOMAINS:-1000000}
KS_CACHE=${BENCH_KS_CACHE:-${KEYTURN_BENCH_CACHE:-/var/tmp/keyturn-bench}}
KS_WARM=${BENCH_KS_WARM:-1000}
[ -z "${BENCH_DAEMONS:-}" ] && [ -f "$KS_CACHE/$KS_N/fixture" ] &&
    DAEMONS="$DAEMONS keyturnd-cold keyturnd-warm"
ALL_DAEMONS="$ALL_DAEMONS keyturnd-cold keyturnd-warm"
# DPIN and CPIN: the CPUs of the daemon (and rawcost) and of the client
NCPU=$(nproc)
case ${BENCH_PIN:-none} in
split)	if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
		DPIN="taskset -c $((NCPU - 1))"
		CPIN="taskset -c 0-$((NCPU - 2))"
	else
		DPIN= CPIN=
	fi ;;
same)	DPIN="taskset -c 0" CPIN="taskset -c 0" ;;
none)	DPIN= CPIN= ;;
*) echo "milter_bench: BENCH_PIN: want split, same or none" >&2; exit 2 ;;
esac
TCK=$(getconf CLK_TCK)

for p in "$MILTC" "$FLOOR" "$RAWCOST"; do
	[ -x "$p" ] || { echo "milter_bench: $p not built (make)" >&2; exit 1; }
done

# limits SIZE - "MIN MAX" messages per row for a size; between them the
# count is chosen so the daemon spends about 1.5 s of CPU (150 ticks)
limits() {
	case $1 in
	2k) echo $((2000 * SCALE)) $((30000 * SCALE)) ;;
	100k) echo $((300 * SCALE)) $((3000 * SCALE)) ;;
	10m) echo $((16 * SCALE)) $((200 * SCALE)) ;;
	esac
}

# count SIZE WARM TICKS - messages for a row, from the warm-up's CPU
count() {
	set -- "$1" "$2" "$3" $(limits "$1")
	if [ "$3" -le 0 ]; then echo "$5"; return; fi
	_c=$((150 * $2 / $3))
	[ $_c -lt "$4" ] && _c=$4
	[ $_c -gt "$5" ] && _c=$5
	echo $_c
}

# cpu_ticks PID - utime+stime of a process (fields 14 and 15)
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# hwm PID - peak resident set in kB
hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# worker PID - the process that serves the daemon PID's messages: its
# only child if it has one (keyturnd's signing process), else PID itself.
# Asked once a message went through, so that keyturnd has forked by then.
worker() {
	_w=$(ps -o pid= --ppid "$1" | tr -d ' ')
	case $_w in
	'') echo "$1" ;;
	*[!0-9]*) echo "milter_bench: pid $1 has several children" >&2
		return 1 ;;
	*) echo "$_w" ;;
	esac
}

# wait_socket SOCKET PID - until the daemon listens (or died)
wait_socket() {
	_i=0
	while :; do
		case $1 in
		unix:*|local:*) listening "${1#*:}" && return 0 ;;
		inet:*) _port=${1#inet:}; _port=${_port%%@*}
			ss -Hltn "sport = :$_port" | grep -q LISTEN && return 0 ;;
		esac
		kill -0 "$2" 2>/dev/null || return 1
		_i=$((_i + 1))
		[ $_i -gt 200 ] && return 1
		sleep 0.05
	done
}

# ks_setup - the keystore of many domains (built unless it is) and
# keyturnd's configuration for it, signing with RSA only
ks_setup() {
	for _p in "$DOMSEND" "$KSBENCH"; do
		[ -x "$_p" ] || { echo "milter_bench: $_p not built (make)" >&2
			return 1; }
	done
	"$KSBENCH" -B -n "$KS_N" -k "$KS_CACHE" >&2 || return 1
	KS=$(sed -n 's/^keystore //p' "$KS_CACHE/$KS_N/fixture")
	printf 'Socket unix:%s\nKeyStore %s\nAllowRoot yes\nLogLevel warning\nAlgorithms rsa\n' \
	    "$W/keyturnd-ks.sock" "$KS" >"$W/keyturnd-ks.conf"
}

# row_ks NAME SIZE CONC - a row of keyturnd-cold or keyturnd-warm: as
# row, with t/bench/domsend sending each message from a domain of the
# keystore (domains from d1 on)
row_ks() {
	_name=$1 _size=$2 _conc=$3 _sock=unix:$W/keyturnd-ks.sock
	_msg=$W/msg-$2.eml
	set -- $(limits "$_size")
	_warm=$(( $1 / 10 > _conc ? $1 / 10 : _conc ))
	case $_name in
	*cold)	_span=$((_warm + $2)) ;;
	*)	_span=$KS_WARM ;;
	esac
	[ "$_span" -gt $((KS_N - 1)) ] && _span=$((KS_N - 1))
	_wopt=
	case $_name in *warm) _wopt="-m $_span" ;; esac
	case $_name in *cold)
		[ "$_warm" -gt $((_span / 2)) ] && _warm=$((_span / 2)) ;;
	esac
	[ "$_warm" -ge 1 ] || { echo "milter_bench: $_name: too few domains" >&2
		return 1; }
	"$DOMSEND" -s "$_sock" -P "$KS" -p -f 1 -n "$_span" "$_msg" ||
	    return 1
	rm -f "$W/keyturnd-ks.sock"
	$DPIN "$KEYTURND" -f -c "$W/keyturnd-ks.conf" >"$W/$_name.out" 2>&1 &
	_pid=$!
	if ! "$DOMSEND" -S -s "$_sock" -f 0 "$_msg" >/dev/null; then
		echo "milter_bench: $_name did not sign:" >&2
		cat "$W/$_name.out" >&2
		kill $_pid 2>/dev/null
		return 1
	fi
	_wpid=$(worker $_pid) || { kill $_pid; return 1; }
	case $_name in *warm)
		$CPIN "$DOMSEND" -s "$_sock" -t 300 -n "$_span" -f 1 \
		    -c "$_conc" $MILTC_OPTS "$_msg" >/dev/null ||
		    { kill $_pid; echo "milter_bench: $_name: priming failed" >&2
		    return 1; } ;;
	esac
	_t0=$(cpu_ticks $_wpid)
	$CPIN "$DOMSEND" -s "$_sock" -t 300 -n $_warm -f 1 $_wopt \
	    -c "$_conc" $MILTC_OPTS "$_msg" >/dev/null ||
	    { kill $_pid; echo "milter_bench: $_name warm-up failed" >&2; return 1; }
	_t1=$(cpu_ticks $_wpid)
	_n=$(count "$_size" $_warm $((_t1 - _t0)))
	case $_name in *cold)
		[ "$_n" -gt $((_span - _warm)) ] && _n=$((_span - _warm))
		_wopt="-f $((1 + _warm))" ;;
	*)	_wopt="-f 1 $_wopt" ;;
	esac
	_t0=$_t1
	_res=$($CPIN "$DOMSEND" -s "$_sock" -t 300 -n "$_n" $_wopt \
	    -c "$_conc" $MILTC_OPTS "$_msg") ||
	    { kill $_pid; echo "milter_bench: $_name: $_res" >&2; return 1; }
	_t1=$(cpu_ticks $_wpid)
	_rss=$(hwm $_wpid)
	kill $_pid 2>/dev/null
	wait $_pid 2>/dev/null
	echo "$_res" | awk -v name="$_name" -v size="$_size" -v conc="$_conc" \
	    -v n="$_n" -v dt=$((_t1 - _t0)) -v tck="$TCK" -v rss="$_rss" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%-16s %5s %4d %6d %10.0f %9.1f %8.2f %8.2f %8d  %s\n",
		    name, size, conc, n, dt / tck * 1e6 / n, v["msgs_per_s"],
		    v["p50_us"] / 1000, v["p99_us"] / 1000, rss,
		    (v["errors"] == 0 && v["unsigned"] == 0 ? "" : \
		    "ERRORS=" v["errors"] " UNSIGNED=" v["unsigned"])
	}'
}

# row NAME SOCKET SIZE CONC COMMAND... - one measured row
row() {
	_name=$1 _sock=$2 _size=$3 _conc=$4; shift 4
	case $_sock in unix:*|local:*) rm -f "${_sock#*:}" ;; esac
	$DPIN "$@" >"$W/$_name.out" 2>&1 &
	_pid=$!
	if ! wait_socket "$_sock" $_pid; then
		echo "milter_bench: $_name did not listen on $_sock:" >&2
		cat "$W/$_name.out" >&2
		kill $_pid 2>/dev/null
		return 1
	fi
	set -- $(limits "$_size")
	_warm=$(( $1 / 10 > _conc ? $1 / 10 : _conc ))
	# one message first: by its reply keyturnd has forked its signer
	$CPIN "$MILTC" -s "$_sock" -t 300 -b -n 1 $MILTC_OPTS \
	    "$W/msg-$_size.eml" >/dev/null ||
	    { kill $_pid; echo "milter_bench: $_name: first message failed" >&2
	    return 1; }
	_wpid=$(worker $_pid) || { kill $_pid; return 1; }
	_t0=$(cpu_ticks $_wpid)
	$CPIN "$MILTC" -s "$_sock" -t 300 -b -n $_warm -c "$_conc" $MILTC_OPTS \
	    "$W/msg-$_size.eml" >/dev/null ||
	    { kill $_pid; echo "milter_bench: $_name warm-up failed" >&2; return 1; }
	_t1=$(cpu_ticks $_wpid)
	_n=$(count "$_size" $_warm $((_t1 - _t0)))
	_t0=$_t1
	_res=$($CPIN "$MILTC" -s "$_sock" -t 300 -b -n "$_n" -c "$_conc" \
	    $MILTC_OPTS \
	    "$W/msg-$_size.eml") ||
	    { kill $_pid; echo "milter_bench: $_name: $_res" >&2; return 1; }
	_t1=$(cpu_ticks $_wpid)
	_rss=$(hwm $_wpid)
	kill $_pid 2>/dev/null
	wait $_pid 2>/dev/null
	echo "$_res" | awk -v name="$_name" -v size="$_size" -v conc="$_conc" \
	    -v n="$_n" -v dt=$((_t1 - _t0)) -v tck="$TCK" -v rss="$_rss" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%-16s %5s %4d %6d %10.0f %9.1f %8.2f %8.2f %8d  %s\n",
		    name, size, conc, n, dt / tck * 1e6 / n, v["msgs_per_s"],
		    v["p50_us"] / 1000, v["p99_us"] / 1000, rss,
		    (v["errors"] == 0 ? "" : "ERRORS=" v["errors"])
	}'
}

# run NAME SOCKET COMMAND... - every size and concurrency for one daemon
run() {
	_rn=$1 _rs=$2; shift 2
	for _z in $SIZES; do
		for _c in $CONC; do
			row "$_rn" "$_rs" "$_z" "$_c" "$@" || return 1
		done
	done
}

# make_message SIZE - a signable message of about that size
make_message() {
	"${PYTHON3:-/usr/bin/python3}" - "$W/msg-$1.eml" "$1" <<'EOF'
import sys
path, size = sys.argv[1], sys.argv[2]
target = {"2k": 2048, "100k": 102400, "10m": 10 * 1024 * 1024}[size]
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

# setup - work directory, keys, messages
setup() {
	W=${BENCH_DIR:-$(mktemp -d /tmp/kt-bench.XXXXXX)}
	export BENCH_DIR=$W
	mkdir -p "$W"
	(umask 077
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$W/rsa.pem" 2>/dev/null
	openssl genpkey -algorithm ED25519 -out "$W/ed.pem")
	for z in $SIZES; do make_message "$z"; done
	for alg in rsa ed; do
		cat >"$W/opendkim-$alg.conf" <<EOF
Mode			s
Socket			local:$W/opendkim-$alg.sock
Domain			example.com
Selector		$alg
KeyFile			$W/$alg.pem
Canonicalization	relaxed/relaxed
RequireSafeKeys		no
EOF
	done
	echo "SignatureAlgorithm	ed25519-sha256" >>"$W/opendkim-ed.conf"
}

# keyturnd_setup ALG - a keystore whose example.com signs with the bench
# key of ALG (rsa or ed) under the selector ALG, and a keyturnd config
keyturnd_setup() {
	_ks=$W/ks-$1
	_alg=$1
	[ "$_alg" = ed ] && _alg=ed25519
	rm -rf "$_ks"
	{
		"$KEYTURN" -K "$_ks" init &&
		"$KEYTURN" -K "$_ks" domain add example.com --algorithms $_alg &&
		"$KEYTURN" -K "$_ks" key import example.com $1 "$W/$1.pem" &&
		"$KEYTURN" -K "$_ks" activate --force example.com $1
	} >"$W/keyturn-$1.log" 2>&1 || {
		cat "$W/keyturn-$1.log" >&2
		echo "milter_bench: keystore for keyturnd-$1 failed" >&2
		return 1
	}
	printf 'Socket unix:%s\nKeyStore %s\nAllowRoot yes\nLogLevel warning\n' \
	    "$W/keyturnd-$1.sock" "$_ks" >"$W/keyturnd-$1.conf"
}

header() {
	printf "%-16s %5s %4s %6s %10s %9s %8s %8s %8s\n" daemon size conc msgs \
	    cpu_us msgs/s p50_ms p99_ms rss_kB
}

# raw_bodies - the messages' bodies as the MTA sends them (CRLF), for
# rawcost to hash
raw_bodies() {
	for z in $SIZES; do
		"${PYTHON3:-/usr/bin/python3}" -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(d.split(b"\n\n",1)[1].replace(b"\n",b"\r\n"))' \
		    "$W/msg-$z.eml" "$W/body-$z"
	done
}

# references - keyturnd against what it is compared with, at each
# concurrency: the issue's targets (floor at the same concurrency + the raw
# cost: one signature for 2 KB, SHA-256 of the body for 10 MB), then the
# floor doing that raw work itself (floor -k), which pays the same wake-ups
# and cold caches per message a real signer pays. Each ratio is computed
# within one round from rows run back to back at the same size and
# concurrency and the raw costs timed right after them, so that the load
# the machine is under drifts as little as possible between its terms;
# with several rounds a cell gives the median of its rounds' ratios and,
# in brackets, the lowest and the highest.
references() {
	[ -s "$W/paired" ] || return 0
	awk -v conc="$CONC" -v sizes="$SIZES" '
	FNR == NR && NF >= 10 { cpu[$1, $2, $3, $4] = $6
		if (!($1 in seen)) { seen[$1]; rs[++nr] = $1 }
		next }
	FNR != NR && $4 == "sign" { v = $NF; sub("us=", "", v)
		sign[$1, $2, $3, $5] = v }
	FNR != NR && $4 == "sha256" { v = $NF; sub("us=", "", v)
		sha[$1, $2, $3] = v }
	END {
		nc = split(conc, cs, " ")
		nz = split(sizes, zs, " ")
		alg["rsa"] = "rsa"; alg["ed"] = "ed25519"
		head("targets: keyturnd / (floor at the same concurrency + raw cost)")
		target("keyturnd-rsa", "2k", "rsa", 1.10)
		target("keyturnd-ed", "2k", "ed", 1.15)
		target("keyturnd-rsa", "10m", "", 1.10)
		target("keyturnd-ed", "10m", "", 1.10)
		head("in-filter: keyturnd / floor -k (the floor doing the raw work itself)")
		for (zi = 1; zi <= nz; zi++) {
			if ((l = ratios("keyturnd-rsa", zs[zi], "floor-rsa", "")) != "")
				print l
			if ((l = ratios("keyturnd-ed", zs[zi], "floor-ed", "")) != "")
				print l
			if ((l = ratios("keyturnd-warm", zs[zi], "floor-rsa", "")) != "")
				print l
			if ((l = ratios("keyturnd-cold", zs[zi], "floor-rsa", "")) != "")
				print l
		}
	}
	# ratios ROW SIZE REF RAW - a line of cells, one per concurrency: ROW
	# over REF plus the raw cost RAW ("sign ALG", "sha256" or "" for none);
	# "" when no cell has a ratio
	function ratios(row, size, ref, raw,   i, j, n, r, k, d, x, v, line) {
		line = sprintf("  %-18s", row " " size)
		for (i = 1; i <= nc; i++) {
			n = 0
			for (j = 1; j <= nr; j++) {
				r = rs[j]
				k = cpu[r, row, size, cs[i]]
				d = cpu[r, ref, size, cs[i]]
				x = raw == "" ? 0 : raw == "sha256" ? \
				    sha[r, size, cs[i]] : sign[r, size, cs[i], substr(raw, 6)]
				if (k == "" || d == "" || x == "" || d + x <= 0)
					continue
				v[++n] = k / (d + x)
			}
			line = line cell(v, n)
		}
		return line ~ /x/ ? line : ""
	}
	function target(row, size, a, limit,   line) {
		line = ratios(row, size, "floor", a != "" ? "sign " alg[a] : "sha256")
		if (line != "")
			printf "%s   (<= %.2fx)\n", line, limit
	}
	# cell V N - the median of V[1..N], with its range when N > 1
	function cell(v, n,   a, b, t, m) {
		if (n == 0)
			return sprintf(" %17s", "-")
		for (a = 2; a <= n; a++)
			for (b = a; b > 1 && v[b] < v[b - 1]; b--) {
				t = v[b]; v[b] = v[b - 1]; v[b - 1] = t
			}
		m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		if (n == 1)
			return sprintf(" %17s", sprintf("%.2fx", m))
		return sprintf(" %17s", sprintf("%.2fx [%.2f-%.2f]", m, v[1], v[n]))
	}
	function head(t,   i) {
		printf "\n%s\n  %-18s", t, ""
		for (i = 1; i <= nc; i++)
			printf " %17s", "c=" cs[i]
		printf "\n"
	}' "$W/paired" "$W/rawpaired"
}

# one NAME SIZE CONC - the row of one daemon of BENCH_DAEMONS
one() {
	case $1 in
	floor)	row floor "unix:$W/floor.sock" "$2" "$3" \
		    "$FLOOR" -s "unix:$W/floor.sock" ;;
	floor-*) row "$1" "unix:$W/$1.sock" "$2" "$3" \
		    "$FLOOR" -k "$W/${1#floor-}.pem" -s "unix:$W/$1.sock" ;;
	opendkim-*) row "$1" "unix:$W/$1.sock" "$2" "$3" \
		    opendkim -f -x "$W/$1.conf" ;;
	keyturnd-cold|keyturnd-warm) row_ks "$1" "$2" "$3" ;;
	keyturnd-*) row "$1" "unix:$W/$1.sock" "$2" "$3" \
		    "$KEYTURND" -f -c "$W/$1.conf" ;;
	esac
}

# rows ROUND - one round: for every size and concurrency, every daemon of
# BENCH_DAEMONS back to back (in reverse order in even rounds), then the
# raw costs; each row's line goes to stdout and, tagged with the round, to
# $W/paired, and the raw costs, tagged with round, size and concurrency, to
# $W/rawpaired
rows() {
	_order=
	for _d in $ALL_DAEMONS; do
		want "$_d" || continue
		case $_d in keyturnd-*) [ -x "$KEYTURND" ] || continue ;; esac
		if [ $(($1 % 2)) -eq 0 ]; then _order="$_d $_order"
		else _order="$_order $_d"; fi
	done
	for _z in $SIZES; do
		for _c in $CONC; do
			for _d in $_order; do
				_line=$(one "$_d" "$_z" "$_c") || return 1
				echo "$_line" | tee -a "$W/rows"
				echo "$1 $_line" >>"$W/paired"
			done
			$DPIN "$RAWCOST" -n 2000 -k "$W/rsa.pem" -k "$W/ed.pem" \
			    -f "$W/body-$_z" >"$W/rawcell" || return 1
			cat "$W/rawcell" >>"$W/raws"
			sed "s/^/$1 $_z $_c /" "$W/rawcell" >>"$W/rawpaired"
		done
	done
}

# medians NKEY FIELD - of lines repeated over rounds, for each key (the
# first NKEY fields) the line whose FIELD (0: the last; a us= prefix is
# ignored) is the median, the lower of the middle two, in first-seen order
medians() {
	awk -v nkey="$1" -v field="$2" '
	{ k = $1; for (i = 2; i <= nkey; i++) k = k " " $i
	  if (!(k in n)) order[++nk] = k
	  v = field ? $field : $NF; sub("us=", "", v)
	  n[k]++; line[k, n[k]] = $0; val[k, n[k]] = v + 0 }
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]
			for (a = 2; a <= n[k]; a++)	# insertion sort by value
				for (b = a; b > 1 && val[k, b] < val[k, b - 1]; b--) {
					t = val[k, b]; val[k, b] = val[k, b - 1]
					val[k, b - 1] = t
					t = line[k, b]; line[k, b] = line[k, b - 1]
					line[k, b - 1] = t
				}
			print line[k, int((n[k] + 1) / 2)]
		}
	}'
}

# want NAME - is the daemon NAME in BENCH_DAEMONS
want() {
	case " $DAEMONS " in *" $1 "*) return 0 ;; esac
	return 1
}

cleanup() {
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}

# soak NAME SOCKET COMMAND... - memory over a long stream of messages
soak() {
	_sn=$1 _ss=$2; shift 2
	_total=${BENCH_SOAK:-100000}
	case $_ss in unix:*|local:*) rm -f "${_ss#*:}" ;; esac
	$DPIN "$@" >"$W/$_sn.out" 2>&1 &
	_pid=$!
	wait_socket "$_ss" $_pid || { cat "$W/$_sn.out" >&2; return 1; }
	printf "%-16s %8s %10s %10s\n" daemon messages rss_kB hwm_kB
	_done=0 _wpid=
	while [ $_done -lt "$_total" ]; do
		$CPIN "$MILTC" -s "$_ss" -t 300 -b -n $((_total / 10)) -c 4 \
		    $MILTC_OPTS \
		    "$W/msg-2k.eml" >/dev/null || { kill $_pid; return 1; }
		_done=$((_done + _total / 10))
		[ -n "$_wpid" ] || _wpid=$(worker $_pid) ||
		    { kill $_pid; return 1; }
		printf "%-16s %8d %10d %10d\n" "$_sn" $_done \
		    "$(awk '/^VmRSS:/ { print $2 }' "/proc/$_wpid/status")" "$(hwm $_wpid)"
	done
	kill $_pid 2>/dev/null
	wait $_pid 2>/dev/null
}

case ${1:-all} in
soak)
	shift
	[ $# -ge 3 ] || { echo "usage: milter_bench.sh soak NAME SOCKET COMMAND..." >&2; exit 2; }
	W=${BENCH_DIR:-$(mktemp -d /tmp/kt-bench.XXXXXX)}
	mkdir -p "$W"
	[ -f "$W/msg-2k.eml" ] || make_message 2k
	soak "$@"
	;;
run)
	shift
	[ $# -ge 3 ] || { echo "usage: milter_bench.sh run NAME SOCKET COMMAND..." >&2; exit 2; }
	W=${BENCH_DIR:-$(mktemp -d /tmp/kt-bench.XXXXXX)}
	mkdir -p "$W"
	for z in $SIZES; do [ -f "$W/msg-$z.eml" ] || make_message "$z"; done
	header
	run "$@"
	;;
all)
	setup
	trap cleanup EXIT INT TERM
	echo "milter_bench: $NCPU CPUs, $(uname -r), connections: ${BENCH_CONN:-session}, daemon ${DPIN:-unpinned}, client ${CPIN:-unpinned}, work directory $W"
	header | tee "$W/table.hdr"
	raw_bodies
	for alg in rsa ed; do
		want keyturnd-$alg && [ -x "$KEYTURND" ] || continue
		keyturnd_setup $alg || exit 1
	done
	if { want keyturnd-cold || want keyturnd-warm; } && [ -x "$KEYTURND" ]
	then
		ks_setup || exit 1
	fi
	: >"$W/rows"
	: >"$W/raws"
	: >"$W/paired"
	: >"$W/rawpaired"
	_round=1
	while [ $_round -le "$ROUNDS" ]; do
		[ "$ROUNDS" -gt 1 ] && echo "round $_round of $ROUNDS"
		rows $_round || exit 1
		_round=$((_round + 1))
	done
	medians 3 5 <"$W/rows" >"$W/table"
	if [ "$ROUNDS" -gt 1 ]; then
		echo
		echo "medians of $ROUNDS rounds (by cpu_us):"
		header
		cat "$W/table"
	fi
	echo
	echo "raw costs (t/bench/rawcost, same keys, same bodies$([ "$ROUNDS" -gt 1 ] && echo ", medians of $ROUNDS rounds")):"
	medians 2 0 <"$W/raws" | tee "$W/rawcost"
	references
	;;
*)
	echo "usage: milter_bench.sh [all] | run|soak NAME SOCKET COMMAND..." >&2
	exit 2
	;;
esac
