/*
 * check_engine_from - the From domain (milter/from.c), table-driven
 *
 * Each From value either gives a lowercased domain or DKIM_EFROM with a
 * message containing the expected words.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"

static const struct fcase {
	const char	*value;
	const char	*domain;	/* NULL: must fail */
	const char	*why;		/* a word of the error */
} fcases[] = {
	{ "joe@example.com", "example.com", NULL },
	{ "Joe@EXAMPLE.Com", "example.com", NULL },
	{ "<joe@example.com>", "example.com", NULL },
	{ "Joe SixPack <joe@football.example.com>", "football.example.com", NULL },
	{ "\"Joe Q. Public\" <john.q.public@example.com>", "example.com", NULL },
	{ "\"Six, Joe\" <joe@example.com>", "example.com", NULL },
	{ "\"quoted \\\" escaped\" <a@b.example>", "b.example", NULL },
	{ "\"local part\"@example.org", "example.org", NULL },
	{ "\"a@b\"@example.org", "example.org", NULL },
	{ "joe@example.com (Joe Six)", "example.com", NULL },
	{ "(comment) joe@example.com", "example.com", NULL },
	{ "Joe (nested (comment (deep)) here) <joe@example.com>", "example.com", NULL },
	{ "Joe <joe@example.com> (trailing \\) comment)", "example.com", NULL },
	{ "Joe\n\t<joe@example.com>", "example.com", NULL },
	{ "Joe\r\n <joe@\r\n example.com>", "example.com", NULL },
	{ "  Joe <  joe@example.com  >  ", "example.com", NULL },
	{ "Mary Smith <mary@x.test>", "x.test", NULL },
	{ "Joe Q. Public <john@example.com>", "example.com", NULL },
	{ "J\xc3\xb6ran \xc3\x91\xc3\xba\xc3\xb1""ez <joran@example.org>", "example.org", NULL },
	{ "=?utf-8?q?J=C3=B6ran?= <joran@example.org>", "example.org", NULL },
	{ "<@route.example,@other.example:joe@example.com>", "example.com", NULL },
	{ "joe @ example . com", "example.com", NULL },
	{ "joe@(comment)example.com", "example.com", NULL },
	{ "joe@sub-domain.example.co.uk", "sub-domain.example.co.uk", NULL },
	{ "first.last+tag@example.com", "example.com", NULL },
	{ ",joe@example.com,", "example.com", NULL },
	{ "Bad Bytes \xff\xfe <bad@example.org>", "example.org", NULL },
	/* refused */
	{ "", NULL, "no address" },
	{ "   ", NULL, "no address" },
	{ "(only a comment)", NULL, "no address" },
	{ "a@example.com, b@example.org", NULL, "several" },
	{ "A <a@example.com>, B <b@example.org>", NULL, "several" },
	{ "Group: a@example.com, b@example.com;", NULL, "group" },
	{ "undisclosed-recipients:;", NULL, "group" },
	{ "joe", NULL, "@" },
	{ "Joe Six", NULL, "@" },
	{ "Joe <joe>", NULL, "@" },
	{ "Joe <joe@example.com", NULL, ">" },
	{ "Joe <>", NULL, "empty" },
	{ "joe@", NULL, "domain" },
	{ "joe@[192.0.2.1]", NULL, "literal" },
	{ "joe@example..com", NULL, "label" },
	{ "joe@.example.com", NULL, "domain" },
	{ "joe@example.com.", NULL, "label" },
	{ "Joe (unterminated <joe@example.com>", NULL, "comment" },
	{ "\"unterminated <joe@example.com>", NULL, "quoted" },
	{ "joe@exa!mple.com", NULL, "host name" },
	{ "joe@-example.com", NULL, "host name" },
	{ "joe@example-.com", NULL, "host name" },
	/* Unicode domains: the A-label form (IDNA2008, input taken in NFC) */
	{ "joe@b\xc3\xbc""cher.example", "xn--bcher-kva.example", NULL },
	{ "J\xc3\xb6rg <joerg@b\xc3\xbc""cher.EXAMPLE>",
	    "xn--bcher-kva.example", NULL },
	{ "joe@bu\xcc\x88""cher.example", "xn--bcher-kva.example", NULL },
	{ "joe@mail.\xe4\xbe\x8b\xe5\xad\x90.test",
	    "mail.xn--fsqu00a.test", NULL },
	{ "joe@stra\xc3\x9f""e.example", "xn--strae-oqa.example", NULL },
	{ "joe@b\xff""cher.example", NULL, "internationalized" },
	{ "joe@a\xe2\x98\x83.example", NULL, "internationalized" },
	/* not U-labels: no mapping to another name */
	{ "joe@B\xc3\x9c""CHER.example", NULL, "internationalized" },
	{ "a@\xef\xbd\x85\xef\xbd\x98\xef\xbd\x81\xef\xbd\x8d"
	    "\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x85.com", NULL,
	    "internationalized" },
	{ "a@ex\xc2\xad""ample.com", NULL, "internationalized" },
	{ "a@example\xe3\x80\x82""com", NULL, "internationalized" },
	{ "a@b\xc3\xbc""cher.ex\xe2\x80\x8b""ample", NULL,
	    "internationalized" },
	{ "joe@example.com junk", NULL, "unexpected" },
	{ "joe@example.com <x@y.z>", NULL, "unexpected" },
	{ "<joe@example.com> <x@y.z>", NULL, "unexpected" },
	{ "joe@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	    NULL, "63" },
	{ "\\", NULL, "word" },
	{ "(((((((((((", NULL, "comment" },
	{ "<<<<>>>>", NULL, "" },
	{ "@example.com", NULL, "" },
};

/* Each From value gives its domain, or fails for its reason. */
START_TEST(test_from)
{
	const struct fcase *c = &fcases[_i];
	char	 dom[256], err[256] = "";
	enum dkim_status st;

	st = dkim_from_domain(c->value, strlen(c->value), dom, sizeof(dom),
	    err, sizeof(err));
	if (c->domain != NULL) {
		ck_assert_msg(st == DKIM_OK, "\"%s\": %s", c->value, err);
		ck_assert_str_eq(dom, c->domain);
		return;
	}
	ck_assert_msg(st == DKIM_EFROM, "\"%s\" accepted: %s", c->value,
	    st == DKIM_OK ? dom : "?");
	ck_assert_msg(strncmp(err, "From: ", 6) == 0 && strlen(err) > 6 &&
	    strstr(err, c->why) != NULL, "\"%s\": message \"%s\" lacks "
	    "\"%s\"", c->value, err, c->why);
}
END_TEST

/* Deep nesting, long input, NUL bytes, a short buffer: errors, no crash. */
START_TEST(test_from_hostile)
{
	char	*v, dom[256], err[128];
	size_t	 n = 200000, i;

	v = malloc(n + 32);
	ck_assert(v != NULL);
	for (i = 0; i < n; i++)
		v[i] = '(';
	ck_assert_int_eq(dkim_from_domain(v, n, dom, sizeof(dom), err,
	    sizeof(err)), DKIM_EFROM);
	for (i = 0; i < n; i++)
		v[i] = i < n / 2 ? '(' : ')';
	memcpy(v + n, "a@b.example", 11);
	ck_assert_int_eq(dkim_from_domain(v, n + 11, dom, sizeof(dom), err,
	    sizeof(err)), DKIM_OK);
	ck_assert_str_eq(dom, "b.example");
	for (i = 0; i < n; i++)
		v[i] = 'a';
	memcpy(v + n, "@b.example", 10);
	ck_assert_int_eq(dkim_from_domain(v, n + 10, dom, sizeof(dom), err,
	    sizeof(err)), DKIM_OK);
	ck_assert_int_eq(dkim_from_domain("a@b\0c.example", 13, dom,
	    sizeof(dom), err, sizeof(err)), DKIM_EFROM);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	ck_assert_int_eq(dkim_from_domain("a@example.com", 13, dom, 5, err,
	    sizeof(err)), DKIM_EFROM);
	free(v);
}
END_TEST

/* from_suite - every case of this file */
static Suite *
from_suite(void)
{
	Suite	*s = suite_create("from");
	TCase	*tc = tcase_create("from");

	tcase_add_loop_test(tc, test_from, 0, sizeof(fcases) /
	    sizeof(fcases[0]));
	tcase_add_test(tc, test_from_hostile);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(from_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
