#!/bin/sh
# milter_sigterm_pause - SIGTERM while the MTA is between MAIL and DATA (as
# Postfix is while the client sends RCPT): that message, resumed seconds
# later, is still signed; a message that begins after the SIGTERM, on a
# connection opened before it, gets tempfail at DATA; keyturnd exits 0
# once the first is done. Then again, but a second SIGTERM, with the
# message still paused, makes keyturnd exit 0 at once.
. "$top_srcdir/t/milter_lib.sh"

kt_init milter_sigterm_pause
kt_cli domain add example.com --algorithms ed25519
kt_key example.com ed25519 e1
kt_conf "LogLevel info"
kt_start

# the MTA side, spoken directly: every stage answered (no SMFIP_NR_*);
# with "twice", the paused message is left and a second SIGTERM ends the
# wait for it
mta() {
	"$PYTHON3" - "$S/sock" "$KPID" "$1" "$W/keyturnd.log" >"$W/py.txt" 2>&1 <<'PYEOF'
import os, signal, socket, struct, sys, time

path, pid, mode, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def logged(text, times=1):
    # until keyturnd's log has text that many times; the bound only
    # catches a keyturnd that never logs it
    for _ in range(1200):
        with open(log) as f:
            if f.read().count(text) >= times:
                return
        time.sleep(0.05)
    sys.exit("never logged: " + text)

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(20)
    send(s, b"O", struct.pack(">III", 6, 0x1ff, 0))
    expect(s, b"O", "negotiation")
    send(s, b"C", b"mta.example\x004" + struct.pack(">H", 25) +
         b"127.0.0.1\x00")
    expect(s, b"c", "connect")
    return s

def send(s, cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

def recv(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError("keyturnd closed the connection")
            b += c
        return b
    n = struct.unpack(">I", exact(4))[0]
    body = exact(n)
    return body[:1], body[1:]

def expect(s, want, what):
    got = recv(s)[0]
    if got != want:
        sys.exit("%s: reply %r, want %r" % (what, got, want))

def data(s, qid):
    send(s, b"D", b"Ti\x00" + qid + b"\x00")
    send(s, b"T")
    return recv(s)[0]

a, b = conn(), conn()
send(a, b"M", b"<alice@example.com>\x00")
expect(a, b"c", "MAIL before SIGTERM")
seen = open(log).read().count("SIGTERM: finishing")
os.kill(pid, signal.SIGTERM)
# keyturnd logs this once a message that begins can no longer be signed
logged("SIGTERM: finishing", seen + 1)
if mode == "twice":
    os.kill(pid, signal.SIGTERM)
    # the paused session stays open until keyturnd's exit closes it
    if a.recv(1) != b"":
        sys.exit("a reply to the paused message after the second SIGTERM")
    print("second SIGTERM: keyturnd closed the paused session")
    sys.exit(0)

# b: begins after the SIGTERM
send(b, b"M", b"<alice@example.com>\x00")
expect(b, b"c", "MAIL after SIGTERM")
r = data(b, b"LATE1")
if r != b"t":
    sys.exit("DATA after SIGTERM: reply %r, want tempfail" % r)
print("late message: tempfail at DATA")

# a: resumes
r = data(a, b"PAUSED1")
if r != b"c":
    sys.exit("DATA of the paused message: reply %r" % r)
for name, value in ((b"From", b"alice@example.com"), (b"Subject", b"x")):
    send(a, b"L", name + b"\x00 " + value + b"\x00")
    expect(a, b"c", "header")
send(a, b"N")
expect(a, b"c", "end of header")
send(a, b"B", b"hello\r\n")
expect(a, b"c", "body")
send(a, b"D", b"Ei\x00PAUSED1\x00")
send(a, b"E")
signed = False
while True:
    c, d = recv(a)
    if c == b"i" and b"DKIM-Signature\x00" in d and b"d=example.com" in d:
        signed = True
    elif c != b"i":
        break
if c != b"c" or not signed:
    sys.exit("paused message: final reply %r, signed %s" % (c, signed))
print("paused message: signed")
PYEOF
}

# exited - keyturnd is gone, with status 0
exited() {
	wait "$KPID"
	rc=$?
	KPID=
	[ $rc = 0 ] || kt_fail "keyturnd exited $rc after SIGTERM"
}

mta once || { cat "$W/py.txt"; kt_fail "the MTA side"; }
exited
grep -q "PAUSED1: signed d=example.com s=e1" "$W/keyturnd.log" ||
    kt_fail "no log line for the paused message"
grep -q "LATE1: not signed: shutting down" "$W/keyturnd.log" ||
    kt_fail "no log line for the late message"
kt_ok "paused message signed after SIGTERM, late one tempfailed, exit 0"

# a keyturnd that kept waiting would not close the paused session: the
# MTA side's read of it times out (20 s) and fails
kt_start
mta twice || { cat "$W/py.txt"; kt_fail "the MTA side (twice)"; }
exited
grep -q "exiting with 1 message still in flight (second signal)" \
    "$W/keyturnd.log" || kt_fail "no log line for the second SIGTERM"
kt_ok "a second SIGTERM ends the wait for a paused message, exit 0"
exit 0
