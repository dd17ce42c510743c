/*
 * rotate_run - rotation passes over one domain, against live test DNS
 *
 *	rotate_run -K KEYSTORE -r RESOLVER -p DNSPORT [-t MS] [-c COMMAND]
 *	    [-n PASSES] [-i MS] [-d] DOMAIN
 *
 * Runs rot_pass every -i milliseconds with the real clock and prints one
 * line per check and action:
 *	pass N check SELECTOR VERDICT
 *	pass N ACTION SELECTOR OUTCOME: REASON
 * Used by t/rotate_cycle.sh until keyturnd's rotation thread takes over.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rotation.h"

static int pass_no;

/* say - one event as one line */
static void
say(const struct rot_event *ev, void *arg)
{
	(void)arg;
	if (ev->action == NULL)
		printf("pass %d check %s %s\n", pass_no, ev->selector,
		    ev->outcome);
	else
		printf("pass %d %s %s %s: %s\n", pass_no,
		    pol_act_name(ev->action->type), *ev->selector ?
		    ev->selector : "-", ev->outcome, ev->action->reason);
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: rotate_run -K keystore -r resolver -p port "
	    "[-t ms] [-c command] [-n passes] [-i ms] [-d] domain\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct rot_config cf;
	const char *dir = NULL;
	char err[512];
	int c, passes = 1, interval = 1000;

	memset(&cf, 0, sizeof(cf));
	cf.dns.timeout_ms = 1000;
	cf.dns.tries = 1;
	while ((c = getopt(argc, argv, "K:r:p:t:c:n:i:d")) != -1) {
		switch (c) {
		case 'K': dir = optarg; break;
		case 'r': cf.dns.resolver = optarg; break;
		case 'p': cf.dns.dns_port = atoi(optarg); break;
		case 't': cf.dns.timeout_ms = atoi(optarg); break;
		case 'c': cf.publish_command = optarg; break;
		case 'n': passes = atoi(optarg); break;
		case 'i': interval = atoi(optarg); break;
		case 'd': cf.dry_run = 1; break;
		default: usage();
		}
	}
	if (dir == NULL || optind != argc - 1)
		usage();
	log_init("rotate_run", 1, LOG_INFO);
	if ((cf.store = store_open(dir, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rotate_run: %s\n", err);
		return 1;
	}
	for (pass_no = 1; pass_no <= passes; pass_no++) {
		if (rot_pass(&cf, argv[optind], time(NULL), say, NULL, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "rotate_run: %s\n", err);
			store_close(cf.store);
			return 1;
		}
		if (pass_no < passes)
			usleep(interval * 1000);
	}
	store_close(cf.store);
	return 0;
}
