#!/bin/sh
# milter_onerror - a domain keyturnd signs but cannot sign for: tempfail
# (the MTA keeps the mail), or with OnError accept, unsigned.
# The bounds on its waits (60 s) only catch a hang.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_onerror
kt_cli domain add nokey.test --algorithms rsa
kt_cli key new nokey.test --algorithm rsa --selector p1	# pending only
kt_cli domain add edonly.test --algorithms ed25519
kt_key edonly.test ed25519 e1
kt_msg "$W/nokey.eml" "From: alice@nokey.test"
kt_msg "$W/edonly.eml" "From: alice@edonly.test"

# expect NAME DECISION - and no modification
expect() {
	kt_miltc --client 127.0.0.1 "$W/$1.eml" >"$W/$1.txt" ||
	    kt_fail "$1: miltc failed"
	head -1 "$W/$1.txt" | grep -q "	$2" ||
	    kt_fail "$1: want $2: $(head -1 "$W/$1.txt")"
	[ "$(kt_count "	insheader	" "$W/$1.txt")" = 0 ] ||
	    kt_fail "$1: signed"
}

kt_conf "Algorithms rsa"
kt_start
expect nokey tempfail
grep -q "	tempfail	451 4.7.1 " "$W/nokey.txt" || kt_fail "no 451 4.7.1 reply"
grep -q "MC[0-9]*: tempfail: domain nokey.test has no active key" \
    "$W/keyturnd.log" || kt_fail "no tempfail log line"
expect edonly tempfail		# only an ed25519 key, Algorithms rsa
kt_ok "no active key: tempfail 451 4.7.1"

# the policy changes with the configuration at SIGHUP, no restart
kt_conf "Algorithms rsa" "OnError accept"
kill -HUP "$KPID"
i=0
until grep -q "reload: in force" "$W/keyturnd.log"; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "no reload after SIGHUP"
	sleep 0.05
done
expect nokey accept
expect edonly accept
grep -q "not signed: domain nokey.test has no active key.* (OnError accept)" \
    "$W/keyturnd.log" || kt_fail "no OnError accept log line"
kt_ok "no active key, OnError accept: accepted unsigned"
kt_stop

# a domain whose key does not load at start-up: the daemon starts, that
# domain's mail tempfails with the reason logged, the others sign; once
# fixed, SIGHUP brings it back
kt_cli domain add broken.test --algorithms ed25519
kt_key broken.test ed25519 b1
chmod 0644 "$KS/broken.test/keys/b1.pem"
kt_msg "$W/broken.eml" "From: alice@broken.test"
kt_conf
kt_start
expect broken tempfail
grep -q "domain broken.test unusable: .*b1.pem" "$W/keyturnd.log" ||
    kt_fail "the tempfail does not name the key file"
kt_miltc --client 127.0.0.1 "$W/edonly.eml" >"$W/edonly.txt" ||
    kt_fail "miltc (edonly)"
grep -q "	insheader	0	DKIM-Signature	.*s=e1;" "$W/edonly.txt" ||
    kt_fail "a sound domain does not sign beside a broken one"
kt_ok "a broken domain at start-up tempfails alone"
chmod 0600 "$KS/broken.test/keys/b1.pem"
kill -HUP "$KPID"
i=0
until [ "$(grep -c "reload: in force" "$W/keyturnd.log")" -ge 2 ]; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "no reload after the fix"
	sleep 0.05
done
kt_miltc --client 127.0.0.1 "$W/broken.eml" >"$W/broken.txt" ||
    kt_fail "miltc (broken, fixed)"
grep -q "	insheader	0	DKIM-Signature	.*s=b1;" "$W/broken.txt" ||
    kt_fail "the fixed domain does not sign after SIGHUP"
kt_ok "fixed and SIGHUP: the domain signs"
kt_stop
exit 0
