#!/bin/sh
# harness_floor.sh - miltc against the floor filter: headers land where the
# filter says, both header styles, any chunking, concurrency, SMFIP_NR_*
# honoured both ways, every kind of decision parsed, protocol errors and
# timeouts reported with a non-zero exit; -k, the floor doing a signer's raw
# work.
set -u

: "${top_builddir:=.}" "${top_srcdir:=.}"
. "$top_srcdir/t/lib/listening.sh"
MILTC=$top_builddir/t/miltc
FLOOR=$top_builddir/t/bench/floor
PY=${PYTHON3:-/usr/bin/python3}
T=$(mktemp -d /tmp/kt-floor.XXXXXX)
pids=
failures=0

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		fail "$1: expected [$2], got [$3]"; fi
}

# floor_start NAME ARGS...: a floor filter on $T/NAME.sock
floor_start() {
	name=$1; shift
	"$FLOOR" -s "unix:$T/$name.sock" "$@" 2>"$T/$name.err" &
	pids="$pids $!"
	# a bound that only catches a floor that never listens
	i=0
	while ! listening "$T/$name.sock" && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1)); done
	listening "$T/$name.sock" || { fail "floor $name did not start"; exit 1; }
}

cat >"$T/m1.eml" <<'EOF'
From: Alice <alice@example.com>
To: bob@example.net
Subject:  two spaces
	and a folded tab line
Date: Sun, 22 Nov 2026 21:00:00 +0000
Message-ID: <m1@example.com>

Hello Bob.
Second line.
EOF
# a 300 KB body: body byte count as the MTA sends it (CRLF) is known
$PY - "$T/big.eml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: a@example.com\nTo: b@example.net\nSubject: big\n\n")
    for i in range(6000):
        f.write("line %05d %s\n" % (i, "x" * (i % 70)))
EOF
bigbody=$($PY -c 'import sys; d=open(sys.argv[1],"rb").read(); print(len(d.split(b"\n\n",1)[1].replace(b"\n",b"\r\n")))' "$T/big.eml")

floor_start top -V
floor_start idx2 -x 2
floor_start append -H
floor_start lead -L -V
floor_start noreply -N -V

# 1. the header is inserted at index 0, the rest is unchanged
"$MILTC" -s "unix:$T/top.sock" -t 5 -o "$T/out1.eml" "$T/m1.eml" >"$T/r1" ||
    fail "miltc exit $?"
check "inserted at the top" "X-Floor: hdrs=5 body=26" "$(head -1 "$T/out1.eml")"
sed 1d "$T/out1.eml" | grep -v '^X-Floor-' >"$T/out1.rest"
cmp -s "$T/m1.eml" "$T/out1.rest" && ok "rest of message unchanged" ||
    fail "rest of message changed"
check "decision line" "1	$T/m1.eml	continue" "$(head -1 "$T/r1")"

# 2. index 2, and an appended header
"$MILTC" -s "unix:$T/idx2.sock" -t 5 -o "$T/out2.eml" "$T/m1.eml" >/dev/null
check "inserted at index 2" "X-Floor: hdrs=5 body=26" "$(sed -n 3p "$T/out2.eml")"
check "index 2 keeps first two" "To: bob@example.net" "$(sed -n 2p "$T/out2.eml")"
"$MILTC" -s "unix:$T/append.sock" -t 5 -o "$T/out3.eml" "$T/m1.eml" >/dev/null
check "appended after the last header" "X-Floor: hdrs=5 body=26" \
    "$(sed -n 7p "$T/out3.eml")"
check "blank line after appended header" "" "$(sed -n 8p "$T/out3.eml")"

# 3. header value presentation, both styles: one SP removed, TAB fold kept
#    with a bare LF; with SMFIP_HDR_LEADSPC nothing removed, and the added
#    header gets no space either
for style in postfix sendmail; do
	v=$("$MILTC" -s "unix:$T/top.sock" --style $style "$T/m1.eml" |
	    awk -F'\t' '$4 == "X-Floor-Subject" { print $5 }')
	check "$style: value as sent" ' two spaces\\n\tand a folded tab line' "$v"
	v=$("$MILTC" -s "unix:$T/lead.sock" --style $style -o "$T/lead.eml" \
	    "$T/m1.eml" | awk -F'\t' '$4 == "X-Floor-Subject" { print $5 }')
	check "$style: LEADSPC value" '  two spaces\\n\tand a folded tab line' "$v"
	check "$style: LEADSPC insert" "X-Floor:hdrs=5 body=26" \
	    "$(head -1 "$T/lead.eml")"
done
m=$("$MILTC" -s "unix:$T/top.sock" --style sendmail "$T/m1.eml" |
    awk -F'\t' '$4 == "X-Floor-Macros" { print $5 }')
check "sendmail daemon_name" "{daemon_name}=MTA {auth_authen}=(unset) i=MC00000001 j=mx.test" "$m"

# 4. macros and connect data from the command line
m=$("$MILTC" -s "unix:$T/top.sock" -M 'C:{daemon_name}=ORIGINATING' \
    -M 'M:{auth_authen}=alice' -M 'C:j=mx.example' --client 192.0.2.7 \
    --client-port 4567 --client-name relay.example "$T/m1.eml")
check "macros" "{daemon_name}=ORIGINATING {auth_authen}=alice i=MC00000001 j=mx.example" \
    "$(echo "$m" | awk -F'\t' '$4 == "X-Floor-Macros" { print $5 }')"
check "IPv4 client" "relay.example [192.0.2.7] 4567" \
    "$(echo "$m" | awk -F'\t' '$4 == "X-Floor-Client" { print $5 }')"
m=$("$MILTC" -s "unix:$T/top.sock" --client 2001:db8::25 "$T/m1.eml")
check "IPv6 client" "unknown [2001:db8::25] 41234" \
    "$(echo "$m" | awk -F'\t' '$4 == "X-Floor-Client" { print $5 }')"
m=$("$MILTC" -s "unix:$T/top.sock" -M 'C:{daemon_name}' "$T/m1.eml")
check "macro removed" "{daemon_name}=(unset) {auth_authen}=(unset) i=MC00000001 j=mx.test" \
    "$(echo "$m" | awk -F'\t' '$4 == "X-Floor-Macros" { print $5 }')"

# 5. chunking: the filter sees every body byte, however it is cut
for b in whole 1000 7 random:42 random:7:300; do
	v=$("$MILTC" -s "unix:$T/top.sock" -t 10 -B $b "$T/big.eml" |
	    awk -F'\t' '$4 == "X-Floor" { print $5 }')
	check "chunking $b" "hdrs=3 body=$bigbody" "$v"
done

# 6. concurrency, several messages per session and per connection
"$MILTC" -s "unix:$T/top.sock" -t 10 -n 300 -c 8 -k 3 -B random:1 -b \
    -O "$T/outdir" "$T/m1.eml" "$T/big.eml" >"$T/bench" || fail "bench exit $?"
grep -q '^messages=300 errors=0 conc=8 .* continue=300 ' "$T/bench" &&
    ok "300 messages over 8 connections" || fail "bench: $(cat "$T/bench")"
check "300 output files" 300 "$(ls "$T/outdir" | wc -l)"
check "every output has the header" 300 \
    "$(head -qn1 "$T"/outdir/*.eml | grep -c '^X-Floor: hdrs=')"
m=$("$MILTC" -s "unix:$T/top.sock" -n 3 -k 1 --client 192.0.2.9 "$T/m1.eml" |
    awk -F'\t' '$4 == "X-Floor-Macros" { print $5 }' | cut -d' ' -f3 | tr '\n' ' ')
check "queue ids per message over QUIT_NC" "i=MC00000001 i=MC00000002 i=MC00000003 " "$m"
"$MILTC" -s "unix:$T/top.sock" -n 20 -c 2 -R -b "$T/m1.eml" | grep -q 'messages=20 errors=0' &&
    ok "reconnect per session" || fail "reconnect per session"

# 7. SMFIP_NR_*: floor asks for no replies to connect, MAIL, headers and
#    body chunks; miltc must not wait for them. miltc counts, per command,
#    the replies it read (awaited=) and those it did not wait for because
#    they were negotiated away (waived=): the counts must be exactly what
#    the flags allow. Without NR flags offered, libmilter sends every reply
#    and miltc must read each one; the same with floor -N.
neg=$("$MILTC" -s "unix:$T/top.sock" -v -t 2 "$T/m1.eml" | awk -F'\t' '/^negotiated/ { print $4 }')
nr=$(( ${neg#protocol=} & 0xff080 ))
check "NR flags negotiated" "$(( 0x1000 | 0x4000 | 0x80 | 0x80000 ))" "$nr"
# count FIELD LETTER - the count for one command in a -b line's field
count() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$T/nr" | tr ',' '\n' |
	    sed -n "s/^$2//p" | grep . || echo 0
}
chunks100=$(( (bigbody + 99) / 100 ))
chunks1000=$(( (bigbody + 999) / 1000 ))
"$MILTC" -s "unix:$T/top.sock" -t 10 -n 50 -b -B 100 "$T/big.eml" >"$T/nr" &&
    grep -q 'errors=0 ' "$T/nr" && ok "NR run" || fail "NR run: $(cat "$T/nr")"
for c in C M L B; do
	check "NR: no reply awaited for $c" 0 "$(count awaited $c)"
done
check "NR: 50 connects waived" 50 "$(count waived C)"
check "NR: 50 MAIL waived" 50 "$(count waived M)"
check "NR: 150 headers waived" 150 "$(count waived L)"
check "NR: every body chunk waived" $((50 * chunks100)) "$(count waived B)"
check "NR: every end of message read" 50 "$(count awaited E)"
"$MILTC" -s "unix:$T/top.sock" -t 10 --offer-protocol 10037f -n 5 -B 1000 -b \
    "$T/big.eml" >"$T/nr"
grep -q 'errors=0 ' "$T/nr" && ok "no NR offered: run" ||
    fail "no NR offered: $(cat "$T/nr")"
check "no NR offered: nothing waived" "none" \
    "$(sed -n 's/.* waived=\([^ ]*\).*/\1/p' "$T/nr")"
check "no NR offered: every header reply read" 15 "$(count awaited L)"
check "no NR offered: every chunk reply read" $((5 * chunks1000)) \
    "$(count awaited B)"
neg=$("$MILTC" -s "unix:$T/noreply.sock" -v -t 2 -B 100 "$T/big.eml" | awk -F'\t' '/^negotiated/ { print $4 }')
check "floor -N asks no NR flag" 0 "$(( ${neg#protocol=} & 0xff080 ))"
"$MILTC" -s "unix:$T/noreply.sock" -t 10 -n 5 -b -B 100 "$T/big.eml" >"$T/nr"
grep -q 'errors=0 ' "$T/nr" && ok "floor -N: run" || fail "floor -N run"
check "floor -N: every chunk reply read" $((5 * chunks100)) "$(count awaited B)"
check "floor -N: nothing waived" "none" \
    "$(sed -n 's/.* waived=\([^ ]*\).*/\1/p' "$T/nr")"

# 8. decisions
floor_start tf -T
floor_start rj -R
floor_start dc -D
floor_start ac -A
floor_start c4 -C "451 4.7.1 try again later"
floor_start c5 -C "550 5.7.1 go away"
for x in "tf tempfail" "rj reject" "dc discard" "ac accept"; do
	set -- $x
	check "decision $2" "$2" "$("$MILTC" -s "unix:$T/$1.sock" "$T/m1.eml" | cut -f3)"
	"$MILTC" -s "unix:$T/$1.sock" -q -e "$2" "$T/m1.eml" ||
	    fail "-e $2 should exit 0"
done
check "reply code 4xx" "tempfail	451 4.7.1 try again later" \
    "$("$MILTC" -s "unix:$T/c4.sock" "$T/m1.eml" | cut -f3-)"
check "reply code 5xx" "reject	550 5.7.1 go away" \
    "$("$MILTC" -s "unix:$T/c5.sock" "$T/m1.eml" | cut -f3-)"
"$MILTC" -s "unix:$T/tf.sock" -q -e continue "$T/m1.eml"
check "-e mismatch exits 3" 3 $?
"$MILTC" -s "unix:$T/tf.sock" -n 10 -c 2 -b "$T/m1.eml" "$T/big.eml" |
    grep -q 'messages=10 errors=0 .* tempfail=10' &&
    ok "tempfail then new sessions" || fail "tempfail stream"

# 9. the other modifications: header changed and deleted, body replaced,
#    recipient added
floor_start edit -E
"$MILTC" -s "unix:$T/edit.sock" -o "$T/edit.eml" "$T/m1.eml" >"$T/edit.r"
check "subject changed" "Subject: changed by floor" "$(grep '^Subject' "$T/edit.eml")"
check "continuation gone with it" "" "$(grep 'folded tab line' "$T/edit.eml")"
check "message-id deleted" "" "$(grep -i '^Message-ID' "$T/edit.eml")"
check "body replaced" "replaced by floor" "$(sed '1,/^$/d' "$T/edit.eml")"
grep -q '	addrcpt	0	<extra@example.net>	$' "$T/edit.r" && ok "recipient added" ||
    fail "recipient added: $(cat "$T/edit.r")"
check "header count" 5 "$(sed '/^$/q' "$T/edit.eml" | grep -c '^[A-Za-z-]*:')"
"$MILTC" -s "unix:$T/edit.sock" --offer-actions 1 "$T/m1.eml" >/dev/null 2>&1
check "actions not offered: filter refuses, exit 1" 1 $?

# 10. errors: no socket, a peer speaking nonsense, a peer that never answers
"$MILTC" -s "unix:$T/none.sock" -t 2 "$T/m1.eml" 2>"$T/e1"
check "no socket exits 1" 1 $?
grep -q 'connect .*none.sock' "$T/e1" && ok "no socket message" ||
    fail "no socket message: $(cat "$T/e1")"
$PY - "$T/junk.sock" "$T/mute.sock" <<'EOF' &
import os, socket, sys, threading, time
def serve(path, reply):
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(4)
    while True:
        c, _ = s.accept(); c.recv(100)
        if reply: c.sendall(reply)
        time.sleep(120); c.close()
for p, r in ((sys.argv[1], b"\0\0\0\x01Z"), (sys.argv[2], b"")):
    threading.Thread(target=serve, args=(p, r), daemon=True).start()
time.sleep(600)
EOF
pids="$pids $!"
i=0
while ! { listening "$T/junk.sock" && listening "$T/mute.sock"; }; do
	i=$((i + 1))
	[ $i -gt 300 ] && { fail "junk and mute peers did not listen"; exit 1; }
	sleep 0.1
done
"$MILTC" -s "unix:$T/junk.sock" -t 2 "$T/m1.eml" 2>"$T/e2"
check "junk reply exits 1" 1 $?
grep -q "protocol error: reply 'Z' to option negotiation" "$T/e2" &&
    ok "junk reply message" || fail "junk reply message: $(cat "$T/e2")"
"$MILTC" -s "unix:$T/mute.sock" -t 1 "$T/m1.eml" 2>"$T/e3"
check "silent filter exits 1" 1 $?
grep -q "timeout after 1 s" "$T/e3" && ok "timeout message" ||
    fail "timeout message: $(cat "$T/e3")"

# 9. -k: the raw work of a signer in the filter (body hashed, one
#    signature per message), and a key file that is not a key refused
openssl genpkey -algorithm ED25519 -out "$T/ed.pem" 2>/dev/null
floor_start rawwork -k "$T/ed.pem"
r=$("$MILTC" -s "unix:$T/rawwork.sock" -t 10 -b -n 40 -c 4 "$T/big.eml")
case $r in *" errors=0 "*"continue=40"*) ok "-k: 40 messages" ;;
	*) fail "-k: $r" ;; esac
"$MILTC" -s "unix:$T/rawwork.sock" -t 5 -o "$T/out9.eml" "$T/big.eml" >/dev/null
check "-k: header inserted" "X-Floor: hdrs=3 body=$bigbody" \
    "$(head -1 "$T/out9.eml")"
"$FLOOR" -s "unix:$T/badkey.sock" -k "$T/m1.eml" 2>"$T/e9"
check "-k with no key exits 1" 1 $?
grep -q "m1.eml: not a private key" "$T/e9" && ok "-k bad key message" ||
    fail "-k bad key message: $(cat "$T/e9")"

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
exit 0
