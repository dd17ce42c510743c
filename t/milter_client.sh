#!/bin/sh
# milter_client - a client the MTA gives no address for is internal only
# when the MTA calls it "localhost" (Sendmail's local submissions); an
# unknown address otherwise (XCLIENT ADDR=[UNAVAILABLE], a proxy) is
# external and not signed. A client on a unix socket is local.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_client
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_msg "$W/m.eml" "From: alice@example.com"
kt_conf
kt_start

# client NAME WANT MILTC-ARGS... - WANT: signed or unsigned
client() {
	name=$1 want=$2
	shift 2
	kt_miltc "$@" "$W/m.eml" >"$W/$name.txt" || kt_fail "$name: miltc"
	n=$(kt_count "	insheader	0	DKIM-Signature	" "$W/$name.txt")
	case $want in
	signed) [ "$n" = 1 ] || kt_fail "$name: not signed" ;;
	unsigned) [ "$n" = 0 ] || kt_fail "$name: signed" ;;
	esac
}

client unknown unsigned --client unknown
grep -q "not signed: client unknown (unknown) is not internal" \
    "$W/keyturnd.log" || kt_fail "no log line for the unknown client"
client unknown-proxy unsigned --client unknown --client-name proxy.example
kt_ok "no address, not localhost: external, not signed"
client unknown-localhost signed --client unknown --client-name localhost
kt_ok "no address, named localhost: internal, signed"
client unixsock signed --client /var/run/submit.sock --client-name localhost
client loopback signed --client 127.0.0.1
kt_ok "a unix socket client and 127.0.0.1 are internal"
kt_stop
exit 0
