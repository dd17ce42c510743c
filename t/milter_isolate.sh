#!/bin/sh
# milter_isolate - one domain that does not load holds no other back: a key
# revoked in a.com stops signing while b.com is broken, b.com's mail
# tempfails, and fixing b.com's files is enough to bring it back.
# The bounds on its waits (60 s) only catch a hang.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_isolate
kt_cli domain add a.com --algorithms ed25519
kt_key a.com ed25519 s1
kt_cli domain add b.com --algorithms ed25519
kt_key b.com ed25519 s1
chmod 640 "$KS/b.com/keys/s1.pem"
kt_msg "$W/a.eml" "From: alice@a.com"
kt_msg "$W/b.eml" "From: bob@b.com"
kt_conf
kt_start

kt_miltc --client 127.0.0.1 "$W/a.eml" >"$W/a1.txt" || kt_fail "miltc (a1)"
grep -q "	insheader	0	DKIM-Signature	.*d=a.com; s=s1;" "$W/a1.txt" ||
    kt_fail "a.com does not sign with s1 at start: $(cat "$W/a1.txt")"
kt_miltc --client 127.0.0.1 "$W/b.eml" >"$W/b1.txt" || kt_fail "miltc (b1)"
head -1 "$W/b1.txt" | grep -q "	tempfail" ||
    kt_fail "broken b.com does not tempfail: $(head -1 "$W/b1.txt")"
grep -q "domain b.com unusable, .*s1.pem.*0640" "$W/keyturnd.log" ||
    kt_fail "no log line naming b.com's key file"
kt_ok "b.com broken at start: its mail tempfails, a.com signs"

# the reproduction: a.com s1 compromised while b.com is broken
kt_cli compromised a.com s1
i=0
until grep -q "keystore change: generation [0-9]*: 1 domain write, 1 cached domain read again" \
    "$W/keyturnd.log"; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "a.com's change not picked up"
	sleep 0.05
done
kt_miltc --client 127.0.0.1 "$W/a.eml" >"$W/a2.txt" || kt_fail "miltc (a2)"
! grep -q "s=s1;" "$W/a2.txt" ||
    kt_fail "a.com still signs with its compromised key s1"
head -1 "$W/a2.txt" | grep -q "	tempfail" ||
    kt_fail "a.com without an active key does not tempfail"
grep -q "change refused" "$W/keyturnd.log" && kt_fail "a keystore change refused"
kt_ok "a.com s1 compromised: no longer signs while b.com is broken"

# a new key for a.com is picked up too; b.com still tempfails
kt_key a.com ed25519 s2
# two keystore writes (new, then active): until the second is loaded
i=0
until kt_miltc --client 127.0.0.1 "$W/a.eml" >"$W/a3.txt" &&
    grep -q "	insheader	0	DKIM-Signature	.*d=a.com; s=s2;" "$W/a3.txt"; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "a.com does not sign with its new key s2"
	sleep 0.05
done
kt_miltc --client 127.0.0.1 "$W/b.eml" >"$W/b2.txt" || kt_fail "miltc (b2)"
head -1 "$W/b2.txt" | grep -q "	tempfail" || kt_fail "b.com signs while broken"
kt_ok "a.com changes picked up while b.com is broken"

# fixing b.com's file is enough: its next message a few seconds on reads
# it again, without a keystore write or SIGHUP
chmod 600 "$KS/b.com/keys/s1.pem"
i=0
until kt_miltc --client 127.0.0.1 "$W/b.eml" >"$W/b3.txt" &&
    grep -q "	insheader	0	DKIM-Signature	.*d=b.com; s=s1;" "$W/b3.txt"; do
	i=$((i + 1))
	[ $i -gt 300 ] && kt_fail "fixed b.com does not sign: $(cat "$W/b3.txt")"
	sleep 0.05
done
grep -q "domain b.com loads again" "$W/keyturnd.log" ||
    kt_fail "no log line saying b.com loads again"
[ "$(grep -c "domain b.com unusable, " "$W/keyturnd.log")" = 1 ] ||
    kt_fail "b.com's error logged more than once: $(grep "domain b.com" "$W/keyturnd.log")"
kt_ok "b.com fixed: signs again"
kt_stop
exit 0
