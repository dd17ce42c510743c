/*
 * fuzz_dkimverify - DKIM-Signature parsing and verification as keyturn
 * audit runs it (dkimv_verify, dkimv_count; libFuzzer entry)
 *
 * The first input byte picks the key (bit 0: RSA, else Ed25519: the test
 * keys of fuzz_keys.h) and the signature to check (bits 1-2);
 * the rest is a stored message. dkimv_verify must give OK, FAIL or ERROR
 * with a reason, and never OK for a signature index the message does not
 * have. Then the signing engine signs the message with the Ed25519 key
 * (relaxed/relaxed, as keyturnd does; fed as t/msgfile.c feeds it) and
 * the verifier must say OK for the new signature placed on top, whenever
 * the message is one an MTA could hand over unchanged (fuzz_clean: one
 * kind of line end, CRLF or LF as in a stored copy; a header of fields
 * in printable ASCII and tabs) and the engine signed it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkim.h"
#include "dkimverify.h"
#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "msgfile.h"

static EVP_PKEY *fuzz_edkey, *fuzz_rsakey;

/* fuzz_pem - one of the test keys */
static EVP_PKEY *
fuzz_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k;

	if (b == NULL || (k = PEM_read_bio_PrivateKey(b, NULL, NULL,
	    NULL)) == NULL)
		abort();
	BIO_free(b);
	return k;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_edkey = fuzz_pem(fuzz_ed);
	fuzz_rsakey = fuzz_pem(fuzz_rsa);
	return 0;
}

/*
 * fuzz_clean - a message an MTA hands over as it is: one kind of line
 * end throughout (CRLF; or LF, as a stored copy may have it: 1 then),
 * a header of printable ASCII and tabs, each field with a name and a
 * colon, ended by an empty line; -1 when not
 */
static int
fuzz_clean(const char *m, size_t n)
{
	const char *p = m, *end = m + n, *eol, *c;
	size_t i, crlf = 0, lf = 0;
	int nl;

	for (i = 0; i < n; i++) {
		if (m[i] == '\r' && (i + 1 == n || m[i + 1] != '\n'))
			return -1;	/* a bare CR */
		if (m[i] == '\n')
			(i > 0 && m[i - 1] == '\r') ? crlf++ : lf++;
	}
	if (crlf > 0 && lf > 0)
		return -1;
	nl = lf > 0;
	for (;; p = eol + 2 - nl) {
		if ((eol = memchr(p, nl ? '\n' : '\r', (size_t)(end - p))) ==
		    NULL)
			return -1;	/* no end of the header */
		if (eol == p)
			return nl;	/* the empty line */
		for (c = p; c < eol; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') ||
			    (unsigned char)*c >= 0x7f)
				return -1;
		if (*p == ' ' || *p == '\t') {
			if (p == m)
				return -1;	/* continues nothing */
			continue;
		}
		for (c = p; c < eol && *c != ':'; c++)
			if ((unsigned char)*c <= 0x20)
				return -1;	/* a name with a blank */
		if (c == eol || c == p)
			return -1;	/* no name, or no colon */
	}
}

/* fuzz_sign_verify - sign as keyturnd does, verify as keyturn audit does */
static void
fuzz_sign_verify(const char *msg, size_t n, int lf)
{
	struct msgfile_opts o = { MSGFILE_WHOLE, 0, 0, 0 };
	struct dkim_sign s = { DKIM_ALG_ED25519_SHA256, fuzz_edkey,
	    "example.org", "fuzz", 1700000000, 0, NULL };
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	char err[256], why[256], *v, *signed_msg, *p;
	size_t len, i;
	int r;

	if (msgfile_feed(m, msg, n, &o, err, sizeof(err)) != DKIM_OK ||
	    dkim_msg_sign(m, &s, &v, err, sizeof(err)) != DKIM_OK) {
		dkim_msg_free(m);
		return;
	}
	/* "DKIM-Signature: " value (its "\n\t" folds with the message's
	 * line ends) CRLF msg */
	signed_msg = malloc(strlen("DKIM-Signature: ") + 2 * strlen(v) + 2 +
	    n + 1);
	if (signed_msg == NULL)
		abort();
	p = signed_msg + strlen(strcpy(signed_msg, "DKIM-Signature: "));
	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] == '\n' && !lf)
			*p++ = '\r';
		*p++ = v[i];
	}
	if (!lf)
		*p++ = '\r';
	*p++ = '\n';
	memcpy(p, msg, n);
	len = (size_t)(p - signed_msg) + n;
	r = dkimv_verify(signed_msg, len, 0, fuzz_edkey, why, sizeof(why));
	if (r != DKIMV_OK)
		abort();	/* keyturn audit fails keyturnd's signature */
	free(signed_msg);
	free(v);
	dkim_msg_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256], *msg;
	size_t idx, count;
	int r, lf;

	if (size < 1)
		return 0;
	idx = (data[0] >> 1) & 3;
	msg = fz_strndup(data + 1, size - 1);
	count = dkimv_count(msg, size - 1);
	why[0] = '\0';
	r = dkimv_verify(msg, size - 1, idx, data[0] & 1 ? fuzz_rsakey :
	    fuzz_edkey, why, sizeof(why));
	if ((r != DKIMV_OK && r != DKIMV_FAIL && r != DKIMV_ERROR) ||
	    why[0] == '\0' || (idx >= count && r != DKIMV_ERROR))
		abort();
	if ((lf = fuzz_clean(msg, size - 1)) != -1)
		fuzz_sign_verify(msg, size - 1, lf);
	free(msg);
	return 0;
}
