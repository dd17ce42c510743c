# t/lib/mta.sh - what the private MTA instances of the tests share
# (sourced by sh, from t/lib/postfix.sh and t/lib/sendmail.sh)
#
#   mta_smtp ADDR PORT USER PASS FROM RCPT FILE
#                               one SMTP session, with AUTH unless USER is
#                               empty; prints the reply code that ended it
#                               (0 when there was none); 0 when 250
#   maildir_count DIR           how many messages DIR/new holds
#   maildir_wait DIR N [SECS]   until at least N are there (default 120 s:
#                               a bound for a hang)
#   maildir_messages DIR        the files of DIR/new, oldest first

# mta_smtp - see above
mta_smtp() {
	"${PYTHON3:-/usr/bin/python3}" - "$@" <<'PYEOF'
import smtplib, sys
host, port, user, password, sender, rcpt, path = sys.argv[1:8]
# smtplib sends bytes as they are: make every line end CRLF, or a final
# bare LF would become an extra empty line (a bare CR stays a bare CR)
data = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
try:
    with smtplib.SMTP(host, int(port), timeout=120) as s:
        s.ehlo("client.test")
        if user:
            s.login(user, password)
        s.sendmail(sender, [rcpt], data)
    print(250)
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
    sys.exit(1)
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print(code, text.decode(errors="replace"))
    sys.exit(1)
except OSError as e:
    # no reply code: no connection, or no AUTH offered
    print(0, e)
    sys.exit(1)
PYEOF
}

# maildir_count - how many messages were delivered
maildir_count() {
	ls "$1/new" 2>/dev/null | wc -l
}

# maildir_wait - until at least N messages were delivered
maildir_wait() {
	_md=$1 _mn=$2 _mt=${3:-120}
	_mi=0
	while [ "$(maildir_count "$_md")" -lt "$_mn" ]; do
		_mi=$((_mi + 1))
		if [ $_mi -gt $((_mt * 10)) ]; then
			echo "$(maildir_count "$_md") of $_mn messages after" \
			    "${_mt}s in $_md" >&2
			return 1
		fi
		sleep 0.1
	done
}

# maildir_messages - the delivered files, in delivery order
maildir_messages() {
	ls -tr "$1/new"/* 2>/dev/null
}
