/*
 * recheck - which keys a rotation pass asks DNS about
 *
 * A pass over a large keystore cannot ask about every key every time:
 * most records were confirmed long ago and nothing about them is due.
 * recheck_wanted says which keys the pass asks about:
 *
 *	pending		every pass (its all-agree streak and TTL hold
 *			are counted pass by pass)
 *	revoked		every pass until the memo says the empty record
 *			was handed over and DNS serves it everywhere, then
 *			never again
 *	ready, active, retiring
 *			every pass while their record is not confirmed
 *			(the last check saw it absent, partial, changed or
 *			nothing at all: an alarm may be open, and clears
 *			only on a new answer), and for a slot key of a
 *			delegated domain while the customer's CNAME is not
 *			OK (missing, wrong, unknown, never checked); once
 *			confirmed, once per interval (RecheckInterval):
 *			recheck_due
 *
 * The re-checks of confirmed records are spread over the interval: each
 * key has its own phase in it, a stable hash of its domain and selector,
 * and is due once its clock passes phase + k * interval for some k later
 * than its last check. So a pass every RotationInterval over N keys asks
 * about N * RotationInterval / RecheckInterval of them, and a keystore
 * whose keys were all checked at once (after an upgrade, a lost memo)
 * falls into that spread after one interval.
 *
 * The policy's promotions need fresher evidence than this; the rotation
 * pass (rotation.c) checks the keys they rest on again before it acts.
 * Pure: the caller passes the times.
 */
#ifndef KEYTURN_RECHECK_H
#define KEYTURN_RECHECK_H

#include <stdint.h>
#include <time.h>

#include "adapt.h"
#include "store.h"

/* recheck_phase - the key's offset within the interval, 0..interval-1 */
long long	recheck_phase(const char *domain, const char *selector,
		    long long interval);
/*
 * recheck_next - the first time after last at which the key's re-check
 * falls due, at most last + interval (last itself when interval <= 0)
 */
time_t		recheck_next(const char *domain, const char *selector,
		    time_t last, long long interval);
/*
 * recheck_due - 1 when a confirmed record checked at last is due at now:
 * never checked (last 0), checked "later" than now (the clock was set
 * back), interval <= 0 (every pass), or recheck_next(last) <= now
 */
int		recheck_due(const char *domain, const char *selector,
		    time_t last, time_t now, long long interval);
/* recheck_wanted - 1 when the pass at now asks DNS about key k of domain */
int		recheck_wanted(const char *domain, const struct store_key *k,
		    const struct adapt_mem *m, time_t now, long long interval);

#endif
