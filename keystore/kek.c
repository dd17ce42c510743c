/*
 * kek - seal and open values under the fleet's key-encryption key
 *
 * A blob is "KTK1" || nonce (12 bytes, random) || ciphertext || tag (16
 * bytes), AES-256-GCM. The authenticated data is "KTK1" || aad, so the
 * format's name is covered by the tag as well as the place the caller
 * binds the blob to. A random 96-bit nonce per seal stays far from a
 * collision for the number of keys a fleet ever writes (NIST SP 800-38D
 * allows 2^32 messages per key this way).
 *
 * The key file is read the way OpenSMTPD reads its keys: opened without
 * following a symlink, checked on the open descriptor, wiped after use.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kek.h"
#include "xmalloc.h"

#define KEK_MAGIC	"KTK1"
#define KEK_MAGICLEN	4
#define KEK_NONCE	12
#define KEK_TAG		16
#define KEK_OVERHEAD	(KEK_MAGICLEN + KEK_NONCE + KEK_TAG)
#define KEK_IDLABEL	"keyturn-kek-id"
#define KEK_MAX		(INT_MAX - KEK_OVERHEAD)

struct kek {
	unsigned char	 key[KEK_LEN];
	char		 id[17];
};

/* kek_check - the open file: a regular file, private, 32 bytes */
static int
kek_check(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: mode %04o: must not be %s by group "
		    "or others (chmod 600 it)", path,
		    (unsigned)(st.st_mode & 07777),
		    (st.st_mode & 044) ? "readable" : "writable or executable");
		return -1;
	}
	if (st.st_size != KEK_LEN) {
		snprintf(err, errlen, "%s: %lld bytes: a key-encryption key is "
		    "%d bytes (head -c %d /dev/urandom)", path,
		    (long long)st.st_size, KEK_LEN, KEK_LEN);
		return -1;
	}
	return 0;
}

/* kek_name - the key's public name */
static void
kek_name(struct kek *k)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int i;

	HMAC(EVP_sha256(), k->key, KEK_LEN, (const unsigned char *)KEK_IDLABEL,
	    strlen(KEK_IDLABEL), mac, &maclen);
	for (i = 0; i < 8; i++)
		snprintf(k->id + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
}

struct kek *
kek_load(const char *path, char *err, size_t errlen)
{
	unsigned char buf[KEK_LEN + 1];
	struct kek *k;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ELOOP)
			snprintf(err, errlen, "%s: a symbolic link: name the "
			    "key file itself", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (kek_check(fd, path, err, errlen) == -1) {
		close(fd);
		return NULL;
	}
	/* one byte more than the key: a file that grew since fstat */
	while (got < sizeof(buf) && (n = read(fd, buf + got,
	    sizeof(buf) - got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got != KEK_LEN) {
		snprintf(err, errlen, "%s: changed while read: a "
		    "key-encryption key is %d bytes", path, KEK_LEN);
		OPENSSL_cleanse(buf, sizeof(buf));
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	memcpy(k->key, buf, KEK_LEN);
	OPENSSL_cleanse(buf, sizeof(buf));
	kek_name(k);
	return k;
}

void
kek_free(struct kek *k)
{
	if (k == NULL)
		return;
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

const char *
kek_id(const struct kek *k)
{
	return k->id;
}

/* kek_aad - "KTK1" || aad into the cipher context */
static int
kek_aad(EVP_CIPHER_CTX *c, const void *aad, size_t aadlen)
{
	int n;

	if (EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)KEK_MAGIC,
	    KEK_MAGICLEN) != 1)
		return -1;
	if (aadlen > 0 && EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
		return -1;
	return 0;
}

/* kek_ctx - an AES-256-GCM context for key and nonce */
static EVP_CIPHER_CTX *
kek_ctx(const struct kek *k, const unsigned char *nonce, int enc,
    const void *aad, size_t aadlen)
{
	EVP_CIPHER_CTX *c;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL,
	    enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, KEK_NONCE,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, k->key, nonce, enc) != 1 ||
	    kek_aad(c, aad, aadlen) == -1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

int
kek_seal(const struct kek *k, const void *aad, size_t aadlen, const void *pt,
    size_t ptlen, unsigned char **blob, size_t *bloblen, char *err,
    size_t errlen)
{
	EVP_CIPHER_CTX *c;
	unsigned char *b, *nonce, *ct;
	int n, fin;

	*blob = NULL;
	if (ptlen > KEK_MAX || aadlen > INT_MAX) {
		snprintf(err, errlen, "kek: value too large to seal");
		return -1;
	}
	b = xmalloc(ptlen + KEK_OVERHEAD);
	memcpy(b, KEK_MAGIC, KEK_MAGICLEN);
	nonce = b + KEK_MAGICLEN;
	ct = nonce + KEK_NONCE;
	if (RAND_bytes(nonce, KEK_NONCE) != 1) {
		snprintf(err, errlen, "kek: no random bytes for a nonce");
		free(b);
		return -1;
	}
	if ((c = kek_ctx(k, nonce, 1, aad, aadlen)) == NULL ||
	    EVP_EncryptUpdate(c, ct, &n, pt, (int)ptlen) != 1 ||
	    EVP_EncryptFinal_ex(c, ct + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, KEK_TAG,
	    ct + ptlen) != 1) {
		snprintf(err, errlen, "kek: AES-256-GCM encryption failed");
		EVP_CIPHER_CTX_free(c);
		free(b);
		return -1;
	}
	EVP_CIPHER_CTX_free(c);
	*blob = b;
	*bloblen = ptlen + KEK_OVERHEAD;
	return 0;
}

int
kek_open(const struct kek *k, const void *aad, size_t aadlen,
    const void *blob, size_t bloblen, unsigned char **pt, size_t *ptlen,
    char *err, size_t errlen)
{
	const unsigned char *b = blob;
	EVP_CIPHER_CTX *c;
	unsigned char *out;
	size_t len;
	int n, fin;

	*pt = NULL;
	if (bloblen < KEK_MAGICLEN || memcmp(b, KEK_MAGIC, KEK_MAGICLEN) != 0) {
		snprintf(err, errlen, "kek: not encrypted by keyturn (no "
		    KEK_MAGIC " header)");
		return -1;
	}
	if (bloblen < KEK_OVERHEAD) {
		snprintf(err, errlen, "kek: cut short (%zu bytes)", bloblen);
		return -1;
	}
	if (bloblen - KEK_OVERHEAD > KEK_MAX || aadlen > INT_MAX) {
		snprintf(err, errlen, "kek: blob too large");
		return -1;
	}
	len = bloblen - KEK_OVERHEAD;
	out = xmalloc(len + 1);
	c = kek_ctx(k, b + KEK_MAGICLEN, 0, aad, aadlen);
	if (c == NULL || EVP_DecryptUpdate(c, out, &n,
	    b + KEK_MAGICLEN + KEK_NONCE, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, KEK_TAG,
	    (void *)(b + bloblen - KEK_TAG)) != 1 ||
	    EVP_DecryptFinal_ex(c, out + n, &fin) != 1) {
		snprintf(err, errlen, "kek: damaged or encrypted under another "
		    "FleetKEK (authentication failed)");
		EVP_CIPHER_CTX_free(c);
		OPENSSL_cleanse(out, len + 1);
		free(out);
		return -1;
	}
	EVP_CIPHER_CTX_free(c);
	out[len] = '\0';
	*pt = out;
	*ptlen = len;
	return 0;
}
