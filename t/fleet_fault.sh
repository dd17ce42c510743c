#!/bin/sh
# fleet_fault.sh - keyturn's writes to a fleet when the mirror's file
# system fails under them
#
# One etcd member on 127.0.0.1, one host (its mirror $W/ks1). A fleet
# write fetches its domain from etcd into the mirror, writes the mirror
# as a local keystore write does (key file, history, journal line, state,
# generation), then commits the files that changed to etcd in one
# transaction; when the local write or the commit fails, the mirror is
# read back from etcd. t/faultshim.so counts the file-system calls
# (steps) that `key new` (ed25519) and `activate --force` make under the
# mirror, then for every step N: (a) the command is killed before step
# N, (b) step N fails with EIO. After each:
#  - keyturn list and history work on the host (list catches the mirror
#    up with etcd), and the mirror then equals etcd (fl_mirrors_equal);
#  - no key that was there before is lost, and each key's history ends in
#    the state the key is in;
#  - with EIO the command failed and its error names the file and the
#    errno's text, unless the step is one whose failure is no error: the
#    lock file's mark of its holder, the unlink of a temporary file that
#    is not there, the mirror's revision file (.fleet-revision: a
#    warning that names it; the next sync reads more of etcd) and its
#    list of domains to read again (.fleet-bad, a warning too);
#  - the command again (or, once it is done, the next write) succeeds,
#    it is done, the mirror equals etcd, and no temporary file is left.
# The steps are about 30 a command: by default every second step is
# faulted (steps 1, 3, 5... and the last), to keep the run near a minute
# and a half; FLEET_FAULT_STRIDE=1 faults every step.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/etcd.sh"
. "$top_srcdir/t/lib/fleet.sh"
SHIM=$top_builddir/t/faultshim.so
[ -f "$SHIM" ] || kt_skip "t/faultshim.so not built"
STRIDE=${FLEET_FAULT_STRIDE:-2}

FL_HANG=60
fl_init fleet_fault
etcd_cluster 1 || kt_fail "cannot start etcd"
fl_kek
fl_conf 1
fl_cli 1 init
fl_cli 1 domain add a.test --algorithms ed25519
fl_cli 1 key new a.test --algorithm ed25519 --selector s1
fl_cli 1 activate a.test s1 --force
# the shim wants the mirror's path without a symbolic link in it
M=$(realpath "$W/ks1") || kt_fail "realpath $W/ks1"
# etcd's copy: a second host's mirror, never faulted, caught up by a read
sed "s#^KeyStore .*#KeyStore $W/ref#" "$W/k1.conf" > "$W/ref.conf"
"$KEYTURN" -c "$W/ref.conf" init > /dev/null 2>&1 || kt_fail "a second mirror"
: > "$W/failures"
: > "$W/left.seen"

kt1() {
	"$KEYTURN" -c "$W/k1.conf" "$@"
}

# bad MSG - a failed check of the fault $WHAT, kept; the sweep goes on
bad() {
	echo "FAIL: $WHAT: $*" | tee -a "$W/failures" >&2
	return 1
}

# faulted N DO ARG... - keyturn ARG... under the shim (N 0: only
# counted); its exit status in $rc, its steps in $W/steps, their number
# in $W/count, its stderr in $W/err
faulted() {
	_n=$1 _do=$2
	shift 2
	rm -f "$W/steps" "$W/count"
	[ "$_n" = 0 ] && _n= _do=
	env LD_PRELOAD="$SHIM" KT_FAULT_DIR="$M" KT_FAULT_LOG="$W/steps" \
	    KT_FAULT_COUNT="$W/count" ${_n:+KT_FAULT_N=$_n KT_FAULT_DO=$_do} \
	    "$KEYTURN" -c "$W/k1.conf" "$@" >"$W/out" 2>"$W/err"
	rc=$?
}

cat > "$W/check.py" <<'P'
# check.py BEFORE AFTER HISTORY SEL: no key of BEFORE (keyturn list
# --json) is lost in AFTER, every key's history (keyturn history --json)
# is one chain that ends in the key's state; prints the number of keys
# of a.test and the state of its key SEL
import json, sys
before, after, hist = (json.load(open(p)) for p in sys.argv[1:4])
before = [k for k in before if k["domain"] == "a.test"]
after = [k for k in after if k["domain"] == "a.test"]
have = {k["key_id"] for k in after}
for k in before:
    if k["key_id"] not in have:
        sys.exit("key %s (%s) lost" % (k["selector"], k["key_id"]))
last = {}
for e in hist:
    if e["selector"] == "-":
        continue
    key = e["key"] or e["selector"]
    if (key not in last and e["from"] != "-") or \
            (key in last and e["from"] != last[key]):
        sys.exit("history: %s goes %s -> %s after %s" %
                 (e["selector"], e["from"], e["to"], last.get(key)))
    last[key] = e["to"]
for k in after:
    if last.get(k["key_id"]) != k["state"]:
        sys.exit("%s is %s, its history says %s" %
                 (k["selector"], k["state"], last.get(k["key_id"])))
print(len(after), " ".join(k["state"] for k in after
                           if k["selector"] == sys.argv[4]) or "-")
P

# check BEFORE SEL [left] - the host reads the fleet (list catches its mirror
# up), its mirror then holds what etcd holds, no key of BEFORE is lost,
# every key's history ends in its state, and (left) no temporary file is
# new in the mirror since the last look; $NKEYS and $STATE (of SEL) set
check() {
	NKEYS=0 STATE=-
	kt1 list --json > "$W/after.json" 2>"$W/list.err" ||
	    { bad "keyturn list: $(cat "$W/list.err")"; return 1; }
	kt1 history a.test --json > "$W/hist.json" 2>"$W/hist.err" ||
	    { bad "keyturn history: $(cat "$W/hist.err")"; return 1; }
	_r=$("$PYTHON3" "$W/check.py" "$1" "$W/after.json" "$W/hist.json" \
	    "$2" 2>"$W/check.err") || { bad "$(cat "$W/check.err")"; return 1; }
	NKEYS=${_r% *} STATE=${_r#* }
	"$KEYTURN" -c "$W/ref.conf" list > /dev/null 2>"$W/ref.err" ||
	    kt_fail "the second mirror: $(cat "$W/ref.err")"
	diff -r -x lock -x generation -x journal -x keyturn.keystore \
	    -x .fleet-revision -x .fleet-bad -x '*.tmp.*' "$W/ref" "$M" \
	    > "$W/diff" 2>&1 ||
	    bad "the mirror, caught up, differs from etcd: $(head -4 "$W/diff")"
	# a write cleans up what one that died left: looked at after the next
	[ "${3:-}" = left ] || return 0
	find "$M" -name '*.tmp.*' | sort > "$W/left"
	_new=$(comm -13 "$W/left.seen" "$W/left")
	cp "$W/left" "$W/left.seen"
	[ -z "$_new" ] || bad "temporary files left: $_new"
}

# eio_ok N - step N failed with EIO: the command failed and its error
# names the step's file and the errno's text, or the step is one whose
# failure is no error
eio_ok() {
	_line=$(sed -n "${1}p" "$W/steps")
	_call=$(echo "$_line" | cut -d' ' -f2)
	_paths=$(echo "$_line" | cut -d' ' -f3-)
	if [ $rc = 0 ]; then
		# the list of domains a sync reads again, marked around a
		# write: not saved, said, and the write goes on
		grep -q "fleet: $M/.fleet-bad.*Input/output error" "$W/err" &&
		    return 0
		case "$_call $_paths" in
		# the mark of the lock's holder: without it, no clean-up
		"pwrite $M/lock"|"ftruncate $M/lock") return 0 ;;
		# a temporary file's removal before it is made
		"unlink "*.tmp.*) return 0 ;;
		# the mirror's revision: not saved, said, and the next read
		# asks etcd from the revision before
		*" $M/.fleet-revision"*)
			grep -q "fleet: $M/.fleet-revision.*Input/output error" \
			    "$W/err" && return 0 ;;
		"fsync $M")
			grep -q "fleet: $M: fsync: Input/output error" \
			    "$W/err" && return 0 ;;
		esac
		bad "exit 0, the error lost: $(cat "$W/err")"
		return 1
	fi
	_named=
	for _p in $_paths; do
		grep -qF "$_p" "$W/err" && _named=1
	done
	[ -n "$_named" ] && grep -q "Input/output error" "$W/err" ||
	    bad "the error names neither the file nor EIO: $(cat "$W/err")"
}

# again SEL ARG... - the command ARG... again, or the next write once it
# is done (SEL, the key activated, is active); it succeeds and is done
again() {
	_sel=$1
	shift
	if [ "$_sel" != - ] && [ "$STATE" = active ]; then
		set -- key new a.test --algorithm ed25519
		_sel=-
	fi
	_n0=$NKEYS
	kt1 "$@" > "$W/again.out" 2>&1 ||
	    { bad "then keyturn $*: $(cat "$W/again.out")"; return 1; }
	check "$W/before.json" "$_sel" left || return 1
	case "$1" in
	key) [ "$NKEYS" -gt "$_n0" ] || bad "then keyturn $*: no new key" ;;
	activate) [ "$STATE" = active ] || bad "then keyturn $*: $_sel is $STATE" ;;
	esac
}

# sweep NAME PREP CMD - the keyturn command CMD (its arguments, expanded
# after the shell function PREP when PREP is not -) counted, then killed
# before each step and each step failed with EIO, each followed by the
# checks above
sweep() {
	_name=$1 _prep=$2 _cmd=$3
	WHAT="$_name, counted"
	[ "$_prep" = - ] || $_prep
	eval "set -- $_cmd"
	faulted 0 - "$@"
	[ $rc = 0 ] || kt_fail "$_name, no fault: $(cat "$W/err")"
	total=$(cat "$W/count")
	[ "$total" -gt 0 ] && [ "$(wc -l < "$W/steps")" = "$total" ] ||
	    kt_fail "$_name: $total steps counted, $(wc -l < "$W/steps") logged"
	cp "$W/steps" "$W/steps.$_name"
	faults=0
	n=1
	while [ $n -le "$total" ]; do
		if [ $(((n - 1) % STRIDE)) != 0 ] && [ $n != "$total" ]; then
			n=$((n + 1))
			continue
		fi
		for do in KILL EIO; do
			[ "$_prep" = - ] || $_prep
			eval "set -- $_cmd"
			sel=-
			[ "$1" = activate ] && sel=$3
			kt1 list --json > "$W/before.json" ||
			    kt_fail "keyturn list before a fault"
			WHAT="$_name, step $(sed -n "${n}p" "$W/steps.$_name" |
			    sed "s#$M/##g") of $total, $do"
			faulted $n $do "$@"
			if [ "$(cat "$W/count" 2>/dev/null || echo "$n")" -lt $n ]; then
				# a write that died earlier left files this one
				# cleans up (or did not): the steps moved
				echo "  $WHAT: only $(cat "$W/count") steps this time"
				check "$W/before.json" $sel
				n=$((n + 1))
				continue 2
			elif [ $do = KILL ]; then
				[ $rc = 137 ] ||
				    bad "not killed (exit $rc): $(cat "$W/err")"
			else
				eio_ok $n
			fi
			check "$W/before.json" $sel
			again $sel "$@"
			faults=$((faults + 1))
		done
		n=$((n + 1))
	done
	echo "  $_name: $total steps, $faults faults"
}

# each activate has a pending key of its own, p1, p2...; the key
# activated before is retired (at most 3 keys of an algorithm are active)
P=0
pending() {
	[ $P = 0 ] || kt1 retire a.test p$P --force > /dev/null 2>&1
	P=$((P + 1))
	fl_cli 1 key new a.test --algorithm ed25519 --selector p$P
}

sweep "key new" - "key new a.test --algorithm ed25519"
sweep "activate" pending "activate a.test p\$P --force"

# the second mirror against one made afresh
fl_mirrors_equal
diff -r -x lock -x generation -x journal -x keyturn.keystore \
    -x .fleet-revision -x .fleet-bad "$W/fresh" "$W/ref" > "$W/diff" ||
    kt_fail "the second mirror differs from a fresh one: $(head -4 "$W/diff")"
if [ -s "$W/failures" ]; then
	echo "FAIL: $(wc -l < "$W/failures") checks failed (above)" >&2
	exit 1
fi
kt_ok "every step of key new and activate killed and failed with EIO"
exit 0
