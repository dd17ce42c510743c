#!/bin/sh
# soak.sh - half an hour of mail through keyturnd while it rotates its own
# keys, reloads on SIGHUP and follows keyturn's changes: every message is
# signed, every signature verifies, memory and descriptors stay flat
#
# SYNOPSIS
#   soak.sh
#
# DESCRIPTION
#   A Knot primary (127.0.0.101) takes RFC 2136 updates signed with a TSIG
#   key and a secondary (127.0.0.102) follows it by NOTIFY and IXFR; both
#   serve soak.test (TTL and SOA minimum 1 s). Its two signing domains
#   live in that zone: soak.test (--active-keys 2, so keyturnd
#   round-robins two keys per algorithm) and b.soak.test (--active-keys
#   1), each with rsa and ed25519 keys. keyturnd runs in the foreground
#   with Rotation yes, RotationInterval 1s and the publish hook
#   contrib/publish/keyturn-nsupdate (-z soak.test), rotate-after
#   SOAK_ROTATE and retire-after SOAK_RETIRE: nobody touches a key but
#   keyturnd, which generates, publishes, confirms, swaps, retires and
#   revokes every one. MetricsListen is on 127.0.0.103.
#
#   t/miltc sends four messages (From each domain, 2 KB and 20 KB) in
#   turn at concurrency SOAK_CONC (16), a milter connection per message
#   as Postfix has it, in runs of 100 messages per concurrent client (one
#   t/miltc after the other), from the moment every key of the policy is
#   active: for
#   SOAK_WARMUP seconds (300), then for SOAK_SECONDS (1800). Throughout,
#   keyturnd's parent gets a SIGHUP every SOAK_HUP seconds (60; the
#   first halfway through the warm-up) and keyturn changes the keystore
#   every SOAK_CLI seconds (3), in turn: the retire-after of soak.test
#   and of b.soak.test (one second more or less), a new ed25519 key of
#   b.soak.test (xN, pending: the rotation publishes it), and that key
#   withdrawn again (keyturn revoke).
#
#   Every DKIM-Signature field that comes back is verified with dkimpy
#   (t/bench/soak_verify.py) against both Knot servers as soon as it is
#   seen, while its key's record is still published: a key is revoked
#   SOAK_RETIRE after it stopped signing. The soak's messages are four
#   files, its signatures carry no x=, and t= counts seconds, so every
#   message signed with one key in one second carries the same field,
#   byte for byte: each distinct field (message, field) is verified once
#   and answers for every message that carried it.
#
#   The warm-up is long because keyturnd's memory settles slowly: a
#   milter connection is a thread of its own, and glibc gives threads
#   that contend an arena of their own (up to 8 per CPU), each of which
#   keeps the memory it once held; at concurrency 16 the signing process
#   grows by 1 to 2 MB over the first five minutes or so, then stays
#   within a few hundred kB under load.
#
#   The signing process's VmRSS and open descriptors (/proc/PID/fd) and
#   the parent's descriptors are taken after the warm-up and after the
#   soak, with no mail in flight (the least of 10 readings over 2 s, as a
#   DNS check or a hook may hold a descriptor for a moment). Printed:
#   the duration, messages sent, signed (both signatures), tempfailed,
#   other failures (one signature, none, rejected, or never answered),
#   signatures verified and failed (and how many distinct fields), swaps
#   and revocations per domain and algorithm during the soak (keyturn
#   history), SIGHUPs sent, keystore changes made, RSS and descriptors at
#   the start and the end (and VmRSS under load at every tenth of the
#   soak, read every 10 s), restarts of the signing process, and
#   keyturnd's own counters (/metrics) beside the client's.
#
#   Exit 0 when every message was signed twice, every signature verified,
#   the signing process grew by at most 1 MB (SOAK_RSS_KB, 1024) and has
#   as many descriptors at the end as at the start, the parent too, the
#   signing process never restarted, and (for a soak of 1800 s or more)
#   every domain and algorithm swapped keys at least 10 times.
#
# Environment: SOAK_SECONDS (1800), SOAK_WARMUP (300), SOAK_CONC (16),
# SOAK_HUP (60), SOAK_CLI (3), SOAK_ROTATE (rotate-after in seconds:
# SOAK_SECONDS / 25, at least 10; 72 for half an hour), SOAK_RETIRE
# (retire-after: twice that, at least 30), SOAK_KEEP=1 keeps the work
# directory (/tmp/kt-soak.XXXXXX; it is kept anyway when the soak
# fails), top_builddir (as the other benches: the build directory,
# default _b beside the sources, else the sources). Needs knotd, knotc,
# kdig, nsupdate, python3 with dkim and dns, and keyturn, keyturnd and
# t/miltc built (make check TESTS= builds t/miltc).
#
# Not in make check: run it by hand. It prints numbers, and its exit
# status says whether they hold.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
: "${top_builddir:=$top_srcdir/_b}"
[ -x "$top_builddir/t/miltc" ] || top_builddir=$top_srcdir
KEYTURN=$top_builddir/keystore/keyturn
KEYTURND=$top_builddir/keyturnd
MILTC=$top_builddir/t/miltc
PYTHON3=${PYTHON3:-/usr/bin/python3}
SECS=${SOAK_SECONDS:-1800}
WARM=${SOAK_WARMUP:-300}
CONC=${SOAK_CONC:-16}
HUP=${SOAK_HUP:-60}
CLI=${SOAK_CLI:-3}
ROT=${SOAK_ROTATE:-$((SECS / 25 < 10 ? 10 : SECS / 25))}
RET=${SOAK_RETIRE:-$((2 * ROT < 30 ? 30 : 2 * ROT))}
RSS_KB=${SOAK_RSS_KB:-1024}
CHUNK=$((CONC * 100))
PRIM=127.0.0.101 SEC=127.0.0.102 MADDR=127.0.0.103
DOMAINS="soak.test b.soak.test"

die() {
	echo "soak: $*" >&2
	exit 2
}

for p in "$KEYTURN" "$KEYTURND" "$MILTC"; do
	[ -x "$p" ] || die "$p not built (make check TESTS=)"
done
. "$top_srcdir/t/lib/knot.sh"
knot_available || die "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
command -v nsupdate >/dev/null || die "nsupdate missing (Debian: dnsutils)"
"$PYTHON3" -c 'import dkim, dns.message' 2>/dev/null ||
    die "$PYTHON3 lacks dkim or dns (python3-dkim, python3-dnspython)"

knot_init || die "knot_init"
W=$(mktemp -d /tmp/kt-soak.XXXXXX) || die "mktemp"
chmod 755 "$W"
KS=$W/ks
P=$KNOT_PORT
KPID= VPID= HPID= CPID= RPID=
RESULT=2

# cleanup - every process started here, by its pid; Knot; the directory
cleanup() {
	for _p in $HPID $CPID $RPID; do
		kill "$_p" 2>/dev/null
	done
	[ -n "$VPID" ] && kill "$VPID" 2>/dev/null
	if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then
		kill -TERM "$KPID" 2>/dev/null
		wait "$KPID" 2>/dev/null
	fi
	knot_stop_all
	rm -rf "$KNOT_DIR"
	if [ "${SOAK_KEEP:-0}" = 1 ] || [ "$RESULT" != 0 ]; then
		echo "soak: work directory kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

# now - seconds since the epoch; utc - the time as keyturn history has it
now() {
	date +%s
}
utc() {
	date -u +%Y-%m-%dT%H:%M:%SZ
}

# ---- DNS, keystore, messages, keyturnd
knot_pair soak.test $PRIM $SEC 1 soak || die "cannot start knot"
cat >"$W/hook.sh" <<EOF
#!/bin/sh
echo "\$(date +%s) \$KEYTURN_ACTION \$KEYTURN_NAME" >>"$W/hook.log"
exec "$top_srcdir/contrib/publish/keyturn-nsupdate" -s $PRIM -p $P \\
    -k "$KNOT_TSIG_FILE" -z soak.test -l 1 -w 30
EOF

kt() {
	"$KEYTURN" -K "$KS" "$@" >>"$W/keyturn.log" 2>&1 ||
	    die "keyturn $* failed: $(tail -3 "$W/keyturn.log")"
}
kt init
kt domain add soak.test --algorithms rsa,ed25519 --active-keys 2 \
    --rotate-after "${ROT}s" --retire-after "${RET}s"
kt domain add b.soak.test --algorithms rsa,ed25519 --active-keys 1 \
    --rotate-after "${ROT}s" --retire-after "${RET}s"

# message FILE FROM SIZE - a message of about SIZE bytes
message() {
	"$PYTHON3" - "$@" <<'EOF'
import sys
path, sender, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
head = ("From: Soak Sender <%s>\nTo: bob@example.net\n"
        "Subject: soak message of %d bytes\n"
        "Date: Sun, 22 Nov 2026 21:00:00 +0000\n"
        "Message-ID: <soak-%d@%s>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        % (sender, size, size, sender.split("@")[1]))
words = "the quick brown fox jumps over the lazy dog and keeps running ".split()
out, n, i = [head], len(head), 0
while n < size:
    line = " ".join(words[(i + k) % len(words)] for k in range(11)) + "\n"
    out.append(line); n += len(line); i += 1
open(path, "w").write("".join(out))
EOF
}
message "$W/a2k.eml" alice@soak.test 2048
message "$W/b2k.eml" bob@b.soak.test 2048
message "$W/a20k.eml" alice@soak.test 20480
message "$W/b20k.eml" bob@b.soak.test 20480
MSGS="$W/a2k.eml $W/b2k.eml $W/a20k.eml $W/b20k.eml"

MPORT=$(free_port)
{
	echo "Socket unix:$W/sock"
	echo "KeyStore $KS"
	echo "PidFile $W/keyturnd.pid"
	echo "LogLevel notice"
	[ "$(id -u)" = 0 ] && echo "AllowRoot yes"
	echo "Rotation yes"
	echo "RotationInterval 1s"
	echo "Resolver $PRIM:$P"
	echo "DNSPort $P"
	echo "DNSTimeout 10s"
	echo "PublishCommand sh $W/hook.sh"
	echo "MetricsListen $MADDR:$MPORT"
} >"$W/keyturn.conf"
"$KEYTURND" -f -c "$W/keyturn.conf" >>"$W/keyturnd.log" 2>&1 &
KPID=$!

# until_ok SECS WHY COMMAND... - until COMMAND succeeds; the bound only
# catches a keyturnd that never gets there
until_ok() {
	_end=$(($(now) + $1)) _why=$2
	shift 2
	until "$@"; do
		kill -0 "$KPID" 2>/dev/null ||
		    die "keyturnd died: $(tail -5 "$W/keyturnd.log")"
		[ "$(now)" -lt $_end ] || die "$_why"
		sleep 0.5
	done
}
until_ok 60 "keyturnd does not listen" listening "$W/sock"

# all_active - every key the policy asks for is active
all_active() {
	"$KEYTURN" -K "$KS" list >"$W/list.now" 2>/dev/null &&
	    awk '$5 == "active" { n[$1 " " $3]++ } END {
		exit !(n["soak.test rsa"] == 2 && n["soak.test ed25519"] == 2 &&
		    n["b.soak.test rsa"] == 1 && n["b.soak.test ed25519"] == 1)
	    }' "$W/list.now"
}
t_keys=$(now)
until_ok 600 "the rotation did not activate every key" all_active
echo "soak: keys active $(($(now) - t_keys)) s after the start; rotate-after" \
    "${ROT}s, retire-after ${RET}s; $CONC connections; Knot on $PRIM/$SEC" \
    "port $P; work directory $W"

# signer - the pid of keyturnd's signing process (keyturnd(8), PROCESSES)
signer() {
	ps -o pid= --ppid "$KPID" | tr -d ' '
}
# fds PID - its open descriptors
fds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}
# rest PID - "RSS FDS" of PID, the least of 10 readings over 2 s
rest() {
	_i=0
	while [ $_i -lt 10 ]; do
		echo "$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status") $(fds "$1")"
		sleep 0.2
		_i=$((_i + 1))
	done | awk 'NR == 1 || $1 < r { r = $1 } NR == 1 || $2 < f { f = $2 }
	    END { print r, f }'
}
# metrics - keyturnd's /metrics
metrics() {
	"$PYTHON3" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' \
	    "http://$MADDR:$MPORT/metrics" 2>/dev/null
}

# ---- the verifier, the SIGHUPs, the keystore changes
: >"$W/sigs"; : >"$W/hups"; : >"$W/cli"
"$PYTHON3" "$here/soak_verify.py" --sigs "$W/sigs" --dns "$PRIM:$P" \
    --dns "$SEC:$P" --out "$W/verified" --stop "$W/stop" \
    --keep "$W/failed" 2>"$W/verify.err" &
VPID=$!

(
	sleep $((WARM / 2))
	while :; do
		kill -HUP "$KPID" 2>/dev/null || exit 0
		echo "$(now)" >>"$W/hups"
		sleep "$HUP"
	done
) &
HPID=$!

(
	i=0
	while :; do
		sleep "$CLI"
		i=$((i + 1))
		r=$((RET + (i / 4) % 2))
		case $((i % 4)) in
		1) set -- domain set soak.test --retire-after "${r}s" ;;
		2) set -- domain set b.soak.test --retire-after "${r}s" ;;
		3) set -- key new b.soak.test --algorithm ed25519 \
		    --selector "x$i" ;;
		0) set -- revoke b.soak.test "x$((i - 1))" ;;
		esac
		if "$KEYTURN" -K "$KS" "$@" >>"$W/cli.log" 2>&1; then
			echo "$(now) ok $*" >>"$W/cli"
		else
			echo "$(now) failed $*" >>"$W/cli"
		fi
	done
) &
CPID=$!

# send SECS TAG - mail for SECS seconds, runs of CHUNK messages; per run
# "MESSAGES STATUS" in TAG.runs; the counts in TAG.sum; each distinct
# DKIM-Signature field on a line of its own in sigs, "TAG.ID FILE VALUE"
# (the verifier's input), and how many messages carried it in TAG.counts
send() {
	_end=$(($(now) + $1))
	: >"$W/$2.runs"
	while [ "$(now)" -lt $_end ]; do
		"$MILTC" -s "unix:$W/sock" -t 60 -R -n $CHUNK -c "$CONC" \
		    --client 127.0.0.1 $MSGS 2>>"$W/miltc.err"
		echo "$CHUNK $?" >>"$W/$2.runs"
	done | awk -F'\t' -v tag="$2" -v sigs="$W/sigs" \
	    -v counts="$W/$2.counts" '
	function done_msg() {
		if (file == "")
			return
		if (dec == "tempfail")
			tempfail++
		else if (rsa == 1 && ed == 1 && nsig == 2)
			signed++
		else if (nsig > 0)
			partial++
		else if (dec == "reject" || dec == "discard")
			rejected++
		else
			unsigned++
		file = ""
	}
	$2 ~ /^\// {
		done_msg()
		n++; file = $2; dec = $3; nsig = rsa = ed = 0
		next
	}
	$2 == "insheader" && tolower($4) == "dkim-signature" {
		nsig++
		if ($5 ~ /a=rsa-sha256;/) rsa++
		if ($5 ~ /a=ed25519-sha256;/) ed++
		k = file "\t" $5
		if (!(k in id)) {
			id[k] = ++nid
			print tag "." nid "\t" file "\t" $5 >>sigs
			fflush(sigs)
		}
		cnt[id[k]]++
	}
	END {
		done_msg()
		for (k in id)
			print tag "." id[k], cnt[id[k]] >counts
		printf "reported=%d signed=%d tempfail=%d partial=%d " \
		    "unsigned=%d rejected=%d distinct=%d\n", n, signed,
		    tempfail, partial, unsigned, rejected, nid
	}' >"$W/$2.sum"
}

# field FILE NAME - NAME= of a summary line
field() {
	tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"
}
# sent TAG - messages handed to t/miltc
sent() {
	awk '{ s += $1 } END { print s + 0 }' "$W/$1.runs"
}

send "$WARM" warm
CHILD0=$(signer)
set -- $(rest "$CHILD0")
RSS0=$1 FD0=$2
PFD0=$(fds "$KPID")
HUPS0=$(wc -l <"$W/hups")
CLI0=$(wc -l <"$W/cli")
metrics >"$W/metrics.0"
T0=$(utc) t0=$(now)
# the signing process's VmRSS every 10 s, for the trace below
(
	while kill -0 "$CHILD0" 2>/dev/null; do
		echo "$(($(now) - t0)) $(awk '/^VmRSS:/ { print $2 }' \
		    "/proc/$CHILD0/status")" >>"$W/rss"
		sleep 10
	done
) &
RPID=$!
echo "soak: warm-up: $(sent warm) messages sent, $(field "$W/warm.sum" signed)" \
    "signed; signing process $CHILD0: VmRSS $RSS0 kB, $FD0 fds;" \
    "parent $KPID: $PFD0 fds"

send "$SECS" soak
t1=$(now)
CHILD1=$(signer)
set -- $(rest "${CHILD1:-0}")
RSS1=${1:-0} FD1=${2:-0}
PFD1=$(fds "$KPID")
HUPS1=$(wc -l <"$W/hups")
CLI1=$(wc -l <"$W/cli")
metrics >"$W/metrics.1"
T1=$(utc)
kill "$HPID" "$CPID" "$RPID" 2>/dev/null
wait "$HPID" "$CPID" "$RPID" 2>/dev/null
HPID= CPID= RPID=

# the verifier ends once it has every line; Knot serves until then
touch "$W/stop"
wait "$VPID"
VPID=

# ---- figures
n_sent=$(sent soak)
n_rep=$(field "$W/soak.sum" reported)
n_signed=$(field "$W/soak.sum" signed)
n_tf=$(field "$W/soak.sum" tempfail)
n_other=$((n_sent - n_signed - n_tf))
# verified TAG - "OK FAILED DISTINCT-OK DISTINCT-FAILED": the signatures
# of TAG's messages by the verifier's line for their field (a field it
# has no line for counts as failed)
verified() {
	awk 'FNR == NR { r[$1] = $2; next }
	{ if (r[$1] == "pass") { ok += $2; dok++ } else { bad += $2; dbad++ } }
	END { print ok + 0, bad + 0, dok + 0, dbad + 0 }' \
	    "$W/verified" "$W/$1.counts"
}
set -- $(verified soak)
v_ok=$1 v_bad=$2 d_ok=$3 d_bad=$4
set -- $(verified warm)
w_ok=$1 w_bad=$2
# at LogLevel notice, a line about the signing process is a death or a
# restart
restarts=$(grep -c "signing process [0-9]" "$W/keyturnd.log")
mrestarts=$(awk '$1 == "keyturn_signer_restarts_total" { print $2 }' \
    "$W/metrics.1")
[ -n "$mrestarts" ] || mrestarts="(not served)"

echo
echo "soak: $((t1 - t0)) s of mail ($T0 to $T1), concurrency $CONC"
echo "  messages sent          $n_sent (answered $n_rep)"
echo "  signed (rsa + ed25519) $n_signed"
echo "  tempfailed             $n_tf"
echo "  other failures         $n_other (one signature $(field "$W/soak.sum" partial)," \
    "none $(field "$W/soak.sum" unsigned), rejected" \
    "$(field "$W/soak.sum" rejected), unanswered $((n_sent - n_rep));" \
    "t/miltc errors: $(grep -c . "$W/miltc.err")," \
    "runs that failed: $(awk '$2 != 0' "$W/soak.runs" | wc -l))"
echo "  signatures verified    $v_ok ok, $v_bad failed (dkimpy at $PRIM and" \
    "$SEC; $d_ok distinct fields ok, $d_bad failed; warm-up: $w_ok ok," \
    "$w_bad failed)"
"$PYTHON3" - "$KEYTURN" "$KS" "$T0" "$T1" $DOMAINS >"$W/swaps" <<'EOF'
import json, subprocess, sys
keyturn, ks, t0, t1 = sys.argv[1:5]
for dom in sys.argv[5:]:
    def j(*a):
        return json.loads(subprocess.run([keyturn, "-K", ks, "--json"] + list(a),
                                         capture_output=True, text=True).stdout)
    alg = {k["selector"]: k["algorithm"] for k in j("list", dom)}
    swaps, revokes = {}, {}
    for e in j("history", dom):
        if not t0 <= e["time"] <= t1:
            continue
        a = alg.get(e["selector"], "?")
        if e["to"] == "active" and "swapped for" in e["reason"]:
            swaps[a] = swaps.get(a, 0) + 1
        if e["from"] == "retiring" and e["to"] == "revoked":
            revokes[a] = revokes.get(a, 0) + 1
    for a in ("rsa", "ed25519"):
        print("  swaps %-16s %-7s %d (revocations %d)" % (
            dom, a, swaps.get(a, 0), revokes.get(a, 0)))
EOF
cat "$W/swaps"
echo "  SIGHUPs sent           $((HUPS1 - HUPS0)) ($HUPS1 with the warm-up)"
echo "  keystore changes       $((CLI1 - CLI0)) ($(awk -v t="$t0" \
    '$1 >= t && $2 == "failed"' "$W/cli" | wc -l) refused; $CLI1 with the" \
    "warm-up)"
echo "  signing process RSS    $RSS0 kB -> $RSS1 kB ($((RSS1 - RSS0)) kB)"
echo "  RSS under load (s kB)  $(awk -v n="$SECS" '
	$1 >= n * k / 10 { printf "%s%d %d", sep, $1, $2; sep = ", "; k++ }
	' "$W/rss")"
echo "  signing process fds    $FD0 -> $FD1"
echo "  parent fds             $PFD0 -> $PFD1"
echo "  signing process        $CHILD0 -> ${CHILD1:-none}; restarts:" \
    "$restarts in the log, $mrestarts by /metrics"
awk 'FNR == 1 { f++ }
	/^keyturn_messages_signed_total/ { s[f] += $2 }
	/^keyturn_tempfails_total/ { t[f] += $2 }
	/^keyturn_keystore_generation / { g[f] = $2 }
	/^keyturn_rotation_action_failures_total/ { af[f] += $2 }
	END {
		printf "  keyturnd counted       %d signatures, %d tempfails, " \
		    "keystore generation +%d, %d failed rotation actions\n",
		    s[2] - s[1], t[2] - t[1], g[2] - g[1], af[2]
	}' "$W/metrics.0" "$W/metrics.1"

# ---- verdict
RESULT=0
bad() {
	echo "soak: FAIL: $*"
	RESULT=1
}
[ "$n_other" = 0 ] && [ "$n_tf" = 0 ] && [ "$n_signed" -gt 0 ] ||
    bad "$n_tf tempfailed, $n_other other failures of $n_sent"
[ "$(field "$W/warm.sum" signed)" = "$(sent warm)" ] ||
    bad "the warm-up had unsigned messages: $(cat "$W/warm.sum")"
[ "$v_bad" = 0 ] && [ "$w_bad" = 0 ] && [ "$v_ok" -gt 0 ] ||
    bad "$v_bad signatures failed verification (see $W/verified, $W/failed)"
[ $((RSS1 - RSS0)) -le "$RSS_KB" ] ||
    bad "the signing process grew by $((RSS1 - RSS0)) kB"
[ "$FD0" = "$FD1" ] || bad "the signing process has $FD1 fds, had $FD0"
[ "$PFD0" = "$PFD1" ] || bad "the parent has $PFD1 fds, had $PFD0"
[ "$CHILD0" = "$CHILD1" ] && [ "$restarts" = 0 ] ||
    bad "the signing process restarted"
if [ "$SECS" -ge 1800 ]; then
	awk '$4 < 10' "$W/swaps" | grep -q . &&
	    bad "fewer than 10 swaps for a domain and algorithm"
fi
[ $RESULT = 0 ] && echo "soak: ok"
exit $RESULT
