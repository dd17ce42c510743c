/*
 * keystore_bench - how long a daemon snapshot of a big keystore takes
 *
 *	keystore_bench [-n DOMAINS] [-k DIR]
 *
 * Builds a keystore of DOMAINS domains (default 10,000) with 3 keys each:
 * an active RSA-2048 key, a ready RSA-2048 key and an active Ed25519 key.
 * One domain is made through the library; the others are copies of its
 * files (generating 30,000 RSA keys would take hours), but the loader
 * still reads and parses every file and every private key it is asked
 * for. Then it measures, with the files in the page cache:
 *   - a full snapshot with the active keys parsed (what keyturnd loads),
 *     its time and resident memory;
 *   - the same with every key parsed;
 *   - a reload when nothing changed;
 *   - a reload after one domain rotated (the swap ready -> active, oldest
 *     active -> retiring), which must parse that one domain only.
 * Memory is the heap in use (mallinfo2) and the growth of the resident set.
 */
#include "config.h"

#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static char e[1024];

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* rss_kb - resident set size of this process */
static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* copy - one file, same mode */
static void
copy(const char *from, const char *to)
{
	char buf[65536];
	int in, out;
	ssize_t n;

	if ((in = open(from, O_RDONLY)) == -1 ||
	    (out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		err(1, "%s", to);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			err(1, "%s", to);
	close(in);
	close(out);
}

/* template - the first domain, made through the library */
static void
template(struct store *s, const char *name, char sel[3][64])
{
	struct store_policy p;
	struct store_change c[3];
	time_t t = time(NULL) - 86400;

	store_policy_default(&p);
	p.algs |= STORE_ALGBIT(STORE_ALG_ED25519);
	p.active_keys = 1;
	if (store_domain_add(s, name, &p, t, e, sizeof(e)) == -1 ||
	    store_key_new(s, name, STORE_ALG_RSA, 2048, NULL, t, "bench",
	    sel[0], 64, e, sizeof(e)) == -1 ||
	    store_key_new(s, name, STORE_ALG_RSA, 2048, NULL, t, "bench",
	    sel[1], 64, e, sizeof(e)) == -1 ||
	    store_key_new(s, name, STORE_ALG_ED25519, 0, NULL, t, "bench",
	    sel[2], 64, e, sizeof(e)) == -1)
		errx(1, "%s", e);
	c[0] = (struct store_change){ sel[0], STORE_PENDING, STORE_ACTIVE,
	    "bench" };
	c[1] = (struct store_change){ sel[1], STORE_PENDING, STORE_READY,
	    "bench" };
	c[2] = (struct store_change){ sel[2], STORE_PENDING, STORE_ACTIVE,
	    "bench" };
	if (store_apply(s, name, c, 3, t, STORE_FORCE, e, sizeof(e)) == -1)
		errx(1, "%s", e);
}

/* clone - domain i as a copy of the template's files */
static void
clone_domain(const char *ks, const char *tpl, int i, char sel[3][64])
{
	static const char *const files[] = { "policy", "state", "history" };
	char dir[300], from[700], to[700];
	int j;

	snprintf(dir, sizeof(dir), "%s/d%d.bench.example", ks, i);
	snprintf(to, sizeof(to), "%s/keys", dir);
	if (mkdir(dir, 0700) == -1 || mkdir(to, 0700) == -1)
		err(1, "%s", dir);
	for (j = 0; j < 3; j++) {
		snprintf(from, sizeof(from), "%s/%s/%s", ks, tpl, files[j]);
		snprintf(to, sizeof(to), "%s/%s", dir, files[j]);
		copy(from, to);
		snprintf(from, sizeof(from), "%s/%s/keys/%s.pem", ks, tpl,
		    sel[j]);
		snprintf(to, sizeof(to), "%s/keys/%s.pem", dir, sel[j]);
		copy(from, to);
	}
}

/* measure - one full load; prints time and memory */
static struct store_set *
measure(struct store *s, int flags, const char *what)
{
	struct store_set *set;
	long rss0 = rss_kb();
	size_t heap0 = mallinfo2().uordblks;
	double t0 = now_ms(), t1;

	if ((set = store_set_load(s, flags, e, sizeof(e))) == NULL)
		errx(1, "%s", e);
	t1 = now_ms();
	printf("%-40s %9.1f ms  heap +%.1f MB  RSS +%.1f MB  (%zu domains)\n",
	    what, t1 - t0, (mallinfo2().uordblks - heap0) / 1048576.0,
	    (rss_kb() - rss0) / 1024.0, set->n);
	return set;
}

/* reload - one reload against old; prints time and domains parsed */
static struct store_set *
reload(struct store *s, struct store_set *old, const char *what)
{
	struct store_set *set;
	size_t parsed;
	double t0 = now_ms(), t1;

	set = store_set_reload(s, old, STORE_KEYS_ACTIVE, &parsed, e,
	    sizeof(e));
	if (set == NULL)
		errx(1, "%s", e);
	t1 = now_ms();
	printf("%-40s %9.1f ms  %zu domain(s) parsed\n", what, t1 - t0,
	    parsed);
	return set;
}

int
main(int argc, char **argv)
{
	char ks[256] = "/tmp/ktbench.XXXXXX", sel[3][64], cmd[300], one[64];
	const char *dir = NULL;
	struct store_set *a, *b, *c;
	struct store_change sw[2];
	struct store *s;
	int ch, n = 10000, i;
	double t0;

	while ((ch = getopt(argc, argv, "n:k:")) != -1) {
		if (ch == 'n')
			n = atoi(optarg);
		else if (ch == 'k')
			dir = optarg;
		else
			errx(2, "usage: keystore_bench [-n DOMAINS] [-k DIR]");
	}
	if (dir != NULL)
		snprintf(ks, sizeof(ks), "%s", dir);
	else if (mkdtemp(ks) == NULL)
		err(1, "mkdtemp");
	if (store_init(ks, e, sizeof(e)) == -1 ||
	    (s = store_open(ks, 0, e, sizeof(e))) == NULL)
		errx(1, "%s", e);
	t0 = now_ms();
	template(s, "d0.bench.example", sel);
	for (i = 1; i < n; i++)
		clone_domain(ks, "d0.bench.example", i, sel);
	printf("keystore %s: %d domains x 3 keys built in %.0f ms\n", ks, n,
	    now_ms() - t0);

	a = measure(s, STORE_KEYS_ACTIVE, "snapshot, active keys parsed");
	store_set_free(a);
	b = measure(s, STORE_KEYS_ALL, "snapshot, all keys parsed");
	store_set_free(b);
	a = measure(s, STORE_KEYS_ACTIVE, "snapshot again (the old one)");
	b = reload(s, a, "reload, nothing changed");
	store_set_free(b);
	sw[0] = (struct store_change){ sel[1], STORE_READY, STORE_ACTIVE,
	    "bench: rotation" };
	sw[1] = (struct store_change){ sel[0], STORE_ACTIVE, STORE_RETIRING,
	    "bench: rotation" };
	t0 = now_ms();
	snprintf(one, sizeof(one), "d%d.bench.example", n / 2);
	if (store_apply(s, one, sw, 2, time(NULL), 0, e,
	    sizeof(e)) == -1)
		errx(1, "%s", e);
	printf("%-40s %9.1f ms\n", "rotation swap write (fsync'd)",
	    now_ms() - t0);
	c = reload(s, a, "reload after one domain rotated");
	if (store_set_find(c, one)->keys[0].state !=
	    STORE_RETIRING)
		errx(1, "reload missed the rotation");
	store_set_free(c);
	store_set_free(a);
	store_close(s);
	if (dir == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", ks);
		if (system(cmd) != 0)
			warnx("could not remove %s", ks);
	}
	return 0;
}
