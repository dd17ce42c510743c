/*
 * check_engine_sign - header selection, the DKIM-Signature value, known
 * answers, chunking and bad input (milter/dkim.c, hdrsel.c, sigval.c)
 *
 * The known answers are RFC 8463 appendix A: its message, keys and the two
 * published signatures. A small verifier here (tag=value parsing, the
 * engine's canonicalization, OpenSSL verification) must accept the
 * published signatures and those the engine makes, and refuse both after a
 * one-byte change.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "canon.h"
#include "dkim.h"
#include "hdrsel.h"
#include "msgfile.h"
#include "tagvalue.h"

/* RFC 8463 appendix A */
static const char rfc_ed_seed[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char rfc_ed_pub[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc_rsa_pem[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
    "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
    "KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
    "AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
    "6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
    "zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
    "6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
    "uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
    "WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
    "WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
    "licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
    "o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
    "uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char rfc_rsa_pub[] =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5q"
    "hdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1L"
    "xj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QI"
    "DAQAB";
static const char rfc_bh[] = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
static const char rfc_sig_ed[] =
    "v=1; a=ed25519-sha256; c=relaxed/relaxed;\n"
    " d=football.example.com; i=@football.example.com;\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\n"
    " subject : date : message-id : from : subject : date;\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";
static const char rfc_sig_rsa[] =
    "v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
    " d=football.example.com; i=@football.example.com;\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\n"
    " date : message-id : from : subject : date;\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=";
static const char rfc_msg[] =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

static EVP_PKEY *ed_key, *ed_pub, *rsa_key, *rsa_pub;

/* b64 - decode, ignoring whitespace; returns the length */
static size_t
b64(const char *s, unsigned char *out, size_t outlen)
{
	char	*t = tv_strip_fws(s);
	size_t	 n = strlen(t), pad = 0;
	int	 r;

	ck_assert(n / 4 * 3 <= outlen);
	while (pad < n && t[n - 1 - pad] == '=')
		pad++;
	r = EVP_DecodeBlock(out, (unsigned char *)t, (int)n);
	ck_assert_int_ge(r, 0);
	free(t);
	return (size_t)r - pad;
}

/* keys_setup - one RSA-2048 and one Ed25519 key for the whole suite */
static void
keys_setup(void)
{
	unsigned char raw[64];
	const unsigned char *p = raw;
	unsigned char der[512];
	BIO	*bio;
	size_t	 n;

	n = b64(rfc_ed_seed, raw, sizeof(raw));
	ed_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, n);
	n = b64(rfc_ed_pub, raw, sizeof(raw));
	ed_pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, n);
	bio = BIO_new_mem_buf(rfc_rsa_pem, -1);
	rsa_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	n = b64(rfc_rsa_pub, der, sizeof(der));
	p = der;
	rsa_pub = d2i_PUBKEY(NULL, &p, (long)n);
	if (!ed_key || !ed_pub || !rsa_key || !rsa_pub)
		abort();
}

/* keys_teardown - the suite's keys go */
static void
keys_teardown(void)
{
	EVP_PKEY_free(ed_key);
	EVP_PKEY_free(ed_pub);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_pub);
}

/* A message split the way msgfile does: fields and body. */
struct field {
	char	*name;
	char	*value;
};

/* parse_fields - the header fields of a CRLF message, folds kept */
static size_t
parse_fields(const char *msg, struct field *f, size_t max, const char **body)
{
	const char *p = msg, *e, *c;
	size_t	 n = 0;

	while (*p != '\0' && strncmp(p, "\r\n", 2) != 0 && n < max) {
		e = p;
		do {
			e = strstr(e, "\r\n") + 2;
		} while (*e == ' ' || *e == '\t');
		c = strchr(p, ':');
		f[n].name = strndup(p, (size_t)(c - p));
		c++;
		while (*c == ' ')
			c++;
		f[n].value = strndup(c, (size_t)(e - 2 - c));
		n++;
		p = e;
	}
	*body = p + 2;
	return n;
}

/* strip_b - the value with the b= tag's value removed (RFC 6376 3.7) */
static char *
strip_b(const char *v)
{
	const char *p = v, *q;
	struct buf b;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == 'b') {
			q = p + 1;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				q++;
			if (*q == '=')
				break;
		}
		p = strchr(p, ';');
		ck_assert_ptr_nonnull(p);
		p++;
	}
	q = strchr(p, '=') + 1;
	buf_init(&b);
	buf_add(&b, v, (size_t)(q - v));
	if ((p = strchr(q, ';')) != NULL)
		buf_adds(&b, p);
	return buf_cstr(&b);
}

/*
 * verify - check a DKIM-Signature value over the fields with the engine's
 * canonicalization (relaxed) and OpenSSL; the body hash is bh_want.
 */
static int
verify(const char *value, const struct field *f, size_t nf, EVP_PKEY *pub,
    const char *bh_want)
{
	struct tv_list l;
	struct buf data;
	unsigned char sig[512], md[32];
	unsigned int mdlen;
	char	 err[128], *h, *name, *save, *stripped;
	int	*used = calloc(nf ? nf : 1, sizeof(*used)), ok;
	size_t	 siglen, j;
	EVP_MD_CTX *ctx;

	ck_assert_ptr_nonnull(used);

	ck_assert_int_eq(tv_parse(value, strlen(value), &l, err,
	    sizeof(err)), 0);
	if (strcmp(tv_get(&l, "bh"), bh_want) != 0) {
		tv_free(&l);
		free(used);
		return 0;
	}
	buf_init(&data);
	h = tv_strip_fws(tv_get(&l, "h"));
	for (name = strtok_r(h, ":", &save); name != NULL;
	    name = strtok_r(NULL, ":", &save))
		for (j = nf; j-- > 0; )
			if (!used[j] && strcasecmp(f[j].name, name) == 0) {
				used[j] = 1;
				canon_header(&data, DKIM_CANON_RELAXED,
				    f[j].name, strlen(f[j].name), f[j].value,
				    strlen(f[j].value));
				break;
			}
	stripped = strip_b(value);
	canon_header(&data, DKIM_CANON_RELAXED, "DKIM-Signature", 14,
	    stripped, strlen(stripped));
	data.len -= 2;
	siglen = b64(tv_get(&l, "b"), sig, sizeof(sig));
	ctx = EVP_MD_CTX_new();
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_ED25519) {
		ck_assert(EVP_Digest(data.p, data.len, md, &mdlen,
		    EVP_sha256(), NULL) == 1);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, md, mdlen) == 1;
	} else
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
		    pub) == 1 && EVP_DigestVerify(ctx, sig, siglen,
		    (unsigned char *)data.p, data.len) == 1;
	EVP_MD_CTX_free(ctx);
	free(stripped);
	free(h);
	free(used);
	buf_free(&data);
	tv_free(&l);
	return ok;
}

/* free_fields - what parse_fields allocated */
static void
free_fields(struct field *f, size_t n)
{
	while (n-- > 0) {
		free(f[n].name);
		free(f[n].value);
	}
}

/* The published signatures verify; a one-byte change breaks them. */
START_TEST(test_rfc8463_published)
{
	struct field f[8];
	const char *body;
	size_t	 nf = parse_fields(rfc_msg, f, 8, &body);

	ck_assert_uint_eq(nf, 5);
	ck_assert(verify(rfc_sig_ed, f, nf, ed_pub, rfc_bh));
	ck_assert(verify(rfc_sig_rsa, f, nf, rsa_pub, rfc_bh));
	ck_assert(!verify(rfc_sig_ed, f, nf, rsa_pub, rfc_bh));
	f[2].value[15] = '!';		/* "Is dinner ready!" */
	ck_assert(!verify(rfc_sig_ed, f, nf, ed_pub, rfc_bh));
	ck_assert(!verify(rfc_sig_rsa, f, nf, rsa_pub, rfc_bh));
	f[2].value[15] = '?';
	ck_assert(verify(rfc_sig_ed, f, nf, ed_pub, rfc_bh));
	f[4].value[1] = '3';		/* Message-ID */
	ck_assert(!verify(rfc_sig_ed, f, nf, ed_pub, rfc_bh));
	ck_assert(!verify(rfc_sig_rsa, f, nf, rsa_pub, rfc_bh));
	free_fields(f, nf);
}
END_TEST

/* sign_msg - the engine's signature of a CRLF message, fed by msgfile */
static char *
sign_msg(const char *msg, size_t len, EVP_PKEY *key, const char *sel,
    const struct msgfile_opts *o, enum dkim_status *st, char *err,
    size_t errlen)
{
	struct dkim_sign s = {
		EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ?
		    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256,
		key, "football.example.com", sel, 1528637909, 0, NULL
	};
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	char	*v = NULL;

	*st = msgfile_feed(m, msg, len, o, err, errlen);
	if (*st == DKIM_OK)
		*st = dkim_msg_sign(m, &s, &v, err, errlen);
	dkim_msg_free(m);
	return v;
}

/* bh_of - the bh= of a value, for the comparisons */
static char *
bh_of(const char *v)
{
	struct tv_list l;
	char	 err[128], *bh;

	ck_assert_int_eq(tv_parse(v, strlen(v), &l, err, sizeof(err)), 0);
	bh = strdup(tv_get(&l, "bh"));
	tv_free(&l);
	return bh;
}

/*
 * The engine reproduces the published bh= (one body hash for both
 * algorithms) and its own signatures with the published keys verify.
 */
START_TEST(test_rfc8463_engine)
{
	struct msgfile_opts o = { MSGFILE_WHOLE, 0, 0, 0 };
	struct field f[8];
	const char *body;
	enum dkim_status st;
	char	 err[256], *v, *bh, *tampered;
	size_t	 nf = parse_fields(rfc_msg, f, 8, &body);

	v = sign_msg(rfc_msg, strlen(rfc_msg), ed_key, "brisbane", &o, &st,
	    err, sizeof(err));
	ck_assert_msg(st == DKIM_OK, "%s", err);
	bh = bh_of(v);
	ck_assert_str_eq(bh, rfc_bh);
	ck_assert(verify(v, f, nf, ed_pub, rfc_bh));
	ck_assert(!verify(v, f, nf, rsa_pub, rfc_bh));
	free(bh);
	free(v);
	v = sign_msg(rfc_msg, strlen(rfc_msg), rsa_key, "test", &o, &st,
	    err, sizeof(err));
	ck_assert_msg(st == DKIM_OK, "%s", err);
	bh = bh_of(v);
	ck_assert_str_eq(bh, rfc_bh);
	ck_assert(verify(v, f, nf, rsa_pub, rfc_bh));
	free(bh);
	f[0].value[0] ^= 0x20;		/* "joe SixPack" */
	ck_assert(!verify(v, f, nf, rsa_pub, rfc_bh));
	free(v);
	/* one body byte changed: the body hash moves */
	tampered = strdup(rfc_msg);
	tampered[strlen(tampered) - 4] = 'E';
	v = sign_msg(tampered, strlen(tampered), ed_key, "brisbane", &o, &st,
	    err, sizeof(err));
	bh = bh_of(v);
	ck_assert_str_ne(bh, rfc_bh);
	free(bh);
	free(v);
	free(tampered);
	free_fields(f, nf);
}
END_TEST

static const struct selcase {
	const char	*sign;
	const char	*over;
	const char	*fields;	/* colon-separated message order */
	const char	*h;
	const char	*idx;		/* the positions hashed, in order */
} selcases[] = {
	{ "from:to:subject", "", "From:To:Subject:To", "from:to:to:subject",
	    "0 3 1 2" },
	{ "from:to:subject", "to", "From:To:Subject:To",
	    "from:to:to:to:subject", "0 3 1 2" },
	{ "from:subject", "from:reply-to", "From:Subject",
	    "from:from:subject:reply-to", "0 1" },
	{ "From:Subject", "", "FROM:subject:SUBJECT", "from:subject:subject",
	    "0 2 1" },
	{ "from:cc", "", "From", "from", "0" },
	{ " from : to ", "", "To:From", "from:to", "1 0" },
	{ "from:received", "", "Received:Received:From:Received",
	    "from:received:received:received", "2 3 1 0" },
	{ NULL, NULL, "From:To:Subject:Date:Message-ID:X-Foo:Received",
	    "from:from:reply-to:subject:subject:date:date:to:to:cc:"
	    "in-reply-to:references:sender:message-id:message-id:"
	    "mime-version:content-type:content-transfer-encoding",
	    "0 2 3 1 4" },
};

/* Each list and message gives its h= and the fields to hash, in order. */
START_TEST(test_hdrsel)
{
	const struct selcase *c = &selcases[_i];
	struct dkim_hdrlist *l;
	struct hdrsel_field f[16];
	struct buf h, idxs;
	size_t	 idx[16], n, nf = 0, i;
	char	 err[128], *names = strdup(c->fields), *p, *save;

	l = dkim_hdrlist_new(c->sign, c->over, err, sizeof(err));
	ck_assert_msg(l != NULL, "%s", err);
	for (p = strtok_r(names, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		f[nf].name = p;
		f[nf++].len = strlen(p);
	}
	buf_init(&h);
	buf_init(&idxs);
	n = hdrsel_select(l, f, nf, idx, &h);
	for (i = 0; i < n; i++) {
		char num[8];

		snprintf(num, sizeof(num), i ? " %zu" : "%zu", idx[i]);
		buf_adds(&idxs, num);
	}
	ck_assert_str_eq(buf_cstr(&h), c->h);
	ck_assert_str_eq(buf_cstr(&idxs), c->idx);
	buf_free(&h);
	buf_free(&idxs);
	free(names);
	dkim_hdrlist_free(l);
}
END_TEST

static const struct hlbad {
	const char	*sign;
	const char	*over;
	const char	*why;
} hlbad[] = {
	{ "to:subject", "", "From" },
	{ "from::to", NULL, "empty" },
	{ "from:", NULL, "empty" },
	{ "", NULL, "empty" },
	{ "from:fr om", NULL, "bad character" },
	{ "from:to:From", NULL, "twice" },
	{ "from", "x y", "bad character" },
	{ "from:x\xc3\xa9", NULL, "bad character" },
};

/* Each bad configured list is refused with its reason. */
START_TEST(test_hdrlist_bad)
{
	char	 err[128] = "";

	ck_assert_ptr_null(dkim_hdrlist_new(hlbad[_i].sign, hlbad[_i].over,
	    err, sizeof(err)));
	ck_assert_msg(strstr(err, hlbad[_i].why) != NULL, "\"%s\"", err);
}
END_TEST

/* check_folding - every line of the field fits 78 columns, tags in order */
static void
check_folding(const char *v, const char *d, const char *s, int x)
{
	static const char *order[] = { "v", "a", "c", "d", "s", "t", "x",
	    "h", "bh", "b" };
	struct tv_list l;
	const char *p = v, *e;
	size_t	 col = strlen("DKIM-Signature: "), i, k = 0;
	char	 err[128];

	for (;;) {
		e = strchr(p, '\n');
		ck_assert_msg(col + (e ? (size_t)(e - p) : strlen(p)) <= 78,
		    "line over 78: \"%.*s\"", (int)(e ? e - p : (long)strlen(p)),
		    p);
		if (e == NULL)
			break;
		ck_assert_msg(e[1] == '\t', "fold without a tab");
		ck_assert(e > p && e[-1] != ' ');
		p = e + 1;
		col = 0;
	}
	ck_assert_ptr_null(strchr(v, '\r'));
	ck_assert_int_eq(tv_parse(v, strlen(v), &l, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!x && strcmp(order[i], "x") == 0)
			continue;
		ck_assert_uint_lt(k, l.n);
		ck_assert_str_eq(l.pairs[k++].tag, order[i]);
	}
	ck_assert_uint_eq(k, l.n);
	ck_assert_str_eq(tv_get(&l, "v"), "1");
	ck_assert_str_eq(tv_get(&l, "c"), "relaxed/relaxed");
	ck_assert_str_eq(tv_get(&l, "d"), d);
	ck_assert_str_eq(tv_get(&l, "s"), s);
	tv_free(&l);
}

/* Domains, selectors and header lists of many lengths, both algorithms. */
START_TEST(test_folding)
{
	struct dkim_hdrlist *hl;
	struct field f[8];
	const char *body;
	struct dkim_sign sg;
	struct dkim_msg *m;
	struct buf list;
	char	 err[256], dom[128], sel[64], *v;
	size_t	 nf = parse_fields(rfc_msg, f, 8, &body), i, len;

	buf_init(&list);
	buf_adds(&list, "from");
	for (i = 0; i < (size_t)_i * 3; i++) {
		char n[32];

		snprintf(n, sizeof(n), ":x-header-%zu", i * 7919 % 1000);
		buf_adds(&list, n);
	}
	hl = dkim_hdrlist_new(buf_cstr(&list), "from:to", err, sizeof(err));
	ck_assert_msg(hl != NULL, "%s", err);
	for (len = 1; len < 62; len += 3) {
		for (i = 0; i < len; i++)
			dom[i] = i % 20 == 19 && i + 1 < len ? '.' :
			    (char)('a' + i % 26);
		strcpy(dom + len, ".example");
		snprintf(sel, sizeof(sel), "s%zu-x%.*s", len, (int)(len % 40),
		    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
		memset(&sg, 0, sizeof(sg));
		sg.alg = len % 2 ? DKIM_ALG_ED25519_SHA256 :
		    DKIM_ALG_RSA_SHA256;
		sg.key = len % 2 ? ed_key : rsa_key;
		sg.domain = dom;
		sg.selector = sel;
		sg.t = 1700000000 + (time_t)len * 99991;
		sg.x = len % 3 ? sg.t + 86400 * (time_t)len : 0;
		sg.hdrs = hl;
		m = dkim_msg_new(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED);
		for (i = 0; i < nf; i++)
			ck_assert_int_eq(dkim_msg_header(m, f[i].name,
			    f[i].value, strlen(f[i].value), err, sizeof(err)),
			    DKIM_OK);
		dkim_msg_body(m, body, strlen(body));
		ck_assert_msg(dkim_msg_sign(m, &sg, &v, err, sizeof(err)) ==
		    DKIM_OK, "%s: %s", dom, err);
		check_folding(v, dom, sel, sg.x != 0);
		ck_assert(verify(v, f, nf, len % 2 ? ed_pub : rsa_pub, rfc_bh));
		free(v);
		dkim_msg_free(m);
	}
	dkim_hdrlist_free(hl);
	buf_free(&list);
	free_fields(f, nf);
}
END_TEST

/*
 * One message signed in turn with the default header list, another list
 * and the default again (the selection is shared between signatures of
 * one list): each signature names its own fields and verifies.
 */
START_TEST(test_lists_in_turn)
{
	struct dkim_hdrlist *hl;
	struct field f[8];
	const char *body;
	struct dkim_sign sg;
	struct dkim_msg *m;
	char	 err[256], *v, *h;
	size_t	 nf = parse_fields(rfc_msg, f, 8, &body), i, k;
	struct tv_list l;

	hl = dkim_hdrlist_new("from:subject", "", err, sizeof(err));
	ck_assert_msg(hl != NULL, "%s", err);
	m = dkim_msg_new(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED);
	for (i = 0; i < nf; i++)
		ck_assert_int_eq(dkim_msg_header(m, f[i].name, f[i].value,
		    strlen(f[i].value), err, sizeof(err)), DKIM_OK);
	dkim_msg_body(m, body, strlen(body));
	for (k = 0; k < 3; k++) {
		memset(&sg, 0, sizeof(sg));
		sg.alg = k % 2 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
		sg.key = k % 2 ? ed_key : rsa_key;
		sg.domain = "example.com";
		sg.selector = "s1";
		sg.t = 1700000000;
		sg.hdrs = k == 1 ? hl : NULL;
		ck_assert_msg(dkim_msg_sign(m, &sg, &v, err, sizeof(err)) ==
		    DKIM_OK, "%s", err);
		ck_assert(verify(v, f, nf, k % 2 ? ed_pub : rsa_pub, rfc_bh));
		ck_assert_int_eq(tv_parse(v, strlen(v), &l, err, sizeof(err)),
		    0);
		h = tv_strip_fws(tv_get(&l, "h"));
		if (k == 1)
			ck_assert_str_eq(h, "from:subject");
		else
			ck_assert(strstr(h, "to") != NULL);
		free(h);
		tv_free(&l);
		free(v);
	}
	dkim_msg_free(m);
	dkim_hdrlist_free(hl);
	free_fields(f, nf);
}
END_TEST

/* datafile - the messages of t/data, CRLF, and the 2 MB attachment one */
static char *
datafile(int i, size_t *len, char *name, size_t namelen)
{
	const char *top = getenv("top_srcdir");
	char	 dir[1024], path[2048], *raw, *out;
	struct dirent **ents;
	struct buf b;
	int	 n, k, found = 0;
	size_t	 j;

	snprintf(dir, sizeof(dir), "%s/t/data", top ? top : "..");
	n = scandir(dir, &ents, NULL, alphasort);
	ck_assert_msg(n > 0, "cannot read %s", dir);
	raw = NULL;
	for (k = 0; k < n; k++) {
		size_t el = strlen(ents[k]->d_name);

		if (!found && el > 4 &&
		    strcmp(ents[k]->d_name + el - 4, ".eml") == 0 && i-- == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    ents[k]->d_name);
			snprintf(name, namelen, "%s", ents[k]->d_name);
			raw = msgfile_read(path, len);
			ck_assert_ptr_nonnull(raw);
			found = 1;
		}
		free(ents[k]);
	}
	free(ents);
	if (!found) {
		snprintf(name, namelen, "2 MB attachment");
		return i == 0 ? msgfile_bigmsg(2 * 1024 * 1024, len) : NULL;
	}
	buf_init(&b);
	for (j = 0; j < *len; j++) {
		if (raw[j] == '\n' && (j == 0 || raw[j - 1] != '\r'))
			buf_addc(&b, '\r');
		buf_addc(&b, raw[j]);
	}
	free(raw);
	*len = b.len;
	out = buf_cstr(&b);
	return out;
}

/* Every message: the same signature whole, by bytes and in random chunks. */
START_TEST(test_chunking)
{
	struct msgfile_opts o = { MSGFILE_WHOLE, 0, 0, 0 };
	enum dkim_status st;
	char	 err[256], name[256], *msg, *want, *got;
	size_t	 len;
	int	 i, k;

	for (i = 0; (msg = datafile(i, &len, name, sizeof(name))) != NULL;
	    i++) {
		for (k = 0; k < 2; k++) {
			EVP_PKEY *key = k ? rsa_key : ed_key;

			o.chunks = MSGFILE_WHOLE;
			o.crlf_folds = 0;
			want = sign_msg(msg, len, key, "sel", &o, &st, err,
			    sizeof(err));
			ck_assert_msg(st == DKIM_OK, "%s: %s", name, err);
			for (o.seed = 0; o.seed < 6; o.seed++) {
				o.chunks = o.seed == 0 ? MSGFILE_BYTES :
				    MSGFILE_RANDOM;
				o.crlf_folds = o.seed % 2;
				got = sign_msg(msg, len, key, "sel", &o, &st,
				    err, sizeof(err));
				ck_assert_msg(st == DKIM_OK && strcmp(want,
				    got) == 0, "%s: seed %u differs", name,
				    o.seed);
				free(got);
			}
			free(want);
		}
		free(msg);
	}
	ck_assert_int_ge(i, 10);
}
END_TEST

static const struct badcase {
	const char	*name;
	const char	*value;
	size_t		 len;		/* 0: strlen */
	enum dkim_status st;
	const char	*why;
} badcases[] = {
	{ "", "x", 0, DKIM_EHEADER, "without a name" },
	{ "  ", "x", 0, DKIM_EHEADER, "without a name" },
	{ NULL, "x", 0, DKIM_EHEADER, "without a name" },
	{ "Sub ject", "x", 0, DKIM_EHEADER, "0x20" },
	{ "Subject:", "x", 0, DKIM_EHEADER, "0x3a" },
	{ "Sub\x01", "x", 0, DKIM_EHEADER, "0x01" },
	{ "S\xc3\xbc""bject", "x", 0, DKIM_EHEADER, "0xc3" },
	{ "Subject", "a\0b", 3, DKIM_EHEADER, "NUL" },
	{ "Subject", "\0", 1, DKIM_EHEADER, "NUL" },
	/* accepted: 8-bit and broken UTF-8 are signed as octets */
	{ "Subject", "caf\xe9 \xc3\x28 \xed\xa0\x80 \xff", 0, DKIM_OK, NULL },
	{ "Subject", "bare\rcr", 0, DKIM_OK, NULL },
	{ "Subject ", "space before the colon", 0, DKIM_OK, NULL },
	{ "X-Empty", "", 0, DKIM_OK, NULL },
};

/* Each field is refused for its reason or kept; the message still signs. */
START_TEST(test_bad_header)
{
	const struct badcase *c = &badcases[_i];
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	struct dkim_sign s = { DKIM_ALG_ED25519_SHA256, NULL, "example.org",
	    "sel", 1700000000, 0, NULL };
	char	 err[256] = "", *v;
	enum dkim_status st;

	st = dkim_msg_header(m, c->name, c->value, c->len ? c->len :
	    strlen(c->value), err, sizeof(err));
	ck_assert_int_eq(st, c->st);
	if (c->why != NULL)
		ck_assert_msg(strstr(err, c->why) != NULL, "\"%s\"", err);
	ck_assert_int_eq(dkim_msg_header(m, "From", "a@example.org", 13, err,
	    sizeof(err)), DKIM_OK);
	s.key = ed_key;
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	free(v);
	dkim_msg_free(m);
}
END_TEST

/* Over-long fields and header blocks are refused; the message stays usable. */
START_TEST(test_limits)
{
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	char	*big = malloc(DKIM_MAX_HEADER + 10), *name, err[256];
	enum dkim_status st;
	int	 i;

	memset(big, 'a', DKIM_MAX_HEADER + 10);
	ck_assert_int_eq(dkim_msg_header(m, "X", big, DKIM_MAX_HEADER, err,
	    sizeof(err)), DKIM_ETOOLONG);
	ck_assert_ptr_nonnull(strstr(err, "longer"));
	ck_assert_int_eq(dkim_msg_header(m, "X", big, DKIM_MAX_HEADER - 1,
	    err, sizeof(err)), DKIM_OK);
	name = strndup(big, DKIM_MAX_HEADER + 5);
	ck_assert_int_eq(dkim_msg_header(m, name, "x", 1, err, sizeof(err)),
	    DKIM_ETOOLONG);
	free(name);
	for (i = 0, st = DKIM_OK; i < 40 && st == DKIM_OK; i++)
		st = dkim_msg_header(m, "X-Big", big, 60000, err, sizeof(err));
	ck_assert_int_eq(st, DKIM_ETOOLONG);
	ck_assert_ptr_nonnull(strstr(err, "header block"));
	ck_assert_int_lt(i, 40);
	free(big);
	dkim_msg_free(m);
}
END_TEST

/*
 * 100,000 fields filling the 1 MB header block: they are all taken and
 * the message signs, and h= names only the bottom-most To fields. Nothing
 * here is timed; the tcase timeout (600 s) is the only bound, and it only
 * catches a step that never ends.
 */
START_TEST(test_many_fields)
{
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	struct dkim_sign s = { DKIM_ALG_ED25519_SHA256, NULL, "example.org",
	    "sel", 1700000000, 0, NULL };
	struct tv_list l;
	char	 err[256], dom[256], fill[30000], *v, *h, *p, *save;
	enum dkim_status st;
	size_t	 i, n;

	ck_assert_int_eq(dkim_msg_header(m, "From", "a@example.org", 13, err,
	    sizeof(err)), DKIM_OK);
	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(dkim_msg_header(m, i % 2 ? "To" : "X", "v\n w",
		    4, err, sizeof(err)), DKIM_OK);
	memset(fill, 'f', sizeof(fill));
	while ((st = dkim_msg_header(m, "X-Fill", fill, sizeof(fill), err,
	    sizeof(err))) == DKIM_OK)
		;
	ck_assert_int_eq(st, DKIM_ETOOLONG);
	ck_assert_ptr_nonnull(strstr(err, "header block"));
	ck_assert_int_eq(dkim_msg_from_domain(m, dom, sizeof(dom), err,
	    sizeof(err)), DKIM_OK);
	s.key = ed_key;
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	ck_assert_int_eq(tv_parse(v, strlen(v), &l, err, sizeof(err)), 0);
	h = tv_strip_fws(tv_get(&l, "h"));
	for (n = 0, p = strtok_r(h, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save))
		n += strcmp(p, "to") == 0;
	/* the bottom-most HDRSEL_MAX_INSTANCES, and To is not oversigned */
	ck_assert_uint_eq(n, HDRSEL_MAX_INSTANCES);
	free(h);
	tv_free(&l);
	free(v);
	dkim_msg_free(m);
}
END_TEST

/*
 * 1,000 To fields: h= names "to" exactly HDRSEL_MAX_INSTANCES times, the
 * signature verifies, covers the bottom-most To and not the topmost.
 */
START_TEST(test_hdrsel_cap)
{
	struct msgfile_opts o = { MSGFILE_WHOLE, 0, 0, 0 };
	struct buf msg;
	struct field *f = calloc(1100, sizeof(*f));
	struct tv_list l;
	enum dkim_status st;
	const char *body;
	char	 err[256], line[64], *v, *bh, *h, *p, *save, *orig;
	size_t	 i, n, nf;

	ck_assert_ptr_nonnull(f);
	buf_init(&msg);
	buf_adds(&msg, "From: a@football.example.com\r\n");
	for (i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "To: r%zu@example.net\r\n", i);
		buf_adds(&msg, line);
	}
	buf_adds(&msg, "Subject: many\r\n\r\nbody\r\n");
	v = sign_msg(buf_cstr(&msg), msg.len, ed_key, "brisbane", &o, &st,
	    err, sizeof(err));
	ck_assert_msg(st == DKIM_OK, "%s", err);
	ck_assert_uint_lt(strlen(v), 2000);
	ck_assert_int_eq(tv_parse(v, strlen(v), &l, err, sizeof(err)), 0);
	h = tv_strip_fws(tv_get(&l, "h"));
	for (n = 0, p = strtok_r(h, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save))
		n += strcmp(p, "to") == 0;
	ck_assert_uint_eq(n, HDRSEL_MAX_INSTANCES);
	free(h);
	tv_free(&l);
	nf = parse_fields(buf_cstr(&msg), f, 1100, &body);
	ck_assert_uint_eq(nf, 1002);
	bh = bh_of(v);
	ck_assert(verify(v, f, nf, ed_pub, bh));
	/* the topmost To is not covered; the bottom-most one is */
	orig = f[1].value;
	f[1].value = strdup("someone@else.example");
	ck_assert(verify(v, f, nf, ed_pub, bh));
	free(f[1].value);
	f[1].value = orig;
	f[1000].value[0] ^= 0x20;
	ck_assert(!verify(v, f, nf, ed_pub, bh));
	free(bh);
	free(v);
	free_fields(f, nf);
	free(f);
	buf_free(&msg);
}
END_TEST

/* No From, a group, several From fields: no domain to sign for. */
START_TEST(test_bad_from)
{
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	char	 err[256], dom[256];

	ck_assert_int_eq(dkim_msg_from_domain(m, dom, sizeof(dom), err,
	    sizeof(err)), DKIM_EFROM);
	ck_assert_ptr_nonnull(strstr(err, "no From"));
	dkim_msg_header(m, "FROM", "Group: a@b.example;", 19, err, sizeof(err));
	ck_assert_int_eq(dkim_msg_from_domain(m, dom, sizeof(dom), err,
	    sizeof(err)), DKIM_EFROM);
	ck_assert_ptr_nonnull(strstr(err, "group"));
	dkim_msg_header(m, "from", "a@b.example", 11, err, sizeof(err));
	ck_assert_int_eq(dkim_msg_from_domain(m, dom, sizeof(dom), err,
	    sizeof(err)), DKIM_EFROM);
	ck_assert_ptr_nonnull(strstr(err, "several From"));
	dkim_msg_free(m);
}
END_TEST

/* Signing requests that make no sense, body after signing. */
START_TEST(test_bad_use)
{
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	struct dkim_sign s = { DKIM_ALG_RSA_SHA256, NULL, "example.org",
	    "sel", 1700000000, 0, NULL };
	char	 err[256], *v = (char *)1;
	EVP_PKEY *small;

	dkim_msg_header(m, "From", "a@b.example", 11, err, sizeof(err));
	dkim_msg_body(m, NULL, 0);		/* an empty chunk may be NULL */
	ck_assert_int_eq(dkim_from_domain(NULL, 0, err, sizeof(err), err,
	    sizeof(err)), DKIM_EFROM);
	s.key = ed_key;			/* an Ed25519 key for rsa-sha256 */
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)),
	    DKIM_EKEY);
	ck_assert_ptr_null(v);
	s.alg = DKIM_ALG_ED25519_SHA256;
	s.key = rsa_key;
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)),
	    DKIM_EKEY);
	s.key = NULL;
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)),
	    DKIM_EKEY);
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	ck_assert_ptr_nonnull(small);
	s.alg = DKIM_ALG_RSA_SHA256;
	s.key = small;
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)),
	    DKIM_EKEY);
	ck_assert_ptr_nonnull(strstr(err, "8301"));
	EVP_PKEY_free(small);
	s.key = rsa_key;
	s.domain = "exa mple.org";
	ck_assert_int_ne(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	ck_assert_ptr_nonnull(strstr(err, "d=exa mple.org: not a host name"));
	s.domain = "example-.org";
	ck_assert_int_ne(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	s.domain = "Example.ORG";
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	free(v);
	s.domain = "example.org;x=1";
	ck_assert_int_ne(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	s.domain = "example.org";
	s.selector = "";
	ck_assert_int_ne(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	ck_assert_ptr_nonnull(strstr(err, "s=: not a host name"));
	s.selector = NULL;
	ck_assert_int_ne(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	ck_assert_ptr_nonnull(strstr(err, "missing"));
	s.selector = "sel";
	s.x = s.t;
	ck_assert_int_ne(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	s.x = 0;
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)), DKIM_OK);
	free(v);
	dkim_msg_body(m, "late", 4);
	ck_assert_int_eq(dkim_msg_sign(m, &s, &v, err, sizeof(err)),
	    DKIM_EINTERNAL);
	dkim_msg_free(m);
	ck_assert_int_eq(dkim_alg_parse("ED25519-SHA256", &s.alg), 0);
	ck_assert_int_eq(s.alg, DKIM_ALG_ED25519_SHA256);
	ck_assert_str_eq(dkim_alg_name(s.alg), "ed25519-sha256");
	ck_assert_int_eq(dkim_alg_parse("rsa-sha1", &s.alg), -1);
}
END_TEST

/* Garbage header blocks through msgfile: an error or a signature, no crash. */
START_TEST(test_garbage)
{
	struct msgfile_opts o = { MSGFILE_RANDOM, 0, 0, 0 };
	unsigned int s = 777 + (unsigned int)_i;
	enum dkim_status st;
	char	 msg[400], err[256], *v;
	size_t	 n, i;

	for (i = 0; i < 200; i++) {
		size_t k;

		s = s * 1103515245u + 12345u;
		n = (s >> 16) % sizeof(msg);
		for (k = 0; k < n; k++) {
			s = s * 1103515245u + 12345u;
			msg[k] = "From:a@b.c\r\n \t:;<>()\"\\@x\0\xff"[(s >> 16) % 26];
		}
		o.seed = s;
		v = sign_msg(msg, n, ed_key, "sel", &o, &st, err, sizeof(err));
		if (st != DKIM_OK)
			ck_assert(err[0] != '\0');
		else
			ck_assert_ptr_nonnull(v);
		free(v);
	}
}
END_TEST

/* thread - sign the RFC message n times, every value equal to the first */
static void *
thread(void *arg)
{
	struct msgfile_opts o = { MSGFILE_WHOLE, 0, 0, 0 };
	enum dkim_status st;
	char	 err[256], *v, *first = NULL;
	long	 bad = 0;
	int	 i;

	for (i = 0; i < 40; i++) {
		v = sign_msg(rfc_msg, strlen(rfc_msg), i % 2 ? rsa_key : ed_key,
		    "sel", &o, &st, err, sizeof(err));
		if (st != DKIM_OK)
			bad++;
		else if (i < 2) {
			if (first == NULL)
				first = v, v = NULL;
		} else if (i % 2 == 0 && strcmp(v, first) != 0)
			bad++;
		free(v);
	}
	free(first);
	(void)arg;
	return (void *)bad;
}

/* One EVP_PKEY pair shared by four threads signing at once. */
START_TEST(test_threads)
{
	pthread_t t[4];
	void	*r;
	int	 i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread, NULL), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &r), 0);
		ck_assert_ptr_null(r);
	}
}
END_TEST

/* sign_suite - every case of this file */
static Suite *
sign_suite(void)
{
	Suite	*s = suite_create("sign");
	TCase	*tc = tcase_create("sign");

	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 600);	/* a hang bound, nothing is timed */
	tcase_add_test(tc, test_rfc8463_published);
	tcase_add_test(tc, test_rfc8463_engine);
	tcase_add_loop_test(tc, test_hdrsel, 0, sizeof(selcases) /
	    sizeof(selcases[0]));
	tcase_add_loop_test(tc, test_hdrlist_bad, 0, sizeof(hlbad) /
	    sizeof(hlbad[0]));
	tcase_add_loop_test(tc, test_folding, 0, 12);
	tcase_add_test(tc, test_lists_in_turn);
	tcase_add_test(tc, test_chunking);
	tcase_add_loop_test(tc, test_bad_header, 0, sizeof(badcases) /
	    sizeof(badcases[0]));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_many_fields);
	tcase_add_test(tc, test_hdrsel_cap);
	tcase_add_test(tc, test_bad_from);
	tcase_add_test(tc, test_bad_use);
	tcase_add_loop_test(tc, test_garbage, 0, 4);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(sign_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
