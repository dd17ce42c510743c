/*
 * rotation_thread - keyturnd's rotation: one thread, never a signing one
 *
 * Every RotationInterval, while Rotation is yes in the running
 * configuration (a SIGHUP can switch it either way), the thread runs one
 * rotation pass (rot_pass, rotate/rotation.h) over each domain: DNS
 * checks, the publish hook, keystore transitions. DNSConcurrency domains
 * are passed at once, by worker threads that this thread starts for the
 * pass and joins at its end, each with a struct store of its own
 * (rotate/rotpool.h). Blocking DNS and the hook's child process happen
 * in them only; the signers never wait for them. As soon as a pass has
 * written a change of the active set (activate, swap, retire, revoke),
 * and again after each domain whose pass changed the keystore, the
 * daemon is asked to rebuild its snapshot (daemon_refresh), so a swap
 * reaches the signers within milliseconds, not at the watcher's next
 * poll. Shutdown (daemon_cancel_fd) stops the workers taking domains and
 * cuts the DNS checks and hooks under way short.
 *
 * The settings are those of the current snapshot's configuration, held
 * (by a snapshot reference) for the length of one pass. The end of each
 * pass is logged at info with what it cost: domains, keys, DNS checks,
 * DNS queries and queries per second.
 *
 * Metrics: every action is counted as it is reported; the keys by state
 * (each domain read again once its pass is over), the open alarms and
 * the pass's duration are published when the pass ends (metrics.h). The
 * metrics_pass_* calls are meant for one thread: the workers make them
 * under rotthr_lock, one at a time, and the pass's end, after the
 * workers are joined, sees all of them.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "daemon.h"
#include "fleet_thread.h"
#include "log.h"
#include "metrics.h"
#include "rotation.h"
#include "rotation_thread.h"
#include "rotpool.h"
#include "snapshot.h"

#define ROTTHR_IDLE_MS	1000	/* re-read Rotation while it is off */

/* the workers' turns at the metrics of the pass */
static pthread_mutex_t rotthr_lock = PTHREAD_MUTEX_INITIALIZER;

/* rotthr_now_ms - the pass's duration on a clock no date change moves */
static long long
rotthr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rotthr_count - an action for the metrics; an alarm also by its key */
static void
rotthr_count(const struct rot_event *ev)
{
	if (strcmp(ev->outcome, "done") == 0)
		metrics_action(ev->action->type, 0);
	else if (strcmp(ev->outcome, "alarm") == 0) {
		metrics_action(ev->action->type, 0);
		pthread_mutex_lock(&rotthr_lock);
		metrics_pass_alarm(ev->domain, ev->selector);
		pthread_mutex_unlock(&rotthr_lock);
	} else if (strncmp(ev->outcome, "failed", 6) == 0)
		metrics_action(ev->action->type, 1);
}

/* rotthr_keys - the domain's keys after its pass, for keys by state */
static void
rotthr_keys(struct store *st, const char *domain)
{
	struct store_domain *d;
	char err[256];

	if ((d = store_domain_load(st, domain, 0, err, sizeof(err))) == NULL)
		return;
	pthread_mutex_lock(&rotthr_lock);
	metrics_pass_keys(d);
	pthread_mutex_unlock(&rotthr_lock);
	store_domain_free(d);
}

/*
 * rotthr_report - a DNS check at debug level (actions log themselves); a
 * state change that was written reaches the signers at once, before the
 * rest of the pass (a new key's generation, a hook) runs
 */
static void
rotthr_report(const struct rot_event *ev, void *arg)
{
	(void)arg;
	if (ev->action == NULL) {
		log_debug("rotation: %s: dns %s: %s", ev->domain,
		    *ev->selector ? ev->selector : "-", ev->outcome);
		return;
	}
	rotthr_count(ev);
	if (strcmp(ev->outcome, "done") != 0)
		return;
	switch (ev->action->type) {
	case POL_A_ACTIVATE:
	case POL_A_SWAP:
	case POL_A_RETIRE:
	case POL_A_REVOKE:
		daemon_refresh();
		break;
	default:
		break;
	}
}

/*
 * rotthr_domain - one domain, in a worker with its own store; refresh
 * when its pass changed the keystore
 */
static void
rotthr_domain(const struct rot_config *cf, size_t i, void *arg)
{
	char **names = arg, err[1024];
	uint64_t gen;

	gen = store_generation(cf->store);
	if (rot_pass(cf, names[i], time(NULL), rotthr_report, NULL, err,
	    sizeof(err)) == -1) {
		log_warnx("rotation: %s", err);
		pthread_mutex_lock(&rotthr_lock);
		metrics_pass_error();
		pthread_mutex_unlock(&rotthr_lock);
	}
	if (store_generation(cf->store) != gen)
		daemon_refresh();
	rotthr_keys(cf->store, names[i]);
}

/*
 * rotthr_pass - one pass over every domain, DNSConcurrency at a time; -1
 * when the keystore could not be read at all
 */
static int
rotthr_pass(const struct kt_conf *conf)
{
	struct rot_config cf;
	struct rot_stats stats = { 0 };
	char **names, err[1024], sum[256];
	size_t n;
	long passed;
	long long t0 = rotthr_now_ms();

	rot_config_init(&cf, conf);
	cf.dns.cancel_fd = daemon_cancel_fd();
	cf.stats = &stats;
	if ((cf.store = store_open(conf->keystore, 0, err,
	    sizeof(err))) == NULL) {
		log_warnx("rotation: %s", err);
		return -1;
	}
	if (store_domain_names(cf.store, &names, &n, err, sizeof(err)) == -1) {
		log_warnx("rotation: %s", err);
		store_close(cf.store);
		return -1;
	}
	passed = rotpool_run(&cf, 0, n, rotthr_domain, NULL, names, err,
	    sizeof(err));
	metrics_pass_stats(stats.domains, stats.keys, stats.checked,
	    stats.queries);
	if (passed == -1)
		log_warnx("rotation: %s", err);
	else {
		rotpool_summary(&stats, (rotthr_now_ms() - t0) / 1000.0, sum,
		    sizeof(sum));
		if ((size_t)passed < n)
			log_info("rotation: pass cancelled after %s", sum);
		else
			log_info("rotation: pass over %s", sum);
	}
	store_names_free(names, n);
	store_close(cf.store);
	return passed == -1 ? -1 : 0;
}

/* rotation_thread - the daemon service: a pass, then RotationInterval */
void *
rotation_thread(void *arg)
{
	struct snapshot *snap;
	long long ms, t0;

	(void)arg;
	do {
		ms = ROTTHR_IDLE_MS;
		if ((snap = snapshot_current()) != NULL) {
			if (snap->conf->rotation && fleet_thread_rotates()) {
				t0 = rotthr_now_ms();
				metrics_pass_begin();
				if (rotthr_pass(snap->conf) == 0)
					metrics_pass_end(time(NULL),
					    rotthr_now_ms() - t0);
				else
					metrics_pass_abort();
				ms = snap->conf->rotation_interval * 1000;
			}
			snapshot_unref(snap);
		}
	} while (daemon_sleep(ms) == 0);
	return NULL;
}
