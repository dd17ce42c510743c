/*
 * cli_rotate - keyturn rotate, check and status: the rotation by hand
 *
 * rotate runs one rotation pass (rot_pass, rotate/rotation.h) over one
 * domain or all of them and prints every DNS check and every action with
 * its reason; --dry-run decides and reports but changes nothing (no key,
 * no publish hook, no keystore or memo write). A domain named asks DNS
 * about every key it has; a pass over every domain asks only about the
 * keys whose state wants it (RecheckInterval, rotate/recheck.h), passes
 * DNSConcurrency domains at once (rotate/rotpool.h), prints each domain's
 * lines together in the order of the names, says nothing of the domains
 * where nothing happened, and ends with what the pass cost. check prints
 * what every nameserver address answered for a domain's keys. status
 * reads only the keystore and the rotation memo (what the last pass saw),
 * asks no DNS, and runs the policy engine on that to show what is due.
 *
 * The DNS settings (Resolver, PropagationResolvers, DNSPort, DNSTimeout,
 * DNSConcurrency, RecheckInterval) and PublishCommand come from
 * keyturn.conf: the -c file, else the default file when it exists, else
 * the defaults.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "log.h"
#include "rotation.h"
#include "rotpool.h"
#include "xmalloc.h"

#define ROT_COMMON_OPTS \
	{ "json", no_argument, NULL, 'J' }, \
	{ "help", no_argument, NULL, 'h' }

struct rot_cli {
	const struct kt_conf	*conf;		/* the command's (cli_conf) */
	struct rot_config	 cf;
};

/* One domain's part of keyturn rotate, made by a worker, printed in turn. */
struct rot_dom {
	char			*out;		/* its lines */
	size_t			 len;
	int			 nevents;
	int			 failed;	/* an action failed */
	char			*error;		/* it could not be loaded */
};

/* keyturn rotate over some domains. */
struct rot_run {
	struct cli		*c;
	char			**names;
	struct rot_dom		*dom;
	int			 all;		/* every domain */
	int			 r;		/* the exit status so far */
};

/* rot_setup - keyturn.conf's rotation settings and the keystore */
static int
rot_setup(struct cli *c, struct rot_cli *rc, int rdonly)
{
	memset(rc, 0, sizeof(*rc));
	if ((rc->conf = cli_conf(c)) == NULL)
		return CLI_FAIL;
	rot_config_init(&rc->cf, rc->conf);
	if ((rc->cf.store = cli_open(c, rdonly)) == NULL)
		return CLI_FAIL;
	return CLI_OK;
}

/* rot_teardown - close what rot_setup opened */
static void
rot_teardown(struct rot_cli *rc)
{
	store_close(rc->cf.store);	/* rc->conf is the command's */
}

/* rot_domains - the domain named (lowercased) or every domain */
static int
rot_domains(struct rot_cli *rc, const char *domain, char ***names, size_t *n)
{
	char err[1024];

	if (domain != NULL) {
		*names = xcalloc(1, sizeof(**names));
		(*names)[0] = cli_lower(domain);
		*n = 1;
		return CLI_OK;
	}
	if (store_domain_names(rc->cf.store, names, n, err, sizeof(err)) ==
	    -1)
		return cli_fail("%s", err);
	return CLI_OK;
}

/* dom_say - one more line of the domain's part */
static void
dom_say(struct rot_dom *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dom_say(struct rot_dom *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	d->out = xreallocarray(d->out, d->len + n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(d->out + d->len, n + 1, fmt, ap);
	va_end(ap);
	d->len += n;
}

/* rotate_say - one line per check and action of the pass */
static void
rotate_say(const struct rot_event *ev, void *arg)
{
	struct rot_dom *d = arg;
	const struct pol_action *a = ev->action;
	const char *sel = *ev->selector ? ev->selector : "-";

	d->nevents++;
	if (a == NULL) {
		dom_say(d, "%s: dns %s: %s\n", ev->domain, sel, ev->outcome);
		return;
	}
	if (strcmp(ev->outcome, "done") == 0)
		dom_say(d, "%s: %s %s: %s\n", ev->domain,
		    pol_act_name(a->type), sel, a->reason);
	else if (strcmp(ev->outcome, "dry run") == 0)
		dom_say(d, "%s: would %s %s: %s\n", ev->domain,
		    pol_act_name(a->type), sel, a->reason);
	else if (strcmp(ev->outcome, "alarm") == 0)
		dom_say(d, "%s: ALARM %s: %s\n", ev->domain, sel, a->reason);
	else {
		dom_say(d, "%s: %s %s FAILED (%s): %s\n", ev->domain,
		    pol_act_name(a->type), sel, ev->outcome, a->reason);
		d->failed = 1;
	}
}

/* rotate_one - one domain's pass, in a worker */
static void
rotate_one(const struct rot_config *cf, size_t i, void *arg)
{
	struct rot_run *run = arg;
	struct rot_dom *d = &run->dom[i];
	char err[1024];

	if (rot_pass(cf, run->names[i], run->c->now, rotate_say, d, err,
	    sizeof(err)) == -1)
		d->error = xstrdup(err);
	else if (d->nevents == 0 && !run->all)
		dom_say(d, "%s: no keys to check, nothing to do\n",
		    run->names[i]);
}

/* rotate_print - one domain's part, in the order of the names */
static void
rotate_print(size_t i, void *arg)
{
	struct rot_run *run = arg;
	struct rot_dom *d = &run->dom[i];

	if (d->out != NULL)
		fwrite(d->out, 1, d->len, stdout);
	fflush(stdout);
	if (d->error != NULL)
		run->r = cli_fail("%s", d->error);
	else if (d->failed && run->r == CLI_OK)
		run->r = CLI_FAIL;
	free(d->out);
	free(d->error);
	memset(d, 0, sizeof(*d));
}

/*
 * rotate_domains - the pass over names; a pass over every domain follows
 * RecheckInterval and ends with its cost, one over a domain named asks
 * about every key
 */
static int
rotate_domains(struct cli *c, struct rot_cli *rc, char **names, size_t n,
    int all)
{
	struct rot_run run;
	struct rot_stats stats = { 0 };
	struct timespec t0, t1;
	char err[1024], sum[256];
	long passed;

	memset(&run, 0, sizeof(run));
	run.c = c;
	run.names = names;
	run.all = all;
	run.dom = xcalloc(n + 1, sizeof(*run.dom));
	if (!all)
		rc->cf.recheck = 0;
	rc->cf.stats = &stats;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	passed = rotpool_run(&rc->cf, rc->cf.dry_run ? STORE_RDONLY : 0, n,
	    rotate_one, rotate_print, &run, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (passed == -1)
		run.r = cli_fail("%s", err);
	else if (all && n > 0) {
		rotpool_summary(&stats, (t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9, sum, sizeof(sum));
		printf("rotation pass: %s\n", sum);
	}
	free(run.dom);
	return run.r;
}

/* cmd_rotate - keyturn rotate [DOMAIN] [--dry-run] */
int
cmd_rotate(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { ROT_COMMON_OPTS,
		{ "dry-run", no_argument, NULL, 'n' }, { 0 } };
	struct rot_cli rc;
	char **names;
	size_t n;
	int ch, dry = 0, r;

	while ((ch = cli_getopt(c, argc, argv, "n", opts, NULL)) != -1)
		if (ch == 'n')
			dry = 1;
		else
			return CLI_USAGE;
	if (optind < argc - 1)
		return cli_usage(c, "at most one DOMAIN");
	if ((r = rot_setup(c, &rc, dry)) != CLI_OK)
		return r;
	rc.cf.dry_run = dry;
	/* without PublishCommand the pass logs the record at notice */
	if (log_getlevel() < LOG_NOTICE)
		log_setlevel(LOG_NOTICE);
	if ((r = rot_domains(&rc, optind < argc ? argv[optind] : NULL,
	    &names, &n)) != CLI_OK) {
		rot_teardown(&rc);
		return r;
	}
	if (n == 0)
		printf("no domains: add one with keyturn domain add\n");
	r = rotate_domains(c, &rc, names, n, optind >= argc);
	store_names_free(names, n);
	rot_teardown(&rc);
	return r;
}

/* check_one - the answers of every address for one key */
static int
check_one(struct rot_cli *rc, const char *domain, const struct store_key *k,
    int *mismatch)
{
	struct prop_result res;
	char err[1024];

	printf("%s %s (%s):\n", k->selector, store_alg_name(k->alg),
	    store_state_name(k->state));
	if (rot_check(&rc->cf, domain, k->selector, &res, err,
	    sizeof(err)) == -1) {
		printf("  cannot check: %s\n", err);
		return -1;
	}
	prop_result_print(&res, stdout);
	if (res.verdict == PROP_V_MISMATCH)
		*mismatch = 1;
	prop_result_free(&res);
	return 0;
}

/*
 * cmd_check - keyturn check DOMAIN [SELECTOR]: every key of the domain by
 * default; exit 1 when a check could not be made or a server serves
 * another key
 */
int
cmd_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { ROT_COMMON_OPTS, { 0 } };
	struct store_domain *d;
	struct rot_cli rc;
	char *domain, err[1024];
	size_t i;
	int r, checked = 0, failed = 0, mismatch = 0;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind >= argc || optind < argc - 2)
		return cli_usage(c, "a DOMAIN and at most one SELECTOR");
	if ((r = rot_setup(c, &rc, 1)) != CLI_OK)
		return r;
	domain = cli_lower(argv[optind]);
	if ((d = store_domain_load(rc.cf.store, domain, 0, err,
	    sizeof(err))) == NULL) {
		r = cli_fail("%s", err);
		goto out;
	}
	for (i = 0; i < d->nkeys; i++) {
		if (optind + 1 < argc &&
		    strcasecmp(d->keys[i].selector, argv[optind + 1]) != 0)
			continue;
		if (checked++ > 0)
			printf("\n");
		if (check_one(&rc, domain, &d->keys[i], &mismatch) == -1)
			failed = 1;
	}
	if (optind + 1 < argc && checked == 0)
		r = cli_fail("%s: no key %s (see keyturn list %s)", domain,
		    argv[optind + 1], domain);
	else if (checked == 0)
		printf("%s: no keys (see keyturn key new)\n", domain);
	if (failed || mismatch)
		r = CLI_FAIL;
	store_domain_free(d);
out:
	free(domain);
	rot_teardown(&rc);
	return r;
}

/* An alarm the history holds open on a key the plan no longer watches. */
struct status_held {
	const char	*selector;
	char		*reason;
};

struct status_dom {
	const struct store_domain *d;
	struct pol_key		*keys;
	struct pol_plan		 plan;
	struct adapt_memo	 memo;
	struct adapt_slots	 names;	/* what keys and plan point into */
	char			 next[448];
	time_t			 next_at;	/* 0: now or not timed */
	struct status_held	*held;	/* alarms only the history still holds */
	size_t			 nheld;
};

/* status_next - the first action due now, else the earliest timed one */
static void
status_next(struct cli *c, struct status_dom *s)
{
	const struct pol_action *a;
	const struct pol_key *k;
	enum store_state to;
	time_t when, best = 0;
	size_t i;
	char t[32];

	s->next[0] = '\0';
	for (i = 0; i < s->plan.n; i++) {
		a = &s->plan.v[i];
		if (a->type == POL_A_ALARM)
			continue;
		snprintf(s->next, sizeof(s->next), "%s %s now: %s",
		    pol_act_name(a->type), a->key == POL_NONE ? "-" :
		    s->keys[a->key].selector, a->reason);
		s->next_at = c->now;
		return;
	}
	for (i = 0; i < s->d->nkeys; i++) {
		k = &s->keys[i];
		when = 0;
		if (k->state == POL_PENDING && k->obs.dns == POL_DNS_PUBLISHED)
			when = k->obs.since + k->obs.hold;
		else if (k->state == POL_ACTIVE || k->state == POL_RETIRING)
			when = store_key_planned(s->d, &s->d->keys[i], &to);
		if (when == 0 || (best != 0 && when >= best))
			continue;
		best = when;
		snprintf(s->next, sizeof(s->next), "%s %s at %s",
		    k->state == POL_PENDING ? "ready" : k->state ==
		    POL_ACTIVE ? "rotate out" : "revoke", k->selector,
		    store_time_format(when, t, sizeof(t)));
	}
	s->next_at = best;
	for (i = 0; best == 0 && i < s->d->nkeys; i++)
		if (s->keys[i].state == POL_PENDING) {
			snprintf(s->next, sizeof(s->next), "ready %s when "
			    "every nameserver serves it (dns: %s)",
			    s->keys[i].selector,
			    pol_dns_name(s->keys[i].obs.dns));
			break;
		}
}

/* status_raised - the reason of the last alarm note of selector */
static const char *
status_raised(const struct store_event *ev, size_t n, const char *sel)
{
	const char *r = "";
	size_t i;

	for (i = 0; i < n; i++)
		if (ev[i].from == ev[i].to && strcasecmp(ev[i].selector,
		    sel) == 0 && strncmp(ev[i].reason, ADAPT_ALARM_RAISED,
		    strlen(ADAPT_ALARM_RAISED)) == 0)
			r = ev[i].reason + strlen(ADAPT_ALARM_RAISED);
	return r;
}

/*
 * status_held - alarms still open in the history on keys the plan does
 * not watch any more (a broken key taken out of the round-robin and now
 * retiring): the operator must see them until a pass clears them
 */
static void
status_held(struct store *st, struct status_dom *s)
{
	struct store_event *ev;
	const struct store_key *k;
	char err[256];
	size_t n, i;

	if (store_history_load(st, s->d->name, &ev, &n, err,
	    sizeof(err)) != 0)
		return;
	s->held = xcalloc(s->d->nkeys + 1, sizeof(*s->held));
	for (i = 0; i < s->d->nkeys; i++) {
		k = &s->d->keys[i];
		if (pol_plan_alarm(&s->plan, i) != NULL ||
		    !adapt_alarm_open(ev, n, k->selector))
			continue;
		s->held[s->nheld].selector = k->selector;
		s->held[s->nheld++].reason = xasprintf("%s (%s; open in the "
		    "history)", status_raised(ev, n, k->selector),
		    store_state_name(k->state));
	}
	store_history_free(ev, n);
}

/* status_load - keys as the last pass saw them, and the plan for now */
static void
status_load(struct cli *c, struct store *st, const struct store_domain *d,
    struct status_dom *s)
{
	struct pol_policy pol;

	memset(s, 0, sizeof(*s));
	s->d = d;
	rot_memo_load(st, d->name, &s->memo);
	s->keys = xcalloc(d->nkeys + 1, sizeof(*s->keys));
	adapt_keys(d, &s->memo, s->keys);
	adapt_policy(&d->policy, &pol);
	adapt_slots(d, &s->names, &pol, s->keys);
	pol_decide(&pol, s->keys, d->nkeys, c->now, &s->plan);
	status_next(c, s);
	status_held(st, s);
}

/* status_free - what status_load made */
static void
status_free(struct status_dom *s)
{
	size_t i;

	for (i = 0; i < s->nheld; i++)
		free(s->held[i].reason);
	free(s->held);
	pol_plan_free(&s->plan);
	adapt_memo_free(&s->memo);
	adapt_slots_free(&s->names);
	free(s->keys);
}

/* status_list - the selectors of keys in one state, as text or JSON */
static void
status_list(struct cli *c, const struct status_dom *s, enum pol_state st)
{
	size_t i;
	int first = 1;

	for (i = 0; i < s->d->nkeys; i++) {
		if (s->keys[i].state != st)
			continue;
		if (c->json) {
			printf("%s", first ? "" : ", ");
			cli_json_str(stdout, s->keys[i].selector);
		} else
			printf("%s%s", first ? "" : " ", s->keys[i].selector);
		first = 0;
	}
	if (first && !c->json)
		printf("-");
}

/*
 * status_slots - each slot of a delegated domain: its selector, and the
 * state and key id of the key it holds ("empty -" when none), as text
 * or JSON
 */
static void
status_slots(struct cli *c, const struct status_dom *s)
{
	const struct store_key *k;
	const struct pol_key *pk;
	const char *sel;
	int n;

	for (n = 1; n <= s->d->policy.slots && n < 4; n++) {
		k = store_domain_slot(s->d, n);
		pk = k == NULL ? NULL : &s->keys[k - s->d->keys];
		sel = s->names.sel[n][0] != '\0' ? s->names.sel[n] :
		    k != NULL ? k->selector : "?";
		if (!c->json) {
			printf("%s%s %s %s", n > 1 ? " | " : "", sel,
			    k == NULL ? "empty" : store_state_name(k->state),
			    k == NULL ? "-" : k->kid);
			continue;
		}
		printf("%s{\"slot\": %d, \"selector\": ", n > 1 ? ", " : "",
		    n);
		cli_json_str(stdout, sel);
		printf(", \"state\": ");
		if (k == NULL)
			printf("null, \"key_id\": null, \"cname\": null, "
			    "\"cname_bad\": null}");
		else {
			cli_json_str(stdout, store_state_name(k->state));
			printf(", \"key_id\": ");
			cli_json_str(stdout, k->kid);
			printf(", \"cname\": ");
			cli_json_str(stdout, pol_cname_name(pk->cname));
			printf(", \"cname_bad\": ");
			cli_json_str(stdout, pk->cname_bad);
			printf("}");
		}
	}
}

/* status_text - one block per domain */
static void
status_text(struct cli *c, const struct status_dom *s)
{
	size_t i;
	int alarms = 0;

	printf("%s", s->d->name);
	if (s->d->policy.slots > 0)
		printf(" (delegated to %s, %d slots)", s->d->policy.delegate_to,
		    s->d->policy.slots);
	printf("\n  active:  ");
	status_list(c, s, POL_ACTIVE);
	printf("\n  standby: ");
	status_list(c, s, POL_READY);
	printf("\n  pending: ");
	status_list(c, s, POL_PENDING);
	if (s->d->policy.slots > 0) {
		printf("\n  slots:   ");
		status_slots(c, s);
	}
	printf("\n  next:    %s\n", *s->next ? s->next : "-");
	for (i = 0; i < s->plan.n; i++)
		if (s->plan.v[i].type == POL_A_ALARM) {
			printf("  ALARM:   %s\n", s->plan.v[i].reason);
			alarms++;
		}
	for (i = 0; i < s->nheld; i++, alarms++)
		printf("  ALARM:   %s: %s\n", s->held[i].selector,
		    s->held[i].reason);
	if (alarms == 0)
		printf("  alarm:   none\n");
}

/* status_json - one object per domain */
static void
status_json(struct cli *c, const struct status_dom *s, int *first)
{
	const struct pol_action *a;
	size_t i;
	int afirst = 1;

	cli_json_sep(first);
	printf("  {\"domain\": ");
	cli_json_str(stdout, s->d->name);
	printf(", \"delegate_to\": ");
	if (s->d->policy.slots > 0)
		cli_json_str(stdout, s->d->policy.delegate_to);
	else
		printf("null");
	printf(", \"active\": [");
	status_list(c, s, POL_ACTIVE);
	printf("], \"standby\": [");
	status_list(c, s, POL_READY);
	printf("], \"pending\": [");
	status_list(c, s, POL_PENDING);
	printf("], \"slots\": [");
	status_slots(c, s);
	printf("], \"next\": ");
	if (*s->next) {
		cli_json_str(stdout, s->next);
		printf(", \"next_at\": %lld", (long long)s->next_at);
	} else
		printf("null, \"next_at\": null");
	printf(", \"alarms\": [");
	for (i = 0; i < s->plan.n; i++) {
		a = &s->plan.v[i];
		if (a->type != POL_A_ALARM)
			continue;
		printf("%s{\"selector\": ", afirst ? "" : ", ");
		cli_json_str(stdout, a->key == POL_NONE ? "" :
		    s->keys[a->key].selector);
		printf(", \"reason\": ");
		cli_json_str(stdout, a->reason);
		printf("}");
		afirst = 0;
	}
	for (i = 0; i < s->nheld; i++) {
		printf("%s{\"selector\": ", afirst ? "" : ", ");
		cli_json_str(stdout, s->held[i].selector);
		printf(", \"reason\": ");
		cli_json_str(stdout, s->held[i].reason);
		printf("}");
		afirst = 0;
	}
	printf("]}");
}

/* cmd_status - keyturn status [--json]: every domain, no DNS asked */
int
cmd_status(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { ROT_COMMON_OPTS, { 0 } };
	struct status_dom s;
	struct store_set *set;
	struct store *st;
	char err[1024];
	size_t i;
	int first = 1;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind < argc)
		return cli_usage(c, "no arguments");
	if ((st = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	if ((set = store_set_load(st, 0, err, sizeof(err))) == NULL) {
		store_close(st);
		return cli_fail("%s", err);
	}
	if (c->json)
		printf("[\n");
	for (i = 0; i < set->n; i++) {
		status_load(c, st, set->domains[i], &s);
		if (c->json)
			status_json(c, &s, &first);
		else
			status_text(c, &s);
		status_free(&s);
	}
	if (c->json)
		printf("%s]\n", first ? "" : "\n");
	else if (set->n == 0)
		printf("no domains: add one with keyturn domain add\n");
	store_set_free(set);
	store_close(st);
	return CLI_OK;
}
