/*
 * rotate_run - rotation passes over some domains, against live test DNS
 *
 *	rotate_run -K KEYSTORE -r RESOLVER -p DNSPORT [-t MS] [-c COMMAND]
 *	    [-n PASSES] [-i MS] [-d] [-R SECS] [-j N] [-T START [-S STEP]]
 *	    DOMAIN...
 *
 * Runs rot_pass over the domains every -i milliseconds and prints one line
 * per check and action, and one with the pass's counts:
 *	pass N check SELECTOR VERDICT
 *	pass N ACTION SELECTOR OUTCOME: REASON
 *	pass N stats domains=D keys=K checked=C queries=Q
 * With several domains each check and action line names its domain after
 * the pass number ("pass N DOMAIN check ..."), the domains' lines in the
 * order given whatever order their passes end in.
 *
 * -R is RecheckInterval in seconds (default 0: every key on every pass),
 * -j DNSConcurrency (default 1: one domain at a time, in this thread).
 * The passes run at the real clock, or with -T at START, START + STEP, ...
 * (STEP seconds, default 1), so that a test covers days of re-checks in
 * seconds. Used by t/rotate_cycle.sh and t/rotate_recheck.sh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rotation.h"
#include "rotpool.h"

/* One domain's lines of a pass, printed in the order of the domains. */
struct out {
	char	*text;
	size_t	 len;
	FILE	*f;
};

struct run {
	char	**domains;
	size_t	 n;
	struct out *out;
	time_t	 now;
	int	 failed;
};

static int pass_no;

/* say - one event as one line of the domain's output */
static void
say(const struct rot_event *ev, void *arg)
{
	struct run *run = arg;
	size_t i;
	FILE *f = stdout;

	for (i = 0; i < run->n; i++)
		if (strcmp(run->domains[i], ev->domain) == 0)
			f = run->out[i].f;
	fprintf(f, "pass %d ", pass_no);
	if (run->n > 1)
		fprintf(f, "%s ", ev->domain);
	if (ev->action == NULL)
		fprintf(f, "check %s %s\n", ev->selector, ev->outcome);
	else
		fprintf(f, "%s %s %s: %s\n", pol_act_name(ev->action->type),
		    *ev->selector ? ev->selector : "-", ev->outcome,
		    ev->action->reason);
}

/* one - the pass over domain i, in a worker */
static void
one(const struct rot_config *cf, size_t i, void *arg)
{
	struct run *run = arg;
	char err[512];

	if (rot_pass(cf, run->domains[i], run->now, say, run, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "rotate_run: %s\n", err);
		run->failed = 1;
	}
}

/* done - domain i's lines, in order */
static void
done(size_t i, void *arg)
{
	struct run *run = arg;

	fclose(run->out[i].f);
	fwrite(run->out[i].text, 1, run->out[i].len, stdout);
	free(run->out[i].text);
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: rotate_run -K keystore -r resolver -p port "
	    "[-t ms] [-c command] [-n passes] [-i ms] [-d] [-R secs] [-j n] "
	    "[-T start [-S step]] domain...\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct rot_config cf;
	struct rot_stats stats;
	struct run run;
	const char *dir = NULL;
	char err[512];
	long long start = 0, step = 1;
	size_t i;
	int c, passes = 1, interval = 1000;

	memset(&cf, 0, sizeof(cf));
	cf.dns.timeout_ms = 1000;
	cf.dns.tries = 1;
	while ((c = getopt(argc, argv, "K:r:p:t:c:n:i:dR:j:T:S:")) != -1) {
		switch (c) {
		case 'K': dir = optarg; break;
		case 'r': cf.dns.resolver = optarg; break;
		case 'p': cf.dns.dns_port = atoi(optarg); break;
		case 't': cf.dns.timeout_ms = atoi(optarg); break;
		case 'c': cf.publish_command = optarg; break;
		case 'n': passes = atoi(optarg); break;
		case 'i': interval = atoi(optarg); break;
		case 'd': cf.dry_run = 1; break;
		case 'R': cf.recheck = atoll(optarg); break;
		case 'j': cf.concurrency = atoi(optarg); break;
		case 'T': start = atoll(optarg); break;
		case 'S': step = atoll(optarg); break;
		default: usage();
		}
	}
	if (dir == NULL || optind >= argc)
		usage();
	log_init("rotate_run", 1, LOG_INFO);
	if ((cf.store = store_open(dir, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rotate_run: %s\n", err);
		return 1;
	}
	memset(&run, 0, sizeof(run));
	run.domains = argv + optind;
	run.n = argc - optind;
	run.out = calloc(run.n, sizeof(*run.out));
	if (run.out == NULL)
		return 1;
	cf.stats = &stats;
	for (pass_no = 1; pass_no <= passes && !run.failed; pass_no++) {
		for (i = 0; i < run.n; i++)
			if ((run.out[i].f = open_memstream(&run.out[i].text,
			    &run.out[i].len)) == NULL)
				return 1;
		memset(&stats, 0, sizeof(stats));
		run.now = start > 0 ? (time_t)(start + (pass_no - 1) * step) :
		    time(NULL);
		if (rotpool_run(&cf, 0, run.n, one, done, &run, err,
		    sizeof(err)) != (long)run.n) {
			fprintf(stderr, "rotate_run: %s\n", err);
			return 1;
		}
		printf("pass %d stats domains=%llu keys=%llu checked=%llu "
		    "queries=%llu\n", pass_no, stats.domains, stats.keys,
		    stats.checked, stats.queries);
		fflush(stdout);
		if (pass_no < passes && interval > 0)
			usleep(interval * 1000);
	}
	free(run.out);
	store_close(cf.store);
	return run.failed;
}
