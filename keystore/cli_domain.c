/*
 * cli_domain - keyturn init and keyturn domain add|set|list|remove
 *
 * A delegated domain (--delegate-to) gets its slots, templates and zone
 * when it is added; domain set changes its slot count and dns-hold and
 * the timers, and the keystore checks the numbers still work.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "duration.h"
#include "fleet.h"
#include "xmalloc.h"

/* cli_is_keystore - a directory with a keystore's format file */
static int
cli_is_keystore(const char *dir)
{
	char *p = xasprintf("%s/keyturn.keystore", dir);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* cmd_init - keyturn init */
int
cmd_init(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct fleet *f;
	char err[1024];
	int failed;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc)
		return cli_usage(c, "no arguments expected");
	if ((f = cli_fleet(c, &failed)) == NULL && failed)
		return CLI_FAIL;
	/* with a fleet: the mirror, once; the fleet's format key, once */
	if (f != NULL && cli_is_keystore(c->keystore))
		printf("mirror %s exists\n", c->keystore);
	else if (store_init(c->keystore, err, sizeof(err)) == -1)
		return cli_fail("%s", err);
	else
		printf("keystore %s created\n", c->keystore);
	return f != NULL ? cli_fleet_init(c) : CLI_OK;
}

/* options of a delegated domain that only domain add takes */
#define DOM_DELEGATE	0x100u		/* --delegate-to */
#define DOM_TEMPLATE	0x200u		/* --slot-selector, --slot-target */

/* delegate_opt - one delegated-domain option into pol */
static int
delegate_opt(struct cli *c, int ch, const char *v, struct store_policy *pol)
{
	const char *errstr;
	char *lower;
	size_t n;

	switch (ch) {
	case 'D':
		lower = cli_lower(v);
		n = strlen(lower);
		if (n > 1 && lower[n - 1] == '.')
			lower[n - 1] = '\0';	/* the root is implied */
		n = strlcpy(pol->delegate_to, lower, sizeof(pol->delegate_to));
		free(lower);
		if (n >= sizeof(pol->delegate_to))
			return cli_usage(c, "--delegate-to: too long");
		return CLI_OK;
	case 'N':
		return cli_parse_int("--slots", v, STORE_SLOTS_MIN,
		    STORE_SLOTS_MAX, &pol->slots) ? CLI_USAGE : CLI_OK;
	case 'S':
	case 'T':
		if (strlcpy(ch == 'S' ? pol->slot_selector : pol->slot_target,
		    v, sizeof(pol->slot_selector)) >= sizeof(pol->slot_selector))
			return cli_usage(c, "--slot-%s: longer than %d",
			    ch == 'S' ? "selector" : "target",
			    STORE_TEMPLATE_MAX);
		return CLI_OK;
	case 'H':
		if (duration_parse(v, &pol->dns_hold, &errstr) == -1)
			return cli_usage(c, "--dns-hold %s: %s", v, errstr);
		return CLI_OK;
	default:
		return CLI_USAGE;
	}
}

/* policy_opt - one policy option into pol; CLI_OK or CLI_USAGE */
static int
policy_opt(struct cli *c, int ch, const char *v, struct store_policy *pol)
{
	const char *errstr;

	switch (ch) {
	case 'a':
		if (store_algs_parse(v, &pol->algs) == -1)
			return cli_usage(c, "--algorithms %s: use rsa, ed25519 "
			    "or rsa,ed25519", v);
		return CLI_OK;
	case 'b':
		return cli_parse_int("--bits", v, 1, 65536, &pol->bits) ?
		    CLI_USAGE : CLI_OK;
	case 'n':
		return cli_parse_int("--active-keys", v, 1, STORE_MAX_ACTIVE,
		    &pol->active_keys) ? CLI_USAGE : CLI_OK;
	case 'r':
	case 't':
		if (duration_parse(v, ch == 'r' ? &pol->rotate_after :
		    &pol->retire_after, &errstr) == -1)
			return cli_usage(c, "--%s %s: %s", ch == 'r' ?
			    "rotate-after" : "retire-after", v, errstr);
		return CLI_OK;
	case 'p':
		if (strlcpy(pol->prefix, v, sizeof(pol->prefix)) >=
		    sizeof(pol->prefix))
			return cli_usage(c, "--selector-prefix: too long");
		return CLI_OK;
	default:
		return delegate_opt(c, ch, v, pol);
	}
}

/* policy_field - the STORE_POL_* an option sets */
static unsigned
policy_field(int ch)
{
	switch (ch) {
	case 'a': return STORE_POL_ALGS;
	case 'b': return STORE_POL_BITS;
	case 'n': return STORE_POL_ACTIVE;
	case 'r': return STORE_POL_ROTATE;
	case 't': return STORE_POL_RETIRE;
	case 'N': return STORE_POL_SLOTS;
	case 'H': return STORE_POL_HOLD;
	case 'D': return DOM_DELEGATE;
	case 'S':
	case 'T': return DOM_TEMPLATE;
	default: return STORE_POL_PREFIX;
	}
}

/* policy_args - the options of domain add/set; *given gets their fields */
static int
policy_args(struct cli *c, int argc, char **argv, struct store_policy *pol,
    unsigned *given)
{
	static const struct option opts[] = {
		{ "algorithms", required_argument, NULL, 'a' },
		{ "bits", required_argument, NULL, 'b' },
		{ "active-keys", required_argument, NULL, 'n' },
		{ "rotate-after", required_argument, NULL, 'r' },
		{ "retire-after", required_argument, NULL, 't' },
		{ "selector-prefix", required_argument, NULL, 'p' },
		{ "delegate-to", required_argument, NULL, 'D' },
		{ "slots", required_argument, NULL, 'N' },
		{ "slot-selector", required_argument, NULL, 'S' },
		{ "slot-target", required_argument, NULL, 'T' },
		{ "dns-hold", required_argument, NULL, 'H' },
		CLI_COMMON_OPTS, { 0 }
	};
	int ch;

	*given = 0;
	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch == '?' || policy_opt(c, ch, optarg, pol) != CLI_OK)
			return CLI_USAGE;
		*given |= policy_field(ch);
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one DOMAIN");
	return CLI_OK;
}

/*
 * delegate_args - the options of a delegated domain hang together: slots
 * and templates need --delegate-to, which means one key at a time
 */
static int
delegate_args(struct cli *c, struct store_policy *pol, unsigned given)
{
	if (!(given & DOM_DELEGATE)) {
		if (given & (STORE_POL_SLOTS | STORE_POL_HOLD | DOM_TEMPLATE))
			return cli_usage(c, "--slots, --slot-selector, "
			    "--slot-target and --dns-hold are for a delegated "
			    "domain: add --delegate-to ZONE");
		return CLI_OK;
	}
	if (pol->active_keys != 1)
		return cli_usage(c, "--active-keys %d: a delegated domain "
		    "rotates one key at a time through its slots",
		    pol->active_keys);
	if ((pol->algs & (pol->algs - 1)) != 0)
		return cli_usage(c, "--algorithms %s: a delegated domain has "
		    "one algorithm", store_algs_name(pol->algs));
	if (!(given & STORE_POL_SLOTS))
		pol->slots = STORE_SLOTS_MAX;
	return CLI_OK;
}

/* added_delegated - what the customer of a new delegated domain does */
static void
added_delegated(const char *name, const struct store_policy *pol)
{
	printf("domain %s added, delegated to %s with %d slots; the customer "
	    "publishes once:\n", name, pol->delegate_to, pol->slots);
	(void)cli_slot_cnames(stdout, name, pol);
	printf("keyturnd fills the slots (or: keyturn key new %s)\n", name);
}

/* cmd_domain_add - keyturn domain add DOMAIN [policy options] */
int
cmd_domain_add(struct cli *c, int argc, char **argv)
{
	struct store_policy pol;
	struct store *s;
	char err[1024], *name;
	unsigned given;
	int r = CLI_OK;

	store_policy_default(&pol);
	if (policy_args(c, argc, argv, &pol, &given) != CLI_OK ||
	    delegate_args(c, &pol, given) != CLI_OK)
		return CLI_USAGE;
	if ((s = cli_open(c, 0)) == NULL)
		return CLI_FAIL;
	name = cli_lower(argv[optind]);
	if (store_domain_add(s, name, &pol, c->now, err, sizeof(err)) == -1)
		r = cli_fail("%s", err);
	else if (pol.slots > 0)
		added_delegated(name, &pol);
	else
		printf("domain %s added; create its first key with keyturn "
		    "key new %s\n", name, name);
	free(name);
	store_close(s);
	return r;
}

/* set_plain - slots and dns-hold are a delegated domain's: CLI_FAIL */
static int
set_plain(struct store *s, const char *name)
{
	struct store_domain *d;
	char err[1024];
	int delegated;

	if ((d = store_domain_load(s, name, 0, err, sizeof(err))) == NULL)
		return cli_fail("%s", err);
	delegated = d->policy.slots > 0;
	store_domain_free(d);
	if (delegated)
		return CLI_OK;
	return cli_fail("%s is not delegated: --slots and --dns-hold are a "
	    "delegated domain's (remove it and add it again with "
	    "--delegate-to)", name);
}

/* cmd_domain_set - keyturn domain set DOMAIN policy options */
int
cmd_domain_set(struct cli *c, int argc, char **argv)
{
	struct store_policy pol;
	struct store *s;
	char err[1024], *name;
	unsigned given;
	int r = CLI_OK;

	/* only the options given change, on the policy as it is then */
	store_policy_default(&pol);
	if (policy_args(c, argc, argv, &pol, &given) != CLI_OK)
		return CLI_USAGE;
	if (given == 0)
		return cli_usage(c, "nothing to change");
	if (given & (DOM_DELEGATE | DOM_TEMPLATE))
		return cli_usage(c, "--delegate-to, --slot-selector and "
		    "--slot-target are fixed when the domain is added: remove "
		    "it and add it again");
	if ((s = cli_open(c, 0)) == NULL)
		return CLI_FAIL;
	name = cli_lower(argv[optind]);
	if ((given & (STORE_POL_SLOTS | STORE_POL_HOLD)) &&
	    set_plain(s, name) == CLI_FAIL)
		r = CLI_FAIL;
	else if (store_domain_set(s, name, &pol, given, c->now, err,
	    sizeof(err)) == -1)
		r = cli_fail("%s", err);
	else
		printf("domain %s: policy changed\n", name);
	free(name);
	store_close(s);
	return r;
}

/* domain_row - one domain of domain list */
static void
domain_row(struct cli *c, const struct store_domain *d, int *first)
{
	const struct store_policy *p = &d->policy;
	const char *algs = store_algs_name(p->algs);
	char rot[32], ret[32];

	duration_format(p->rotate_after, rot, sizeof(rot));
	duration_format(p->retire_after, ret, sizeof(ret));
	if (!c->json) {
		printf("%-30s %-12s %5d %6d %8s %8s %-10s %4zu %-24s %5d\n",
		    d->name, algs, p->bits, p->active_keys, rot, ret,
		    p->prefix, d->nkeys, p->slots ? p->delegate_to : "-",
		    p->slots);
		return;
	}
	cli_json_sep(first);
	printf("  {\"domain\": ");
	cli_json_str(stdout, d->name);
	printf(", \"algorithms\": \"%s\", \"bits\": %d, \"active_keys\": %d, "
	    "\"rotate_after\": %lld, \"retire_after\": %lld, "
	    "\"selector_prefix\": ", algs, p->bits, p->active_keys,
	    p->rotate_after, p->retire_after);
	cli_json_str(stdout, p->prefix);
	printf(", \"keys\": %zu, \"delegate_to\": ", d->nkeys);
	if (p->slots > 0)
		cli_json_str(stdout, p->delegate_to);
	else
		printf("null");
	printf(", \"slots\": %d", p->slots);
	if (p->slots > 0) {
		printf(", \"slot_selector\": ");
		cli_json_str(stdout, p->slot_selector);
		printf(", \"slot_target\": ");
		cli_json_str(stdout, p->slot_target);
		printf(", \"dns_hold\": %lld", p->dns_hold);
	}
	printf("}");
}

/* cmd_domain_list - keyturn domain list */
int
cmd_domain_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct store_set *set;
	struct store *s;
	char err[1024];
	size_t i;
	int first = 1;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc)
		return cli_usage(c, "no arguments expected");
	if ((s = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	if ((set = store_set_load(s, 0, err, sizeof(err))) == NULL) {
		store_close(s);
		return cli_fail("%s", err);
	}
	if (c->json)
		printf("[\n");
	else
		printf("%-30s %-12s %5s %6s %8s %8s %-10s %4s %-24s %5s\n",
		    "DOMAIN", "ALGORITHMS", "BITS", "ACTIVE", "ROTATE",
		    "RETIRE", "PREFIX", "KEYS", "DELEGATE-TO", "SLOTS");
	for (i = 0; i < set->n; i++)
		domain_row(c, set->domains[i], &first);
	if (c->json)
		printf("%s]\n", first ? "" : "\n");
	store_set_free(set);
	store_close(s);
	return CLI_OK;
}

/* cmd_domain_remove - keyturn domain remove DOMAIN [--force] */
int
cmd_domain_remove(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, CLI_COMMON_OPTS, { 0 }
	};
	struct store *s;
	char err[1024], *name;
	int ch, force = 0, r = CLI_OK;

	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'f')
			return CLI_USAGE;
		force = 1;
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one DOMAIN");
	if ((s = cli_open(c, 0)) == NULL)
		return CLI_FAIL;
	name = cli_lower(argv[optind]);
	if (store_domain_remove(s, name, force, c->now, err,
	    sizeof(err)) == -1)
		r = cli_fail("%s", err);
	else
		printf("domain %s removed; its history is kept so its "
		    "selectors are never reused\n", name);
	free(name);
	store_close(s);
	return r;
}
