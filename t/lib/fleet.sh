# t/lib/fleet.sh - keyturnd daemons of one fleet, for t/fleet_*.sh
#
# Source after t/milter_lib.sh (kt_init gives $W and $S) and
# t/lib/etcd.sh (etcd_cluster gives $KT_ETCD_ENDPOINTS). Daemon I
# (1, 2, 3...) has its configuration $W/kI.conf, its mirror $W/ksI, its
# socket $S/sI, its log $W/kI.log and its pid in $FPIDI.
#
#   fl_kek                  $W/kek: 32 random bytes, 0600
#   fl_conf I [LINE...]     $W/kI.conf: the fleet on $KT_ETCD_ENDPOINTS,
#                           FleetLeaseTTL 2s, FleetStaleAfter 3s,
#                           LogLevel debug, and the lines given
#   fl_cli I ARG...         keyturn -c $W/kI.conf ARG... (output kept in
#                           $W/keyturn.log; fails the test if it fails)
#   fl_start I              keyturnd -f, until its socket listens
#   fl_stop I               SIGTERM, and it must exit 0
#   fl_pid I                its pid, or nothing
#   fl_leader               the daemon that holds P leader (its index),
#                           asked of etcd until one does
#   fl_until WHY CMD...     CMD polled until it succeeds; the test fails
#                           after $FL_HANG seconds with WHY
#   fl_cleanup              every daemon killed (the EXIT trap's part)
#
# Every wait is for evidence; the bound (FL_HANG, 120 s) only catches a
# hang.

FL_HANG=${FL_HANG:-120}
FL_PREFIX=${FL_PREFIX:-/keyturn/}

fl_kek() {
	head -c 32 /dev/urandom > "$W/kek" && chmod 600 "$W/kek" ||
	    kt_fail "cannot write $W/kek"
}

fl_conf() {
	_i=$1
	shift
	{
		echo "Socket unix:$S/s$_i"
		echo "KeyStore $W/ks$_i"
		echo "PidFile $W/k$_i.pid"
		case "$*" in *LogLevel*) ;; *) echo "LogLevel debug" ;; esac
		[ "$(id -u)" = 0 ] && echo "AllowRoot yes"
		echo "FleetEndpoints $KT_ETCD_ENDPOINTS"
		echo "FleetKEK $W/kek"
		case "$*" in *FleetLeaseTTL*) ;; *) echo "FleetLeaseTTL 2s" ;; esac
		case "$*" in *FleetStaleAfter*) ;; *) echo "FleetStaleAfter 3s" ;; esac
		for _l in "$@"; do echo "$_l"; done
	} > "$W/k$_i.conf"
}

fl_cli() {
	_i=$1
	shift
	"$KEYTURN" -c "$W/k$_i.conf" "$@" >>"$W/keyturn.log" 2>&1 ||
	    kt_fail "keyturn -c k$_i.conf $* (see $W/keyturn.log)"
}

fl_pid() {
	eval "echo \${FPID$1:-}"
}

fl_start() {
	rm -f "$S/s$1"
	"$KEYTURND" -f -c "$W/k$1.conf" >>"$W/k$1.log" 2>&1 &
	eval "FPID$1=$!"
	_p=$(fl_pid "$1")
	_n=0
	while ! listening "$S/s$1"; do
		kill -0 "$_p" 2>/dev/null ||
		    { tail -20 "$W/k$1.log" >&2; kt_fail "keyturnd $1 died at start"; }
		_n=$((_n + 1))
		[ $_n -gt 1200 ] && kt_fail "keyturnd $1: no socket"
		sleep 0.05
	done
}

fl_stop() {
	_p=$(fl_pid "$1")
	kill -TERM "$_p" || kt_fail "keyturnd $1 is gone"
	wait "$_p"
	_rc=$?
	eval "FPID$1="
	[ $_rc = 0 ] || kt_fail "keyturnd $1 exited $_rc after SIGTERM"
}

fl_cleanup() {
	for _v in 1 2 3 4 5 6; do
		_p=$(fl_pid $_v)
		if [ -n "$_p" ]; then
			kill -CONT "$_p" 2>/dev/null
			kill -KILL "$_p" 2>/dev/null
			wait "$_p" 2>/dev/null
		fi
		eval "FPID$_v="
	done
}

fl_until() {
	_why=$1
	shift
	_end=$(($(date +%s) + FL_HANG))
	until "$@"; do
		[ "$(date +%s)" -lt $_end ] ||
		    kt_fail "after $FL_HANG s: $(eval "echo \"$_why\"")"
		sleep 0.2
	done
}

# fl_leader_pid - the pid in P leader, or nothing
fl_leader_pid() {
	etcdctl_ get "${FL_PREFIX}leader" --print-value-only 2>/dev/null |
	    sed -n 's/.*pid=\([0-9]*\).*/\1/p'
}

fl_leader() {
	_end=$(($(date +%s) + FL_HANG))
	while :; do
		_lp=$(fl_leader_pid)
		for _v in 1 2 3 4 5 6; do
			if [ -n "$_lp" ] && [ "$(fl_pid $_v)" = "$_lp" ]; then
				echo "$_v"
				return 0
			fi
		done
		[ "$(date +%s)" -lt $_end ] || return 1
		sleep 0.2
	done
}

# fl_commits I - "REVISION TERM" of each rotation write daemon I committed
fl_commits() {
	sed -n 's/.*fleet: .* committed at revision \([0-9]*\) (leader term \([0-9]*\)).*/\1 \2/p' \
	    "$W/k$1.log"
}

# fl_terms_ok I... - the commits of these daemons, in revision order:
# each term is one daemon's, and terms never interleave (once a term
# has committed, no earlier term does)
fl_terms_ok() {
	for _v; do
		fl_commits "$_v" | sed "s/\$/ $_v/"
	done | sort -n | awk '
	{
		rev = $1; term = $2; d = $3
		if ((term in owner) && owner[term] != d) {
			print "term " term " committed by daemons " owner[term] " and " d
			bad = 1
		}
		owner[term] = d
		if (term < last) {
			print "term " term " committed at revision " rev " after term " last
			bad = 1
		}
		if (term > last) last = term
	}
	END { exit bad }'
}
