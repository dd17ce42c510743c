# t/lib/unbound.sh - a caching resolver (Unbound) on loopback for keyturn's
# tests: what a receiver's resolver would have cached
#
# Source it from a test (POSIX sh), then:
#
#   ub_available                    0 when unbound is installed
#   ub_start DIR ADDR PORT ZONE=STUBADDR[,STUBADDR...]...
#                                   unbound in the foreground on ADDR@PORT
#                                   (run as the invoking user, its files in
#                                   DIR), answering recursively from the
#                                   authoritative servers STUBADDR (each
#                                   ADDR@PORT) of each ZONE, and caching as
#                                   a receiver's resolver would; waits
#                                   until it answers SOA of the first ZONE.
#                                   Every zone it is to reach needs its
#                                   servers here: the addresses of a
#                                   referral have no port, and the tests'
#                                   servers are not on 53
#   ub_stop DIR
#
# Nothing is sent outside 127.0.0.0/8. The wait only catches an unbound
# that never answers (UB_HANG, 60 s).

UNBOUND=${UNBOUND:-$(command -v unbound 2>/dev/null || echo /usr/sbin/unbound)}
UB_HANG=${UB_HANG:-60}

ub_available() {
	[ -x "$UNBOUND" ]
}

ub_start() {
	_ud=$1; _ua=$2; _up=$3; shift 3
	_uz=${1%%=*}
	mkdir -p "$_ud" || return 1
	{
		echo "server:"
		echo "    username: \"\""
		echo "    chroot: \"\""
		echo "    directory: \"$_ud\""
		echo "    pidfile: \"$_ud/unbound.pid\""
		echo "    logfile: \"$_ud/unbound.log\""
		echo "    use-syslog: no"
		echo "    do-daemonize: no"
		echo "    interface: $_ua"
		echo "    port: $_up"
		echo "    access-control: 127.0.0.0/8 allow"
		echo "    do-ip6: no"
		echo "    do-not-query-localhost: no"
		echo "    module-config: \"iterator\""
		for _us in "$@"; do
			echo "    local-zone: \"${_us%%=*}\" nodefault"
			echo "    domain-insecure: \"${_us%%=*}\""
		done
		echo "    num-threads: 1"
		echo "    so-reuseport: no"
		echo "    outgoing-range: 64"
		echo "    qname-minimisation: no"
		echo "    target-fetch-policy: \"0 0 0 0 0\""
		echo "    harden-referral-path: no"
		echo "    prefetch: no"
		echo "    verbosity: 1"
		echo "remote-control:"
		echo "    control-enable: no"
		for _us in "$@"; do
			echo "stub-zone:"
			echo "    name: \"${_us%%=*}\""
			for _ub in $(echo "${_us#*=}" | tr ',' ' '); do
				echo "    stub-addr: $_ub"
			done
		done
	} > "$_ud/unbound.conf"
	"$UNBOUND" -d -c "$_ud/unbound.conf" > "$_ud/unbound.out" 2>&1 &
	echo $! > "$_ud/pid"
	_ue=$(($(date +%s) + UB_HANG))
	until "$KDIG" @"$_ua" -p "$_up" +short +timeout=1 +retry=0 SOA "$_uz" \
	    2>/dev/null | grep -q .; do
		if [ "$(date +%s)" -ge "$_ue" ] ||
		    ! kill -0 "$(cat "$_ud/pid")" 2>/dev/null; then
			echo "ub_start: unbound does not answer" >&2
			cat "$_ud/unbound.out" "$_ud/unbound.log" >&2 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
}

ub_stop() {
	[ -f "$1/pid" ] || return 0
	_upid=$(cat "$1/pid")
	kill "$_upid" 2>/dev/null
	_ui=0
	while kill -0 "$_upid" 2>/dev/null && [ $_ui -lt 50 ]; do
		sleep 0.1; _ui=$((_ui + 1))
	done
	kill -9 "$_upid" 2>/dev/null
	rm -f "$1/pid"
}
