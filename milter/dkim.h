/*
 * dkim - the DKIM signing engine (RFC 6376, RFC 8463)
 *
 * No libmilter here: the milter glue and the tests feed a message to a
 * dkim_msg one header field and one body chunk at a time, then ask for one
 * DKIM-Signature value per key. Headers are kept (they are small and signed
 * last); the body is canonicalized and hashed as it streams, in O(1) state,
 * so memory does not grow with the body. One body hash serves every
 * signature of the message.
 *
 * Keys are EVP_PKEYs parsed once by their owner (the keystore snapshot) and
 * shared read-only by any number of threads; the engine never parses a key.
 *
 * Errors: functions return DKIM_OK or a dkim_status, and fill err (a message
 * a human can act on). Bad input never aborts.
 */
#ifndef KEYTURN_DKIM_H
#define KEYTURN_DKIM_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

enum dkim_status {
	DKIM_OK = 0,
	DKIM_EHEADER,		/* malformed header field (no name, bad char, NUL) */
	DKIM_ETOOLONG,		/* header field or header block over the limits */
	DKIM_EFROM,		/* no From, several, group syntax, unparsable */
	DKIM_EKEY,		/* key unusable for the algorithm */
	DKIM_EINTERNAL,		/* OpenSSL or other internal failure */
	DKIM_ENOMEM		/* no memory for this message: try it later */
};

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256
};

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED
};

#define DKIM_MAX_HEADER		(64 * 1024)	/* one field, name and value */
#define DKIM_MAX_HEADERS	(1024 * 1024)	/* the whole header block */

/*
 * Which header fields to sign: built once (from config), shared read-only.
 * sign: colon-separated names, NULL for the RFC 6376 5.4.1 list.
 * oversign: names signed once more than they occur, NULL for the default
 * (From, To, Cc, Subject, Date, Reply-To, Sender, Message-ID, In-Reply-To,
 * References, MIME-Version, Content-Type, Content-Transfer-Encoding).
 */
struct dkim_hdrlist;

struct dkim_hdrlist *dkim_hdrlist_new(const char *sign, const char *oversign,
		    char *err, size_t errlen);
void		 dkim_hdrlist_free(struct dkim_hdrlist *);

/* One signature to make. */
struct dkim_sign {
	enum dkim_alg		 alg;
	EVP_PKEY		*key;
	const char		*domain;	/* d= */
	const char		*selector;	/* s= */
	time_t			 t;		/* t= */
	time_t			 x;		/* x=; 0 for none */
	const struct dkim_hdrlist *hdrs;	/* NULL: the defaults */
};

struct dkim_msg;

/* dkim_msg_new - NULL when there is no memory for another message */
struct dkim_msg	*dkim_msg_new(enum dkim_canon hcanon, enum dkim_canon bcanon);
void		 dkim_msg_free(struct dkim_msg *);

/*
 * dkim_msg_header - one field as the MTA hands it: the name without the
 * colon, the value with or without its leading space, folded with bare LF
 * (Postfix, Sendmail) or CRLF.
 */
enum dkim_status dkim_msg_header(struct dkim_msg *, const char *name,
		    const char *value, size_t valuelen, char *err,
		    size_t errlen);

/* dkim_msg_body - a chunk of the body in wire form (CRLF), any size */
void		 dkim_msg_body(struct dkim_msg *, const void *, size_t);

/*
 * dkim_msg_from_domain - the lowercased domain of the single mailbox in the
 * single From field; DKIM_EFROM when there is none, several, a group, or it
 * does not parse.
 */
enum dkim_status dkim_msg_from_domain(const struct dkim_msg *, char *domain,
		    size_t domainlen, char *err, size_t errlen);
/*
 * dkim_msg_from_address - the same, and the mailbox's local part as
 * written, lowercased (local may be NULL)
 */
enum dkim_status dkim_msg_from_address(const struct dkim_msg *, char *local,
		    size_t locallen, char *domain, size_t domainlen, char *err,
		    size_t errlen);

/* A field value inside a message: not NUL-terminated. */
struct dkim_value {
	const char	*p;
	size_t		 len;
};

/*
 * dkim_msg_values - the values of the fields with this name (any case),
 * top first, at most max of them in out; returns how many there are
 */
size_t		 dkim_msg_values(const struct dkim_msg *, const char *name,
		    struct dkim_value *out, size_t max);

/*
 * dkim_msg_sign - the DKIM-Signature value (no field name, no leading space)
 * folded at 78 columns with "\n\t", in a malloc'd string in *value. The body
 * hash is finished on the first call; the body may not grow after that.
 * May be called once per key.
 */
enum dkim_status dkim_msg_sign(struct dkim_msg *, const struct dkim_sign *,
		    char **value, char *err, size_t errlen);

/* dkim_from_domain - the same rule on one From value (tests, audit) */
enum dkim_status dkim_from_domain(const char *value, size_t len, char *domain,
		    size_t domainlen, char *err, size_t errlen);
/* dkim_from_address - and the local part (lowercased; local may be NULL) */
enum dkim_status dkim_from_address(const char *value, size_t len, char *local,
		    size_t locallen, char *domain, size_t domainlen, char *err,
		    size_t errlen);

/*
 * dkim_hostname_check - NULL when s (len bytes) can be a d= domain or an
 * s= selector (LDH labels, '_' allowed, ASCII), else why not
 */
const char	*dkim_hostname_check(const char *s, size_t len);

const char	*dkim_alg_name(enum dkim_alg);		/* "rsa-sha256" ... */
int		 dkim_alg_parse(const char *, enum dkim_alg *);

#endif
