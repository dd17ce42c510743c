#!/bin/sh
# milter_metrics - MetricsListen: keyturnd serves /metrics on loopback in
# the Prometheus text format, scraped with curl while messages flow and
# parsed with prometheus_client's own text parser. Every message counter
# moves exactly as the messages say (signed by algorithm, unsigned by
# reason, tempfails by cause, the signing time histogram), the snapshot
# generation moves after a keystore change, and with Rotation on (against
# a resolver that does not answer) the rotation passes, keys by state and
# actions are counted; then Knot answers for the domain without its
# records, and each active key gets its alarm gauge. Nothing but 127.0.0.1
# is used; no time is measured.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/verify.sh"

command -v curl >/dev/null 2>&1 || kt_skip "curl missing"
"$PYTHON3" -c 'import prometheus_client.parser' 2>/dev/null ||
    kt_skip "$PYTHON3 lacks prometheus_client (python3-prometheus-client)"
for tool in knotd knotc kdig; do
	command -v "$tool" >/dev/null 2>&1 || kt_skip "$tool not found (knot)"
done

kt_init milter_metrics
met_cleanup() {
	vf_dns_stop "$S" 2>/dev/null
	kt_cleanup
}
trap met_cleanup EXIT
trap 'met_cleanup; exit 1' INT TERM
PORT=$(free_port)
DNSPORT=$(free_port)
[ "$DNSPORT" != "$PORT" ] || DNSPORT=$(free_port)
URL="http://127.0.0.1:$PORT/metrics"
HANG=600	# polls of 0.1 s: the bound only catches a hang

kt_cli domain add example.com --algorithms rsa,ed25519
kt_key example.com rsa r1
kt_key example.com ed25519 e1
kt_cli domain add nokey.test --algorithms ed25519
kt_conf "LogLevel info" "MetricsListen 127.0.0.1:$PORT"
"$KEYTURND" -n -c "$W/keyturn.conf" >"$W/check.out" 2>&1 ||
    kt_fail "keyturnd -n: $(cat "$W/check.out")"
kt_start

M=$W/msg
mkdir -p "$M"
kt_msg "$M/signed.eml" "From: Alice <alice@example.com>"
kt_msg "$M/unknown.eml" "From: x@unknown.example"
kt_msg "$M/nokey.eml" "From: x@nokey.test"
kt_msg "$M/nofrom.eml" ""

# scrape NAME - $W/NAME.prom from /metrics, parsed by prometheus_client
# into $W/NAME.txt: one "sample{label="v",...} value" line per sample,
# labels sorted, integral values without a fraction
scrape() {
	curl -sf -o "$W/$1.prom" "$URL" || kt_fail "curl $URL"
	parse "$1"
}

# parse NAME - $W/NAME.prom, as scrape says, into $W/NAME.txt
parse() {
	"$PYTHON3" - "$W/$1.prom" >"$W/$1.txt" <<'EOF' ||
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        labels = ",".join('%s="%s"' % (k, s.labels[k])
                          for k in sorted(s.labels))
        v = s.value
        v = int(v) if v == int(v) else v
        print("%s{%s} %s" % (s.name, labels, v))
EOF
	    kt_fail "prometheus_client cannot parse $W/$1.prom"
}

# val NAME SAMPLE - the value of SAMPLE in scrape NAME, "none" if absent
val() {
	awk -v k="$2" '$1 == k { v = $2 } END { print v == "" ? "none" : v }' \
	    "$W/$1.txt"
}

# has NAME SAMPLE - fails unless scrape NAME has SAMPLE
has() {
	[ "$(val "$1" "$2")" != none ] || kt_fail "$1: no sample $2"
}

# delta SAMPLE WANT - the sample moved by WANT from scrape a to scrape b
delta() {
	has a "$1"
	has b "$1"
	d=$(( $(val b "$1") - $(val a "$1") ))
	[ "$d" = "$2" ] || kt_fail "$1 moved by $d, want $2"
}

# families_moved - every message counter not named in $W/want is unchanged
families_moved() {
	for f in keyturn_messages_signed_total keyturn_messages_unsigned_total \
	    keyturn_tempfails_total keyturn_messages_rejected_total \
	    keyturn_signing_duration_seconds_count; do
		grep "^$f{" "$W/a.txt" | while read -r k _; do
			grep -q "^$k " "$W/want" 2>/dev/null && continue
			echo "$k"
		done
	done >"$W/unchanged"
	while read -r k; do
		delta "$k" 0
	done <"$W/unchanged"
}

# wait_moved SAMPLE - scrape c until SAMPLE is above its value in b
wait_moved() {
	has b "$1"
	base=$(val b "$1") i=0
	while :; do
		scrape c
		has c "$1"
		[ "$(val c "$1")" -gt "$base" ] && return 0
		i=$((i + 1))
		[ $i -gt $HANG ] && kt_fail "$1 never moved from $base"
		sleep 0.1
	done
}

# anything but GET /metrics is 404
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
[ "$code" = 404 ] || kt_fail "GET / answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL")
[ "$code" = 404 ] || kt_fail "POST /metrics answered $code"
curl -sfI -o /dev/null "$URL" && kt_fail "HEAD /metrics answered 200"
kt_ok "only GET /metrics is served"

scrape a
[ "$(val a 'keyturn_snapshot_generation{}')" = 1 ] ||
    kt_fail "snapshot generation at start-up is not 1"
[ "$(val a 'keyturn_keycache_domains{}')" = 0 ] ||
    kt_fail "domains read before any message came"
[ "$(val a 'keyturn_keycache_capacity{}')" = 100000 ] ||
    kt_fail "key cache capacity is not the default KeyCache"

# N signed while the page is scraped, in parallel with the rest
N=2000 MO=7 K=5
kt_miltc -q -n $N -c 4 -e continue --client 127.0.0.1 "$M/signed.eml" \
    >"$W/signed.out" 2>&1 &
bg=$!
i=0
while kill -0 $bg 2>/dev/null && [ $i -lt 200 ]; do
	i=$((i + 1))
	curl -sf -o "$W/flow$i.prom" "$URL" || kt_fail "curl $URL"
done
wait $bg || kt_fail "signed messages: $(tail -3 "$W/signed.out")"
j=0
while [ $j -lt $i ]; do
	j=$((j + 1))
	parse "flow$j"
done
kt_ok "scraped $i times while $N messages were signed, each page parsed"
kt_miltc -q -n $MO -e accept --client 192.0.2.1 "$M/signed.eml" \
    >"$W/outside.out" 2>&1 || kt_fail "outside client: $(cat "$W/outside.out")"
kt_miltc -q -n $K -e continue --client 127.0.0.1 "$M/unknown.eml" \
    >"$W/unknown.out" 2>&1 || kt_fail "unknown domain: $(cat "$W/unknown.out")"
kt_miltc -q -e continue --client 127.0.0.1 "$M/nofrom.eml" \
    >"$W/nofrom.out" 2>&1 || kt_fail "no From: $(cat "$W/nofrom.out")"
kt_miltc -q -e tempfail --client 127.0.0.1 "$M/nokey.eml" \
    >"$W/nokey.out" 2>&1 || kt_fail "no active key: $(cat "$W/nokey.out")"
scrape b

cat >"$W/want" <<EOF
keyturn_messages_signed_total{algorithm="rsa-sha256"} $N
keyturn_messages_signed_total{algorithm="ed25519-sha256"} $N
keyturn_signing_duration_seconds_count{} $N
keyturn_messages_unsigned_total{reason="client_not_internal"} $MO
keyturn_messages_unsigned_total{reason="domain_unknown"} $K
keyturn_messages_unsigned_total{reason="no_from"} 1
keyturn_tempfails_total{cause="no_active_key"} 1
EOF
while read -r k n; do
	delta "$k" "$n"
done <"$W/want"
families_moved
[ "$(val b 'keyturn_signing_duration_seconds_bucket{le="+Inf"}')" = \
    "$(val b 'keyturn_signing_duration_seconds_count{}')" ] ||
    kt_fail "the +Inf bucket is not the count"
kt_ok "signed $N by each algorithm, the histogram counted $N; unsigned" \
    "$MO client_not_internal, $K domain_unknown, 1 no_from; 1 tempfail" \
    "no_active_key; nothing else moved"
# three domains named (signed, unknown, no key): each read once, then
# answered from the cache; the first messages of the signed domain come
# on 4 connections at once, and each may read it before one is cached
[ "$(val b 'keyturn_keycache_domains{}')" = 3 ] ||
    kt_fail "key cache holds $(val b 'keyturn_keycache_domains{}') domains, not 3"
misses=$(val b 'keyturn_keycache_misses_total{}')
[ "$misses" -ge 3 ] && [ "$misses" -le 6 ] ||
    kt_fail "$misses keystore reads, not 3 to 6"
[ "$(val b 'keyturn_keycache_hits_total{}')" -ge "$N" ] ||
    kt_fail "only $(val b 'keyturn_keycache_hits_total{}') cache hits"
kt_ok "key cache: 3 domains read ($misses reads)," \
    "$(val b 'keyturn_keycache_hits_total{}') lookups answered from it"

# a keystore change made by the CLI: the journal read, the cached domain
# read again
kt_cli key new example.com --algorithm ed25519 --selector e2
wait_moved 'keyturn_keycache_reloads_total{}'
delta2() {
	_d=$(( $(val c "$1") - $(val b "$1") ))
	[ "$_d" = "$2" ] || kt_fail "$1 moved by $_d, not $2"
}
delta2 'keyturn_keystore_writes_total{}' 1
delta2 'keyturn_keycache_reloads_total{}' 1
[ "$(val c 'keyturn_keystore_generation{}')" -gt \
    "$(val b 'keyturn_keystore_generation{}')" ] ||
    kt_fail "keystore generation did not move"
kt_ok "keystore generation $(val b 'keyturn_keystore_generation{}') ->" \
    "$(val c 'keyturn_keystore_generation{}') after a keystore change:" \
    "1 write read from the journal, 1 cached domain read again"
[ "$(val c 'keyturn_rotation_passes_total{}')" = 0 ] ||
    kt_fail "rotation passes counted with Rotation no"

# Rotation on (SIGHUP), against a resolver nothing answers on
kt_conf "LogLevel info" "MetricsListen 127.0.0.1:$PORT" "Rotation yes" \
    "RotationInterval 1s" "Resolver 127.0.0.1:$DNSPORT" "DNSPort $DNSPORT" \
    "DNSTimeout 1s"
scrape b
kill -HUP "$KPID"
wait_moved 'keyturn_rotation_passes_total{}'
cp "$W/c.txt" "$W/b.txt"
# the second pass finds the standby keys the first one made: from then on
# the keystore no longer changes
wait_moved 'keyturn_rotation_passes_total{}'
scrape d
pending=$(cat "$KS"/*/state | grep -c 'state=pending')
made=$((pending - 1))		# e2 was made by the CLI
[ "$(val d 'keyturn_rotation_actions_total{action="generate"}')" = $made ] ||
    kt_fail "generate actions: $(val d \
    'keyturn_rotation_actions_total{action="generate"}'), want $made"
for a in rsa ed25519; do
	n=$(val d "keyturn_keys{algorithm=\"$a\",state=\"pending\"}")
	[ "$n" = "$(cat "$KS"/*/state | grep 'state=pending' |
	    grep -c "alg=$a;")" ] || kt_fail "pending $a keys: $n"
	[ "$(val d "keyturn_keys{algorithm=\"$a\",state=\"active\"}")" = 1 ] ||
	    kt_fail "active $a keys not 1"
done
grep '^keyturn_rotation_action_failures_total{' "$W/d.txt" | grep -v ' 0$' &&
    kt_fail "rotation actions failed"
[ "$(val d 'keyturn_alarms{}')" = 0 ] || kt_fail "alarms without DNS"
grep -q '^keyturn_alarm{' "$W/d.txt" && kt_fail "an alarm gauge without alarms"
ndom=$(find "$KS" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
[ "$(val d 'keyturn_rotation_last_pass_domains{}')" = "$ndom" ] ||
    kt_fail "last pass domains: $(val d 'keyturn_rotation_last_pass_domains{}'), want $ndom"
nkeys=$(cat "$KS"/*/state | grep -c '^key ')
[ "$(val d 'keyturn_rotation_last_pass_keys{}')" = "$nkeys" ] ||
    kt_fail "last pass keys: $(val d 'keyturn_rotation_last_pass_keys{}'), want $nkeys"
# the pending keys are asked about at every pass, each check sends queries
[ "$(val d 'keyturn_rotation_dns_checks_total{}')" -ge "$pending" ] ||
    kt_fail "dns checks: $(val d 'keyturn_rotation_dns_checks_total{}')"
[ "$(val d 'keyturn_rotation_dns_queries_total{}')" -ge \
    "$(val d 'keyturn_rotation_dns_checks_total{}')" ] ||
    kt_fail "dns queries: $(val d 'keyturn_rotation_dns_queries_total{}')"
kt_ok "rotation passes counted ($(val d 'keyturn_rotation_passes_total{}'))," \
    "$made keys generated, keys by state as in the keystore, no alarm;" \
    "$(val d 'keyturn_rotation_dns_checks_total{}') DNS checks," \
    "$(val d 'keyturn_rotation_dns_queries_total{}') queries"

# Knot answers for example.com on the resolver's port, without a DKIM
# record: both active keys have no record, an alarm each
vf_dns_init "$S" 127.0.0.1 "$DNSPORT" && vf_dns_zone "$S" example.com &&
    vf_dns_start "$S" || kt_fail "knot did not serve example.com"
i=0
while scrape e; [ "$(val e 'keyturn_alarms{}')" != 2 ]; do
	i=$((i + 1))
	[ $i -gt $HANG ] && kt_fail "alarms: $(val e 'keyturn_alarms{}'), want 2"
	sleep 0.1
done
for k in r1 e1; do
	g="keyturn_alarm{domain=\"example.com\",selector=\"$k\"}"
	[ "$(val e "$g")" = 1 ] || kt_fail "no alarm gauge for example.com $k"
done
[ "$(grep -c '^keyturn_alarm{' "$W/e.txt")" = 2 ] ||
    kt_fail "alarm gauges: $(grep '^keyturn_alarm{' "$W/e.txt")"
[ "$(val e 'keyturn_rotation_actions_total{action="alarm"}')" -ge 2 ] ||
    kt_fail "alarm actions not counted"
kt_ok "an alarm gauge for each of example.com r1 and e1, none other"

kt_stop
