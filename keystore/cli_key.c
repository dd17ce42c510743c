/*
 * cli_key - keyturn key new|import and the operator's transitions:
 * activate, retire, revoke, compromised
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xmalloc.h"

/* key_show_record - the selector and the record to publish for it */
static int
key_show_record(struct store *s, const char *domain, const char *sel)
{
	struct store_domain *d;
	const struct store_key *k;
	char err[1024], *txt, *name;

	if ((d = store_domain_load(s, domain, 0, err, sizeof(err))) == NULL)
		return cli_fail("%s", err);
	if ((k = store_domain_key(d, sel)) == NULL) {
		store_domain_free(d);
		return cli_fail("key %s vanished from %s", sel, domain);
	}
	txt = store_key_txt(k);
	name = cli_dns_name(k->selector, domain);
	printf("%s\n", k->selector);
	cli_zone_line(stdout, name, txt);
	fprintf(stderr, "keyturn: key %s of %s is pending: publish the record "
	    "above; the rotation activates it once DNS confirms it\n",
	    k->selector, domain);
	free(txt);
	free(name);
	store_domain_free(d);
	return CLI_OK;
}

/*
 * key_show_slot - a new slot key: its selector, then the record the
 * publish hook puts under the provider's zone (the customer's CNAME
 * already points there)
 */
static int
key_show_slot(struct store *s, const char *domain, const char *kid)
{
	struct store_domain *d;
	const struct store_key *k;
	char err[1024], target[STORE_DOMAIN_MAX + 2], *txt;

	if ((d = store_domain_load(s, domain, 0, err, sizeof(err))) == NULL)
		return cli_fail("%s", err);
	if ((k = store_domain_kid(d, kid)) == NULL ||
	    store_slot_names(&d->policy, domain, k->slot, NULL, 0, target,
	    sizeof(target) - 1, err, sizeof(err)) == -1) {
		store_domain_free(d);
		return cli_fail("key %s vanished from %s", kid, domain);
	}
	strlcat(target, ".", sizeof(target));
	txt = store_key_txt(k);
	printf("%s\n; slot %d %s key %s\n", k->selector, k->slot,
	    store_state_name(k->state), k->kid);
	cli_zone_line(stdout, target, txt);
	fprintf(stderr, "keyturn: key %s of %s (slot %d, %s) is pending: "
	    "publish the record above in %s; the rotation activates it once "
	    "DNS confirms it through the customer's CNAME\n", k->kid, domain,
	    k->slot, k->selector, d->policy.delegate_to);
	free(txt);
	store_domain_free(d);
	return CLI_OK;
}

/* key_new_slot - keyturn key new DOMAIN [--slot N] of a delegated domain */
static int
key_new_slot(struct cli *c, struct store *s, const char *domain, int slot,
    enum store_alg alg, int bits)
{
	char err[1024], kid[STORE_KID_LEN + 1], reason[64];

	snprintf(reason, sizeof(reason), "operator: keyturn key new%s",
	    slot ? " --slot" : "");
	/* what the slot's target served before is not known here: -1 */
	if (store_slot_key_new(s, domain, slot, alg, bits, -1, c->now, reason,
	    kid, sizeof(kid), err, sizeof(err)) == -1)
		return cli_fail("%s", err);
	return key_show_slot(s, domain, kid);
}

/* key_default_alg - the first algorithm of the domain's policy */
static int
key_default_alg(struct store *s, const char *domain, enum store_alg *alg,
    int *delegated)
{
	struct store_domain *d;
	char err[1024];

	if ((d = store_domain_load(s, domain, 0, err, sizeof(err))) == NULL)
		return cli_fail("%s", err);
	*alg = (d->policy.algs & STORE_ALGBIT(STORE_ALG_RSA)) ?
	    STORE_ALG_RSA : STORE_ALG_ED25519;
	*delegated = d->policy.slots > 0;
	store_domain_free(d);
	return CLI_OK;
}

/* cmd_key_new - keyturn key new DOMAIN [--algorithm A] [--bits N] ... */
int
cmd_key_new(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "algorithm", required_argument, NULL, 'a' },
		{ "bits", required_argument, NULL, 'b' },
		{ "selector", required_argument, NULL, 's' },
		{ "slot", required_argument, NULL, 'n' },
		CLI_COMMON_OPTS, { 0 }
	};
	char err[1024], sel[STORE_SELECTOR_MAX + 1], *domain;
	const char *want = NULL;
	enum store_alg alg = STORE_ALG_RSA, palg = STORE_ALG_RSA;
	struct store *s;
	int ch, bits = 0, have_alg = 0, slot = 0, delegated = 0, r;

	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'a' && store_alg_parse(optarg, &alg) == -1)
			return cli_usage(c, "--algorithm %s: use rsa or "
			    "ed25519", optarg);
		else if (ch == 'a')
			have_alg = 1;
		else if (ch == 'b') {
			if (cli_parse_int("--bits", optarg, 1, 65536,
			    &bits) == -1)
				return CLI_USAGE;
		} else if (ch == 's')
			want = optarg;
		else if (ch == 'n') {
			if (cli_parse_int("--slot", optarg, 1, STORE_SLOTS_MAX,
			    &slot) == -1)
				return CLI_USAGE;
		} else
			return CLI_USAGE;
	}
	if (want != NULL && slot != 0)
		return cli_usage(c, "--selector or --slot: a slot's selector "
		    "is the slot's");
	if (optind != argc - 1)
		return cli_usage(c, "expected one DOMAIN");
	if (bits != 0 && have_alg && alg == STORE_ALG_ED25519)
		return cli_usage(c, "--bits is for RSA keys only");
	if ((s = cli_open(c, 0)) == NULL)
		return CLI_FAIL;
	domain = cli_lower(argv[optind]);
	r = key_default_alg(s, domain, &palg, &delegated);
	if (!have_alg)
		alg = palg;
	if (r == CLI_OK && slot != 0 && !delegated)
		r = cli_fail("%s is not delegated: it has no slots (--slot is "
		    "for a domain added with --delegate-to)", domain);
	else if (r == CLI_OK && delegated && want != NULL)
		r = cli_fail("%s is delegated: its selectors are its slots'; "
		    "use keyturn key new %s [--slot N]", domain, domain);
	else if (r == CLI_OK && delegated) {
		r = key_new_slot(c, s, domain, slot, alg, bits);
		free(domain);
		store_close(s);
		return r;
	}
	if (r == CLI_OK && store_key_new(s, domain, alg, bits, want, c->now,
	    "operator: keyturn key new", sel, sizeof(sel), err,
	    sizeof(err)) == -1)
		r = cli_fail("%s", err);
	if (r == CLI_OK)
		r = key_show_record(s, domain, sel);
	free(domain);
	store_close(s);
	return r;
}

/* cmd_key_import - keyturn key import DOMAIN SELECTOR FILE.pem */
int
cmd_key_import(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct store *s;
	char err[1024], *domain;
	int r = CLI_OK;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc - 3)
		return cli_usage(c, "expected DOMAIN SELECTOR FILE.pem");
	if ((s = cli_open(c, 0)) == NULL)
		return CLI_FAIL;
	domain = cli_lower(argv[optind]);
	if (store_key_import(s, domain, argv[optind + 1], argv[optind + 2],
	    c->now, "operator: keyturn key import", err, sizeof(err)) == -1)
		r = cli_fail("%s", err);
	else
		r = key_show_record(s, domain, argv[optind + 1]);
	free(domain);
	store_close(s);
	return r;
}

/* key_args - DOMAIN SELECTOR [--force]; CLI_OK with them set */
static int
key_args(struct cli *c, int argc, char **argv, int allow_force, int *force)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, CLI_COMMON_OPTS, { 0 }
	};
	int ch;

	*force = 0;
	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'f' || !allow_force)
			return ch == 'f' ? cli_usage(c, "--force is not an "
			    "option of this command") : CLI_USAGE;
		*force = 1;
	}
	if (optind != argc - 2)
		return cli_usage(c, "expected DOMAIN SELECTOR");
	return CLI_OK;
}

/* key_warn_unsigned - say so when an algorithm has no active key left */
static void
key_warn_unsigned(struct store *s, const char *domain)
{
	struct store_domain *d;
	char err[1024];
	size_t i;
	int a;

	if ((d = store_domain_load(s, domain, 0, err, sizeof(err))) == NULL)
		return;
	for (a = 0; a < STORE_NALGS; a++) {
		if (!(d->policy.algs & STORE_ALGBIT(a)) ||
		    store_domain_count(d, a, STORE_ACTIVE) > 0)
			continue;
		for (i = 0; i < d->nkeys; i++)
			if (d->keys[i].alg == (enum store_alg)a &&
			    d->keys[i].state == STORE_READY)
				break;
		if (i < d->nkeys)
			fprintf(stderr, "keyturn: warning: %s has no active %s "
			    "key now: keyturnd tempfails its mail until one is "
			    "activated (keyturn activate %s %s)\n", domain,
			    store_alg_name(a), domain, d->keys[i].selector);
		else
			fprintf(stderr, "keyturn: warning: %s has no active %s "
			    "key now and no ready standby: create one (keyturn "
			    "key new %s), publish it and activate it\n", domain,
			    store_alg_name(a), domain);
	}
	store_domain_free(d);
}

/* key_move - one operator transition of one key */
static int
key_move(struct cli *c, int argc, char **argv, enum store_state to,
    int allow_force)
{
	struct store_domain *d;
	const struct store_key *k;
	struct store_change ch;
	struct store *s;
	char err[1024], reason[128], *domain;
	int force, r = CLI_FAIL;

	if (key_args(c, argc, argv, allow_force, &force) != CLI_OK)
		return CLI_USAGE;
	if ((s = cli_open(c, 0)) == NULL)
		return CLI_FAIL;
	domain = cli_lower(argv[optind]);
	if ((d = store_domain_load(s, domain, 0, err, sizeof(err))) == NULL)
		cli_fail("%s", err);
	else if ((k = store_domain_key(d, argv[optind + 1])) == NULL)
		cli_fail("domain %s has no key %s (see keyturn list %s)",
		    domain, argv[optind + 1], domain);
	else {
		snprintf(reason, sizeof(reason), "operator: keyturn %s%s",
		    c->cmdname, force ? " --force" : "");
		ch = (struct store_change){ k->selector, k->state, to, reason };
		if (store_apply(s, domain, &ch, 1, c->now,
		    force ? STORE_FORCE : STORE_KEEP_SIGNING, err,
		    sizeof(err)) == -1)
			cli_fail("%s", err);
		else {
			if (ch.from == STORE_PENDING && to == STORE_ACTIVE)
				fprintf(stderr, "keyturn: warning: %s is "
				    "pending: its DNS record is not confirmed, "
				    "mail signed with it may fail "
				    "verification\n", k->selector);
			printf("key %s of %s: %s -> %s\n", k->selector, domain,
			    store_state_name(ch.from), store_state_name(to));
			if (ch.from == STORE_ACTIVE)
				key_warn_unsigned(s, domain);
			r = CLI_OK;
		}
	}
	store_domain_free(d);
	free(domain);
	store_close(s);
	return r;
}

/* cmd_activate - keyturn activate DOMAIN SELECTOR [--force] */
int
cmd_activate(struct cli *c, int argc, char **argv)
{
	return key_move(c, argc, argv, STORE_ACTIVE, 1);
}

/*
 * cmd_retire - keyturn retire DOMAIN SELECTOR [--force]; the last active
 * key of an algorithm only with --force
 */
int
cmd_retire(struct cli *c, int argc, char **argv)
{
	return key_move(c, argc, argv, STORE_RETIRING, 1);
}

/* cmd_revoke - keyturn revoke DOMAIN SELECTOR */
int
cmd_revoke(struct cli *c, int argc, char **argv)
{
	return key_move(c, argc, argv, STORE_REVOKED, 0);
}

/* cmd_compromised - keyturn compromised DOMAIN SELECTOR */
int
cmd_compromised(struct cli *c, int argc, char **argv)
{
	struct store *s;
	char err[1024], promoted[STORE_SELECTOR_MAX + 1], *domain;
	int force, r = CLI_OK;

	if (key_args(c, argc, argv, 0, &force) != CLI_OK)
		return CLI_USAGE;
	if ((s = cli_open(c, 0)) == NULL)
		return CLI_FAIL;
	domain = cli_lower(argv[optind]);
	if (store_compromised(s, domain, argv[optind + 1], c->now,
	    "operator: keyturn compromised", promoted, sizeof(promoted), err,
	    sizeof(err)) == -1)
		r = cli_fail("%s", err);
	else {
		printf("key %s of %s revoked: publish \"v=DKIM1; p=\" for it "
		    "now (keyturn dns %s)\n", argv[optind + 1], domain, domain);
		if (promoted[0] != '\0')
			printf("standby key %s is active now\n", promoted);
		else
			key_warn_unsigned(s, domain);
	}
	free(domain);
	store_close(s);
	return r;
}
