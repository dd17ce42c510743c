#!/bin/sh
# milter_keycache - a keystore of 2,000 domains behind KeyCache 50: keyturnd
# reads a domain on its first message, keeps the 50 used last, and reads
# again from the keystore's journal only what changed. A cold domain, an
# evicted one, one changed while its mail streams, one removed while it is
# cached and one added after it was looked up all sign (or stop signing)
# exactly as the keystore says, and once a change is read no message signs
# with a key that left the active set. Signatures are checked by dkimpy
# against the keystore's records. The bounds on waits only catch a hang.
. "$top_srcdir/t/milter_lib.sh"

command -v curl >/dev/null 2>&1 || kt_skip "curl missing"

kt_init milter_keycache
N=2000
PORT=$(free_port)

# one domain made by keyturn, the others copies of its files (the files
# name no domain); made before keyturnd starts, so no journal tells of them
kt_cli domain add t0.test --algorithms ed25519 --active-keys 2
kt_key t0.test ed25519 s1
"$PYTHON3" - "$KS" "$N" <<'EOF' || kt_fail "copying the template domain"
import shutil, sys
ks, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    shutil.copytree(ks + "/t0.test", "%s/d%d.test" % (ks, i), symlinks=True)
EOF
kt_conf "LogLevel info" "KeyCache 50" "MetricsListen 127.0.0.1:$PORT"
kt_start
URL="http://127.0.0.1:$PORT/metrics"

# metric NAME - its value on /metrics now
metric() {
	curl -sf "$URL" | awk -v k="$1" '$1 == k { print $2 }'
}

# msg I - a message From dI.test
mkdir "$W/m"
msg() {
	[ -f "$W/m/$1.eml" ] || kt_msg "$W/m/$1.eml" "From: user@$1"
	echo "$W/m/$1.eml"
}

# signs DOMAIN SEL [TAG] - one message now, signed by DOMAIN with SEL only
signs() {
	kt_miltc --client 127.0.0.1 "$(msg "$1")" >"$W/one.txt" ||
	    kt_fail "miltc ($1)"
	grep -q "	insheader	0	DKIM-Signature	.*d=$1; s=$2;" "$W/one.txt" ||
	    kt_fail "${3:-$1}: not signed by $1 with $2: $(cat "$W/one.txt")"
	[ "$(grep -c "DKIM-Signature" "$W/one.txt")" = 1 ] ||
	    kt_fail "${3:-$1}: more than one signature: $(cat "$W/one.txt")"
}

# unsigned DOMAIN - one message now, passed without a signature
unsigned() {
	kt_miltc -e continue --client 127.0.0.1 "$(msg "$1")" >"$W/one.txt" ||
	    kt_fail "$1: not passed on: $(cat "$W/one.txt")"
	! grep -q "DKIM-Signature" "$W/one.txt" ||
	    kt_fail "$1: signed: $(cat "$W/one.txt")"
}

# read_change - until keyturnd has read the keystore's generation now
read_change() {
	_g=$(cat "$KS/generation")
	i=0
	until [ "$(metric keyturn_keystore_generation)" -ge "$_g" ] 2>/dev/null
	do
		i=$((i + 1))
		[ $i -gt 600 ] && kt_fail "generation $_g never read"
		sleep 0.05
	done
}

[ "$(metric keyturn_keycache_domains)" = 0 ] ||
    kt_fail "domains read before any message"

# 200 cold domains, one message each, in one session
files=""
i=1
while [ $i -le 200 ]; do
	files="$files $(msg "d$i.test")"
	i=$((i + 1))
done
# shellcheck disable=SC2086
kt_miltc -O "$W/cold" --client 127.0.0.1 $files >"$W/cold.txt" ||
    kt_fail "miltc (cold)"
[ "$(grep -c "	insheader	0	DKIM-Signature	.*; s=s1;" "$W/cold.txt")" = 200 ] ||
    kt_fail "not every cold domain signed: $(grep -v insheader "$W/cold.txt" | head)"
i=1
while [ $i -le 200 ]; do
	grep -q "	insheader	0	DKIM-Signature	.*d=d$i.test; s=s1;" \
	    "$W/cold.txt" || kt_fail "d$i.test not signed by d=d$i.test"
	i=$((i + 1))
done
kt_verify "$W"/cold/*.eml
[ "$(metric keyturn_keycache_domains)" = 50 ] ||
    kt_fail "cache holds $(metric keyturn_keycache_domains), not KeyCache 50"
[ "$(metric keyturn_keycache_misses_total)" = 200 ] ||
    kt_fail "$(metric keyturn_keycache_misses_total) keystore reads, not 200"
[ "$(metric keyturn_keycache_evictions_total)" = 150 ] ||
    kt_fail "$(metric keyturn_keycache_evictions_total) evictions, not 150"
kt_ok "200 cold domains each signed with its own d=, verified; 50 kept," \
    "150 evicted"

# an evicted domain is read again and signs
signs d1.test s1 "evicted d1.test"
[ "$(metric keyturn_keycache_misses_total)" = 201 ] ||
    kt_fail "d1.test was not read again"
signs d1.test s1 "d1.test again"
[ "$(metric keyturn_keycache_misses_total)" = 201 ] ||
    kt_fail "d1.test read again while cached"
kt_ok "an evicted domain is read again on its next message, then cached"

# a domain removed while cached stops signing once the journal is read,
# and a domain first looked up absent signs once it is added
signs d5.test s1
unsigned new.test
kt_cli domain remove d5.test --force
kt_cli domain add new.test --algorithms ed25519
kt_key new.test ed25519 n1
read_change
unsigned d5.test
grep -q "not signed: From domain d5.test is not in the keystore" \
    "$W/keyturnd.log" || kt_fail "no log line for removed d5.test"
signs new.test n1 "added new.test"
kt_ok "a cached domain removed stops signing; one looked up absent signs" \
    "once added"

# a domain changed while its mail streams over 4 connections: a second key
# joins, the first retires; no message fails, and once keyturnd has read
# the retirement no message is signed with the retired key
signs d100.test s1
kt_miltc -n 3000 -c 4 -k 10 -q -e continue --client 127.0.0.1 \
    "$(msg d100.test)" >"$W/stream.txt" 2>&1 &
SPID=$!
sleep 0.3
kt_cli key new d100.test --algorithm ed25519 --selector s2
kt_cli activate d100.test s2 --force
sleep 0.3
kt_cli retire d100.test s1
read_change
i=0
while [ $i -lt 100 ]; do
	signs d100.test s2 "d100.test after the retirement of s1 was read"
	i=$((i + 1))
done
wait $SPID || kt_fail "a streamed message was not signed: $(tail -3 "$W/stream.txt")"
grep -q "signed d=d100.test s=s2 " "$W/keyturnd.log" ||
    kt_fail "s2 never signed during the stream"
kt_miltc -O "$W/after" -n 20 --client 127.0.0.1 "$(msg d100.test)" \
    >"$W/after.txt" || kt_fail "miltc (after)"
kt_verify "$W"/after/*.eml
kt_ok "3,000 messages streamed across a key change, none failed; 100 in a" \
    "row after the retirement was read, all signed with the new key"

# a domain not in memory costs nothing when written, and its next message
# reads what the keystore says then
before=$(metric keyturn_keycache_reloads_total)
kt_cli key new d1999.test --algorithm ed25519 --selector s3
kt_cli activate d1999.test s3 --force
kt_cli retire d1999.test s1
read_change
[ "$(metric keyturn_keycache_reloads_total)" = "$before" ] ||
    kt_fail "a domain not in memory was read on its write"
signs d1999.test s3 "cold d1999.test after its change"
kt_ok "a write to a domain not in memory reads nothing; its first message" \
    "signs with its new key"
kt_stop
exit 0
