/*
 * keycache - the domains keyturnd signs for, read on first use
 *
 * keyturnd does not read the keystore at start: a domain's files are read
 * and its active keys parsed when a message first needs it, and kept in a
 * cache of at most KeyCache domains, the least recently used leaving first.
 * A domain the keystore does not have is remembered as absent, and one whose
 * files do not load as unusable (its error kept, tried again after
 * KEYCACHE_RETRY_S), in the same cache. Entries are immutable and reference
 * counted: a lookup returns a reference the caller drops with
 * snap_domain_unref when its message is done, so an entry that leaves the
 * cache or is replaced meanwhile stays whole for it, and eviction never
 * waits for a signer. One mutex guards the table and the LRU list for the
 * few instructions of a lookup; files are read and keys parsed outside it.
 *
 * The keystore daemon's watcher tells the cache which domains were written
 * (keycache_changed, from the keystore's journal): a cached domain is read
 * again at once and replaces its entry, its round-robin counters carried
 * over. keycache_revalidate re-reads every cached domain whose files
 * changed (SIGHUP, or a journal that cannot tell).
 *
 * A cache without a keystore (keycache_new(NULL, ...)) holds only the
 * domains put into it (keycache_put): tests build snapshots that way.
 */
#ifndef KEYTURN_KEYCACHE_H
#define KEYTURN_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#define KEYCACHE_RETRY_S	2	/* an unusable domain is read again */

struct keycache;
struct snap_domain;
struct store;

struct keycache_stats {
	size_t		 entries;	/* domains cached (absent ones too) */
	size_t		 max;
	uint64_t	 hits, misses, evictions, reloads;
};

/* keycache_new - owns st (NULL: no keystore); max entries (0: no bound) */
struct keycache	*keycache_new(struct store *st, size_t max);
struct keycache	*keycache_ref(struct keycache *);
void		 keycache_unref(struct keycache *);
struct store	*keycache_store(const struct keycache *);
size_t		 keycache_max(const struct keycache *);

/*
 * keycache_get - the domain named (lowercase, exact), a reference the
 * caller drops; NULL when the keystore has no such domain. An unusable
 * domain is returned with its error set.
 */
struct snap_domain *keycache_get(struct keycache *, const char *name);
/* keycache_put - a domain built by the caller, never evicted */
void		 keycache_put(struct keycache *, struct snap_domain *);
/* keycache_changed - the keystore wrote this domain: read it again */
void		 keycache_changed(struct keycache *, const char *name);
/* keycache_revalidate - every cached domain whose files changed; how many */
size_t		 keycache_revalidate(struct keycache *);
void		 keycache_stats(struct keycache *, struct keycache_stats *);

/*
 * keycache_load - a domain read from the keystore now, outside any cache:
 * a new reference, NULL when absent (keyturnd -n reads every domain so)
 */
struct snap_domain *keycache_load(struct store *, const char *name);

#endif
