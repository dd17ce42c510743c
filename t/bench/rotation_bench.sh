#!/bin/sh
# rotation_bench.sh - what one rotation pass over a big keystore costs
#
# SYNOPSIS
#   rotation_bench.sh [DOMAINS]
#
# Builds a keystore of DOMAINS domains (default 100,000; BENCH_DOMAINS),
# each with an active and a ready Ed25519 key whose records are confirmed:
# one domain, d0.bench.test, is made with keyturn and confirmed by two
# real `keyturn rotate` passes; the others are copies of its files
# (generating that many keys would take long, and every pass reads and
# parses every domain's files all the same). Two Knot servers on loopback
# (ns1 127.0.0.91, ns2 127.0.0.92, t/lib/knot.sh) serve one zone,
# bench.test, with every domain's two records under it.
#
# Then `keyturn rotate` over every domain, three times, each time with the
# memos saying every key was last checked BENCH_SINCE seconds ago (600: a
# RotationInterval of 10m), so that each pass finds what a pass of
# keyturnd in its steady state finds:
#   - nothing to do, RecheckInterval 1d: only the keys whose re-check
#     fell due in those 10 minutes are asked about, N * 600 / 86400 of
#     them; with DNSConcurrency 16 (BENCH_CONC) and with 1, and the
#     ratio of their wall times;
#   - every key due (RecheckInterval 1s), DNSConcurrency 16: every key
#     asked about, which is the concurrent throughput of the checks
#     (BENCH_ALLDUE=0 leaves it out; BENCH_ALLDUE_SERIAL=1 adds the same
#     with DNSConcurrency 1, which takes many minutes at 100,000).
# Each row: domains, keys, DNS checks made, DNS queries sent (as keyturn
# rotate counts them), the wall time of the command, checks and queries
# per second. Not a test: prints numbers, asserts nothing about speed,
# exits non-zero only on errors. BENCH_KEEP=1 keeps the work directory.
#
# Nothing leaves 127.0.0.0/8.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
: "${top_builddir:=$top_srcdir/_b}"
[ -x "$top_builddir/keystore/keyturn" ] || top_builddir=$top_srcdir
KEYTURN=$top_builddir/keystore/keyturn
PYTHON3=${PYTHON3:-python3}
N=${1:-${BENCH_DOMAINS:-100000}}
CONC=${BENCH_CONC:-16}
SINCE=${BENCH_SINCE:-600}

die() {
	echo "rotation_bench: $*" >&2
	exit 1
}
[ -x "$KEYTURN" ] || die "$KEYTURN not built (make; or set top_builddir)"
case $N in ''|*[!0-9]*) die "DOMAINS: want a number" ;; esac
[ "$N" -ge 1 ] || die "DOMAINS: at least 1"

. "$top_srcdir/t/lib/knot.sh"
knot_available || die "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
knot_init || die "knot_init"
W=$KNOT_DIR
[ -n "${BENCH_KEEP:-}" ] && KNOT_KEEP=1 && echo "work directory: $W"
KS=$W/ks
kt() {
	"$KEYTURN" -K "$KS" "$@"
}

# ms - monotonic-enough milliseconds for the wall times
ms() {
	echo $(($(date +%s%N) / 1000000))
}

# conf FILE CONCURRENCY RECHECK - a keyturn.conf for the bench's Knot
conf() {
	cat > "$1" <<C
KeyStore $KS
Resolver 127.0.0.91:$KNOT_PORT
DNSPort $KNOT_PORT
DNSTimeout 5s
DNSConcurrency $2
RecheckInterval $3
C
}

# --- the template domain and its records
t0=$(ms)
{
	kt init &&
	kt domain add d0.bench.test --algorithms ed25519 --active-keys 1 &&
	kt key new d0.bench.test --algorithm ed25519 --selector kb-a &&
	kt key new d0.bench.test --algorithm ed25519 --selector kb-b &&
	kt activate --force d0.bench.test kb-a
} > "$W/template.log" 2>&1 || { cat "$W/template.log"; die "template"; }
va=$(kt dns d0.bench.test | sed -n 's/^kb-a\._domainkey\.d0\.bench\.test\. //p')
vb=$(kt dns d0.bench.test | sed -n 's/^kb-b\._domainkey\.d0\.bench\.test\. //p')
[ -n "$va" ] && [ -n "$vb" ] || die "no records for the template"

# --- the zone: every domain's two records, TTL and negative TTL 1 s
{
	printf '$TTL 1\n@ SOA ns1.bench.test. host.invalid. 1 60 60 600 1\n'
	printf '@ NS ns1\n@ NS ns2\nns1 A 127.0.0.91\nns2 A 127.0.0.92\n'
	awk -v n="$N" -v a="$va" -v b="$vb" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "kb-a._domainkey.d%d TXT \"%s\"\n" \
			    "kb-b._domainkey.d%d TXT \"%s\"\n", i, a, i, b
	}'
} > "$W/bench.test.zone"
for s in 1 2; do
	knot_server "ns$s" "127.0.0.9$s" || die "knot_server"
	knot_zone "ns$s" bench.test "$W/bench.test.zone" || die "knot_zone"
	knot_start "ns$s" || die "knot did not start"
done
t1=$(ms)

# --- the template confirmed by real passes: kb-b pending -> ready once
# both servers have served it for the 1 s hold
conf "$W/one.conf" 1 1d
"$KEYTURN" -c "$W/one.conf" rotate d0.bench.test > "$W/template.1" 2>&1 ||
    { cat "$W/template.1"; die "first pass over the template"; }
sleep 2
"$KEYTURN" -c "$W/one.conf" rotate d0.bench.test > "$W/template.2" 2>&1 ||
    { cat "$W/template.2"; die "second pass over the template"; }
grep -q "^d0.bench.test: ready kb-b" "$W/template.2" ||
    { cat "$W/template.1" "$W/template.2"; die "kb-b not confirmed"; }

# --- the copies
"$PYTHON3" - "$KS" "$N" <<'EOF' || die "copying the template"
import os, shutil, sys
ks, n = sys.argv[1], int(sys.argv[2])
tpl = os.path.join(ks, "d0.bench.test")
files = [f for f in ("policy", "state", "history")
         if os.path.exists(os.path.join(tpl, f))]
keys = os.listdir(os.path.join(tpl, "keys"))
data = {f: open(os.path.join(tpl, f), "rb").read() for f in files}
kdata = {k: open(os.path.join(tpl, "keys", k), "rb").read() for k in keys}
os.umask(0o077)
for i in range(1, n):
    d = os.path.join(ks, "d%d.bench.test" % i)
    os.mkdir(d, 0o700)
    os.mkdir(os.path.join(d, "keys"), 0o700)
    for f, b in data.items():
        with open(os.path.join(d, f), "wb") as out:
            out.write(b)
    for k, b in kdata.items():
        with open(os.path.join(d, "keys", k), "wb") as out:
            out.write(b)
EOF
t2=$(ms)

# memos AGO - every domain's memo: both keys confirmed, last checked AGO
# seconds ago
memos() {
	"$PYTHON3" - "$KS" "$N" "$(($(date +%s) - $1))" <<'EOF' ||
import os, re, sys
ks, n, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tpl = open(os.path.join(ks, "d0.bench.test", "rotate")).read()
text = re.sub(r"; checked=[0-9]+", "", tpl)
text = re.sub(r"(hold=[0-9]+)", r"\1; checked=" + when, text)
os.umask(0o077)
for i in range(n):
    p = os.path.join(ks, "d%d.bench.test" % i, "rotate")
    with open(p + ".tmp", "w") as out:
        out.write(text)
    os.rename(p + ".tmp", p)
EOF
	    die "writing the memos"
}

# row NAME CONC RECHECK - one pass of keyturn rotate, one line
row() {
	conf "$W/row.conf" "$2" "$3"
	memos "$SINCE"
	_t0=$(ms)
	"$KEYTURN" -c "$W/row.conf" rotate > "$W/row.out" 2> "$W/row.err" ||
	    { tail -5 "$W/row.err"; die "$1: keyturn rotate failed"; }
	_t1=$(ms)
	grep -q ALARM "$W/row.out" && die "$1: an alarm: $(grep ALARM "$W/row.out" | head -3)"
	tail -n 1 "$W/row.out" | awk -v name="$1" -v conc="$2" \
	    -v wall=$((_t1 - _t0)) '
	    /^rotation pass: / {
		gsub(/[,:()]/, " ")
		# rotation pass D domains K keys C checked Q DNS queries in S s
		d = $3; k = $5; c = $7; q = $9; w = wall > 0 ? wall / 1000 : 0.001
		printf "%-34s %4d %8d %8d %8d %9d %8.1f %9.0f %10.0f\n",
		    name, conc, d, k, c, q, w, c / w, q / w
		found = 1 }
	    END { exit !found }' || die "$1: no summary: $(tail -n 2 "$W/row.out")"
}

nk=$((N * 2))
echo "rotation_bench: $N domains, $nk Ed25519 keys (active + ready standby)," \
    "2 Knot servers on loopback"
echo "  built in $(( (t2 - t0) / 1000 )) s (the template, the zone and" \
    "Knot serving it in $(( (t1 - t0) / 1000 )) s, the copies the rest);" \
    "before each pass every key is confirmed, last checked ${SINCE} s ago"
printf "%-34s %4s %8s %8s %8s %9s %8s %9s %10s\n" pass conc domains keys \
    checked queries wall_s checks/s queries/s
row "nothing due, RecheckInterval 1d" "$CONC" 1d | tee "$W/idle.row"
row "nothing due, RecheckInterval 1d" 1 1d | tee "$W/idle1.row"
awk '{ w[NR] = $(NF - 2) } END { if (w[1] > 0)
    printf "  nothing due: DNSConcurrency 1 takes %.2fx the wall time of %s\n",
    w[2] / w[1], "'"$CONC"'" }' "$W/idle.row" "$W/idle1.row"
if [ "${BENCH_ALLDUE:-1}" = 1 ]; then
	row "every key due, RecheckInterval 1s" "$CONC" 1s | tee "$W/all.row"
	if [ "${BENCH_ALLDUE_SERIAL:-0}" = 1 ]; then
		row "every key due, RecheckInterval 1s" 1 1s |
		    tee "$W/all1.row"
		awk '{ w[NR] = $(NF - 2) } END { if (w[1] > 0)
		    printf "  every key due: DNSConcurrency 1 takes %.2fx the wall time of %s\n",
		    w[2] / w[1], "'"$CONC"'" }' "$W/all.row" "$W/all1.row"
	fi
fi
exit 0
