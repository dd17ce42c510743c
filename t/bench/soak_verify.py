#!/usr/bin/python3
"""soak_verify.py - t/bench/soak.sh's verifier: every distinct DKIM
signature of the soak, verified with dkimpy against the Knot servers
while their records are still published.

  soak_verify.py --sigs FILE --dns ADDR:PORT [--dns ADDR:PORT ...]
      --out FILE --stop FILE [--keep DIR]

FILE grows while the soak runs: one line "ID<TAB>MESSAGE<TAB>VALUE" per
signature not seen before, VALUE the DKIM-Signature field's value as
t/miltc prints it (\\n, \\r, \\t and \\\\ escaped), MESSAGE the file t/miltc
sent. Each line is verified as soon as it is complete: the message as the
MTA has it after the filter (the field inserted at the top, before
MESSAGE's own header), dkimpy asking each server given directly (RD=0,
t/lib/dkimverify.py). One line per ID in --out: "ID pass" or
"ID fail SERVER: REASON"; a failed message is kept in DIR. Ends once the
--stop file exists and every line before it was verified.

A signature is a function of the message, the key, and its tags (t= is in
seconds, no x= in the soak): the same message signed in the same second
with the same key carries the same field, byte for byte, so one
verification of a field answers for every message that carried it.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import dkim  # noqa: E402
from dkimverify import crlf, dnsfunc_for  # noqa: E402

UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def unescape(s):
    """t/miltc's escaped value back to its bytes."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in UNESCAPE:
            out.append(UNESCAPE[s[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out).encode()


def verify(line, funcs, bodies, keep):
    """"ID pass" or "ID fail ..." for one line of the signature file."""
    sid, path, value = line.rstrip("\n").split("\t", 2)
    if path not in bodies:
        with open(path, "rb") as f:
            bodies[path] = f.read()
    msg = crlf(b"DKIM-Signature: " + unescape(value) + b"\n" + bodies[path])
    for spec, fn in funcs.items():
        try:
            ok, why = dkim.DKIM(msg, minkey=1024).verify(dnsfunc=fn), ""
        except dkim.DKIMException as e:
            ok, why = False, str(e)
        if not ok:
            if keep:
                os.makedirs(keep, exist_ok=True)
                with open(os.path.join(keep, "%s.eml" % sid), "wb") as f:
                    f.write(msg)
            return "%s fail %s: %s" % (sid, spec, why or "bad signature")
    return "%s pass" % sid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigs", required=True)
    ap.add_argument("--dns", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--keep")
    a = ap.parse_args()
    funcs = {}
    for spec in a.dns:
        addr, port = spec.rsplit(":", 1)
        funcs[spec] = dnsfunc_for(addr.strip("[]"), int(port))
    bodies = {}
    while not os.path.exists(a.sigs):
        time.sleep(0.2)
    with open(a.sigs) as f, open(a.out, "w") as out:
        part = ""
        while True:
            # the stop file comes after the last line was written
            stopping = os.path.exists(a.stop)
            chunk = f.readline()
            if chunk:
                part += chunk
                if part.endswith("\n"):
                    out.write(verify(part, funcs, bodies, a.keep) + "\n")
                    out.flush()
                    part = ""
                continue
            if stopping:
                break
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
