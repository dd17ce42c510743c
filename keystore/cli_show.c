/*
 * cli_show - keyturn list, dns, pubkey and history: read-only views
 *
 * dns and pubkey parse each private key and check it against the public
 * key in the state before printing, so what is published is what signs.
 * Nothing here prints a private key.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "xmalloc.h"

/* show_set - every domain, or the one named, as a set */
static struct store_set *
show_set(struct store *s, const char *domain, int flags)
{
	struct store_set *set;
	char err[1024], *name;

	if (domain == NULL) {
		if ((set = store_set_load(s, flags, err, sizeof(err))) == NULL)
			cli_fail("%s", err);
		return set;
	}
	set = xcalloc(1, sizeof(*set));
	set->domains = xcalloc(1, sizeof(*set->domains));
	name = cli_lower(domain);
	set->domains[0] = store_domain_load(s, name, flags, err, sizeof(err));
	free(name);
	if (set->domains[0] == NULL) {
		cli_fail("%s", err);
		store_set_free(set);
		return NULL;
	}
	set->n = 1;
	return set;
}

/* show_next - the planned next transition of a key, as text */
static void
show_next(const struct store_domain *d, const struct store_key *k, char *buf,
    size_t len)
{
	enum store_state next;
	time_t when = store_key_planned(d, k, &next);
	char t[32];

	if (k->state == STORE_REVOKED)
		snprintf(buf, len, "-");
	else if (when == 0)
		snprintf(buf, len, "%s (%s)", store_state_name(next),
		    k->state == STORE_PENDING ? "when DNS confirms" :
		    "when rotated in");
	else
		snprintf(buf, len, "%s at %s", store_state_name(next),
		    store_time_format(when, t, sizeof(t)));
}

/* list_row - one key of keyturn list */
static void
list_row(struct cli *c, const struct store_domain *d,
    const struct store_key *k, int *first)
{
	char age[16], since[32], next[96];

	cli_age(c->now - k->created, age, sizeof(age));
	store_time_format(k->since, since, sizeof(since));
	show_next(d, k, next, sizeof(next));
	if (!c->json) {
		printf("%-24s %-22s %-7s %5d %-8s %5s %-20s %s\n", d->name,
		    k->selector, store_alg_name(k->alg), k->bits,
		    store_state_name(k->state), age, since, next);
		return;
	}
	cli_json_sep(first);
	printf("  {\"domain\": ");
	cli_json_str(stdout, d->name);
	printf(", \"selector\": ");
	cli_json_str(stdout, k->selector);
	printf(", \"algorithm\": \"%s\", \"bits\": %d, \"state\": \"%s\", "
	    "\"created\": %lld, \"age\": %lld, \"since\": \"%s\", "
	    "\"next\": ", store_alg_name(k->alg), k->bits,
	    store_state_name(k->state), (long long)k->created,
	    (long long)(c->now - k->created), since);
	cli_json_str(stdout, next);
	printf("}");
}

/* cmd_list - keyturn list [DOMAIN] */
int
cmd_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct store_set *set;
	struct store *s;
	size_t i, j;
	int first = 1;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind < argc - 1)
		return cli_usage(c, "at most one DOMAIN");
	if ((s = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	if ((set = show_set(s, optind < argc ? argv[optind] : NULL, 0)) ==
	    NULL) {
		store_close(s);
		return CLI_FAIL;
	}
	if (c->json)
		printf("[\n");
	else
		printf("%-24s %-22s %-7s %5s %-8s %5s %-20s %s\n", "DOMAIN",
		    "SELECTOR", "ALG", "BITS", "STATE", "AGE", "SINCE", "NEXT");
	for (i = 0; i < set->n; i++)
		for (j = 0; j < set->domains[i]->nkeys; j++)
			list_row(c, set->domains[i], &set->domains[i]->keys[j],
			    &first);
	if (c->json)
		printf("%s]\n", first ? "" : "\n");
	store_set_free(set);
	store_close(s);
	return CLI_OK;
}

/* dns_row - the record of one key */
static void
dns_row(struct cli *c, int zone, const struct store_domain *d,
    const struct store_key *k, int *first)
{
	char *name = cli_dns_name(k->selector, d->name);
	char *txt = store_key_txt(k);

	if (c->json) {
		cli_json_sep(first);
		printf("  {\"domain\": ");
		cli_json_str(stdout, d->name);
		printf(", \"selector\": ");
		cli_json_str(stdout, k->selector);
		printf(", \"state\": \"%s\", \"name\": ",
		    store_state_name(k->state));
		cli_json_str(stdout, name);
		printf(", \"value\": ");
		cli_json_str(stdout, txt);
		printf("}");
	} else if (zone) {
		printf("; %s %s\n", k->selector, store_state_name(k->state));
		cli_zone_line(stdout, name, txt);
	} else
		printf("%s %s\n", name, txt);
	free(name);
	free(txt);
}

/* cmd_dns - keyturn dns [DOMAIN] [--zone] */
int
cmd_dns(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "zone", no_argument, NULL, 'z' }, CLI_COMMON_OPTS, { 0 }
	};
	struct store_set *set;
	struct store *s;
	size_t i, j;
	int ch, zone = 0, first = 1;

	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'z')
			return CLI_USAGE;
		zone = 1;
	}
	if (optind < argc - 1)
		return cli_usage(c, "at most one DOMAIN");
	if ((s = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	if ((set = show_set(s, optind < argc ? argv[optind] : NULL,
	    STORE_KEYS_ALL)) == NULL) {
		store_close(s);
		return CLI_FAIL;
	}
	if (c->json)
		printf("[\n");
	for (i = 0; i < set->n; i++)
		for (j = 0; j < set->domains[i]->nkeys; j++)
			dns_row(c, zone, set->domains[i],
			    &set->domains[i]->keys[j], &first);
	if (c->json)
		printf("%s]\n", first ? "" : "\n");
	store_set_free(set);
	store_close(s);
	return CLI_OK;
}

/* cmd_pubkey - keyturn pubkey DOMAIN SELECTOR */
int
cmd_pubkey(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct store_set *set;
	const struct store_key *k;
	struct store *s;
	char err[1024], *pem;
	int r = CLI_FAIL;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc - 2)
		return cli_usage(c, "expected DOMAIN SELECTOR");
	if ((s = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	if ((set = show_set(s, argv[optind], STORE_KEYS_ALL)) == NULL) {
		store_close(s);
		return CLI_FAIL;
	}
	if ((k = store_domain_key(set->domains[0], argv[optind + 1])) == NULL)
		cli_fail("domain %s has no key %s (see keyturn list %s)",
		    set->domains[0]->name, argv[optind + 1],
		    set->domains[0]->name);
	else if ((pem = store_key_pubpem(k, err, sizeof(err))) == NULL)
		cli_fail("%s", err);
	else {
		fputs(pem, stdout);
		free(pem);
		r = CLI_OK;
	}
	store_set_free(set);
	store_close(s);
	return r;
}

/* history_row - one event */
static void
history_row(struct cli *c, const struct store_event *e, int *first)
{
	char t[32];

	store_time_format(e->when, t, sizeof(t));
	if (!c->json && e->from == e->to && e->from != STORE_STATE_NONE) {
		/* a note (an alarm): the key stayed in its state */
		printf("%s %-22s %-8s %-11s %s\n", t, e->selector,
		    store_state_name(e->from), "(unchanged)", e->reason);
		return;
	}
	if (!c->json) {
		printf("%s %-22s %-8s -> %-8s %s\n", t, e->selector,
		    store_state_name(e->from), store_state_name(e->to),
		    e->reason);
		return;
	}
	cli_json_sep(first);
	printf("  {\"time\": \"%s\", \"selector\": ", t);
	cli_json_str(stdout, e->selector);
	printf(", \"from\": \"%s\", \"to\": \"%s\", \"reason\": ",
	    store_state_name(e->from), store_state_name(e->to));
	cli_json_str(stdout, e->reason);
	printf("}");
}

/* cmd_history - keyturn history DOMAIN [SELECTOR] */
int
cmd_history(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct store_event *ev;
	struct store *s;
	const char *sel;
	char err[1024], *domain;
	size_t n, i;
	int first = 1;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc - 1 && optind != argc - 2)
		return cli_usage(c, "expected DOMAIN [SELECTOR]");
	sel = optind == argc - 2 ? argv[optind + 1] : NULL;
	if ((s = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	domain = cli_lower(argv[optind]);
	if (store_history_load(s, domain, &ev, &n, err, sizeof(err)) != 0) {
		free(domain);
		store_close(s);
		return cli_fail("%s", err);
	}
	if (c->json)
		printf("[\n");
	for (i = 0; i < n; i++)
		if (sel == NULL || strcasecmp(sel, ev[i].selector) == 0)
			history_row(c, &ev[i], &first);
	if (c->json)
		printf("%s]\n", first ? "" : "\n");
	store_history_free(ev, n);
	free(domain);
	store_close(s);
	return CLI_OK;
}
