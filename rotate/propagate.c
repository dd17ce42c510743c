/*
 * propagate - ask every authoritative address for a DKIM key record
 *
 * Two layers over dnsio (one query to one address):
 *
 *	prop_lookup	an answer for (name, type) starting at the
 *			configured resolver and following referrals
 *			downward, so that an authoritative server of a
 *			parent zone can stand in for a resolver
 *	check_name	the zone cut (walking up with SOA queries), its
 *			NS set, every A and AAAA of every NS name; then
 *			each address is asked for the TXT record (RD=0)
 *			and a CNAME is followed into the target zone,
 *			whose own servers are asked in turn
 *
 * The judging of one TXT answer (prop_judge) and the summary over all
 * observations (prop_summarize) are pure and tested on their own.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>

#include "dnsio.h"
#include "propagate.h"
#include "tagvalue.h"
#include "xmalloc.h"

#define PROP_MAX_DEPTH	8	/* referrals, CNAMEs, NS lookups */
#define PROP_MAX_ADDRS	32	/* addresses per zone */
#define PROP_MAX_NS	16	/* NS names per zone */

/*
 * One check asks at most PROP_MAX_QUERIES queries and starts none after
 * PROP_DEADLINE_QUERIES query timeouts (DNSTimeout each) have passed:
 * glueless referrals would otherwise recurse exponentially. A check cut
 * short ends with an ERROR observation, so nothing is confirmed by it.
 */
#define PROP_MAX_QUERIES	200
#define PROP_DEADLINE_QUERIES	10

struct nsaddr {
	char		*ns;
	struct dnsio_addr	 a;
	int		 none;	/* the NS name has no address */
};

struct ctx {
	const struct prop_query		*q;
	const struct prop_options	*opt;
	struct prop_result		*res;
	struct dnsio_addr			 resolver;
	int				 port;
	struct dnsio_opts		 io;
	int				 queries;	/* asked so far */
	long long			 deadline;	/* monotonic ms */
	char				*cut;	/* why the check stopped */
};

/* mono_ms - monotonic milliseconds */
static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ask - dnsio_query within the check's query budget and deadline */
static enum dnsio_status
ask(struct ctx *c, const struct dnsio_addr *to, const char *name,
    ldns_rr_type type, int rd, ldns_pkt **ans, int *tcp, char **err)
{
	*ans = NULL;
	if (c->cut == NULL && dnsio_cancelled(c->io.cancel_fd))
		c->cut = xstrdup("cancelled: keyturnd is stopping");
	else if (c->cut == NULL && c->queries >= PROP_MAX_QUERIES)
		c->cut = xasprintf("query budget exhausted: %d queries asked",
		    c->queries);
	else if (c->cut == NULL && mono_ms() >= c->deadline)
		c->cut = xasprintf("query budget exhausted: deadline of "
		    "%d ms passed after %d queries", PROP_DEADLINE_QUERIES *
		    c->io.timeout_ms, c->queries);
	if (c->cut != NULL) {
		*err = xstrdup(c->cut);
		return DNSIO_ERROR;
	}
	c->queries++;
	return dnsio_query(&c->io, to, name, type, rd, ans, tcp, err);
}


/* dname_str - a domain name as text, without the trailing dot */
static char *
dname_str(const ldns_rdf *d)
{
	char *s = ldns_rdf2str(d), *r;
	size_t n;

	if (s == NULL)
		return xstrdup(".");
	n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
	r = xstrdup(s);
	free(s);
	return r;
}

/* name_eq - the same domain name, case aside */
static int
name_eq(const ldns_rdf *a, const char *b)
{
	ldns_rdf *d = ldns_dname_new_frm_str(b);
	int r;

	if (d == NULL)
		return 0;
	r = ldns_dname_compare(a, d) == 0;
	ldns_rdf_deep_free(d);
	return r;
}

/* name_under - a is b or below it */
static int
name_under(const char *a, const ldns_rdf *b)
{
	ldns_rdf *d = ldns_dname_new_frm_str(a);
	int r;

	if (d == NULL)
		return 0;
	r = ldns_dname_compare(d, b) == 0 || ldns_dname_is_subdomain(d, b);
	ldns_rdf_deep_free(d);
	return r;
}

/*
 * rrs_of - the records of a type owned by name in a section, at most max;
 * rrs_total says how many there were
 */
static size_t
rrs_total(const ldns_pkt *p, const char *name, ldns_rr_type type,
    ldns_pkt_section sec, ldns_rr **out, size_t max, size_t *total)
{
	ldns_rr_list *l = ldns_pkt_get_section_clone(p, sec);
	ldns_rr *rr;
	size_t i, n = 0;

	for (i = 0; l != NULL && i < ldns_rr_list_rr_count(l); i++) {
		rr = ldns_rr_list_rr(l, i);
		if (ldns_rr_get_type(rr) != type ||
		    (name != NULL && !name_eq(ldns_rr_owner(rr), name)))
			continue;
		if (n < max)
			out[n] = ldns_rr_clone(rr);
		n++;
	}
	ldns_rr_list_deep_free(l);
	if (total != NULL)
		*total = n;
	return n < max ? n : max;
}

static size_t
rrs_of(const ldns_pkt *p, const char *name, ldns_rr_type type,
    ldns_pkt_section sec, ldns_rr **out, size_t max)
{
	return rrs_total(p, name, type, sec, out, max, NULL);
}

/* rrs_free - free what rrs_of cloned */
static void
rrs_free(ldns_rr **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ldns_rr_free(v[i]);
}

/* name_in - name a is zone z (text) or below it */
static int
name_in(const char *a, const char *z)
{
	ldns_rdf *d = ldns_dname_new_frm_str(z);
	int r;

	if (d == NULL)
		return 0;
	r = name_under(a, d);
	ldns_rdf_deep_free(d);
	return r;
}

/*
 * chase - follow the CNAME chain inside one answer from name. With zone,
 * the answer of one of its authoritative servers: a CNAME is followed
 * only while its owner is inside that zone, since what the server says of
 * other zones is not its to say (their own servers are asked in turn).
 */
static char *
chase(const ldns_pkt *p, const char *name, const char *zone, uint32_t *ttl)
{
	ldns_rr *rr[1];
	char *cur = xstrdup(name), *next;
	int i;

	for (i = 0; i < PROP_MAX_DEPTH; i++) {
		if (zone != NULL && !name_in(cur, zone))
			break;
		if (rrs_of(p, cur, LDNS_RR_TYPE_CNAME, LDNS_SECTION_ANSWER,
		    rr, 1) == 0)
			break;
		if (ttl != NULL && ldns_rr_ttl(rr[0]) > *ttl)
			*ttl = ldns_rr_ttl(rr[0]);
		next = dname_str(ldns_rr_rdf(rr[0], 0));
		rrs_free(rr, 1);
		free(cur);
		cur = next;
	}
	return cur;
}

static enum dnsio_status prop_lookup(struct ctx *, const char *, ldns_rr_type,
    int, ldns_pkt **, char **);

/* addrs_take - the addresses of k records into out; the records freed */
static size_t
addrs_take(struct ctx *c, ldns_rr **g, size_t k, struct dnsio_addr *out,
    size_t max)
{
	size_t n = 0;
	char *txt;

	while (k > 0) {
		txt = ldns_rdf2str(ldns_rr_rdf(g[--k], 0));
		if (n < max && txt != NULL && dnsio_addr_set(&out[n], txt,
		    c->port) == 0)
			n++;
		free(txt);
		ldns_rr_free(g[k]);
	}
	return n;
}

/*
 * referral_addrs - where a referral points: the glue; only a referral
 * without any glue has its NS names looked up, until one has an address
 * (looking up every missing A or AAAA at every level grows exponentially)
 */
static size_t
referral_addrs(struct ctx *c, const ldns_pkt *p, ldns_rr **ns, size_t nns,
    int depth, struct dnsio_addr *out, size_t max)
{
	ldns_rr *g[8];
	ldns_pkt *a;
	size_t i, j, k, n = 0;
	char *name, *err;
	ldns_rr_type types[2] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };

	for (i = 0; i < nns && n < max; i++) {
		name = dname_str(ldns_rr_ns_nsdname(ns[i]));
		for (j = 0; j < 2; j++) {
			k = rrs_of(p, name, types[j], LDNS_SECTION_ADDITIONAL,
			    g, 8);
			n += addrs_take(c, g, k, out + n, max - n);
		}
		free(name);
	}
	for (i = 0; i < nns && n == 0; i++) {
		name = dname_str(ldns_rr_ns_nsdname(ns[i]));
		for (j = 0; j < 2; j++) {
			if (prop_lookup(c, name, types[j], depth + 1, &a,
			    &err) != DNSIO_OK) {
				free(err);
				continue;
			}
			k = rrs_of(a, name, types[j], LDNS_SECTION_ANSWER, g,
			    8);
			n += addrs_take(c, g, k, out + n, max - n);
			ldns_pkt_free(a);
		}
		free(name);
	}
	return n;
}

/* referral - the NS records of a delegation toward name, if p is one */
static size_t
referral(const ldns_pkt *p, const char *name, ldns_rdf *cut, ldns_rr **ns,
    size_t max)
{
	size_t n;

	if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR ||
	    ldns_pkt_ancount(p) != 0 || ldns_pkt_aa(p))
		return 0;
	n = rrs_of(p, NULL, LDNS_RR_TYPE_NS, LDNS_SECTION_AUTHORITY, ns, max);
	/* only downward: the new cut must be below the last one */
	if (n == 0 || !name_under(name, ldns_rr_owner(ns[0])) ||
	    (cut != NULL && !ldns_dname_is_subdomain(ldns_rr_owner(ns[0]),
	    cut))) {
		rrs_free(ns, n);
		return 0;
	}
	return n;
}

/* server_failed - an answer that says nothing about the name */
static int
server_failed(const ldns_pkt *p)
{
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(p);

	return rc == LDNS_RCODE_SERVFAIL || rc == LDNS_RCODE_REFUSED ||
	    rc == LDNS_RCODE_NOTIMPL;
}

/*
 * prop_lookup - ask the resolver; follow referrals downward, so an
 * authoritative server of a parent zone can stand in for a resolver
 */
static enum dnsio_status
prop_lookup(struct ctx *c, const char *name, ldns_rr_type type, int depth,
    ldns_pkt **ans, char **err)
{
	struct dnsio_addr srv[PROP_MAX_ADDRS];
	ldns_rdf *cut = NULL;
	ldns_rr *ns[16];
	size_t nsrv = 1, i, nns;
	enum dnsio_status x = DNSIO_ERROR;
	int tcp, hop;

	srv[0] = c->resolver;
	*ans = NULL;
	*err = NULL;
	for (hop = 0; depth < PROP_MAX_DEPTH && hop < PROP_MAX_DEPTH; hop++) {
		for (i = 0; i < nsrv; i++) {
			free(*err);
			if (*ans != NULL)
				ldns_pkt_free(*ans);
			x = ask(c, &srv[i], name, type, hop == 0, ans, &tcp,
			    err);
			/* a lame or failing server: try its peers */
			if (x == DNSIO_OK && !server_failed(*ans))
				break;
		}
		if (x != DNSIO_OK)
			break;
		if ((nns = referral(*ans, name, cut, ns, 16)) == 0)
			break;
		if (cut != NULL)
			ldns_rdf_deep_free(cut);
		cut = ldns_rdf_clone(ldns_rr_owner(ns[0]));
		nsrv = referral_addrs(c, *ans, ns, nns, depth, srv,
		    PROP_MAX_ADDRS);
		rrs_free(ns, nns);
		ldns_pkt_free(*ans);
		*ans = NULL;
		if (nsrv == 0) {
			*err = xasprintf("referral for %s without a reachable "
			    "address", name);
			x = DNSIO_ERROR;
			break;
		}
	}
	if (cut != NULL)
		ldns_rdf_deep_free(cut);
	if (x == DNSIO_OK && *ans == NULL) {
		*err = xasprintf("too many referrals for %s", name);
		x = DNSIO_ERROR;
	}
	if (x != DNSIO_OK && *ans != NULL) {
		ldns_pkt_free(*ans);
		*ans = NULL;
	}
	return x;
}

/* soa_neg - min(SOA TTL, SOA minimum): how long a "no" may be cached */
static uint32_t
soa_neg(const ldns_rr *soa)
{
	ldns_rdf *m = ldns_rr_rdf(soa, 6);
	uint32_t min;

	if (m == NULL)
		return 0;
	min = ldns_rdf2native_int32(m);
	return ldns_rr_ttl(soa) < min ? ldns_rr_ttl(soa) : min;
}

/* parent_of - name with its first label removed; NULL at the root */
static char *
parent_of(const char *name)
{
	const char *dot = strchr(name, '.');

	if (dot == NULL || dot[1] == '\0')
		return strcmp(name, ".") == 0 ? NULL : xstrdup(".");
	return xstrdup(dot + 1);
}

/*
 * zone_cut - walk up from name to the apex of its zone; *neg is the SOA's
 * negative TTL as the resolver gave it (which a cache may have counted
 * down), *negmax the SOA's MINIMUM, which no cache changes
 */
static char *
zone_cut(struct ctx *c, const char *name, uint32_t *neg, uint32_t *negmax,
    char **err)
{
	ldns_rr *soa[1];
	ldns_pkt *p;
	char *cand = xstrdup(name), *up, *apex = NULL;
	*err = NULL;
	while (apex == NULL && cand != NULL) {
		free(*err);
		if (prop_lookup(c, cand, LDNS_RR_TYPE_SOA, 0, &p, err) !=
		    DNSIO_OK)
			break;
		if (rrs_of(p, cand, LDNS_RR_TYPE_SOA, LDNS_SECTION_ANSWER,
		    soa, 1) == 1) {
			apex = xstrdup(cand);
		} else if (ldns_pkt_ancount(p) == 0 && rrs_of(p, NULL,
		    LDNS_RR_TYPE_SOA, LDNS_SECTION_AUTHORITY, soa, 1) == 1) {
			if (name_under(cand, ldns_rr_owner(soa[0])))
				apex = dname_str(ldns_rr_owner(soa[0]));
			else
				ldns_rr_free(soa[0]);
		}
		if (apex != NULL) {
			*neg = soa_neg(soa[0]);
			*negmax = ldns_rr_rdf(soa[0], 6) != NULL ?
			    ldns_rdf2native_int32(ldns_rr_rdf(soa[0], 6)) : 0;
			ldns_rr_free(soa[0]);
		}
		ldns_pkt_free(p);
		up = apex == NULL ? parent_of(cand) : NULL;
		free(cand);
		cand = up;
	}
	free(cand);
	if (apex == NULL && *err == NULL)
		*err = xasprintf("no zone cut found above %s", name);
	return apex;
}

/* zone_ns - the NS names of the zone at apex; *all counts those left out */
static size_t
zone_ns(struct ctx *c, const char *apex, char **names, size_t max,
    size_t *all, char **err)
{
	ldns_rr *ns[PROP_MAX_NS];
	ldns_pkt *p;
	size_t n, i;

	*all = 0;
	if (prop_lookup(c, apex, LDNS_RR_TYPE_NS, 0, &p, err) != DNSIO_OK)
		return 0;
	n = rrs_total(p, apex, LDNS_RR_TYPE_NS, LDNS_SECTION_ANSWER, ns,
	    max < PROP_MAX_NS ? max : PROP_MAX_NS, all);
	for (i = 0; i < n; i++)
		names[i] = dname_str(ldns_rr_ns_nsdname(ns[i]));
	rrs_free(ns, n);
	ldns_pkt_free(p);
	if (n == 0)
		*err = xasprintf("no NS records for %s", apex);
	return n;
}

/*
 * ns_addrs - every IPv4 and IPv6 address of one NS name, at most max;
 * *lost counts the addresses (or the name itself) left out for want of
 * room, and *fail (NULL, or the caller frees it) says why a lookup of
 * either family got no clean answer: those addresses are not known, so
 * they cannot be asked
 */
static size_t
ns_addrs(struct ctx *c, const char *ns, struct nsaddr *out, size_t max,
    size_t *lost, char **fail)
{
	ldns_rr_type types[2] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
	ldns_rr *rr[PROP_MAX_ADDRS];
	ldns_pkt *p;
	size_t n = 0, k, i, j, total;
	char *err, *end, *txt, *rc;

	*lost = 0;
	*fail = NULL;
	for (j = 0; j < 2; j++) {
		if (prop_lookup(c, ns, types[j], 0, &p, &err) != DNSIO_OK ||
		    server_failed(p)) {
			if (*fail == NULL) {
				rc = err == NULL ? ldns_pkt_rcode2str(
				    ldns_pkt_get_rcode(p)) : NULL;
				*fail = xasprintf("%s lookup of %s: %s",
				    j ? "AAAA" : "A", ns, err != NULL ? err :
				    rc != NULL ? rc : "failed");
				free(rc);
			}
			free(err);
			if (p != NULL)
				ldns_pkt_free(p);
			continue;
		}
		free(err);
		end = chase(p, ns, NULL, NULL);
		k = rrs_total(p, end, types[j], LDNS_SECTION_ANSWER, rr,
		    PROP_MAX_ADDRS, &total);
		*lost += total - k;
		for (i = 0; i < k; i++) {
			txt = ldns_rdf2str(ldns_rr_rdf(rr[i], 0));
			if (n >= max)
				(*lost)++;
			else if (txt != NULL &&
			    dnsio_addr_set(&out[n].a, txt, c->port) == 0) {
				out[n].ns = xstrdup(ns);
				out[n].none = 0;
				n++;
			}
			free(txt);
		}
		rrs_free(rr, k);
		free(end);
		ldns_pkt_free(p);
	}
	if (n == 0 && max > 0 && *lost == 0 && *fail == NULL) {
		memset(&out[0], 0, sizeof(out[0]));
		out[0].ns = xstrdup(ns);
		out[0].none = 1;
		n = 1;
	} else if (n == 0 && *lost == 0 && *fail == NULL)
		*lost = 1;	/* no room even to say it has no address */
	return n;
}

/* obs_add - append one observation to the result */
static struct prop_obs *
obs_add(struct prop_result *r, enum prop_source src, const char *zone,
    const char *server, const char *addr, const char *qname)
{
	struct prop_obs *o;

	r->obs = xreallocarray(r->obs, r->nobs + 1, sizeof(*r->obs));
	o = &r->obs[r->nobs++];
	memset(o, 0, sizeof(*o));
	o->source = src;
	o->zone = zone ? xstrdup(zone) : NULL;
	o->server = xstrdup(server);
	o->addr = xstrdup(addr);
	o->qname = xstrdup(qname);
	o->status = PROP_ERROR;
	return o;
}

/* txt_join - the character-strings of one TXT record, concatenated */
static char *
txt_join(const ldns_rr *rr)
{
	size_t i, len = 0, n;
	ldns_rdf *f;
	char *s;

	for (i = 0; i < ldns_rr_rd_count(rr); i++)
		len += ldns_rdf_size(ldns_rr_rdf(rr, i));
	s = xmalloc(len + 1);
	len = 0;
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		f = ldns_rr_rdf(rr, i);
		if (ldns_rdf_size(f) == 0)
			continue;
		n = ldns_rdf_data(f)[0];
		if (n > ldns_rdf_size(f) - 1)
			n = ldns_rdf_size(f) - 1;
		memcpy(s + len, ldns_rdf_data(f) + 1, n);
		len += n;
	}
	s[len] = '\0';
	return s;
}

/* prop_rcode - "rcode NAME" of an answer (ldns's name is malloc'd) */
static char *
prop_rcode(const ldns_pkt *p)
{
	char *rc = ldns_pkt_rcode2str(ldns_pkt_get_rcode(p)), *s;

	s = xasprintf("rcode %s", rc != NULL ? rc : "?");
	free(rc);
	return s;
}

/* judge_no - NXDOMAIN or NODATA with the SOA's negative TTL, else an
 * error: what an address says when it has no record at name */
static void
judge_no(const ldns_pkt *p, struct prop_obs *o)
{
	ldns_rr *soa[1];

	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN ||
	    ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR) {
		o->status = ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN ?
		    PROP_NXDOMAIN : PROP_NODATA;
		if (rrs_of(p, NULL, LDNS_RR_TYPE_SOA, LDNS_SECTION_AUTHORITY,
		    soa, 1) == 1) {
			o->neg_ttl = soa_neg(soa[0]);
			rrs_free(soa, 1);
		}
	} else {
		o->status = PROP_ERROR;
		o->detail = prop_rcode(p);
	}
}

/*
 * judge_cname - CNAME mode: the answer of a customer's server must be a
 * CNAME at name to exactly the expected target; nothing is followed
 */
static void
judge_cname(struct ctx *c, const ldns_pkt *p, const char *name,
    struct prop_obs *o)
{
	ldns_rr *rr[1];
	size_t n;
	char *to;

	if (rrs_of(p, name, LDNS_RR_TYPE_CNAME, LDNS_SECTION_ANSWER,
	    rr, 1) == 1) {
		o->ttl = ldns_rr_ttl(rr[0]);
		to = dname_str(ldns_rr_rdf(rr[0], 0));
		rrs_free(rr, 1);
		o->cname = to;
		if (strcasecmp(to, c->q->cname_to) == 0) {
			o->status = PROP_MATCH;
			o->detail = xasprintf("CNAME to %s", to);
		} else {
			o->status = PROP_MISMATCH;
			o->detail = xasprintf("CNAME to %s, expected %s", to,
			    c->q->cname_to);
		}
	} else if ((n = rrs_of(p, name, LDNS_RR_TYPE_TXT,
	    LDNS_SECTION_ANSWER, rr, 1)) > 0) {
		rrs_free(rr, n);
		o->status = PROP_MISMATCH;
		o->detail = xasprintf("a TXT record, no CNAME to %s",
		    c->q->cname_to);
	} else {
		judge_no(p, o);
		if (o->detail == NULL)
			o->detail = xasprintf("no CNAME, expected %s",
			    c->q->cname_to);
	}
}

/* judge_answer - one answer for name: TXT joined and judged, or a "no" */
static void
judge_answer(struct ctx *c, const ldns_pkt *p, const char *name,
    const char *zone, struct prop_obs *o, char **cname)
{
	ldns_rr *rr[8], *soa[1];
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(p);
	char *end, *txt[8];
	size_t n, i, total = 0;

	/* records under SERVFAIL, REFUSED and the like are no answer */
	if (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN) {
		o->status = PROP_ERROR;
		o->detail = prop_rcode(p);
		return;
	}
	if (zone != NULL && c->q->cname_to != NULL) {
		judge_cname(c, p, name, o);
		return;
	}
	if (zone != NULL && c->q->no_follow && rrs_of(p, name,
	    LDNS_RR_TYPE_CNAME, LDNS_SECTION_ANSWER, rr, 1) == 1) {
		/* a delegated target holds the record itself */
		o->ttl = ldns_rr_ttl(rr[0]);
		end = dname_str(ldns_rr_rdf(rr[0], 0));
		rrs_free(rr, 1);
		o->status = PROP_MISMATCH;
		o->detail = xasprintf("a CNAME to %s, not the key record", end);
		free(end);
		return;
	}
	end = chase(p, name, zone, &o->ttl);
	if (strcasecmp(end, name) != 0) {
		o->cname = xstrdup(end);
		if (cname != NULL)
			*cname = xstrdup(end);
	}
	/* a record outside the zone asked is left to that zone's servers */
	n = zone != NULL && !name_in(end, zone) ? 0 : rrs_total(p, end,
	    LDNS_RR_TYPE_TXT, LDNS_SECTION_ANSWER, rr, 8, &total);
	if (n == 0 && o->cname != NULL && zone != NULL && !name_in(end, zone)) {
		o->status = PROP_NODATA;
		o->detail = xasprintf("CNAME to %s", end);
	} else if (n > 0 && rc != LDNS_RCODE_NOERROR) {
		/* a name that does not exist has no record */
		rrs_free(rr, n);
		o->status = PROP_ERROR;
		o->detail = xasprintf("rcode NXDOMAIN with %zu TXT records",
		    total);
	} else if (n > 0) {
		for (i = 0; i < n; i++) {
			txt[i] = txt_join(rr[i]);
			if (ldns_rr_ttl(rr[i]) > o->ttl)
				o->ttl = ldns_rr_ttl(rr[i]);
		}
		o->status = prop_judge(c->q, txt, n, &o->detail);
		for (i = 0; i < n; i++)
			free(txt[i]);
		rrs_free(rr, n);
		if (total > n) {	/* prop_judge saw the first n */
			free(o->detail);
			o->detail = xasprintf("%zu TXT records at the name",
			    total);
		}
	} else if (o->cname == NULL && ldns_pkt_ancount(p) > 0) {
		/* records, none at name nor on a CNAME chain from it: an
		 * answer to another question, which is no "no" either */
		o->status = PROP_ERROR;
		o->detail = xasprintf("%u answer records, none a TXT or CNAME "
		    "at %s", (unsigned)ldns_pkt_ancount(p), name);
	} else {
		o->status = rc == LDNS_RCODE_NXDOMAIN ? PROP_NXDOMAIN :
		    PROP_NODATA;
		if (rrs_of(p, NULL, LDNS_RR_TYPE_SOA, LDNS_SECTION_AUTHORITY,
		    soa, 1) == 1) {
			o->neg_ttl = soa_neg(soa[0]);
			rrs_free(soa, 1);
		}
		if (o->cname != NULL)
			o->detail = xasprintf("CNAME to %s", end);
	}
	free(end);
}

/* ask_auth - the TXT record at one authoritative address */
static void
ask_auth(struct ctx *c, const char *zone, const struct nsaddr *na,
    const char *name, char **cname)
{
	struct prop_obs *o;
	ldns_pkt *p;
	enum dnsio_status x;
	char *err;

	o = obs_add(c->res, PROP_SRC_AUTH, zone, na->ns,
	    na->none ? "-" : na->a.text, name);
	if (na->none) {
		o->detail = xasprintf("%s has no address", na->ns);
		return;
	}
	x = ask(c, &na->a, name, LDNS_RR_TYPE_TXT, 0, &p, &o->tcp, &err);
	if (x != DNSIO_OK) {
		o->status = x == DNSIO_TIMEOUT ? PROP_TIMEOUT : PROP_ERROR;
		o->detail = err;
		return;
	}
	if (!ldns_pkt_aa(p) && (ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR ||
	    ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN)) {
		o->detail = xasprintf("not authoritative for %s", zone);
	} else
		judge_answer(c, p, name, zone, o, cname);
	ldns_pkt_free(p);
}

/* cname_agree - every address that answered a CNAME points at target */
static void
cname_agree(struct prop_result *r, size_t from, const char *target)
{
	struct prop_obs *o;
	size_t i;

	for (i = from; i < r->nobs; i++) {
		o = &r->obs[i];
		if (o->cname == NULL)
			continue;
		if (strcasecmp(o->cname, target) != 0) {
			o->status = PROP_MISMATCH;
			free(o->detail);
			o->detail = xasprintf("CNAME to %s, others to %s",
			    o->cname, target);
		} else if (o->status == PROP_NODATA ||
		    o->status == PROP_NXDOMAIN) {
			/* the target zone's servers speak for it */
			o->status = PROP_MATCH;
			o->chained = 1;
		}
	}
}

/*
 * auth_neg - the zone's negative TTL from the first of its authoritative
 * addresses that gives its SOA (RD=0, AA): the zone's own TTL, not a
 * cache's remainder. 0 with *neg, -1 when none did.
 */
static int
auth_neg(struct ctx *c, const char *apex, const struct nsaddr *na,
    size_t nna, uint32_t *neg)
{
	ldns_rr *soa[1];
	ldns_pkt *p;
	size_t i;
	char *err;
	int tcp, r = -1;

	for (i = 0; i < nna && r == -1; i++) {
		if (na[i].none)
			continue;
		if (ask(c, &na[i].a, apex, LDNS_RR_TYPE_SOA, 0, &p, &tcp,
		    &err) != DNSIO_OK) {
			free(err);
			continue;
		}
		free(err);
		if (ldns_pkt_aa(p) && rrs_of(p, apex, LDNS_RR_TYPE_SOA,
		    LDNS_SECTION_ANSWER, soa, 1) == 1) {
			*neg = soa_neg(soa[0]);
			rrs_free(soa, 1);
			r = 0;
		}
		ldns_pkt_free(p);
	}
	return r;
}

/* check_name - every server of the zone holding name, then its CNAME */
static int
check_name(struct ctx *c, const char *name, int depth)
{
	struct nsaddr na[PROP_MAX_ADDRS];
	struct prop_obs *o;
	char *ns[PROP_MAX_NS], *apex, *err = NULL, *cname = NULL;
	char *first = NULL, *fail;
	size_t nns, nna = 0, i, from = c->res->nobs, all, lost;
	uint32_t neg = 0, negmax = 0, aneg;

	if ((apex = zone_cut(c, name, &neg, &negmax, &err)) == NULL) {
		c->res->error = err;
		return -1;
	}
	if ((nns = zone_ns(c, apex, ns, PROP_MAX_NS, &all, &err)) == 0) {
		c->res->error = err;
		free(apex);
		return -1;
	}
	/* what is not asked is said, so it can never count as confirmed */
	if (all > nns) {
		o = obs_add(c->res, PROP_SRC_AUTH, apex, "-", "-", name);
		o->detail = xasprintf("%zu of %zu NS names not asked (at most "
		    "%d per zone)", all - nns, all, PROP_MAX_NS);
	}
	for (i = 0; i < nns; i++) {
		nna += ns_addrs(c, ns[i], na + nna, PROP_MAX_ADDRS - nna,
		    &lost, &fail);
		if (fail != NULL) {
			o = obs_add(c->res, PROP_SRC_AUTH, apex, ns[i], "-",
			    name);
			o->detail = fail;
		}
		if (lost > 0) {
			o = obs_add(c->res, PROP_SRC_AUTH, apex, ns[i], "-",
			    name);
			o->detail = xasprintf("%zu addresses of %s not asked (at "
			    "most %d per zone)", lost, ns[i], PROP_MAX_ADDRS);
		}
		free(ns[i]);
	}
	/* how long a resolver may keep a "no": the zone's own negative
	 * TTL, or when no server gave its SOA the SOA MINIMUM, which bounds
	 * it; the resolver's copy may have been counted down by its cache */
	if (auth_neg(c, apex, na, nna, &aneg) == 0) {
		if (aneg > neg)
			neg = aneg;
	} else if (negmax > neg)
		neg = negmax;
	if (neg > c->res->neg_ttl)
		c->res->neg_ttl = neg;
	for (i = 0; i < nna; i++) {
		ask_auth(c, apex, &na[i], name, &cname);
		if (cname != NULL && first == NULL)
			first = cname;
		else
			free(cname);
		cname = NULL;
		free(na[i].ns);
	}
	free(apex);
	if (first == NULL)
		return 0;
	cname_agree(c->res, from, first);
	i = depth + 1 < PROP_MAX_DEPTH ? check_name(c, first, depth + 1) : -1;
	if (i != 0 && c->res->error == NULL)
		c->res->error = xasprintf("CNAME chain from %s too long", name);
	free(first);
	return i == 0 ? 0 : -1;
}

/* ask_resolver - an extra resolver, asked with recursion (a delegated
 * target: the customer's name, so the chain is what a verifier sees) */
static void
ask_resolver(struct ctx *c, const char *spec)
{
	const char *name = c->q->resolver_name != NULL ?
	    c->q->resolver_name : c->q->name;
	struct prop_obs *o;
	struct dnsio_addr a;
	ldns_pkt *p;
	enum dnsio_status x;
	char *err;

	if (dnsio_addr_parse(&a, spec, 53) == -1) {
		o = obs_add(c->res, PROP_SRC_RESOLVER, NULL, spec, spec,
		    name);
		o->detail = xasprintf("bad resolver address %s", spec);
		return;
	}
	o = obs_add(c->res, PROP_SRC_RESOLVER, NULL, spec, a.text, name);
	x = ask(c, &a, name, LDNS_RR_TYPE_TXT, 1, &p, &o->tcp, &err);
	if (x != DNSIO_OK) {
		o->status = x == DNSIO_TIMEOUT ? PROP_TIMEOUT : PROP_ERROR;
		o->detail = err;
		return;
	}
	judge_answer(c, p, name, NULL, o, NULL);
	ldns_pkt_free(p);
}

/* prop_check - the key's zone, its CNAME targets, the extra resolvers */
int
prop_check(const struct prop_query *q, const struct prop_options *opt,
    struct prop_result *res)
{
	struct ctx c;
	size_t i;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	res->name = xstrdup(q->name);
	c.q = q;
	c.opt = opt;
	c.res = res;
	c.port = opt->dns_port > 0 ? opt->dns_port : 53;
	c.io.timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 3000;
	c.io.tries = opt->tries > 0 ? opt->tries : 2;
	c.io.cancel_fd = opt->cancel_fd;
	c.deadline = mono_ms() + (long long)PROP_DEADLINE_QUERIES *
	    c.io.timeout_ms;
	r = opt->resolver != NULL ? dnsio_addr_parse(&c.resolver, opt->resolver,
	    53) : dnsio_resolv_conf(&c.resolver);
	if (r == -1) {
		res->error = xasprintf("no usable resolver (%s)",
		    opt->resolver ? opt->resolver : "/etc/resolv.conf");
		prop_summarize(res);
		return -1;
	}
	r = check_name(&c, q->name, 0);
	/* resolvers follow CNAMEs: in CNAME mode they have nothing to say
	 * that the provider zone's check does not ask them */
	for (i = 0; q->cname_to == NULL && i < opt->nextra; i++)
		ask_resolver(&c, opt->extra[i]);
	res->queries = c.queries;
	if (c.cut != NULL) {	/* whatever was seen, the check is incomplete */
		obs_add(res, PROP_SRC_AUTH, NULL, "-", "-",
		    q->name)->detail = c.cut;
		c.cut = NULL;
	}
	prop_summarize(res);
	return r == 0 ? 0 : -1;
}

/*
 * tag_lists - a colon-separated tag value (h=, s=) names one of a or b
 * (b may be NULL), whitespace and case aside
 */
static int
tag_lists(const char *value, const char *a, const char *b)
{
	char *list = tv_strip_fws(value), *item, *next;
	int found = 0;

	for (item = list; item != NULL && !found; item = next) {
		if ((next = strchr(item, ':')) != NULL)
			*next++ = '\0';
		found = strcasecmp(item, a) == 0 ||
		    (b != NULL && strcasecmp(item, b) == 0);
	}
	free(list);
	return found;
}

/* judge_one - one joined TXT string against the expected key */
static enum prop_status
judge_one(const struct prop_query *q, const char *txt, char **detail)
{
	static const char *algs[] = { "rsa", "ed25519" };
	struct tv_list l;
	const char *v, *k, *p, *h, *sv;
	unsigned char *raw;
	char err[128], *b64;
	size_t blen, pad;
	int n;
	enum prop_status st = PROP_MISMATCH;

	if (tv_parse(txt, strlen(txt), &l, err, sizeof(err)) == -1) {
		*detail = xasprintf("not a key record: %s", err);
		return PROP_MISMATCH;
	}
	v = tv_get(&l, "v");
	k = tv_get(&l, "k");
	p = tv_get(&l, "p");
	h = tv_get(&l, "h");
	sv = tv_get(&l, "s");
	if ((v != NULL && (strcmp(v, "DKIM1") != 0 ||
	    strcmp(l.pairs[0].tag, "v") != 0)) || p == NULL) {
		*detail = xasprintf("not a DKIM1 key record");
		tv_free(&l);
		return PROP_MISMATCH;
	}
	b64 = tv_strip_fws(p);
	blen = strlen(b64);
	if (blen == 0) {
		*detail = xasprintf("p= empty (revoked)");
		st = PROP_EMPTY;
	} else if (strcasecmp(k ? k : "rsa", algs[q->alg]) != 0) {
		*detail = xasprintf("k=%s, expected %s", k, algs[q->alg]);
	} else if (h != NULL && !tag_lists(h, "sha256", NULL)) {
		/* verifiers ignore a key that does not allow our hash */
		*detail = xasprintf("h=%s does not allow sha256", h);
	} else if (sv != NULL && !tag_lists(sv, "email", "*")) {
		*detail = xasprintf("s=%s is not for email", sv);
	} else {
		raw = xmalloc(blen);
		n = blen % 4 == 0 ? EVP_DecodeBlock(raw,
		    (unsigned char *)b64, blen) : -1;
		pad = blen >= 2 ? (b64[blen - 1] == '=') +
		    (b64[blen - 2] == '=') : 0;
		if (n < 0 || (size_t)n < pad)
			*detail = xasprintf("p= is not base64");
		else if (q->any_key || ((size_t)n - pad == q->keylen &&
		    q->key != NULL && memcmp(raw, q->key, q->keylen) == 0)) {
			*detail = xasprintf("k=%s, p= matches",
			    algs[q->alg]);
			st = PROP_MATCH;
		} else
			*detail = xasprintf("another key: p=%.12s...", b64);
		free(raw);
	}
	free(b64);
	tv_free(&l);
	return st;
}

/* prop_judge - several records at one name are ambiguous: never a match */
enum prop_status
prop_judge(const struct prop_query *q, char * const *txt, size_t ntxt,
    char **detail)
{
	*detail = NULL;
	if (ntxt == 0)
		return PROP_NODATA;
	if (ntxt > 1) {
		*detail = xasprintf("%zu TXT records at the name", ntxt);
		return PROP_MISMATCH;
	}
	return judge_one(q, txt[0], detail);
}

/* prop_summarize - a mismatch anywhere wins; a timeout is never a yes */
void
prop_summarize(struct prop_result *r)
{
	size_t i, match = 0, no = 0, bad = 0, unsure = 0, chained = 0;
	uint32_t ttl = 0;

	for (i = 0; i < r->nobs; i++) {
		if (r->obs[i].chained)
			chained++;
		else switch (r->obs[i].status) {
		case PROP_MATCH:
			match++;
			break;
		case PROP_MISMATCH:
			bad++;
			break;
		case PROP_EMPTY:
		case PROP_NXDOMAIN:
		case PROP_NODATA:
			no++;
			break;
		default:
			unsure++;
		}
		if (r->obs[i].ttl > ttl)
			ttl = r->obs[i].ttl;
		if (r->obs[i].neg_ttl > r->neg_ttl)
			r->neg_ttl = r->obs[i].neg_ttl;
	}
	r->max_ttl = ttl;
	r->published = r->error == NULL && match > 0 &&
	    match + chained == r->nobs;
	r->revoked = r->error == NULL && no > 0 && no + chained == r->nobs;
	if (bad > 0)
		r->verdict = PROP_V_MISMATCH;
	else if (r->published)
		r->verdict = PROP_V_PUBLISHED;
	else if (r->revoked)
		r->verdict = PROP_V_REVOKED;
	else if (no > 0)
		r->verdict = PROP_V_ABSENT;
	else if (match > 0)
		r->verdict = PROP_V_PARTIAL;
	else
		r->verdict = PROP_V_UNKNOWN;
}

/* prop_hold - no cache may still hold the old answer or the NXDOMAIN */
long long
prop_hold(const struct prop_result *r)
{
	return r->max_ttl > r->neg_ttl ? r->max_ttl : r->neg_ttl;
}

/* prop_result_free - every string of every observation */
void
prop_result_free(struct prop_result *r)
{
	size_t i;

	for (i = 0; i < r->nobs; i++) {
		free(r->obs[i].zone);
		free(r->obs[i].server);
		free(r->obs[i].addr);
		free(r->obs[i].qname);
		free(r->obs[i].cname);
		free(r->obs[i].detail);
	}
	free(r->obs);
	free(r->name);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

/* prop_result_print - what `keyturn check` shows, one line per address */
void
prop_result_print(const struct prop_result *r, FILE *fp)
{
	const struct prop_obs *o;
	size_t i;

	for (i = 0; i < r->nobs; i++) {
		o = &r->obs[i];
		fprintf(fp, "%s %s %s %s %s %s ttl=%u neg=%u tcp=%d %s\n",
		    o->source == PROP_SRC_AUTH ? "auth" : "resolver",
		    o->zone ? o->zone : "-", o->server, o->addr, o->qname,
		    o->chained ? "cname" : prop_status_name(o->status),
		    o->ttl, o->neg_ttl, o->tcp, o->detail ? o->detail : "");
	}
	if (r->error != NULL)
		fprintf(fp, "error %s\n", r->error);
	fprintf(fp, "verdict %s published=%d revoked=%d ttl=%u neg=%u "
	    "hold=%lld\n", prop_verdict_name(r->verdict), r->published,
	    r->revoked, r->max_ttl, r->neg_ttl, prop_hold(r));
}

/* prop_status_name - for the report lines */
const char *
prop_status_name(enum prop_status s)
{
	static const char *names[] = { "match", "mismatch", "empty",
	    "nxdomain", "nodata", "timeout", "error" };

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* prop_verdict_name - for the report lines */
const char *
prop_verdict_name(enum prop_verdict v)
{
	static const char *names[] = { "unknown", "published", "partial",
	    "absent", "mismatch", "revoked" };

	return (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}
