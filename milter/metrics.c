/*
 * metrics - keyturnd's counters and the /metrics page
 *
 * SYNOPSIS
 *	Message outcomes, the signing time histogram and the snapshot's
 *	generation are static atomics, added to with relaxed order from any
 *	thread. What a rotation pass saw (keys by state, the open alarms)
 *	is gathered by the rotation thread alone and published at the end
 *	of the pass under metrics_lock, which only that thread and the HTTP
 *	thread take: a signing thread never waits for a scrape.
 *
 *	MetricsListen: the socket is made and bound as root (a port below
 *	1024 works), libmicrohttpd's thread starts after the privilege drop
 *	with HUP, TERM and INT blocked, and renders the page on each GET
 *	/metrics; any other path or method is 404.
 *
 * DIAGNOSTICS
 *	metrics_listen and metrics_start return -1 with the reason; keyturnd
 *	does not start without the endpoint it was told to serve.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "conf.h"
#include "keycache.h"
#include "fleet_thread.h"
#include "metrics.h"
#include "snapshot.h"
#include "store.h"
#include "supervise.h"
#include "xmalloc.h"

#define METRICS_NACT		(POL_A_ALARM + 1)
#define METRICS_MAXALARMS	1000	/* labelled gauges; the rest counted */
#define METRICS_CONNS		16	/* scrapers at once */
#define METRICS_TIMEOUT_S	10	/* an idle scraper is dropped */

static const char *metrics_unsigned_names[MU_N] = {
	"client_not_internal", "daemon_name", "no_from", "from_error",
	"domain_unknown", "login_mismatch", "already_signed", "header_error",
	"onerror_accept"
};

static const char *metrics_tempfail_names[MT_N] = {
	"shutting_down", "no_active_key", "domain_unusable", "domain_missing",
	"signing_error", "mta_refused", "login_mismatch", "out_of_memory"
};

/* Upper bounds of the signing time buckets, in nanoseconds. */
static const long long metrics_bounds[] = {
	500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 500000000, 1000000000, 2500000000LL
};
#define METRICS_NBUCKETS (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))

/* Message outcomes and the signing time: any thread, no lock. */
static atomic_ullong metrics_nsigned[2];	/* by enum dkim_alg */
static atomic_ullong metrics_nunsigned[MU_N];
static atomic_ullong metrics_ntempfail[MT_N];
static atomic_ullong metrics_nrejected;
static atomic_ullong metrics_buckets[METRICS_NBUCKETS + 1];	/* + Inf */
static atomic_ullong metrics_sum_ns;

/* The snapshot: the daemon's reload paths, under their own lock. */
static atomic_ullong metrics_generation;
static atomic_llong metrics_loaded_at;

/* The keystore's journal: the watcher thread. */
static atomic_ullong metrics_ks_generation;
static atomic_ullong metrics_ks_writes;

/* What the rotation passes asked of DNS: the rotation thread. */
static atomic_ullong metrics_rot_checks, metrics_rot_queries;
static atomic_ullong metrics_rot_domains, metrics_rot_keys;

/* Rotation actions: the rotation thread. */
static atomic_ullong metrics_nactions[METRICS_NACT];
static atomic_ullong metrics_nfailed[METRICS_NACT];

/* What one rotation pass saw. */
struct metrics_pass {
	unsigned long long	 passes;
	unsigned long long	 errors;	/* domains that did not load */
	time_t			 at;		/* end of the last pass */
	long long		 ms;		/* its duration */
	unsigned long		 keys[STORE_NSTATES][STORE_NALGS];
	char			**alarms;	/* "domain\0selector" */
	size_t			 nalarms;	/* at most METRICS_MAXALARMS */
	size_t			 nalarmed;	/* all of them */
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_pass metrics_shown;	/* under metrics_lock */
static struct metrics_pass metrics_next;	/* the rotation thread's */

static int metrics_fd = -1;
static struct MHD_Daemon *metrics_mhd;

/* metrics_add - one more; the count needs no order with anything else */
static void
metrics_add(atomic_ullong *c, unsigned long long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* metrics_get - a counter for the page */
static unsigned long long
metrics_get(atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* metrics_observe - the signing time into its bucket */
static void
metrics_observe(long long ns)
{
	size_t i;

	if (ns < 0)
		ns = 0;
	for (i = 0; i < METRICS_NBUCKETS && ns > metrics_bounds[i]; i++)
		;
	metrics_add(&metrics_buckets[i], 1);
	metrics_add(&metrics_sum_ns, (unsigned long long)ns);
}

/* metrics_signed - once per algorithm, however many domains signed */
void
metrics_signed(const struct dkim_sign *plan, size_t n, long long ns)
{
	int seen[2] = { 0, 0 };
	size_t i;

	for (i = 0; i < n; i++)
		if ((size_t)plan[i].alg < 2 && !seen[plan[i].alg]) {
			seen[plan[i].alg] = 1;
			metrics_add(&metrics_nsigned[plan[i].alg], 1);
		}
	metrics_observe(ns);
}

/* metrics_unsigned - a message passed without a signature */
void
metrics_unsigned(enum metrics_unsigned why)
{
	if ((size_t)why < MU_N)
		metrics_add(&metrics_nunsigned[why], 1);
}

/* metrics_tempfail - a message the MTA keeps queued */
void
metrics_tempfail(enum metrics_tempfail why)
{
	if ((size_t)why < MT_N)
		metrics_add(&metrics_ntempfail[why], 1);
}

/* metrics_rejected - the one permanent refusal, SenderMismatch reject */
void
metrics_rejected(void)
{
	metrics_add(&metrics_nrejected, 1);
}

/* metrics_snapshot_installed - generation and time of the new one */
void
metrics_snapshot_installed(time_t now)
{
	atomic_store_explicit(&metrics_loaded_at, (long long)now,
	    memory_order_relaxed);
	metrics_add(&metrics_generation, 1);
}

/* metrics_keystore_moved - what the watcher followed of the journal */
void
metrics_keystore_moved(uint64_t generation, unsigned writes)
{
	atomic_store_explicit(&metrics_ks_generation, generation,
	    memory_order_relaxed);
	metrics_add(&metrics_ks_writes, writes);
}

/* metrics_action - carried out (an alarm raised counts) or failed */
void
metrics_action(enum pol_act a, int failed)
{
	if ((size_t)a < METRICS_NACT)
		metrics_add(failed ? &metrics_nfailed[a] :
		    &metrics_nactions[a], 1);
}

/* metrics_alarms_free - a pass's list of alarms */
static void
metrics_alarms_free(struct metrics_pass *p)
{
	size_t i;

	for (i = 0; i < p->nalarms; i++)
		free(p->alarms[i]);
	free(p->alarms);
	p->alarms = NULL;
	p->nalarms = p->nalarmed = 0;
}

/* metrics_pass_begin - counts start from zero; totals carry on */
void
metrics_pass_begin(void)
{
	metrics_alarms_free(&metrics_next);
	memset(metrics_next.keys, 0, sizeof(metrics_next.keys));
	metrics_next.errors = 0;
}

/* metrics_pass_keys - one domain's keys, by state and algorithm */
void
metrics_pass_keys(const struct store_domain *d)
{
	size_t i;

	for (i = 0; i < d->nkeys; i++)
		if ((size_t)d->keys[i].state < STORE_NSTATES &&
		    (size_t)d->keys[i].alg < STORE_NALGS)
			metrics_next.keys[d->keys[i].state][d->keys[i].alg]++;
}

/* metrics_pass_alarm - a key with an alarm: a gauge of its own */
void
metrics_pass_alarm(const char *domain, const char *selector)
{
	size_t dl = strlen(domain), sl = strlen(selector);
	char *s;

	metrics_next.nalarmed++;
	if (metrics_next.nalarms >= METRICS_MAXALARMS)
		return;
	s = xmalloc(dl + sl + 2);
	memcpy(s, domain, dl + 1);
	memcpy(s + dl + 1, selector, sl + 1);
	metrics_next.alarms = xreallocarray(metrics_next.alarms,
	    metrics_next.nalarms + 1, sizeof(*metrics_next.alarms));
	metrics_next.alarms[metrics_next.nalarms++] = s;
}

/* metrics_pass_error - a domain the pass could not load */
void
metrics_pass_error(void)
{
	metrics_next.errors++;
}

/*
 * metrics_pass_abort - a pass that could not read the keystore: counted
 * as an error, and what the last pass saw stays shown (an empty pass
 * would clear every alarm)
 */
void
metrics_pass_abort(void)
{
	pthread_mutex_lock(&metrics_lock);
	metrics_shown.errors++;
	pthread_mutex_unlock(&metrics_lock);
}

/* metrics_pass_stats - see metrics.h */
void
metrics_pass_stats(unsigned long long domains, unsigned long long keys,
    unsigned long long checked, unsigned long long queries)
{
	metrics_add(&metrics_rot_checks, checked);
	metrics_add(&metrics_rot_queries, queries);
	atomic_store_explicit(&metrics_rot_domains, domains,
	    memory_order_relaxed);
	atomic_store_explicit(&metrics_rot_keys, keys, memory_order_relaxed);
}

/* metrics_pass_end - what the pass saw replaces what the last one saw */
void
metrics_pass_end(time_t now, long long ms)
{
	struct metrics_pass old;

	pthread_mutex_lock(&metrics_lock);
	old = metrics_shown;
	metrics_shown = metrics_next;
	metrics_shown.passes = old.passes + 1;
	metrics_shown.errors += old.errors;
	metrics_shown.at = now;
	metrics_shown.ms = ms;
	pthread_mutex_unlock(&metrics_lock);
	metrics_next = old;		/* its alarms freed at the next begin */
}

/* metrics_label - a label value, escaped as the text format wants */
static void
metrics_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* metrics_head - the HELP and TYPE lines of one family */
static void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* metrics_labelled - a family with one label, from a counter array */
static void
metrics_labelled(FILE *f, const char *name, const char *label,
    const char **values, atomic_ullong *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
		    metrics_get(&c[i]));
}

/* metrics_messages - what became of each message */
static void
metrics_messages(FILE *f)
{
	size_t i;

	metrics_head(f, "keyturn_messages_signed_total", "counter",
	    "Messages signed, by algorithm.");
	for (i = 0; i < 2; i++)
		fprintf(f, "keyturn_messages_signed_total{algorithm=\"%s\"} "
		    "%llu\n", dkim_alg_name((enum dkim_alg)i),
		    metrics_get(&metrics_nsigned[i]));
	metrics_head(f, "keyturn_messages_unsigned_total", "counter",
	    "Messages passed unsigned, by reason.");
	metrics_labelled(f, "keyturn_messages_unsigned_total", "reason",
	    metrics_unsigned_names, metrics_nunsigned, MU_N);
	metrics_head(f, "keyturn_tempfails_total", "counter",
	    "Messages answered 451 4.7.1, by cause.");
	metrics_labelled(f, "keyturn_tempfails_total", "cause",
	    metrics_tempfail_names, metrics_ntempfail, MT_N);
	metrics_head(f, "keyturn_messages_rejected_total", "counter",
	    "Messages rejected by SenderMismatch reject.");
	fprintf(f, "keyturn_messages_rejected_total %llu\n",
	    metrics_get(&metrics_nrejected));
}

/* metrics_histogram - the signing time, cumulative as Prometheus wants */
static void
metrics_histogram(FILE *f)
{
	const char *name = "keyturn_signing_duration_seconds";
	unsigned long long cum = 0;
	size_t i;

	metrics_head(f, name, "histogram", "Time from the end of a message "
	    "to its signatures inserted.");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += metrics_get(&metrics_buckets[i]);
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name,
		    metrics_bounds[i] / 1e9, cum);
	}
	cum += metrics_get(&metrics_buckets[METRICS_NBUCKETS]);
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	fprintf(f, "%s_sum %.9f\n", name, metrics_get(&metrics_sum_ns) / 1e9);
	fprintf(f, "%s_count %llu\n", name, cum);
}

/* metrics_fleet - the mirror and the lead, with FleetEndpoints only */
static void
metrics_fleet(FILE *f)
{
	struct fleet_figures fg;

	if (!fleet_thread_figures(&fg))
		return;
	metrics_head(f, "keyturn_fleet_leader", "gauge",
	    "1 while this keyturnd leads the fleet's rotation.");
	fprintf(f, "keyturn_fleet_leader %d\n", fg.leader);
	metrics_head(f, "keyturn_fleet_term", "gauge",
	    "The create revision of the leader key this keyturnd holds; 0.");
	fprintf(f, "keyturn_fleet_term %lld\n", (long long)fg.term);
	metrics_head(f, "keyturn_fleet_mirror_revision", "gauge",
	    "The etcd revision the local mirror is in step with.");
	fprintf(f, "keyturn_fleet_mirror_revision %lld\n",
	    (long long)fg.mirror_rev);
	metrics_head(f, "keyturn_fleet_stale", "gauge",
	    "1 when etcd has not answered for FleetStaleAfter.");
	fprintf(f, "keyturn_fleet_stale %d\n", fg.stale);
	metrics_head(f, "keyturn_fleet_contact_age_seconds", "gauge",
	    "Seconds since etcd last answered.");
	fprintf(f, "keyturn_fleet_contact_age_seconds %lld\n",
	    fg.since_contact);
	metrics_head(f, "keyturn_fleet_syncs_total", "counter",
	    "Whole-mirror syncs (start, a broken or compacted watch).");
	fprintf(f, "keyturn_fleet_syncs_total %llu\n", fg.syncs);
	metrics_head(f, "keyturn_fleet_domains_written_total", "counter",
	    "Domains the mirror wrote because etcd changed them.");
	fprintf(f, "keyturn_fleet_domains_written_total %llu\n", fg.domains);
	metrics_head(f, "keyturn_fleet_domains_refused_total", "counter",
	    "Domains left as they were: their files in etcd cannot be used.");
	fprintf(f, "keyturn_fleet_domains_refused_total %llu\n", fg.bad);
}

/* metrics_keycache - the domains read so far, and the journal followed */
static void
metrics_keycache(FILE *f)
{
	struct keycache_stats st;
	struct snapshot *s;

	memset(&st, 0, sizeof(st));
	if ((s = snapshot_current()) != NULL) {
		if (s->kc != NULL)
			keycache_stats(s->kc, &st);
		snapshot_unref(s);
	}
	metrics_head(f, "keyturn_signer_restarts_total", "counter",
	    "Signing processes started again after one died.");
	fprintf(f, "keyturn_signer_restarts_total %u\n", supervise_restarts());
	metrics_head(f, "keyturn_keystore_generation", "gauge",
	    "The keystore generation whose changes keyturnd has read.");
	fprintf(f, "keyturn_keystore_generation %llu\n",
	    metrics_get(&metrics_ks_generation));
	metrics_head(f, "keyturn_keystore_writes_total", "counter",
	    "Domain writes read from the keystore's journal.");
	fprintf(f, "keyturn_keystore_writes_total %llu\n",
	    metrics_get(&metrics_ks_writes));
	metrics_head(f, "keyturn_keycache_domains", "gauge",
	    "Domains in the key cache, those the keystore lacks included.");
	fprintf(f, "keyturn_keycache_domains %zu\n", st.entries);
	metrics_head(f, "keyturn_keycache_capacity", "gauge",
	    "KeyCache: the most domains the cache holds.");
	fprintf(f, "keyturn_keycache_capacity %zu\n", st.max);
	metrics_head(f, "keyturn_keycache_hits_total", "counter",
	    "Domain lookups answered from the cache.");
	fprintf(f, "keyturn_keycache_hits_total %llu\n",
	    (unsigned long long)st.hits);
	metrics_head(f, "keyturn_keycache_misses_total", "counter",
	    "Domain lookups that read the keystore.");
	fprintf(f, "keyturn_keycache_misses_total %llu\n",
	    (unsigned long long)st.misses);
	metrics_head(f, "keyturn_keycache_evictions_total", "counter",
	    "Domains that left the full cache, least recently used first.");
	fprintf(f, "keyturn_keycache_evictions_total %llu\n",
	    (unsigned long long)st.evictions);
	metrics_head(f, "keyturn_keycache_reloads_total", "counter",
	    "Cached domains read again after a keystore change.");
	fprintf(f, "keyturn_keycache_reloads_total %llu\n",
	    (unsigned long long)st.reloads);
}

/* metrics_snapshot - the keys keyturnd signs with now */
static void
metrics_snapshot(FILE *f, time_t now)
{
	long long at = atomic_load_explicit(&metrics_loaded_at,
	    memory_order_relaxed);

	metrics_head(f, "keyturn_snapshot_generation", "gauge",
	    "Snapshots installed since start-up, the current one's number.");
	fprintf(f, "keyturn_snapshot_generation %llu\n",
	    metrics_get(&metrics_generation));
	metrics_head(f, "keyturn_snapshot_loaded_timestamp_seconds", "gauge",
	    "When the current snapshot was installed.");
	fprintf(f, "keyturn_snapshot_loaded_timestamp_seconds %lld\n", at);
	metrics_head(f, "keyturn_snapshot_age_seconds", "gauge",
	    "Seconds since the current snapshot was installed.");
	fprintf(f, "keyturn_snapshot_age_seconds %lld\n",
	    at > 0 && now > at ? (long long)now - at : 0);
	metrics_keycache(f);
	metrics_fleet(f);
}

/* metrics_actions - rotation actions by name, done and failed */
static void
metrics_actions(FILE *f)
{
	size_t i;

	metrics_head(f, "keyturn_rotation_actions_total", "counter",
	    "Rotation actions carried out (alarms raised), by action.");
	for (i = 0; i < METRICS_NACT; i++)
		fprintf(f, "keyturn_rotation_actions_total{action=\"%s\"} "
		    "%llu\n", pol_act_name((enum pol_act)i),
		    metrics_get(&metrics_nactions[i]));
	metrics_head(f, "keyturn_rotation_action_failures_total", "counter",
	    "Rotation actions that failed, by action.");
	for (i = 0; i < METRICS_NACT; i++)
		fprintf(f, "keyturn_rotation_action_failures_total{action="
		    "\"%s\"} %llu\n", pol_act_name((enum pol_act)i),
		    metrics_get(&metrics_nfailed[i]));
}

/* metrics_passes - passes, the last one's time, and the keys it saw */
static void
metrics_passes(FILE *f, const struct metrics_pass *p)
{
	size_t s, a;

	metrics_head(f, "keyturn_rotation_passes_total", "counter",
	    "Rotation passes over the keystore.");
	fprintf(f, "keyturn_rotation_passes_total %llu\n", p->passes);
	metrics_head(f, "keyturn_rotation_dns_checks_total", "counter",
	    "Propagation checks made by rotation passes (one per key asked "
	    "about).");
	fprintf(f, "keyturn_rotation_dns_checks_total %llu\n",
	    metrics_get(&metrics_rot_checks));
	metrics_head(f, "keyturn_rotation_dns_queries_total", "counter",
	    "DNS queries those checks sent.");
	fprintf(f, "keyturn_rotation_dns_queries_total %llu\n",
	    metrics_get(&metrics_rot_queries));
	metrics_head(f, "keyturn_rotation_last_pass_domains", "gauge",
	    "Domains the last rotation pass went over.");
	fprintf(f, "keyturn_rotation_last_pass_domains %llu\n",
	    metrics_get(&metrics_rot_domains));
	metrics_head(f, "keyturn_rotation_last_pass_keys", "gauge",
	    "Keys of those domains.");
	fprintf(f, "keyturn_rotation_last_pass_keys %llu\n",
	    metrics_get(&metrics_rot_keys));
	metrics_head(f, "keyturn_rotation_domain_errors_total", "counter",
	    "Domains a rotation pass could not load.");
	fprintf(f, "keyturn_rotation_domain_errors_total %llu\n", p->errors);
	metrics_head(f, "keyturn_rotation_last_pass_duration_seconds", "gauge",
	    "How long the last rotation pass took.");
	fprintf(f, "keyturn_rotation_last_pass_duration_seconds %.3f\n",
	    p->ms / 1e3);
	metrics_head(f, "keyturn_rotation_last_pass_timestamp_seconds",
	    "gauge", "When the last rotation pass ended.");
	fprintf(f, "keyturn_rotation_last_pass_timestamp_seconds %lld\n",
	    (long long)p->at);
	if (p->passes == 0)
		return;		/* no pass yet (Rotation no): nothing to say */
	metrics_head(f, "keyturn_keys", "gauge", "Keys by state and "
	    "algorithm, as the last rotation pass found them.");
	for (s = 0; s < STORE_NSTATES; s++)
		for (a = 0; a < STORE_NALGS; a++)
			fprintf(f, "keyturn_keys{state=\"%s\",algorithm=\"%s\"} "
			    "%lu\n", store_state_name((int)s),
			    store_alg_name((enum store_alg)a), p->keys[s][a]);
}

/* metrics_alarms - one gauge per key with an alarm, and their number */
static void
metrics_alarms(FILE *f, const struct metrics_pass *p)
{
	size_t i;

	if (p->passes == 0)
		return;		/* no pass yet: no alarm known either way */
	metrics_head(f, "keyturn_alarms", "gauge",
	    "Keys with an open alarm at the last rotation pass.");
	fprintf(f, "keyturn_alarms %zu\n", p->nalarmed);
	metrics_head(f, "keyturn_alarm", "gauge", "1 for each key with an "
	    "open alarm at the last rotation pass.");
	for (i = 0; i < p->nalarms; i++) {
		fputs("keyturn_alarm{domain=\"", f);
		metrics_label(f, p->alarms[i]);
		fputs("\",selector=\"", f);
		metrics_label(f, p->alarms[i] + strlen(p->alarms[i]) + 1);
		fputs("\"} 1\n", f);
	}
}

/* metrics_render - the whole page; the rotation part under metrics_lock */
char *
metrics_render(time_t now, size_t *len)
{
	char *p = NULL;
	FILE *f;

	if ((f = open_memstream(&p, len)) == NULL)
		return NULL;
	metrics_messages(f);
	metrics_histogram(f);
	metrics_snapshot(f, now);
	metrics_actions(f);
	pthread_mutex_lock(&metrics_lock);
	metrics_passes(f, &metrics_shown);
	metrics_alarms(f, &metrics_shown);
	pthread_mutex_unlock(&metrics_lock);
	/* a page a write failed in is no page: never a truncated 200 */
	if ((ferror(f) | (fclose(f) != 0)) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* metrics_reply - a status and a body, as libmicrohttpd sends them */
static enum MHD_Result
metrics_reply(struct MHD_Connection *conn, unsigned int status, char *body,
    size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if ((r = MHD_create_response_from_buffer(len, body, mode)) == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	if (status == MHD_HTTP_OK)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* metrics_request - GET /metrics; everything else is 404 */
static enum MHD_Result
metrics_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data,
    size_t *datalen, void **state)
{
	static char notfound[] = "not found\n";
	char *page;
	size_t len;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 ||
	    strcmp(url, "/metrics") != 0)
		return metrics_reply(conn, MHD_HTTP_NOT_FOUND, notfound,
		    sizeof(notfound) - 1, MHD_RESPMEM_PERSISTENT);
	if ((page = metrics_render(time(NULL), &len)) == NULL)
		return MHD_NO;
	return metrics_reply(conn, MHD_HTTP_OK, page, len,
	    MHD_RESPMEM_MUST_FREE);
}

/* metrics_listen - as root, before the drop: the bind may need it */
int
metrics_listen(const char *addrport, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, on = 1;

	if (conf_addrport(addrport, 0, &ss, &sslen) == -1) {
		snprintf(err, errlen, "%s: not ADDRESS:PORT", addrport);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, 16) == -1) {
		snprintf(err, errlen, "%s: %s", addrport, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	metrics_fd = fd;
	return 0;
}

/* metrics_start - libmicrohttpd's thread, without the main's signals */
int
metrics_start(char *err, size_t errlen)
{
	sigset_t set, old;

	if (metrics_fd == -1)
		return 0;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	/* poll or epoll, not select: no limit of 1024 on descriptors */
	errno = 0;
	metrics_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_AUTO, 0,
	    NULL, NULL, metrics_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, metrics_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
	    MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (metrics_mhd == NULL) {
		snprintf(err, errlen, "libmicrohttpd did not start: %s",
		    errno != 0 ? strerror(errno) : "no reason given");
		return -1;
	}
	return 0;
}

/* metrics_stop - at shutdown, and after a start-up that failed */
void
metrics_stop(void)
{
	if (metrics_mhd != NULL) {
		MHD_stop_daemon(metrics_mhd);	/* closes the socket too */
		metrics_mhd = NULL;
	} else if (metrics_fd != -1)
		close(metrics_fd);
	metrics_fd = -1;
}
