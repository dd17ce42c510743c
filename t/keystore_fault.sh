#!/bin/sh
# keystore_fault - keyturn's writes when the file system fails under them.
#
# t/faultshim.so counts the file-system calls a command makes under the
# keystore (its write steps), then makes each step in turn fail with EIO
# (every third with ENOSPC), or kills the command there (SIGKILL before a
# call that changes a file, and a write cut in half). A step the same as
# one an earlier command faulted (the same call on the same kind of file,
# after the same step) is left out; KEYSTORE_FAULT_ALL=1 faults every
# step of every command. After every fault: the command failed with an
# error naming the file and the errno's text (or, killed, said nothing);
# the keystore loads (list, dns, history); no key that was
# there is lost, and each key's state is the last state its history gives
# it; a key's history is one chain with no line twice. Then the command
# runs again without a fault (or, when the killed run had committed, the
# next write of the domain): it succeeds, the keystore holds what it asked
# for, and no temporary file of the interrupted write is left.
#
# Last, a full file system: the keystore on a small tmpfs filled up, and
# writes until they fail for want of space; the same checks, and once
# space is freed the writes succeed again.
. "$top_srcdir/t/keystore_lib.sh"

SHIM="$top_builddir/t/faultshim.so"
[ -f "$SHIM" ] || fail "$SHIM not built (make check builds it)"
R=$(realpath "$T")
B="$R/base"
kt() { "$KT" -K "$B" "$@"; }

# --- the keystore every faulted command starts from
run 0 kt init
run 0 kt domain add a.example --algorithms rsa,ed25519 --bits 1024
run 0 kt domain add b.example --algorithms ed25519
run 0 kt domain add d.example --delegate-to prov.example --slots 2 \
    --algorithms ed25519
run 0 kt domain add r.example --algorithms ed25519
# a.example: one key in each state a command moves out of
for s in pend act ret comp; do
	run 0 kt key new a.example --algorithm ed25519 --selector $s
done
run 0 kt key new a.example --algorithm rsa --selector rsa1
run 0 kt activate a.example act --force
run 0 kt activate a.example ret --force
run 0 kt activate a.example comp --force
run 0 kt activate a.example rsa1 --force
run 0 kt retire a.example ret --force
run 0 kt key new b.example
run 0 kt key new d.example
run 0 kt key new r.example
openssl genpkey -algorithm ed25519 -out "$R/import.pem" 2>/dev/null ||
    fail "openssl genpkey"
# rotation: the pass over a domain with a pending key writes its memo; no
# DNS server listens on the port, so nothing is confirmed
printf 'KeyStore %s\nResolver 127.0.0.1\nDNSPort 9\nDNSTimeout 1\n' "$B" \
    >"$R/kt.conf"

"$PYTHON3" - "$KT" "$SHIM" "$B" "$R" "${KEYSTORE_FAULT_ALL:-0}" <<'PY' ||
import concurrent.futures, json, os, re, shutil, subprocess, sys, threading

KT, SHIM, BASE, R, ALL = sys.argv[1:6]
TEXT = {"EIO": "Input/output error", "ENOSPC": "No space left on device"}
local = threading.local()


class Fail(Exception):
    pass


def kt(args, env=None):
    pre = ["-c", os.path.join(R, "kt.conf")] if args[0] == "rotate" else []
    return subprocess.run([KT] + pre + ["-K", local.w] + args, env=env,
                          capture_output=True, text=True)


def kt_ok(args):
    r = kt(args)
    if r.returncode != 0:
        raise Fail("keyturn %s: exit %d: %s" % (" ".join(args),
                                                 r.returncode, r.stderr))
    return r.stdout


def faulted(args, n=None, do=None):
    log, count = local.w + ".log", local.w + ".count"
    env = dict(os.environ, LD_PRELOAD=SHIM, KT_FAULT_DIR=local.w,
               KT_FAULT_LOG=log, KT_FAULT_COUNT=count)
    env.pop("KT_FAULT_PID", None)
    if n is not None:
        env.update(KT_FAULT_N=str(n), KT_FAULT_DO=do)
    for f in (log, count):
        if os.path.exists(f):
            os.unlink(f)
    r = kt(args, env)
    steps = open(log).read().splitlines() if os.path.exists(log) else []
    total = int(open(count).read()) if os.path.exists(count) else None
    return r, steps, total


def check(dom, before, dns=True):
    """The keystore loads; dom's keys are all there and agree with its
    history, a chain per key with no line twice."""
    keys = [k for k in json.loads(kt_ok(["list", "--json"]))
            if k["domain"] == dom]
    exists = os.path.isdir(os.path.join(local.w, dom))
    r = kt(["history", dom, "--json"])
    if r.returncode != 0 and not exists and not before:
        return False, keys		# a domain that never was
    if r.returncode != 0:
        raise Fail("keyturn history %s: exit %d: %s" % (dom, r.returncode,
                                                         r.stderr))
    hist = json.loads(r.stdout)
    if not exists:
        if keys or not hist or "domain removed" not in hist[-1]["reason"]:
            raise Fail("%s gone without its removal line" % dom)
        return False, keys
    if dns:
        kt_ok(["dns", dom])	# loads every private key not revoked
    chains = {}
    for e in hist:
        if e["selector"] == "-":
            continue
        k = e["key"] or e["selector"]
        last = chains.get(k)
        if (last is None and e["from"] != "-") or \
                (last is not None and e["from"] != last):
            raise Fail("history of %s: %s goes %s -> %s after %s" %
                       (dom, e["selector"], e["from"], e["to"], last))
        chains[k] = e["to"]
    for k in keys:
        if chains.get(k["key_id"]) != k["state"]:
            raise Fail("%s %s is %s, its history says %s" %
                       (dom, k["selector"], k["state"],
                        chains.get(k["key_id"])))
        name = k["selector"] + (".%s" % k["key_id"] if k["slot"] else "")
        pem = os.path.join(local.w, dom, "keys", name + ".pem")
        if k["state"] != "revoked" and not os.path.exists(pem):
            raise Fail("%s: private key missing" % pem)
    have = {k["key_id"] for k in keys}
    for k in before:
        if k["key_id"] not in have:
            raise Fail("key %s of %s lost" % (k["selector"], dom))
    return True, keys


def leftovers():
    out = []
    for top, dirs, files in os.walk(local.w):
        out += [os.path.join(top, f) for f in dirs + files
                if ".tmp." in f or f.startswith(".new-")]
    return out


def state_of(keys, sel):
    return [k["state"] for k in keys if k["selector"] == sel]


NEXT = ["key", "new", "a.example", "--algorithm", "ed25519"]
# name, command, its domain, done(exists, keys, keys before), the next
# write of the domain once it is done (None: the command again)
cmds = [
    ("key new ed25519", ["key", "new", "a.example", "--algorithm", "ed25519"],
     "a.example", None, None),
    ("activate", ["activate", "a.example", "pend", "--force"], "a.example",
     lambda e, k, b: state_of(k, "pend") == ["active"], NEXT),
    ("domain add", ["domain", "add", "n.example", "--algorithms", "ed25519"],
     "n.example", lambda e, k, b: e, ["key", "new", "n.example"]),
    ("domain remove", ["domain", "remove", "b.example", "--force"],
     "b.example", lambda e, k, b: not e,
     ["domain", "add", "b.example", "--algorithms", "ed25519"]),
    ("key new rsa", ["key", "new", "a.example", "--algorithm", "rsa"],
     "a.example", None, None),
    ("key import", ["key", "import", "a.example", "imp",
                    os.path.join(R, "import.pem")],
     "a.example", lambda e, k, b: state_of(k, "imp") == ["pending"], NEXT),
    ("retire", ["retire", "a.example", "act", "--force"], "a.example",
     lambda e, k, b: state_of(k, "act") == ["retiring"], NEXT),
    ("revoke", ["revoke", "a.example", "ret"], "a.example",
     lambda e, k, b: state_of(k, "ret") == ["revoked"], NEXT),
    ("compromised", ["compromised", "a.example", "comp"], "a.example",
     lambda e, k, b: state_of(k, "comp") == ["revoked"], NEXT),
    ("domain set", ["domain", "set", "a.example", "--rotate-after", "30d"],
     "a.example", None, None),
    ("slot key new", ["key", "new", "d.example"], "d.example",
     lambda e, k, b: len(k) > len(b),
     ["domain", "set", "d.example", "--rotate-after", "30d"]),
    ("rotate", ["rotate", "r.example"], "r.example", None, None),
]


def fresh():
    if not hasattr(local, "w"):
        local.w = os.path.join(R, "w%d" % threading.get_ident())
    if os.path.exists(local.w):
        shutil.rmtree(local.w)
    shutil.copytree(BASE, local.w, symlinks=True)


def fault(c, before, n, do, steps, total):
    name, args, dom, done, nxt = c
    fresh()
    r, got, _ = faulted(args, n, do)
    if do in ("KILL", "TORN"):
        if r.returncode != -9:
            raise Fail("not killed: exit %d" % r.returncode)
    else:
        call, paths = got[n - 1].split()[1], got[n - 1].split()[2:]
        # unlink and rmdir are clean-ups: a failed one is no error, nor
        # is the lock file's mark of its holder; the rotation warns of a
        # memo it could not write and goes on
        cleanup = call in ("unlink", "rmdir") or \
            any(p.endswith("/lock") for p in paths)
        if r.returncode == 0 and not cleanup and name != "rotate":
            raise Fail("exit 0: the error was lost")
        if (r.returncode != 0 or not cleanup) and \
                (TEXT[do] not in r.stderr or
                 not any(p in r.stderr for p in paths)):
            raise Fail("the error does not name %s and \"%s\": %s" %
                       (" or ".join(paths), TEXT[do], r.stderr))
    exists, keys = check(dom, before)
    if do == "ENOSPC":
        return		# the same steps as EIO from here on
    # the command again, or once it is done the domain's next write
    again = nxt if done is not None and done(exists, keys, before) else args
    r = kt(again)
    if r.returncode != 0:
        raise Fail("then keyturn %s: exit %d: %s" %
                   (" ".join(again), r.returncode, r.stderr))
    exists2, keys = check(dom, before if exists else [], dns=False)
    if done is not None and again is args and not done(exists2, keys,
                                                       before):
        raise Fail("then keyturn %s: did not do it" % " ".join(args))
    left = leftovers()
    if left:
        raise Fail("temporary files left after the next write: %s" % left)


def shape(step):
    """A step with what varies from run to run taken out: the call and
    the kind of file (its domain, key and temporary suffix left out)."""
    f = step.split()
    out = [f[1]]
    for p in f[2:]:
        p = re.sub(r"\.tmp\.[0-9]+$", ".tmp", p[len(local.w):])
        p = re.sub(r"[a-z]\.example", "D", p)
        p = re.sub(r"/keys/[^/]+\.pem", "/keys/K.pem", p)
        out.append(p)
    return " ".join(out)


seen = set()
CHANGE = ("open", "write", "pwrite", "ftruncate", "rename", "link",
          "unlink", "mkdir", "rmdir")


def plan(i, c):
    """Count the command's steps and choose the faults: every step one
    after another that no earlier command took (with
    KEYSTORE_FAULT_ALL=1 every step), with EIO, with a kill before it when
    it changes a file, cut in half when it writes, and every third with
    ENOSPC."""
    fresh()
    name, args, dom = c[:3]
    before = check(dom, [])[1]
    r, steps, total = faulted(args)
    if r.returncode != 0:
        raise Fail("%s, no fault: exit %d: %s" % (name, r.returncode,
                                                   r.stderr))
    if total != len(steps) or total == 0:
        raise Fail("%s: %s steps counted, %d logged" % (name, total,
                                                        len(steps)))
    out, prev, k = [], "", 0
    for n in range(1, total + 1):
        sig = (prev, shape(steps[n - 1]))
        prev = sig[1]
        if sig in seen and ALL != "1" and n != total:
            continue
        seen.add(sig)
        call = steps[n - 1].split()[1]
        out.append((n, "EIO"))
        if call in CHANGE:
            out.append((n, "KILL"))
        if call == "write":
            out.append((n, "TORN"))
        if k % 3 == 0:
            out.append((n, "ENOSPC"))
        k += 1
    return [(c, before, n, do, steps, total) for n, do in out]


def task(t):
    c, before, n, do, steps, total = t
    try:
        fault(*t)
    except Fail as e:
        raise Fail("%s: step %d of %d (%s) %s: %s" %
                   (c[0], n, total, steps[n - 1], do, e))
    return c[0]


try:
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        plans = [plan(i, c) for i, c in enumerate(cmds)]
        done = {}
        for name in ex.map(task, [t for p in plans for t in p]):
            done[name] = done.get(name, 0) + 1
except Fail as e:
    print("FAIL: %s" % e, file=sys.stderr)
    sys.exit(1)
for c, p in zip(cmds, plans):
    print("%-16s %3d steps, %3d faults" % (c[0], p[0][5], done[c[0]]))
print("%d faults" % sum(done.values()))
PY
    fail "fault sweep"

# --- a full file system
[ "$(id -u)" = 0 ] || skip "a tmpfs mount needs root"
M="$R/full"
mkdir "$M"
mount -t tmpfs -o size=512k,mode=0700 tmpfs "$M" 2>"$T/err" ||
    skip "cannot mount a tmpfs: $(cat "$T/err")"
trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT
F="$M/ks"
kf() { "$KT" -K "$F" "$@"; }
run 0 kf init
run 0 kf domain add full.example --algorithms rsa,ed25519 --bits 1024
run 0 kf key new full.example --algorithm ed25519 --selector keep
run 0 kf activate full.example keep --force
# fill it up but for a few pages
avail=$(df -k --output=avail "$M" | tail -n 1)
dd if=/dev/zero of="$M/filler" bs=1k count=$((avail - 12)) 2>/dev/null ||
    fail "cannot fill $M"
i=0 nospace=0
while [ $i -lt 60 ]; do
	i=$((i + 1))
	case $((i % 3)) in
	0) set -- domain set full.example --rotate-after $((i + 1))d ;;
	1) set -- key new full.example --algorithm rsa ;;
	2) set -- domain add full$i.example --algorithms ed25519 ;;
	esac
	set +e
	kf "$@" >"$T/out" 2>"$T/err"
	st=$?
	set -e
	if [ $st -ne 0 ]; then
		has "$T/err" "No space left on device"
		grep -qF "$F/" "$T/err" || fail "the error names no file"
		nospace=$((nospace + 1))
	fi
	run 0 kf domain list
	run 0 kf dns
	run 0 kf list --json
	cp "$T/out" "$T/list.json"
	run 0 kf history full.example --json
	"$PYTHON3" - "$T/list.json" "$T/out" <<'PY' || fail "write $i: state and history disagree"
import json, sys
keys = [k for k in json.load(open(sys.argv[1]))
        if k["domain"] == "full.example"]
last = {}
for e in json.load(open(sys.argv[2])):
    if e["selector"] != "-":
        last[e["selector"]] = e["to"]
assert [k for k in keys if k["selector"] == "keep"], "key keep lost"
for k in keys:
    assert last.get(k["selector"]) == k["state"], (k, last)
PY
	[ $nospace -lt 4 ] || break
done
[ $nospace -ge 4 ] || fail "the file system never filled up ($i writes)"
rm "$M/filler"
run 0 kf key new full.example --algorithm rsa
run 0 kf domain add after.example --algorithms ed25519
run 0 kf domain set full.example --rotate-after 9d
left=$(find "$F" -name '*.tmp.*' -o -name '.new-*')
[ -z "$left" ] || fail "temporary files left: $left"
umount "$M"
trap 'rm -rf "$T"' EXIT
echo "ok: $nospace writes failed for want of space, none lost anything"
