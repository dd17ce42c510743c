/*
 * rules - SigningTable and SenderLogins, loaded and watched (rules.h)
 */
#include "config.h"

#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "xmalloc.h"

#define RULES_TRIES	3	/* reads of a table written while read */

/* rules_stamp - what the file is now; a missing file is a stamp too */
static void
rules_stamp(const char *path, struct rules_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (path == NULL)
		return;
	if (stat(path, &sb) == -1) {
		st->missing = 1;
		return;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
}

/* rules_same - two stamps of one file agree */
static int
rules_same(const struct rules_stamp *a, const struct rules_stamp *b)
{
	return a->missing == b->missing && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/*
 * rules_read - the files as they are; a file that changed while it was
 * read (written in place) is read again, up to RULES_TRIES times, so a
 * table cut in the middle is never taken for the whole
 */
static int
rules_read(struct rules *r, const struct kt_conf *conf, conf_report_fn *report,
    void *arg)
{
	struct rules_stamp st, sl;
	int tries;

	for (tries = 0; tries < RULES_TRIES; tries++) {
		signtable_free(r->signtable);
		senders_free(r->senders);
		r->signtable = NULL;
		r->senders = NULL;
		rules_stamp(conf->signing_table, &r->st_stamp);
		rules_stamp(conf->sender_logins, &r->sl_stamp);
		if (conf->signing_table != NULL && (r->signtable =
		    signtable_load(conf->signing_table, report, arg)) == NULL)
			return -1;
		if (conf->sender_logins != NULL && (r->senders =
		    senders_load(conf->sender_logins, report, arg)) == NULL)
			return -1;
		rules_stamp(conf->signing_table, &st);
		rules_stamp(conf->sender_logins, &sl);
		if (rules_same(&st, &r->st_stamp) &&
		    rules_same(&sl, &r->sl_stamp))
			return 0;
	}
	if (report != NULL)
		report("SigningTable or SenderLogins: changed while it was "
		    "read, again and again; write a table elsewhere and "
		    "rename it into place", arg);
	return -1;
}

/* rules_load - see rules.h */
struct rules *
rules_load(const struct kt_conf *conf, conf_report_fn *report, void *arg)
{
	struct rules *r = xcalloc(1, sizeof(*r));

	atomic_init(&r->refs, 1);
	if (rules_read(r, conf, report, arg) == -1) {
		rules_unref(r);
		return NULL;
	}
	return r;
}

/* rules_ref - one more holder */
struct rules *
rules_ref(struct rules *r)
{
	atomic_fetch_add(&r->refs, 1);
	return r;
}

/* rules_unref - the last holder frees; NULL is fine */
void
rules_unref(struct rules *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	signtable_free(r->signtable);
	senders_free(r->senders);
	free(r);
}

/* rules_changed - a stat of each file: cheap enough to poll every second */
int
rules_changed(const struct rules *r, const struct kt_conf *conf)
{
	struct rules_stamp st, sl;

	rules_stamp(conf->signing_table, &st);
	rules_stamp(conf->sender_logins, &sl);
	if (rules_same(&st, &r->st_stamp) && rules_same(&sl, &r->sl_stamp))
		return 0;
	return !(rules_same(&st, &r->st_tried) &&
	    rules_same(&sl, &r->sl_tried));
}

/* rules_tried - remember the files that failed as they are */
void
rules_tried(struct rules *r, const struct kt_conf *conf)
{
	rules_stamp(conf->signing_table, &r->st_tried);
	rules_stamp(conf->sender_logins, &r->sl_tried);
}
