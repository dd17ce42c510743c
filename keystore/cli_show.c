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
		printf("%-24s %-22s %-7s %5d %-8s %5s %-20s %-16s %s\n",
		    d->name, k->selector, store_alg_name(k->alg), k->bits,
		    store_state_name(k->state), age, since, k->kid, next);
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
	printf(", \"key_id\": \"%s\", \"slot\": %d}", k->kid, k->slot);
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
		printf("%-24s %-22s %-7s %5s %-8s %5s %-20s %-16s %s\n",
		    "DOMAIN", "SELECTOR", "ALG", "BITS", "STATE", "AGE", "SINCE",
		    "KEY", "NEXT");
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

/* which records of a delegated domain keyturn dns prints */
#define DNS_CUSTOMER	0x01	/* the CNAMEs in the customer's zone */
#define DNS_PROVIDER	0x02	/* the TXT records in the provider's */

/* dns_json_slot - one record of a delegated domain as JSON */
static void
dns_json_slot(const struct store_domain *d, const char *type,
    const char *zone, const char *name, const char *value, int slot,
    const char *sel, const struct store_key *k, int *first)
{
	cli_json_sep(first);
	printf("  {\"domain\": ");
	cli_json_str(stdout, d->name);
	printf(", \"type\": \"%s\", \"zone\": ", type);
	cli_json_str(stdout, zone);
	printf(", \"name\": ");
	cli_json_str(stdout, name);
	printf(", \"value\": ");
	cli_json_str(stdout, value);
	printf(", \"slot\": %d, \"selector\": ", slot);
	cli_json_str(stdout, sel);
	if (k == NULL)
		printf(", \"state\": null, \"key_id\": null}");
	else
		printf(", \"state\": \"%s\", \"key_id\": \"%s\"}",
		    store_state_name(k->state), k->kid);
}

/* dns_slot - the records of one slot: its CNAME or its key's TXT */
static int
dns_slot(struct cli *c, int which, const struct store_domain *d, int slot,
    int *first)
{
	const struct store_key *k = store_domain_slot(d, slot);
	char sel[STORE_SELECTOR_MAX + 1], target[STORE_DOMAIN_MAX + 1];
	char err[512], *name, *txt;

	if (store_slot_names(&d->policy, d->name, slot, sel, sizeof(sel),
	    target, sizeof(target), err, sizeof(err)) == -1)
		return cli_fail("%s", err);
	if (which & DNS_CUSTOMER) {
		name = cli_dns_name(sel, d->name);
		txt = xasprintf("%s.", target);
		if (c->json)
			dns_json_slot(d, "CNAME", d->name, name, txt, slot,
			    sel, k, first);
		else
			cli_zone_cname(stdout, name, target);
		free(txt);
		free(name);
		return CLI_OK;
	}
	strlcat(target, ".", sizeof(target));
	if (k == NULL) {
		if (!c->json)
			printf("; slot %d %s empty\n", slot, sel);
		return CLI_OK;
	}
	txt = store_key_txt(k);
	if (c->json)
		dns_json_slot(d, "TXT", d->policy.delegate_to, target, txt,
		    slot, sel, k, first);
	else {
		printf("; slot %d %s %s key %s\n", slot, sel,
		    store_state_name(k->state), k->kid);
		cli_zone_line(stdout, target, txt);
	}
	free(txt);
	return CLI_OK;
}

/*
 * dns_delegated - a delegated domain's records, zone-file style: the
 * customer's CNAMEs (published once), then the TXT record of each slot's
 * key under the provider's zone (the publish hook keeps those)
 */
static int
dns_delegated(struct cli *c, int which, const struct store_domain *d,
    int *first)
{
	const struct store_policy *p = &d->policy;
	int slot;

	if (!c->json)
		printf("; %s: delegated to %s, %d slots\n", d->name,
		    p->delegate_to, p->slots);
	if (which & DNS_CUSTOMER) {
		if (!c->json)
			printf("; the customer's zone %s, published once:\n",
			    d->name);
		for (slot = 1; slot <= p->slots; slot++)
			if (dns_slot(c, DNS_CUSTOMER, d, slot, first) != CLI_OK)
				return CLI_FAIL;
	}
	if (which & DNS_PROVIDER) {
		if (!c->json)
			printf("; the provider's zone %s (the publish hook "
			    "keeps these):\n", p->delegate_to);
		for (slot = 1; slot <= p->slots; slot++)
			if (dns_slot(c, DNS_PROVIDER, d, slot, first) != CLI_OK)
				return CLI_FAIL;
	}
	return CLI_OK;
}

/* dns_domain - the records of one domain */
static int
dns_domain(struct cli *c, int zone, int which, const struct store_domain *d,
    int *first)
{
	size_t j;

	if (d->policy.slots > 0)
		return dns_delegated(c, which, d, first);
	if (!(which & DNS_PROVIDER))
		return CLI_OK;	/* a plain domain has no CNAMEs */
	for (j = 0; j < d->nkeys; j++)
		dns_row(c, zone, d, &d->keys[j], first);
	return CLI_OK;
}

/* cmd_dns - keyturn dns [DOMAIN] [--zone] [--customer|--provider] */
int
cmd_dns(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "zone", no_argument, NULL, 'z' },
		{ "customer", no_argument, NULL, 'C' },
		{ "provider", no_argument, NULL, 'P' },
		CLI_COMMON_OPTS, { 0 }
	};
	struct store_set *set;
	struct store *s;
	size_t i;
	int ch, zone = 0, which = 0, first = 1, r = CLI_OK;

	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'z')
			zone = 1;
		else if (ch == 'C')
			which |= DNS_CUSTOMER;
		else if (ch == 'P')
			which |= DNS_PROVIDER;
		else
			return CLI_USAGE;
	}
	if (which == (DNS_CUSTOMER | DNS_PROVIDER))
		return cli_usage(c, "--customer or --provider, not both");
	if (which == 0)
		which = DNS_CUSTOMER | DNS_PROVIDER;
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
		if (dns_domain(c, zone, which, set->domains[i], &first) !=
		    CLI_OK)
			r = CLI_FAIL;
	if (c->json)
		printf("%s]\n", first ? "" : "\n");
	store_set_free(set);
	store_close(s);
	return r;
}

/*
 * pubkey_past - the public key of a key the state no longer holds, from
 * its creation line in the history (a slot's earlier key)
 */
static int
pubkey_past(struct cli *c, struct store *s, const char *domain,
    const char *kid)
{
	const struct store_event *e;
	struct store_event *ev;
	struct store_key k;
	char err[1024], *pem;
	size_t n;
	int r = CLI_FAIL;

	(void)c;
	if (store_history_load(s, domain, &ev, &n, err, sizeof(err)) != 0)
		return cli_fail("%s", err);
	if ((e = store_history_created(ev, n, kid)) == NULL ||
	    e->pub == NULL)
		cli_fail("domain %s has no key %s (see keyturn list %s)",
		    domain, kid, domain);
	else {
		memset(&k, 0, sizeof(k));
		k.spki = e->pub;
		k.alg = e->alg;
		if ((pem = store_key_pubpem(&k, err, sizeof(err))) == NULL)
			cli_fail("%s", err);
		else {
			fputs(pem, stdout);
			free(pem);
			r = CLI_OK;
		}
	}
	store_history_free(ev, n);
	return r;
}

/* cmd_pubkey - keyturn pubkey DOMAIN SELECTOR|KEY-ID */
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
		return cli_usage(c, "expected DOMAIN SELECTOR|KEY-ID");
	if ((s = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	if ((set = show_set(s, argv[optind], STORE_KEYS_ALL)) == NULL) {
		store_close(s);
		return CLI_FAIL;
	}
	k = store_domain_key(set->domains[0], argv[optind + 1]);
	if (k == NULL)
		k = store_domain_kid(set->domains[0], argv[optind + 1]);
	if (k == NULL && strlen(argv[optind + 1]) == STORE_KID_LEN)
		r = pubkey_past(c, s, set->domains[0]->name,
		    argv[optind + 1]);
	else if (k == NULL)
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

/*
 * history_row - one event; a delegated domain's text has a KEY column
 * after the selector (its selectors name slots, which hold many keys)
 */
static void
history_row(struct cli *c, const struct store_event *e, int keycol,
    int *first)
{
	char t[32], sel[STORE_SELECTOR_MAX + STORE_KID_LEN + 3];

	store_time_format(e->when, t, sizeof(t));
	if (keycol)
		snprintf(sel, sizeof(sel), "%-5s %-16s", e->selector,
		    e->kid[0] ? e->kid : "-");
	else
		snprintf(sel, sizeof(sel), "%s", e->selector);
	if (!c->json && e->from == e->to && e->from != STORE_STATE_NONE) {
		/* a note (an alarm): the key stayed in its state */
		printf("%s %-22s %-8s %-11s %s\n", t, sel,
		    store_state_name(e->from), "(unchanged)", e->reason);
		return;
	}
	if (!c->json) {
		printf("%s %-22s %-8s -> %-8s %s\n", t, sel,
		    store_state_name(e->from), store_state_name(e->to),
		    e->reason);
		return;
	}
	cli_json_sep(first);
	printf("  {\"time\": \"%s\", \"selector\": ", t);
	cli_json_str(stdout, e->selector);
	printf(", \"from\": \"%s\", \"to\": \"%s\", \"key\": ",
	    store_state_name(e->from), store_state_name(e->to));
	if (e->kid[0] != '\0')
		cli_json_str(stdout, e->kid);
	else
		printf("null");
	if (e->slot > 0)
		printf(", \"slot\": %d", e->slot);
	printf(", \"reason\": ");
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
	int first = 1, keycol = 0;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc - 1 && optind != argc - 2)
		return cli_usage(c, "expected DOMAIN [SELECTOR|KEY-ID]");
	sel = optind == argc - 2 ? argv[optind + 1] : NULL;
	if ((s = cli_open(c, 1)) == NULL)
		return CLI_FAIL;
	domain = cli_lower(argv[optind]);
	if (store_history_load(s, domain, &ev, &n, err, sizeof(err)) != 0) {
		free(domain);
		store_close(s);
		return cli_fail("%s", err);
	}
	for (i = 0; i < n; i++)
		if (ev[i].slot > 0)
			keycol = 1;
	if (c->json)
		printf("[\n");
	for (i = 0; i < n; i++)
		if (sel == NULL || strcasecmp(sel, ev[i].selector) == 0 ||
		    strcasecmp(sel, ev[i].kid) == 0)
			history_row(c, &ev[i], keycol, &first);
	if (c->json)
		printf("%s]\n", first ? "" : "\n");
	store_history_free(ev, n);
	free(domain);
	store_close(s);
	return CLI_OK;
}
