#!/usr/bin/python3
"""ztstream.py - a steady stream of messages through keyturnd, each one
verified with dkimpy against live DNS right after it was signed; then the
check of the stream against the keystore history.

  ztstream.py stream --miltc PATH --socket SPEC --msg FILE --dns ADDR:PORT
      [--dns ADDR:PORT ...] --out LOG --stop FILE [--max SECS] [--keep DIR]
      Sends one message at a time (t/miltc -o) until FILE exists or SECS
      have passed. For each one, at once: every DKIM-Signature is verified
      against each DNS server given (RD=0, the servers the receivers would
      ask). One JSON line per message in LOG:
      {"n", "time", "decision", "sigs": [{"s", "a", "t", "ok": {dns: bool}}]}
      A message that fails verification is kept in DIR.

  ztstream.py check --log LOG --history HISTORY.json --domain D
      [--daemon-log KEYTURND.LOG] [--min-signers N]
      For every signature of every message: it verified at every server,
      and its s= had been made active by its t= and was not revoked before
      it, according to the history (`keyturn history D --json`; t= and
      the history count whole seconds). Of each algorithm's keys, in the
      order the history made them active (each swap names the key it
      replaces), those that signed come first and in that order: no key
      signs again once its successor has, none is left out, and at least
      N (default 1) signed. With the daemon's log (foreground, millisecond
      times), also how late after each logged swap the old key still
      signed. Prints the figures; exit 0 when all hold.

      Nothing here depends on how fast the machine is. The swap reaches
      the signers a moment after the keystore write the history dates, so
      the outgoing key may sign a little longer, even a second later: it
      is counted, not refused. Only a signer stuck for the whole
      retire-after (the key revoked meanwhile) or a stream stalled for a
      key's whole active time (rotate-after) would fail these checks.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dkim  # noqa: E402
from dkimverify import crlf, dnsfunc_for  # noqa: E402


def sig_fields(msg):
    """(s, a, t) of each DKIM-Signature, in order."""
    d = dkim.DKIM(msg)
    out = []
    for name, value in d.headers:
        if name.lower() != b"dkim-signature":
            continue
        tags = {}
        for part in value.decode().replace("\r\n", "").split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                tags[k.strip()] = "".join(v.split())
        out.append((tags.get("s"), tags.get("a"), int(tags.get("t", "-1"))))
    return out


def stream(a):
    funcs = {}
    for spec in a.dns:
        addr, port = spec.rsplit(":", 1)
        funcs[spec] = dnsfunc_for(addr.strip("[]"), int(port))
    tmp = a.out + ".msg"
    start = time.time()
    n = 0
    with open(a.out, "w") as log:
        while not os.path.exists(a.stop) and time.time() - start < a.max:
            n += 1
            began = time.time()
            r = subprocess.run([a.miltc, "-s", a.socket, "-t", "30", "-o",
                                tmp, "--client", "127.0.0.1", a.msg],
                               capture_output=True, text=True)
            when = time.time()
            fields = r.stdout.splitlines()[0].split("\t") if r.stdout else []
            rec = {"n": n, "began": began, "time": when,
                   "rc": r.returncode,
                   "decision": fields[2] if len(fields) > 2 else "?",
                   "sigs": []}
            if r.returncode == 0 and os.path.exists(tmp):
                msg = crlf(open(tmp, "rb").read())
                for idx, (s, alg, t) in enumerate(sig_fields(msg)):
                    ok = {}
                    for spec, fn in funcs.items():
                        try:
                            ok[spec] = bool(dkim.DKIM(msg).verify(
                                idx=idx, dnsfunc=fn))
                        except dkim.DKIMException:
                            ok[spec] = False
                    rec["sigs"].append({"s": s, "a": alg, "t": t, "ok": ok})
                    if not all(ok.values()) and a.keep:
                        os.makedirs(a.keep, exist_ok=True)
                        with open(os.path.join(a.keep, "%06d.eml" % n),
                                  "wb") as f:
                            f.write(msg)
            log.write(json.dumps(rec) + "\n")
            log.flush()
    return 0


def parse_time(s):
    return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=timezone.utc).timestamp())


def state_at(events, sel, t):
    """The state of sel after every event at or before t."""
    st = None
    for when, s, to in events:
        if when <= t and s == sel:
            st = to
    return st


def first_time(events, sel, state):
    """When sel first went to state, or None."""
    return next((when for when, s, to in events
                 if s == sel and to == state), None)


def chains(hist):
    """Each algorithm's keys in the order they were made active: a swap
    names the key it replaces, a key made active otherwise starts a
    chain."""
    after, starts, seen = {}, [], set()
    swap = re.compile(r"(\S+) active for .*: swapped for (\S+)$")
    for e in hist:
        if e["to"] != "active" or e["from"] == "active" or \
                e["selector"] in seen:
            continue
        seen.add(e["selector"])
        m = swap.search(e["reason"])
        if m and m.group(2) == e["selector"]:
            after[m.group(1)] = e["selector"]
        else:
            starts.append(e["selector"])
    out = []
    for k in starts:
        chain = [k]
        while chain[-1] in after:
            chain.append(after[chain[-1]])
        out.append(chain)
    return out


def swaps_logged(path, domain):
    """(epoch seconds with ms, old selector) of each swap keyturnd logged"""
    pat = re.compile(r"^(\S+)Z keyturnd: %s: swap \S+: (\S+) active for"
                     % re.escape(domain))
    out = []
    for line in open(path, errors="replace"):
        m = pat.match(line)
        if m:
            t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
            out.append((t.replace(tzinfo=timezone.utc).timestamp(),
                        m.group(2)))
    return out


def lateness(recs, swaps):
    """Signatures by a swapped-out key in messages begun after the swap
    was logged (the keystore written): how many, and the largest delay"""
    late, worst = 0, 0.0
    for when, old in swaps:
        for r in recs:
            if r["began"] > when and any(sg["s"] == old for sg in r["sigs"]):
                late += 1
                worst = max(worst, r["began"] - when)
    return late, worst


def check(a):
    hist = json.load(open(a.history))
    # notes (an alarm raised or cleared: FROM == TO) change no state
    events = [(parse_time(e["time"]), e["selector"], e["to"]) for e in hist
              if e["from"] != e["to"] or e["selector"] == "-"]
    recs = [json.loads(line) for line in open(a.log)]
    bad = []
    nsig = nmsg_signed = boundary = later = 0
    first_signed = None
    # once a message carries one signature per algorithm, all must
    full = max((len(r["sigs"]) for r in recs), default=0)
    first_full = next((r["n"] for r in recs if len(r["sigs"]) == full), None)
    for r in recs:
        if first_full is not None and r["n"] > first_full and \
                len(r["sigs"]) != full:
            bad.append("message %d has %d signatures, not %d"
                       % (r["n"], len(r["sigs"]), full))
    order = {}		# alg -> selectors in the order they first signed
    for r in recs:
        if not r["sigs"]:
            if first_signed is not None:
                bad.append("message %d not signed (%s) after signing began"
                           % (r["n"], r["decision"]))
            continue
        if first_signed is None:
            first_signed = r["n"]
        nmsg_signed += 1
        for sg in r["sigs"]:
            nsig += 1
            if not all(sg["ok"].values()):
                bad.append("message %d s=%s: verification %s"
                           % (r["n"], sg["s"], sg["ok"]))
            made = first_time(events, sg["s"], "active")
            gone = first_time(events, sg["s"], "revoked")
            if made is None or sg["t"] < made:
                bad.append("message %d s=%s t=%d: the key was %s, not yet "
                           "active" % (r["n"], sg["s"], sg["t"],
                                       state_at(events, sg["s"], sg["t"])))
            elif gone is not None and sg["t"] > gone:
                bad.append("message %d s=%s t=%d: the key was revoked at "
                           "%d" % (r["n"], sg["s"], sg["t"], gone))
            elif state_at(events, sg["s"], sg["t"]) != "active":
                if state_at(events, sg["s"], sg["t"] - 1) == "active":
                    boundary += 1
                else:
                    later += 1
            seq = order.setdefault(sg["a"], [])
            if sg["s"] not in seq:
                seq.append(sg["s"])
            elif seq[-1] != sg["s"] and sg["s"] in seq:
                bad.append("message %d: s=%s signs again after %s took over"
                           % (r["n"], sg["s"], seq[-1]))
    # the keys that signed are each chain's first ones, in its order
    used = {sg["s"] for r in recs for sg in r["sigs"]}
    for chain in chains(hist):
        n = max((i + 1 for i, k in enumerate(chain) if k in used), default=0)
        for k in chain[:n]:
            if k not in used:
                bad.append("%s was made active between keys that signed "
                           "(%s) and never signed" % (k, " ".join(chain)))
        if n < a.min_signers:
            bad.append("%d of the keys %s signed, not %d"
                       % (n, " ".join(chain), a.min_signers))
    print("messages: %d sent, %d signed (from message %s on), %d signatures"
          % (len(recs), nmsg_signed, first_signed, nsig))
    print("signatures verified at every server: %d of %d"
          % (sum(1 for r in recs for sg in r["sigs"]
                 if all(sg["ok"].values())), nsig))
    print("messages with %d signatures (one per algorithm): every one "
          "from message %s on" % (full, first_full))
    print("signatures by a key made active by t= and not revoked: %d of %d "
          "(by the outgoing key after its swap: %d in the second of the "
          "swap, %d after it)"
          % (nsig - sum(1 for b in bad if "not yet active" in b or
                        "was revoked" in b), nsig, boundary, later))
    for alg, seq in sorted(order.items()):
        print("%s selectors in signing order: %s" % (alg, " ".join(seq)))
    if a.daemon_log:
        swaps = swaps_logged(a.daemon_log, a.domain)
        late, worst = lateness(recs, swaps)
        print("swaps logged by keyturnd: %d; messages begun after a swap "
              "was written and still signed by the old key: %d (at most "
              "%.1f ms after it)" % (len(swaps), late, worst * 1000))
        if not swaps:
            bad.append("no swap in %s" % a.daemon_log)
    for b in bad[:20]:
        print("BAD: " + b)
    return 1 if bad or nsig == 0 else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream")
    s.add_argument("--miltc", required=True)
    s.add_argument("--socket", required=True)
    s.add_argument("--msg", required=True)
    s.add_argument("--dns", action="append", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--stop", required=True)
    s.add_argument("--max", type=float, default=120)
    s.add_argument("--keep")
    c = sub.add_parser("check")
    c.add_argument("--log", required=True)
    c.add_argument("--history", required=True)
    c.add_argument("--domain", required=True)
    c.add_argument("--daemon-log")
    c.add_argument("--min-signers", type=int, default=1)
    a = ap.parse_args()
    return stream(a) if a.cmd == "stream" else check(a)


if __name__ == "__main__":
    sys.exit(main())
