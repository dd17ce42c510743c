#!/bin/sh
# engine_verify - every t/data message signed by the engine (t/ktsign) and
# verified by dkimpy; see t/engine_verify.py. Skips (77) without python3-dkim
# or openssl unless KEYTURN_REQUIRE_ALL=1.

skip() {
	echo "skip: $1"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
}

: "${PYTHON3:=/usr/bin/python3}"
"$PYTHON3" -c 'import dkim' 2>/dev/null || skip "python3-dkim missing"
command -v openssl >/dev/null 2>&1 || skip "openssl missing"
exec "$PYTHON3" "$top_srcdir/t/engine_verify.py" "$top_builddir/t/ktsign" \
    "$top_srcdir/t/data"
