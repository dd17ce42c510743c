/*
 * loader - build keyturnd snapshots from the keystore (keystore/store.h)
 *
 * store_set_load / store_set_reload do the reading and checking (owner,
 * modes, every active private key parsed and matched to its public key);
 * a set that fails is refused whole. The loader turns a set into a
 * snapshot: per domain, its active keys by algorithm, each with its
 * planned retirement (the bound on x=). Snapshots take their own reference
 * on each EVP_PKEY, so the set stays private to the loader's thread.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "dkim.h"
#include "loader.h"
#include "log.h"
#include "snapshot.h"
#include "store.h"
#include "xmalloc.h"

struct loader {
	char		*dir;
	struct store	*store;
	struct store_set *set;
	uint64_t	 gen;		/* keystore generation last built */
};

/* loader_new - nothing opened until the first build */
struct loader *
loader_new(void)
{
	return xcalloc(1, sizeof(struct loader));
}

/* loader_reset - forget the open keystore (its path changed) */
static void
loader_reset(struct loader *l)
{
	if (l->set != NULL)
		store_set_free(l->set);
	if (l->store != NULL)
		store_close(l->store);
	free(l->dir);
	l->set = NULL;
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

/* loader_domain - one domain's active keys into the snapshot */
static void
loader_domain(struct snapshot *s, const struct store_domain *sd)
{
	struct snap_domain *d;
	const struct store_key *k;
	enum store_state next;
	size_t i;

	d = snapshot_add_domain(s, sd->name);
	for (i = 0; i < sd->nkeys; i++) {
		k = &sd->keys[i];
		if (k->state != STORE_ACTIVE)
			continue;
		if (k->pkey == NULL) {
			snapshot_domain_error(d, "active key without its "
			    "private key");
			continue;
		}
		if (snapshot_add_key(d, k->selector, loader_alg(k->alg),
		    k->pkey, store_key_planned(sd, k, &next)) == -1)
			snapshot_domain_error(d, "more active keys than "
			    "keyturnd signs with");
	}
}

/* loader_set - a fresh set, or the previous one with changed domains re-read */
static struct store_set *
loader_set(struct loader *l, char *err, size_t errlen)
{
	size_t nparsed = 0;

	if (l->set == NULL)
		return store_set_load(l->store, STORE_KEYS_ACTIVE, err, errlen);
	return store_set_reload(l->store, l->set, STORE_KEYS_ACTIVE, &nparsed,
	    err, errlen);
}

/* loader_build - all of the keystore or nothing; the set kept for reloads */
struct snapshot *
loader_build(struct loader *l, struct kt_conf *conf,
    const struct snapshot *prev, char *err, size_t errlen)
{
	const struct kt_conf *c = conf != NULL ? conf : prev->conf;
	struct store_set *set;
	struct snapshot *s;
	size_t i;

	if (loader_open(l, c->keystore, err, errlen) == -1)
		return NULL;
	if ((set = loader_set(l, err, errlen)) == NULL)
		return NULL;
	if (conf != NULL)
		s = snapshot_new(conf, err, errlen);
	else
		s = snapshot_new_same(prev);
	if (s == NULL) {
		store_set_free(set);
		return NULL;
	}
	for (i = 0; i < set->n; i++)
		loader_domain(s, set->domains[i]);
	snapshot_seal(s);
	snapshot_carry(s, prev);
	if (l->set != NULL)
		store_set_free(l->set);
	l->set = set;
	l->gen = set->generation;
	return s;
}

/* loader_degraded_domain - one domain on its own; a failure marks it */
static int
loader_degraded_domain(struct loader *l, struct snapshot *s, const char *name,
    char *err, size_t errlen)
{
	struct store_domain *sd;
	char derr[1024];

	if ((sd = store_domain_load(l->store, name, STORE_KEYS_ACTIVE, derr,
	    sizeof(derr))) == NULL) {
		snapshot_domain_error(snapshot_add_domain(s, name), derr);
		if (err[0] == '\0')
			snprintf(err, errlen, "%s", derr);
		return -1;
	}
	loader_domain(s, sd);
	store_domain_free(sd);
	return 0;
}

/* loader_build_degraded - serve what loads rather than nothing */
struct snapshot *
loader_build_degraded(struct loader *l, struct kt_conf *conf, char *err,
    size_t errlen)
{
	struct snapshot *s;
	char **names;
	size_t i, n;

	if (loader_open(l, conf->keystore, err, errlen) == -1)
		return NULL;
	l->gen = store_generation(l->store);
	if (store_domain_names(l->store, &names, &n, err, errlen) == -1)
		return NULL;
	if ((s = snapshot_new(conf, err, errlen)) == NULL) {
		store_names_free(names, n);
		return NULL;
	}
	err[0] = '\0';
	for (i = 0; i < n; i++)
		loader_degraded_domain(l, s, names[i], err, errlen);
	store_names_free(names, n);
	snapshot_seal(s);
	return s;
}

/* loader_changed - one small file read: cheap enough to poll every second */
int
loader_changed(struct loader *l)
{
	if (l->store == NULL)
		return 1;
	return store_generation(l->store) != l->gen;
}
