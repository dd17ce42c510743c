/*
 * etcd - a client of etcd's v3 API over its JSON gateway (libcurl, json-c)
 *
 * Every call is one POST of a JSON object to a /v3/... path and one JSON
 * object back, except the watch, whose answer is a stream of objects, one
 * a line, read as they come. The gateway is grpc-gateway: bytes travel in
 * base64 (standard alphabet, padded), int64 as decimal strings, a field
 * left out is zero or false. A failed call is an HTTP status with
 * {"error": MSG, "code": GRPC-CODE, "message": MSG}; inside a stream
 * (lease keepalive) a line {"error": {"grpc_code": ..., "message": ...}};
 * a watch etcd refuses (no leader, bad token, no permission, a compacted
 * revision) is a line {"result": {"canceled": true, "cancel_reason": ...}}.
 *
 * Which endpoint: the one that answered last is tried first; an attempt
 * that fails in transport (connect, timeout, a broken stream), with a
 * 5xx or with gRPC's UNAVAILABLE ("etcdserver: no leader", "request
 * timed out") moves on to the next. An answer that is etcd's decision
 * (permission denied, a bad request) is final: another member would say
 * the same.
 *
 * Authentication: the token from /v3/auth/authenticate goes in the
 * Authorization header (the gateway hands it to etcd as metadata). A
 * simple token lives auth-token-ttl (5 minutes) past its last use, so a
 * quiet client finds it gone: "invalid auth token" makes the call
 * authenticate once more and try again on the same endpoint. The password
 * is kept for that; its copies are wiped (the request body built by hand,
 * not in json-c's buffers).
 *
 * Limits: an answer, or one line of a stream, larger than ETCD_ANSWER_MAX
 * is refused, not buffered. A value written must fit in half of that.
 *
 * This file makes requests; etcd_kv.c (keys, transactions, leases,
 * status), etcd_watch.c and etcd_json.c (the gateway's JSON) use it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd_int.h"
#include "xmalloc.h"

/* buf_write - CURLOPT_WRITEFUNCTION of one whole answer */
static size_t
buf_write(char *p, size_t size, size_t n, void *arg)
{
	if (etcd_buf_add(arg, p, size * n) == -1)
		return 0;	/* curl stops: CURLE_WRITE_ERROR */
	return size * n;
}

/* etcd_printable - s cut to fit and stripped of control characters */
void
etcd_printable(char *dst, size_t dlen, const char *s)
{
	size_t i;

	strlcpy(dst, s, dlen);
	for (i = 0; dst[i] != '\0'; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

/*
 * etcd_classify - what etcd's error means for the caller: gRPC's
 * UNAVAILABLE (no leader, a timeout inside raft) and a 5xx are this
 * member's trouble, a bad token needs a new one, the rest is etcd's answer
 */
enum etcd_class
etcd_classify(long status, int64_t code, const char *msg)
{
	if (status >= 500 || code == GRPC_UNAVAILABLE ||
	    strstr(msg, "no leader") != NULL)
		return E_NEXT;
	if (code == GRPC_UNAUTHENTICATED ||
	    strstr(msg, "invalid auth token") != NULL)
		return E_AUTH;
	if (strstr(msg, "required revision has been compacted") != NULL)
		return E_COMPACTED;
	return E_FAIL;
}

/* etcd_say - "etcd ENDPOINT: PATH: what" */
void
etcd_say(struct etcd *e, size_t ep, const char *path, char *err,
    size_t errlen, const char *fmt, ...)
{
	char what[ETCD_WHY / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "etcd %s: %s: %s", e->ep[ep], path, what);
}

/* etcd_error - an etcd error message, and who it was about */
static enum etcd_class
etcd_error(struct etcd *e, size_t ep, const char *path, long status,
    int64_t code, const char *msg, char *err, size_t errlen)
{
	char m[256];

	etcd_printable(m, sizeof(m), msg);
	if (code == GRPC_PERMISSION && e->user != NULL)
		etcd_say(e, ep, path, err, errlen, "%s (as user %s)", m,
		    e->user);
	else
		etcd_say(e, ep, path, err, errlen, "%s", m);
	return etcd_classify(status, code, msg);
}

/* etcd_curl_why - a transfer that failed, in words */
void
etcd_curl_why(struct etcd *e, CURLcode rc, const struct etcd_buf *b,
    char *why, size_t len)
{
	long oserr = 0;

	if (rc == CURLE_WRITE_ERROR && b != NULL && b->toobig) {
		snprintf(why, len, "answer larger than %d MB",
		    ETCD_ANSWER_MAX / (1024 * 1024));
		return;
	}
	if (rc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(e->curl, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK &&
	    oserr != 0) {
		snprintf(why, len, "%s", strerror((int)oserr));
		return;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(why, len, "no answer in time (%s)",
		    e->cerr[0] ? e->cerr : "timeout");
		return;
	}
	snprintf(why, len, "%s", e->cerr[0] ? e->cerr : curl_easy_strerror(rc));
}

/* etcd_headers - what every request sends; the token when there is one */
struct curl_slist *
etcd_headers(struct etcd *e, int watch)
{
	struct curl_slist *h = NULL;
	char *tok;

	h = curl_slist_append(h, "Content-Type: application/json");
	/* no "100 Continue" round trip before a large body */
	h = curl_slist_append(h, "Expect:");
	if (e->token != NULL) {
		tok = xasprintf("Authorization: %s", e->token);
		h = curl_slist_append(h, tok);
		freezero(tok, strlen(tok));
	}
	/* etcd refuses the stream, and ends it later, when this member
	 * has no raft leader: a cut-off member must not look quiet */
	if (watch)
		h = curl_slist_append(h, "Grpc-Metadata-hasleader: true");
	if (h == NULL) {
		fprintf(stderr, "keyturn: out of memory (curl_slist)\n");
		abort();
	}
	return h;
}

/* post - one POST of body to endpoint ep; -1: no HTTP answer */
static int
post(struct etcd *e, size_t ep, const char *path, const char *body,
    size_t blen, struct etcd_buf *out, long *status, char *err, size_t errlen)
{
	struct curl_slist *h = etcd_headers(e, 0);
	char *url = xasprintf("%s%s", e->ep[ep], path), why[ETCD_WHY];
	CURLcode rc;

	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)blen);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	e->cerr[0] = '\0';
	rc = curl_easy_perform(e->curl);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(h);
	free(url);
	if (rc != CURLE_OK) {
		etcd_curl_why(e, rc, out, why, sizeof(why));
		etcd_say(e, ep, path, err, errlen, "%s", why);
		return -1;
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/*
 * etcd_answer - the JSON of an HTTP answer; an error status, or an error
 * line of a stream, told apart from a result
 */
enum etcd_class
etcd_answer(struct etcd *e, size_t ep, const char *path, long status,
    const struct etcd_buf *b, json_object **out, char *err, size_t errlen)
{
	json_object *o, *er;
	int64_t code;
	enum etcd_class c;

	*out = NULL;
	if ((o = etcd_jparse(b->p ? b->p : "", b->len)) == NULL) {
		if (status == 200) {
			etcd_say(e, ep, path, err, errlen,
			    "answer is not JSON");
			return E_NEXT;
		}
		etcd_say(e, ep, path, err, errlen, "HTTP status %ld", status);
		return status >= 500 ? E_NEXT : E_FAIL;
	}
	/* a stream's error (also the whole answer of a stream refused at
	 * once) is an object; a call's, a string beside the code */
	if ((er = etcd_jget(o, "error")) != NULL &&
	    json_object_is_type(er, json_type_object)) {
		etcd_jint(er, "grpc_code", &code);
		c = etcd_error(e, ep, path, status, code,
		    etcd_jstr(er, "message"), err, errlen);
		json_object_put(o);
		return c;
	}
	if (status != 200) {
		etcd_jint(o, "code", &code);
		c = etcd_error(e, ep, path, status, code,
		    *etcd_jstr(o, "message") ? etcd_jstr(o, "message") :
		    etcd_jstr(o, "error"), err, errlen);
		json_object_put(o);
		return c;
	}
	*out = o;
	return E_OK;
}

/* json_quote - s as a JSON string into b (for the password: no copies
 * left in json-c's buffers) */
static void
json_quote(struct etcd_buf *b, const char *s)
{
	char u[8];

	etcd_buf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			etcd_buf_add(b, "\\", 1);
			etcd_buf_add(b, s, 1);
		} else if ((unsigned char)*s < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", (unsigned char)*s);
			etcd_buf_add(b, u, 6);
		} else
			etcd_buf_add(b, s, 1);
	}
	etcd_buf_add(b, "\"", 1);
	explicit_bzero(u, sizeof(u));
}

/* etcd_authenticate - a token from endpoint ep, unless there is one */
enum etcd_class
etcd_authenticate(struct etcd *e, size_t ep, char *err, size_t errlen)
{
	static const char path[] = "/v3/auth/authenticate";
	struct etcd_buf req = { 0 }, res = { 0 };
	json_object *o;
	enum etcd_class c;
	long status = 0;

	if (e->user == NULL || e->token != NULL)
		return E_OK;
	etcd_buf_add(&req, "{\"name\":", 8);
	json_quote(&req, e->user);
	etcd_buf_add(&req, ",\"password\":", 12);
	json_quote(&req, e->password);
	etcd_buf_add(&req, "}", 1);
	if (post(e, ep, path, req.p, req.len, &res, &status, err,
	    errlen) == -1) {
		etcd_buf_free(&req);
		etcd_buf_free(&res);
		return E_NEXT;
	}
	etcd_buf_free(&req);
	c = etcd_answer(e, ep, path, status, &res, &o, err, errlen);
	etcd_buf_free(&res);
	if (c != E_OK)
		return c == E_NEXT ? E_NEXT : E_FAIL;
	if (*etcd_jstr(o, "token") == '\0') {
		etcd_say(e, ep, path, err, errlen, "no token in the answer");
		c = E_FAIL;
	} else
		e->token = xstrdup(etcd_jstr(o, "token"));
	json_object_put(o);
	return c;
}

/* etcd_forget_token - the next attempt authenticates again */
void
etcd_forget_token(struct etcd *e)
{
	if (e->token != NULL)
		freezero(e->token, strlen(e->token));
	e->token = NULL;
}

/* attempt - one request on endpoint ep, authenticated first if need be */
static enum etcd_class
attempt(struct etcd *e, size_t ep, const char *path, const char *body,
    size_t blen, json_object **out, char *err, size_t errlen)
{
	struct etcd_buf res = { 0 };
	enum etcd_class c;
	long status = 0;

	if ((c = etcd_authenticate(e, ep, err, errlen)) != E_OK)
		return c;
	if (post(e, ep, path, body, blen, &res, &status, err, errlen) == -1)
		c = E_NEXT;
	else
		c = etcd_answer(e, ep, path, status, &res, out, err, errlen);
	etcd_buf_free(&res);
	return c;
}

/* etcd_why_add - one endpoint's failure onto the list of them */
void
etcd_why_add(char *why, size_t len, const char *one)
{
	if (why[0] != '\0')
		strlcat(why, "; ", len);
	strlcat(why, one, len);
}

/* etcd_busy - a call from inside a watch's fn: the handle is in use */
int
etcd_busy(struct etcd *e, char *err, size_t errlen)
{
	if (!e->busy)
		return 0;
	snprintf(err, errlen, "etcd: busy: called from inside a watch on the "
	    "same client");
	return 1;
}

/*
 * etcd_call - req to path on the first endpoint that answers; *out is the
 * answer. 0, -1 or ETCD_COMPACTED.
 */
int
etcd_call(struct etcd *e, const char *path, json_object *req,
    json_object **out, char *err, size_t errlen)
{
	char why[ETCD_WHY] = "", one[ETCD_WHY];
	const char *body;
	size_t blen, i, ep;
	int reauth = 0, round = 0, election;

	*out = NULL;
	if (etcd_busy(e, err, errlen))
		return -1;
	body = json_object_to_json_string_length(req, ETCD_JSON_FLAGS, &blen);
again:
	election = 0;
	for (i = 0; i < e->nep;) {
		ep = (e->cur + i) % e->nep;
		switch (attempt(e, ep, path, body, blen, out, one,
		    sizeof(one))) {
		case E_OK:
			e->cur = ep;
			return 0;
		case E_AUTH:
			if (e->user != NULL && !reauth) {
				reauth = 1;
				etcd_forget_token(e);
				continue;
			}
			/* FALLTHROUGH */
		case E_FAIL:
			e->cur = ep;
			strlcpy(err, one, errlen);
			return -1;
		case E_COMPACTED:
			e->cur = ep;
			strlcpy(err, one, errlen);
			return ETCD_COMPACTED;
		case E_NEXT:
			/* a member between two raft leaders says so at once */
			if (strstr(one, "leader changed") != NULL ||
			    strstr(one, "no leader") != NULL)
				election = 1;
			etcd_why_add(why, sizeof(why), one);
			i++;
			break;
		}
	}
	/*
	 * An election takes the members a moment (an election timeout or
	 * two): ask them all again a few times before giving up, as etcd's
	 * own client does. Only then: a member that does not answer costs
	 * a timeout each round.
	 */
	if (election && round < ETCD_ELECTION_ROUNDS) {
		round++;
		usleep(ETCD_ELECTION_WAIT_MS * 1000 * round);
		why[0] = '\0';
		goto again;
	}
	snprintf(err, errlen, "etcd: no endpoint answered: %s", why);
	return -1;
}

/* endpoints - split "URL,URL" into e->ep */
static int
endpoints(struct etcd *e, const char *list, char *err, size_t errlen)
{
	char *copy, *s, *p, *u;
	size_t n;

	copy = xstrdup(list);
	e->ep = xcalloc(ETCD_EP_MAX, sizeof(char *));
	for (s = copy; (p = strsep(&s, ",")) != NULL;) {
		p += strspn(p, " \t");
		p[strcspn(p, " \t")] = '\0';
		if (*p == '\0')
			continue;
		if (strncmp(p, "http://", 7) != 0 &&
		    strncmp(p, "https://", 8) != 0) {
			snprintf(err, errlen, "etcd: endpoint %.200s: not an "
			    "http:// or https:// URL", p);
			free(copy);
			return -1;
		}
		if (e->nep == ETCD_EP_MAX) {
			snprintf(err, errlen, "etcd: more than %d endpoints",
			    ETCD_EP_MAX);
			free(copy);
			return -1;
		}
		u = xstrdup(p);
		for (n = strlen(u); n > 0 && u[n - 1] == '/'; n--)
			u[n - 1] = '\0';
		e->ep[e->nep++] = u;
	}
	free(copy);
	if (e->nep == 0) {
		snprintf(err, errlen, "etcd: no endpoint given");
		return -1;
	}
	return 0;
}

/* readable_file - a file the client needs, checked now for a clear
 * error */
static int
readable_file(const char *what, const char *path, char *err, size_t errlen)
{
	if (path == NULL || access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "etcd: %s %s: %s", what, path, strerror(errno));
	return -1;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* etcd_new - a client; nothing is sent before the first call */
struct etcd *
etcd_new(const struct etcd_opts *o, char *err, size_t errlen)
{
	struct etcd *e;
	CURL *c;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "etcd: libcurl: %s",
		    curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	if (o->endpoints == NULL) {
		snprintf(err, errlen, "etcd: no endpoint given");
		return NULL;
	}
	if ((o->user == NULL) != (o->password == NULL)) {
		snprintf(err, errlen, "etcd: a user and a password go together");
		return NULL;
	}
	if (readable_file("CA file", o->ca, err, errlen) == -1 ||
	    readable_file("certificate", o->cert, err, errlen) == -1 ||
	    readable_file("key", o->key, err, errlen) == -1)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	if (endpoints(e, o->endpoints, err, errlen) == -1) {
		etcd_free(e);
		return NULL;
	}
	if ((e->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "etcd: curl_easy_init failed");
		etcd_free(e);
		return NULL;
	}
	c = e->curl;
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	if (o->user != NULL) {
		e->user = xstrdup(o->user);
		e->password = xstrdup(o->password);
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, e->cerr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    o->connect_ms > 0 ? o->connect_ms : 1000L);
	/* etcd is reached directly: no http_proxy from the environment */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (o->ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca);
	if (o->cert != NULL)
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
	if (o->key != NULL)
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
	return e;
}

void
etcd_free(struct etcd *e)
{
	size_t i;

	if (e == NULL)
		return;
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	if (e->curl != NULL)
		curl_easy_cleanup(e->curl);
	for (i = 0; i < e->nep; i++)
		free(e->ep[i]);
	free(e->ep);
	free(e->user);
	if (e->password != NULL)
		freezero(e->password, strlen(e->password));
	etcd_forget_token(e);
	free(e);
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->ep[e->cur];
}
