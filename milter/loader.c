/*
 * loader - keyturnd's view of the keystore (keystore/store.h)
 *
 * Nothing of the keystore is read at start but its format, owner and
 * modes: a keystore of a million domains signs its first message as soon
 * as one of the domains is read. The cache reads a domain when a message
 * needs it (its owner, modes, every active private key parsed and matched
 * to its public key) and keeps it until it is the least recently used
 * one of KeyCache. A domain that does not load is in the cache marked
 * unusable with its error ("file:line: ..."), without keys: its mail gets
 * the failure policy, never the keys of a state that the keystore no
 * longer holds, and it is read again a few seconds later.
 *
 * Changes are learnt from the journal every keystore write appends to:
 * the watch is opened before the cache reads anything, so every write
 * that a read may have missed is in the journal after the watch's start.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "keycache.h"
#include "loader.h"
#include "snapshot.h"
#include "store.h"
#include "xmalloc.h"

struct loader {
	char		*dir;
	size_t		 max;		/* KeyCache of the cache */
	struct keycache	*kc;		/* owns the store */
	struct store_watch *watch;
	size_t		 reread;
};

/* loader_new - nothing opened until the first build */
struct loader *
loader_new(void)
{
	return xcalloc(1, sizeof(struct loader));
}

/* loader_reset - forget the open keystore */
static void
loader_reset(struct loader *l)
{
	store_watch_close(l->watch);
	keycache_unref(l->kc);
	free(l->dir);
	l->watch = NULL;
	l->kc = NULL;
	l->dir = NULL;
}

/* loader_free - the snapshots it built live on, with their cache */
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
loader_open(struct loader *l, const struct kt_conf *c, char *err,
    size_t errlen)
{
	struct store *st;

	if (l->kc != NULL && strcmp(l->dir, c->keystore) == 0 &&
	    l->max == (size_t)c->key_cache)
		return 0;
	if ((st = store_open(c->keystore, STORE_RDONLY, err, errlen)) == NULL)
		return -1;
	loader_reset(l);
	l->watch = store_watch_open(st);	/* before any domain is read */
	l->kc = keycache_new(st, (size_t)c->key_cache);
	l->dir = xstrdup(c->keystore);
	l->max = (size_t)c->key_cache;
	return 1;
}

/* loader_build - a snapshot over the loader's cache */
struct snapshot *
loader_build(struct loader *l, struct kt_conf *conf, struct rules *rules,
    const struct snapshot *prev, char *err, size_t errlen)
{
	const struct kt_conf *c = conf != NULL ? conf : prev->conf;
	struct snapshot *s;
	int fresh;

	if ((fresh = loader_open(l, c, err, errlen)) == -1)
		return NULL;
	if (conf != NULL)
		s = snapshot_new(conf, rules, err, errlen);
	else
		s = snapshot_new_same(prev, rules);
	if (s == NULL)
		return NULL;
	err[0] = '\0';
	l->reread = 0;
	if (!fresh && conf != NULL)
		l->reread = keycache_revalidate(l->kc);
	snapshot_set_cache(s, keycache_ref(l->kc));
	snapshot_seal(s);
	return s;
}

/* loader_reread - for the log line of a reload or a change */
size_t
loader_reread(const struct loader *l)
{
	return l->reread;
}

/* loader_changed_one - a journal line: read again if cached */
static void
loader_changed_one(const char *domain, void *arg)
{
	struct loader *l = arg;
	struct keycache_stats before, after;

	keycache_stats(l->kc, &before);
	keycache_changed(l->kc, domain);
	keycache_stats(l->kc, &after);
	l->reread += after.reloads - before.reloads;
}

/* loader_poll - one small file read when nothing moved */
int
loader_poll(struct loader *l)
{
	int n;

	l->reread = 0;
	if (l->watch == NULL)
		return 0;
	n = store_watch_poll(l->watch, loader_changed_one, l);
	if (n == STORE_WATCH_LOST) {
		l->reread += keycache_revalidate(l->kc);
		return LOADER_LOST;
	}
	return n;
}

uint64_t
loader_generation(const struct loader *l)
{
	return l->watch != NULL ? store_watch_generation(l->watch) : 0;
}
