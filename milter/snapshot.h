/*
 * snapshot - what keyturnd signs with, frozen
 *
 * A snapshot is the configuration and the signing rules as they were when
 * it was built, and the cache of the keystore's domains (keycache.h) that
 * it reads them through. Once sealed it never changes, so any number of
 * threads read it without locks. A message takes a reference when it
 * starts and drops it when it ends; the daemon swaps a new snapshot in
 * with snapshot_install, and the old one is freed when its last message is
 * done. A domain found through a snapshot is a reference of its own, held
 * until the message is signed: a keystore change that replaces it
 * meanwhile never takes a key from under a signature, and every lookup
 * made after the change sees the new keys.
 */
#ifndef KEYTURN_SNAPSHOT_H
#define KEYTURN_SNAPSHOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "dkim.h"
#include "store.h"

#define SNAP_NALG		2	/* rsa-sha256, ed25519-sha256 */
#define SNAP_MAXKEYS		3	/* active keys per domain and algorithm */

struct keycache;
struct kt_conf;
struct rules;

struct snap_key {
	char		*selector;
	enum dkim_alg	 alg;
	EVP_PKEY	*pkey;
	time_t		 revoke_at;	/* planned revocation; 0: none */
};

struct snap_domain {
	char		*name;
	char		*error;		/* set: the domain failed to load */
	char		**selectors;	/* every key's, any state; sorted */
	size_t		 nselectors;
	struct snap_key	 keys[SNAP_NALG][SNAP_MAXKEYS];
	size_t		 nkeys[SNAP_NALG];
	atomic_uint	 next[SNAP_NALG];	/* round-robin counters */

	/* the cache's (keycache.c) */
	atomic_uint	 refs;
	int		 absent;	/* the keystore has no such domain */
	int		 pinned;	/* put by hand: never evicted */
	time_t		 retry_at;	/* unusable: read again from then */
	struct store_stamp stamp;	/* the files it was read from */
	uint64_t	 hash;
	struct snap_domain *hnext, *lprev, *lnext;
};

/* The configuration part, shared by the snapshots built from one file. */
struct snap_conf {
	atomic_uint		 refs;
	struct kt_conf		*conf;
	struct dkim_hdrlist	*hdrs;
};

struct snapshot {
	atomic_uint		 refs;
	struct snap_conf	*sc;
	const struct kt_conf	*conf;		/* sc->conf */
	const struct dkim_hdrlist *hdrs;	/* sc->hdrs */
	struct rules		*rules;		/* SigningTable, SenderLogins */
	struct keycache		*kc;		/* the keystore's domains */
	int			 sealed;
};

/*
 * snapshot_new - an empty snapshot owning conf and the reference on rules
 * (NULL: none); NULL and err on bad headers
 */
struct snapshot	*snapshot_new(struct kt_conf *conf, struct rules *rules,
		    char *err, size_t errlen);
/*
 * snapshot_new_same - an empty snapshot sharing the configuration of old,
 * and its rules unless new ones are given (their reference taken over)
 */
struct snapshot	*snapshot_new_same(const struct snapshot *old,
		    struct rules *rules);
/* snapshot_set_cache - the domains, through kc (the reference taken over) */
void		 snapshot_set_cache(struct snapshot *, struct keycache *kc);

/*
 * Domains built by hand, into a cache of their own when the snapshot has
 * none (a keystore-less snapshot, for tests and tools).
 * snapshot_add_domain: a domain the keystore has (no keys yet), owned by
 * the cache.
 */
struct snap_domain *snapshot_add_domain(struct snapshot *, const char *name);
/* snap_domain_new - a domain outside any cache, one reference */
struct snap_domain *snap_domain_new(const char *name);
/* snapshot_domain_error - mark a domain unusable (its mail tempfails) */
void		 snapshot_domain_error(struct snap_domain *, const char *msg);
/* snapshot_add_key - an active key (own reference on pkey); -1 when full */
int		 snapshot_add_key(struct snap_domain *, const char *selector,
		    enum dkim_alg, EVP_PKEY *pkey, time_t revoke_at);
/* snapshot_add_selector - a selector of any of the domain's keys */
void		 snapshot_add_selector(struct snap_domain *, const char *);
/* snapshot_has_selector - is it one of the domain's (any case)? */
int		 snapshot_has_selector(const struct snap_domain *,
		    const char *selector, size_t len);
/* snapshot_seal - no change after this */
void		 snapshot_seal(struct snapshot *);

struct snapshot	*snapshot_ref(struct snapshot *);
void		 snapshot_unref(struct snapshot *);
struct snap_domain *snap_domain_ref(struct snap_domain *);
void		 snap_domain_unref(struct snap_domain *);

/*
 * snapshot_find - the domain that signs for a From domain: the domain
 * itself or, with subdomains, its nearest parent the keystore has; a
 * reference the caller drops with snap_domain_unref, or NULL.
 */
struct snap_domain *snapshot_find(const struct snapshot *,
		    const char *domain, int subdomains);
/* snapshot_next_key - the next key of alg, round-robin; NULL: none */
const struct snap_key *snapshot_next_key(struct snap_domain *, enum dkim_alg);

/* The daemon's current snapshot. */
void		 snapshot_install(struct snapshot *);	/* takes the ref */
struct snapshot	*snapshot_current(void);		/* a new ref or NULL */
void		 snapshot_shutdown(void);		/* drop the current one */

#endif
