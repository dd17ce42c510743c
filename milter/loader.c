/*
 * loader - build keyturnd snapshots from the keystore (keystore/store.h)
 *
 * A snapshot is built domain by domain, so that one domain that does not
 * load never holds the others back: a domain whose policy and state files
 * did not change since the last build is shared as it was (its keys stay
 * in memory, even if a key file has become unreadable since); a new or
 * changed domain is read again (owner, modes, every active private key
 * parsed and matched to its public key). A domain that fails is put in
 * the snapshot marked unusable with its error ("file:line: ..."), without
 * keys: its mail gets the failure policy, never the keys of a state that
 * the keystore no longer holds (a revoked key does not keep signing). A
 * broken domain is tried again at every build and at least every
 * LOADER_RETRY_S, so that fixing its files is enough. Snapshots take their
 * own reference on each EVP_PKEY; the loaded domains stay private to the
 * loader's thread.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "dkim.h"
#include "loader.h"
#include "log.h"
#include "snapshot.h"
#include "store.h"
#include "xmalloc.h"

#define LOADER_RETRY_S		2	/* a broken domain is read again */

struct loader {
	char		*dir;
	struct store	*store;
	char		**names;	/* sorted, as store_domain_names */
	struct store_domain **doms;	/* per name; NULL: failed to load */
	size_t		 n;
	size_t		 nbroken;
	uint64_t	 gen;		/* keystore generation last built */
	int		 moved;		/* ... not the one built before it */
	time_t		 retry_at;	/* when broken domains are retried */
};

/* loader_new - nothing opened until the first build */
struct loader *
loader_new(void)
{
	return xcalloc(1, sizeof(struct loader));
}

/* loader_forget - drop the domains of the last build */
static void
loader_forget(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->doms[i] != NULL)
			store_domain_free(l->doms[i]);
	free(l->doms);
	if (l->names != NULL)
		store_names_free(l->names, l->n);
	l->doms = NULL;
	l->names = NULL;
	l->n = 0;
	l->nbroken = 0;
}

/* loader_reset - forget the open keystore (its path changed) */
static void
loader_reset(struct loader *l)
{
	loader_forget(l);
	if (l->store != NULL)
		store_close(l->store);
	free(l->dir);
	l->store = NULL;
	l->dir = NULL;
}

/* loader_free - the snapshots it built live on */
void
loader_free(struct loader *l)
{
	if (l == NULL)
		return;
	loader_reset(l);
	free(l);
}

/* loader_open - the keystore named by the configuration, read-only */
static int
loader_open(struct loader *l, const char *dir, char *err, size_t errlen)
{
	if (l->store != NULL && strcmp(l->dir, dir) == 0)
		return 0;
	loader_reset(l);
	if ((l->store = store_open(dir, STORE_RDONLY, err, errlen)) == NULL)
		return -1;
	l->dir = xstrdup(dir);
	return 0;
}

/* loader_alg - the engine's name for a keystore algorithm */
static enum dkim_alg
loader_alg(enum store_alg a)
{
	return a == STORE_ALG_ED25519 ? DKIM_ALG_ED25519_SHA256 :
	    DKIM_ALG_RSA_SHA256;
}

/*
 * loader_domain - its active keys, each with its planned revocation (x=),
 * and the selectors of all its keys (a signature by any of them is ours)
 */
static void
loader_domain(struct snapshot *s, const struct store_domain *sd)
{
	struct snap_domain *d;
	const struct store_key *k;
	size_t i;

	d = snapshot_add_domain(s, sd->name);
	for (i = 0; i < sd->nkeys; i++) {
		k = &sd->keys[i];
		snapshot_add_selector(d, k->selector);
		if (k->state != STORE_ACTIVE)
			continue;
		if (k->pkey == NULL) {
			snapshot_domain_error(d, "active key without its "
			    "private key");
			continue;
		}
		if (snapshot_add_key(d, k->selector, loader_alg(k->alg),
		    k->pkey, store_key_revoke_planned(sd, k)) == -1)
			snapshot_domain_error(d, "more active keys than "
			    "keyturnd signs with");
	}
}

/* loader_cmp - bsearch over the sorted names */
static int
loader_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* loader_old - the domain as the last build loaded it, or NULL */
static struct store_domain *
loader_old(const struct loader *l, const char *name)
{
	char **p;

	if (l->n == 0)
		return NULL;
	p = bsearch(&name, l->names, l->n, sizeof(*l->names), loader_cmp);
	return p == NULL ? NULL : l->doms[p - l->names];
}

/*
 * loader_one - an unchanged domain shared, any other read again; NULL and
 * derr when it does not load
 */
static struct store_domain *
loader_one(struct loader *l, const char *name, char *derr, size_t derrlen)
{
	struct store_domain *old;

	if ((old = loader_old(l, name)) != NULL &&
	    !store_domain_changed(l->store, old))
		return store_domain_ref(old);
	return store_domain_load(l->store, name, STORE_KEYS_ACTIVE, derr,
	    derrlen);
}

/* loader_build - every domain on its own; the loaded ones kept for reuse */
struct snapshot *
loader_build(struct loader *l, struct kt_conf *conf, struct rules *rules,
    const struct snapshot *prev, char *err, size_t errlen)
{
	const struct kt_conf *c = conf != NULL ? conf : prev->conf;
	struct store_domain **doms;
	struct snapshot *s;
	char **names, derr[1024];
	uint64_t gen;
	size_t i, n, nbroken = 0;

	if (loader_open(l, c->keystore, err, errlen) == -1)
		return NULL;
	gen = store_generation(l->store);
	if (store_domain_names(l->store, &names, &n, err, errlen) == -1)
		return NULL;
	if (conf != NULL)
		s = snapshot_new(conf, rules, err, errlen);
	else
		s = snapshot_new_same(prev, rules);
	if (s == NULL) {
		store_names_free(names, n);
		return NULL;
	}
	err[0] = '\0';
	doms = xcalloc(n > 0 ? n : 1, sizeof(*doms));
	for (i = 0; i < n; i++) {
		if ((doms[i] = loader_one(l, names[i], derr,
		    sizeof(derr))) != NULL) {
			loader_domain(s, doms[i]);
			continue;
		}
		snapshot_domain_error(snapshot_add_domain(s, names[i]), derr);
		if (nbroken++ == 0)
			snprintf(err, errlen, "%s", derr);
	}
	snapshot_seal(s);
	if (prev != NULL)
		snapshot_carry(s, prev);
	loader_forget(l);
	l->names = names;
	l->doms = doms;
	l->n = n;
	l->nbroken = nbroken;
	l->moved = gen != l->gen;
	l->gen = gen;
	l->retry_at = time(NULL) + LOADER_RETRY_S;
	return s;
}

/* loader_moved - the last build read a keystore written since the one before */
int
loader_moved(const struct loader *l)
{
	return l->moved;
}

/* loader_broken - domains the last build could not load */
size_t
loader_broken(const struct loader *l)
{
	return l->nbroken;
}

/* loader_changed - one small file read: cheap enough to poll every second */
int
loader_changed(struct loader *l)
{
	if (l->store == NULL)
		return LOADER_MOVED;
	if (store_generation(l->store) != l->gen)
		return LOADER_MOVED;
	if (l->nbroken > 0 && time(NULL) >= l->retry_at)
		return LOADER_RETRY;
	return 0;
}
