#!/bin/sh
# fleet_cli.sh - keyturn with a fleet configuration, the fence at the
# transaction, and a fleet behind TLS and etcd's users
#
# One etcd member on 127.0.0.1.
#  - keyturn fleet push uploads a local keystore (two domains and the
#    history of a removed one) into an empty prefix, and refuses a second
#    time; another host's keyturn init and list see it all, the removed
#    domain's history included.
#  - A host whose FleetKEK is not the fleet's is refused, with both ids.
#  - keyturn fleet status --json: the member a keyturnd registered, its
#    mirror revision, the leader.
#  - t/fleet_fence: a leader whose term ended cannot commit (etcd's
#    transaction refuses it; nothing in etcd or the mirror) and steps
#    down.
# Then the member again with TLS both ways and authentication
# (contrib/etcd's mkcerts and roles): a keyturnd as keyturn-leader leads,
# one as keyturn-signer (FleetRotation no, the read-only role) mirrors,
# registers and signs; a write through the signer's configuration is
# denied and changes nothing.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/etcd.sh"
. "$top_srcdir/t/lib/fleet.sh"
command -v openssl >/dev/null || kt_skip "openssl missing"
FENCE=$(kt_find "$top_builddir/t/fleet_fence") || kt_skip "t/fleet_fence not built"

FL_HANG=60
fl_init fleet_cli
etcd_cluster 1 || kt_fail "cannot start etcd"
fl_kek

# a local keystore of two domains and a removed one
L=$W/local
"$KEYTURN" -K "$L" init >/dev/null || kt_fail "init"
for d in x.test y.test z.test; do
	"$KEYTURN" -K "$L" domain add $d --algorithms ed25519 >/dev/null &&
	"$KEYTURN" -K "$L" key new $d --algorithm ed25519 --selector s1 >/dev/null &&
	"$KEYTURN" -K "$L" activate $d s1 --force >/dev/null 2>&1 ||
	    kt_fail "local keystore"
done
"$KEYTURN" -K "$L" domain remove z.test --force >/dev/null 2>&1 ||
    kt_fail "domain remove"

# push it, with KeyStore the local keystore
fl_conf 0
sed -i "s#^KeyStore .*#KeyStore $L#" "$W/k0.conf"
"$KEYTURN" -c "$W/k0.conf" fleet push > "$W/push.out" 2>&1 ||
    kt_fail "fleet push: $(cat "$W/push.out")"
grep -q "^2 domains of $L pushed" "$W/push.out" ||
    kt_fail "fleet push said: $(cat "$W/push.out")"
if "$KEYTURN" -c "$W/k0.conf" fleet push > "$W/push2.out" 2>&1; then
	kt_fail "a second push was not refused"
fi
grep -q "keyturn fleet push uploads a keystore only into an empty prefix" \
    "$W/push2.out" || kt_fail "second push: $(cat "$W/push2.out")"
etcdctl_ get --prefix "${FL_PREFIX}d/x.test/keys/" --print-value-only |
    grep -q "PRIVATE KEY" && kt_fail "a private key in etcd in the clear"
kt_ok "fleet push: 2 domains and a removed history; a second push refused"

# another host
fl_conf 1
fl_cli 1 init
fl_cli 1 list
# domain, selector, algorithm, bits, state (not the age)
"$KEYTURN" -c "$W/k1.conf" list 2>&1 | awk '{ print $1, $2, $3, $4, $5 }' > "$W/list1"
"$KEYTURN" -K "$L" list 2>&1 | awk '{ print $1, $2, $3, $4, $5 }' > "$W/list0"
diff "$W/list0" "$W/list1" > /dev/null ||
    kt_fail "the mirror lists otherwise: $(diff "$W/list0" "$W/list1")"
"$KEYTURN" -c "$W/k1.conf" history z.test > "$W/hz" 2>&1 ||
    kt_fail "history of the removed domain: $(cat "$W/hz")"
grep -q "removed" "$W/hz" || kt_fail "z.test's history: $(cat "$W/hz")"
[ "$(stat -c %a "$W/ks1/x.test/keys/s1.pem")" = 600 ] ||
    kt_fail "a mirrored key is not 0600"
kt_ok "a new mirror: the same domains, keys 0600, z.test's history kept"

# another FleetKEK
head -c 32 /dev/urandom > "$W/kek2"
chmod 600 "$W/kek2"
fl_conf 2
sed -i "s#^FleetKEK .*#FleetKEK $W/kek2#" "$W/k2.conf"
if "$KEYTURN" -c "$W/k2.conf" init > "$W/kek2.out" 2>&1; then
	kt_fail "a host with another FleetKEK was let in"
fi
grep -q "sealed under the key-encryption key [0-9a-f]\{16\}, and FleetKEK is [0-9a-f]\{16\}" \
    "$W/kek2.out" || kt_fail "wrong KEK: $(cat "$W/kek2.out")"
kt_ok "another FleetKEK: $(sed 's/^keyturn: //' "$W/kek2.out" | head -1)"
chmod 644 "$W/kek2"
if "$KEYTURND" -n -c "$W/k2.conf" > "$W/n.out" 2>&1; then
	kt_fail "keyturnd -n took a FleetKEK readable by others"
fi
grep -q "keyturnd: fleet: FleetKEK: $W/kek2: mode 0644" "$W/n.out" ||
    kt_fail "keyturnd -n: $(cat "$W/n.out")"

# fleet status with one keyturnd
fl_conf 1 "Rotation yes" "RotationInterval 1h"
fl_start 1
registered() {
	"$KEYTURN" -c "$W/k1.conf" --json fleet status > "$W/status.json" 2>&1 &&
	"$PYTHON3" - "$W/status.json" "$(fl_pid 1)" <<'P'
import json, sys
s = json.load(open(sys.argv[1]))
m = s["members"]
sys.exit(0 if len(m) == 1 and str(m[0]["pid"]) == sys.argv[2]
         and m[0]["revision"] > 0 and m[0]["leader"]
         and s["leader"] and str(s["leader"]["pid"]) == sys.argv[2] else 1)
P
}
fl_until 'fleet status: $(cat "$W/status.json")' registered
"$KEYTURN" -c "$W/k1.conf" fleet status | sed 's/^/  /'
# a SIGHUP may not change the fleet under a running keyturnd
sed -i 's/^FleetLeaseTTL .*/FleetLeaseTTL 3s/' "$W/k1.conf"
kill -HUP "$(fl_pid 1)"
refused_hup() {
	grep -q "reload refused, keeping the running one: the Fleet settings" \
	    "$W/k1.log"
}
fl_until "a SIGHUP changed the fleet" refused_hup
sed -i 's/^FleetLeaseTTL .*/FleetLeaseTTL 2s/' "$W/k1.conf"
fl_stop 1
kt_ok "fleet status: the keyturnd, its mirror revision, the leader"

# the fence, at the transaction
"$FENCE" "$W/k1.conf" x.test > "$W/fence.out" 2>&1
rc=$?
sed 's/^/  /' "$W/fence.out"
[ $rc = 0 ] || kt_fail "t/fleet_fence"

# TLS both ways, users and roles
etcd_reset
etcd_cluster 1 tls || kt_fail "cannot start etcd with TLS"
P=$KT_ETCD_PKI
for u in root leader signer; do
	openssl rand -hex 12 > "$W/$u.pw"
done
ETCDCTL_ENDPOINTS=$KT_ETCD_ENDPOINTS ETCDCTL_CACERT=$P/ca.pem \
    ETCDCTL_CERT=$P/keyturn-leader.pem ETCDCTL_KEY=$P/keyturn-leader.key \
    ETCDCTL=$ETCDCTL sh "$top_srcdir/contrib/etcd/roles" "$W/root.pw" \
    "$W/leader.pw" "$W/signer.pw" > "$W/roles.out" 2>&1 ||
    kt_fail "contrib/etcd/roles: $(cat "$W/roles.out")"
KT_ETCD_ROOT=root:$(cat "$W/root.pw")
rm -rf "$W/ks3" "$W/ks4"
fl_conf 3 "Rotation yes" "RotationInterval 1h" "FleetCA $P/ca.pem" \
    "FleetCert $P/keyturn-leader.pem" "FleetKey $P/keyturn-leader.key" \
    "FleetUser keyturn-leader" "FleetPasswordFile $W/leader.pw"
fl_conf 4 "FleetRotation no" "FleetCA $P/ca.pem" \
    "FleetCert $P/keyturn-signer.pem" "FleetKey $P/keyturn-signer.key" \
    "FleetUser keyturn-signer" "FleetPasswordFile $W/signer.pw"
fl_cli 3 init
fl_cli 4 init
fl_cli 3 domain add t.test --algorithms ed25519
fl_cli 3 key new t.test --algorithm ed25519 --selector t1
fl_cli 3 activate t.test t1 --force
fl_start 3
fl_start 4
kt_msg "$W/t.eml" "From: tess@t.test"
KS=$W/ks4
"$MILTC" -s "unix:$S/s4" -t 30 -o "$W/t.out.eml" --client 127.0.0.1 \
    "$W/t.eml" > /dev/null || kt_fail "miltc to the signer"
kt_verify "$W/t.out.eml"
two_members() {
	"$KEYTURN" -c "$W/k4.conf" fleet status > "$W/tstatus" 2>&1 &&
	    [ "$(grep -c ' \(yes\|no\)$' "$W/tstatus")" = 2 ] &&
	    grep -q "rotation leader: .* pid $(fl_pid 3)," "$W/tstatus" &&
	    grep -q ":$(fl_pid 3) .* yes$" "$W/tstatus"
}
fl_until 'two members, 3 leading: $(cat "$W/tstatus")' two_members
sed 's/^/  /' "$W/tstatus"
if "$KEYTURN" -c "$W/k4.conf" key new t.test --algorithm ed25519 \
    --selector denied > "$W/denied.out" 2>&1; then
	kt_fail "the signer's role could write"
fi
grep -q "permission denied" "$W/denied.out" ||
    kt_fail "the denied write: $(cat "$W/denied.out")"
"$KEYTURN" -c "$W/k3.conf" list t.test | grep -q denied &&
    kt_fail "the denied write is in etcd"
grep -q "denied" "$W/ks4/t.test/state" && kt_fail "the denied write is in the mirror"
fl_stop 3
fl_stop 4
kt_ok "TLS and users: keyturn-leader leads, keyturn-signer signs and registers; its write denied"
exit 0
