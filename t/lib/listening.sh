# t/lib/listening.sh - is a unix socket ready; a free port (sourced by sh)
#
# libmilter binds its socket, which makes the file appear, and listens only
# after that: a connection in between is refused. A test that waits for a
# milter waits for this, not for the file.

# listening PATH - true when the unix socket PATH is there and listens
listening() {
	[ -S "$1" ] && ss -Hxl | awk -v p="$1" '
	    $5 == p { found = 1 } END { exit !found }'
}

# free_port - a port on which nothing listens or is bound, TCP or UDP
free_port() {
	_fp=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
	while ss -Hltun "sport = :$_fp" 2>/dev/null | grep -q .; do
		_fp=$(( _fp + 1 ))
		[ $_fp -gt 60000 ] && _fp=20000
	done
	echo "$_fp"
}
