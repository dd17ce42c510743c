# t/lib/knot.sh - run Knot DNS servers on loopback for keyturn's tests
#
# Source it from a test (POSIX sh), then:
#
#   knot_init                       temp dir $KNOT_DIR, port $KNOT_PORT
#                                   (one nothing listens on, TCP or UDP;
#                                   override with KNOT_PORT=...), and an
#                                   EXIT trap that stops every server
#   knot_server NAME ADDR...        declare server NAME on ADDR@$KNOT_PORT
#                                   (127.0.0.x or ::1)
#   knot_server_opt NAME LINE       an extra line in its "server:" section,
#                                   e.g. "answer-rotation: on"
#   knot_key NAME KEYID SECRET      a TSIG key (hmac-sha256, base64 secret)
#   knot_zone NAME ZONE FILE [OPT...]
#                                   NAME is a primary for ZONE, loaded from
#                                   FILE (copied). OPT: update=KEYID (allow
#                                   RFC 2136 updates signed with KEYID),
#                                   notify=ADDR (NOTIFY that secondary),
#                                   transfer=KEYID|any (allow AXFR/IXFR)
#   knot_secondary NAME ZONE ADDR [KEYID]
#                                   NAME follows ZONE from the primary at
#                                   ADDR@$KNOT_PORT (NOTIFY + AXFR/IXFR)
#   knot_start NAME                 write its knot.conf, start knotd, wait
#                                   until every zone answers
#   knot_set NAME ZONE OWNER TTL TYPE RDATA
#                                   replace the OWNER/TYPE RRset (a knotc
#                                   transaction; the serial is bumped)
#   knot_unset NAME ZONE OWNER [TYPE]
#   knot_serial NAME ZONE           the SOA serial NAME serves now (asks
#                                   again while it does not answer)
#   knot_wait_serial NAME ZONE SERIAL [SECS]
#                                   until NAME serves SERIAL
#   knot_stop NAME / knot_stop_all
#   knot_txt LONGSTRING             TXT rdata: quoted strings of <= 255
#   knot_pair ZONE PRIMARY SECONDARY TTL [KEYID]
#                                   the two authoritative servers of a
#                                   rotation test, started: server "prim"
#                                   on PRIMARY (ns1.ZONE) is the primary of
#                                   ZONE, server "sec" on SECONDARY
#                                   (ns2.ZONE) follows it by NOTIFY and
#                                   IXFR; records have TTL TTL, the SOA
#                                   minimum (negative TTL) is 1 s. With
#                                   KEYID the primary takes RFC 2136
#                                   updates signed with the TSIG key KEYID
#                                   (hmac-sha256, a fresh secret in
#                                   $KNOT_TSIG_SECRET), written as
#                                   nsupdate -k reads it to
#                                   $KNOT_TSIG_FILE (mode 0600)
#
# Every server has its own directory $KNOT_DIR/NAME (config, zones,
# database, control socket, log). knotd runs as the invoking user. Nothing
# is sent outside 127.0.0.0/8 and ::1.
#
# Every wait here is a wait for evidence (a zone answers, a serial, a
# process gone); its bound in seconds (KNOT_HANG, 60) only catches a
# server that never gets there, and a loaded machine is far inside it.

KNOTD=${KNOTD:-$(command -v knotd 2>/dev/null || echo /usr/sbin/knotd)}
KNOTC=${KNOTC:-$(command -v knotc 2>/dev/null || echo /usr/sbin/knotc)}
KDIG=${KDIG:-$(command -v kdig 2>/dev/null || echo /usr/bin/kdig)}
KNOT_HANG=${KNOT_HANG:-60}

. "$top_srcdir/t/lib/listening.sh"

# knot_available - 0 when knotd, knotc and kdig are installed
knot_available() {
	[ -x "$KNOTD" ] && [ -x "$KNOTC" ] && [ -x "$KDIG" ]
}

knot_init() {
	KNOT_DIR=$(mktemp -d /tmp/kt-knot.XXXXXX) || return 1
	# a port no server of another test (or of the system) is on; tests
	# that run at once start from different random points
	[ -n "${KNOT_PORT:-}" ] || KNOT_PORT=$(free_port)
	KNOT_SERVERS=
	export KNOT_DIR KNOT_PORT
	trap 'knot_stop_all; [ -n "${KNOT_KEEP:-}" ] || rm -rf "$KNOT_DIR"' EXIT
	trap 'exit 1' INT TERM HUP
}

# knot_id - a config identifier from any string
knot_id() {
	printf '%s' "$1" | tr -c 'A-Za-z0-9' '_'
}

# knot_addr - ADDR@PORT, the way knot.conf writes it
knot_addr() {
	printf '%s@%s' "$1" "$KNOT_PORT"
}

knot_server() {
	_n=$1; shift
	_d=$KNOT_DIR/$_n
	mkdir -p "$_d/zones" "$_d/db" "$_d/run" || return 1
	: > "$_d/listen"; : > "$_d/keys"; : > "$_d/acl"; : > "$_d/remotes"
	: > "$_d/zones.conf"; : > "$_d/server"; : > "$_d/zonelist"
	for _a in "$@"; do
		echo "$_a" >> "$_d/listen"
	done
	KNOT_SERVERS="$KNOT_SERVERS $_n"
}

knot_server_opt() {
	echo "    $2" >> "$KNOT_DIR/$1/server"
}

knot_key() {
	cat >> "$KNOT_DIR/$1/keys" <<EOF
  - id: $2
    algorithm: hmac-sha256
    secret: $3
EOF
}

# knot_remote - declare ADDR as a remote of server NAME once; print its id
knot_remote() {
	_rid=r_$(knot_id "$2")
	if ! grep -q "id: $_rid\$" "$KNOT_DIR/$1/remotes"; then
		{
			echo "  - id: $_rid"
			echo "    address: $(knot_addr "$2")"
			# speak from our own address, so that ACLs by
			# address (NOTIFY, transfers) see who we are
			_via=$(knot_first_addr "$1")
			case $2 in *:*) _f6=1 ;; *) _f6=0 ;; esac
			case $_via in *:*) _v6=1 ;; *) _v6=0 ;; esac
			[ $_f6 = $_v6 ] && echo "    via: $_via"
			[ -n "${3:-}" ] && echo "    key: $3"
		} >> "$KNOT_DIR/$1/remotes"
	fi
	printf '%s' "$_rid"
}

# knot_acl - add one acl entry to NAME; print its id
knot_acl() {
	_aid=$2
	if ! grep -q "id: $_aid\$" "$KNOT_DIR/$1/acl"; then
		{
			echo "  - id: $_aid"
			shift 2
			for _l in "$@"; do
				echo "    $_l"
			done
		} >> "$KNOT_DIR/$1/acl"
	fi
	printf '%s' "$_aid"
}

knot_zone() {
	_n=$1; _z=$2; _f=$3; shift 3
	_d=$KNOT_DIR/$_n
	cp "$_f" "$_d/zones/$_z.zone" || return 1
	_acls=; _notify=
	for _o in "$@"; do
		case $_o in
		update=*)
			_acls="$_acls $(knot_acl "$_n" "upd_${_o#update=}" \
			    "key: ${_o#update=}" "action: update")" ;;
		transfer=any)
			_acls="$_acls $(knot_acl "$_n" xfr_any \
			    "address: [127.0.0.0/8, ::1]" "action: transfer")" ;;
		transfer=*)
			_acls="$_acls $(knot_acl "$_n" "xfr_${_o#transfer=}" \
			    "key: ${_o#transfer=}" "action: transfer")" ;;
		notify=*)
			_notify="$_notify $(knot_remote "$_n" "${_o#notify=}")"
			_acls="$_acls $(knot_acl "$_n" xfr_any \
			    "address: [127.0.0.0/8, ::1]" "action: transfer")" ;;
		*)
			echo "knot_zone: unknown option $_o" >&2; return 1 ;;
		esac
	done
	{
		echo "  - domain: $_z"
		echo "    file: $_d/zones/$_z.zone"
		[ -n "$_acls" ] && echo "    acl: [$(echo $_acls | sed 's/ /, /g')]"
		[ -n "$_notify" ] && echo "    notify: [$(echo $_notify | sed 's/ /, /g')]"
	} >> "$_d/zones.conf"
	echo "$_z" >> "$_d/zonelist"
}

knot_secondary() {
	_n=$1; _z=$2; _p=$3; _k=${4:-}
	_d=$KNOT_DIR/$_n
	_r=$(knot_remote "$_n" "$_p" "$_k")
	_a=$(knot_acl "$_n" "notify_$(knot_id "$_p")" \
	    "address: $_p" "action: notify")
	{
		echo "  - domain: $_z"
		echo "    file: $_d/zones/$_z.zone"
		echo "    master: $_r"
		echo "    acl: [$_a]"
	} >> "$_d/zones.conf"
	echo "$_z" >> "$_d/zonelist"
}

# knot_conf - assemble NAME's knot.conf from its parts
knot_conf() {
	_d=$KNOT_DIR/$1
	{
		echo "server:"
		echo "    rundir: $_d/run"
		echo "    pidfile: $_d/run/knot.pid"
		echo "    udp-workers: 1"
		echo "    tcp-workers: 1"
		echo "    background-workers: 1"
		while read -r _a; do
			echo "    listen: $(knot_addr "$_a")"
		done < "$_d/listen"
		cat "$_d/server"
		echo "log:"
		echo "  - target: $_d/knot.log"
		echo "    any: info"
		echo "database:"
		echo "    storage: $_d/db"
		echo "control:"
		echo "    listen: $_d/run/knot.sock"
		[ -s "$_d/keys" ] && { echo "key:"; cat "$_d/keys"; }
		[ -s "$_d/remotes" ] && { echo "remote:"; cat "$_d/remotes"; }
		[ -s "$_d/acl" ] && { echo "acl:"; cat "$_d/acl"; }
		echo "template:"
		echo "  - id: default"
		echo "    storage: $_d/zones"
		echo "    zonefile-sync: -1"
		echo "    zonefile-load: difference-no-serial"
		echo "    journal-content: all"
		echo "    semantic-checks: off"
		echo "zone:"
		cat "$_d/zones.conf"
	} > "$_d/knot.conf"
}

# knotc_ - knotc on server NAME (its -t only catches a hung knotd)
knotc_() {
	_kn=$1; shift
	"$KNOTC" -c "$KNOT_DIR/$_kn/knot.conf" -t "$KNOT_HANG" "$@"
}

# knot_first_addr - the first address NAME listens on
knot_first_addr() {
	head -n 1 "$KNOT_DIR/$1/listen"
}

# knot_serial_once - one SOA query, one second; empty when no answer
# (kdig does not see a port that refuses: nothing bound yet waits too)
knot_serial_once() {
	"$KDIG" @"$(knot_first_addr "$1")" -p "$KNOT_PORT" +norec +short \
	    +timeout=1 +retry=0 SOA "$2" 2>/dev/null |
	    awk '$3 ~ /^[0-9]+$/ { print $3; exit }'
}

# knot_serial - asks until the server answers: a query lost on a busy
# machine is not an empty serial
knot_serial() {
	_se=$(($(date +%s) + KNOT_HANG))
	until _sv=$(knot_serial_once "$1" "$2") && [ -n "$_sv" ]; do
		[ "$(date +%s)" -lt "$_se" ] || return 1
		sleep 0.1
	done
	printf '%s\n' "$_sv"
}

knot_start() {
	_n=$1
	_d=$KNOT_DIR/$_n
	knot_conf "$_n" || return 1
	"$KNOTC" -c "$_d/knot.conf" conf-check >/dev/null 2>"$_d/conf-check" || {
		echo "knot_start $_n: bad config:" >&2
		cat "$_d/conf-check" "$_d/knot.conf" >&2
		return 1
	}
	"$KNOTD" -c "$_d/knot.conf" >>"$_d/knotd.out" 2>&1 &
	echo $! > "$_d/pid"
	_se=$(($(date +%s) + KNOT_HANG))
	while read -r _z; do
		until [ -n "$(knot_serial_once "$_n" "$_z")" ]; do
			if [ "$(date +%s)" -ge "$_se" ] ||
			    ! kill -0 "$(cat "$_d/pid")" 2>/dev/null; then
				echo "knot_start $_n: $_z not served" >&2
				tail -n 20 "$_d/knot.log" "$_d/knotd.out" >&2
				return 1
			fi
			sleep 0.1
		done
	done < "$_d/zonelist"
}

knot_set() {
	_n=$1; _z=$2; _o=$3; _t=$4; _ty=$5; shift 5
	knotc_ "$_n" zone-begin "$_z" >/dev/null || return 1
	knotc_ "$_n" zone-unset "$_z" "$_o" "$_ty" >/dev/null 2>&1
	if ! knotc_ "$_n" zone-set "$_z" "$_o" "$_t" "$_ty" "$@" >/dev/null; then
		knotc_ "$_n" zone-abort "$_z" >/dev/null
		return 1
	fi
	knotc_ "$_n" zone-commit "$_z" >/dev/null
}

knot_unset() {
	_n=$1; _z=$2; _o=$3; _ty=${4:-}
	knotc_ "$_n" zone-begin "$_z" >/dev/null || return 1
	knotc_ "$_n" zone-unset "$_z" "$_o" $_ty >/dev/null 2>&1
	knotc_ "$_n" zone-commit "$_z" >/dev/null
}

# knot_wait_serial - NOTIFY and the transfer are the secondary's own
# pace; SECS (default KNOT_HANG) only catches one that never follows
knot_wait_serial() {
	_se=$(($(date +%s) + ${4:-$KNOT_HANG}))
	[ -n "$3" ] || return 1
	while [ "$(knot_serial_once "$1" "$2")" != "$3" ]; do
		[ "$(date +%s)" -lt "$_se" ] || return 1
		sleep 0.1
	done
}

knot_stop() {
	_d=$KNOT_DIR/$1
	[ -f "$_d/pid" ] || return 0
	_p=$(cat "$_d/pid")
	kill "$_p" 2>/dev/null
	_i=0
	while kill -0 "$_p" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -9 "$_p" 2>/dev/null
	rm -f "$_d/pid"
}

knot_stop_all() {
	for _s in $KNOT_SERVERS; do
		knot_stop "$_s"
	done
}

knot_txt() {
	printf '%s' "$1" | fold -w 255 | sed 's/.*/"&"/' | tr '\n' ' '
}

knot_pair() {
	_pz=$1; _pp=$2; _ps=$3; _pt=$4; _pk=${5:-}
	cat > "$KNOT_DIR/$_pz.zone" <<Z || return 1
\$TTL $_pt
@ SOA ns1.$_pz. host.invalid. 1 60 60 600 1
@ NS ns1
@ NS ns2
ns1 A $_pp
ns2 A $_ps
Z
	knot_server prim "$_pp" || return 1
	if [ -n "$_pk" ]; then
		KNOT_TSIG_SECRET=$(openssl rand -base64 32) || return 1
		KNOT_TSIG_FILE=$KNOT_DIR/tsig.key
		(umask 077 && cat > "$KNOT_TSIG_FILE") <<K || return 1
key "$_pk" {
	algorithm hmac-sha256;
	secret "$KNOT_TSIG_SECRET";
};
K
		knot_key prim "$_pk" "$KNOT_TSIG_SECRET"
		knot_zone prim "$_pz" "$KNOT_DIR/$_pz.zone" update="$_pk" \
		    notify="$_ps" || return 1
	else
		knot_zone prim "$_pz" "$KNOT_DIR/$_pz.zone" notify="$_ps" ||
		    return 1
	fi
	knot_server sec "$_ps" || return 1
	knot_secondary sec "$_pz" "$_pp" || return 1
	knot_start prim && knot_start sec
}
