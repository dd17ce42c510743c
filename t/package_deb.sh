#!/bin/sh
# package_deb - the Debian package, end to end: contrib/deb builds it,
# lintian finds no error in it, apt-get installs it (the keyturn user, the
# keystore directory 0700, /etc/keyturn.conf a conffile, the service not
# enabled), the README's first-domain steps run as the keyturn user on the
# installed paths, keyturnd starts the way its systemd unit starts it
# (the unit's ExecStart, User and PIDFile; systemd itself need not run)
# and signs a message that dkimpy verifies, a reinstall keeps the edited
# /etc/keyturn.conf, and apt-get purge leaves nothing of the package but
# the keyturn user and group (Debian keeps system users). The machine is
# left as found: the package purged and a keyturn user made here removed,
# on failure too. Needs root, dpkg-dev, debhelper, lintian and the
# package's Build-Depends.
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/t/lib/listening.sh"
PYTHON3=${PYTHON3:-/usr/bin/python3}

D=
S=
KPID=
KCHILD=
installed=
user_before=
MARK="# t/package_deb.sh: keyturnd on a test socket"

fail() {
	echo "FAIL: $*" >&2
	[ -n "$D" ] && for f in "$D/out" "$D/err"; do
		[ -s "$f" ] && { echo "--- $f:"; tail -40 "$f"; } >&2
	done
	exit 1
}

skip() {
	if [ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ]; then
		fail "required tool missing: $*"
	fi
	echo "SKIP: $*"
	exit 77
}

ok() {
	echo "ok: $*"
}

# run CMD... - CMD must succeed (output in $D/out, $D/err)
run() {
	"$@" >"$D/out" 2>"$D/err" || fail "exit $?: $*"
}

# gone PATH... - none of them exists
gone() {
	for _p in "$@"; do
		[ -e "$_p" ] || [ -L "$_p" ] && fail "left after purge: $_p"
	done
	return 0
}

# alive PID - the process is there and not a zombie
alive() {
	_st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# stop_keyturnd - SIGTERM, then wait for it to exit (bound: 60 s)
stop_keyturnd() {
	[ -n "$KPID" ] || return 0
	kill -TERM "$KPID" 2>/dev/null || { KPID=; return 0; }
	_i=0
	while alive "$KPID"; do
		_i=$((_i + 1))
		if [ $_i -gt 1200 ]; then
			kill -KILL "$KPID" 2>/dev/null
			KPID=
			return 1
		fi
		sleep 0.05
	done
	[ -n "$KCHILD" ] && wait "$KPID"
	KPID=
}

pkg_status() {
	dpkg-query -W -f='${db:Status-Status}' keyturn 2>/dev/null || true
}

cleanup() {
	_rc=$?
	stop_keyturnd || true
	if [ -n "$installed" ] && [ -n "$(pkg_status)" ] &&
	    [ "$(pkg_status)" != not-installed ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q keyturn \
		    >/dev/null 2>&1 </dev/null ||
		    echo "cleanup: apt-get purge keyturn failed" >&2
	fi
	if [ -n "$installed" ] && [ -z "$user_before" ]; then
		getent passwd keyturn >/dev/null && userdel keyturn
		getent group keyturn >/dev/null && groupdel keyturn
	fi
	[ -n "$S" ] && rm -rf "$S"
	[ -n "$D" ] && rm -rf "$D"
	exit $_rc
}

[ "$(id -u)" = 0 ] || skip "needs root"
for t in dpkg-buildpackage dh lintian apt-get runuser ss userdel; do
	command -v "$t" >/dev/null 2>&1 || skip "$t"
done
MILTC="$top_builddir/t/miltc"
[ -x "$MILTC" ] || skip "t/miltc not built"
"$PYTHON3" -c 'import dkim' 2>/dev/null || skip "$PYTHON3 lacks dkim (python3-dkim)"

# A keyturn package already here is purged only when an earlier run of
# this test left it (its marker in /etc/keyturn.conf, or a keystore with
# no domain but this test's): an operator's installation is not touched.
st=$(pkg_status)
if [ -n "$st" ] && [ "$st" != not-installed ]; then
	if grep -qxF "$MARK" /etc/keyturn.conf 2>/dev/null ||
	    [ -z "$(find /var/lib/keyturn -mindepth 1 -maxdepth 1 -type d \
		! -name example.com 2>/dev/null)" ]; then
		echo "purging the keyturn package an earlier run left"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q keyturn \
		    >/dev/null </dev/null || fail "apt-get purge keyturn"
	else
		skip "a keyturn package is installed here ($st) with its own keystore"
	fi
fi
user_before=$(getent passwd keyturn || true)

D=$(mktemp -d /tmp/kt-deb.XXXXXX) || fail "mktemp"
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- build and lintian
sh "$top_srcdir/contrib/deb" "$D" >"$D/build.log" 2>&1 ||
    { tail -40 "$D/build.log" >&2; fail "contrib/deb"; }
set -- "$D"/keyturn_*.deb
[ $# = 1 ] && [ -f "$1" ] || fail "contrib/deb left no single keyturn_*.deb: $*"
DEB=$1
ok "contrib/deb built $(basename "$DEB")"

lintian --fail-on error "$DEB" >"$D/out" 2>"$D/err" ||
    fail "lintian reports errors in $(basename "$DEB")"
sed 's/^/    lintian: /' "$D/out"
ok "lintian: no error"

# --- install
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$DEB" \
    >"$D/out" 2>"$D/err" </dev/null || fail "apt-get install $DEB"
[ "$(pkg_status)" = installed ] || fail "keyturn is $(pkg_status) after install"
dpkg -L keyturn >"$D/files" || fail "dpkg -L keyturn"
for f in /usr/sbin/keyturnd /usr/sbin/keyturn /etc/keyturn.conf \
    /usr/share/man/man8/keyturnd.8.gz /usr/share/man/man8/keyturn.8.gz \
    /usr/share/man/man5/keyturn.conf.5.gz /usr/lib/tmpfiles.d/keyturnd.conf \
    /usr/share/keyturn/publish/keyturn-nsupdate \
    /usr/share/doc/keyturn/examples/keyturn.conf.example; do
	grep -qxF "$f" "$D/files" || fail "the package lacks $f"
	[ -f "$f" ] || fail "$f not installed"
done
UNIT=$(grep '/systemd/system/keyturnd\.service$' "$D/files") ||
    fail "the package lacks keyturnd.service"
dpkg-query -W -f='${Conffiles}\n' keyturn | grep -q '^ /etc/keyturn\.conf ' ||
    fail "/etc/keyturn.conf is not a conffile"
getent passwd keyturn >/dev/null || fail "no user keyturn"
[ "$(id -u keyturn)" -lt 1000 ] || fail "keyturn is not a system user"
[ "$(stat -c '%U:%G %a' /var/lib/keyturn)" = "keyturn:keyturn 700" ] ||
    fail "/var/lib/keyturn is $(stat -c '%U:%G %a' /var/lib/keyturn)"
gone /etc/systemd/system/multi-user.target.wants/keyturnd.service
ok "installed: user keyturn, /var/lib/keyturn 0700, conffile, service not enabled"

# --- the README's first domain, as the keyturn user (no DNS here: the
# key is activated by hand instead of by the rotation)
cd /
kt() {
	run runuser -u keyturn -- /usr/sbin/keyturn "$@"
}
kt init
kt domain add example.com --algorithms ed25519
kt key new example.com --algorithm ed25519
kt dns example.com --zone
grep -q '_domainkey\.example\.com\. IN TXT "v=DKIM1; k=ed25519; p=' "$D/out" ||
    fail "keyturn dns --zone: no record"
kt list
SEL=$(awk '$1 == "example.com" { print $2; exit }' "$D/out")
[ -n "$SEL" ] || fail "no selector in keyturn list"
kt activate example.com "$SEL" --force
kt list
grep -q "^example\.com  *$SEL  *ed25519 .* active " "$D/out" ||
    fail "$SEL is not active"
[ -z "$(find /var/lib/keyturn ! -user keyturn)" ] ||
    fail "keystore files not owned by keyturn: $(find /var/lib/keyturn ! -user keyturn)"
[ "$(stat -c %a "/var/lib/keyturn/example.com/keys/$SEL.pem")" = 600 ] ||
    fail "$SEL.pem is not 0600"
ok "keystore made as keyturn, $SEL active"

# --- the operator's /etc/keyturn.conf: a socket of this test's; a
# reinstall keeps it
S=$(mktemp -d /tmp/kt.XXXXXX) && chmod 755 "$S" || fail "mktemp -d"
PIDFILE=$(sed -n 's/^PIDFile=//p' "$UNIT")
[ -n "$PIDFILE" ] || PIDFILE=/run/keyturn/keyturnd.pid
cat >/etc/keyturn.conf <<EOF
$MARK
Socket unix:$S/keyturnd.sock
UserID keyturn
AllowRoot no
PidFile $PIDFILE
KeyStore /var/lib/keyturn
LogLevel debug
EOF
cp /etc/keyturn.conf "$D/keyturn.conf"
DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$D/out" 2>"$D/err" </dev/null ||
    fail "dpkg -i (reinstall)"
cmp -s /etc/keyturn.conf "$D/keyturn.conf" ||
    fail "the reinstall changed /etc/keyturn.conf"
[ -f "/var/lib/keyturn/example.com/keys/$SEL.pem" ] ||
    fail "the reinstall lost the keystore"
ok "reinstall kept the edited /etc/keyturn.conf and the keystore"

# --- keyturnd as the unit starts it
# The pid file's folder comes from the tmpfiles entry (the postinst ran
# systemd-tmpfiles; without a postfix group it cannot make it).
if [ ! -d "$(dirname "$PIDFILE")" ]; then
	install -d -m 0750 -o keyturn "$(dirname "$PIDFILE")"
fi
EXEC=$(sed -n 's/^ExecStart=[-@+!:]*//p' "$UNIT")
UUSER=$(sed -n 's/^User=//p' "$UNIT")
UTYPE=$(sed -n 's/^Type=//p' "$UNIT")
[ -n "$EXEC" ] || fail "no ExecStart in $UNIT"
echo "    unit: Type=${UTYPE:-simple} User=${UUSER:-root} ExecStart=$EXEC"
set -f
# shellcheck disable=SC2086
set -- $EXEC
set +f
[ -n "$UUSER" ] && set -- runuser -u "$UUSER" -- "$@"
if [ "$UTYPE" = forking ]; then
	"$@" >"$D/out" 2>"$D/err" </dev/null || fail "ExecStart: exit $?"
	i=0
	until [ -s "$PIDFILE" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && fail "no pid file $PIDFILE"
		sleep 0.05
	done
	KPID=$(cat "$PIDFILE")
else
	"$@" >"$D/out" 2>"$D/err" </dev/null &
	KPID=$!
	KCHILD=1
fi
i=0
while ! listening "$S/keyturnd.sock"; do
	alive "$KPID" || fail "keyturnd died at start"
	i=$((i + 1))
	[ $i -gt 600 ] && fail "keyturnd's socket did not appear"
	sleep 0.05
done
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$KPID/status")
[ "$uid" = "$(id -u keyturn)" ] || fail "keyturnd runs as uid $uid, not keyturn"
ok "keyturnd started by the unit's ExecStart, runs as keyturn"

# --- a message signed
cat >"$D/msg.eml" <<'EOF'
From: alice@example.com
To: bob@example.org
Subject: keyturn package test
Date: Mon, 07 Dec 2026 09:00:00 +0000
Message-ID: <package-deb@example.com>

Hello,

this message went through the installed keyturnd.
EOF
"$MILTC" -s "unix:$S/keyturnd.sock" -t 30 --client 127.0.0.1 \
    -o "$D/signed.eml" "$D/msg.eml" >"$D/out" 2>"$D/err" || fail "miltc"
grep -q 'insheader.*DKIM-Signature.*d=example\.com' "$D/out" ||
    fail "no DKIM-Signature with d=example.com"
grep -q "s=$SEL" "$D/out" || fail "not signed with $SEL"
run "$PYTHON3" "$top_srcdir/t/milter_verify.py" /usr/sbin/keyturn \
    /var/lib/keyturn "$D/signed.eml"
ok "signed by $SEL, dkimpy verifies it"

stop_keyturnd || fail "keyturnd did not exit after SIGTERM"
ok "keyturnd stopped"

# --- purge: nothing left but the user and group
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q keyturn \
    >"$D/out" 2>"$D/err" </dev/null || fail "apt-get purge keyturn"
st=$(pkg_status)
[ -z "$st" ] || [ "$st" = not-installed ] || fail "keyturn is $st after purge"
while read -r f; do
	# the package's files; folders shared with others stay
	[ "$f" = /. ] && continue
	if awk -v p="$f/" 'index($0, p) == 1 { d = 1 } END { exit !d }' \
	    "$D/files"; then
		case $f in
		*/keyturn|*/keyturn/*) gone "$f" ;;
		esac
	else
		gone "$f"
	fi
done <"$D/files"
gone /etc/keyturn.conf /etc/keyturn.conf.dpkg-old /etc/keyturn.conf.dpkg-dist \
    /var/lib/keyturn /run/keyturn /var/spool/postfix/keyturn \
    /usr/share/doc/keyturn /usr/share/keyturn \
    /var/lib/systemd/deb-systemd-helper-enabled/keyturnd.service.dsh-also
getent passwd keyturn >/dev/null || fail "purge removed the user keyturn"
ok "purged; stays (Debian keeps system users): user and group keyturn"
