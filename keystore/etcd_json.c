/*
 * etcd_json - the JSON of etcd's gateway: bounded answer buffers, bytes
 * fields in base64, int64 fields as decimal strings
 *
 * The gateway writes bytes in standard base64 with padding and int64 as
 * strings ("revision": "42"); a field left out is zero, false or empty.
 * Reading accepts a plain number for an int too, and refuses a string
 * that is not all digits or base64 that is not canonical.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "etcd_int.h"
#include "xmalloc.h"

/* etcd_buf_add - append, unless that passes ETCD_ANSWER_MAX */
int
etcd_buf_add(struct etcd_buf *b, const void *p, size_t n)
{
	size_t cap;

	if (n > ETCD_ANSWER_MAX - b->len) {
		b->toobig = 1;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xreallocarray(b->p, cap, 1);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* etcd_buf_free - an answer may hold values and tokens: wiped */
void
etcd_buf_free(struct etcd_buf *b)
{
	if (b->p != NULL)
		freezero(b->p, b->cap);
	memset(b, 0, sizeof(*b));
}

#define B64_ALPHABET \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/* b64_enc - base64 of n bytes, NUL-terminated, malloc'd */
static char *
b64_enc(const void *p, size_t n)
{
	char *s;

	s = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/*
 * b64_dec - decode s (len chars, padded); *out NUL-terminated too.
 * EVP_DecodeBlock counts the padding as zero bytes, and it skips
 * blanks: the alphabet and the padding are checked here first.
 */
static int
b64_dec(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	size_t i, pad = 0;
	int n;

	if (len % 4 != 0 || len > INT_MAX)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad = (len > 1 && s[len - 2] == '=') ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (s[i] == '\0' || strchr(B64_ALPHABET, s[i]) == NULL)
			return -1;
	*out = xmalloc(len / 4 * 3 + 1);
	if ((n = EVP_DecodeBlock(*out, (const unsigned char *)s,
	    (int)len)) < 0 || (size_t)n < pad) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*outlen = (size_t)n - pad;
	(*out)[*outlen] = '\0';
	return 0;
}

/* etcd_jput_bytes - a bytes field */
void
etcd_jput_bytes(json_object *o, const char *name, const void *p, size_t n)
{
	char *s = b64_enc(p, n);

	json_object_object_add(o, name, json_object_new_string(s));
	free(s);
}

/* etcd_jput_int - an int64 field: a decimal string, as the gateway
 * writes it */
void
etcd_jput_int(json_object *o, const char *name, int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, v);
	json_object_object_add(o, name, json_object_new_string(s));
}

/* etcd_jget - name in o, NULL when absent (or null) */
json_object *
etcd_jget(json_object *o, const char *name)
{
	json_object *f;

	if (o == NULL || !json_object_object_get_ex(o, name, &f))
		return NULL;
	return f;
}

/* jnum - an int64 or uint64 field: a string of digits or a number */
static int
jnum(json_object *o, const char *name, int isunsigned, int64_t *sv,
    uint64_t *uv)
{
	json_object *f = etcd_jget(o, name);
	const char *s;
	char *end;

	if (sv != NULL)
		*sv = 0;
	if (uv != NULL)
		*uv = 0;
	if (f == NULL)
		return 0;
	if (json_object_is_type(f, json_type_int)) {
		if (isunsigned)
			*uv = json_object_get_uint64(f);
		else
			*sv = json_object_get_int64(f);
		return 0;
	}
	if (!json_object_is_type(f, json_type_string))
		return -1;
	s = json_object_get_string(f);
	errno = 0;
	if (isunsigned)
		*uv = strtoull(s, &end, 10);
	else
		*sv = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || (isunsigned && *s == '-'))
		return -1;
	return 0;
}

int
etcd_jint(json_object *o, const char *name, int64_t *v)
{
	return jnum(o, name, 0, v, NULL);
}

int
etcd_juint(json_object *o, const char *name, uint64_t *v)
{
	return jnum(o, name, 1, NULL, v);
}

/* etcd_jbool - true only when there and true */
int
etcd_jbool(json_object *o, const char *name)
{
	json_object *f = etcd_jget(o, name);

	return f != NULL && json_object_is_type(f, json_type_boolean) &&
	    json_object_get_boolean(f);
}

/* etcd_jstr - a string field, or "" */
const char *
etcd_jstr(json_object *o, const char *name)
{
	json_object *f = etcd_jget(o, name);

	if (f == NULL || !json_object_is_type(f, json_type_string))
		return "";
	return json_object_get_string(f);
}

/* etcd_jbytes - a bytes field decoded (absent: empty), NUL-terminated */
int
etcd_jbytes(json_object *o, const char *name, unsigned char **p, size_t *n)
{
	json_object *f = etcd_jget(o, name);

	if (f == NULL) {
		*p = (unsigned char *)xstrdup("");
		*n = 0;
		return 0;
	}
	if (!json_object_is_type(f, json_type_string))
		return -1;
	return b64_dec(json_object_get_string(f),
	    (size_t)json_object_get_string_len(f), p, n);
}

/* etcd_jparse - one JSON object from p (len bytes, then a NUL), nothing
 * after it but blanks */
json_object *
etcd_jparse(const char *p, size_t len)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;

	if (len > INT_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, p, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o != NULL && (!json_object_is_type(o, json_type_object) ||
	    strspn(p + end, " \t\r\n") != len - end)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* etcd_jkv - one mvccpb.KeyValue */
int
etcd_jkv(json_object *o, struct etcd_kv *kv)
{
	unsigned char *k;

	memset(kv, 0, sizeof(*kv));
	if (etcd_jbytes(o, "key", &k, &kv->keylen) == -1)
		return -1;
	kv->key = (char *)k;
	if (etcd_jbytes(o, "value", &kv->value, &kv->vlen) == -1 ||
	    etcd_jint(o, "create_revision", &kv->create_rev) == -1 ||
	    etcd_jint(o, "mod_revision", &kv->mod_rev) == -1 ||
	    etcd_jint(o, "version", &kv->version) == -1 ||
	    etcd_jint(o, "lease", &kv->lease) == -1) {
		etcd_kv_free(kv);
		return -1;
	}
	return 0;
}

/* etcd_jrevision - header.revision of an answer */
int64_t
etcd_jrevision(json_object *o)
{
	int64_t rev;

	if (etcd_jint(etcd_jget(o, "header"), "revision", &rev) == -1)
		return 0;
	return rev;
}
