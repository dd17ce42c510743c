/*
 * keycache - the keystore's domains, read on first use, least recently
 * used out (see keycache.h)
 *
 * A chained hash table of power-of-two size and a doubly linked LRU list,
 * both under one mutex. The cache holds one reference on each entry;
 * every lookup hands out another. Reading a domain (a few small files and
 * one private key parse per active key) is done with no lock held; its
 * result goes in only if no change to the keystore was announced while it
 * was being read (seq), else it serves the message that asked and nothing
 * else, so a stale read can never outlive the change that made it stale.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keycache.h"
#include "log.h"
#include "snapshot.h"
#include "store.h"
#include "xmalloc.h"

#define KEYCACHE_MAXBUCKETS	(1u << 22)

struct keycache {
	atomic_uint	 refs;
	struct store	*store;		/* NULL: only what was put */
	size_t		 max;		/* 0: no bound */
	pthread_mutex_t	 lock;
	struct snap_domain **bucket;
	size_t		 nbucket;	/* a power of two */
	struct snap_domain *head, *tail;	/* most recent first */
	size_t		 n;
	uint64_t	 seq;		/* changes announced */
	uint64_t	 hits, misses, evictions, reloads;
};

/* kc_hash - FNV-1a over the lowercase name */
static uint64_t
kc_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct keycache *
keycache_new(struct store *st, size_t max)
{
	struct keycache *kc = xcalloc(1, sizeof(*kc));

	atomic_init(&kc->refs, 1);
	kc->store = st;
	kc->max = max;
	pthread_mutex_init(&kc->lock, NULL);
	for (kc->nbucket = 64; kc->nbucket < max &&
	    kc->nbucket < KEYCACHE_MAXBUCKETS; kc->nbucket <<= 1)
		;
	kc->bucket = xcalloc(kc->nbucket, sizeof(*kc->bucket));
	return kc;
}

struct keycache *
keycache_ref(struct keycache *kc)
{
	atomic_fetch_add(&kc->refs, 1);
	return kc;
}

/* keycache_unref - the last reference drops every entry and the store */
void
keycache_unref(struct keycache *kc)
{
	struct snap_domain *d, *next;

	if (kc == NULL || atomic_fetch_sub(&kc->refs, 1) != 1)
		return;
	for (d = kc->head; d != NULL; d = next) {
		next = d->lnext;
		snap_domain_unref(d);
	}
	free(kc->bucket);
	pthread_mutex_destroy(&kc->lock);
	if (kc->store != NULL)
		store_close(kc->store);
	free(kc);
}

struct store *
keycache_store(const struct keycache *kc)
{
	return kc->store;
}

size_t
keycache_max(const struct keycache *kc)
{
	return kc->max;
}

/* kc_find - the entry of name; the lock is held */
static struct snap_domain *
kc_find(struct keycache *kc, const char *name, uint64_t h,
    struct snap_domain ***slot)
{
	struct snap_domain **p;

	for (p = &kc->bucket[h & (kc->nbucket - 1)]; *p != NULL;
	    p = &(*p)->hnext)
		if ((*p)->hash == h && strcmp((*p)->name, name) == 0) {
			if (slot != NULL)
				*slot = p;
			return *p;
		}
	return NULL;
}

/* kc_lru_unlink, kc_lru_front - the lock is held */
static void
kc_lru_unlink(struct keycache *kc, struct snap_domain *d)
{
	if (d->lprev != NULL)
		d->lprev->lnext = d->lnext;
	else
		kc->head = d->lnext;
	if (d->lnext != NULL)
		d->lnext->lprev = d->lprev;
	else
		kc->tail = d->lprev;
	d->lprev = d->lnext = NULL;
}

static void
kc_lru_front(struct keycache *kc, struct snap_domain *d)
{
	d->lprev = NULL;
	d->lnext = kc->head;
	if (kc->head != NULL)
		kc->head->lprev = d;
	kc->head = d;
	if (kc->tail == NULL)
		kc->tail = d;
}

/* kc_remove - out of the table and the list; the caller drops the ref */
static void
kc_remove(struct keycache *kc, struct snap_domain *d)
{
	struct snap_domain **slot;

	if (kc_find(kc, d->name, d->hash, &slot) == d)
		*slot = d->hnext;
	d->hnext = NULL;
	kc_lru_unlink(kc, d);
	kc->n--;
}

/* kc_insert - at the front; the cache's reference is the caller's */
static void
kc_insert(struct keycache *kc, struct snap_domain *d)
{
	size_t b = d->hash & (kc->nbucket - 1);

	d->hnext = kc->bucket[b];
	kc->bucket[b] = d;
	kc_lru_front(kc, d);
	kc->n++;
}

/*
 * kc_evict - the least recently used entries over the bound, handed to
 * the caller in a list to unref once the lock is dropped
 */
static struct snap_domain *
kc_evict(struct keycache *kc)
{
	struct snap_domain *out = NULL, *d, *prev;

	for (d = kc->tail; kc->max > 0 && kc->n > kc->max && d != NULL;
	    d = prev) {
		prev = d->lprev;
		if (d->pinned)
			continue;
		kc_remove(kc, d);
		d->hnext = out;
		out = d;
		kc->evictions++;
	}
	return out;
}

static void
kc_release(struct snap_domain *list)
{
	struct snap_domain *next;

	for (; list != NULL; list = next) {
		next = list->hnext;
		list->hnext = NULL;
		snap_domain_unref(list);
	}
}

/* kc_alg - the engine's name for a keystore algorithm */
static enum dkim_alg
kc_alg(enum store_alg a)
{
	return a == STORE_ALG_ED25519 ? DKIM_ALG_ED25519_SHA256 :
	    DKIM_ALG_RSA_SHA256;
}

/*
 * kc_build - its active keys, each with its planned revocation (x=), and
 * the selectors of all its keys (a signature by any of them is ours)
 */
static void
kc_build(struct snap_domain *d, const struct store_domain *sd)
{
	const struct store_key *k;
	size_t i;

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
		if (snapshot_add_key(d, k->selector, kc_alg(k->alg), k->pkey,
		    store_key_revoke_planned(sd, k)) == -1)
			snapshot_domain_error(d, "more active keys than "
			    "keyturnd signs with");
	}
	store_domain_stamp(sd, &d->stamp);
}

/*
 * kc_read - name as the keystore has it now: absent (no such directory,
 * or a name the keystore cannot hold), loaded, or unusable with its error
 */
static struct snap_domain *
kc_read(struct store *st, const char *name)
{
	struct snap_domain *d = snap_domain_new(name);
	struct store_domain *sd;
	struct stat sb;
	char err[1024], *path;

	d->hash = kc_hash(d->name);
	if (store_domain_valid(d->name, err, sizeof(err)) == -1 ||
	    store_own_name(d->name)) {
		d->absent = 1;
		return d;
	}
	path = xasprintf("%s/%s", store_dir(st), d->name);
	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			d->absent = 1;
		else {
			snprintf(err, sizeof(err), "%s: %s", path,
			    strerror(errno));
			snapshot_domain_error(d, err);
			d->retry_at = time(NULL) + KEYCACHE_RETRY_S;
		}
		free(path);
		return d;
	}
	free(path);
	if (!S_ISDIR(sb.st_mode) ||
	    (sd = store_domain_load(st, d->name, STORE_KEYS_ACTIVE, err,
	    sizeof(err))) == NULL) {
		if (!S_ISDIR(sb.st_mode))
			snprintf(err, sizeof(err), "%s/%s: not a directory",
			    store_dir(st), d->name);
		snapshot_domain_error(d, err);
		d->retry_at = time(NULL) + KEYCACHE_RETRY_S;
		return d;
	}
	kc_build(d, sd);
	store_domain_free(sd);
	return d;
}

/* kc_said - log what became of a domain read again, once per change */
static void
kc_said(const struct snap_domain *was, const struct snap_domain *now)
{
	if (now->absent)
		return;
	if (now->error == NULL) {
		if (was != NULL && was->error != NULL)
			log_info("domain %s loads again", now->name);
		return;
	}
	if (was != NULL && was->error != NULL &&
	    strcmp(was->error, now->error) == 0)
		return;
	log_warnx("domain %s unusable, its mail gets the failure policy "
	    "(OnError) until its keystore files load (they are tried again "
	    "every few seconds): %s", now->name, now->error);
}

/* kc_carry - a domain read again keeps its place in the round-robin */
static void
kc_carry(struct snap_domain *d, const struct snap_domain *old)
{
	size_t a;

	for (a = 0; a < SNAP_NALG; a++)
		atomic_store(&d->next[a], atomic_load(&old->next[a]));
}

/* keycache_load - see keycache.h */
struct snap_domain *
keycache_load(struct store *st, const char *name)
{
	struct snap_domain *d = kc_read(st, name);

	if (d->absent) {
		snap_domain_unref(d);
		return NULL;
	}
	return d;
}

/* keycache_get - a hit costs a hash, a compare and a list move */
struct snap_domain *
keycache_get(struct keycache *kc, const char *name)
{
	struct snap_domain *d, *n, *old = NULL, *gone;
	uint64_t h = kc_hash(name), seq;

	pthread_mutex_lock(&kc->lock);
	if ((d = kc_find(kc, name, h, NULL)) != NULL &&
	    (d->error == NULL || time(NULL) < d->retry_at ||
	    kc->store == NULL)) {
		kc->hits++;
		if (d->lprev != NULL) {
			kc_lru_unlink(kc, d);
			kc_lru_front(kc, d);
		}
		if (d->absent) {
			pthread_mutex_unlock(&kc->lock);
			return NULL;
		}
		snap_domain_ref(d);
		pthread_mutex_unlock(&kc->lock);
		return d;
	}
	if (d != NULL)
		old = snap_domain_ref(d);	/* unusable, due again */
	kc->misses++;
	seq = kc->seq;
	pthread_mutex_unlock(&kc->lock);
	if (kc->store == NULL) {
		snap_domain_unref(old);
		return NULL;
	}

	n = kc_read(kc->store, name);
	kc_said(old, n);
	pthread_mutex_lock(&kc->lock);
	gone = NULL;
	if (kc->seq == seq && (d = kc_find(kc, name, h, NULL)) != NULL &&
	    d != old) {
		/*
		 * another reader put it in meanwhile: that one, so that the
		 * round-robin has one counter
		 */
		snap_domain_ref(d);
		pthread_mutex_unlock(&kc->lock);
		snap_domain_unref(n);
		snap_domain_unref(old);
		if (d->absent) {
			snap_domain_unref(d);
			return NULL;
		}
		return d;
	}
	if (kc->seq == seq) {
		if (d != NULL) {
			/* the unusable one, read again */
			kc_remove(kc, d);
			d->hnext = gone;
			gone = d;
		}
		kc_insert(kc, snap_domain_ref(n));
		d = kc_evict(kc);
		if (d != NULL) {
			struct snap_domain *t = d;

			while (t->hnext != NULL)
				t = t->hnext;
			t->hnext = gone;
			gone = d;
		}
	}
	pthread_mutex_unlock(&kc->lock);
	kc_release(gone);
	snap_domain_unref(old);
	if (n->absent) {
		snap_domain_unref(n);
		return NULL;
	}
	return n;
}

/* keycache_put - pinned: a domain that is not the keystore's to read */
void
keycache_put(struct keycache *kc, struct snap_domain *d)
{
	struct snap_domain *old;

	d->hash = kc_hash(d->name);
	d->pinned = 1;
	pthread_mutex_lock(&kc->lock);
	if ((old = kc_find(kc, d->name, d->hash, NULL)) != NULL)
		kc_remove(kc, old);
	kc_insert(kc, d);
	pthread_mutex_unlock(&kc->lock);
	snap_domain_unref(old);
}

/*
 * kc_replace - read d's domain again and put the result in its place, if
 * d is still the entry; a domain gone from the keystore leaves the cache
 * (the next message that names it finds it absent)
 */
static int
kc_replace(struct keycache *kc, struct snap_domain *d)
{
	struct snap_domain *n, *cur, *drop = NULL;

	n = kc_read(kc->store, d->name);
	kc_carry(n, d);
	kc_said(d, n);
	pthread_mutex_lock(&kc->lock);
	kc->reloads++;
	if ((cur = kc_find(kc, d->name, d->hash, NULL)) == d) {
		kc_remove(kc, d);
		drop = d;
		if (!n->absent) {
			kc_insert(kc, n);
			n = NULL;
		}
	}
	pthread_mutex_unlock(&kc->lock);
	snap_domain_unref(drop);
	snap_domain_unref(n);
	return 1;
}

/* keycache_changed - a cached domain is read again now, off the signers */
void
keycache_changed(struct keycache *kc, const char *name)
{
	struct snap_domain *d;
	uint64_t h = kc_hash(name);

	pthread_mutex_lock(&kc->lock);
	kc->seq++;
	d = kc_find(kc, name, h, NULL);
	if (d != NULL && d->absent) {
		/* the next message that names it reads it */
		kc_remove(kc, d);
		pthread_mutex_unlock(&kc->lock);
		snap_domain_unref(d);
		return;
	}
	if (d == NULL || d->pinned || kc->store == NULL) {
		pthread_mutex_unlock(&kc->lock);
		return;
	}
	snap_domain_ref(d);
	pthread_mutex_unlock(&kc->lock);
	kc_replace(kc, d);
	snap_domain_unref(d);
}

/* keycache_revalidate - two stats per cached domain, reads where they moved */
size_t
keycache_revalidate(struct keycache *kc)
{
	struct snap_domain **all, *d, *drop = NULL;
	size_t n = 0, i, reread = 0;

	if (kc->store == NULL)
		return 0;
	pthread_mutex_lock(&kc->lock);
	kc->seq++;
	all = xcalloc(kc->n + 1, sizeof(*all));
	for (d = kc->head; d != NULL; d = d->lnext)
		if (!d->pinned && !d->absent)
			all[n++] = snap_domain_ref(d);
	/* absent ones go: the next message that names one reads it */
	for (d = kc->head; d != NULL;) {
		struct snap_domain *next = d->lnext;

		if (!d->pinned && d->absent) {
			kc_remove(kc, d);
			d->hnext = drop;
			drop = d;
		}
		d = next;
	}
	pthread_mutex_unlock(&kc->lock);
	kc_release(drop);
	for (i = 0; i < n; i++) {
		if (all[i]->error != NULL || store_stamp_changed(kc->store,
		    all[i]->name, &all[i]->stamp))
			reread += kc_replace(kc, all[i]);
		snap_domain_unref(all[i]);
	}
	free(all);
	return reread;
}

void
keycache_stats(struct keycache *kc, struct keycache_stats *st)
{
	pthread_mutex_lock(&kc->lock);
	st->entries = kc->n;
	st->max = kc->max;
	st->hits = kc->hits;
	st->misses = kc->misses;
	st->evictions = kc->evictions;
	st->reloads = kc->reloads;
	pthread_mutex_unlock(&kc->lock);
}
