/*
 * etcd_watch - a watch on a prefix, read as it streams
 *
 * The answer to POST /v3/watch is a stream of JSON objects, one a line:
 * {"result": WatchResponse} or, when etcd ends the stream, {"error":
 * {...}} (possibly without its newline). A watch etcd refuses comes as
 * a result with "created" and "canceled" both true and a cancel_reason
 * ("rpc error: code = ... desc = ..."); one from a compacted revision
 * as "canceled" with "compact_revision". Each line is handled as soon as
 * it is complete; a line longer than ETCD_ANSWER_MAX ends the watch.
 *
 * The request carries the metadata hasleader (Grpc-Metadata-hasleader:
 * true): a member without a raft leader refuses the watch (503, "no
 * leader"), and ends one it serves when it loses its leader for a few
 * election timeouts, so that a member cut off from the others does not
 * look like a quiet keystore.
 *
 * The transfer runs in curl's multi interface and sleeps in
 * curl_multi_poll() together with the caller's cancel_fd, so a cancel is
 * seen at once, not at curl's next one-second progress tick; the idle
 * limit is checked on every wake-up. fn is called from inside the
 * transfer: it must not use the same struct etcd (etcd_busy).
 */
#include "config.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd_int.h"
#include "xmalloc.h"

enum wstate { W_RUN, W_STOP, W_CANCEL, W_COMPACTED, W_ERROR, W_IDLE };

struct watch {
	struct etcd	*e;
	size_t		 ep;
	etcd_watch_fn	*fn;
	void		*arg;
	struct etcd_buf	 line;		/* the line being received */
	long		 status;	/* HTTP status; 0: not yet */
	int		 started;	/* etcd took the watch */
	enum wstate	 state;
	enum etcd_class	 eclass;	/* W_ERROR: what kind */
	int64_t		 compact_rev;
	struct timespec	 last;		/* when a byte last came */
	char		 why[ETCD_WHY];
};

/* ms_since - milliseconds from t to now */
static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000);
}

/* watch_events - the events of one answer to fn */
static int
watch_events(struct watch *w, json_object *ev, int64_t rev)
{
	struct etcd_event *evs;
	json_object *x;
	size_t i, n = 0;
	int rc;

	if (ev != NULL && json_object_is_type(ev, json_type_array))
		n = json_object_array_length(ev);
	evs = xcalloc(n ? n : 1, sizeof(*evs));
	for (i = 0; i < n; i++) {
		x = json_object_array_get_idx(ev, i);
		evs[i].type = strcmp(etcd_jstr(x, "type"), "DELETE") == 0 ?
		    ETCD_EV_DELETE : ETCD_EV_PUT;
		if (etcd_jkv(etcd_jget(x, "kv"), &evs[i].kv) == -1) {
			while (i-- > 0)
				etcd_kv_free(&evs[i].kv);
			free(evs);
			return -1;
		}
	}
	w->e->busy = 1;
	rc = w->fn(evs, n, rev, w->arg);
	w->e->busy = 0;
	for (i = 0; i < n; i++)
		etcd_kv_free(&evs[i].kv);
	free(evs);
	if (rc != 0)
		w->state = W_STOP;
	return 0;
}

/* watch_fail - the watch is over, and why */
static void
watch_fail(struct watch *w, enum etcd_class c, const char *what,
    const char *s)
{
	char m[256];

	etcd_printable(m, sizeof(m), s);
	w->state = W_ERROR;
	w->eclass = c;
	etcd_say(w->e, w->ep, "/v3/watch", w->why, sizeof(w->why), "%s%s",
	    what, m);
}

/* watch_result - one WatchResponse */
static void
watch_result(struct watch *w, json_object *r)
{
	const char *reason;
	int64_t code;

	if (etcd_jbool(r, "canceled")) {
		if (etcd_jint(r, "compact_revision", &w->compact_rev) == 0 &&
		    w->compact_rev > 0) {
			w->state = W_COMPACTED;
			return;
		}
		/* refusals come this way: "rpc error: code = X desc = M" */
		reason = etcd_jstr(r, "cancel_reason");
		code = strstr(reason, "Unauthenticated") ?
		    GRPC_UNAUTHENTICATED : strstr(reason, "Unavailable") ?
		    GRPC_UNAVAILABLE : 0;
		watch_fail(w, etcd_classify(200, code, reason), "canceled: ",
		    *reason ? reason : "no reason given");
		return;
	}
	if (etcd_jbool(r, "created")) {
		w->started = 1;
		return;
	}
	if (watch_events(w, etcd_jget(r, "events"), etcd_jrevision(r)) == -1)
		watch_fail(w, E_FAIL, "", "a malformed event");
}

/* watch_line - one line of the stream */
static void
watch_line(struct watch *w, const char *p, size_t len)
{
	json_object *o, *x;
	int64_t code;

	if (strspn(p, " \t\r") == len)
		return;
	if ((o = etcd_jparse(p, len)) == NULL) {
		watch_fail(w, E_NEXT, "", "a line that is not JSON");
		return;
	}
	if ((x = etcd_jget(o, "result")) != NULL)
		watch_result(w, x);
	else if ((x = etcd_jget(o, "error")) != NULL &&
	    json_object_is_type(x, json_type_object)) {
		etcd_jint(x, "grpc_code", &code);
		watch_fail(w, etcd_classify(200, code, etcd_jstr(x, "message")),
		    "", etcd_jstr(x, "message"));
	} else
		watch_fail(w, E_NEXT, "", "an answer with no result");
	json_object_put(o);
}

/* watch_write - CURLOPT_WRITEFUNCTION: lines handled as they complete */
static size_t
watch_write(char *p, size_t size, size_t n, void *arg)
{
	struct watch *w = arg;
	size_t len = size * n, off, nl;
	char *q;

	clock_gettime(CLOCK_MONOTONIC, &w->last);
	if (w->status == 0)
		curl_easy_getinfo(w->e->curl, CURLINFO_RESPONSE_CODE,
		    &w->status);
	if (etcd_buf_add(&w->line, p, len) == -1)
		return 0;
	if (w->status != 200)
		return len;	/* an error body: read at the end */
	off = 0;
	while (w->state == W_RUN &&
	    (q = memchr(w->line.p + off, '\n', w->line.len - off)) != NULL) {
		nl = (size_t)(q - w->line.p);
		*q = '\0';
		watch_line(w, w->line.p + off, nl - off);
		off = nl + 1;
	}
	memmove(w->line.p, w->line.p + off, w->line.len - off);
	w->line.len -= off;
	return w->state == W_RUN ? len : 0;
}

/* cancelled - cancel_fd readable (or closed) */
static int
cancelled(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&pfd, 1, 0) > 0;
}

/* watch_run - the transfer, until it ends or the caller's reasons */
static CURLcode
watch_run(struct etcd *e, struct watch *w, int cancel_fd, long idle_ms)
{
	struct curl_waitfd wfd = { .fd = cancel_fd,
	    .events = CURL_WAIT_POLLIN };
	CURLcode rc = CURLE_OK;
	CURLMsg *m;
	long idle, wait;
	int running = 1, left;

	curl_multi_add_handle(e->multi, e->curl);
	clock_gettime(CLOCK_MONOTONIC, &w->last);
	while (running) {
		if (curl_multi_perform(e->multi, &running) != CURLM_OK) {
			rc = CURLE_RECV_ERROR;
			break;
		}
		if (!running || w->state != W_RUN)
			break;
		if (cancelled(cancel_fd)) {
			w->state = W_CANCEL;
			break;
		}
		idle = ms_since(&w->last);
		if (idle_ms > 0 && idle >= idle_ms) {
			w->state = W_IDLE;
			break;
		}
		wait = ETCD_POLL_MS;
		if (idle_ms > 0 && idle_ms - idle < wait)
			wait = idle_ms - idle;
		curl_multi_poll(e->multi, cancel_fd >= 0 ? &wfd : NULL,
		    cancel_fd >= 0 ? 1 : 0, (int)wait, NULL);
	}
	while ((m = curl_multi_info_read(e->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE)
			rc = m->data.result;
	curl_multi_remove_handle(e->multi, e->curl);
	return rc;
}

/* watch_end - what a finished transfer came to */
static enum etcd_class
watch_end(struct etcd *e, struct watch *w, CURLcode rc, long idle_ms)
{
	char why[ETCD_WHY];
	json_object *o;

	/* the last line may come without its newline (an error that
	 * ends the stream) */
	if (rc == CURLE_OK && w->status == 200 && w->state == W_RUN &&
	    w->line.len > 0) {
		watch_line(w, w->line.p, w->line.len);
		w->line.len = 0;
	}
	switch (w->state) {
	case W_STOP:
	case W_CANCEL:
	case W_COMPACTED:
		return E_OK;
	case W_ERROR:
		return w->eclass;
	case W_IDLE:
		etcd_say(e, w->ep, "/v3/watch", w->why, sizeof(w->why),
		    "nothing from etcd for %ld ms", idle_ms);
		return E_NEXT;
	case W_RUN:
		break;
	}
	if (rc != CURLE_OK) {
		etcd_curl_why(e, rc, &w->line, why, sizeof(why));
		etcd_say(e, w->ep, "/v3/watch", w->why, sizeof(w->why), "%s",
		    why);
		return E_NEXT;
	}
	if (w->status != 200 && w->status != 0) {
		o = NULL;
		w->eclass = etcd_answer(e, w->ep, "/v3/watch", w->status,
		    &w->line, &o, w->why, sizeof(w->why));
		json_object_put(o);
		return w->eclass == E_OK ? E_FAIL : w->eclass;
	}
	etcd_say(e, w->ep, "/v3/watch", w->why, sizeof(w->why),
	    "the stream ended");
	return E_NEXT;
}

/* watch_once - the watch on endpoint ep */
static enum etcd_class
watch_once(struct etcd *e, struct watch *w, const char *body, size_t blen,
    int cancel_fd, long idle_ms)
{
	struct curl_slist *h;
	char *url;
	enum etcd_class c;
	CURLcode rc;

	c = etcd_authenticate(e, w->ep, w->why, sizeof(w->why));
	if (c != E_OK)
		return c;
	if (e->multi == NULL && (e->multi = curl_multi_init()) == NULL) {
		snprintf(w->why, sizeof(w->why), "etcd: curl_multi_init "
		    "failed");
		return E_FAIL;
	}
	h = etcd_headers(e, 1);
	url = xasprintf("%s/v3/watch", e->ep[w->ep]);
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)blen);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, 0L);
	e->cerr[0] = '\0';
	rc = watch_run(e, w, cancel_fd, idle_ms);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(h);
	free(url);
	return watch_end(e, w, rc, idle_ms);
}

/* watch_req - the WatchCreateRequest */
static json_object *
watch_req(const char *prefix, int64_t start_rev)
{
	json_object *q = json_object_new_object(), *c;
	size_t endlen;
	char *end;

	c = json_object_new_object();
	end = etcd_prefix_end(prefix, strlen(prefix), &endlen);
	if (*prefix == '\0')
		etcd_jput_bytes(c, "key", "", 1);
	else
		etcd_jput_bytes(c, "key", prefix, strlen(prefix));
	etcd_jput_bytes(c, "range_end", end, endlen);
	free(end);
	if (start_rev > 0)
		etcd_jput_int(c, "start_revision", start_rev);
	json_object_object_add(c, "progress_notify",
	    json_object_new_boolean(1));
	json_object_object_add(q, "create_request", c);
	return q;
}

/*
 * etcd_watch - another endpoint is tried only while the watch has not
 * started: once events may have come, the caller knows where to resume
 */
int
etcd_watch(struct etcd *e, const char *prefix, int64_t start_rev,
    int cancel_fd, long idle_ms, etcd_watch_fn *fn, void *arg,
    int64_t *compact_rev, char *err, size_t errlen)
{
	char why[ETCD_WHY] = "";
	struct watch w;
	json_object *q;
	const char *body;
	size_t blen, i;
	int reauth = 0, rc = -1;
	enum etcd_class c;

	if (etcd_busy(e, err, errlen))
		return -1;
	q = watch_req(prefix, start_rev);
	body = json_object_to_json_string_length(q, ETCD_JSON_FLAGS, &blen);
	for (i = 0; i < e->nep;) {
		memset(&w, 0, sizeof(w));
		w.e = e;
		w.ep = (e->cur + i) % e->nep;
		w.fn = fn;
		w.arg = arg;
		c = watch_once(e, &w, body, blen, cancel_fd, idle_ms);
		etcd_buf_free(&w.line);
		if (c == E_AUTH && e->user != NULL && !reauth) {
			reauth = 1;
			etcd_forget_token(e);
			continue;
		}
		if (c == E_NEXT && !w.started) {
			etcd_why_add(why, sizeof(why), w.why);
			i++;
			continue;
		}
		e->cur = w.ep;
		if (c != E_OK)
			strlcpy(err, w.why, errlen);
		else if (w.state == W_COMPACTED) {
			if (compact_rev != NULL)
				*compact_rev = w.compact_rev;
			snprintf(err, errlen, "etcd %s: /v3/watch: revision "
			    "%" PRId64 " is compacted (up to %" PRId64 ")",
			    e->ep[w.ep], start_rev, w.compact_rev);
			rc = ETCD_COMPACTED;
		} else
			rc = 0;
		json_object_put(q);
		return rc;
	}
	snprintf(err, errlen, "etcd: no endpoint answered: %s", why);
	json_object_put(q);
	return -1;
}
