/*
 * recheck - the keys a pass asks about, and when a confirmed record is
 * asked about again
 *
 * The phase is FNV-1a (64 bits) over the lowercased "domain/selector",
 * mixed by the SplitMix64 finalizer so that its low bits, which the
 * modulo keeps, are as spread as the high ones. It depends on nothing but
 * the names: a restart, another host of a fleet or `keyturn rotate` beside
 * keyturnd all see the same schedule.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>

#include "recheck.h"

/* recheck_mix - FNV-1a of one string into h */
static uint64_t
recheck_mix(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)tolower((unsigned char)*s);
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* recheck_hash - the key's stable 64-bit hash */
static uint64_t
recheck_hash(const char *domain, const char *selector)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = recheck_mix(h, domain);
	h = recheck_mix(h, "/");
	h = recheck_mix(h, selector);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* recheck_phase - where in each interval the key's re-check falls */
long long
recheck_phase(const char *domain, const char *selector, long long interval)
{
	if (interval <= 0)
		return 0;
	return (long long)(recheck_hash(domain, selector) %
	    (uint64_t)interval);
}

/* floor_div - a / b rounded down, b > 0 (last may precede the phase) */
static long long
floor_div(long long a, long long b)
{
	return a / b - (a % b != 0 && a < 0);
}

/* recheck_next - the phase point after last */
time_t
recheck_next(const char *domain, const char *selector, time_t last,
    long long interval)
{
	long long p;

	if (interval <= 0)
		return last;
	p = recheck_phase(domain, selector, interval);
	return (time_t)(p + (floor_div((long long)last - p, interval) + 1) *
	    interval);
}

/* recheck_due - a phase point lies in (last, now] */
int
recheck_due(const char *domain, const char *selector, time_t last,
    time_t now, long long interval)
{
	if (interval <= 0 || last <= 0 || last > now)
		return 1;
	return recheck_next(domain, selector, last, interval) <= now;
}

/*
 * recheck_wanted - what each state needs from DNS. A record confirmed
 * (published everywhere, and for a slot key the customer's CNAME to its
 * target at every address) under a ready, active or retiring key waits
 * for its re-check; anything else about those keys is news the pass
 * wants now: an alarm that may clear, a partial answer that may
 * complete, a CNAME that may be back. The evidence already counts a
 * CNAME that is not OK against the record (evidence_update_slot); the
 * CNAME state is asked here too, so that a memo saying otherwise does
 * not put a bad CNAME off until its re-check.
 */
int
recheck_wanted(const char *domain, const struct store_key *k,
    const struct adapt_mem *m, time_t now, long long interval)
{
	switch (k->state) {
	case STORE_PENDING:
		return 1;
	case STORE_REVOKED:
		return m->published != POL_PUB_REVOKED ||
		    m->obs.dns != POL_DNS_REVOKED;
	default:
		if (m->obs.dns != POL_DNS_PUBLISHED ||
		    (k->slot > 0 && m->cname != POL_CNAME_OK))
			return 1;
		return recheck_due(domain, k->selector, m->checked, now,
		    interval);
	}
}
