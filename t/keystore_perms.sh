#!/bin/sh
# keystore_perms - a keystore with the wrong owner or modes, or one that
# cannot be written, is refused with a message naming the file and what
# to do.
. "$top_srcdir/t/keystore_lib.sh"

K="$T/ks"
kt() { "$KT" -K "$K" "$@"; }

run 0 kt init
run 0 kt domain add p.example --algorithms ed25519
run 0 kt key new p.example
sel=$(head -n1 "$T/out")
pem="$K/p.example/keys/$sel.pem"

# a group- or world-readable private key is refused and named
chmod 640 "$pem"
run 1 kt dns p.example
has "$T/err" "$pem: mode 0640 gives group/other access to a private key"
has "$T/err" "chmod 600"
chmod 600 "$pem"
run 0 kt dns p.example

# keystore and domain directories: 0700
chmod 755 "$K"
run 1 kt list; has "$T/err" "$K: mode 0755"; has "$T/err" "chmod 700"
chmod 700 "$K"
chmod 750 "$K/p.example"
run 1 kt list p.example; has "$T/err" "p.example: mode 0750"
chmod 700 "$K/p.example"
chmod 664 "$K/p.example/state"
run 1 kt list p.example; has "$T/err" "state: mode 0664"
chmod 600 "$K/p.example/state"
run 0 kt list p.example

[ "$(id -u)" = 0 ] || skip "the ownership checks need root"
nobody=$(id -u nobody) || skip "no user nobody"

# owned by another user: root acts as that user (t/cli_root.sh)
chown -R nobody "$K"
run 0 kt list p.example
chown -R root "$K"
chown nobody "$pem"
run 1 kt dns p.example; has "$T/err" "$pem: owned by uid $nobody"
chown root "$pem"

# read-only: as the owner, without write permission on the directory
command -v setpriv >/dev/null || skip setpriv
cp "$KT" "$T/keyturn"
chmod 755 "$T/keyturn"
chown -R nobody "$K"
chmod 500 "$K"
asnobody() {
	setpriv --reuid="$nobody" --regid="$(id -g nobody)" --clear-groups \
	    "$T/keyturn" -K "$K" "$@"
}
run 0 asnobody list p.example
run 1 asnobody domain add q.example
has "$T/err" "$K: Permission denied: the keystore cannot be changed"
chmod 700 "$K"
run 0 asnobody list p.example

# read-only file system, when this machine lets us bind-mount
mkdir "$T/ro"
if mount --bind "$K" "$T/ro" 2>/dev/null; then
	if mount -o remount,ro,bind "$T/ro" 2>/dev/null; then
		chown -R root "$K"
		run 0 "$KT" -K "$T/ro" list p.example
		run 1 "$KT" -K "$T/ro" key new p.example
		has "$T/err" "Read-only file system: the keystore cannot be changed"
	fi
	umount "$T/ro"
fi
echo ok
