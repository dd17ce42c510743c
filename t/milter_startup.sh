#!/bin/sh
# milter_startup - keyturnd's command line and start-up: -V, -n with
# file:line errors, the keystore checked, root refused without UserID, and
# (as root) the drop to UserID with the socket's mode and owner.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_startup
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_msg "$W/m.eml" "From: alice@example.com"

"$KEYTURND" -V | grep -q "^keyturnd [0-9]" || kt_fail "-V"

kt_conf
"$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1 ||
    kt_fail "-n on a good configuration: $(cat "$W/n.out")"
grep -q "1 domain" "$W/n.out" || kt_fail "-n output: $(cat "$W/n.out")"

kt_conf "Bogus yes" "SignatureTTL forever"
if "$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1; then
	kt_fail "-n accepted a bad configuration"
fi
grep -q "keyturn.conf:[0-9]*: .*Bogus" "$W/n.out" &&
    grep -q "keyturn.conf:[0-9]*: .*SignatureTTL" "$W/n.out" ||
    kt_fail "-n does not report each error with file:line: $(cat "$W/n.out")"
kt_ok "-n reports every configuration error with file:line"

kt_conf
chmod 0644 "$KS/example.com/keys/e1.pem"
if "$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1; then
	kt_fail "-n accepted a private key readable by others"
fi
grep -q "e1.pem" "$W/n.out" || kt_fail "-n does not name the key: $(cat "$W/n.out")"
chmod 0600 "$KS/example.com/keys/e1.pem"
kt_ok "-n refuses a private key with group/other access, naming it"

# two broken domains: both named, not only the first
kt_cli domain add a.test --algorithms ed25519
kt_key a.test ed25519 a1
kt_cli domain add b.test --algorithms ed25519
kt_key b.test ed25519 b1
chmod 0644 "$KS/a.test/keys/a1.pem" "$KS/b.test/keys/b1.pem"
if "$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1; then
	kt_fail "-n accepted two broken domains"
fi
grep -q "a1.pem" "$W/n.out" && grep -q "b1.pem" "$W/n.out" ||
    kt_fail "-n does not name every broken domain: $(cat "$W/n.out")"
chmod 0600 "$KS/a.test/keys/a1.pem" "$KS/b.test/keys/b1.pem"
kt_ok "-n names every domain that does not load"

# a loopback TCP socket (IPv4 and IPv6) instead of a unix one
for fam in inet:127.0.0.1 inet6:::1; do
	port=$(free_port)
	spec="${fam%%:*}:$port@${fam#*:}"
	kt_conf
	sed -i "s|^Socket .*|Socket $spec|" "$W/keyturn.conf"
	"$KEYTURND" -f -c "$W/keyturn.conf" >>"$W/keyturnd.log" 2>&1 &
	KPID=$!
	i=0
	until "$MILTC" -s "$spec" -t 10 --client 127.0.0.1 "$W/m.eml" \
	    >"$W/inet.txt" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 600 ] && kt_fail "no answer on $spec"	# a hang
		sleep 0.05
	done
	grep -q "s=e1;" "$W/inet.txt" || kt_fail "not signed over $spec"
	kt_stop
	kt_ok "signs over $spec"
done

[ "$(id -u)" = 0 ] || { kt_ok "not root: privilege tests skipped"; exit 0; }

{ echo "Socket unix:$S/sock"; echo "KeyStore $KS"; } >"$W/keyturn.conf"
if "$KEYTURND" -f -c "$W/keyturn.conf" >"$W/root.out" 2>&1; then
	kt_fail "ran as root without UserID"
fi
grep -q "refusing to run as root without UserID" "$W/root.out" ||
    kt_fail "no refusal message: $(cat "$W/root.out")"
kt_ok "root without UserID refused"

command -v setpriv >/dev/null || kt_skip "setpriv (util-linux) missing"
id nobody >/dev/null 2>&1 || kt_skip "no user nobody"
uid=$(id -u nobody) gid=$(id -g nobody)
chown -R nobody "$KS"
chgrp -R "$gid" "$KS"
kt_conf "UserID nobody" "SocketMode 0660"
sed -i '/AllowRoot/d' "$W/keyturn.conf"
kt_start
status=$(cat "/proc/$KPID/status")
echo "$status" | grep -q "^Uid:	$uid	$uid	$uid	$uid$" ||
    kt_fail "uids: $(echo "$status" | grep Uid)"
echo "$status" | grep -q "^Gid:	$gid	$gid	$gid	$gid$" ||
    kt_fail "gids: $(echo "$status" | grep Gid)"
echo "$status" | grep -q "^Groups:	$gid *$" ||
    kt_fail "groups: $(echo "$status" | grep Groups)"
[ "$(stat -c '%u %a' "$S/sock")" = "$uid 660" ] ||
    kt_fail "socket: $(stat -c '%u %a' "$S/sock")"
[ "$(cat "$W/keyturnd.pid")" = "$KPID" ] || kt_fail "pid file"
kt_ok "running as nobody ($uid:$gid, no other group), socket $uid 0660"

kt_miltc --client 127.0.0.1 "$W/m.eml" >"$W/1.txt" || kt_fail "miltc"
grep -q "s=e1;" "$W/1.txt" || kt_fail "not signed after the drop"
# a change made by the keystore's owner reaches the unprivileged daemon
asnobody() { setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"; }
asnobody "$KEYTURN" -K "$KS" key new example.com --algorithm ed25519 \
    --selector e2 >>"$W/keyturn.log" 2>&1 || kt_fail "key new as nobody"
asnobody "$KEYTURN" -K "$KS" activate example.com e2 --force \
    >>"$W/keyturn.log" 2>&1 || kt_fail "activate as nobody"
asnobody "$KEYTURN" -K "$KS" retire example.com e1 >>"$W/keyturn.log" 2>&1 ||
    kt_fail "retire as nobody"
# until the change is signing; the bound only catches a missed change
i=0
until kt_miltc --client 127.0.0.1 "$W/m.eml" >"$W/2.txt" &&
    grep -q "s=e2;" "$W/2.txt"; do
	i=$((i + 1))
	[ $i -gt 600 ] && kt_fail "the unprivileged daemon missed a change"
	sleep 0.05
done
kt_ok "keystore reloads after the drop"
kt_stop
exit 0
