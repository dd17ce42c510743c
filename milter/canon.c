/*
 * canon - RFC 6376 canonicalization (see canon.h)
 *
 * Body state machine (one byte at a time, when nothing else applies):
 *	cr	a CR was seen; the next byte decides whether it ends a line
 *	sp	relaxed: a run of WSP was seen; written as one SP before the
 *		next content byte, dropped at the end of the line
 *	nl	line ends seen since the last content byte; written as that many
 *		CRLFs before the next content byte, and as one at the end when
 *		the body had content (that one closes the last non-empty line)
 * When cr, sp and nl are all clear the input is scanned for a run that
 * canonicalizes to itself (content bytes, a SP followed by content, a CRLF
 * followed by content) and the run is passed on whole.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "canon.h"

/* WSP and line-end bytes: the only ones either body form ever changes */
#define SPECIAL_LINE	1
#define SPECIAL_WSP	2

static const unsigned char canon_class[256] = {
	['\r'] = SPECIAL_LINE, ['\n'] = SPECIAL_LINE,
	[' '] = SPECIAL_WSP, ['\t'] = SPECIAL_WSP,
};

/* canon_special - does the body form at hand ever rewrite byte c? */
static inline int
canon_special(const struct canon_body *cb, unsigned char c)
{
	unsigned char k = canon_class[c];

	return k == SPECIAL_LINE || (k == SPECIAL_WSP && cb->relaxed);
}

/* canon_lower - ASCII only: header names are ASCII, locales do not apply */
static inline int
canon_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * canon_fold - is value[i] part of a line end that unfolding removes? LF
 * (the MTA's fold) and the CR of a CRLF are; a bare CR is data, as it is
 * to a verifier that splits the header at CRLF.
 */
static inline int
canon_fold(const char *value, size_t valuelen, size_t i)
{
	return value[i] == '\n' ||
	    (value[i] == '\r' && i + 1 < valuelen && value[i + 1] == '\n');
}

/* canon_header_relaxed - RFC 6376 3.4.2: lowercase name, unfold, squeeze WSP */
static void
canon_header_relaxed(struct buf *b, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	size_t	 i;
	int	 sp = 0, started = 0;

	while (namelen > 0 && (name[namelen - 1] == ' ' ||
	    name[namelen - 1] == '\t'))
		namelen--;
	buf_reserve(b, namelen + valuelen + 3);
	for (i = 0; i < namelen; i++)
		b->p[b->len++] = (char)canon_lower((unsigned char)name[i]);
	b->p[b->len++] = ':';
	for (i = 0; i < valuelen; i++) {
		char c = value[i];

		if (canon_fold(value, valuelen, i))
			continue;
		if (c == ' ' || c == '\t') {
			sp = 1;
			continue;
		}
		if (sp && started)
			b->p[b->len++] = ' ';
		sp = 0;
		started = 1;
		b->p[b->len++] = c;
	}
	buf_add(b, "\r\n", 2);
}

/*
 * canon_header_simple - RFC 6376 3.4.1: the field as it is on the wire. The
 * MTA strips the space after the colon; it is put back when the value does
 * not start with whitespace, and bare LF folds become CRLF.
 */
static void
canon_header_simple(struct buf *b, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	size_t	 i;

	buf_add(b, name, namelen);
	buf_addc(b, ':');
	if (valuelen > 0 && value[0] != ' ' && value[0] != '\t')
		buf_addc(b, ' ');
	for (i = 0; i < valuelen; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			buf_addc(b, '\r');
		buf_addc(b, value[i]);
	}
	buf_add(b, "\r\n", 2);
}

/* canon_header - one field in canonical form, CRLF-terminated, appended to b */
void
canon_header(struct buf *b, enum dkim_canon mode, const char *name,
    size_t namelen, const char *value, size_t valuelen)
{
	if (mode == DKIM_CANON_RELAXED)
		canon_header_relaxed(b, name, namelen, value, valuelen);
	else
		canon_header_simple(b, name, namelen, value, valuelen);
}

/* canon_body_init - start a body; md is a SHA-256 context already initialized */
void
canon_body_init(struct canon_body *cb, enum dkim_canon mode, EVP_MD_CTX *md)
{
	memset(cb, 0, offsetof(struct canon_body, out));
	cb->md = md;
	cb->relaxed = mode == DKIM_CANON_RELAXED;
}

/* canon_flush - hand the batched output to the digest */
static void
canon_flush(struct canon_body *cb)
{
	if (cb->n > 0 && EVP_DigestUpdate(cb->md, cb->out, cb->n) != 1)
		cb->failed = 1;
	cb->n = 0;
}

/* canon_put - one output byte, batched */
static inline void
canon_put(struct canon_body *cb, unsigned char c)
{
	if (cb->n == sizeof(cb->out))
		canon_flush(cb);
	cb->out[cb->n++] = c;
}

/* canon_content - a content byte: the deferred line ends and WSP go first */
static void
canon_content(struct canon_body *cb, unsigned char c)
{
	for (; cb->nl > 0; cb->nl--) {
		canon_put(cb, '\r');
		canon_put(cb, '\n');
	}
	if (cb->sp) {
		canon_put(cb, ' ');
		cb->sp = 0;
	}
	canon_put(cb, c);
	cb->any = 1;
}

/* canon_eol - a line ends: its trailing WSP is gone, the CRLF is deferred */
static void
canon_eol(struct canon_body *cb)
{
	cb->sp = 0;
	cb->nl++;
}

/* canon_step - the state machine on one byte */
static void
canon_step(struct canon_body *cb, unsigned char c)
{
	if (cb->cr) {
		cb->cr = 0;
		if (c == '\n') {
			canon_eol(cb);
			return;
		}
		canon_content(cb, '\r');
	}
	if (c == '\r')
		cb->cr = 1;
	else if (c == '\n')
		canon_eol(cb);
	else if (cb->relaxed && (c == ' ' || c == '\t'))
		cb->sp = 1;
	else
		canon_content(cb, c);
}

#define CANON_ONES	0x0101010101010101ULL
#define CANON_HIGHS	0x8080808080808080ULL

/* canon_below - the high bit of every byte of w that is below n (exact) */
static inline uint64_t
canon_below(uint64_t w, unsigned int n)
{
	return ~(((w & ~CANON_HIGHS) + (0x80 - n) * CANON_ONES) | w) &
	    CANON_HIGHS;
}

/*
 * canon_words - skip whole 8-byte words that are their own canonical form:
 * no byte below 0x20 and no SP followed by a byte up to 0x20 (the next
 * word's first byte included). In simple form only CR and LF matter, and
 * any byte up to 0x20 stops the word. Relaxed returns the first byte that
 * needs a look, simple the start of its word. The byte order decides which
 * bit is which byte; both orders are handled.
 */
static const unsigned char *
canon_words(const struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	const int le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
	uint64_t w, lt21, lt20, next, last, bad;

	while (end - p >= 8) {
		memcpy(&w, p, sizeof(w));
		if ((lt21 = canon_below(w, 0x21)) == 0) {
			p += 8;
			continue;
		}
		if (!cb->relaxed)
			break;
		lt20 = canon_below(w, 0x20);
		last = le ? 0x80ULL << 56 : 0x80ULL;
		next = le ? lt21 >> 8 : lt21 << 8;
		next |= last * (end - p > 8 ? (uint64_t)(p[8] <= 0x20) : 1);
		bad = lt20 | (lt21 & ~lt20 & next);
		if (bad == 0) {
			p += 8;
			continue;
		}
		p += (le ? __builtin_ctzll(bad) : __builtin_clzll(bad)) / 8;
		if (end - p >= 3 && p[0] == '\r' && p[1] == '\n' &&
		    !canon_special(cb, p[2])) {
			p += 3;		/* CRLF and content: the usual line end */
			continue;
		}
		break;
	}
	return p;
}

/*
 * canon_scan - the end of the run at p that canonicalizes to itself; only
 * valid when no CR, WSP or line end is pending. Every run ends on content.
 */
static const unsigned char *
canon_scan(const struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char *stop;

	while (p < end) {
		p = canon_words(cb, p, end);
		if (p == end)
			break;
		/* at most a word byte by byte, then words again */
		stop = end - p > 8 ? p + 8 : end;
		while (p < stop) {
			if (!canon_special(cb, *p)) {
				p++;
				continue;
			}
			if (*p == ' ' && end - p >= 2 &&
			    !canon_special(cb, p[1])) {
				p += 2;
				continue;
			}
			if (*p == '\r' && end - p >= 3 && p[1] == '\n' &&
			    !canon_special(cb, p[2])) {
				p += 3;
				continue;
			}
			return p;
		}
	}
	return p;
}

/* canon_run - pass on a run that is its own canonical form */
static void
canon_run(struct canon_body *cb, const unsigned char *p, size_t n)
{
	if (n <= sizeof(cb->out) / 2) {
		if (cb->n + n > sizeof(cb->out))
			canon_flush(cb);
		memcpy(cb->out + cb->n, p, n);
		cb->n += n;
	} else {
		canon_flush(cb);
		if (EVP_DigestUpdate(cb->md, p, n) != 1)
			cb->failed = 1;
	}
	cb->any = 1;
}

/* canon_body_update - canonicalize and hash one chunk, of any size */
void
canon_body_update(struct canon_body *cb, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len, *q;

	while (p < end) {
		if (!cb->cr && !cb->sp && cb->nl == 0) {
			q = canon_scan(cb, p, end);
			if (q > p) {
				canon_run(cb, p, (size_t)(q - p));
				p = q;
				continue;
			}
		}
		canon_step(cb, *p++);
	}
}

/*
 * canon_body_final - close the body: one CRLF ends the last non-empty line;
 * an empty body is CRLF in simple and nothing in relaxed (RFC 6376 3.4.3,
 * 3.4.4). 0, or -1 when the digest failed.
 */
int
canon_body_final(struct canon_body *cb)
{
	if (cb->cr) {
		cb->cr = 0;
		canon_content(cb, '\r');
	}
	if (cb->any || !cb->relaxed) {
		canon_put(cb, '\r');
		canon_put(cb, '\n');
	}
	cb->nl = 0;
	cb->sp = 0;
	canon_flush(cb);
	return cb->failed ? -1 : 0;
}
