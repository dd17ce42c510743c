#!/usr/bin/python3
"""dkimverify.py - verify (or make) DKIM signatures with dkimpy, keys from a
DNS server named on the command line (a loopback Knot in the tests).

  dkimverify.py --dns ADDR:PORT FILE...
      Verifies every DKIM-Signature of each FILE; one line per signature:
      "FILE idx=N d=D s=S a=A result=pass|fail[ (reason)]". Exit 0 when every
      file has at least one signature and all of them pass, 1 otherwise.
  dkimverify.py --sign --key KEY.pem --domain D --selector S FILE
      Prints FILE with a relaxed/relaxed signature prepended (rsa-sha256, or
      ed25519-sha256 for an Ed25519 key).

Line ends are made CRLF before dkimpy sees the message, as on the wire.
"""

import argparse
import sys

import dkim
import dns.message
import dns.query
import dns.rdatatype


def dnsfunc_for(addr, port):
    """A dkimpy dnsfunc asking one server directly, no recursion, TCP on TC."""
    def get_txt(name, timeout=5):
        qname = name.decode() if isinstance(name, bytes) else name
        q = dns.message.make_query(qname, dns.rdatatype.TXT)
        q.flags &= ~dns.flags.RD
        r = dns.query.udp(q, addr, port=port, timeout=timeout)
        if r.flags & dns.flags.TC:
            r = dns.query.tcp(q, addr, port=port, timeout=timeout)
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(list(rrset.items)[0].strings)
        return None
    return get_txt


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def verify_file(path, dnsfunc):
    msg = crlf(open(path, "rb").read())
    d = dkim.DKIM(msg, minkey=1024)
    nsig = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
    if nsig == 0:
        print("%s result=none (no DKIM-Signature)" % path)
        return False
    allpass = True
    for idx in range(nsig):
        d = dkim.DKIM(msg, minkey=1024)
        reason = ""
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            ok, reason = False, " (%s)" % e
        sig = d.signature_fields or {}
        print("%s idx=%d d=%s s=%s a=%s result=%s%s" % (
            path, idx, sig.get(b"d", b"?").decode(), sig.get(b"s", b"?").decode(),
            sig.get(b"a", b"?").decode(), "pass" if ok else "fail", reason))
        allpass = allpass and ok
    return allpass


def sign_file(path, key, domain, selector):
    import base64
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    msg = crlf(open(path, "rb").read())
    pem = open(key, "rb").read()
    k = serialization.load_pem_private_key(pem, None)
    if isinstance(k, ed25519.Ed25519PrivateKey):
        raw = k.private_bytes(serialization.Encoding.Raw,
                              serialization.PrivateFormat.Raw,
                              serialization.NoEncryption())
        sig = dkim.sign(msg, selector.encode(), domain.encode(),
                        base64.b64encode(raw),
                        signature_algorithm=b"ed25519-sha256",
                        canonicalize=(b"relaxed", b"relaxed"))
    else:
        sig = dkim.sign(msg, selector.encode(), domain.encode(), pem,
                        canonicalize=(b"relaxed", b"relaxed"))
    sys.stdout.buffer.write(sig + msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dns", help="ADDR:PORT of the DNS server holding the keys")
    ap.add_argument("--sign", action="store_true")
    ap.add_argument("--key")
    ap.add_argument("--domain")
    ap.add_argument("--selector")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    if a.sign:
        sign_file(a.files[0], a.key, a.domain, a.selector)
        return 0
    addr, port = a.dns.rsplit(":", 1)
    fn = dnsfunc_for(addr.strip("[]"), int(port))
    results = [verify_file(f, fn) for f in a.files]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
