#!/bin/sh
# milter_policy - the signing policy of a shared server, against the real
# keyturnd driven by t/miltc: SenderLogins (a login signs only for the
# From addresses it owns; SenderMismatch none, reject, tempfail), the
# SigningTable (a subdomain signed by its parent, an alias domain by
# another domain's keys), PlatformDomain (a second signature on every
# message, both verified by dkimpy and by OpenDKIM's verifier against Knot
# on loopback), never signing twice, a catch-all rule refused by -n with
# file:line, the tables re-read when they change (a bad line keeps the
# rules in force), and `keyturn explain` deciding as keyturnd does for
# every message here and in t/data.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/verify.sh"

for tool in knotd knotc opendkim; do
	command -v "$tool" >/dev/null 2>&1 || kt_skip "$tool not found"
done
"$PYTHON3" -c 'import dns.query' 2>/dev/null || kt_skip "python3-dnspython"

kt_init milter_policy
DNSPORT=$(free_port)
pol_cleanup() {
	vf_opendkim_stop "$S"
	vf_dns_stop "$S" 2>/dev/null
	kt_cleanup
}
trap pol_cleanup EXIT
trap 'pol_cleanup; exit 1' INT TERM

DOMAINS="example.com other.test platform.test"
kt_cli domain add example.com --algorithms rsa,ed25519
kt_key example.com rsa r1
kt_key example.com ed25519 e1
kt_cli key new example.com --algorithm ed25519 --selector old1
kt_cli domain add other.test --algorithms ed25519
kt_key other.test ed25519 o1
kt_cli domain add platform.test --algorithms ed25519
kt_key platform.test ed25519 p1

# Knot serves the records keyturn prints; OpenDKIM verifies through it
vf_dns_keystore "$S" 127.0.0.1 "$DNSPORT" "$KEYTURN" "$KS" $DOMAINS ||
    kt_fail "knot did not serve the keystore's records"
vf_opendkim_start "$S" || kt_fail "opendkim verifier did not start"

cat >"$W/signing.table" <<'EOF'
# subdomains of example.com are signed by example.com
*@*.example.com		example.com
alias.test		example.com
EOF
cat >"$W/senders" <<'EOF'
alice		example.com, .example.com, alias.test
*@other.test	other.test
EOF
# conf LINES... - keyturn.conf with the policy and these lines
conf() {
	kt_conf "LogLevel info" "SigningTable $W/signing.table" \
	    "SenderLogins $W/senders" "$@"
}

M=$W/msg
mkdir -p "$M" "$W/out"
kt_msg "$M/alice.eml" "From: Alice <alice@example.com>"
kt_msg "$M/sub.eml" "From: Alice <alice@mail.example.com>"
kt_msg "$M/alias.eml" "From: Sales <sales@alias.test>"
kt_msg "$M/cross.eml" "From: CEO <ceo@other.test>"
kt_msg "$M/otheruser.eml" "From: Dave <dave@other.test>"
kt_msg "$M/unknown.eml" "From: x@unknown.example"

AUTH_ALICE="--client 192.0.2.7 -M M:{auth_authen}=alice -M M:{auth_type}=PLAIN"
AUTH_DAVE="--client 192.0.2.8 -M M:{auth_authen}=dave@other.test -M M:{auth_type}=PLAIN"

# run NAME OUT MILTC-ARGS... - one message through keyturnd
run() {
	_n=$1 _o=$2
	shift 2
	kt_miltc -o "$W/out/$_o.eml" "$@" "$M/$_n.eml" >"$W/out/$_o.txt" ||
	    kt_fail "$_o: miltc failed"
}

# domains OUT - the d= of the inserted signatures, sorted, space-separated
domains() {
	grep "	insheader	0	DKIM-Signature	" "$W/out/$1.txt" |
	    sed 's/.* d=\([^;]*\);.*/\1/' | sort | tr '\n' ' '
}

# decision OUT - what the MTA was told
decision() {
	head -1 "$W/out/$1.txt" | cut -f3-
}

# expect OUT DOMAINS - continue, with signatures of exactly these d=
expect() {
	[ "$(decision "$1")" = continue ] ||
	    kt_fail "$1: $(decision "$1")"
	[ "$(domains "$1")" = "$2" ] ||
	    kt_fail "$1: signed by \"$(domains "$1")\", want \"$2\""
}

conf
kt_start

# --- SenderLogins, SigningTable
run alice alice $AUTH_ALICE
expect alice "example.com example.com "
kt_verify "$W/out/alice.eml"
run sub sub $AUTH_ALICE
expect sub "example.com example.com "
kt_verify "$W/out/sub.eml"
kt_ok "a subdomain signed by its parent (SigningTable)"
run alias alias $AUTH_ALICE
expect alias "example.com example.com "
kt_verify "$W/out/alias.eml"
kt_ok "an alias domain signed with another domain's keys"
run cross cross $AUTH_ALICE
expect cross ""
grep -q ": not signed: login alice may not sign for From ceo@other.test ($W/senders line 1)" \
    "$W/keyturnd.log" || kt_fail "no log line for the cross-user attempt"
kt_ok "alice as ceo@other.test: not signed, logged with login and domain"
# a login is taken whole: one longer than any buffer is not cut into
# another's (*@other.test would own a cut "...@other.test")
long=$(printf '%0250d' 0 | tr 0 a)@other.test.attacker.example
run otheruser longlogin --client 192.0.2.8 -M "M:{auth_authen}=$long" \
    -M M:{auth_type}=PLAIN
expect longlogin ""
grep -q "not signed: login $long is not in SenderLogins" "$W/keyturnd.log" ||
    kt_fail "a long login was not looked up whole"
kt_ok "a 278-byte login is looked up whole"
run otheruser otheruser $AUTH_DAVE
expect otheruser "other.test "
kt_verify "$W/out/otheruser.eml"
kt_ok "*@other.test logins sign for other.test"
run cross internal --client 127.0.0.1
expect internal "other.test "
kt_ok "an internal client without a login keeps the From-domain rule"

# --- SenderMismatch reject and tempfail (SIGHUP)
reloads() { kt_count "reload: " "$W/keyturnd.log"; }
# hup LINES... - the configuration with these lines, reloaded
hup() {
	_r=$(reloads)
	conf "$@"
	kill -HUP "$KPID"
	_i=0
	while [ "$(reloads)" -le "$_r" ]; do
		_i=$((_i + 1))
		[ $_i -gt 1200 ] && kt_fail "no reload"	# a bound for a hang
		sleep 0.05
	done
}
hup "SenderMismatch reject"
run cross reject $AUTH_ALICE
[ "$(decision reject)" = "reject	550 5.7.1 From address not allowed for this login" ] ||
    kt_fail "reject: $(decision reject)"
hup "SenderMismatch tempfail"
run cross tempfail $AUTH_ALICE
case $(decision tempfail) in tempfail*) ;; *)
	kt_fail "tempfail: $(decision tempfail)" ;; esac
kt_ok "SenderMismatch reject: 550 5.7.1; tempfail: 451"

# --- PlatformDomain: a second signature, both verifiers pass
hup "PlatformDomain platform.test"
run alice platform $AUTH_ALICE
expect platform "example.com example.com platform.test "
kt_verify "$W/out/platform.eml"
vf_dkimpy "$S" "$W/out/platform.eml" >"$W/vf.out" 2>&1 ||
    { cat "$W/vf.out" >&2; kt_fail "dkimpy through Knot"; }
vf_opendkim "$S" "$W/out/platform.eml" >"$W/od.out" 2>&1 ||
    { cat "$W/od.out" >&2; kt_fail "OpenDKIM's verifier"; }
run unknown platformonly --client 127.0.0.1
expect platformonly "platform.test "
vf_opendkim "$S" "$W/out/platformonly.eml" >"$W/od.out" 2>&1 ||
    { cat "$W/od.out" >&2; kt_fail "OpenDKIM's verifier (platform only)"; }
grep -q "PlatformDomain only: From domain unknown.example is not in the keystore or the SigningTable" \
    "$W/keyturnd.log" || kt_fail "no log line for a platform-only signature"
kt_ok "PlatformDomain: author and platform signatures, dkimpy and OpenDKIM pass"

# --- never twice: a message with our signatures comes back; a domain
# that signed it already does not sign it again, the others do
cp "$W/out/platform.eml" "$M/again.eml"
run again again --client 127.0.0.1
expect again ""
grep -q "not signed: already signed by this keystore (d=example.com s=r1)" \
    "$W/keyturnd.log" || kt_fail "no log line for a message signed already"
cp "$W/out/otheruser.eml" "$M/againplat.eml"
run againplat againplat --client 127.0.0.1
expect againplat "platform.test "
grep -q "already signed by this keystore (d=other.test s=o1): that domain not again" \
    "$W/keyturnd.log" || kt_fail "no log line for the domain left out"
# a signature by a pending key of ours counts too; a foreign one does not
sed 's/s=e1;/s=old1;/; s/s=r1;/s=old1;/' "$W/out/alice.eml" >"$M/pending.eml"
run pending pending --client 127.0.0.1
expect pending "platform.test "
sed 's/d=example.com;/d=elsewhere.example;/' "$W/out/alice.eml" \
    >"$M/foreign.eml"
run foreign foreign --client 127.0.0.1
expect foreign "example.com example.com platform.test "
kt_ok "our own signature already there: not signed again"

# --- the tables are re-read when they change; a bad one is refused
# table_line LINE - appended to the SigningTable; until keyturnd took it
# in, or refused it (the bound only catches a change never noticed)
table_line() {
	_c=$(kt_count "rules change" "$W/keyturnd.log")
	echo "$1" >>"$W/signing.table"
	_i=0
	until [ "$(kt_count "rules change" "$W/keyturnd.log")" -gt "$_c" ]; do
		_i=$((_i + 1))
		[ $_i -gt 1200 ] && kt_fail "SigningTable change not noticed"
		sleep 0.05
	done
}
table_line "unknown.example		other.test"
run unknown tablechange --client 127.0.0.1
expect tablechange "other.test platform.test "
table_line "*	example.com"
grep -q "signing.table:5: \"\*\" matches every domain" "$W/keyturnd.log" ||
    kt_fail "the bad line is not named with file:line"
grep -q "rules change refused, still signing with the rules in force" \
    "$W/keyturnd.log" || kt_fail "no refusal line"
run unknown tablebad --client 127.0.0.1
expect tablebad "other.test platform.test "
kt_ok "SigningTable re-read on change; a catch-all line refused, old rules kept"

# --- keyturnd -n refuses the catch-all with file:line
if "$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1; then
	kt_fail "keyturnd -n accepted a catch-all SigningTable rule"
fi
grep -q "signing.table:5: \"\*\" matches every domain: refused" "$W/n.out" ||
    kt_fail "-n: $(cat "$W/n.out")"
kt_ok "keyturnd -n: a catch-all rule refused with file:line"
sed -i '$d' "$W/signing.table"

# --- keyturn explain decides as keyturnd did, message by message
# agree OUT MSG ARGS... - explain's decision and d= against keyturnd's
agree() {
	_o=$1 _m=$2
	shift 2
	"$KEYTURN" -c "$W/keyturn.conf" --json explain "$@" "$_m" \
	    >"$W/explain.json" 2>"$W/explain.err"
	_rc=$?
	_got=$("$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["verdict"], " ".join(sorted(s["d"] for s in d["signatures"])))' \
	    "$W/explain.json") || kt_fail "explain $_o: $(cat "$W/explain.err")"
	case $(decision "$_o") in
	continue)
		_want=$(domains "$_o")
		[ -n "$_want" ] && _v=sign || _v=pass ;;
	reject*) _v=reject _want= ;;
	tempfail*) _v=tempfail _want= ;;
	*) _v=pass _want= ;;
	esac
	[ "$_got" = "$_v ${_want% }" ] ||
	    kt_fail "explain $_o: \"$_got\", keyturnd: \"$_v ${_want% }\""
	if [ "$_v" = sign ]; then _wrc=0; else _wrc=1; fi
	[ "$_rc" = "$_wrc" ] || kt_fail "explain $_o: exit $_rc for $_v"
}
hup "PlatformDomain platform.test" "SenderMismatch reject"
n=0
for f in "$M"/alice.eml "$M"/sub.eml "$M"/alias.eml "$M"/cross.eml \
    "$M"/otheruser.eml "$M"/unknown.eml "$M"/again.eml "$M"/againplat.eml \
    "$M"/pending.eml "$M"/foreign.eml \
    "$top_srcdir"/t/data/*.eml; do
	b=$(basename "$f" .eml)
	for who in internal alice dave outside; do
		case $who in
		internal) set -- --client 127.0.0.1; e="--client 127.0.0.1" ;;
		alice) set -- $AUTH_ALICE; e="--client 192.0.2.7 --auth alice" ;;
		dave) set -- $AUTH_DAVE; e="--client 192.0.2.8 --auth dave@other.test" ;;
		outside) set -- --client 192.0.2.9; e="--client 192.0.2.9" ;;
		esac
		kt_miltc "$@" "$f" >"$W/out/x-$b-$who.txt" ||
		    kt_fail "x-$b-$who: miltc failed"
		agree "x-$b-$who" "$f" $e
		n=$((n + 1))
	done
done
kt_ok "keyturn explain agrees with keyturnd on $n message and client pairs"
kt_stop
exit 0
