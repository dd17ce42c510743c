/*
 * rotate_probe - drive the propagation check against live test servers
 *
 *	rotate_probe -r RESOLVER -p DNSPORT [-t MS] [-T TRIES] [-e EXTRA]...
 *	    -a rsa|ed25519 -k BASE64 [-n PASSES] [-i MS] [-u] NAME
 *
 * Each pass runs prop_check on NAME, prints every observation and the
 * verdict, folds the result into the agreed-since streak (evidence_update)
 * and asks the policy engine what it would do with a pending key of that
 * record (published by its hook): "pass N elapsed=S dns=D action=A".
 * -u stops at the first pass where the policy makes the key ready.
 * Used by t/rotate_dns.sh; the pieces are the ones keyturnd runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "evidence.h"
#include "policy.h"
#include "propagate.h"

static void
usage(void)
{
	fprintf(stderr, "usage: rotate_probe -r resolver -p port [-t ms] "
	    "[-T tries] [-e extra]... -a rsa|ed25519 -k base64 [-n passes] "
	    "[-i ms] [-u] name\n");
	exit(2);
}

/* decode - base64 to bytes, or exit */
static unsigned char *
decode(const char *b64, size_t *len)
{
	size_t n = strlen(b64), pad = 0;
	unsigned char *out = malloc(n + 1);
	int r;

	if (out == NULL || n % 4 != 0 ||
	    (r = EVP_DecodeBlock(out, (const unsigned char *)b64, n)) < 0)
		usage();
	if (n >= 2)
		pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	*len = r - pad;
	return out;
}

/* monotime - seconds with a fraction, for the elapsed column */
static double
monotime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* decide - what the policy does with one pending, published key */
static const char *
decide(const struct pol_obs *obs, enum prop_alg alg, time_t now)
{
	struct pol_policy pol = { .rsa_bits = 2048, .active_keys = 1,
	    .rotate_after = 86400, .retire_after = 86400 };
	struct pol_key k = { .selector = "probe", .state = POL_PENDING,
	    .published = POL_PUB_PUBLISHED };
	struct pol_plan plan = { 0 };
	const char *what = "none";
	size_t i;

	k.alg = alg == PROP_ALG_RSA ? POL_ALG_RSA : POL_ALG_ED25519;
	pol.algs[k.alg] = 1;
	k.obs = *obs;
	pol_decide(&pol, &k, 1, now, &plan);
	for (i = 0; i < plan.n; i++)
		if (plan.v[i].key == 0 && (plan.v[i].type == POL_A_READY ||
		    plan.v[i].type == POL_A_ALARM))
			what = pol_act_name(plan.v[i].type);
	pol_plan_free(&plan);
	return what;
}

int
main(int argc, char *argv[])
{
	struct prop_options opt = { 0 };
	struct prop_query q = { 0 };
	struct prop_result res;
	struct pol_obs obs;
	const char *extra[8], *act;
	double t0;
	int c, passes = 1, interval = 500, until = 0, n, r;

	q.alg = PROP_ALG_RSA;
	while ((c = getopt(argc, argv, "r:p:t:T:e:a:k:n:i:u")) != -1) {
		switch (c) {
		case 'r': opt.resolver = optarg; break;
		case 'p': opt.dns_port = atoi(optarg); break;
		case 't': opt.timeout_ms = atoi(optarg); break;
		case 'T': opt.tries = atoi(optarg); break;
		case 'e':
			if (opt.nextra == 8)
				usage();
			extra[opt.nextra++] = optarg;
			break;
		case 'a':
			q.alg = strcmp(optarg, "ed25519") == 0 ?
			    PROP_ALG_ED25519 : PROP_ALG_RSA;
			break;
		case 'k': q.key = decode(optarg, &q.keylen); break;
		case 'n': passes = atoi(optarg); break;
		case 'i': interval = atoi(optarg); break;
		case 'u': until = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || q.key == NULL)
		usage();
	opt.extra = extra;
	q.name = argv[optind];
	memset(&obs, 0, sizeof(obs));
	t0 = monotime();
	for (n = 1; n <= passes; n++) {
		r = prop_check(&q, &opt, &res);
		prop_result_print(&res, stdout);
		evidence_update(&obs, r == 0 ? &res : NULL, time(NULL));
		act = decide(&obs, q.alg, time(NULL));
		printf("pass %d elapsed=%.1f dns=%s action=%s\n", n,
		    monotime() - t0, pol_dns_name(obs.dns), act);
		fflush(stdout);
		prop_result_free(&res);
		if (until && strcmp(act, "ready") == 0)
			break;
		if (n < passes)
			usleep(interval * 1000);
	}
	free((void *)q.key);
	return 0;
}
