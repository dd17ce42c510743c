/*
 * storejournal - which domains changed, without a walk of the keystore
 *
 * KEYSTORE/journal is a text file:
 *
 *	keyturn-journal 1
 *	GEN DOMAIN
 *	...
 *
 * Every write of a domain appends "GEN DOMAIN" under the keystore lock
 * before the rename that commits it, and then bumps the generation file to
 * GEN. GEN is one more than the last line's (or than the generation file,
 * whichever is higher), so the lines carry consecutive numbers: a line
 * left by a writer that died before its bump (its change may be on disk
 * already) keeps its number, and the next write takes the one after it
 * and bumps past both. A reader that sees the generation file say G has
 * every line up to G in the journal and reads only those; a line past G
 * belongs to a write not committed yet. A number missing from the
 * sequence (a keystore written by a keyturn that kept no journal, a
 * journal removed or rewritten, a generation file that went back) tells
 * the reader to read again everything it holds.
 *
 * The journal is not fsync'd: it is for daemons that run while it is
 * written, and a machine that crashed starts them with nothing cached.
 * A line cut short by a writer that died (a full file system) is cut off
 * by the next writer before it appends. When the file passes JOURNAL_MAX
 * bytes the writer replaces it by its newest lines (at most JOURNAL_KEEP
 * bytes); a reader still on the old file reads it to its end, then goes
 * on in the new one past the numbers it has read.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "xmalloc.h"

#define JOURNAL_HEADER	"keyturn-journal 1\n"
#define JOURNAL_MAX	(1024 * 1024)	/* bytes before it is cut */
#define JOURNAL_KEEP	(256 * 1024)	/* newest bytes kept */
#define JOURNAL_LINE	(24 + STORE_DOMAIN_MAX + 2)	/* longest line */
#define JOURNAL_BUF	(64 * 1024)

struct store_watch {
	struct store	*store;
	char		*path;
	int		 fd;		/* -1: no journal open */
	off_t		 off;		/* first byte not consumed */
	uint64_t	 gen;		/* every line up to it consumed */
	char		*buf;
};

/* sjournal_line - "GEN DOMAIN" at p (len bytes, newline excluded) */
static int
sjournal_line(const char *p, size_t len, uint64_t *gen, char *dom,
    size_t domlen)
{
	char line[JOURNAL_LINE + 1], *sp, *end, e[64];

	if (len == 0 || len > JOURNAL_LINE)
		return -1;
	memcpy(line, p, len);
	line[len] = '\0';
	if ((sp = strchr(line, ' ')) == NULL || sp == line)
		return -1;
	*sp = '\0';
	if (strspn(line, "0123456789") != (size_t)(sp - line))
		return -1;
	errno = 0;
	*gen = strtoull(line, &end, 10);
	if (errno != 0 || *end != '\0' || *gen == 0 ||
	    store_domain_valid(sp + 1, e, sizeof(e)) == -1 ||
	    strlen(sp + 1) >= domlen)
		return -1;
	snprintf(dom, domlen, "%s", sp + 1);
	return 0;
}

/* sjournal_cut - a new journal of the newest lines of buf */
static int
sjournal_cut(const char *path, const char *buf, size_t len, char *err,
    size_t errlen)
{
	const char *p = buf + (len > JOURNAL_KEEP ? len - JOURNAL_KEEP : 0);
	const char *end = buf + len;
	char *text;
	int r;

	if (p > buf && (p = memchr(p - 1, '\n', (size_t)(end - p + 1))) !=
	    NULL)
		p++;
	if (p == NULL)
		p = end;
	text = xasprintf("%s%.*s", JOURNAL_HEADER, (int)(end - p), p);
	r = store_file_replace(path, text, strlen(text), 0600, err, errlen);
	free(text);
	return r;
}

/*
 * sjournal_tail - cut a last line left without its newline; the number of
 * the last complete line in *last (0: none)
 */
static int
sjournal_tail(int fd, off_t size, uint64_t *last)
{
	char buf[2 * JOURNAL_LINE + 2], dom[STORE_DOMAIN_MAX + 2];
	off_t start = size > (off_t)sizeof(buf) ? size - (off_t)sizeof(buf) :
	    0, keep;
	ssize_t got;
	char *nl, *prev;

	*last = 0;
	if ((got = pread(fd, buf, sizeof(buf), start)) < 0)
		return -1;
	if (got > 0 && buf[got - 1] != '\n') {
		/* a line cut short by a writer that died: cut it off */
		for (keep = start + got - 1; keep > 0; keep--) {
			char c;

			if (pread(fd, &c, 1, keep - 1) == 1 && c == '\n')
				break;
		}
		if (ftruncate(fd, keep) == -1)
			return -1;
		return sjournal_tail(fd, keep, last);
	}
	if (got < 2)
		return 0;
	buf[got - 1] = '\0';		/* the last newline */
	prev = (nl = strrchr(buf, '\n')) != NULL ? nl + 1 : buf;
	if (sjournal_line(prev, strlen(prev), last, dom, sizeof(dom)) == -1)
		*last = 0;		/* the header, or a damaged line */
	return 0;
}

/*
 * swrite_journal - "GEN DOMAIN" for the write about to be committed; the
 * caller holds the lock. Nothing is written (and the change must not be
 * made) when it fails. One line per domain per write: a write that
 * changes two files of a domain announces it once.
 */
int
swrite_journal(struct store *s, const char *domain, char *err, size_t errlen)
{
	char *path = store_path(s, STORE_JOURNAL_FILE, NULL, NULL), *buf;
	char line[JOURNAL_LINE + 2];
	struct stat st;
	uint64_t last, gen;
	size_t len;
	int fd, r = -1;

	if (s->jgen != 0 && s->jdomain != NULL &&
	    strcmp(s->jdomain, domain) == 0) {
		free(path);
		return 0;
	}
	errno = 0;
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || fstat(fd, &st) == -1)
		goto fail;
	if (st.st_uid != s->owner || (st.st_mode & 022) ||
	    !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a file owned by uid %lu with "
		    "mode 0600", path, (unsigned long)s->owner);
		goto out;
	}
	if (sjournal_tail(fd, st.st_size, &last) == -1 ||
	    fstat(fd, &st) == -1)
		goto fail;
	if (st.st_size == 0 &&
	    write(fd, JOURNAL_HEADER, strlen(JOURNAL_HEADER)) !=
	    (ssize_t)strlen(JOURNAL_HEADER))
		goto fail;
	gen = store_generation(s);
	gen = (last > gen ? last : gen) + 1;
	snprintf(line, sizeof(line), "%" PRIu64 " %s\n", gen, domain);
	len = strlen(line);
	if (write(fd, line, len) != (ssize_t)len)
		goto fail;
	s->jgen = gen;
	free(s->jdomain);
	s->jdomain = xstrdup(domain);
	r = 0;
	if (fstat(fd, &st) == 0 && st.st_size > JOURNAL_MAX) {
		close(fd);
		fd = -1;
		buf = NULL;
		if (sfile_read(s->owner, path, 0, &buf, &len, NULL, err,
		    errlen) == -1 || sjournal_cut(path, buf, len, err,
		    errlen) == -1)
			r = -1;
		free(buf);
	}
	goto out;
fail:
	snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) :
	    "short write");
out:
	if (fd != -1)
		close(fd);
	free(path);
	return r;
}

/* swatch_open_file - the journal as it is now; -1: none (or not ours) */
static int
swatch_open_file(struct store_watch *w)
{
	struct stat st;
	int fd;

	if ((fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != w->store->owner || (st.st_mode & 022)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * swatch_read - the complete lines of w->fd from w->off. With fn: each
 * line numbered *expect is handed to fn and *expect moves on, lines below
 * it are skipped (read already, in a journal this one replaced), a line
 * past upto stops the reading there (not committed yet), and a gap or a
 * line that does not parse is -1. Without fn (placing a reader): the
 * offset moves past every line up to upto, and stops before upto + 1.
 */
static int
swatch_read(struct store_watch *w, uint64_t upto, uint64_t *expect,
    store_watch_fn *fn, void *arg, size_t *n)
{
	char dom[STORE_DOMAIN_MAX + 2];
	const char *p, *nl = NULL, *end;
	size_t hlen = strlen(JOURNAL_HEADER);
	uint64_t g;
	ssize_t got;

	for (;;) {
		if ((got = pread(w->fd, w->buf, JOURNAL_BUF, w->off)) <= 0)
			return got == 0 ? 0 : -1;
		p = w->buf;
		end = w->buf + got;
		if (w->off == 0) {
			if ((size_t)got < hlen)
				return 0;	/* a header being written */
			if (memcmp(p, JOURNAL_HEADER, hlen) != 0)
				return -1;
			p += hlen;
		}
		for (; p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				break;
			if (sjournal_line(p, (size_t)(nl - p), &g, dom,
			    sizeof(dom)) == -1)
				return -1;
			if (fn == NULL) {
				if (g == upto + 1)
					break;	/* a write under way */
				continue;
			}
			if (g < *expect)
				continue;
			if (g > upto)
				break;
			if (g != *expect)
				return -1;	/* a write with no line */
			(*expect)++;
			fn(dom, arg);
			(*n)++;
		}
		if (p == w->buf && nl == NULL && got == JOURNAL_BUF)
			return -1;		/* no line that long */
		w->off += p - w->buf;
		if (p < end && nl != NULL)
			return 0;		/* stopped on a line */
		if (got < JOURNAL_BUF)
			return 0;
	}
}

/*
 * swatch_place - at the journal's end as of generation g: past every line
 * up to g (the caller reads what it needs after this), before a line of a
 * write under way
 */
static void
swatch_place(struct store_watch *w, uint64_t g)
{
	size_t n = 0;

	if (w->fd != -1)
		close(w->fd);
	w->off = 0;
	w->gen = g;
	if ((w->fd = swatch_open_file(w)) != -1 &&
	    swatch_read(w, g, NULL, NULL, NULL, &n) == -1) {
		close(w->fd);
		w->fd = -1;
	}
}

/* store_watch_open - positioned at the keystore's generation now */
struct store_watch *
store_watch_open(struct store *s)
{
	struct store_watch *w = xcalloc(1, sizeof(*w));

	w->store = s;
	w->path = store_path(s, STORE_JOURNAL_FILE, NULL, NULL);
	w->buf = xmalloc(JOURNAL_BUF);
	w->fd = -1;
	swatch_place(w, store_generation(s));
	return w;
}

void
store_watch_close(struct store_watch *w)
{
	if (w == NULL)
		return;
	if (w->fd != -1)
		close(w->fd);
	free(w->path);
	free(w->buf);
	free(w);
}

uint64_t
store_watch_generation(const struct store_watch *w)
{
	return w->gen;
}

/* swatch_replaced - does the journal's path name another file than fd? */
static int
swatch_replaced(const struct store_watch *w)
{
	struct stat now, was;

	if (w->fd == -1)
		return 1;
	if (fstat(w->fd, &was) == -1 || stat(w->path, &now) == -1)
		return 1;
	return now.st_ino != was.st_ino || now.st_dev != was.st_dev;
}

/*
 * store_watch_poll - fn for each domain written since the last poll, in
 * the order written; how many, or STORE_WATCH_LOST when the journal cannot
 * say (the caller reads again all that it holds).
 */
int
store_watch_poll(struct store_watch *w, store_watch_fn *fn, void *arg)
{
	uint64_t g = store_generation(w->store), expect = w->gen + 1;
	size_t n = 0;
	int fd, lost = 0;

	if (g == w->gen)
		return 0;
	if (g < w->gen || g == 0)
		lost = 1;	/* another keystore in its place */
	if (!lost && w->fd != -1 &&
	    swatch_read(w, g, &expect, fn, arg, &n) == -1)
		lost = 1;
	if (!lost && expect <= g) {
		/* the rest is in a journal that replaced this one */
		if (!swatch_replaced(w) || (fd = swatch_open_file(w)) == -1)
			lost = 1;	/* or a write without its line */
		else {
			if (w->fd != -1)
				close(w->fd);
			w->fd = fd;
			w->off = 0;
			if (swatch_read(w, g, &expect, fn, arg, &n) == -1 ||
			    expect <= g)
				lost = 1;
		}
	}
	if (lost) {
		swatch_place(w, g);
		return STORE_WATCH_LOST;
	}
	w->gen = g;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}
