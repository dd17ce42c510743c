#!/bin/sh
# milter_sockcheck - a Socket keyturnd cannot listen on is found by -n,
# with the file and line of the Socket setting, and at start-up keyturnd
# exits 1 with a log line that says why: a unix path longer than libmilter
# binds (the byte counts), a directory that does not exist, a file in the
# socket's place, a bad inet host, an inet port already taken (the errno).
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_sockcheck
command -v timeout >/dev/null 2>&1 || kt_skip "timeout missing (coreutils)"
B=${S:-$W}			# a short directory for the sockets that fit
if [ ${#B} -gt 64 ]; then	# a deep build directory and no $S
	B=$(mktemp -d /tmp/kt.XXXXXX) || kt_fail "mktemp"
	trap 'kt_cleanup; rm -rf "$B"' EXIT
fi

# sc_conf SPEC - $W/keyturn.conf with "Socket SPEC" on line 4
sc_conf() {
	{
		echo "# milter_sockcheck"
		echo "KeyStore $KS"
		echo "LogLevel debug"
		echo "Socket $1"
		[ "$(id -u)" = 0 ] && echo "AllowRoot yes"
	} >"$W/keyturn.conf"
}

# sc_n_fails TEXT - keyturnd -n refuses the Socket of line 4, saying TEXT
sc_n_fails() {
	if "$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1; then
		kt_fail "-n accepted $(sed -n 4p "$W/keyturn.conf")"
	fi
	grep -qF "keyturnd: $W/keyturn.conf:4: Socket \"" "$W/n.out" ||
	    kt_fail "-n does not name keyturn.conf:4: $(cat "$W/n.out")"
	grep -qF -- "$1" "$W/n.out" ||
	    kt_fail "-n does not say \"$1\": $(cat "$W/n.out")"
}

# sc_start_fails TEXT - keyturnd -f exits 1 at start-up, its log saying TEXT
sc_start_fails() {
	# the bound only catches a keyturnd that serves instead of exiting
	timeout 60 "$KEYTURND" -f -c "$W/keyturn.conf" >"$W/start.out" 2>&1
	rc=$?
	[ $rc = 1 ] || kt_fail "keyturnd on $(sed -n 4p "$W/keyturn.conf")" \
	    "exited $rc, want 1: $(cat "$W/start.out")"
	grep -qF -- "$1" "$W/start.out" ||
	    kt_fail "start-up log does not say \"$1\": $(cat "$W/start.out")"
	if grep -q "libmilter message above" "$W/start.out"; then
		kt_fail "start-up log points elsewhere: $(cat "$W/start.out")"
	fi
}

# sc_path DIR N - DIR/ followed by x's, N bytes in all (at least DIR/x)
sc_path() {
	_p="$1/x"
	while [ ${#_p} -lt "$2" ]; do _p="${_p}x"; done
	echo "$_p"
}

# a unix path too long for libmilter: both byte counts, at line 4
long=$(sc_path "$W" 110)
sc_conf "unix:$long"
sc_n_fails "unix socket path is ${#long} bytes; the limit is "
lim=$(sed -n 's/.*; the limit is \([0-9][0-9]*\)$/\1/p' "$W/n.out")
[ -n "$lim" ] && [ "$lim" -lt 110 ] || kt_fail "no limit in $(cat "$W/n.out")"
sc_start_fails "$W/keyturn.conf:4: Socket \"unix:$long\": unix socket path is \
${#long} bytes; the limit is $lim"
kt_ok "-n and start-up: a ${#long}-byte socket path, over the $lim-byte limit"

# a path of exactly the limit binds; one byte more is refused
if [ $((${#B} + 2)) -le "$lim" ]; then
	p=$(sc_path "$B" "$lim")
	sc_conf "unix:$p"
	"$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1 ||
	    kt_fail "-n refused a $lim-byte path: $(cat "$W/n.out")"
	kt_launch
	kt_ready "$p"
	kt_stop
	sc_conf "unix:${p}x"
	sc_n_fails "unix socket path is $((lim + 1)) bytes; the limit is $lim"
	kt_ok "a $lim-byte socket path listens, $((lim + 1)) bytes do not"
else
	kt_ok "$B too long for a $lim-byte path: limit case skipped"
fi

# the socket's directory does not exist
sc_conf "unix:$B/nodir/sock"
sc_n_fails "directory $B/nodir does not exist"
sc_start_fails "cannot listen: $W/keyturn.conf:4: \
Socket \"unix:$B/nodir/sock\": directory $B/nodir does not exist"
kt_ok "-n and start-up: the socket's directory does not exist"

# the socket's directory is a file
: >"$B/file"
sc_conf "local:$B/file/sock"
sc_n_fails "$B/file is not a directory"
sc_start_fails "$B/file is not a directory"
kt_ok "-n and start-up: the socket's directory is a file"

# a file in the socket's place (libmilter replaces only a socket)
sc_conf "unix:$B/file"
sc_n_fails "$B/file exists and is not a socket"
sc_start_fails "$B/file exists and is not a socket"
[ -f "$B/file" ] || kt_fail "the file in the socket's place is gone"
kt_ok "-n and start-up: a file in the socket's place"

# inet: the host does not fit the family
sc_conf "inet:8891@[::1]"
sc_n_fails "[::1] is not an IPv4 address"
kt_ok "-n: an IPv6 host for inet:"

# an inet port that another keyturnd holds: -n cannot know, the start says
port=$(free_port)
sc_conf "inet:$port@127.0.0.1"
"$KEYTURND" -n -c "$W/keyturn.conf" >"$W/n.out" 2>&1 ||
    kt_fail "-n refused a free port: $(cat "$W/n.out")"
kt_launch
i=0
until ss -Hltn "sport = :$port" | grep -q .; do
	kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd died at start"
	i=$((i + 1))
	[ $i -gt 200 ] && kt_fail "keyturnd did not listen on port $port"
	sleep 0.05
done
sc_start_fails "inet:$port@127.0.0.1: cannot listen: Address already in use"
kt_stop
kt_ok "start-up: a taken port is logged with its errno"
exit 0
