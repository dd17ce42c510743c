/*
 * rotpool - one rotation pass over many domains, several at a time
 *
 * rotpool_run hands the domains 0..n-1, in that order, to
 * cf->concurrency worker threads (DNSConcurrency; 1 or less: the caller's
 * thread does it all with cf itself). Each worker has a struct store of
 * its own, opened on the directory of cf->store with flags (a struct
 * store is not thread-safe; writers of separate stores serialize on the
 * keystore's flock, as `keyturn rotate` beside keyturnd does), and a copy
 * of cf with counters of its own, and calls fn for one domain at a time;
 * fn runs rot_pass. So at most cf->concurrency propagation checks and
 * publish hooks are under way at once. The workers' counters are added
 * to *cf->stats (when set) once they are done.
 *
 * done (may be NULL) is called in the caller's thread for each domain
 * whose fn has returned, in index order, however the workers finish:
 * what a caller prints per domain comes out in the order of the names.
 *
 * Once cf->dns.cancel_fd is readable no worker takes another domain, and
 * the rot_pass under way gives up by itself (rotation.h).
 */
#ifndef KEYTURN_ROTPOOL_H
#define KEYTURN_ROTPOOL_H

#include <stddef.h>

#include "rotation.h"

/* rotpool_fn - domain i, in a worker, with the worker's cf */
typedef void rotpool_fn(const struct rot_config *cf, size_t i, void *arg);
/* rotpool_done_fn - domain i is over: the caller's thread, in order */
typedef void rotpool_done_fn(size_t i, void *arg);

/*
 * rotpool_run - how many domains were passed (the first ones; fewer than
 * n when cancelled), or -1 with err when a worker's store could not be
 * opened (then none was)
 */
long	rotpool_run(const struct rot_config *cf, int flags, size_t n,
	    rotpool_fn *fn, rotpool_done_fn *done, void *arg, char *err,
	    size_t errlen);
/*
 * rotpool_summary - the figures of a pass for the log and the CLI:
 * "3 domains, 6 keys: 2 checked, 14 DNS queries in 0.1 s (140 queries/s)"
 */
void	rotpool_summary(const struct rot_stats *, double secs, char *buf,
	    size_t len);

#endif
