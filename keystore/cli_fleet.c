/*
 * cli_fleet - keyturn with a fleet (FleetEndpoints): the keystore is in
 * etcd and KeyStore is this host's mirror of it
 *
 * Every command works as without a fleet: cli_open first makes the
 * mirror equal to etcd (fleet_sync) and attaches the fleet, so the
 * command reads what etcd has and each write it makes is committed to
 * etcd (fleet.h). When etcd cannot be reached, a command that only reads
 * says so and shows the mirror as it is; one that writes fails. -K DIR
 * names a local keystore and leaves the fleet out.
 *
 * keyturn fleet status: the members, the leader, how far each mirror is
 * behind. keyturn fleet push: a local keystore uploaded once into an
 * empty prefix.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "conf.h"
#include "etcd.h"
#include "fleet.h"
#include "store.h"
#include "tagvalue.h"
#include "xmalloc.h"

static struct fleet *cli_fl;

/*
 * cli_fleet - the fleet of this command, read once (before the keystore's
 * owner is become: FleetKEK is root's); NULL without one. *failed is set
 * when there is one that cannot be used (said on stderr).
 */
struct fleet *
cli_fleet(struct cli *c, int *failed)
{
	char err[1024];

	*failed = 0;
	if (cli_fl != NULL)
		return cli_fl;
	if (c->conf == NULL || c->conf->fleet_endpoints == NULL ||
	    c->keystore != c->conf->keystore)
		return NULL;
	if ((cli_fl = fleet_new(c->conf, 0, err, sizeof(err))) == NULL) {
		*failed = 1;
		cli_fail("fleet: %s", err);
	}
	return cli_fl;
}

/*
 * cli_fleet_sync - the mirror made equal to etcd before a command (store
 * s opened for writing); CLI_OK, or CLI_FAIL for a command that writes
 * when etcd cannot be read
 */
int
cli_fleet_sync(struct cli *c, struct store *s, int rdonly)
{
	struct etcd *e;
	char err[1024];
	size_t changed, bad;
	int64_t rev;
	int r;

	if ((e = fleet_etcd(cli_fl, err, sizeof(err))) == NULL)
		return cli_fail("fleet: %s", err);
	r = fleet_sync_since(cli_fl, s, e, &rev, &changed, &bad, err,
	    sizeof(err));
	etcd_free(e);
	if (r == -1 && !rdonly)
		return cli_fail("fleet: %s: nothing was changed", err);
	if (r == -1)
		fprintf(stderr, "keyturn: fleet: %s: showing the mirror %s as "
		    "it is\n", err, c->keystore);
	else if (bad > 0)
		fprintf(stderr, "keyturn: fleet: %zu domains in etcd cannot "
		    "be used (above): the mirror keeps them as they were\n",
		    bad);
	return CLI_OK;
}

/* fleet_value - "k=v k=v" of a member or leader key, as a tag list */
static const char *
fleet_tag(const char *val, const char *tag, char *buf, size_t len)
{
	const char *p = val;
	size_t n = strlen(tag), m;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \n");
		if (strncmp(p, tag, n) == 0 && p[n] == '=') {
			p += n + 1;
			m = strcspn(p, " \n");
			if (m >= len)
				m = len - 1;
			memcpy(buf, p, m);
			buf[m] = '\0';
			return buf;
		}
		p += strcspn(p, " \n");
	}
	strlcpy(buf, "-", len);
	return buf;
}

int
cmd_fleet_status(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct etcd_status es;
	struct etcd_range rg, lr;
	struct etcd *e;
	char err[1024], *pre, *end, *lkey, host[256], pid[32], rev[32];
	char gen[32], upd[32], lead[8], lhost[256], lpid[32], age[64];
	size_t endlen, i, plen;
	int failed, first = 1;
	long long behind;
	time_t t;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc)
		return cli_usage(c, "no arguments expected");
	if (cli_fleet(c, &failed) == NULL)
		return failed ? CLI_FAIL : cli_fail("no fleet: %s has no "
		    "FleetEndpoints", c->conf != NULL && c->conf->path ?
		    c->conf->path : "the configuration");
	if ((e = fleet_etcd(cli_fl, err, sizeof(err))) == NULL)
		return cli_fail("fleet: %s", err);
	if (etcd_status(e, &es, err, sizeof(err)) == -1) {
		etcd_free(e);
		return cli_fail("fleet: %s", err);
	}
	pre = fleet_key(cli_fl, FLEET_MEMBERS, NULL);
	plen = strlen(pre);
	end = etcd_prefix_end(pre, plen, &endlen);
	lkey = fleet_key(cli_fl, FLEET_LEADER, NULL);
	memset(&rg, 0, sizeof(rg));
	memset(&lr, 0, sizeof(lr));
	if (etcd_range(e, pre, plen, end, endlen, 0, 0, 0, &rg, err,
	    sizeof(err)) == -1 || etcd_range(e, lkey, strlen(lkey), NULL, 0,
	    0, 0, 0, &lr, err, sizeof(err)) == -1) {
		free(pre);
		free(end);
		free(lkey);
		etcd_range_free(&rg);
		etcd_free(e);
		return cli_fail("fleet: %s", err);
	}
	if (lr.n == 1) {
		fleet_tag((char *)lr.kvs[0].value, "host", lhost,
		    sizeof(lhost));
		fleet_tag((char *)lr.kvs[0].value, "pid", lpid, sizeof(lpid));
	}
	t = time(NULL);
	if (c->json) {
		printf("{\"prefix\":");
		cli_json_str(stdout, fleet_prefix(cli_fl));
		printf(",\"endpoint\":");
		cli_json_str(stdout, etcd_endpoint(e));
		printf(",\"revision\":%" PRId64 ",\"leader\":", es.revision);
		if (lr.n == 1) {
			printf("{\"host\":");
			cli_json_str(stdout, lhost);
			printf(",\"pid\":%s,\"term\":%" PRId64 "}", lpid,
			    lr.kvs[0].create_rev);
		} else
			printf("null");
		printf(",\"members\":[");
	} else {
		printf("fleet %s at %s (etcd %s): revision %" PRId64 "\n",
		    fleet_prefix(cli_fl), etcd_endpoint(e), es.version,
		    es.revision);
		if (lr.n == 1)
			printf("rotation leader: %s pid %s, term %" PRId64 "\n",
			    lhost, lpid, lr.kvs[0].create_rev);
		else
			printf("rotation leader: none\n");
		printf("%-32s %7s %10s %7s %10s %8s %s\n", "MEMBER", "PID",
		    "REVISION", "BEHIND", "GENERATION", "UPDATED", "LEADER");
	}
	for (i = 0; i < rg.n; i++) {
		const char *v = (const char *)rg.kvs[i].value;
		time_t when = 0;

		fleet_tag(v, "host", host, sizeof(host));
		fleet_tag(v, "pid", pid, sizeof(pid));
		fleet_tag(v, "revision", rev, sizeof(rev));
		fleet_tag(v, "generation", gen, sizeof(gen));
		fleet_tag(v, "updated", upd, sizeof(upd));
		fleet_tag(v, "leader", lead, sizeof(lead));
		behind = es.revision - strtoll(rev, NULL, 10);
		if (behind < 0)
			behind = 0;
		(void)store_time_parse(upd, &when);
		cli_age(when > 0 && t > when ? (long long)(t - when) : 0, age,
		    sizeof(age));
		if (c->json) {
			cli_json_sep(&first);
			printf("{\"member\":");
			cli_json_str(stdout, (char *)rg.kvs[i].key + plen);
			printf(",\"host\":");
			cli_json_str(stdout, host);
			printf(",\"pid\":%s,\"revision\":%s,\"behind\":%lld,"
			    "\"generation\":%s,\"updated\":", pid, rev, behind,
			    gen);
			cli_json_str(stdout, upd);
			printf(",\"leader\":%s}", strcmp(lead, "yes") == 0 ?
			    "true" : "false");
		} else
			printf("%-32s %7s %10s %7lld %10s %8s %s\n",
			    (char *)rg.kvs[i].key + plen, pid, rev, behind,
			    gen, age, lead);
	}
	if (c->json)
		printf("]}\n");
	else if (rg.n == 0)
		printf("(no keyturnd is registered)\n");
	free(pre);
	free(end);
	free(lkey);
	etcd_range_free(&rg);
	etcd_range_free(&lr);
	etcd_free(e);
	return CLI_OK;
}

int
cmd_fleet_push(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct etcd *e;
	struct store *s;
	char err[1024];
	size_t n;
	int failed, r;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc)
		return cli_usage(c, "no arguments expected");
	if (cli_fleet(c, &failed) == NULL)
		return failed ? CLI_FAIL : cli_fail("no fleet: the "
		    "configuration has no FleetEndpoints (or -K was given)");
	/* the local keystore is the source: no sync, no write-through */
	if ((s = cli_open_local(c, 0)) == NULL)
		return CLI_FAIL;
	if ((e = fleet_etcd(cli_fl, err, sizeof(err))) == NULL) {
		store_close(s);
		return cli_fail("fleet: %s", err);
	}
	r = fleet_push(cli_fl, s, e, &n, err, sizeof(err));
	etcd_free(e);
	store_close(s);
	if (r == -1)
		return cli_fail("fleet push: %s", err);
	printf("%zu domains of %s pushed to %s under %s\n", n, c->keystore,
	    c->conf->fleet_endpoints, fleet_prefix(cli_fl));
	return CLI_OK;
}

/* cli_fleet_init - keyturn init with a fleet: the mirror, and etcd's
 * format key when the prefix has none */
int
cli_fleet_init(struct cli *c)
{
	struct etcd *e;
	char err[1024];
	int r;

	if ((e = fleet_etcd(cli_fl, err, sizeof(err))) == NULL)
		return cli_fail("fleet: %s", err);
	r = fleet_format(cli_fl, e, 1, err, sizeof(err));
	etcd_free(e);
	if (r == -1)
		return cli_fail("fleet: %s", err);
	printf("fleet keystore under %s at %s (FleetKEK %s)\n",
	    fleet_prefix(cli_fl), c->conf->fleet_endpoints,
	    fleet_kek_id(cli_fl));
	return CLI_OK;
}
