/*
 * dkim - the message and the signature (see dkim.h)
 *
 * A dkim_msg keeps its header fields in one growing arena (names and values
 * back to back, offsets in a small array) and streams the body through the
 * canonicalizer into SHA-256. dkim_msg_sign selects the fields (once for
 * all the signatures that use the same list), builds the
 * DKIM-Signature value up to "b=", hashes the canonical fields followed by
 * that canonical DKIM-Signature field without its CRLF (RFC 6376 3.7), signs
 * and appends b=. Every signature has its own EVP_MD_CTX; the key is only
 * read, so one EVP_PKEY serves any number of threads.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "canon.h"
#include "dkim.h"
#include "hdrsel.h"
#include "sigval.h"

struct dkim_field {
	size_t	 name;		/* offsets into the arena */
	size_t	 namelen;
	size_t	 namecore;	/* without WSP before the colon */
	size_t	 value;
	size_t	 valuelen;
};

struct dkim_msg {
	enum dkim_canon		 hcanon;
	enum dkim_canon		 bcanon;
	struct buf		 arena;
	struct dkim_field	*f;
	size_t			 nf;
	size_t			 fcap;
	size_t			 hbytes;	/* as on the wire, for the limit */
	EVP_MD_CTX		*bodymd;
	int			 bodydone;
	int			 bodyfail;
	char			 bh[48];	/* base64 of the body hash */
	/* the selected fields for hsel: h= and their canonical form, which
	 * every signature with that list shares */
	const struct dkim_hdrlist *hsel;
	struct buf		 hlist;
	struct buf		 hdata;
	struct canon_body	 body;
};

static pthread_once_t	 dkim_md_once = PTHREAD_ONCE_INIT;
static EVP_MD		*dkim_md_fetched;

/* dkim_md_init - fetch SHA-256 once instead of on every digest */
static void
dkim_md_init(void)
{
	dkim_md_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* dkim_sha256 - the fetched SHA-256, or the implicit one if fetching failed */
static const EVP_MD *
dkim_sha256(void)
{
	pthread_once(&dkim_md_once, dkim_md_init);
	return dkim_md_fetched ? dkim_md_fetched : EVP_sha256();
}

/* dkim_msg_new - an empty message; the body hash starts now */
struct dkim_msg *
dkim_msg_new(enum dkim_canon hcanon, enum dkim_canon bcanon)
{
	struct dkim_msg *m = malloc(sizeof(*m));

	if (m == NULL)
		return NULL;
	/* all but the canonicalizer's batch, which is written before it is
	 * read: clearing it would touch pages a short message never uses */
	memset(m, 0, offsetof(struct dkim_msg, body));
	m->hcanon = hcanon;
	m->bcanon = bcanon;
	buf_init(&m->arena);
	buf_init(&m->hlist);
	buf_init(&m->hdata);
	if ((m->bodymd = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(m->bodymd, dkim_sha256(), NULL) != 1)
		m->bodyfail = 1;
	canon_body_init(&m->body, bcanon, m->bodymd);
	return m;
}

/* dkim_msg_free - NULL is fine */
void
dkim_msg_free(struct dkim_msg *m)
{
	if (m == NULL)
		return;
	buf_free(&m->arena);
	buf_free(&m->hlist);
	buf_free(&m->hdata);
	free(m->f);
	EVP_MD_CTX_free(m->bodymd);
	free(m);
}

/*
 * dkim_check_name - a name the canonical forms and h= can carry: ftext, then
 * optional WSP before the colon (obs-optional); *core gets the length
 * without that WSP.
 */
static enum dkim_status
dkim_check_name(const char *name, size_t len, size_t *core, char *err,
    size_t errlen)
{
	size_t	 i, n = len;

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	if (n == 0) {
		snprintf(err, errlen, "header field without a name");
		return DKIM_EHEADER;
	}
	if (len > DKIM_MAX_HEADER) {
		snprintf(err, errlen, "header field name longer than %d",
		    DKIM_MAX_HEADER);
		return DKIM_ETOOLONG;
	}
	for (i = 0; i < n; i++)
		if (!hdrsel_namechar((unsigned char)name[i])) {
			snprintf(err, errlen, "header field name: byte 0x%02x "
			    "at %zu is not allowed", (unsigned char)name[i], i);
			return DKIM_EHEADER;
		}
	*core = n;
	return DKIM_OK;
}

/*
 * dkim_check_value - a value within the limits (the field's and the whole
 * header block's, counted as on the wire) and without NUL, which no
 * canonical form can carry.
 */
static enum dkim_status
dkim_check_value(const struct dkim_msg *m, const char *name, size_t namelen,
    const char *value, size_t valuelen, char *err, size_t errlen)
{
	if (value == NULL && valuelen > 0) {
		snprintf(err, errlen, "header field %s: no value", name);
		return DKIM_EHEADER;
	}
	if (valuelen > DKIM_MAX_HEADER - namelen) {
		snprintf(err, errlen, "header field %s longer than %d bytes",
		    name, DKIM_MAX_HEADER);
		return DKIM_ETOOLONG;
	}
	if (namelen + valuelen + 4 > DKIM_MAX_HEADERS - m->hbytes) {
		snprintf(err, errlen, "header block longer than %d bytes",
		    DKIM_MAX_HEADERS);
		return DKIM_ETOOLONG;
	}
	if (valuelen > 0 && memchr(value, '\0', valuelen) != NULL) {
		snprintf(err, errlen, "header field %s: NUL byte in the value",
		    name);
		return DKIM_EHEADER;
	}
	return DKIM_OK;
}

/* dkim_msg_header - keep one field; refuse what cannot be signed faithfully */
enum dkim_status
dkim_msg_header(struct dkim_msg *m, const char *name, const char *value,
    size_t valuelen, char *err, size_t errlen)
{
	struct dkim_field *f;
	enum dkim_status st;
	size_t	 namelen, core;

	namelen = name ? strnlen(name, DKIM_MAX_HEADER + 1) : 0;
	if ((st = dkim_check_name(name, namelen, &core, err, errlen)) !=
	    DKIM_OK || (st = dkim_check_value(m, name, namelen, value,
	    valuelen, err, errlen)) != DKIM_OK)
		return st;
	/* the fields grow with the message: out of memory fails it alone */
	if (m->nf == m->fcap) {
		size_t cap = m->fcap ? m->fcap * 2 : 32;

		if ((f = reallocarray(m->f, cap, sizeof(*m->f))) == NULL)
			goto nomem;
		m->f = f;
		m->fcap = cap;
	}
	if (buf_try_reserve(&m->arena, namelen + valuelen) == -1)
		goto nomem;
	m->hsel = NULL;			/* a selection made before is stale */
	f = &m->f[m->nf++];
	f->name = m->arena.len;
	f->namelen = namelen;
	f->namecore = core;
	buf_add(&m->arena, name, namelen);
	f->value = m->arena.len;
	f->valuelen = valuelen;
	buf_add(&m->arena, value, valuelen);
	m->hbytes += namelen + valuelen + 4;	/* ": " and CRLF */
	return DKIM_OK;
nomem:
	snprintf(err, errlen, "out of memory keeping header field %.64s "
	    "(%zu bytes of header so far)", name, m->hbytes);
	return DKIM_ENOMEM;
}

/* dkim_msg_body - hash a chunk; ignored once the body hash is final */
void
dkim_msg_body(struct dkim_msg *m, const void *p, size_t n)
{
	if (m->bodydone) {
		m->bodyfail = 1;
		return;
	}
	canon_body_update(&m->body, p, n);
}

/* dkim_msg_from_address - the one From field's local part and domain */
enum dkim_status
dkim_msg_from_address(const struct dkim_msg *m, char *local, size_t locallen,
    char *domain, size_t domainlen, char *err, size_t errlen)
{
	const struct dkim_field *from = NULL;
	size_t	 i;

	for (i = 0; i < m->nf; i++) {
		if (m->f[i].namecore != 4 ||
		    strncasecmp(m->arena.p + m->f[i].name, "from", 4) != 0)
			continue;
		if (from != NULL) {
			snprintf(err, errlen, "several From fields");
			return DKIM_EFROM;
		}
		from = &m->f[i];
	}
	if (from == NULL) {
		snprintf(err, errlen, "no From field");
		return DKIM_EFROM;
	}
	return dkim_from_address(m->arena.p + from->value, from->valuelen,
	    local, locallen, domain, domainlen, err, errlen);
}

/* dkim_msg_from_domain - the one From field's domain */
enum dkim_status
dkim_msg_from_domain(const struct dkim_msg *m, char *domain, size_t domainlen,
    char *err, size_t errlen)
{
	return dkim_msg_from_address(m, NULL, 0, domain, domainlen, err,
	    errlen);
}

/*
 * dkim_msg_values - the values of the fields named name, top first, each
 * as stored (unfolding is the caller's), up to max; the count found
 */
size_t
dkim_msg_values(const struct dkim_msg *m, const char *name,
    struct dkim_value *out, size_t max)
{
	size_t	 i, n = 0, len = strlen(name);

	for (i = 0; i < m->nf; i++) {
		if (m->f[i].namecore != len ||
		    strncasecmp(m->arena.p + m->f[i].name, name, len) != 0)
			continue;
		if (n < max) {
			out[n].p = m->arena.p + m->f[i].value;
			out[n].len = m->f[i].valuelen;
		}
		n++;
	}
	return n;
}

/* dkim_body_hash - finish the body once; every signature shares it */
static enum dkim_status
dkim_body_hash(struct dkim_msg *m, char *err, size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (!m->bodydone) {
		m->bodydone = 1;
		if (m->bodyfail || canon_body_final(&m->body) == -1 ||
		    EVP_DigestFinal_ex(m->bodymd, md, &mdlen) != 1)
			m->bodyfail = 1;
		else
			EVP_EncodeBlock((unsigned char *)m->bh, md,
			    (int)mdlen);
	}
	if (m->bodyfail) {
		snprintf(err, errlen, "body hash failed (SHA-256 unavailable "
		    "or body after the signature)");
		return DKIM_EINTERNAL;
	}
	return DKIM_OK;
}

/* dkim_check_dname - d= and s= are host names: nothing else fits a tag */
static enum dkim_status
dkim_check_dname(const char *tag, const char *v, char *err, size_t errlen)
{
	const char *why = v == NULL ? "missing" :
	    dkim_hostname_check(v, strlen(v));

	if (why == NULL)
		return DKIM_OK;
	snprintf(err, errlen, "%s=%s: %s", tag, v ? v : "", why);
	return DKIM_EINTERNAL;
}

/* dkim_check_sign - the request makes sense and the key fits the algorithm */
static enum dkim_status
dkim_check_sign(const struct dkim_sign *s, char *err, size_t errlen)
{
	enum dkim_status st;
	int	 want;

	if ((st = dkim_check_dname("d", s->domain, err, errlen)) != DKIM_OK ||
	    (st = dkim_check_dname("s", s->selector, err, errlen)) != DKIM_OK)
		return st;
	if (s->t < 0 || (s->x != 0 && s->x <= s->t)) {
		snprintf(err, errlen, "x= must come after t=");
		return DKIM_EINTERNAL;
	}
	want = s->alg == DKIM_ALG_RSA_SHA256 ? EVP_PKEY_RSA : EVP_PKEY_ED25519;
	if (s->key == NULL || EVP_PKEY_get_base_id(s->key) != want) {
		snprintf(err, errlen, "key is not a %s key",
		    dkim_alg_name(s->alg));
		return DKIM_EKEY;
	}
	if (want == EVP_PKEY_RSA && EVP_PKEY_get_bits(s->key) < 1024) {
		snprintf(err, errlen, "RSA key of %d bits, under the 1024 of "
		    "RFC 8301", EVP_PKEY_get_bits(s->key));
		return DKIM_EKEY;
	}
	return DKIM_OK;
}

/* dkim_canon_name - the c= value */
static const char *
dkim_canon_name(enum dkim_canon h, enum dkim_canon b)
{
	if (h == DKIM_CANON_RELAXED)
		return b == DKIM_CANON_RELAXED ? "relaxed/relaxed" :
		    "relaxed/simple";
	return b == DKIM_CANON_RELAXED ? "simple/relaxed" : "simple/simple";
}

/*
 * dkim_value - the tags up to "b=", in the order and folding of the result,
 * into v made with sigval_init
 */
static void
dkim_value(const struct dkim_msg *m, const struct dkim_sign *s,
    const char *hlist, struct sigval *v)
{
	char	 num[32];

	sigval_tag(v, "v", "1");
	sigval_tag(v, "a", dkim_alg_name(s->alg));
	sigval_tag(v, "c", dkim_canon_name(m->hcanon, m->bcanon));
	sigval_tag(v, "d", s->domain);
	sigval_tag(v, "s", s->selector);
	snprintf(num, sizeof(num), "%" PRIdMAX, (intmax_t)s->t);
	sigval_tag(v, "t", num);
	if (s->x != 0) {
		snprintf(num, sizeof(num), "%" PRIdMAX, (intmax_t)s->x);
		sigval_tag(v, "x", num);
	}
	sigval_hlist(v, hlist);
	sigval_tag(v, "bh", m->bh);
	sigval_b64tag(v, "b");
}

/*
 * dkim_select - the fields list l selects, once per list and message.
 * What grows with the header is reserved first, where running out of
 * memory can still fail the message alone: the canonical form of a field
 * is never longer than the field counted in hbytes, nor its name in h=.
 */
static enum dkim_status
dkim_select(struct dkim_msg *m, const struct dkim_hdrlist *l, char *err,
    size_t errlen)
{
	struct hdrsel_field *names;
	size_t	*idx, n, i;

	if (m->hsel == l)
		return DKIM_OK;
	m->hsel = NULL;
	m->hlist.len = 0;
	m->hdata.len = 0;
	names = reallocarray(NULL, m->nf + 1, sizeof(*names));
	idx = reallocarray(NULL, m->nf + 1, sizeof(*idx));
	if (names == NULL || idx == NULL ||
	    buf_try_reserve(&m->hlist, m->hbytes + 4096) == -1 ||
	    buf_try_reserve(&m->hdata, m->hbytes + 1) == -1) {
		free(names);
		free(idx);
		snprintf(err, errlen, "out of memory selecting %zu header "
		    "fields (%zu bytes)", m->nf, m->hbytes);
		return DKIM_ENOMEM;
	}
	for (i = 0; i < m->nf; i++) {
		names[i].name = m->arena.p + m->f[i].name;
		names[i].len = m->f[i].namecore;
	}
	n = hdrsel_select(l, names, m->nf, idx, &m->hlist);
	for (i = 0; i < n; i++) {
		const struct dkim_field *f = &m->f[idx[i]];

		canon_header(&m->hdata, m->hcanon, m->arena.p + f->name,
		    f->namelen, m->arena.p + f->value, f->valuelen);
	}
	free(names);
	free(idx);
	m->hsel = l;
	return DKIM_OK;
}

/*
 * dkim_signed_data - the canonical selected fields, then DKIM-Signature;
 * on DKIM_ENOMEM v is not made
 */
static enum dkim_status
dkim_signed_data(struct dkim_msg *m, const struct dkim_hdrlist *l,
    struct buf *data, struct sigval *v, const struct dkim_sign *s,
    char *err, size_t errlen)
{
	enum dkim_status st;

	if ((st = dkim_select(m, l, err, errlen)) != DKIM_OK)
		return st;
	/* the value: h= folded, the other tags and b= within 2 KB */
	sigval_init(v);
	if (buf_try_reserve(&v->b, 2 * m->hlist.len + 2048) == -1 ||
	    buf_try_reserve(data, m->hdata.len + 2 * m->hlist.len + 2048) ==
	    -1) {
		sigval_free(v);
		snprintf(err, errlen, "out of memory for the %zu bytes to "
		    "sign", m->hdata.len);
		return DKIM_ENOMEM;
	}
	dkim_value(m, s, buf_cstr(&m->hlist), v);
	if (m->hdata.len > 0)
		buf_add(data, m->hdata.p, m->hdata.len);
	canon_header(data, m->hcanon, SIGVAL_NAME, strlen(SIGVAL_NAME),
	    v->b.p, v->b.len);
	data->len -= 2;				/* no CRLF (3.7) */
	return DKIM_OK;
}

/*
 * dkim_pkey_sign - rsa-sha256: PKCS#1 v1.5 over SHA-256 of the data;
 * ed25519-sha256 (RFC 8463): pure Ed25519 over the SHA-256 of the data.
 */
static enum dkim_status
dkim_pkey_sign(const struct dkim_sign *s, const struct buf *data,
    unsigned char *sig, size_t *siglen, char *err, size_t errlen)
{
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	EVP_MD_CTX *ctx;
	int	 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		snprintf(err, errlen, "EVP_MD_CTX_new failed");
		return DKIM_EINTERNAL;
	}
	if (s->alg == DKIM_ALG_RSA_SHA256)
		ok = EVP_DigestSignInit(ctx, NULL, dkim_sha256(), NULL,
		    s->key) == 1 &&
		    EVP_DigestSign(ctx, sig, siglen,
		    (const unsigned char *)data->p, data->len) == 1;
	else
		ok = EVP_Digest(data->p, data->len, hash, &hlen,
		    dkim_sha256(), NULL) == 1 &&
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) == 1 &&
		    EVP_DigestSign(ctx, sig, siglen, hash, hlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		snprintf(err, errlen, "%s signature failed",
		    dkim_alg_name(s->alg));
		return DKIM_EINTERNAL;
	}
	return DKIM_OK;
}

/* dkim_msg_sign - one DKIM-Signature value for one key */
enum dkim_status
dkim_msg_sign(struct dkim_msg *m, const struct dkim_sign *s, char **value,
    char *err, size_t errlen)
{
	const struct dkim_hdrlist *l = s->hdrs ? s->hdrs : hdrsel_default();
	struct buf data;
	struct sigval v;
	enum dkim_status st;
	unsigned char *sig;
	char	*b64;
	size_t	 siglen;

	*value = NULL;
	if ((st = dkim_check_sign(s, err, errlen)) != DKIM_OK ||
	    (st = dkim_body_hash(m, err, errlen)) != DKIM_OK)
		return st;
	buf_init(&data);
	if ((st = dkim_signed_data(m, l, &data, &v, s, err, errlen)) !=
	    DKIM_OK) {
		buf_free(&data);
		return st;
	}
	siglen = (size_t)EVP_PKEY_get_size(s->key);
	if ((sig = malloc(siglen)) == NULL)
		st = DKIM_ENOMEM;
	else
		st = dkim_pkey_sign(s, &data, sig, &siglen, err, errlen);
	if (st == DKIM_OK) {
		if ((b64 = malloc(4 * ((siglen + 2) / 3) + 1)) == NULL)
			st = DKIM_ENOMEM;
		else {
			EVP_EncodeBlock((unsigned char *)b64, sig,
			    (int)siglen);
			sigval_b64data(&v, b64, 1);
			free(b64);
			if ((*value = strdup(buf_cstr(&v.b))) == NULL)
				st = DKIM_ENOMEM;
		}
	}
	if (st == DKIM_ENOMEM)
		snprintf(err, errlen, "out of memory for the signature");
	free(sig);
	buf_free(&data);
	sigval_free(&v);
	return st;
}

/* dkim_alg_name - the a= spelling */
const char *
dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" :
	    "rsa-sha256";
}

/* dkim_alg_parse - 0 and the algorithm, or -1 for a name we do not sign with */
int
dkim_alg_parse(const char *s, enum dkim_alg *alg)
{
	if (strcasecmp(s, "rsa-sha256") == 0)
		*alg = DKIM_ALG_RSA_SHA256;
	else if (strcasecmp(s, "ed25519-sha256") == 0)
		*alg = DKIM_ALG_ED25519_SHA256;
	else
		return -1;
	return 0;
}
