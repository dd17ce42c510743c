# milter_lib.sh - shared by the keyturnd protocol tests (t/milter_*.sh).
#
# Each test gets a work directory $W under $top_builddir/t, a keystore made
# with the keyturn CLI, a keyturnd started in the foreground on a unix
# socket, and t/miltc to play the MTA. Unix sockets live in $S, a short
# directory of the test's own under /tmp (a socket path holds at most 107
# bytes, and the build directory may be anywhere): keyturnd's is $S/sock. Signatures are checked with
# dkimpy (t/milter_verify.py), the records taken from `keyturn dns`.
# A missing tool skips the test (exit 77) unless KEYTURN_REQUIRE_ALL=1.

: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/t/lib/listening.sh"
PYTHON3=${PYTHON3:-/usr/bin/python3}

kt_skip() {
	if [ "${KEYTURN_REQUIRE_ALL:-0}" = 1 ]; then
		echo "FAIL (required): $*" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}

kt_fail() {
	echo "FAIL: $*" >&2
	if [ -n "${W:-}" ] && [ -f "$W/keyturnd.log" ]; then
		echo "--- keyturnd.log (last 30 lines)" >&2
		tail -30 "$W/keyturnd.log" >&2
	fi
	exit 1
}

kt_ok() {
	echo "ok: $*"
}

# kt_find - the first of the given paths that is executable
kt_find() {
	for p in "$@"; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

KEYTURND=$(kt_find "$top_builddir/keyturnd") || kt_skip "keyturnd not built"
command -v ss >/dev/null 2>&1 || kt_skip "ss missing (iproute2)"
MILTC=$(kt_find "$top_builddir/t/miltc") || kt_skip "t/miltc not built"
KEYTURN=${KEYTURN:-$(kt_find "$top_builddir/keyturn" \
    "$top_builddir/keystore/keyturn")} || kt_skip "keyturn CLI not built"
"$PYTHON3" -c 'import dkim' 2>/dev/null ||
    kt_skip "$PYTHON3 lacks dkim (python3-dkim)"

KPID=
S=
# kt_cleanup - at exit: keyturnd killed, the socket directory removed
kt_cleanup() {
	if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then
		kill -KILL "$KPID" 2>/dev/null
		wait "$KPID" 2>/dev/null
	fi
	KPID=
	[ -n "$S" ] && rm -rf "$S"
	S=
}

# kt_init NAME - a fresh work directory $W, keystore $KS and socket
# directory $S (0755: an MTA's user must reach the sockets in it)
kt_init() {
	W="$top_builddir/t/$1.d"
	KS="$W/ks"
	rm -rf "$W"
	mkdir -p "$W" || kt_fail "mkdir $W"
	S=$(mktemp -d /tmp/kt.XXXXXX) && chmod 755 "$S" ||
	    kt_fail "mktemp -d /tmp/kt.XXXXXX"
	trap kt_cleanup EXIT
	trap 'kt_cleanup; exit 1' INT TERM
	kt_cli init
}

kt_cli() {
	"$KEYTURN" -K "$KS" "$@" >>"$W/keyturn.log" 2>&1 ||
	    kt_fail "keyturn $* (see $W/keyturn.log)"
}

# kt_key DOMAIN ALG SELECTOR - a new key, forced active (no DNS here)
kt_key() {
	kt_cli key new "$1" --algorithm "$2" --selector "$3"
	kt_cli activate "$1" "$3" --force
}

# kt_conf [LINES...] - $W/keyturn.conf for our socket and keystore
kt_conf() {
	{
		echo "Socket unix:$S/sock"
		echo "KeyStore $KS"
		echo "PidFile $W/keyturnd.pid"
		case "$*" in *LogLevel*) ;; *) echo "LogLevel debug" ;; esac
		[ "$(id -u)" = 0 ] && echo "AllowRoot yes"
		for l in "$@"; do echo "$l"; done
	} >"$W/keyturn.conf"
}

# kt_start - keyturnd -f in the background, ready when its socket is
kt_start() {
	kt_launch
	kt_ready
}

# kt_launch - keyturnd -f in the background, its pid in KPID
kt_launch() {
	rm -f "$S/sock"
	"$KEYTURND" -f -c "$W/keyturn.conf" >>"$W/keyturnd.log" 2>&1 &
	KPID=$!
}

# kt_signer [PID] - the pid of the signing process that keyturnd PID
# (default KPID) supervises, once there is one (keyturnd(8) PROCESSES)
kt_signer() {
	_i=0
	while :; do
		_c=$(ps -o pid= --ppid "${1:-$KPID}" 2>/dev/null | tr -d ' ')
		[ -n "$_c" ] && { echo "$_c"; return 0; }
		_i=$((_i + 1))
		[ $_i -gt 200 ] && return 1
		sleep 0.05
	done
}

# kt_ready [SOCKET] - until keyturnd's socket ($S/sock) listens; fails if
# keyturnd died (the bound only catches a keyturnd that never listens)
kt_ready() {
	i=0
	while ! listening "${1:-$S/sock}"; do
		kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd died at start"
		i=$((i + 1))
		[ $i -gt 600 ] && kt_fail "keyturnd socket did not appear"
		sleep 0.05
	done
}

# kt_sigstate PID - from one read of /proc/PID/status: "blocked" when HUP, INT
# and TERM are blocked, "serving" when they are caught and not blocked,
# else "early"
kt_sigstate() {
	blk=0 cgt=0
	while read -r k v; do
		case $k in
		SigBlk:) blk=$(( 0x$v & 0x4003 )) ;;
		SigCgt:) cgt=$(( 0x$v & 0x4003 )) ;;
		esac
	done <"/proc/$1/status"
	if [ "$blk" = $(( 0x4003 )) ]; then
		echo blocked
	elif [ "$cgt" = $(( 0x4003 )) ]; then
		echo serving
	else
		echo early
	fi
} 2>/dev/null

# kt_handles_signals PID - until keyturnd has blocked or caught HUP, INT
# and TERM (before that, at exec, a SIGHUP would kill it as it would any
# process); the bound only catches one that never does
kt_handles_signals() {
	i=0
	while [ "$(kt_sigstate "$1")" = early ]; do
		kill -0 "$1" 2>/dev/null || kt_fail "keyturnd died at start"
		i=$((i + 1))
		[ $i -gt 20000 ] && kt_fail "HUP/INT/TERM never blocked at start-up"
	done
}

# kt_stop - SIGTERM; fails unless keyturnd exits 0
kt_stop() {
	kill -TERM "$KPID" || kt_fail "keyturnd is gone"
	wait "$KPID"
	rc=$?
	KPID=
	[ $rc = 0 ] || kt_fail "keyturnd exited $rc after SIGTERM"
}

# kt_miltc ARGS... - the MTA side, against our socket
kt_miltc() {
	"$MILTC" -s "unix:$S/sock" -t 30 "$@"
}

# kt_msg FILE FROM-LINES... - a small message; each FROM-LINES argument is
# one header line ("From: a@b"), "" for none
kt_msg() {
	f=$1
	shift
	{
		for l in "$@"; do [ -n "$l" ] && printf '%s\n' "$l"; done
		printf 'To: bob@example.org\n'
		printf 'Subject: keyturn test\n'
		printf 'Date: Sun, 22 Nov 2026 21:00:00 +0000\n'
		printf 'Message-ID: <%s@example.com>\n' "$(basename "$f")"
		printf '\n'
		printf 'Hello,\n\nthis is a test message.\n'
	} >"$f"
}

# kt_corpus DNSPORT - the keystore of the t/data corpus (each of its From
# domains with an rsa key r1 and an ed25519 key e1, all active), its
# records served by Knot on 127.0.0.1:DNSPORT, and OpenDKIM's verifier
# resolving through it; the test must have sourced t/lib/verify.sh
kt_corpus() {
	for _d in example.org football.example.com example.com; do
		kt_cli domain add "$_d" --algorithms rsa,ed25519
		kt_key "$_d" rsa r1
		kt_key "$_d" ed25519 e1
	done
	vf_dns_keystore "$S" 127.0.0.1 "$1" "$KEYTURN" "$KS" example.org \
	    football.example.com example.com ||
	    kt_fail "knot did not serve the keystore's records"
	vf_opendkim_start "$S" || kt_fail "opendkim verifier did not start"
}

# kt_corpus_verify FILE... - each message as an MTA delivered it after
# kt_corpus: our two signatures, and dkimpy and OpenDKIM's verifier pass
# them through Knot; a foreign signature (other.example, invalid) stays
# and only ours are counted
kt_corpus_verify() {
	_bad=0
	for _m; do
		_f=$(grep -c '^DKIM-Signature:.*d=other.example' "$_m" || true)
		_n=$(($(grep -ci '^DKIM-Signature:' "$_m" || true) - _f))
		if [ "$_n" != 2 ]; then
			echo "$_m: $_n signatures" >&2
			_bad=1
		elif [ "$_f" != 0 ]; then
			_ar=$("$MILTC" -s "unix:$S/opendkim-verify.sock" -t 30 \
			    --client 192.0.2.25 "$_m" | awk -F'\t' \
			    '$4 == "Authentication-Results" { print $5 }')
			[ "$(printf '%s' "$_ar" | grep -o 'dkim=pass' |
			    wc -l)" = 2 ] || { echo "$_m: $_ar" >&2; _bad=1; }
		else
			vf_dkimpy "$S" "$_m" >>"$W/dkimpy.out" 2>&1 ||
			    { echo "$_m: dkimpy failed" >&2; _bad=1; }
			vf_opendkim "$S" "$_m" >>"$W/opendkim.out" 2>&1 ||
			    { echo "$_m: opendkim failed" >&2; _bad=1; }
		fi
	done
	[ $_bad = 0 ] ||
	    kt_fail "verification (see $W/dkimpy.out, $W/opendkim.out)"
}

# kt_bigmsg FILE - a 20 MB message from big@example.com to bob@sink.test
kt_bigmsg() {
	{
		printf 'From: Big Sender <big@example.com>\nTo: bob@sink.test\n'
		printf 'Subject: twenty megabytes\n'
		printf 'Date: Sun, 22 Nov 2026 21:00:00 +0000\n'
		printf 'Message-ID: <big@example.com>\n\n'
		"$PYTHON3" -c '
import sys
line = b"The quick brown fox jumps over the lazy dog, again and again. 0123456789\n"
sys.stdout.buffer.write(line * (20 * 1024 * 1024 // len(line)))'
	} >"$1"
}

# kt_verify FILE... - every message signed and every signature good
kt_verify() {
	"$PYTHON3" "$top_srcdir/t/milter_verify.py" "$KEYTURN" "$KS" "$@" \
	    >"$W/verify.out" ||
	    { cat "$W/verify.out" >&2; kt_fail "dkimpy verification: $*"; }
}

# kt_count PATTERN FILE - lines matching
kt_count() {
	grep -c -- "$1" "$2" || true
}
