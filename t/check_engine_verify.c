/*
 * check_engine_verify - the DKIM verifier keyturn audit uses
 * (milter/dkimverify.c): signatures the engine makes verify with their
 * key, for both algorithms and both canonicalizations, with CRLF and bare
 * LF message files; an altered body or header, another key, a key of the
 * other algorithm, l= and a missing signature do not. The RFC 8463
 * appendix A signatures and one made by dkimpy (t/data/dkimpy/, see its
 * README) are known answers from other signers.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dkim.h"
#include "dkimverify.h"
#include "msgfile.h"
#include "tagvalue.h"
#include "xmalloc.h"

/* RFC 8463 appendix A */
static const char rfc_ed_pub[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc_rsa_pub[] =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5q"
    "hdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1L"
    "xj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QI"
    "DAQAB";
static const char rfc_signed[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
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

static const char msg_crlf[] =
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Subject: the quarterly\r\n"
    "  numbers,   folded\r\n"
    "Date: Sun, 22 Nov 2026 21:51:30 +0000\r\n"
    "Message-ID: <1@example.com>\r\n"
    "\r\n"
    "Hello Bob,  \r\n"
    "\r\n"
    "the numbers are attached.\r\n"
    "\r\n\r\n";

static EVP_PKEY *ed, *ed2, *rsa;

static void
keys_setup(void)
{
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (ed == NULL || ed2 == NULL || rsa == NULL)
		abort();
}

static void
keys_teardown(void)
{
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ed2);
	EVP_PKEY_free(rsa);
}

/* lf_only - the message with every CRLF made a bare LF */
static char *
lf_only(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;

	for (; *s; s++)
		if (!(s[0] == '\r' && s[1] == '\n'))
			*o++ = *s;
	*o = '\0';
	return out;
}

/*
 * signed_msg - the engine's signature on msg, put on top of it as an MTA
 * would (its folds with the message's line ends)
 */
static char *
signed_msg(const char *msg, EVP_PKEY *key, enum dkim_alg alg,
    enum dkim_canon c)
{
	struct msgfile_opts o = { MSGFILE_WHOLE, 0, 0, 0 };
	struct dkim_sign s = { alg, key, "example.com", "kt1", 1795384290, 0,
	    NULL };
	struct dkim_msg *m = dkim_msg_new(c, c);
	char err[256], *v, *out, *p;
	int crlf = strstr(msg, "\r\n") != NULL;
	size_t n = 0;

	ck_assert_int_eq(msgfile_feed(m, msg, strlen(msg), &o, err,
	    sizeof(err)), DKIM_OK);
	ck_assert_msg(dkim_msg_sign(m, &s, &v, err, sizeof(err)) == DKIM_OK,
	    "%s", err);
	dkim_msg_free(m);
	out = xmalloc(2 * strlen(v) + strlen(msg) + 32);
	n = (size_t)sprintf(out, "DKIM-Signature: ");
	for (p = v; *p; p++) {
		if (*p == '\n' && crlf)
			out[n++] = '\r';
		out[n++] = *p;
	}
	n += (size_t)sprintf(out + n, "%s%s", crlf ? "\r\n" : "\n", msg);
	free(v);
	return out;
}

static int
verify(const char *msg, size_t idx, EVP_PKEY *pub, char *why, size_t len)
{
	return dkimv_verify(msg, strlen(msg), idx, pub, why, len);
}

/* replace - a copy of s with the first from made to */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *out;

	ck_assert_ptr_nonnull(at);
	out = xmalloc(strlen(s) + strlen(to) + 1);
	memcpy(out, s, at - s);
	strcpy(out + (at - s), to);
	strcat(out, at + strlen(from));
	return out;
}

/* every algorithm x canonicalization x line end verifies, and not altered */
START_TEST(test_own_signatures)
{
	enum dkim_alg alg = _i & 1 ? DKIM_ALG_RSA_SHA256 :
	    DKIM_ALG_ED25519_SHA256;
	enum dkim_canon c = _i & 2 ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
	EVP_PKEY *key = alg == DKIM_ALG_RSA_SHA256 ? rsa : ed;
	char why[256], *base, *sm, *bad;

	base = _i & 4 ? lf_only(msg_crlf) : xstrdup(msg_crlf);
	sm = signed_msg(base, key, alg, c);
	ck_assert_msg(verify(sm, 0, key, why, sizeof(why)) == DKIMV_OK,
	    "%d: %s", _i, why);
	ck_assert_uint_eq(dkimv_count(sm, strlen(sm)), 1);
	/* the body altered */
	bad = replace(sm, "attached", "attacked");
	ck_assert_int_eq(verify(bad, 0, key, why, sizeof(why)), DKIMV_FAIL);
	ck_assert_msg(strstr(why, "body hash") != NULL, "%s", why);
	free(bad);
	/* a signed header altered */
	bad = replace(sm, "the quarterly", "the yearly");
	ck_assert_int_eq(verify(bad, 0, key, why, sizeof(why)), DKIMV_FAIL);
	ck_assert_msg(strstr(why, "does not verify") != NULL, "%s", why);
	free(bad);
	/* an over-signed field added */
	bad = replace(sm, "Date:", "Reply-To: mallory@example.org\nDate:");
	ck_assert_int_eq(verify(bad, 0, key, why, sizeof(why)), DKIMV_FAIL);
	free(bad);
	/* t= changed: the signature field is signed too */
	bad = replace(sm, "t=1795384290", "t=1795384291");
	ck_assert_int_eq(verify(bad, 0, key, why, sizeof(why)), DKIMV_FAIL);
	free(bad);
	/* another key of the algorithm */
	if (alg == DKIM_ALG_ED25519_SHA256)
		ck_assert_int_eq(verify(sm, 0, ed2, why, sizeof(why)),
		    DKIMV_FAIL);
	/* a key of the other algorithm */
	ck_assert_int_eq(verify(sm, 0, key == rsa ? ed : rsa, why,
	    sizeof(why)), DKIMV_ERROR);
	/* no second signature */
	ck_assert_int_eq(verify(sm, 1, key, why, sizeof(why)), DKIMV_ERROR);
	free(sm);
	free(base);
}
END_TEST

/* trailing empty lines and whitespace: what the canonical forms ignore */
START_TEST(test_transport_changes)
{
	char why[256], *sm, *moved;

	sm = signed_msg(msg_crlf, ed, DKIM_ALG_ED25519_SHA256,
	    DKIM_CANON_RELAXED);
	moved = replace(sm, "Hello Bob,  \r\n", "Hello   Bob,\r\n");
	ck_assert_msg(verify(moved, 0, ed, why, sizeof(why)) == DKIMV_OK,
	    "%s", why);
	free(moved);
	moved = replace(sm, "Subject: the", "subject:   the");
	ck_assert_msg(verify(moved, 0, ed, why, sizeof(why)) == DKIMV_OK,
	    "%s", why);
	free(moved);
	free(sm);
	/* simple: the same changes break it */
	sm = signed_msg(msg_crlf, ed, DKIM_ALG_ED25519_SHA256,
	    DKIM_CANON_SIMPLE);
	moved = replace(sm, "Subject: the", "subject:   the");
	ck_assert_int_eq(verify(moved, 0, ed, why, sizeof(why)), DKIMV_FAIL);
	free(moved);
	free(sm);
}
END_TEST

/* what is refused before any hash: l=, no From in h=, garbage */
START_TEST(test_refused)
{
	char why[256], *sm, *bad;

	sm = signed_msg(msg_crlf, ed, DKIM_ALG_ED25519_SHA256,
	    DKIM_CANON_RELAXED);
	bad = replace(sm, "v=1;", "v=1; l=10;");
	ck_assert_int_eq(verify(bad, 0, ed, why, sizeof(why)), DKIMV_ERROR);
	ck_assert_msg(strstr(why, "l=") != NULL, "%s", why);
	free(bad);
	ck_assert_int_eq(verify("DKIM-Signature: v=1; a=ed25519-sha256; "
	    "d=example.com; s=kt1; h=to:subject; bh=AAAA; b=AAAA\r\n"
	    "From: a@example.com\r\n\r\nx\r\n", 0, ed, why, sizeof(why)),
	    DKIMV_ERROR);
	ck_assert_msg(strstr(why, "From") != NULL, "%s", why);
	bad = replace(sm, "a=ed25519-sha256", "a=rsa-sha1");
	ck_assert_int_eq(verify(bad, 0, ed, why, sizeof(why)), DKIMV_ERROR);
	free(bad);
	ck_assert_int_eq(verify(msg_crlf, 0, ed, why, sizeof(why)),
	    DKIMV_ERROR);
	ck_assert_int_eq(verify("no colon here\r\n\r\nbody\r\n", 0, ed, why,
	    sizeof(why)), DKIMV_ERROR);
	free(sm);
}
END_TEST

/* pub_of - a public key from base64 DER SPKI or a raw Ed25519 key */
static EVP_PKEY *
pub_of(const char *b64, int raw_ed)
{
	unsigned char der[1024];
	const unsigned char *p = der;
	char *t = tv_strip_fws(b64);
	int n = EVP_DecodeBlock(der, (unsigned char *)t, (int)strlen(t));
	size_t len;

	ck_assert_int_gt(n, 0);
	len = (size_t)n - (t[strlen(t) - 1] == '=') -
	    (t[strlen(t) - 2] == '=');
	free(t);
	if (raw_ed)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der,
		    len);
	return d2i_PUBKEY(NULL, &p, (long)len);
}

/* RFC 8463 appendix A: the two signatures of its example */
START_TEST(test_rfc8463)
{
	EVP_PKEY *edp = pub_of(rfc_ed_pub, 1), *rsap = pub_of(rfc_rsa_pub, 0);
	char why[256], *bad;

	ck_assert_ptr_nonnull(edp);
	ck_assert_ptr_nonnull(rsap);
	ck_assert_msg(verify(rfc_signed, 0, edp, why, sizeof(why)) == DKIMV_OK,
	    "%s", why);
	ck_assert_msg(verify(rfc_signed, 1, rsap, why, sizeof(why)) ==
	    DKIMV_OK, "%s", why);
	ck_assert_int_eq(verify(rfc_signed, 1, edp, why, sizeof(why)),
	    DKIMV_ERROR);
	bad = replace(rfc_signed, "dinner", "lunch");
	ck_assert_int_eq(verify(bad, 0, edp, why, sizeof(why)), DKIMV_FAIL);
	ck_assert_int_eq(verify(bad, 1, rsap, why, sizeof(why)), DKIMV_FAIL);
	free(bad);
	EVP_PKEY_free(edp);
	EVP_PKEY_free(rsap);
}
END_TEST

/* datafile - a file of t/data, whole */
static char *
datafile(const char *name, size_t *len)
{
	char path[1024];
	const char *dir = getenv("top_srcdir");

	snprintf(path, sizeof(path), "%s/t/data/%s", dir ? dir : "..",
	    name);
	return msgfile_read(path, len);
}

/* a signature dkimpy made (t/data/dkimpy/README says how) */
START_TEST(test_dkimpy)
{
	char why[256], *msg, *pem, *bad;
	size_t len, plen;
	EVP_PKEY *pub;
	BIO *b;

	msg = datafile("dkimpy/signed.msg", &len);
	pem = datafile("dkimpy/key.pub", &plen);
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(pem);
	b = BIO_new_mem_buf(pem, (int)plen);
	pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	ck_assert_ptr_nonnull(pub);
	ck_assert_msg(dkimv_verify(msg, len, 0, pub, why, sizeof(why)) ==
	    DKIMV_OK, "%s", why);
	bad = replace(msg, "fixed test vector", "fixed test vectors");
	ck_assert_int_eq(dkimv_verify(bad, strlen(bad), 0, pub, why,
	    sizeof(why)), DKIMV_FAIL);
	free(bad);
	EVP_PKEY_free(pub);
	free(msg);
	free(pem);
}
END_TEST

static Suite *
verify_suite(void)
{
	Suite *s = suite_create("engine_verify");
	TCase *tc = tcase_create("verify");

	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_loop_test(tc, test_own_signatures, 0, 8);
	tcase_add_test(tc, test_transport_changes);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_rfc8463);
	tcase_add_test(tc, test_dkimpy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(verify_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
