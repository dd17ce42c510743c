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
 * When cr, sp and nl are all clear, canon_fast takes the input instead: it
 * looks 16 bytes at a time for the bytes that need a look (a SP before
 * text and a CRLF before text do not), passes what lies between on in
 * runs, and deals in place with the common shapes: a WSP run before text
 * (one SP), WSP before CRLF (dropped), CRLFs before text (kept). Anything
 * it cannot decide inside this chunk (a run reaching the chunk's end, a
 * bare CR or LF, trailing empty lines) goes back to the state machine.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "canon.h"

/* WSP and line-end bytes: the only ones either body form ever changes */
static const unsigned char canon_class[256] = {
	['\r'] = 1, ['\n'] = 1, [' '] = 1, ['\t'] = 1,
};

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

/*
 * 16 bytes at a time in GCC/Clang vector arithmetic: SSE2 on x86-64, NEON
 * on arm64, plain words elsewhere, from the same source. A lane compares
 * to all ones or all zeros.
 */
typedef unsigned char canon_vec __attribute__((vector_size(16)));

#define CANON_VEC	((ptrdiff_t)sizeof(canon_vec))

/* canon_load - 16 bytes from anywhere */
static inline canon_vec
canon_load(const unsigned char *p)
{
	canon_vec v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* canon_none - no lane set */
static inline int
canon_none(canon_vec v)
{
	uint64_t w[2];

	memcpy(w, &v, sizeof(w));
	return (w[0] | w[1]) == 0;
}

/*
 * canon_flags - the lanes of the 16 bytes at p that need a look: WSP, CR,
 * LF and the other controls, except a SP before text (relaxed: a byte above
 * SP) and a CRLF before text. Simple form: only CR and LF, CRLF before any
 * byte but CR or LF is left alone. Reads p[-1] to p[17].
 */
static inline canon_vec
canon_flags(const struct canon_body *cb, const unsigned char *p)
{
	canon_vec v = canon_load(p), b, n, n2, low, nlow, sp, crok, lfok;

	low = (canon_vec)(v <= (unsigned char)(cb->relaxed ? ' ' : '\r'));
	if (canon_none(low))
		return low;		/* text only: the usual block */
	b = canon_load(p - 1);
	n = canon_load(p + 1);
	n2 = canon_load(p + 2);
	if (!cb->relaxed) {
		crok = (canon_vec)(n == '\n') & ~(canon_vec)(n2 == '\r') &
		    ~(canon_vec)(n2 == '\n');
		lfok = (canon_vec)(b == '\r') & ~(canon_vec)(n == '\r') &
		    ~(canon_vec)(n == '\n');
		return ((canon_vec)(v == '\r') & ~crok) |
		    ((canon_vec)(v == '\n') & ~lfok);
	}
	nlow = (canon_vec)(n <= ' ');
	sp = (canon_vec)(v == ' ');
	crok = (canon_vec)(v == '\r') & (canon_vec)(n == '\n') &
	    ~(canon_vec)(n2 <= ' ');
	lfok = (canon_vec)(v == '\n') & (canon_vec)(b == '\r') & ~nlow;
	return (low & ~(sp | crok | lfok)) | (sp & nlow);
}

/* canon_first - the index of the first flagged lane, -1 when none */
static inline int
canon_first(canon_vec flags)
{
	const int le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
	uint64_t w[2];

	memcpy(w, &flags, sizeof(w));
	if ((w[0] | w[1]) == 0)
		return -1;
	if (w[0] != 0)
		return (le ? __builtin_ctzll(w[0]) : __builtin_clzll(w[0])) / 8;
	return 8 + (le ? __builtin_ctzll(w[1]) : __builtin_clzll(w[1])) / 8;
}

/* canon_flag1 - canon_flags on one byte, where 16 would not fit */
static int
canon_flag1(const struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *end)
{
	size_t	 left = (size_t)(end - p);
	int	 crlf, lfb;

	crlf = *p == '\r' && left >= 3 && p[1] == '\n';
	lfb = *p == '\n' && p > base && p[-1] == '\r' && left >= 2;
	if (!cb->relaxed)
		return (*p == '\r' && !(crlf && p[2] != '\r' && p[2] != '\n')) ||
		    (*p == '\n' && !(lfb && p[1] != '\r' && p[1] != '\n'));
	return (*p < ' ' && !(crlf && p[2] > ' ') && !(lfb && p[1] > ' ')) ||
	    (*p == ' ' && (left == 1 || p[1] <= ' '));
}

/*
 * canon_find - the first byte from p that needs a look, or end: 16 bytes a
 * step where p[-1] and p[17] can be read (input starts at base).
 */
static const unsigned char *
canon_find(const struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *end)
{
	int	 i;

	while (p < end) {
		if (p > base && end - p >= CANON_VEC + 2) {
			if ((i = canon_first(canon_flags(cb, p))) >= 0)
				return p + i;
			p += CANON_VEC;
		} else if (canon_flag1(cb, base, p, end))
			return p;
		else
			p++;
	}
	return end;
}

/* canon_emit - pass on input that is its own canonical form */
static inline void
canon_emit(struct canon_body *cb, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
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

/* canon_wsp_end - the end of the run of SP and HTAB at p */
static inline const unsigned char *
canon_wsp_end(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* canon_text - a byte that is content in both forms: no WSP, CR or LF */
static inline int
canon_text(unsigned char c)
{
	return canon_class[c] == 0;
}

/*
 * canon_wsp - relaxed, a WSP run at p in a run being passed on from *start.
 * Before content it becomes one SP; before CRLF it goes (the CRLF is the
 * next flag). Returns where to go on, or NULL to leave the rest of the
 * input to the state machine (the run reaches the end, or a bare CR or LF
 * follows).
 */
static const unsigned char *
canon_wsp(struct canon_body *cb, const unsigned char *p,
    const unsigned char *end, const unsigned char **start)
{
	const unsigned char *q = canon_wsp_end(p, end);

	if (q == end)
		return NULL;
	if (canon_text(*q)) {
		if (*p == ' ' && q == p + 1)
			return q;		/* one SP, then a control byte */
		if (*p == ' ')
			canon_emit(cb, *start, (size_t)(p + 1 - *start));
		else {
			canon_emit(cb, *start, (size_t)(p - *start));
			canon_put(cb, ' ');
		}
		*start = q;
		return q;
	}
	if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
		canon_emit(cb, *start, (size_t)(p - *start));
		*start = q;
		return q;
	}
	return NULL;
}

/*
 * canon_crlf - CRLFs at p: they are their own canonical form when content
 * follows them in this input (relaxed: content, or WSP and then content).
 * Returns the byte after them, or NULL to leave the rest to the state
 * machine (empty lines that may be the last, bare CR or LF, WSP lines).
 */
static const unsigned char *
canon_crlf(const struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char *q;

	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	if (p == end || *p == '\r' || *p == '\n')
		return NULL;
	if (!cb->relaxed || canon_text(*p))
		return p;
	q = canon_wsp_end(p, end);
	return q < end && canon_text(*q) ? p : NULL;
}

/*
 * canon_fast - the common shapes of a body straight from the input, while
 * nothing is pending: content is passed on in runs, WSP runs and line ends
 * are dealt with in place. Returns where the state machine must take over
 * (or end); everything before it has been passed on.
 */
static const unsigned char *
canon_fast(struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *end)
{
	const unsigned char *start = p, *q;

	while ((p = canon_find(cb, base, p, end)) < end) {
		if (*p == '\r' && end - p >= 2 && p[1] == '\n')
			q = canon_crlf(cb, p, end);
		else if (*p == ' ' || *p == '\t')
			q = canon_wsp(cb, p, end, &start);
		else if (*p != '\r' && *p != '\n')
			q = p + 1;		/* a control byte: content */
		else
			q = NULL;
		if (q == NULL)
			break;
		p = q;
	}
	canon_emit(cb, start, (size_t)(p - start));
	return p;
}

/* canon_body_update - canonicalize and hash one chunk, of any size */
void
canon_body_update(struct canon_body *cb, const void *data, size_t len)
{
	const unsigned char *p = data, *end;

	if (len == 0)
		return;			/* data may be NULL then */
	for (end = p + len; p < end; ) {
		if (!cb->cr && !cb->sp && cb->nl == 0 &&
		    (p = canon_fast(cb, data, p, end)) == end)
			break;
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
