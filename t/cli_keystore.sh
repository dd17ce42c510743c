#!/bin/sh
# cli_keystore - every keyturn keystore command, its output and its errors
. "$top_srcdir/t/keystore_lib.sh"

K="$T/ks"
kt() { "$KT" -K "$K" "$@"; }
json() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); $1"; }
# keynew WANT ARGS... - kt key new ARGS; the selector (in $got) must be
# WANT with YM the month (UTC) before or after the command: one that runs
# across the turn of a month may carry either
keynew() {
	_want=$1; shift
	_m0=$(date -u +%Y%m)
	run 0 kt key new "$@"
	_m1=$(date -u +%Y%m)
	got=$(head -n1 "$T/out")
	[ "$got" = "$(echo "$_want" | sed "s/YM/$_m0/")" ] ||
	    [ "$got" = "$(echo "$_want" | sed "s/YM/$_m1/")" ] ||
	    fail "selector $got, want $_want"
}

# --- usage errors exit 2, help exits 0
run 2 "$KT"
run 0 "$KT" -h; has "$T/out" "domain add"
run 2 "$KT" -K "$K" frobnicate; has "$T/err" 'unknown command "frobnicate"'
run 2 "$KT" -K "$K" domain add
run 2 "$KT" -K "$K" domain add a.example --active-keys 4
run 2 "$KT" -K "$K" domain add a.example --algorithms dsa
run 2 "$KT" -K "$K" domain add a.example --rotate-after 5x
run 2 "$KT" -K "$K" domain add a.example --colour blue
has "$T/err" "unknown option --colour"
run 2 "$KT" -K "$K" list a b
run 2 "$KT" -K "$K" retire a.example
run 2 "$KT" -K "$K" revoke a.example s1 --force
has "$T/err" "--force is not an option"
run 0 "$KT" -K "$K" key new --help; has "$T/out" "--algorithm"
# -h after a command is its usage too, whatever its other options
for cmd in list "domain add" "key new" rotate retire; do
	run 0 "$KT" -K "$K" $cmd -h; has "$T/out" "usage: keyturn $cmd "
done

# --- no keystore yet: operational error that says what to do
run 1 kt list; has "$T/err" "keyturn init"
run 0 kt init; has "$T/out" "created"
[ "$(stat -c %a "$K")" = 700 ] || fail "keystore mode $(stat -c %a "$K")"
run 1 kt init; has "$T/err" "already a keystore"

# --- domains
run 0 kt domain add Example.COM --algorithms rsa,ed25519 --bits 1024 \
    --active-keys 2 --rotate-after 30s --retire-after 1m --selector-prefix t1
has "$T/err" "1024 bits: RFC 8301 recommends at least 2048"
run 1 kt domain add example.com; has "$T/err" "already exists"
run 1 kt domain add "bad..name"; has "$T/err" "bad label"
run 0 kt domain add other.example
run 0 kt domain list
has "$T/out" "example.com"; has "$T/out" "rsa,ed25519"
run 0 kt domain list --json
json 'd={x["domain"]:x for x in d}; x=d["example.com"]; assert (x["bits"],x["active_keys"],x["rotate_after"],x["retire_after"],x["selector_prefix"],x["algorithms"])==(1024,2,30,60,"t1","rsa,ed25519"), x; assert d["other.example"]["bits"]==2048' <"$T/out"
run 2 kt domain set example.com
run 0 kt domain set example.com --bits 1024
has "$T/err" "1024 bits: RFC 8301 recommends at least 2048"
run 0 kt domain set example.com --bits 2048
[ ! -s "$T/err" ] || fail "warned of 2048 bits: $(cat "$T/err")"
has "$K/example.com/policy" "bits 2048"
has "$K/example.com/policy" "active-keys 2"
run 1 kt domain set nosuch.example --bits 2048; has "$T/err" "no domain nosuch.example"
run 1 kt domain set example.com --bits 512; has "$T/err" "RFC 8301"
run 1 kt domain set example.com --rotate-after 9223372036000000000s
has "$T/err" "100 years"
run 1 kt domain add big.example --retire-after 36501d; has "$T/err" "100 years"

# --- keys
keynew t1-YM-r2048 example.com
sel_rsa=$got
has "$T/out" "$sel_rsa._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=MII"
keynew t1-YM-ed example.com --algorithm ed25519
sel_ed=$got
run 0 kt key new example.com --algorithm ed25519
sel_ed2=$(head -n1 "$T/out")
# the month of $sel_ed again: a suffix; only a month turned since then
# makes a new name
ym=${sel_ed#t1-}; ym=${ym%%-*}
[ "$sel_ed2" = "t1-$ym-ed-2" ] || { [ "$ym" != "$(date -u +%Y%m)" ] &&
    [ "$sel_ed2" = "t1-$(date -u +%Y%m)-ed" ]; } || fail "no suffix: $sel_ed2"
run 0 kt key new example.com --algorithm rsa --bits 1024 --selector custom1
has "$T/err" "1024 bits"	# the RFC 8301 warning
run 1 kt key new example.com --bits 512; has "$T/err" "RFC 8301"
run 1 kt key new example.com --bits 8192; has "$T/err" "at most 4096"
run 1 kt key new example.com --algorithm ed25519 --selector custom1
has "$T/err" "never reused"
run 1 kt key new other.example --algorithm ed25519
has "$T/err" "does not sign with ed25519"
run 1 kt key new example.com --selector "../x"; has "$T/err" "selector"
run 1 kt key new nosuch.example; has "$T/err" "no domain nosuch.example"

# import: PKCS#1 RSA, PKCS#8 Ed25519; an EC key and garbage are refused
openssl genrsa -traditional -out "$T/p1.pem" 2048 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$T/p8.pem" 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
    -out "$T/ec.pem" 2>/dev/null
echo garbage >"$T/junk.pem"
run 0 kt key import example.com imp-rsa "$T/p1.pem"
run 0 kt key import example.com imp-ed "$T/p8.pem"
run 1 kt key import example.com imp-ec "$T/ec.pem"; has "$T/err" "RSA or Ed25519"
run 1 kt key import example.com imp-j "$T/junk.pem"
has "$T/err" "not a PEM private key"
run 1 kt key import example.com imp-rsa "$T/p1.pem"; has "$T/err" "never reused"
run 1 kt key import example.com imp-x "$T/none.pem"; has "$T/err" "No such file"
run 2 kt key import example.com imp-x

for f in "$K"/example.com/keys/*.pem; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f mode $(stat -c %a "$f")"
done

# --- the public keys printed match the private keys on disk
for sel in "$sel_rsa" "$sel_ed" custom1 imp-rsa imp-ed; do
	pem="$K/example.com/keys/$sel.pem"
	openssl pkey -in "$pem" -pubout >"$T/want.pem" 2>/dev/null
	run 0 kt pubkey example.com "$sel"
	cmp -s "$T/out" "$T/want.pem" || fail "pubkey $sel differs from openssl"
	if grep -q 'BEGIN PRIVATE\|BEGIN RSA PRIVATE' "$T/out"; then
		fail "private key printed"
	fi
	openssl pkey -in "$pem" -pubout -outform DER 2>/dev/null >"$T/der"
	case $sel in
	*ed*) p=$(tail -c 32 "$T/der" | base64 -w0); k=ed25519 ;;
	*) p=$(base64 -w0 <"$T/der"); k=rsa ;;
	esac
	run 0 kt dns example.com
	has "$T/out" "$sel._domainkey.example.com. v=DKIM1; k=$k; p=$p"
done
# imported keys keep their public key
openssl pkey -in "$T/p1.pem" -pubout >"$T/want.pem" 2>/dev/null
run 0 kt pubkey example.com imp-rsa; cmp -s "$T/out" "$T/want.pem" || fail "import changed the key"
run 1 kt pubkey example.com nosuch; has "$T/err" "has no key nosuch"

# --zone: strings of at most 255 bytes that join to the record
run 0 kt dns example.com --zone
"$PYTHON3" - "$T/out" "$sel_rsa" <<'PY' || fail "zone output"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
line = [l for l in lines if l.startswith(sys.argv[2] + "._domainkey")][0]
parts = re.findall(r'"([^"]*)"', line)
assert len(parts) >= 2 and all(len(p) <= 255 for p in parts), parts
assert "".join(parts).startswith("v=DKIM1; k=rsa; p=MII"), parts
assert " IN TXT " in line
PY
run 0 kt dns --json
json 'assert len(d)==6 and all(x["value"].startswith("v=DKIM1; k=") for x in d), d' <"$T/out"

# --- list
run 0 kt list
has "$T/out" "SELECTOR"; has "$T/out" "$sel_rsa"; has "$T/out" "pending"
run 0 kt list example.com --json
json 'assert len(d)==6 and {x["state"] for x in d}=={"pending"} and all(x["age"]>=0 for x in d)' <"$T/out"
run 1 kt list nosuch.example; has "$T/err" "no domain nosuch.example"

# --- transitions
run 1 kt activate example.com "$sel_ed"; has "$T/err" "--force"
run 0 kt activate example.com "$sel_ed" --force; has "$T/err" "may fail verification"
run 0 kt list example.com --json
json "x=[k for k in d if k['selector']=='$sel_ed'][0]; assert x['state']=='active' and x['next'].startswith('retiring at'), x" <"$T/out"
run 1 kt revoke example.com "$sel_ed"; has "$T/err" "keyturn compromised"
run 1 kt activate example.com "$sel_ed"; has "$T/err" "already"
run 0 kt activate example.com "$sel_rsa" --force
t_act=$(date +%s)
run 0 kt activate example.com custom1 --force
run 0 kt activate example.com imp-rsa --force
run 0 kt activate example.com "$sel_ed2" --force	# a 2nd algorithm
run 0 kt key new example.com --selector rsa4
run 1 kt activate example.com rsa4 --force; has "$T/err" "at most 3"
run 0 kt retire example.com "$sel_ed"
run 1 kt retire example.com "$sel_ed"; has "$T/err" "already in that state"
run 0 kt revoke example.com "$sel_ed"
[ ! -e "$K/example.com/keys/$sel_ed.pem" ] || fail "revoked key file kept"
run 0 kt dns example.com
has "$T/out" "$sel_ed._domainkey.example.com. v=DKIM1; p="
run 1 kt retire example.com nosuch; has "$T/err" "has no key nosuch"

# --- compromised: out at once, no grace
run 0 kt compromised example.com custom1
has "$T/out" "revoked"
run 0 kt compromised example.com "$sel_ed2"
has "$T/err" "has no active ed25519 key now"
run 0 kt list example.com --json
json "x=[k for k in d if k['selector']=='custom1'][0]; assert x['state']=='revoked', x" <"$T/out"
run 1 kt compromised example.com custom1; has "$T/err" "revoked"

# --- history
run 0 kt history example.com
has "$T/out" "domain added"
grep -Eq "Z $sel_ed +pending +-> active +operator: keyturn activate --force" \
    "$T/out" || fail "history line of activate"
has "$T/out" "operator: keyturn compromised"
run 0 kt history example.com "$sel_ed" --json
json 'assert [(x["from"],x["to"]) for x in d]==[("-","pending"),("pending","active"),("active","retiring"),("retiring","revoked")], d' <"$T/out"
run 1 kt history nosuch.example; has "$T/err" "no domain nosuch.example"

# --- audit: was the key active at t=?
sig() {	# sig D S T - a message carrying one DKIM-Signature
	printf 'From: a@%s\r\nDKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n\td=%s; s=%s;\r\n\tt=%s; h=from; bh=AAAA; b=BBBB\r\nSubject: x\r\n\r\nbody\r\n' "$1" "$1" "$2" "$3"
}
sig example.com "$sel_rsa" "$t_act" >"$T/m1"
run 0 kt audit "$T/m1"; has "$T/out" "allowed: $sel_rsa was active"
sig example.com "$sel_rsa" 1000000000 >"$T/m2"
run 1 kt audit "$T/m2"; has "$T/out" "NOT allowed: $sel_rsa was not a key of example.com"
sig example.com "$sel_ed" "$(($(date +%s) + 5))" >"$T/m3"
run 1 kt audit "$T/m3"; has "$T/out" "NOT allowed: $sel_ed was revoked"
# t= and the history count whole seconds: a signature made in the second
# its key left the active set is allowed, one a second later is not.
t_ret=$(kt history example.com "$sel_ed" --json | "$PYTHON3" -c '
import calendar, json, sys, time
e = [x for x in json.load(sys.stdin) if (x["from"], x["to"]) == ("active", "retiring")][0]
print(calendar.timegm(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ")))')
sig example.com "$sel_ed" "$t_ret" >"$T/m3a"
run 0 kt audit "$T/m3a"
has "$T/out" "allowed: $sel_ed was active during"
sig example.com "$sel_ed" "$((t_ret + 1))" >"$T/m3b"
run 1 kt audit "$T/m3b"; has "$T/out" "NOT allowed: $sel_ed was"
sig example.net x1 "$t_act" >"$T/m4"
run 1 kt audit "$T/m4"; has "$T/out" "not ours"
printf 'Subject: none\n\nbody\n' >"$T/m5"
run 1 kt audit "$T/m5"; has "$T/err" "no DKIM-Signature"
printf 'dkim-signature: v=1; d=example.com; s=%s; t=%s; b=x\nDKIM-Signature: v=1; d=example.com; s=%s; b=x\n\n' \
    "$sel_rsa" "$t_act" "$sel_rsa" >"$T/m6"
set +e
"$KT" -K "$K" --json audit - <"$T/m6" >"$T/out" 2>"$T/err"
st=$?
set -e
[ $st = 1 ] || fail "audit - exit $st"
json 'assert [x["verdict"] for x in d]==["allowed","unknown"], d' <"$T/out"
run 1 kt audit "$T/nosuch"; has "$T/err" "No such file"

# --- remove
run 1 kt domain remove example.com; has "$T/err" "--force"
run 0 kt domain remove example.com --force
run 0 kt domain list --json
json 'assert [x["domain"] for x in d]==["other.example"], d' <"$T/out"
run 0 kt audit "$T/m1"; has "$T/out" "allowed"	# history kept
run 0 kt history example.com; has "$T/out" "domain removed"
run 0 kt domain add example.com
run 1 kt key new example.com --selector "$sel_rsa"; has "$T/err" "never reused"
keynew kt-YM-r2048 example.com	# the selector after the re-add
run 1 kt domain remove nosuch.example; has "$T/err" "no domain"

# --- a domain name never leaves its keystore: a second keystore next to
# this one stays untouched, whatever name the first is given
K2="$T/ks2"
run 0 "$KT" -K "$K2" init
run 0 "$KT" -K "$K2" domain add victim.com
cp "$K2/victim.com/history" "$T/victim.before"
for bad in ../ks2/victim.com .. . a/b ../ks2 .removed/../../ks2/victim.com; do
	run 1 kt domain remove "$bad" --force
	grep -qE 'not a domain name|bad label|lowercase letters' "$T/err" ||
	    fail "remove $bad: no clear error"
	run 1 kt domain set "$bad" --bits 2048
	run 1 kt key new "$bad" --algorithm ed25519
	run 1 kt history "$bad"
done
cmp -s "$K2/victim.com/history" "$T/victim.before" || fail "ks2 history changed"
[ -d "$K2/victim.com" ] || fail "ks2 domain gone"
run 0 "$KT" -K "$K2" list victim.com
run 1 kt domain remove OTHER.example/../x --force
run 0 kt domain list; has "$T/out" "other.example"

# --- -c FILE names the keystore through KeyStore
printf 'KeyStore %s\n' "$K" >"$T/keyturn.conf"
run 0 "$KT" -c "$T/keyturn.conf" domain list; has "$T/out" "other.example"
printf 'KeyStore %s\nNoSuchKeyword 1\n' "$K" >"$T/bad.conf"
run 1 "$KT" -c "$T/bad.conf" domain list; has "$T/err" "bad.conf:2"
# --- mk DIR: ex.test signs with ed25519 key s1; s2 is pending
mk() {
	"$KT" -K "$1" init >/dev/null
	"$KT" -K "$1" domain add ex.test --algorithms ed25519 >/dev/null
	"$KT" -K "$1" key new ex.test --selector s1 >/dev/null 2>&1
	"$KT" -K "$1" activate ex.test s1 --force >/dev/null 2>&1
	"$KT" -K "$1" key new ex.test --selector s2 >/dev/null 2>&1
}
state_of() { "$KT" -K "$1" list ex.test | awk -v s="$2" '$2 == s { print $5 }'; }

# --- the last active key of an algorithm retires only with --force
mk "$T/k1"
run 1 "$KT" -K "$T/k1" retire ex.test s1
has "$T/err" "last active ed25519 key of ex.test"; has "$T/err" "--force"
[ "$(state_of "$T/k1" s1)" = active ] || fail "s1 retired without --force"
run 0 "$KT" -K "$T/k1" retire ex.test S1 --force
has "$T/err" "warning: ex.test has no active ed25519 key now"
[ "$(state_of "$T/k1" s1)" = retiring ] || fail "s1 not retired"
run 0 "$KT" -K "$T/k1" history ex.test s1
has "$T/out" "operator: keyturn retire --force"

# --- a key activates only when its file loads; the good key keeps signing
mk "$T/k2"
echo garbage >"$T/k2/ex.test/keys/s2.pem"
run 1 "$KT" -K "$T/k2" activate ex.test s2 --force
has "$T/err" "$T/k2/ex.test/keys/s2.pem: not a PKCS#8 PEM ed25519 private key"
[ "$(state_of "$T/k2" s2)" = pending ] || fail "broken s2 activated"
grep -q "may fail verification" "$T/err" && fail "warned of a refused change"
printf 'KeyStore %s\nSocket unix:%s/sock\n' "$T/k2" "$T" >"$T/k2.conf"
"$top_builddir/keyturnd" -n -c "$T/k2.conf" >"$T/out" 2>"$T/err" ||
    fail "keyturnd -n refuses ex.test"
has "$T/out" "1 domain"

# --- a removed domain's kept history is checked before it is carried on
mk "$T/k3"
run 0 "$KT" -K "$T/k3" domain remove ex.test --force
truncate -s -40 "$T/k3/.removed/ex.test/history"
run 1 "$KT" -K "$T/k3" domain add ex.test --algorithms ed25519
has "$T/err" "$T/k3/.removed/ex.test/history:"
[ ! -e "$T/k3/ex.test" ] || fail "domain added on a damaged history"

# --- a domain that is not a plain lowercase directory is refused, named
mk "$T/k4"
printf 'KeyStore %s\nSocket unix:%s/sock\n' "$T/k4" "$T" >"$T/k4.conf"
mv "$T/k4/ex.test" "$T/k4-ex.test"
for how in "ln -s $T/k4-ex.test ex.test" "cp -a $T/k4-ex.test Ex.test"; do
	(cd "$T/k4" && $how)
	run 1 "$KT" -K "$T/k4" list
	grep -Eq "$T/k4/(ex.test: a symbolic link|Ex.test: not a domain directory)" \
	    "$T/err" || fail "$how: $(cat "$T/err")"
	run 1 "$top_builddir/keyturnd" -n -c "$T/k4.conf"
	grep -q "$T/k4/[Ee]x.test" "$T/out" "$T/err" || fail "keyturnd -n: $how"
	rm -rf "$T/k4/ex.test" "$T/k4/Ex.test"
done

# --- init: never through a symbolic link, never in a directory in use
mkdir -m 755 "$T/home"
touch "$T/home/.profile"
ln -s home "$T/link"
run 1 "$KT" -K "$T/link" init
[ "$(stat -c %a "$T/home")" = 755 ] || fail "init changed the mode of home"
has "$T/err" "symbolic link"
run 1 "$KT" -K "$T/home" init; has "$T/err" "not empty (it holds .profile)"
[ "$(stat -c %a "$T/home")" = 755 ] || fail "init changed the mode of home"
echo "ok"
