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
#                           $W/keyturn.log; fails the test if it fails,
#                           after trying again a write refused because the
#                           domain changed meanwhile)
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
	_try=0
	# a write that met the rotation's own write of the domain is refused
	# whole ("... nothing was written, try again"): an operator tries
	# again, and so does this, a few times
	until "$KEYTURN" -c "$W/k$_i.conf" "$@" >"$W/cli.out" 2>&1; do
		cat "$W/cli.out" >>"$W/keyturn.log"
		_try=$((_try + 1))
		grep -q "nothing was written, try again" "$W/cli.out" &&
		    [ $_try -lt 5 ] ||
		    kt_fail "keyturn -c k$_i.conf $* (see $W/keyturn.log)"
	done
	cat "$W/cli.out" >>"$W/keyturn.log"
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

# fl_needs_dns - what a test with Knot and verified streams needs
fl_needs_dns() {
	knot_available || kt_skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
	command -v nsupdate >/dev/null || kt_skip "nsupdate missing (Debian: dnsutils)"
	"$PYTHON3" -c 'import dns.message' 2>/dev/null ||
	    kt_skip "$PYTHON3 lacks dnspython (python3-dnspython)"
}

# fl_init NAME - $W and $S (kt_init), etcd, and Knot when t/lib/knot.sh
# was sourced; at exit the streams ($SPIDS), the daemons, Knot and etcd
# are stopped and their directories removed
fl_init() {
	etcd_available ||
	    kt_skip "etcd or etcdctl missing (Debian: etcd-server, etcd-client)"
	kt_init "$1"
	FL_KNOT=
	if command -v knot_init >/dev/null 2>&1; then
		knot_init || kt_fail "knot_init"
		FL_KNOT=1
	fi
	etcd_init || kt_fail "etcd_init"
	trap fl_exit EXIT
	trap 'exit 1' INT TERM
}

fl_exit() {
	for _p in ${SPIDS:-}; do kill "$_p" 2>/dev/null; done
	fl_cleanup
	kt_cleanup
	if [ -n "${FL_KNOT:-}" ]; then
		knot_stop_all
		rm -rf "$KNOT_DIR"
	fi
	etcd_stop_all
	rm -rf "$KT_ETCD_DIR"
}

# fl_streams MSG DNS DNS I... - t/lib/ztstream.py sending MSG to each
# daemon I, every message verified at both DNS servers (ADDR:PORT) when
# signed, into $W/streamI.log; their pids in $SPIDS
fl_streams() {
	_msg=$1 _dns1=$2 _dns2=$3
	shift 3
	rm -f "$W/stop"
	SPIDS=
	for _i; do
		"$PYTHON3" "$top_srcdir/t/lib/ztstream.py" stream \
		    --miltc "$MILTC" --socket "unix:$S/s$_i" --msg "$_msg" \
		    --dns "$_dns1" --dns "$_dns2" --out "$W/stream$_i.log" \
		    --stop "$W/stop" --max $((3 * FL_HANG)) \
		    --keep "$W/failed$_i" 2> "$W/stream$_i.err" &
		SPIDS="$SPIDS $!"
	done
}

# fl_streams_stop - the streams end; each must have run without error
fl_streams_stop() {
	touch "$W/stop"
	for _p in $SPIDS; do
		wait "$_p" || kt_fail "a stream failed"
	done
	SPIDS=
}

# fl_streams_check DOMAIN I [CHECK-OPTIONS...] - daemon I's stream
# against the history of DOMAIN in $W/history.json (ztstream check)
fl_streams_check() {
	_d=$1 _i=$2
	shift 2
	"$PYTHON3" "$top_srcdir/t/lib/ztstream.py" check \
	    --log "$W/stream$_i.log" --history "$W/history.json" \
	    --domain "$_d" "$@" > "$W/check$_i.out"
	_rc=$?
	sed "s/^/  daemon $_i: /" "$W/check$_i.out"
	[ $_rc = 0 ] || kt_fail "daemon $_i's stream does not match the history"
}

# fl_mirrors_equal I... - each daemon's mirror holds what etcd holds:
# compared with a mirror made afresh from daemon 1's configuration
fl_mirrors_equal() {
	sed "s#^KeyStore .*#KeyStore $W/fresh#" "$W/k1.conf" > "$W/fresh.conf"
	rm -rf "$W/fresh"
	"$KEYTURN" -c "$W/fresh.conf" init >/dev/null 2>&1 &&
	    "$KEYTURN" -c "$W/fresh.conf" list > /dev/null 2>&1 ||
	    kt_fail "a fresh mirror cannot be made"
	for _i; do
		diff -r -x lock -x generation -x journal -x keyturn.keystore \
		    -x .fleet-revision -x .fleet-bad \
		    "$W/fresh" "$W/ks$_i" > "$W/diff$_i" ||
		    kt_fail "mirror $_i differs from etcd: $(head -5 "$W/diff$_i")"
	done
}

# fl_alive I... - the streams and these daemons are up, else the test fails
fl_alive() {
	for _p in ${SPIDS:-}; do
		kill -0 "$_p" 2>/dev/null || kt_fail "a stream stopped"
	done
	for _i; do
		kill -0 "$(fl_pid "$_i")" 2>/dev/null ||
		    kt_fail "keyturnd $_i died"
	done
}
