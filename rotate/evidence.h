/*
 * evidence - from successive propagation results to "agreed since T"
 *
 * The policy engine (policy.h) wants, per key, one summary of DNS and the
 * time since which every server has agreed without a break. This is the
 * glue: each pass feeds the new prop_result and the old pol_obs; a
 * published (or revoked) streak keeps its start, anything else ends it.
 * Pure: the caller passes the time.
 */
#ifndef KEYTURN_EVIDENCE_H
#define KEYTURN_EVIDENCE_H

#include <time.h>

#include "policy.h"
#include "propagate.h"

/*
 * evidence_update - fold res (NULL: the check failed) observed at now
 * into *obs; the hold grows to the largest seen during the streak.
 */
void	evidence_update(struct pol_obs *obs, const struct prop_result *res,
	    time_t now);

#endif
