#!/bin/sh
# rotate_delegated.sh - keyturnd rotates delegated domains behind the
# customer's CNAMEs, gated on DNS evidence (issue 14)
#
# DNS, all on loopback and one port: a root server for test. (127.0.0.70)
# delegates prov.test (Knot primary 127.0.0.71 taking RFC 2136 updates,
# secondary 127.0.0.72 following by NOTIFY/IXFR) and cust.test and
# bad.test (two independent Knot primaries 127.0.0.81 and .82 that hold
# the customer's CNAMEs kt1..kt3, TTL 3 s). An unbound on 127.0.0.73
# resolves from the root, as a receiver's resolver would, and caches.
# keyturnd (Rotation yes, RotationInterval 1s) publishes through
# contrib/publish/keyturn-nsupdate; cust.test (ed25519) and bad.test (rsa)
# are delegated to prov.test with 3 slots, rotate-after 8s, retire-after
# 4s, dns-hold 5s; TXT TTL 2 s, negative TTL 1 s: the hold is 3 s.
# bad.test's kt2 CNAME is missing at .82 from the start.
#
# A stream of messages (t/miltc, one at a time, the two domains in turn)
# runs the whole time; each signature is verified with dkimpy at once
# through the CNAME at every pair of (customer server, provider server),
# RD=0, and through unbound. A watcher polls every server and unbound.
# The stream stops when every cust.test slot has signed with two keys.
# Then: every message signed and verified; no key signed before its
# record and every CNAME agreed at all four servers plus the 3 s hold
# (watch log), nor before the history made it ready after a hold of at
# least 3 s; unbound served a stale value of some slot after the
# provider's primary had the new one (so the through-unbound check tested
# a cache), yet verified every message; bad.test never signs with kt2,
# keyturn status shows the alarm naming kt2's CNAME, ns2.bad.test and
# the target, and the slots: line; keyturn audit names the key of
# messages signed two and three rotations back.
#
# Nothing is timed: HANG only catches a hang.
. "$top_srcdir/t/milter_lib.sh"
. "$top_srcdir/t/lib/knot.sh"
. "$top_srcdir/t/lib/unbound.sh"
knot_available || kt_skip "knotd, knotc or kdig missing (Debian: knot, knot-dnsutils)"
ub_available || kt_skip "unbound missing (Debian: unbound)"
command -v nsupdate >/dev/null || kt_skip "nsupdate missing (Debian: dnsutils)"
command -v openssl >/dev/null || kt_skip "openssl missing"
"$PYTHON3" -c 'import dns.message' 2>/dev/null ||
    kt_skip "$PYTHON3 lacks dnspython (python3-dnspython)"

HANG=300	# s: the rotations take about 60

kt_init rotate_delegated
knot_init || kt_fail "knot_init"
trap 'kt_cleanup; [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; [ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null; ub_stop "$KNOT_DIR/ub"; knot_stop_all; rm -rf "$KNOT_DIR"' EXIT
P=$KNOT_PORT
Z=$KNOT_DIR

# --- the zones
cat > "$Z/root.zone" <<R
\$TTL 3
@ SOA ns.test. host.invalid. 1 60 60 600 1
@ NS ns
ns A 127.0.0.70
prov NS ns1.prov
prov NS ns2.prov
ns1.prov A 127.0.0.71
ns2.prov A 127.0.0.72
cust NS ns1.cust
cust NS ns2.cust
ns1.cust A 127.0.0.81
ns2.cust A 127.0.0.82
bad NS ns1.bad
bad NS ns2.bad
ns1.bad A 127.0.0.81
ns2.bad A 127.0.0.82
R
cat > "$Z/prov.zone" <<R
\$TTL 2
@ SOA ns1.prov.test. host.invalid. 1 60 60 600 1
@ NS ns1
@ NS ns2
ns1 A 127.0.0.71
ns2 A 127.0.0.72
R
# custzone ZONE [SLOT...] - a customer zone with CNAMEs for SLOTs
custzone() {
	_cz=$1; shift
	cat <<R
\$TTL 3
@ SOA ns1.$_cz. host.invalid. 1 60 60 600 1
@ NS ns1
@ NS ns2
ns1 A 127.0.0.81
ns2 A 127.0.0.82
R
	for _n in "$@"; do
		echo "kt$_n._domainkey CNAME kt$_n.$_cz.prov.test."
	done
}
custzone cust.test 1 2 3 > "$Z/cust.zone"
custzone bad.test 1 2 3 > "$Z/bad1.zone"
custzone bad.test 1 3 > "$Z/bad2.zone"

knot_server root 127.0.0.70 && knot_zone root test "$Z/root.zone" ||
    kt_fail "root zone"
KNOT_TSIG_SECRET=$(openssl rand -base64 32) || kt_fail "openssl rand"
KNOT_TSIG_FILE=$Z/tsig.key
(umask 077 && cat > "$KNOT_TSIG_FILE") <<K || kt_fail "tsig file"
key "keyturn" {
	algorithm hmac-sha256;
	secret "$KNOT_TSIG_SECRET";
};
K
knot_server pprim 127.0.0.71 && knot_key pprim keyturn "$KNOT_TSIG_SECRET" &&
    knot_zone pprim prov.test "$Z/prov.zone" update=keyturn \
    notify=127.0.0.72 && knot_server psec 127.0.0.72 &&
    knot_secondary psec prov.test 127.0.0.71 || kt_fail "prov.test"
knot_server c1 127.0.0.81 && knot_zone c1 cust.test "$Z/cust.zone" &&
    knot_zone c1 bad.test "$Z/bad1.zone" && knot_server c2 127.0.0.82 &&
    knot_zone c2 cust.test "$Z/cust.zone" &&
    knot_zone c2 bad.test "$Z/bad2.zone" || kt_fail "customer zones"
for s in root pprim psec c1 c2; do
	knot_start $s || kt_fail "cannot start knot $s"
done
ub_start "$Z/ub" 127.0.0.73 "$P" "test=127.0.0.70@$P" \
    "prov.test=127.0.0.71@$P,127.0.0.72@$P" \
    "cust.test=127.0.0.81@$P,127.0.0.82@$P" \
    "bad.test=127.0.0.81@$P,127.0.0.82@$P" ||
    kt_fail "cannot start unbound"

# --- keyturnd
cat > "$W/hook.sh" <<H
#!/bin/sh
echo "\$(date +%s) \$KEYTURN_ACTION \$KEYTURN_NAME \$KEYTURN_KEY_ID" >> "$W/hook.log"
exec "$top_srcdir/contrib/publish/keyturn-nsupdate" -s 127.0.0.71 -p $P \\
    -k "$KNOT_TSIG_FILE" -l 2 -w 30
H
kt_cli domain add cust.test --delegate-to prov.test --slots 3 \
    --algorithms ed25519 --rotate-after 8s --retire-after 4s --dns-hold 5s
# a two-slot policy that cannot work is refused, with the numbers
"$KEYTURN" -K "$KS" domain add two.test --delegate-to prov.test --slots 2 \
    --rotate-after 8s --retire-after 4s --dns-hold 5s 2> "$W/two.err" &&
    kt_fail "two slots rotating every 8s accepted"
grep -q "4s + 5s = 9s" "$W/two.err" || kt_fail "refusal: $(cat "$W/two.err")"
kt_cli domain add bad.test --delegate-to prov.test --slots 3 \
    --algorithms rsa --rotate-after 8s --retire-after 4s --dns-hold 5s
kt_conf "LogLevel info" "Rotation yes" "RotationInterval 1s" \
    "RecheckInterval 1s" "Resolver 127.0.0.70:$P" "DNSPort $P" \
    "DNSTimeout 2s" "PublishCommand sh $W/hook.sh"
kt_msg "$W/cust.eml" "From: alice@cust.test"
kt_msg "$W/bad.eml" "From: bob@bad.test"
kt_start

cat > "$W/dstream.py" <<'PY'
import argparse, base64, hashlib, json, os, re, subprocess, sys, time
from datetime import datetime, timezone
sys.path.insert(0, sys.argv.pop(1))
import dkim
import dns.exception, dns.flags, dns.message, dns.query, dns.rdatatype
from dkimverify import crlf
from ztstream import sig_fields

ED_SPKI = bytes.fromhex("302a300506032b6570032100")


def ask(addr, port, name, rd=False):
    """one query; its timeout (10 s) only catches a server that hangs"""
    q = dns.message.make_query(name, dns.rdatatype.TXT)
    if not rd:
        q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, addr, port=port, timeout=10)
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, addr, port=port, timeout=10)
    return r


def txt_of(r):
    for rr in r.answer:
        if rr.rdtype == dns.rdatatype.TXT:
            return b"".join(list(rr.items)[0].strings)
    return None


def cname_of(r):
    """the CNAME target of an answer that is a CNAME and nothing else"""
    if len(r.answer) != 1 or r.answer[0].rdtype != dns.rdatatype.CNAME:
        return None
    return str(list(r.answer[0].items)[0].target).rstrip(".").lower()


def kid_of(txt):
    """the key id of a DKIM record; "p=" for a revoked one"""
    if txt is None:
        return None
    tags = dict(p.strip().split("=", 1) for p in txt.decode().split(";")
                if "=" in p)
    p = "".join(tags.get("p", "").split())
    if not p:
        return "p="
    der = base64.b64decode(p)
    if tags.get("k", "rsa").strip() == "ed25519":
        der = ED_SPKI + der
    return hashlib.sha256(der).hexdigest()[:16]


def addr(spec):
    a, p = spec.rsplit(":", 1)
    return a, int(p)


def stream(a):
    got = {}
    def chain(c, p):
        def fn(name, timeout=5):
            target = cname_of(ask(*c, name.decode()))
            if target is None:
                return None
            v = txt_of(ask(*p, target))
            got["kid"] = kid_of(v)
            return v
        return fn
    def resolver(name, timeout=5):
        return txt_of(ask(*addr(a.resolver), name.decode(), rd=True))
    funcs = {"%s/%s" % (c, p): chain(addr(c), addr(p))
             for c in a.cust for p in a.prov}
    funcs["resolver"] = resolver
    tmp = a.out + ".msg"
    start, n = time.time(), 0
    saved = set()
    with open(a.out, "w") as log:
        while not os.path.exists(a.stop) and time.time() - start < a.max:
            msgf = a.msg[n % len(a.msg)]
            n += 1
            r = subprocess.run([a.miltc, "-s", a.socket, "-t", "30", "-o",
                                tmp, "--client", "127.0.0.1", msgf],
                               capture_output=True, text=True)
            rec = {"n": n, "time": time.time(), "msg": msgf,
                   "rc": r.returncode, "sigs": []}
            if r.returncode == 0 and os.path.exists(tmp):
                msg = crlf(open(tmp, "rb").read())
                for idx, (s, alg, t) in enumerate(sig_fields(msg)):
                    d = dkim.DKIM(msg).headers
                    ok, kids = {}, set()
                    for spec, fn in funcs.items():
                        got.clear()
                        try:
                            ok[spec] = bool(dkim.DKIM(msg).verify(
                                idx=idx, dnsfunc=fn))
                        except (dkim.DKIMException, dns.exception.DNSException) as e:
                            ok[spec] = False
                            rec.setdefault("err", []).append("%s: %s" % (spec, e))
                        if "kid" in got:
                            kids.add(got["kid"])
                    dom = re.search(rb"d=([^;\s]+)", [v for k, v in d if
                                    k.lower() == b"dkim-signature"][idx])
                    dom = dom.group(1).decode()
                    kid = kids.pop() if len(kids) == 1 else sorted(kids)
                    rec["sigs"].append({"d": dom, "s": s, "t": t, "ok": ok,
                                        "kid": kid})
                    if isinstance(kid, str) and kid not in saved:
                        saved.add(kid)
                        with open(os.path.join(a.save, kid + ".eml"),
                                  "wb") as f:
                            f.write(msg)
            log.write(json.dumps(rec) + "\n")
            log.flush()
    return 0


def watch(a):
    """every server's view of every slot, a line at each change"""
    last = {}
    with open(a.out, "w") as log:
        while not os.path.exists(a.stop):
            now = time.time()
            for d in a.domain:
                for n in (1, 2, 3):
                    name = "kt%d._domainkey.%s" % (n, d)
                    target = "kt%d.%s.prov.test" % (n, d)
                    views = {}
                    for c in a.cust:
                        try:
                            views[c] = cname_of(ask(*addr(c), name))
                        except Exception:
                            views[c] = "?"
                    for p in a.prov:
                        try:
                            views[p] = kid_of(txt_of(ask(*addr(p), target)))
                        except Exception:
                            views[p] = "?"
                    try:
                        views["resolver"] = kid_of(txt_of(ask(
                            *addr(a.resolver), name, rd=True)))
                    except Exception:
                        views["resolver"] = "?"
                    for k, v in views.items():
                        if last.get((name, k), "-") != v:
                            last[(name, k)] = v
                            log.write(json.dumps({"time": now, "name": name,
                                                  "server": k, "value": v})
                                      + "\n")
            log.flush()
            time.sleep(0.25)
    return 0


def parse_time(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc).timestamp()


def check(a):
    recs = [json.loads(l) for l in open(a.log)]
    wlog = [json.loads(l) for l in open(a.watch)]
    hist = {}
    for d in a.domain:
        hist[d] = json.load(open(os.path.join(a.histdir, d + ".json")))
    bad, nsig = [], 0
    first = {}		# (d, s, kid) -> first t=
    started = {}
    for r in recs:
        d = "cust.test" if "cust" in r["msg"] else "bad.test"
        if not r["sigs"]:
            if started.get(d):
                bad.append("message %d (%s) not signed" % (r["n"], d))
            continue
        started[d] = True
        for sg in r["sigs"]:
            nsig += 1
            if not all(sg["ok"].values()):
                bad.append("message %d %s s=%s: %s" % (r["n"], sg["d"],
                           sg["s"], sg["ok"]))
            if not isinstance(sg["kid"], str):
                bad.append("message %d: key ids %s" % (r["n"], sg["kid"]))
                continue
            k = (sg["d"], sg["s"], sg["kid"])
            first[k] = min(first.get(k, sg["t"]), sg["t"])
    # the watch: when the four servers first agreed (and kept agreeing)
    # on each slot's key before it signed
    view = {}
    stale = set()
    agree = {}
    for w in wlog:
        view[(w["name"], w["server"])] = w["value"]
        for (d, s, kid) in first:
            name = "%s._domainkey.%s" % (s, d)
            target = "%s.%s.prov.test" % (s, d)
            ok = all(view.get((name, c)) == target for c in a.cust) and \
                all(view.get((name, p)) == kid for p in a.prov)
            if ok and (d, s, kid) not in agree:
                agree[(d, s, kid)] = w["time"]
            elif not ok and w["time"] < first[(d, s, kid)]:
                agree.pop((d, s, kid), None)
        # unbound still gives what the name had before, though both
        # provider servers have the new value
        res = view.get((w["name"], "resolver"))
        prim = view.get((w["name"], a.prov[0]))
        if res not in (None, "?") and prim not in (None, "?", res) and \
                view.get((w["name"], a.prov[1])) == prim:
            stale.add((w["name"], prim))
    for k, t in sorted(first.items(), key=lambda x: x[1]):
        at = agree.get(k)
        if at is None:
            bad.append("%s %s key %s signed at %d, never seen agreed" %
                       (k + (t,)))
        elif t < at + a.hold - 1 - 0.5:
            bad.append("%s %s key %s signed at %d, agreed at %.2f: hold %d "
                       "not passed" % (k + (t, at, a.hold)))
        ev = [e for e in hist[k[0]] if e.get("key") == k[2]]
        ready = [e for e in ev if e["to"] == "ready"]
        if not ready:
            bad.append("%s %s key %s signed, never ready" % k)
            continue
        rt = parse_time(ready[0]["time"])
        m = re.search(r"hold (\d+)s", ready[0]["reason"])
        if t < rt:
            bad.append("%s %s key %s signed at %d, ready at %d" %
                       (k + (t, rt)))
        if not m or int(m.group(1)) < a.hold:
            bad.append("%s %s key %s: ready with %r" %
                       (k + (ready[0]["reason"],)))
        print("%s %s key %s: agreed %.2f, ready %d, first t= %d (%s)" %
              (k + (at or 0, rt, t, m.group(0) if m else "?")))
    print("messages %d, signatures %d, stale unbound answers seen %d" %
          (len(recs), nsig, len(stale)))
    if a.need_stale and not stale:
        bad.append("unbound never served a stale value: the cache check "
                   "tested nothing")
    for b in bad[:20]:
        print("BAD: " + b)
    return 1 if bad or not nsig else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream")
    s.add_argument("--miltc"); s.add_argument("--socket")
    s.add_argument("--msg", action="append")
    s.add_argument("--out"); s.add_argument("--stop"); s.add_argument("--save")
    s.add_argument("--max", type=float, default=600)
    w = sub.add_parser("watch")
    w.add_argument("--out"); w.add_argument("--stop")
    w.add_argument("--domain", action="append")
    c = sub.add_parser("check")
    c.add_argument("--log"); c.add_argument("--watch")
    c.add_argument("--histdir"); c.add_argument("--hold", type=int)
    c.add_argument("--domain", action="append")
    c.add_argument("--need-stale", action="store_true")
    for x in (s, w, c):
        x.add_argument("--cust", action="append")
        x.add_argument("--prov", action="append")
        x.add_argument("--resolver")
    a = ap.parse_args()
    return {"stream": stream, "watch": watch, "check": check}[a.cmd](a)


sys.exit(main())
PY
DNS="--cust 127.0.0.81:$P --cust 127.0.0.82:$P --prov 127.0.0.71:$P --prov 127.0.0.72:$P --resolver 127.0.0.73:$P"
DS="$PYTHON3 $W/dstream.py $top_srcdir/t/lib"
mkdir -p "$W/saved"
rm -f "$W/stop"
$DS watch $DNS --domain cust.test --domain bad.test --out "$W/watch.log" \
    --stop "$W/stop" 2> "$W/watch.err" &
WPID=$!
$DS stream $DNS --miltc "$MILTC" --socket "unix:$S/sock" \
    --msg "$W/cust.eml" --msg "$W/bad.eml" --out "$W/stream.log" \
    --stop "$W/stop" --save "$W/saved" --max $((3 * HANG)) \
    2> "$W/stream.err" &
SPID=$!

# until_ok WHY COMMAND... - until COMMAND succeeds (polled), else fail
# after HANG seconds with WHY (expanded then); the stream, the watcher and
# keyturnd must stay up
until_ok() {
	_why=$1; shift
	_end=$(($(date +%s) + HANG))
	until "$@"; do
		kill -0 "$SPID" 2>/dev/null ||
		    kt_fail "the stream stopped: $(tail -5 "$W/stream.err")"
		kill -0 "$WPID" 2>/dev/null ||
		    kt_fail "the watcher stopped: $(tail -5 "$W/watch.err")"
		kill -0 "$KPID" 2>/dev/null || kt_fail "keyturnd died"
		[ "$(date +%s)" -lt $_end ] ||
		    kt_fail "after $HANG s: $(eval "echo \"$_why\"")"
		sleep 0.5
	done
}

# reused - every cust.test slot has signed with two keys (from the stream)
reused() {
	"$PYTHON3" - "$W/stream.log" > "$W/keys.now" <<'PY'
import json, os, sys
k = {}
for l in open(sys.argv[1]) if os.path.exists(sys.argv[1]) else []:
    for sg in json.loads(l)["sigs"]:
        if sg["d"] == "cust.test" and isinstance(sg["kid"], str):
            k.setdefault(sg["s"], set()).add(sg["kid"])
print(" ".join("%s:%d" % (s, len(v)) for s, v in sorted(k.items())))
sys.exit(0 if len(k) == 3 and all(len(v) >= 2 for v in k.values()) else 1)
PY
}
t0=$(date +%s)
until_ok 'keys per slot: $(cat "$W/keys.now")' reused
took=$(($(date +%s) - t0))
"$KEYTURN" -K "$KS" status > "$W/status.bad" 2>&1
touch "$W/stop"
wait "$SPID" || kt_fail "the stream failed: $(tail -5 "$W/stream.err")"
SPID=
wait "$WPID" || kt_fail "the watcher failed: $(tail -5 "$W/watch.err")"
WPID=
kt_stop
kt_ok "$took s: every slot of cust.test signed with two keys ($(cat "$W/keys.now"))"

for d in cust.test bad.test; do
	"$KEYTURN" -K "$KS" history $d --json > "$W/$d.json" ||
	    kt_fail "keyturn history $d"
	"$KEYTURN" -K "$KS" history $d > "$W/$d.history"
done
sed 's/^/  /' "$W/cust.test.history"
$DS check $DNS --log "$W/stream.log" --watch "$W/watch.log" \
    --histdir "$W" --hold 3 --domain cust.test --domain bad.test \
    --need-stale > "$W/check.out"
rc=$?
sed 's/^/  /' "$W/check.out"
[ $rc = 0 ] || kt_fail "the stream does not match DNS and the history"
kt_ok "every message verified when signed, through the CNAMEs and unbound; no key signed before DNS agreed and the hold passed"

# --- bad.test: kt2 never signs, the alarm is shown, the others sign
grep -q '"d": "bad.test", "s": "kt2"' "$W/stream.log" &&
    kt_fail "bad.test signed with kt2"
grep -Eq '^[^ ]+ +kt2 .*-> active' "$W/bad.test.history" &&
    kt_fail "bad.test's kt2 made active"
grep -q "ALARM: *slot kt2 (kt2._domainkey.bad.test): .*ns2.bad.test 127.0.0.82.*expected kt2.bad.test.prov.test" "$W/status.bad" ||
    kt_fail "no alarm for bad.test kt2: $(cat "$W/status.bad")"
grep -q "^bad.test (delegated to prov.test, 3 slots)$" "$W/status.bad" ||
    kt_fail "no delegation on bad.test's line: $(cat "$W/status.bad")"
grep -Eq "^  slots: +kt1 [a-z]+ ([0-9a-f]{16}|-) \| kt2 [a-z]+ ([0-9a-f]{16}|-) \| kt3 [a-z]+ ([0-9a-f]{16}|-)$" "$W/status.bad" ||
    kt_fail "no slots: line: $(cat "$W/status.bad")"
nb=$(grep -c '"d": "bad.test"' "$W/stream.log")
[ "$nb" -gt 0 ] || kt_fail "bad.test never signed"
kt_ok "bad.test: kt2 never used, alarm shown, $nb messages signed by kt1/kt3"

# --- audit two and three rotations back
"$PYTHON3" - "$W/cust.test.json" > "$W/actives" <<'PY'
import json, sys
for e in json.load(open(sys.argv[1])):
    if e["to"] == "active" and e["from"] != "active":
        print(e["selector"], e["key"])
PY
n=$(wc -l < "$W/actives")
for back in 2 3; do
	set -- $(sed -n "$((n - back))p" "$W/actives")
	[ -f "$W/saved/$2.eml" ] || kt_fail "no message signed by $1 key $2"
	"$KEYTURN" -K "$KS" audit "$W/saved/$2.eml" > "$W/audit.$back" 2>&1 ||
	    kt_fail "audit $back back: $(cat "$W/audit.$back")"
	grep -q "allowed: $1 held key $2" "$W/audit.$back" ||
	    kt_fail "audit $back back: $(cat "$W/audit.$back")"
done
kt_ok "audit names the key of messages signed 2 and 3 rotations back"
exit 0
