/*
 * kek - the fleet's key-encryption key (FleetKEK)
 *
 * SYNOPSIS
 *	Private keys stored in etcd are sealed with one 32-byte AES key that
 *	every host of the fleet holds in a file and etcd never sees. A blob
 *	is bound to its place (the etcd key name, as aad): moved to another
 *	key, it does not open.
 *
 * DIAGNOSTICS
 *	Functions return NULL or -1 and write into err what is wrong, and
 *	with which file; never the key or a plaintext.
 */
#ifndef KEYTURN_KEK_H
#define KEYTURN_KEK_H

#include <stddef.h>

#define KEK_LEN	32

struct kek;

/*
 * kek_load - a regular file (not a symlink), no group/other permission
 * bits, exactly 32 bytes (as `head -c 32 /dev/urandom` writes it); errors
 * name the file and what is wrong ("...: mode 0644: must not be readable
 * by group or others", "...: 31 bytes: a key-encryption key is 32 bytes")
 */
struct kek	*kek_load(const char *path, char *err, size_t errlen);
void		 kek_free(struct kek *);	/* wipes (OPENSSL_cleanse) */
/*
 * kek_id - 16 lowercase hex digits naming the key without revealing it:
 * the first 8 bytes of HMAC-SHA256(kek, "keyturn-kek-id")
 */
const char	*kek_id(const struct kek *);
/*
 * kek_seal - AES-256-GCM with a fresh random 12-byte nonce; aad binds the
 * blob to its place (the etcd key name); blob = "KTK1" || nonce ||
 * ciphertext || 16-byte tag; malloc'd
 */
int		 kek_seal(const struct kek *, const void *aad, size_t aadlen,
		    const void *pt, size_t ptlen, unsigned char **blob,
		    size_t *bloblen, char *err, size_t errlen);
/*
 * kek_open - the reverse; -1 and "not encrypted by keyturn", "damaged or
 * encrypted under another FleetKEK (authentication failed)" etc.;
 * plaintext malloc'd (caller wipes)
 */
int		 kek_open(const struct kek *, const void *aad, size_t aadlen,
		    const void *blob, size_t bloblen, unsigned char **pt,
		    size_t *ptlen, char *err, size_t errlen);

#endif
