/*
 * adapt - keystore types to rotation types and back; the rotation memo;
 * the alarm notes of the history
 *
 * The memo file, one line per key, tag=value like a DKIM record:
 *
 *	# keyturn rotation memo 2
 *	s=kt-202611-ed; pub=published; dns=published; since=1795000000; hold=300; checked=1795086000; k=9f86d081884c7d65
 *	s=kt2; pub=published; dns=absent; since=0; hold=0; k=77aa01c3d4e5f607; cn=missing; cnbad=ns2.bad.test 127.0.0.82:53 nxdomain; ttlmax=2
 *	s=kt1; pub=published; dns=published; since=1795000000; hold=300; k=0c1d2e3f40516273; cn=ok; ttltxt=300; ttlcn=60; ttlneg=30
 *
 * checked= (the end of the key's last DNS check) is left out for a key
 * never checked, and a memo without it reads as "never": every key is
 * asked about at the next pass. k= is the key id (memo 1 lines have
 * none: the entry is the selector's); cn=, cnbad= and ttlmax= are for
 * the slot keys of a delegated domain (policy.h, adapt_mem), and so are
 * ttltxt=, ttlcn= and ttlneg=, the parts of the hold (pol_obs), each
 * left out when 0 and read as 0 when missing. A memo 1 file reads as a
 * memo 2 one whose lines lack the new tags.
 *
 * No I/O here: the caller reads and writes the file.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "adapt.h"
#include "tagvalue.h"
#include "xmalloc.h"

#define MEMO_HEADER	"# keyturn rotation memo 2\n"

static const char *pub_names[] = { "none", "published", "revoked" };
static const char *dns_names[] = { "unknown", "published", "partial",
    "absent", "mismatch", "revoked" };

/* adapt_alg - GENERATE names a policy algorithm, the keystore wants its own */
enum store_alg
adapt_alg(enum pol_alg a)
{
	return a == POL_ALG_ED25519 ? STORE_ALG_ED25519 : STORE_ALG_RSA;
}

/* pol_alg_of - the policy's algorithm of a keystore algorithm */
static enum pol_alg
pol_alg_of(enum store_alg a)
{
	return a == STORE_ALG_ED25519 ? POL_ALG_ED25519 : POL_ALG_RSA;
}

/* the two state enums list the same states in the same order */
static enum pol_state
pol_state_of(enum store_state s)
{
	static const enum pol_state map[] = { POL_PENDING, POL_READY,
	    POL_ACTIVE, POL_RETIRING, POL_REVOKED };

	return map[s];
}

/* store_state_of - back again, for store_apply */
static enum store_state
store_state_of(enum pol_state s)
{
	static const enum store_state map[] = { STORE_PENDING, STORE_READY,
	    STORE_ACTIVE, STORE_RETIRING, STORE_REVOKED };

	return map[s];
}

/* adapt_policy - only the fields the decision needs */
void
adapt_policy(const struct store_policy *sp, struct pol_policy *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->algs[POL_ALG_RSA] = (sp->algs & STORE_ALGBIT(STORE_ALG_RSA)) != 0;
	pp->algs[POL_ALG_ED25519] =
	    (sp->algs & STORE_ALGBIT(STORE_ALG_ED25519)) != 0;
	pp->rsa_bits = sp->bits;
	pp->active_keys = sp->active_keys;
	pp->rotate_after = sp->rotate_after;
	pp->retire_after = sp->retire_after;
	pp->slots = sp->slots;
	pp->dns_hold = sp->dns_hold;
	pp->delegate_to = sp->delegate_to;
}

/* adapt_slots - the status shows the same names the pass decides on */
void
adapt_slots(const struct store_domain *d, struct adapt_slots *ns,
    struct pol_policy *pol, struct pol_key *keys)
{
	char err[160];
	size_t i;
	int n;

	memset(ns, 0, sizeof(*ns));
	ns->cname = xcalloc(d->nkeys + 1, sizeof(*ns->cname));
	ns->target = xcalloc(d->nkeys + 1, sizeof(*ns->target));
	pol->domain = d->name;
	for (n = 1; n <= d->policy.slots && n < 4; n++)
		if (store_slot_names(&d->policy, d->name, n, ns->sel[n],
		    sizeof(ns->sel[n]), NULL, 0, err, sizeof(err)) == 0)
			pol->slot_sel[n] = ns->sel[n];
	for (i = 0; i < d->nkeys; i++) {
		if (d->keys[i].slot <= 0 || store_slot_names(&d->policy,
		    d->name, d->keys[i].slot, NULL, 0, ns->target[i],
		    sizeof(ns->target[i]), err, sizeof(err)) == -1)
			continue;
		snprintf(ns->cname[i], sizeof(ns->cname[i]),
		    "%s._domainkey.%s", d->keys[i].selector, d->name);
		keys[i].cname_name = ns->cname[i];
		keys[i].target = ns->target[i];
	}
}

/* adapt_slots_free - what adapt_slots allocated */
void
adapt_slots_free(struct adapt_slots *ns)
{
	free(ns->cname);
	free(ns->target);
	ns->cname = NULL;
	ns->target = NULL;
}

/* adapt_memo_find - the entry of selector, or NULL */
const struct adapt_mem *
adapt_memo_find(const struct adapt_memo *m, const char *selector)
{
	size_t i;

	for (i = 0; m != NULL && i < m->n; i++)
		if (strcmp(m->v[i].selector, selector) == 0)
			return &m->v[i];
	return NULL;
}

/* adapt_keys - keystore state plus what the memo remembers */
void
adapt_keys(const struct store_domain *d, const struct adapt_memo *memo,
    struct pol_key *out)
{
	const struct store_key *k;
	const struct adapt_mem *m;
	size_t i;

	for (i = 0; i < d->nkeys; i++) {
		k = &d->keys[i];
		memset(&out[i], 0, sizeof(out[i]));
		out[i].selector = k->selector;
		out[i].alg = pol_alg_of(k->alg);
		out[i].bits = k->bits;
		out[i].state = pol_state_of(k->state);
		out[i].created = k->created;
		out[i].state_since = k->since;
		out[i].obs.dns = POL_DNS_UNKNOWN;
		out[i].kid = k->kid;
		out[i].slot = k->slot;
		out[i].stopped = k->stopped;
		out[i].prev_ttl = k->prev_ttl;
		if ((m = adapt_memo_find(memo, k->selector)) != NULL &&
		    (m->kid[0] == '\0' || strcmp(m->kid, k->kid) == 0)) {
			out[i].published = m->published;
			out[i].obs = m->obs;
			if (k->slot > 0) {
				out[i].cname = m->cname;
				snprintf(out[i].cname_bad,
				    sizeof(out[i].cname_bad), "%s",
				    m->cname_bad);
			}
		} else if (k->state == STORE_READY ||
		    k->state == STORE_ACTIVE || k->state == STORE_RETIRING)
			out[i].published = POL_PUB_PUBLISHED;
	}
}

/* adapt_query - the check compares bytes, so decode p= once here */
int
adapt_query(const char *domain, const struct store_key *k,
    struct prop_query *q, char *err, size_t errlen)
{
	unsigned char *raw;
	size_t len, pad;
	int n;

	memset(q, 0, sizeof(*q));
	len = k->p != NULL ? strlen(k->p) : 0;
	if (len == 0 || len % 4 != 0) {
		snprintf(err, errlen, "%s: no usable public key", k->selector);
		return -1;
	}
	raw = xmalloc(len);
	n = EVP_DecodeBlock(raw, (const unsigned char *)k->p, len);
	pad = (k->p[len - 1] == '=') + (k->p[len - 2] == '=');
	if (n < 0 || (size_t)n < pad) {
		free(raw);
		snprintf(err, errlen, "%s: public key is not base64",
		    k->selector);
		return -1;
	}
	q->name = xasprintf("%s._domainkey.%s", k->selector, domain);
	q->alg = k->alg == STORE_ALG_ED25519 ? PROP_ALG_ED25519 :
	    PROP_ALG_RSA;
	q->key = raw;
	q->keylen = n - pad;
	return 0;
}

/* adapt_query_slot - both checks name the slot's two names, rendered
 * by the keystore from the policy's templates */
int
adapt_query_slot(const struct store_domain *d, const struct store_key *k,
    struct prop_query *cq, struct prop_query *kq, char *err, size_t errlen)
{
	char sel[STORE_SELECTOR_MAX + 1], target[STORE_DOMAIN_MAX + 1];

	memset(cq, 0, sizeof(*cq));
	memset(kq, 0, sizeof(*kq));
	if (k->slot <= 0 || store_slot_names(&d->policy, d->name, k->slot,
	    sel, sizeof(sel), target, sizeof(target), err, errlen) == -1) {
		if (k->slot <= 0)
			snprintf(err, errlen, "%s: not a slot key",
			    k->selector);
		return -1;
	}
	if (adapt_query(d->name, k, kq, err, errlen) == -1)
		return -1;
	cq->name = xstrdup(kq->name);
	cq->cname_to = xstrdup(target);
	cq->alg = kq->alg;
	kq->resolver_name = kq->name;
	kq->name = xstrdup(target);
	kq->no_follow = 1;
	return 0;
}

/* adapt_query_free - the names and key adapt_query or adapt_query_slot
 * made */
void
adapt_query_free(struct prop_query *q)
{
	free((char *)q->cname_to);
	free((char *)q->resolver_name);
	free((char *)q->name);
	free((unsigned char *)q->key);
	memset(q, 0, sizeof(*q));
}

/* adapt_changes - the action already says from and to: copy them */
size_t
adapt_changes(const struct pol_action *a, const struct pol_key *keys,
    struct store_change out[2])
{
	switch (a->type) {
	case POL_A_READY:
	case POL_A_ACTIVATE:
	case POL_A_SWAP:
	case POL_A_RETIRE:
	case POL_A_REVOKE:
		break;
	default:
		return 0;
	}
	out[0].selector = keys[a->key].selector;
	out[0].from = store_state_of(a->from);
	out[0].to = store_state_of(a->to);
	out[0].reason = a->reason;
	if (a->type != POL_A_SWAP)
		return 1;
	out[1].selector = keys[a->other].selector;
	out[1].from = store_state_of(a->other_from);
	out[1].to = store_state_of(a->other_to);
	out[1].reason = a->reason;
	return 2;
}

/* adapt_memo_get - every key gets an entry the first time it is seen */
struct adapt_mem *
adapt_memo_get(struct adapt_memo *m, const char *selector)
{
	struct adapt_mem *e;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i].selector, selector) == 0)
			return &m->v[i];
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	e = &m->v[m->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->selector, sizeof(e->selector), "%s", selector);
	return e;
}

/* adapt_memo_key - a slot's next key must not inherit what DNS said
 * about the one before it */
struct adapt_mem *
adapt_memo_key(struct adapt_memo *m, const struct store_key *k)
{
	struct adapt_mem *e = adapt_memo_get(m, k->selector);

	if (e->kid[0] != '\0' && strcmp(e->kid, k->kid) != 0) {
		memset(e, 0, sizeof(*e));
		snprintf(e->selector, sizeof(e->selector), "%s", k->selector);
	}
	snprintf(e->kid, sizeof(e->kid), "%s", k->kid);
	return e;
}

/* adapt_memo_prune - deleted keys must not linger in the file */
void
adapt_memo_prune(struct adapt_memo *m, const struct store_domain *d)
{
	size_t i, j = 0;

	for (i = 0; i < m->n; i++)
		if (store_domain_key(d, m->v[i].selector) != NULL)
			m->v[j++] = m->v[i];
	m->n = j;
}

/* memo_tags - the memo 2 tags of an entry that has them */
static void
memo_tags(const struct adapt_mem *e, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	if (e->kid[0] != '\0')
		o += snprintf(buf + o, len - o, "; k=%s", e->kid);
	if (e->cname != POL_CNAME_NONE && o < len)
		o += snprintf(buf + o, len - o, "; cn=%s",
		    pol_cname_name(e->cname));
	if (e->cname_bad[0] != '\0' && o < len)
		o += snprintf(buf + o, len - o, "; cnbad=%s", e->cname_bad);
	if (e->ttlmax > 0 && o < len)
		o += snprintf(buf + o, len - o, "; ttlmax=%lld", e->ttlmax);
	if (e->obs.ttl_txt > 0 && o < len)
		o += snprintf(buf + o, len - o, "; ttltxt=%lld",
		    e->obs.ttl_txt);
	if (e->obs.ttl_cname > 0 && o < len)
		o += snprintf(buf + o, len - o, "; ttlcn=%lld",
		    e->obs.ttl_cname);
	if (e->obs.ttl_neg > 0 && o < len)
		snprintf(buf + o, len - o, "; ttlneg=%lld", e->obs.ttl_neg);
}

/* adapt_memo_format - one line per key, the header first */
char *
adapt_memo_format(const struct adapt_memo *m)
{
	const struct adapt_mem *e;
	char *out = xstrdup(MEMO_HEADER), *line, *cat, checked[40];
	char tags[POL_CNAME_BAD + 192];
	size_t i;

	for (i = 0; i < m->n; i++) {
		e = &m->v[i];
		checked[0] = '\0';
		if (e->checked > 0)
			snprintf(checked, sizeof(checked), "; checked=%lld",
			    (long long)e->checked);
		memo_tags(e, tags, sizeof(tags));
		line = xasprintf("s=%s; pub=%s; dns=%s; since=%lld; hold=%lld"
		    "%s%s\n", e->selector, pub_names[e->published],
		    dns_names[e->obs.dns], (long long)e->obs.since,
		    e->obs.hold, checked, tags);
		cat = xasprintf("%s%s", out, line);
		free(out);
		free(line);
		out = cat;
	}
	return out;
}

/* name_index - position of s in names[], or -1 */
static int
name_index(const char *s, const char **names, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* number - a non-negative decimal; -1 when not one */
static long long
number(const char *s)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return *end != '\0' || errno != 0 ? -1 : v;
}

/* memo_line2 - the memo 2 tags, each optional */
static int
memo_line2(const struct tv_list *l, struct adapt_mem *e, char *err,
    size_t errlen)
{
	const char *k = tv_get(l, "k"), *cn = tv_get(l, "cn");
	const char *bad = tv_get(l, "cnbad"), *ttl = tv_get(l, "ttlmax");
	const char *txt = tv_get(l, "ttltxt"), *tcn = tv_get(l, "ttlcn");
	const char *neg = tv_get(l, "ttlneg");

	memset(e, 0, sizeof(*e));
	if ((k != NULL && strlen(k) != STORE_KID_LEN) ||
	    (cn != NULL && pol_cname_parse(cn, &e->cname) == -1) ||
	    (bad != NULL && strlen(bad) >= sizeof(e->cname_bad)) ||
	    (ttl != NULL && (e->ttlmax = number(ttl)) < 0) ||
	    (txt != NULL && (e->obs.ttl_txt = number(txt)) < 0) ||
	    (tcn != NULL && (e->obs.ttl_cname = number(tcn)) < 0) ||
	    (neg != NULL && (e->obs.ttl_neg = number(neg)) < 0)) {
		snprintf(err, errlen, "bad k=, cn=, cnbad=, ttlmax=, ttltxt=, "
		    "ttlcn= or ttlneg=");
		return -1;
	}
	if (k != NULL)
		snprintf(e->kid, sizeof(e->kid), "%s", k);
	if (bad != NULL)
		snprintf(e->cname_bad, sizeof(e->cname_bad), "%s", bad);
	return 0;
}

/* memo_line - one "s=...; pub=...; ..." line into m */
static int
memo_line(const char *line, size_t len, struct adapt_memo *m, char *err,
    size_t errlen)
{
	struct adapt_mem *e;
	struct tv_list l;
	const char *s;
	long long since, hold, checked;
	int pub, dns;
	struct adapt_mem v2;

	if (tv_parse(line, len, &l, err, errlen) == -1)
		return -1;
	s = tv_get(&l, "s");
	pub = name_index(tv_get(&l, "pub"), pub_names, 3);
	dns = name_index(tv_get(&l, "dns"), dns_names, 6);
	since = number(tv_get(&l, "since"));
	hold = number(tv_get(&l, "hold"));
	checked = tv_get(&l, "checked") == NULL ? 0 :
	    number(tv_get(&l, "checked"));
	if (s == NULL || *s == '\0' || strlen(s) > STORE_SELECTOR_MAX ||
	    pub < 0 || dns < 0 || since < 0 || hold < 0 || checked < 0) {
		snprintf(err, errlen, "bad or missing s=, pub=, dns=, since= "
		    "or hold=, or bad checked=");
		tv_free(&l);
		return -1;
	}
	if (memo_line2(&l, &v2, err, errlen) == -1) {
		tv_free(&l);
		return -1;
	}
	e = adapt_memo_get(m, s);
	memcpy(e->kid, v2.kid, sizeof(e->kid));
	e->cname = v2.cname;
	memcpy(e->cname_bad, v2.cname_bad, sizeof(e->cname_bad));
	e->ttlmax = v2.ttlmax;
	e->obs.ttl_txt = v2.obs.ttl_txt;
	e->obs.ttl_cname = v2.obs.ttl_cname;
	e->obs.ttl_neg = v2.obs.ttl_neg;
	e->published = pub;
	e->obs.dns = dns;
	e->obs.since = since;
	e->obs.hold = hold;
	e->checked = checked;
	tv_free(&l);
	return 0;
}

/* adapt_memo_parse - all or nothing: a bad line empties the memo */
int
adapt_memo_parse(const char *text, struct adapt_memo *m, char *err,
    size_t errlen)
{
	const char *p = text, *nl;
	char why[160];
	size_t len;
	int lineno = 0;

	memset(m, 0, sizeof(*m));
	for (; *p != '\0'; p = *nl ? nl + 1 : nl) {
		lineno++;
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		len = nl - p;
		if (len == 0 || *p == '#')
			continue;
		if (memo_line(p, len, m, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "line %d: %s", lineno, why);
			adapt_memo_free(m);
			return -1;
		}
	}
	return 0;
}

/* adapt_memo_free - the entries are one array */
void
adapt_memo_free(struct adapt_memo *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* adapt_alarm_open - only notes count: "policy: alarm: ..." on a
 * transition is the take-out, not the alarm */
int
adapt_alarm_open(const struct store_event *ev, size_t n, const char *sel)
{
	size_t i;
	int open = 0;

	for (i = 0; i < n; i++) {
		if (ev[i].from != ev[i].to || ev[i].from == STORE_STATE_NONE ||
		    strcasecmp(ev[i].selector, sel) != 0)
			continue;
		if (strncmp(ev[i].reason, ADAPT_ALARM_RAISED,
		    strlen(ADAPT_ALARM_RAISED)) == 0)
			open = 1;
		else if (strncmp(ev[i].reason, ADAPT_ALARM_CLEARED,
		    strlen(ADAPT_ALARM_CLEARED)) == 0)
			open = 0;
	}
	return open;
}

/* adapt_alarm_open_kid - a slot's selector names several keys over
 * time: only the notes of this key (or of a line without key id, when
 * kid is "") count */
int
adapt_alarm_open_kid(const struct store_event *ev, size_t n,
    const char *sel, const char *kid)
{
	size_t i;
	int open = 0;

	for (i = 0; i < n; i++) {
		if (ev[i].from != ev[i].to || ev[i].from == STORE_STATE_NONE ||
		    strcasecmp(ev[i].selector, sel) != 0 ||
		    (kid != NULL && kid[0] != '\0' && ev[i].kid[0] != '\0' &&
		    strcmp(ev[i].kid, kid) != 0))
			continue;
		if (strncmp(ev[i].reason, ADAPT_ALARM_RAISED,
		    strlen(ADAPT_ALARM_RAISED)) == 0)
			open = 1;
		else if (strncmp(ev[i].reason, ADAPT_ALARM_CLEARED,
		    strlen(ADAPT_ALARM_CLEARED)) == 0)
			open = 0;
	}
	return open;
}

/* adapt_alarm_over - a fault seen gone, never merely unseen, ends it */
int
adapt_alarm_over(const struct pol_key *k, char *why, size_t len)
{
	if (k->state == POL_REVOKED)
		snprintf(why, len, "%s is revoked, its record no longer "
		    "matters", k->selector);
	else if (k->slot > 0 && (k->cname == POL_CNAME_MISSING ||
	    k->cname == POL_CNAME_WRONG))
		return 0;
	else if (k->slot > 0 && k->cname == POL_CNAME_OK &&
	    k->obs.dns == POL_DNS_PUBLISHED)
		snprintf(why, len, "every server CNAMEs %s to its target "
		    "again, which serves key %s", k->selector,
		    k->kid != NULL ? k->kid : "");
	else if (k->obs.dns == POL_DNS_PUBLISHED)
		snprintf(why, len, "every nameserver serves %s again",
		    k->selector);
	else if (k->state == POL_PENDING && k->obs.dns == POL_DNS_ABSENT)
		snprintf(why, len, "no nameserver serves another key for %s "
		    "any more", k->selector);
	else
		return 0;
	return 1;
}
