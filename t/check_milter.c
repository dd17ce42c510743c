/*
 * check_milter - table-driven tests of keyturnd's signing decision and
 * keystore snapshots (milter/decide.c, milter/snapshot.c): who is signed
 * for, which domain signs, which keys in which order, x= bounds, and the
 * round-robin under concurrency; and of the keystore's view through the
 * loader and the cache (milter/loader.c, milter/keycache.c) over real
 * keystores on disk: domains read on first use, least recently used out,
 * keystore writes followed through the journal, references that outlive
 * their entry, and lookups racing writes.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf.h"
#include "decide.h"
#include "keycache.h"
#include "loader.h"
#include "snapshot.h"
#include "store.h"
#include "xmalloc.h"

/* addr - a sockaddr from text; NULL for "" (local submission) */
static const struct sockaddr *
addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (*s == '\0')
		return NULL;
	if (inet_pton(AF_INET, s, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return (struct sockaddr *)ss;
	}
	ck_assert_int_eq(inet_pton(AF_INET6, s, &in6->sin6_addr), 1);
	in6->sin6_family = AF_INET6;
	return (struct sockaddr *)ss;
}

static const struct client_case {
	const char *addr;
	const char *internal;	/* InternalHosts, NULL: default */
	int sign_auth;
	const char *daemons;	/* DaemonNames (one), NULL: any */
	const char *authen, *authtype, *daemon;
	int sign;
	const char *why;	/* substring of the reason */
} client_cases[] = {
	{ "127.0.0.1", NULL, 1, NULL, NULL, NULL, NULL, 1, NULL },
	{ "::1", NULL, 1, NULL, NULL, NULL, NULL, 1, NULL },
	{ "unix", NULL, 1, NULL, NULL, NULL, NULL, 1, NULL },
	{ "unix", "10.0.0.0/8", 0, NULL, NULL, NULL, NULL, 1, NULL },
	{ "name=localhost", NULL, 1, NULL, NULL, NULL, NULL, 1, NULL },
	{ "name=localhost", "10.0.0.0/8", 0, NULL, NULL, NULL, NULL, 1, NULL },
	{ "", NULL, 1, NULL, NULL, NULL, NULL, 0,
	    "client unknown is not internal" },
	{ "name=unknown", NULL, 1, NULL, NULL, NULL, NULL, 0,
	    "client unknown (unknown) is not internal" },
	{ "name=localhost.example", NULL, 1, NULL, NULL, NULL, NULL, 0,
	    "is not internal" },
	{ "name=LOCALHOST", NULL, 0, NULL, NULL, NULL, NULL, 0,
	    "is not internal" },
	{ "name=proxy.example", NULL, 1, NULL, "alice", "PLAIN", NULL, 1,
	    NULL },
	{ "192.0.2.7", NULL, 1, NULL, NULL, NULL, NULL, 0,
	    "client 192.0.2.7 is not internal and not authenticated" },
	{ "2001:db8::5", NULL, 1, NULL, NULL, NULL, NULL, 0, "2001:db8::5" },
	{ "192.0.2.7", NULL, 1, NULL, "alice", "PLAIN", NULL, 1, NULL },
	{ "192.0.2.7", NULL, 1, NULL, "", "", NULL, 0, "not authenticated" },
	{ "192.0.2.7", NULL, 1, NULL, NULL, "LOGIN", NULL, 1, NULL },
	{ "192.0.2.7", NULL, 0, NULL, "alice", "PLAIN", NULL, 0,
	    "is not internal" },
	{ "10.9.8.7", "10.0.0.0/8", 1, NULL, NULL, NULL, NULL, 1, NULL },
	{ "127.0.0.1", "10.0.0.0/8", 1, NULL, NULL, NULL, NULL, 0,
	    "127.0.0.1" },
	{ "192.0.2.7", NULL, 1, "submission", "alice", "PLAIN", "submission",
	    1, NULL },
	{ "192.0.2.7", NULL, 1, "submission", "alice", "PLAIN", "smtpd", 0,
	    "daemon name smtpd not in DaemonNames" },
	{ "127.0.0.1", NULL, 1, "submission", NULL, NULL, NULL, 0,
	    "(none)" },
};

START_TEST(test_decide_client)
{
	const struct client_case *tc = &client_cases[_i];
	struct kt_conf *c = conf_defaults();
	struct sockaddr_storage ss;
	struct decide_client dc;
	char why[256] = "";
	int r;

	if (tc->internal != NULL) {
		c->ninternal = 1;
		ck_assert_int_eq(conf_net_parse(tc->internal, &c->internal[0]),
		    0);
	}
	c->sign_authenticated = tc->sign_auth;
	if (tc->daemons != NULL) {
		c->daemon_names = xcalloc(1, sizeof(char *));
		c->daemon_names[0] = xstrdup(tc->daemons);
		c->ndaemon_names = 1;
	}
	dc.unix_socket = strcmp(tc->addr, "unix") == 0;
	dc.hostname = strncmp(tc->addr, "name=", 5) == 0 ? tc->addr + 5 :
	    NULL;
	dc.addr = dc.unix_socket || dc.hostname != NULL ? NULL :
	    addr(tc->addr, &ss);
	dc.auth_authen = tc->authen;
	dc.auth_type = tc->authtype;
	dc.daemon_name = tc->daemon;
	r = decide_client(c, &dc, why, sizeof(why));
	ck_assert_msg(r == tc->sign, "case %d: %d (%s)", _i, r, why);
	if (tc->why != NULL)
		ck_assert_msg(strstr(why, tc->why) != NULL, "case %d: \"%s\"",
		    _i, why);
	conf_free(c);
}
END_TEST

#define SWAP	1000000		/* the key's planned end of signing */
#define DAY	86400
#define WEEK	(7 * DAY)

/*
 * x= = min(t= + SignatureTTL, planned end + retire-after); none when that
 * is not later than t=. end 0: a key with no planned end.
 */
static const struct expiry_case {
	time_t now;
	long long ttl;
	time_t end;
	long long retire;
	time_t want;
} expiry_cases[] = {
	{ 1000, 0, 0, 0, 0 },			/* no SignatureTTL: no x= */
	{ 1000, 0, SWAP, WEEK, 0 },		/* a plan alone adds none */
	{ 1000, 600, 0, WEEK, 1600 },		/* no planned end: the TTL */
	{ 1000, 600, SWAP, WEEK, 1600 },	/* the TTL ends first */
	/* signed a second before the swap: still published a week on */
	{ SWAP - 1, 30 * DAY, SWAP, WEEK, SWAP + WEEK },
	{ SWAP - 1, DAY, SWAP, WEEK, SWAP - 1 + DAY },
	{ SWAP - 1, WEEK + 1, SWAP, WEEK, SWAP + WEEK },
	{ SWAP - 1, WEEK + 2, SWAP, WEEK, SWAP + WEEK },
	/* retire-after 0: revoked at the swap */
	{ SWAP - 1, DAY, SWAP, 0, SWAP },	/* one second after t= */
	{ SWAP, DAY, SWAP, 0, 0 },		/* never x= = t= */
	{ SWAP + 1, DAY, SWAP, 0, 0 },
	/* a TTL longer than the key's remaining life */
	{ SWAP - DAY, 3650 * DAY, SWAP, WEEK, SWAP + WEEK },
	/* overdue (the rotation has not swapped it): what is left of it */
	{ SWAP + DAY, 30 * DAY, SWAP, WEEK, SWAP + WEEK },
	{ SWAP + WEEK - 1, 30 * DAY, SWAP, WEEK, SWAP + WEEK },
	/* ... and once its planned revocation has passed: no x= */
	{ SWAP + WEEK, 30 * DAY, SWAP, WEEK, 0 },
	{ SWAP + 2 * WEEK, 30 * DAY, SWAP, WEEK, 0 },
};

START_TEST(test_decide_expiry)
{
	const struct expiry_case *tc = &expiry_cases[_i];
	struct store_domain d;
	struct store_key k;
	time_t revoke = 0, x;

	if (tc->end != 0) {
		memset(&d, 0, sizeof(d));
		memset(&k, 0, sizeof(k));
		store_policy_default(&d.policy);
		d.policy.retire_after = tc->retire;
		k.state = STORE_ACTIVE;
		k.since = tc->end - d.policy.rotate_after;
		revoke = store_key_revoke_planned(&d, &k);
	}
	x = decide_expiry(tc->now, tc->ttl, revoke);
	ck_assert_msg(x == tc->want, "case %d: x=%lld, want %lld", _i,
	    (long long)x, (long long)tc->want);
	ck_assert(x == 0 || x > tc->now);
}
END_TEST

/* keygen - a throwaway Ed25519 key (the snapshot does not look inside) */
static EVP_PKEY *
keygen(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	ck_assert_ptr_nonnull(k);
	return k;
}

/* addkey - give d an active key named sel */
static void
addkey(struct snap_domain *d, const char *sel, enum dkim_alg alg,
    time_t retire)
{
	EVP_PKEY *k = keygen();

	ck_assert_int_eq(snapshot_add_key(d, sel, alg, k, retire), 0);
	EVP_PKEY_free(k);	/* the snapshot holds its own reference */
}

/* fixture - example.com (rsa a b c, ed e), sub.example.net, Empty.org */
static struct snapshot *
fixture(struct kt_conf *c)
{
	struct snapshot *s;
	struct snap_domain *d;
	char err[128];

	s = snapshot_new(c != NULL ? c : conf_defaults(), NULL, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	d = snapshot_add_domain(s, "example.com");
	addkey(d, "a", DKIM_ALG_RSA_SHA256, 0);
	addkey(d, "b", DKIM_ALG_RSA_SHA256, 0);
	addkey(d, "c", DKIM_ALG_RSA_SHA256, 0);
	addkey(d, "e", DKIM_ALG_ED25519_SHA256, 3000);
	d = snapshot_add_domain(s, "sub.example.net");
	addkey(d, "s1", DKIM_ALG_ED25519_SHA256, 0);
	snapshot_add_domain(s, "Empty.org");
	d = snapshot_add_domain(s, "broken.test");
	addkey(d, "x", DKIM_ALG_RSA_SHA256, 0);
	snapshot_domain_error(d, "keys/x.pem: mode 0644");
	snapshot_seal(s);
	return s;
}

static const struct find_case {
	const char *from;
	int subdomains;
	const char *want;	/* NULL: not found */
} find_cases[] = {
	{ "example.com", 0, "example.com" },
	{ "EXAMPLE.Com", 0, "example.com" },
	{ "mail.example.com", 0, NULL },
	{ "mail.example.com", 1, "example.com" },
	{ "a.b.c.example.com", 1, "example.com" },
	{ "example.net", 1, NULL },		/* parents only, not children */
	{ "x.sub.example.net", 1, "sub.example.net" },
	{ "empty.org", 0, "empty.org" },
	{ "com", 1, NULL },
	{ "", 1, NULL },
	{ "notexample.com", 1, NULL },
	{ ".example.com", 1, "example.com" },
};

START_TEST(test_snapshot_find)
{
	const struct find_case *tc = &find_cases[_i];
	struct snapshot *s = fixture(NULL);
	struct snap_domain *d;

	d = snapshot_find(s, tc->from, tc->subdomains);
	if (tc->want == NULL)
		ck_assert_msg(d == NULL, "%s found %s", tc->from, d->name);
	else {
		ck_assert_msg(d != NULL, "%s not found", tc->from);
		ck_assert_str_eq(d->name, tc->want);
	}
	snap_domain_unref(d);
	snapshot_unref(s);
}
END_TEST

START_TEST(test_snapshot_roundrobin)
{
	struct snapshot *s = fixture(NULL);
	struct snap_domain *d = snapshot_find(s, "example.com", 0), *e;
	const char *seq = "abc";
	int count[3] = { 0, 0, 0 }, i;
	const struct snap_key *k;

	for (i = 0; i < 3000; i++) {
		k = snapshot_next_key(d, DKIM_ALG_RSA_SHA256);
		ck_assert_int_eq(k->selector[0], seq[i % 3]);
		count[k->selector[0] - 'a']++;
	}
	ck_assert_int_eq(count[0], 1000);
	ck_assert_int_eq(count[1], 1000);
	ck_assert_int_eq(count[2], 1000);
	k = snapshot_next_key(d, DKIM_ALG_ED25519_SHA256);
	ck_assert_str_eq(k->selector, "e");
	e = snapshot_find(s, "empty.org", 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_null(snapshot_next_key(e, DKIM_ALG_RSA_SHA256));
	snap_domain_unref(e);
	snap_domain_unref(d);
	snapshot_unref(s);
}
END_TEST

#define RR_THREADS	8
#define RR_PER		30000

struct rr_arg {
	struct snap_domain *d;
	int count[3];
};

/* rr_worker - one signing thread hammering the round-robin */
static void *
rr_worker(void *p)
{
	struct rr_arg *a = p;
	const struct snap_key *k;
	int i;

	for (i = 0; i < RR_PER; i++) {
		k = snapshot_next_key(a->d, DKIM_ALG_RSA_SHA256);
		a->count[k->selector[0] - 'a']++;
	}
	return NULL;
}

START_TEST(test_snapshot_roundrobin_threads)
{
	struct snapshot *s = fixture(NULL);
	struct rr_arg arg[RR_THREADS];
	pthread_t t[RR_THREADS];
	int i, j, total[3] = { 0, 0, 0 };

	for (i = 0; i < RR_THREADS; i++) {
		memset(&arg[i], 0, sizeof(arg[i]));
		arg[i].d = snapshot_find(s, "example.com", 0);
		ck_assert_int_eq(pthread_create(&t[i], NULL, rr_worker,
		    &arg[i]), 0);
	}
	for (i = 0; i < RR_THREADS; i++) {
		pthread_join(t[i], NULL);
		for (j = 0; j < 3; j++)
			total[j] += arg[i].count[j];
		snap_domain_unref(arg[i].d);
	}
	for (j = 0; j < 3; j++)
		ck_assert_int_eq(total[j], RR_THREADS * RR_PER / 3);
	snapshot_unref(s);
}
END_TEST

static const struct plan_case {
	const char *domain;
	const char *algs;	/* Algorithms, NULL: all */
	long long ttl;
	size_t n;
	const char *sel0, *sel1;
	time_t x0, x1;
	const char *why;
} plan_cases[] = {
	{ "example.com", NULL, 0, 2, "a", "e", 0, 0, NULL },
	{ "example.com", NULL, 3600, 2, "a", "e", 4600, 3000, NULL },
	{ "example.com", "ed25519", 0, 1, "e", NULL, 0, 0, NULL },
	{ "example.com", "rsa", 0, 1, "a", NULL, 0, 0, NULL },
	{ "sub.example.net", "rsa", 0, 0, NULL, NULL, 0, 0,
	    "no active key of the configured algorithms" },
	{ "sub.example.net", NULL, 0, 1, "s1", NULL, 0, 0, NULL },
	{ "empty.org", NULL, 0, 0, NULL, NULL, 0, 0,
	    "domain empty.org has no active key" },
	{ "broken.test", NULL, 0, 0, NULL, NULL, 0, 0,
	    "domain broken.test unusable: keys/x.pem: mode 0644" },
};

START_TEST(test_decide_plan)
{
	const struct plan_case *tc = &plan_cases[_i];
	struct kt_conf *c = conf_defaults();
	struct dkim_sign out[SNAP_NALG];
	struct snap_domain *d;
	struct snapshot *s;
	char why[256] = "";
	size_t n;

	c->signature_ttl = tc->ttl;
	if (tc->algs != NULL) {
		c->algorithms = xcalloc(1, sizeof(char *));
		c->algorithms[0] = xstrdup(tc->algs);
		c->nalgorithms = 1;
	}
	s = fixture(c);
	d = snapshot_find(s, tc->domain, 0);
	ck_assert_ptr_nonnull(d);
	n = decide_plan(s, d, 1000, out, why, sizeof(why));
	ck_assert_uint_eq(n, tc->n);
	if (n > 0) {
		ck_assert_str_eq(out[0].selector, tc->sel0);
		ck_assert_str_eq(out[0].domain, tc->domain);
		ck_assert_int_eq(out[0].t, 1000);
		ck_assert_int_eq(out[0].x, tc->x0);
		ck_assert_ptr_eq(out[0].hdrs, s->hdrs);
	}
	if (n > 1) {
		ck_assert_int_eq(out[0].alg, DKIM_ALG_RSA_SHA256);
		ck_assert_int_eq(out[1].alg, DKIM_ALG_ED25519_SHA256);
		ck_assert_str_eq(out[1].selector, tc->sel1);
		ck_assert_int_eq(out[1].x, tc->x1);
	}
	if (tc->why != NULL)
		ck_assert_msg(strstr(why, tc->why) != NULL, "\"%s\"", why);
	snap_domain_unref(d);
	snapshot_unref(s);
}
END_TEST

/* rm_entry - nftw callback of rm_tree */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* rm_tree - the test keystore goes away */
static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ks_dkey - a new Ed25519 key of domain, made active unless pending */
static void
ks_dkey(struct store *st, const char *domain, const char *sel, int active,
    time_t now)
{
	struct store_change c = { sel, STORE_PENDING, STORE_ACTIVE, "test" };
	char err[512], out[64];

	ck_assert_msg(store_key_new(st, domain, STORE_ALG_ED25519, 0,
	    sel, now, "test", out, sizeof(out), err, sizeof(err)) == 0,
	    "%s", err);
	if (active)
		ck_assert_msg(store_apply(st, domain, &c, 1, now,
		    STORE_FORCE, err, sizeof(err)) == 0, "%s", err);
}

/*
 * ks_swap - the rotation's swap in two writes: a new key (pending), then
 * in one state write the new key active and the old one retiring
 */
static void
ks_swap(struct store *st, const char *domain, const char *old,
    const char *new, time_t now)
{
	struct store_change c[2] = {
		{ new, STORE_PENDING, STORE_ACTIVE, "test: swap" },
		{ old, STORE_ACTIVE, STORE_RETIRING, "test: swap" },
	};
	char err[512];

	ks_dkey(st, domain, new, 0, now);
	ck_assert_msg(store_apply(st, domain, c, 2, now, STORE_FORCE, err,
	    sizeof(err)) == 0, "%s: %s", domain, err);
}

/* ks_key - a new Ed25519 key of example.com */
static void
ks_key(struct store *st, const char *sel, int active, time_t now)
{
	ks_dkey(st, "example.com", sel, active, now);
}

/* ks_new - an empty keystore in dir (a mkdtemp template), opened */
static struct store *
ks_new(char *dir)
{
	struct store *st;
	char err[1024];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(store_init(dir, err, sizeof(err)) == 0, "%s", err);
	st = store_open(dir, 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	return st;
}

/* ks_domain - an Ed25519 domain of up to 3 active keys */
static void
ks_domain(struct store *st, const char *domain, time_t now)
{
	struct store_policy p;
	char err[1024];

	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	p.active_keys = 3;
	ck_assert_msg(store_domain_add(st, domain, &p, now, err,
	    sizeof(err)) == 0, "%s: %s", domain, err);
}

/* ks_conf - the defaults, on the keystore in dir */
static struct kt_conf *
ks_conf(const char *dir, int keycache)
{
	struct kt_conf *c = conf_defaults();

	free(c->keystore);
	c->keystore = xstrdup(dir);
	if (keycache > 0)
		c->key_cache = keycache;
	return c;
}

/* dom_sels - a domain's ed25519 selectors, space-separated */
static void
dom_sels(const struct snap_domain *d, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < d->nkeys[DKIM_ALG_ED25519_SHA256]; i++)
		off += snprintf(buf + off, len - off, "%s%s", i > 0 ? " " : "",
		    d->keys[DKIM_ALG_ED25519_SHA256][i].selector);
}

/* ks_selectors - the snapshot's ed25519 selectors of example.com */
static void
ks_selectors(struct snapshot *s, char *buf, size_t len)
{
	struct snap_domain *d = snapshot_find(s, "example.com", 0);

	ck_assert_ptr_nonnull(d);
	dom_sels(d, buf, len);
	snap_domain_unref(d);
}

/* ks_pkey - the keystore's private key of a selector, a new reference */
static EVP_PKEY *
ks_pkey(struct store *st, const char *domain, const char *sel)
{
	struct store_domain *sd;
	const struct store_key *k;
	char err[1024];
	EVP_PKEY *pk;

	sd = store_domain_load(st, domain, STORE_KEYS_ALL, err, sizeof(err));
	ck_assert_msg(sd != NULL, "%s", err);
	k = store_domain_key(sd, sel);
	ck_assert_msg(k != NULL && k->pkey != NULL, "%s: no key %s", domain,
	    sel);
	pk = k->pkey;
	EVP_PKEY_up_ref(pk);
	store_domain_free(sd);
	return pk;
}

/* sig_ok - key signs, and check (the same key pair) verifies it */
static int
sig_ok(EVP_PKEY *key, EVP_PKEY *check)
{
	static const unsigned char msg[] = "keyturn keycache test";
	unsigned char sig[256];
	size_t len = sizeof(sig);
	EVP_MD_CTX *c;
	int ok;

	c = EVP_MD_CTX_new();
	ok = EVP_DigestSignInit(c, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(c, sig, &len, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return 0;
	c = EVP_MD_CTX_new();
	ok = EVP_DigestVerifyInit(c, NULL, NULL, NULL, check) == 1 &&
	    EVP_DigestVerify(c, sig, len, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

/* engine_sign - the engine makes a DKIM-Signature with sg, naming it */
static void
engine_sign(const struct dkim_sign *sg)
{
	static const char from[] = " bob@example.com", body[] = "hi\r\n";
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	char err[256], want[128], *v = NULL;

	ck_assert_msg(dkim_msg_header(m, "From", from, strlen(from), err,
	    sizeof(err)) == DKIM_OK, "%s", err);
	dkim_msg_body(m, body, strlen(body));
	ck_assert_msg(dkim_msg_sign(m, sg, &v, err, sizeof(err)) == DKIM_OK,
	    "%s", err);
	snprintf(want, sizeof(want), "s=%s;", sg->selector);
	ck_assert_msg(strstr(v, want) != NULL, "%s", v);
	snprintf(want, sizeof(want), "d=%s;", sg->domain);
	ck_assert_msg(strstr(v, want) != NULL, "%s", v);
	free(v);
	dkim_msg_free(m);
}

/* key_sign - engine_sign with one key of a domain */
static void
key_sign(const struct snap_domain *d, const struct snap_key *k)
{
	struct dkim_sign sg;

	memset(&sg, 0, sizeof(sg));
	sg.alg = k->alg;
	sg.key = k->pkey;
	sg.domain = d->name;
	sg.selector = k->selector;
	sg.t = 1000;
	engine_sign(&sg);
}

/* msg_from - a message from bob at domain, nothing else said */
static void
msg_from(struct decide_msg *m, const char *domain)
{
	memset(m, 0, sizeof(*m));
	m->from_local = "bob";
	m->from_domain = domain;
}

/*
 * A message holds its domain while the cache entry is replaced by a
 * keystore change: it signs with the keys it was decided with, while
 * every lookup from then on, through any snapshot over the cache, gets
 * the new keys; the rotation carries on from where it was.
 */
START_TEST(test_snapshot_swap)
{
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], sels[64];
	struct snapshot *a, *b, *held, *cur;
	struct snap_domain *d, *d2;
	struct decide_msg m;
	struct decide_out o;
	struct keycache *kc;
	struct store *st = ks_new(dir), *ro;
	time_t now = time(NULL);
	EVP_PKEY *e1;

	ks_domain(st, "example.com", now);
	ks_key(st, "e1", 1, now);
	ks_key(st, "e2", 1, now);
	ro = store_open(dir, STORE_RDONLY, err, sizeof(err));
	ck_assert_msg(ro != NULL, "%s", err);
	kc = keycache_new(ro, 0);
	a = snapshot_new(conf_defaults(), NULL, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	snapshot_set_cache(a, kc);
	snapshot_seal(a);
	snapshot_install(a);

	held = snapshot_current();		/* a message in flight */
	ck_assert_ptr_eq(held, a);
	msg_from(&m, "example.com");
	decide_message(held, &m, now, &o);
	ck_assert_int_eq(o.verdict, DECIDE_SIGN);
	ck_assert_uint_eq(o.nsign, 1);
	ck_assert_str_eq(o.sign[0].selector, "e1");
	d = snapshot_find(held, "example.com", 0);
	ck_assert_ptr_eq(d, o.held[0]);
	ck_assert_str_eq(snapshot_next_key(d, DKIM_ALG_ED25519_SHA256)->
	    selector, "e2");

	/* the keystore swaps e1 out; the watcher tells the cache */
	ks_swap(st, "example.com", "e1", "e3", now);
	keycache_changed(kc, "example.com");
	d2 = snapshot_find(held, "example.com", 0);
	ck_assert_ptr_nonnull(d2);
	ck_assert_ptr_ne(d2, d);
	dom_sels(d2, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e2 e3");
	/* the rotation goes on where it was: two signatures made */
	ck_assert_uint_eq(atomic_load(&d2->next[DKIM_ALG_ED25519_SHA256]), 2);
	ck_assert_str_eq(snapshot_next_key(d2, DKIM_ALG_ED25519_SHA256)->
	    selector, "e2");

	/* a new snapshot over the same cache, installed */
	b = snapshot_new_same(a, NULL);
	snapshot_set_cache(b, keycache_ref(kc));
	snapshot_seal(b);
	snapshot_install(b);
	cur = snapshot_current();
	ck_assert_ptr_eq(cur, b);
	ck_assert_ptr_eq(cur->conf, held->conf);
	ks_selectors(cur, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e2 e3");
	ks_selectors(held, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e2 e3");

	/* the message signs with e1, the key it was decided with */
	engine_sign(&o.sign[0]);
	e1 = ks_pkey(st, "example.com", "e1");
	ck_assert(sig_ok(o.sign[0].key, e1));

	/* everything goes but the domains held: their keys still sign */
	snapshot_unref(held);			/* frees a */
	snapshot_unref(cur);
	snapshot_shutdown();			/* frees b, the cache, ro */
	ck_assert_ptr_null(snapshot_current());
	dom_sels(d, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e1 e2");
	ck_assert_ptr_eq(o.sign[0].key, d->keys[DKIM_ALG_ED25519_SHA256][0].
	    pkey);
	ck_assert(sig_ok(d->keys[DKIM_ALG_ED25519_SHA256][0].pkey, e1));
	key_sign(d, &d->keys[DKIM_ALG_ED25519_SHA256][0]);
	key_sign(d2, &d2->keys[DKIM_ALG_ED25519_SHA256][1]);
	EVP_PKEY_free(e1);
	decide_release(&o);
	snap_domain_unref(d);
	snap_domain_unref(d2);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/*
 * The loader reads nothing at build; the journal brings a write of a
 * cached domain at the next poll, its new key signs and the rotation goes
 * on; a state file changed behind the journal's back is read again with
 * a new configuration, and one that does not load leaves the domain
 * unusable (its old keys do not sign), also at start-up.
 */
START_TEST(test_loader)
{
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], sels[64];
	struct kt_conf *c;
	struct snapshot *s1, *s2, *s3;
	struct loader *l = loader_new();
	struct store *st = ks_new(dir);
	struct snap_domain *d, *kept;
	struct keycache_stats ks;
	struct decide_msg m;
	struct decide_out o;
	time_t now = time(NULL);
	struct store_policy p;
	FILE *fp;
	char *path;

	ks_domain(st, "example.com", now);
	ks_key(st, "e1", 1, now);
	ks_key(st, "e2", 1, now);
	ks_key(st, "e3", 0, now);		/* pending: never signs */
	c = ks_conf(dir, 0);

	s1 = loader_build(l, c, NULL, NULL, err, sizeof(err));
	ck_assert_msg(s1 != NULL, "%s", err);
	ck_assert_str_eq(err, "");
	keycache_stats(s1->kc, &ks);
	ck_assert_uint_eq(ks.entries, 0);		/* nothing read yet */
	ck_assert_uint_eq(ks.max, CONF_KEY_CACHE);
	ks_selectors(s1, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e1 e2");
	d = snapshot_find(s1, "example.com", 0);
	store_policy_default(&p);
	ck_assert_int_eq(d->keys[DKIM_ALG_ED25519_SHA256][0].revoke_at,
	    now + p.rotate_after + p.retire_after);
	ck_assert_uint_eq(d->nkeys[DKIM_ALG_RSA_SHA256], 0);
	ck_assert_int_eq(loader_poll(l), 0);
	ck_assert_uint_eq(loader_reread(l), 0);
	ck_assert_str_eq(snapshot_next_key(d, DKIM_ALG_ED25519_SHA256)->
	    selector, "e1");
	snap_domain_unref(d);

	/* a write by the keystore's owner (two: new key, activated) */
	ks_key(st, "e4", 1, now);
	ck_assert_int_eq(loader_poll(l), 2);
	ck_assert_uint_ge(loader_reread(l), 1);
	ck_assert_uint_eq(loader_generation(l), store_generation(st));
	ck_assert_int_eq(loader_poll(l), 0);
	/* the snapshot built before sees it: it reads through the cache */
	ks_selectors(s1, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e1 e2 e4");
	s2 = loader_build(l, NULL, NULL, s1, err, sizeof(err));
	ck_assert_msg(s2 != NULL, "%s", err);
	ck_assert_ptr_eq(s2->conf, s1->conf);
	ck_assert_ptr_eq(s2->kc, s1->kc);
	ck_assert_uint_eq(loader_reread(l), 0);
	ks_selectors(s2, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e1 e2 e4");
	/* the rotation goes on where it was, and the new key signs */
	kept = snapshot_find(s2, "example.com", 0);
	ck_assert_str_eq(snapshot_next_key(kept, DKIM_ALG_ED25519_SHA256)->
	    selector, "e2");
	ck_assert_str_eq(snapshot_next_key(kept, DKIM_ALG_ED25519_SHA256)->
	    selector, "e4");
	key_sign(kept, &kept->keys[DKIM_ALG_ED25519_SHA256][2]);
	snapshot_unref(s1);

	/*
	 * a state file that changes with no keystore write (no journal
	 * line) and does not load: a new configuration checks the cached
	 * domains' files, and the domain is unusable (file:line), without
	 * keys; the old state's keys do not sign
	 */
	path = xasprintf("%s/example.com/state", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "a"));
	fputs("garbage\n", fp);
	fclose(fp);
	ck_assert_int_eq(loader_poll(l), 0);
	s1 = loader_build(l, ks_conf(dir, 0), NULL, s2, err, sizeof(err));
	ck_assert_msg(s1 != NULL, "%s", err);
	ck_assert_uint_eq(loader_reread(l), 1);
	d = snapshot_find(s1, "example.com", 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(d->error != NULL && strstr(d->error,
	    "example.com/state:") != NULL, "%s", d->error != NULL ? d->error :
	    "no error");
	ck_assert_uint_eq(d->nkeys[DKIM_ALG_ED25519_SHA256], 0);
	ck_assert_ptr_null(snapshot_next_key(d, DKIM_ALG_ED25519_SHA256));
	snap_domain_unref(d);
	msg_from(&m, "example.com");
	decide_message(s1, &m, now, &o);
	ck_assert_int_eq(o.verdict, DECIDE_TEMPFAIL);
	ck_assert_int_eq(o.reason, DR_UNUSABLE);
	ck_assert_msg(strstr(o.why, "example.com/state:") != NULL, "%s",
	    o.why);
	decide_release(&o);
	snapshot_unref(s1);
	loader_free(l);

	/* at start-up: the broken domain is there, marked, with its reason */
	l = loader_new();
	s3 = loader_build(l, ks_conf(dir, 0), NULL, NULL, err, sizeof(err));
	ck_assert_msg(s3 != NULL, "%s", err);
	d = snapshot_find(s3, "example.com", 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(d->error != NULL && strstr(d->error, "state:") != NULL,
	    "%s", d->error != NULL ? d->error : "no error");
	snap_domain_unref(d);
	snapshot_unref(s3);
	loader_free(l);
	store_close(st);
	rm_tree(dir);

	/* the keys a message holds outlive the loader and the files */
	snapshot_unref(s2);
	ck_assert_int_eq(EVP_PKEY_get_id(kept->keys[DKIM_ALG_ED25519_SHA256][2].
	    pkey), EVP_PKEY_ED25519);
	key_sign(kept, &kept->keys[DKIM_ALG_ED25519_SHA256][2]);
	snap_domain_unref(kept);
	free(path);
}
END_TEST

/* ks_nkeys - active Ed25519 keys of a domain in a snapshot; -1: marked */
static int
ks_nkeys(const struct snapshot *s, const char *domain)
{
	struct snap_domain *d = snapshot_find(s, domain, 0);
	int n;

	ck_assert_msg(d != NULL, "%s not in the snapshot", domain);
	n = d->error != NULL ? -1 : (int)d->nkeys[DKIM_ALG_ED25519_SHA256];
	snap_domain_unref(d);
	return n;
}

/* ks_decide - the decision for a message from bob at domain */
static enum decide_verdict
ks_decide(const struct snapshot *s, const char *domain, char *why,
    size_t whylen, enum decide_reason *reason)
{
	struct decide_msg m;
	struct decide_out o;
	enum decide_verdict v;

	msg_from(&m, domain);
	decide_message(s, &m, time(NULL), &o);
	snprintf(why, whylen, "%s", o.why);
	if (reason != NULL)
		*reason = o.reason;
	if (o.verdict == DECIDE_SIGN)
		engine_sign(&o.sign[0]);
	v = o.verdict;
	decide_release(&o);
	return v;
}

/*
 * One domain that does not load holds no other back; a write costs a read
 * only when its domain is cached; a domain whose key file becomes
 * unreadable is unusable once its state changes, and is read again (and
 * signs) a few seconds after it is fixed, with no keystore write; the
 * round-robin survives a re-read.
 */
START_TEST(test_loader_isolate)
{
	static const char *const sel3[] = { "a1", "a2", "a3" };
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], why[512], *bkey;
	struct snapshot *s1;
	unsigned rr;
	struct loader *l = loader_new();
	struct store *st = ks_new(dir);
	struct snap_domain *old, *now_d;
	struct keycache_stats k0, k1;
	enum decide_reason reason;
	time_t now = time(NULL);

	ks_domain(st, "a.test", now);
	ks_domain(st, "b.test", now);
	ks_domain(st, "c.test", now);
	ks_dkey(st, "a.test", "a1", 1, now);
	ks_dkey(st, "b.test", "b1", 1, now);
	ks_dkey(st, "c.test", "c1", 1, now);

	s1 = loader_build(l, ks_conf(dir, 0), NULL, NULL, err, sizeof(err));
	ck_assert_msg(s1 != NULL && err[0] == '\0', "%s", err);
	ck_assert_int_eq(ks_nkeys(s1, "a.test"), 1);
	ck_assert_int_eq(ks_nkeys(s1, "b.test"), 1);

	/* c.test is not cached: its writes cost no read */
	keycache_stats(s1->kc, &k0);
	ck_assert_uint_eq(k0.entries, 2);
	ks_dkey(st, "c.test", "c2", 1, now);
	ck_assert_int_eq(loader_poll(l), 2);
	ck_assert_uint_eq(loader_reread(l), 0);
	keycache_stats(s1->kc, &k1);
	ck_assert_uint_eq(k1.reloads, k0.reloads);
	ck_assert_uint_eq(k1.misses, k0.misses);
	/* ... and its first lookup reads what the keystore has now */
	ck_assert_int_eq(ks_nkeys(s1, "c.test"), 2);
	keycache_stats(s1->kc, &k1);
	ck_assert_uint_eq(k1.misses, k0.misses + 1);

	/* b.test's key file goes bad, its state does not change: kept */
	bkey = xasprintf("%s/b.test/keys/b1.pem", dir);
	ck_assert_int_eq(chmod(bkey, 0640), 0);
	ks_dkey(st, "a.test", "a2", 1, now);
	ck_assert_int_eq(loader_poll(l), 2);
	ck_assert_uint_ge(loader_reread(l), 1);
	ck_assert_int_eq(ks_nkeys(s1, "a.test"), 2);
	ck_assert_int_eq(ks_nkeys(s1, "b.test"), 1);
	ck_assert_int_eq(ks_decide(s1, "b.test", why, sizeof(why), NULL),
	    DECIDE_SIGN);

	/* b.test's state changes and it cannot load: no keys, a.test moves */
	ks_dkey(st, "b.test", "b2", 0, now);
	ks_dkey(st, "a.test", "a3", 1, now);
	ck_assert_int_eq(loader_poll(l), 3);
	ck_assert_int_eq(ks_nkeys(s1, "b.test"), -1);
	ck_assert_int_eq(ks_nkeys(s1, "a.test"), 3);
	ck_assert_int_eq(ks_decide(s1, "b.test", why, sizeof(why), &reason),
	    DECIDE_TEMPFAIL);
	ck_assert_int_eq(reason, DR_UNUSABLE);
	ck_assert_msg(strstr(why, "b1.pem") != NULL, "%s", why);
	ck_assert_int_eq(ks_decide(s1, "a.test", why, sizeof(why), NULL),
	    DECIDE_SIGN);
	ck_assert_int_eq(ks_decide(s1, "c.test", why, sizeof(why), NULL),
	    DECIDE_SIGN);

	/* fixed, no keystore write: read again after KEYCACHE_RETRY_S */
	ck_assert_int_eq(chmod(bkey, 0600), 0);
	sleep(KEYCACHE_RETRY_S);
	ck_assert_int_eq(loader_poll(l), 0);
	ck_assert_int_eq(ks_nkeys(s1, "b.test"), 1);
	ck_assert_int_eq(ks_decide(s1, "b.test", why, sizeof(why), NULL),
	    DECIDE_SIGN);

	/* a re-read keeps the round-robin where it was */
	old = snapshot_find(s1, "a.test", 0);
	ck_assert_ptr_nonnull(old);
	ck_assert_uint_eq(old->nkeys[DKIM_ALG_ED25519_SHA256], 3);
	rr = atomic_load(&old->next[DKIM_ALG_ED25519_SHA256]);
	ck_assert_str_eq(snapshot_next_key(old, DKIM_ALG_ED25519_SHA256)->
	    selector, sel3[rr % 3]);
	ks_dkey(st, "a.test", "a4", 0, now);	/* pending: no change */
	ck_assert_int_eq(loader_poll(l), 1);
	ck_assert_uint_eq(loader_reread(l), 1);
	now_d = snapshot_find(s1, "a.test", 0);
	ck_assert_ptr_ne(now_d, old);
	ck_assert_uint_eq(atomic_load(&now_d->next[DKIM_ALG_ED25519_SHA256]),
	    rr + 1);
	ck_assert_str_eq(snapshot_next_key(now_d, DKIM_ALG_ED25519_SHA256)->
	    selector, sel3[(rr + 1) % 3]);
	ck_assert_str_eq(snapshot_next_key(now_d, DKIM_ALG_ED25519_SHA256)->
	    selector, sel3[(rr + 2) % 3]);
	snap_domain_unref(old);
	snap_domain_unref(now_d);

	snapshot_unref(s1);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
	free(bkey);
}
END_TEST

/* gen_set - the generation file says g (as a writer that kept no journal) */
static void
gen_set(const char *dir, uint64_t g)
{
	char *path = xasprintf("%s/generation", dir), buf[32];
	int fd;

	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)g);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
	free(path);
}

/*
 * A journal that cannot say (a write without its line): the loader says
 * LOADER_LOST and checks every cached domain's files, reading again those
 * that changed; then it follows the journal again.
 */
START_TEST(test_loader_lost)
{
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024];
	struct snapshot *s;
	struct loader *l = loader_new();
	struct store *st = ks_new(dir);
	time_t now = time(NULL);

	ks_domain(st, "a.test", now);
	ks_domain(st, "b.test", now);
	ks_dkey(st, "a.test", "a1", 1, now);
	ks_dkey(st, "b.test", "b1", 1, now);
	s = loader_build(l, ks_conf(dir, 0), NULL, NULL, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(ks_nkeys(s, "a.test"), 1);
	ck_assert_int_eq(ks_nkeys(s, "b.test"), 1);

	/* the generation moves with no line: nothing changed on disk */
	gen_set(dir, store_generation(st) + 1);
	ck_assert_int_eq(loader_poll(l), LOADER_LOST);
	ck_assert_uint_eq(loader_reread(l), 0);
	ck_assert_uint_eq(loader_generation(l), store_generation(st));

	/* a line missing, then real writes: found by their files */
	gen_set(dir, store_generation(st) + 1);
	ks_dkey(st, "a.test", "a2", 1, now);
	ck_assert_int_eq(loader_poll(l), LOADER_LOST);
	ck_assert_uint_eq(loader_reread(l), 1);
	ck_assert_int_eq(ks_nkeys(s, "a.test"), 2);
	ck_assert_int_eq(ks_nkeys(s, "b.test"), 1);

	/* a real write, then a line missing after it */
	ks_dkey(st, "b.test", "b2", 1, now);
	gen_set(dir, store_generation(st) + 1);
	ck_assert_int_eq(loader_poll(l), LOADER_LOST);
	ck_assert_int_eq(ks_nkeys(s, "b.test"), 2);

	/* and the journal is followed again */
	ks_dkey(st, "b.test", "b3", 1, now);
	ck_assert_int_eq(loader_poll(l), 2);
	ck_assert_uint_ge(loader_reread(l), 1);
	ck_assert_int_eq(ks_nkeys(s, "b.test"), 3);
	ck_assert_int_eq(loader_poll(l), 0);

	snapshot_unref(s);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/*
 * The keycache over a real keystore of KC_NDOM domains, each with one
 * active Ed25519 key k0 (at most one active: a swap shows as a change of
 * that one selector), KeyCache KC_MAX. The keystore is made once per
 * run (kc_tmpl) and copied for each test.
 */
#define KC_NDOM		30
#define KC_MAX		5

static char kc_tmpl[64];

/* kc_name - the name of domain i */
static const char *
kc_name(unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "d%02u.test", i);
	return buf;
}

/* kc_tmpl_make - the template keystore (an unchecked fixture) */
static void
kc_tmpl_make(void)
{
	struct store_policy p;
	struct store *st;
	char err[1024], name[32];
	time_t now = time(NULL);
	unsigned i;

	snprintf(kc_tmpl, sizeof(kc_tmpl), "/tmp/check_milter.XXXXXX");
	st = ks_new(kc_tmpl);
	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	for (i = 0; i < KC_NDOM; i++) {
		kc_name(i, name, sizeof(name));
		ck_assert_msg(store_domain_add(st, name, &p, now, err,
		    sizeof(err)) == 0, "%s", err);
		ks_dkey(st, name, "k0", 1, now);
	}
	store_close(st);
}

static void
kc_tmpl_rm(void)
{
	rm_tree(kc_tmpl);
}

/* kc_copy - a copy of the template in dir (a mkdtemp template), opened */
static struct store *
kc_copy(char *dir)
{
	char cmd[256], err[1024];
	struct store *st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s/", kc_tmpl, dir);
	ck_assert_int_eq(system(cmd), 0);
	st = store_open(dir, 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	return st;
}

/* kc_open - a cache of KC_MAX over its own read-only handle on dir */
static struct keycache *
kc_open(const char *dir)
{
	char err[1024];
	struct store *ro = store_open(dir, STORE_RDONLY, err, sizeof(err));

	ck_assert_msg(ro != NULL, "%s", err);
	return keycache_new(ro, KC_MAX);
}

/*
 * kc_check - d is domain i with the one active key sel, the keystore's
 * key of that selector, and it signs
 */
static void
kc_check(struct store *st, const struct snap_domain *d, const char *name,
    const char *sel)
{
	const struct snap_key *k;
	EVP_PKEY *pk;

	ck_assert_msg(d != NULL, "%s not found", name);
	ck_assert_str_eq(d->name, name);
	ck_assert_msg(d->error == NULL, "%s: %s", name, d->error);
	ck_assert_uint_eq(d->nkeys[DKIM_ALG_ED25519_SHA256], 1);
	ck_assert_uint_eq(d->nkeys[DKIM_ALG_RSA_SHA256], 0);
	k = &d->keys[DKIM_ALG_ED25519_SHA256][0];
	ck_assert_str_eq(k->selector, sel);
	pk = ks_pkey(st, name, sel);
	ck_assert_int_eq(EVP_PKEY_eq(k->pkey, pk), 1);
	ck_assert(sig_ok(k->pkey, pk));
	EVP_PKEY_free(pk);
	key_sign(d, k);
}

/* kc_get_check - keycache_get and kc_check, the reference dropped */
static void
kc_get_check(struct store *st, struct keycache *kc, unsigned i,
    const char *sel)
{
	struct snap_domain *d;
	char name[32];

	d = keycache_get(kc, kc_name(i, name, sizeof(name)));
	kc_check(st, d, name, sel);
	snap_domain_unref(d);
}

/* a domain is read on its first use, once; an absent one is cached too */
START_TEST(test_keycache_cold)
{
	char dir[] = "/tmp/check_milter.XXXXXX";
	struct store *st = kc_copy(dir);
	struct keycache *kc = kc_open(dir);
	struct keycache_stats ks;
	struct snap_domain *d, *d2;

	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.entries, 0);
	ck_assert_uint_eq(ks.max, KC_MAX);
	ck_assert_uint_eq(ks.misses, 0);
	d = keycache_get(kc, "d07.test");
	kc_check(st, d, "d07.test", "k0");
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.entries, 1);
	ck_assert_uint_eq(ks.misses, 1);
	ck_assert_uint_eq(ks.hits, 0);
	d2 = keycache_get(kc, "d07.test");
	ck_assert_ptr_eq(d2, d);
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.misses, 1);
	ck_assert_uint_eq(ks.hits, 1);
	snap_domain_unref(d2);
	snap_domain_unref(d);

	/* absent: NULL, and remembered so (no second read) */
	ck_assert_ptr_null(keycache_get(kc, "nowhere.test"));
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.entries, 2);
	ck_assert_uint_eq(ks.misses, 2);
	ck_assert_ptr_null(keycache_get(kc, "nowhere.test"));
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.misses, 2);
	ck_assert_uint_eq(ks.hits, 2);
	ck_assert_uint_eq(ks.evictions, 0);

	keycache_unref(kc);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/*
 * More domains than KeyCache: the least recently used leaves, the cache
 * stays at KeyCache, and a domain that left is read again when asked and
 * signs with the keystore's key.
 */
/*
 * The first messages of a domain, at once on several threads: each reads
 * it, but all get the one entry the first reader put in, so that its
 * round-robin counter is shared (no key signs twice in a row)
 */
struct kc_race {
	struct keycache		*kc;
	pthread_barrier_t	*go;
	struct snap_domain	*got;
};

static void *
kc_race_get(void *arg)
{
	struct kc_race *r = arg;

	pthread_barrier_wait(r->go);
	r->got = keycache_get(r->kc, "d11.test");
	return NULL;
}

START_TEST(test_keycache_first_race)
{
	char dir[] = "/tmp/check_milter.XXXXXX";
	struct store *st = kc_copy(dir);
	struct kc_race r[8];
	pthread_barrier_t go;
	pthread_t t[8];
	struct snap_domain *d;
	int round, i;

	for (round = 0; round < 20; round++) {
		struct keycache *kc = kc_open(dir);

		pthread_barrier_init(&go, NULL, 8);
		for (i = 0; i < 8; i++) {
			r[i].kc = kc;
			r[i].go = &go;
			ck_assert_int_eq(pthread_create(&t[i], NULL,
			    kc_race_get, &r[i]), 0);
		}
		for (i = 0; i < 8; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		d = keycache_get(kc, "d11.test");
		for (i = 0; i < 8; i++) {
			ck_assert_msg(r[i].got == d, "round %d: thread %d got "
			    "an entry of its own", round, i);
			snap_domain_unref(r[i].got);
		}
		snap_domain_unref(d);
		keycache_unref(kc);
	}
	store_close(st);
	rm_tree(dir);
}
END_TEST

START_TEST(test_keycache_lru)
{
	char dir[] = "/tmp/check_milter.XXXXXX";
	struct store *st = kc_copy(dir);
	struct keycache *kc = kc_open(dir);
	struct keycache_stats ks;
	unsigned i;

	for (i = 0; i < KC_MAX; i++)
		kc_get_check(st, kc, i, "k0");
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.entries, KC_MAX);
	ck_assert_uint_eq(ks.evictions, 0);
	kc_get_check(st, kc, 0, "k0");		/* d00 used again */
	kc_get_check(st, kc, KC_MAX, "k0");	/* d05 in, d01 out */
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.entries, KC_MAX);
	ck_assert_uint_eq(ks.evictions, 1);
	ck_assert_uint_eq(ks.misses, KC_MAX + 1);
	kc_get_check(st, kc, 0, "k0");		/* still there */
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.misses, KC_MAX + 1);
	kc_get_check(st, kc, 1, "k0");		/* read again */
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.misses, KC_MAX + 2);
	ck_assert_uint_eq(ks.evictions, 2);

	/* every domain, twice over: never more than KeyCache */
	for (i = 0; i < 2 * KC_NDOM; i++) {
		kc_get_check(st, kc, i % KC_NDOM, "k0");
		keycache_stats(kc, &ks);
		ck_assert_uint_le(ks.entries, KC_MAX);
	}
	ck_assert_uint_eq(ks.entries, KC_MAX);
	ck_assert_uint_eq(ks.misses + ks.hits, KC_MAX + 4 + 2 * KC_NDOM);
	ck_assert_uint_eq(ks.evictions, ks.misses - KC_MAX);
	keycache_unref(kc);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/* a reference held across its eviction, and the cache's end, stays whole */
START_TEST(test_keycache_held)
{
	char dir[] = "/tmp/check_milter.XXXXXX";
	struct store *st = kc_copy(dir);
	struct keycache *kc = kc_open(dir);
	struct keycache_stats ks;
	struct snap_domain *h;
	EVP_PKEY *pk;
	unsigned i;

	h = keycache_get(kc, "d00.test");
	kc_check(st, h, "d00.test", "k0");
	for (i = 1; i < KC_NDOM; i++)
		kc_get_check(st, kc, i, "k0");
	keycache_stats(kc, &ks);
	ck_assert_uint_eq(ks.evictions, KC_NDOM - KC_MAX);
	ck_assert_uint_eq(ks.entries, KC_MAX);
	/* evicted: its keys are the message's now */
	pk = ks_pkey(st, "d00.test", "k0");
	ck_assert_int_eq(EVP_PKEY_get_bits(h->keys[DKIM_ALG_ED25519_SHA256][0].
	    pkey), EVP_PKEY_get_bits(pk));
	kc_check(st, h, "d00.test", "k0");
	/* a new lookup reads it again: another entry, the same key */
	kc_get_check(st, kc, 0, "k0");
	keycache_unref(kc);		/* the cache and its store go */
	ck_assert(sig_ok(h->keys[DKIM_ALG_ED25519_SHA256][0].pkey, pk));
	key_sign(h, &h->keys[DKIM_ALG_ED25519_SHA256][0]);
	EVP_PKEY_free(pk);
	snap_domain_unref(h);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/* kc_loader - a loader of KeyCache KC_MAX on dir, and its snapshot */
static struct snapshot *
kc_loader(const char *dir, struct loader **l)
{
	char err[1024];
	struct snapshot *s;

	*l = loader_new();
	s = loader_build(*l, ks_conf(dir, KC_MAX), NULL, NULL, err,
	    sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_uint_eq(keycache_max(s->kc), KC_MAX);
	return s;
}

/* kc_find_check - snapshot_find and kc_check */
static void
kc_find_check(struct store *st, const struct snapshot *s, unsigned i,
    const char *sel)
{
	struct snap_domain *d;
	char name[32];

	d = snapshot_find(s, kc_name(i, name, sizeof(name)), 0);
	kc_check(st, d, name, sel);
	snap_domain_unref(d);
}

/*
 * A removed domain (cached or not) is not found after the poll: its mail
 * passes unsigned; a message that held it still signs; added again, it
 * is found with its new key.
 */
START_TEST(test_keycache_removed)
{
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], why[512];
	struct store *st = kc_copy(dir);
	struct loader *l;
	struct snapshot *s = kc_loader(dir, &l);
	struct snap_domain *h;
	enum decide_reason reason;
	struct store_policy p;
	time_t now = time(NULL);

	h = snapshot_find(s, "d03.test", 0);
	kc_check(st, h, "d03.test", "k0");
	kc_find_check(st, s, 4, "k0");
	ck_assert_msg(store_domain_remove(st, "d03.test", 1, now, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(store_domain_remove(st, "d20.test", 1, now, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(loader_poll(l), 2);
	ck_assert_ptr_null(snapshot_find(s, "d03.test", 0));
	ck_assert_ptr_null(snapshot_find(s, "d20.test", 0));
	ck_assert_int_eq(ks_decide(s, "d03.test", why, sizeof(why), &reason),
	    DECIDE_PASS);
	ck_assert_int_eq(reason, DR_UNKNOWN);
	kc_find_check(st, s, 4, "k0");
	/* the message that held it */
	ck_assert_str_eq(h->name, "d03.test");
	key_sign(h, &h->keys[DKIM_ALG_ED25519_SHA256][0]);
	snap_domain_unref(h);

	/* back, with a new key (its old selector stays taken) */
	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	ck_assert_msg(store_domain_add(st, "d03.test", &p, now, err,
	    sizeof(err)) == 0, "%s", err);
	ks_dkey(st, "d03.test", "k1", 1, now);
	ck_assert_int_eq(loader_poll(l), 3);
	kc_find_check(st, s, 3, "k1");
	ck_assert_ptr_null(snapshot_find(s, "d20.test", 0));

	snapshot_unref(s);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/* a domain the keystore does not have is cached as absent until added */
START_TEST(test_keycache_absent)
{
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], why[512];
	struct store *st = kc_copy(dir);
	struct loader *l;
	struct snapshot *s = kc_loader(dir, &l);
	struct keycache_stats k0, k1;
	struct store_policy p;
	struct snap_domain *d;
	time_t now = time(NULL);

	ck_assert_ptr_null(snapshot_find(s, "new.test", 0));
	keycache_stats(s->kc, &k0);
	ck_assert_uint_eq(k0.entries, 1);
	ck_assert_uint_eq(k0.misses, 1);
	ck_assert_ptr_null(snapshot_find(s, "new.test", 0));
	ck_assert_int_eq(ks_decide(s, "new.test", why, sizeof(why), NULL),
	    DECIDE_PASS);
	keycache_stats(s->kc, &k1);
	ck_assert_uint_eq(k1.misses, k0.misses);	/* not read again */
	ck_assert_uint_eq(k1.hits, k0.hits + 2);

	/* added: present after the poll, first without a key */
	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	ck_assert_msg(store_domain_add(st, "new.test", &p, now, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(loader_poll(l), 1);
	d = snapshot_find(s, "new.test", 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_null(d->error);
	ck_assert_uint_eq(d->nkeys[DKIM_ALG_ED25519_SHA256], 0);
	snap_domain_unref(d);
	ck_assert_int_eq(ks_decide(s, "new.test", why, sizeof(why), NULL),
	    DECIDE_TEMPFAIL);
	ck_assert_msg(strstr(why, "no active key") != NULL, "%s", why);
	ks_dkey(st, "new.test", "n1", 1, now);
	ck_assert_int_eq(loader_poll(l), 2);
	d = snapshot_find(s, "new.test", 0);
	kc_check(st, d, "new.test", "n1");
	snap_domain_unref(d);
	ck_assert_int_eq(ks_decide(s, "new.test", why, sizeof(why), NULL),
	    DECIDE_SIGN);

	snapshot_unref(s);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/*
 * The keystore's own files are no domains: a From domain named like one
 * (or, with SubDomains, under one) is not in the keystore, its mail
 * passes unsigned.
 */
START_TEST(test_keycache_own_files)
{
	static const char *const own[] = { "keyturn.keystore", "lock",
	    "generation", "journal" };
	char dir[] = "/tmp/check_milter.XXXXXX", why[512];
	struct store *st = kc_copy(dir);
	struct loader *l;
	struct snapshot *s = kc_loader(dir, &l);
	struct snap_domain *d;
	enum decide_reason reason;
	size_t i;

	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		d = snapshot_find(s, own[i], 1);
		ck_assert_msg(d == NULL, "%s found (%s)", own[i],
		    d->error != NULL ? d->error : "usable");
		ck_assert_int_eq(ks_decide(s, own[i], why, sizeof(why),
		    &reason), DECIDE_PASS);
		ck_assert_int_eq(reason, DR_UNKNOWN);
	}
	snapshot_unref(s);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/*
 * Write a swap, poll, and from then on no lookup, through the snapshot
 * that was built before or one built after, gives the old key: for a
 * domain cached, one evicted and one never read; a message that held the
 * old entry still signs with the old key.
 */
START_TEST(test_keycache_swap_poll)
{
	static const unsigned target[] = { 12, 2, 25 };
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], name[32];
	struct store *st = kc_copy(dir);
	struct loader *l;
	struct snapshot *s1 = kc_loader(dir, &l), *s2, *s;
	struct snap_domain *h;
	time_t now = time(NULL);
	unsigned i, j, rep;
	EVP_PKEY *pk;

	for (i = 0; i < 15; i++)	/* d10-d14 cached, d00-d09 out */
		kc_find_check(st, s1, i, "k0");
	h = snapshot_find(s1, "d12.test", 0);
	for (j = 0; j < 3; j++)
		ks_swap(st, kc_name(target[j], name, sizeof(name)), "k0", "k1",
		    now);
	ck_assert_int_eq(loader_poll(l), 6);
	ck_assert_uint_eq(loader_reread(l), 2);	/* d12, twice */
	s2 = loader_build(l, NULL, NULL, s1, err, sizeof(err));
	ck_assert_msg(s2 != NULL, "%s", err);
	for (rep = 0; rep < 2; rep++)
		for (i = 0; i < KC_NDOM; i++) {
			s = (i + rep) % 2 ? s1 : s2;
			kc_find_check(st, s, i, i == 2 || i == 12 || i == 25 ?
			    "k1" : "k0");
		}
	kc_check(st, h, "d12.test", "k0");	/* retiring, still a key */
	pk = ks_pkey(st, "d12.test", "k0");
	ck_assert(sig_ok(h->keys[DKIM_ALG_ED25519_SHA256][0].pkey, pk));
	EVP_PKEY_free(pk);
	snap_domain_unref(h);
	snapshot_unref(s1);
	snapshot_unref(s2);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
}
END_TEST

/*
 * Concurrent lookups over more domains than KeyCache while the keystore
 * is written and polled. The writer swaps the first ST_WDOMS domains
 * ST_ROUNDS times each (k0 -> k1 -> ...; one active key at any time) and
 * says, before each new key exists, that it may be active from then on
 * (started) and, once the poll that saw its swap returned, that no older
 * key may be returned (floor). Each reader holds its previous domain
 * while it looks up the next, and checks what it gets.
 */
#define ST_READERS	4
#define ST_WDOMS	6
#define ST_ROUNDS	5
#define ST_MIN		300	/* lookups of each reader, at least */

struct st_shared {
	const struct snapshot *s;
	atomic_int	 done;
	atomic_uint	 started[ST_WDOMS];
	atomic_uint	 floor[ST_WDOMS];
	pthread_mutex_t	 lock;
	char		 bad[512];	/* the first thing wrong */
	unsigned long	 lookups;
};

/* st_bad - the first failure is kept for the main thread to report */
static void st_bad(struct st_shared *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
st_bad(struct st_shared *sh, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&sh->lock);
	if (sh->bad[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(sh->bad, sizeof(sh->bad), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&sh->lock);
}

/* st_check - one lookup's result; 0 when wrong (said in sh->bad) */
static int
st_check(struct st_shared *sh, const struct snap_domain *d, const char *name,
    unsigned i, unsigned lo)
{
	const char *sel;
	unsigned hi, n;
	char *end;

	hi = i < ST_WDOMS ? atomic_load(&sh->started[i]) : 0;
	if (d == NULL || d->error != NULL) {
		st_bad(sh, "%s: %s", name, d == NULL ? "not found" :
		    d->error);
		return 0;
	}
	if (d->nkeys[DKIM_ALG_ED25519_SHA256] != 1 ||
	    d->nkeys[DKIM_ALG_RSA_SHA256] != 0) {
		st_bad(sh, "%s: %zu active keys, %zu rsa", name,
		    d->nkeys[DKIM_ALG_ED25519_SHA256],
		    d->nkeys[DKIM_ALG_RSA_SHA256]);
		return 0;
	}
	sel = d->keys[DKIM_ALG_ED25519_SHA256][0].selector;
	n = (unsigned)strtoul(sel + 1, &end, 10);
	if (sel[0] != 'k' || *end != '\0' || n < lo || n > hi) {
		st_bad(sh, "%s: selector %s, want k%u to k%u", name, sel, lo,
		    hi);
		return 0;
	}
	if (EVP_PKEY_get_id(d->keys[DKIM_ALG_ED25519_SHA256][0].pkey) !=
	    EVP_PKEY_ED25519) {
		st_bad(sh, "%s: not an Ed25519 key", name);
		return 0;
	}
	return 1;
}

struct st_arg {
	struct st_shared *sh;
	unsigned	 seed;
};

/* st_reader - lookups of random domains until the writer is done */
static void *
st_reader(void *arg)
{
	struct st_shared *sh = ((struct st_arg *)arg)->sh;
	struct snap_domain *d, *prev = NULL;
	unsigned seed = ((struct st_arg *)arg)->seed, i, lo;
	unsigned long n;
	char name[32];

	for (n = 0; n < ST_MIN || !atomic_load(&sh->done); n++) {
		/* half of them on the domains written: cached when polled */
		i = (unsigned)rand_r(&seed) % (n % 2 ? ST_WDOMS : KC_NDOM);
		kc_name(i, name, sizeof(name));
		lo = i < ST_WDOMS ? atomic_load(&sh->floor[i]) : 0;
		d = snapshot_find(sh->s, name, 0);
		if (!st_check(sh, d, name, i, lo)) {
			snap_domain_unref(d);
			break;
		}
		/* the previous message's domain is still whole */
		if (prev != NULL && EVP_PKEY_get_bits(prev->keys[
		    DKIM_ALG_ED25519_SHA256][0].pkey) <= 0) {
			st_bad(sh, "%s: held key unusable", prev->name);
			snap_domain_unref(d);
			break;
		}
		if (n % 64 == 0 && !sig_ok(d->keys[DKIM_ALG_ED25519_SHA256][0].
		    pkey, d->keys[DKIM_ALG_ED25519_SHA256][0].pkey)) {
			st_bad(sh, "%s: does not sign", name);
			snap_domain_unref(d);
			break;
		}
		snap_domain_unref(prev);
		prev = d;
	}
	snap_domain_unref(prev);
	pthread_mutex_lock(&sh->lock);
	sh->lookups += n;
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

START_TEST(test_keycache_stress)
{
	char dir[] = "/tmp/check_milter.XXXXXX", name[32], old[16], new[16];
	struct store *st = kc_copy(dir);
	struct loader *l;
	struct snapshot *s = kc_loader(dir, &l);
	struct st_shared sh;
	struct keycache_stats ks;
	struct st_arg a[ST_READERS];
	pthread_t t[ST_READERS];
	time_t now = time(NULL);
	unsigned i, r;
	int n;

	memset(&sh, 0, sizeof(sh));
	sh.s = s;
	pthread_mutex_init(&sh.lock, NULL);
	for (i = 0; i < ST_WDOMS; i++) {
		atomic_init(&sh.started[i], 0);
		atomic_init(&sh.floor[i], 0);
	}
	atomic_init(&sh.done, 0);
	for (i = 0; i < ST_READERS; i++) {
		a[i].sh = &sh;
		a[i].seed = i + 1;
		ck_assert_int_eq(pthread_create(&t[i], NULL, st_reader, &a[i]),
		    0);
	}
	for (r = 1; r <= ST_ROUNDS; r++)
		for (i = 0; i < ST_WDOMS; i++) {
			kc_name(i, name, sizeof(name));
			snprintf(old, sizeof(old), "k%u", r - 1);
			snprintf(new, sizeof(new), "k%u", r);
			atomic_store(&sh.started[i], r);
			ks_swap(st, name, old, new, now);
			n = loader_poll(l);
			ck_assert_msg(n == 2, "poll: %d", n);
			atomic_store(&sh.floor[i], r);
		}
	atomic_store(&sh.done, 1);
	for (i = 0; i < ST_READERS; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(sh.bad[0] == '\0', "%s", sh.bad);
	ck_assert_uint_ge(sh.lookups, ST_READERS * ST_MIN);
	keycache_stats(s->kc, &ks);
	ck_assert_uint_le(ks.entries, KC_MAX);
	ck_assert_uint_gt(ks.evictions, 0);
	/* at the end, each domain as the keystore has it */
	snprintf(new, sizeof(new), "k%u", ST_ROUNDS);
	for (i = 0; i < KC_NDOM; i++)
		kc_find_check(st, s, i, i < ST_WDOMS ? new : "k0");
	pthread_mutex_destroy(&sh.lock);
	snapshot_unref(s);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
}
END_TEST

static Suite *
milter_suite(void)
{
	Suite *s = suite_create("milter");
	TCase *tc = tcase_create("decide");
	TCase *ts = tcase_create("snapshot");
	TCase *tk = tcase_create("keycache");

	tcase_add_loop_test(tc, test_decide_client, 0,
	    sizeof(client_cases) / sizeof(client_cases[0]));
	tcase_add_loop_test(tc, test_decide_expiry, 0,
	    sizeof(expiry_cases) / sizeof(expiry_cases[0]));
	tcase_add_loop_test(tc, test_decide_plan, 0,
	    sizeof(plan_cases) / sizeof(plan_cases[0]));
	tcase_add_loop_test(ts, test_snapshot_find, 0,
	    sizeof(find_cases) / sizeof(find_cases[0]));
	tcase_add_test(ts, test_snapshot_roundrobin);
	tcase_add_test(ts, test_snapshot_roundrobin_threads);
	tcase_add_test(ts, test_snapshot_swap);
	tcase_add_test(ts, test_loader);
	tcase_add_test(ts, test_loader_isolate);
	tcase_add_test(ts, test_loader_lost);
	/* a bound that only catches a hang: test_loader_isolate waits 2 s */
	tcase_set_timeout(ts, 60);
	tcase_add_unchecked_fixture(tk, kc_tmpl_make, kc_tmpl_rm);
	tcase_add_test(tk, test_keycache_cold);
	tcase_add_test(tk, test_keycache_first_race);
	tcase_add_test(tk, test_keycache_lru);
	tcase_add_test(tk, test_keycache_held);
	tcase_add_test(tk, test_keycache_removed);
	tcase_add_test(tk, test_keycache_absent);
	tcase_add_test(tk, test_keycache_own_files);
	tcase_add_test(tk, test_keycache_swap_poll);
	tcase_add_test(tk, test_keycache_stress);
	tcase_set_timeout(tk, 60);	/* only catches a hang */
	suite_add_tcase(s, tc);
	suite_add_tcase(s, ts);
	suite_add_tcase(s, tk);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(milter_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
