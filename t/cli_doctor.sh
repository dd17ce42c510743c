#!/bin/sh
# cli_doctor - keyturn doctor against a real setup: a keystore owned by
# nobody (UserID), keyturnd listening in the queue directory of a Postfix
# configuration whose smtpd runs chrooted, and Knot on loopback serving
# the records of `keyturn dns` (keyturn.conf's Resolver and DNSPort point
# the propagation check at it). The clean setup reports nothing and exits
# 0; then each fault is made on purpose, one at a time, and doctor reports
# exactly that one finding (its text and fix) and exits 1: an unknown
# keyword in keyturn.conf, a private key of mode 0644, a keystore
# directory owned by root, a socket postfix cannot connect to, a socket
# outside the chroot of smtpd, a milter list not naming the socket (reached
# through a link, queue_directory ending in /, $names; the fix keeps the
# other milters), a keystore directory without keyturn.keystore, a damaged
# one, a keystore named through a link, UserID unset, a keyturn.conf that
# does not exist, an active key whose record Knot does not serve, a key due to rotate out within a day with no ready standby, a
# revoked key whose p= is still served, and keyturnd not running. Each
# fault is undone before the next. Nothing is timed; waits are bounded
# polls that only catch a hang.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/verify.sh"

[ "$(id -u)" = 0 ] || kt_skip "needs root (a keystore owned by nobody)"
for tool in knotd knotc kdig postconf; do
	command -v "$tool" >/dev/null 2>&1 || kt_skip "$tool not found"
done
id postfix >/dev/null 2>&1 || kt_skip "no postfix user"
id nobody >/dev/null 2>&1 || kt_skip "no nobody user"

kt_init cli_doctor
DNSPORT=$(free_port)
doc_cleanup() {
	vf_dns_stop "$S" 2>/dev/null
	kt_cleanup
}
trap doc_cleanup EXIT
trap 'doc_cleanup; exit 1' INT TERM

# the keystore lives under $S (0755): nobody must reach it from /
KS=$S/ks
kt_cli init
DOMAINS="clean.test miss.test soon.test rev.test"
for d in $DOMAINS; do
	kt_cli domain add "$d" --algorithms ed25519
done
kt_key clean.test ed25519 c1
vf_dns_keystore "$S" 127.0.0.1 "$DNSPORT" "$KEYTURN" "$KS" $DOMAINS ||
    kt_fail "knot did not serve the keystore's records"
chown -R nobody: "$KS" || kt_fail "chown $KS"

# Postfix: smtpd chrooted in $Q, the milter named inside it
Q=$S/pfq
PF=$W/postfix
mkdir -p "$Q/keyturn" "$PF" && chmod 755 "$Q" "$Q/keyturn" ||
    kt_fail "mkdir $Q"
postfix_conf() {
	printf 'queue_directory = %s\nsmtpd_milters = %s\n' "$2" "$3" \
	    >"$1/main.cf"
	printf 'smtp inet n - y - - smtpd\ncleanup unix n - n - 0 cleanup\n' \
	    >"$1/master.cf"
}
postfix_conf "$PF" "$Q" "unix:keyturn/sock"

SOCK=$Q/keyturn/sock
CONF=$W/keyturn.conf
cat >"$CONF" <<EOF
Socket unix:$SOCK
KeyStore $KS
UserID nobody
SocketOwner nobody:postfix
SocketMode 0660
PidFile $S/keyturnd.pid
Rotation no
Resolver 127.0.0.1:$DNSPORT
DNSPort $DNSPORT
DNSTimeout 5s
EOF
kt_launch_doc() {
	"$KEYTURND" -f -c "$CONF" >>"$W/keyturnd.log" 2>&1 &
	KPID=$!
	kt_ready "$SOCK"
}
kt_launch_doc

# doctor WANT ARGS... - keyturn doctor, exit status WANT, output in $W/out
doctor() {
	want=$1
	shift
	"$KEYTURN" "$@" doctor --mta postfix --postfix-config "$PF" \
	    >"$W/out" 2>"$W/err"
	got=$?
	[ "$got" = "$want" ] || { cat "$W/out" "$W/err" >&2;
	    kt_fail "doctor $*: exit $got, want $want"; }
}
# has TEXT - the output says TEXT
has() {
	grep -qF -- "$1" "$W/out" || { cat "$W/out" >&2;
	    kt_fail "doctor did not say: $1"; }
}
# one_finding PROBLEM FIX - exit 1, exactly one finding, with this text
one_finding() {
	one_of "$1" "$2" -c "$CONF"
}
# one_of PROBLEM FIX ARGS... - the same, keyturn run with ARGS
one_of() {
	p=$1 f=$2
	shift 2
	doctor 1 "$@"
	set -- "$p" "$f"
	has "$1"
	has "  fix: $2"
	has "1 finding"
	[ "$(grep -c '^problem: ' "$W/out")" = 1 ] || { cat "$W/out" >&2;
	    kt_fail "more than one finding"; }
	sed 's/^/  | /' "$W/out"
}
clean() {
	doctor 0 -c "$CONF"
	[ "$(cat "$W/out")" = "no problems found" ] ||
	    { cat "$W/out" >&2; kt_fail "clean setup: $1"; }
}
# served NAME TEXT - until Knot serves a record containing TEXT (the
# bound only catches a Knot that never reloads)
served() {
	i=0
	until kdig +short +timeout=1 +retry=0 @127.0.0.1 -p "$DNSPORT" \
	    "$1" TXT </dev/null 2>/dev/null | tr -d '" ' | grep -qF "$2"; do
		i=$((i + 1))
		[ $i -gt 100 ] && kt_fail "knot does not serve $1"
		sleep 0.1
	done
}
# publish DOMAIN SELECTOR - the key's record as keyturn dns prints it
publish() {
	v=$("$KEYTURN" -K "$KS" dns "$1" | awk -v n="$2._domainkey.$1." \
	    '$1 == n { $1 = ""; sub(/^ /, ""); print }')
	[ -n "$v" ] || kt_fail "no record for $2 in keyturn dns $1"
	vf_dns_txt "$S" "$1" "$2._domainkey" "$v" || kt_fail "publish $2"
	served "$2._domainkey.$1" "$(printf '%s' "$v" | tr -d ' ' |
	    cut -c1-40)"
}

# --- usage
doctor 2 -c "$CONF" --mta exim
doctor 2 -c "$CONF" extra

# --- the clean setup
clean "from the start"
doctor 0 -c "$CONF" --json
[ "$(tr -d ' \n' <"$W/out")" = "[]" ] || kt_fail "clean --json: $(cat "$W/out")"
kt_ok "clean setup: no problems found, exit 0, --json []"

# --- keyturn.conf: an unknown keyword on line 11
cp "$CONF" "$W/bad.conf"
echo "Frobnicate yes" >>"$W/bad.conf"
"$KEYTURN" -K "$KS" -c "$W/bad.conf" doctor --mta postfix \
    --postfix-config "$PF" >"$W/out" 2>"$W/err"
[ $? = 1 ] || kt_fail "bad keyturn.conf: not exit 1"
has "problem: $W/bad.conf:11: "
has "Frobnicate"
has "  fix: edit $W/bad.conf line 11"
has "1 finding"
sed 's/^/  | /' "$W/out"
kt_ok "keyturn.conf error: file:line and the line to edit"

# --- a private key readable by group and other
chmod 0644 "$KS/clean.test/keys/c1.pem"
one_finding "problem: $KS/clean.test/keys/c1.pem: private key mode 0644" \
    "chmod 0600 $KS/clean.test/keys/c1.pem"
chmod 0600 "$KS/clean.test/keys/c1.pem"
clean "after chmod 0600"
kt_ok "key file mode 0644: chmod 0600"

# --- a keystore directory owned by root while UserID is nobody
chown root "$KS/clean.test"
one_finding "1 entry not owned by nobody (uid $(id -u nobody))" "chown -R nobody: $KS"
has "such as $KS/clean.test"
chown nobody "$KS/clean.test"
kt_ok "keystore directory owned by root: chown -R nobody:"

# --- a socket of mode 0600 owned by root: postfix cannot connect
chown root:root "$SOCK" && chmod 0600 "$SOCK" || kt_fail "chmod $SOCK"
one_finding "problem: $SOCK: postfix (the MTA's user) cannot connect: \
the socket is mode 0600, owned by root:root" \
    "chown nobody:postfix $SOCK; chmod 0660 $SOCK; and keep it so with \
SocketOwner nobody:postfix and SocketMode 0660 in $CONF"
chown nobody:postfix "$SOCK" && chmod 0660 "$SOCK" || kt_fail "chmod $SOCK"
clean "after the socket is back"
kt_ok "socket 0600 root:root: SocketOwner and SocketMode"

# --- smtpd chrooted in another queue directory, the milter elsewhere
PF2=$W/postfix2
mkdir -p "$PF2" "$S/pfq2"
postfix_conf "$PF2" "$S/pfq2" "unix:/elsewhere/keyturnd.sock"
PF0=$PF
PF=$PF2
one_finding "problem: $PF2/main.cf smtpd_milters: smtp/inet runs \
chrooted in $S/pfq2 (master.cf), so it cannot reach keyturnd's socket \
$SOCK outside it" \
    "mkdir -p $S/pfq2/keyturn; edit $CONF line 1: Socket \
unix:$S/pfq2/keyturn/keyturnd.sock; postconf -c $PF2 -e \
'smtpd_milters = unix:/elsewhere/keyturnd.sock, unix:keyturn/keyturnd.sock'"
# the right queue directory, the milter naming another socket
postfix_conf "$PF2" "$Q" "unix:/elsewhere/keyturnd.sock"
one_finding "smtpd_milters = unix:/elsewhere/keyturnd.sock does not \
name keyturnd's socket $SOCK" \
    "postconf -c $PF2 -e 'smtpd_milters = unix:/elsewhere/keyturnd.sock, \
unix:keyturn/sock'"
PF=$PF0
kt_ok "Postfix chroot: socket outside the queue directory, milter not naming it"

# --- the socket in the queue directory through a link, or queue_directory
# with a trailing /: the milter is the path inside it; other milters stay
ln -s "$Q/keyturn" "$S/kq" || kt_fail "ln $S/kq"
sed "s|^Socket .*|Socket unix:$S/kq/sock|" "$CONF" >"$W/link.conf"
postfix_conf "$PF2" "$Q" "inet:127.0.0.1:8891"
PF=$PF2
one_of "smtpd_milters = inet:127.0.0.1:8891 does not name keyturnd's \
socket $S/kq/sock" "postconf -c $PF2 -e 'smtpd_milters = \
inet:127.0.0.1:8891, unix:keyturn/sock'; postfix reload" -c "$W/link.conf"
postfix_conf "$PF2" "$Q/" "inet:127.0.0.1:8891"
one_finding "smtpd_milters = inet:127.0.0.1:8891 does not name" \
    "postconf -c $PF2 -e 'smtpd_milters = inet:127.0.0.1:8891, \
unix:keyturn/sock'; postfix reload"
# $names expanded: non_smtpd_milters = $smtpd_milters names it too
postfix_conf "$PF2" "$Q" "inet:127.0.0.1:8891, \$extra_milters"
printf 'extra_milters = unix:keyturn/sock\nnon_smtpd_milters = $smtpd_milters\n' \
    >>"$PF2/main.cf"
clean "with the milter in \$extra_milters"
sed -i 's|^extra_milters = .*|extra_milters = inet:127.0.0.1:8892|' \
    "$PF2/main.cf"
one_finding "problem: $PF2/main.cf smtpd_milters: smtpd_milters = \
inet:127.0.0.1:8891, inet:127.0.0.1:8892 does not name" \
    "postconf -c $PF2 -e 'smtpd_milters = inet:127.0.0.1:8891, \
\$extra_milters, unix:keyturn/sock'; postfix reload"
PF=$PF0
kt_ok "Postfix milters: linked socket, queue_directory/, \$names, others kept"

# --- a keystore directory without keyturn.keystore, and a damaged one
mkdir -m 0700 "$S/ks2" && chown nobody: "$S/ks2" || kt_fail "mkdir $S/ks2"
one_of "problem: $S/ks2: not a keystore: no keyturn.keystore in it" \
    "sudo -u nobody keyturn -K $S/ks2 init" -K "$S/ks2" -c "$CONF"
cp -a "$KS" "$S/ks3" && echo garbage >"$S/ks3/keyturn.keystore" ||
    kt_fail "cp $KS"
one_of "problem: $S/ks3: cannot be opened: " \
    "restore $S/ks3 from a backup" -K "$S/ks3" -c "$CONF"
# the keystore named through a link
ln -s "$KS" "$S/kslink" || kt_fail "ln $S/kslink"
one_of "problem: $S/kslink: a symbolic link" \
    "name the directory itself: keyturn -c $CONF -K $(cd "$KS" && pwd -P)" \
    -K "$S/kslink" -c "$CONF"
kt_ok "keystore missing, damaged, or a link: init, restore, the directory"

# --- UserID unset: name the keystore's owner, no chown to root
sed '/^UserID/d' "$CONF" >"$W/nouid.conf"
one_of "problem: UserID: not set" \
    "add to $W/nouid.conf: UserID nobody (the keystore's owner)" \
    -c "$W/nouid.conf"
# a keyturn.conf that does not exist
one_of "problem: $W/none.conf: no such file" "create $W/none.conf" \
    -c "$W/none.conf"
kt_ok "UserID unset: UserID nobody; missing keyturn.conf: create it"

# --- an active key whose record Knot does not serve
kt_key miss.test ed25519 m1
one_finding "problem: m1._domainkey.miss.test (active key): not served \
by every authoritative nameserver: 127.0.0.1:$DNSPORT" \
    "publish the record keyturn -c $CONF dns miss.test prints"
has "answered nxdomain"
kt_cli domain remove miss.test --force
clean "after miss.test is removed"
kt_ok "active key not in DNS: publish keyturn dns"

# --- rotate-after 1d, an active key, no ready standby
kt_key soon.test ed25519 s1
publish soon.test s1
clean "with s1 published"
kt_cli domain set soon.test --rotate-after 1d
one_finding "problem: soon.test: active ed25519 key s1 rotates out at " \
    "keyturn -c $CONF rotate soon.test (makes a standby key)"
has "no ed25519 key is ready to take over"
kt_cli domain set soon.test --rotate-after 120d
clean "with rotate-after 120d"
kt_ok "rotation within a day, no standby: keyturn rotate"

# --- a revoked key whose record still carries its p=
kt_cli key new rev.test --algorithm ed25519 --selector r1
publish rev.test r1
kt_cli revoke rev.test r1
one_finding "problem: r1._domainkey.rev.test (revoked key): revoked, \
but its p= is still served: 127.0.0.1:$DNSPORT" \
    "publish \"v=DKIM1; p=\" as keyturn -c $CONF dns rev.test prints it"
doctor 1 -c "$CONF" --json
"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1, d
f = d[0]
assert sorted(f) == ["check", "fix", "problem", "subject"], f
assert f["check"] == "revoked", f
assert f["subject"].startswith("r1._domainkey.rev.test"), f
' "$W/out" || kt_fail "--json: $(cat "$W/out")"
# the empty record published: clean again
vf_dns_stop "$S"
: >"$S/dns/rev.test.records"
vf_dns_txt "$S" rev.test r1._domainkey "v=DKIM1; p=" || kt_fail "empty p="
vf_dns_start "$S" || kt_fail "knot restart"
served r1._domainkey.rev.test "v=DKIM1;p="
clean "with the empty p= published"
kt_ok "revoked key still served: publish v=DKIM1; p= (text and --json)"

# --- keyturnd not running
kill -TERM "$KPID" && wait "$KPID"
KPID=
one_finding "problem: $SOCK: keyturnd is not listening on this socket" \
    "start keyturnd (keyturnd -c $CONF)"
kt_ok "keyturnd not running: start it"
