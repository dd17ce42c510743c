/*
 * fleet_thread - keyturnd in a fleet: the mirror and the session
 *
 * See fleet_thread.h. The two threads share a few figures (atomics): the
 * revision mirrored, when etcd last answered either of them, and the
 * counters /metrics shows. Each talks to etcd with a client of its own.
 */
#include "config.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "etcd.h"
#include "fleet.h"
#include "fleet_thread.h"
#include "log.h"
#include "snapshot.h"
#include "store.h"
#include "xmalloc.h"

#define FLEET_RETRY_MS		1000	/* after etcd failed us */
#define FLEET_RETRY_MAX_MS	10000

static struct fleet *fl;
static char *fl_keystore;
static _Atomic int64_t fl_mirror_rev;
static _Atomic long long fl_contact;	/* time(NULL) etcd last answered */
static _Atomic int fl_stale;
static _Atomic unsigned long long fl_syncs, fl_domains, fl_bad;

int
fleet_thread_init(const struct kt_conf *conf, char *err, size_t errlen)
{
	if (conf->fleet_endpoints == NULL)
		return 0;
	if ((fl = fleet_new(conf, 1, err, errlen)) == NULL)
		return -1;
	fl_keystore = xstrdup(conf->keystore);
	atomic_store(&fl_contact, (long long)time(NULL));
	fleet_attach(fl);
	return 0;
}

void
fleet_thread_free(void)
{
	fleet_free(fl);
	fl = NULL;
	free(fl_keystore);
	fl_keystore = NULL;
}

/* fleet_rotation_on - Rotation yes in the running configuration */
static int
fleet_rotation_on(void)
{
	struct snapshot *s;
	int on = 0;

	if ((s = snapshot_current()) != NULL) {
		on = s->conf->rotation;
		snapshot_unref(s);
	}
	return on;
}

int
fleet_thread_rotates(void)
{
	return fl == NULL || fleet_leading(fl, NULL);
}

int
fleet_thread_figures(struct fleet_figures *fg)
{
	long long c;

	if (fl == NULL)
		return 0;
	memset(fg, 0, sizeof(*fg));
	fg->leader = fleet_leading(fl, &fg->term);
	fg->mirror_rev = atomic_load(&fl_mirror_rev);
	fg->stale = atomic_load(&fl_stale);
	c = atomic_load(&fl_contact);
	fg->since_contact = (long long)time(NULL) - c;
	fg->syncs = atomic_load(&fl_syncs);
	fg->domains = atomic_load(&fl_domains);
	fg->bad = atomic_load(&fl_bad);
	return 1;
}

/* fleet_contact - etcd answered: a raised staleness alarm comes down */
static void
fleet_contact(void)
{
	long long now = (long long)time(NULL);
	long long was = atomic_exchange(&fl_contact, now);

	if (atomic_exchange(&fl_stale, 0))
		log_info("fleet: etcd answers again after %llds; the mirror "
		    "follows it", now - was);
}

/* fleet_stale_check - the alarm, once, when etcd has been silent too long */
static void
fleet_stale_check(void)
{
	long long since = (long long)time(NULL) - atomic_load(&fl_contact);

	if (since >= fleet_stale_after(fl) && !atomic_exchange(&fl_stale, 1))
		log_warnx("fleet: alarm: no answer from etcd for %llds "
		    "(FleetStaleAfter %llds): signing from the mirror as of "
		    "revision %" PRId64 "; nothing rotates", since,
		    fleet_stale_after(fl), atomic_load(&fl_mirror_rev));
}

/* ---- the mirror ---- */

void
fleet_thread_first_sync(void)
{
	struct store *st;
	struct etcd *e = NULL;
	char err[1024];
	size_t changed, bad;
	int64_t rev;

	if (fl == NULL)
		return;
	if ((st = store_open(fl_keystore, 0, err, sizeof(err))) == NULL ||
	    (e = fleet_etcd(fl, err, sizeof(err))) == NULL ||
	    fleet_sync_since(fl, st, e, &rev, &changed, &bad, err,
	    sizeof(err)) == -1)
		log_warnx("fleet: at start: %s; serving from the mirror as it "
		    "is", err);
	else {
		fleet_contact();
		atomic_store(&fl_mirror_rev, rev);
		atomic_fetch_add(&fl_syncs, 1);
		atomic_fetch_add(&fl_domains, changed);
		atomic_fetch_add(&fl_bad, bad);
		log_info("fleet: at start, the mirror is etcd's at revision %"
		    PRId64 " (%zu domains written, %zu left as they were)",
		    rev, changed, bad);
	}
	etcd_free(e);
	store_close(st);
}

struct mirror {
	struct store	*st;
	struct etcd	*e;		/* the watch */
	struct etcd	*re;		/* the domains' ranges, during it */
	char		**names;	/* domains of one watch answer */
	size_t		 n, cap;
};

/* mirror_domain - read one domain again; count it, refresh the signers */
static void
mirror_domain(struct mirror *m, const char *domain)
{
	char err[1024];
	int changed;

	if (fleet_sync_domain(fl, m->st, m->re, domain, &changed, err,
	    sizeof(err)) == -1) {
		log_warnx("fleet: %s: the mirror keeps the domain as it was",
		    err);
		atomic_fetch_add(&fl_bad, 1);
		return;
	}
	if (changed) {
		atomic_fetch_add(&fl_domains, 1);
		daemon_refresh();
		log_debug("fleet: %s follows etcd", domain);
	}
}

/* mirror_events - one watch answer: each domain it names, once */
static int
mirror_events(const struct etcd_event *ev, size_t n, int64_t revision,
    void *arg)
{
	struct mirror *m = arg;
	char dom[STORE_DOMAIN_MAX + 1], err[512];
	size_t i, j;

	fleet_contact();
	m->n = 0;
	for (i = 0; i < n; i++) {
		if (!fleet_key_domain(fl, ev[i].kv.key, ev[i].kv.keylen, dom,
		    sizeof(dom)))
			continue;
		for (j = 0; j < m->n; j++)
			if (strcmp(m->names[j], dom) == 0)
				break;
		if (j < m->n)
			continue;
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 16;
			m->names = xreallocarray(m->names, m->cap,
			    sizeof(*m->names));
		}
		m->names[m->n++] = xstrdup(dom);
	}
	for (j = 0; j < m->n; j++) {
		mirror_domain(m, m->names[j]);
		free(m->names[j]);
	}
	m->n = 0;
	if (revision > atomic_load(&fl_mirror_rev)) {
		atomic_store(&fl_mirror_rev, revision);
		/* a restart, or keyturn, catches up from here */
		if (fleet_revision_save(m->st, revision, err,
		    sizeof(err)) == -1)
			log_warnx("fleet: %s", err);
	}
	return 0;
}

void *
fleet_mirror_thread(void *arg)
{
	struct mirror m;
	char err[1024], last[1024] = "";
	size_t changed, bad;
	int64_t rev, compact;
	long long wait = FLEET_RETRY_MS;
	int r, synced;

	(void)arg;
	if (fl == NULL)
		return NULL;
	memset(&m, 0, sizeof(m));
	if ((m.st = store_open(fl_keystore, 0, err, sizeof(err))) == NULL ||
	    (m.e = fleet_etcd(fl, err, sizeof(err))) == NULL ||
	    (m.re = fleet_etcd(fl, err, sizeof(err))) == NULL) {
		log_warnx("fleet: the mirror cannot run: %s", err);
		etcd_free(m.e);
		store_close(m.st);
		return NULL;
	}
	/* the start's sync is the first: watch from where it left off */
	synced = atomic_load(&fl_mirror_rev) > 0;
	do {
		if (synced) {
			rev = atomic_load(&fl_mirror_rev);
			synced = 0;
		} else if (fleet_sync_since(fl, m.st, m.e, &rev, &changed, &bad,
		    err, sizeof(err)) == -1) {
			if (strcmp(err, last) != 0)
				log_warnx("fleet: sync: %s; signing from the "
				    "mirror as it is", err);
			strlcpy(last, err, sizeof(last));
			fleet_stale_check();
			continue;
		} else {
			last[0] = '\0';
			fleet_contact();
			atomic_fetch_add(&fl_syncs, 1);
			atomic_fetch_add(&fl_domains, changed);
			atomic_fetch_add(&fl_bad, bad);
			atomic_store(&fl_mirror_rev, rev);
			if (changed)
				daemon_refresh();
			log_info("fleet: the mirror is etcd's at revision %"
			    PRId64 " (%zu domains written, %zu left as they "
			    "were)", rev, changed, bad);
		}
		wait = FLEET_RETRY_MS;
		r = etcd_watch(m.e, fleet_prefix(fl), rev + 1,
		    daemon_cancel_fd(), 0, mirror_events, &m, &compact, err,
		    sizeof(err));
		if (r == 0)
			break;
		if (r == ETCD_COMPACTED)
			log_info("fleet: revision %" PRId64 " is compacted "
			    "(up to %" PRId64 "): syncing again",
			    atomic_load(&fl_mirror_rev) + 1, compact);
		else
			log_warnx("fleet: watch: %s", err);
		wait = FLEET_RETRY_MS / 4;
	} while (daemon_sleep(wait) == 0 &&
	    (wait = wait * 2 > FLEET_RETRY_MAX_MS ? FLEET_RETRY_MAX_MS :
	    wait * 2) > 0);
	free(m.names);
	etcd_free(m.re);
	etcd_free(m.e);
	store_close(m.st);
	return NULL;
}

/* ---- the session: lease, membership, leadership ---- */

struct session {
	struct etcd	*e;
	struct store	*st;		/* read only: the generation */
	int64_t		 lease;
	long long	 renewed;	/* when the lease was last renewed */
	char		*member;	/* P members/<host>:<pid> */
	char		*leader;	/* P leader */
};

/* session_lost - the lease is gone: so is the lead */
static void
session_lost(struct session *s, const char *why)
{
	int64_t term;

	if (fleet_leading(fl, &term))
		log_warnx("fleet: %s: no longer leading the rotation (term "
		    "%" PRId64 ")", why, term);
	else
		log_warnx("fleet: %s", why);
	fleet_fence(fl, 0, 0);
	s->lease = 0;
}

/* session_lease - a lease, granted or renewed; -1 when etcd failed us */
static int
session_lease(struct session *s)
{
	char err[1024];
	int64_t ttl;
	long long now = (long long)time(NULL);

	if (s->lease == 0) {
		if (etcd_lease_grant(s->e, fleet_lease_ttl(fl), &s->lease, err,
		    sizeof(err)) == -1) {
			log_debug("fleet: lease: %s", err);
			s->lease = 0;
			return -1;
		}
		s->renewed = now;
		return 0;
	}
	if (etcd_lease_keepalive(s->e, s->lease, &ttl, err,
	    sizeof(err)) == -1) {
		log_debug("fleet: keepalive: %s", err);
		if (now - s->renewed >= fleet_lease_ttl(fl))
			session_lost(s, "the lease could not be renewed "
			    "within FleetLeaseTTL");
		return -1;
	}
	if (ttl <= 0) {
		session_lost(s, "the lease expired");
		return -1;
	}
	s->renewed = now;
	return 0;
}

/* session_register - P members/<host>:<pid>, under the lease */
static int
session_register(struct session *s)
{
	struct etcd_op op;
	char err[1024], when[32], *val;
	int64_t term = 0;
	int lead = fleet_leading(fl, &term), r;

	val = xasprintf("host=%s pid=%ld revision=%" PRId64 " generation=%"
	    PRIu64 " updated=%s leader=%s term=%" PRId64 "\n", fleet_host(fl),
	    (long)daemon_pid(), atomic_load(&fl_mirror_rev),
	    s->st != NULL ? store_generation(s->st) : 0,
	    store_time_format(time(NULL), when, sizeof(when)),
	    lead ? "yes" : "no", term);
	memset(&op, 0, sizeof(op));
	op.type = ETCD_PUT;
	op.key = s->member;
	op.value = val;
	op.vlen = strlen(val);
	op.lease = s->lease;
	r = etcd_txn(s->e, NULL, 0, &op, 1, NULL, err, sizeof(err));
	if (r != 1)
		log_debug("fleet: registering: %s", err);
	free(val);
	return r == 1 ? 0 : -1;
}

/* session_campaign - P leader when there is none; the term when won */
static void
session_campaign(struct session *s)
{
	struct etcd_cmp cmp;
	struct etcd_op op;
	char err[1024], *val;
	int64_t rev;
	int r;

	val = xasprintf("host=%s pid=%ld\n", fleet_host(fl), (long)daemon_pid());
	memset(&cmp, 0, sizeof(cmp));
	cmp.key = s->leader;
	cmp.target = ETCD_CREATE;
	cmp.op = ETCD_EQ;
	cmp.num = 0;
	memset(&op, 0, sizeof(op));
	op.type = ETCD_PUT;
	op.key = s->leader;
	op.value = val;
	op.vlen = strlen(val);
	op.lease = s->lease;
	r = etcd_txn(s->e, &cmp, 1, &op, 1, &rev, err, sizeof(err));
	free(val);
	if (r == 1) {
		/* the key was created by this transaction: its revision */
		fleet_fence(fl, rev, s->lease);
		log_notice("fleet: this keyturnd leads the rotation (term %"
		    PRId64 ", lease %" PRIx64 ")", rev, (uint64_t)s->lease);
	} else if (r == -1)
		log_debug("fleet: campaign: %s", err);
}

/* session_check_lead - P leader is still ours, else step down */
static void
session_check_lead(struct session *s)
{
	struct etcd_range rg;
	char err[1024];
	int64_t term;

	if (!fleet_leading(fl, &term))
		return;
	memset(&rg, 0, sizeof(rg));
	if (etcd_range(s->e, s->leader, strlen(s->leader), NULL, 0, 0, 0, 0,
	    &rg, err, sizeof(err)) == 0 && (rg.n == 0 ||
	    rg.kvs[0].create_rev != term || rg.kvs[0].lease != s->lease)) {
		log_warnx("fleet: %s belongs to another term: no longer "
		    "leading the rotation (term %" PRId64 ")", s->leader,
		    term);
		fleet_fence(fl, 0, 0);
	}
	etcd_range_free(&rg);
}

void *
fleet_session_thread(void *arg)
{
	struct session s;
	char err[1024];
	long long period;

	(void)arg;
	if (fl == NULL)
		return NULL;
	memset(&s, 0, sizeof(s));
	if ((s.e = fleet_etcd(fl, err, sizeof(err))) == NULL) {
		log_warnx("fleet: the session cannot run: %s", err);
		return NULL;
	}
	s.st = store_open(fl_keystore, STORE_RDONLY, err, sizeof(err));
	s.member = xasprintf("%s%s%s:%ld", fleet_prefix(fl), FLEET_MEMBERS,
	    fleet_host(fl), (long)daemon_pid());
	s.leader = fleet_key(fl, FLEET_LEADER, NULL);
	period = fleet_lease_ttl(fl) * 1000 / 3;
	if (period < 500)
		period = 500;
	do {
		if (session_lease(&s) == -1) {
			fleet_stale_check();
			continue;
		}
		if (fleet_may_lead(fl) && fleet_rotation_on() &&
		    !fleet_leading(fl, NULL))
			session_campaign(&s);
		else
			session_check_lead(&s);
		if (fleet_leading(fl, NULL) && !fleet_rotation_on()) {
			log_notice("fleet: Rotation is off: leaving the lead");
			fleet_fence(fl, 0, 0);
			(void)etcd_lease_revoke(s.e, s.lease, err,
			    sizeof(err));
			s.lease = 0;
			continue;
		}
		/* registered with what it is now, the lead included */
		if (session_register(&s) == -1) {
			fleet_stale_check();
			continue;
		}
		fleet_contact();
	} while (daemon_sleep(period) == 0);
	if (s.lease != 0) {
		fleet_fence(fl, 0, 0);
		if (etcd_lease_revoke(s.e, s.lease, err, sizeof(err)) == -1)
			log_warnx("fleet: revoking the lease: %s", err);
	}
	free(s.member);
	free(s.leader);
	store_close(s.st);
	etcd_free(s.e);
	return NULL;
}
