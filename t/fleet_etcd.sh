#!/bin/sh
# fleet_etcd - keyturn's etcd client (keystore/etcd.c, through t/etcdc)
# against a real 3-member etcd on 127.0.0.1-3: reads, writes and
# transactions, values with NUL bytes and of 100 KB, paging, the watch
# (order, compaction, cancel, a member without a leader), leases,
# failover when a member dies; then a cluster made from contrib/etcd
# (TLS both ways, users and roles, an expiring token). And the fleet's
# key-encryption key (keystore/kek.c) on files and through etcd.
#
# A missing etcd skips the test (exit 77) unless KEYTURN_REQUIRE_ALL=1.

: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/t/lib/etcd.sh"

fail() {
	echo "FAIL: $*" >&2
	for f in "$T/out" "$T/err"; do
		[ -s "$f" ] && { echo "--- $f:"; cat "$f"; } >&2
	done
	etcd_logs >&2
	exit 1
}

skip() {
	if [ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ]; then
		echo "FAIL (required): $*" >&2
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

ok() {
	echo "ok: $*"
}

# run STATUS CMD... - CMD exits with STATUS; output in $T/out, $T/err
run() {
	_want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	_got=$?
	[ "$_got" = "$_want" ] || fail "exit $_got, want $_want: $*"
}

# has FILE TEXT - FILE contains TEXT (fixed string)
has() {
	grep -qF -- "$2" "$1" || fail "$1 lacks \"$2\""
}

ETCDC=$top_builddir/t/etcdc
[ -x "$ETCDC" ] || skip "t/etcdc not built (make t/etcdc)"
etcd_available || skip "etcd or etcdctl missing (Debian: etcd-server etcd-client)"
command -v openssl >/dev/null || skip "openssl missing"
command -v ss >/dev/null || skip "ss missing (iproute2)"

etcd_init || fail "etcd_init"
T=$KT_ETCD_DIR

ec() {
	"$ETCDC" -e "$KT_ETCD_ENDPOINTS" "$@"
}

# wait_lines FILE N - until FILE has N lines (the bound only catches a
# client that never answers)
wait_lines() {
	_i=0
	while [ "$(wc -l < "$1")" -lt "$2" ]; do
		_i=$((_i + 1))
		[ $_i -lt $((KT_ETCD_HANG * 20)) ] || fail "$1: no line $2"
		sleep 0.05
	done
}

# batch_open / batch_do CMD / batch_close - one t/etcdc client that
# takes commands one at a time; batch_do's answer in $BATCH_LINE
batch_open() {
	rm -f "$T/bin" "$T/bout"
	mkfifo "$T/bin" || fail mkfifo
	: > "$T/bout"
	"$ETCDC" -e "$KT_ETCD_ENDPOINTS" "$@" batch < "$T/bin" > "$T/bout" 2>&1 &
	BATCH_PID=$!
	exec 3> "$T/bin"
	BATCH_N=0
}

batch_do() {
	echo "$*" >&3
	BATCH_N=$((BATCH_N + 1))
	wait_lines "$T/bout" "$BATCH_N"
	BATCH_LINE=$(sed -n "${BATCH_N}p" "$T/bout")
}

batch_close() {
	exec 3>&-
	wait "$BATCH_PID"
}

### The key-encryption key

umask 077
head -c 32 /dev/urandom > "$T/kek"
run 0 "$ETCDC" kek-id "$T/kek"
grep -qx '[0-9a-f]\{16\}' "$T/out" || fail "kek-id: $(cat "$T/out")"
kekid=$(cat "$T/out")
chmod 644 "$T/kek"
run 1 "$ETCDC" kek-id "$T/kek"
has "$T/err" "$T/kek: mode 0644: must not be readable by group or others"
chmod 600 "$T/kek"
head -c 31 /dev/urandom > "$T/kek31"
run 1 "$ETCDC" kek-id "$T/kek31"
has "$T/err" "$T/kek31: 31 bytes: a key-encryption key is 32 bytes"
ln -s kek "$T/keklink"
run 1 "$ETCDC" kek-id "$T/keklink"
has "$T/err" "$T/keklink: a symbolic link"
head -c 32 /dev/urandom > "$T/kek2"
printf 'private\0key' > "$T/secret"
"$ETCDC" kek-seal "$T/kek" /keyturn/keys/a < "$T/secret" > "$T/sealed" ||
    fail "kek-seal"
"$ETCDC" kek-open "$T/kek" /keyturn/keys/a < "$T/sealed" > "$T/opened" ||
    fail "kek-open"
cmp -s "$T/secret" "$T/opened" || fail "kek: round trip"
run 1 "$ETCDC" kek-open "$T/kek" /keyturn/keys/b < "$T/sealed"
has "$T/err" "authentication failed"
run 1 "$ETCDC" kek-open "$T/kek2" /keyturn/keys/a < "$T/sealed"
has "$T/err" "damaged or encrypted under another FleetKEK"
run 1 "$ETCDC" kek-open "$T/kek" /keyturn/keys/a < "$T/secret"
has "$T/err" "not encrypted by keyturn"
ok "kek: id $kekid, seal/open, files refused"

### Three members, no TLS

etcd_cluster 3 || fail "3-member cluster did not start"
ok "cluster on $KT_ETCD_ENDPOINTS"

run 0 ec put /a/x hello
run 0 ec get /a/x
[ "$(cat "$T/out")" = hello ] || fail "get /a/x"
run 2 ec get /a/none
has "$T/err" "/a/none: no such key"

# a sealed value has every byte value, NUL among them; it goes through
# etcd unchanged and opens only under its own key name
ec put /keyturn/keys/a - < "$T/sealed" >/dev/null || fail "put sealed"
ec get /keyturn/keys/a > "$T/got" || fail "get sealed"
cmp -s "$T/sealed" "$T/got" || fail "sealed value changed in etcd"
"$ETCDC" kek-open "$T/kek" /keyturn/keys/a < "$T/got" > "$T/opened" &&
    cmp -s "$T/secret" "$T/opened" || fail "sealed value does not open"
printf '\0\0a\0' > "$T/nul"
run 0 ec put /a/nul - < "$T/nul"
ec get /a/nul > "$T/got" && cmp -s "$T/nul" "$T/got" || fail "NUL value"
# every base64 padding: values of 0 to 4 bytes
for n in 0 1 2 3 4; do
	head -c $n /dev/urandom > "$T/v$n"
	ec put /a/v$n - < "$T/v$n" >/dev/null || fail "put $n bytes"
	ec get /a/v$n > "$T/got" && cmp -s "$T/v$n" "$T/got" ||
	    fail "a value of $n bytes"
done
head -c 100000 /dev/urandom > "$T/big"
run 0 ec put /a/big - < "$T/big"
ec get /a/big > "$T/got" && cmp -s "$T/big" "$T/got" || fail "100 KB value"
run 0 ec range /a/
has "$T/out" "/a/nul 1"
has "$T/out" " 4
"
grep -q '^/a/big 1 [0-9]* 100000$' "$T/out" || fail "range: /a/big"
ok "values: 0-4 bytes, NUL bytes, 100 KB, sealed"

# transactions: create-if-absent once; put-if-unchanged (MOD)
run 0 ec txn-create /a/once v1
has "$T/out" "succeeded"
run 0 ec txn-create /a/once v2
has "$T/out" "failed"
[ "$(ec get /a/once)" = v1 ] || fail "txn-create overwrote"
mod=$(ec range /a/once | awk '$1 == "/a/once" { print $3 }')
run 0 ec txn-mod /a/once "$mod" v3
has "$T/out" "succeeded"
newrev=$(awk '{ print $2 }' "$T/out")
[ "$newrev" -gt "$mod" ] || fail "txn revision $newrev after $mod"
run 0 ec txn-mod /a/once "$mod" v4
has "$T/out" "failed"
[ "$(ec get /a/once)" = v3 ] || fail "txn-mod on a stale revision applied"
ok "txn: create once, MOD compare"

# paging: 250 keys, pages of 100 (one client, as a daemon would)
batch_open
i=0
while [ $i -lt 250 ]; do
	printf 'put /p/k%03d v%d\n' $i $i >&3
	i=$((i + 1))
done
BATCH_N=250
wait_lines "$T/bout" 250
batch_close
[ "$(grep -c '^endpoint ' "$T/bout")" = 250 ] || fail "250 puts"
run 0 ec range-limit /p/ 100
[ "$(cat "$T/out")" = "100 250 more" ] || fail "range-limit: $(cat "$T/out")"
run 0 ec range /p/ 100
[ "$(grep -c '^/p/k' "$T/out")" = 250 ] || fail "range_all: not 250 keys"
sed -n 's/^\(\/p\/k[0-9]*\) .*/\1/p' "$T/out" > "$T/keys"
sort -c "$T/keys" || fail "range_all: keys out of order"
[ "$(sort -u "$T/keys" | wc -l)" = 250 ] || fail "range_all: repeated keys"
run 0 ec count /p/
[ "$(cat "$T/out")" = 250 ] || fail "count: $(cat "$T/out")"
ok "range_all: 250 keys in pages of 100"

# the watch: events in revision order, from a given revision
rev=$(ec status | awk '{ print $2 }')
batch_open
for k in 1 2 3 4 5; do
	batch_do put /w/k$k v$k
done
batch_do del /w/k2
batch_close
ec put /w/nul - < "$T/nul" >/dev/null || fail "put /w/nul"
run 0 ec watch /w/ $((rev + 1)) 7
awk '{ print $1, $2 }' "$T/out" > "$T/ev"
grep -q '^PUT /w/nul [0-9]* 4$' "$T/out" || fail "watch: a value with NULs"
printf '%s\n' "PUT /w/k1" "PUT /w/k2" "PUT /w/k3" "PUT /w/k4" "PUT /w/k5" \
    "DELETE /w/k2" "PUT /w/nul" | cmp -s - "$T/ev" || fail "watch order"
awk 'NR > 1 && $3 <= last { exit 1 } { last = $3 }' "$T/out" ||
    fail "watch: revisions not increasing"
# live: once the first event has come through the stream, the next
# writes are made while it runs, and they come too
now=$(ec status | awk '{ print $2 }')
ec watch /live/ $((now + 1)) 3 > "$T/live" 2>&1 &
wp=$!
ec put /live/a a >/dev/null
wait_lines "$T/live" 1
for k in b c; do ec put /live/$k "$k" >/dev/null; done
wait $wp || fail "live watch: $(cat "$T/live")"
[ "$(awk '{ print $2 }' "$T/live" | tr '\n' ' ')" = "/live/a /live/b /live/c " ] ||
    fail "live watch: $(cat "$T/live")"
# cancel: the watch returns when its cancel descriptor becomes readable
(sleep 0.5) | ec watch /none/ 0 1 0 0 > "$T/out" 2>"$T/err" ||
    fail "cancel: exit $?"
has "$T/out" "canceled"
# idle: a stream that says nothing for 500 ms is taken as broken
run 1 ec watch /none/ 0 1 500
has "$T/err" "nothing from etcd for 500 ms"
ok "watch: order, live, cancel, idle"

# compaction: a watch from before it is told, with the compacted revision
now=$(ec status | awk '{ print $2 }')
etcdctl_ compact "$now" >/dev/null || fail "etcdctl compact"
run 3 ec watch /w/ $((rev + 1)) 1
has "$T/out" "compacted $now"
ok "watch: compaction reported (compact revision $now)"

# leases: one that is not kept alive expires with its keys
run 0 ec lease-grant 1
lease=$(cat "$T/out")
run 0 ec put /l/k v "$lease"
run 0 ec keepalive "$lease"
[ "$(cat "$T/out")" -ge 1 ] || fail "keepalive: TTL $(cat "$T/out")"
i=0
while ec get /l/k >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt $((KT_ETCD_HANG * 10)) ] || fail "lease never expired"
	sleep 0.1
done
run 0 ec keepalive "$lease"
[ "$(cat "$T/out")" = 0 ] || fail "keepalive after expiry: $(cat "$T/out")"
run 0 ec lease-grant 60
run 0 ec revoke "$(cat "$T/out")"
ok "leases: expiry, keepalive 0 after it, revoke"

# failover: the member the client uses, the raft leader, dies; the next
# request is answered by another one (once they have elected a leader),
# and the client stays there
victim=$(etcd_leader) || fail "no leader"
first=$(etcd_url "$victim")
eps=$first
for m in $KT_ETCD_MEMBERS; do
	[ "$m" = "$victim" ] || eps="$eps,$(etcd_url "$m")"
done
KT_ETCD_ENDPOINTS=$eps batch_open
batch_do get /a/x
[ "$BATCH_LINE" = "endpoint $first" ] || fail "batch: $BATCH_LINE"
etcd_kill "$victim"
batch_do get /a/x
case $BATCH_LINE in
"endpoint $first") fail "answered by the member killed" ;;
"endpoint http://"*) ;;
*) fail "after kill -9 of $victim: $BATCH_LINE" ;;
esac
second=${BATCH_LINE#endpoint }
batch_do put /a/after-kill v
[ "$BATCH_LINE" = "endpoint $second" ] || fail "did not stay: $BATCH_LINE"
batch_close
ok "failover: the leader $victim killed, $second answered"

# a member without a raft leader ends a watch (hasleader) and refuses a
# new one; the client says so
etcd_start "$victim" || fail "restart $victim"
ec watch /q/ 0 1 > "$T/wq" 2>&1 &
wp=$!
# (to let the watch start first; if it has not, m1 refuses it when it
# comes, with the same words)
sleep 0.5
for m in $KT_ETCD_MEMBERS; do
	[ "$m" = m1 ] || etcd_kill "$m"
done
wait $wp
[ $? = 1 ] || fail "watch on a lone member: $(cat "$T/wq")"
has "$T/wq" "etcdserver: no leader"
run 1 ec watch /q/ 0 1
has "$T/err" "http://127.0.0.1:$KT_ETCD_CPORT: /v3/watch: etcdserver: no leader"
ok "hasleader: a watch ends, and is refused, on a member with no leader"

### contrib/etcd: TLS both ways, users and roles, an expiring token

etcd_reset
KT_ETCD_TOKEN_TTL=2 etcd_cluster 3 tls || fail "TLS cluster did not start"
P=$KT_ETCD_PKI
case $KT_ETCD_ENDPOINTS in https://*) ;; *) fail "not https: $KT_ETCD_ENDPOINTS" ;; esac
tls="-C $P/ca.pem -c $P/keyturn-leader.pem -k $P/keyturn-leader.key"
run 0 ec $tls put /keyturn/t v
run 1 ec -C "$P/ca.pem" get /keyturn/t
grep -qi "certificate\|handshake\|SSL\|TLS" "$T/err" || fail "no client cert"
run 1 ec get /keyturn/t
grep -qi "certificate\|SSL" "$T/err" || fail "no CA given"
ok "TLS: client certificate required, server verified"

for u in root leader signer; do
	openssl rand -hex 12 > "$T/$u.pw"
done
ETCDCTL_ENDPOINTS=$KT_ETCD_ENDPOINTS ETCDCTL_CACERT=$P/ca.pem \
    ETCDCTL_CERT=$P/keyturn-leader.pem ETCDCTL_KEY=$P/keyturn-leader.key \
    ETCDCTL=$ETCDCTL sh "$top_srcdir/contrib/etcd/roles" "$T/root.pw" \
    "$T/leader.pw" "$T/signer.pw" > "$T/out" 2>&1 || fail "contrib/etcd/roles"
KT_ETCD_ROOT=root:$(cat "$T/root.pw")
run 1 ec $tls get /keyturn/t
has "$T/err" "user name is empty"
wrong=$T/wrong.pw
echo wrong > "$wrong"
run 1 ec $tls -u keyturn-leader -p "$wrong" get /keyturn/t
has "$T/err" "authentication failed"
grep -q wrong "$T/err" && fail "a password in an error"
lead="$tls -u keyturn-leader -p $T/leader.pw"
sign="-C $P/ca.pem -c $P/keyturn-signer.pem -k $P/keyturn-signer.key \
    -u keyturn-signer -p $T/signer.pw"
run 0 ec $lead txn-create /keyturn/k v1
has "$T/out" succeeded
run 0 ec $sign range /keyturn/
has "$T/out" "/keyturn/k 1"
run 0 ec $sign get /keyturn/k
run 1 ec $sign put /keyturn/k v2
has "$T/err" "/v3/kv/txn: etcdserver: permission denied (as user keyturn-signer)"
run 1 ec $lead put /other v
has "$T/err" "permission denied (as user keyturn-leader)"
rev=$(ec $lead status | awk '{ print $2 }')
run 0 ec $lead put /keyturn/k v3
run 0 ec $sign watch /keyturn/ "$rev" 1
has "$T/out" "PUT /keyturn/k"
# a signer registers itself (keyturn fleet status), and only there
run 0 ec $sign put /keyturn/members/signer v1
ok "auth: roles keyturn-rw and keyturn-ro from contrib/etcd/roles"

# one client across a token's expiry (auth-token-ttl 2 s) and the loss of
# its member: it authenticates again where it has to
batch_open $lead
batch_do get /keyturn/k
case $BATCH_LINE in "endpoint https://"*) ;; *) fail "tls batch: $BATCH_LINE" ;; esac
first=${BATCH_LINE#endpoint }
sleep 3
batch_do put /keyturn/k v4
[ "$BATCH_LINE" = "endpoint $first" ] || fail "after the token expired: $BATCH_LINE"
victim=m${first#https://127.0.0.}
victim=${victim%%:*}
etcd_kill "$victim"
batch_do get /keyturn/k
case $BATCH_LINE in "endpoint https://"*) ;; *) fail "tls failover: $BATCH_LINE" ;; esac
batch_close
# (the evidence that tokens did expire while the client slept)
grep -q '"deleted a simple token","user-name":"keyturn-leader"' \
    "$KT_ETCD_DIR"/m*/log || fail "etcd logged no expired token"
ok "token expiry and failover under TLS + auth"
exit 0
