#!/bin/sh
# cli_root - sudo keyturn on the daemon user's keystore: keyturn becomes
# the keystore's owner before touching it, so every file it writes keeps
# that owner (here nobody) and mode 0600; the publish hook runs as the
# owner too. A user who is neither root nor the owner is refused and told
# whom to run as.
. "$top_srcdir/t/keystore_lib.sh"
. "$top_srcdir/t/lib/listening.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
nobody=$(id -u nobody 2>/dev/null) || skip "no user nobody"
nogroup=$(id -g nobody)
command -v setpriv >/dev/null || skip setpriv

K=$T/ks
kt() { "$KT" -K "$K" "$@"; }
# owned_by UID MODE FILE... - every file has that owner, group and mode
owned_by() {
	_u=$1; _m=$2; shift 2
	for _f in "$@"; do
		[ "$(stat -c '%u:%g %a' "$_f")" = "$_u:$nogroup $_m" ] ||
		    fail "$_f: $(stat -c '%u:%g %a' "$_f"), want $_u:$nogroup $_m"
	done
}

run 0 kt init
run 0 kt domain add r.example --algorithms ed25519 --rotate-after 1h
chown -R nobody:nogroup "$K"

# root writes as nobody: a new key, its state, history and generation
run 0 kt key new r.example
sel=$(head -n1 "$T/out")
[ -n "$sel" ] || fail "no selector"
owned_by "$nobody" 600 "$K/r.example/keys/$sel.pem"
owned_by "$nobody" 600 "$K/r.example/state" "$K/generation"
[ -z "$(find "$K" ! -user nobody)" ] ||
    fail "files not owned by nobody: $(find "$K" ! -user nobody)"
run 0 kt list r.example; has "$T/out" "$sel"

# a rotation pass as root: the memo file is nobody's and the publish hook
# runs as nobody (DNS goes to a loopback port nothing is bound to: refused,
# the record is not there, so it is handed to the hook)
mkdir "$T/hook"; chown nobody "$T/hook"
port=$(free_port)
cat > "$T/keyturn.conf" <<C
KeyStore $K
Resolver 127.0.0.1:$port
DNSPort $port
DNSTimeout 1s
PublishCommand id -u > $T/hook/uid; id -g > $T/hook/gid
C
run 0 "$KT" -c "$T/keyturn.conf" rotate r.example
has "$T/out" "r.example: publish $sel:"
[ "$(cat "$T/hook/uid")" = "$nobody" ] || fail "hook ran as uid $(cat "$T/hook/uid")"
[ "$(cat "$T/hook/gid")" = "$nogroup" ] || fail "hook ran as gid $(cat "$T/hook/gid")"
owned_by "$nobody" 600 "$K/r.example/rotate"
[ -z "$(find "$K" ! -user nobody)" ] ||
    fail "files not owned by nobody: $(find "$K" ! -user nobody)"

# another user who is not the owner (nor root): refused, told whom to be
cp "$KT" "$T/keyturn"; chmod 755 "$T/keyturn"
other=$((nobody - 1))
run 1 setpriv --reuid="$other" --regid="$nogroup" --clear-groups \
    "$T/keyturn" -K "$K" list
has "$T/err" "the keystore is owned by nobody (uid $nobody)"
has "$T/err" "run it as nobody (sudo -u nobody keyturn ...) or as root"
run 1 setpriv --reuid="$other" --regid="$nogroup" --clear-groups \
    "$T/keyturn" -K "$K" key new r.example
[ "$(ls "$K/r.example/keys" | wc -l)" = 1 ] || fail "a refused user made a key"

# the owner itself, unprivileged, works as before
run 0 setpriv --reuid="$nobody" --regid="$nogroup" --clear-groups \
    "$T/keyturn" -K "$K" list r.example
has "$T/out" "$sel"

# a keystore owned by root stays root's
chown -R root:root "$K"
run 0 kt key new r.example --selector rootkey
[ "$(stat -c %u "$K/r.example/keys/rootkey.pem")" = 0 ] ||
    fail "root's keystore got a file of another owner"
echo ok
