/*
 * evidence - keep the start of an unbroken all-agree streak
 *
 * A streak is broken by any pass that is not all-agree, including a pass
 * where nothing could be asked: no evidence is not agreement.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "evidence.h"

/* evidence_dns - the policy's word for the propagation verdict */
static enum pol_dns
evidence_dns(enum prop_verdict v)
{
	switch (v) {
	case PROP_V_PUBLISHED:
		return POL_DNS_PUBLISHED;
	case PROP_V_PARTIAL:
		return POL_DNS_PARTIAL;
	case PROP_V_ABSENT:
		return POL_DNS_ABSENT;
	case PROP_V_MISMATCH:
		return POL_DNS_MISMATCH;
	case PROP_V_REVOKED:
		return POL_DNS_REVOKED;
	default:
		return POL_DNS_UNKNOWN;
	}
}

/* evidence_detail - the first observation that is not a plain yes */
static void
evidence_detail(struct pol_obs *obs, const struct prop_result *res)
{
	const struct prop_obs *o;
	size_t i;

	obs->detail[0] = '\0';
	for (i = 0; i < res->nobs; i++) {
		o = &res->obs[i];
		if (o->status == PROP_MATCH && res->verdict != PROP_V_REVOKED)
			continue;
		snprintf(obs->detail, sizeof(obs->detail), "%s: %s%s%s",
		    o->addr, prop_status_name(o->status),
		    o->detail ? ", " : "", o->detail ? o->detail : "");
		return;
	}
}

/* evidence_update - a streak survives only unbroken all-agree passes */
void
evidence_update(struct pol_obs *obs, const struct prop_result *res,
    time_t now)
{
	enum pol_dns dns;
	long long hold;

	if (res == NULL) {
		memset(obs, 0, sizeof(*obs));
		obs->dns = POL_DNS_UNKNOWN;
		return;
	}
	dns = evidence_dns(res->verdict);
	hold = prop_hold(res);
	if (dns == POL_DNS_PUBLISHED || dns == POL_DNS_REVOKED) {
		if (obs->dns != dns) {
			obs->since = now;
			obs->hold = hold;
		} else if (hold > obs->hold)
			obs->hold = hold;
	} else {
		obs->since = 0;
		obs->hold = 0;
	}
	obs->dns = dns;
	evidence_detail(obs, res);
}

/* evidence_cname - one bad address decides: another target outweighs a
 * missing CNAME, which outweighs a server that did not answer */
enum pol_cname
evidence_cname(const struct prop_result *res)
{
	enum pol_cname c = POL_CNAME_OK;
	size_t i;

	if (res == NULL || res->nobs == 0)
		return POL_CNAME_UNKNOWN;
	for (i = 0; i < res->nobs; i++) {
		if (res->obs[i].source != PROP_SRC_AUTH)
			continue;
		switch (res->obs[i].status) {
		case PROP_MATCH:
			break;
		case PROP_MISMATCH:
		case PROP_EMPTY:
			return POL_CNAME_WRONG;
		case PROP_NXDOMAIN:
		case PROP_NODATA:
			c = POL_CNAME_MISSING;
			break;
		default:
			if (c == POL_CNAME_OK)
				c = POL_CNAME_UNKNOWN;
		}
	}
	return c;
}

/* evidence_cname_bad - the servers to name in the alarm, all of them
 * when they fit */
void
evidence_cname_bad(const struct prop_result *res, char *buf, size_t len)
{
	const struct prop_obs *o;
	size_t i, o_len = 0, left = 0;
	char one[POL_CNAME_BAD], *p;
	int n;

	buf[0] = '\0';
	for (i = 0; res != NULL && i < res->nobs; i++) {
		o = &res->obs[i];
		if (o->source != PROP_SRC_AUTH || o->status == PROP_MATCH)
			continue;
		n = snprintf(one, sizeof(one), "%s%s %s %s", o_len ? ", " : "",
		    o->server ? o->server : "?", o->addr ? o->addr : "?",
		    prop_status_name(o->status));
		if (n < 0 || (size_t)n >= sizeof(one))
			n = (int)strlen(one);
		/* a server's name comes from DNS: the memo keeps this in a
		 * tag, which ';' would end, and logs it on one line */
		for (p = one; *p != '\0'; p++)
			if (*p == ';' || (unsigned char)*p < 0x20 ||
			    (unsigned char)*p == 0x7f)
				*p = '?';
		if (left > 0 || o_len + n + 20 >= len) {
			left++;
			continue;
		}
		memcpy(buf + o_len, one, n + 1);
		o_len += n;
	}
	if (left > 0)
		snprintf(buf + o_len, len - o_len, " and %zu more", left);
}

/* slot_dns - both checks together: a CNAME that is wrong or missing
 * weighs as a wrong or missing record */
static enum pol_dns
slot_dns(enum pol_cname c, const struct prop_result *key_res)
{
	enum pol_dns k = key_res == NULL ? POL_DNS_UNKNOWN :
	    evidence_dns(key_res->verdict);

	if (k == POL_DNS_MISMATCH || c == POL_CNAME_WRONG)
		return POL_DNS_MISMATCH;
	if (c == POL_CNAME_MISSING || k == POL_DNS_ABSENT ||
	    k == POL_DNS_REVOKED)
		return POL_DNS_ABSENT;
	if (c == POL_CNAME_OK && k == POL_DNS_PUBLISHED)
		return POL_DNS_PUBLISHED;
	if (k == POL_DNS_PUBLISHED || k == POL_DNS_PARTIAL)
		return POL_DNS_PARTIAL;
	return POL_DNS_UNKNOWN;
}

/* lmax - the larger */
static long long
lmax(long long a, long long b)
{
	return a > b ? a : b;
}

/* evidence_update_slot - the streak needs both zones at once; the hold
 * is the longest any resolver may still hold the target's old answer,
 * the CNAME, or a negative answer for either */
void
evidence_update_slot(struct pol_obs *obs, enum pol_cname *cname, char *bad,
    size_t badlen, const struct prop_result *cname_res,
    const struct prop_result *key_res, long long prev_ttl, time_t now)
{
	long long txt, cn, neg, hold;
	enum pol_dns dns;

	*cname = evidence_cname(cname_res);
	evidence_cname_bad(cname_res, bad, badlen);
	dns = slot_dns(*cname, key_res);
	txt = key_res != NULL ? key_res->max_ttl : 0;
	cn = cname_res != NULL ? cname_res->max_ttl : 0;
	neg = lmax(key_res != NULL ? key_res->neg_ttl : 0,
	    cname_res != NULL ? cname_res->neg_ttl : 0);
	hold = lmax(lmax(txt, cn), lmax(neg, prev_ttl));
	if (dns != POL_DNS_PUBLISHED) {
		obs->since = 0;
		obs->hold = 0;
		obs->ttl_txt = obs->ttl_cname = obs->ttl_neg = 0;
	} else if (obs->dns != POL_DNS_PUBLISHED) {
		obs->since = now;
		obs->hold = hold;
		obs->ttl_txt = txt;
		obs->ttl_cname = cn;
		obs->ttl_neg = neg;
	} else {
		obs->hold = lmax(obs->hold, hold);
		obs->ttl_txt = lmax(obs->ttl_txt, txt);
		obs->ttl_cname = lmax(obs->ttl_cname, cn);
		obs->ttl_neg = lmax(obs->ttl_neg, neg);
	}
	obs->dns = dns;
	obs->detail[0] = '\0';
	if (key_res != NULL)
		evidence_detail(obs, key_res);
	if (obs->detail[0] == '\0' && *cname != POL_CNAME_OK)
		snprintf(obs->detail, sizeof(obs->detail), "CNAME %s%s%s",
		    pol_cname_name(*cname), bad[0] ? ": " : "", bad);
}
