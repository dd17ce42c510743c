# t/lib/etcd.sh - run etcd clusters on loopback for keyturn's tests
#
# Source it from a test (POSIX sh), then:
#
#   etcd_available          0 when etcd and etcdctl are installed
#   etcd_init               temp dir $KT_ETCD_DIR, the ports $KT_ETCD_CPORT
#                           (clients) and $KT_ETCD_PPORT (peers), free on
#                           every address and never 2379/2380 (a system
#                           etcd's), and an EXIT trap that stops every
#                           member and removes the directory (kept with
#                           KT_ETCD_KEEP=1)
#   etcd_cluster N [tls]    N members (1-3) m1..mN, member i on
#                           127.0.0.i, started and healthy;
#                           $KT_ETCD_ENDPOINTS lists their client URLs. tls:
#                           certificates from contrib/etcd/mkcerts in
#                           $KT_ETCD_PKI, every member configured from
#                           contrib/etcd/etcd-member.conf.yml (client
#                           certificates required, peers over TLS)
#   etcd_url NAME           NAME's client URL
#   etcd_kill NAME          kill -9, and wait until it is gone
#   etcd_stop NAME          SIGTERM, and wait until it is gone
#   etcd_start NAME         start it again on its data, wait until healthy
#   etcd_leader             the name of the raft leader (asks until the
#                           members that answer agree on one)
#   etcd_wait_healthy NAME  until NAME answers "healthy"
#   etcdctl_ ARG...         etcdctl on the cluster's running members (TLS
#                           options, and --user $KT_ETCD_ROOT when set)
#   etcd_logs               the end of every member's log (for failures)
#   etcd_stop_all
#   etcd_reset              every member stopped and removed: the next
#                           etcd_cluster starts a new cluster
#
# Each member has $KT_ETCD_DIR/NAME: data/, log, cmd (how to start it), pid.
# Raft runs fast (heartbeat 50 ms, election 500 ms) so that a lost leader
# is replaced within a second or two. Nothing leaves 127.0.0.0/8.
#
# Every wait here is for evidence (an answer, a process gone); its bound
# (KT_ETCD_HANG seconds, 60) only catches a member that never gets there.

ETCD=${ETCD:-$(command -v etcd 2>/dev/null || echo /usr/bin/etcd)}
ETCDCTL=${ETCDCTL:-$(command -v etcdctl 2>/dev/null || echo /usr/bin/etcdctl)}
KT_ETCD_HANG=${KT_ETCD_HANG:-60}

. "$top_srcdir/t/lib/listening.sh"

etcd_available() {
	[ -x "$ETCD" ] && [ -x "$ETCDCTL" ]
}

etcd_init() {
	KT_ETCD_DIR=$(mktemp -d /tmp/kt-etcd.XXXXXX) || return 1
	KT_ETCD_CPORT=$(free_port)
	KT_ETCD_PPORT=$(free_port)
	while [ "$KT_ETCD_PPORT" = "$KT_ETCD_CPORT" ]; do
		KT_ETCD_PPORT=$(free_port)
	done
	KT_ETCD_MEMBERS=
	KT_ETCD_TLS=
	KT_ETCD_ROOT=
	trap 'etcd_stop_all; [ -n "${KT_ETCD_KEEP:-}" ] || rm -rf "$KT_ETCD_DIR"' EXIT
	trap 'exit 1' INT TERM HUP
}

# etcd_ip NAME - m3 is on 127.0.0.3
etcd_ip() {
	printf '127.0.0.%s' "${1#m}"
}

etcd_scheme() {
	if [ -n "$KT_ETCD_TLS" ]; then printf https; else printf http; fi
}

etcd_url() {
	printf '%s://%s:%s' "$(etcd_scheme)" "$(etcd_ip "$1")" "$KT_ETCD_CPORT"
}

# etcd_conf NAME N - NAME's config from contrib's example, moved onto
# loopback: member1..3 -> m1..m3, 10.0.0.i -> 127.0.0.i, the test's ports
# and directories, raft timing for tests, the log to a file
etcd_conf() {
	_i=${1#m}
	_ic=
	_j=1
	while [ "$_j" -le "$2" ]; do
		_ic="$_ic${_ic:+,}m$_j=https://127.0.0.$_j:$KT_ETCD_PPORT"
		_j=$((_j + 1))
	done
	sed -e "/^initial-cluster:/d" \
	    -e "/^heartbeat-interval:/d" -e "/^election-timeout:/d" \
	    -e "/^log-outputs:/d" \
	    -e "s/member1/m$_i/g" -e "s/10\.0\.0\.1:/127.0.0.$_i:/g" \
	    -e "s/:2379/:$KT_ETCD_CPORT/g" -e "s/:2380/:$KT_ETCD_PPORT/g" \
	    -e "s#/etc/etcd/pki#$KT_ETCD_PKI#g" \
	    -e "s#/var/lib/etcd/keyturn#$KT_ETCD_DIR/$1/data#g" \
	    -e "s/keyturn-fleet/kt-$$/" \
	    "$top_srcdir/contrib/etcd/etcd-member.conf.yml" || return 1
	echo "initial-cluster: $_ic"
	echo "heartbeat-interval: 50"
	echo "election-timeout: 500"
	echo "log-outputs: [$KT_ETCD_DIR/$1/log]"
	# a token expires soon after its last use: re-authentication is
	# tested without a long wait
	echo "auth-token-ttl: ${KT_ETCD_TOKEN_TTL:-300}"
}

# etcd_cmd NAME N - the command line that starts NAME
etcd_cmd() {
	_d=$KT_ETCD_DIR/$1
	_ip=$(etcd_ip "$1")
	if [ -n "$KT_ETCD_TLS" ]; then
		etcd_conf "$1" "$2" > "$_d/etcd.yml" || return 1
		echo "$ETCD --config-file $_d/etcd.yml"
		return 0
	fi
	_ic=
	_j=1
	while [ "$_j" -le "$2" ]; do
		_ic="$_ic${_ic:+,}m$_j=http://127.0.0.$_j:$KT_ETCD_PPORT"
		_j=$((_j + 1))
	done
	echo "$ETCD --name $1 --data-dir $_d/data" \
	    "--listen-client-urls http://$_ip:$KT_ETCD_CPORT" \
	    "--advertise-client-urls http://$_ip:$KT_ETCD_CPORT" \
	    "--listen-peer-urls http://$_ip:$KT_ETCD_PPORT" \
	    "--initial-advertise-peer-urls http://$_ip:$KT_ETCD_PPORT" \
	    "--initial-cluster $_ic --initial-cluster-state new" \
	    "--initial-cluster-token kt-$$" \
	    "--heartbeat-interval 50 --election-timeout 500" \
	    "--auth-token-ttl ${KT_ETCD_TOKEN_TTL:-300}" \
	    "--logger zap --log-outputs $_d/log"
}

etcd_cluster() {
	_n=$1
	[ "${2:-}" = tls ] && KT_ETCD_TLS=1
	if [ -n "$KT_ETCD_TLS" ]; then
		KT_ETCD_PKI=$KT_ETCD_DIR/pki
		_ms=
		_i=1
		while [ "$_i" -le "$_n" ]; do
			_ms="$_ms m$_i=127.0.0.$_i"
			_i=$((_i + 1))
		done
		# on loopback every member connects from 127.0.0.1
		MKCERTS_SAN=IP:127.0.0.1 \
		    sh "$top_srcdir/contrib/etcd/mkcerts" "$KT_ETCD_PKI" $_ms ||
		    return 1
	fi
	KT_ETCD_ENDPOINTS=
	_i=1
	while [ "$_i" -le "$_n" ]; do
		mkdir -p "$KT_ETCD_DIR/m$_i" || return 1
		etcd_cmd "m$_i" "$_n" > "$KT_ETCD_DIR/m$_i/cmd" || return 1
		KT_ETCD_MEMBERS="$KT_ETCD_MEMBERS m$_i"
		KT_ETCD_ENDPOINTS="$KT_ETCD_ENDPOINTS${KT_ETCD_ENDPOINTS:+,}$(etcd_url "m$_i")"
		_i=$((_i + 1))
	done
	# all at once: the first waits for a quorum of the others
	for _m in $KT_ETCD_MEMBERS; do
		etcd_launch "$_m"
	done
	for _m in $KT_ETCD_MEMBERS; do
		etcd_wait_healthy "$_m" || return 1
	done
}

# etcd_launch NAME - start it, its pid in $KT_ETCD_DIR/NAME/pid
etcd_launch() {
	_d=$KT_ETCD_DIR/$1
	# shellcheck disable=SC2046
	$(cat "$_d/cmd") >>"$_d/out" 2>&1 &
	echo $! > "$_d/pid"
}

etcd_start() {
	etcd_launch "$1"
	etcd_wait_healthy "$1"
}

# etcdctl_at URL ARG... - etcdctl on one endpoint
etcdctl_at() {
	_u=$1
	shift
	if [ -n "$KT_ETCD_TLS" ]; then
		set -- --cacert "$KT_ETCD_PKI/ca.pem" \
		    --cert "$KT_ETCD_PKI/keyturn-leader.pem" \
		    --key "$KT_ETCD_PKI/keyturn-leader.key" "$@"
	fi
	[ -n "$KT_ETCD_ROOT" ] && set -- --user "$KT_ETCD_ROOT" "$@"
	"$ETCDCTL" --endpoints "$_u" --dial-timeout 2s --command-timeout 5s "$@"
}

# etcdctl_ ARG... - etcdctl on the members that run
etcdctl_() {
	_eps=
	for _m in $KT_ETCD_MEMBERS; do
		etcd_running "$_m" && _eps="$_eps${_eps:+,}$(etcd_url "$_m")"
	done
	etcdctl_at "$_eps" "$@"
}

etcd_running() {
	[ -f "$KT_ETCD_DIR/$1/pid" ] && kill -0 "$(cat "$KT_ETCD_DIR/$1/pid")" 2>/dev/null
}

etcd_wait_healthy() {
	_se=$(($(date +%s) + KT_ETCD_HANG))
	until etcdctl_at "$(etcd_url "$1")" endpoint health >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$_se" ] || ! etcd_running "$1"; then
			echo "etcd_wait_healthy $1: not healthy" >&2
			etcd_logs >&2
			return 1
		fi
		sleep 0.1
	done
}

# etcd_gone NAME - wait for its process to end; no pid left
etcd_gone() {
	_p=$(cat "$KT_ETCD_DIR/$1/pid")
	_i=0
	while kill -0 "$_p" 2>/dev/null && [ $_i -lt $((KT_ETCD_HANG * 10)) ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	wait "$_p" 2>/dev/null
	rm -f "$KT_ETCD_DIR/$1/pid"
}

etcd_kill() {
	etcd_running "$1" || return 0
	kill -9 "$(cat "$KT_ETCD_DIR/$1/pid")" 2>/dev/null
	etcd_gone "$1"
}

etcd_stop() {
	etcd_running "$1" || return 0
	kill "$(cat "$KT_ETCD_DIR/$1/pid")" 2>/dev/null
	etcd_gone "$1"
}

etcd_stop_all() {
	for _m in ${KT_ETCD_MEMBERS:-}; do
		etcd_kill "$_m"
	done
}

etcd_reset() {
	etcd_stop_all
	for _m in $KT_ETCD_MEMBERS; do
		rm -rf "${KT_ETCD_DIR:?}/$_m"
	done
	KT_ETCD_MEMBERS=
	KT_ETCD_TLS=
	KT_ETCD_ROOT=
	KT_ETCD_ENDPOINTS=
}

# etcd_leader - the member every running member names as leader
etcd_leader() {
	_se=$(($(date +%s) + KT_ETCD_HANG))
	while :; do
		_ids=$(etcdctl_ endpoint status -w json 2>/dev/null |
		    tr '{' '\n' | sed -n 's/.*"leader":\([0-9]*\).*/\1/p' |
		    sort -u)
		if [ -n "$_ids" ] && [ "$_ids" != 0 ] &&
		    [ "$(echo "$_ids" | wc -l)" = 1 ]; then
			_name=$(etcdctl_ member list -w json 2>/dev/null |
			    tr '{' '\n' |
			    sed -n "s/.*\"ID\":$_ids,\"name\":\"\([^\"]*\)\".*/\1/p")
			[ -n "$_name" ] && { echo "$_name"; return 0; }
		fi
		[ "$(date +%s)" -lt "$_se" ] || return 1
		sleep 0.1
	done
}

etcd_logs() {
	for _m in ${KT_ETCD_MEMBERS:-}; do
		echo "--- etcd $_m (last 15 lines)"
		tail -n 15 "$KT_ETCD_DIR/$_m/log" "$KT_ETCD_DIR/$_m/out" 2>/dev/null
	done
}
