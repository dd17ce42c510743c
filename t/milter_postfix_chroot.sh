#!/bin/sh
# milter_postfix_chroot - the setup contrib/postfix gives for Debian, where
# smtpd and cleanup run chrooted in the queue directory: keyturnd's socket
# lives under the queue directory, and main.cf names it relative to it
# (unix:keyturn/keyturnd.sock), which every Postfix process resolves
# against the queue directory, chrooted or not. A message over SMTP
# (smtpd_milters, in the chroot) and one by sendmail(1) (cleanup's
# non_smtpd_milters, in the chroot) are both delivered signed, and dkimpy
# verifies them.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/postfix.sh"

[ "$(id -u)" = 0 ] || kt_skip "needs root (a private Postfix instance)"
for tool in postfix postconf sendmail ss; do
	command -v "$tool" >/dev/null 2>&1 || kt_skip "$tool not found"
done

kt_init milter_postfix_chroot
chmod 755 "$W"
PORT=$(pf_free_port)
PF=$S/pf
pf_cleanup() {
	pf_stop "$PF" 2>/dev/null
	kt_cleanup
}
trap pf_cleanup EXIT
trap 'pf_cleanup; exit 1' INT TERM

kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1

pf_init "$PF" 127.0.0.1 "$PORT" "unix:keyturn/keyturnd.sock" ||
    kt_fail "pf_init"
# smtpd and cleanup chrooted, as Debian's master.cf has them
sed -i -e "s/^\(127.0.0.1:$PORT inet n - \)n/\1y/" \
    -e 's/^\(cleanup   unix  n - \)n/\1y/' "$PF/etc/master.cf"
grep -q "^127.0.0.1:$PORT inet n - y " "$PF/etc/master.cf" &&
    grep -q "^cleanup   unix  n - y " "$PF/etc/master.cf" ||
    kt_fail "master.cf: smtpd and cleanup not chrooted"
# a socket directory as contrib/systemd/keyturnd.tmpfiles makes it
mkdir -p "$PF/queue/keyturn"
chgrp postfix "$PF/queue/keyturn" && chmod 0750 "$PF/queue/keyturn" ||
    kt_fail "socket directory"

{
	echo "Socket unix:$PF/queue/keyturn/keyturnd.sock"
	echo "SocketOwner root:postfix"
	echo "SocketMode 0660"
	echo "KeyStore $KS"
	echo "PidFile $W/keyturnd.pid"
	echo "LogLevel info"
	echo "AllowRoot yes"
} >"$W/keyturn.conf"
kt_launch
kt_ready "$PF/queue/keyturn/keyturnd.sock"
pf_start "$PF" || kt_fail "postfix did not start"

kt_msg "$W/smtp.eml" "From: Alice <alice@example.com>"
pf_send "$PF" alice@example.com bob@sink.test "$W/smtp.eml" >"$W/send.out" ||
    kt_fail "SMTP: $(cat "$W/send.out")"
kt_msg "$W/local.eml" "From: Local User <local@example.com>"
sendmail -C "$PF/etc" -f local@example.com bob@sink.test <"$W/local.eml" ||
    kt_fail "sendmail(1)"
pf_wait "$PF" 2 ||
    kt_fail "only $(pf_count "$PF") of 2 delivered (see $PF/maillog)"
for m in $(pf_messages "$PF"); do
	[ "$(grep -ci '^DKIM-Signature:' "$m")" = 1 ] ||
	    kt_fail "$m: not signed once"
	kt_verify "$m"
done
kt_ok "chrooted smtpd and cleanup reach keyturnd at unix:keyturn/keyturnd.sock; both messages verified"
kt_stop
