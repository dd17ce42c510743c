#!/bin/sh
# milter_postfix - keyturnd behind a real Postfix: a private instance on a
# loopback port with smtpd_milters and non_smtpd_milters pointing at
# keyturnd; the t/data corpus, a 20 MB message and a locally submitted
# message go in over SMTP and sendmail(1); every delivered message carries
# an rsa-sha256 and an ed25519-sha256 signature that dkimpy and OpenDKIM's
# verifier both accept, with the keys served by a loopback Knot from
# `keyturn dns`. Then, with InternalHosts changed by SIGHUP, the same
# client's mail is delivered unsigned.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/postfix.sh"
. "$top_srcdir/t/lib/verify.sh"

[ "$(id -u)" = 0 ] || kt_skip "needs root (a private Postfix instance)"
for tool in postfix postconf sendmail knotd knotc kdig opendkim ss; do
	command -v "$tool" >/dev/null 2>&1 || kt_skip "$tool not found"
done
"$PYTHON3" -c 'import dns.query' 2>/dev/null || kt_skip "python3-dnspython"

kt_init milter_postfix
chmod 755 "$W"
PORT=$(pf_free_port)
DNSPORT=$(pf_free_port)
[ "$DNSPORT" != "$PORT" ] || DNSPORT=$(pf_free_port)
PF=$S/pf
pf_cleanup() {
	pf_stop "$PF" 2>/dev/null
	vf_opendkim_stop "$S"
	vf_dns_stop "$S" 2>/dev/null
	kt_cleanup
}
trap pf_cleanup EXIT
trap 'pf_cleanup; exit 1' INT TERM

kt_corpus "$DNSPORT"

kt_conf "SocketOwner postfix" "SocketMode 0660" "LogLevel info"
kt_start
pf_init "$PF" 127.0.0.1 "$PORT" "unix:$S/sock" || kt_fail "pf_init"
pf_start "$PF" || kt_fail "postfix did not start"

# the corpus, a 20 MB message, and one message by sendmail(1) (pickup,
# non_smtpd_milters: no client address)
mkdir -p "$W/in"
n=0
for f in "$top_srcdir"/t/data/*.eml; do
	pf_send "$PF" sender@example.org bob@sink.test "$f" >"$W/send.out" ||
	    kt_fail "$(basename "$f"): $(cat "$W/send.out")"
	n=$((n + 1))
done
kt_bigmsg "$W/in/big.eml"
pf_send "$PF" big@example.com bob@sink.test "$W/in/big.eml" >"$W/send.out" ||
    kt_fail "20 MB message: $(cat "$W/send.out")"
n=$((n + 1))
kt_msg "$W/in/local.eml" "From: Local User <local@example.com>"
sendmail -C "$PF/etc" -f local@example.com bob@sink.test <"$W/in/local.eml" ||
    kt_fail "sendmail(1)"
n=$((n + 1))
pf_wait "$PF" $n || kt_fail "only $(pf_count "$PF") of $n delivered"
kt_ok "$n messages delivered through Postfix"

# every delivered message: two signatures, both verifiers pass
kt_corpus_verify $(pf_messages "$PF")
kt_ok "every delivered message verified by dkimpy and OpenDKIM"
grep -q "signed d=example.com s=r1 a=rsa-sha256" "$W/keyturnd.log" ||
    kt_fail "no signing log line"
qid=$(sed -n 's/.*: \([0-9A-F]\{6,\}\): signed d=example.com.*/\1/p' \
    "$W/keyturnd.log" | head -1)
[ -n "$qid" ] && grep -q "$qid" "$PF/maillog" ||
    kt_fail "keyturnd's log lines do not carry Postfix's queue id"
kt_ok "log lines carry the Postfix queue id ($qid)"

# an outside client (InternalHosts no longer covers 127.0.0.1): untouched
kt_conf "SocketOwner postfix" "SocketMode 0660" "LogLevel info" \
    "InternalHosts 192.0.2.0/24"
kill -HUP "$KPID"
i=0
until grep -q "reload: in force" "$W/keyturnd.log"; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "no reload"	# a bound for a hang
	sleep 0.05
done
before=$(pf_count "$PF")
kt_msg "$W/in/outside.eml" "From: alice@example.com"
pf_send "$PF" alice@example.com bob@sink.test "$W/in/outside.eml" \
    >"$W/send.out" || kt_fail "outside: $(cat "$W/send.out")"
pf_wait "$PF" $((before + 1)) || kt_fail "outside message not delivered"
last=$(pf_messages "$PF" | tail -1)
grep -qi '^DKIM-Signature:' "$last" && kt_fail "outside client's mail signed"
grep -q "[0-9A-F]\{6,\}: not signed: client 127.0.0.1 is not internal" \
    "$W/keyturnd.log" || kt_fail "no queue id on the 'not signed' line"
kt_ok "outside client's mail delivered untouched"

# DaemonNames, as contrib/postfix/master.cf sets it up: the name given to
# cleanup (non_smtpd_milters) signs local submissions; smtpd keeps the
# default name ($myhostname) and its mail passes untouched
sed -i 's/^cleanup .*/&\n  -o milter_macro_daemon_name=ORIGINATING/' \
    "$PF/etc/master.cf"
# stopped and started, not reloaded: a reload takes effect some time later
pf_stop "$PF"
pf_start "$PF" || kt_fail "postfix did not start again"
kt_conf "SocketOwner postfix" "SocketMode 0660" "LogLevel info" \
    "DaemonNames ORIGINATING"
kill -HUP "$KPID"
i=0
until [ "$(grep -c "reload: in force" "$W/keyturnd.log")" -ge 2 ]; do
	i=$((i + 1))
	[ $i -gt 1200 ] && kt_fail "no second reload"
	sleep 0.05
done
before=$(pf_count "$PF")
kt_msg "$W/in/dn-smtp.eml" "From: alice@example.com"
pf_send "$PF" alice@example.com bob@sink.test "$W/in/dn-smtp.eml" \
    >"$W/send.out" || kt_fail "daemon name smtp: $(cat "$W/send.out")"
pf_wait "$PF" $((before + 1)) || kt_fail "smtp message not delivered"
grep -qi '^DKIM-Signature:' "$(pf_messages "$PF" | tail -1)" &&
    kt_fail "smtpd mail signed though its daemon name is not listed"
kt_msg "$W/in/dn-local.eml" "From: Local User <local@example.com>"
sendmail -C "$PF/etc" -f local@example.com bob@sink.test \
    <"$W/in/dn-local.eml" || kt_fail "sendmail(1)"
pf_wait "$PF" $((before + 2)) || kt_fail "local message not delivered"
last=$(pf_messages "$PF" | tail -1)
[ "$(grep -ci '^DKIM-Signature:' "$last")" = 2 ] ||
    kt_fail "local submission on ORIGINATING not signed"
vf_dkimpy "$S" "$last" >>"$W/dkimpy.out" 2>&1 || kt_fail "dkimpy (local)"
grep -q "not signed: daemon name mx.test not in DaemonNames" \
    "$W/keyturnd.log" || kt_fail "no DaemonNames log line"
grep -q "NOQUEUE" "$W/keyturnd.log" && kt_fail "a log line without queue id"
kt_ok "DaemonNames: cleanup's name signs local mail, smtpd's does not"

pf_stop "$PF"
kt_stop
exit 0
