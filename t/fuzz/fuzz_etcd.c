/*
 * fuzz_etcd - etcd's answers as the fleet reads them: the JSON gateway's
 * range, txn, lease, status, member list and error bodies, the watch
 * stream's lines (keystore/etcd.c, etcd_kv.c, etcd_watch.c over
 * etcd_json.c), and what the fleet makes of them (keystore/fleet.c:
 * fleet_format, fleet_sync_domain into a mirror keystore, its keys opened
 * with the KEK; fleet_key_domain on every watched key; libFuzzer entry)
 *
 * etcd.c and etcd_watch.c are compiled in with libcurl's transfers
 * replaced: curl_easy_perform and the multi interface's perform hand the
 * write function the body of the next record of the input, and
 * curl_easy_getinfo gives its status; every option still goes to a real
 * handle, which never connects. The retry pause between election
 * rounds (usleep) is skipped.
 *
 * Input: byte 0: bits 0-1 the endpoints (1 to 3), bit 2 a user and a
 * password (the client authenticates first); then operations, each a
 * byte (fuzz_ops[b % n]: range, range_all in pages of 2, count, txn,
 * lease grant, keepalive, revoke, status, members, watch, fleet_format,
 * fleet_format creating it, fleet_sync_domain of example.com), followed
 * by the answers the operation asks for, as records:
 *	byte	bits 0-2: HTTP status (200 400 401 404 500 503 200 200),
 *		bits 3-4: the transfer's outcome (ok ok refused timeout),
 *		bits 5-7: the write chunks (whole, 1, 2, 7, 64, 512, 4096, 3)
 *	2 bytes	big-endian length, then the body
 * A transfer with no record left is refused.
 *
 * Properties: keys and values come NUL-terminated; a range of pages
 * counts its keys; a watched key of the fleet names a domain it
 * contains; and after fleet_sync_domain succeeds the mirror's domain
 * loads (or is gone) and nothing is written outside the mirror. The
 * mirror starts empty for each input.
 *
 * With KT_FUZZ_ETCD_RECORD=FILE and KT_FUZZ_ETCD=URL the operations go
 * to a real etcd instead and FILE gets the input's bytes with the
 * answers as records: how t/fuzz/seed_etcd.sh makes the seeds.
 */
#include "config.h"

#include <sys/types.h>

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "fuzz_keys.h"
#include "fuzz_util.h"

/* ---- libcurl's transfers, from the input ---- */

struct fuzz_xfer {
	curl_write_callback	 fn;		/* the product's */
	void			*arg;
	char			*got;		/* recording: the body */
	size_t			 glen;
};

static struct fz_in fuzz_in;
static struct fuzz_xfer fuzz_x;
static long fuzz_status;
static CURLcode fuzz_done;
static FILE *fuzz_rec;
static const long fuzz_statuses[] = { 200, 400, 401, 404, 500, 503, 200,
    200 };
static const CURLcode fuzz_rcs[] = { CURLE_OK, CURLE_OK,
    CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT };
static const size_t fuzz_chunks[] = { 0, 1, 2, 7, 64, 512, 4096, 3 };

/* fuzz_catch - the write function curl calls: recorded, then passed on */
static size_t
fuzz_catch(char *p, size_t size, size_t n, void *arg)
{
	struct fuzz_xfer *x = arg;
	size_t r = x->fn(p, size, n, x->arg);

	if (fuzz_rec != NULL && r == size * n) {
		if ((x->got = realloc(x->got, x->glen + r + 1)) == NULL)
			abort();
		memcpy(x->got + x->glen, p, r);
		x->glen += r;
	}
	return r;
}

/* fuzz_setopt - every option to the real handle; the writer caught */
static CURLcode
fuzz_setopt(CURL *c, CURLoption opt, ...)
{
	va_list ap;
	CURLcode r;
	long l;
	void *p;
	curl_off_t o;

	va_start(ap, opt);
	if (opt == CURLOPT_WRITEFUNCTION) {
		fuzz_x.fn = va_arg(ap, curl_write_callback);
		r = curl_easy_setopt(c, opt, fuzz_catch);
	} else if (opt == CURLOPT_WRITEDATA) {
		fuzz_x.arg = va_arg(ap, void *);
		r = curl_easy_setopt(c, opt, &fuzz_x);
	} else if (opt < CURLOPTTYPE_OBJECTPOINT) {
		l = va_arg(ap, long);
		r = curl_easy_setopt(c, opt, l);
	} else if (opt < CURLOPTTYPE_OFF_T) {
		p = va_arg(ap, void *);
		r = curl_easy_setopt(c, opt, p);
	} else {
		o = va_arg(ap, curl_off_t);
		r = curl_easy_setopt(c, opt, o);
	}
	va_end(ap);
	return r;
}

/* fuzz_deliver - the next record's body to the write function */
static CURLcode
fuzz_deliver(void)
{
	const uint8_t *p;
	size_t n, k, step;
	int b;

	if (fuzz_in.n < 3) {
		fuzz_in.n = 0;
		fuzz_status = 0;
		return CURLE_COULDNT_CONNECT;
	}
	b = fz_byte(&fuzz_in);
	p = fz_take(&fuzz_in, fz_u16(&fuzz_in), &n);
	fuzz_status = fuzz_statuses[b & 7];
	if (fuzz_rcs[(b >> 3) & 3] != CURLE_OK) {
		fuzz_status = 0;
		return fuzz_rcs[(b >> 3) & 3];
	}
	step = fuzz_chunks[b >> 5] ? fuzz_chunks[b >> 5] : n;
	for (; n > 0; p += k, n -= k) {
		k = n < step ? n : step;
		if (fuzz_x.fn((char *)p, 1, k, fuzz_x.arg) != k)
			return CURLE_WRITE_ERROR;
	}
	return CURLE_OK;
}

/* fuzz_record - a real transfer's outcome, as a record of the input */
static void
fuzz_record(CURL *c, CURLcode rc)
{
	long st = 0;
	int b = 0, i;

	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	for (i = 0; i < 6; i++)
		if (fuzz_statuses[i] == st)
			b = i;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		b = 3 << 3;
	else if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
		b = 2 << 3;
	if (fuzz_x.glen > 0xffff)
		abort();
	fputc(b, fuzz_rec);
	fputc((int)(fuzz_x.glen >> 8), fuzz_rec);
	fputc((int)(fuzz_x.glen & 0xff), fuzz_rec);
	fwrite(fuzz_x.got, 1, fuzz_x.glen, fuzz_rec);
	free(fuzz_x.got);
	fuzz_x.got = NULL;
	fuzz_x.glen = 0;
}

static CURLcode
fuzz_perform(CURL *c)
{
	CURLcode rc;

	if (fuzz_rec == NULL)
		return fuzz_deliver();
	rc = curl_easy_perform(c);
	fuzz_record(c, rc);
	return rc;
}

static CURLcode
fuzz_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list ap;
	long *l;
	CURLcode r = CURLE_OK;

	va_start(ap, info);
	l = va_arg(ap, long *);
	if (fuzz_rec != NULL)
		r = curl_easy_getinfo(c, info, l);
	else
		*l = info == CURLINFO_RESPONSE_CODE ? fuzz_status : 0;
	va_end(ap);
	return r;
}

static CURLMcode
fuzz_multi_perform(CURLM *m, int *running)
{
	CURLMsg *msg;
	CURLMcode r;
	int left;

	if (fuzz_rec == NULL) {
		fuzz_done = fuzz_deliver();
		*running = 0;
		return CURLM_OK;
	}
	/* recording: to its end here; the info read below says DONE */
	do {
		if ((r = curl_multi_perform(m, running)) != CURLM_OK)
			return r;
		if (*running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (*running);
	fuzz_done = CURLE_OK;
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE) {
			fuzz_done = msg->data.result;
			fuzz_record(msg->easy_handle, fuzz_done);
		}
	return CURLM_OK;
}

static CURLMsg *
fuzz_multi_info_read(CURLM *m, int *left)
{
	static CURLMsg msg;
	static int given;

	(void)m;
	*left = 0;
	if (given) {
		given = 0;
		return NULL;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg = CURLMSG_DONE;
	msg.data.result = fuzz_done;
	given = 1;
	return &msg;
}

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_setopt	fuzz_setopt
#define curl_easy_getinfo	fuzz_getinfo
#define curl_easy_perform	fuzz_perform
#define curl_multi_perform	fuzz_multi_perform
#define curl_multi_info_read	fuzz_multi_info_read
#define usleep(us)		((void)(us))
#include "etcd.c"
#include "etcd_watch.c"
#undef usleep

/* ---- the fleet ---- */

#include "conf.h"
#include "fleet.h"
#include "kek.h"
#include "log.h"
#include "store_int.h"

#define FUZZ_PREFIX	"/keyturn/"
#define FUZZ_DOMAIN	"example.com"


static struct fleet *fuzz_fleet;
static struct store *fuzz_mirror;
static const char *fuzz_url;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct kt_conf *c = conf_defaults();
	const char *rec = getenv("KT_FUZZ_ETCD_RECORD");
	char err[1024], *kek = fz_path("kek", NULL), *ks = fz_path("ks", NULL);

	(void)argc;
	(void)argv;
	log_init("fuzz_etcd", 1, LOG_DEBUG);
	if (rec != NULL && ((fuzz_url = getenv("KT_FUZZ_ETCD")) == NULL ||
	    (fuzz_rec = fopen(rec, "w")) == NULL))
		abort();
	fz_write(kek, fuzz_kek, KEK_LEN, 0600);
	c->fleet_endpoints = strdup(fuzz_url ? fuzz_url : "http://127.0.0.1:1");
	c->fleet_kek = kek;
	if ((fuzz_fleet = fleet_new(c, 0, err, sizeof(err))) == NULL ||
	    store_init(ks, err, sizeof(err)) == -1 ||
	    (fuzz_mirror = store_open(ks, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_etcd: %s\n", err);
		abort();
	}
	conf_free(c);
	free(ks);
	return 0;
}

/*
 * fuzz_mirror_reset - the mirror as made at start, so that no input
 * depends on what an earlier one synced
 */
static void
fuzz_mirror_reset(void)
{
	static const char *gone[] = { FUZZ_DOMAIN, STORE_REMOVED_DIR,
	    STORE_JOURNAL_FILE };
	char *p;
	size_t i;

	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		p = fz_path("ks", gone[i]);
		fz_rmtree(p);
		free(p);
	}
	p = fz_path("ks", STORE_GEN_FILE);
	fz_write(p, "0\n", 2, 0600);
	free(p);
}

/* fuzz_kv - what etcd.h promises of a key and its value */
static void
fuzz_kv(const struct etcd_kv *kv)
{
	char dom[STORE_DOMAIN_MAX + 1];

	if (kv->key == NULL || kv->key[kv->keylen] != '\0' ||
	    kv->value == NULL || kv->value[kv->vlen] != '\0')
		abort();
	if (fleet_key_domain(fuzz_fleet, kv->key, kv->keylen, dom,
	    sizeof(dom)) == 1 && (strlen(dom) >= sizeof(dom) ||
	    memmem(kv->key, kv->keylen, dom, strlen(dom)) == NULL))
		abort();
}

/* fuzz_watched - the watch's callback: a few answers, then stop */
static int
fuzz_watched(const struct etcd_event *ev, size_t n, int64_t rev, void *arg)
{
	int *calls = arg;
	size_t i;

	(void)rev;
	for (i = 0; i < n; i++) {
		if (ev[i].type != ETCD_EV_PUT && ev[i].type != ETCD_EV_DELETE)
			abort();
		fuzz_kv(&ev[i].kv);
	}
	return ++*calls >= 3 || (fuzz_rec != NULL && n > 0);
}

/* fuzz_range - a range answer, checked and freed */
static void
fuzz_range(struct etcd_range *r, int rc, int all)
{
	size_t i;

	if (rc != 0)
		return;
	for (i = 0; i < r->n; i++)
		fuzz_kv(&r->kvs[i]);
	if (all && (r->count != (int64_t)r->n || r->more))
		abort();
	etcd_range_free(r);
}

/* fuzz_scratch - nothing but the mirror and the KEK in the scratch dir */
static void
fuzz_scratch(void)
{
	struct dirent *de;
	DIR *d = opendir(fz_dir());

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, "ks") != 0 &&
		    strcmp(de->d_name, "kek") != 0)
			abort();	/* written outside the mirror */
	closedir(d);
}

/* fuzz_sync - one domain mirrored; what the daemon then reads */
static void
fuzz_sync(struct etcd *e)
{
	struct store_domain *d = NULL;
	char err[1024], *dir;
	char **names;
	size_t n;
	int changed;

	if (fleet_sync_domain(fuzz_fleet, fuzz_mirror, e, FUZZ_DOMAIN,
	    &changed, err, sizeof(err)) == 0) {
		dir = fz_path("ks", FUZZ_DOMAIN);
		if (access(dir, F_OK) == 0 && (d = store_domain_load(
		    fuzz_mirror, FUZZ_DOMAIN, 0, err, sizeof(err))) == NULL)
			abort();	/* synced, and it does not load */
		free(dir);
		if (d != NULL)
			store_domain_free(d);
	}
	fuzz_scratch();
	if (store_domain_names(fuzz_mirror, &names, &n, err,
	    sizeof(err)) == -1)
		abort();	/* the mirror holds what is no domain */
	store_names_free(names, n);
}

/* fuzz_op - one operation of the input */
static void
fuzz_op(struct etcd *e, int op)
{
	struct etcd_cmp cmp = { .key = FUZZ_PREFIX "lock",
	    .target = ETCD_CREATE, .op = ETCD_EQ };
	struct etcd_op put = { .type = ETCD_PUT, .key = FUZZ_PREFIX "lock",
	    .value = "x", .vlen = 1 };
	struct etcd_range r;
	struct etcd_status st;
	struct etcd_member *ms;
	char err[1024];
	size_t n;
	int64_t v, rev;
	int calls = 0;

	switch (op) {
	case 0:
		fuzz_range(&r, etcd_range(e, FUZZ_PREFIX "format", 15, NULL,
		    0, 0, 0, 0, &r, err, sizeof(err)), 0);
		break;
	case 1:
		fuzz_range(&r, etcd_range_all(e, FUZZ_PREFIX, 2, 0, &r, err,
		    sizeof(err)), 1);
		break;
	case 2:
		fuzz_range(&r, etcd_range_all(e, FUZZ_PREFIX, 0,
		    ETCD_COUNT_ONLY, &r, err, sizeof(err)), 0);
		break;
	case 3:
		(void)etcd_txn(e, &cmp, 1, &put, 1, &rev, err, sizeof(err));
		break;
	case 4:
		(void)etcd_lease_grant(e, 15, &v, err, sizeof(err));
		break;
	case 5:
		if (etcd_lease_keepalive(e, 7587883, &v, err,
		    sizeof(err)) == 0 && v < 0)
			abort();
		break;
	case 6:
		(void)etcd_lease_revoke(e, 7587883, err, sizeof(err));
		break;
	case 7:
		(void)etcd_status(e, &st, err, sizeof(err));
		break;
	case 8:
		if (etcd_members(e, &ms, &n, err, sizeof(err)) == 0)
			etcd_members_free(ms, n);
		break;
	case 9:
		(void)etcd_watch(e, FUZZ_PREFIX, 1, -1, 0, fuzz_watched,
		    &calls, &rev, err, sizeof(err));
		break;
	case 10:
	case 11:
		(void)fleet_format(fuzz_fleet, e, op == 11, err, sizeof(err));
		break;
	default:
		fuzz_sync(e);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *eps[] = { "http://127.0.0.1:1",
	    "http://127.0.0.1:1,http://127.0.0.2:1/",
	    "http://127.0.0.1:1, https://[::1]:2,http://127.0.0.3:1" };
	struct etcd_opts o;
	struct etcd *e;
	char err[1024];
	int cfg, op;

	fuzz_in.p = data;
	fuzz_in.n = size;
	cfg = fz_byte(&fuzz_in);
	memset(&o, 0, sizeof(o));
	o.endpoints = fuzz_url != NULL ? fuzz_url : eps[(cfg & 3) % 3];
	if (cfg & 4) {
		o.user = "keyturn";
		o.password = "fuzz";
	}
	if (fuzz_rec != NULL)
		fputc(cfg, fuzz_rec);
	if ((e = etcd_new(&o, err, sizeof(err))) == NULL)
		abort();
	fuzz_mirror_reset();
	while (fuzz_in.n > 0) {
		op = fz_byte(&fuzz_in);
		if (fuzz_rec != NULL)
			fputc(op, fuzz_rec);
		fuzz_op(e, op % 13);
	}
	etcd_free(e);
	if (fuzz_rec != NULL) {	/* one recording, whatever runs it */
		if (fclose(fuzz_rec) == EOF)
			abort();
		_exit(0);
	}
	return 0;
}
