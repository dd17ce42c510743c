# t/lib/verify.sh - independent DKIM verification for tests (sourced by sh)
#
# Keys and DNS:
#   vf_keygen DIR NAME rsa|ed25519   DIR/NAME.pem (0600) and DIR/NAME.txt
#                                    (the DKIM TXT record for it)
#   vf_dns_init DIR ADDR PORT        a Knot DNS server for DIR/dns, not started
#   vf_dns_zone DIR ZONE             serve ZONE (SOA, NS); reloads if running
#   vf_dns_txt DIR ZONE NAME TEXT    add a TXT record (split in 255-byte
#                                    strings); NAME relative to ZONE
#   vf_dns_key DIR ZONE SELECTOR KEYNAME   publish a key's DKIM record
#   vf_dns_start DIR / vf_dns_stop DIR
#   vf_dns_addr DIR                  "ADDR PORT" of the server
# Verifiers (each prints one line per signature; 0 when all pass):
#   vf_dkimpy DIR FILE...            dkimpy, keys from the loopback Knot
#   vf_opendkim_start DIR            OpenDKIM (Debian, Mode v) as a milter
#   vf_opendkim DIR FILE...          drive it with t/miltc, read its
#                                    Authentication-Results: every dkim=
#                                    result must be pass
#   vf_opendkim_stop DIR
# A signer, for self-tests and the benchmark:
#   vf_opendkim_signer DIR NAME SOCKET DOMAIN SELECTOR KEY.pem [ALG]
#                                    OpenDKIM in Mode s, relaxed/relaxed
#
# OpenDKIM refuses files under a world-writable directory such as /tmp
# unless RequireSafeKeys is off; the test directories live in /tmp, the
# keys themselves are 0600, so both configurations turn it off (it changes
# nothing else: the signing path is the same).
#
# OpenDKIM resolves through libunbound: its ResolverConfiguration names an
# unbound.conf whose forward-zone sends every query to the loopback Knot
# (any port works; do-not-query-localhost: no). dkimpy gets a dnsfunc
# asking Knot directly (t/lib/dkimverify.py, dnspython).
#
# Needs: knotd, knotc, kdig, openssl, opendkim, python3 with dkim and dns;
# $top_srcdir and $top_builddir (for dkimverify.py and t/miltc).

: "${top_srcdir:=.}" "${top_builddir:=.}"
. "$top_srcdir/t/lib/listening.sh"
VF_PY=${PYTHON3:-/usr/bin/python3}

# vf_keygen - a private key and its DKIM TXT record
vf_keygen() {
	_d=$1 _n=$2 _alg=$3
	mkdir -p "$_d"
	(umask 077
	case $_alg in
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$_d/$_n.pem" 2>/dev/null ;;
	ed25519) openssl genpkey -algorithm ED25519 -out "$_d/$_n.pem" ;;
	*) echo "vf_keygen: $_alg?" >&2; exit 1 ;;
	esac) || return 1
	case $_alg in
	rsa) _p=$(openssl pkey -in "$_d/$_n.pem" -pubout -outform DER |
	    openssl base64 -A) ;;
	ed25519) _p=$(openssl pkey -in "$_d/$_n.pem" -pubout -outform DER |
	    tail -c 32 | openssl base64 -A) ;;
	esac
	echo "v=DKIM1; k=$_alg; p=$_p" >"$_d/$_n.txt"
}

# vf_dns_init - configuration of a Knot server for DIR/dns
vf_dns_init() {
	_d=$1/dns
	mkdir -p "$_d/db" || return 1
	echo "$2 $3" >"$_d/addr"
	: >"$_d/zones"
	echo 1 >"$_d/serial"
	vf_dns_conf "$1"
}

# vf_dns_conf - (re)write knot.conf from the zone list
vf_dns_conf() {
	_d=$1/dns
	read -r _a _p <"$_d/addr"
	{
		cat <<EOF
server:
    rundir: "$_d"
    listen: $_a@$_p
log:
  - target: "$_d/knot.log"
    any: info
database:
    storage: "$_d/db"
control:
    listen: "$_d/knot.sock"
template:
  - id: default
    storage: "$_d"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
EOF
		[ -s "$_d/zones" ] && echo "zone:"
		while read -r _z; do echo "  - domain: $_z"; done <"$_d/zones"
	} >"$_d/knot.conf"
}

# vf_dns_zone_write - the zone file: SOA, NS, then the records added
vf_dns_zone_write() {
	_d=$1/dns _z=$2
	read -r _a _p <"$_d/addr"
	_s=$(cat "$_d/serial")
	{
		echo "\$ORIGIN $_z."
		echo "\$TTL 60"
		echo "@ SOA ns.$_z. hostmaster.$_z. $_s 60 60 3600 60"
		echo "@ NS ns.$_z."
		echo "ns A $_a"
		cat "$_d/$_z.records" 2>/dev/null
	} >"$_d/$_z.zone"
}

# vf_dns_running - is this Knot up?
vf_dns_running() {
	[ -S "$1/dns/knot.sock" ] &&
	    knotc -c "$1/dns/knot.conf" status >/dev/null 2>&1
}

# vf_dns_zone - serve a zone
vf_dns_zone() {
	grep -qx "$2" "$1/dns/zones" || echo "$2" >>"$1/dns/zones"
	: >>"$1/dns/$2.records"
	vf_dns_zone_write "$1" "$2"
	vf_dns_conf "$1"
	if vf_dns_running "$1"; then
		knotc -c "$1/dns/knot.conf" reload >/dev/null || return 1
	fi
}

# vf_dns_reload - bump the serial, rewrite the zone, tell Knot
vf_dns_reload() {
	_s=$(($(cat "$1/dns/serial") + 1))
	echo $_s >"$1/dns/serial"
	vf_dns_zone_write "$1" "$2"
	if vf_dns_running "$1"; then
		knotc -c "$1/dns/knot.conf" zone-reload "$2" >/dev/null || return 1
	fi
}

# vf_dns_txt - add a TXT record, split into strings of at most 255 bytes
vf_dns_txt() {
	_strs=$(printf '%s' "$4" | fold -b -w 255 | sed 's/.*/"&"/' | tr '\n' ' ')
	echo "$3 TXT $_strs" >>"$1/dns/$2.records"
	vf_dns_reload "$1" "$2"
}

# vf_dns_key - publish the DKIM record of a key made by vf_keygen
vf_dns_key() {
	vf_dns_txt "$1" "$2" "$3._domainkey" "$(cat "$1/$4.txt")"
}

# vf_dns_addr - where the server listens
vf_dns_addr() {
	cat "$1/dns/addr"
}

# vf_dns_start - start Knot and wait until it answers for every zone
vf_dns_start() {
	_d=$1/dns
	read -r _a _p <"$_d/addr"
	knotd -c "$_d/knot.conf" >"$_d/knotd.out" 2>&1 &
	echo $! >"$_d/knotd.pid"
	_i=0
	while read -r _z; do
		until kdig +short +timeout=1 +retry=0 "@$_a" -p "$_p" "$_z" SOA </dev/null 2>/dev/null |
		    grep -q "ns.$_z"; do
			_i=$((_i + 1))
			if [ $_i -gt 100 ]; then
				echo "vf_dns_start: Knot does not answer for $_z" >&2
				cat "$_d/knotd.out" "$_d/knot.log" >&2 2>/dev/null
				return 1
			fi
			sleep 0.1
		done
	done <"$_d/zones"
}

# vf_dns_stop - stop Knot
vf_dns_stop() {
	[ -f "$1/dns/knotd.pid" ] || return 0
	_pid=$(cat "$1/dns/knotd.pid")
	kill "$_pid" 2>/dev/null
	_i=0
	while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1; _i=$((_i + 1)); done
	rm -f "$1/dns/knotd.pid"
}

# vf_dns_keystore DIR ADDR PORT KEYTURN KEYSTORE DOMAIN... - Knot on
# ADDR:PORT serving, for each domain, the records `keyturn dns` prints
vf_dns_keystore() {
	_vd=$1 _va=$2 _vp=$3 _vk=$4 _vks=$5
	shift 5
	vf_dns_init "$_vd" "$_va" "$_vp" || return 1
	for _vz; do
		vf_dns_zone "$_vd" "$_vz" || return 1
		"$_vk" -K "$_vks" dns "$_vz" >"$_vd/dns/keyturn.$_vz" || return 1
		while read -r _vn _vv; do
			vf_dns_txt "$_vd" "$_vz" "${_vn%".$_vz."}" "$_vv" ||
			    return 1
		done <"$_vd/dns/keyturn.$_vz"
	done
	vf_dns_start "$_vd"
}

# vf_dkimpy - verify files with dkimpy against the loopback Knot
vf_dkimpy() {
	_d=$1; shift
	read -r _a _p <"$_d/dns/addr"
	"$VF_PY" "$top_srcdir/t/lib/dkimverify.py" --dns "$_a:$_p" "$@"
}

# vf_unbound_conf - libunbound settings sending every query to Knot,
# .test names included
vf_unbound_conf() {
	read -r _a _p <"$1/dns/addr"
	cat >"$1/unbound.conf" <<EOF
server:
    do-not-query-localhost: no
    module-config: "iterator"
    verbosity: 0
    # unbound answers for test. itself (RFC 6761) unless told not to
    local-zone: "test." nodefault
forward-zone:
    name: "."
    forward-addr: $_a@$_p
EOF
}

# vf_opendkim_run - start opendkim in the foreground with a config file,
# wait for its socket
vf_opendkim_run() {
	_conf=$1 _sock=$2 _pidf=$3
	rm -f "$_sock"
	opendkim -f -x "$_conf" >"$_conf.out" 2>&1 &
	echo $! >"$_pidf"
	_i=0
	while ! listening "$_sock"; do
		_i=$((_i + 1))
		if [ $_i -gt 100 ] || ! kill -0 "$(cat "$_pidf")" 2>/dev/null; then
			echo "opendkim did not start:" >&2
			cat "$_conf.out" >&2
			return 1
		fi
		sleep 0.1
	done
}

# vf_opendkim_start - OpenDKIM in verify mode, resolving through Knot
vf_opendkim_start() {
	_d=$1
	vf_unbound_conf "$_d"
	cat >"$_d/opendkim-verify.conf" <<EOF
Mode			v
Socket			local:$_d/opendkim-verify.sock
AuthservID		verify.test
ResolverConfiguration	$_d/unbound.conf
Syslog			no
AlwaysAddARHeader	yes
MinimumKeyBits		1024
DNSTimeout		5
RequireSafeKeys		no
EOF
	vf_opendkim_run "$_d/opendkim-verify.conf" "$_d/opendkim-verify.sock" \
	    "$_d/opendkim-verify.pid"
}

# vf_opendkim_stop - stop every OpenDKIM this library started in DIR
vf_opendkim_stop() {
	for _pf in "$1"/opendkim-*.pid; do
		[ -f "$_pf" ] || continue
		kill "$(cat "$_pf")" 2>/dev/null
		rm -f "$_pf"
	done
}

# vf_opendkim - verify files with OpenDKIM: its Authentication-Results
# must carry dkim=pass for every signature and no other dkim= result
vf_opendkim() {
	_d=$1; shift
	_rv=0
	for _f in "$@"; do
		_ar=$("$top_builddir/t/miltc" -s "unix:$_d/opendkim-verify.sock" \
		    -t 30 --client 192.0.2.25 --client-name mail.example.org \
		    "$_f" | awk -F'\t' '$4 == "Authentication-Results" { print $5 }')
		_nsig=$(grep -ci '^DKIM-Signature:' "$_f")
		_npass=$(printf '%s\n' "$_ar" | grep -o 'dkim=pass' | wc -l)
		_nall=$(printf '%s\n' "$_ar" | grep -o 'dkim=[a-z]*' | wc -l)
		printf '%s opendkim signatures=%s pass=%s results=%s: %s\n' \
		    "$_f" "$_nsig" "$_npass" "$_nall" "$_ar"
		if [ "$_nsig" -eq 0 ] || [ "$_npass" -ne "$_nsig" ] ||
		    [ "$_nall" -ne "$_nsig" ]; then
			_rv=1
		fi
	done
	return $_rv
}

# vf_opendkim_signer - OpenDKIM signing (Mode s, relaxed/relaxed, else its
# defaults) for one domain and key, on a given socket
vf_opendkim_signer() {
	_d=$1 _n=$2 _sock=$3 _dom=$4 _sel=$5 _key=$6 _alg=${7:-rsa-sha256}
	cat >"$_d/opendkim-$_n.conf" <<EOF
Mode			s
Socket			$_sock
Domain			$_dom
Selector		$_sel
KeyFile			$_key
Canonicalization	relaxed/relaxed
SignatureAlgorithm	$_alg
Syslog			no
RequireSafeKeys		no
EOF
	vf_opendkim_run "$_d/opendkim-$_n.conf" "${_sock#*:}" "$_d/opendkim-$_n.pid"
}
