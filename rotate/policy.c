/*
 * policy - the rotation decision for one domain
 *
 * One pass, in this order, each rule seeing the states the earlier rules
 * left behind (a working copy; the input is never written):
 *
 *	1. compromised keys are revoked at once, whatever their state
 *	2. pending keys: publish, raise a mismatch alarm, or become ready
 *	   once every address agreed for the whole TTL hold
 *	3. active and ready keys whose record vanished (somewhere or
 *	   everywhere) or changed: alarm; an active one is replaced when a
 *	   confirmed replacement exists (another confirmed active key, or
 *	   a healthy ready standby: then it is a swap)
 *	4. retiring keys are revoked after retire_after
 *	5. active keys of a dropped algorithm, or above active_keys, retire
 *	6. the active set is filled up to active_keys from the ready keys
 *	7. a full active set whose oldest key reached rotate_after swaps it
 *	   for the standby (one grouped action)
 *	8. revoked keys whose "p=" record was not handed over: unpublish
 *	9. an algorithm without a pending or healthy ready key: generate
 *	   (a delegated domain: in a free slot, rule_slot)
 *
 * A delegated domain's keys live in slots (pol_key.slot > 0): a slot
 * key's DNS summary covers both its target in the provider zone and the
 * customer's CNAME to it (evidence_update_slot), and its CNAME state is
 * kept apart for the alarm. A slot whose CNAME is missing or wrong at
 * any address is not used: its pending key does not become ready, its
 * ready key is no standby, its active key is swapped for a healthy
 * standby at once. A pending slot key becomes ready only after the hold,
 * which includes the TTL of what the target served before (prev_ttl;
 * the policy's dns_hold when that is not known). A slot takes a new key
 * only once its revoked key's "p=" is served everywhere and the key
 * stopped signing at least retire_after ago.
 *
 * No clock, no I/O: see policy.h for the contract.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "xmalloc.h"

struct pass {
	const struct pol_policy	*pol;
	const struct pol_key	*keys;
	size_t			 nkeys;
	time_t			 now;
	enum pol_state		*st;	/* working copy of the states */
	enum pol_state		*was;	/* the state before the last move */
	time_t			*since;	/* working copy of state_since */
	struct pol_plan		*plan;
};

/* pol_emit - append one action; the reason is formatted here */
static struct pol_action *
pol_emit(struct pass *p, enum pol_act type, size_t key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static struct pol_action *
pol_emit(struct pass *p, enum pol_act type, size_t key, const char *fmt, ...)
{
	struct pol_plan *pl = p->plan;
	struct pol_action *a;
	va_list ap;

	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : 8;
		pl->v = xreallocarray(pl->v, pl->cap, sizeof(*pl->v));
	}
	a = &pl->v[pl->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->key = key;
	a->other = POL_NONE;
	if (key != POL_NONE) {
		a->alg = p->keys[key].alg;
		a->bits = p->keys[key].bits;
		a->from = a->to = p->st[key];
		if (type == POL_A_READY || type == POL_A_ACTIVATE ||
		    type == POL_A_SWAP || type == POL_A_RETIRE ||
		    type == POL_A_REVOKE)
			a->from = p->was[key];
	}
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
	return a;
}

/* pol_other - the second key of a swap, with its move */
static void
pol_other(struct pass *p, struct pol_action *a, size_t i)
{
	a->other = i;
	a->other_from = p->was[i];
	a->other_to = p->st[i];
}

/* pol_set - move a key in the working copy, so later rules see it */
static void
pol_set(struct pass *p, size_t i, enum pol_state s)
{
	p->was[i] = p->st[i];
	p->st[i] = s;
	p->since[i] = p->now;
}

/* pol_cname_bad - a slot whose customer CNAME is missing or wrong at
 * some address: the slot is not used */
static int
pol_cname_bad(const struct pol_key *k)
{
	return k->slot > 0 && (k->cname == POL_CNAME_MISSING ||
	    k->cname == POL_CNAME_WRONG);
}

/* pol_broken - DNS says the record is gone (somewhere or everywhere) or
 * is another key; for a key that was confirmed, that is an alarm */
static int
pol_broken(const struct pol_key *k)
{
	return k->obs.dns == POL_DNS_ABSENT ||
	    k->obs.dns == POL_DNS_REVOKED || k->obs.dns == POL_DNS_MISMATCH ||
	    pol_cname_bad(k);
}

/* pol_slot_name - the selector of slot n, for reasons */
static const char *
pol_slot_name(const struct pass *p, int n, char *buf, size_t len)
{
	if (n > 0 && n < 4 && p->pol->slot_sel[n] != NULL)
		return p->pol->slot_sel[n];
	snprintf(buf, len, "slot %d", n);
	return buf;
}

/* pol_cname_alarm - the alarm of a slot whose CNAME failed */
static void
pol_cname_alarm(struct pass *p, size_t i, const char *what)
{
	const struct pol_key *k = &p->keys[i];

	pol_emit(p, POL_A_ALARM, i, "slot %s (%s): the customer's CNAME is "
	    "%s at %s; expected %s: %s", k->selector,
	    k->cname_name ? k->cname_name : k->selector,
	    k->cname == POL_CNAME_MISSING ? "missing" : "wrong",
	    k->cname_bad[0] ? k->cname_bad : "a server",
	    k->target ? k->target : "its target", what);
}

/* pol_standby_ok - a ready key that counts as the standby: not known to
 * be broken (a pass whose check failed does not make it one) */
static int
pol_standby_ok(const struct pass *p, size_t i)
{
	return p->st[i] == POL_READY && !p->keys[i].compromised &&
	    !pol_broken(&p->keys[i]);
}

/* pol_promotable - a ready key that may start signing: every address
 * served it in this pass. A check that failed or went unanswered at some
 * address is no evidence, and the last definite answer may have been that
 * the record is gone. (The caller's memo may hold an answer older than
 * the pass for a confirmed key; the rotation pass checks the ready and
 * active keys again, and decides again, before it carries out a plan
 * that activates, swaps or retires: rotation.c, pass_check.) */
static int
pol_promotable(const struct pass *p, size_t i)
{
	return pol_standby_ok(p, i) &&
	    p->keys[i].obs.dns == POL_DNS_PUBLISHED;
}

/* pol_count - keys of alg in state s, in the working copy */
static int
pol_count(const struct pass *p, enum pol_alg alg, enum pol_state s)
{
	size_t i;
	int n = 0;

	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].alg == alg && p->st[i] == s)
			n++;
	return n;
}

/* pol_oldest - the key of alg in state s that entered it first */
static size_t
pol_oldest(const struct pass *p, enum pol_alg alg, enum pol_state s,
    size_t except)
{
	size_t i, best = POL_NONE;

	for (i = 0; i < p->nkeys; i++) {
		if (i == except || p->keys[i].alg != alg || p->st[i] != s)
			continue;
		if (s == POL_READY && !pol_promotable(p, i))
			continue;
		if (best == POL_NONE || p->since[i] < p->since[best] ||
		    (p->since[i] == p->since[best] &&
		    p->keys[i].created < p->keys[best].created))
			best = i;
	}
	return best;
}

/* pol_revoke - revoked now; the hook must hand over "p=" */
static void
pol_revoke(struct pass *p, size_t i, const char *why)
{
	pol_set(p, i, POL_REVOKED);
	pol_emit(p, POL_A_REVOKE, i, "%s", why);
}

/* rule_compromised - no grace period for a key the operator gave up */
static void
rule_compromised(struct pass *p)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++) {
		if (!p->keys[i].compromised || p->st[i] == POL_REVOKED)
			continue;
		pol_revoke(p, i, "declared compromised by the operator: "
		    "revoked with no grace period");
	}
}

/* pol_utc - a time for a reason, the way the history writes times */
static const char *
pol_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

/* pol_prev_ttl - how long a resolver may keep what the slot's target
 * served before its key: as observed, else the policy's bound */
static long long
pol_prev_ttl(const struct pass *p, const struct pol_key *k)
{
	return k->prev_ttl >= 0 ? k->prev_ttl : p->pol->dns_hold;
}

/* rule_pending_slot - ready once both zones agreed for the whole hold,
 * which no cache of the old target answer can outlast */
static void
rule_pending_slot(struct pass *p, size_t i)
{
	const struct pol_key *k = &p->keys[i];
	char when[32];
	long long prev = pol_prev_ttl(p, k), hold;

	hold = k->obs.hold > prev ? k->obs.hold : prev;
	if ((long long)p->now < (long long)k->obs.since + hold)
		return;
	pol_set(p, i, POL_READY);
	pol_emit(p, POL_A_READY, i, "every server of %s serves %s (key %s) "
	    "and every server of %s CNAMEs it since %s; hold %llds = max(TXT "
	    "%llds, previous %llds, CNAME %llds, negative %llds) passed",
	    p->pol->delegate_to ? p->pol->delegate_to : "the provider",
	    k->selector, k->kid ? k->kid : "?",
	    p->pol->domain ? p->pol->domain : "the customer",
	    pol_utc(k->obs.since, when, sizeof(when)), hold, k->obs.ttl_txt,
	    prev, k->obs.ttl_cname, k->obs.ttl_neg);
}

/* rule_pending - publish, alarm, or ready after the hold */
static void
rule_pending(struct pass *p)
{
	const struct pol_key *k;
	char when[32];
	long long due;
	size_t i;

	for (i = 0; i < p->nkeys; i++) {
		k = &p->keys[i];
		if (p->st[i] != POL_PENDING)
			continue;
		if (pol_cname_bad(k)) {
			if (k->published == POL_PUB_NONE)
				pol_emit(p, POL_A_PUBLISH, i, "new key %s: "
				    "record to publish", k->selector);
			pol_cname_alarm(p, i, "the slot is not used");
			continue;
		}
		if (k->obs.dns == POL_DNS_MISMATCH) {
			pol_emit(p, POL_A_ALARM, i, "a nameserver serves another "
			    "key for %s (%s): not confirmed", k->selector,
			    k->obs.detail);
			continue;
		}
		if (k->obs.dns != POL_DNS_PUBLISHED) {
			if (k->published == POL_PUB_NONE)
				pol_emit(p, POL_A_PUBLISH, i, "new key %s: "
				    "record to publish", k->selector);
			continue;
		}
		if (k->slot > 0) {
			rule_pending_slot(p, i);
			continue;
		}
		due = (long long)k->obs.since + k->obs.hold;
		if ((long long)p->now < due)
			continue;
		pol_set(p, i, POL_READY);
		pol_emit(p, POL_A_READY, i, "every nameserver serves %s since "
		    "%s, TTL hold %llds passed", k->selector,
		    pol_utc(k->obs.since, when, sizeof(when)), k->obs.hold);
	}
}

/* pol_confirmed_peer - another active key of alg that DNS confirms */
static int
pol_confirmed_peer(const struct pass *p, size_t self)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		if (i != self && p->st[i] == POL_ACTIVE &&
		    p->keys[i].alg == p->keys[self].alg &&
		    p->keys[i].obs.dns == POL_DNS_PUBLISHED)
			return 1;
	return 0;
}

/* rule_broken - a record that vanished or changed under a live key */
static void
rule_broken(struct pass *p)
{
	const struct pol_key *k;
	const char *what;
	size_t i, sb;

	for (i = 0; i < p->nkeys; i++) {
		k = &p->keys[i];
		if ((p->st[i] != POL_ACTIVE && p->st[i] != POL_READY) ||
		    !pol_broken(k))
			continue;
		what = k->obs.dns == POL_DNS_MISMATCH ?
		    "serves another key" : "has no record";
		if (pol_cname_bad(k))
			pol_cname_alarm(p, i, p->st[i] == POL_ACTIVE ?
			    "the slot is taken out when a standby can sign" :
			    "the slot is not used");
		else
			pol_emit(p, POL_A_ALARM, i, "%s key %s: a nameserver "
			    "%s (%s)", pol_state_name(p->st[i]), k->selector,
			    what, k->obs.detail);
		if (p->st[i] != POL_ACTIVE)
			continue;
		if (pol_confirmed_peer(p, i)) {
			pol_set(p, i, POL_RETIRING);
			pol_emit(p, POL_A_RETIRE, i, "alarm: %s taken out of "
			    "the round-robin, other active keys remain "
			    "confirmed", k->selector);
		} else if ((sb = pol_oldest(p, k->alg, POL_READY, i)) !=
		    POL_NONE) {
			pol_set(p, i, POL_RETIRING);
			pol_set(p, sb, POL_ACTIVE);
			pol_other(p, pol_emit(p, POL_A_SWAP, sb, "alarm: %s "
			    "replaced by the "
			    "confirmed standby %s", k->selector,
			    p->keys[sb].selector), i);
		}
	}
}

/* rule_retiring - the grace period for verifiers of late mail is over */
static void
rule_retiring(struct pass *p)
{
	char why[128];
	size_t i;

	for (i = 0; i < p->nkeys; i++) {
		if (p->st[i] != POL_RETIRING ||
		    (long long)p->now - (long long)p->since[i] <
		    p->pol->retire_after)
			continue;
		snprintf(why, sizeof(why), "retiring for %llds "
		    "(retire_after %llds)",
		    (long long)p->now - (long long)p->since[i],
		    p->pol->retire_after);
		pol_revoke(p, i, why);
	}
}

/* rule_shrink - a dropped algorithm or a smaller active set */
static void
rule_shrink(struct pass *p)
{
	enum pol_alg a;
	size_t i;

	for (i = 0; i < p->nkeys; i++) {
		a = p->keys[i].alg;
		if (p->st[i] == POL_ACTIVE && !p->pol->algs[a]) {
			pol_set(p, i, POL_RETIRING);
			pol_emit(p, POL_A_RETIRE, i, "algorithm %s no longer in "
			    "the policy", pol_alg_name(a));
		}
	}
	for (a = 0; a < POL_NALG; a++) {
		while (pol_count(p, a, POL_ACTIVE) > p->pol->active_keys) {
			i = pol_oldest(p, a, POL_ACTIVE, POL_NONE);
			pol_set(p, i, POL_RETIRING);
			pol_emit(p, POL_A_RETIRE, i, "more active %s keys than "
			    "the policy's %d", pol_alg_name(a),
			    p->pol->active_keys);
		}
	}
}

/* rule_fill - bring the active set up to active_keys */
static void
rule_fill(struct pass *p, enum pol_alg a)
{
	size_t i;
	int n;

	while ((n = pol_count(p, a, POL_ACTIVE)) < p->pol->active_keys) {
		if ((i = pol_oldest(p, a, POL_READY, POL_NONE)) == POL_NONE)
			return;
		pol_set(p, i, POL_ACTIVE);
		pol_emit(p, POL_A_ACTIVATE, i, "%d of %d active %s keys: %s "
		    "is confirmed", n, p->pol->active_keys, pol_alg_name(a),
		    p->keys[i].selector);
	}
}

/* rule_swap - the scheduled selector swap, one per pass and algorithm */
static void
rule_swap(struct pass *p, enum pol_alg a)
{
	size_t old, sb;
	long long age;

	if (pol_count(p, a, POL_ACTIVE) < p->pol->active_keys)
		return;
	if ((old = pol_oldest(p, a, POL_ACTIVE, POL_NONE)) == POL_NONE)
		return;
	age = (long long)p->now - (long long)p->since[old];
	if (age < p->pol->rotate_after)
		return;
	if ((sb = pol_oldest(p, a, POL_READY, POL_NONE)) == POL_NONE)
		return;
	pol_set(p, old, POL_RETIRING);
	pol_set(p, sb, POL_ACTIVE);
	pol_other(p, pol_emit(p, POL_A_SWAP, sb, "%s active for %llds "
	    "(rotate_after %llds): swapped for %s", p->keys[old].selector,
	    age, p->pol->rotate_after, p->keys[sb].selector), old);
}

/* rule_unpublish - hand over "v=DKIM1; p=" until the hook succeeded */
static void
rule_unpublish(struct pass *p)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		if (p->st[i] == POL_REVOKED &&
		    p->keys[i].published != POL_PUB_REVOKED)
			pol_emit(p, POL_A_UNPUBLISH, i, "revoked key %s: record "
			    "becomes \"v=DKIM1; p=\"", p->keys[i].selector);
}

/* rule_standby - one pending or healthy ready key per algorithm */
static void
rule_standby(struct pass *p, enum pol_alg a)
{
	struct pol_action *act;
	size_t i;

	for (i = 0; i < p->nkeys; i++) {
		if (p->keys[i].alg != a || p->keys[i].compromised)
			continue;
		if (p->st[i] == POL_PENDING || pol_standby_ok(p, i))
			return;
	}
	act = pol_emit(p, POL_A_GENERATE, POL_NONE, "no standby %s key",
	    pol_alg_name(a));
	act->alg = a;
	act->bits = a == POL_ALG_RSA ? p->pol->rsa_bits : 256;
}

/* pol_slot_free - slot n may take a new key: empty, or its key revoked
 * with "p=" served everywhere and stopped signing retire_after ago;
 * *key is its key (POL_NONE: empty) */
static int
pol_slot_free(const struct pass *p, int n, size_t *key)
{
	const struct pol_key *k;
	size_t i;

	*key = POL_NONE;
	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].slot == n)
			*key = i;
	if (*key == POL_NONE)
		return 1;
	k = &p->keys[*key];
	if (p->st[*key] != POL_REVOKED || k->published != POL_PUB_REVOKED ||
	    k->obs.dns != POL_DNS_REVOKED || pol_cname_bad(k))
		return 0;
	return k->stopped == 0 ||
	    (long long)p->now - (long long)k->stopped >= p->pol->retire_after;
}

/* rule_slot - a delegated domain's standby: a pending key whose CNAME
 * is not known to fail, or a healthy ready key; else the lowest empty
 * slot, else the free slot whose key stopped signing longest ago */
static void
rule_slot(struct pass *p, enum pol_alg a)
{
	struct pol_action *act;
	char nb[16];
	size_t i, k, bestk = POL_NONE;
	int n, best = 0;

	for (i = 0; i < p->nkeys; i++) {
		if (p->keys[i].compromised)
			continue;
		if ((p->st[i] == POL_PENDING && !pol_cname_bad(&p->keys[i])) ||
		    pol_standby_ok(p, i))
			return;
	}
	for (n = 1; n <= p->pol->slots; n++) {
		if (!pol_slot_free(p, n, &k))
			continue;
		if (k == POL_NONE) {
			best = n;
			bestk = POL_NONE;
			break;
		}
		if (best == 0 || p->keys[k].stopped <
		    p->keys[bestk].stopped) {
			best = n;
			bestk = k;
		}
	}
	if (best == 0)
		return;
	if (bestk == POL_NONE)
		act = pol_emit(p, POL_A_GENERATE, POL_NONE, "slot %s takes a "
		    "new key: the slot is empty",
		    pol_slot_name(p, best, nb, sizeof(nb)));
	else
		act = pol_emit(p, POL_A_GENERATE, POL_NONE, "slot %s takes a "
		    "new key: its key %s stopped signing %llds ago "
		    "(retire-after %llds)", p->keys[bestk].selector,
		    p->keys[bestk].kid ? p->keys[bestk].kid : "?",
		    p->keys[bestk].stopped == 0 ? 0LL :
		    (long long)p->now - (long long)p->keys[bestk].stopped,
		    p->pol->retire_after);
	act->alg = a;
	act->bits = a == POL_ALG_RSA ? p->pol->rsa_bits : 256;
	act->slot = best;
}

/* pol_decide - the rules in order, on a working copy of the states */
void
pol_decide(const struct pol_policy *pol, const struct pol_key *keys,
    size_t nkeys, time_t now, struct pol_plan *plan)
{
	struct pass p;
	enum pol_alg a;
	size_t i;

	plan->n = 0;
	p.pol = pol;
	p.keys = keys;
	p.nkeys = nkeys;
	p.now = now;
	p.plan = plan;
	p.st = xcalloc(nkeys + 1, sizeof(*p.st));
	p.since = xcalloc(nkeys + 1, sizeof(*p.since));
	p.was = xcalloc(nkeys + 1, sizeof(*p.was));
	for (i = 0; i < nkeys; i++) {
		p.st[i] = p.was[i] = keys[i].state;
		p.since[i] = keys[i].state_since;
	}
	rule_compromised(&p);
	rule_pending(&p);
	rule_broken(&p);
	rule_retiring(&p);
	rule_shrink(&p);
	for (a = 0; a < POL_NALG; a++) {
		if (!pol->algs[a])
			continue;
		rule_fill(&p, a);
		rule_swap(&p, a);
	}
	rule_unpublish(&p);
	for (a = 0; a < POL_NALG; a++)
		if (pol->algs[a] && pol->slots > 0)
			rule_slot(&p, a);
		else if (pol->algs[a])
			rule_standby(&p, a);
	free(p.st);
	free(p.since);
	free(p.was);
}

/* pol_plan_free - the plan is one array */
void
pol_plan_free(struct pol_plan *plan)
{
	free(plan->v);
	memset(plan, 0, sizeof(*plan));
}

/* pol_plan_alarm - the alarm the plan raises for key i, or NULL */
const struct pol_action *
pol_plan_alarm(const struct pol_plan *plan, size_t i)
{
	size_t	 j;

	for (j = 0; j < plan->n; j++)
		if (plan->v[j].type == POL_A_ALARM && plan->v[j].key == i)
			return &plan->v[j];
	return NULL;
}

/* pol_act_name - for logs, reports and tests */
const char *
pol_act_name(enum pol_act a)
{
	static const char *names[] = { "generate", "publish", "ready",
	    "activate", "swap", "retire", "revoke", "unpublish", "alarm" };

	return (size_t)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

/* pol_state_name - the keystore spells states the same way */
const char *
pol_state_name(enum pol_state s)
{
	static const char *names[] = { "pending", "ready", "active",
	    "retiring", "revoked" };

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* pol_alg_name - as in k= */
const char *
pol_alg_name(enum pol_alg a)
{
	return a == POL_ALG_RSA ? "rsa" : a == POL_ALG_ED25519 ?
	    "ed25519" : "?";
}

/* pol_dns_name - as in the rotation memo */
const char *
pol_dns_name(enum pol_dns d)
{
	static const char *names[] = { "unknown", "published", "partial",
	    "absent", "mismatch", "revoked" };

	return (size_t)d < sizeof(names) / sizeof(names[0]) ? names[d] : "?";
}

static const char *cname_names[] = { "none", "unknown", "ok", "missing",
    "wrong" };

/* pol_cname_name - as in the rotation memo */
const char *
pol_cname_name(enum pol_cname c)
{
	return (size_t)c < sizeof(cname_names) / sizeof(cname_names[0]) ?
	    cname_names[c] : "?";
}

/* pol_cname_parse - the memo's cn= back */
int
pol_cname_parse(const char *s, enum pol_cname *c)
{
	size_t i;

	for (i = 0; i < sizeof(cname_names) / sizeof(cname_names[0]); i++)
		if (strcmp(s, cname_names[i]) == 0) {
			*c = (enum pol_cname)i;
			return 0;
		}
	return -1;
}
