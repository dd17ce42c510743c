/*
 * hdrsel - which header fields a signature covers (RFC 6376 5.4)
 *
 * A dkim_hdrlist is built once from the configuration and shared read-only.
 * For one message, hdrsel_select walks the list in order and, for each
 * name, takes the fields of that name from the bottom of the header up
 * (5.4.2), then names it once more if it is oversigned: a verifier then
 * finds no field for that last instance, so nobody can add one.
 *
 * At most HDRSEL_MAX_INSTANCES fields of one name are signed, the
 * bottom-most ones (5.4.2 allows any bottom-most subset): 20,000 To:
 * fields would otherwise make a DKIM-Signature larger than an MTA takes
 * (Postfix header_size_limit is 102400). A name cut that way is not
 * oversigned, since fields of that name remain above those signed.
 */
#ifndef KEYTURN_HDRSEL_H
#define KEYTURN_HDRSEL_H

#include <stddef.h>

#include "buf.h"
#include "dkim.h"

#define HDRSEL_MAX_INSTANCES	32	/* fields of one name signed at most */

struct dkim_hdrlist {
	char	**names;	/* lowercase, no duplicates, From among them */
	size_t	 *lens;		/* strlen(names[i]) */
	int	 *over;		/* oversign names[i] */
	size_t	  n;
};

/* A field name of the message, in header order. */
struct hdrsel_field {
	const char	*name;
	size_t		 len;
};

/*
 * hdrsel_select - fill idx with the positions of the fields to sign, in the
 * order they are hashed (at most nfields), and put the h= value in h, which
 * must be empty.
 * Returns the number of positions.
 */
size_t	hdrsel_select(const struct dkim_hdrlist *, const struct hdrsel_field *,
	    size_t nfields, size_t *idx, struct buf *h);

/* hdrsel_namechar - may c appear in a field name (RFC 5322 ftext)? */
int	hdrsel_namechar(int c);

/* hdrsel_default - the list used when a dkim_sign names none */
const struct dkim_hdrlist *hdrsel_default(void);

#endif
