/*
 * rawsign - the raw work of a DKIM signer, shared by t/bench/rawcost
 * (which times it alone) and t/bench/floor -k (which does it inside a
 * filter, as a reference for keyturnd that pays the same scheduling and
 * cache costs a real signer pays)
 */
#ifndef KEYTURN_RAWSIGN_H
#define KEYTURN_RAWSIGN_H

#include <stddef.h>

#include <openssl/evp.h>

EVP_PKEY	*rawsign_load(const char *path);
int		 rawsign_once(EVP_PKEY *);

#endif
