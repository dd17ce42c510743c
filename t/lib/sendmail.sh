# t/lib/sendmail.sh - a private Sendmail instance for tests (sourced by sh)
#
#   sm_fetch                       the Debian Sendmail tree ($SM_ROOT), from
#                                  cache or apt-get download + dpkg -x
#   sm_init DIR ADDR PORT SOCKET   write an instance into DIR: an MTA and an
#                                  MSP config, the MTA's milter from
#                                  contrib/sendmail/keyturn.mc on SOCKET
#   sm_start DIR / sm_stop DIR     start the MTA, wait until it listens / stop
#   sm_send DIR FROM RCPT FILE     submit FILE over SMTP; prints the reply
#                                  code; 0 when 250
#   sm_submit DIR FROM RCPT FILE   submit FILE by sendmail(1) through the
#                                  MSP (submit.cf), as local programs do
#   sm_wait DIR N [SECONDS]        wait until N messages were delivered
#                                  (default 120 s: a bound for a hang)
#   sm_count DIR / sm_messages DIR how many / which files were delivered,
#                                  oldest first
#
# Debian's sendmail-bin conflicts with the postfix package the other tests
# need, so nothing is installed: the .debs (sendmail-bin, sendmail-base,
# sendmail-cf, and libwrap0 for a library Postfix does not pull in) are
# fetched with apt-get download and unpacked with dpkg -x into
# $top_builddir/t/sendmail-root, once; later runs reuse the tree. The
# binary runs from there with LD_LIBRARY_PATH pointing into it.
#
# The instance is all under DIR: mta.mc/mta.cf (the daemon), submit.mc/
# submit.cf (the MSP), mqueue/ and clientmqueue/, the pid file, a hosts
# file and a service switch that make every host lookup a file lookup (no
# DNS), and box/new/ (the sink). The MTA listens only on ADDR:PORT
# (Name=MTA, Sendmail's default name for port 25). Mail for any address
# @sink.test goes to the mailer "sink", a script that writes each message
# to its own file in box/new/ (through box/tmp/, so a file seen is
# complete); relaying to anything else is refused. The mailer has the D,
# F and M flags of Sendmail's smtp mailers, so the sink gets what the next
# hop would. Sendmail(1) submissions go the way they do on a real host:
# the MSP queues the message and relays it over SMTP to the MTA at
# ADDR:PORT, where the milter sees it (the MTA calls milters only for SMTP
# sessions).
#
# Sendmail runs as root (tests do); -C makes it read only this instance's
# files, and the system's /etc/mail is never read or touched.

. "$top_srcdir/t/lib/listening.sh"
. "$top_srcdir/t/lib/mta.sh"

SM_SINK_DOMAIN=sink.test
SM_ROOT=${SM_ROOT:-$top_builddir/t/sendmail-root}
SM_PKGS="sendmail-bin sendmail-base sendmail-cf libwrap0"
# the MSP must not run as root; Debian's smmsp comes from sendmail-base's
# postinst, which never runs here, and mail is in every base system
SM_MSP_USER=mail:mail

# sm_fetch - unpack the packages into SM_ROOT unless already there; the
# tree is built aside and renamed into place, so an interrupted run
# leaves no half tree behind
sm_fetch() {
	[ -x "$SM_ROOT/usr/libexec/sendmail/sendmail" ] && return 0
	mkdir -p "${SM_ROOT%/*}" && _t=$(mktemp -d "$SM_ROOT.XXXXXX") &&
	    chmod 755 "$_t" || return 1	# apt-get downloads as _apt
	(cd "$_t" && apt-get download $SM_PKGS >download.log 2>&1) || {
		# a fresh machine may have no package lists yet
		apt-get update -q >"$_t/update.log" 2>&1 &&
		    (cd "$_t" && apt-get download $SM_PKGS >download.log 2>&1)
	} || {
		echo "sm_fetch: apt-get download $SM_PKGS failed:" >&2
		tail -5 "$_t/download.log" >&2
		rm -rf "$_t"
		return 1
	}
	for _deb in "$_t"/*.deb; do
		dpkg -x "$_deb" "$_t/root" || { rm -rf "$_t"; return 1; }
	done
	# setgid would make the loader ignore LD_LIBRARY_PATH; root needs
	# no group
	chmod -R ug-s "$_t/root/usr/libexec/sendmail" || { rm -rf "$_t"; return 1; }
	rm -rf "$SM_ROOT"
	mv "$_t/root" "$SM_ROOT" && rm -rf "$_t"
}

# sm_libpath - the unpacked library directories, for LD_LIBRARY_PATH
sm_libpath() {
	for _l in "$SM_ROOT"/lib/*-linux-gnu "$SM_ROOT"/usr/lib/*-linux-gnu; do
		[ -d "$_l" ] && printf '%s:' "$_l"
	done
}

# sm_bin DIR ARGS... - the unpacked sendmail binary for the instance in
# DIR. Sendmail looks up its own host name before it reads any .cf, with
# the system's resolver, and sleeps 60 s when the name has no dot and DNS
# cannot qualify it; so it runs in a mount and UTS namespace of its own,
# named mx.test, where /etc/hosts and /etc/resolv.conf are DIR's (the
# name resolves from the file, a stray query goes to 127.0.0.1)
sm_bin() {
	_sd=$1; shift
	LD_LIBRARY_PATH="$(sm_libpath)${LD_LIBRARY_PATH:-}" \
	    unshare --mount --uts sh -c '
		d=$1; shift
		hostname mx.test && mount --bind "$d/hosts" /etc/hosts &&
		    { [ ! -e /etc/resolv.conf ] ||
		    mount --bind "$d/resolv.conf" /etc/resolv.conf; } || exit 75
		exec "$@"' sh "$_sd" "$SM_ROOT/usr/libexec/sendmail/sendmail" "$@"
}

# sm_m4 MC CF - build a .cf from an .mc with the unpacked sendmail-cf
sm_m4() {
	m4 -D_CF_DIR_="$SM_ROOT/usr/share/sendmail/cf/" \
	    "$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4" "$1" >"$2"
}

# sm_common DIR - the .mc lines both configurations share: no DNS for
# host names, the instance's own files. Sendmail refuses a milter socket
# or a file below a world-writable directory, and every test directory
# is below /tmp: TrustStickyBit accepts one with the sticky bit set, as
# /tmp has (a production socket lives in /run/keyturn).
sm_common() {
	cat <<EOF
OSTYPE(\`linux')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confDOMAIN_NAME', \`mx.test')dnl
define(\`confSERVICE_SWITCH_FILE', \`$1/service.switch')dnl
define(\`confHOSTS_FILE', \`$1/hosts')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confHELP_FILE', \`')dnl
define(\`confCW_FILE', \`$1/local-host-names')dnl
define(\`confCT_FILE', \`$1/trusted-users')dnl
define(\`confTO_IDENT', \`0')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
EOF
}

# sm_init - lay out the instance and build its two .cf files
sm_init() {
	_d=$1 _addr=$2 _port=$3 _sock=$4
	mkdir -p "$_d/mqueue" "$_d/clientmqueue" "$_d/box/tmp" \
	    "$_d/box/new" || return 1
	chmod 755 "$_d"
	chmod 700 "$_d/mqueue"
	chown "$SM_MSP_USER" "$_d/clientmqueue" &&
	    chmod 770 "$_d/clientmqueue" || return 1
	echo "$_addr $_port" >"$_d/instance"
	printf 'hosts files\naliases files\n' >"$_d/service.switch"
	printf '127.0.0.1 mx.test localhost\n::1 mx.test localhost\n' >"$_d/hosts"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
	    >"$_d/resolv.conf"
	printf 'mx.test\n' >"$_d/local-host-names"
	: >"$_d/trusted-users"
	: >"$_d/aliases"
	cat >"$_d/sink" <<EOF
#!/bin/sh
# the test's mailbox: one file per message, complete when in new/
PATH=/usr/bin:/bin
t=\$(mktemp "$_d/box/tmp/m.XXXXXX") && cat >"\$t" &&
    mv "\$t" "$_d/box/new/" || exit 75
EOF
	chmod 755 "$_d/sink"
	{
		echo "divert(-1)"
		echo "# keyturn test MTA: $_addr:$_port, mail @$SM_SINK_DOMAIN to $_d/box"
		echo "divert(0)dnl"
		sm_common "$_d"
		cat <<EOF
define(\`QUEUE_DIR', \`$_d/mqueue')dnl
define(\`confPID_FILE', \`$_d/sendmail.pid')dnl
define(\`STATUS_FILE', \`$_d/statistics')dnl
define(\`ALIAS_FILE', \`$_d/aliases')dnl
define(\`confMAX_MESSAGE_SIZE', \`104857600')dnl
define(\`confPRIVACY_FLAGS', \`goaway')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Port=$_port, Addr=$_addr, Name=MTA')dnl
RELAY_DOMAIN(\`$SM_SINK_DOMAIN')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
		# the documented snippet, as it stands, on this test's socket
		sed "s|local:/run/keyturn/keyturnd.sock|local:$_sock|" \
		    "$top_srcdir/contrib/sendmail/keyturn.mc"
		cat <<EOF
MAILER_DEFINITIONS
Msink,	P=$_d/sink, F=lsnDFMSu, A=sink \$u
LOCAL_RULE_0
R\$+ < @ $SM_SINK_DOMAIN . >	\$#sink \$@ $SM_SINK_DOMAIN \$: \$1
R\$+ < @ $SM_SINK_DOMAIN >	\$#sink \$@ $SM_SINK_DOMAIN \$: \$1
EOF
	} >"$_d/mta.mc"
	{
		echo "divert(-1)"
		echo "# keyturn test MSP: relays to the MTA at $_addr:$_port"
		echo "divert(0)dnl"
		sm_common "$_d"
		cat <<EOF
define(\`MSP_QUEUE_DIR', \`$_d/clientmqueue')dnl
define(\`confPID_FILE', \`$_d/clientmqueue/sm-client.pid')dnl
define(\`confRUN_AS_USER', \`$SM_MSP_USER')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $_port')dnl
FEATURE(\`msp', \`[$_addr]')dnl
EOF
	} >"$_d/submit.mc"
	sm_m4 "$_d/mta.mc" "$_d/mta.cf" 2>"$_d/m4.err" &&
	    sm_m4 "$_d/submit.mc" "$_d/submit.cf" 2>>"$_d/m4.err" || {
		cat "$_d/m4.err" >&2
		return 1
	}
	if [ -s "$_d/m4.err" ]; then
		echo "sm_init: m4 complained:" >&2
		cat "$_d/m4.err" >&2
		return 1
	fi
}

# sm_listening - is something listening on ADDR:PORT?
sm_listening() {
	ss -Hltn "src $1:$2" 2>/dev/null | grep -q LISTEN
}

# sm_start - start the MTA and wait until it accepts connections
sm_start() {
	_d=$1
	read -r _addr _port <"$_d/instance"
	if sm_listening "$_addr" "$_port"; then
		echo "sm_start: $_addr:$_port already in use" >&2
		return 1
	fi
	rm -f "$_d/sendmail.pid"
	sm_bin "$_d" -C "$_d/mta.cf" -bd >"$_d/start.out" 2>&1 || {
		echo "sm_start: sendmail -bd failed:" >&2
		cat "$_d/start.out" >&2
		return 1
	}
	_i=0
	# a bound that only catches a daemon that never listens
	while ! sm_listening "$_addr" "$_port"; do
		_i=$((_i + 1))
		if [ $_i -gt 600 ]; then
			echo "sm_start: nothing listens on $_addr:$_port" >&2
			cat "$_d/start.out" >&2
			return 1
		fi
		sleep 0.1
	done
}

# sm_stop - SIGTERM to the daemon (first line of its pid file), wait for
# it to exit (a bound for a hang, then SIGKILL)
sm_stop() {
	_d=$1
	[ -f "$_d/sendmail.pid" ] || return 0
	_pid=$(head -1 "$_d/sendmail.pid" | tr -dc 0-9)
	[ -n "$_pid" ] || return 0
	kill -TERM "$_pid" 2>/dev/null
	_i=0
	while kill -0 "$_pid" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i = 300 ] && kill -KILL "$_pid" 2>/dev/null
		[ $_i -gt 600 ] && break
		sleep 0.1
	done
	rm -f "$_d/sendmail.pid"
	return 0
}

# sm_send - one SMTP session to the MTA; prints the reply code that ended it
sm_send() {
	read -r _addr _port <"$1/instance"
	mta_smtp "$_addr" "$_port" "" "" "$2" "$3" "$4"
}

# sm_submit - sendmail(1) with the MSP's configuration: queued in
# clientmqueue, relayed at once over SMTP to the MTA
sm_submit() {
	sm_bin "$1" -C "$1/submit.cf" -f "$2" "$3" <"$4"
}

# sm_count, sm_wait, sm_messages - the sink's Maildir (t/lib/mta.sh)
sm_count() { maildir_count "$1/box"; }
sm_wait() { maildir_wait "$1/box" "$2" "${3:-120}"; }
sm_messages() { maildir_messages "$1/box"; }
