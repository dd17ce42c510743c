#!/bin/sh
# run.sh - build the libFuzzer harnesses of t/fuzz and run each for a while
#
#	t/fuzz/run.sh [-m] [-k] [-j N] [SECONDS] [NAME...]
#
# The project is built once more with clang, ASan, UBSan and the fuzzer's
# coverage (-fsanitize=fuzzer-no-link) in its own directory, $KT_FUZZ_BUILD
# (default: build-fuzz at the top of the source tree), configured there on
# the first run and reused (make brings it up to date). Each harness
# t/fuzz/fuzz_NAME.c is linked against it with -fsanitize=fuzzer, then run
# for SECONDS (default 30) over its seed corpus t/fuzz/corpus/NAME and its
# dictionary t/fuzz/NAME.dict when there is one. NAME is the part after
# fuzz_ (conf, policy, ...); none: every harness, in order.
#
# New inputs go to a work directory, not to the corpus: -m merges the ones
# that add coverage into t/fuzz/corpus/NAME afterwards. -k keeps the work
# directories ($KT_FUZZ_BUILD/fuzz-work/NAME: the log, new inputs, crash
# files). -j N runs N harnesses at a time (default 1). Per harness one line: executions, libFuzzer's final cov: and
# ft:, the corpus it ended with, its seed corpus (files, KiB). Any finding
# (crash, leak, timeout, UBSan) is reported with the input's path and the
# command that reruns it; the exit status is then 1 (2: the build failed).
#
# FUZZ_CC (default clang), FUZZ_JOBS (make -j, default 2), KT_FUZZ_TMP (where
# the harnesses write their scratch files; default /dev/shm when writable),
# KT_FUZZ_STRICT (set: the known findings of t/fuzz/findings/README are
# findings again; without it the harnesses step around them, and
# t/fuzz/lsan.supp lists their leaks).

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${KT_FUZZ_BUILD:-$top/build-fuzz}
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
PROJ_CFLAGS="-g -O1 $SAN -fsanitize=fuzzer-no-link -fno-omit-frame-pointer"
LIBS="milter/libkeyturnd.a milter/libdkim.a rotate/librotate.a
	keystore/libkeystore.a t/libmsgfile.a"

usage() {
	echo "usage: t/fuzz/run.sh [-m] [-k] [-j N] [SECONDS] [NAME...]" >&2
	exit 2
}

merge=0
keep=0
par=1
while getopts mkj:h opt; do
	case $opt in
	m) merge=1 ;;
	k) keep=1 ;;
	j) case $OPTARG in '' | *[!0-9]* | 0) usage ;; esac; par=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
secs=30
case ${1:-} in
'' | *[!0-9]*) ;;
*) secs=$1; shift ;;
esac
names="$*"
if [ -z "$names" ]; then
	for f in "$here"/fuzz_*.c; do
		n=${f##*/fuzz_}
		n=${n%.c}
		case $n in util | replay) ;; *) names="$names $n" ;; esac
	done
fi
for n in $names; do
	[ -f "$here/fuzz_$n.c" ] ||
	    { echo "run.sh: no t/fuzz/fuzz_$n.c" >&2; usage; }
done

start=$(date +%s)

# ---- the project, instrumented
mkdir -p "$B" || exit 2
if [ ! -f "$B/Makefile" ]; then
	echo "run.sh: configuring $B (CC=$CC)"
	(cd "$B" && "$top/configure" -q CC="$CC" CFLAGS="$PROJ_CFLAGS") ||
	    { echo "run.sh: configure failed" >&2; exit 2; }
fi
# (once more on a failure: a source edited while the compiler read it)
# shellcheck disable=SC2086
make -s -C "$B" -j"${FUZZ_JOBS:-2}" $LIBS >"$B/fuzz-make.log" 2>&1 ||
    make -s -C "$B" -j"${FUZZ_JOBS:-2}" $LIBS >"$B/fuzz-make.log" 2>&1 ||
    { cat "$B/fuzz-make.log" >&2; echo "run.sh: make failed" >&2; exit 2; }

# var NAME - a variable of the build's Makefile, as make expands it
# shellcheck disable=SC2016
var() {
	printf 'fuzz-print-var:\n\t@echo $(%s)\n' "$1" |
	    make -s -C "$B" -f Makefile -f - fuzz-print-var
}
EXT_CFLAGS=
EXT_LIBS=
for v in CRYPTO BSD CURL JSONC LDNS IDN2 MILTER MHD PTHREAD; do
	EXT_CFLAGS="$EXT_CFLAGS $(var ${v}_CFLAGS)"
done
for v in CRYPTO BSD CURL JSONC LDNS IDN2 MHD PTHREAD; do
	EXT_LIBS="$EXT_LIBS $(var ${v}_LIBS)"
done
INC="-I$B -I$top -I$top/keystore -I$top/milter -I$top/rotate -I$top/t
	-I$here -DHAVE_CONFIG_H"
FUZZ_CFLAGS="-g -O1 -fsanitize=fuzzer $SAN -fno-omit-frame-pointer
	$(var WARN_CFLAGS)"

# extra - the product files a harness links in (keyturnd's own, in no
# library; fuzz_odk includes keyturn's cli_import_odk.c itself)
extra() {
	case $1 in
	milter) echo "$top/milter/filter.c" ;;
	esac
}

mkdir -p "$B/t/fuzz" "$B/fuzz-work"
for n in $names; do
	bin=$B/t/fuzz/fuzz_$n
	util=$here/fuzz_util.c
	[ "$n" = engine ] && util=
	# shellcheck disable=SC2046,SC2086
	if ! $CC $FUZZ_CFLAGS $INC $EXT_CFLAGS "$here/fuzz_$n.c" $util \
	    $(extra "$n") -o "$bin" -Wl,--start-group \
	    $(for l in $LIBS; do printf '%s ' "$B/$l"; done) \
	    -Wl,--end-group $EXT_LIBS >"$B/fuzz-work/build-$n.log" 2>&1; then
		cat "$B/fuzz-work/build-$n.log" >&2
		echo "run.sh: fuzz_$n does not build" >&2
		exit 2
	fi
done
built=$(date +%s)
echo "run.sh: built in $((built - start))s; ${secs}s per harness"

# ---- the runs
# stat FILE KEY - a "stat::KEY: N" line of libFuzzer's final statistics
stat() {
	sed -n "s/^stat::$2: *//p" "$1" | tail -1
}
# covft FILE - cov: and ft: of the last status line
covft() {
	grep -E '^#[0-9]+.* cov: ' "$1" | tail -1 | sed -E 's/.* cov: '\
'([0-9]+) ft: ([0-9]+) corp: ([^ ]+).*/cov=\1 ft=\2 corp=\3/'
}

# scratch files of the harnesses: a tmpfs when there is one (keystore
# writes fsync), else the build directory; KT_FUZZ_TMP to choose
tbase=${KT_FUZZ_TMP:-}
if [ -z "$tbase" ]; then
	tbase=$B/fuzz-work
	[ -d /dev/shm ] && [ -w /dev/shm ] && tbase=/dev/shm
fi

# the leaks of known findings (lsan.supp) are not stopped at, nor (in the
# harnesses) the other known findings, unless KT_FUZZ_STRICT is set
if [ -z "${KT_FUZZ_STRICT:-}" ]; then
	LSAN_OPTIONS=suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
	export LSAN_OPTIONS
fi

row='%-10s %10s %8s  %-36s %s\n'

# one NAME - run harness NAME; its row, and what it found, on stdout
one() {
	n=$1
	bin=$B/t/fuzz/fuzz_$n
	corpus=$here/corpus/$n
	w=$B/fuzz-work/$n
	rm -rf "$w"
	mkdir -p "$w/new" "$corpus"
	tmp=$(mktemp -d "$tbase/ktfuzz-$n.XXXXXX") || return 2
	dict=
	[ -f "$here/$n.dict" ] && dict="-dict=$here/$n.dict"
	# -close_fd_mask=3: the harness's own output (the logs of the code
	# under test) is dropped; libFuzzer's and the sanitizers' stay
	# shellcheck disable=SC2086
	TMPDIR=$tmp "$bin" -max_total_time="$secs" -print_final_stats=1 \
	    -close_fd_mask=3 -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
	    -artifact_prefix="$w/" $dict "$w/new" "$corpus" \
	    >"$w/log" 2>&1
	rc=$?
	seeds="$(find "$corpus" -type f | wc -l) files,"
	seeds="$seeds $(du -sk "$corpus" | cut -f1) KiB"
	# shellcheck disable=SC2059
	printf "$row" "$n" \
	    "$(stat "$w/log" number_of_executed_units)" \
	    "$(stat "$w/log" average_exec_per_sec)" "$(covft "$w/log")" \
	    "$seeds"
	# a unit slower than 10 s is written too (slow-unit-*): on a loaded
	# machine that is the machine; a hang is a timeout (-timeout=20)
	art=$(sed -n "s/.*Test unit written to //p" "$w/log" |
	    grep -v '/slow-unit-' | head -1)
	slow=$(sed -n "s/^Slowest unit: //p" "$w/log" | tail -1)
	[ -z "$slow" ] || echo "  (fuzz_$n: slowest unit $slow, not a finding)"
	keepw=$keep
	if [ $rc -ne 0 ] || [ -n "$art" ]; then
		what=$(grep -m1 -E \
		    '^(==[0-9]+== ?ERROR|.*runtime error|ALARM)' "$w/log")
		echo "FINDING in fuzz_$n (exit $rc): $what"
		echo "  input: ${art:-see $w/log}"
		echo "  rerun: $bin ${art:-FILE}"
		echo "  log:   $w/log"
		keepw=1
	fi
	if [ $merge -eq 1 ] && [ -n "$(ls "$w/new")" ]; then
		TMPDIR=$tmp "$bin" -merge=1 -close_fd_mask=3 -timeout=20 \
		    -max_len=65536 "$corpus" "$w/new" >"$w/merge.log" 2>&1 ||
		    echo "run.sh: merge into $corpus failed: $w/merge.log" >&2
	fi
	rm -rf "$tmp"
	[ $keepw -eq 1 ] || rm -rf "$w"
	return 0
}

# the harnesses, par at a time; each batch's rows once it is done
found=0
# shellcheck disable=SC2059
printf "$row" harness execs exec/s "coverage (final)" seeds
batch=
flush() {
	wait
	for b in $batch; do
		cat "$B/fuzz-work/$b.out"
		grep -q '^FINDING' "$B/fuzz-work/$b.out" && found=1
		rm -f "$B/fuzz-work/$b.out"
	done
	batch=
}
i=0
for n in $names; do
	one "$n" >"$B/fuzz-work/$n.out" 2>&1 &
	batch="$batch $n"
	i=$((i + 1))
	[ $((i % par)) -eq 0 ] && flush
done
flush
end=$(date +%s)
echo "run.sh: $((end - start))s in all"
exit $found
