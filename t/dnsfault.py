#!/usr/bin/env python3
# dnsfault.py - an authoritative nameserver that answers one question badly
#
#   dnsfault.py [-a] ADDR PORT MODEFILE ZONE KEYNAME TXT NS=ADDR...
#
# Serves ZONE on ADDR:PORT, UDP and TCP (RFC 7766 framing): its SOA
# (TTL and minimum 1 s), an NS record for each NS=ADDR with the A record
# of that name, and one TXT record at KEYNAME whose value is TXT (split
# into 255-byte strings). Other names of the zone are NXDOMAIN, names
# outside it REFUSED. The question (KEYNAME, TXT) - with -a every
# question - gets the fault named in MODEFILE, read again for every
# query, so a test switches modes without restarting the server:
#
#   correct          the right answer, so a check can reach "published"
#   nxdomain         a right NXDOMAIN (AA, the SOA), so it can reach "revoked"
#   garbage          the query's id, then random bytes
#   short            5 bytes: less than a DNS header
#   wrong-id         the right answer under another id
#   other-qname      right id, a question and a TXT record for another name
#   other-owner      right question, the TXT record owned by another name
#   other-qtype      right id and name, the question says type A
#   other-rrtype     right question, the record's type is SPF (99)
#   compress-loop    the answer's owner is a compression pointer to itself
#   compress-past    the answer's owner points past the end of the message
#   silent           never answers (UDP and TCP)
#   servfail         SERVFAIL, no record
#   refused          REFUSED, no record
#   servfail-answer  SERVFAIL carrying the right record (AA set)
#   nxdomain-answer  NXDOMAIN carrying the right record (AA set)
#   noaa             the right answer without the AA bit
#   big              UDP: TC set; TCP: the right record among hundreds of
#                    others at the name, a response of almost 64 KB
#   tc:M             UDP: TC set, no record; TCP: fault M, or one of
#     short-len        a length prefix longer than what follows, then close
#     stall            read the query, never answer
#     close            close without a byte
#     tc               the right record with TC set again: truncated forever
#
# Prints "listening" once both sockets are bound and, for every query,
# "query udp|tcp QNAME QTYPE MODE". Stops on SIGTERM. Nothing here needs
# anything beyond the Python standard library.
import random
import signal
import socket
import struct
import sys
import threading

QR, AA, TC = 0x8000, 0x0400, 0x0200
T_A, T_NS, T_SOA, T_TXT, T_SPF = 1, 2, 6, 16, 99
NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
TTL = 1


def lower(n):
    return n.rstrip(".").lower()


def wire_name(n):
    out = b""
    for label in lower(n).split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(owner, rtype, rdata, ttl=TTL):
    return wire_name(owner) + struct.pack("!HHIH", rtype, 1, ttl,
                                          len(rdata)) + rdata


def txt_rdata(value):
    b = value.encode()
    out = b""
    for i in range(0, max(len(b), 1), 255):
        part = b[i:i + 255]
        out += bytes([len(part)]) + part
    return out


def message(qid, flags, qname, qtype, an=(), ns=(), ar=()):
    head = struct.pack("!HHHHHH", qid, QR | flags, 1, len(an), len(ns),
                       len(ar))
    body = wire_name(qname) + struct.pack("!HH", qtype, 1)
    return head + body + b"".join(an) + b"".join(ns) + b"".join(ar)


class Query:
    def __init__(self, data):
        if len(data) < 12:
            raise ValueError("short")
        self.id, flags = struct.unpack("!HH", data[:4])
        self.rd = flags & 0x0100
        labels, i = [], 12
        while data[i] != 0:
            n = data[i]
            if n & 0xC0:
                raise ValueError("compressed question")
            labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        self.name = ".".join(labels)
        self.type = struct.unpack("!H", data[i + 1:i + 3])[0]


class Zone:
    def __init__(self, apex, keyname, txt, servers):
        self.apex, self.keyname, self.txt = lower(apex), lower(keyname), txt
        self.servers = [(lower(n), a) for n, a in servers]

    def soa(self):
        rdata = (wire_name("ns1." + self.apex) + wire_name("host.invalid") +
                 struct.pack("!IIIII", 1, 60, 60, 600, TTL))
        return rr(self.apex, T_SOA, rdata)

    def inside(self, name):
        return name == self.apex or name.endswith("." + self.apex)

    def exists(self, name):
        names = {self.apex, self.keyname} | {n for n, _ in self.servers}
        return any(n == name or n.endswith("." + name) for n in names)

    def records(self, name, qtype):
        if name == self.apex and qtype == T_SOA:
            return [self.soa()], []
        if name == self.apex and qtype == T_NS:
            return ([rr(name, T_NS, wire_name(n)) for n, _ in self.servers],
                    [rr(n, T_A, socket.inet_aton(a))
                     for n, a in self.servers])
        if qtype == T_A:
            return [rr(n, T_A, socket.inet_aton(a))
                    for n, a in self.servers if n == name], []
        if name == self.keyname and qtype == T_TXT:
            return [rr(name, T_TXT, txt_rdata(self.txt))], []
        return [], []

    # answer - what a correct authoritative server says, and the flags
    def answer(self, q, rcode=None, flags=AA):
        name = lower(q.name)
        if not self.inside(name):
            return message(q.id, q.rd | REFUSED, q.name, q.type)
        an, ar = self.records(name, q.type)
        if rcode is None:
            rcode = NOERROR if an or self.exists(name) else NXDOMAIN
        ns = [] if an else [self.soa()]
        return message(q.id, q.rd | flags | rcode, q.name, q.type, an, ns, ar)


def key_record(zone, owner):
    return rr(owner, T_TXT, txt_rdata(zone.txt))


def big(zone, q):
    # the right answer, then filler records at the same name until the
    # response is as large as TCP framing allows
    msg = zone.answer(q)
    n = struct.unpack("!H", msg[6:8])[0]
    filler = rr(q.name, T_TXT, txt_rdata("v=DKIM1; k=rsa; n=" + "f" * 230))
    count = (65535 - len(msg)) // len(filler)
    msg += filler * count
    return msg[:6] + struct.pack("!H", n + count) + msg[8:]


def fault(zone, mode, q, rng):
    """The bytes of the reply (None: no reply) for mode M of tc:M."""
    name = lower(q.name)
    other = "other." + zone.apex
    if mode == "correct":
        return zone.answer(q)
    if mode == "nxdomain":
        return message(q.id, q.rd | AA | NXDOMAIN, name, q.type, [],
                       [zone.soa()])
    if mode == "garbage":
        return struct.pack("!H", q.id) + bytes(
            rng.randrange(256) for _ in range(rng.randrange(10, 600)))
    if mode == "short":
        return struct.pack("!H", q.id) + b"\x84\x00\x00"
    if mode == "wrong-id":
        return struct.pack("!H", q.id ^ 0x5a5a) + zone.answer(q)[2:]
    if mode == "other-qname":
        return message(q.id, q.rd | AA, other, q.type,
                       [key_record(zone, other)])
    if mode == "other-owner":
        return message(q.id, q.rd | AA, name, q.type,
                       [key_record(zone, other)])
    if mode == "other-qtype":
        return message(q.id, q.rd | AA, name, T_A, [key_record(zone, name)])
    if mode == "other-rrtype":
        return message(q.id, q.rd | AA, name, q.type,
                       [rr(name, T_SPF, txt_rdata(zone.txt))])
    if mode in ("compress-loop", "compress-past"):
        head = message(q.id, q.rd | AA, name, q.type)
        at = len(head)
        ptr = 0xC000 | (at if mode == "compress-loop" else 0x3FFF)
        rdata = txt_rdata(zone.txt)
        body = struct.pack("!HHHIH", ptr, T_TXT, 1, TTL, len(rdata)) + rdata
        return head[:6] + struct.pack("!H", 1) + head[8:] + body
    if mode == "servfail":
        return message(q.id, q.rd | SERVFAIL, name, q.type)
    if mode == "refused":
        return message(q.id, q.rd | REFUSED, name, q.type)
    if mode == "servfail-answer":
        return zone.answer(q, rcode=SERVFAIL)
    if mode == "nxdomain-answer":
        return zone.answer(q, rcode=NXDOMAIN)
    if mode == "noaa":
        return zone.answer(q, flags=0)
    if mode == "big":
        return big(zone, q)
    if mode == "tc":
        return zone.answer(q, flags=AA | TC)
    return None		# silent, and what is not a mode


class Server:
    def __init__(self, addr, port, modefile, zone, every):
        self.addr, self.port, self.modefile = addr, port, modefile
        self.zone, self.every = zone, every
        self.rng = random.Random(port)
        self.lock = threading.Lock()

    def mode(self, q, proto):
        faulty = self.every or (lower(q.name) == self.zone.keyname and
                                q.type == T_TXT)
        try:
            with open(self.modefile) as f:
                m = f.read().strip()
        except OSError:
            m = "correct"
        with self.lock:
            print("query %s %s %d %s" % (proto, lower(q.name), q.type, m),
                  flush=True)
        return m if faulty else "correct"

    def udp(self, s):
        while True:
            data, peer = s.recvfrom(65535)
            try:
                q = Query(data)
            except (ValueError, IndexError, struct.error):
                continue
            m = self.mode(q, "udp")
            if m.startswith("tc:") or m == "big":
                reply = self.zone.answer(q, flags=AA | TC)
                # a truncated answer carries no record
                reply = reply[:6] + b"\0\0\0\0\0\0" + reply[12:12 + len(
                    wire_name(q.name)) + 4]
            else:
                with self.lock:
                    reply = fault(self.zone, m, q, self.rng)
            if reply is not None:
                s.sendto(reply, peer)

    def tcp_one(self, c):
        with c:
            try:
                head = self.recv_full(c, 2)
                q = Query(self.recv_full(c, struct.unpack("!H", head)[0]))
            except (ValueError, IndexError, struct.error, OSError):
                return
            m = self.mode(q, "tcp")
            m = m[3:] if m.startswith("tc:") else m
            if m == "close":
                return
            if m == "short-len":
                reply = self.zone.answer(q)
                c.sendall(struct.pack("!H", len(reply) + 100) + reply)
                return
            with self.lock:
                reply = fault(self.zone, m, q, self.rng)
            if reply is None:	# stall, silent: until the client leaves
                while c.recv(4096):
                    pass
                return
            c.sendall(struct.pack("!H", len(reply)) + reply)

    @staticmethod
    def recv_full(c, n):
        b = b""
        while len(b) < n:
            got = c.recv(n - len(b))
            if not got:
                raise OSError("closed")
            b += got
        return b

    def tcp(self, s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=self.tcp_one, args=(c,),
                             daemon=True).start()

    def run(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((self.addr, self.port))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((self.addr, self.port))
        t.listen(16)
        threading.Thread(target=self.udp, args=(u,), daemon=True).start()
        threading.Thread(target=self.tcp, args=(t,), daemon=True).start()
        print("listening", flush=True)
        signal.sigwait([signal.SIGTERM, signal.SIGINT])


def main(argv):
    every = argv[:1] == ["-a"]
    if every:
        argv = argv[1:]
    if len(argv) < 7:
        sys.exit("usage: dnsfault.py [-a] ADDR PORT MODEFILE ZONE KEYNAME "
                 "TXT NS=ADDR...")
    addr, port, modefile, apex, keyname, txt = argv[:6]
    servers = [a.split("=", 1) for a in argv[6:]]
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])
    Server(addr, int(port), modefile, Zone(apex, keyname, txt, servers),
           every).run()


if __name__ == "__main__":
    main(sys.argv[1:])
