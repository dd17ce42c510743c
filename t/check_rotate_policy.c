/*
 * check_rotate_policy - the policy engine over simulated months
 *
 * A simulated world: a domain with N nameservers, a publish hook, a clock
 * stepped by one hour. Each step the simulated nameservers' answers go
 * through the real prop_summarize and evidence_update into the real
 * pol_decide, and the returned actions are applied to the simulated
 * keystore. Every step checks the invariants (a standby per algorithm, at
 * most active_keys active, nothing ready or active that DNS did not serve
 * everywhere for the whole hold); each timeline then checks its own
 * expectations (first activation, swaps, revocations, alarms).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "policy.h"
#include "propagate.h"

#define HOUR	3600LL
#define DAY	(24 * HOUR)
#define MAXNS	4
#define MAXKEYS	128

struct skey {
	struct pol_key	 k;
	char		 sel[32];
	long long	 pub_at;	/* the hook published; -1: not yet */
	long long	 rev_at;	/* the hook revoked; -1: not yet */
	long long	 ready_at;	/* -1: never ready */
};

/* One timeline: the policy, the world, the events, the expectations. */
struct timeline {
	const char	*name;
	int		 rsa, ed;	/* algorithms in the policy */
	int		 active_keys;
	long long	 rotate_after, retire_after;
	long long	 days;
	int		 nns;
	long long	 lag[MAXNS];	/* per nameserver, after the hook */
	long long	 ttl, neg;	/* record TTL, SOA negative TTL */
	long long	 hook_fails_until;	/* the hook fails before */
	int		 odd_ns;		/* -1: none */
	long long	 odd_from, odd_to;	/* odd_ns misbehaves then */
	int		 odd_silent;		/* 1: timeouts, 0: other key */
	long long	 compromise_at;		/* 0: never */
	/* expectations, per algorithm in the policy */
	long long	 first_active;	/* -1: do not check */
	int		 swaps;		/* scheduled swaps, -1: do not check */
	int		 revokes;	/* -1: do not check */
	int		 alarms;	/* 1: some, 0: none */
	int		 quiet_window;	/* no state change in odd_* */
	int		 no_ready_window; /* no pending -> ready in odd_* */
};

struct sim {
	const struct timeline	*tl;
	struct pol_policy	 pol;
	struct skey		 keys[MAXKEYS];
	size_t			 n;
	long long		 now;
	long long		 first_active[POL_NALG];
	int			 swaps[POL_NALG];
	int			 revokes[POL_NALG];
	int			 alarms;
	int			 publishes;
	int			 transitions_in_window;
	int			 readies_in_window;
};

/* sim_answer - what nameserver ns says about key k at time t */
static enum prop_status
sim_answer(const struct sim *s, const struct skey *k, int ns, long long t)
{
	const struct timeline *tl = s->tl;

	if (ns == tl->odd_ns && t >= tl->odd_from && t < tl->odd_to)
		return tl->odd_silent ? PROP_TIMEOUT : PROP_MISMATCH;
	if (k->rev_at >= 0 && t >= k->rev_at + tl->lag[ns])
		return PROP_EMPTY;
	if (k->pub_at >= 0 && t >= k->pub_at + tl->lag[ns])
		return PROP_MATCH;
	return PROP_NXDOMAIN;
}

/* sim_served - every nameserver served k at every step of [from, to] */
static int
sim_served(const struct sim *s, const struct skey *k, long long from,
    long long to)
{
	long long t;
	int ns;

	for (t = from; t <= to; t += HOUR)
		for (ns = 0; ns < s->tl->nns; ns++)
			if (sim_answer(s, k, ns, t) != PROP_MATCH)
				return 0;
	return 1;
}

/* sim_observe - the real summary and streak code over simulated answers */
static void
sim_observe(struct sim *s, struct skey *k)
{
	struct prop_obs obs[MAXNS];
	struct prop_result r;
	int ns;

	memset(&r, 0, sizeof(r));
	memset(obs, 0, sizeof(obs));
	r.obs = obs;
	r.nobs = s->tl->nns;
	for (ns = 0; ns < s->tl->nns; ns++) {
		obs[ns].addr = "sim";
		obs[ns].status = sim_answer(s, k, ns, s->now);
		obs[ns].ttl = obs[ns].status == PROP_MATCH ? s->tl->ttl : 0;
		obs[ns].neg_ttl = obs[ns].status == PROP_NXDOMAIN ?
		    s->tl->neg : 0;
	}
	prop_summarize(&r);
	if (r.neg_ttl < s->tl->neg)
		r.neg_ttl = s->tl->neg;	/* the SOA seen at the zone cut */
	evidence_update(&k->k.obs, &r, s->now);
}

/* sim_state - move a key, as the keystore would */
static void
sim_state(struct sim *s, size_t i, enum pol_state st)
{
	s->keys[i].k.state = st;
	s->keys[i].k.state_since = s->now;
}

/* sim_in_window - is now inside the timeline's odd window? */
static int
sim_in_window(const struct sim *s)
{
	return s->tl->odd_ns >= 0 && s->now >= s->tl->odd_from &&
	    s->now < s->tl->odd_to;
}

/* sim_generate - a new pending key with a never-reused selector */
static void
sim_generate(struct sim *s, const struct pol_action *a)
{
	struct skey *k;

	ck_assert_uint_lt(s->n, MAXKEYS);
	k = &s->keys[s->n++];
	memset(k, 0, sizeof(*k));
	snprintf(k->sel, sizeof(k->sel), "%s-%zu",
	    a->alg == POL_ALG_RSA ? "r" : "ed", s->n);
	k->k.selector = k->sel;
	k->k.alg = a->alg;
	k->k.bits = a->bits;
	k->k.state = POL_PENDING;
	k->k.created = k->k.state_since = s->now;
	k->pub_at = k->rev_at = k->ready_at = -1;
}

/* sim_check_ready - DNS really served it everywhere for the hold */
static void
sim_check_ready(struct sim *s, size_t i)
{
	struct skey *k = &s->keys[i];
	long long hold = s->tl->ttl > s->tl->neg ? s->tl->ttl : s->tl->neg;

	ck_assert_msg(sim_served(s, k, s->now - hold, s->now),
	    "%s: %s ready at %lld without %llds of evidence", s->tl->name,
	    k->sel, s->now, hold);
	k->ready_at = s->now;
}

/* sim_check_active - only a confirmed key may be activated */
static void
sim_check_active(struct sim *s, size_t i)
{
	struct skey *k = &s->keys[i];

	ck_assert_msg(k->ready_at >= 0, "%s: %s active, never ready",
	    s->tl->name, k->sel);
	if (s->first_active[k->k.alg] < 0)
		s->first_active[k->k.alg] = s->now;
}

/* sim_apply - one action, on the simulated keystore and hook */
static void
sim_apply(struct sim *s, const struct pol_action *a)
{
	struct skey *k = a->key != POL_NONE ? &s->keys[a->key] : NULL;
	long long age;

	if (k != NULL)	/* the action names the move it makes */
		ck_assert_int_eq(a->from, k->k.state);
	if (a->type == POL_A_SWAP) {
		ck_assert_int_eq(a->other_from, POL_ACTIVE);
		ck_assert_int_eq(a->other_to, POL_RETIRING);
	}
	switch (a->type) {
	case POL_A_GENERATE:
		sim_generate(s, a);
		return;
	case POL_A_PUBLISH:
		s->publishes++;
		if (s->now >= s->tl->hook_fails_until) {
			k->pub_at = s->now;
			k->k.published = POL_PUB_PUBLISHED;
		}
		return;
	case POL_A_UNPUBLISH:
		k->rev_at = s->now;
		k->k.published = POL_PUB_REVOKED;
		return;
	case POL_A_ALARM:
		s->alarms++;
		return;
	case POL_A_READY:
		ck_assert_int_eq(k->k.state, POL_PENDING);
		sim_check_ready(s, a->key);
		sim_state(s, a->key, POL_READY);
		if (sim_in_window(s))
			s->readies_in_window++;
		break;
	case POL_A_ACTIVATE:
		ck_assert_int_eq(k->k.state, POL_READY);
		sim_check_active(s, a->key);
		sim_state(s, a->key, POL_ACTIVE);
		break;
	case POL_A_SWAP:
		ck_assert_int_eq(k->k.state, POL_READY);
		ck_assert_int_eq(s->keys[a->other].k.state, POL_ACTIVE);
		age = s->now - s->keys[a->other].k.state_since;
		if (strstr(a->reason, "rotate_after") != NULL) {
			ck_assert_int_ge(age, s->pol.rotate_after);
			s->swaps[k->k.alg]++;
		}
		sim_check_active(s, a->key);
		sim_state(s, a->key, POL_ACTIVE);
		sim_state(s, a->other, POL_RETIRING);
		break;
	case POL_A_RETIRE:
		ck_assert_int_eq(k->k.state, POL_ACTIVE);
		sim_state(s, a->key, POL_RETIRING);
		break;
	case POL_A_REVOKE:
		if (k->k.compromised) {
			ck_assert_int_eq(s->now, s->tl->compromise_at);
		} else {
			ck_assert_int_eq(k->k.state, POL_RETIRING);
			age = s->now - k->k.state_since;
			ck_assert_int_ge(age, s->pol.retire_after);
			ck_assert_int_lt(age, s->pol.retire_after + HOUR);
			s->revokes[k->k.alg]++;
		}
		sim_state(s, a->key, POL_REVOKED);
		break;
	}
	ck_assert_int_eq(k->k.state, a->to);
	if (sim_in_window(s))
		s->transitions_in_window++;
}

/* sim_invariants - after every step */
static void
sim_invariants(struct sim *s)
{
	int standby[POL_NALG] = { 0 }, active[POL_NALG] = { 0 };
	enum pol_alg a;
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct pol_key *k = &s->keys[i].k;

		if (k->state == POL_ACTIVE)
			active[k->alg]++;
		if (!k->compromised && (k->state == POL_PENDING ||
		    k->state == POL_READY))
			standby[k->alg]++;
	}
	for (a = 0; a < POL_NALG; a++) {
		if (!s->pol.algs[a])
			continue;
		ck_assert_msg(standby[a] >= 1, "%s: no standby %s key at %lld",
		    s->tl->name, pol_alg_name(a), s->now);
		ck_assert_int_le(active[a], s->pol.active_keys);
		/* once the active set is full it stays full */
		if (s->first_active[a] >= 0 &&
		    s->now > s->first_active[a] + 2 * DAY &&
		    s->tl->odd_ns < 0)
			ck_assert_msg(active[a] == s->pol.active_keys,
			    "%s: %d active %s keys at day %lld", s->tl->name,
			    active[a], pol_alg_name(a), s->now / DAY);
	}
}

/* sim_step - observe, decide, apply */
static void
sim_step(struct sim *s)
{
	struct pol_key keys[MAXKEYS];
	struct pol_plan plan = { 0 };
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->tl->compromise_at && s->now == s->tl->compromise_at &&
		    s->keys[i].k.state == POL_ACTIVE &&
		    s->keys[i].k.alg == POL_ALG_RSA)
			s->keys[i].k.compromised = 1;
		sim_observe(s, &s->keys[i]);
		keys[i] = s->keys[i].k;
	}
	pol_decide(&s->pol, keys, s->n, s->now, &plan);
	for (i = 0; i < plan.n; i++)
		sim_apply(s, &plan.v[i]);
	pol_plan_free(&plan);
	sim_invariants(s);
}

static const struct timeline timelines[] = {
	{ .name = "steady", .rsa = 1, .active_keys = 1,
	  .rotate_after = 30 * DAY, .retire_after = 7 * DAY, .days = 180,
	  .nns = 2, .ttl = HOUR, .neg = HOUR, .odd_ns = -1,
	  .first_active = 3 * HOUR, .swaps = 5, .revokes = 5 },
	{ .name = "confirmation late (hook fails 10 days)", .rsa = 1,
	  .active_keys = 1, .rotate_after = 30 * DAY,
	  .retire_after = 7 * DAY, .days = 180, .nns = 2, .ttl = HOUR,
	  .neg = HOUR, .odd_ns = -1, .hook_fails_until = 10 * DAY,
	  .first_active = 10 * DAY + 2 * HOUR, .swaps = 5, .revokes = 5 },
	{ .name = "one nameserver lags 2 days", .rsa = 1, .active_keys = 1,
	  .rotate_after = 30 * DAY, .retire_after = 7 * DAY, .days = 180,
	  .nns = 3, .lag = { 0, 0, 2 * DAY }, .ttl = HOUR, .neg = HOUR,
	  .odd_ns = -1, .first_active = 2 * DAY + 2 * HOUR, .swaps = 5,
	  .revokes = 5 },
	{ .name = "long TTL hold", .rsa = 1, .active_keys = 1,
	  .rotate_after = 30 * DAY, .retire_after = 7 * DAY, .days = 90,
	  .nns = 2, .ttl = 86400, .neg = 3 * HOUR, .odd_ns = -1,
	  .first_active = 2 * HOUR + DAY, .swaps = 2, .revokes = 2 },
	{ .name = "nameserver serves another key over a due swap",
	  .rsa = 1, .active_keys = 1, .rotate_after = 30 * DAY,
	  .retire_after = 7 * DAY, .days = 180, .nns = 2, .ttl = HOUR,
	  .neg = HOUR, .odd_ns = 1, .odd_from = 55 * DAY,
	  .odd_to = 65 * DAY, .first_active = 3 * HOUR, .swaps = 5,
	  .revokes = 5, .alarms = 1, .quiet_window = 1 },
	{ .name = "nameserver times out while the standby is pending",
	  .rsa = 1, .active_keys = 1, .rotate_after = 30 * DAY,
	  .retire_after = 7 * DAY, .days = 180, .nns = 2, .ttl = HOUR,
	  .neg = HOUR, .odd_ns = 0, .odd_from = 30 * DAY,
	  .odd_to = 40 * DAY, .odd_silent = 1, .first_active = 3 * HOUR,
	  .swaps = 5, .revokes = 5, .no_ready_window = 1 },
	{ .name = "operator declares the active key compromised",
	  .rsa = 1, .active_keys = 1, .rotate_after = 30 * DAY,
	  .retire_after = 7 * DAY, .days = 180, .nns = 2, .ttl = HOUR,
	  .neg = HOUR, .odd_ns = -1, .compromise_at = 45 * DAY,
	  .first_active = 3 * HOUR, .swaps = 5, .revokes = 5 },
	{ .name = "retire and revoke timing", .rsa = 1, .active_keys = 1,
	  .rotate_after = 10 * DAY, .retire_after = 3 * DAY, .days = 60,
	  .nns = 2, .ttl = HOUR, .neg = HOUR, .odd_ns = -1,
	  .first_active = 3 * HOUR, .swaps = 5, .revokes = 5 },
	{ .name = "three active keys", .rsa = 1, .active_keys = 3,
	  .rotate_after = 30 * DAY, .retire_after = 7 * DAY, .days = 180,
	  .nns = 2, .ttl = HOUR, .neg = HOUR, .odd_ns = -1,
	  .first_active = 3 * HOUR, .swaps = 15, .revokes = 15 },
	{ .name = "dual algorithms", .rsa = 1, .ed = 1, .active_keys = 1,
	  .rotate_after = 30 * DAY, .retire_after = 7 * DAY, .days = 180,
	  .nns = 2, .ttl = HOUR, .neg = HOUR, .odd_ns = -1,
	  .first_active = 3 * HOUR, .swaps = 5, .revokes = 5 },
	{ .name = "dual algorithms, two active each, slow nameserver",
	  .rsa = 1, .ed = 1, .active_keys = 2, .rotate_after = 20 * DAY,
	  .retire_after = 10 * DAY, .days = 120, .nns = 3,
	  .lag = { 0, HOUR, 5 * HOUR }, .ttl = 300, .neg = 2 * HOUR,
	  .odd_ns = -1, .first_active = 8 * HOUR, .swaps = 10,
	  .revokes = 10 },
};

START_TEST(test_timeline)
{
	const struct timeline *tl = &timelines[_i];
	struct sim *s = calloc(1, sizeof(*s));
	enum pol_alg a;

	ck_assert_ptr_nonnull(s);
	s->tl = tl;
	s->pol.algs[POL_ALG_RSA] = tl->rsa;
	s->pol.algs[POL_ALG_ED25519] = tl->ed;
	s->pol.rsa_bits = 2048;
	s->pol.active_keys = tl->active_keys;
	s->pol.rotate_after = tl->rotate_after;
	s->pol.retire_after = tl->retire_after;
	for (a = 0; a < POL_NALG; a++)
		s->first_active[a] = -1;
	/* the first step makes the first standby, the invariant holds after */
	for (s->now = 0; s->now < tl->days * DAY; s->now += HOUR)
		sim_step(s);
	for (a = 0; a < POL_NALG; a++) {
		if (!s->pol.algs[a])
			continue;
		if (tl->first_active >= 0)
			ck_assert_msg(s->first_active[a] == tl->first_active,
			    "%s: %s first active at %lld, want %lld",
			    tl->name, pol_alg_name(a), s->first_active[a],
			    tl->first_active);
		if (tl->swaps >= 0)
			ck_assert_msg(s->swaps[a] == tl->swaps, "%s: %s %d "
			    "swaps, want %d", tl->name, pol_alg_name(a),
			    s->swaps[a], tl->swaps);
		if (tl->revokes >= 0)
			ck_assert_msg(s->revokes[a] == tl->revokes, "%s: %s "
			    "%d revocations, want %d", tl->name,
			    pol_alg_name(a), s->revokes[a], tl->revokes);
	}
	ck_assert_msg(tl->alarms ? s->alarms > 0 : s->alarms == 0,
	    "%s: %d alarms", tl->name, s->alarms);
	if (tl->quiet_window)
		ck_assert_msg(s->transitions_in_window == 0, "%s: %d "
		    "transitions while a nameserver misbehaved", tl->name,
		    s->transitions_in_window);
	if (tl->no_ready_window)
		ck_assert_msg(s->readies_in_window == 0, "%s: %d keys ready "
		    "while a nameserver timed out", tl->name,
		    s->readies_in_window);
	if (tl->hook_fails_until)
		ck_assert_int_gt(s->publishes, tl->hook_fails_until / HOUR - 2);
	free(s);
}
END_TEST


/*
 * One pass, table-driven: keys (state, algorithm, DNS summary, times),
 * the expected plan as "action:key[/other]" words (g = generate).
 */
struct pkey {
	enum pol_state	 st;
	enum pol_alg	 alg;
	enum pol_dns	 dns;
	long long	 state_since;
	long long	 obs_since;
	enum pol_pub	 pub;
	int		 compromised;
};

static const struct pass_case {
	const char	*name;
	int		 ed;		/* ed25519 in the policy too */
	int		 active_keys;
	long long	 now;
	struct pkey	 k[4];
	size_t		 n;
	const char	*want;
} pass_cases[] = {
	{ "empty domain: one standby per algorithm", 1, 1, 0, { { 0 } }, 0,
	  "generate:rsa generate:ed25519" },
	{ "pending, not yet published: hook", 0, 1, 100,
	  { { POL_PENDING, POL_ALG_RSA, POL_DNS_ABSENT, 0, 0, POL_PUB_NONE,
	  0 } }, 1, "publish:0" },
	{ "pending, hook done, DNS lags: wait", 0, 1, 100,
	  { { POL_PENDING, POL_ALG_RSA, POL_DNS_ABSENT, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 1, "" },
	{ "pending, everywhere, hold not over: wait", 0, 1, 3599 + 50,
	  { { POL_PENDING, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 50,
	  POL_PUB_PUBLISHED, 0 } }, 1, "" },
	{ "pending, everywhere, hold over: ready, active", 0, 1, 3600 + 50,
	  { { POL_PENDING, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 50,
	  POL_PUB_PUBLISHED, 0 } }, 1, "ready:0 activate:0 generate:rsa" },
	{ "pending, timeouts: not ready, no alarm", 0, 1, 10 * DAY,
	  { { POL_PENDING, POL_ALG_RSA, POL_DNS_PARTIAL, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 1, "" },
	{ "pending, another key at a server: alarm", 0, 1, 10 * DAY,
	  { { POL_PENDING, POL_ALG_RSA, POL_DNS_MISMATCH, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 1, "alarm:0" },
	{ "active record vanished, confirmed peer: out of round-robin", 0,
	  2, 5 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_ABSENT, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_PENDING, POL_ALG_RSA, POL_DNS_ABSENT, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 3, "alarm:0 retire:0" },
	{ "active record changed, confirmed standby: swapped", 0, 1, 5 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_MISMATCH, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "alarm:0 swap:1/0 generate:rsa" },
	{ "active record gone everywhere, no standby: alarm only", 0, 1,
	  5 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_REVOKED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_PENDING, POL_ALG_RSA, POL_DNS_REVOKED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "alarm:0" },
	{ "ready record gone: alarm, not promoted, new standby", 0, 1,
	  5 * DAY,
	  { { POL_READY, POL_ALG_RSA, POL_DNS_ABSENT, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 1, "alarm:0 generate:rsa" },
	{ "active record changed, nothing confirmed: alarm only", 0, 1,
	  5 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_MISMATCH, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_PENDING, POL_ALG_RSA, POL_DNS_PARTIAL, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "alarm:0" },
	{ "active key timing out: no alarm, nothing moves", 0, 1, 5 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PARTIAL, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "" },
	{ "swap due, standby still pending: wait", 0, 1, 40 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_PENDING, POL_ALG_RSA, POL_DNS_PARTIAL, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "" },
	{ "swap due one second early: wait", 0, 1, 30 * DAY - 1,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "" },
	{ "swap due, standby's check failed: wait, no new standby", 0, 1,
	  30 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_UNKNOWN, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "" },
	{ "swap due, standby unanswered at a server: wait", 0, 1, 30 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PARTIAL, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "" },
	{ "active set short, standby's check failed: wait", 0, 2, DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_UNKNOWN, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "" },
	{ "active record gone, standby's check failed: alarm only", 0, 1,
	  5 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_ABSENT, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_UNKNOWN, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "alarm:0" },
	{ "compromised active, standby's check failed: revoked, none "
	  "promoted", 0, 1, 3 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 1 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_UNKNOWN, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "revoke:0 unpublish:0" },
	{ "swap due: one grouped action", 0, 1, 30 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2, "swap:1/0 generate:rsa" },
	{ "retiring one second short of retire_after", 0, 1, 7 * DAY - 1,
	  { { POL_RETIRING, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 3, "" },
	{ "retiring at retire_after: revoked, p= emptied", 0, 1, 7 * DAY,
	  { { POL_RETIRING, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 3, "revoke:0 unpublish:0" },
	{ "revoked, hook failed last time: unpublish again", 0, 1, 9 * DAY,
	  { { POL_REVOKED, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 3, "unpublish:0" },
	{ "compromised active: revoked, standby promoted, new standby", 0,
	  1, 3 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 1 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2,
	  "revoke:0 activate:1 unpublish:0 generate:rsa" },
	{ "compromised standby: revoked, new standby", 0, 1, 3 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 1 } }, 2,
	  "revoke:1 unpublish:1 generate:rsa" },
	{ "ed25519 dropped from the policy: its active key retires", 0, 1,
	  3 * DAY,
	  { { POL_ACTIVE, POL_ALG_ED25519, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 0, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_PENDING, POL_ALG_RSA, POL_DNS_PARTIAL, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 3, "retire:0" },
	{ "active_keys lowered to 1: the oldest retires", 0, 1, 3 * DAY,
	  { { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, 2 * DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_ACTIVE, POL_ALG_RSA, POL_DNS_PUBLISHED, DAY, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_PENDING, POL_ALG_RSA, POL_DNS_PARTIAL, 0, 0,
	  POL_PUB_PUBLISHED, 0 } }, 3, "retire:1" },
	{ "two ready, active set of three: fill, oldest first", 0, 3, DAY,
	  { { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, 200, 0,
	  POL_PUB_PUBLISHED, 0 },
	  { POL_READY, POL_ALG_RSA, POL_DNS_PUBLISHED, 100, 0,
	  POL_PUB_PUBLISHED, 0 } }, 2,
	  "activate:1 activate:0 generate:rsa" },
};

/* plan_words - the plan as "action:key[/other]" words */
static void
plan_words(const struct pol_plan *pl, char *buf, size_t len)
{
	const struct pol_action *a;
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < pl->n && o < len; i++) {
		a = &pl->v[i];
		if (a->type == POL_A_GENERATE)
			o += snprintf(buf + o, len - o, "%sgenerate:%s",
			    i ? " " : "", pol_alg_name(a->alg));
		else if (a->type == POL_A_SWAP)
			o += snprintf(buf + o, len - o, "%sswap:%zu/%zu",
			    i ? " " : "", a->key, a->other);
		else
			o += snprintf(buf + o, len - o, "%s%s:%zu",
			    i ? " " : "", pol_act_name(a->type), a->key);
	}
}

START_TEST(test_pass)
{
	const struct pass_case *pc = &pass_cases[_i];
	struct pol_policy pol = { .rsa_bits = 2048, .rotate_after = 30 * DAY,
	    .retire_after = 7 * DAY };
	struct pol_key keys[4];
	struct pol_plan plan = { 0 };
	char sel[4][24], got[512];
	size_t i;

	pol.algs[POL_ALG_RSA] = 1;
	pol.algs[POL_ALG_ED25519] = pc->ed;
	pol.active_keys = pc->active_keys;
	memset(keys, 0, sizeof(keys));
	for (i = 0; i < pc->n; i++) {
		snprintf(sel[i], sizeof(sel[i]), "s%zu", i);
		keys[i].selector = sel[i];
		keys[i].alg = pc->k[i].alg;
		keys[i].bits = pc->k[i].alg == POL_ALG_RSA ? 2048 : 256;
		keys[i].state = pc->k[i].st;
		keys[i].created = pc->k[i].state_since;
		keys[i].state_since = pc->k[i].state_since;
		keys[i].compromised = pc->k[i].compromised;
		keys[i].published = pc->k[i].pub;
		keys[i].obs.dns = pc->k[i].dns;
		keys[i].obs.since = pc->k[i].obs_since;
		keys[i].obs.hold = HOUR;
	}
	pol_decide(&pol, keys, pc->n, pc->now, &plan);
	plan_words(&plan, got, sizeof(got));
	ck_assert_msg(strcmp(got, pc->want) == 0, "%s: got \"%s\", want "
	    "\"%s\"", pc->name, got, pc->want);
	for (i = 0; i < plan.n; i++)
		ck_assert_msg(plan.v[i].reason[0] != '\0', "%s: no reason",
		    pc->name);
	pol_plan_free(&plan);
}
END_TEST

/* pol_plan_alarm finds the alarm of a key among other actions, or none. */
START_TEST(test_plan_alarm)
{
	struct pol_action v[3];
	struct pol_plan plan = { v, 3, 3 };

	memset(v, 0, sizeof(v));
	v[0].type = POL_A_ALARM;
	v[0].key = 2;
	v[1].type = POL_A_PUBLISH;
	v[1].key = 1;
	v[2].type = POL_A_ALARM;
	v[2].key = 1;
	ck_assert_ptr_eq(pol_plan_alarm(&plan, 1), &v[2]);
	ck_assert_ptr_eq(pol_plan_alarm(&plan, 2), &v[0]);
	ck_assert_ptr_null(pol_plan_alarm(&plan, 0));
}
END_TEST

/*
 * Delegated domains: three slots kt1..kt3, one active key. Times in
 * seconds; retire_after 100, rotate_after 1000, dns_hold 50, each key's
 * own hold 30 unless said.
 */
struct slotk {
	enum pol_state	 st;
	int		 slot;
	enum pol_dns	 dns;
	enum pol_cname	 cn;
	enum pol_pub	 pub;
	long long	 stopped;
	long long	 state_since;
	long long	 obs_since;
	long long	 prev_ttl;
};

#define SK_ACT(n)	{ POL_ACTIVE, n, POL_DNS_PUBLISHED, POL_CNAME_OK, \
			  POL_PUB_PUBLISHED, 0, 900, 0, 10 }
#define SK_READY(n)	{ POL_READY, n, POL_DNS_PUBLISHED, POL_CNAME_OK, \
			  POL_PUB_PUBLISHED, 0, 900, 0, 10 }
#define SK_GONE(n, stop) { POL_REVOKED, n, POL_DNS_REVOKED, POL_CNAME_OK, \
			  POL_PUB_REVOKED, stop, stop + 100, 0, 10 }

static const struct slot_case {
	const char	*name;
	long long	 now;
	struct slotk	 k[4];
	size_t		 n;
	const char	*want;
	const char	*reason;	/* in some action's reason, or NULL */
} slot_cases[] = {
	{ "empty domain: slot 1", 1000, { { 0 } }, 0, "generate:slot1",
	  "slot kt1 takes a new key: the slot is empty" },
	{ "active and ready standby: nothing to make", 1000,
	  { SK_ACT(1), SK_READY(2) }, 2, "", NULL },
	{ "no standby: the lowest empty slot", 1000,
	  { SK_ACT(3) }, 1, "generate:slot1", NULL },
	{ "an empty slot before a free one", 1000,
	  { SK_ACT(1), SK_GONE(2, 100) }, 2, "generate:slot3",
	  "slot kt3 takes a new key: the slot is empty" },
	{ "two free slots: the one that stopped longest ago", 1000,
	  { SK_ACT(1), SK_GONE(2, 500), SK_GONE(3, 300) }, 3,
	  "generate:slot3", "its key k2 stopped signing 700s ago "
	  "(retire-after 100s)" },
	{ "two free slots, other order", 1000,
	  { SK_ACT(1), SK_GONE(2, 300), SK_GONE(3, 500) }, 3,
	  "generate:slot2", NULL },
	{ "revoked, p= not yet served everywhere: no new key", 1000,
	  { SK_ACT(1), { POL_REVOKED, 2, POL_DNS_ABSENT, POL_CNAME_OK,
	  POL_PUB_REVOKED, 300, 400, 0, 10 }, { POL_RETIRING, 3,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, POL_PUB_PUBLISHED, 950, 950, 0,
	  10 } }, 3, "", NULL },
	{ "revoked, p= served but never handed over: unpublish only", 1000,
	  { SK_ACT(1), { POL_REVOKED, 2, POL_DNS_REVOKED, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 300, 400, 0, 10 }, { POL_RETIRING, 3,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, POL_PUB_PUBLISHED, 950, 950, 0,
	  10 } }, 3, "unpublish:1", NULL },
	{ "p= confirmed, stopped 99s ago: not yet", 1000,
	  { SK_ACT(1), SK_GONE(2, 901), { POL_RETIRING, 3,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, POL_PUB_PUBLISHED, 950, 950, 0,
	  10 } }, 3, "", NULL },
	{ "p= confirmed, stopped retire_after ago: new key", 1000,
	  { SK_ACT(1), SK_GONE(2, 900), { POL_RETIRING, 3,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, POL_PUB_PUBLISHED, 950, 950, 0,
	  10 } }, 3, "generate:slot2", "stopped signing 100s ago" },
	{ "p= confirmed, key never signed: new key", 1000,
	  { SK_ACT(1), SK_GONE(2, 0), { POL_RETIRING, 3, POL_DNS_PUBLISHED,
	  POL_CNAME_OK, POL_PUB_PUBLISHED, 950, 950, 0, 10 } }, 3,
	  "generate:slot2",
	  NULL },
	{ "free slot whose CNAME is missing: skipped", 1000,
	  { SK_ACT(1), { POL_REVOKED, 2, POL_DNS_REVOKED, POL_CNAME_MISSING,
	  POL_PUB_REVOKED, 300, 400, 0, 10 }, SK_GONE(3, 500) }, 3,
	  "generate:slot3", NULL },
	{ "pending, CNAME unknown: still the standby", 1000,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PARTIAL, POL_CNAME_UNKNOWN,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 } }, 2, "", NULL },
	{ "pending, CNAME missing: alarm, not a standby, next slot", 1000,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_ABSENT, POL_CNAME_MISSING,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 } }, 2, "alarm:1 generate:slot3",
	  "slot kt2 (kt2._domainkey.bad.test): the customer's CNAME is "
	  "missing at ns2.bad.test 127.0.0.82:53 nxdomain; expected "
	  "kt2.bad.test.prov.test: the slot is not used" },
	{ "pending, CNAME wrong: alarm, never ready", 100000,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_MISMATCH, POL_CNAME_WRONG,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 }, SK_GONE(3, 100) }, 3,
	  "alarm:1 generate:slot3", "the customer's CNAME is wrong at ns2.bad.test" },
	{ "pending, foreign key at the target: alarm", 100000,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_MISMATCH, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 } }, 2, "alarm:1", NULL },
	{ "pending, both agree, hold (prev 40) not over", 1039,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PUBLISHED, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 0, 900, 1000, 40 } }, 2, "", NULL },
	{ "pending, both agree, hold (prev 40) over: ready", 1040,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PUBLISHED, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 0, 900, 1000, 40 } }, 2, "ready:1",
	  "hold 40s = max(TXT 30s, previous 40s, CNAME 20s, negative 5s) "
	  "passed" },
	{ "pending, own hold 30 above prev 10: not at 29", 1029,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PUBLISHED, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 0, 900, 1000, 10 } }, 2, "", NULL },
	{ "pending, own hold 30 above prev 10: ready at 30", 1030,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PUBLISHED, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 0, 900, 1000, 10 } }, 2, "ready:1", NULL },
	{ "pending, prev unknown: dns_hold 50, not at 49", 1049,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PUBLISHED, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 0, 900, 1000, -1 } }, 2, "", NULL },
	{ "pending, prev unknown: dns_hold 50, ready at 50", 1050,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PUBLISHED, POL_CNAME_OK,
	  POL_PUB_PUBLISHED, 0, 900, 1000, -1 } }, 2, "ready:1", NULL },
	{ "pending, TXT served, CNAME not everywhere: wait", 100000,
	  { SK_ACT(1), { POL_PENDING, 2, POL_DNS_PARTIAL, POL_CNAME_UNKNOWN,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 } }, 2, "", NULL },
	{ "active CNAME missing, healthy standby: swapped", 1000,
	  { { POL_ACTIVE, 1, POL_DNS_ABSENT, POL_CNAME_MISSING,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 }, SK_READY(2) }, 2,
	  "alarm:0 swap:1/0 generate:slot3", "slot kt1 (kt1._domainkey."
	  "bad.test): the customer's CNAME is missing at ns2.bad.test" },
	{ "active CNAME wrong, standby's CNAME missing: keeps signing", 1000,
	  { { POL_ACTIVE, 1, POL_DNS_MISMATCH, POL_CNAME_WRONG,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 }, { POL_READY, 2,
	  POL_DNS_ABSENT, POL_CNAME_MISSING, POL_PUB_PUBLISHED, 0, 900, 0,
	  10 } }, 2, "alarm:0 alarm:1 generate:slot3", NULL },
	{ "active CNAME missing, no standby: alarm, keeps signing", 1000,
	  { { POL_ACTIVE, 1, POL_DNS_ABSENT, POL_CNAME_MISSING,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 }, { POL_PENDING, 2,
	  POL_DNS_PARTIAL, POL_CNAME_UNKNOWN, POL_PUB_PUBLISHED, 0, 900, 0,
	  10 } }, 2, "alarm:0", NULL },
	{ "active CNAME missing, standby unconfirmed this pass: no swap",
	  1000, { { POL_ACTIVE, 1, POL_DNS_ABSENT, POL_CNAME_MISSING,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 }, { POL_READY, 2,
	  POL_DNS_PARTIAL, POL_CNAME_UNKNOWN, POL_PUB_PUBLISHED, 0, 900, 0,
	  10 } }, 2, "alarm:0", NULL },
	{ "swap due, standby's CNAME missing: no swap, alarm", 5000,
	  { SK_ACT(1), { POL_READY, 2, POL_DNS_ABSENT, POL_CNAME_MISSING,
	  POL_PUB_PUBLISHED, 0, 900, 0, 10 } }, 2, "alarm:1 generate:slot3",
	  NULL },
	{ "swap due, healthy standby: swapped", 5000,
	  { SK_ACT(1), SK_READY(2), SK_GONE(3, 100) }, 3,
	  "swap:1/0 generate:slot3",
	  NULL },
};

/* slot_words - plan_words, a generate naming its slot */
static void
slot_words(const struct pol_plan *pl, char *buf, size_t len)
{
	const struct pol_action *a;
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < pl->n && o < len; i++) {
		a = &pl->v[i];
		if (a->type == POL_A_GENERATE)
			o += snprintf(buf + o, len - o, "%sgenerate:slot%d",
			    i ? " " : "", a->slot);
		else if (a->type == POL_A_SWAP)
			o += snprintf(buf + o, len - o, "%sswap:%zu/%zu",
			    i ? " " : "", a->key, a->other);
		else
			o += snprintf(buf + o, len - o, "%s%s:%zu",
			    i ? " " : "", pol_act_name(a->type), a->key);
	}
}

/* slot_policy - bad.test delegated to prov.test, three slots */
static void
slot_policy(struct pol_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->algs[POL_ALG_RSA] = 1;
	pol->rsa_bits = 2048;
	pol->active_keys = 1;
	pol->rotate_after = 1000;
	pol->retire_after = 100;
	pol->slots = 3;
	pol->dns_hold = 50;
	pol->domain = "bad.test";
	pol->delegate_to = "prov.test";
	pol->slot_sel[1] = "kt1";
	pol->slot_sel[2] = "kt2";
	pol->slot_sel[3] = "kt3";
}

/* slot_key - key i of a slot case; names point into names[] */
static void
slot_key(const struct slotk *sk, size_t i, struct pol_key *k,
    char names[4][3][48])
{
	memset(k, 0, sizeof(*k));
	snprintf(names[i][0], sizeof(names[i][0]), "kt%d", sk->slot);
	snprintf(names[i][1], sizeof(names[i][1]), "kt%d._domainkey.bad.test",
	    sk->slot);
	snprintf(names[i][2], sizeof(names[i][2]), "kt%d.bad.test.prov.test",
	    sk->slot);
	k->selector = names[i][0];
	k->cname_name = names[i][1];
	k->target = names[i][2];
	k->kid = i == 0 ? "k0" : i == 1 ? "k1" : i == 2 ? "k2" : "k3";
	k->alg = POL_ALG_RSA;
	k->bits = 2048;
	k->state = sk->st;
	k->created = sk->state_since;
	k->state_since = sk->state_since;
	k->published = sk->pub;
	k->slot = sk->slot;
	k->stopped = sk->stopped;
	k->prev_ttl = sk->prev_ttl;
	k->cname = sk->cn;
	if (sk->cn == POL_CNAME_MISSING || sk->cn == POL_CNAME_WRONG)
		snprintf(k->cname_bad, sizeof(k->cname_bad),
		    "ns2.bad.test 127.0.0.82:53 %s", sk->cn == POL_CNAME_WRONG ?
		    "mismatch" : "nxdomain");
	k->obs.dns = sk->dns;
	k->obs.since = sk->obs_since;
	k->obs.hold = 30;
	k->obs.ttl_txt = 30;
	k->obs.ttl_cname = 20;
	k->obs.ttl_neg = 5;
}

START_TEST(test_slot)
{
	const struct slot_case *sc = &slot_cases[_i];
	struct pol_policy pol;
	struct pol_key keys[4];
	struct pol_plan plan = { 0 };
	char names[4][3][48], got[512];
	size_t i;
	int seen = sc->reason == NULL;

	slot_policy(&pol);
	for (i = 0; i < sc->n; i++)
		slot_key(&sc->k[i], i, &keys[i], names);
	pol_decide(&pol, keys, sc->n, sc->now, &plan);
	slot_words(&plan, got, sizeof(got));
	ck_assert_msg(strcmp(got, sc->want) == 0, "%s: got \"%s\", want "
	    "\"%s\"", sc->name, got, sc->want);
	for (i = 0; i < plan.n; i++) {
		ck_assert_msg(plan.v[i].reason[0] != '\0', "%s: no reason",
		    sc->name);
		if (sc->reason != NULL && strstr(plan.v[i].reason,
		    sc->reason) != NULL)
			seen = 1;
		if (plan.v[i].type == POL_A_GENERATE)
			ck_assert_msg(plan.v[i].slot > 0, "%s: no slot",
			    sc->name);
	}
	for (i = 0; !seen && i < plan.n; i++)
		fprintf(stderr, "%s: reason %zu: %s\n", sc->name, i,
		    plan.v[i].reason);
	ck_assert_msg(seen, "%s: no reason with \"%s\"", sc->name,
	    sc->reason);
	pol_plan_free(&plan);
}
END_TEST

/* slot_result - n addresses; the first `bad` answer st, the rest match */
static void
slot_result(struct prop_result *r, struct prop_obs *o, size_t n, size_t bad,
    enum prop_status st, uint32_t ttl, uint32_t neg)
{
	static char *srv[] = { "ns1.x.test", "ns2.x.test", "ns3.x.test" };
	static char *addr[] = { "127.0.0.81:53", "127.0.0.82:53",
	    "127.0.0.83:53" };
	size_t i;

	memset(r, 0, sizeof(*r));
	memset(o, 0, n * sizeof(*o));
	for (i = 0; i < n; i++) {
		o[i].source = PROP_SRC_AUTH;
		o[i].server = srv[i];
		o[i].addr = addr[i];
		o[i].status = i < bad ? st : PROP_MATCH;
		o[i].ttl = ttl;
	}
	r->obs = o;
	r->nobs = n;
	r->max_ttl = ttl;
	r->neg_ttl = neg;
	prop_summarize(r);
	r->max_ttl = ttl;
	r->neg_ttl = neg;
}

/* One pass of evidence_update_slot per row, on the same observation. */
static const struct evs_step {
	size_t		 cbad;		/* customer addresses not matching */
	enum prop_status cst;
	size_t		 kbad;		/* provider addresses not matching */
	enum prop_status kst;
	uint32_t	 cttl, cneg, kttl, kneg;
	long long	 prev;
	int		 key_null;
	/* after the pass */
	enum pol_dns	 dns;
	enum pol_cname	 cn;
	long long	 since, hold;
	const char	*bad;
} evs_steps[] = {
	/* t=100: the TXT is not there yet */
	{ 0, PROP_MATCH, 2, PROP_NXDOMAIN, 20, 5, 0, 8, 40, 0,
	  POL_DNS_ABSENT, POL_CNAME_OK, 0, 0, "" },
	/* t=110: both agree: the streak starts, hold max(30,20,8,40) */
	{ 0, PROP_MATCH, 0, PROP_MATCH, 20, 5, 30, 8, 40, 0,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, 110, 40, "" },
	/* t=120: a longer CNAME TTL now: the hold grows, since stays */
	{ 0, PROP_MATCH, 0, PROP_MATCH, 60, 5, 30, 8, 40, 0,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, 110, 60, "" },
	/* t=130: one customer server lost the CNAME: streak over */
	{ 1, PROP_NXDOMAIN, 0, PROP_MATCH, 60, 70, 30, 8, 40, 0,
	  POL_DNS_ABSENT, POL_CNAME_MISSING, 0, 0,
	  "ns1.x.test 127.0.0.81:53 nxdomain" },
	/* t=140: another target at one, none at the other: wrong */
	{ 2, PROP_MISMATCH, 0, PROP_MATCH, 60, 5, 30, 8, 40, 0,
	  POL_DNS_MISMATCH, POL_CNAME_WRONG, 0, 0,
	  "ns1.x.test 127.0.0.81:53 mismatch, ns2.x.test 127.0.0.82:53 "
	  "mismatch" },
	/* t=150: a customer server times out: unknown, no streak */
	{ 1, PROP_TIMEOUT, 0, PROP_MATCH, 60, 5, 30, 8, 40, 0,
	  POL_DNS_PARTIAL, POL_CNAME_UNKNOWN, 0, 0, NULL },
	/* t=160: agree again, negative TTL of the customer zone largest */
	{ 0, PROP_MATCH, 0, PROP_MATCH, 20, 90, 30, 8, 40, 0,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, 160, 90, "" },
	/* t=170: the provider check failed: no evidence, streak over */
	{ 0, PROP_MATCH, 0, PROP_MATCH, 20, 5, 30, 8, 40, 1,
	  POL_DNS_UNKNOWN, POL_CNAME_OK, 0, 0, "" },
	/* t=180: agree, prev_ttl the largest */
	{ 0, PROP_MATCH, 0, PROP_MATCH, 20, 5, 30, 8, 400, 0,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, 180, 400, "" },
	/* t=190: agree, provider's negative TTL the largest */
	{ 0, PROP_MATCH, 0, PROP_MATCH, 20, 5, 30, 800, 40, 0,
	  POL_DNS_PUBLISHED, POL_CNAME_OK, 180, 800, "" },
	/* t=200: another key at the target: mismatch */
	{ 0, PROP_MATCH, 1, PROP_MISMATCH, 20, 5, 30, 8, 40, 0,
	  POL_DNS_MISMATCH, POL_CNAME_OK, 0, 0, "" },
};

START_TEST(test_evidence_slot)
{
	struct prop_result cr, kr;
	struct prop_obs co[2], ko[2];
	struct pol_obs obs;
	enum pol_cname cn;
	char bad[POL_CNAME_BAD];
	size_t i;

	memset(&obs, 0, sizeof(obs));
	for (i = 0; i < sizeof(evs_steps) / sizeof(evs_steps[0]); i++) {
		const struct evs_step *e = &evs_steps[i];

		slot_result(&cr, co, 2, e->cbad, e->cst, e->cttl, e->cneg);
		slot_result(&kr, ko, 2, e->kbad, e->kst, e->kttl, e->kneg);
		evidence_update_slot(&obs, &cn, bad, sizeof(bad), &cr,
		    e->key_null ? NULL : &kr, e->prev,
		    (time_t)(100 + 10 * i));
		ck_assert_msg(obs.dns == e->dns, "step %zu: dns %s, want %s",
		    i, pol_dns_name(obs.dns), pol_dns_name(e->dns));
		ck_assert_msg(cn == e->cn, "step %zu: cname %s, want %s", i,
		    pol_cname_name(cn), pol_cname_name(e->cn));
		ck_assert_msg(obs.since == e->since, "step %zu: since %lld, "
		    "want %lld", i, (long long)obs.since, e->since);
		ck_assert_msg(obs.hold == e->hold, "step %zu: hold %lld, want "
		    "%lld", i, obs.hold, e->hold);
		if (e->bad != NULL)
			ck_assert_msg(strcmp(bad, e->bad) == 0, "step %zu: bad "
			    "\"%s\", want \"%s\"", i, bad, e->bad);
	}
	/* no CNAME result at all: unknown */
	ck_assert_int_eq(evidence_cname(NULL), POL_CNAME_UNKNOWN);
}
END_TEST

/* The alarm names every failing server while they fit, then counts. */
START_TEST(test_evidence_cname_bad)
{
	struct prop_result r;
	struct prop_obs o[3];
	char buf[64], big[256];

	slot_result(&r, o, 3, 3, PROP_NXDOMAIN, 0, 5);
	evidence_cname_bad(&r, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "ns1.x.test 127.0.0.81:53 nxdomain") == buf,
	    "%s", buf);
	ck_assert_msg(strstr(buf, " more") != NULL, "%s", buf);
	ck_assert_msg(strlen(buf) < sizeof(buf), "%s", buf);
	/* the rotation memo keeps it as cnbad=, where ';' ends the tag */
	ck_assert_msg(strchr(buf, ';') == NULL, "%s", buf);
	evidence_cname_bad(&r, buf, 20);
	ck_assert_msg(strcmp(buf, " and 3 more") == 0, "\"%s\"", buf);
	/* a name from DNS with ';' (ldns writes it "\;") or a control */
	o[0].server = "ns\\;1.x.test";
	o[1].server = "ns2\n.x.test";
	evidence_cname_bad(&r, big, sizeof(big));
	ck_assert_msg(strncmp(big, "ns\\?1.x.test 127.0.0.81:53 nxdomain, "
	    "ns2?.x.test ", 49) == 0, "%s", big);
}
END_TEST

/*
 * The hold counts from the first pass at which both zones agree: the real
 * evidence_update_slot feeding the real pol_decide, a pass every 10s.
 * The CNAME vanishes from one customer server at t=120 and comes back at
 * t=130, so the key is ready at 130 + max(TXT 30, CNAME 20, prev 40).
 */
START_TEST(test_slot_streak)
{
	struct pol_policy pol;
	struct pol_key keys[2];
	struct pol_plan plan = { 0 };
	struct prop_result cr, kr;
	struct prop_obs co[2], ko[2];
	struct slotk act = SK_ACT(1), pend = { POL_PENDING, 2,
	    POL_DNS_UNKNOWN, POL_CNAME_NONE, POL_PUB_PUBLISHED, 0, 100, 0,
	    40 };
	char names[4][3][48], got[256];
	long long t, ready_at = -1;

	slot_policy(&pol);
	slot_key(&act, 0, &keys[0], names);
	slot_key(&pend, 1, &keys[1], names);
	memset(&keys[1].obs, 0, sizeof(keys[1].obs));
	for (t = 100; t <= 300 && ready_at < 0; t += 10) {
		slot_result(&cr, co, 2, t == 120 ? 1 : 0, PROP_NXDOMAIN, 20,
		    5);
		slot_result(&kr, ko, 2, 0, PROP_MATCH, 30, 8);
		evidence_update_slot(&keys[1].obs, &keys[1].cname,
		    keys[1].cname_bad, sizeof(keys[1].cname_bad), &cr, &kr,
		    keys[1].prev_ttl, (time_t)t);
		pol_decide(&pol, keys, 2, (time_t)t, &plan);
		slot_words(&plan, got, sizeof(got));
		if (t == 120)
			ck_assert_msg(strcmp(got, "alarm:1 generate:slot3") ==
			    0, "t=%lld: %s", t, got);
		else if (strcmp(got, "ready:1") == 0)
			ready_at = t;
		else
			ck_assert_msg(got[0] == '\0', "t=%lld: %s", t, got);
	}
	pol_plan_free(&plan);
	ck_assert_int_eq(ready_at, 170);
}
END_TEST

Suite *policy_suite(void);

Suite *
policy_suite(void)
{
	Suite *s = suite_create("rotate_policy");
	TCase *tc = tcase_create("timelines");

	tcase_add_loop_test(tc, test_timeline, 0,
	    sizeof(timelines) / sizeof(timelines[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("one pass");
	tcase_add_loop_test(tc, test_pass, 0,
	    sizeof(pass_cases) / sizeof(pass_cases[0]));
	tcase_add_test(tc, test_plan_alarm);
	suite_add_tcase(s, tc);
	tc = tcase_create("delegated");
	tcase_add_loop_test(tc, test_slot, 0,
	    sizeof(slot_cases) / sizeof(slot_cases[0]));
	tcase_add_test(tc, test_evidence_slot);
	tcase_add_test(tc, test_evidence_cname_bad);
	tcase_add_test(tc, test_slot_streak);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
