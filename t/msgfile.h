/*
 * msgfile - feed a message file to the engine the way an MTA does
 *
 * Test support for t/ktsign and the Check tests: the header block is split
 * into fields, each handed over as name and value with the leading
 * whitespace stripped (or verbatim, as with SMFIP_HDR_LEADSPC) and continuation lines joined with a bare LF
 * (Postfix, Sendmail) or kept with CRLF; the body follows in chunks: whole,
 * one byte at a time, or random sizes from a seeded generator.
 */
#ifndef KEYTURN_MSGFILE_H
#define KEYTURN_MSGFILE_H

#include <stddef.h>

#include "dkim.h"

enum msgfile_chunks {
	MSGFILE_WHOLE,
	MSGFILE_BYTES,
	MSGFILE_RANDOM
};

struct msgfile_opts {
	enum msgfile_chunks	 chunks;
	unsigned int		 seed;		/* MSGFILE_RANDOM */
	int			 crlf_folds;	/* keep CRLF in folded values */
	int			 keep_lead;	/* value verbatim after the colon
						   (SMFIP_HDR_LEADSPC) */
};

enum dkim_status msgfile_feed(struct dkim_msg *, const char *msg, size_t len,
		    const struct msgfile_opts *, char *err, size_t errlen);
char		*msgfile_read(const char *path, size_t *len);
char		*msgfile_bigmsg(size_t attach, size_t *len);

#endif
