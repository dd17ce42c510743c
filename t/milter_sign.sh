#!/bin/sh
# milter_sign - who keyturnd signs for, with what, and what it leaves alone,
# against the real binary driven by t/miltc; every signature checked by
# dkimpy.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_sign
kt_cli domain add example.com --algorithms rsa,ed25519
kt_key example.com rsa r1
kt_key example.com ed25519 e1
kt_cli domain add solo.test --algorithms ed25519
kt_key solo.test ed25519 s1
# bücher.example, as the keystore and d= write it
kt_cli domain add xn--bcher-kva.example --algorithms ed25519
kt_key xn--bcher-kva.example ed25519 u1
kt_conf
kt_start

M=$W/msg
mkdir -p "$M" "$W/out"
kt_msg "$M/plain.eml" "From: Alice <alice@example.com>"
kt_msg "$M/solo.eml" "From: carol@solo.test"
kt_msg "$M/unknown.eml" "From: x@unknown.example"
kt_msg "$M/sub.eml" "From: x@mail.example.com"
kt_msg "$M/nofrom.eml" ""
kt_msg "$M/twofrom.eml" "From: a@example.com" "From: b@example.com"
kt_msg "$M/twobox.eml" "From: a@example.com, b@example.com"
kt_msg "$M/folded.eml" "From: \"A very long display name that goes on\"
 <alice@example.com>"
# SMTPUTF8: the From domain in Unicode, Jörg <joerg@bücher.example>
kt_msg "$M/idn.eml" "$(printf 'From: J\303\266rg <joerg@b\303\274cher.example>')"

# expect_signed NAME SELECTORS MILTC-ARGS... - decision continue, the
# signatures at index 0 in the order given, each verified by dkimpy
expect_signed() {
	name=$1 sels=$2
	shift 2
	kt_miltc -o "$W/out/$name.eml" "$@" "$M/$name.eml" >"$W/out/$name.txt" ||
	    kt_fail "$name: miltc failed"
	head -1 "$W/out/$name.txt" | grep -q "	continue$" ||
	    kt_fail "$name: not continue: $(head -1 "$W/out/$name.txt")"
	got=$(grep "	insheader	0	DKIM-Signature	" "$W/out/$name.txt" |
	    sed 's/.* s=\([^;]*\);.*/\1/' | tr '\n' ' ')
	# inserted last-first at index 0: the file order is the reverse
	want=$(echo "$sels" | tr ' ' '\n' | sed '/^$/d' | tac | tr '\n' ' ')
	[ "$got" = "$want" ] || kt_fail "$name: insertions \"$got\", want \"$want\""
	[ "$(kt_count "	insheader	" "$W/out/$name.txt")" = \
	    "$(echo "$sels" | wc -w)" ] || kt_fail "$name: extra modifications"
	kt_verify "$W/out/$name.eml"
	first=$(grep -m1 -n '^DKIM-Signature:' "$W/out/$name.eml" | cut -d: -f1)
	[ "$first" = 1 ] || kt_fail "$name: signature not at the top"
	kt_ok "$name signed: $sels"
}

# expect_untouched NAME DECISION MILTC-ARGS...
expect_untouched() {
	name=$1 dec=$2
	shift 2
	kt_miltc "$@" "$M/$name.eml" >"$W/out/$name.txt" ||
	    kt_fail "$name: miltc failed"
	head -1 "$W/out/$name.txt" | grep -q "	$dec$" ||
	    kt_fail "$name: want $dec: $(head -1 "$W/out/$name.txt")"
	[ "$(kt_count "	insheader	" "$W/out/$name.txt")" = 0 ] ||
	    kt_fail "$name: modified"
	kt_ok "$name untouched ($dec)"
}

# negotiation: add header fields and choose macros; no HELO, RCPT, end of
# header or unknown commands; no reply to connect, MAIL, header, body
kt_miltc -v --client 127.0.0.1 "$M/plain.eml" >"$W/out/neg.txt" ||
    kt_fail "miltc -v"
grep -q "^negotiated	version=6	actions=0x101	protocol=0x851ca$" \
    "$W/out/neg.txt" || kt_fail "negotiated: $(head -1 "$W/out/neg.txt")"
kt_ok "negotiates SMFIF_ADDHDRS|SETSYMLIST, NO{HELO,RCPT,EOH,UNKNOWN}, NR_{CONN,MAIL,HDR,BODY}"
# an MTA without no-reply steps or macro lists: same signatures
expect_signed plain "r1 e1" --client 127.0.0.1 --offer-protocol 0x7f \
    --offer-actions 0x1
# an MTA that cannot add header fields is refused at negotiation
if kt_miltc --offer-actions 0x10 --client 127.0.0.1 "$M/plain.eml" \
    >/dev/null 2>&1; then
	kt_fail "negotiated without SMFIF_ADDHDRS"
fi
grep -q "MTA does not allow adding header fields" "$W/keyturnd.log" ||
    kt_fail "no log line for the refused negotiation"

# internal clients: loopback (default InternalHosts), IPv6, local submission (no address, "localhost")
expect_signed plain "r1 e1" --client 127.0.0.1
expect_signed plain "r1 e1" --client ::1
expect_signed plain "r1 e1" --client unknown --client-name localhost
expect_signed plain "r1 e1" --client 127.0.0.1 --style sendmail
expect_signed solo "s1" --client 127.0.0.1
expect_signed folded "r1 e1" --client 127.0.0.1 -B 1
expect_signed idn "u1" --client 127.0.0.1
grep -q "d=xn--bcher-kva.example;" "$W/out/idn.eml" ||
    kt_fail "idn: d= is not the A-label form"

# outside client: untouched unless authenticated
expect_untouched plain accept --client 192.0.2.1
expect_untouched plain accept --client 2001:db8::1
expect_signed plain "r1 e1" --client 192.0.2.1 -M 'M:{auth_authen}=alice' \
    -M 'M:{auth_type}=PLAIN'
expect_signed plain "r1 e1" --client 192.0.2.1 --style sendmail \
    -M 'M:{auth_authen}=alice' -M 'M:{auth_type}=PLAIN'

# no signing domain: unknown, subdomain without SubDomains, no From, two
# From fields, two mailboxes
for n in unknown sub nofrom twofrom twobox; do
	expect_untouched $n continue --client 127.0.0.1
done

# the log says why, with the queue id
grep -q "MC[0-9]*: signed d=example.com s=r1 a=rsa-sha256" "$W/keyturnd.log" ||
    kt_fail "no 'signed' log line with the queue id"
grep -q "not signed: client 192.0.2.1 is not internal and not authenticated" \
    "$W/keyturnd.log" || kt_fail "no log line for the outside client"
grep -q "not signed: From domain unknown.example is not in the keystore" \
    "$W/keyturnd.log" || kt_fail "no log line for the unknown domain"
[ "$(kt_count "MC[0-9]*: not signed: " "$W/keyturnd.log")" -ge 5 ] ||
    kt_fail "not every unsigned message has a queue-id log line"

# a signature that does not match fails the checker (the check can fail)
sed 's/^this is a test message\./this is another message./' \
    "$W/out/plain.eml" >"$W/out/tampered.eml"
if "$PYTHON3" "$top_srcdir/t/milter_verify.py" "$KEYTURN" "$KS" \
    "$W/out/tampered.eml" \
    >/dev/null 2>&1; then
	kt_fail "a tampered message verified"
fi
kt_ok "tampered message fails verification"

# malformed input does not crash the daemon: a header block over the
# engine's 1 MiB limit (each field within the protocol's 64 KiB packets)
{
	printf 'From: alice@example.com\n'
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18; do
		printf 'X-Long-%s: ' $i
		head -c 60000 /dev/zero | tr '\0' a
		printf '\n'
	done
	printf '\nbody\n'
} >"$M/long.eml"
expect_untouched long continue --client 127.0.0.1
expect_signed plain "r1 e1" --client 127.0.0.1
kill -0 "$KPID" || kt_fail "keyturnd died"

kt_stop

# SubDomains and DaemonNames, after a restart with another configuration
kt_conf "SubDomains yes" "DaemonNames ORIGINATING submission"
kt_start
expect_signed sub "r1 e1" --client 127.0.0.1 -M 'C:{daemon_name}=ORIGINATING'
expect_untouched sub accept --client 127.0.0.1 -M 'C:{daemon_name}=mx.example.com'
expect_signed plain "r1 e1" --client 192.0.2.9 -M 'C:{daemon_name}=submission' \
    -M 'M:{auth_authen}=alice' -M 'M:{auth_type}=PLAIN'
grep -q "not signed: daemon name mx.example.com not in DaemonNames" \
    "$W/keyturnd.log" || kt_fail "no DaemonNames log line"
kt_stop

# Algorithms ed25519: one signature even where rsa keys are active
kt_conf "Algorithms ed25519" "SignatureTTL 1h"
kt_start
expect_signed plain "e1" --client 127.0.0.1
grep "	insheader	" "$W/out/plain.txt" | grep -q 'x=[0-9]' ||
    kt_fail "SignatureTTL gave no x="
kt_stop
exit 0
