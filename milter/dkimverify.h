/*
 * dkimverify - check one DKIM-Signature of a whole message against a key
 *
 * SYNOPSIS
 *	dkimv_verify(msg, len, sigidx, pub, why, whylen)
 *
 * DESCRIPTION
 *	keyturn audit asks whether a message was signed by the key a selector
 *	held at the signature's time; the key comes from the keystore's
 *	history, not from DNS, so this module never looks anything up.
 *
 *	msg is the whole message as stored (header, empty line, body; CRLF
 *	or bare LF line ends). sigidx picks the DKIM-Signature field, 0 the
 *	topmost. rsa-sha256 and ed25519-sha256 (RFC 8463), simple and relaxed
 *	canonicalization of header and body (RFC 6376 3.4) with the signing
 *	engine's canonicalization (canon.c), h= with its over-signed names,
 *	bh= and b=. A signature with l= is refused: it covers part of the
 *	body only, and anything may follow it. Times (t=, x=) are the
 *	caller's to judge.
 *
 * DIAGNOSTICS
 *	DKIMV_OK; DKIMV_FAIL when the body hash or the signature does not
 *	match (the message was altered, or another key signed it);
 *	DKIMV_ERROR when there is no such signature or it cannot be checked
 *	(malformed, unsupported, a key of another algorithm). why says which.
 */
#ifndef KEYTURN_DKIMVERIFY_H
#define KEYTURN_DKIMVERIFY_H

#include <stddef.h>

#include <openssl/evp.h>

#define DKIMV_OK	0
#define DKIMV_FAIL	1
#define DKIMV_ERROR	(-1)

int	dkimv_verify(const char *msg, size_t len, size_t sigidx,
	    EVP_PKEY *pub, char *why, size_t whylen);
/* dkimv_count - how many DKIM-Signature fields the message has */
size_t	dkimv_count(const char *msg, size_t len);

#endif
