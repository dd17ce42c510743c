#!/bin/sh
# milter_socket - the unix socket gets SocketMode (default 0660) even when
# keyturnd inherits umask 000: no local user outside the group can connect.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_socket
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_msg "$W/m.eml" "From: alice@example.com"

# sockmode - the socket's permission bits, octal
sockmode() {
	stat -c %a "$S/sock" 2>/dev/null || echo none
}

# start_umask000 [CONF LINES...] - keyturnd started with umask 000
start_umask000() {
	kt_conf "$@"
	saved=$(umask)
	umask 000
	kt_start
	umask "$saved"
}

start_umask000
[ "$(sockmode)" = 660 ] ||
    kt_fail "umask 000: socket mode $(sockmode), want 660"
kt_miltc --client 127.0.0.1 "$W/m.eml" >"$W/m.txt" || kt_fail "miltc"
grep -q "	insheader	0	DKIM-Signature	" "$W/m.txt" ||
    kt_fail "no signature through the 0660 socket"
kt_ok "umask 000, no SocketMode: socket 0660"
kt_stop

start_umask000 "SocketMode 0600"
[ "$(sockmode)" = 600 ] ||
    kt_fail "umask 000: socket mode $(sockmode), want 600"
kt_ok "umask 000, SocketMode 0600: socket 0600"
kt_stop
exit 0
