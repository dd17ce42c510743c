#!/bin/sh
# keystore_crash - kill -9 of a writer at any moment leaves a keystore
# that loads: a writer that never stops writing (t/keystore_writer) is
# killed at random times, and after each kill every domain, key file and
# history must load, with a history line for every key in the state. The
# next writer then carries on from there.
. "$top_srcdir/t/keystore_lib.sh"

K="$T/ks"
kt() { "$KT" -K "$K" "$@"; }
W="$top_builddir/t/keystore_writer"
ROUNDS=${KEYSTORE_CRASH_ROUNDS:-25}

run 0 kt init
run 0 kt domain add crash.example --algorithms ed25519

r=0
while [ $r -lt $ROUNDS ]; do
	"$W" "$K" crash.example 2>"$T/writer.err" &
	pid=$!
	# 10 to 200 ms of writing
	sleep "0.$(printf '%03d' $((($(od -An -N2 -tu2 /dev/urandom) % 190) + 10)))"
	kill -9 $pid 2>/dev/null || { cat "$T/writer.err" >&2; fail "writer died"; }
	wait $pid 2>/dev/null || :
	run 0 kt domain list
	run 0 kt dns	# parses every private key that is not revoked
	run 0 kt list --json
	cp "$T/out" "$T/list.json"
	for d in crash.example other.crash.example; do
		if [ -d "$K/$d" ]; then
			run 0 kt history $d --json
			"$PYTHON3" - "$T/list.json" "$T/out" "$d" <<'PY' || fail "round $r: state and history disagree"
import json, sys
keys = [k for k in json.load(open(sys.argv[1])) if k["domain"] == sys.argv[3]]
hist = json.load(open(sys.argv[2]))
last = {}
for e in hist:
    if e["selector"] != "-":
        last[e["selector"]] = e["to"]
for k in keys:
    assert last.get(k["selector"]) == k["state"], (k, last.get(k["selector"]))
PY
		elif [ -d "$K/.removed/$d" ]; then	# kept whole
			run 0 kt history $d
			tail -n 1 "$T/out" | grep -q "domain removed" ||
			    fail "round $r: removed $d: $(tail -n 1 "$T/out")"
		fi
	done
	r=$((r + 1))
done
# the next write removes what interrupted writes left (key material too)
run 0 kt key new crash.example
left=$(find "$K/crash.example" -name '*.tmp.*')
[ -z "$left" ] || fail "temporary files left: $left"
# --- a committed change moves the generation even when the directory
# fsync after the state rename fails (t/faultshim.so fails it on purpose)
SHIM="$top_builddir/t/faultshim.so"
[ -f "$SHIM" ] || fail "$SHIM not built (make check builds it)"
R=$(realpath "$K")
# fsync_step DIR CMD... - which fsync of CMD (run on a copy of the
# keystore) is the first of directory DIR
fsync_step() {
	dir=$1
	shift
	rm -rf "$T/copy" "$T/fsyncs"
	cp -a "$K" "$T/copy"
	KT_FAULT_DIR="$T/copy" KT_FAULT_CALLS=fsync KT_FAULT_LOG="$T/fsyncs" \
	    LD_PRELOAD="$SHIM" "$KT" -K "$T/copy" "$@" >/dev/null 2>&1 ||
	    fail "$* on a copy"
	awk -v d="$T/copy${dir#"$R"}" '$3 == d { print $1; exit }' \
	    "$T/fsyncs"
}
run 0 kt domain add sync.example --algorithms ed25519
run 0 kt key new sync.example
sel=$(head -n1 "$T/out")
g0=$(cat "$K/generation")
n=$(fsync_step "$R/sync.example" activate sync.example "$sel" --force)
[ -n "$n" ] || fail "activate syncs no directory"
KT_FAULT_DIR=$R KT_FAULT_CALLS=fsync KT_FAULT_N=$n LD_PRELOAD="$SHIM" \
    run 1 "$KT" -K "$R" activate sync.example "$sel" --force
has "$T/err" "$R/sync.example: fsync: Input/output error"
g1=$(cat "$K/generation")
[ "$g1" -eq $((g0 + 1)) ] ||
    fail "generation $g0 -> $g1 after a committed change"
run 0 kt list sync.example; has "$T/out" "active"
# a removal is committed by its rename: the same holds
n=$(fsync_step "$R/.removed" domain remove sync.example --force)
[ -n "$n" ] || fail "domain remove syncs no .removed"
KT_FAULT_DIR=$R KT_FAULT_CALLS=fsync KT_FAULT_N=$n LD_PRELOAD="$SHIM" \
    run 1 "$KT" -K "$R" domain remove sync.example --force
has "$T/err" "$R/.removed: fsync: Input/output error"
[ "$(cat "$K/generation")" -eq $((g1 + 1)) ] ||
    fail "generation not bumped after a removal"
[ ! -d "$K/sync.example" ] || fail "domain still there"
run 0 kt history sync.example; has "$T/out" "domain removed"
echo "ok: $ROUNDS kills"
