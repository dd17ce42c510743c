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
 * copies 64 bytes at a time to the batch while they are in canonical form
 * already (text whose SPs and CRLFs are each before text: canon_copy64,
 * from bit masks), then 16 at a time, looking for the bytes that need
 * a look (a SP before text and a CRLF before text do not). The two shapes
 * of relaxed text that are common enough to matter, a double SP before
 * text and a single SP before CRLF, are taken out in the stride, without a
 * branch (canon_block); the others stop the stride and are dealt with in
 * place: a WSP run before text (one SP), WSP before CRLF (dropped), CRLFs
 * before text (kept). Anything it cannot decide inside this chunk (a run
 * reaching the chunk's end, a bare CR or LF, trailing empty lines) goes
 * back to the state machine.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
	char	*o;

	while (namelen > 0 && (name[namelen - 1] == ' ' ||
	    name[namelen - 1] == '\t'))
		namelen--;
	buf_reserve(b, namelen + valuelen + 3);
	o = b->p + b->len;	/* a local end: stores through char * alias b */
	for (i = 0; i < namelen; i++)
		*o++ = (char)canon_lower((unsigned char)name[i]);
	*o++ = ':';
	for (i = 0; i < valuelen; i++) {
		char c = value[i];

		if (canon_fold(value, valuelen, i))
			continue;
		if (c == ' ' || c == '\t') {
			sp = 1;
			continue;
		}
		if (sp && started)
			*o++ = ' ';
		sp = 0;
		started = 1;
		*o++ = c;
	}
	*o++ = '\r';
	*o++ = '\n';
	b->len = (size_t)(o - b->p);
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

/*
 * The lanes gathered into an int, lowest lane first: one instruction on
 * SSE2 (every x86-64), a multiply per 8 lanes elsewhere. A lane is all
 * ones or all zeros.
 */
#ifdef __SSE2__
/* canon_mask16 - the 16 lanes of a vector as 16 bits */
static inline unsigned int
canon_mask16(canon_vec v)
{
	return (unsigned int)_mm_movemask_epi8((__m128i)v);
}

/* canon_none - no lane set */
static inline int
canon_none(canon_vec v)
{
	return canon_mask16(v) == 0;
}
#else
/* canon_mask8 - the 8 lanes in w as 8 bits, one bit of each byte gathered */
static inline unsigned int
canon_mask8(uint64_t w)
{
	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		w = __builtin_bswap64(w);
	return (unsigned int)(((w & 0x8040201008040201ULL) *
	    0x0101010101010101ULL) >> 56);
}

/* canon_mask16 - the 16 lanes of a vector as 16 bits */
static inline unsigned int
canon_mask16(canon_vec v)
{
	uint64_t w[2];

	memcpy(w, &v, sizeof(w));
	return canon_mask8(w[0]) | canon_mask8(w[1]) << 8;
}

/* canon_none - no lane set */
static inline int
canon_none(canon_vec v)
{
	uint64_t w[2];

	memcpy(w, &v, sizeof(w));
	return (w[0] | w[1]) == 0;
}
#endif

/*
 * canon_flags_relaxed - the lanes of the 16 bytes at p that need a look in
 * the relaxed form: HTAB, CR, LF and the other controls, and a SP that is
 * not before text (a byte above SP), except a CRLF before text. *drop gets
 * the two shapes the scan removes itself, each a single SP after text: the
 * first SP of a double SP before text (the second stays, so that a SP is
 * kept whichever byte the scan stops at) and a SP before CRLF. Reads p[-1]
 * to p[17].
 */
static inline canon_vec
canon_flags_relaxed(const unsigned char *p, canon_vec *drop)
{
	canon_vec v = canon_load(p), n = canon_load(p + 1);
	canon_vec b = canon_load(p - 1), n2 = canon_load(p + 2);
	canon_vec sp, nlow, n2low, crok, lfok;

	sp = (canon_vec)(v == ' ');
	nlow = (canon_vec)(n <= ' ');
	n2low = (canon_vec)(n2 <= ' ');
	*drop = (sp & (canon_vec)(n == ' ') & ~n2low) |
	    (sp & (canon_vec)(n == '\r') & (canon_vec)(n2 == '\n'));
	crok = (canon_vec)(v == '\r') & (canon_vec)(n == '\n') & ~n2low;
	lfok = (canon_vec)(v == '\n') & (canon_vec)(b == '\r') & ~nlow;
	return ((canon_vec)(v < ' ') & ~(crok | lfok)) | (sp & nlow & ~*drop);
}

/*
 * canon_flags_simple - the same in the simple form: CR and LF, except a
 * CRLF before any byte but CR or LF. Reads p[-1] to p[17].
 */
static inline canon_vec
canon_flags_simple(const unsigned char *p)
{
	canon_vec v = canon_load(p), b, n, n2, crok, lfok;

	if (canon_none((canon_vec)(v <= '\r')))
		return (canon_vec){ 0 };
	b = canon_load(p - 1);
	n = canon_load(p + 1);
	n2 = canon_load(p + 2);
	crok = (canon_vec)(n == '\n') & ~(canon_vec)(n2 == '\r') &
	    ~(canon_vec)(n2 == '\n');
	lfok = (canon_vec)(b == '\r') & ~(canon_vec)(n == '\r') &
	    ~(canon_vec)(n == '\n');
	return ((canon_vec)(v == '\r') & ~crok) |
	    ((canon_vec)(v == '\n') & ~lfok);
}

/* canon_first - the index of the first set bit of a mask16, 16 when none */
static inline int
canon_first(unsigned int m)
{
	return __builtin_ctz(m | 1U << 16);
}

/*
 * canon_flag1 - canon_flags_relaxed or _simple on one byte, where 16 would
 * not fit. It never drops: it flags both shapes canon_block drops, and
 * canon_event gives them the same form.
 */
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
 * canon_drop - the bytes of the block at p (copied whole to o) flagged in
 * mask dm are taken out: each drop moves what follows it one place down, by
 * copying the next 16 input bytes again (p[31] and o[30] must be usable).
 * Returns o less the number of drops.
 */
static inline unsigned char *
canon_drop(unsigned char *o, const unsigned char *p, unsigned int dm)
{
	int	 j;

	while (dm != 0) {
		j = __builtin_ctz(dm);
		dm &= dm - 1;
		o--;
		memcpy(o + j + 1, p + j + 1, CANON_VEC);
	}
	return o;
}

/*
 * canon_block - relaxed, the 16 bytes at p copied to o, less the one SP
 * canon_flags_relaxed may drop; 16 bytes after the block may be read and
 * written. Returns the new output end, or NULL (nothing written counts)
 * when the block has a flag or two drops and needs canon_stop.
 */
static inline unsigned char *
canon_block(unsigned char *o, const unsigned char *p)
{
	canon_vec f, d;
	unsigned int dm;
	int	 i;

	memcpy(o, p, CANON_VEC);
	if (canon_none((canon_vec)(canon_load(p) <= ' ')))
		return o + CANON_VEC;	/* no WSP or control at all */
	f = canon_flags_relaxed(p, &d);
	if (canon_none(f | d))
		return o + CANON_VEC;
	dm = canon_mask16(d);
	if ((canon_mask16(f) | (dm & (dm - 1))) != 0)
		return NULL;
	i = canon_first(dm);
	memcpy(o + i, p + i + 1, CANON_VEC);
	return o + CANON_VEC - (dm != 0);
}

/*
 * canon_stop - a block at p that has a flag (or drops the simple form never
 * has): its bytes before the first flag are copied to *o, less the drops.
 * Returns the flagged byte, or p + 16 when there was none.
 */
static const unsigned char *
canon_stop(int relaxed, unsigned char **o, const unsigned char *p)
{
	canon_vec f, d = { 0 };
	unsigned int dm;
	int	 i;

	f = relaxed ? canon_flags_relaxed(p, &d) : canon_flags_simple(p);
	memcpy(*o, p, CANON_VEC);
	i = canon_first(canon_mask16(f));
	dm = canon_mask16(d) & ((1U << i) - 1);
	*o = canon_drop(*o, p, dm) + i;
	return p + i;
}

/*
 * canon_dirty_few - canon_copy64 for the bytes in mask low (SP and below)
 * one at a time, when there are one or two: the first that is not in
 * canonical form, as a mask, or 0
 */
static inline uint64_t
canon_dirty_few(const unsigned char *p, uint64_t low)
{
	const unsigned char *q = p + __builtin_ctzll(low);
	int	 ok;

	if (low == (low & -low) * 3 && q[0] == '\r' && q[1] == '\n' &&
	    q[2] > ' ')
		return 0;			/* the usual: one CRLF */
	for (; low != 0; low &= low - 1) {
		q = p + __builtin_ctzll(low);
		if (*q == ' ')
			ok = q[1] > ' ';
		else if (*q == '\r')
			ok = q[1] == '\n' && q[2] > ' ';
		else if (*q == '\n')
			ok = q[-1] == '\r' && q[1] > ' ';
		else
			ok = 0;
		if (!ok)
			return low & -low;
	}
	return 0;
}

/* canon_join - the lanes of four vectors as 64 bits, the first lowest */
static inline uint64_t
canon_join(canon_vec a, canon_vec b, canon_vec c, canon_vec d)
{
	return (uint64_t)canon_mask16(a) | (uint64_t)canon_mask16(b) << 16 |
	    (uint64_t)canon_mask16(c) << 32 | (uint64_t)canon_mask16(d) << 48;
}

/*
 * canon_copy64 - relaxed, the 64 bytes at p copied to o, and those of them
 * that are not already in canonical form as a mask (bit i for p[i]; what
 * canon_flags_relaxed flags or drops), or 0. Text is a byte above SP; a
 * SP is fine before text, the controls (a CRLF before text, the only ones
 * that are fine) are looked at one at a time. Reads p[-1] to p[65].
 */
static inline uint64_t
canon_copy64(unsigned char *o, const unsigned char *p)
{
	canon_vec v0 = canon_load(p), v1 = canon_load(p + 16);
	canon_vec v2 = canon_load(p + 32), v3 = canon_load(p + 48);
	uint64_t low, sp, t, ctl;

	memcpy(o, &v0, CANON_VEC);
	memcpy(o + 16, &v1, CANON_VEC);
	memcpy(o + 32, &v2, CANON_VEC);
	memcpy(o + 48, &v3, CANON_VEC);
	low = canon_join((canon_vec)(v0 <= ' '), (canon_vec)(v1 <= ' '),
	    (canon_vec)(v2 <= ' '), (canon_vec)(v3 <= ' '));
	if (low == 0)
		return 0;
	if ((t = low & (low - 1), t & (t - 1)) == 0)
		return canon_dirty_few(p, low);	/* a line end, say */
	sp = canon_join((canon_vec)(v0 == ' '), (canon_vec)(v1 == ' '),
	    (canon_vec)(v2 == ' '), (canon_vec)(v3 == ' '));
	t = ~low >> 1 | (uint64_t)(p[64] > ' ') << 63;	/* text after */
	ctl = low & ~sp;
	return (sp & ~t) | (ctl != 0 ? canon_dirty_few(p, ctl) : 0);
}

/*
 * canon_vecs - copy blocks from p to *o while they need no look, up to
 * vlim - 32 (vlim <= the batch room and the input end less one byte, so
 * that p[-1] to p[32] can be read and 32 bytes written; the 64-byte
 * stride, which reads to p[65] and writes 64, runs only while vlim - p is
 * 96 or more). Returns where it stopped: a flagged byte (*flagged set), or
 * a place too close to vlim.
 */
static inline __attribute__((always_inline)) const unsigned char *
canon_vecs(int relaxed, unsigned char **op, const unsigned char *p,
    const unsigned char *vlim, int *flagged)
{
	unsigned char *o = *op, *no;
	const unsigned char *q;
	uint64_t dirty;

	while (vlim - p >= 2 * CANON_VEC) {
		if (relaxed && vlim - p >= 6 * CANON_VEC) {
			/* 64 at once: text, or up to the byte that is not */
			dirty = canon_copy64(o, p);
			if (dirty == 0) {
				o += 4 * CANON_VEC;
				p += 4 * CANON_VEC;
				continue;
			}
			o += __builtin_ctzll(dirty);
			p += __builtin_ctzll(dirty);
		}
		if (relaxed && (no = canon_block(o, p)) != NULL) {
			o = no;
			p += CANON_VEC;
			continue;
		}
		if (!relaxed && canon_none(canon_flags_simple(p))) {
			memcpy(o, p, CANON_VEC);
			o += CANON_VEC;
			p += CANON_VEC;
			continue;
		}
		q = canon_stop(relaxed, &o, p);
		if (q < p + CANON_VEC) {
			*flagged = 1;
			p = q;
			break;
		}
		p = q;
	}
	*op = o;
	return p;
}

/*
 * canon_scan - copy the input from p into the output batch up to the first
 * byte that needs a look, or lim, and return it: blocks where they fit,
 * single bytes near the ends. The batch must have room for lim - p bytes,
 * lim <= end; the input starts at base.
 */
static const unsigned char *
canon_scan(struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *lim, const unsigned char *end)
{
	unsigned char *o = cb->out + cb->n;
	const unsigned char *vlim = lim < end - 1 ? lim : end - 1;
	int	 flagged = 0;

	while (p < lim) {
		if (p > base && vlim - p >= 2 * CANON_VEC) {
			p = cb->relaxed ? canon_vecs(1, &o, p, vlim, &flagged) :
			    canon_vecs(0, &o, p, vlim, &flagged);
			if (flagged)
				break;
			continue;
		}
		if (canon_flag1(cb, base, p, end))
			break;
		*o++ = *p++;
	}
	if (o > cb->out + cb->n)
		cb->any = 1;
	cb->n = (size_t)(o - cb->out);
	return p;
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
 * canon_wsp - relaxed, a WSP run at p: before content it becomes one SP,
 * before CRLF it goes (the CRLF is looked at next). Returns where to go on,
 * or NULL to leave the rest of the input to the state machine (the run
 * reaches the end, or a bare CR or LF follows).
 */
static const unsigned char *
canon_wsp(struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char *q = canon_wsp_end(p, end);

	if (q == end)
		return NULL;
	if (canon_text(*q)) {
		canon_put(cb, ' ');
		cb->any = 1;
		return q;
	}
	if (end - q >= 2 && q[0] == '\r' && q[1] == '\n')
		return q;
	return NULL;
}

/*
 * canon_crlf - CRLFs at p: they are their own canonical form when content
 * follows them in this input (relaxed: content, or WSP and then content),
 * and are passed on. Returns the byte after them, or NULL to leave the
 * rest to the state machine (empty lines that may be the last, bare CR or
 * LF, WSP lines).
 */
static const unsigned char *
canon_crlf(struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char *q = p, *w;

	while (end - q >= 2 && q[0] == '\r' && q[1] == '\n')
		q += 2;
	if (q == end || *q == '\r' || *q == '\n')
		return NULL;
	if (cb->relaxed && !canon_text(*q)) {
		w = canon_wsp_end(q, end);
		if (w == end || !canon_text(*w))
			return NULL;
	}
	for (; p < q; p += 2) {
		canon_put(cb, '\r');
		canon_put(cb, '\n');
	}
	cb->any = 1;
	return q;
}

/*
 * canon_event - the byte at p that canon_scan stopped at, while nothing is
 * pending: its canonical form goes to the batch. Returns where to go on,
 * or NULL when the state machine must take over at p.
 */
static const unsigned char *
canon_event(struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	if (*p == '\r' && end - p >= 2 && p[1] == '\n')
		return canon_crlf(cb, p, end);
	if (*p == ' ' || *p == '\t')
		return canon_wsp(cb, p, end);
	if (*p == '\r' || *p == '\n')
		return NULL;
	canon_put(cb, *p);		/* a control byte: content */
	cb->any = 1;
	return p + 1;
}

/*
 * canon_fast - the common shapes of a body straight from the input, while
 * nothing is pending: content is copied to the batch in blocks, WSP runs
 * and line ends are dealt with in place. Returns where the state machine
 * must take over (or end); everything before it has been passed on.
 */
static const unsigned char *
canon_fast(struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *end)
{
	const unsigned char *lim, *q;
	size_t	 room;

	while (p < end) {
		if (sizeof(cb->out) - cb->n < 4 * CANON_VEC)
			canon_flush(cb);
		room = sizeof(cb->out) - cb->n;
		lim = (size_t)(end - p) > room ? p + room : end;
		if ((p = canon_scan(cb, base, p, lim, end)) == lim)
			continue;
		if ((q = canon_event(cb, p, end)) == NULL)
			break;
		p = q;
	}
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
