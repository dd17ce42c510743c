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
		fi
	done
	r=$((r + 1))
done
# the next write removes what interrupted writes left (key material too)
run 0 kt key new crash.example
left=$(find "$K/crash.example" -name '*.tmp.*')
[ -z "$left" ] || fail "temporary files left: $left"
echo "ok: $ROUNDS kills"
