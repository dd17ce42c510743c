/*
 * rotpool - the workers of a rotation pass over many domains
 *
 * The domains are taken in index order from one counter under the pool's
 * lock, so the domains a cancelled pass has passed are always the first
 * ones; each worker marks its domain over when fn returns, and the
 * caller's thread waits for the next index in turn. The lock guards the
 * counter, the marks and the count of workers still running; everything
 * a worker touches besides is its own.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsio.h"
#include "log.h"
#include "rotpool.h"
#include "xmalloc.h"

struct pool {
	const struct rot_config	*cf;
	rotpool_fn		*fn;
	void			*arg;
	size_t			 n;
	size_t			 next;		/* the next domain to take */
	size_t			 running;	/* workers not yet out */
	char			*over;		/* per domain: fn returned */
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
};

struct worker {
	struct pool		*pool;
	struct rot_config	 cf;		/* cf->store: its own */
	struct rot_stats	 stats;
	pthread_t		 tid;
	int			 started;
};

/* pool_take - the next domain; -1 when none is left or cancelled */
static int
pool_take(struct pool *p, size_t *i)
{
	int r = -1;

	if (dnsio_cancelled(p->cf->dns.cancel_fd))
		return -1;
	pthread_mutex_lock(&p->lock);
	if (p->next < p->n) {
		*i = p->next++;
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* pool_out - one worker fewer; the waiting caller looks again */
static void
pool_out(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->running--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* pool_worker - one domain at a time until none is left */
static void *
pool_worker(void *v)
{
	struct worker *w = v;
	struct pool *p = w->pool;
	size_t i;

	while (pool_take(p, &i) == 0) {
		p->fn(&w->cf, i, p->arg);
		pthread_mutex_lock(&p->lock);
		p->over[i] = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	pool_out(p);
	return NULL;
}

/* pool_inline - one worker: the caller's thread with cf itself */
static long
pool_inline(const struct rot_config *cf, size_t n, rotpool_fn *fn,
    rotpool_done_fn *done, void *arg)
{
	size_t i;

	for (i = 0; i < n && !dnsio_cancelled(cf->dns.cancel_fd); i++) {
		fn(cf, i, arg);
		if (done != NULL)
			done(i, arg);
	}
	return (long)i;
}

/* pool_wait - each domain's end in index order; how many ended in a row */
static size_t
pool_wait(struct pool *p, rotpool_done_fn *done, void *arg)
{
	size_t i;
	int over;

	for (i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->lock);
		while (!p->over[i] && p->running > 0)
			pthread_cond_wait(&p->cond, &p->lock);
		over = p->over[i];
		pthread_mutex_unlock(&p->lock);
		if (!over)
			break;		/* cancelled: nobody took it */
		if (done != NULL)
			done(i, arg);
	}
	return i;
}

/* pool_open - each worker's store and copy of cf; -1 with err */
static int
pool_open(const struct rot_config *cf, int flags, struct worker *w,
    size_t nw, struct pool *p, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < nw; i++) {
		w[i].pool = p;
		w[i].cf = *cf;
		w[i].cf.stats = &w[i].stats;
		if ((w[i].cf.store = store_open(store_dir(cf->store), flags,
		    err, errlen)) == NULL) {
			while (i-- > 0)
				store_close(w[i].cf.store);
			return -1;
		}
	}
	return 0;
}

/* pool_close - join, add up, close */
static void
pool_close(const struct rot_config *cf, struct worker *w, size_t nw)
{
	size_t i;

	for (i = 0; i < nw; i++) {
		if (w[i].started)
			pthread_join(w[i].tid, NULL);
		if (cf->stats != NULL) {
			cf->stats->domains += w[i].stats.domains;
			cf->stats->keys += w[i].stats.keys;
			cf->stats->checked += w[i].stats.checked;
			cf->stats->queries += w[i].stats.queries;
		}
		store_close(w[i].cf.store);
	}
}

/* rotpool_run - start the workers, report in order, wait for them */
long
rotpool_run(const struct rot_config *cf, int flags, size_t n,
    rotpool_fn *fn, rotpool_done_fn *done, void *arg, char *err,
    size_t errlen)
{
	struct worker *w;
	struct pool p;
	size_t nw, i, passed;
	int e, started;

	nw = cf->concurrency > 1 ? (size_t)cf->concurrency : 1;
	if (nw > n)
		nw = n;
	if (nw <= 1)
		return pool_inline(cf, n, fn, done, arg);
	memset(&p, 0, sizeof(p));
	p.cf = cf;
	p.fn = fn;
	p.arg = arg;
	p.n = n;
	w = xcalloc(nw, sizeof(*w));
	if (pool_open(cf, flags, w, nw, &p, err, errlen) == -1) {
		free(w);
		return -1;
	}
	p.over = xcalloc(n, 1);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	p.running = nw;
	for (i = 0, started = 0; i < nw; i++) {
		if ((e = pthread_create(&w[i].tid, NULL, pool_worker,
		    &w[i])) != 0) {
			log_warnx("rotation: worker thread: %s", strerror(e));
			pool_out(&p);
		} else
			w[i].started = ++started;
	}
	/* no thread at all: the caller's thread does it with the first
	 * worker's store */
	if (started == 0)
		passed = (size_t)pool_inline(&w[0].cf, n, fn, done, arg);
	else
		passed = pool_wait(&p, done, arg);
	pool_close(cf, w, nw);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	free(p.over);
	free(w);
	return (long)passed;
}

/* rotpool_summary - what the pass cost, in one line */
void
rotpool_summary(const struct rot_stats *s, double secs, char *buf,
    size_t len)
{
	snprintf(buf, len, "%llu domain%s, %llu key%s: %llu checked, %llu "
	    "DNS quer%s in %.1f s (%.0f queries/s)", s->domains,
	    s->domains == 1 ? "" : "s", s->keys, s->keys == 1 ? "" : "s",
	    s->checked, s->queries, s->queries == 1 ? "y" : "ies", secs,
	    secs > 0 ? s->queries / secs : 0);
}
