#!/bin/sh
# corpora - every seed corpus of t/fuzz through its harness, built by make
# check with a main that replays inputs (t/fuzz/fuzz_replay.c; the engine
# harness with t/fuzz/replay.c): the corpora are regression inputs, and
# the harnesses keep compiling with the code they call. No fuzzing here:
# t/fuzz/run.sh fuzzes. A harness whose binary is missing fails.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
here=$top_srcdir/t/fuzz
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kt-corpora.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0
for f in "$here"/fuzz_*.c; do
	n=${f##*/fuzz_}
	n=${n%.c}
	case $n in util | replay) continue ;; esac
	bin=$top_builddir/t/fuzz/fuzz_$n
	[ -d "$here/corpus/$n" ] || continue
	if [ ! -x "$bin" ]; then
		echo "FAIL: $bin not built" >&2
		status=1
		continue
	fi
	# the engine's replay.c takes files only
	if ! TMPDIR=$tmp "$bin" "$here/corpus/$n"/* >"$tmp/out" 2>&1; then
		echo "FAIL: fuzz_$n on its corpus:" >&2
		tail -n 20 "$tmp/out" >&2
		status=1
		continue
	fi
	echo "ok: fuzz_$n, $(find "$here/corpus/$n" -type f | wc -l) inputs"
done
exit $status
