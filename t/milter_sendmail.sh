#!/bin/sh
# milter_sendmail - keyturnd behind a real Sendmail (Debian's, unpacked
# into the build directory: it cannot be installed beside Postfix): a
# private MTA on a loopback port whose .mc takes the milter lines from
# contrib/sendmail/keyturn.mc as they stand; the t/data corpus, a 20 MB
# message and a message from sendmail(1) (through the MSP, submit.cf, as
# on a real host) are delivered with an rsa-sha256 and an ed25519-sha256
# signature that dkimpy and OpenDKIM's verifier both accept, with the
# keys served by a loopback Knot from `keyturn dns`; keyturn.conf carries
# contrib/sendmail/keyturn.conf (Sendmail adds a missing Date: and
# Message-Id: after signing, and half the corpus has none); the corpus
# message with a bare CR is refused by Sendmail itself. Then, with
# InternalHosts changed by SIGHUP, the same client's mail is delivered
# unsigned; and with DaemonNames, local submissions (daemon MTA) are
# signed only when MTA is listed, as keyturn.mc says.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/sendmail.sh"
. "$top_srcdir/t/lib/verify.sh"

[ "$(id -u)" = 0 ] || kt_skip "needs root (a private Sendmail instance)"
for tool in m4 apt-get dpkg unshare knotd knotc kdig opendkim ss; do
	command -v "$tool" >/dev/null 2>&1 || kt_skip "$tool not found"
done
"$PYTHON3" -c 'import dns.query' 2>/dev/null || kt_skip "python3-dnspython"
unshare --mount --uts true 2>/dev/null ||
    kt_skip "unshare --mount --uts not permitted (t/lib/sendmail.sh)"
sm_fetch || kt_skip "Sendmail packages not available (apt-get download)"

kt_init milter_sendmail
chmod 755 "$W"
PORT=$(free_port)
DNSPORT=$(free_port)
[ "$DNSPORT" != "$PORT" ] || DNSPORT=$(free_port)
SM=$W/sm
sm_cleanup() {
	sm_stop "$SM" 2>/dev/null
	vf_opendkim_stop "$S"
	vf_dns_stop "$S" 2>/dev/null
	kt_cleanup
}
trap sm_cleanup EXIT
trap 'sm_cleanup; exit 1' INT TERM

kt_corpus "$DNSPORT"

# keyturn.conf as contrib/sendmail/keyturn.conf has it; Sendmail's MTA
# runs as root, so keyturnd's default socket mode will do
SMCONF=$(grep -v '^#' "$top_srcdir/contrib/sendmail/keyturn.conf" | grep .)
[ -n "$SMCONF" ] || kt_fail "contrib/sendmail/keyturn.conf has no setting"
kt_conf "LogLevel info" "$SMCONF"
kt_start
sm_init "$SM" 127.0.0.1 "$PORT" "$S/sock" || kt_fail "sm_init"
grep -q "^Xkeyturn, S=local:$S/sock, F=T" "$SM/mta.cf" ||
    kt_fail "contrib/sendmail/keyturn.mc gave no X line in mta.cf"
sm_start "$SM" || kt_fail "sendmail did not start"

# the corpus and a 20 MB message over SMTP, one message by sendmail(1)
mkdir -p "$W/in"
n=0
cr=$(printf '\r')
for f in "$top_srcdir"/t/data/*.eml; do
	if LC_ALL=C grep -q "$cr." "$f"; then
		# Sendmail (CVE-2023-51765 fix) refuses a bare CR in DATA before
		# any milter sees the message
		sm_send "$SM" sender@example.org bob@sink.test "$f" \
		    >"$W/send.out" && kt_fail "$(basename "$f"): accepted"
		grep -q "Bare carriage return" "$W/send.out" ||
		    kt_fail "$(basename "$f"): $(cat "$W/send.out")"
		continue
	fi
	sm_send "$SM" sender@example.org bob@sink.test "$f" >"$W/send.out" ||
	    kt_fail "$(basename "$f"): $(cat "$W/send.out")"
	n=$((n + 1))
done
kt_bigmsg "$W/in/big.eml"
sm_send "$SM" big@example.com bob@sink.test "$W/in/big.eml" >"$W/send.out" ||
    kt_fail "20 MB message: $(cat "$W/send.out")"
n=$((n + 1))
kt_msg "$W/in/local.eml" "From: Local User <local@example.com>"
sm_submit "$SM" local@example.com bob@sink.test "$W/in/local.eml" \
    >"$W/submit.out" 2>&1 || kt_fail "sendmail(1): $(cat "$W/submit.out")"
n=$((n + 1))
sm_wait "$SM" $n || kt_fail "only $(sm_count "$SM") of $n delivered"
kt_ok "$n messages delivered through Sendmail"

# every delivered message: two signatures, both verifiers pass
kt_corpus_verify $(sm_messages "$SM")
kt_ok "every delivered message verified by dkimpy and OpenDKIM"

# the local submission went MSP, then SMTP to the MTA, whose milter
# signed it (every message above has two good signatures)
lm=$(grep -l '^Message-ID: <local.eml@example.com>' "$SM"/box/new/*)
[ -n "$lm" ] || kt_fail "sendmail(1) message not in the sink"
grep -q '^Received: (from root@localhost)' "$lm" ||
    kt_fail "sendmail(1) message did not pass the MSP"
kt_ok "sendmail(1) through the MSP signed by the MTA's milter"
grep -q "signed d=example.com s=r1 a=rsa-sha256" "$W/keyturnd.log" ||
    kt_fail "no signing log line"
# Sendmail's queue id (macro i) on keyturnd's line, and in the Received
# header Sendmail wrote for the same message
qid=$(sed -n 's/.*: \([0-9A-Za-z]\{8,\}\): signed d=example.com.*/\1/p' \
    "$W/keyturnd.log" | head -1)
[ -n "$qid" ] && grep -q "id $qid" "$SM"/box/new/* ||
    kt_fail "keyturnd's log lines do not carry Sendmail's queue id"
kt_ok "log lines carry the Sendmail queue id ($qid)"

# kt_reload N - SIGHUP, wait for the Nth "reload:" line
kt_reload() {
	kill -HUP "$KPID"
	i=0
	until [ "$(grep -c "reload: in force" "$W/keyturnd.log")" -ge "$1" ]
	do
		i=$((i + 1))
		[ $i -gt 1200 ] && kt_fail "no reload $1"	# a bound for a hang
		sleep 0.05
	done
}

# an outside client (InternalHosts no longer covers 127.0.0.1): untouched
kt_conf "LogLevel info" "$SMCONF" "InternalHosts 192.0.2.0/24"
kt_reload 1
before=$(sm_count "$SM")
kt_msg "$W/in/outside.eml" "From: alice@example.com"
sm_send "$SM" alice@example.com bob@sink.test "$W/in/outside.eml" \
    >"$W/send.out" || kt_fail "outside: $(cat "$W/send.out")"
sm_wait "$SM" $((before + 1)) || kt_fail "outside message not delivered"
last=$(sm_messages "$SM" | tail -1)
grep -q '^Message-ID: <outside.eml@example.com>' "$last" ||
    kt_fail "last delivered is not the outside message"
grep -qi '^DKIM-Signature:' "$last" && kt_fail "outside client's mail signed"
grep -q "[0-9A-Za-z]\{8,\}: not signed: client 127.0.0.1 is not internal" \
    "$W/keyturnd.log" || kt_fail "no queue id on the 'not signed' line"
kt_ok "outside client's mail delivered untouched"

# DaemonNames, as keyturn.mc says: local submissions reach the MTA on the
# daemon named MTA, unsigned unless MTA is listed
kt_conf "LogLevel info" "$SMCONF" "DaemonNames ORIGINATING"
kt_reload 2
before=$(sm_count "$SM")
kt_msg "$W/in/dn-local.eml" "From: Local User <local@example.com>"
sm_submit "$SM" local@example.com bob@sink.test "$W/in/dn-local.eml" \
    >"$W/submit.out" 2>&1 || kt_fail "sendmail(1): $(cat "$W/submit.out")"
sm_wait "$SM" $((before + 1)) || kt_fail "local message not delivered"
last=$(sm_messages "$SM" | tail -1)
grep -qi '^DKIM-Signature:' "$last" &&
    kt_fail "local mail signed though MTA is not in DaemonNames"
grep -q "[0-9A-Za-z]\{8,\}: not signed: daemon name MTA not in DaemonNames" \
    "$W/keyturnd.log" || kt_fail "no DaemonNames log line"
kt_conf "LogLevel info" "$SMCONF" "DaemonNames ORIGINATING MTA"
kt_reload 3
kt_msg "$W/in/dn-local2.eml" "From: Local User <local@example.com>"
sm_submit "$SM" local@example.com bob@sink.test "$W/in/dn-local2.eml" \
    >"$W/submit.out" 2>&1 || kt_fail "sendmail(1): $(cat "$W/submit.out")"
sm_wait "$SM" $((before + 2)) || kt_fail "local message not delivered"
last=$(sm_messages "$SM" | tail -1)
grep -q '^Message-ID: <dn-local2.eml@example.com>' "$last" ||
    kt_fail "last delivered is not the second local message"
vf_dkimpy "$S" "$last" >>"$W/dkimpy.out" 2>&1 || kt_fail "dkimpy (local)"
kt_ok "DaemonNames: local mail signed only with MTA listed"

sm_stop "$SM"
kt_stop
exit 0
