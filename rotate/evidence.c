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
