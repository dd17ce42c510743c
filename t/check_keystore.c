/*
 * check_keystore - the keystore library: lifecycle, limits, selectors,
 * the on-disk format, damaged files, snapshots and reloads, and the
 * change journal that readers follow (store_watch_*)
 *
 * Every test builds its own keystore under a fresh temporary directory.
 * Ed25519 keys are used where the algorithm does not matter (they are
 * generated in microseconds).
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "store.h"
#include "xmalloc.h"

#define NOW	1795384290	/* 2026-11-22T21:51:30Z */
#define ED	STORE_ALG_ED25519

static char ks_dir[64];
static char err[1024];

/* ks_new - an empty keystore opened for writing */
static struct store *
ks_new(void)
{
	struct store *s;

	strlcpy(ks_dir, "/tmp/ckks.XXXXXX", sizeof(ks_dir));
	ck_assert_ptr_nonnull(mkdtemp(ks_dir));
	ck_assert_msg(store_init(ks_dir, err, sizeof(err)) == 0, "%s", err);
	s = store_open(ks_dir, 0, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

static void
ks_done(struct store *s)
{
	char cmd[128];

	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
dom_add(struct store *s, const char *name, unsigned algs)
{
	struct store_policy p;

	store_policy_default(&p);
	p.algs = algs;
	ck_assert_msg(store_domain_add(s, name, &p, NOW, err,
	    sizeof(err)) == 0, "%s", err);
}

/* dom_add_r - an Ed25519 domain, or -1 and err */
static int
dom_add_r(struct store *s, const char *name)
{
	struct store_policy p;

	store_policy_default(&p);
	p.algs = STORE_ALGBIT(ED);
	return store_domain_add(s, name, &p, NOW, err, sizeof(err));
}

/* key_add - a new pending key; its selector in sel */
static void
key_add(struct store *s, const char *dom, enum store_alg alg, int bits,
    char *sel)
{
	ck_assert_msg(store_key_new(s, dom, alg, bits, NULL, NOW, "test", sel,
	    STORE_SELECTOR_MAX + 1, err, sizeof(err)) == 0, "%s", err);
}

static int
move(struct store *s, const char *dom, const char *sel, enum store_state from,
    enum store_state to, int flags)
{
	struct store_change c = { sel, from, to, "test" };

	return store_apply(s, dom, &c, 1, NOW + 10, flags, err, sizeof(err));
}

static enum store_state
state_of(struct store *s, const char *dom, const char *sel)
{
	struct store_domain *d = store_domain_load(s, dom, 0, err,
	    sizeof(err));
	enum store_state st;

	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_ptr_nonnull(store_domain_key(d, sel));
	st = store_domain_key(d, sel)->state;
	store_domain_free(d);
	return st;
}

/* key_in - a key brought to a state by legal steps */
static void
key_in(struct store *s, const char *dom, enum store_state st, char *sel)
{
	static const enum store_state path[] = { STORE_PENDING, STORE_READY,
	    STORE_ACTIVE, STORE_RETIRING, STORE_REVOKED };
	int i;

	key_add(s, dom, ED, 0, sel);
	for (i = 1; i < 5 && path[i - 1] != st; i++)
		ck_assert_msg(move(s, dom, sel, path[i - 1], path[i], 0) == 0,
		    "%s", err);
}

/* ---- every transition ---- */

/* legal[from][to] without flags */
static const int legal[STORE_NSTATES][STORE_NSTATES] = {
	/* pending */	{ 0, 1, 0, 0, 1 },
	/* ready */	{ 1, 0, 1, 0, 1 },
	/* active */	{ 0, 0, 0, 1, 0 },
	/* retiring */	{ 0, 0, 0, 0, 1 },
	/* revoked */	{ 0, 0, 0, 0, 0 },
};

START_TEST(test_transition)
{
	enum store_state from = _i / STORE_NSTATES, to = _i % STORE_NSTATES;
	struct store *s = ks_new();
	char sel[64];
	const char *why;
	int r;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", from, sel);
	ck_assert_int_eq(state_of(s, "example.org", sel), from);
	ck_assert_int_eq(store_transition_ok(from, to, 0, &why) == 0,
	    legal[from][to]);
	r = move(s, "example.org", sel, from, to, 0);
	if (legal[from][to]) {
		ck_assert_msg(r == 0, "%s -> %s: %s", store_state_name(from),
		    store_state_name(to), err);
		ck_assert_int_eq(state_of(s, "example.org", sel), to);
	} else {
		ck_assert_msg(r == -1, "%s -> %s accepted",
		    store_state_name(from), store_state_name(to));
		ck_assert_ptr_nonnull(strstr(err, sel));
		ck_assert_ptr_nonnull(strstr(err, store_state_name(from)));
		ck_assert_int_eq(state_of(s, "example.org", sel), from);
	}
	ks_done(s);
}
END_TEST

START_TEST(test_force_and_stale)
{
	struct store *s = ks_new();
	char sel[64];

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_add(s, "example.org", ED, 0, sel);
	/* the caller believes it is ready: stale, nothing written */
	ck_assert_int_eq(move(s, "example.org", sel, STORE_READY,
	    STORE_ACTIVE, 0), -1);
	ck_assert_ptr_nonnull(strstr(err, "changed meanwhile"));
	ck_assert_int_eq(move(s, "example.org", sel, STORE_PENDING,
	    STORE_ACTIVE, STORE_FORCE), 0);
	ck_assert_int_eq(state_of(s, "example.org", sel), STORE_ACTIVE);
	ck_assert_int_eq(move(s, "example.org", "nosuch", STORE_PENDING,
	    STORE_READY, 0), -1);
	ck_assert_ptr_nonnull(strstr(err, "no key nosuch"));
	ks_done(s);
}
END_TEST

/* the rotation swap: two transitions, one write, one generation */
START_TEST(test_swap_atomic)
{
	struct store *s = ks_new();
	struct store_domain *d;
	struct store_change c[2];
	char a[64], b[64];
	uint64_t gen;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, a);
	key_in(s, "example.org", STORE_READY, b);
	d = store_domain_load(s, "example.org", 0, err, sizeof(err));
	gen = d->gen;
	store_domain_free(d);
	c[0] = (struct store_change){ b, STORE_READY, STORE_ACTIVE, "swap in" };
	c[1] = (struct store_change){ a, STORE_ACTIVE, STORE_RETIRING,
	    "swap out" };
	ck_assert_msg(store_apply(s, "example.org", c, 2, NOW + 20, 0, err,
	    sizeof(err)) == 0, "%s", err);
	d = store_domain_load(s, "example.org", 0, err, sizeof(err));
	ck_assert_uint_eq(d->gen, gen + 1);
	ck_assert_int_eq(store_domain_key(d, a)->state, STORE_RETIRING);
	ck_assert_int_eq(store_domain_key(d, b)->state, STORE_ACTIVE);
	ck_assert_int_eq(store_domain_key(d, b)->since, NOW + 20);
	store_domain_free(d);
	/* one bad change refuses the whole set */
	c[0] = (struct store_change){ b, STORE_ACTIVE, STORE_RETIRING, "x" };
	c[1] = (struct store_change){ a, STORE_RETIRING, STORE_ACTIVE, "x" };
	ck_assert_int_eq(store_apply(s, "example.org", c, 2, NOW, 0, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(state_of(s, "example.org", b), STORE_ACTIVE);
	ks_done(s);
}
END_TEST

/* the operator's writes never take the last active key of an algorithm */
START_TEST(test_keep_signing)
{
	struct store *s = ks_new();
	struct store_change c[2];
	char a[64], b[64], r[64], sb[64];

	dom_add(s, "example.org", STORE_ALGBIT(ED) |
	    STORE_ALGBIT(STORE_ALG_RSA));
	key_in(s, "example.org", STORE_ACTIVE, a);
	key_add(s, "example.org", STORE_ALG_RSA, 1024, r);
	ck_assert_msg(move(s, "example.org", r, STORE_PENDING, STORE_ACTIVE,
	    STORE_FORCE) == 0, "%s", err);
	/* an active RSA key does not stand in for the last Ed25519 one */
	ck_assert_int_eq(move(s, "example.org", a, STORE_ACTIVE,
	    STORE_RETIRING, STORE_KEEP_SIGNING), -1);
	ck_assert_msg(strstr(err, "last active ed25519 key") != NULL &&
	    strstr(err, "--force") != NULL, "%s", err);
	ck_assert_int_eq(state_of(s, "example.org", a), STORE_ACTIVE);
	/* a swap in one write keeps a key signing */
	key_in(s, "example.org", STORE_READY, sb);
	c[0] = (struct store_change){ sb, STORE_READY, STORE_ACTIVE, "in" };
	c[1] = (struct store_change){ a, STORE_ACTIVE, STORE_RETIRING, "out" };
	ck_assert_msg(store_apply(s, "example.org", c, 2, NOW + 20,
	    STORE_KEEP_SIGNING, err, sizeof(err)) == 0, "%s", err);
	/* with a second active key, one of them may go */
	key_in(s, "example.org", STORE_ACTIVE, b);
	ck_assert_msg(move(s, "example.org", sb, STORE_ACTIVE, STORE_RETIRING,
	    STORE_KEEP_SIGNING) == 0, "%s", err);
	ck_assert_int_eq(move(s, "example.org", b, STORE_ACTIVE,
	    STORE_RETIRING, STORE_KEEP_SIGNING), -1);
	/* forced, or the rotation's own decision: it goes */
	ck_assert_msg(move(s, "example.org", b, STORE_ACTIVE, STORE_RETIRING,
	    STORE_FORCE) == 0, "%s", err);
	ck_assert_msg(move(s, "example.org", r, STORE_ACTIVE, STORE_RETIRING,
	    0) == 0, "%s", err);
	ks_done(s);
}
END_TEST

START_TEST(test_compromised)
{
	struct store *s = ks_new();
	char a[64], b[64], p[64], path[256];

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, a);
	key_in(s, "example.org", STORE_READY, b);
	ck_assert_msg(store_compromised(s, "example.org", a, NOW, "test", p,
	    sizeof(p), err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(p, b);
	ck_assert_int_eq(state_of(s, "example.org", a), STORE_REVOKED);
	ck_assert_int_eq(state_of(s, "example.org", b), STORE_ACTIVE);
	snprintf(path, sizeof(path), "%s/example.org/keys/%s.pem", ks_dir, a);
	ck_assert_int_eq(access(path, F_OK), -1);	/* key material gone */
	/* no standby: revoked anyway, nothing promoted */
	ck_assert_int_eq(store_compromised(s, "example.org", b, NOW, "test",
	    p, sizeof(p), err, sizeof(err)), 0);
	ck_assert_str_eq(p, "");
	ck_assert_int_eq(store_compromised(s, "example.org", b, NOW, "test",
	    p, sizeof(p), err, sizeof(err)), -1);
	ks_done(s);
}
END_TEST

/* a key whose file does not load never becomes active */
START_TEST(test_activate_loads_key)
{
	struct store *s = ks_new();
	struct store_domain *d;
	char a[64], b[64], c[64], p[64], cmd[256];

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, a);
	key_in(s, "example.org", STORE_READY, b);
	key_in(s, "example.org", STORE_READY, c);
	snprintf(cmd, sizeof(cmd), "echo garbage > %s/example.org/keys/%s.pem",
	    ks_dir, b);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(move(s, "example.org", b, STORE_READY, STORE_ACTIVE,
	    0), -1);
	ck_assert_msg(strstr(err, ks_dir) != NULL &&
	    strstr(err, "/keys/") != NULL && strstr(err, ".pem") != NULL &&
	    strstr(err, "not a PKCS#8 PEM ed25519") != NULL, "%s", err);
	ck_assert_int_eq(state_of(s, "example.org", b), STORE_READY);
	snprintf(cmd, sizeof(cmd), "chmod 644 %s/example.org/keys/%s.pem",
	    ks_dir, c);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(move(s, "example.org", c, STORE_READY, STORE_ACTIVE,
	    0), -1);
	ck_assert_msg(strstr(err, "group/other access") != NULL, "%s", err);
	/* compromised passes over both broken standbys and revokes anyway */
	ck_assert_msg(store_compromised(s, "example.org", a, NOW, "test", p,
	    sizeof(p), err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(p, "");
	ck_assert_int_eq(state_of(s, "example.org", a), STORE_REVOKED);
	ck_assert_int_eq(state_of(s, "example.org", b), STORE_READY);
	ck_assert_int_eq(state_of(s, "example.org", c), STORE_READY);
	/* the domain still loads as keyturnd loads it */
	d = store_domain_load(s, "example.org", STORE_KEYS_ACTIVE, err,
	    sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	store_domain_free(d);
	ks_done(s);
}
END_TEST

/* ---- notes ---- */

/* history_count - committed lines of a domain's history */
static size_t
history_count(struct store *s, const char *dom)
{
	struct store_event *ev;
	size_t n;

	ck_assert_msg(store_history_load(s, dom, &ev, &n, err,
	    sizeof(err)) == 0, "%s", err);
	store_history_free(ev, n);
	return n;
}

/* a note on a key in any state: one committed line, FROM == TO, no change */
START_TEST(test_note)
{
	struct store *s = ks_new();
	struct store_domain *d;
	struct store_event *ev;
	enum store_state st = (enum store_state)_i;
	char sel[64];
	uint64_t gen;
	size_t n;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", st, sel);
	d = store_domain_load(s, "example.org", 0, err, sizeof(err));
	gen = d->gen;
	store_domain_free(d);
	n = history_count(s, "example.org");
	ck_assert_msg(store_note(s, "example.org", sel, NOW + 100,
	    "alarm: a nameserver serves another key", err, sizeof(err)) == 0,
	    "%s", err);
	d = store_domain_load(s, "example.org", 0, err, sizeof(err));
	ck_assert_uint_eq(d->gen, gen + 1);
	ck_assert_int_eq(store_domain_key(d, sel)->state, st);
	ck_assert_int_eq(store_domain_key(d, sel)->since, st ==
	    STORE_PENDING ? NOW : NOW + 10);	/* not restarted */
	store_domain_free(d);
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ev[n - 1].selector, sel);
	ck_assert_int_eq(ev[n - 1].from, st);
	ck_assert_int_eq(ev[n - 1].to, st);
	ck_assert_int_eq(ev[n - 1].when, NOW + 100);
	ck_assert_str_eq(ev[n - 1].reason,
	    "alarm: a nameserver serves another key");
	/* the replay is the same before, at and after the note */
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW + 99), st);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW + 100), st);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW + 999), st);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW - 1),
	    STORE_STATE_NONE);
	store_history_free(ev, n);
	ks_done(s);
}
END_TEST

/* a note is committed by the state write, like any change */
START_TEST(test_note_commit)
{
	struct store *s = ks_new(), *ro;
	char sel[64], cmd[512];
	size_t n;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, sel);
	n = history_count(s, "example.org");
	/* no such key, or a read-only keystore: nothing written */
	ck_assert_int_eq(store_note(s, "example.org", "nosuch", NOW, "x", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no key nosuch"));
	ck_assert_int_eq(store_note(s, "nosuch.org", sel, NOW, "x", err,
	    sizeof(err)), -1);
	ro = store_open(ks_dir, STORE_RDONLY, err, sizeof(err));
	ck_assert_ptr_nonnull(ro);
	ck_assert_int_eq(store_note(ro, "example.org", sel, NOW, "x", err,
	    sizeof(err)), -1);
	store_close(ro);
	ck_assert_uint_eq(history_count(s, "example.org"), n);
	/* a crash after the history append, before the state rename: the
	 * old state file is put back, the note's line is an ignored tail */
	snprintf(cmd, sizeof(cmd), "cp -p %s/example.org/state %s/state.old",
	    ks_dir, ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(store_note(s, "example.org", sel, NOW, "lost", err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(history_count(s, "example.org"), n + 1);
	snprintf(cmd, sizeof(cmd), "mv %s/state.old %s/example.org/state",
	    ks_dir, ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_uint_eq(history_count(s, "example.org"), n);
	/* the next note cuts that tail before it appends */
	ck_assert_int_eq(store_note(s, "example.org", sel, NOW, "kept", err,
	    sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "grep -q lost %s/example.org/history",
	    ks_dir);
	ck_assert_int_ne(system(cmd), 0);
	ck_assert_uint_eq(history_count(s, "example.org"), n + 1);
	ck_assert_int_eq(state_of(s, "example.org", sel), STORE_ACTIVE);
	ks_done(s);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_active_limit)
{
	struct store *s = ks_new();
	char sel[5][64];
	int i;

	dom_add(s, "example.org", STORE_ALGBIT(ED) |
	    STORE_ALGBIT(STORE_ALG_RSA));
	for (i = 0; i < 3; i++)
		key_in(s, "example.org", STORE_ACTIVE, sel[i]);
	key_in(s, "example.org", STORE_READY, sel[3]);
	ck_assert_int_eq(move(s, "example.org", sel[3], STORE_READY,
	    STORE_ACTIVE, 0), -1);
	ck_assert_ptr_nonnull(strstr(err, "at most 3"));
	/* the limit is per algorithm: an RSA key may still be activated */
	key_add(s, "example.org", STORE_ALG_RSA, 1024, sel[4]);
	ck_assert_msg(move(s, "example.org", sel[4], STORE_PENDING,
	    STORE_ACTIVE, STORE_FORCE) == 0, "%s", err);
	ks_done(s);
}
END_TEST

static const struct bits_case {
	int bits;
	int ok;
} bits_cases[] = {
	{ 512, 0 }, { 1023, 0 }, { 1024, 1 }, { 4097, 0 }, { 8192, 0 },
};

START_TEST(test_rsa_bits)
{
	const struct bits_case *bc = &bits_cases[_i];
	struct store *s = ks_new();
	struct store_domain *d;
	char sel[64];
	int r;

	dom_add(s, "example.org", STORE_ALGBIT(STORE_ALG_RSA));
	r = store_key_new(s, "example.org", STORE_ALG_RSA, bc->bits, NULL, NOW,
	    "test", sel, sizeof(sel), err, sizeof(err));
	ck_assert_msg((r == 0) == bc->ok, "%d bits: %s", bc->bits, err);
	if (bc->ok) {
		d = store_domain_load(s, "example.org", STORE_KEYS_ALL, err,
		    sizeof(err));
		ck_assert_msg(d != NULL, "%s", err);
		ck_assert_int_eq(d->keys[0].bits, bc->bits);
		ck_assert_str_eq(d->keys[0].selector, "kt-202611-r1024");
		store_domain_free(d);
	} else
		ck_assert_ptr_nonnull(strstr(err, "refused"));
	ks_done(s);
}
END_TEST

START_TEST(test_policy_limits)
{
	struct store_policy p;

	store_policy_default(&p);
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), 0);
	p.active_keys = 4;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	p.active_keys = 0;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	store_policy_default(&p);
	p.bits = 512;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	store_policy_default(&p);
	p.algs = 0;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	store_policy_default(&p);
	strlcpy(p.prefix, "a/b", sizeof(p.prefix));
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	/* durations: at most 100 years, so that times never overflow */
	store_policy_default(&p);
	p.rotate_after = p.retire_after = STORE_DURATION_MAX;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), 0);
	p.rotate_after = 9223372036000000000LL;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "rotate-after") != NULL &&
	    strstr(err, "100 years") != NULL, "%s", err);
	p.rotate_after = STORE_DURATION_MAX;
	p.retire_after = STORE_DURATION_MAX + 1;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "retire-after") != NULL, "%s", err);
	p.retire_after = -1;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
}
END_TEST

/* a planned time past the end of time_t is the latest time, not a wrap */
START_TEST(test_planned_saturates)
{
	struct store_domain d;
	struct store_key k;
	enum store_state next;
	time_t t;

	memset(&d, 0, sizeof(d));
	memset(&k, 0, sizeof(k));
	store_policy_default(&d.policy);
	d.policy.rotate_after = d.policy.retire_after = LLONG_MAX;
	k.since = NOW;
	k.state = STORE_ACTIVE;
	t = store_key_planned(&d, &k, &next);
	ck_assert_int_eq(next, STORE_RETIRING);
	ck_assert(t > NOW);
	k.state = STORE_RETIRING;
	ck_assert(store_key_planned(&d, &k, &next) == t);
	d.policy.rotate_after = 86400;
	k.state = STORE_ACTIVE;
	ck_assert_int_eq(store_key_planned(&d, &k, &next), NOW + 86400);
}
END_TEST

/*
 * the planned revocation: end of signing plus retire_after for an active
 * key, the planned one of a retiring key, none before activation, and the
 * latest time_t rather than a wrap
 */
START_TEST(test_revoke_planned)
{
	struct store_domain d;
	struct store_key k;
	enum store_state next;
	time_t latest;

	memset(&d, 0, sizeof(d));
	memset(&k, 0, sizeof(k));
	store_policy_default(&d.policy);
	d.policy.rotate_after = 90 * 86400LL;
	d.policy.retire_after = 7 * 86400LL;
	k.since = NOW;
	k.state = STORE_ACTIVE;
	ck_assert_int_eq(store_key_revoke_planned(&d, &k),
	    NOW + 97 * 86400LL);
	d.policy.retire_after = 0;
	ck_assert_int_eq(store_key_revoke_planned(&d, &k), NOW + 90 * 86400LL);
	d.policy.retire_after = 7 * 86400LL;
	k.state = STORE_RETIRING;
	ck_assert_int_eq(store_key_revoke_planned(&d, &k), NOW + 7 * 86400LL);
	k.state = STORE_READY;
	ck_assert_int_eq(store_key_revoke_planned(&d, &k), 0);
	k.state = STORE_PENDING;
	ck_assert_int_eq(store_key_revoke_planned(&d, &k), 0);
	k.state = STORE_REVOKED;
	ck_assert_int_eq(store_key_revoke_planned(&d, &k), 0);
	k.state = STORE_ACTIVE;
	d.policy.rotate_after = d.policy.retire_after = LLONG_MAX;
	latest = store_key_planned(&d, &k, &next);
	ck_assert(store_key_revoke_planned(&d, &k) == latest);
	d.policy.rotate_after = 86400;
	ck_assert(store_key_revoke_planned(&d, &k) == latest);
}
END_TEST

/* Two policy changes of different fields both land: each is applied to
 * the policy as it is under the lock, not to a copy read before. */
START_TEST(test_policy_set_fields)
{
	struct store *s = ks_new();
	struct store_domain *d;
	struct store_policy p;

	dom_add(s, "example.com", STORE_ALGBIT(STORE_ALG_RSA));
	store_policy_default(&p);
	p.bits = 3072;
	p.active_keys = 1;		/* not named: must not land */
	ck_assert_msg(store_domain_set(s, "example.com", &p, STORE_POL_BITS,
	    NOW, err, sizeof(err)) == 0, "%s", err);
	store_policy_default(&p);
	p.active_keys = 3;
	ck_assert_msg(store_domain_set(s, "example.com", &p,
	    STORE_POL_ACTIVE, NOW, err, sizeof(err)) == 0, "%s", err);
	d = store_domain_load(s, "example.com", 0, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_int_eq(d->policy.bits, 3072);
	ck_assert_int_eq(d->policy.active_keys, 3);
	ck_assert_uint_eq(d->policy.algs, STORE_ALGBIT(STORE_ALG_RSA));
	store_domain_free(d);
	p.bits = 512;			/* the merged policy is checked */
	ck_assert_int_eq(store_domain_set(s, "example.com", &p,
	    STORE_POL_BITS, NOW, err, sizeof(err)), -1);
	ks_done(s);
}
END_TEST

/* ---- selectors ---- */

START_TEST(test_selector_template)
{
	struct store *s = ks_new();
	char a[64], b[64], c[64];

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_add(s, "example.org", ED, 0, a);
	key_add(s, "example.org", ED, 0, b);
	key_add(s, "example.org", ED, 0, c);
	ck_assert_str_eq(a, "kt-202611-ed");
	ck_assert_str_eq(b, "kt-202611-ed-2");
	ck_assert_str_eq(c, "kt-202611-ed-3");
	store_selector_template("mx", STORE_ALG_RSA, 2048, NOW, a, sizeof(a));
	ck_assert_str_eq(a, "mx-202611-r2048");
	ks_done(s);
}
END_TEST

START_TEST(test_selector_reuse)
{
	struct store *s = ks_new();
	char sel[64];
	int r;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	ck_assert_int_eq(store_key_new(s, "example.org", ED, 0, "s1", NOW,
	    "t", sel, sizeof(sel), err, sizeof(err)), 0);
	ck_assert_int_eq(store_key_new(s, "example.org", ED, 0, "s1", NOW,
	    "t", sel, sizeof(sel), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "never reused"));
	ck_assert_int_eq(store_key_new(s, "example.org", ED, 0, "S1", NOW,
	    "t", sel, sizeof(sel), err, sizeof(err)), -1);
	/* revoked, then the domain removed and added again: still taken */
	ck_assert_int_eq(move(s, "example.org", "s1", STORE_PENDING,
	    STORE_REVOKED, 0), 0);
	ck_assert_int_eq(store_domain_remove(s, "example.org", 0, NOW, err,
	    sizeof(err)), 0);
	dom_add(s, "example.org", STORE_ALGBIT(ED));
	r = store_key_new(s, "example.org", ED, 0, "s1", NOW, "t", sel,
	    sizeof(sel), err, sizeof(err));
	ck_assert_int_eq(r, -1);
	ck_assert_ptr_nonnull(strstr(err, "never reused"));
	ck_assert_int_eq(store_selector_valid("a.b", err, sizeof(err)), -1);
	ck_assert_int_eq(store_selector_valid("../x", err, sizeof(err)), -1);
	ck_assert_int_eq(store_selector_valid("-x", err, sizeof(err)), -1);
	ck_assert_int_eq(store_key_new(s, "example.org", ED, 0, "../../x",
	    NOW, "t", sel, sizeof(sel), err, sizeof(err)), -1);
	ks_done(s);
}
END_TEST

START_TEST(test_domain_remove)
{
	struct store *s = ks_new();
	struct store_event *ev;
	char sel[64], **names;
	size_t n, nn;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, sel);
	ck_assert_int_eq(store_domain_remove(s, "example.org", 0, NOW, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, sel));
	ck_assert_int_eq(store_domain_remove(s, "example.org", 1, NOW, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(store_domain_names(s, &names, &nn, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(nn, 0);
	store_names_free(names, nn);
	/* the history of a removed domain still answers audits */
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW + 10),
	    STORE_ACTIVE);
	ck_assert_str_eq(ev[n - 1].reason, "operator: domain removed");
	store_history_free(ev, n);
	ck_assert_int_eq(store_history_load(s, "other.org", &ev, &n, err,
	    sizeof(err)), -2);
	ck_assert_int_eq(store_domain_add(s, "Bad_Domain..x", NULL, NOW, err,
	    sizeof(err)), -1);
	ks_done(s);
}
END_TEST

/* a removed history is committed lines only; a damaged one is refused */
START_TEST(test_removed_history)
{
	struct store *s = ks_new();
	struct store_event *ev;
	char sel[64], cmd[256], **names;
	size_t n, i;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_add(s, "example.org", ED, 0, sel);
	snprintf(cmd, sizeof(cmd), "cd %s/example.org && cp history h && "
	    "sed -i '2s/^2026/20X6/' history", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	/* a live history damaged in its committed part: nothing moves */
	ck_assert_int_eq(store_domain_remove(s, "example.org", 1, NOW, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "example.org/history:2: ") != NULL, "%s",
	    err);
	snprintf(cmd, sizeof(cmd), "cd %s/example.org && mv h history && "
	    "echo '2026-11-22T22:00:00Z %s pending ready uncommitted' >> "
	    "history", ks_dir, sel);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(store_domain_remove(s, "example.org", 1, NOW, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	for (i = 0; i < n; i++)
		ck_assert_str_ne(ev[i].reason, "uncommitted");
	ck_assert_str_eq(ev[n - 1].reason, "operator: domain removed");
	store_history_free(ev, n);
	/* a kept history cut short: adding the domain again is refused */
	snprintf(cmd, sizeof(cmd), "truncate -s -40 %s/.removed/example.org/"
	    "history", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(dom_add_r(s, "example.org"), -1);
	ck_assert_msg(strstr(err, ".removed/example.org/history:") != NULL &&
	    strstr(err, "no newline") != NULL, "%s", err);
	ck_assert_int_eq(store_domain_names(s, &names, &n, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(n, 0);
	store_names_free(names, n);
	ks_done(s);
}
END_TEST

/* a name that is not a domain builds no path, in this keystore or another */
START_TEST(test_domain_names_confined)
{
	static const char *const bad[] = { "../victim.com", "..", ".",
	    "a/b", "Victim.COM", ".removed/../../victim.com", "",
	    "victim.com/", "-a.com" };
	struct store *s = ks_new(), *v;
	struct store_domain *d;
	struct store_event *ev;
	struct store_policy p;
	char vdir[96], dom[160], sel[64], hist[160], *before, *after;
	size_t i, n, blen, alen;
	FILE *f;

	/* a second keystore inside the first's directory is reached by ".." */
	snprintf(vdir, sizeof(vdir), "%s/sub", ks_dir);
	ck_assert_msg(store_init(vdir, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(v = store_open(vdir, 0, err, sizeof(err)));
	store_policy_default(&p);
	p.algs = STORE_ALGBIT(ED);
	ck_assert_msg(store_domain_add(v, "victim.com", &p, NOW, err,
	    sizeof(err)) == 0, "%s", err);
	snprintf(hist, sizeof(hist), "%s/victim.com/history", vdir);
	ck_assert_ptr_nonnull(f = fopen(hist, "r"));
	before = xcalloc(1, 4096);
	blen = fread(before, 1, 4095, f);
	fclose(f);
	/* the same names, as the first keystore sees them */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(dom, sizeof(dom), "%s", bad[i]);
		if (strncmp(dom, "..", 2) == 0 && strlen(dom) > 2)
			snprintf(dom, sizeof(dom), "sub/%s", bad[i] + 3);
		ck_assert_int_eq(store_domain_remove(s, dom, 1, NOW, err,
		    sizeof(err)), -1);
		ck_assert_msg(strstr(err, "domain name") != NULL ||
		    strstr(err, "label") != NULL, "%s: %s", dom, err);
		ck_assert_int_eq(store_domain_set(s, dom, &p, STORE_POL_ALL,
		    NOW, err, sizeof(err)), -1);
		ck_assert_int_eq(store_key_new(s, dom, ED, 0, NULL, NOW, "t",
		    sel, sizeof(sel), err, sizeof(err)), -1);
		ck_assert_int_eq(move(s, dom, "x", STORE_PENDING,
		    STORE_READY, 0), -1);
		ck_assert_int_eq(store_compromised(s, dom, "x", NOW, "t", sel,
		    sizeof(sel), err, sizeof(err)), -1);
		ck_assert_int_eq(store_history_load(s, dom, &ev, &n, err,
		    sizeof(err)), -1);
		ck_assert_ptr_null(d = store_domain_load(s, dom, 0, err,
		    sizeof(err)));
		ck_assert_int_eq(store_domain_add(s, dom, &p, NOW, err,
		    sizeof(err)), -1);
	}
	/* "sub/victim.com" reaches the other keystore's domain as a path */
	ck_assert_int_eq(store_domain_remove(s, "sub/victim.com", 1, NOW, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(f = fopen(hist, "r"));
	after = xcalloc(1, 4096);
	alen = fread(after, 1, 4095, f);
	fclose(f);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(after, before, blen);
	ck_assert_ptr_nonnull(d = store_domain_load(v, "victim.com", 0, err,
	    sizeof(err)));
	store_domain_free(d);
	free(before);
	free(after);
	store_close(v);
	ks_done(s);
}
END_TEST

/* ---- format ---- */

START_TEST(test_round_trip)
{
	struct store *s = ks_new();
	struct store_policy p, q;
	struct store_domain *d;
	struct store_event *ev;
	char sel[64], rsa[64], *pem, *txt;
	size_t n;

	store_policy_default(&p);
	p.algs = STORE_ALGBIT(ED) | STORE_ALGBIT(STORE_ALG_RSA);
	p.bits = 3072;
	p.active_keys = 2;
	p.rotate_after = 30;
	p.retire_after = 90061;
	strlcpy(p.prefix, "mail_x", sizeof(p.prefix));
	ck_assert_int_eq(store_domain_add(s, "example.org", &p, NOW, err,
	    sizeof(err)), 0);
	key_in(s, "example.org", STORE_ACTIVE, sel);
	key_add(s, "example.org", STORE_ALG_RSA, 1024, rsa);
	d = store_domain_load(s, "example.org", STORE_KEYS_ALL, err,
	    sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	q = d->policy;
	ck_assert_int_eq(memcmp(&p, &q, sizeof(p)), 0);
	ck_assert_uint_eq(d->nkeys, 2);
	ck_assert_str_eq(d->keys[0].selector, "mail_x-202611-ed");
	ck_assert_int_eq(d->keys[0].created, NOW);
	ck_assert_int_eq(d->keys[0].since, NOW + 10);
	ck_assert_ptr_nonnull(d->keys[0].pkey);
	ck_assert_ptr_nonnull(d->keys[1].pkey);
	ck_assert_uint_eq(strlen(d->keys[0].p), 44);	/* 32 bytes */
	txt = store_key_txt(&d->keys[1]);
	ck_assert_ptr_nonnull(strstr(txt, "v=DKIM1; k=rsa; p=MI"));
	free(txt);
	pem = store_key_pubpem(&d->keys[0], err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(pem, "BEGIN PUBLIC KEY"));
	free(pem);
	store_domain_free(d);
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 5);	/* added, new, ready, active, new */
	ck_assert_str_eq(ev[1].selector, sel);
	ck_assert_int_eq(ev[1].from, STORE_STATE_NONE);
	ck_assert_int_eq(ev[1].to, STORE_PENDING);
	ck_assert_int_eq(ev[3].from, STORE_READY);
	ck_assert_int_eq(ev[3].to, STORE_ACTIVE);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW + 9),
	    STORE_PENDING);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW + 10),
	    STORE_ACTIVE);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW - 1),
	    STORE_STATE_NONE);
	store_history_free(ev, n);
	ks_done(s);
}
END_TEST

START_TEST(test_import)
{
	struct store *s = ks_new();
	struct store_domain *d;
	char path[128], cmd[512];
	static const char *const gens[][2] = {	/* PKCS#1, PKCS#8, EC */
		{ "openssl genrsa -traditional", "1024" },
		{ "openssl genpkey -algorithm ed25519", "" },
		{ "openssl genpkey -algorithm ec -pkeyopt "
		    "ec_paramgen_curve:P-256", "" },
	};
	int i;

	dom_add(s, "example.org", STORE_ALGBIT(ED) |
	    STORE_ALGBIT(STORE_ALG_RSA));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/in%d.pem", ks_dir, i);
		snprintf(cmd, sizeof(cmd), "%s -out %s %s 2>/dev/null",
		    gens[i][0], path, gens[i][1]);
		ck_assert_int_eq(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "imp%d", i);
		ck_assert_int_eq(store_key_import(s, "example.org", cmd, path,
		    NOW, "t", err, sizeof(err)) == 0, i < 2);
	}
	ck_assert_ptr_nonnull(strstr(err, "RSA or Ed25519"));
	ck_assert_int_eq(store_key_import(s, "example.org", "x", "/etc/passwd",
	    NOW, "t", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a PEM private key"));
	/* a directory, an encrypted key (refused, never prompted for) */
	ck_assert_int_eq(store_key_import(s, "example.org", "x", ks_dir,
	    NOW, "t", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/enc.pem", ks_dir);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 "
	    "-aes256 -pass pass:secret -out %s 2>/dev/null </dev/null", path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(store_key_import(s, "example.org", "x", path,
	    NOW, "t", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "encrypted"));
	/* the private key block is found after a public key and some text */
	snprintf(path, sizeof(path), "%s/both.pem", ks_dir);
	snprintf(cmd, sizeof(cmd), "cd %s && openssl pkey -in in1.pem -pubout "
	    "-out pub.pem && { echo 'Bag Attributes'; cat pub.pem in1.pem; } "
	    "> both.pem", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(store_key_import(s, "example.org", "imp-both", path,
	    NOW, "t", err, sizeof(err)) == 0, "%s", err);
	d = store_domain_load(s, "example.org", STORE_KEYS_ALL, err,
	    sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_uint_eq(d->nkeys, 3);
	ck_assert_int_eq(d->keys[0].alg, STORE_ALG_RSA);
	ck_assert_int_eq(d->keys[1].alg, ED);
	ck_assert_str_eq(d->keys[2].spki, d->keys[1].spki);
	ck_assert_ptr_nonnull(d->keys[2].pkey);
	store_domain_free(d);
	ks_done(s);
}
END_TEST

/* ---- damaged files: each reported with its file, nothing repaired ---- */

struct damage {
	const char *file;	/* under KEYSTORE/example.org */
	const char *sh;		/* shell command run in that directory */
	const char *want;	/* in the error */
};

static const struct damage damages[] = {
	{ "state", "truncate -s 200 state", "state:" },
	{ "state", "head -n 3 state > x && cat x > state", "missing" },
	{ "state", "sed -i 's/state=active/state=bogus/' state",
	    "state:4: bad state" },
	{ "state", "sed -i '1s/.*/keyturn-state 9/' state",
	    "state:1: expected \"keyturn-state 1\"" },
	{ "state", "sed -i 's/pub=MC/pub=XX/' state",
	    "state:4: key kt-202611-ed: pub= is not an Ed25519 key" },
	{ "state", "sed -i 's/pub=MC/pub=M!/' state",
	    "state:4: key kt-202611-ed: pub= is not base64" },
	{ "state", "printf 'key x\\0y\\n' >> state", "control character" },
	{ "state", "chmod 666 state", "group/other write" },
	{ "state", "sed -i 's/^end 1/end 2/' state", "but 1 keys" },
	{ "policy", "rm policy", "policy: No such file" },
	{ "policy", "sed -i 's/^bits .*/bits 512/' policy",
	    "policy:3: bits \"512\": RSA keys have 1024 to 4096 bits" },
	{ "policy", "sed -i 's/^rotate-after .*/rotate-after 0/' policy",
	    "policy:5: rotate-after \"0\": must be positive" },
	{ "policy", "sed -i 's/^retire-after .*/retire-after -1s/' policy",
	    "policy:6: retire-after \"-1s\"" },
	{ "policy", "sed -i 's/^selector-prefix .*/selector-prefix a.b/' "
	    "policy", "policy:7: selector-prefix \"a.b\": 1 to 24" },
	{ "policy", "echo 'colour blue' >> policy",
	    "policy:8: unknown keyword" },
	{ "policy", "sed -i '/retire-after/d' policy", "missing \"retire" },
	{ "keys/kt-202611-ed.pem", "chmod 644 keys/kt-202611-ed.pem",
	    "mode 0644 gives group/other access to a private key" },
	{ "keys/kt-202611-ed.pem", "rm keys/kt-202611-ed.pem",
	    "kt-202611-ed.pem: No such file" },
	{ "keys/kt-202611-ed.pem", "openssl genpkey -algorithm ed25519 "
	    "-out keys/kt-202611-ed.pem", "does not match" },
	{ "keys/kt-202611-ed.pem", "echo garbage > keys/kt-202611-ed.pem",
	    "not a PKCS#8 PEM ed25519 private key" },
	{ "keys", "chmod 755 keys", "keys: mode 0755" },
	{ ".", "chmod 750 .", "mode 0750" },
	{ "history", "truncate -s 40 history", "truncated" },
	{ "history", "sed -i '3s/ pending / pendingx /' history",
	    "history:3: bad time, selector or state" },
	{ "history", "sed -i '1s/1/2/' history",
	    "history:1: expected \"keyturn-history 1\"" },
};

/* file_text - the content of a file, "" when it is missing */
static char *
file_text(const char *path)
{
	char *buf = xcalloc(1, 65536);
	int fd = open(path, O_RDONLY);

	if (fd != -1) {
		if (read(fd, buf, 65535) < 0)
			buf[0] = '\0';
		close(fd);
	}
	return buf;
}

START_TEST(test_damage)
{
	const struct damage *dm = &damages[_i];
	struct store *s = ks_new();
	struct store_domain *d;
	struct store_event *ev;
	char sel[64], path[256], cmd[512], *before, *after;
	size_t n;
	int r;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, sel);
	snprintf(cmd, sizeof(cmd), "cd %s/example.org && %s", ks_dir, dm->sh);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/example.org/%s", ks_dir, dm->file);
	before = file_text(path);
	if (strcmp(dm->file, "history") == 0) {
		r = store_history_load(s, "example.org", &ev, &n, err,
		    sizeof(err));
		ck_assert_int_eq(r, -1);
	} else {
		d = store_domain_load(s, "example.org", STORE_KEYS_ACTIVE, err,
		    sizeof(err));
		ck_assert_msg(d == NULL, "damage \"%s\" not detected", dm->sh);
		/* a writer refuses the damaged domain too */
		ck_assert_int_eq(store_key_new(s, "example.org", ED, 0, NULL,
		    NOW, "t", sel, sizeof(sel), cmd, sizeof(cmd)) == -1 ||
		    strncmp(dm->file, "keys", 4) == 0, 1);
	}
	ck_assert_msg(strstr(err, dm->want) != NULL, "\"%s\": got \"%s\", "
	    "want \"%s\"", dm->sh, err, dm->want);
	ck_assert_msg(strstr(err, ks_dir) != NULL, "no path in \"%s\"", err);
	after = file_text(path);
	ck_assert_str_eq(before, after);	/* nothing repaired */
	free(before);
	free(after);
	ks_done(s);
}
END_TEST

START_TEST(test_keystore_open)
{
	struct store *s = ks_new();
	char cmd[256];

	store_close(s);
	snprintf(cmd, sizeof(cmd), "echo 'keyturn-keystore 7' > "
	    "%s/keyturn.keystore", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_ptr_null(store_open(ks_dir, 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "format 7"));
	snprintf(cmd, sizeof(cmd), "rm %s/keyturn.keystore", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_ptr_null(store_open(ks_dir, 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "keyturn init"));
	ck_assert_int_eq(store_init(ks_dir, err, sizeof(err)), 0);
	ck_assert_int_eq(store_init(ks_dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "already a keystore"));
	snprintf(cmd, sizeof(cmd), "chmod 755 %s", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_ptr_null(store_open(ks_dir, 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "mode 0755"));
	ck_assert_ptr_null(store_open("/nonexistent/ks", 0, err,
	    sizeof(err)));
	snprintf(cmd, sizeof(cmd), "chmod 700 %s", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	s = store_open(ks_dir, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ks_done(s);
}
END_TEST

/* init makes a keystore only in a new or empty directory of its own */
START_TEST(test_init_dir)
{
	char base[64], cmd[256], path[128];
	struct stat st;

	strlcpy(base, "/tmp/ckin.XXXXXX", sizeof(base));
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -m 755 home full empty && "
	    "touch full/notes file && ln -s home link", base);
	ck_assert_int_eq(system(cmd), 0);
	/* a symbolic link: refused, and its target keeps its mode */
	snprintf(path, sizeof(path), "%s/link", base);
	ck_assert_int_eq(store_init(path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/home", base);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	/* a directory with something in it: refused, mode unchanged */
	snprintf(path, sizeof(path), "%s/full", base);
	ck_assert_int_eq(store_init(path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not empty (it holds notes)") != NULL, "%s",
	    err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	snprintf(path, sizeof(path), "%s/file", base);
	ck_assert_int_eq(store_init(path, err, sizeof(err)), -1);
	/* an empty directory becomes a keystore, 0700 */
	snprintf(path, sizeof(path), "%s/empty", base);
	ck_assert_msg(store_init(path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* root (the daemon before it drops privileges) reads a user's keystore */
START_TEST(test_open_owner)
{
	struct store *s = ks_new(), *r;
	struct store_domain *d;
	char sel[64], cmd[256];

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, sel);
	if (geteuid() != 0) {	/* chown needs root */
		ks_done(s);
		return;
	}
	snprintf(cmd, sizeof(cmd), "chown -R 65534 %s", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_ptr_null(store_open(ks_dir, STORE_RDONLY, err, sizeof(err)));
	ck_assert_msg(strstr(err, "owned by uid 65534") != NULL, "%s", err);
	r = store_open_owner(ks_dir, STORE_RDONLY, 65534, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	d = store_domain_load(r, "example.org", STORE_KEYS_ACTIVE, err,
	    sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_ptr_nonnull(d->keys[0].pkey);
	store_domain_free(d);
	/* one file of another owner is refused */
	snprintf(cmd, sizeof(cmd), "chown 0 %s/example.org/keys/%s.pem",
	    ks_dir, sel);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_ptr_null(store_domain_load(r, "example.org",
	    STORE_KEYS_ACTIVE, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "owned by uid 0"));
	store_close(r);
	ks_done(s);
}
END_TEST

/* an interrupted write's history tail is ignored, then discarded */
START_TEST(test_uncommitted_tail)
{
	struct store *s = ks_new();
	struct store_event *ev;
	struct store_domain *d;
	char sel[64], sel2[64], cmd[256], path[128];
	struct stat st;
	size_t n;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_add(s, "example.org", ED, 0, sel);
	snprintf(cmd, sizeof(cmd), "echo '2026-11-22T22:00:00Z %s pending "
	    "ready never committed' >> %s/example.org/history", sel, ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	store_history_free(ev, n);
	key_add(s, "example.org", ED, 0, sel2);
	d = store_domain_load(s, "example.org", 0, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/example.org/history", ks_dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, d->histsize);
	store_domain_free(d);
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(ev[2].selector, sel2);
	store_history_free(ev, n);
	ks_done(s);
}
END_TEST

/* a history shorter than its committed size is refused, never grown */
START_TEST(test_history_short)
{
	static const char *const damage[] = {
		"truncate -s 40 history",
		"sed -i 's/^history .*/history 1000000000000/' state",
	};
	struct store *s;
	struct store_policy p;
	char sel[64], cmd[256], path[128], pol[128], *pbefore, *pafter;
	struct stat before, after;
	size_t i;

	store_policy_default(&p);
	p.bits = 3072;
	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		s = ks_new();
		dom_add(s, "example.org", STORE_ALGBIT(ED));
		key_add(s, "example.org", ED, 0, sel);
		snprintf(cmd, sizeof(cmd), "cd %s/example.org && %s", ks_dir,
		    damage[i]);
		ck_assert_int_eq(system(cmd), 0);
		snprintf(path, sizeof(path), "%s/example.org/history", ks_dir);
		snprintf(pol, sizeof(pol), "%s/example.org/policy", ks_dir);
		ck_assert_int_eq(stat(path, &before), 0);
		pbefore = file_text(pol);
		ck_assert_int_eq(move(s, "example.org", sel, STORE_PENDING,
		    STORE_READY, 0), -1);
		ck_assert_msg(strstr(err, path) != NULL &&
		    strstr(err, "the state file says") != NULL, "%s", err);
		ck_assert_int_eq(store_note(s, "example.org", sel, NOW, "t",
		    err, sizeof(err)), -1);
		ck_assert_int_eq(store_domain_set(s, "example.org", &p,
		    STORE_POL_BITS, NOW, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "the state file says") != NULL, "%s",
		    err);
		pafter = file_text(pol);
		ck_assert_str_eq(pafter, pbefore);	/* nothing written */
		ck_assert_int_eq(stat(path, &after), 0);
		ck_assert_int_eq(after.st_size, before.st_size);
		ck_assert_int_eq(after.st_blocks, before.st_blocks);
		ck_assert_int_eq(state_of(s, "example.org", sel),
		    STORE_PENDING);
		free(pbefore);
		free(pafter);
		ks_done(s);
	}
}
END_TEST

/* ---- snapshots ---- */

START_TEST(test_reload)
{
	struct store *s = ks_new();
	struct store_set *a, *b, *c;
	char sel[64], name[32];
	size_t parsed;
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		dom_add(s, name, STORE_ALGBIT(ED));
		key_in(s, name, STORE_ACTIVE, sel);
	}
	a = store_set_load(s, STORE_KEYS_ACTIVE, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	ck_assert_uint_eq(a->n, 4);
	ck_assert_ptr_nonnull(store_set_find(a, "d2.example")->keys[0].pkey);
	ck_assert_ptr_null(store_set_find(a, "d9.example"));
	b = store_set_reload(s, a, STORE_KEYS_ACTIVE, &parsed, err,
	    sizeof(err));
	ck_assert_uint_eq(parsed, 0);
	ck_assert_uint_eq(b->generation, a->generation);
	key_add(s, "d2.example", ED, 0, sel);
	ck_assert_uint_gt(store_generation(s), a->generation);
	c = store_set_reload(s, b, STORE_KEYS_ACTIVE, &parsed, err,
	    sizeof(err));
	ck_assert_uint_eq(parsed, 1);
	ck_assert_ptr_eq(store_set_find(c, "d1.example"),
	    store_set_find(a, "d1.example"));
	ck_assert_ptr_ne(store_set_find(c, "d2.example"),
	    store_set_find(a, "d2.example"));
	ck_assert_uint_eq(store_set_find(c, "d2.example")->nkeys, 2);
	store_set_free(a);
	store_set_free(b);
	/* c still holds every domain after the others are gone */
	ck_assert_uint_eq(store_set_find(c, "d1.example")->nkeys, 1);
	store_set_free(c);
	ks_done(s);
}
END_TEST

/* an entry that is not a domain directory fails every listing */
START_TEST(test_names_refused)
{
	static const struct {
		const char *sh;		/* run in the keystore */
		const char *want;
	} bad[] = {
		{ "ln -s example.org link.example", "link.example: a symbolic "
		    "link" },
		{ "touch file.example", "file.example: not a directory" },
		{ "mkdir -m 700 Upper.example", "Upper.example: not a domain "
		    "directory" },
		{ "mkdir -m 700 'a b'", "a b: not a domain directory" },
	};
	struct store *s = ks_new();
	struct store_set *set;
	char cmd[256], **names;
	size_t i, n;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	/* a writer that died leaves its temporary file: still a keystore */
	snprintf(cmd, sizeof(cmd), "cd %s && touch generation.tmp.123 "
	    "lock.tmp.9 .new-x.example && mkdir lost+found", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(store_domain_names(s, &names, &n, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	store_names_free(names, n);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cmd, sizeof(cmd), "cd %s && %s", ks_dir, bad[i].sh);
		ck_assert_int_eq(system(cmd), 0);
		ck_assert_int_eq(store_domain_names(s, &names, &n, err,
		    sizeof(err)), -1);
		ck_assert_msg(strstr(err, ks_dir) != NULL &&
		    strstr(err, bad[i].want) != NULL, "%s: %s", bad[i].sh, err);
		ck_assert_ptr_null(set = store_set_load(s, STORE_KEYS_ACTIVE,
		    err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, bad[i].want));
		snprintf(cmd, sizeof(cmd), "cd %s && rm -rf link.example "
		    "file.example Upper.example 'a b'", ks_dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	ks_done(s);
}
END_TEST

/*
 * A policy written before durations were capped (keyturn then took any
 * length) still loads: past 100 years reads as 100 years
 */
START_TEST(test_policy_over_cap)
{
	struct store *s = ks_new();
	struct store_domain *d;
	char cmd[512];

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	snprintf(cmd, sizeof(cmd), "cd %s/example.org && sed -i "
	    "-e 's/^rotate-after .*/rotate-after 1000000d/' "
	    "-e 's/^retire-after .*/retire-after 36501d/' policy", ks_dir);
	ck_assert_int_eq(system(cmd), 0);
	d = store_domain_load(s, "example.org", 0, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_int_eq(d->policy.rotate_after, STORE_DURATION_MAX);
	ck_assert_int_eq(d->policy.retire_after, STORE_DURATION_MAX);
	store_domain_free(d);
	ks_done(s);
}
END_TEST

START_TEST(test_names)
{
	static const char *const states[] = { "pending", "ready", "active",
	    "retiring", "revoked" };
	enum store_state st;
	enum store_alg alg;
	time_t t;
	char buf[32];
	int i;

	for (i = 0; i < STORE_NSTATES; i++) {
		ck_assert_str_eq(store_state_name(i), states[i]);
		ck_assert_int_eq(store_state_parse(states[i], &st), 0);
		ck_assert_int_eq(st, i);
	}
	ck_assert_int_eq(store_state_parse("Active", &st), -1);
	ck_assert_int_eq(store_alg_parse("ed25519", &alg), 0);
	ck_assert_int_eq(alg, ED);
	ck_assert_int_eq(store_alg_parse("dsa", &alg), -1);
	ck_assert_str_eq(store_time_format(NOW, buf, sizeof(buf)),
	    "2026-11-22T21:51:30Z");
	ck_assert_int_eq(store_time_parse(buf, &t), 0);
	ck_assert_int_eq(t, NOW);
	ck_assert_int_eq(store_time_parse("2026-11-22 21:51:30", &t), -1);
	ck_assert_int_eq(store_domain_valid("example.org", err, sizeof(err)),
	    0);
	ck_assert_int_eq(store_domain_valid("-a.org", err, sizeof(err)), -1);
	ck_assert_int_eq(store_domain_valid("a..org", err, sizeof(err)), -1);
	ck_assert_int_eq(store_domain_valid("a/b", err, sizeof(err)), -1);
}
END_TEST

/* ---- the change journal (storejournal.c) ---- */

#define JOURNAL_MAX_BYTES	(1024 * 1024)	/* storejournal.c */

/* What one store_watch_poll reported. */
struct seen {
	char	 names[4096];	/* the first ones, space-separated */
	size_t	 n;
	size_t	 pads;		/* names under .pad.test */
};

static void
seen_fn(const char *domain, void *arg)
{
	struct seen *sn = arg;
	size_t len = strlen(domain);

	if (len > 9 && strcmp(domain + len - 9, ".pad.test") == 0)
		sn->pads++;
	else {
		if (sn->names[0] != '\0')
			strlcat(sn->names, " ", sizeof(sn->names));
		strlcat(sn->names, domain, sizeof(sn->names));
	}
	sn->n++;
}

/* watch - one poll; its return, and what fn was told in sn */
static int
watch(struct store_watch *w, struct seen *sn)
{
	int r;

	memset(sn, 0, sizeof(*sn));
	r = store_watch_poll(w, seen_fn, sn);
	if (r >= 0)
		ck_assert_msg((size_t)r == sn->n, "poll said %d, told %zu", r,
		    sn->n);
	return r;
}

/* watch_is - a poll that reports exactly these names (no pads) */
static void
watch_is(struct store_watch *w, const char *names)
{
	struct seen sn;
	int r = watch(w, &sn);

	ck_assert_msg(r >= 0 && strcmp(sn.names, names) == 0 && sn.pads == 0,
	    "poll: %d \"%s\", want \"%s\"", r, sn.names, names);
}

/* jpath - the journal of the current keystore (static) */
static const char *
jpath(void)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/journal", ks_dir);
	return p;
}

/* jappend - bytes added to the journal as a writer would */
static void
jappend(const char *text)
{
	int fd = open(jpath(), O_WRONLY | O_APPEND);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)),
	    (ssize_t)strlen(text));
	close(fd);
}

/* jtext - the whole journal, NUL-terminated */
static char *
jtext(void)
{
	struct stat st;
	char *buf;
	int fd = open(jpath(), O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = xcalloc(1, (size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	return buf;
}

/* jreplace - a new journal file in place of the old (as a cut makes) */
static void
jreplace(const char *text)
{
	char tmp[160];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.test", jpath());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)),
	    (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(rename(tmp, jpath()), 0);
}

/* gen_set - the generation file says g (a write that kept no journal) */
static void
gen_set(uint64_t g)
{
	char path[128], buf[32];
	int fd;

	snprintf(path, sizeof(path), "%s/generation", ks_dir);
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)g);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
}

/* every kind of write is reported once, by every watch, and only once */
START_TEST(test_journal_each)
{
	struct store *s = ks_new();
	struct store_watch *w, *w2;
	struct seen sn;
	char sel[64];

	w = store_watch_open(s);
	ck_assert_int_eq(watch(w, &sn), 0);
	dom_add(s, "a.test", STORE_ALGBIT(ED));
	dom_add(s, "b.test", STORE_ALGBIT(ED));
	key_add(s, "a.test", ED, 0, sel);
	watch_is(w, "a.test b.test a.test");
	ck_assert_int_eq(watch(w, &sn), 0);	/* nothing moved */
	ck_assert_uint_eq(sn.n, 0);
	ck_assert_uint_eq(store_watch_generation(w), 3);
	ck_assert_uint_eq(store_generation(s), 3);

	/* a watch starts at now: what was written before is not news */
	w2 = store_watch_open(s);
	ck_assert_uint_eq(store_watch_generation(w2), 3);
	ck_assert_int_eq(watch(w2, &sn), 0);
	ck_assert_int_eq(move(s, "a.test", sel, STORE_PENDING, STORE_READY,
	    0), 0);
	/* a refused write writes nothing */
	ck_assert_int_eq(move(s, "a.test", sel, STORE_PENDING, STORE_ACTIVE,
	    0), -1);
	ck_assert_int_eq(dom_add_r(s, "a.test"), -1);
	watch_is(w, "a.test");
	watch_is(w2, "a.test");

	/* a note, a compromise, a removal */
	ck_assert_msg(store_note(s, "a.test", sel, NOW, "test: a note", err,
	    sizeof(err)) == 0, "%s", err);
	watch_is(w, "a.test");
	ck_assert_int_eq(move(s, "a.test", sel, STORE_READY, STORE_ACTIVE,
	    0), 0);
	ck_assert_msg(store_domain_remove(s, "a.test", 1, NOW, err,
	    sizeof(err)) == 0, "%s", err);
	watch_is(w, "a.test a.test");
	watch_is(w2, "a.test a.test a.test");
	ck_assert_int_eq(watch(w, &sn), 0);
	ck_assert_int_eq(watch(w2, &sn), 0);
	store_watch_close(w);
	store_watch_close(w2);
	ks_done(s);
}
END_TEST

/* a policy change is one write: its domain is reported once */
START_TEST(test_journal_policy)
{
	struct store *s = ks_new();
	struct store_watch *w;
	struct store_policy p;

	dom_add(s, "b.test", STORE_ALGBIT(ED));
	w = store_watch_open(s);
	store_policy_default(&p);
	p.retire_after = 86400;
	ck_assert_msg(store_domain_set(s, "b.test", &p, STORE_POL_RETIRE, NOW,
	    err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(store_generation(s), 2);
	watch_is(w, "b.test");
	store_watch_close(w);
	ks_done(s);
}
END_TEST

/*
 * The journal removed between writes: a reader reads the file it has
 * open to its end, then the new one; when a line is in neither (two
 * removals), it is told LOST, never a partial list; then it follows the
 * journal again.
 */
START_TEST(test_journal_removed)
{
	struct store *s = ks_new();
	struct store_watch *w, *w3;
	struct seen sn;
	char sel[64];
	int r;

	dom_add(s, "a.test", STORE_ALGBIT(ED));
	dom_add(s, "b.test", STORE_ALGBIT(ED));
	w = store_watch_open(s);

	/* once: both lines are in a file the reader can read */
	key_add(s, "a.test", ED, 0, sel);
	ck_assert_int_eq(unlink(jpath()), 0);
	key_add(s, "b.test", ED, 0, sel);
	r = watch(w, &sn);
	ck_assert_msg(r == STORE_WATCH_LOST || (r == 2 &&
	    strcmp(sn.names, "a.test b.test") == 0), "%d: %s", r, sn.names);
	key_add(s, "a.test", ED, 0, sel);
	watch_is(w, "a.test");

	/* twice: the line of a.test is gone with the file in between */
	ck_assert_int_eq(unlink(jpath()), 0);
	key_add(s, "a.test", ED, 0, sel);
	ck_assert_int_eq(unlink(jpath()), 0);
	key_add(s, "b.test", ED, 0, sel);
	ck_assert_int_eq(watch(w, &sn), STORE_WATCH_LOST);
	key_add(s, "b.test", ED, 0, sel);
	watch_is(w, "b.test");

	/* a watch opened with no journal at all */
	ck_assert_int_eq(unlink(jpath()), 0);
	w3 = store_watch_open(s);
	key_add(s, "a.test", ED, 0, sel);
	watch_is(w3, "a.test");
	r = watch(w, &sn);
	ck_assert_msg(r == STORE_WATCH_LOST || (r == 1 &&
	    strcmp(sn.names, "a.test") == 0), "%d: %s", r, sn.names);
	ck_assert_int_eq(unlink(jpath()), 0);
	key_add(s, "a.test", ED, 0, sel);
	ck_assert_int_eq(unlink(jpath()), 0);
	key_add(s, "b.test", ED, 0, sel);
	ck_assert_int_eq(watch(w3, &sn), STORE_WATCH_LOST);
	ck_assert_int_eq(watch(w, &sn), STORE_WATCH_LOST);
	key_add(s, "a.test", ED, 0, sel);
	watch_is(w3, "a.test");
	watch_is(w, "a.test");
	store_watch_close(w);
	store_watch_close(w3);
	ks_done(s);
}
END_TEST

/*
 * A write without its line (the generation file bumped by hand, as a
 * keyturn that kept no journal would): LOST, alone or after real writes;
 * the generation going backwards: LOST; and after each, the next write
 * is reported (never the line of another write in its place).
 */
START_TEST(test_journal_gap)
{
	struct store *s = ks_new();
	struct store_watch *w;
	struct seen sn;
	uint64_t g;
	char sel[64];
	int r;

	dom_add(s, "a.test", STORE_ALGBIT(ED));
	dom_add(s, "b.test", STORE_ALGBIT(ED));
	w = store_watch_open(s);

	gen_set(store_generation(s) + 1);
	ck_assert_int_eq(watch(w, &sn), STORE_WATCH_LOST);
	ck_assert_uint_eq(store_watch_generation(w), store_generation(s));
	ck_assert_int_eq(watch(w, &sn), 0);
	key_add(s, "a.test", ED, 0, sel);
	watch_is(w, "a.test");

	key_add(s, "a.test", ED, 0, sel);
	gen_set(store_generation(s) + 1);
	key_add(s, "b.test", ED, 0, sel);
	ck_assert_int_eq(watch(w, &sn), STORE_WATCH_LOST);
	key_add(s, "b.test", ED, 0, sel);
	watch_is(w, "b.test");

	/* backwards: another keystore's generation (a restored backup) */
	key_add(s, "a.test", ED, 0, sel);
	key_add(s, "a.test", ED, 0, sel);
	key_add(s, "a.test", ED, 0, sel);
	watch_is(w, "a.test a.test a.test");
	g = store_generation(s);
	gen_set(g - 3);
	ck_assert_int_eq(watch(w, &sn), STORE_WATCH_LOST);
	key_add(s, "b.test", ED, 0, sel);
	r = watch(w, &sn);
	ck_assert_msg(r == STORE_WATCH_LOST || (r >= 1 &&
	    strstr(sn.names, "b.test") != NULL), "a write of b.test was "
	    "reported as %d \"%s\"", r, sn.names);
	store_watch_close(w);
	ks_done(s);
}
END_TEST

/*
 * A line cut short by a writer that died: never reported, cut off by the
 * next writer, and the readers (opened before it or after it) report
 * that writer's line.
 */
START_TEST(test_journal_torn)
{
	struct store *s = ks_new();
	struct store_watch *w, *w2;
	struct seen sn;
	char sel[64], line[64], *text;

	dom_add(s, "a.test", STORE_ALGBIT(ED));
	dom_add(s, "b.test", STORE_ALGBIT(ED));
	w = store_watch_open(s);
	jappend("12 exa");
	ck_assert_int_eq(watch(w, &sn), 0);
	w2 = store_watch_open(s);
	key_add(s, "b.test", ED, 0, sel);
	watch_is(w, "b.test");
	watch_is(w2, "b.test");
	text = jtext();
	ck_assert_msg(strstr(text, "exa\n") == NULL && strstr(text, "12 exa")
	    == NULL, "%s", text);
	ck_assert_msg(strcmp(text + strlen(text) - 9, "3 b.test\n") == 0,
	    "%s", text);
	free(text);

	/* a whole line but its newline, of the next generation */
	snprintf(line, sizeof(line), "%llu a.test",
	    (unsigned long long)store_generation(s) + 1);
	jappend(line);
	ck_assert_int_eq(watch(w, &sn), 0);
	key_add(s, "b.test", ED, 0, sel);
	watch_is(w, "b.test");
	watch_is(w2, "b.test");
	text = jtext();
	ck_assert_msg(strstr(text, "a.test\n4 b.test") == NULL &&
	    strstr(text, "4 a.test") == NULL, "%s", text);
	free(text);
	store_watch_close(w);
	store_watch_close(w2);
	ks_done(s);
}
END_TEST

/*
 * jpad - the journal grown by hand to just under JOURNAL_MAX_BYTES with
 * consecutive generations, and the generation file following, so that
 * the next write (of domain) takes it past the bound; the last generation
 */
static uint64_t
jpad(struct store *s, const char *domain)
{
	uint64_t g = store_generation(s), est;
	size_t size, target, len = 0, remain, k, next;
	char *buf, dom[256];
	struct stat st;
	unsigned i = 0;
	int n, fd;

	ck_assert_int_eq(stat(jpath(), &st), 0);
	size = (size_t)st.st_size;
	est = g + JOURNAL_MAX_BYTES / 24;	/* about the last generation */
	next = (size_t)snprintf(dom, sizeof(dom), "%llu %s\n",
	    (unsigned long long)est, domain);
	target = JOURNAL_MAX_BYTES - next + 1;
	buf = xmalloc(JOURNAL_MAX_BYTES);
	while ((remain = target - size - len) > 0) {
		g++;
		if (remain > 100) {
			n = snprintf(buf + len, remain + 1, "%llu p%06u.pad."
			    "test\n", (unsigned long long)g, i++);
			len += (size_t)n;
			continue;
		}
		/* the last line: a name of the length that fills it */
		n = snprintf(dom, sizeof(dom), "%llu ", (unsigned long long)g);
		k = remain - (size_t)n - strlen(".pad.test\n");
		ck_assert(k >= 1 && k < 200);
		memset(dom, 'a', k);
		dom[k] = '\0';
		if (k > 60)
			dom[k / 2] = '.';
		n = snprintf(buf + len, remain + 1, "%llu %s.pad.test\n",
		    (unsigned long long)g, dom);
		ck_assert_uint_eq((size_t)n, remain);
		len += (size_t)n;
	}
	fd = open(jpath(), O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
	gen_set(g);
	ck_assert_uint_eq(store_generation(s), g);
	/* the next write's line takes the journal past the bound */
	next = (size_t)snprintf(dom, sizeof(dom), "%llu %s\n",
	    (unsigned long long)g + 1, domain);
	ck_assert_int_eq(stat(jpath(), &st), 0);
	ck_assert_int_le(st.st_size, JOURNAL_MAX_BYTES);
	ck_assert_int_gt(st.st_size + (off_t)next, JOURNAL_MAX_BYTES);
	return g;
}

/* only_ab - names are a.test and b.test, each at least once, no other */
static int
only_ab(const char *names)
{
	char *copy = xstrdup(names), *p, *tok;
	int a = 0, b = 0, other = 0;

	for (p = copy; (tok = strsep(&p, " ")) != NULL;) {
		if (strcmp(tok, "a.test") == 0)
			a = 1;
		else if (strcmp(tok, "b.test") == 0)
			b = 1;
		else
			other = 1;
	}
	free(copy);
	return a && b && !other;
}

/*
 * Past JOURNAL_MAX_BYTES the journal is cut to its newest lines; every
 * reader goes on complete, no LOST: one last polled long before (it reads
 * the old file to its end), one opened just before the cut and polled
 * after two writes, one polled between them, one opened after the cut.
 * Each write is reported once: those that were in the old file are not
 * told again from the new one.
 */
START_TEST(test_journal_compact)
{
	struct store_watch *w1, *w2, *w3, *w4;
	struct store *s = ks_new();
	struct stat before, after;
	struct seen sn1, sn2;
	uint64_t g;
	char sel[64], *text, last[64];
	int r1, r2;

	dom_add(s, "a.test", STORE_ALGBIT(ED));
	dom_add(s, "b.test", STORE_ALGBIT(ED));
	w1 = store_watch_open(s);
	g = jpad(s, "a.test");
	w2 = store_watch_open(s);
	w3 = store_watch_open(s);
	ck_assert_uint_eq(store_watch_generation(w2), g);
	ck_assert_int_eq(stat(jpath(), &before), 0);

	key_add(s, "a.test", ED, 0, sel);		/* g + 1: the cut */
	ck_assert_uint_eq(store_generation(s), g + 1);
	ck_assert_int_eq(stat(jpath(), &after), 0);
	ck_assert(after.st_ino != before.st_ino);
	ck_assert_int_lt(after.st_size, 300 * 1024);
	ck_assert_int_eq(after.st_mode & 0777, 0600);
	text = jtext();
	ck_assert_msg(strncmp(text, "keyturn-journal 1\n", 18) == 0, "%.40s",
	    text);
	snprintf(last, sizeof(last), "\n%llu a.test\n",
	    (unsigned long long)g + 1);
	ck_assert_msg(strlen(text) > strlen(last) && strcmp(text +
	    strlen(text) - strlen(last), last) == 0, "%s", text +
	    strlen(text) - 40);
	free(text);
	watch_is(w3, "a.test");

	key_add(s, "b.test", ED, 0, sel);		/* g + 2 */
	r2 = watch(w2, &sn2);
	watch_is(w3, "b.test");
	r1 = watch(w1, &sn1);
	w4 = store_watch_open(s);
	key_add(s, "a.test", ED, 0, sel);
	watch_is(w1, "a.test");
	watch_is(w2, "a.test");
	watch_is(w3, "a.test");
	watch_is(w4, "a.test");

	/* complete, no LOST */
	ck_assert_msg(r2 >= 2 && only_ab(sn2.names) && sn2.pads == 0,
	    "opened before the cut: %d \"%s\"", r2, sn2.names);
	ck_assert_msg(r1 != STORE_WATCH_LOST, "the reader of the old file: "
	    "LOST");
	ck_assert_msg(only_ab(sn1.names), "%s", sn1.names);
	ck_assert_uint_ge(sn1.pads, g - 2);
	/* and once each */
	ck_assert_msg(r2 == 2 && strcmp(sn2.names, "a.test b.test") == 0,
	    "opened before the cut: %d \"%s\"", r2, sn2.names);
	ck_assert_msg(r1 == (int)g && sn1.pads == g - 2 &&
	    strcmp(sn1.names, "a.test b.test") == 0, "the reader of the old "
	    "file: %d (%zu pads, %s), want %d (%d pads, a.test b.test)", r1,
	    sn1.pads, sn1.names, (int)g, (int)g - 2);

	store_watch_close(w1);
	store_watch_close(w2);
	store_watch_close(w3);
	store_watch_close(w4);
	ks_done(s);
}
END_TEST

/*
 * A writer that died after its line and before its commit leaves a line
 * whose number the next write does not take again: that write takes the
 * next one and bumps past both, so both domains are reported (the dead
 * write's change may be on disk). The same when the dead writer had cut
 * the journal, so that the next line is in the new file only.
 */
START_TEST(test_journal_died)
{
	struct store *s = ks_new();
	struct store_watch *w;
	struct seen sn;
	char sel[64];

	dom_add(s, "a.test", STORE_ALGBIT(ED));
	dom_add(s, "b.test", STORE_ALGBIT(ED));
	w = store_watch_open(s);
	jappend("3 x.test\n");				/* died */
	ck_assert_int_eq(watch(w, &sn), 0);
	key_add(s, "b.test", ED, 0, sel);		/* 4 */
	ck_assert_uint_eq(store_generation(s), 4);
	ck_assert_int_eq(watch(w, &sn), 2);
	ck_assert_str_eq(sn.names, "x.test b.test");

	/* died after its line and the cut it made */
	jappend("5 x.test\n");
	jreplace("keyturn-journal 1\n4 b.test\n5 x.test\n");
	ck_assert_int_eq(watch(w, &sn), 0);
	key_add(s, "b.test", ED, 0, sel);		/* 6 */
	ck_assert_uint_eq(store_generation(s), 6);
	ck_assert_int_eq(watch(w, &sn), 2);
	ck_assert_msg(strcmp(sn.names, "x.test b.test") == 0, "a write of "
	    "b.test after a cut was reported as \"%s\"", sn.names);
	store_watch_close(w);
	ks_done(s);
}
END_TEST

/* ---- key ids, formats, delegated domains ---- */

/* kid_of_file - SHA-256 over the DER SPKI of a key file, as operators do */
static void
kid_of_file(const char *path, char kid[STORE_KID_LEN + 1])
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_PKEY *k;
	FILE *f;
	int n, i;

	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(k = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_gt(n = i2d_PUBKEY(k, &der), 0);
	ck_assert_int_eq(EVP_Digest(der, n, md, &mdlen, EVP_sha256(), NULL),
	    1);
	for (i = 0; i < 8; i++)
		snprintf(kid + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* file_has - does the keystore file contain text? */
static int
file_has(const char *rel, const char *text)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "grep -qF -- '%s' %s/%s", text, ks_dir,
	    rel);
	return system(cmd) == 0;
}

/* ks_sh - a shell command in the keystore directory */
static void ks_sh(const char *, ...) __attribute__((format(printf, 1, 2)));
static void
ks_sh(const char *fmt, ...)
{
	char c[1024], cmd[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c, sizeof(c), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd %s && %s", ks_dir, c);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* the key id is the definition's, in the state and the history */
START_TEST(test_key_id)
{
	struct store *s = ks_new();
	struct store_domain *d;
	struct store_event *ev;
	char sel[STORE_SELECTOR_MAX + 1], path[256], want[32], line[128];
	enum store_alg alg = _i ? STORE_ALG_RSA : ED;
	const struct store_key *k;
	size_t n;

	dom_add(s, "example.org", STORE_ALGBIT(alg));
	key_add(s, "example.org", alg, 0, sel);
	snprintf(path, sizeof(path), "%s/example.org/keys/%s.pem", ks_dir,
	    sel);
	kid_of_file(path, want);
	ck_assert_ptr_nonnull(d = store_domain_load(s, "example.org", 0, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(k = store_domain_key(d, sel));
	ck_assert_str_eq(k->kid, want);
	ck_assert_ptr_eq(store_domain_kid(d, want), k);
	ck_assert_int_eq(store_key_id(k->spki, line), 0);
	ck_assert_str_eq(line, want);
	snprintf(line, sizeof(line), "kid=%s; pub=", want);
	ck_assert(file_has("example.org/state", line));
	ck_assert(file_has("example.org/state", "keyturn-state 1"));
	snprintf(line, sizeof(line), "- pending key=%s pub=%s:", want,
	    store_alg_name(alg));
	ck_assert(file_has("example.org/history", line));
	store_domain_free(d);
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ev[0].kid, "");
	ck_assert_str_eq(ev[1].kid, want);
	ck_assert_ptr_nonnull(ev[1].pub);
	ck_assert_int_eq(ev[1].alg, alg);
	ck_assert_str_eq(ev[1].reason, "test");
	ck_assert_ptr_eq(store_history_created(ev, n, want), &ev[1]);
	store_history_free(ev, n);
	ks_done(s);
}
END_TEST

/* files of an older keyturn: no kid=, no key= tags; they load and stay v1 */
START_TEST(test_old_files)
{
	struct store *s = ks_new();
	struct store_domain *d;
	struct store_event *ev;
	char sel[STORE_SELECTOR_MAX + 1], kid[STORE_KID_LEN + 1];
	size_t n;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	key_in(s, "example.org", STORE_ACTIVE, sel);
	ck_assert_ptr_nonnull(d = store_domain_load(s, "example.org", 0, err,
	    sizeof(err)));
	strlcpy(kid, store_domain_key(d, sel)->kid, sizeof(kid));
	store_domain_free(d);
	/* as today's keyturn writes them */
	ks_sh("cd %s && sed -i 's/ stopped=[^;]*;//; s/ kid=[0-9a-f]*;//' "
	    "state && sed -i -E 's/ key=[^ ]+( pub=[^ ]+)?//' history && "
	    "sed -i \"s/^history .*/history $(wc -c < history)/\" state && "
	    "! grep -q 'kid=' state && ! grep -q 'key=' history",
	    "example.org");
	ck_assert_ptr_nonnull(d = store_domain_load(s, "example.org",
	    STORE_KEYS_ALL, err, sizeof(err)));
	ck_assert_str_eq(store_domain_key(d, sel)->kid, kid);
	store_domain_free(d);
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ev[n - 1].kid, "");
	ck_assert_ptr_null(ev[n - 1].pub);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, NOW + 10),
	    STORE_ACTIVE);
	store_history_free(ev, n);
	/* the next write puts kid= back, and keeps version 1 */
	ck_assert_int_eq(move(s, "example.org", sel, STORE_ACTIVE,
	    STORE_RETIRING, 0), 0);
	ck_assert(file_has("example.org/state", kid));
	ck_assert(file_has("example.org/state", "keyturn-state 1"));
	ck_assert(file_has("example.org/state", "stopped="));
	ck_assert(file_has("example.org/policy", "keyturn-policy 1"));
	/* a kid= that is not the key's */
	ks_sh("cd %s && sed -i 's/kid=[0-9a-f]*;/kid=0123456789abcdef;/' "
	    "state", "example.org");
	ck_assert_ptr_null(store_domain_load(s, "example.org", 0, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "kid= 0123456789abcdef does not match pub= "
	    "(computed ") != NULL, "%s", err);
	ks_done(s);
}
END_TEST

/* a v1 reason that has key= mid-text, and damaged tags */
START_TEST(test_history_tags)
{
	struct store *s = ks_new();
	struct store_event *ev;
	size_t n;

	dom_add(s, "example.org", STORE_ALGBIT(ED));
	ks_sh("cd %s && printf '2026-11-22T21:51:31Z kt1 - pending operator: "
	    "key=x y\\n' >> history && sed -i \"s/^history .*/history $(wc -c "
	    "< history)/\" state", "example.org");
	ck_assert_msg(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(ev[n - 1].reason, "operator: key=x y");
	ck_assert_str_eq(ev[n - 1].kid, "");
	store_history_free(ev, n);
	ks_sh("cd %s && printf '2026-11-22T21:51:32Z kt1 pending ready "
	    "key=zz policy: x\\n' >> history && sed -i \"s/^history .*/history "
	    "$(wc -c < history)/\" state", "example.org");
	ck_assert_int_eq(store_history_load(s, "example.org", &ev, &n, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "bad key id") != NULL, "%s", err);
	ks_done(s);
}
END_TEST

/* deleg_policy - ed25519, 3 slots, rotate 8s, retire 4s, hold 5s */
static void
deleg_policy(struct store_policy *p, int slots)
{
	store_policy_default(p);
	p->algs = STORE_ALGBIT(ED);
	strlcpy(p->delegate_to, "prov.test", sizeof(p->delegate_to));
	p->slots = slots;
	p->rotate_after = 8;
	p->retire_after = 4;
	p->dns_hold = 5;
}

/* apply_at - one transition at a time */
static int
apply_at(struct store *s, const char *sel, enum store_state from,
    enum store_state to, time_t t)
{
	struct store_change c = { sel, from, to, "test" };

	return store_apply(s, "cust.test", &c, 1, t, STORE_FORCE, err,
	    sizeof(err));
}

/* the 2- and 3-slot check, with its numbers */
START_TEST(test_slot_policy_check)
{
	struct store_policy p;
	char why[512];

	deleg_policy(&p, 2);
	p.rotate_after = 10;
	p.retire_after = 8;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "8s + 5s = 13s") != NULL &&
	    strstr(err, "10s \u00d7 1 = 10s") != NULL &&
	    strstr(err, "above 13s") != NULL &&
	    strstr(err, "--slots 3") != NULL, "%s", err);
	p.rotate_after = 13;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	p.rotate_after = 14;
	ck_assert_msg(store_policy_check(&p, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(store_policy_plan_why(&p, why, sizeof(why)), 0);
	deleg_policy(&p, 3);
	ck_assert_msg(store_policy_check(&p, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(store_policy_plan_why(&p, why, sizeof(why)), 1);
	ck_assert_msg(strstr(why, "up to 1s") != NULL, "%s", why);
	p.rotate_after = 4;
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "4s \u00d7 2 = 8s") != NULL &&
	    strstr(err, "--slots 3") == NULL, "%s", err);
	deleg_policy(&p, 3);
	p.algs |= STORE_ALGBIT(STORE_ALG_RSA);
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "one algorithm") != NULL, "%s", err);
	deleg_policy(&p, 3);
	strlcpy(p.slot_selector, "kt", sizeof(p.slot_selector));
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	deleg_policy(&p, 3);
	strlcpy(p.slot_target, "%s.%d.elsewhere.test",
	    sizeof(p.slot_target));
	ck_assert_int_eq(store_policy_check(&p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "outside") != NULL, "%s", err);
}
END_TEST

/* a delegated domain: version 2 files that read back, slot keys */
START_TEST(test_slot_formats)
{
	struct store *s = ks_new();
	struct store_policy p;
	struct store_domain *d;
	char kid[STORE_KID_LEN + 1], sel[64], tgt[300], path[256];
	char want[STORE_KID_LEN + 1];

	deleg_policy(&p, 3);
	ck_assert_msg(store_domain_add(s, "cust.test", &p, NOW, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert(file_has("cust.test/policy", "keyturn-policy 2"));
	ck_assert(file_has("cust.test/policy", "slot-target %s.%d.%z"));
	ck_assert(file_has("cust.test/history", "delegate-to=prov.test "
	    "slots=3"));
	ck_assert_msg(store_slot_key_new(s, "cust.test", 0, ED, 0, 300, NOW,
	    "policy: slot kt1 is empty", kid, sizeof(kid), err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert(file_has("cust.test/state", "keyturn-state 2"));
	ck_assert(file_has("cust.test/state", "key selector=kt1; slot=1; "
	    "alg=ed25519; bits=256; state=pending;"));
	ck_assert(file_has("cust.test/state", "; prevttl=300; kid="));
	ck_assert(file_has("cust.test/history", "kt1 - pending key="));
	ck_assert(file_has("cust.test/history", " slot=1 pub=ed25519:"));
	snprintf(path, sizeof(path), "%s/cust.test/keys/kt1.%s.pem", ks_dir,
	    kid);
	kid_of_file(path, want);
	ck_assert_str_eq(kid, want);
	ck_assert_ptr_nonnull(d = store_domain_load(s, "cust.test",
	    STORE_KEYS_ALL, err, sizeof(err)));
	ck_assert_int_eq(memcmp(&d->policy, &p, sizeof(p)), 0);
	ck_assert_int_eq(store_domain_slot(d, 1)->slot, 1);
	ck_assert_int_eq(store_domain_slot(d, 1)->prev_ttl, 300);
	ck_assert_ptr_null(store_domain_slot(d, 2));
	ck_assert_int_eq(store_slot_names(&d->policy, d->name, 2, sel,
	    sizeof(sel), tgt, sizeof(tgt), err, sizeof(err)), 0);
	ck_assert_str_eq(sel, "kt2");
	ck_assert_str_eq(tgt, "kt2.cust.test.prov.test");
	store_domain_free(d);
	/* keys by selector are refused; a plain domain has no slots */
	ck_assert_int_eq(store_key_new(s, "cust.test", ED, 0, NULL, NOW, "t",
	    sel, sizeof(sel), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "delegated") != NULL, "%s", err);
	dom_add(s, "plain.test", STORE_ALGBIT(ED));
	ck_assert_int_eq(store_slot_key_new(s, "plain.test", 1, ED, 0, -1, NOW,
	    "t", kid, sizeof(kid), err, sizeof(err)), -1);
	/* a slot key in a version 1 state, a key without its slot */
	ks_sh("cp %s/state st && sed -i 's/keyturn-state 2/keyturn-state 1/' "
	    "cust.test/state", "cust.test");
	ck_assert_ptr_null(store_domain_load(s, "cust.test", 0, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "need \"keyturn-state 2\"") != NULL, "%s",
	    err);
	ks_sh("cp st %s/state && sed -i 's/ slot=1;//' cust.test/state",
	    "cust.test");
	ck_assert_ptr_null(store_domain_load(s, "cust.test", 0, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "has no slot=") != NULL, "%s", err);
	ks_sh("cp st %s/state && sed -i 's/^slots 3/slots 3\\nslots 2/' "
	    "cust.test/policy", "cust.test");
	ck_assert_ptr_null(store_domain_load(s, "cust.test", 0, err,
	    sizeof(err)));
	ks_sh("sed -i '/^slots 2/d; s/keyturn-policy 2/keyturn-policy 1/' "
	    "%s/policy", "cust.test");
	ck_assert_ptr_null(store_domain_load(s, "cust.test", 0, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "\"delegate-to\" needs \"keyturn-policy "
	    "2\"") != NULL, "%s", err);
	ks_done(s);
}
END_TEST

/* a slot takes a new key only when revoked and retire-after has passed */
START_TEST(test_slot_reuse)
{
	struct store *s = ks_new();
	struct store_policy p;
	struct store_domain *d;
	struct store_event *ev;
	char k1[STORE_KID_LEN + 1], k2[STORE_KID_LEN + 1], k[STORE_KID_LEN + 1];
	time_t when;
	size_t n;
	int i;

	deleg_policy(&p, 3);
	ck_assert_int_eq(store_domain_add(s, "cust.test", &p, NOW, err,
	    sizeof(err)), 0);
	for (i = 1; i <= 3; i++)
		ck_assert_msg(store_slot_key_new(s, "cust.test", 0, ED, 0, -1,
		    NOW, "t", i == 1 ? k1 : k, sizeof(k), err,
		    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(store_slot_key_new(s, "cust.test", 0, ED, 0, -1, NOW,
	    "t", k, sizeof(k), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no slot") != NULL, "%s", err);
	ck_assert_int_eq(apply_at(s, "kt1", STORE_PENDING, STORE_ACTIVE,
	    NOW + 10), 0);
	ck_assert_int_eq(store_slot_key_new(s, "cust.test", 1, ED, 0, -1,
	    NOW + 11, "t", k, sizeof(k), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "which is active") != NULL, "%s", err);
	ck_assert_int_eq(apply_at(s, "kt1", STORE_ACTIVE, STORE_RETIRING,
	    NOW + 20), 0);
	ck_assert_int_eq(apply_at(s, "kt1", STORE_RETIRING, STORE_REVOKED,
	    NOW + 21), 0);
	ck_assert_ptr_nonnull(d = store_domain_load(s, "cust.test", 0, err,
	    sizeof(err)));
	ck_assert_int_eq(store_slot_free_at(d, 1, NOW + 23, &when), 0);
	ck_assert_int_eq(when, NOW + 24);
	ck_assert_int_eq(store_slot_free_at(d, 1, NOW + 24, &when), 1);
	ck_assert_int_eq(store_slot_free_at(d, 4, NOW + 24, &when), -1);
	store_domain_free(d);
	ck_assert_int_eq(store_slot_key_new(s, "cust.test", 1, ED, 0, -1,
	    NOW + 23, "t", k, sizeof(k), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "stopped signing 3s ago") != NULL &&
	    strstr(err, "retire-after (4s)") != NULL, "%s", err);
	ck_assert_msg(store_slot_key_new(s, "cust.test", 0, ED, 0, 2,
	    NOW + 24, "t", k2, sizeof(k2), err, sizeof(err)) == 0, "%s", err);
	/* the predecessor left the state; its lines and public key stay */
	ck_assert_ptr_nonnull(d = store_domain_load(s, "cust.test", 0, err,
	    sizeof(err)));
	ck_assert_uint_eq(d->nkeys, 3);
	ck_assert_str_eq(store_domain_key(d, "kt1")->kid, k2);
	ck_assert_ptr_null(store_domain_kid(d, k1));
	store_domain_free(d);
	ck_assert_int_eq(store_history_load(s, "cust.test", &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_int_ge(store_history_holder(ev, n, "kt1", NOW + 15, k), 0);
	ck_assert_str_eq(k, k1);
	ck_assert_int_ge(store_history_holder(ev, n, "kt1", NOW + 24, k), 0);
	ck_assert_str_eq(k, k2);
	ck_assert_int_eq(store_history_holder(ev, n, "kt1", NOW - 1, k), -1);
	ck_assert_int_eq(store_history_key_state_at(ev, n, k1, NOW + 15),
	    STORE_ACTIVE);
	ck_assert_int_eq(store_history_key_state_at(ev, n, k1, NOW + 30),
	    STORE_REVOKED);
	ck_assert_int_eq(store_history_key_state_at(ev, n, k2, NOW + 30),
	    STORE_PENDING);
	ck_assert_int_eq(store_history_key_state_at(ev, n, k2, NOW + 15),
	    STORE_STATE_NONE);
	ck_assert_ptr_nonnull(store_history_created(ev, n, k1));
	ck_assert_ptr_nonnull(store_history_created(ev, n, k1)->pub);
	ck_assert_int_eq(store_history_created(ev, n, k1)->slot, 1);
	store_history_free(ev, n);
	ks_done(s);
}
END_TEST

/* a selector an older keyturn used (no key id) is no slot selector */
START_TEST(test_slot_old_history)
{
	struct store *s = ks_new();
	struct store_policy p;
	char sel[STORE_SELECTOR_MAX + 1];

	dom_add(s, "cust.test", STORE_ALGBIT(ED));
	ck_assert_int_eq(store_key_new(s, "cust.test", ED, 0, "kt1", NOW, "t",
	    sel, sizeof(sel), err, sizeof(err)), 0);
	ck_assert_int_eq(store_domain_remove(s, "cust.test", 1, NOW, err,
	    sizeof(err)), 0);
	deleg_policy(&p, 3);
	/* with key ids, the earlier kt1 is told apart: allowed */
	ck_assert_msg(store_domain_add(s, "cust.test", &p, NOW, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(store_domain_remove(s, "cust.test", 1, NOW, err,
	    sizeof(err)), 0);
	ks_sh("sed -i -E 's/ key=[^ ]+( slot=[^ ]+)?( pub=[^ ]+)?//' "
	    "%s/history", ".removed/cust.test");
	ck_assert_int_eq(store_domain_add(s, "cust.test", &p, NOW, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "kt1 was used by cust.test before key ids "
	    "were kept") != NULL, "%s", err);
	strlcpy(p.slot_selector, "dk%n", sizeof(p.slot_selector));
	ck_assert_msg(store_domain_add(s, "cust.test", &p, NOW, err,
	    sizeof(err)) == 0, "%s", err);
	ks_done(s);
}
END_TEST

/* domain set: slots and hold of a delegated domain only; shrink by free */
START_TEST(test_slot_set)
{
	struct store *s = ks_new();
	struct store_policy p, set;
	struct store_domain *d;
	char kid[STORE_KID_LEN + 1];
	int i;

	dom_add(s, "plain.test", STORE_ALGBIT(ED));
	memset(&set, 0, sizeof(set));
	set.slots = 3;
	ck_assert_int_eq(store_domain_set(s, "plain.test", &set,
	    STORE_POL_SLOTS, NOW, err, sizeof(err)), -1);
	ck_assert(file_has("plain.test/policy", "keyturn-policy 1"));
	deleg_policy(&p, 3);
	p.rotate_after = 20;
	ck_assert_int_eq(store_domain_add(s, "cust.test", &p, NOW, err,
	    sizeof(err)), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(store_slot_key_new(s, "cust.test", 0, ED, 0,
		    -1, NOW, "t", kid, sizeof(kid), err, sizeof(err)), 0);
	set.slots = 2;
	ck_assert_int_eq(store_domain_set(s, "cust.test", &set,
	    STORE_POL_SLOTS, NOW, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "slot 3") != NULL, "%s", err);
	ck_assert_int_eq(apply_at(s, "kt3", STORE_PENDING, STORE_REVOKED,
	    NOW + 1), 0);
	ck_assert_msg(store_domain_set(s, "cust.test", &set, STORE_POL_SLOTS,
	    NOW + 2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(d = store_domain_load(s, "cust.test", 0, err,
	    sizeof(err)));
	ck_assert_int_eq(d->policy.slots, 2);
	ck_assert_uint_eq(d->nkeys, 2);
	store_domain_free(d);
	set.rotate_after = 8;
	ck_assert_int_eq(store_domain_set(s, "cust.test", &set,
	    STORE_POL_ROTATE, NOW, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "2 slots cannot rotate every 8s") != NULL,
	    "%s", err);
	ks_done(s);
}
END_TEST

static Suite *
keystore_suite(void)
{
	Suite *s = suite_create("keystore");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_transition, 0,
	    STORE_NSTATES * STORE_NSTATES);
	tcase_add_test(tc, test_force_and_stale);
	tcase_add_test(tc, test_swap_atomic);
	tcase_add_test(tc, test_keep_signing);
	tcase_add_test(tc, test_compromised);
	tcase_add_test(tc, test_activate_loads_key);
	tcase_add_loop_test(tc, test_note, STORE_PENDING, STORE_NSTATES);
	tcase_add_test(tc, test_note_commit);
	tcase_add_test(tc, test_active_limit);
	tcase_add_loop_test(tc, test_rsa_bits, 0,
	    sizeof(bits_cases) / sizeof(bits_cases[0]));
	tcase_add_test(tc, test_policy_limits);
	tcase_add_test(tc, test_planned_saturates);
	tcase_add_test(tc, test_revoke_planned);
	tcase_add_test(tc, test_policy_set_fields);
	tcase_add_test(tc, test_selector_template);
	tcase_add_test(tc, test_selector_reuse);
	tcase_add_test(tc, test_domain_remove);
	tcase_add_test(tc, test_removed_history);
	tcase_add_test(tc, test_domain_names_confined);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_import);
	tcase_add_test(tc, test_policy_over_cap);
	tcase_add_loop_test(tc, test_damage, 0,
	    sizeof(damages) / sizeof(damages[0]));
	tcase_add_test(tc, test_keystore_open);
	tcase_add_test(tc, test_init_dir);
	tcase_add_test(tc, test_open_owner);
	tcase_add_test(tc, test_uncommitted_tail);
	tcase_add_test(tc, test_history_short);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_names_refused);
	tcase_add_test(tc, test_journal_each);
	tcase_add_test(tc, test_journal_policy);
	tcase_add_test(tc, test_journal_removed);
	tcase_add_test(tc, test_journal_gap);
	tcase_add_test(tc, test_journal_torn);
	tcase_add_test(tc, test_journal_compact);
	tcase_add_test(tc, test_journal_died);
	tcase_add_loop_test(tc, test_key_id, 0, 2);
	tcase_add_test(tc, test_old_files);
	tcase_add_test(tc, test_history_tags);
	tcase_add_test(tc, test_slot_policy_check);
	tcase_add_test(tc, test_slot_formats);
	tcase_add_test(tc, test_slot_reuse);
	tcase_add_test(tc, test_slot_old_history);
	tcase_add_test(tc, test_slot_set);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(keystore_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
