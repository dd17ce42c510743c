#!/bin/sh
# milter_memory - keyturnd's memory does not grow with the body: its peak
# RSS after 10 MB messages stays within 1 MB of its peak after 2 KB ones,
# and a 10 MB signature verifies.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_memory
kt_cli domain add example.com --algorithms rsa,ed25519
kt_key example.com rsa r1
kt_key example.com ed25519 e1
kt_conf "LogLevel warning"
kt_start

kt_msg "$W/small.eml" "From: alice@example.com"
{
	printf 'From: alice@example.com\nTo: bob@example.org\nSubject: big\n\n'
	"$PYTHON3" -c '
import sys
line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n"
sys.stdout.buffer.write(line * (10 * 1024 * 1024 // len(line)))'
} >"$W/big.eml"

# the signing process's (keyturnd(8) PROCESSES)
SPID=$(kt_signer) || kt_fail "keyturnd has no signing process"
hwm() {
	sed -n 's/^VmHWM:[ 	]*\([0-9]*\) kB/\1/p' "/proc/$SPID/status"
}

kt_miltc -n 200 -c 4 -k 10 --client 127.0.0.1 -q "$W/small.eml" ||
    kt_fail "miltc (small)"
small=$(hwm)
kt_miltc -n 12 -c 4 -k 3 --client 127.0.0.1 -q "$W/big.eml" ||
    kt_fail "miltc (big)"
big=$(hwm)
echo "peak RSS: $small kB after 2 KB messages, $big kB after 10 MB messages"
[ $((big - small)) -le 1024 ] ||
    kt_fail "peak RSS grew by $((big - small)) kB with 10 MB messages"
kt_ok "peak RSS within 1 MB ($small kB -> $big kB)"

kt_miltc -o "$W/big.out" --client 127.0.0.1 -B random:7 "$W/big.eml" \
    >"$W/big.txt" || kt_fail "miltc (big, random chunks)"
kt_verify "$W/big.out"
kt_ok "10 MB message in random chunks: both signatures verify"
kt_stop
exit 0
