#!/bin/sh
# milter_oom - keyturnd under a memory limit tempfails the messages it has
# no memory for and goes on signing the others, in the same process.
#
# The signing process gets a soft address-space limit (prlimit --as) a
# little above what it maps after a warm-up with small messages, from 256 KB to 16 MB above; at each
# step a message with close to 1 MB of header fields and a small one go
# through. Every message must be signed (and verify) or tempfailed (451
# from keyturnd, or the session dropped, which the MTA tempfails): never
# passed unsigned. The signing process must be the same one throughout,
# at least one message must have been tempfailed by keyturnd for want of
# memory (logged, and counted as out_of_memory), and with the limit lifted
# the big message signs again.
. "$top_srcdir/t/milter_lib.sh"

command -v prlimit >/dev/null 2>&1 || kt_skip "no prlimit"

kt_init milter_oom
kt_cli domain add example.com --algorithms rsa,ed25519
kt_key example.com rsa r1
kt_key example.com ed25519 e1
PORT=$(free_port)
kt_conf "LogLevel info" "MetricsListen 127.0.0.1:$PORT"
# glibc gives threads arenas of their own, each with 64 MB of address
# space reserved when it is made: an address-space limit then holds only
# in the main arena. One arena for all, as under the tight limits this
# is about (the kernel's brk and mmap answer ENOMEM, malloc NULL).
GLIBC_TUNABLES=glibc.malloc.arena_max=1
export GLIBC_TUNABLES
kt_start
unset GLIBC_TUNABLES
SPID=$(kt_signer) || kt_fail "keyturnd has no signing process"

kt_msg "$W/small.eml" "From: alice@example.com"
# 14 fields of 60 KB: 840 KB of header, under the 1 MB keyturnd accepts
"$PYTHON3" - "$W/big.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: alice@example.com\nTo: bob@example.org\n")
    f.write("Subject: a big header\n")
    for i in range(14):
        f.write("X-Filler-%d: " % i)
        f.write(" ".join(["x" * 59] * 1000)[:60000])
        f.write("\n")
    f.write("\nbody\n")
PY

# the warm-up: keys loaded, a few connection threads made and ended
kt_miltc -n 40 -c 4 -k 5 --client 127.0.0.1 -q "$W/small.eml" ||
    kt_fail "miltc (warm-up)"

vmsize() {
	sed -n 's/^VmSize:[ 	]*\([0-9]*\) kB/\1/p' "/proc/$SPID/status"
}

# one MSG NAME - MSG through the signing process; its outcome in $out:
# signed (verified), tempfail (451 from keyturnd) or dropped
one() {
	rm -f "$W/$2.out"
	if kt_miltc -o "$W/$2.out" --client 127.0.0.1 "$W/$1.eml" \
	    >"$W/$2.txt" 2>"$W/$2.err"; then
		if grep -q "	tempfail	451 4.7.1 " "$W/$2.txt"; then
			out=tempfail
		elif grep -q "^DKIM-Signature:" "$W/$2.out"; then
			kt_verify "$W/$2.out"
			out=signed
		else
			cat "$W/$2.txt" >&2
			kt_fail "$2: passed unsigned under a memory limit"
		fi
	else
		out=dropped
	fi
}

oom=0
signed=0
for kb in 256 512 1024 2048 4096 8192 16384; do
	base=$(vmsize)
	prlimit --pid "$SPID" --as=$(((base + kb) * 1024)): ||
	    kt_fail "prlimit --as on $SPID"
	one big "big-$kb"
	b=$out
	one small "small-$kb"
	s=$out
	prlimit --pid "$SPID" --as=unlimited: ||
	    kt_fail "prlimit --as on $SPID, lifting it"
	kill -0 "$SPID" 2>/dev/null ||
	    kt_fail "the signing process died at a limit of +$kb KB"
	[ "$(kt_signer)" = "$SPID" ] ||
	    kt_fail "another signing process at a limit of +$kb KB"
	echo "limit ${base} kB + $kb kB: big $b, small $s"
	[ "$b" = tempfail ] && oom=$((oom + 1))
	[ "$s" = signed ] && signed=$((signed + 1))
done

grep -q "tempfail: out of memory" "$W/keyturnd.log" ||
    kt_fail "no message tempfailed for want of memory"
kt_ok "$oom big messages tempfailed for want of memory, $signed small ones signed, one signing process throughout"

# counted as such
"$PYTHON3" - "$PORT" <<'PY' || kt_fail "no out_of_memory tempfail counted"
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                              timeout=10).read().decode()
n = [l for l in text.splitlines()
     if l.startswith('keyturn_tempfails_total{cause="out_of_memory"}')]
sys.exit(0 if n and float(n[0].split()[-1]) >= 1 else 1)
PY
kt_ok "out_of_memory counted"

one big after
[ "$out" = signed ] || kt_fail "with the limit lifted the big message: $out"
[ "$(kt_signer)" = "$SPID" ] || kt_fail "the signing process changed"
kt_ok "the limit lifted, the big message signed and verified"
kt_stop
