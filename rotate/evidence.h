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
/*
 * evidence_update_slot - the same for a slot key of a delegated domain,
 * from the two checks of a pass: cname_res (the customer zone in CNAME
 * mode) and key_res (the provider zone at the target, not following);
 * either NULL when its check failed. cname and bad get the CNAME's state
 * and the failing addresses; obs->dns is PUBLISHED only when both agree,
 * and the hold is the largest over the streak of the TXT's TTL, the
 * CNAME's TTL, both zones' negative TTLs and prev_ttl (when >= 0).
 */
void	evidence_update_slot(struct pol_obs *obs, enum pol_cname *cname,
	    char *bad, size_t badlen, const struct prop_result *cname_res,
	    const struct prop_result *key_res, long long prev_ttl, time_t now);
/* evidence_cname - the CNAME's state from a CNAME-mode result (or NULL) */
enum pol_cname evidence_cname(const struct prop_result *cname_res);
/*
 * evidence_cname_bad - "ns2.bad.test 127.0.0.82:53 nxdomain; ..." for
 * every address that did not answer the CNAME, cut with "and N more"
 */
void	evidence_cname_bad(const struct prop_result *cname_res, char *buf,
	    size_t len);

#endif
