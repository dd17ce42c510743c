/*
 * check_rules - the signing policy: address patterns and their index,
 * the SigningTable and SenderLogins files (errors with file:line), and
 * decide_message over a snapshot made by hand.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf.h"
#include "decide.h"
#include "rules.h"
#include "senders.h"
#include "signtable.h"
#include "snapshot.h"
#include "table.h"
#include "xmalloc.h"

static const struct pattern_case {
	const char *pat;
	const char *key;	/* NULL: refused */
	const char *why;	/* part of the refusal */
} pattern_cases[] = {
	{ "alice@Example.COM", "alice@example.com", NULL },
	{ "example.com", "example.com", NULL },
	{ "*@example.com", "example.com", NULL },
	{ ".example.com", ".example.com", NULL },
	{ "*.example.com", ".example.com", NULL },
	{ "*@.example.com", ".example.com", NULL },
	{ "*@*.example.com", ".example.com", NULL },
	{ "*", NULL, "matches every domain" },
	{ "*@*", NULL, "matches every domain" },
	{ "*@", NULL, "matches every domain" },
	{ "*.*", NULL, "matches every domain" },
	{ "a*@example.com", NULL, "'*' stands alone" },
	{ "@example.com", NULL, "no local part" },
	{ "*@ex*ample.com", NULL, "'*'" },
	{ "*@exa mple.com", NULL, "" },
	{ ".com", NULL, "whole top-level domain" },
	{ "*@*.com", NULL, "whole top-level domain" },
	{ "*.com", NULL, "whole top-level domain" },
	{ "com", "com", NULL },
	{ "user@", NULL, "" },
	{ "example..com", NULL, "" },
};

START_TEST(test_pattern)
{
	const struct pattern_case *tc = &pattern_cases[_i];
	char why[256] = "", *key;

	key = table_pattern(tc->pat, why, sizeof(why));
	if (tc->key == NULL) {
		ck_assert_msg(key == NULL, "%s accepted as %s", tc->pat, key);
		ck_assert_msg(strstr(why, tc->why) != NULL, "%s: %s", tc->pat,
		    why);
	} else {
		ck_assert_msg(key != NULL, "%s: %s", tc->pat, why);
		ck_assert_str_eq(key, tc->key);
	}
	free(key);
}
END_TEST

static const struct lookup_case {
	const char *local, *domain;
	size_t want;
} lookup_cases[] = {
	{ "alice", "example.com", 0 },		/* the address rule */
	{ "bob", "example.com", 1 },
	{ "bob", "sub.example.com", 3 },	/* not its own subdomain */
	{ "bob", "a.b.sub.example.com", 2 },
	{ "bob", "other.example.com", 3 },
	{ "bob", "EXAMPLE.org", 4 },
	{ "Alice", "example.org", 4 },
	{ NULL, "example.org", 4 },
	{ "bob", "x.example.org", TABLE_NONE },
	{ "bob", "notexample.com", TABLE_NONE },
	{ "bob", "com", TABLE_NONE },
};

/* index - the rules in order: first match wins */
static void
index_fixture(struct table_index *ix)
{
	static const char *pats[] = { "alice@example.com", "example.com",
	    ".sub.example.com", ".example.com", "*@example.org" };
	char why[128];
	size_t i;

	memset(ix, 0, sizeof(*ix));
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		table_index_add(ix, table_pattern(pats[i], why, sizeof(why)),
		    i);
	table_index_seal(ix);
}

START_TEST(test_lookup)
{
	const struct lookup_case *tc = &lookup_cases[_i];
	struct table_index ix;

	index_fixture(&ix);
	ck_assert_msg(table_index_lookup(&ix, tc->local, tc->domain) ==
	    tc->want, "case %d: %zu", _i, table_index_lookup(&ix, tc->local,
	    tc->domain));
	table_index_free(&ix);
}
END_TEST

/* The reports of one load, joined by newlines. */
static char reports[4096];

static void
report(const char *msg, void *arg)
{
	(void)arg;
	strncat(reports, msg, sizeof(reports) - strlen(reports) - 2);
	strcat(reports, "\n");
}

/* tmpfile_with - a file holding text; its path (static) */
static const char *
tmpfile_with(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/check_rules.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(test_signtable_load)
{
	const struct signtable_rule *r;
	struct signtable *t;
	const char *p;

	p = tmpfile_with("# comment\n"
	    "*@sub.example.com  example.com   # the parent signs\n"
	    "\n"
	    "alias.test example.com, platform.test\n"
	    ".example.net example.net\n");
	reports[0] = '\0';
	t = signtable_load(p, report, NULL);
	ck_assert_msg(t != NULL, "%s", reports);
	ck_assert_uint_eq(t->nrules, 3);
	r = signtable_lookup(t, "bob", "sub.example.com");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->lineno, 2);
	ck_assert_str_eq(r->domains[0], "example.com");
	r = signtable_lookup(t, "x", "alias.test");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->ndomains, 2);
	ck_assert_str_eq(r->domains[1], "platform.test");
	ck_assert_ptr_null(signtable_lookup(t, "x", "example.net"));
	ck_assert_ptr_nonnull(signtable_lookup(t, "x", "mx.example.net"));
	signtable_free(t);
	unlink(p);
}
END_TEST

static const struct bad_case {
	const char *text;
	const char *want;	/* in the reports */
} bad_cases[] = {
	{ "ok.test ok.test\n* example.com\n", ":2: \"*\" matches every" },
	{ "*@* example.com\n", ":1: \"*@*\" matches every" },
	{ "a.test\n", ":1: \"a.test\" has no value" },
	{ "a.test b.test,,c.test\n", ":1: empty item" },
	{ "a.test b.test c.test\n", ":1: \"b.test c.test\": items are "
	    "separated by commas" },
	{ "a.test b..test\n", ":1: signing domain \"b..test\"" },
	{ "a.test b.test,b.test\n", ":1: signing domain b.test listed twice" },
	{ "a.test b.test\nA.test c.test\n", ":2: pattern given again: this "
	    "rule is never used (first at line 1)" },
	{ "a.test 1.t,2.t,3.t,4.t,5.t,6.t,7.t,8.t,9.t\n", ":1: 9 signing "
	    "domains; at most 8" },
};

START_TEST(test_signtable_bad)
{
	const struct bad_case *tc = &bad_cases[_i];
	const char *p = tmpfile_with(tc->text);

	reports[0] = '\0';
	ck_assert_ptr_null(signtable_load(p, report, NULL));
	ck_assert_msg(strstr(reports, p) != NULL && strstr(reports,
	    tc->want) != NULL, "case %d: %s", _i, reports);
	unlink(p);
}
END_TEST

START_TEST(test_senders)
{
	const struct senders_login *l;
	struct senders *t;
	const char *p;

	p = tmpfile_with("alice a.example, .a.example\n"
	    "*@b.example b.example\n"
	    "carol@b.example carol@c.example\n");
	reports[0] = '\0';
	t = senders_load(p, report, NULL);
	ck_assert_msg(t != NULL, "%s", reports);
	ck_assert_ptr_nonnull(l = senders_find(t, "ALICE"));
	ck_assert(senders_allows(l, "x", "a.example"));
	ck_assert(senders_allows(l, "x", "mx.a.example"));
	ck_assert(!senders_allows(l, "x", "b.example"));
	/* *@b.example covers the logins of b.example without a line */
	ck_assert_ptr_nonnull(l = senders_find(t, "dave@B.example"));
	ck_assert_int_eq(l->lineno, 2);
	ck_assert(senders_allows(l, "anyone", "b.example"));
	/* a login's own line wins over its domain's */
	ck_assert_ptr_nonnull(l = senders_find(t, "carol@b.example"));
	ck_assert_int_eq(l->lineno, 3);
	ck_assert(!senders_allows(l, "carol", "b.example"));
	ck_assert(senders_allows(l, "carol", "c.example"));
	ck_assert(!senders_allows(l, "other", "c.example"));
	ck_assert_ptr_null(senders_find(t, "mallory"));
	ck_assert_ptr_null(senders_find(t, "mallory@c.example"));
	senders_free(t);
	unlink(p);

	p = tmpfile_with("alice a.example\n* a.example\nalice b.example\n"
	    "bob *\n");
	reports[0] = '\0';
	ck_assert_ptr_null(senders_load(p, report, NULL));
	ck_assert_msg(strstr(reports, ":2: login \"*\"") != NULL, "%s",
	    reports);
	ck_assert_msg(strstr(reports, ":3: login given again (first at line "
	    "1)") != NULL, "%s", reports);
	ck_assert_msg(strstr(reports, ":4: \"*\" matches every") != NULL,
	    "%s", reports);
	unlink(p);
}
END_TEST

/* addkey - an active Ed25519 key (the decision does not look inside) */
static void
addkey(struct snap_domain *d, const char *sel)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(snapshot_add_key(d, sel, DKIM_ALG_ED25519_SHA256, k,
	    0), 0);
	snapshot_add_selector(d, sel);
	EVP_PKEY_free(k);
}

/*
 * policy_fixture - example.com (e1; old selector e0), platform.test (p1),
 * nokey.test (no active key); SigningTable: sub.example.com and
 * alias.test to example.com, missing.test to gone.test; SenderLogins:
 * alice owns example.com and its subdomains; PlatformDomain with platform
 */
static struct snapshot *
policy_fixture(int platform, int mismatch)
{
	struct kt_conf *c = conf_defaults();
	struct snap_domain *d;
	struct snapshot *s;
	struct rules *r;
	char err[128];

	c->signing_table = xstrdup(tmpfile_with("*@sub.example.com "
	    "example.com\nalias.test example.com\nmissing.test gone.test\n"
	    "nokey.example nokey.test\n"));
	c->sender_logins = xstrdup(tmpfile_with("alice example.com, "
	    ".example.com, alias.test\n"));
	c->sender_mismatch = mismatch;
	if (platform)
		c->platform_domain = xstrdup("platform.test");
	reports[0] = '\0';
	r = rules_load(c, report, NULL);
	ck_assert_msg(r != NULL, "%s", reports);
	unlink(c->signing_table);
	unlink(c->sender_logins);
	s = snapshot_new(c, r, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	d = snapshot_add_domain(s, "example.com");
	addkey(d, "e1");
	snapshot_add_selector(d, "e0");
	addkey(snapshot_add_domain(s, "platform.test"), "p1");
	snapshot_add_domain(s, "nokey.test");
	snapshot_seal(s);
	return s;
}

static const struct policy_case {
	int platform, mismatch;
	const char *from;	/* "local@domain"; NULL: no From */
	const char *login;
	const char *sig;	/* a DKIM-Signature already there */
	enum decide_verdict verdict;
	const char *want;	/* "d=s,d=s" signed, else part of why */
	int rule;
} policy_cases[] = {
	{ 0, 0, "bob@example.com", NULL, NULL, DECIDE_SIGN, "example.com=e1",
	    0 },
	{ 0, 0, "bob@sub.example.com", NULL, NULL, DECIDE_SIGN,
	    "example.com=e1", 1 },
	{ 0, 0, "bob@alias.test", NULL, NULL, DECIDE_SIGN, "example.com=e1",
	    2 },
	{ 1, 0, "bob@alias.test", NULL, NULL, DECIDE_SIGN,
	    "example.com=e1,platform.test=p1", 2 },
	{ 1, 0, "bob@platform.test", NULL, NULL, DECIDE_SIGN,
	    "platform.test=p1", 0 },
	{ 1, 0, "bob@else.test", NULL, NULL, DECIDE_SIGN, "platform.test=p1",
	    -1 },
	{ 0, 0, "bob@else.test", NULL, NULL, DECIDE_PASS, "From domain "
	    "else.test is not in the keystore or the SigningTable", -1 },
	{ 0, 0, NULL, NULL, NULL, DECIDE_PASS, "no From field", -1 },
	{ 0, 0, "bob@missing.test", NULL, NULL, DECIDE_TEMPFAIL, "signing "
	    "domain gone.test is not in the keystore", 3 },
	{ 0, 0, "bob@nokey.example", NULL, NULL, DECIDE_TEMPFAIL, "domain "
	    "nokey.test has no active key", 4 },
	/* SenderLogins */
	{ 0, 0, "alice@sub.example.com", "alice", NULL, DECIDE_SIGN,
	    "example.com=e1", 1 },
	{ 0, CONF_MISMATCH_NONE, "ceo@platform.test", "alice", NULL,
	    DECIDE_PASS, "login alice may not sign for From "
	    "ceo@platform.test", -1 },
	{ 1, CONF_MISMATCH_REJECT, "ceo@platform.test", "alice", NULL,
	    DECIDE_REJECT, "login alice may not sign", -1 },
	{ 0, CONF_MISMATCH_TEMPFAIL, "bob@example.com", "mallory", NULL,
	    DECIDE_TEMPFAIL, "login mallory is not in SenderLogins", -1 },
	/* never twice: a key of ours in any state, any case */
	{ 0, 0, "bob@example.com", NULL, "v=1; d=Example.com; s=E0; b=x",
	    DECIDE_PASS, "already signed by this keystore (d=Example.com "
	    "s=E0)", -1 },
	{ 0, 0, "bob@example.com", NULL, "v=1; d=example.com; s=zz; b=x",
	    DECIDE_SIGN, "example.com=e1", 0 },
	{ 0, 0, "bob@example.com", NULL, "v=1; d=other.test; s=e1; b=x",
	    DECIDE_SIGN, "example.com=e1", 0 },
	{ 0, 0, "bob@example.com", NULL, "v=1; d = example.com ;\n\t"
	    "s=\n e1 ; b=x", DECIDE_PASS, "already signed by this keystore "
	    "(d=example.com s=e1)", -1 },
	/* only the domain that signed already is left out */
	{ 1, 0, "bob@alias.test", NULL, "d=example.com; s=e1", DECIDE_SIGN,
	    "platform.test=p1", 2 },
	/* a signature of ours does not get a login past SenderLogins */
	{ 1, CONF_MISMATCH_REJECT, "ceo@platform.test", "alice",
	    "v=1; d=platform.test; s=p1; b=x", DECIDE_REJECT,
	    "login alice may not sign for From ceo@platform.test", -1 },
	/* authenticated without a name owns nothing */
	{ 0, CONF_MISMATCH_REJECT, "bob@example.com", "", NULL,
	    DECIDE_REJECT, "authenticated without a login name", -1 },
};

START_TEST(test_policy)
{
	const struct policy_case *tc = &policy_cases[_i];
	struct snapshot *s = policy_fixture(tc->platform, tc->mismatch);
	struct dkim_value v;
	struct decide_msg m;
	struct decide_out o;
	char local[64], got[256] = "", *at;
	size_t i;

	memset(&m, 0, sizeof(m));
	if (tc->from != NULL) {
		snprintf(local, sizeof(local), "%s", tc->from);
		at = strchr(local, '@');
		*at = '\0';
		m.from_local = local;
		m.from_domain = at + 1;
	} else
		m.from_err = "no From field";
	m.login = tc->login != NULL && tc->login[0] != '\0' ? tc->login :
	    NULL;
	m.authenticated = tc->login != NULL;
	if (tc->sig != NULL) {
		v.p = tc->sig;
		v.len = strlen(tc->sig);
		m.sigs = &v;
		m.nsigs = 1;
	}
	decide_message(s, &m, 1000, &o);
	ck_assert_msg(o.verdict == tc->verdict, "case %d: %s (%s)", _i,
	    decide_verdict_name(o.verdict), o.why);
	if (tc->verdict == DECIDE_SIGN) {
		for (i = 0; i < o.nsign; i++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
			    "%s%s=%s", i ? "," : "", o.sign[i].domain,
			    o.sign[i].selector);
		ck_assert_msg(strcmp(got, tc->want) == 0, "case %d: %s", _i,
		    got);
		ck_assert_msg(o.rule == tc->rule, "case %d: rule %d", _i,
		    o.rule);
	} else
		ck_assert_msg(strstr(o.why, tc->want) != NULL, "case %d: %s",
		    _i, o.why);
	ck_assert_int_eq(o.mismatch, tc->login != NULL && tc->verdict !=
	    DECIDE_SIGN);
	decide_release(&o);
	ck_assert_uint_eq(o.nheld, 0);
	snapshot_unref(s);
}
END_TEST

/* a header the engine refused: under SenderLogins, a mismatch */
START_TEST(test_unreadable)
{
	struct snapshot *s = policy_fixture(0, CONF_MISMATCH_REJECT);
	struct decide_msg m;
	struct decide_out o;

	memset(&m, 0, sizeof(m));
	decide_unreadable(s, &m, "header block too long", &o);
	ck_assert_int_eq(o.verdict, DECIDE_PASS);
	ck_assert_str_eq(o.why, "header block too long");
	decide_release(&o);
	m.authenticated = 1;
	m.login = "alice";
	decide_unreadable(s, &m, "header block too long", &o);
	ck_assert_int_eq(o.verdict, DECIDE_REJECT);
	ck_assert(o.mismatch);
	ck_assert_ptr_nonnull(strstr(o.why, "the From of login alice cannot "
	    "be checked"));
	decide_release(&o);
	snapshot_unref(s);
}
END_TEST

/*
 * A decision holds the domains it signs with: the snapshot may go (a
 * reload) before the signatures are made, and their names and keys stay
 * valid until decide_release.
 */
START_TEST(test_decide_holds)
{
	struct snapshot *s = policy_fixture(1, 0);
	struct decide_msg m;
	struct decide_out o;

	memset(&m, 0, sizeof(m));
	m.from_local = "bob";
	m.from_domain = "alias.test";
	decide_message(s, &m, 1000, &o);
	ck_assert_int_eq(o.verdict, DECIDE_SIGN);
	ck_assert_uint_eq(o.nsign, 2);
	ck_assert_uint_ge(o.nheld, 2);
	snapshot_unref(s);		/* the last reference but o's */
	ck_assert_str_eq(o.sign[0].domain, "example.com");
	ck_assert_str_eq(o.sign[0].selector, "e1");
	ck_assert_str_eq(o.sign[1].domain, "platform.test");
	ck_assert_str_eq(o.sign[1].selector, "p1");
	ck_assert_int_eq(EVP_PKEY_get_id(o.sign[0].key), EVP_PKEY_ED25519);
	ck_assert_int_eq(EVP_PKEY_get_id(o.sign[1].key), EVP_PKEY_ED25519);
	decide_release(&o);
	ck_assert_uint_eq(o.nheld, 0);
	decide_release(&o);		/* twice is harmless */

	/* a refusal holds what it names too, and releases it */
	s = policy_fixture(0, 0);
	m.from_domain = "nokey.example";
	decide_message(s, &m, 1000, &o);
	ck_assert_int_eq(o.verdict, DECIDE_TEMPFAIL);
	snapshot_unref(s);
	decide_release(&o);
}
END_TEST

/* a table that changes is noticed; one that fails stays tried */
START_TEST(test_rules_changed)
{
	struct kt_conf *c = conf_defaults();
	struct rules *r;
	FILE *f;

	c->signing_table = xstrdup(tmpfile_with("a.test a.test\n"));
	r = rules_load(c, report, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert(!rules_changed(r, c));
	f = fopen(c->signing_table, "a");
	fputs("* a.test\n", f);
	fclose(f);
	ck_assert(rules_changed(r, c));
	reports[0] = '\0';
	ck_assert_ptr_null(rules_load(c, report, NULL));
	rules_tried(r, c);
	ck_assert(!rules_changed(r, c));
	unlink(c->signing_table);
	ck_assert(rules_changed(r, c));
	rules_unref(r);
	conf_free(c);
}
END_TEST

static Suite *
rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_pattern, 0,
	    sizeof(pattern_cases) / sizeof(pattern_cases[0]));
	tcase_add_loop_test(tc, test_lookup, 0,
	    sizeof(lookup_cases) / sizeof(lookup_cases[0]));
	tcase_add_test(tc, test_signtable_load);
	tcase_add_loop_test(tc, test_signtable_bad, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_senders);
	tcase_add_loop_test(tc, test_policy, 0,
	    sizeof(policy_cases) / sizeof(policy_cases[0]));
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_decide_holds);
	tcase_add_test(tc, test_rules_changed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rules_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
