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
# fsync after the state rename fails (an fsync shim fails it on purpose)
CC=${CC:-cc}
if command -v "$CC" >/dev/null 2>&1; then
	cat >"$T/shim.c" <<'EOF'
#define _GNU_SOURCE
#include <sys/stat.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int fsync(int fd)
{
	static int (*real)(int);
	const char *want = getenv("KT_FAIL_DIRSYNC");
	char link[64], path[4096];
	struct stat st;
	ssize_t n;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fsync");
	if (want != NULL && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, path, sizeof(path) - 1)) > 0) {
			path[n] = '\0';
			if (strcmp(path, want) == 0) {
				errno = EIO;
				return -1;
			}
		}
	}
	return real(fd);
}
EOF
	"$CC" -shared -fPIC -o "$T/shim.so" "$T/shim.c" -ldl ||
	    fail "cannot build the fsync shim"
	run 0 kt domain add sync.example --algorithms ed25519
	run 0 kt key new sync.example
	sel=$(head -n1 "$T/out")
	g0=$(cat "$K/generation")
	KT_FAIL_DIRSYNC=$(realpath "$K/sync.example") \
	    LD_PRELOAD="$T/shim.so" run 1 kt activate sync.example "$sel" --force
	has "$T/err" "fsync"
	g1=$(cat "$K/generation")
	[ "$g1" -eq $((g0 + 1)) ] ||
	    fail "generation $g0 -> $g1 after a committed change"
	run 0 kt list sync.example; has "$T/out" "active"
	# a removal is committed by its rename: the same holds
	KT_FAIL_DIRSYNC="$(realpath "$K")/.removed" \
	    LD_PRELOAD="$T/shim.so" run 1 kt domain remove sync.example --force
	[ "$(cat "$K/generation")" -eq $((g1 + 1)) ] ||
	    fail "generation not bumped after a removal"
	[ ! -d "$K/sync.example" ] || fail "domain still there"
	run 0 kt history sync.example; has "$T/out" "domain removed"
elif [ "${KEYTURN_REQUIRE_ALL:-}" = 1 ]; then
	fail "no C compiler for the fsync shim"
fi
echo "ok: $ROUNDS kills"
