"""
engine_verify - independent verification of the signing engine with dkimpy

Every message in t/data, plus a generated one with a 2 MB base64
attachment, is signed by t/ktsign with a fresh RSA-2048 and a fresh Ed25519
key (openssl genpkey, in a temporary directory). dkimpy must accept both
signatures, and reject them after one body byte or one signed header field
changes. The output must be byte-identical however the body is chunked and
however the folds reach the engine. Finally the engine signs the RFC 8463
appendix A message with the published keys: the published bh= comes out and
dkimpy verifies against the published DNS records.

usage: engine_verify.py KTSIGN DATADIR
"""
import base64
import glob
import os
import random
import re
import subprocess
import sys
import tempfile

import dkim

T = "1700000000"
FAILS = []

RFC8463_ED_SEED = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
RFC8463_ED_PUB = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
RFC8463_RSA = """-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
-----END RSA PRIVATE KEY-----
"""
RFC8463_RSA_PUB = ("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3"
    "idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/"
    "e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kr"
    "yOTIKT+l/K4w3QIDAQAB")
RFC8463_BH = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg)


def run(cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout


def genkeys(tmp):
    rsa = os.path.join(tmp, "rsa.pem")
    ed = os.path.join(tmp, "ed.pem")
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
         "rsa_keygen_bits:2048", "-out", rsa])
    run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", ed])
    rsapub = base64.b64encode(run(["openssl", "pkey", "-in", rsa, "-pubout",
                                   "-outform", "DER"])).decode()
    edpub = base64.b64encode(run(["openssl", "pkey", "-in", ed, "-pubout",
                                  "-outform", "DER"])[-32:]).decode()
    dns = {
        b"rsa1._domainkey.example.org.": ("v=DKIM1; k=rsa; p=" + rsapub).encode(),
        b"ed1._domainkey.example.org.": ("v=DKIM1; k=ed25519; p=" + edpub).encode(),
    }
    return rsa, ed, dns


def bigmsg(path):
    """A MIME message with a 2 MB base64 attachment, from a fixed seed."""
    raw = random.Random(8463).randbytes(2 * 1024 * 1024)
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    head = (b"From: Big <big@example.org>\r\nTo: x@example.net\r\n"
            b"Subject: 2 MB attachment\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nattached\r\n"
            b"--b1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    with open(path, "wb") as f:
        f.write(head + b64 + b"--b1--\r\n")


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def delivered(msg):
    """The message as a verifier gets it: SMTP DATA, BDAT and MTA queues end
    it with CRLF. RFC 6376 3.4.3 and 3.4.4 add that CRLF to a body that
    lacks it, so the engine signs a last line "x  " as "x  CRLF" (relaxed:
    "x" CRLF). dkimpy, given the bytes without the CRLF, strips trailing
    WSP only before a CRLF and hashes "x " CRLF, which no delivered copy of
    the message can match; it is asked about the delivered form."""
    return msg if msg.endswith(b"\r\n") else msg + b"\r\n"


def verify(msg, dns, nsig):
    fn = lambda name, timeout=5: dns.get(name)
    out = []
    for i in range(nsig):
        try:
            out.append(dkim.DKIM(msg).verify(idx=i, dnsfunc=fn))
        except dkim.ValidationError:
            out.append(False)
    return out


def split(msg):
    i = msg.find(b"\r\n\r\n")
    return (msg, b"") if i < 0 else (msg[:i + 4], msg[i + 4:])


def tamper_body(msg):
    head, body = split(msg)
    for i, c in enumerate(body):
        if chr(c).isalnum():
            return head + body[:i] + bytes([c ^ 0x01]) + body[i + 1:]
    return head + body + b"tampered\r\n"


def tamper_header(msg):
    head, body = split(msg)
    # change a letter in the last Subject or From value (both signed)
    last = None
    for m in re.finditer(rb"(?im)^(subject|from):", head):
        last = m
    start = last.end()
    for i in range(start, len(head)):
        if chr(head[i]).isalpha():
            return head[:i] + bytes([head[i] ^ 0x20]) + head[i + 1:] + body
    raise RuntimeError("no letter to change")


def check_message(ktsign, path, rsa, ed, dns, tmp):
    name = os.path.basename(path)
    src = os.path.join(tmp, "in.eml")
    with open(path, "rb") as f:
        data = crlf(f.read())
    with open(src, "wb") as f:
        f.write(data)
    base = [ktsign, "-t", T, "-k", rsa, "-d", "example.org", "-s", "rsa1",
            "-k", ed, "-d", "example.org", "-s", "ed1"]
    signed = run(base + [src])
    res = verify(delivered(signed), dns, 2)
    if res != [True, True]:
        fail("%s: dkimpy verify %s" % (name, res))
    if not re.search(rb"[ \t]$", signed):
        res = verify(signed, dns, 2)
        if res != [True, True]:
            fail("%s: dkimpy verify as signed %s" % (name, res))
    for variant in (["-b", "bytes"], ["-b", "1"], ["-b", "2"], ["-b", "3"],
                    ["-b", "77"], ["-F"], ["-F", "-b", "5"]):
        if run(base + variant + [src]) != signed:
            fail("%s: output differs with %s" % (name, " ".join(variant)))
    signed = delivered(signed)
    res = verify(tamper_body(signed), dns, 2)
    if res != [False, False]:
        fail("%s: body change still verifies %s" % (name, res))
    res = verify(tamper_header(signed), dns, 2)
    if res != [False, False]:
        fail("%s: header change still verifies %s" % (name, res))
    # simple/simple must verify too
    res = verify(delivered(run(base + ["-S", src])), dns, 2)
    if res != [True, True]:
        fail("%s: simple/simple dkimpy verify %s" % (name, res))
    print("ok %s" % name)


def check_rfc8463(ktsign, datadir, tmp):
    ed = os.path.join(tmp, "rfc8463-ed.pem")
    der = bytes.fromhex("302e020100300506032b657004220420") + \
        base64.b64decode(RFC8463_ED_SEED)
    subprocess.run(["openssl", "pkey", "-inform", "DER", "-out", ed],
                       input=der, check=True, stdout=subprocess.PIPE)
    rsa = os.path.join(tmp, "rfc8463-rsa.pem")
    with open(rsa, "w") as f:
        f.write(RFC8463_RSA)
    src = os.path.join(tmp, "rfc8463.eml")
    with open(os.path.join(datadir, "rfc6376.eml"), "rb") as f:
        data = crlf(f.read())
    with open(src, "wb") as f:
        f.write(data)
    signed = run([ktsign, "-t", "1528637909",
                  "-k", ed, "-d", "football.example.com", "-s", "brisbane",
                  "-k", rsa, "-d", "football.example.com", "-s", "test", src])
    bhs = re.findall(rb"bh=([A-Za-z0-9+/=]+)", signed)
    if bhs != [RFC8463_BH.encode()] * 2:
        fail("RFC 8463: bh= %s, want the published %s" % (bhs, RFC8463_BH))
    dns = {
        b"brisbane._domainkey.football.example.com.":
            ("v=DKIM1; k=ed25519; p=" + RFC8463_ED_PUB).encode(),
        b"test._domainkey.football.example.com.":
            ("v=DKIM1; k=rsa; p=" + RFC8463_RSA_PUB).encode(),
    }
    res = verify(signed, dns, 2)
    if res != [True, True]:
        fail("RFC 8463: dkimpy verify with the published keys %s" % res)
    print("ok RFC 8463 published keys")


def main():
    ktsign, datadir = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        rsa, ed, dns = genkeys(tmp)
        msgs = sorted(glob.glob(os.path.join(datadir, "*.eml")))
        big = os.path.join(tmp, "big-attachment.eml")
        bigmsg(big)
        for path in msgs + [big]:
            check_message(ktsign, path, rsa, ed, dns, tmp)
        check_rfc8463(ktsign, datadir, tmp)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
