# t/lib/postfix.sh - a private Postfix instance for tests (sourced by sh)
#
#   pf_init DIR ADDR PORT MILTER   write an instance into DIR (created)
#   pf_set DIR 'name = value'...   change its main.cf (postconf -c)
#   pf_start DIR / pf_stop DIR     start it, wait until smtpd listens / stop
#   pf_send DIR FROM RCPT FILE     submit FILE over SMTP; prints the reply
#                                  code; 0 when 250
#   pf_sasl DIR USER PASS...       SMTP AUTH (Cyrus SASL, sasldb) for these
#                                  users; relaying for them and mynetworks
#   pf_send_auth DIR USER PASS FROM RCPT FILE
#                                  pf_send after AUTH as USER
#   pf_wait DIR N [SECONDS]        wait until N messages were delivered
#                                  (default 120 s: a bound for a hang)
#   pf_messages DIR                the delivered message files, oldest first
#   pf_log DIR                     the instance's log file
#   pf_free_port                   a TCP and UDP port free on loopback
#                                  (free_port, t/lib/listening.sh)
#
# The instance is all under DIR: DIR/etc (main.cf, master.cf; passed to
# postfix and postconf with -c), DIR/queue (queue_directory), DIR/data
# (data_directory), DIR/maillog (maillog_file, through postlogd: no syslog
# needed) and DIR/mail/box/ (the sink). smtpd listens only on ADDR:PORT
# (a master.cf entry; inet_interfaces = loopback-only), every service runs
# unchrooted, and smtpd_milters and non_smtpd_milters point at MILTER with
# milter_default_action = tempfail. Mail for any address @sink.test is
# delivered by virtual(8) into the Maildir DIR/mail/box/ (one file per
# message in new/); anything else is refused, nothing leaves the machine.
#
# Tests run as root. "postfix -c DIR" accepts any directory for root: only
# unprivileged callers need DIR listed in alternate_config_directories of
# /etc/postfix/main.cf, so the system's Postfix configuration is never
# touched, and a running system instance does not collide (own queue, own
# port, own syslog_name). DIR and the milter socket must be reachable by
# the postfix user: pf_init makes DIR mode 0755.

. "$top_srcdir/t/lib/listening.sh"
. "$top_srcdir/t/lib/mta.sh"

PF_SINK_DOMAIN=sink.test

# pf_init - lay out the instance's directories and configuration
pf_init() {
	_d=$1 _addr=$2 _port=$3 _milter=$4
	mkdir -p "$_d/etc" "$_d/queue" "$_d/data" "$_d/mail" || return 1
	chmod 755 "$_d"
	chown postfix "$_d/data" "$_d/mail" || return 1
	echo "$_addr $_port" >"$_d/instance"
	cat >"$_d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $_d/queue
data_directory = $_d/data
syslog_name = postfix-kt-$_port
maillog_file = $_d/maillog
maillog_file_prefixes = $_d
myhostname = mx.test
mydomain = test
myorigin = test
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
default_transport = error:no delivery outside the test sink
biff = no
append_dot_mydomain = no
smtputf8_enable = no
message_size_limit = 104857600
virtual_mailbox_domains = $PF_SINK_DOMAIN
virtual_mailbox_base = $_d/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
virtual_mailbox_limit = 0
smtpd_milters = $_milter
non_smtpd_milters = $_milter
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 10s
milter_command_timeout = 30s
milter_content_timeout = 120s
EOF
	cat >"$_d/etc/master.cf" <<EOF
$_addr:$_port inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
	postconf -c "$_d/etc" -n >/dev/null || return 1
}

# pf_free_port - a port nobody listens on (TCP or UDP), from a random
# start in 20000-59999 so that tests running in parallel do not pick the
# same one
pf_free_port() {
	free_port
}

# pf_set - change main.cf settings of an instance
pf_set() {
	_d=$1; shift
	postconf -c "$_d/etc" -e "$@"
}

# pf_listening - is something listening on ADDR:PORT?
pf_listening() {
	ss -Hltn "src $1:$2" 2>/dev/null | grep -q LISTEN
}

# pf_start - start the instance and wait until smtpd accepts connections
pf_start() {
	_d=$1
	read -r _addr _port <"$_d/instance"
	if pf_listening "$_addr" "$_port"; then
		echo "pf_start: $_addr:$_port already in use" >&2
		return 1
	fi
	postfix -c "$_d/etc" check >/dev/null 2>&1 || true
	postfix -c "$_d/etc" start >/dev/null 2>&1 || {
		echo "pf_start: postfix -c $_d/etc start failed:" >&2
		tail -5 "$_d/maillog" >&2 2>/dev/null
		return 1
	}
	_i=0
	# a bound that only catches an smtpd that never listens
	while ! pf_listening "$_addr" "$_port"; do
		_i=$((_i + 1))
		if [ $_i -gt 600 ]; then
			echo "pf_start: smtpd not listening on $_addr:$_port" >&2
			return 1
		fi
		sleep 0.1
	done
}

# pf_stop - stop the instance and wait for its master to exit (after
# 30 s, abort it and wait again)
pf_stop() {
	_d=$1
	[ -f "$_d/queue/pid/master.pid" ] || return 0
	_pid=$(tr -dc 0-9 <"$_d/queue/pid/master.pid")
	[ -n "$_pid" ] || return 0
	postfix -c "$_d/etc" stop >/dev/null 2>&1
	_i=0
	while kill -0 "$_pid" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i = 300 ] && postfix -c "$_d/etc" abort >/dev/null 2>&1
		[ $_i -gt 600 ] && break
		sleep 0.1
	done
	return 0
}

# pf_sasl - SMTP AUTH the way a submission service does it: Postfix's
# Cyrus SASL reads DIR/etc/sasl/smtpd.conf (the name from smtpd_sasl_path)
# and checks PLAIN and LOGIN passwords against DIR/etc/sasl/sasldb2,
# written by saslpasswd2. The directory is both cyrus_sasl_config_path
# and where Debian's Postfix looks whatever that says ("SASL configuration
# goes in /etc/postfix/sasl": $config_directory/sasl). A USER of the form
# NAME@REALM is stored as NAME in REALM, which is where Cyrus looks such a
# login up; a bare NAME goes into myhostname's realm (Cyrus's default
# while smtpd_sasl_local_domain is empty). Either way Postfix hands the
# login as the client typed it to the milter in {auth_authen}. Relaying is for
# mynetworks and authenticated clients; anyone may still mail the sink
# domain (reject_unauth_destination), and nothing else. No TLS: the
# mechanisms are offered in the clear.
pf_sasl() {
	_d=$1; shift
	mkdir -p "$_d/etc/sasl" || return 1
	chmod 755 "$_d/etc/sasl"
	rm -f "$_d/etc/sasl/sasldb2"
	while [ $# -ge 2 ]; do
		case $1 in
		*@*) _u=${1%@*} _r=${1##*@} ;;
		*) _u=$1 _r=$(postconf -c "$_d/etc" -h myhostname) ;;
		esac
		printf '%s' "$2" | saslpasswd2 -f "$_d/etc/sasl/sasldb2" -c -p \
		    -u "$_r" "$_u" || return 1
		shift 2
	done
	# smtpd opens it as the postfix user (unchrooted: see master.cf)
	chgrp postfix "$_d/etc/sasl/sasldb2" &&
	    chmod 640 "$_d/etc/sasl/sasldb2" || return 1
	cat >"$_d/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $_d/etc/sasl/sasldb2
mech_list: PLAIN LOGIN
EOF
	_allow="permit_mynetworks, permit_sasl_authenticated,"
	_allow="$_allow reject_unauth_destination"
	pf_set "$_d" "smtpd_sasl_auth_enable = yes" \
	    "smtpd_sasl_type = cyrus" \
	    "cyrus_sasl_config_path = $_d/etc/sasl" \
	    "smtpd_sasl_path = smtpd" \
	    "smtpd_sasl_security_options = noanonymous" \
	    "smtpd_tls_security_level = none" \
	    "smtpd_tls_auth_only = no" \
	    "smtpd_relay_restrictions = $_allow" \
	    "smtpd_recipient_restrictions = $_allow"
}

# pf_send - submit a message over SMTP, print the server's reply code
pf_send() {
	_d=$1; shift
	pf_smtp "$_d" "" "" "$@"
}

# pf_send_auth - pf_send after SMTP AUTH as USER with PASS (a refused
# AUTH prints its code, 535, and sends nothing)
pf_send_auth() {
	_d=$1; shift
	pf_smtp "$_d" "$@"
}

# pf_smtp DIR USER PASS FROM RCPT FILE - one SMTP session to the instance
pf_smtp() {
	read -r _addr _port <"$1/instance"
	shift
	mta_smtp "$_addr" "$_port" "$@"
}

# pf_count, pf_wait, pf_messages - the sink's Maildir (t/lib/mta.sh)
pf_count() { maildir_count "$1/mail/box"; }
pf_wait() { maildir_wait "$1/mail/box" "$2" "${3:-120}"; }
pf_messages() { maildir_messages "$1/mail/box"; }

# pf_log - the log file of the instance
pf_log() {
	echo "$1/maillog"
}
