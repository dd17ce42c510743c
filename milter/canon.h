/*
 * canon - RFC 6376 canonicalization (3.4.1 to 3.4.4)
 *
 * Header fields: one field given as the MTA hands it (name, possibly with
 * the WSP that preceded the colon; value folded with bare LF or CRLF, with
 * or without the leading space) is appended in canonical form to a buf.
 * Simple form: the value is taken as exactly what followed the colon when
 * it starts with WSP (SMFIP_HDR_LEADSPC); otherwise the MTA stripped one
 * SP, which is put back.
 *
 * Body: a streaming canonicalizer with O(1) state that feeds SHA-256
 * directly. Chunks may split anything (a CRLF, a run of whitespace, the
 * trailing empty lines); empty lines are counted, not buffered, and only
 * written when a non-empty line follows. Input already in canonical form
 * (most of a body: text, base64) is read once by a vector scan and hashed
 * where it is, not copied; what the canonical form changes is built in a
 * fixed buffer and handed to the digest when it is full, so the cost stays
 * close to the hash alone.
 *
 * Line ends: CRLF ends a line. libmilter hands the body in wire form, but a
 * bare LF (a message file or a broken MTA) also ends a line and becomes CRLF
 * in the canonical form, as a verifier reading the same file would do. A
 * bare CR is ordinary data.
 *
 * A body that does not end with a line end gets its CRLF first (3.4.3,
 * 3.4.4 "a CRLF is added"), and the last line is then canonicalized like
 * any other: relaxed, "x  " becomes "x" CRLF, exactly as "x  " CRLF does.
 * A body hashes the same with or without its final CRLF, which is what
 * lets a signature made on it survive transport (SMTP ends every message
 * with CRLF). dkimpy strips WSP only before an existing CRLF and hashes
 * "x " CRLF, which no delivered copy matches; t/engine_verify.py shows it.
 */
#ifndef KEYTURN_CANON_H
#define KEYTURN_CANON_H

#include <stddef.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"

#define CANON_BUFSIZE	4096	/* output batched for SHA-256: one page per message */

struct canon_body {
	EVP_MD_CTX	*md;		/* SHA-256, initialized by the caller */
	int		 relaxed;
	int		 cr;		/* a CR waits for its LF */
	int		 sp;		/* relaxed: whitespace waits for content */
	int		 any;		/* a non-empty line was written */
	int		 wide;		/* scan 32 bytes a vector (AVX2) */
	int		 failed;	/* EVP_DigestUpdate failed */
	unsigned long long nl;		/* line ends not written yet */
	size_t		 n;		/* bytes in out */
	unsigned char	 out[CANON_BUFSIZE];
};

void	canon_header(struct buf *, enum dkim_canon, const char *name,
	    size_t namelen, const char *value, size_t valuelen);
void	canon_body_init(struct canon_body *, enum dkim_canon, EVP_MD_CTX *);
void	canon_body_update(struct canon_body *, const void *, size_t);
int	canon_body_final(struct canon_body *);

#endif
