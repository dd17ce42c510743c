/*
 * check_rotate_adapt - the policy engine driving a real keystore
 *
 * A keystore in a temporary directory; the policy's decisions go through
 * adapt_changes into store_apply and store_key_new, the way the rotation
 * pass will make them: generate, ready + activate, the grouped swap, the
 * revocation. Also the propagation query of a stored key (its decoded p=
 * is the key's raw public key), the rotation memo's text form, and the
 * alarm notes of the history (open or not, over or not).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "adapt.h"
#include "conf.h"
#include "policy.h"
#include "rotation.h"
#include "store.h"

#define DOM	"example.test"
#define DAY	86400

static char tmpl[] = "/tmp/check_rotate_adapt.XXXXXX";
static char ksdir[256];
static struct store *st;

static void
setup(void)
{
	struct store_policy p;
	char err[256];

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(ksdir, sizeof(ksdir), "%s/ks", tmpl);
	ck_assert_msg(store_init(ksdir, err, sizeof(err)) == 0, "%s", err);
	st = store_open(ksdir, 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	p.active_keys = 1;
	p.rotate_after = 30 * DAY;
	p.retire_after = 7 * DAY;
	ck_assert_msg(store_domain_add(st, DOM, &p, 1000, err,
	    sizeof(err)) == 0, "%s", err);
}

static void
teardown(void)
{
	char cmd[300];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	ck_assert_int_eq(system(cmd), 0);
}

/* pass - load, decide with the memo, apply; the plan's words */
static void
pass(struct adapt_memo *memo, time_t now, char *words, size_t len)
{
	struct store_domain *d;
	struct pol_policy pol;
	struct pol_key keys[16];
	struct pol_plan plan = { 0 };
	struct store_change ch[2];
	char err[256], sel[STORE_SELECTOR_MAX + 1];
	size_t i, n, o = 0;

	d = store_domain_load(st, DOM, 0, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_uint_le(d->nkeys, 16);
	adapt_policy(&d->policy, &pol);
	adapt_keys(d, memo, keys);
	pol_decide(&pol, keys, d->nkeys, now, &plan);
	words[0] = '\0';
	for (i = 0; i < plan.n; i++) {
		const struct pol_action *a = &plan.v[i];

		o += snprintf(words + o, len - o, "%s%s", o ? " " : "",
		    pol_act_name(a->type));
		if (a->type == POL_A_GENERATE) {
			ck_assert_msg(store_key_new(st, DOM, adapt_alg(a->alg),
			    a->bits == 256 ? 0 : a->bits, NULL, now,
			    a->reason, sel, sizeof(sel), err,
			    sizeof(err)) == 0, "%s", err);
			continue;
		}
		if ((n = adapt_changes(a, keys, ch)) == 0)
			continue;
		ck_assert_msg(store_apply(st, DOM, ch, n, now, 0, err,
		    sizeof(err)) == 0, "%s: %s", pol_act_name(a->type), err);
	}
	pol_plan_free(&plan);
	store_domain_free(d);
}

/* state_of - the stored state of the key created n-th (0-based) */
static enum store_state
state_of(size_t n, char *sel, size_t len)
{
	struct store_domain *d;
	enum store_state s;
	char err[256];

	d = store_domain_load(st, DOM, 0, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_uint_gt(d->nkeys, n);
	s = d->keys[n].state;
	if (sel != NULL)
		snprintf(sel, len, "%s", d->keys[n].selector);
	store_domain_free(d);
	return s;
}

/* confirm - the memo says DNS agreed since `since` */
static void
confirm(struct adapt_memo *memo, const char *sel, time_t since)
{
	struct adapt_mem *e = adapt_memo_get(memo, sel);

	e->published = POL_PUB_PUBLISHED;
	e->obs.dns = POL_DNS_PUBLISHED;
	e->obs.since = since;
	e->obs.hold = 300;
}

START_TEST(test_lifecycle)
{
	struct adapt_memo memo = { 0 };
	char words[256], s0[64], s1[64], s2[64];

	pass(&memo, 2000, words, sizeof(words));
	ck_assert_str_eq(words, "generate");
	ck_assert_int_eq(state_of(0, s0, sizeof(s0)), STORE_PENDING);
	pass(&memo, 2100, words, sizeof(words));
	ck_assert_str_eq(words, "publish");
	/* published everywhere at 2200; the hold is 300 s */
	confirm(&memo, s0, 2200);
	pass(&memo, 2499, words, sizeof(words));
	ck_assert_str_eq(words, "");
	pass(&memo, 2500, words, sizeof(words));
	ck_assert_str_eq(words, "ready activate generate");
	ck_assert_int_eq(state_of(0, NULL, 0), STORE_ACTIVE);
	ck_assert_int_eq(state_of(1, s1, sizeof(s1)), STORE_PENDING);
	confirm(&memo, s1, 3000);
	pass(&memo, 4000, words, sizeof(words));
	ck_assert_str_eq(words, "ready");
	ck_assert_int_eq(state_of(1, NULL, 0), STORE_READY);
	/* 30 days after activation: the grouped swap, one keystore write */
	pass(&memo, 2500 + 30 * DAY, words, sizeof(words));
	ck_assert_str_eq(words, "swap generate");
	ck_assert_int_eq(state_of(0, NULL, 0), STORE_RETIRING);
	ck_assert_int_eq(state_of(1, NULL, 0), STORE_ACTIVE);
	ck_assert_int_eq(state_of(2, s2, sizeof(s2)), STORE_PENDING);
	ck_assert_str_ne(s2, s0);
	ck_assert_str_ne(s2, s1);
	/* 7 days later the retiring key is revoked, its record emptied */
	confirm(&memo, s2, 2500 + 30 * DAY + 600);
	pass(&memo, 2500 + 37 * DAY, words, sizeof(words));
	ck_assert_str_eq(words, "ready revoke unpublish");
	ck_assert_int_eq(state_of(0, NULL, 0), STORE_REVOKED);
	ck_assert_int_eq(state_of(2, NULL, 0), STORE_READY);
	adapt_memo_free(&memo);
}
END_TEST

START_TEST(test_query)
{
	struct store_domain *d;
	struct prop_query q;
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);
	char err[256], sel[64];

	ck_assert_msg(store_key_new(st, DOM, STORE_ALG_ED25519, 0, "q1", 2000,
	    "test", sel, sizeof(sel), err, sizeof(err)) == 0, "%s", err);
	d = store_domain_load(st, DOM, STORE_KEYS_ALL, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_ptr_nonnull(d->keys[0].pkey);
	ck_assert_int_eq(adapt_query(DOM, &d->keys[0], &q, err, sizeof(err)),
	    0);
	ck_assert_str_eq(q.name, "q1._domainkey." DOM);
	ck_assert_int_eq(q.alg, PROP_ALG_ED25519);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(d->keys[0].pkey, raw,
	    &rawlen), 1);
	ck_assert_uint_eq(q.keylen, rawlen);
	ck_assert_int_eq(memcmp(q.key, raw, rawlen), 0);
	adapt_query_free(&q);
	store_domain_free(d);
}
END_TEST

START_TEST(test_memo)
{
	struct adapt_memo m = { 0 }, back;
	struct adapt_mem *e;
	char err[128], *text, *again;

	e = adapt_memo_get(&m, "kt-202611-ed");
	e->published = POL_PUB_PUBLISHED;
	e->obs.dns = POL_DNS_PUBLISHED;
	e->obs.since = 1795000000;
	e->obs.hold = 3600;
	e = adapt_memo_get(&m, "kt-202610-r2048");
	e->published = POL_PUB_REVOKED;
	e->obs.dns = POL_DNS_REVOKED;
	e->checked = 1795086400;
	ck_assert_ptr_eq(adapt_memo_get(&m, "kt-202611-ed"), &m.v[0]);
	text = adapt_memo_format(&m);
	/* never checked: no checked= at all */
	ck_assert_msg(strstr(text, "s=kt-202611-ed; pub=published; "
	    "dns=published; since=1795000000; hold=3600\n") != NULL, "%s",
	    text);
	ck_assert_msg(strstr(text, "s=kt-202610-r2048; pub=revoked; "
	    "dns=revoked; since=0; hold=0; checked=1795086400\n") != NULL,
	    "%s", text);
	ck_assert_int_eq(adapt_memo_parse(text, &back, err, sizeof(err)), 0);
	ck_assert_uint_eq(back.n, 2);
	ck_assert_int_eq(back.v[0].checked, 0);
	ck_assert_int_eq(back.v[1].checked, 1795086400);
	again = adapt_memo_format(&back);
	ck_assert_str_eq(again, text);
	free(text);
	free(again);
	adapt_memo_free(&back);
	adapt_memo_free(&m);
}
END_TEST

static const struct {
	const char *text;
	int line;	/* 0: accepted, else the line of the error */
} memo_cases[] = {
	{ "", 0 },
	{ "# only a comment\n\n", 0 },
	{ "s=a; pub=none; dns=unknown; since=0; hold=0", 0 },
	{ "#\ns=a; pub=maybe; dns=unknown; since=0; hold=0\n", 2 },
	{ "s=a; pub=none; dns=sure; since=0; hold=0\n", 1 },
	{ "s=a; pub=none; dns=unknown; since=-1; hold=0\n", 1 },
	{ "s=a; pub=none; dns=unknown; since=1x; hold=0\n", 1 },
	{ "s=a; pub=none; dns=unknown; since=0\n", 1 },
	{ "pub=none; dns=unknown; since=0; hold=0\n", 1 },
	{ "s=a; s=b; pub=none; dns=unknown; since=0; hold=0\n", 1 },
	{ "s=a; pub=none; dns=unknown; since=0; hold=0; checked=7\n", 0 },
	{ "s=a; pub=none; dns=unknown; since=0; hold=0; checked=\n", 1 },
	{ "s=a; pub=none; dns=unknown; since=0; hold=0; checked=-7\n", 1 },
	{ "\n\ngarbage\n", 3 },
};

START_TEST(test_memo_parse)
{
	struct adapt_memo m;
	char err[128], want[16];
	int r = adapt_memo_parse(memo_cases[_i].text, &m, err, sizeof(err));

	if (memo_cases[_i].line == 0) {
		ck_assert_msg(r == 0, "\"%s\": %s", memo_cases[_i].text, err);
		adapt_memo_free(&m);
		return;
	}
	ck_assert_msg(r == -1, "accepted \"%s\"", memo_cases[_i].text);
	snprintf(want, sizeof(want), "line %d:", memo_cases[_i].line);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST


/* slurp - a small file's text */
static char *
slurp(const char *path)
{
	char *buf = calloc(1, 8192);
	FILE *fp = fopen(path, "r");

	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(buf);
	if (fread(buf, 1, 8191, fp) == 0)
		buf[0] = '\0';
	fclose(fp);
	return buf;
}

START_TEST(test_hook)
{
	char dir[] = "/tmp/check_rotate_hook.XXXXXX", out[64], cmd[160];
	char value[601], err[128], *env, want[300];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/env", dir);
	memset(value, 'x', 600);
	value[600] = '\0';
	memcpy(value, "v=DKIM1; k=rsa; p=", 18);
	setenv("KEYTURN_ACTION", "stale", 1);
	snprintf(cmd, sizeof(cmd), "env | grep ^KEYTURN_ | sort > %s", out);
	ck_assert_msg(rot_hook(cmd, "publish", "example.test", "kt-1", value,
	    0, err, sizeof(err)) == 0, "%s", err);
	env = slurp(out);
	ck_assert_msg(strstr(env, "KEYTURN_ACTION=publish\n") != NULL, "%s",
	    env);
	ck_assert(strstr(env, "stale") == NULL);
	ck_assert(strstr(env, "KEYTURN_DOMAIN=example.test\n") != NULL);
	ck_assert(strstr(env, "KEYTURN_SELECTOR=kt-1\n") != NULL);
	ck_assert(strstr(env, "KEYTURN_NAME=kt-1._domainkey.example.test\n")
	    != NULL);
	/* 600 bytes: strings of 255, 255 and 90 */
	snprintf(want, sizeof(want), "KEYTURN_VALUE_STRINGS=\"%.255s\" \"",
	    value);
	ck_assert(strstr(env, want) != NULL);
	snprintf(want, sizeof(want), "\" \"%.90s\"\n", value + 510);
	ck_assert(strstr(env, want) != NULL);
	free(env);
	/* a failing hook says how */
	ck_assert_int_eq(rot_hook("exit 3", "revoke", "example.test", "kt-1",
	    "v=DKIM1; p=", 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "publish command exited 3");
	unlink(out);
	rmdir(dir);
	unsetenv("KEYTURN_ACTION");
}
END_TEST

START_TEST(test_config)
{
	struct kt_conf *c = conf_defaults(), saved = *c;
	struct rot_config cf;
	char *extra[] = { "192.0.2.1", "[::1]:5353" };

	c->resolver = "127.0.0.10:5300";
	c->dns_port = 5300;
	c->dns_timeout = 2;
	c->propagation_resolvers = extra;
	c->npropagation_resolvers = 2;
	c->publish_command = "/usr/local/bin/publish";
	rot_config_init(&cf, c);
	ck_assert_str_eq(cf.dns.resolver, "127.0.0.10:5300");
	ck_assert_int_eq(cf.dns.dns_port, 5300);
	ck_assert_int_eq(cf.dns.timeout_ms, 2000);
	ck_assert_uint_eq(cf.dns.nextra, 2);
	ck_assert_str_eq(cf.dns.extra[1], "[::1]:5353");
	ck_assert_str_eq(cf.publish_command, "/usr/local/bin/publish");
	ck_assert_ptr_null(cf.store);
	ck_assert_int_eq(cf.dry_run, 0);
	*c = saved;	/* the conf's own strings, for conf_free */
	conf_free(c);
}
END_TEST

/* ---- alarm notes ---- */

#define A_ACT	STORE_ACTIVE
#define A_RET	STORE_RETIRING
#define A_NONE	STORE_STATE_NONE
#define EV(w, s, f, t, r) \
	{ .when = (w), .selector = s, .from = (f), .to = (t), .reason = r }

static const struct alarm_open_case {
	const char	*name;
	struct store_event ev[4];	/* up to the first empty selector */
	const char	*sel;
	int		 open;
} alarm_open_cases[] = {
	{ "no history", { { 0 } }, "k1", 0 },
	{ "raised", { EV(1, "k1", A_ACT, A_ACT, "alarm: gone") }, "k1", 1 },
	{ "raised, then cleared", { EV(1, "k1", A_ACT, A_ACT, "alarm: gone"),
	    EV(2, "k1", A_ACT, A_ACT, "alarm cleared: back") }, "k1", 0 },
	{ "raised again", { EV(1, "k1", A_ACT, A_ACT, "alarm: gone"),
	    EV(2, "k1", A_ACT, A_ACT, "alarm cleared: back"),
	    EV(3, "k1", A_ACT, A_ACT, "alarm: changed") }, "k1", 1 },
	{ "another key's alarm", { EV(1, "k2", A_ACT, A_ACT, "alarm: x") },
	    "k1", 0 },
	{ "selectors ignore case", { EV(1, "K1", A_ACT, A_ACT, "alarm: x") },
	    "k1", 1 },
	{ "the take-out is no alarm", { EV(1, "k1", A_ACT, A_RET,
	    "policy: alarm: k1 taken out of the round-robin") }, "k1", 0 },
	{ "open across the take-out", { EV(1, "k1", A_ACT, A_ACT, "alarm: x"),
	    EV(1, "k1", A_ACT, A_RET, "policy: alarm: k1 taken out") },
	    "k1", 1 },
	{ "a transition is no note", { EV(1, "k1", A_ACT, A_RET,
	    "alarm: x") }, "k1", 0 },
	{ "a domain event is no note", { EV(1, "-", A_NONE, A_NONE,
	    "alarm: x") }, "-", 0 },
	{ "other notes leave it open", { EV(1, "k1", A_ACT, A_ACT, "alarm: x"),
	    EV(2, "k1", A_ACT, A_ACT, "alarmed: y") }, "k1", 1 },
};

START_TEST(test_alarm_open)
{
	const struct alarm_open_case *c = &alarm_open_cases[_i];
	size_t n = 0;

	while (n < 4 && c->ev[n].selector[0] != '\0')
		n++;
	ck_assert_msg(adapt_alarm_open(c->ev, n, c->sel) == c->open, "%s",
	    c->name);
}
END_TEST

static const struct alarm_over_case {
	enum pol_state	 state;
	enum pol_dns	 dns;
	const char	*why;	/* NULL: the alarm stays open */
} alarm_over_cases[] = {
	{ POL_ACTIVE, POL_DNS_PUBLISHED, "every nameserver serves k1 again" },
	{ POL_ACTIVE, POL_DNS_UNKNOWN, NULL },	/* a timeout proves nothing */
	{ POL_ACTIVE, POL_DNS_PARTIAL, NULL },
	{ POL_ACTIVE, POL_DNS_ABSENT, NULL },
	{ POL_ACTIVE, POL_DNS_MISMATCH, NULL },
	{ POL_ACTIVE, POL_DNS_REVOKED, NULL },
	{ POL_READY, POL_DNS_PUBLISHED, "serves k1 again" },
	{ POL_READY, POL_DNS_ABSENT, NULL },
	{ POL_RETIRING, POL_DNS_MISMATCH, NULL },	/* taken out, still bad */
	{ POL_RETIRING, POL_DNS_PUBLISHED, "serves k1 again" },
	{ POL_REVOKED, POL_DNS_UNKNOWN, "k1 is revoked" },
	{ POL_REVOKED, POL_DNS_MISMATCH, "k1 is revoked" },
	{ POL_PENDING, POL_DNS_ABSENT, "no nameserver serves another key" },
	{ POL_PENDING, POL_DNS_PUBLISHED, "serves k1 again" },
	{ POL_PENDING, POL_DNS_MISMATCH, NULL },
	{ POL_PENDING, POL_DNS_UNKNOWN, NULL },
	{ POL_PENDING, POL_DNS_PARTIAL, NULL },
};

START_TEST(test_alarm_over)
{
	const struct alarm_over_case *c = &alarm_over_cases[_i];
	struct pol_key k;
	char why[192] = "";
	int over;

	memset(&k, 0, sizeof(k));
	k.selector = "k1";
	k.state = c->state;
	k.obs.dns = c->dns;
	over = adapt_alarm_over(&k, why, sizeof(why));
	ck_assert_msg(over == (c->why != NULL), "%s/%s: %d",
	    pol_state_name(c->state), pol_dns_name(c->dns), over);
	if (c->why != NULL)
		ck_assert_msg(strstr(why, c->why) != NULL, "%s", why);
}
END_TEST

/* the notes as the keystore writes and reads them back */
START_TEST(test_alarm_notes)
{
	struct store_change ch = { NULL, STORE_PENDING, STORE_ACTIVE, "t" };
	struct store_event *ev;
	char sel[STORE_SELECTOR_MAX + 1], err[256];
	size_t n;

	ck_assert_msg(store_key_new(st, DOM, STORE_ALG_ED25519, 0, NULL, 2000,
	    "t", sel, sizeof(sel), err, sizeof(err)) == 0, "%s", err);
	ch.selector = sel;
	ck_assert_msg(store_apply(st, DOM, &ch, 1, 2001, STORE_FORCE, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(store_note(st, DOM, sel, 2002,
	    ADAPT_ALARM_RAISED "a nameserver serves another key", err,
	    sizeof(err)), 0);
	ch = (struct store_change){ sel, STORE_ACTIVE, STORE_RETIRING,
	    "policy: alarm: taken out" };
	ck_assert_int_eq(store_apply(st, DOM, &ch, 1, 2002, 0, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(store_history_load(st, DOM, &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(adapt_alarm_open(ev, n, sel), 1);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, 2002),
	    STORE_RETIRING);
	ck_assert_int_eq(store_history_state_at(ev, n, sel, 2001),
	    STORE_ACTIVE);
	store_history_free(ev, n);
	ck_assert_int_eq(store_note(st, DOM, sel, 2003,
	    ADAPT_ALARM_CLEARED "every nameserver serves it again", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(store_history_load(st, DOM, &ev, &n, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(adapt_alarm_open(ev, n, sel), 0);
	ck_assert_int_eq(ev[n - 1].from, STORE_RETIRING);
	ck_assert_int_eq(ev[n - 1].to, STORE_RETIRING);
	store_history_free(ev, n);
}
END_TEST

/* Memo 2: key id and the slot tags survive a round trip; memo 1 reads. */
START_TEST(test_memo2)
{
	struct adapt_memo m = { 0 }, back;
	struct adapt_mem *e;
	const struct adapt_mem *f;
	char err[128], *text, *again;

	e = adapt_memo_get(&m, "kt2");
	snprintf(e->kid, sizeof(e->kid), "77aa01c3d4e5f607");
	e->published = POL_PUB_PUBLISHED;
	e->obs.dns = POL_DNS_ABSENT;
	e->cname = POL_CNAME_MISSING;
	snprintf(e->cname_bad, sizeof(e->cname_bad),
	    "ns2.bad.test 127.0.0.82:53 nxdomain");
	e->ttlmax = 2;
	text = adapt_memo_format(&m);
	ck_assert_msg(strncmp(text, "# keyturn rotation memo 2\n", 26) == 0,
	    "%s", text);
	ck_assert_msg(strstr(text, "s=kt2; pub=published; dns=absent; "
	    "since=0; hold=0; k=77aa01c3d4e5f607; cn=missing; "
	    "cnbad=ns2.bad.test 127.0.0.82:53 nxdomain; ttlmax=2\n") != NULL,
	    "%s", text);
	ck_assert_msg(adapt_memo_parse(text, &back, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_uint_eq(back.n, 1);
	ck_assert_str_eq(back.v[0].kid, "77aa01c3d4e5f607");
	ck_assert_int_eq(back.v[0].cname, POL_CNAME_MISSING);
	ck_assert_str_eq(back.v[0].cname_bad,
	    "ns2.bad.test 127.0.0.82:53 nxdomain");
	ck_assert_int_eq(back.v[0].ttlmax, 2);
	again = adapt_memo_format(&back);
	ck_assert_str_eq(again, text);
	free(text);
	free(again);
	adapt_memo_free(&back);
	adapt_memo_free(&m);

	/* the parts of a slot key's hold come back for the status */
	e = adapt_memo_get(&m, "kt1");
	snprintf(e->kid, sizeof(e->kid), "0c1d2e3f40516273");
	e->published = POL_PUB_PUBLISHED;
	e->obs.dns = POL_DNS_PUBLISHED;
	e->obs.since = 1795000000;
	e->obs.hold = 3;
	e->obs.ttl_txt = 3;
	e->obs.ttl_cname = 2;
	e->obs.ttl_neg = 1;
	e->cname = POL_CNAME_OK;
	text = adapt_memo_format(&m);
	ck_assert_msg(strstr(text, "s=kt1; pub=published; dns=published; "
	    "since=1795000000; hold=3; k=0c1d2e3f40516273; cn=ok; ttltxt=3; "
	    "ttlcn=2; ttlneg=1\n") != NULL, "%s", text);
	ck_assert_msg(adapt_memo_parse(text, &back, err, sizeof(err)) == 0,
	    "%s", err);
	f = adapt_memo_find(&back, "kt1");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->obs.ttl_txt, 3);
	ck_assert_int_eq(f->obs.ttl_cname, 2);
	ck_assert_int_eq(f->obs.ttl_neg, 1);
	again = adapt_memo_format(&back);
	ck_assert_str_eq(again, text);
	free(text);
	free(again);
	adapt_memo_free(&back);
	adapt_memo_free(&m);
	/* written without them: they read as 0 */
	ck_assert_msg(adapt_memo_parse("# keyturn rotation memo 2\n"
	    "s=kt1; pub=published; dns=published; since=1795000000; "
	    "hold=3; k=0c1d2e3f40516273; cn=ok\n", &m, err, sizeof(err)) == 0,
	    "%s", err);
	f = adapt_memo_find(&m, "kt1");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->obs.ttl_txt, 0);
	ck_assert_int_eq(f->obs.ttl_cname, 0);
	ck_assert_int_eq(f->obs.ttl_neg, 0);
	adapt_memo_free(&m);

	/* memo 1: no k=; written back as memo 2 */
	ck_assert_msg(adapt_memo_parse("# keyturn rotation memo 1\n"
	    "s=kt-1; pub=published; dns=published; since=1795000000; "
	    "hold=300; checked=1795086000\n", &m, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_uint_eq(m.n, 1);
	f = adapt_memo_find(&m, "kt-1");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->kid, "");
	ck_assert_int_eq(f->cname, POL_CNAME_NONE);
	ck_assert_int_eq(f->obs.since, 1795000000);
	ck_assert_int_eq(f->checked, 1795086000);
	text = adapt_memo_format(&m);
	ck_assert_str_eq(text, "# keyturn rotation memo 2\n"
	    "s=kt-1; pub=published; dns=published; since=1795000000; "
	    "hold=300; checked=1795086000\n");
	free(text);
	adapt_memo_free(&m);
}
END_TEST

static const char *memo2_bad[] = {
	"s=kt2; pub=none; dns=unknown; since=0; hold=0; k=77aa\n",
	"s=kt2; pub=none; dns=unknown; since=0; hold=0; cn=lost\n",
	"s=kt2; pub=none; dns=unknown; since=0; hold=0; ttlmax=-3\n",
	"s=kt2; pub=none; dns=unknown; since=0; hold=0; ttlmax=x\n",
	"s=kt2; pub=none; dns=unknown; since=0; hold=0; ttltxt=-1\n",
	"s=kt2; pub=none; dns=unknown; since=0; hold=0; ttlcn=x\n",
	"s=kt2; pub=none; dns=unknown; since=0; hold=0; ttlneg=1s\n",
};

START_TEST(test_memo2_parse)
{
	struct adapt_memo m;
	char err[128], text[256];

	snprintf(text, sizeof(text), "# keyturn rotation memo 2\n%s",
	    memo2_bad[_i]);
	ck_assert_msg(adapt_memo_parse(text, &m, err, sizeof(err)) == -1,
	    "accepted \"%s\"", memo2_bad[_i]);
	ck_assert_msg(strncmp(err, "line 2:", 7) == 0, "%s", err);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

/*
 * A slot's next key reuses the selector: neither adapt_keys nor
 * adapt_memo_key may give it what DNS said about the key before it.
 */
START_TEST(test_memo_slot_key)
{
	struct adapt_memo m = { 0 };
	struct adapt_mem *e;
	struct store_key sk[2];
	struct store_domain d;
	struct pol_key pk[2];

	memset(sk, 0, sizeof(sk));
	memset(&d, 0, sizeof(d));
	d.name = "bad.test";
	d.keys = sk;
	d.nkeys = 1;
	snprintf(sk[0].selector, sizeof(sk[0].selector), "kt2");
	snprintf(sk[0].kid, sizeof(sk[0].kid), "1111111111111111");
	sk[0].alg = STORE_ALG_RSA;
	sk[0].bits = 2048;
	sk[0].state = STORE_PENDING;
	sk[0].slot = 2;
	sk[0].prev_ttl = 7;

	/* the memo of the slot's previous key, 9999... */
	e = adapt_memo_get(&m, "kt2");
	snprintf(e->kid, sizeof(e->kid), "9999999999999999");
	e->published = POL_PUB_REVOKED;
	e->obs.dns = POL_DNS_PUBLISHED;
	e->obs.since = 500;
	e->obs.hold = 3;
	e->cname = POL_CNAME_OK;
	e->ttlmax = 60;
	e->checked = 600;

	adapt_keys(&d, &m, pk);
	ck_assert_str_eq(pk[0].kid, "1111111111111111");
	ck_assert_int_eq(pk[0].slot, 2);
	ck_assert_int_eq(pk[0].prev_ttl, 7);
	ck_assert_int_eq(pk[0].published, POL_PUB_NONE);
	ck_assert_int_eq(pk[0].obs.dns, POL_DNS_UNKNOWN);
	ck_assert_int_eq(pk[0].obs.since, 0);
	ck_assert_int_eq(pk[0].cname, POL_CNAME_NONE);

	e = adapt_memo_key(&m, &sk[0]);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_str_eq(e->selector, "kt2");
	ck_assert_str_eq(e->kid, "1111111111111111");
	ck_assert_int_eq(e->published, POL_PUB_NONE);
	ck_assert_int_eq(e->obs.dns, POL_DNS_UNKNOWN);
	ck_assert_int_eq(e->obs.since, 0);
	ck_assert_int_eq(e->cname, POL_CNAME_NONE);
	ck_assert_int_eq(e->ttlmax, 0);
	ck_assert_int_eq(e->checked, 0);

	/* its own entry is kept, and now read back */
	e->published = POL_PUB_PUBLISHED;
	e->obs.dns = POL_DNS_PUBLISHED;
	e->obs.since = 700;
	e->cname = POL_CNAME_MISSING;
	snprintf(e->cname_bad, sizeof(e->cname_bad), "ns2 x nxdomain");
	ck_assert_ptr_eq(adapt_memo_key(&m, &sk[0]), e);
	ck_assert_int_eq(e->obs.since, 700);
	adapt_keys(&d, &m, pk);
	ck_assert_int_eq(pk[0].published, POL_PUB_PUBLISHED);
	ck_assert_int_eq(pk[0].obs.since, 700);
	ck_assert_int_eq(pk[0].cname, POL_CNAME_MISSING);
	ck_assert_str_eq(pk[0].cname_bad, "ns2 x nxdomain");

	/* a plain key's memo entry carries no CNAME state */
	sk[1] = sk[0];
	snprintf(sk[1].selector, sizeof(sk[1].selector), "kt-9");
	sk[1].slot = 0;
	e = adapt_memo_key(&m, &sk[1]);
	e->cname = POL_CNAME_MISSING;
	d.keys = &sk[1];
	adapt_keys(&d, &m, pk);
	ck_assert_int_eq(pk[0].cname, POL_CNAME_NONE);
	adapt_memo_free(&m);
}
END_TEST

/* rot_hook_record: a delegated slot's record names the target, the
 * provider zone, the customer's CNAME, the slot and the key id. */
START_TEST(test_hook_record)
{
	char dir[] = "/tmp/check_rotate_hookr.XXXXXX", out[64], cmd[160];
	char err[128], *env;
	struct rot_record r = { "publish", "bad.test", "kt2",
	    "kt2.bad.test.prov.test", "prov.test", "kt2._domainkey.bad.test",
	    "77aa01c3d4e5f607", "v=DKIM1; k=ed25519; p=abc", 2 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/env", dir);
	setenv("KEYTURN_ZONE", "stale.test", 1);
	setenv("KEYTURN_SLOT", "9", 1);
	snprintf(cmd, sizeof(cmd), "env | grep ^KEYTURN_ | sort > %s", out);
	ck_assert_msg(rot_hook_record(cmd, &r, -1, err, sizeof(err)) == 0,
	    "%s", err);
	env = slurp(out);
	ck_assert_msg(strstr(env, "KEYTURN_ACTION=publish\n") != NULL, "%s",
	    env);
	ck_assert(strstr(env, "KEYTURN_DOMAIN=bad.test\n") != NULL);
	ck_assert(strstr(env, "KEYTURN_SELECTOR=kt2\n") != NULL);
	ck_assert(strstr(env, "KEYTURN_NAME=kt2.bad.test.prov.test\n") !=
	    NULL);
	ck_assert(strstr(env, "KEYTURN_ZONE=prov.test\n") != NULL);
	ck_assert(strstr(env, "KEYTURN_CNAME=kt2._domainkey.bad.test\n") !=
	    NULL);
	ck_assert(strstr(env, "KEYTURN_SLOT=2\n") != NULL);
	ck_assert(strstr(env, "KEYTURN_KEY_ID=77aa01c3d4e5f607\n") != NULL);
	ck_assert(strstr(env, "KEYTURN_VALUE=v=DKIM1; k=ed25519; p=abc\n") !=
	    NULL);
	ck_assert(strstr(env, "KEYTURN_VALUE_STRINGS=\"v=DKIM1; k=ed25519; "
	    "p=abc\"\n") != NULL);
	ck_assert_msg(strstr(env, "stale") == NULL && strstr(env,
	    "KEYTURN_SLOT=9") == NULL, "%s", env);
	free(env);

	/* a plain key: no delegated variables, even inherited ones */
	memset(&r, 0, sizeof(r));
	r.action = "revoke";
	r.domain = "example.test";
	r.selector = "kt-1";
	r.value = "v=DKIM1; p=";
	ck_assert_msg(rot_hook_record(cmd, &r, -1, err, sizeof(err)) == 0,
	    "%s", err);
	env = slurp(out);
	ck_assert_msg(strstr(env,
	    "KEYTURN_NAME=kt-1._domainkey.example.test\n") != NULL, "%s", env);
	ck_assert_msg(strstr(env, "KEYTURN_ZONE") == NULL &&
	    strstr(env, "KEYTURN_CNAME") == NULL &&
	    strstr(env, "KEYTURN_SLOT") == NULL, "%s", env);
	free(env);
	unlink(out);
	rmdir(dir);
	unsetenv("KEYTURN_ZONE");
	unsetenv("KEYTURN_SLOT");
}
END_TEST

static Suite *
adapt_suite(void)
{
	Suite *s = suite_create("rotate_adapt");
	TCase *tc = tcase_create("keystore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_alarm_notes);
	suite_add_tcase(s, tc);
	tc = tcase_create("alarms");
	tcase_add_loop_test(tc, test_alarm_open, 0,
	    sizeof(alarm_open_cases) / sizeof(alarm_open_cases[0]));
	tcase_add_loop_test(tc, test_alarm_over, 0,
	    sizeof(alarm_over_cases) / sizeof(alarm_over_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("memo");
	tcase_add_test(tc, test_memo);
	tcase_add_loop_test(tc, test_memo_parse, 0,
	    sizeof(memo_cases) / sizeof(memo_cases[0]));
	tcase_add_test(tc, test_hook);
	tcase_add_test(tc, test_hook_record);
	tcase_add_test(tc, test_memo2);
	tcase_add_loop_test(tc, test_memo2_parse, 0,
	    sizeof(memo2_bad) / sizeof(memo2_bad[0]));
	tcase_add_test(tc, test_memo_slot_key);
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(adapt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
