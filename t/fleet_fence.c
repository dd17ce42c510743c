/*
 * fleet_fence - a rotation leader whose term ended cannot commit: the
 * fence of fleet.h, exercised at the transaction itself
 *
 *	fleet_fence CONF DOMAIN
 *
 * With the fleet of CONF (its mirror initialized, DOMAIN in etcd), as
 * keyturnd's rotation does it (fleet_new with need_fence):
 *	1. it takes the lead: a lease, P leader created under it; the fence
 *	   set; a note on the domain's history commits;
 *	2. another leader takes over the way etcd makes one when the lease
 *	   of a paused leader expires: the lease revoked (P leader goes with
 *	   it), a new lease, P leader created again; this process is not
 *	   told and keeps its fence;
 *	3. a key is made: the write must fail, nothing of it in etcd or in
 *	   the mirror, and the fence must be gone (the leader stepped down).
 * Prints one line per step; exit 0 when every step held.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "etcd.h"
#include "fleet.h"
#include "log.h"
#include "store.h"

static int fails;

static void
check(int ok, const char *what, const char *err)
{
	printf("%s: %s%s%s\n", ok ? "ok" : "FAIL", what, err ? ": " : "",
	    err ? err : "");
	if (!ok)
		fails++;
}

/* lead - a lease and P leader under it; the term, or 0 */
static int64_t
lead(struct etcd *e, const char *key, int64_t *lease, char *err,
    size_t errlen)
{
	struct etcd_cmp cmp;
	struct etcd_op op;
	int64_t rev;

	if (etcd_lease_grant(e, 60, lease, err, errlen) == -1)
		return 0;
	memset(&cmp, 0, sizeof(cmp));
	cmp.key = key;
	cmp.target = ETCD_CREATE;
	cmp.op = ETCD_EQ;
	memset(&op, 0, sizeof(op));
	op.type = ETCD_PUT;
	op.key = key;
	op.value = "host=test";
	op.vlen = strlen(op.value);
	op.lease = *lease;
	if (etcd_txn(e, &cmp, 1, &op, 1, &rev, err, errlen) != 1)
		return 0;
	return rev;
}

int
main(int argc, char **argv)
{
	struct kt_conf *conf;
	struct fleet *f;
	struct etcd *e;
	struct store *st;
	struct etcd_range rg;
	char err[1024], sel[64], *lkey, *kkey;
	int64_t term, term2, lease, lease2, rev;
	size_t changed, bad;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: fleet_fence CONF DOMAIN\n");
		return 2;
	}
	log_init("fleet_fence", 1, LOG_INFO);
	if ((conf = conf_load(argv[1], NULL, NULL)) == NULL) {
		fprintf(stderr, "%s: cannot load\n", argv[1]);
		return 2;
	}
	if ((f = fleet_new(conf, 1, err, sizeof(err))) == NULL ||
	    (e = fleet_etcd(f, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fleet: %s\n", err);
		return 2;
	}
	fleet_attach(f);
	if ((st = store_open(conf->keystore, 0, err, sizeof(err))) == NULL ||
	    fleet_sync(f, st, e, &rev, &changed, &bad, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	lkey = fleet_key(f, FLEET_LEADER, NULL);

	/* without a fence nothing is written */
	r = store_key_new(st, argv[2], STORE_ALG_ED25519, 0, "nofence",
	    time(NULL), "test", sel, sizeof(sel), err, sizeof(err));
	check(r == -1 && strstr(err, "does not lead") != NULL,
	    "no fence: the write is refused", err);

	/* 1. the lead, and a write under it */
	term = lead(e, lkey, &lease, err, sizeof(err));
	check(term > 0, "P leader created: the term", term ? NULL : err);
	fleet_fence(f, term, lease);
	r = store_key_new(st, argv[2], STORE_ALG_ED25519, 0, "fenced1",
	    time(NULL), "test", sel, sizeof(sel), err, sizeof(err));
	check(r == 0, "a key made under the fence commits", r ? err : NULL);

	/* 2. the lease lost, another leader */
	check(etcd_lease_revoke(e, lease, err, sizeof(err)) == 0,
	    "the lease revoked (P leader gone with it)", NULL);
	term2 = lead(e, lkey, &lease2, err, sizeof(err));
	check(term2 > term, "another leader's term", term2 ? NULL : err);

	/* 3. the old fence: refused by etcd */
	check(fleet_leading(f, NULL) == 1, "the old leader still thinks it "
	    "leads", NULL);
	r = store_key_new(st, argv[2], STORE_ALG_ED25519, 0, "stale",
	    time(NULL), "test", sel, sizeof(sel), err, sizeof(err));
	check(r == -1 && strstr(err, "not committed") != NULL,
	    "a key made under the old fence is refused", err);
	kkey = fleet_key(f, FLEET_DOMAINS, argv[2]);
	memset(&rg, 0, sizeof(rg));
	{
		char *k = NULL;

		if (asprintf(&k, "%s/keys/stale.pem", kkey) == -1)
			return 2;
		r = etcd_range(e, k, strlen(k), NULL, 0, 0, 0, 0, &rg, err,
		    sizeof(err));
		check(r == 0 && rg.n == 0, "etcd has no key stale", NULL);
		free(k);
	}
	etcd_range_free(&rg);
	{
		struct store_domain *d;

		d = store_domain_load(st, argv[2], 0, err, sizeof(err));
		check(d != NULL && store_domain_key(d, "stale") == NULL &&
		    store_domain_key(d, "fenced1") != NULL,
		    "the mirror has fenced1 and no stale", d ? NULL : err);
		store_domain_free(d);
	}
	check(fleet_leading(f, NULL) == 0, "the old leader stepped down",
	    NULL);
	(void)etcd_lease_revoke(e, lease2, err, sizeof(err));
	free(kkey);
	free(lkey);
	store_close(st);
	etcd_free(e);
	fleet_free(f);
	conf_free(conf);
	return fails ? 1 : 0;
}
