#!/bin/sh
# milter_postfix_sasl - SenderLogins behind a real Postfix with SMTP AUTH:
# a private instance whose smtpd authenticates with Cyrus SASL against a
# sasldb made by saslpasswd2, so that {auth_authen} reaches keyturnd from
# Postfix itself. 127.0.0.1 is neither in mynetworks nor in InternalHosts:
# the test's client is an outside client unless it logs in. SenderLogins
# gives alice@a.example the domain a.example and bob@b.example b.example.
#   - alice as alice@a.example: signed d=a.example, dkimpy verifies it
#   - alice as ceo@b.example: SenderMismatch none delivers it unsigned and
#     keyturnd logs "login ... may not sign" with Postfix's queue id;
#     after SIGHUP with SenderMismatch reject, Postfix refuses it with 550
#     and nothing of it is delivered
#   - a wrong password: AUTH refused (535), nothing sent
#   - no AUTH: relaying refused by Postfix; mail to the sink domain, which
#     anyone may send to, is delivered unsigned
#   - bob as bob@b.example: signed d=b.example
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/postfix.sh"

[ "$(id -u)" = 0 ] || kt_skip "needs root (a private Postfix instance)"
for tool in postfix postconf saslpasswd2 ss; do
	command -v "$tool" >/dev/null 2>&1 || kt_skip "$tool not found"
done
postconf -a 2>/dev/null | grep -qx cyrus ||
    kt_skip "this Postfix has no Cyrus SASL support"
for m in sasldb plain login; do
	set -- /usr/lib/*/sasl2/lib$m.so /usr/lib/sasl2/lib$m.so
	[ -e "$1" ] || [ -e "$2" ] ||
	    kt_skip "Cyrus SASL module $m missing (libsasl2-modules)"
done

kt_init milter_postfix_sasl
chmod 755 "$W"
PORT=$(pf_free_port)
PF=$S/pf
pf_cleanup() {
	pf_stop "$PF" 2>/dev/null
	cp "$PF/maillog" "$W/maillog" 2>/dev/null	# $S goes: keep it
	kt_cleanup
}
trap pf_cleanup EXIT
trap 'pf_cleanup; exit 1' INT TERM

kt_cli domain add a.example --algorithms ed25519
kt_key a.example ed25519 e1
kt_cli domain add b.example --algorithms ed25519
kt_key b.example ed25519 e1
cat >"$W/senders" <<EOF
alice@a.example a.example
bob@b.example b.example
EOF

# conf MISMATCH - keyturn.conf with SenderMismatch MISMATCH
conf() {
	kt_conf "SocketOwner postfix" "SocketMode 0660" "LogLevel info" \
	    "InternalHosts 192.0.2.0/24" "SenderLogins $W/senders" \
	    "SenderMismatch $1"
}
conf none
kt_start

pf_init "$PF" 127.0.0.1 "$PORT" "unix:$S/sock" || kt_fail "pf_init"
pf_set "$PF" "mynetworks = 192.0.2.0/24" || kt_fail "mynetworks"
pf_sasl "$PF" alice@a.example alice-secret bob@b.example bob-secret ||
    kt_fail "pf_sasl"
pf_start "$PF" || kt_fail "postfix did not start"

# send NAME USER PASS FROM - message NAME (its Message-ID) from FROM to the
# sink, with AUTH unless USER is empty; the reply in $W/NAME.out
send() {
	kt_msg "$W/$1.eml" "From: $4"
	if [ -n "$2" ]; then
		pf_send_auth "$PF" "$2" "$3" "$4" box@sink.test "$W/$1.eml"
	else
		pf_send "$PF" "$4" box@sink.test "$W/$1.eml"
	fi >"$W/$1.out"
}

# delivered N NAME - wait for the Nth delivery, check it is message NAME;
# its file in $M
delivered() {
	pf_wait "$PF" "$1" || kt_fail "$2: not delivered"
	M=$(pf_messages "$PF" | tail -1)
	grep -q "^Message-ID: <$2.eml@" "$M" ||
	    kt_fail "$2: the last delivery is another message ($M)"
}

# signatures FILE - the d= of each DKIM-Signature, one line each
signatures() {
	"$PYTHON3" - "$1" <<'EOF'
import email, re, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
for v in msg.get_all("DKIM-Signature") or []:
    print(re.search(r"\bd=([^;\s]+)", v).group(1))
EOF
}

# logged FILE PATTERN - until FILE has a line matching PATTERN: keyturnd
# logs before it answers Postfix, but Postfix's own lines reach maillog
# through postlogd, a little later (the bound only catches a line that
# never comes)
logged() {
	i=0
	until grep -q -- "$2" "$1"; do
		i=$((i + 1))
		[ $i -gt 1200 ] && kt_fail "no line in $1: $2"
		sleep 0.05
	done
}

# qid_of PATTERN - Postfix's queue id on keyturnd's first line matching
qid_of() {
	sed -n "s/.*: \([0-9A-F]\{6,\}\): .*$1.*/\1/p" "$W/keyturnd.log" |
	    head -1
}

# 1. alice as herself: signed for her domain, dkimpy verifies
n=1
send own alice@a.example alice-secret alice@a.example ||
    kt_fail "alice: $(cat "$W/own.out")"
delivered $n own
[ "$(signatures "$M")" = a.example ] ||
    kt_fail "alice's message: signatures d=$(signatures "$M" | tr '\n' ' ')"
kt_verify "$M"
qid=$(qid_of "signed d=a.example s=e1")
[ -n "$qid" ] || kt_fail "no 'signed d=a.example' line with a queue id"
logged "$PF/maillog" \
    "$qid: client=.*sasl_method=PLAIN, sasl_username=alice@a.example"
kt_ok "alice@a.example: signed d=a.example, verified ($qid)"

# 2. alice as b.example, SenderMismatch none: delivered unsigned, logged
n=$((n + 1))
send cross alice@a.example alice-secret ceo@b.example ||
    kt_fail "alice as ceo@b.example: $(cat "$W/cross.out")"
delivered $n cross
grep -qi '^DKIM-Signature:' "$M" && kt_fail "alice's ceo@b.example signed"
pat="not signed: login alice@a.example may not sign for From ceo@b.example"
logged "$W/keyturnd.log" "$pat"
qid=$(qid_of "$pat")
[ -n "$qid" ] || kt_fail "no queue id on the 'may not sign' line"
logged "$PF/maillog" "$qid: client=.*sasl_username=alice@a.example"
kt_ok "alice as ceo@b.example: delivered unsigned, logged ($qid)"

# 3. SenderMismatch reject: Postfix refuses it at the end of DATA
conf reject
kill -HUP "$KPID"
logged "$W/keyturnd.log" "reload: in force"
if send cross-reject alice@a.example alice-secret ceo@b.example; then
	kt_fail "alice as ceo@b.example accepted under SenderMismatch reject"
fi
read -r code text <"$W/cross-reject.out"
[ "$code" = 550 ] || kt_fail "alice as ceo@b.example: $code $text, not 550"
case $text in 5.7.1*) ;; *) kt_fail "550 without 5.7.1: $text" ;; esac
pat="rejected: login alice@a.example may not sign for From ceo@b.example"
logged "$W/keyturnd.log" "$pat"
qid=$(qid_of "$pat")
[ -n "$qid" ] || kt_fail "no queue id on the 'rejected' line"
logged "$PF/maillog" "$qid: milter-reject: END-OF-MESSAGE .*: 5.7.1 "
kt_ok "SenderMismatch reject: alice as ceo@b.example refused ($code $text)"

# a wrong password: no AUTH, no message
if send badpw alice@a.example wrong alice@a.example; then
	kt_fail "a wrong password was accepted"
fi
read -r code text <"$W/badpw.out"
[ "$code" = 535 ] || kt_fail "wrong password: $code $text, not 535"
kt_ok "a wrong password: AUTH refused ($code)"

# 4. no AUTH from 127.0.0.1, outside mynetworks and InternalHosts: relaying
# refused, mail to the sink domain accepted and not signed
kt_msg "$W/relay.eml" "From: alice@a.example"
if pf_send "$PF" alice@a.example someone@elsewhere.example "$W/relay.eml" \
    >"$W/relay.out"; then
	kt_fail "unauthenticated relaying accepted"
fi
read -r code text <"$W/relay.out"
[ "$code" = 554 ] || kt_fail "unauthenticated relaying: $code $text"
kt_ok "unauthenticated relaying refused by Postfix ($code)"
n=$((n + 1))
send anon "" "" alice@a.example || kt_fail "no AUTH: $(cat "$W/anon.out")"
delivered $n anon
grep -qi '^DKIM-Signature:' "$M" && kt_fail "unauthenticated mail signed"
pat="not signed: client 127.0.0.1 is not internal and not authenticated"
logged "$W/keyturnd.log" "$pat"
qid=$(qid_of "$pat")
[ -n "$qid" ] || kt_fail "no queue id on the 'not internal' line"
kt_ok "no AUTH: delivered to the sink unsigned ($qid)"

# 5. bob as himself: signed for his domain; and the refused message of 3
# was never delivered: bob's is the only delivery since anon's
n=$((n + 1))
send bob bob@b.example bob-secret bob@b.example ||
    kt_fail "bob: $(cat "$W/bob.out")"
delivered $n bob
[ "$(signatures "$M")" = b.example ] ||
    kt_fail "bob's message: signatures d=$(signatures "$M" | tr '\n' ' ')"
kt_verify "$M"
[ "$(pf_count "$PF")" = $n ] ||
    kt_fail "$(pf_count "$PF") messages delivered, expected $n"
grep -l "^Message-ID: <cross-reject.eml@" "$PF/mail/box/new/"* \
    >/dev/null 2>&1 && kt_fail "the refused message was delivered"
kt_ok "bob@b.example: signed d=b.example, verified; $n delivered in all"

grep -q "NOQUEUE" "$W/keyturnd.log" && kt_fail "a log line without queue id"
pf_stop "$PF"
kt_stop
exit 0
