#!/usr/bin/env python3
"""fleet_swap.py - how long a key swap written to etcd takes to reach the
signing of every keyturnd of a fleet (t/bench/fleet_bench.sh swap)

usage: fleet_swap.py --keyturn KEYTURN --conf CONF --miltc MILTC
           --msg MSG --domain DOMAIN --work DIR [--swaps N]
           [--prefix P] [--timeout SECS] SOCKET...

One sender thread per SOCKET (a keyturnd's unix socket) sends MSG back to
back, one t/miltc process per message (-o DIR/outI.eml), and records the
time each message completed (time.monotonic(), when t/miltc exited) and
the s= of its DKIM-Signature headers.

DOMAIN has one active key, PREFIX0 (default selector prefix "s", so s0),
and --active-keys 2. The main thread makes N swaps (default 100); swap n:
  keyturn -c CONF key new DOMAIN --algorithm ed25519 --selector sn
  t0; keyturn -c CONF activate DOMAIN sn --force; t1
  wait until every sender has completed a message signed with sn
  keyturn -c CONF retire DOMAIN s(n-1) --force
and for each swap the time from t1 (the command returned: the etcd commit
is done) and from t0 to the first message signed with sn of each daemon,
and of the last daemon to get there.

Prints one block of results; exits 1 when a command or a message failed,
or a swap did not reach every daemon within --timeout seconds.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

SEL_RE = re.compile(rb"(?:^|;)\s*s\s*=\s*([A-Za-z0-9._-]+)")


def selectors(path):
    """The s= of every DKIM-Signature of the message in path."""
    with open(path, "rb") as f:
        data = f.read()
    head = data.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    # unfold
    head = re.sub(rb"\n[ \t]+", b" ", head)
    out = []
    for line in head.split(b"\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"dkim-signature":
            m = SEL_RE.search(value)
            if m:
                out.append(m.group(1).decode())
    return out


class Sender(threading.Thread):
    def __init__(self, idx, args, sock, stop):
        super().__init__(daemon=True)
        self.idx = idx
        self.args = args
        self.sock = sock
        self.stop = stop
        self.out = os.path.join(args.work, "out%d.eml" % idx)
        self.cond = threading.Condition()
        self.first = {}         # selector -> completion of its first message
        self.count = 0
        self.unsigned = 0
        self.errors = []
        self.t_start = None
        self.t_end = None

    def run(self):
        cmd = [self.args.miltc, "-s", "unix:" + self.sock, "-t", "30",
               "-o", self.out, "--client", "127.0.0.1", self.args.msg]
        self.t_start = time.monotonic()
        while not self.stop.is_set():
            try:
                os.unlink(self.out)
            except FileNotFoundError:
                pass
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            t = time.monotonic()
            if p.returncode != 0:
                self.errors.append("miltc exited %d: %s" % (
                    p.returncode, p.stderr.decode(errors="replace").strip()))
                if len(self.errors) > 10:
                    break
                continue
            try:
                sels = selectors(self.out)
            except OSError as e:
                self.errors.append("%s: %s" % (self.out, e))
                continue
            with self.cond:
                self.count += 1
                if not sels:
                    self.unsigned += 1
                for s in sels:
                    self.first.setdefault(s, t)
                self.cond.notify_all()
        self.t_end = time.monotonic()

    def wait_for(self, sel, deadline):
        with self.cond:
            while sel not in self.first:
                left = deadline - time.monotonic()
                if left <= 0 or not self.is_alive():
                    return None
                self.cond.wait(min(left, 0.5))
            return self.first[sel]


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a list."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(1, int(-(-p * len(v) // 100)))   # ceil(p/100 * n)
    return v[min(k, len(v)) - 1]


def cli(args, *argv):
    cmd = [args.keyturn, "-c", args.conf] + list(argv)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with open(os.path.join(args.work, "keyturn.log"), "ab") as f:
        f.write(b"$ " + " ".join(cmd).encode() + b"\n" + p.stdout)
    if p.returncode != 0:
        raise RuntimeError("keyturn %s failed (%d): %s" % (
            " ".join(argv), p.returncode,
            p.stdout.decode(errors="replace").strip()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keyturn", required=True)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--miltc", required=True)
    ap.add_argument("--msg", required=True)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--swaps", type=int, default=100)
    ap.add_argument("--prefix", default="s")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("sockets", nargs="+")
    args = ap.parse_args()

    stop = threading.Event()
    senders = [Sender(i + 1, args, s, stop)
               for i, s in enumerate(args.sockets)]
    for s in senders:
        s.start()
    # every daemon signs with the first key before the first swap
    first = args.prefix + "0"
    for s in senders:
        if s.wait_for(first, time.monotonic() + args.timeout) is None:
            stop.set()
            sys.exit("fleet_swap: daemon %d never signed with %s: %s" % (
                s.idx, first, "; ".join(s.errors[-3:])))

    rows = []       # (cli_s, from_t1_last, from_t0_last, [from_t1 per daemon])
    t_begin = time.monotonic()
    n_begin = [s.count for s in senders]
    failed = None
    try:
        for n in range(1, args.swaps + 1):
            sel = "%s%d" % (args.prefix, n)
            cli(args, "key", "new", args.domain, "--algorithm", "ed25519",
                "--selector", sel)
            t0 = time.monotonic()
            cli(args, "activate", args.domain, sel, "--force")
            t1 = time.monotonic()
            deadline = t1 + args.timeout
            seen = []
            for s in senders:
                t = s.wait_for(sel, deadline)
                if t is None:
                    raise RuntimeError(
                        "swap %d: daemon %d did not sign with %s within "
                        "%g s (%s)" % (n, s.idx, sel, args.timeout,
                                       "; ".join(s.errors[-3:]) or
                                       "no error"))
                seen.append(t)
            last = max(seen)
            rows.append((t1 - t0, last - t1, last - t0,
                         [t - t1 for t in seen]))
            cli(args, "retire", args.domain, "%s%d" % (args.prefix, n - 1),
                "--force")
    except RuntimeError as e:
        failed = "swap %d: %s" % (n, e) if not str(e).startswith("swap") \
            else str(e)
    t_done = time.monotonic()
    n_done = [s.count for s in senders]
    stop.set()
    for s in senders:
        s.join(60)

    ms = 1000.0
    print("  %d swaps of %s (ed25519, --active-keys 2), %d daemons; "
          "keyturn -c %s" % (len(rows), args.domain, len(senders),
                             os.path.basename(args.conf)))
    if rows:
        def line(label, vals):
            print("  %-44s p50 %7.1f  p90 %7.1f  max %7.1f ms" % (
                label, pct(vals, 50) * ms, pct(vals, 90) * ms,
                max(vals) * ms))
        line("activate command (t0 -> t1)", [r[0] for r in rows])
        line("t1 -> last daemon signs with the new key", [r[1] for r in rows])
        line("t0 -> last daemon signs with the new key", [r[2] for r in rows])
        for i, s in enumerate(senders):
            line("  t1 -> daemon %d signs with it" % s.idx,
                 [r[3][i] for r in rows])
        neg = sum(1 for r in rows if r[1] < 0)
        if neg:
            print("  (%d swaps: every daemon had signed with the new key "
                  "before the command returned)" % neg)
    el = t_done - t_begin
    rates = ["%.1f" % ((n_done[i] - n_begin[i]) / el) if el > 0 else "-"
             for i in range(len(senders))]
    print("  sender rate (messages/s completed, daemons %s): %s" % (
        " ".join(str(s.idx) for s in senders), " ".join(rates)))
    print("  granularity: a daemon is seen signing with the new key when a "
          "message signed\n  with it completes. With two active keys "
          "keyturnd round-robins, so the first\n  message after the update "
          "may still carry the old key: up to two messages\n  (2 / rate), "
          "plus the one in flight when the update lands, are the sender's\n"
          "  lateness, not the fleet's")
    unsigned = sum(s.unsigned for s in senders)
    errors = sum(len(s.errors) for s in senders)
    print("  messages: %d, unsigned %d, errors %d" % (
        sum(s.count for s in senders), unsigned, errors))
    for s in senders:
        for e in s.errors[:3]:
            print("  daemon %d: %s" % (s.idx, e), file=sys.stderr)
    if failed:
        sys.exit("fleet_swap: " + failed)
    if unsigned or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
