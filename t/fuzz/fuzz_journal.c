/*
 * fuzz_journal - a keystore's journal as keyturnd follows it
 * (store_watch_open, store_watch_poll; the writer's swrite_journal;
 * libFuzzer entry)
 *
 * Input: three bytes, then the journal as the watch finds it, "\n=\n",
 * and what a writer does to it before the poll:
 *	byte 0, 1	the generation file at store_watch_open, at the poll
 *	byte 2		bit 0: the second part replaces the journal (a new
 *			file renamed over it, as a writer cuts it) instead of
 *			being appended; bit 1: then a write of d.test
 *			(swrite_journal, swrite_bump) and a second poll;
 *			bit 2: the journal removed before the poll
 * The keystore is made once per run. Properties: a poll reports as many
 * domains as it hands to its callback, each a valid domain name, one for
 * each generation it moved over (the lines are numbered without a gap),
 * and leaves the watch at the generation file's number, unless it is
 * STORE_WATCH_LOST. The poll after the write hands over d.test last,
 * unless it is LOST, when the journal the writer found could have been
 * written by keyturn: its complete lines all "GEN DOMAIN" lines, numbered
 * in increasing order (a journal edited into another order, or with a
 * damaged last line, may make the writer number its line as one further
 * up).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "store_int.h"

static struct store *fuzz_ro, *fuzz_rw;
static char *fuzz_journal, *fuzz_gen, *fuzz_tmp;

struct fuzz_seen {
	int	 n;
	char	 last[STORE_DOMAIN_MAX + 1];
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[1024], *dir = fz_path("ks", NULL);

	(void)argc;
	(void)argv;
	if (store_init(dir, err, sizeof(err)) == -1 ||
	    (fuzz_ro = store_open(dir, STORE_RDONLY, err,
	    sizeof(err))) == NULL ||
	    (fuzz_rw = store_open(dir, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_journal: %s\n", err);
		abort();
	}
	fuzz_journal = fz_path("ks", STORE_JOURNAL_FILE);
	fuzz_gen = fz_path("ks", STORE_GEN_FILE);
	fuzz_tmp = fz_path("ks", "journal.fuzz");
	free(dir);
	return 0;
}

/* fuzz_seen_one - the callback: every domain handed over is valid */
static void
fuzz_seen_one(const char *domain, void *arg)
{
	struct fuzz_seen *s = arg;
	char err[512];

	if (store_domain_valid(domain, err, sizeof(err)) == -1)
		abort();
	s->n++;
	strlcpy(s->last, domain, sizeof(s->last));
}

/* fuzz_generation - the generation file says g */
static void
fuzz_generation(unsigned g)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u\n", g);
	fz_write(fuzz_gen, buf, strlen(buf), 0600);
}

/*
 * fuzz_ahead - a known finding (findings/README, journal-ahead.bin): the
 * journal holds a line for a generation the keystore has not reached; a
 * watch that read it reports that line's domain for the generation a
 * later write reaches, not the write's. Such a journal is left out of the
 * write-after-poll check unless KT_FUZZ_STRICT is set.
 */
static int
fuzz_ahead(unsigned g)
{
	unsigned long long n;
	char line[512];
	FILE *f;
	int ahead = 0;

	if (getenv("KT_FUZZ_STRICT") != NULL ||
	    (f = fopen(fuzz_journal, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%llu ", &n) == 1 && n > g)
			ahead = 1;
	fclose(f);
	return ahead;
}

/* fuzz_poll - one poll and what must hold of it */
static int
fuzz_poll(struct store_watch *w, struct fuzz_seen *s)
{
	uint64_t before = store_watch_generation(w);
	uint64_t g = store_generation(fuzz_ro);
	int n;

	memset(s, 0, sizeof(*s));
	n = store_watch_poll(w, fuzz_seen_one, s);
	if (n == STORE_WATCH_LOST)
		return n;
	if (n != s->n || n < 0 || g < before || (uint64_t)n != g - before ||
	    store_watch_generation(w) != g)
		abort();
	return n;
}

/*
 * fuzz_ordered - every complete line of the journal is a "GEN DOMAIN"
 * line, in increasing order of GEN
 */
static int
fuzz_ordered(void)
{
	char *buf = NULL, *line, *sp, *end, err[512];
	unsigned long long g, last = 0;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int ok = 1, first = 1;

	if ((f = fopen(fuzz_journal, "r")) == NULL)
		return 1;
	while (ok && (len = getline(&buf, &cap, f)) > 0) {
		if (buf[len - 1] != '\n')
			break;		/* cut short: the writer cuts it off */
		buf[len - 1] = '\0';
		line = buf;
		if (strlen(line) != (size_t)len - 1)
			ok = 0;		/* a NUL */
		else if (first && strcmp(line, "keyturn-journal 1") == 0)
			;
		else {
			g = strtoull(line, &end, 10);
			sp = strchr(line, ' ');
			ok = sp != NULL && end == sp && sp > line &&
			    g > last && strspn(line, "0123456789") ==
			    (size_t)(sp - line) &&
			    store_domain_valid(sp + 1, err, sizeof(err)) == 0;
			last = g;
		}
		first = 0;
	}
	free(buf);
	fclose(f);
	return ok;
}

/* fuzz_change - what a writer did between the open and the poll */
static void
fuzz_change(int flags, const uint8_t *p, size_t n)
{
	FILE *f;

	if (flags & 4) {
		unlink(fuzz_journal);
		return;
	}
	if (flags & 1) {
		fz_write(fuzz_tmp, p, n, 0600);
		if (rename(fuzz_tmp, fuzz_journal) == -1)
			abort();
		return;
	}
	if ((f = fopen(fuzz_journal, "a")) == NULL)
		abort();
	if (n > 0 && fwrite(p, n, 1, f) != 1)
		abort();
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct store_watch *w;
	struct fuzz_seen s;
	const uint8_t *a, *b;
	size_t alen, blen;
	char err[1024];
	int g0, g1, flags, ordered, ahead;

	g0 = fz_byte(&in);
	g1 = fz_byte(&in);
	flags = fz_byte(&in);
	a = fz_part(&in, "\n=\n", &alen);
	b = fz_take(&in, in.n, &blen);
	fuzz_generation(g0);
	fz_write(fuzz_journal, a, alen, 0600);
	ahead = fuzz_ahead(g0);
	w = store_watch_open(fuzz_ro);
	fuzz_change(flags, b, blen);
	fuzz_generation(g1);
	(void)fuzz_poll(w, &s);
	if (flags & 2) {
		ordered = fuzz_ordered();
		if (swrite_journal(fuzz_rw, "d.test", err, sizeof(err)) == 0 &&
		    swrite_bump(fuzz_rw, err, sizeof(err)) == 0 &&
		    fuzz_poll(w, &s) != STORE_WATCH_LOST && ordered &&
		    !ahead &&
		    (s.n == 0 || strcmp(s.last, "d.test") != 0))
			abort();
	}
	store_watch_close(w);
	return 0;
}
