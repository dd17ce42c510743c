#!/bin/sh
# keystore_concurrent - writers running at the same time lose nothing:
# two processes add keys to one domain while a third changes another
# domain; every key, key file and history line must be there afterwards.
. "$top_srcdir/t/keystore_lib.sh"

K="$T/ks"
kt() { "$KT" -K "$K" "$@"; }
N=15

run 0 kt init
run 0 kt domain add a.example --algorithms ed25519
run 0 kt domain add b.example --algorithms ed25519

adder() {	# adder NAME DOMAIN - N new keys, one process each
	i=0
	while [ $i -lt $N ]; do
		kt key new "$2" --algorithm ed25519 >>"$T/$1.out" 2>>"$T/$1.err" ||
		    { echo "key new failed" >>"$T/$1.fail"; }
		i=$((i + 1))
	done
}
adder w1 a.example &
p1=$!
adder w2 a.example &
p2=$!
adder w3 b.example &
p3=$!
wait $p1 $p2 $p3
for w in w1 w2 w3; do
	[ ! -e "$T/$w.fail" ] || { cat "$T/$w.err" >&2; fail "$w had errors"; }
done

run 0 kt list a.example --json
"$PYTHON3" - "$T/out" "$N" <<'PY' || fail "keys lost"
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
sels = [k["selector"] for k in d]
assert len(sels) == 2 * n, len(sels)
assert len(set(sels)) == 2 * n, "duplicate selector"
PY
# the selectors the writers were told are exactly the keystore's
grep -h '^kt-[0-9a-z-]*$' "$T/w1.out" "$T/w2.out" | sort >"$T/told"
"$PYTHON3" -c 'import json,sys; print("\n".join(sorted(k["selector"] for k in json.load(open(sys.argv[1])))))' \
    "$T/out" >"$T/have"
cmp -s "$T/told" "$T/have" || fail "selectors reported differ from stored"
# every key has its file and its history line; everything loads
run 0 kt dns a.example
[ "$(wc -l <"$T/out")" -eq $((2 * N)) ] || fail "dns rows"
run 0 kt history a.example --json
"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert sum(1 for x in d if x["to"]=="pending")==2*int(sys.argv[2]), d' \
    "$T/out" "$N" || fail "history lost lines"
run 0 kt list b.example --json
"$PYTHON3" -c 'import json,sys; assert len(json.load(open(sys.argv[1])))==int(sys.argv[2])' \
    "$T/out" "$N" || fail "b.example keys lost"
echo ok
