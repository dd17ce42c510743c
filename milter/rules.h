/*
 * rules - the operator's signing rules as keyturnd holds them: the
 * SigningTable and SenderLogins files named in keyturn.conf, loaded
 * together, shared by the snapshots built from them (refcounted), and
 * watched: a file that changed (inode, size or modification time) is
 * read again; while it has an error, the rules in force stay.
 */
#ifndef KEYTURN_RULES_H
#define KEYTURN_RULES_H

#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "senders.h"
#include "signtable.h"

/* What a file was when it was read. */
struct rules_stamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	int		 missing;
};

struct rules {
	atomic_uint		 refs;
	struct signtable	*signtable;	/* NULL: none configured */
	struct senders		*senders;	/* NULL: none configured */
	struct rules_stamp	 st_stamp, sl_stamp;	/* as read */
	struct rules_stamp	 st_tried, sl_tried;	/* a failed read since */
};

/*
 * rules_load - the files conf names (none: empty rules); NULL after
 * reporting every error as "file:line: message"
 */
struct rules	*rules_load(const struct kt_conf *, conf_report_fn *, void *);
struct rules	*rules_ref(struct rules *);
void		 rules_unref(struct rules *);
/*
 * rules_changed - has a file changed since r was read, and since the last
 * failed attempt to read it again (rules_tried)?
 */
int		 rules_changed(const struct rules *, const struct kt_conf *);
/*
 * rules_tried - the files as they are now did not load: rules_changed
 * stays false until they change again (the reloading thread alone calls
 * it, under its lock)
 */
void		 rules_tried(struct rules *, const struct kt_conf *);

#endif
