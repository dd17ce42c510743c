/*
 * rotation - check, decide, act: one pass over one domain
 *
 * The keystore lock is not held while DNS is asked: every transition goes
 * through store_apply, which re-reads the domain under the lock and
 * refuses a change decided on stale state. The memo (DNS streaks, the
 * time of each key's last check, hook results) is written under the lock
 * at the end of the pass, when the pass changed it. Passes over different
 * domains may run at once, each with a struct store of its own
 * (rotpool.h): nothing here is shared between them but the log.
 *
 * Alarms go to the log on every pass, and to the history only when they
 * start ("alarm: ...") and when they end ("alarm cleared: ..."), as notes
 * that change no state (store_note). Whether a key's alarm is open is read
 * from the history itself, under the lock, so a crash, a restart or a
 * `keyturn rotate` run beside keyturnd writes each line once.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapt.h"
#include "dnsio.h"
#include "evidence.h"
#include "log.h"
#include "recheck.h"
#include "rotation.h"
#include "xmalloc.h"

extern char **environ;

/* rot_config_init - the daemon and the CLI read the same keywords */
void
rot_config_init(struct rot_config *cf, const struct kt_conf *c)
{
	memset(cf, 0, sizeof(*cf));
	cf->dns.resolver = c->resolver;
	cf->dns.dns_port = c->dns_port;
	cf->dns.timeout_ms = c->dns_timeout > 0 ? (int)c->dns_timeout * 1000 :
	    0;
	cf->dns.extra = (const char * const *)c->propagation_resolvers;
	cf->dns.nextra = c->npropagation_resolvers;
	cf->publish_command = c->publish_command;
	cf->recheck = c->recheck_interval;
	cf->concurrency = c->dns_concurrency;
}

/* report_event - one line for the caller's report */
static void
report_event(rot_report_fn *report, void *arg, const char *domain,
    const char *selector, const struct pol_action *a,
    const struct prop_result *dns, const char *outcome)
{
	struct rot_event ev;

	if (report == NULL)
		return;
	ev.domain = domain;
	ev.selector = selector;
	ev.action = a;
	ev.dns = dns;
	ev.outcome = outcome;
	report(&ev, arg);
}

/* value_strings - the value as quoted strings of at most 255 bytes */
static char *
value_strings(const char *v)
{
	size_t len = strlen(v), i, o = 0;
	char *out = xmalloc(len + 3 * (len / 255 + 1) + 1);

	for (i = 0; i < len || i == 0; i += 255) {
		if (i > 0)
			out[o++] = ' ';
		out[o++] = '"';
		memcpy(out + o, v + i, len - i < 255 ? len - i : 255);
		o += len - i < 255 ? len - i : 255;
		out[o++] = '"';
		if (len == 0)
			break;
	}
	out[o] = '\0';
	return out;
}

/* hook_env - environ without KEYTURN_*, then ours (built before fork) */
static char **
hook_env(char **ours, size_t nours)
{
	char **env;
	size_t n = 0, i, j = 0;

	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + nours + 1, sizeof(*env));
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "KEYTURN_", 8) != 0)
			env[j++] = environ[i];
	for (i = 0; i < nours; i++)
		env[j++] = ours[i];
	return env;
}

/*
 * The publish hook runs at most ROT_HOOK_TIMEOUT seconds (the environment
 * variable KEYTURN_HOOK_TIMEOUT, in seconds, overrides it for tests): then
 * its process group gets SIGTERM, ROT_HOOK_GRACE seconds later SIGKILL,
 * and the hook counts as failed, so the next pass tries again.
 */
#define ROT_HOOK_TIMEOUT	60
#define ROT_HOOK_GRACE		2

/* hook_timeout - the limit in seconds */
static double
hook_timeout(void)
{
	const char *v = getenv("KEYTURN_HOOK_TIMEOUT");
	char *end;
	double t;

	if (v == NULL || *v == '\0')
		return ROT_HOOK_TIMEOUT;
	t = strtod(v, &end);
	return (*end != '\0' || !(t > 0) || t > ROT_HOOK_TIMEOUT) ?
	    ROT_HOOK_TIMEOUT : t;
}

/* hook_now - monotonic seconds */
static double
hook_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * hook_wait - reap pid by the deadline: 0, or -1 when it is still running
 * at the deadline or when cancel (> 0) has become readable
 */
static int
hook_wait(pid_t pid, double deadline, int cancel, int *status)
{
	struct pollfd pfd;
	pid_t w;

	for (;;) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w == -1 && errno != EINTR) {
			*status = -1;
			return 0;
		}
		if (hook_now() >= deadline)
			return -1;
		/* a 20 ms nap, which the cancel descriptor cuts short (poll
		 * ignores the descriptor -1) */
		pfd.fd = cancel > 0 ? cancel : -1;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 20) > 0)
			return -1;
	}
}

/* hook_kill - the hook and everything it started, whose group it leads */
static void
hook_kill(pid_t pid, int sig)
{
	(void)kill(-pid, sig);
	(void)kill(pid, sig);	/* before its setsid() */
}

/* hook_child - a clean signal state, its own session, then the command */
static void
hook_child(int null, char **argv, char **env)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);	/* SIGPIPE ignored too */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)setsid();
	if (null != -1)
		dup2(null, STDIN_FILENO);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/* hook_reap - wait with the deadline, then stop it; 0 or -1 with err */
static int
hook_reap(pid_t pid, int cancel, char *err, size_t errlen)
{
	double limit = hook_timeout();
	int status;

	if (hook_wait(pid, hook_now() + limit, cancel, &status) == -1) {
		hook_kill(pid, SIGTERM);
		if (hook_wait(pid, hook_now() + ROT_HOOK_GRACE, 0,
		    &status) == -1) {
			hook_kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
		}
		hook_kill(pid, SIGKILL);	/* what it left behind */
		if (dnsio_cancelled(cancel))
			snprintf(err, errlen, "publish command stopped: "
			    "cancelled");
		else
			snprintf(err, errlen, "publish command timed out "
			    "after %g s", limit);
		return -1;
	}
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (status == -1)
		snprintf(err, errlen, "publish command: waitpid: %s",
		    strerror(errno));
	else if (WIFEXITED(status))
		snprintf(err, errlen, "publish command exited %d",
		    WEXITSTATUS(status));
	else
		snprintf(err, errlen, "publish command killed by signal %d",
		    WTERMSIG(status));
	return -1;
}

/* rot_hook - a plain key's record: the name is under the domain */
int
rot_hook(const char *command, const char *action, const char *domain,
    const char *selector, const char *value, int cancel_fd, char *err,
    size_t errlen)
{
	struct rot_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.action = action;
	rec.domain = domain;
	rec.selector = selector;
	rec.value = value;
	return rot_hook_record(command, &rec, cancel_fd, err, errlen);
}

/* record_env - the KEYTURN_* variables of a record; how many */
static size_t
record_env(const struct rot_record *rec, const char *strs, char *ours[10])
{
	size_t n = 0;

	ours[n++] = xasprintf("KEYTURN_ACTION=%s", rec->action);
	ours[n++] = xasprintf("KEYTURN_DOMAIN=%s", rec->domain);
	ours[n++] = xasprintf("KEYTURN_SELECTOR=%s", rec->selector);
	if (rec->name != NULL)
		ours[n++] = xasprintf("KEYTURN_NAME=%s", rec->name);
	else
		ours[n++] = xasprintf("KEYTURN_NAME=%s._domainkey.%s",
		    rec->selector, rec->domain);
	ours[n++] = xasprintf("KEYTURN_VALUE=%s", rec->value);
	ours[n++] = xasprintf("KEYTURN_VALUE_STRINGS=%s", strs);
	if (rec->kid != NULL && rec->kid[0] != '\0')
		ours[n++] = xasprintf("KEYTURN_KEY_ID=%s", rec->kid);
	if (rec->zone != NULL)
		ours[n++] = xasprintf("KEYTURN_ZONE=%s", rec->zone);
	if (rec->cname != NULL)
		ours[n++] = xasprintf("KEYTURN_CNAME=%s", rec->cname);
	if (rec->slot > 0)
		ours[n++] = xasprintf("KEYTURN_SLOT=%d", rec->slot);
	return n;
}

/* rot_hook_record - the environment is built before fork: the child
 * only execs */
int
rot_hook_record(const char *command, const struct rot_record *rec,
    int cancel_fd, char *err, size_t errlen)
{
	char *ours[10], **env, *strs;
	char *argv[] = { "sh", "-c", (char *)command, NULL };
	sigset_t all, old;
	size_t i, nours;
	pid_t pid;
	int null, r = -1;

	strs = value_strings(rec->value);
	nours = record_env(rec, strs, ours);
	env = hook_env(ours, nours);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* every signal blocked across the fork: one that reached the child
	 * before hook_child reset the handlers would run ours there */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0)
		hook_child(null, argv, env);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		snprintf(err, errlen, "fork: %s", strerror(errno));
	else
		r = hook_reap(pid, cancel_fd, err, errlen);
	if (null != -1)
		close(null);
	for (i = 0; i < nours; i++)
		free(ours[i]);
	free(env);
	free(strs);
	return r;
}

/* memo_read - the domain's memo: 0, or -1 (and a warning, the memo
 * empty) when the file is there but cannot be used */
static int
memo_read(struct store *st, const char *domain, struct adapt_memo *m)
{
	char *path = store_domain_path(st, domain, ADAPT_MEMO_FILE);
	char buf[65536], err[160];
	ssize_t n;
	int fd, r = -1;

	memset(m, 0, sizeof(*m));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("%s", path);
		else
			r = 0;
		free(path);
		return r;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n == (ssize_t)sizeof(buf) - 1)
		log_warnx("%s: unreadable or too large, starting afresh", path);
	else {
		buf[n] = '\0';
		if (adapt_memo_parse(buf, m, err, sizeof(err)) == -1)
			log_warnx("%s: %s, starting afresh", path, err);
		else
			r = 0;
	}
	free(path);
	return r;
}

/* rot_memo_load - the domain's memo; empty (and a warning) when unreadable */
void
rot_memo_load(struct store *st, const char *domain, struct adapt_memo *m)
{
	(void)memo_read(st, domain, m);
}

/* memo_save - write the memo's text as a write of the domain */
static void
memo_save(struct store *st, const char *domain, const char *text)
{
	char err[1024];

	if (store_domain_file_save(st, domain, ADAPT_MEMO_FILE, text,
	    strlen(text), err, sizeof(err)) == -1)
		log_warnx("%s: %s", domain, err);
}

/* What one pass over one domain works on. */
struct pass {
	const struct rot_config	*cf;
	struct store_domain	*d;
	struct adapt_memo	 memo;
	char			*memo_was;	/* its text as read; NULL:
						   write it whatever */
	char			*done;		/* per key: checked now */
	size_t			 nchecked;
	struct pol_key		*keys;
	struct adapt_slots	 names;
	struct pol_plan		 plan;
	time_t			 now;		/* the pass's start */
	time_t			 t0;		/* the clock then */
	rot_report_fn		*report;
	void			*arg;
};

/* pass_clock - now plus the time the pass has taken so far */
static time_t
pass_clock(const struct pass *p)
{
	return p->now + (time(NULL) - p->t0);
}

/* slot_checks - a slot key's two checks; a check that could not be
 * made keeps its result's error */
static void
slot_checks(const struct rot_config *cf, const struct store_domain *d,
    const struct store_key *k, struct prop_result *cname,
    struct prop_result *key, int *ok_cname, int *ok_key, char *err,
    size_t errlen)
{
	struct prop_query cq, kq;

	memset(cname, 0, sizeof(*cname));
	memset(key, 0, sizeof(*key));
	*ok_cname = *ok_key = 0;
	if (adapt_query_slot(d, k, &cq, &kq, err, errlen) == -1) {
		cname->error = xstrdup(err);
		key->error = xstrdup(err);
		return;
	}
	*ok_cname = prop_check(&cq, &cf->dns, cname) == 0;
	if (!dnsio_cancelled(cf->dns.cancel_fd))
		*ok_key = prop_check(&kq, &cf->dns, key) == 0;
	adapt_query_free(&cq);
	adapt_query_free(&kq);
}

/* check_stats - what one check cost */
static void
check_stats(struct pass *p, const struct prop_result *res)
{
	p->nchecked++;
	if (p->cf->stats != NULL) {
		p->cf->stats->checked++;
		p->cf->stats->queries += res->queries;
	}
}

/*
 * check_slot_key - a slot key's two checks (the customer's CNAME, the
 * target in the provider zone) folded into the memo; -1 when cancelled
 */
static int
check_slot_key(struct pass *p, size_t i)
{
	const struct rot_config *cf = p->cf;
	const struct store_key *k = &p->d->keys[i];
	struct adapt_mem *m = adapt_memo_key(&p->memo, k);
	struct prop_result cn, key;
	char err[256];
	int okc, okk;
	long long seen;

	slot_checks(cf, p->d, k, &cn, &key, &okc, &okk, err, sizeof(err));
	if (dnsio_cancelled(cf->dns.cancel_fd)) {
		prop_result_free(&cn);
		prop_result_free(&key);
		return -1;
	}
	m->checked = pass_clock(p);
	evidence_update_slot(&m->obs, &m->cname, m->cname_bad,
	    sizeof(m->cname_bad), okc ? &cn : NULL, okk ? &key : NULL,
	    k->prev_ttl, m->checked);
	if (!okc)
		m->cname = POL_CNAME_UNKNOWN;
	if (okk) {
		seen = key.max_ttl > key.neg_ttl ? key.max_ttl : key.neg_ttl;
		if (seen > m->ttlmax)
			m->ttlmax = seen;
	}
	check_stats(p, &cn);
	check_stats(p, &key);
	report_event(p->report, p->arg, p->d->name, k->selector, NULL, &cn,
	    okc ? prop_verdict_name(cn.verdict) : cn.error ? cn.error :
	    "check failed");
	report_event(p->report, p->arg, p->d->name, k->selector, NULL, &key,
	    okk ? prop_verdict_name(key.verdict) : key.error ? key.error :
	    "check failed");
	prop_result_free(&cn);
	prop_result_free(&key);
	return 0;
}

/*
 * check_key - one propagation check of key i, folded into the memo at
 * the time it ended; -1 when it was cancelled: the key keeps what the
 * memo knew of it
 */
static int
check_key(struct pass *p, size_t i)
{
	const struct rot_config *cf = p->cf;
	const struct store_key *k = &p->d->keys[i];
	struct adapt_mem *m = adapt_memo_key(&p->memo, k);
	struct prop_result res;
	struct prop_query q, cq;
	char err[256];
	int r;

	p->done[i] = 1;
	/* a revoked slot key: only its target's "p=" matters */
	if (k->slot > 0 && k->state != STORE_REVOKED)
		return check_slot_key(p, i);
	if (k->slot > 0 && adapt_query_slot(p->d, k, &cq, &q, err,
	    sizeof(err)) == 0)
		adapt_query_free(&cq);
	else if (k->slot > 0) {
		log_warnx("%s: %s", p->d->name, err);
		evidence_update(&m->obs, NULL, p->now);
		m->checked = pass_clock(p);
		return 0;
	} else if (adapt_query(p->d->name, k, &q, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", p->d->name, err);
		evidence_update(&m->obs, NULL, p->now);
		m->checked = pass_clock(p);
		return 0;
	}
	r = prop_check(&q, &cf->dns, &res);
	if (dnsio_cancelled(cf->dns.cancel_fd)) {
		prop_result_free(&res);
		adapt_query_free(&q);
		return -1;
	}
	m->checked = pass_clock(p);
	evidence_update(&m->obs, r == 0 ? &res : NULL, m->checked);
	p->nchecked++;
	if (cf->stats != NULL) {
		cf->stats->checked++;
		cf->stats->queries += res.queries;
	}
	report_event(p->report, p->arg, p->d->name, k->selector, NULL, &res,
	    r == 0 ? prop_verdict_name(res.verdict) :
	    res.error ? res.error : "check failed");
	prop_result_free(&res);
	adapt_query_free(&q);
	return 0;
}

/*
 * check_keys - the keys whose state wants an answer now (recheck.h), or,
 * with fresh, every ready and active key this pass has not checked yet;
 * how many were checked, or -1 when the checks were cancelled
 */
static int
check_keys(struct pass *p, int fresh)
{
	const struct store_key *k;
	size_t i, n0 = p->nchecked;
	int want;

	for (i = 0; i < p->d->nkeys; i++) {
		if (dnsio_cancelled(p->cf->dns.cancel_fd))
			return -1;
		k = &p->d->keys[i];
		if (p->done[i])
			continue;
		if (fresh)
			want = k->state == STORE_READY ||
			    k->state == STORE_ACTIVE;
		else
			want = recheck_wanted(p->d->name, k,
			    adapt_memo_key(&p->memo, k), p->now,
			    p->cf->recheck);
		if (want && check_key(p, i) == -1)
			return -1;
	}
	return (int)(p->nchecked - n0);
}

/*
 * plan_rests_on_dns - the plan makes a key active (activate, swap) or
 * takes one out of signing (retire): decisions that rest on ready and
 * active keys being served everywhere now (pol_promotable,
 * pol_confirmed_peer in policy.c), which a confirmed record last checked
 * up to RecheckInterval ago does not prove
 */
static int
plan_rests_on_dns(const struct pol_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->n; i++)
		switch (plan->v[i].type) {
		case POL_A_ACTIVATE:
		case POL_A_SWAP:
		case POL_A_RETIRE:
			return 1;
		default:
			break;
		}
	return 0;
}

/* pass_decide - the policy on the keystore state and the memo */
static void
pass_decide(struct pass *p)
{

	const struct store_domain *d = p->d;
	struct pol_policy pol;

	adapt_policy(&d->policy, &pol);
	adapt_keys(d, &p->memo, p->keys);
	adapt_slots_free(&p->names);
	adapt_slots(d, &p->names, &pol, p->keys);
	pol_decide(&pol, p->keys, d->nkeys, p->now, &p->plan);
}

/*
 * pass_check - ask, decide; -1 when cancelled (nothing decided on half
 * the evidence). Confirmed records are asked about once per interval,
 * and most rules are content with that:
 *
 *	- a pending key is checked every pass, so its streak and TTL
 *	  hold (rule_pending) are what they always were;
 *	- a key whose last check found its record gone, changed or not
 *	  served everywhere is checked every pass, so its alarm and its
 *	  take-out (rule_broken) stand on this pass's answer, and the
 *	  alarm clears at the first pass that sees the fault gone;
 *	- a confirmed record that vanishes is found at its next re-check,
 *	  not at the next pass: the alarm comes up to RecheckInterval
 *	  later, the price of not asking about every key every pass;
 *	- the standby count (rule_standby) trusts a ready key until its
 *	  re-check says otherwise; the standby is checked before it is
 *	  used, below, so the worst case is a late replacement standby;
 *	- retiring and revoked keys decide nothing on their record.
 *
 * What must not rest on an old answer is a key starting to sign: the
 * filling of the active set and the swaps take a ready key only when
 * every address serves it, and an alarm's take-out retires a key only
 * when another active key is served everywhere. When the plan holds such
 * an action, every ready and active key not yet checked in this pass is
 * checked now and the policy decides again on the fresh answers (a pass
 * with nothing to promote asks nothing more).
 */
static int
pass_check(struct pass *p)
{
	int n;

	if (check_keys(p, 0) == -1)
		return -1;
	pass_decide(p);
	if (!plan_rests_on_dns(&p->plan))
		return 0;
	if ((n = check_keys(p, 1)) == -1)
		return -1;
	if (n > 0)
		pass_decide(p);
	return 0;
}

/* act_publish - the hook for publish or revoke; memo updated on success */
static int
act_publish(const struct rot_config *cf, const struct store_domain *d,
    const struct pol_action *a, struct adapt_memo *memo, char *err,
    size_t errlen)
{
	struct store_key k = d->keys[a->key];
	const char *what = a->type == POL_A_PUBLISH ? "publish" : "revoke";
	char target[STORE_DOMAIN_MAX + 1], *value, *cname = NULL;
	struct rot_record rec;
	int r = 0;

	if (a->type == POL_A_UNPUBLISH)
		k.state = STORE_REVOKED;
	memset(&rec, 0, sizeof(rec));
	rec.action = what;
	rec.domain = d->name;
	rec.selector = k.selector;
	rec.kid = k.kid;
	if (k.slot > 0) {
		if (store_slot_names(&d->policy, d->name, k.slot, NULL, 0,
		    target, sizeof(target), err, errlen) == -1)
			return -1;
		cname = xasprintf("%s._domainkey.%s", k.selector, d->name);
		rec.name = target;
		rec.zone = d->policy.delegate_to;
		rec.cname = cname;
		rec.slot = k.slot;
	}
	value = store_key_txt(&k);
	rec.value = value;
	if (cf->publish_command != NULL)
		r = rot_hook_record(cf->publish_command, &rec,
		    cf->dns.cancel_fd, err, errlen);
	else if (k.slot > 0)
		log_notice("%s: no PublishCommand: %s by hand in zone %s: %s "
		    "TXT \"%s\" (key %s)", d->name, what, rec.zone, target,
		    value, k.kid);
	else
		log_notice("%s: no PublishCommand: %s by hand: %s._domainkey."
		    "%s TXT \"%s\"", d->name, what, k.selector, d->name,
		    value);
	free(cname);
	if (r == 0)
		adapt_memo_key(memo, &k)->published =
		    a->type == POL_A_PUBLISH ? POL_PUB_PUBLISHED :
		    POL_PUB_REVOKED;
	free(value);
	return r;
}

/*
 * slot_prev_ttl - how long resolvers may keep what slot's target serves
 * now: asked of every provider address before the new key is made, and
 * never less than what the memo saw while the outgoing key held it (the
 * policy's dns-hold when the memo lost that key); -1 with err when the
 * target could not be observed at every address
 */
static long long
slot_prev_ttl(const struct rot_config *cf, const struct store_domain *d,
    int slot, const struct adapt_memo *memo, char *err, size_t errlen)
{
	const struct store_key *old = store_domain_slot(d, slot);
	const struct adapt_mem *m;
	char target[STORE_DOMAIN_MAX + 1];
	struct prop_query q;
	struct prop_result res;
	long long prev;
	int r;

	if (store_slot_names(&d->policy, d->name, slot, NULL, 0, target,
	    sizeof(target), err, errlen) == -1)
		return -1;
	memset(&q, 0, sizeof(q));
	q.name = target;
	q.no_follow = 1;
	q.any_key = 1;
	r = prop_check(&q, &cf->dns, &res);
	if (r == -1 || res.verdict == PROP_V_UNKNOWN ||
	    res.verdict == PROP_V_PARTIAL) {
		snprintf(err, errlen, "target %.100s not observed at every "
		    "server: %.80s", target, res.error ? res.error :
		    prop_verdict_name(res.verdict));
		prop_result_free(&res);
		return -1;
	}
	prev = res.max_ttl > res.neg_ttl ? res.max_ttl : res.neg_ttl;
	prop_result_free(&res);
	if (old == NULL)
		return prev;
	m = adapt_memo_find(memo, old->selector);
	if (m != NULL && strcmp(m->kid, old->kid) == 0) {
		if (m->ttlmax > prev)
			prev = m->ttlmax;
	} else if (d->policy.dns_hold > prev)
		prev = d->policy.dns_hold;
	return prev;
}

/* act_slot_new - a new key in a free slot, with what its target served
 * before */
static int
act_slot_new(const struct rot_config *cf, const struct store_domain *d,
    const struct pol_action *a, struct adapt_memo *memo, time_t now,
    const char *why, char *sel, size_t sellen, char *err, size_t errlen)
{
	char kid[STORE_KID_LEN + 1];
	long long prev;

	if ((prev = slot_prev_ttl(cf, d, a->slot, memo, err, errlen)) < 0)
		return -1;
	if (store_slot_key_new(cf->store, d->name, a->slot, adapt_alg(a->alg),
	    a->alg == POL_ALG_RSA ? a->bits : 0, prev, now, why, kid,
	    sizeof(kid), err, errlen) == -1)
		return -1;
	if (store_slot_names(&d->policy, d->name, a->slot, sel, sellen, NULL,
	    0, err, errlen) == -1)
		snprintf(sel, sellen, "slot%d", a->slot);
	log_info("%s: generate %s key %s (previous TTL %llds)", d->name, sel,
	    kid, prev);
	return 0;
}

/* act_change - a transition, as one store_apply (a swap: one write) */
static int
act_change(const struct rot_config *cf, const struct store_domain *d,
    const struct pol_action *a, const struct pol_key *keys, time_t now,
    char *err, size_t errlen)
{
	struct store_change ch[2];
	char *why;
	size_t n, i;
	int r;

	n = adapt_changes(a, keys, ch);
	why = xasprintf("%s: %s", a->type == POL_A_READY ? "dns" : "policy",
	    a->reason);
	for (i = 0; i < n; i++)
		ch[i].reason = why;
	r = store_apply(cf->store, d->name, ch, n, now, 0, err, errlen);
	free(why);
	return r;
}

/* ---- alarms in the history ---- */

/* alarm_note - the line that opens (raise) or closes an alarm, unless the
 * history already says so; decided and written under the lock */
static void
alarm_note(struct store *st, const char *domain, const char *sel, int raise,
    const char *why, time_t now)
{
	struct store_event *ev;
	size_t n;
	char err[256], *reason;

	if (store_lock(st, err, sizeof(err)) == -1) {
		log_warnx("%s: alarm of %s not recorded: %s", domain, sel, err);
		return;
	}
	if (store_history_load(st, domain, &ev, &n, err, sizeof(err)) != 0) {
		log_warnx("%s: alarm of %s not recorded: %s", domain, sel, err);
		store_unlock(st);
		return;
	}
	if (adapt_alarm_open(ev, n, sel) != raise) {
		reason = xasprintf("%s%s", raise ? ADAPT_ALARM_RAISED :
		    ADAPT_ALARM_CLEARED, why);
		if (store_note(st, domain, sel, now, reason, err,
		    sizeof(err)) == -1)
			log_warnx("%s: alarm of %s not recorded: %s", domain,
			    sel, err);
		free(reason);
	}
	store_history_free(ev, n);
	store_unlock(st);
}

/* alarms_clear - close the open alarms of keys the plan no longer raises
 * and whose fault is gone; the history is read without the lock first,
 * so a pass with nothing open takes no lock */
static void
alarms_clear(const struct rot_config *cf, const struct store_domain *d,
    const struct pol_key *keys, const struct pol_plan *plan, time_t now)
{
	struct store_event *ev;
	size_t n, i;
	char err[256], why[192];

	if (cf->dry_run)
		return;
	if (store_history_load(cf->store, d->name, &ev, &n, err,
	    sizeof(err)) != 0) {
		log_warnx("%s: %s", d->name, err);
		return;
	}
	for (i = 0; i < d->nkeys; i++)
		if (pol_plan_alarm(plan, i) == NULL &&
		    adapt_alarm_open(ev, n, keys[i].selector) &&
		    adapt_alarm_over(&keys[i], why, sizeof(why))) {
			alarm_note(cf->store, d->name, keys[i].selector, 0,
			    why, now);
			log_notice("%s: alarm cleared: %s", d->name, why);
		}
	store_history_free(ev, n);
}

/* act - carry out one action; the outcome for the report */
static const char *
act(const struct rot_config *cf, const struct store_domain *d,
    const struct pol_action *a, const struct pol_key *keys,
    struct adapt_memo *memo, time_t now, char *sel, size_t sellen,
    char *err, size_t errlen)
{
	char why[sizeof(a->reason) + 16];
	int r = 0;

	if (a->type == POL_A_ALARM) {
		log_warnx("%s: alarm: %s", d->name, a->reason);
		if (!cf->dry_run)
			alarm_note(cf->store, d->name, sel, 1, a->reason, now);
		return "alarm";
	}
	if (cf->dry_run)
		return "dry run";
	switch (a->type) {
	case POL_A_GENERATE:
		snprintf(why, sizeof(why), "policy: %s", a->reason);
		if (a->slot > 0) {
			r = act_slot_new(cf, d, a, memo, now, why, sel, sellen,
			    err, errlen);
			break;
		}
		r = store_key_new(cf->store, d->name, adapt_alg(a->alg),
		    a->alg == POL_ALG_RSA ? a->bits : 0, NULL, now, why, sel,
		    sellen, err, errlen);
		break;
	case POL_A_PUBLISH:
	case POL_A_UNPUBLISH:
		r = act_publish(cf, d, a, memo, err, errlen);
		break;
	default:
		r = act_change(cf, d, a, keys, now, err, errlen);
	}
	if (r == -1) {
		log_warnx("%s: %s %s failed: %s", d->name,
		    pol_act_name(a->type), sel, err);
		return "failed";
	}
	log_info("%s: %s %s: %s", d->name, pol_act_name(a->type), sel,
	    a->reason);
	return "done";
}

/* pass_act - carry out the plan; the alarms of keys now healthy close */
static void
pass_act(struct pass *p)
{
	const struct rot_config *cf = p->cf;
	const struct pol_action *a;
	char sel[STORE_SELECTOR_MAX + 1], aerr[256], failed[272];
	const char *outcome;
	size_t i;

	for (i = 0; i < p->plan.n && !dnsio_cancelled(cf->dns.cancel_fd);
	    i++) {
		a = &p->plan.v[i];
		snprintf(sel, sizeof(sel), "%s", a->key == POL_NONE ? "" :
		    p->keys[a->key].selector);
		aerr[0] = '\0';
		/* the history gets the time of the write, not of the pass
		 * start: DNS checks and hooks took time since */
		outcome = act(cf, p->d, a, p->keys, &p->memo, pass_clock(p),
		    sel, sizeof(sel), aerr, sizeof(aerr));
		if (strcmp(outcome, "failed") == 0) {
			snprintf(failed, sizeof(failed), "failed: %s", aerr);
			outcome = failed;
		}
		report_event(p->report, p->arg, p->d->name, sel, a, NULL,
		    outcome);
	}
	/*
	 * An alarm ends only on new evidence about its key: an answer of
	 * this pass (a key with an open alarm has no confirmed record, so
	 * it is asked about on every pass, and a key revoked since, until
	 * its revocation is confirmed) or a planned change. A pass that
	 * asked nothing and planned nothing cannot close one, and does not
	 * read the history.
	 */
	if (p->nchecked > 0 || p->plan.n > 0)
		alarms_clear(cf, p->d, p->keys, &p->plan, pass_clock(p));
}

/* pass_end - the memo is written when it changed (even when actions
 * failed or the pass was cancelled), and not in a dry run */
static void
pass_end(struct pass *p)
{
	char *text;

	if (!p->cf->dry_run) {
		text = adapt_memo_format(&p->memo);
		if (p->memo_was == NULL || strcmp(text, p->memo_was) != 0)
			memo_save(p->cf->store, p->d->name, text);
		free(text);
	}
	free(p->memo_was);
	free(p->done);
	free(p->keys);
	adapt_slots_free(&p->names);
	pol_plan_free(&p->plan);
	adapt_memo_free(&p->memo);
	store_domain_free(p->d);
}

/* rot_pass - check, decide, act */
int
rot_pass(const struct rot_config *cf, const char *domain, time_t now,
    rot_report_fn *report, void *arg, char *err, size_t errlen)
{
	struct pass p;

	memset(&p, 0, sizeof(p));
	p.t0 = time(NULL);
	if ((p.d = store_domain_load(cf->store, domain, 0, err, errlen)) ==
	    NULL)
		return -1;
	p.cf = cf;
	p.now = now;
	p.report = report;
	p.arg = arg;
	/* a memo that is unreadable is written afresh; one that reads is
	 * written again only when the pass changed it, so a pass over
	 * many domains that asked about few writes few files */
	if (memo_read(cf->store, domain, &p.memo) == 0)
		p.memo_was = adapt_memo_format(&p.memo);
	adapt_memo_prune(&p.memo, p.d);
	p.done = xcalloc(p.d->nkeys + 1, 1);
	p.keys = xcalloc(p.d->nkeys + 1, sizeof(*p.keys));
	if (cf->stats != NULL) {
		cf->stats->domains++;
		cf->stats->keys += p.d->nkeys;
	}
	if (pass_check(&p) == -1)
		log_info("%s: rotation pass cancelled", domain);
	else
		pass_act(&p);
	pass_end(&p);
	return 0;
}

/* rot_check - one key, nothing decided, nothing written */
int
rot_check(const struct rot_config *cf, const char *domain,
    const char *selector, struct prop_result *res, char *err, size_t errlen)
{
	const struct store_key *k;
	struct store_domain *d;
	struct prop_query q;
	int r = -1;

	memset(res, 0, sizeof(*res));
	if ((d = store_domain_load(cf->store, domain, 0, err, errlen)) ==
	    NULL)
		return -1;
	if ((k = store_domain_key(d, selector)) == NULL)
		snprintf(err, errlen, "%s: no key %s", domain, selector);
	else if (adapt_query(domain, k, &q, err, errlen) == 0) {
		if (prop_check(&q, &cf->dns, res) == -1 && res->nobs == 0) {
			snprintf(err, errlen, "%s", res->error ? res->error :
			    "check failed");
			prop_result_free(res);
		} else
			r = 0;
		adapt_query_free(&q);
	}
	store_domain_free(d);
	return r;
}

/* rot_check_key - a slot key is two checks, a plain key one */
int
rot_check_key(const struct rot_config *cf, const char *domain,
    const char *selector, struct rot_checked *out, char *err, size_t errlen)
{
	const struct store_key *k;
	struct store_domain *d;
	int a, b, r = -1;

	memset(out, 0, sizeof(*out));
	if ((d = store_domain_load(cf->store, domain, 0, err, errlen)) ==
	    NULL)
		return -1;
	if ((k = store_domain_key(d, selector)) == NULL &&
	    (k = store_domain_kid(d, selector)) == NULL)
		snprintf(err, errlen, "%s: no key %s", domain, selector);
	else if (k->slot == 0) {
		store_domain_free(d);
		return rot_check(cf, domain, selector, &out->key, err, errlen);
	} else {
		out->delegated = 1;
		slot_checks(cf, d, k, &out->cname, &out->key, &a, &b, err,
		    errlen);
		r = 0;
	}
	store_domain_free(d);
	return r;
}

/* rot_checked_free - both results */
void
rot_checked_free(struct rot_checked *c)
{
	prop_result_free(&c->cname);
	prop_result_free(&c->key);
	memset(c, 0, sizeof(*c));
}
