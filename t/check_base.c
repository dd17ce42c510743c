/*
 * check_base - table-driven tests of tag=value parsing and durations
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "tagvalue.h"

static const struct tv_case {
	const char *in;
	int ok;
	const char *tag;	/* a tag to look up */
	const char *want;	/* its expected value */
	size_t n;		/* expected number of tags */
} tv_cases[] = {
	{ "v=DKIM1; k=rsa; p=MIIB", 1, "k", "rsa", 3 },
	{ "v=DKIM1; p=", 1, "p", "", 2 },
	{ "v=DKIM1;p=abc;", 1, "p", "abc", 2 },
	{ " a = b c ;\r\n\tx=y", 1, "a", "b c", 2 },
	{ "b=AB\r\n\t CD", 1, "b", "AB\r\n\t CD", 1 },
	{ "v=1; h=from:to:subject", 1, "h", "from:to:subject", 2 },
	{ "t=1; t=2", 0, NULL, NULL, 0 },
	{ "=x", 0, NULL, NULL, 0 },
	{ "1a=x", 0, NULL, NULL, 0 },
	{ "a", 0, NULL, NULL, 0 },
	{ "a=b;;c=d", 0, NULL, NULL, 0 },
	{ "a=\x01", 0, NULL, NULL, 0 },
	{ "", 0, NULL, NULL, 0 },
};

START_TEST(test_tv_parse)
{
	const struct tv_case *tc = &tv_cases[_i];
	struct tv_list l;
	char err[128];
	int r;

	r = tv_parse(tc->in, strlen(tc->in), &l, err, sizeof(err));
	if (!tc->ok) {
		ck_assert_msg(r == -1, "accepted \"%s\"", tc->in);
		ck_assert(err[0] != '\0');
		return;
	}
	ck_assert_msg(r == 0, "\"%s\": %s", tc->in, err);
	ck_assert_uint_eq(l.n, tc->n);
	ck_assert_str_eq(tv_get(&l, tc->tag), tc->want);
	ck_assert_ptr_null(tv_get(&l, "zz"));
	tv_free(&l);
}
END_TEST

START_TEST(test_tv_strip)
{
	char *s = tv_strip_fws(" AB\r\n\tC D ");

	ck_assert_str_eq(s, "ABCD");
	free(s);
}
END_TEST

static const struct dur_case {
	const char *in;
	long long secs;		/* -1: must be refused */
	const char *fmt;
} dur_cases[] = {
	{ "30s", 30, "30s" }, { "15m", 900, "15m" }, { "12h", 43200, "12h" },
	{ "120d", 10368000, "120d" }, { "2w", 1209600, "2w" },
	{ "90", 90, "90s" }, { "7d", 604800, "1w" }, { "0", 0, "0s" },
	{ "", -1, NULL }, { "d", -1, NULL }, { "5x", -1, NULL },
	{ "5dd", -1, NULL }, { "-5s", -1, NULL },
	{ "99999999999999999999", -1, NULL }, { "9999999999999999w", -1, NULL },
};

START_TEST(test_duration)
{
	const struct dur_case *dc = &dur_cases[_i];
	const char *errstr = NULL;
	long long secs = -2;
	char buf[32];
	int r;

	r = duration_parse(dc->in, &secs, &errstr);
	if (dc->secs == -1) {
		ck_assert_msg(r == -1, "accepted \"%s\"", dc->in);
		ck_assert_ptr_nonnull(errstr);
		return;
	}
	ck_assert_msg(r == 0, "\"%s\": %s", dc->in, errstr);
	ck_assert_int_eq(secs, dc->secs);
	ck_assert_str_eq(duration_format(secs, buf, sizeof(buf)), dc->fmt);
}
END_TEST

static Suite *
base_suite(void)
{
	Suite *s = suite_create("base");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_tv_parse, 0,
	    sizeof(tv_cases) / sizeof(tv_cases[0]));
	tcase_add_test(tc, test_tv_strip);
	tcase_add_loop_test(tc, test_duration, 0,
	    sizeof(dur_cases) / sizeof(dur_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(base_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
