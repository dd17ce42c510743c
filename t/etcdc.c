/*
 * etcdc - keystore/etcd.h and keystore/kek.h from the command line, for
 * t/fleet_etcd.sh
 *
 *	etcdc -e ENDPOINTS [-C CA] [-c CERT] [-k KEY] [-u USER -p PWFILE]
 *	    [-t TIMEOUT_MS] [-T CONNECT_MS] COMMAND ARG...
 *	etcdc kek-id|kek-seal|kek-open KEKFILE [AAD]
 *
 * Commands (VALUE "-" is standard input, read to its end):
 *	get KEY			the value, raw; exit 2 when there is none
 *	put KEY VALUE [LEASE]	prints the revision
 *	del KEY / del-prefix PREFIX
 *	range PREFIX [PAGE]	etcd_range_all: "KEY VERSION MODREV VLEN"
 *				lines, then "revision R count N"
 *	count PREFIX		the number of keys under PREFIX
 *	range-limit PREFIX LIMIT one etcd_range: "N COUNT more|all"
 *	txn-create KEY VALUE	put if absent: "succeeded REV" or "failed REV"
 *	txn-mod KEY MODREV VALUE put if its mod revision is still MODREV
 *	watch PREFIX FROM_REV COUNT [IDLE_MS [CANCEL_FD]]
 *				"PUT KEY MODREV VLEN" / "DELETE KEY MODREV"
 *				until COUNT events; "compacted REV" and exit
 *				3 when FROM_REV is compacted; "canceled" when
 *				CANCEL_FD became readable
 *	lease-grant TTL		prints the lease id
 *	keepalive ID		prints the TTL left (0: expired)
 *	revoke ID
 *	status			"revision R leader L member M version V"
 *	members			"ID NAME URLS" lines
 *	batch			commands from standard input, one a line, on
 *				one client; after each, only "endpoint URL"
 *				(who answered) or "error MSG", one line
 * Exit: 0, 1 on an error (message on stderr), 2 for a missing key.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "kek.h"
#include "xmalloc.h"

#define VALUE_MAX	(64 * 1024 * 1024)

static char err[2048];
static FILE *cmdout;		/* stdout; nothing in batch */

/* num - a decimal argument, or exit */
static int64_t
num(const char *s, int64_t min, int64_t max)
{
	const char *errstr;
	long long v;

	v = strtonum(s, min, max, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "etcdc: %s: %s\n", s, errstr);
		exit(1);
	}
	return v;
}

/* value - the argument, or standard input for "-" */
static unsigned char *
value(const char *arg, size_t *len)
{
	unsigned char *p;
	size_t n = 0, cap = 65536, r;

	if (strcmp(arg, "-") != 0) {
		*len = strlen(arg);
		return (unsigned char *)xstrdup(arg);
	}
	p = xmalloc(cap);
	while ((r = fread(p + n, 1, cap - n, stdin)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= VALUE_MAX) {
				fprintf(stderr, "etcdc: value too large\n");
				exit(1);
			}
			cap *= 2;
			p = xreallocarray(p, cap, 1);
		}
	}
	*len = n;
	return p;
}

static int
cmd_get(struct etcd *e, char **av)
{
	struct etcd_range r;

	if (etcd_range(e, av[1], strlen(av[1]), NULL, 0, 0, 0, 0, &r, err,
	    sizeof(err)) != 0)
		return 1;
	if (r.n == 0) {
		etcd_range_free(&r);
		snprintf(err, sizeof(err), "%s: no such key", av[1]);
		return 2;
	}
	fwrite(r.kvs[0].value, 1, r.kvs[0].vlen, cmdout);
	etcd_range_free(&r);
	return 0;
}

/* txn1 - one operation under at most one compare */
static int
txn1(struct etcd *e, const struct etcd_cmp *c, const struct etcd_op *op,
    int report)
{
	int64_t rev;
	int rc;

	if ((rc = etcd_txn(e, c, c ? 1 : 0, op, 1, &rev, err,
	    sizeof(err))) == -1)
		return 1;
	if (report)
		fprintf(cmdout, "%s %" PRId64 "\n", rc ? "succeeded" : "failed",
		    rev);
	else
		fprintf(cmdout, "%" PRId64 "\n", rev);
	return 0;
}

static int
cmd_put(struct etcd *e, int ac, char **av)
{
	struct etcd_op op = { ETCD_PUT, av[1], NULL, 0, 0 };
	unsigned char *v;
	int rc;

	v = value(av[2], &op.vlen);
	op.value = v;
	if (ac > 3)
		op.lease = num(av[3], 1, INT64_MAX);
	rc = txn1(e, NULL, &op, 0);
	free(v);
	return rc;
}

static int
cmd_del(struct etcd *e, char **av, enum etcd_optype t)
{
	struct etcd_op op = { t, av[1], NULL, 0, 0 };

	return txn1(e, NULL, &op, 0);
}

static int
cmd_txn(struct etcd *e, char **av, int mod)
{
	struct etcd_cmp c = { .key = av[1],
	    .target = mod ? ETCD_MOD : ETCD_CREATE, .op = ETCD_EQ,
	    .num = mod ? num(av[2], 0, INT64_MAX) : 0 };
	struct etcd_op op = { ETCD_PUT, av[1], NULL, 0, 0 };
	unsigned char *v;
	int rc;

	v = value(av[mod ? 3 : 2], &op.vlen);
	op.value = v;
	rc = txn1(e, &c, &op, 1);
	free(v);
	return rc;
}

static int
cmd_range(struct etcd *e, int ac, char **av, int flags)
{
	struct etcd_range r;
	size_t i;

	if (etcd_range_all(e, av[1], ac > 2 ? num(av[2], 1, 100000) : 0,
	    flags, &r, err, sizeof(err)) == -1)
		return 1;
	if (flags & ETCD_COUNT_ONLY) {
		fprintf(cmdout, "%" PRId64 "\n", r.count);
		etcd_range_free(&r);
		return 0;
	}
	for (i = 0; i < r.n; i++)
		fprintf(cmdout, "%s %" PRId64 " %" PRId64 " %zu\n",
		    r.kvs[i].key, r.kvs[i].version, r.kvs[i].mod_rev,
		    r.kvs[i].vlen);
	fprintf(cmdout, "revision %" PRId64 " count %" PRId64 "\n", r.revision,
	    r.count);
	etcd_range_free(&r);
	return 0;
}

/* cmd_limit - one page, and what etcd says of the rest */
static int
cmd_limit(struct etcd *e, char **av)
{
	struct etcd_range r;
	size_t endlen;
	char *end = etcd_prefix_end(av[1], strlen(av[1]), &endlen);
	int rc;

	rc = etcd_range(e, av[1], strlen(av[1]), end, endlen, 0,
	    num(av[2], 1, INT64_MAX), ETCD_KEYS_ONLY, &r, err, sizeof(err));
	free(end);
	if (rc != 0)
		return 1;
	fprintf(cmdout, "%zu %" PRId64 " %s\n", r.n, r.count,
	    r.more ? "more" : "all");
	etcd_range_free(&r);
	return 0;
}

struct wcount {
	int64_t	 left;
};

/* on_events - print, and stop after the number asked for */
static int
on_events(const struct etcd_event *ev, size_t n, int64_t rev, void *arg)
{
	struct wcount *wc = arg;
	size_t i;

	for (i = 0; i < n && wc->left > 0; i++, wc->left--)
		if (ev[i].type == ETCD_EV_PUT)
			fprintf(cmdout, "PUT %s %" PRId64 " %zu\n",
			    ev[i].kv.key, ev[i].kv.mod_rev, ev[i].kv.vlen);
		else
			fprintf(cmdout, "DELETE %s %" PRId64 "\n", ev[i].kv.key,
			    ev[i].kv.mod_rev);
	if (n == 0)
		fprintf(cmdout, "PROGRESS %" PRId64 "\n", rev);
	fflush(cmdout);
	return wc->left == 0;
}

static int
cmd_watch(struct etcd *e, int ac, char **av)
{
	struct wcount wc;
	int64_t compact = 0;
	int rc;

	wc.left = num(av[3], 1, INT_MAX);
	rc = etcd_watch(e, av[1], num(av[2], 0, INT64_MAX),
	    ac > 5 ? (int)num(av[5], 0, INT_MAX) : -1,
	    ac > 4 ? (long)num(av[4], 0, INT_MAX) : 0, on_events, &wc,
	    &compact, err, sizeof(err));
	if (rc == ETCD_COMPACTED) {
		fprintf(cmdout, "compacted %" PRId64 "\n", compact);
		return 3;
	}
	if (rc == -1)
		return 1;
	if (wc.left > 0)
		fprintf(cmdout, "canceled\n");
	return 0;
}

static int
cmd_lease(struct etcd *e, const char *cmd, char **av)
{
	int64_t v, id = num(av[1], 1, INT64_MAX);

	if (strcmp(cmd, "lease-grant") == 0) {
		if (etcd_lease_grant(e, id, &v, err, sizeof(err)) == -1)
			return 1;
	} else if (strcmp(cmd, "keepalive") == 0) {
		if (etcd_lease_keepalive(e, id, &v, err, sizeof(err)) == -1)
			return 1;
	} else {
		if (etcd_lease_revoke(e, id, err, sizeof(err)) == -1)
			return 1;
		return 0;
	}
	fprintf(cmdout, "%" PRId64 "\n", v);
	return 0;
}

static int
cmd_status(struct etcd *e)
{
	struct etcd_status st;

	if (etcd_status(e, &st, err, sizeof(err)) == -1)
		return 1;
	fprintf(cmdout, "revision %" PRId64 " leader %" PRIu64 " member %"
	    PRIu64 " version %s\n", st.revision, st.leader, st.member,
	    st.version);
	return 0;
}

static int
cmd_members(struct etcd *e)
{
	struct etcd_member *m;
	size_t i, n;

	if (etcd_members(e, &m, &n, err, sizeof(err)) == -1)
		return 1;
	for (i = 0; i < n; i++)
		fprintf(cmdout, "%" PRIu64 " %s %s\n", m[i].id, m[i].name,
		    m[i].client_urls);
	etcd_members_free(m, n);
	return 0;
}

/* kek_cmd - the key file's id, or seal / open standard input */
static int
kek_cmd(int ac, char **av)
{
	unsigned char *in, *out;
	size_t inlen, outlen;
	struct kek *k;
	int rc;

	if (ac < 2 || (strcmp(av[0], "kek-id") != 0 && ac < 3)) {
		fprintf(stderr, "etcdc: %s KEKFILE [AAD]\n", av[0]);
		return 1;
	}
	if ((k = kek_load(av[1], err, sizeof(err))) == NULL)
		return 1;
	if (strcmp(av[0], "kek-id") == 0) {
		printf("%s\n", kek_id(k));
		kek_free(k);
		return 0;
	}
	in = value("-", &inlen);
	if (strcmp(av[0], "kek-seal") == 0)
		rc = kek_seal(k, av[2], strlen(av[2]), in, inlen, &out,
		    &outlen, err, sizeof(err));
	else
		rc = kek_open(k, av[2], strlen(av[2]), in, inlen, &out,
		    &outlen, err, sizeof(err));
	kek_free(k);
	free(in);
	if (rc == -1)
		return 1;
	fwrite(out, 1, outlen, stdout);
	free(out);
	return 0;
}

/* need - ac arguments at least, or a usage error */
static int
need(int ac, int want, const char *usage)
{
	if (ac >= want)
		return 0;
	snprintf(err, sizeof(err), "usage: %s", usage);
	return 1;
}

/* run - one command; 0, 1 (message in err) or 2 */
static int
run(struct etcd *e, int ac, char **av)
{
	const char *c = av[0];

	err[0] = '\0';
	if (strcmp(c, "get") == 0)
		return need(ac, 2, "get KEY") ? 1 : cmd_get(e, av);
	if (strcmp(c, "put") == 0)
		return need(ac, 3, "put KEY VALUE [LEASE]") ? 1 :
		    cmd_put(e, ac, av);
	if (strcmp(c, "del") == 0)
		return need(ac, 2, "del KEY") ? 1 : cmd_del(e, av, ETCD_DELETE);
	if (strcmp(c, "del-prefix") == 0)
		return need(ac, 2, "del-prefix PREFIX") ? 1 :
		    cmd_del(e, av, ETCD_DELETE_PREFIX);
	if (strcmp(c, "range") == 0)
		return need(ac, 2, "range PREFIX [PAGE]") ? 1 :
		    cmd_range(e, ac, av, 0);
	if (strcmp(c, "count") == 0)
		return need(ac, 2, "count PREFIX") ? 1 :
		    cmd_range(e, ac, av, ETCD_COUNT_ONLY);
	if (strcmp(c, "range-limit") == 0)
		return need(ac, 3, "range-limit PREFIX LIMIT") ? 1 :
		    cmd_limit(e, av);
	if (strcmp(c, "txn-create") == 0)
		return need(ac, 3, "txn-create KEY VALUE") ? 1 :
		    cmd_txn(e, av, 0);
	if (strcmp(c, "txn-mod") == 0)
		return need(ac, 4, "txn-mod KEY MODREV VALUE") ? 1 :
		    cmd_txn(e, av, 1);
	if (strcmp(c, "watch") == 0)
		return need(ac, 4, "watch PREFIX FROM_REV COUNT [IDLE_MS "
		    "[CANCEL_FD]]") ? 1 : cmd_watch(e, ac, av);
	if (strcmp(c, "lease-grant") == 0 || strcmp(c, "keepalive") == 0 ||
	    strcmp(c, "revoke") == 0)
		return need(ac, 2, "lease-grant TTL | keepalive ID | revoke "
		    "ID") ? 1 : cmd_lease(e, c, av);
	if (strcmp(c, "status") == 0)
		return cmd_status(e);
	if (strcmp(c, "members") == 0)
		return cmd_members(e);
	snprintf(err, sizeof(err), "%s: unknown command", c);
	return 1;
}

/* batch - one command a line on one client, as a daemon would use it */
static int
batch(struct etcd *e)
{
	char line[4096], *av[16], *s, *p;
	int ac, last = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((cmdout = fopen("/dev/null", "w")) == NULL) {
		snprintf(err, sizeof(err), "/dev/null: cannot open");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		for (ac = 0, s = line; ac < 15 &&
		    (p = strsep(&s, " \t")) != NULL;)
			if (*p != '\0')
				av[ac++] = p;
		if (ac == 0)
			continue;
		av[ac] = NULL;
		if ((last = run(e, ac, av)) != 0)
			printf("error %s\n", err);
		else
			printf("endpoint %s\n", etcd_endpoint(e));
		fflush(stdout);
	}
	return last;
}

/* password - the first line of a file */
static char *
password(const char *path)
{
	char buf[1024], *p;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL || fgets(buf, sizeof(buf),
	    f) == NULL) {
		fprintf(stderr, "etcdc: %s: cannot read a password\n", path);
		exit(1);
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	p = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return p;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: etcdc -e ENDPOINTS [-C CA] [-c CERT] "
	    "[-k KEY] [-u USER -p PWFILE] [-t MS] [-T MS] COMMAND ARG...\n"
	    "       etcdc kek-id|kek-seal|kek-open KEKFILE [AAD]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "endpoints", required_argument, NULL, 'e' },
		{ "ca", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct etcd_opts o = { 0 };
	struct etcd *e;
	char *pw = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "+e:C:c:k:u:p:t:T:", lo,
	    NULL)) != -1) {
		switch (ch) {
		case 'e': o.endpoints = optarg; break;
		case 'C': o.ca = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'u': o.user = optarg; break;
		case 'p':
			if (pw != NULL)
				freezero(pw, strlen(pw));
			pw = password(optarg);
			break;
		case 't': o.timeout_ms = num(optarg, 1, 600000); break;
		case 'T': o.connect_ms = num(optarg, 1, 600000); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strncmp(argv[0], "kek-", 4) == 0) {
		if ((rc = kek_cmd(argc, argv)) != 0)
			fprintf(stderr, "etcdc: %s\n", err);
		return rc;
	}
	o.password = pw;
	if (o.endpoints == NULL)
		usage();
	if ((e = etcd_new(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "etcdc: %s\n", err);
		return 1;
	}
	cmdout = stdout;
	if (strcmp(argv[0], "batch") == 0)
		rc = batch(e);
	else if ((rc = run(e, argc, argv)) != 0 && err[0] != '\0')
		fprintf(stderr, "etcdc: %s\n", err);
	etcd_free(e);
	if (pw != NULL)
		freezero(pw, strlen(pw));
	return rc;
}
