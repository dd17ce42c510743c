/*
 * check_rotate_recheck - which keys a rotation pass asks DNS about
 *
 * recheck_wanted for every state and DNS summary; the re-check schedule
 * of confirmed records: a stable phase per key, due exactly once per
 * interval with passes at any pace, and spread over the interval, also
 * for a keystore whose keys were all checked at the same moment. A
 * ready, active or retiring slot key of a delegated domain is asked about
 * every pass while the customer's CNAME is not OK, like a record that is
 * not confirmed.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "recheck.h"

#define DAY	86400
#define T0	1795000000	/* some moment in 2026 */

START_TEST(test_phase)
{
	long long p = recheck_phase("example.com", "kt-202611-ed", DAY);
	char sel[32];
	int i, same = 0;

	ck_assert(p >= 0 && p < DAY);
	ck_assert_int_eq(recheck_phase("example.com", "kt-202611-ed", DAY), p);
	/* DNS names are compared without case */
	ck_assert_int_eq(recheck_phase("Example.COM", "KT-202611-ED", DAY), p);
	ck_assert_int_eq(recheck_phase("example.com", "kt", 1), 0);
	ck_assert_int_eq(recheck_phase("example.com", "kt", 0), 0);
	/* the two names are not simply joined */
	ck_assert(recheck_phase("a.example", "b", DAY) !=
	    recheck_phase("a.exampl", "eb", DAY));
	for (i = 0; i < 100; i++) {
		snprintf(sel, sizeof(sel), "kt-%d", i);
		same += recheck_phase("example.com", sel, DAY) == p;
	}
	ck_assert_int_le(same, 1);
}
END_TEST

START_TEST(test_next_due)
{
	const char *d = "example.com", *s = "kt-202611-ed";
	long long p = recheck_phase(d, s, DAY);
	time_t at = T0 - (T0 % DAY) + p;	/* a phase point */

	ck_assert_int_eq(recheck_next(d, s, at, DAY), at + DAY);
	ck_assert_int_eq(recheck_next(d, s, at - 1, DAY), at);
	ck_assert_int_eq(recheck_next(d, s, at + 1, DAY), at + DAY);
	ck_assert_int_eq(recheck_next(d, s, at - DAY + 1, DAY), at);
	/* before the phase of the epoch's first interval */
	ck_assert_int_eq(recheck_next(d, s, 0, DAY), p > 0 ? p : DAY);
	ck_assert_int_eq(recheck_next(d, s, at, 0), at);

	ck_assert_int_eq(recheck_due(d, s, at, at + DAY - 1, DAY), 0);
	ck_assert_int_eq(recheck_due(d, s, at, at + DAY, DAY), 1);
	ck_assert_int_eq(recheck_due(d, s, at - 1, at, DAY), 1);
	ck_assert_int_eq(recheck_due(d, s, at, at, DAY), 0);
	/* never checked, a clock set back, no interval: due */
	ck_assert_int_eq(recheck_due(d, s, 0, at, DAY), 1);
	ck_assert_int_eq(recheck_due(d, s, at + 10, at, DAY), 1);
	ck_assert_int_eq(recheck_due(d, s, at, at, 0), 1);
}
END_TEST

/*
 * Passes every `pace` seconds for 10 days; each key is checked when due.
 * After its first check, every key is checked once per interval, at the
 * first pass after its phase point: the gaps are the interval give or
 * take one pace, and the count is one per interval.
 */
START_TEST(test_once_per_interval)
{
	static const long long paces[] = { 7, 60, 600, 3600, 7 * 3600 };
	long long pace = paces[_i];
	time_t last[50], first[50], prev, now;
	int count[50], k;
	char sel[50][32];

	memset(last, 0, sizeof(last));
	memset(count, 0, sizeof(count));
	for (k = 0; k < 50; k++)
		snprintf(sel[k], sizeof(sel[k]), "kt-%d", k);
	for (now = T0; now < T0 + 10 * DAY; now += pace) {
		for (k = 0; k < 50; k++) {
			if (!recheck_due("example.com", sel[k], last[k], now,
			    DAY))
				continue;
			prev = last[k];
			if (count[k]++ == 0)
				first[k] = now;
			else if (count[k] > 2)
				ck_assert_msg(now - prev > DAY - pace &&
				    now - prev < DAY + pace, "%s: %lld s "
				    "after the last check (pace %lld)", sel[k],
				    (long long)(now - prev), pace);
			last[k] = now;
		}
	}
	/* the first pass, then one per phase point of the 10 days */
	for (k = 0; k < 50; k++)
		ck_assert_msg(count[k] >= 10 && count[k] <= 11 &&
		    first[k] == T0, "key %d: %d checks", k, count[k]);
}
END_TEST

/*
 * The phases of many keys fill the interval evenly, and a keystore whose
 * records were all checked at one moment (an upgrade, a memo lost) is
 * re-checked a share at a time: every pass of a day asks about
 * N * RotationInterval / RecheckInterval keys, give or take, never about
 * all of them at once.
 */
START_TEST(test_spread)
{
	enum { N = 14400, PACE = 600 };
	int bucket[24] = { 0 }, i, per, total = 0;
	char dom[32];
	time_t now;

	for (i = 0; i < 24000; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i);
		bucket[recheck_phase(dom, "kt-202611-ed", DAY) / 3600]++;
	}
	for (i = 0; i < 24; i++)
		ck_assert_msg(bucket[i] > 800 && bucket[i] < 1200,
		    "hour %d: %d of 24000 phases", i, bucket[i]);
	for (now = T0 + PACE; now <= T0 + DAY; now += PACE) {
		per = 0;
		for (i = 0; i < N; i++) {
			snprintf(dom, sizeof(dom), "d%d.example", i);
			per += recheck_due(dom, "kt-202611-ed", T0, now, DAY) &&
			    !recheck_due(dom, "kt-202611-ed", T0, now - PACE,
			    DAY);
		}
		/* 100 expected per pass */
		ck_assert_msg(per > 50 && per < 150, "%d keys due at +%lld s",
		    per, (long long)(now - T0));
		total += per;
	}
	ck_assert_int_eq(total, N);
}
END_TEST

/* One key's state and memo, and whether a pass at T0 asks about it. */
static const struct {
	enum store_state state;
	enum pol_pub	 pub;
	enum pol_dns	 dns;
	time_t		 checked;
	int		 want;
} wanted_cases[] = {
	/* pending: always */
	{ STORE_PENDING, POL_PUB_NONE, POL_DNS_UNKNOWN, 0, 1 },
	{ STORE_PENDING, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 - 1, 1 },
	{ STORE_PENDING, POL_PUB_PUBLISHED, POL_DNS_ABSENT, T0 - 1, 1 },
	/* revoked: until the empty record is handed over and served */
	{ STORE_REVOKED, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 - 1, 1 },
	{ STORE_REVOKED, POL_PUB_REVOKED, POL_DNS_PUBLISHED, T0 - 1, 1 },
	{ STORE_REVOKED, POL_PUB_NONE, POL_DNS_REVOKED, T0 - 1, 1 },
	{ STORE_REVOKED, POL_PUB_REVOKED, POL_DNS_REVOKED, T0 - 1, 0 },
	{ STORE_REVOKED, POL_PUB_REVOKED, POL_DNS_REVOKED, 0, 0 },
	/* confirmed: only when due */
	{ STORE_READY, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 - 1, 0 },
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 - 1, 0 },
	{ STORE_RETIRING, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 - 1, 0 },
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, 0, 1 },
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 - DAY, 1 },
	{ STORE_RETIRING, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 - DAY, 1 },
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_PUBLISHED, T0 + 5, 1 },
	/* not confirmed: every pass */
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_UNKNOWN, T0 - 1, 1 },
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_PARTIAL, T0 - 1, 1 },
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_ABSENT, T0 - 1, 1 },
	{ STORE_ACTIVE, POL_PUB_PUBLISHED, POL_DNS_MISMATCH, T0 - 1, 1 },
	{ STORE_READY, POL_PUB_PUBLISHED, POL_DNS_REVOKED, T0 - 1, 1 },
	{ STORE_RETIRING, POL_PUB_PUBLISHED, POL_DNS_MISMATCH, T0 - 1, 1 },
};

START_TEST(test_wanted)
{
	struct store_key k;
	struct adapt_mem m;
	const char *dom = "example.com";
	time_t at;

	memset(&k, 0, sizeof(k));
	memset(&m, 0, sizeof(m));
	snprintf(k.selector, sizeof(k.selector), "kt-202611-ed");
	k.state = wanted_cases[_i].state;
	m.published = wanted_cases[_i].pub;
	m.obs.dns = wanted_cases[_i].dns;
	m.checked = wanted_cases[_i].checked;
	/* the pass runs just before the key's phase point, so that a check
	 * a second earlier is not due and one a day earlier is */
	at = recheck_next(dom, k.selector, T0, DAY) - 1;
	if (m.checked != 0)
		m.checked += at - T0;
	ck_assert_msg(recheck_wanted(dom, &k, &m, at, DAY) ==
	    wanted_cases[_i].want, "case %d", _i);
	/* with no interval, everything but a confirmed revocation */
	ck_assert_int_eq(recheck_wanted(dom, &k, &m, at, 0),
	    k.state != STORE_REVOKED || m.published != POL_PUB_REVOKED ||
	    m.obs.dns != POL_DNS_REVOKED);
}
END_TEST

/* cname_res - what the customer zone's two addresses said of the CNAME */
static void
cname_res(struct prop_result *r, struct prop_obs o[2], enum prop_status a,
    enum prop_status b)
{
	memset(r, 0, sizeof(*r));
	memset(o, 0, 2 * sizeof(*o));
	o[0].server = "ns1.bad.test";
	o[0].addr = "127.0.0.81:53";
	o[0].status = a;
	o[1].server = "ns2.bad.test";
	o[1].addr = "127.0.0.82:53";
	o[1].status = b;
	r->obs = o;
	r->nobs = 2;
	r->max_ttl = 2;
}

/*
 * A confirmed slot key (TXT at the target served everywhere, CNAME OK)
 * waits for its re-check; once a check sees its CNAME missing, wrong or
 * not answered everywhere, it is asked about at every pass, also when
 * the target still serves the key; a memo whose record reads confirmed
 * beside a CNAME that is not OK does not hold it back either.
 */
static const enum prop_status slot_cname[][2] = {
	{ PROP_MATCH, PROP_NXDOMAIN },	/* missing */
	{ PROP_MATCH, PROP_NODATA },	/* missing */
	{ PROP_MISMATCH, PROP_MATCH },	/* wrong */
	{ PROP_MATCH, PROP_TIMEOUT },	/* unknown */
};

START_TEST(test_wanted_slot)
{
	static const enum store_state states[] = { STORE_READY,
	    STORE_ACTIVE, STORE_RETIRING };
	const char *dom = "bad.test";
	struct prop_result cr, kr;
	struct prop_obs co[2];
	struct store_key k;
	struct adapt_mem m;
	time_t at;
	size_t s;

	memset(&k, 0, sizeof(k));
	snprintf(k.selector, sizeof(k.selector), "kt2");
	k.slot = 2;
	memset(&kr, 0, sizeof(kr));
	kr.verdict = PROP_V_PUBLISHED;
	kr.max_ttl = 2;
	at = recheck_next(dom, k.selector, T0, DAY) - 1;
	for (s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
		k.state = states[s];
		memset(&m, 0, sizeof(m));
		m.published = POL_PUB_PUBLISHED;
		/* confirmed a second ago: not asked again this pass */
		cname_res(&cr, co, PROP_MATCH, PROP_MATCH);
		evidence_update_slot(&m.obs, &m.cname, m.cname_bad,
		    sizeof(m.cname_bad), &cr, &kr, 0, at - 1);
		m.checked = at - 1;
		ck_assert_int_eq(m.cname, POL_CNAME_OK);
		ck_assert_int_eq(m.obs.dns, POL_DNS_PUBLISHED);
		ck_assert_int_eq(recheck_wanted(dom, &k, &m, at, DAY), 0);
		/* the CNAME goes bad at one address: every pass after */
		cname_res(&cr, co, slot_cname[_i][0], slot_cname[_i][1]);
		evidence_update_slot(&m.obs, &m.cname, m.cname_bad,
		    sizeof(m.cname_bad), &cr, &kr, 0, at - 1);
		ck_assert_int_ne(m.cname, POL_CNAME_OK);
		ck_assert_int_ne(m.obs.dns, POL_DNS_PUBLISHED);
		ck_assert_msg(recheck_wanted(dom, &k, &m, at, DAY) == 1,
		    "state %d, cname %d", k.state, m.cname);
		ck_assert_int_eq(recheck_wanted(dom, &k, &m, at + 1, DAY), 1);
		/* a memo that says the record is confirmed beside it */
		m.obs.dns = POL_DNS_PUBLISHED;
		ck_assert_int_eq(recheck_wanted(dom, &k, &m, at, DAY), 1);
		/* back to OK: it waits for its re-check again */
		cname_res(&cr, co, PROP_MATCH, PROP_MATCH);
		evidence_update_slot(&m.obs, &m.cname, m.cname_bad,
		    sizeof(m.cname_bad), &cr, &kr, 0, at - 1);
		ck_assert_int_eq(recheck_wanted(dom, &k, &m, at, DAY), 0);
		/* never checked (a fresh memo entry): asked */
		m.cname = POL_CNAME_NONE;
		ck_assert_int_eq(recheck_wanted(dom, &k, &m, at, DAY), 1);
	}
	/* a plain key has no CNAME: its record alone decides */
	k.slot = 0;
	k.state = STORE_ACTIVE;
	memset(&m, 0, sizeof(m));
	m.published = POL_PUB_PUBLISHED;
	m.obs.dns = POL_DNS_PUBLISHED;
	m.checked = at - 1;
	ck_assert_int_eq(recheck_wanted(dom, &k, &m, at, DAY), 0);
}
END_TEST

static Suite *
recheck_suite(void)
{
	Suite *s = suite_create("rotate_recheck");
	TCase *tc = tcase_create("recheck");

	tcase_add_test(tc, test_phase);
	tcase_add_test(tc, test_next_due);
	tcase_add_loop_test(tc, test_once_per_interval, 0, 5);
	tcase_add_test(tc, test_spread);
	tcase_add_loop_test(tc, test_wanted, 0,
	    sizeof(wanted_cases) / sizeof(wanted_cases[0]));
	tcase_add_loop_test(tc, test_wanted_slot, 0,
	    sizeof(slot_cname) / sizeof(slot_cname[0]));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(recheck_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
