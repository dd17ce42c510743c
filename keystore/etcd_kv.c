/*
 * etcd_kv - keys, transactions, leases and the cluster's status over
 * etcd.c's requests
 *
 * etcd_range_all reads a prefix in pages at the revision of the first
 * page, so that the whole is one snapshot however many pages it takes;
 * each next page starts just after the last key of the one before.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_int.h"
#include "xmalloc.h"

/* etcd_kv_free - the strings of one key, not the struct */
void
etcd_kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	kv->key = NULL;
	kv->value = NULL;
}

/* etcd_range_free - every key, and out zeroed for reuse */
void
etcd_range_free(struct etcd_range *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		etcd_kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

/* etcd_prefix_end - the prefix with its last byte below 0xff raised by
 * one and cut after it; "\0" (every key) when there is none */
char *
etcd_prefix_end(const char *prefix, size_t plen, size_t *len)
{
	char *end;
	size_t n;

	for (n = plen; n > 0; n--)
		if ((unsigned char)prefix[n - 1] != 0xff)
			break;
	end = xmalloc(n + 1);
	if (n == 0) {
		end[0] = '\0';
		*len = 1;
		return end;
	}
	memcpy(end, prefix, n);
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	end[n] = '\0';
	*len = n;
	return end;
}

/* range_req - a RangeRequest; an empty key with a range_end is "\0" (etcd
 * refuses an empty key; no key sorts before "\0") */
static json_object *
range_req(const char *key, size_t keylen, const char *end, size_t endlen,
    int64_t rev, int64_t limit, int flags)
{
	json_object *q = json_object_new_object();

	if (keylen == 0 && end != NULL)
		etcd_jput_bytes(q, "key", "", 1);
	else
		etcd_jput_bytes(q, "key", key, keylen);
	if (end != NULL)
		etcd_jput_bytes(q, "range_end", end, endlen);
	if (rev > 0)
		etcd_jput_int(q, "revision", rev);
	if (limit > 0)
		etcd_jput_int(q, "limit", limit);
	if (flags & ETCD_KEYS_ONLY)
		json_object_object_add(q, "keys_only",
		    json_object_new_boolean(1));
	if (flags & ETCD_COUNT_ONLY)
		json_object_object_add(q, "count_only",
		    json_object_new_boolean(1));
	return q;
}

/* range_parse - a RangeResponse into out */
static int
range_parse(json_object *o, struct etcd_range *out)
{
	json_object *kvs = etcd_jget(o, "kvs");
	size_t i, n;

	out->revision = etcd_jrevision(o);
	out->more = etcd_jbool(o, "more");
	if (etcd_jint(o, "count", &out->count) == -1)
		return -1;
	if (kvs == NULL)
		return 0;
	if (!json_object_is_type(kvs, json_type_array))
		return -1;
	n = json_object_array_length(kvs);
	out->kvs = xcalloc(n ? n : 1, sizeof(*out->kvs));
	for (i = 0; i < n; i++) {
		if (etcd_jkv(json_object_array_get_idx(kvs, i),
		    &out->kvs[i]) == -1)
			return -1;
		out->n++;
	}
	return 0;
}

int
etcd_range(struct etcd *e, const char *key, size_t keylen,
    const char *range_end, size_t endlen, int64_t rev, int64_t limit,
    int flags, struct etcd_range *out, char *err, size_t errlen)
{
	json_object *q, *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (rev < 0 || limit < 0) {
		snprintf(err, errlen, "etcd: range: negative revision or "
		    "limit");
		return -1;
	}
	q = range_req(key, keylen, range_end, endlen, rev, limit, flags);
	rc = etcd_call(e, "/v3/kv/range", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return rc;
	if (range_parse(o, out) == -1) {
		snprintf(err, errlen, "etcd %s: /v3/kv/range: a malformed "
		    "answer", etcd_endpoint(e));
		etcd_range_free(out);
		rc = -1;
	}
	json_object_put(o);
	return rc;
}

int
etcd_range_since(struct etcd *e, const char *prefix, int64_t min_mod,
    struct etcd_range *out, char *err, size_t errlen)
{
	json_object *q, *o;
	size_t endlen;
	char *end = etcd_prefix_end(prefix, strlen(prefix), &endlen);
	int rc;

	memset(out, 0, sizeof(*out));
	q = range_req(prefix, strlen(prefix), end, endlen, 0, 0,
	    ETCD_KEYS_ONLY);
	etcd_jput_int(q, "min_mod_revision", min_mod);
	free(end);
	rc = etcd_call(e, "/v3/kv/range", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return -1;
	if (range_parse(o, out) == -1) {
		snprintf(err, errlen, "etcd %s: /v3/kv/range: a malformed "
		    "answer", etcd_endpoint(e));
		etcd_range_free(out);
		rc = -1;
	}
	json_object_put(o);
	return rc;
}

/* range_take - move the keys of pg onto the end of out */
static void
range_take(struct etcd_range *out, struct etcd_range *pg)
{
	out->kvs = xreallocarray(out->kvs, out->n + pg->n + 1,
	    sizeof(*out->kvs));
	if (pg->n > 0)		/* an empty page has no kvs at all */
		memcpy(out->kvs + out->n, pg->kvs, pg->n * sizeof(*pg->kvs));
	out->n += pg->n;
	free(pg->kvs);
	memset(pg, 0, sizeof(*pg));
}

/*
 * range_pages - every key under prefix at one revision, page by page:
 * the first page fixes the revision, each next one starts just after
 * the last key seen ("key\0")
 */
static int
range_pages(struct etcd *e, const char *prefix, const char *end,
    size_t endlen, int64_t page, int flags, struct etcd_range *out,
    char *err, size_t errlen)
{
	struct etcd_range pg;
	char *from = xstrdup(prefix);
	size_t fromlen = strlen(prefix);
	struct etcd_kv *last;
	int rc, more;

	for (;;) {
		rc = etcd_range(e, from, fromlen, end, endlen, out->revision,
		    page, flags, &pg, err, errlen);
		if (rc != 0)
			break;
		if (out->revision == 0)
			out->revision = pg.revision;
		more = pg.more;
		range_take(out, &pg);
		if (!more || out->n == 0)
			break;
		last = &out->kvs[out->n - 1];
		free(from);
		from = xmalloc(last->keylen + 1);
		memcpy(from, last->key, last->keylen);
		from[last->keylen] = '\0';
		fromlen = last->keylen + 1;
	}
	free(from);
	return rc;
}

int
etcd_range_all(struct etcd *e, const char *prefix, int64_t page, int flags,
    struct etcd_range *out, char *err, size_t errlen)
{
	size_t endlen;
	char *end = etcd_prefix_end(prefix, strlen(prefix), &endlen);
	int rc, tries;

	memset(out, 0, sizeof(*out));
	if (flags & ETCD_COUNT_ONLY) {
		rc = etcd_range(e, prefix, strlen(prefix), end, endlen, 0, 0,
		    flags, out, err, errlen);
		free(end);
		return rc == 0 ? 0 : -1;
	}
	/* a compaction between two pages takes the revision away: start
	 * again at the newest one (a second time would be unlucky) */
	for (tries = 0; tries < 3; tries++) {
		rc = range_pages(e, prefix, end, endlen,
		    page > 0 ? page : ETCD_PAGE, flags, out, err, errlen);
		if (rc != ETCD_COMPACTED)
			break;
		etcd_range_free(out);
	}
	free(end);
	if (rc != 0) {
		etcd_range_free(out);
		return -1;
	}
	out->count = (int64_t)out->n;
	out->more = 0;
	return 0;
}

static const char *const cmp_target[] = {
	[ETCD_VERSION] = "VERSION", [ETCD_CREATE] = "CREATE",
	[ETCD_MOD] = "MOD", [ETCD_VALUE] = "VALUE", [ETCD_LEASE] = "LEASE"
};
static const char *const cmp_field[] = {
	[ETCD_VERSION] = "version", [ETCD_CREATE] = "create_revision",
	[ETCD_MOD] = "mod_revision", [ETCD_VALUE] = "value",
	[ETCD_LEASE] = "lease"
};
static const char *const cmp_result[] = {
	[ETCD_EQ] = "EQUAL", [ETCD_NE] = "NOT_EQUAL", [ETCD_LT] = "LESS",
	[ETCD_GT] = "GREATER"
};

/* txn_cmp - one Compare */
static json_object *
txn_cmp(const struct etcd_cmp *c)
{
	json_object *o = json_object_new_object();

	etcd_jput_bytes(o, "key", c->key, strlen(c->key));
	json_object_object_add(o, "target",
	    json_object_new_string(cmp_target[c->target]));
	json_object_object_add(o, "result",
	    json_object_new_string(cmp_result[c->op]));
	if (c->target == ETCD_VALUE)
		etcd_jput_bytes(o, "value", c->value, c->vlen);
	else
		etcd_jput_int(o, cmp_field[c->target], c->num);
	if (c->range_end != NULL)
		etcd_jput_bytes(o, "range_end", c->range_end, c->endlen);
	return o;
}

/* txn_op - one RequestOp */
static json_object *
txn_op(const struct etcd_op *op)
{
	json_object *o = json_object_new_object(), *r;
	size_t endlen;
	char *end;

	r = json_object_new_object();
	etcd_jput_bytes(r, "key", op->key, strlen(op->key));
	switch (op->type) {
	case ETCD_PUT:
		etcd_jput_bytes(r, "value", op->value, op->vlen);
		if (op->lease != 0)
			etcd_jput_int(r, "lease", op->lease);
		json_object_object_add(o, "request_put", r);
		break;
	case ETCD_DELETE_PREFIX:
		end = etcd_prefix_end(op->key, strlen(op->key), &endlen);
		if (*op->key == '\0')
			etcd_jput_bytes(r, "key", "", 1);
		etcd_jput_bytes(r, "range_end", end, endlen);
		free(end);
		/* FALLTHROUGH */
	case ETCD_DELETE:
		json_object_object_add(o, "request_delete_range", r);
		break;
	}
	return o;
}

/* txn_check - what the gateway would not say clearly itself */
static int
txn_check(const struct etcd_cmp *cmp, size_t ncmp,
    const struct etcd_op *ops, size_t nops, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < ncmp; i++)
		if (cmp[i].key == NULL ||
		    (unsigned)cmp[i].target > ETCD_LEASE ||
		    (unsigned)cmp[i].op > ETCD_GT ||
		    (cmp[i].target == ETCD_VALUE &&
		    cmp[i].vlen > ETCD_VALUE_MAX)) {
			snprintf(err, errlen, "etcd: txn: compare %zu is "
			    "malformed", i);
			return -1;
		}
	for (i = 0; i < nops; i++)
		if (ops[i].key == NULL || (unsigned)ops[i].type >
		    ETCD_DELETE_PREFIX || (ops[i].type == ETCD_PUT &&
		    ops[i].vlen > ETCD_VALUE_MAX)) {
			snprintf(err, errlen, "etcd: txn: operation %zu is "
			    "malformed or its value too large", i);
			return -1;
		}
	return 0;
}

int
etcd_txn(struct etcd *e, const struct etcd_cmp *cmp, size_t ncmp,
    const struct etcd_op *ops, size_t nops, int64_t *revision, char *err,
    size_t errlen)
{
	json_object *q, *a, *o;
	size_t i;
	int rc;

	if (txn_check(cmp, ncmp, ops, nops, err, errlen) == -1)
		return -1;
	q = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < ncmp; i++)
		json_object_array_add(a, txn_cmp(&cmp[i]));
	json_object_object_add(q, "compare", a);
	a = json_object_new_array();
	for (i = 0; i < nops; i++)
		json_object_array_add(a, txn_op(&ops[i]));
	json_object_object_add(q, "success", a);
	rc = etcd_call(e, "/v3/kv/txn", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return -1;
	if (revision != NULL)
		*revision = etcd_jrevision(o);
	rc = etcd_jbool(o, "succeeded");
	json_object_put(o);
	return rc;
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id, char *err,
    size_t errlen)
{
	json_object *q = json_object_new_object(), *o;
	const char *msg;
	int rc;

	etcd_jput_int(q, "TTL", ttl);
	rc = etcd_call(e, "/v3/lease/grant", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return -1;
	/* LeaseGrantResponse has an error field of its own */
	msg = etcd_jstr(o, "error");
	rc = 0;
	if (*msg != '\0' || etcd_jint(o, "ID", id) == -1 || *id == 0) {
		snprintf(err, errlen, "etcd %s: /v3/lease/grant: %.200s",
		    etcd_endpoint(e), *msg ? msg : "no lease in the answer");
		rc = -1;
	}
	json_object_put(o);
	return rc;
}

/* etcd_lease_keepalive - the gateway's keepalive is a stream: one
 * request, and the end of the body ends it after its one answer */
int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, char *err,
    size_t errlen)
{
	json_object *q = json_object_new_object(), *o;
	int rc;

	etcd_jput_int(q, "ID", id);
	rc = etcd_call(e, "/v3/lease/keepalive", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return -1;
	/* an expired lease is answered without a TTL: 0 */
	if (etcd_jint(etcd_jget(o, "result"), "TTL", ttl) == -1 || *ttl < 0)
		*ttl = 0;
	json_object_put(o);
	return 0;
}

/* etcd_lease_revoke - a lease already gone is what was wanted: 0 */
int
etcd_lease_revoke(struct etcd *e, int64_t id, char *err, size_t errlen)
{
	json_object *q = json_object_new_object(), *o;
	int rc;

	etcd_jput_int(q, "ID", id);
	rc = etcd_call(e, "/v3/lease/revoke", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return strstr(err, "requested lease not found") ? 0 : -1;
	json_object_put(o);
	return 0;
}

int
etcd_status(struct etcd *e, struct etcd_status *st, char *err, size_t errlen)
{
	json_object *q = json_object_new_object(), *o;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = etcd_call(e, "/v3/maintenance/status", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return -1;
	st->revision = etcd_jrevision(o);
	etcd_juint(o, "leader", &st->leader);
	etcd_juint(etcd_jget(o, "header"), "member_id", &st->member);
	strlcpy(st->version, etcd_jstr(o, "version"), sizeof(st->version));
	json_object_put(o);
	return 0;
}

/* member_urls - clientURLs joined with commas */
static char *
member_urls(json_object *m)
{
	json_object *a = etcd_jget(m, "clientURLs");
	struct etcd_buf b = { 0 };
	size_t i;
	const char *u;

	etcd_buf_add(&b, "", 0);
	if (a != NULL && json_object_is_type(a, json_type_array))
		for (i = 0; i < json_object_array_length(a); i++) {
			u = json_object_get_string(
			    json_object_array_get_idx(a, i));
			if (i > 0)
				etcd_buf_add(&b, ",", 1);
			etcd_buf_add(&b, u ? u : "", u ? strlen(u) : 0);
		}
	return b.p;
}

int
etcd_members(struct etcd *e, struct etcd_member **mp, size_t *np, char *err,
    size_t errlen)
{
	json_object *q = json_object_new_object(), *o, *a, *m;
	struct etcd_member *ms;
	size_t i, n = 0;
	int rc;

	*mp = NULL;
	*np = 0;
	rc = etcd_call(e, "/v3/cluster/member/list", q, &o, err, errlen);
	json_object_put(q);
	if (rc != 0)
		return -1;
	a = etcd_jget(o, "members");
	if (a != NULL && json_object_is_type(a, json_type_array))
		n = json_object_array_length(a);
	ms = xcalloc(n ? n : 1, sizeof(*ms));
	for (i = 0; i < n; i++) {
		m = json_object_array_get_idx(a, i);
		etcd_juint(m, "ID", &ms[i].id);
		ms[i].name = xstrdup(etcd_jstr(m, "name"));
		ms[i].client_urls = member_urls(m);
	}
	json_object_put(o);
	*mp = ms;
	*np = n;
	return 0;
}

void
etcd_members_free(struct etcd_member *ms, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ms[i].name);
		free(ms[i].client_urls);
	}
	free(ms);
}
