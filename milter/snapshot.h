/*
 * snapshot - what keyturnd signs with, frozen
 *
 * A snapshot is the configuration and the keystore as they were when it was
 * built: the domains (sorted, looked up by binary search), their active keys
 * as parsed EVP_PKEYs, and one round-robin counter per domain and algorithm.
 * Once sealed it never changes, except for those counters (atomic), so any
 * number of threads read it without locks. A message takes a reference when
 * it starts and drops it when it ends; the daemon swaps a new snapshot in
 * with snapshot_install, and the old one is freed when its last message is
 * done. A message therefore never sees half of one snapshot and half of
 * another.
 */
#ifndef KEYTURN_SNAPSHOT_H
#define KEYTURN_SNAPSHOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "dkim.h"

#define SNAP_NALG		2	/* rsa-sha256, ed25519-sha256 */
#define SNAP_MAXKEYS		3	/* active keys per domain and algorithm */

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
	struct snap_domain	**domains;	/* sorted by name */
	size_t			 ndomains;
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
/* snapshot_add_domain - a domain the keystore has (no keys yet) */
struct snap_domain *snapshot_add_domain(struct snapshot *, const char *name);
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
/* snapshot_seal - sort the domains; no change after this */
void		 snapshot_seal(struct snapshot *);
/*
 * snapshot_carry - start each round-robin where old left it, so that a
 * reload does not skew the rotation of unchanged keys.
 */
void		 snapshot_carry(struct snapshot *, const struct snapshot *old);

struct snapshot	*snapshot_ref(struct snapshot *);
void		 snapshot_unref(struct snapshot *);

/*
 * snapshot_find - the domain that signs for a From domain: the domain
 * itself or, with subdomains, its nearest parent in the snapshot.
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
