/*
 * sigval - the DKIM-Signature value, folded as it is written
 *
 * Tags are appended in order, separated by "; ", and a line is folded with
 * "\n\t" (bare LF: what libmilter hands to the MTA) before anything that
 * would pass column 78 of the whole header line, "DKIM-Signature: "
 * included. h= folds between names, base64 values anywhere (RFC 6376 allows
 * FWS inside both). The value is built up to "b=" and signed in that form;
 * the signature is appended after, so the signed form is exactly the final
 * field with the b= value removed (RFC 6376 3.7).
 */
#ifndef KEYTURN_SIGVAL_H
#define KEYTURN_SIGVAL_H

#include <stddef.h>

#include "buf.h"

#define SIGVAL_WIDTH	78
#define SIGVAL_NAME	"DKIM-Signature"

struct sigval {
	struct buf	 b;
	size_t		 col;	/* column of the next byte, from 0 */
	int		 ntags;
};

void	sigval_init(struct sigval *);
void	sigval_free(struct sigval *);
void	sigval_tag(struct sigval *, const char *tag, const char *value);
void	sigval_hlist(struct sigval *, const char *names);
void	sigval_b64tag(struct sigval *, const char *tag);
void	sigval_b64data(struct sigval *, const char *b64, int last);

#endif
