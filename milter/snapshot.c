/*
 * snapshot - the immutable, shared, refcounted signing state of keyturnd
 *
 * Built by one thread (snapshot_new, snapshot_set_cache, snapshot_seal),
 * then only read. The refcounts and the round-robin counters are atomics;
 * the current-snapshot pointer is guarded by a mutex held only long enough
 * to take a reference, so installing a new snapshot never waits for
 * messages. Domains live in the keycache; keys are freed with
 * EVP_PKEY_free (OpenSSL wipes private key material) when the last
 * reference to their domain goes.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "keycache.h"
#include "rules.h"
#include "snapshot.h"
#include "xmalloc.h"

static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *snapshot_cur;

/* snapshot_new - start a snapshot; the header lists come from conf */
struct snapshot *
snapshot_new(struct kt_conf *conf, struct rules *rules, char *err,
    size_t errlen)
{
	struct snapshot *s;
	struct dkim_hdrlist *h;

	h = dkim_hdrlist_new(conf->sign_headers, conf->oversign_headers,
	    err, errlen);
	if (h == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->rules = rules;
	atomic_init(&s->refs, 1);
	s->sc = xcalloc(1, sizeof(*s->sc));
	atomic_init(&s->sc->refs, 1);
	s->sc->conf = conf;
	s->sc->hdrs = h;
	s->conf = conf;
	s->hdrs = h;
	return s;
}

/* snapshot_new_same - a rules change keeps the configuration */
struct snapshot *
snapshot_new_same(const struct snapshot *old, struct rules *rules)
{
	struct snapshot *s;

	s = xcalloc(1, sizeof(*s));
	if (rules != NULL)
		s->rules = rules;
	else if (old->rules != NULL)
		s->rules = rules_ref(old->rules);
	atomic_init(&s->refs, 1);
	s->sc = old->sc;
	atomic_fetch_add(&s->sc->refs, 1);
	s->conf = old->conf;
	s->hdrs = old->hdrs;
	return s;
}

/* snapshot_set_cache - the loader's cache of the keystore's domains */
void
snapshot_set_cache(struct snapshot *s, struct keycache *kc)
{
	if (s->sealed)
		abort();
	keycache_unref(s->kc);
	s->kc = kc;
}

/* snap_domain_new - domain names are kept lowercase for lookups */
struct snap_domain *
snap_domain_new(const char *name)
{
	struct snap_domain *d;
	char *p;
	int i;

	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	for (p = d->name; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	for (i = 0; i < SNAP_NALG; i++)
		atomic_init(&d->next[i], 0);
	atomic_init(&d->refs, 1);
	return d;
}

/* snapshot_add_domain - into the snapshot's own cache, which owns it */
struct snap_domain *
snapshot_add_domain(struct snapshot *s, const char *name)
{
	struct snap_domain *d;

	if (s->sealed)
		abort();
	if (s->kc == NULL)
		s->kc = keycache_new(NULL, 0);
	d = snap_domain_new(name);
	keycache_put(s->kc, d);
	return d;
}

/* snapshot_domain_error - keep the first reason; it is what gets logged */
void
snapshot_domain_error(struct snap_domain *d, const char *msg)
{
	if (d->error == NULL)
		d->error = xstrdup(msg);
}

/* snapshot_add_key - keys keep the order they are added in */
int
snapshot_add_key(struct snap_domain *d, const char *selector,
    enum dkim_alg alg, EVP_PKEY *pkey, time_t revoke_at)
{
	struct snap_key *k;

	if ((int)alg < 0 || alg >= SNAP_NALG ||
	    d->nkeys[alg] >= SNAP_MAXKEYS)
		return -1;
	k = &d->keys[alg][d->nkeys[alg]++];
	k->selector = xstrdup(selector);
	k->alg = alg;
	EVP_PKEY_up_ref(pkey);
	k->pkey = pkey;
	k->revoke_at = revoke_at;
	return 0;
}

/* snapshot_selcmp - selectors are DNS labels: any case */
static int
snapshot_selcmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* snapshot_add_selector - kept sorted for "already signed by us" */
void
snapshot_add_selector(struct snap_domain *d, const char *selector)
{
	size_t i;

	d->selectors = xreallocarray(d->selectors, d->nselectors + 1,
	    sizeof(*d->selectors));
	for (i = d->nselectors; i > 0 &&
	    strcasecmp(d->selectors[i - 1], selector) > 0; i--)
		d->selectors[i] = d->selectors[i - 1];
	d->selectors[i] = xstrdup(selector);
	d->nselectors++;
}

/* snapshot_has_selector - binary search; sel need not be terminated */
int
snapshot_has_selector(const struct snap_domain *d, const char *sel,
    size_t len)
{
	char buf[256];
	const char *key = buf;

	if (len >= sizeof(buf) || d->nselectors == 0)
		return 0;
	memcpy(buf, sel, len);
	buf[len] = '\0';
	return bsearch(&key, d->selectors, d->nselectors,
	    sizeof(*d->selectors), snapshot_selcmp) != NULL;
}

/* snapshot_seal - from here on, only read */
void
snapshot_seal(struct snapshot *s)
{
	s->sealed = 1;
}

/* snap_domain_ref - one more holder (the cache, a message) */
struct snap_domain *
snap_domain_ref(struct snap_domain *d)
{
	atomic_fetch_add(&d->refs, 1);
	return d;
}

/* snap_domain_unref - the last holder frees the domain and its keys */
void
snap_domain_unref(struct snap_domain *d)
{
	size_t a, i;

	if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	for (a = 0; a < SNAP_NALG; a++)
		for (i = 0; i < d->nkeys[a]; i++) {
			free(d->keys[a][i].selector);
			EVP_PKEY_free(d->keys[a][i].pkey);
		}
	for (i = 0; i < d->nselectors; i++)
		free(d->selectors[i]);
	free(d->selectors);
	free(d->error);
	free(d->name);
	free(d);
}

/* snapshot_free - the last reference went away */
static void
snapshot_free(struct snapshot *s)
{
	keycache_unref(s->kc);
	rules_unref(s->rules);
	if (atomic_fetch_sub(&s->sc->refs, 1) == 1) {
		dkim_hdrlist_free(s->sc->hdrs);
		conf_free(s->sc->conf);
		free(s->sc);
	}
	free(s);
}

/* snapshot_ref - one more holder (a message, the current pointer) */
struct snapshot *
snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

/* snapshot_unref - the last holder frees, whichever thread it is */
void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL)
		return;
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		snapshot_free(s);
}

/* snapshot_find - walk up the labels only when SubDomains allows it */
struct snap_domain *
snapshot_find(const struct snapshot *s, const char *domain, int subdomains)
{
	char name[256];
	struct snap_domain *d;
	const char *p;
	size_t i, len;

	len = strlen(domain);
	if (s->kc == NULL || len == 0 || len >= sizeof(name))
		return NULL;
	for (i = 0; i <= len; i++)
		name[i] = (domain[i] >= 'A' && domain[i] <= 'Z') ?
		    domain[i] + ('a' - 'A') : domain[i];
	if ((d = keycache_get(s->kc, name)) != NULL || !subdomains)
		return d;
	for (p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.'))
		if (p[1] != '\0' && (d = keycache_get(s->kc, p + 1)) != NULL)
			return d;
	return NULL;
}

/* snapshot_next_key - one atomic increment per signature: even and lock-free */
const struct snap_key *
snapshot_next_key(struct snap_domain *d, enum dkim_alg alg)
{
	unsigned int n;

	if ((int)alg < 0 || alg >= SNAP_NALG || d->nkeys[alg] == 0)
		return NULL;
	n = atomic_fetch_add(&d->next[alg], 1);
	return &d->keys[alg][n % d->nkeys[alg]];
}

/* snapshot_install - swap; messages holding the old one keep it */
void
snapshot_install(struct snapshot *s)
{
	struct snapshot *old;

	pthread_mutex_lock(&snapshot_lock);
	old = snapshot_cur;
	snapshot_cur = s;
	pthread_mutex_unlock(&snapshot_lock);
	snapshot_unref(old);
}

/* snapshot_current - a reference the caller must drop */
struct snapshot *
snapshot_current(void)
{
	struct snapshot *s;

	pthread_mutex_lock(&snapshot_lock);
	s = snapshot_cur;
	if (s != NULL)
		snapshot_ref(s);
	pthread_mutex_unlock(&snapshot_lock);
	return s;
}

/* snapshot_shutdown - at exit: no current snapshot, new messages tempfail */
void
snapshot_shutdown(void)
{
	snapshot_install(NULL);
}
