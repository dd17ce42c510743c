"""milter_verify - check every DKIM-Signature of messages with dkimpy.

usage: milter_verify.py KEYTURN KEYSTORE FILE...

The DKIM records come from the keystore through the CLI (`KEYTURN -K
KEYSTORE dns --json`, what an operator publishes) and are served to dkimpy
through its dnsfunc hook, so no DNS is involved. Prints one line per
signature, "FILE<TAB>N<TAB>d=D s=S a=A<TAB>ok" (or "fail"); exits 0 only
when every message has at least one signature and every signature
verifies.
"""
import json
import re
import subprocess
import sys

import dkim


def records(keyturn, keystore):
    """name (no trailing dot, lowercase) -> TXT value, for every key."""
    out = subprocess.run([keyturn, "-K", keystore, "dns", "--json"],
                         check=True, capture_output=True).stdout
    return {r["name"].rstrip(".").lower(): r["value"].encode()
            for r in json.loads(out)}


def tags(value):
    """d=, s=, a= of a DKIM-Signature value."""
    out = {}
    for part in re.sub(rb"\s+", b"", value).split(b";"):
        if b"=" in part:
            k, v = part.split(b"=", 1)
            out[k.decode()] = v.decode()
    return out


def main():
    keyturn, keystore, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    txt = records(keyturn, keystore)

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return txt.get(name.rstrip(".").lower())

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
