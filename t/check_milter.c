/*
 * check_milter - table-driven tests of keyturnd's signing decision and
 * keystore snapshots (milter/decide.c, milter/snapshot.c): who is signed
 * for, which domain signs, which keys in which order, x= bounds, and the
 * round-robin under concurrency.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf.h"
#include "decide.h"
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
	snapshot_unref(s);
}
END_TEST

START_TEST(test_snapshot_roundrobin)
{
	struct snapshot *s = fixture(NULL);
	struct snap_domain *d = snapshot_find(s, "example.com", 0);
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
	ck_assert_ptr_null(snapshot_next_key(snapshot_find(s, "empty.org", 0),
	    DKIM_ALG_RSA_SHA256));
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
	}
	for (j = 0; j < 3; j++)
		ck_assert_int_eq(total[j], RR_THREADS * RR_PER / 3);
	snapshot_unref(s);
}
END_TEST

START_TEST(test_snapshot_swap)
{
	struct snapshot *a = fixture(NULL), *b, *held, *cur;
	struct snap_domain *d;

	snapshot_install(a);
	held = snapshot_current();		/* a message in flight */
	ck_assert_ptr_eq(held, a);
	d = snapshot_find(held, "example.com", 0);
	snapshot_next_key(d, DKIM_ALG_RSA_SHA256);	/* a */
	snapshot_next_key(d, DKIM_ALG_RSA_SHA256);	/* b */
	b = snapshot_new_same(a, NULL);
	d = snapshot_add_domain(b, "example.com");
	addkey(d, "a", DKIM_ALG_RSA_SHA256, 0);
	addkey(d, "b", DKIM_ALG_RSA_SHA256, 0);
	addkey(d, "c", DKIM_ALG_RSA_SHA256, 0);
	snapshot_seal(b);
	snapshot_carry(b, a);
	snapshot_install(b);
	cur = snapshot_current();
	ck_assert_ptr_eq(cur, b);
	ck_assert_ptr_eq(cur->conf, held->conf);
	/* the message still sees all of a: its domains and its keys */
	ck_assert_ptr_nonnull(snapshot_find(held, "empty.org", 0));
	ck_assert_ptr_null(snapshot_find(cur, "empty.org", 0));
	/* the rotation goes on where a left it */
	ck_assert_str_eq(snapshot_next_key(snapshot_find(cur, "example.com",
	    0), DKIM_ALG_RSA_SHA256)->selector, "c");
	snapshot_unref(held);			/* frees a */
	snapshot_unref(cur);
	snapshot_shutdown();			/* frees b */
	ck_assert_ptr_null(snapshot_current());
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
	n = decide_plan(s, snapshot_find(s, tc->domain, 0), 1000, out, why,
	    sizeof(why));
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
	snapshot_unref(s);
}
END_TEST

/* rm_entry - nftw callback of rm_tree */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
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

/* ks_key - a new Ed25519 key of example.com */
static void
ks_key(struct store *st, const char *sel, int active, time_t now)
{
	ks_dkey(st, "example.com", sel, active, now);
}

/* ks_selectors - the snapshot's ed25519 selectors, space-separated */
static void
ks_selectors(struct snapshot *s, char *buf, size_t len)
{
	struct snap_domain *d = snapshot_find(s, "example.com", 0);
	size_t i, off = 0;

	buf[0] = '\0';
	ck_assert_ptr_nonnull(d);
	for (i = 0; i < d->nkeys[DKIM_ALG_ED25519_SHA256]; i++)
		off += snprintf(buf + off, len - off, "%s%s", i > 0 ? " " : "",
		    d->keys[DKIM_ALG_ED25519_SHA256][i].selector);
}

START_TEST(test_loader)
{
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], sels[64];
	struct store_policy p;
	struct kt_conf *c = conf_defaults();
	struct snapshot *s1, *s2;
	struct loader *l = loader_new();
	struct store *st;
	struct snap_domain *d;
	time_t now = time(NULL);
	FILE *fp;
	char *path;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(store_init(dir, err, sizeof(err)) == 0, "%s", err);
	st = store_open(dir, 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	p.active_keys = 3;
	ck_assert_msg(store_domain_add(st, "example.com", &p, now, err,
	    sizeof(err)) == 0, "%s", err);
	ks_key(st, "e1", 1, now);
	ks_key(st, "e2", 1, now);
	ks_key(st, "e3", 0, now);			/* pending: never signs */
	free(c->keystore);
	c->keystore = xstrdup(dir);

	s1 = loader_build(l, c, NULL, NULL, err, sizeof(err));
	ck_assert_msg(s1 != NULL, "%s", err);
	ks_selectors(s1, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e1 e2");
	d = snapshot_find(s1, "example.com", 0);
	ck_assert_int_eq(d->keys[DKIM_ALG_ED25519_SHA256][0].revoke_at,
	    now + p.rotate_after + p.retire_after);
	ck_assert_uint_eq(d->nkeys[DKIM_ALG_RSA_SHA256], 0);
	ck_assert_int_eq(loader_changed(l), 0);
	snapshot_next_key(d, DKIM_ALG_ED25519_SHA256);	/* e1 */

	/* a write by the keystore's owner: noticed, reloaded, same conf */
	ks_key(st, "e4", 1, now);
	ck_assert_int_eq(loader_changed(l), 1);
	s2 = loader_build(l, NULL, NULL, s1, err, sizeof(err));
	ck_assert_msg(s2 != NULL, "%s", err);
	ck_assert_ptr_eq(s2->conf, s1->conf);
	ks_selectors(s2, sels, sizeof(sels));
	ck_assert_str_eq(sels, "e1 e2 e4");
	ck_assert_int_eq(loader_changed(l), 0);
	/* the rotation goes on where s1 left it */
	ck_assert_str_eq(snapshot_next_key(snapshot_find(s2, "example.com", 0),
	    DKIM_ALG_ED25519_SHA256)->selector, "e2");
	snapshot_unref(s1);

	/*
	 * a changed state file that does not load: the domain is marked
	 * (file:line) and has no keys; the old state's keys do not sign
	 */
	path = xasprintf("%s/example.com/state", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "a"));
	fputs("garbage\n", fp);
	fclose(fp);
	s1 = loader_build(l, NULL, NULL, s2, err, sizeof(err));
	ck_assert_msg(s1 != NULL, "%s", err);
	ck_assert_msg(strstr(err, "example.com/state:") != NULL, "%s", err);
	ck_assert_uint_eq(loader_broken(l), 1);
	d = snapshot_find(s1, "example.com", 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(d->error);
	ck_assert_uint_eq(d->nkeys[DKIM_ALG_ED25519_SHA256], 0);
	ck_assert_ptr_null(snapshot_next_key(d, DKIM_ALG_ED25519_SHA256));
	snapshot_unref(s1);
	loader_free(l);

	/* at start-up: the broken domain is there, marked, with its reason */
	l = loader_new();
	c = conf_defaults();
	free(c->keystore);
	c->keystore = xstrdup(dir);
	s1 = loader_build(l, c, NULL, NULL, err, sizeof(err));
	ck_assert_msg(s1 != NULL, "%s", err);
	d = snapshot_find(s1, "example.com", 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(d->error != NULL && strstr(d->error, "state:") != NULL,
	    "%s", d->error != NULL ? d->error : "no error");
	ck_assert_msg(strstr(err, "example.com/state:") != NULL, "%s", err);
	ck_assert_int_eq(loader_changed(l), 0);	/* retried a bit later */
	snapshot_unref(s1);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
	/* the keys outlive the loader and the keystore files */
	d = snapshot_find(s2, "example.com", 0);
	ck_assert_int_eq(EVP_PKEY_get_id(d->keys[DKIM_ALG_ED25519_SHA256][2].pkey),
	    EVP_PKEY_ED25519);
	snapshot_unref(s2);
	free(path);
}
END_TEST

/* ks_nkeys - active Ed25519 keys of a domain in a snapshot; -1: marked */
static int
ks_nkeys(const struct snapshot *s, const char *domain)
{
	struct snap_domain *d = snapshot_find(s, domain, 0);

	ck_assert_msg(d != NULL, "%s not in the snapshot", domain);
	return d->error != NULL ? -1 : (int)d->nkeys[DKIM_ALG_ED25519_SHA256];
}

/*
 * One domain that does not load holds no other back: an unchanged domain
 * keeps its keys (its key file unreadable since), a changed one that fails
 * loses them, the others get their changes, and a fixed domain comes back
 * at the retry.
 */
START_TEST(test_loader_isolate)
{
	char dir[] = "/tmp/check_milter.XXXXXX", err[1024], *bkey;
	struct store_policy p;
	struct kt_conf *c = conf_defaults();
	struct snapshot *s1, *s2, *s3, *s3b, *s4;
	struct loader *l = loader_new();
	struct store *st;
	time_t now = time(NULL);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(store_init(dir, err, sizeof(err)) == 0, "%s", err);
	st = store_open(dir, 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	p.active_keys = 3;
	ck_assert_int_eq(store_domain_add(st, "a.test", &p, now, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(store_domain_add(st, "b.test", &p, now, err,
	    sizeof(err)), 0);
	ks_dkey(st, "a.test", "a1", 1, now);
	ks_dkey(st, "b.test", "b1", 1, now);
	free(c->keystore);
	c->keystore = xstrdup(dir);

	s1 = loader_build(l, c, NULL, NULL, err, sizeof(err));
	ck_assert_msg(s1 != NULL && err[0] == '\0', "%s", err);
	ck_assert_int_eq(ks_nkeys(s1, "a.test"), 1);
	ck_assert_int_eq(ks_nkeys(s1, "b.test"), 1);

	/* b.test's key file goes bad, its state does not change: kept */
	bkey = xasprintf("%s/b.test/keys/b1.pem", dir);
	ck_assert_int_eq(chmod(bkey, 0640), 0);
	ks_dkey(st, "a.test", "a2", 1, now);
	ck_assert_int_eq(loader_changed(l), LOADER_MOVED);
	s2 = loader_build(l, NULL, NULL, s1, err, sizeof(err));
	ck_assert_msg(s2 != NULL && err[0] == '\0', "%s", err);
	ck_assert_int_eq(ks_nkeys(s2, "a.test"), 2);
	ck_assert_int_eq(ks_nkeys(s2, "b.test"), 1);

	/* b.test's state changes and it cannot load: no keys, a.test moves */
	ks_dkey(st, "b.test", "b2", 0, now);
	ks_dkey(st, "a.test", "a3", 1, now);
	s3 = loader_build(l, NULL, NULL, s2, err, sizeof(err));
	ck_assert_ptr_nonnull(s3);
	ck_assert_msg(strstr(err, "b1.pem") != NULL, "%s", err);
	ck_assert_uint_eq(loader_broken(l), 1);
	ck_assert_int_eq(ks_nkeys(s3, "a.test"), 3);
	ck_assert_int_eq(ks_nkeys(s3, "b.test"), -1);
	ck_assert_int_eq(loader_changed(l), 0);
	ck_assert_int_eq(loader_moved(l), 1);

	/*
	 * A retry that a keystore write meets (after loader_changed said
	 * LOADER_RETRY) says so: still broken, but not a build to throw away.
	 * Built again with no write, it says it did not move.
	 */
	ks_dkey(st, "a.test", "a4", 0, now);
	s3b = loader_build(l, NULL, NULL, s3, err, sizeof(err));
	ck_assert_ptr_nonnull(s3b);
	ck_assert_uint_eq(loader_broken(l), 1);
	ck_assert_int_eq(loader_moved(l), 1);
	snapshot_unref(s3b);
	s3b = loader_build(l, NULL, NULL, s3, err, sizeof(err));
	ck_assert_ptr_nonnull(s3b);
	ck_assert_int_eq(loader_moved(l), 0);
	snapshot_unref(s3b);

	/* fixed, no keystore write: the retry brings it back */
	ck_assert_int_eq(chmod(bkey, 0600), 0);
	sleep(2);			/* LOADER_RETRY_S */
	ck_assert_int_eq(loader_changed(l), LOADER_RETRY);
	s4 = loader_build(l, NULL, NULL, s3, err, sizeof(err));
	ck_assert_msg(s4 != NULL && err[0] == '\0', "%s", err);
	ck_assert_uint_eq(loader_broken(l), 0);
	ck_assert_int_eq(ks_nkeys(s4, "b.test"), 1);
	ck_assert_int_eq(ks_nkeys(s4, "a.test"), 3);
	ck_assert_int_eq(loader_changed(l), 0);

	snapshot_unref(s1);
	snapshot_unref(s2);
	snapshot_unref(s3);
	snapshot_unref(s4);
	loader_free(l);
	store_close(st);
	rm_tree(dir);
	free(bkey);
}
END_TEST

static Suite *
milter_suite(void)
{
	Suite *s = suite_create("milter");
	TCase *tc = tcase_create("decide");
	TCase *ts = tcase_create("snapshot");

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
	tcase_set_timeout(ts, 20);	/* test_loader_isolate waits 2 s */
	suite_add_tcase(s, tc);
	suite_add_tcase(s, ts);
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
