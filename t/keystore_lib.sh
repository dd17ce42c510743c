# t/keystore_lib.sh - sourced by the keystore shell tests
#
# Gives: $KT (the keyturn binary), $T (a fresh directory, removed on exit),
# fail MSG, skip MSG, run WANT-STATUS CMD... (output in $T/out, $T/err),
# has FILE TEXT.

: "${top_builddir:?}" "${top_srcdir:?}"
KT="$top_builddir/keystore/keyturn"
T=$(mktemp -d /tmp/kttest.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$T/out" "$T/err"; do
		[ -s "$f" ] && { echo "--- $f:"; cat "$f"; } >&2
	done
	exit 1
}

# skip - exit 77, or fail when every tool is required
skip() {
	if [ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ]; then
		fail "required tool missing: $*"
	fi
	echo "SKIP: $*"
	exit 77
}

# run STATUS CMD... - run CMD, fail unless it exits with STATUS
run() {
	want=$1
	shift
	set +e
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "exit $got, want $want: $*"
}

# has FILE TEXT - FILE contains TEXT (fixed string)
has() {
	grep -qF -- "$2" "$1" || fail "$1 lacks \"$2\""
}

command -v openssl >/dev/null || skip openssl
[ -n "${PYTHON3:-}" ] || PYTHON3=python3
set -e
