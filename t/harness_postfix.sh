#!/bin/sh
# harness_postfix.sh - a private Postfix instance with the floor filter as
# its milter: mail submitted over SMTP arrives in the sink with the floor
# header on top of Postfix's own Received: header; a tempfailing filter
# makes Postfix answer 451 and deliver nothing; an unreachable filter
# tempfails too (milter_default_action); a 20 MB message goes through.
set -u

: "${top_builddir:=.}" "${top_srcdir:=.}"
FLOOR=$top_builddir/t/bench/floor
PY=${PYTHON3:-/usr/bin/python3}
. "$top_srcdir/t/lib/postfix.sh"
. "$top_srcdir/t/lib/listening.sh"

for tool in postfix postconf ss "$PY"; do
	command -v "$tool" >/dev/null 2>&1 && continue
	echo "skip: $tool not found"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
done
if [ "$(id -u)" != 0 ]; then
	echo "skip: a private Postfix needs root"
	[ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
fi

T=$(mktemp -d /tmp/kt-pfx.XXXXXX)
chmod 755 "$T"
PORT=$(pf_free_port)
pids=
failures=0
cleanup() {
	pf_stop "$T/pf"
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ $failures -eq 0 ] && rm -rf "$T" || echo "kept $T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# floor_start NAME ARGS...: a floor filter the postfix user may connect to
floor_start() {
	_n=$1; shift
	(umask 0; exec "$FLOOR" -s "unix:$T/$_n.sock" "$@") 2>"$T/$_n.err" &
	pids="$pids $!"
	_i=0
	# a bound that only catches a floor that never listens
	while ! listening "$T/$_n.sock" && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
}

floor_start floor
floor_start tf -T

cat >"$T/m1.eml" <<'EOF'
From: Alice <alice@example.com>
To: bob@sink.test
Subject: through postfix
 folded
Date: Sun, 22 Nov 2026 21:00:00 +0000
Message-ID: <pf1@example.com>

Hello through Postfix.
EOF

pf_init "$T/pf" 127.0.0.1 "$PORT" "unix:$T/floor.sock" || { fail "pf_init"; exit 1; }
pf_start "$T/pf" || { fail "pf_start"; cat "$T/pf/maillog"; exit 1; }
ok "private postfix on 127.0.0.1:$PORT"

# 1. one message: delivered, floor header at the top of what the filter saw
code=$(pf_send "$T/pf" alice@example.com bob@sink.test "$T/m1.eml")
[ "$code" = 250 ] && ok "accepted over SMTP" || fail "SMTP: $code"
pf_wait "$T/pf" 1 && ok "delivered" || fail "not delivered"
f=$(pf_messages "$T/pf" | head -1)
first=$(grep -n '^X-Floor: ' "$f" | cut -d: -f1)
recv=$(grep -n '^Received: ' "$f" | head -1 | cut -d: -f1)
[ -n "$first" ] && ok "floor header present" || fail "no floor header in $f"
[ -n "$first" ] && [ -n "$recv" ] && [ "$first" -lt "$recv" ] &&
    ok "floor header above Postfix's Received:" ||
    fail "floor header at line $first, Received at $recv"
grep -q '^X-Floor: hdrs=[0-9]* body=24$' "$f" && ok "floor saw the body" ||
    fail "floor header: $(grep '^X-Floor' "$f")"
grep -q '^Subject: through postfix$' "$f" && grep -q '^ folded$' "$f" &&
    ok "folded header kept" || fail "folded header"

# 2. several messages in one go
for i in 1 2 3 4 5; do
	pf_send "$T/pf" alice@example.com "n$i@sink.test" "$T/m1.eml" >/dev/null ||
	    fail "send $i"
done
pf_wait "$T/pf" 6 && ok "six delivered" || fail "six not delivered"
n=$(for f in $(pf_messages "$T/pf"); do grep -c '^X-Floor: ' "$f"; done | grep -c '^1$')
[ "$n" = 6 ] && ok "each has one floor header" || fail "$n of 6 with one floor header"

# 3. a 20 MB message
$PY - "$T/big.eml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: a@example.com\nTo: b@sink.test\nSubject: 20 MB\n\n")
    line = "0123456789" * 7 + "\n"
    for i in range(20 * 1024 * 1024 // len(line)):
        f.write(line)
EOF
code=$(pf_send "$T/pf" a@example.com big@sink.test "$T/big.eml")
[ "$code" = 250 ] && ok "20 MB accepted" || fail "20 MB: $code"
pf_wait "$T/pf" 7 && ok "20 MB delivered" || fail "20 MB not delivered"
big=$(grep -l '^Subject: 20 MB' $(pf_messages "$T/pf") | head -1)
bb=$($PY -c 'import sys; d=open(sys.argv[1],"rb").read(); print(len(d.split(b"\n\n",1)[1].replace(b"\n",b"\r\n")))' "$T/big.eml")
grep -q "^X-Floor: hdrs=[0-9]* body=$bb\$" "$big" && ok "floor saw all 20 MB" ||
    fail "20 MB floor header: $(grep '^X-Floor' "$big")"

# 4. a tempfailing filter: 451, nothing delivered
# (stopped and started, not reloaded: a reload takes effect some time later)
pf_set "$T/pf" "smtpd_milters = unix:$T/tf.sock"
pf_stop "$T/pf"
pf_start "$T/pf" || fail "postfix did not start again"
code=$(pf_send "$T/pf" alice@example.com tf@sink.test "$T/m1.eml")
case $code in 451*) ok "tempfail gives 451" ;; *) fail "tempfail gave $code" ;; esac

# 5. no filter at all: milter_default_action = tempfail
pf_set "$T/pf" "smtpd_milters = unix:$T/none.sock"
pf_stop "$T/pf"
pf_start "$T/pf" || fail "postfix did not start again"
code=$(pf_send "$T/pf" alice@example.com none@sink.test "$T/m1.eml")
case $code in 4*) ok "missing filter gives $code" ;; *) fail "missing filter gave $code" ;; esac
sleep 1
[ "$(pf_count "$T/pf")" = 7 ] && ok "nothing more delivered" ||
    fail "$(pf_count "$T/pf") delivered, want 7"

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
exit 0
