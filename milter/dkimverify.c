/*
 * dkimverify - check one DKIM-Signature of a whole message against a key
 *
 * The message is split into header fields (a line that starts with WSP
 * continues the field above) and the body after the first empty line.
 * The body goes through the signing engine's streaming canonicalizer
 * into SHA-256 and must give bh=; the fields h= names, each taken from
 * the bottom of the header up (RFC 6376 5.4.2; a name with no field left
 * adds nothing), then the signature field itself with its b= value
 * removed and no final CRLF (3.7), must carry b= under the key. See
 * dkimverify.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "buf.h"
#include "canon.h"
#include "dkim.h"
#include "dkimverify.h"
#include "sigval.h"
#include "tagvalue.h"
#include "xmalloc.h"

/* One header field: its bytes without the final line end. */
struct vfield {
	const char	*p;
	size_t		 len;
	size_t		 namelen;	/* bytes before the colon */
};

struct vmsg {
	struct vfield	*f;
	size_t		 n;
	const char	*body;
	size_t		 bodylen;
};

/* One signature's tags, as parsed. */
struct vsig {
	struct tv_list	 tv;
	enum dkim_alg	 alg;
	enum dkim_canon	 hc, bc;
};

/* vmsg_line - the end of the line at p (its "\n", or end) */
static const char *
vmsg_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', end - p);

	return nl ? nl : end;
}

/* vmsg_content - the line's length without its CR LF or LF */
static size_t
vmsg_content(const char *p, const char *eol)
{
	if (eol > p && eol[-1] == '\r')
		eol--;
	return eol - p;
}

/* vmsg_split - fields and body; -1 on a header line with no colon */
static int
vmsg_split(const char *msg, size_t len, struct vmsg *m, char *why,
    size_t whylen)
{
	const char *p = msg, *end = msg + len, *eol, *colon;
	size_t n;

	memset(m, 0, sizeof(*m));
	m->body = end;
	while (p < end) {
		eol = vmsg_line(p, end);
		n = vmsg_content(p, eol);
		if (n == 0) {			/* the empty line */
			m->body = eol < end ? eol + 1 : end;
			break;
		}
		if ((*p == ' ' || *p == '\t') && m->n > 0)
			m->f[m->n - 1].len = (p + n) - m->f[m->n - 1].p;
		else if ((colon = memchr(p, ':', n)) == NULL) {
			snprintf(why, whylen, "header line without a colon");
			free(m->f);
			m->f = NULL;
			return -1;
		} else {
			m->f = xreallocarray(m->f, m->n + 1, sizeof(*m->f));
			m->f[m->n].p = p;
			m->f[m->n].len = n;
			m->f[m->n].namelen = colon - p;
			m->n++;
		}
		p = eol < end ? eol + 1 : end;
	}
	m->bodylen = end - m->body;
	return 0;
}

/* vfield_is - is the field named name (any case, WSP before the colon)? */
static int
vfield_is(const struct vfield *f, const char *name)
{
	size_t n = f->namelen, want = strlen(name);

	while (n > 0 && (f->p[n - 1] == ' ' || f->p[n - 1] == '\t'))
		n--;
	return n == want && strncasecmp(f->p, name, n) == 0;
}

/* vfield_canon - one field in canonical form, CRLF-terminated, onto b */
static void
vfield_canon(struct buf *b, enum dkim_canon c, const char *p, size_t len,
    size_t namelen)
{
	size_t i;

	if (c == DKIM_CANON_RELAXED) {
		canon_header(b, c, p, namelen, p + namelen + 1,
		    len - namelen - 1);
		return;
	}
	for (i = 0; i < len; i++) {	/* simple: the bytes, CRLF ends */
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			buf_addc(b, '\r');
		buf_addc(b, p[i]);
	}
	buf_add(b, "\r\n", 2);
}

/* vsig_canon - c=: "simple", "relaxed", "h/b"; -1 when unknown */
static int
vsig_canon(const char *v, struct vsig *s)
{
	char *c = xstrdup(v ? v : "simple"), *slash = strchr(c, '/');
	int r = 0;

	if (slash != NULL)
		*slash++ = '\0';
	s->hc = s->bc = DKIM_CANON_SIMPLE;
	if (strcmp(c, "relaxed") == 0)
		s->hc = DKIM_CANON_RELAXED;
	else if (strcmp(c, "simple") != 0)
		r = -1;
	if (slash != NULL && strcmp(slash, "relaxed") == 0)
		s->bc = DKIM_CANON_RELAXED;
	else if (slash != NULL && strcmp(slash, "simple") != 0)
		r = -1;
	free(c);
	return r;
}

/* vsig_parse - the tags this verifier needs, checked */
static int
vsig_parse(const struct vfield *f, struct vsig *s, char *why, size_t whylen)
{
	static const char *const need[] = { "v", "a", "b", "bh", "d", "h",
	    "s" };
	const char *v = f->p + f->namelen + 1, *h;
	char e[128], *hl, *name, *last;
	size_t i;
	int from = 0;

	if (tv_parse(v, f->len - f->namelen - 1, &s->tv, e, sizeof(e)) == -1) {
		snprintf(why, whylen, "DKIM-Signature: %s", e);
		return -1;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (tv_get(&s->tv, need[i]) == NULL) {
			snprintf(why, whylen, "DKIM-Signature has no %s=",
			    need[i]);
			return -1;
		}
	if (strcmp(tv_get(&s->tv, "v"), "1") != 0 ||
	    dkim_alg_parse(tv_get(&s->tv, "a"), &s->alg) == -1 ||
	    vsig_canon(tv_get(&s->tv, "c"), s) == -1) {
		snprintf(why, whylen, "DKIM-Signature: v=, a= or c= not one "
		    "of v=1, rsa-sha256, ed25519-sha256, simple, relaxed");
		return -1;
	}
	if (tv_get(&s->tv, "l") != NULL) {
		snprintf(why, whylen, "DKIM-Signature has l=: it covers part "
		    "of the body only, and is not accepted");
		return -1;
	}
	h = tv_get(&s->tv, "h");
	hl = tv_strip_fws(h);
	for (name = strtok_r(hl, ":", &last); name != NULL;
	    name = strtok_r(NULL, ":", &last))
		if (strcasecmp(name, "from") == 0)
			from = 1;
	free(hl);
	if (!from) {
		snprintf(why, whylen, "DKIM-Signature: h= does not name From");
		return -1;
	}
	return 0;
}

/* vunb64 - bytes of a base64 value (FWS removed); NULL when not base64 */
static unsigned char *
vunb64(const char *v, size_t *len)
{
	char *s = tv_strip_fws(v);
	size_t n = strlen(s);
	unsigned char *out;
	int r;

	if (n == 0 || n % 4 != 0) {
		free(s);
		return NULL;
	}
	out = xmalloc(n);
	if ((r = EVP_DecodeBlock(out, (unsigned char *)s, (int)n)) < 0) {
		free(s);
		free(out);
		return NULL;
	}
	if (s[n - 1] == '=')
		r--;
	if (s[n - 2] == '=')
		r--;
	free(s);
	*len = r;
	return out;
}

/* vbody_hash - the body through the canonicalizer, as bh= has it */
static int
vbody_hash(const struct vmsg *m, enum dkim_canon c, char *bh, size_t bhlen)
{
	struct canon_body *cb = xcalloc(1, sizeof(*cb));
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_MD_CTX *ctx;
	int r = -1;

	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		canon_body_init(cb, c, ctx);
		canon_body_update(cb, m->body, m->bodylen);
		if (canon_body_final(cb) == 0 &&
		    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
		    bhlen > 4 * ((mdlen + 2) / 3)) {
			EVP_EncodeBlock((unsigned char *)bh, md, (int)mdlen);
			r = 0;
		}
	}
	EVP_MD_CTX_free(ctx);
	free(cb);
	return r;
}

/*
 * vsig_unsigned - the signature field with its b= value removed: every
 * byte from after "b=" up to the next ';' or the end (RFC 6376 3.7)
 */
static char *
vsig_unsigned(const struct vfield *f, size_t *len)
{
	const char *p = f->p + f->namelen + 1, *end = f->p + f->len, *q;
	struct buf b;

	buf_init(&b);
	buf_add(&b, f->p, p - f->p);
	while (p < end) {
		q = p;
		while (q < end && strchr(" \t\r\n", *q) != NULL)
			q++;
		if (q < end && *q == 'b') {
			const char *t = q + 1;

			while (t < end && strchr(" \t\r\n", *t) != NULL)
				t++;
			if (t < end && *t == '=') {
				buf_add(&b, p, t + 1 - p);
				while (t < end && *t != ';')
					t++;
				p = t;
				if (p < end)
					buf_addc(&b, *p++);
				continue;
			}
		}
		while (q < end && *q != ';')
			q++;
		if (q < end)
			q++;
		buf_add(&b, p, q - p);
		p = q;
	}
	*len = b.len;
	return b.p;
}

/* vsigned_data - the h= fields bottom up, then the unsigned signature */
static void
vsigned_data(const struct vmsg *m, const struct vfield *sig,
    const struct vsig *s, struct buf *data)
{
	char *hl = tv_strip_fws(tv_get(&s->tv, "h")), *name, *last, *u;
	char *used = xcalloc(m->n ? m->n : 1, 1);
	size_t i, ulen;

	for (name = strtok_r(hl, ":", &last); name != NULL;
	    name = strtok_r(NULL, ":", &last))
		for (i = m->n; i-- > 0;)
			if (!used[i] && vfield_is(&m->f[i], name)) {
				used[i] = 1;
				vfield_canon(data, s->hc, m->f[i].p,
				    m->f[i].len, m->f[i].namelen);
				break;
			}
	u = vsig_unsigned(sig, &ulen);
	vfield_canon(data, s->hc, u, ulen, sig->namelen);
	data->len -= 2;				/* no CRLF (3.7) */
	free(u);
	free(used);
	free(hl);
}

/* vpkey_verify - rsa-sha256 over the data; ed25519 over its SHA-256 */
static int
vpkey_verify(enum dkim_alg alg, EVP_PKEY *pub, const struct buf *data,
    const unsigned char *sig, size_t siglen)
{
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (alg == DKIM_ALG_RSA_SHA256)
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
		    pub) == 1 && EVP_DigestVerify(ctx, sig, siglen,
		    (const unsigned char *)data->p, data->len) == 1;
	else
		ok = EVP_Digest(data->p, data->len, hash, &hlen,
		    EVP_sha256(), NULL) == 1 &&
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, hash, hlen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* vsig_find - the sigidx-th DKIM-Signature field, or NULL */
static const struct vfield *
vsig_find(const struct vmsg *m, size_t sigidx)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (vfield_is(&m->f[i], SIGVAL_NAME) && sigidx-- == 0)
			return &m->f[i];
	return NULL;
}

/* vkey_fits - the key is of the signature's algorithm */
static int
vkey_fits(enum dkim_alg alg, EVP_PKEY *pub)
{
	int id = EVP_PKEY_get_base_id(pub);

	return alg == DKIM_ALG_RSA_SHA256 ? id == EVP_PKEY_RSA :
	    id == EVP_PKEY_ED25519;
}

/* vcheck - body hash, then signature, of one parsed signature */
static int
vcheck(const struct vmsg *m, const struct vfield *f, const struct vsig *s,
    EVP_PKEY *pub, char *why, size_t whylen)
{
	char bh[EVP_MAX_MD_SIZE * 2], *want;
	unsigned char *sig;
	size_t siglen;
	struct buf data;
	int r;

	if (!vkey_fits(s->alg, pub)) {
		snprintf(why, whylen, "the key is not a key for %s",
		    dkim_alg_name(s->alg));
		return DKIMV_ERROR;
	}
	if ((sig = vunb64(tv_get(&s->tv, "b"), &siglen)) == NULL) {
		snprintf(why, whylen, "DKIM-Signature: b= is not base64");
		return DKIMV_ERROR;
	}
	if (vbody_hash(m, s->bc, bh, sizeof(bh)) == -1) {
		snprintf(why, whylen, "body hash failed");
		free(sig);
		return DKIMV_ERROR;
	}
	want = tv_strip_fws(tv_get(&s->tv, "bh"));
	r = strcmp(want, bh) == 0;
	free(want);
	if (!r) {
		snprintf(why, whylen, "body hash does not match bh= (the body "
		    "was altered)");
		free(sig);
		return DKIMV_FAIL;
	}
	buf_init(&data);
	vsigned_data(m, f, s, &data);
	r = vpkey_verify(s->alg, pub, &data, sig, siglen);
	buf_free(&data);
	free(sig);
	if (!r) {
		snprintf(why, whylen, "signature does not verify with the key "
		    "(another key signed, or the header was altered)");
		return DKIMV_FAIL;
	}
	snprintf(why, whylen, "signature verified");
	return DKIMV_OK;
}

/* dkimv_verify - see dkimverify.h */
int
dkimv_verify(const char *msg, size_t len, size_t sigidx, EVP_PKEY *pub,
    char *why, size_t whylen)
{
	const struct vfield *f;
	struct vmsg m;
	struct vsig s;
	int r;

	if (vmsg_split(msg, len, &m, why, whylen) == -1)
		return DKIMV_ERROR;
	if ((f = vsig_find(&m, sigidx)) == NULL) {
		snprintf(why, whylen, "the message has no DKIM-Signature %zu",
		    sigidx + 1);
		free(m.f);
		return DKIMV_ERROR;
	}
	memset(&s, 0, sizeof(s));
	if (vsig_parse(f, &s, why, whylen) == -1)
		r = DKIMV_ERROR;
	else
		r = vcheck(&m, f, &s, pub, why, whylen);
	tv_free(&s.tv);
	free(m.f);
	return r;
}

/* dkimv_count - DKIM-Signature fields of a message */
size_t
dkimv_count(const char *msg, size_t len)
{
	struct vmsg m;
	char why[64];
	size_t i, n = 0;

	if (vmsg_split(msg, len, &m, why, sizeof(why)) == -1)
		return 0;
	for (i = 0; i < m.n; i++)
		if (vfield_is(&m.f[i], SIGVAL_NAME))
			n++;
	free(m.f);
	return n;
}
