#!/bin/sh
# cli_import_opendkim - keyturn import opendkim takes over a real OpenDKIM
#
# A real OpenDKIM signer (Mode s) with a KeyTable and a refile:
# SigningTable for three domains (a subdomain wildcard, a one-address
# rule signing with another domain's key), an InternalHosts file and
# OversignHeaders; RSA keys made with openssl, and an Ed25519 key of
# example.net that OpenDKIM (SignatureAlgorithm rsa-sha256) never signs
# with, so keyturnd is told "Algorithms rsa"; their records served by a
# Knot on loopback, except example.org's, which is not published. The same messages (a From address per rule, one at a
# subdomain) are signed by OpenDKIM and, after `keyturn import opendkim`,
# by keyturnd configured with the lines it printed; each message must get
# the same d= and s= from both, and dkimpy must verify every keyturnd
# signature against Knot. example.org's key must import as pending (no
# record) and keyturnd then tempfails its mail.
# Refusals write nothing: a catch-all rule (the PlatformDomain line that
# comes closest is printed), an ldap: KeyTable, a corrupted key, over-long
# lines and NUL bytes, unreadable or empty tables, what would sign mail
# OpenDKIM did not (an InternalHosts exclusion, PeerList, ExemptDomains),
# key files through a symbolic link or writable by others; --dry-run
# writes nothing.

. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/verify.sh"

for t in opendkim knotd knotc kdig openssl; do
	command -v $t >/dev/null 2>&1 || kt_skip "$t missing"
done
"$PYTHON3" -c 'import dns.message' 2>/dev/null ||
    kt_skip "$PYTHON3 lacks dnspython"

kt_init cli_import_opendkim
O=$W/odk
mkdir -p "$O" || kt_fail "mkdir $O"
cleanup() {
	vf_opendkim_stop "$S"
	vf_dns_stop "$S" 2>/dev/null
	kt_cleanup
}
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM

# --- keys and DNS (loopback only) ----------------------------------------

vf_keygen "$O" com rsa && vf_keygen "$O" net rsa &&
    vf_keygen "$O" neted ed25519 && vf_keygen "$O" org rsa ||
    kt_fail "openssl keys"
DNSPORT=$(free_port)
vf_dns_init "$S" 127.0.0.1 "$DNSPORT" || kt_fail "knot config"
for z in example.com example.net example.org; do
	vf_dns_zone "$S" $z || kt_fail "zone $z"
done
vf_dns_txt "$S" example.com mail2026._domainkey "$(cat "$O/com.txt")" &&
    vf_dns_txt "$S" example.net net2026._domainkey "$(cat "$O/net.txt")" &&
    vf_dns_txt "$S" example.net ed1._domainkey "$(cat "$O/neted.txt")" ||
    kt_fail "records"
vf_dns_start "$S" || kt_fail "knot did not start"

# --- the OpenDKIM signer -------------------------------------------------

cat >"$O/KeyTable" <<EOF
# name	domain:selector:key file
com	example.com:mail2026:$O/com.pem
net	example.net:net2026:$O/net.pem
neted	example.net:ed1:$O/neted.pem
org	example.org:unpub:$O/org.pem
EOF
cat >"$O/SigningTable" <<EOF
boss@example.net	com
*@example.net		net
*@example.com		com
*@*.example.com		com	# every subdomain
*@example.org		org
EOF
printf '127.0.0.1\n::1\n192.0.2.0/24\nmailhost.example.com\n' >"$O/TrustedHosts"
# odk_conf FILE KEYTABLE SIGNINGTABLE - an opendkim.conf
odk_conf() {
	cat >"$1" <<EOF
Mode			s
Socket			local:$S/opendkim.sock
KeyTable		$2
SigningTable		$3
InternalHosts		refile:$O/TrustedHosts
OversignHeaders		From,To
Canonicalization	relaxed/relaxed
Syslog			no
RequireSafeKeys		no
EOF
}
odk_conf "$O/opendkim.conf" "$O/KeyTable" "refile:$O/SigningTable"
vf_opendkim_run "$O/opendkim.conf" "$S/opendkim.sock" "$S/opendkim-s.pid" ||
    kt_fail "opendkim did not start"

# one message per rule, FROM:D:S with the expected d= and s=
MSGS="a@example.com:example.com:mail2026
b@mail.example.com:example.com:mail2026
boss@example.net:example.com:mail2026
c@example.net:example.net:net2026"
for m in $MSGS d@example.org:example.org:unpub; do
	from=${m%%:*}
	kt_msg "$W/$from.eml" "From: $from"
	"$MILTC" -s "unix:$S/opendkim.sock" -t 30 --client 192.0.2.25 \
	    -o "$W/odk-$from.eml" "$W/$from.eml" >>"$W/miltc-odk.out" ||
	    kt_fail "opendkim signing $from"
done

# sig FILE - "d=D s=S" of each signature, as dkimpy read them
sig() {
	vf_dkimpy "$S" "$1" 2>&1 | sed -n 's/.* \(d=[^ ]*\) \(s=[^ ]*\) .*/\1 \2/p'
}
for m in $MSGS d@example.org:example.org:unpub; do
	from=${m%%:*} rest=${m#*:}
	[ "$(sig "$W/odk-$from.eml")" = "d=${rest%%:*} s=${rest#*:}" ] ||
	    kt_fail "opendkim signed $from with $(sig "$W/odk-$from.eml")"
done
kt_ok "OpenDKIM signs one message per rule"

# --- keyturn import ------------------------------------------------------

kt_conf "Resolver 127.0.0.1:$DNSPORT" "DNSPort $DNSPORT" "DNSTimeout 5"
KT="$KEYTURN -c $W/keyturn.conf"
# state - every file of the keystore with its contents' digest
state() {
	(cd "$KS" && find . -type f | sort | xargs sha256sum)
}
state >"$W/state.before"

# refused: a catch-all rule, with the closest PlatformDomain line
cp "$O/SigningTable" "$O/SigningTable.all"
echo '*@*	net' >>"$O/SigningTable.all"
odk_conf "$O/all.conf" "$O/KeyTable" "refile:$O/SigningTable.all"
if $KT import opendkim "$O/all.conf" --signing-table "$W/signing.table" \
    >"$W/all.out" 2>"$W/all.err"; then
	kt_fail "a catch-all rule was imported"
fi
grep -q "^PlatformDomain example.net$" "$W/all.out" ||
    kt_fail "no PlatformDomain suggestion: $(cat "$W/all.out")"
grep -q "SigningTable.all:6: \"\*@\*\" signs every From domain" "$W/all.err" ||
    kt_fail "catch-all not named with file:line: $(cat "$W/all.err")"
kt_ok "a catch-all rule is refused with the PlatformDomain line"

# refused: an LDAP KeyTable, named (its URL is not echoed)
odk_conf "$O/ldap.conf" "ldap://ldap.invalid/ou=keys?secret" \
    "refile:$O/SigningTable"
if $KT import opendkim "$O/ldap.conf" --signing-table "$W/signing.table" \
    >"$W/ldap.out" 2>"$W/ldap.err"; then
	kt_fail "an ldap: KeyTable was imported"
fi
grep -q "ldap.conf:3: KeyTable is an LDAP directory" "$W/ldap.err" ||
    kt_fail "ldap: not named: $(cat "$W/ldap.err")"
grep -q secret "$W/ldap.err" && kt_fail "the dataset's URL was echoed"
kt_ok "an LDAP KeyTable is refused"

# refused odk_conf CONF WHAT PATTERN - import CONF fails (also with
# --dry-run), stderr matches PATTERN, and the keystore is unchanged
refused() {
	for _dry in --dry-run ""; do
		if $KT import opendkim "$1" --signing-table "$W/signing.table" \
		    $_dry >"$W/ref.out" 2>"$W/ref.err"; then
			kt_fail "$2 was imported ($_dry)"
		fi
		grep -q -- "$3" "$W/ref.err" ||
		    kt_fail "$2: not named ($_dry): $(cat "$W/ref.err")"
		state | cmp -s - "$W/state.before" ||
		    kt_fail "$2: the keystore changed ($_dry)"
	done
	kt_ok "$2 is refused, nothing written"
}

# a corrupted RSA key (a byte of the private exponent changed): the
# key-pair check refuses it before anything is written
openssl rsa -in "$O/org.pem" -traditional -outform DER \
    -out "$O/bad.der" 2>/dev/null || kt_fail "openssl rsa"
# the fourth INTEGER is d: "OFFSET:d=1  hl=HL l=LEN prim: INTEGER"
off=$(openssl asn1parse -inform DER -in "$O/bad.der" |
    awk '/INTEGER/ && ++n == 4 { sub(":.*", "", $1); sub("hl=", "", $2);
    print $1 + $2; exit }')
[ -n "$off" ] || kt_fail "no private exponent in $O/bad.der"
"$PYTHON3" -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 0x5a
open(p, "wb").write(bytes(b))' "$O/bad.der" $((off + 20)) ||
    kt_fail "corrupting the key"
{ echo "-----BEGIN RSA PRIVATE KEY-----"; base64 "$O/bad.der"
    echo "-----END RSA PRIVATE KEY-----"; } >"$O/bad.pem"
chmod 600 "$O/bad.pem"
openssl pkey -check -in "$O/bad.pem" -noout >/dev/null 2>&1 &&
    kt_fail "openssl accepts the corrupted key"
printf 'good\texample.info:s1:%s\nbad\texample.bad:s1:%s\n' \
    "$O/com.pem" "$O/bad.pem" >"$O/KeyTable.bad"
printf '*@example.info good\n*@example.bad bad\n' >"$O/SigningTable.bad"
odk_conf "$O/bad.conf" "$O/KeyTable.bad" "refile:$O/SigningTable.bad"
refused "$O/bad.conf" "a corrupted RSA key" "KeyTable.bad:2: key bad: "

# a line longer than the limit is refused, not split (its tail would be
# a live entry)
{ printf '#'; printf '%9000s' ''
    printf 'x\texample.info:s1:%s\n' "$O/com.pem"; cat "$O/KeyTable"; } \
    >"$O/KeyTable.long"
odk_conf "$O/long.conf" "$O/KeyTable.long" "refile:$O/SigningTable"
refused "$O/long.conf" "an over-long line" "KeyTable.long:1: a line longer"
{ cat "$O/KeyTable"; printf 'x\000y\texample.info:s1:%s\n' "$O/com.pem"; } \
    >"$O/KeyTable.nul"
odk_conf "$O/nul.conf" "$O/KeyTable.nul" "refile:$O/SigningTable"
refused "$O/nul.conf" "a NUL byte" "KeyTable.nul:6: a NUL byte"

# read errors and an empty KeyTable
mkdir -p "$O/dir"
odk_conf "$O/dir.conf" "$O/KeyTable" "refile:$O/dir"
refused "$O/dir.conf" "a SigningTable that is a directory" "dir: read error"
odk_conf "$O/kdir.conf" "$O/dir" "refile:$O/SigningTable"
refused "$O/kdir.conf" "a KeyTable that is a directory" "dir: read error"
echo '# no keys' >"$O/KeyTable.empty"
odk_conf "$O/empty.conf" "$O/KeyTable.empty" "refile:$O/SigningTable"
refused "$O/empty.conf" "an empty KeyTable" "has no keys"

# what would sign mail OpenDKIM did not: refused
cp "$O/TrustedHosts" "$O/TrustedHosts.ex"
echo '!192.0.2.5' >>"$O/TrustedHosts.ex"
sed "s|refile:$O/TrustedHosts|refile:$O/TrustedHosts.ex|" \
    "$O/opendkim.conf" >"$O/ex.conf"
refused "$O/ex.conf" "an InternalHosts exclusion" "TrustedHosts.ex:5: !192"
for kw in PeerList ExemptDomains; do
	cp "$O/opendkim.conf" "$O/$kw.conf"
	echo "$kw 192.0.2.7" >>"$O/$kw.conf"
	refused "$O/$kw.conf" "$kw" "$kw.conf:10: $kw: "
done

# key files: no symbolic link, not writable by group or others
ln -sf "$O/com.pem" "$O/link.pem"
sed "s|$O/com.pem|$O/link.pem|" "$O/KeyTable" >"$O/KeyTable.link"
odk_conf "$O/link.conf" "$O/KeyTable.link" "refile:$O/SigningTable"
refused "$O/link.conf" "a key file through a symbolic link" "symbolic link"
cp "$O/com.pem" "$O/gw.pem" && chmod 620 "$O/gw.pem"
sed "s|$O/com.pem|$O/gw.pem|" "$O/KeyTable" >"$O/KeyTable.gw"
odk_conf "$O/gw.conf" "$O/KeyTable.gw" "refile:$O/SigningTable"
refused "$O/gw.conf" "a group-writable key file" "writable by its group"
chmod 640 "$O/net.pem"

# --dry-run: everything said, nothing written
sed 's/^OversignHeaders.*/OversignHeaders		From, To/' "$O/opendkim.conf" \
    >"$O/dry.conf"
$KT import opendkim "$O/dry.conf" --signing-table "$W/signing.table" \
    --dry-run >"$W/dry.out" 2>"$W/dry.err" ||
    kt_fail "import --dry-run: $(cat "$W/dry.err")"
grep -qx "OversignHeaders From,To" "$W/dry.out" ||
    kt_fail "OversignHeaders \"From, To\": $(grep Oversign "$W/dry.out")"
grep -q "^# example.com: key mail2026 (rsa 2048) would be active" \
    "$W/dry.out" || kt_fail "dry run: $(cat "$W/dry.out")"
grep -q "warning: .*KeyTable:3: .*net.pem is readable by its group" \
    "$W/dry.err" || kt_fail "a group-readable key: no warning"
[ -e "$W/signing.table" ] && kt_fail "--dry-run wrote the SigningTable"
state | cmp -s - "$W/state.before" ||
    kt_fail "the keystore changed (refusals, --dry-run)"
kt_ok "refusals and --dry-run write nothing"

# the import
$KT import opendkim "$O/opendkim.conf" --signing-table "$W/signing.table" \
    >"$W/import.out" 2>"$W/import.err" ||
    kt_fail "import: $(cat "$W/import.err")"
cat "$W/import.out" "$W/import.err"
grep -q "TrustedHosts:4: mailhost.example.com: not an address" \
    "$W/import.err" || kt_fail "the host name was not warned of"
for l in "SigningTable $W/signing.table" \
    "InternalHosts 127.0.0.1 ::1 192.0.2.0/24" "OversignHeaders From,To" \
    "Algorithms rsa"; do
	grep -qx "$l" "$W/import.out" || kt_fail "no line \"$l\""
done
printf '%s\n' "boss@example.net example.com" "example.net example.net" \
    "example.com example.com" ".example.com example.com" \
    "example.org example.org" >"$W/table.want"
grep -v '^#' "$W/signing.table" | cmp -s - "$W/table.want" ||
    kt_fail "translated table: $(cat "$W/signing.table")"
"$KEYTURN" -K "$KS" list >"$W/list.out" 2>&1 || kt_fail "keyturn list"
for k in "example.com mail2026 active" "example.net net2026 active" \
    "example.net ed1 active" "example.org unpub pending"; do
	set -f; set -- $k; set +f
	awk -v d="$1" -v s="$2" -v st="$3" '$1 == d && $2 == s {
	    for (i = 3; i <= NF; i++) if ($i == st) f = 1 } END { exit !f }' \
	    "$W/list.out" || kt_fail "not $k: $(cat "$W/list.out")"
done
"$KEYTURN" -K "$KS" history example.com | grep -q "served by every nameserver" ||
    kt_fail "no DNS reason in the history"
kt_ok "keys imported: active where served, pending where not"

# again: nothing new, the same table
cp "$W/signing.table" "$W/signing.table.1"
$KT import opendkim "$O/opendkim.conf" --signing-table "$W/signing.table" \
    >"$W/again.out" 2>"$W/again.err" || kt_fail "import again: $(cat "$W/again.err")"
grep -q "already in the keystore" "$W/again.out" &&
    cmp -s "$W/signing.table" "$W/signing.table.1" ||
    kt_fail "a second import changed something"
kt_ok "a second import is a no-op"

# --- keyturnd with the printed lines --------------------------------------

grep -v '^#' "$W/import.out" >>"$W/keyturn.conf"
kt_start
for m in $MSGS; do
	from=${m%%:*}
	kt_miltc --client 192.0.2.25 -o "$W/kt-$from.eml" "$W/$from.eml" \
	    >>"$W/miltc-kt.out" || kt_fail "keyturnd signing $from"
	[ "$(sig "$W/kt-$from.eml")" = "$(sig "$W/odk-$from.eml")" ] ||
	    kt_fail "$from: keyturnd $(sig "$W/kt-$from.eml"), OpenDKIM" \
	    "$(sig "$W/odk-$from.eml")"
	vf_dkimpy "$S" "$W/kt-$from.eml" >>"$W/dkimpy.out" 2>&1 ||
	    kt_fail "dkimpy: $(tail -3 "$W/dkimpy.out")"
	kt_ok "$from: d= and s= as OpenDKIM's, verified by dkimpy"
done
kt_miltc --client 192.0.2.25 "$W/d@example.org.eml" >"$W/org.out" 2>&1
grep -q "	tempfail" "$W/org.out" ||
    kt_fail "example.org (pending key) was not tempfailed: $(cat "$W/org.out")"
kt_ok "example.org waits for its record: tempfail"
kt_stop
