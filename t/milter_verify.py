"""milter_verify - check every DKIM-Signature of messages with dkimpy.

usage: milter_verify.py KEYSTORE FILE...

The public keys come from the keystore's private key files
(KEYSTORE/<domain>/keys/<selector>.pem, keystore/store.h), served to dkimpy
through its dnsfunc hook as "v=DKIM1; k=...; p=..." records, so no DNS is
involved. Prints one line per signature, "FILE<TAB>N<TAB>d=D s=S a=A<TAB>ok"
(or "fail"); exits 0 only when every message has at least one signature and
every signature verifies.
"""
import base64
import os
import re
import sys

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def txt_record(keystore, name):
    """The DKIM TXT record for SELECTOR._domainkey.DOMAIN."""
    name = name.decode() if isinstance(name, bytes) else name
    m = re.match(r"^([^.]+)\._domainkey\.(.+?)\.?$", name)
    if m is None:
        return None
    path = os.path.join(keystore, m.group(2), "keys", m.group(1) + ".pem")
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except OSError:
        return None
    pub = key.public_key()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = pub.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = pub.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def tags(value):
    """d=, s=, a= of a DKIM-Signature value."""
    out = {}
    for part in re.sub(rb"\s+", b"", value).split(b";"):
        if b"=" in part:
            k, v = part.split(b"=", 1)
            out[k.decode()] = v.decode()
    return out


def main():
    keystore, files = sys.argv[1], sys.argv[2:]

    def dnsfunc(name, timeout=5):
        return txt_record(keystore, name)

    status = 0
    for path in files:
        with open(path, "rb") as f:
            msg = f.read()
        if b"\r\n" not in msg:
            msg = msg.replace(b"\n", b"\r\n")
        d = dkim.DKIM(msg)
        sigs = [v for (k, v) in d.headers if k.lower() == b"dkim-signature"]
        if not sigs:
            print("%s\t-\tno signature\tfail" % path)
            status = 1
        for i, v in enumerate(sigs):
            t = tags(v)
            try:
                ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc)
            except dkim.DKIMException as e:
                print("%s\t%d\t%s" % (path, i, e), file=sys.stderr)
                ok = False
            print("%s\t%d\td=%s s=%s a=%s\t%s" % (path, i, t.get("d"),
                  t.get("s"), t.get("a"), "ok" if ok else "fail"))
            if not ok:
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
