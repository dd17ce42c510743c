# t/lib/listening.sh - is a unix socket ready (sourced by sh)
#
# libmilter binds its socket, which makes the file appear, and listens only
# after that: a connection in between is refused. A test that waits for a
# milter waits for this, not for the file.

# listening PATH - true when the unix socket PATH is there and listens
listening() {
	[ -S "$1" ] && ss -Hxl | awk -v p="$1" '
	    $5 == p { found = 1 } END { exit !found }'
}
