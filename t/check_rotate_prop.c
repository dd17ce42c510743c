/*
 * check_rotate_prop - the pure parts of the propagation check: judging a
 * TXT answer against the expected key, summing up the observations, and
 * the "agreed since" streak (evidence_update). The network part is
 * tested against real Knot servers by t/rotate_dns.sh.
 * The publish hook (rot_hook) is here too: its time limit and the signal
 * state its command starts with. The query budget of prop_check and the
 * servers it could not ask are tested against a fake server on 127.0.0.1.
 *
 * What is asserted is behaviour: an error text, a count of queries, a
 * process gone. Where a time appears it is a lower bound (a limit was
 * honoured) or a bound that only catches a hang, said so where it is;
 * the tcase timeout (HANG_TCASE) is the last one.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>

#include "dnsio.h"
#include "evidence.h"
#include "propagate.h"
#include "rotation.h"

/* a test that runs this long has hung */
#define HANG_TCASE	120

/*
 * The query timeout for servers that answer at once (the fake server,
 * an ICMP refusal): a timeout there would only mean the machine stalled
 * for that long, so it is large; the tests that need a timeout to happen
 * use a silent socket and a small one.
 */
#define ANSWERED_MS	10000

static unsigned char key_a[32], key_b[32], key_rsa[294];
static char b64_a[64], b64_b[64], b64_rsa[512];

/* setup - three distinct keys and their base64 forms */
static void
setup(void)
{
	size_t i;

	for (i = 0; i < sizeof(key_a); i++) {
		key_a[i] = i * 7 + 1;
		key_b[i] = i * 7 + 2;
	}
	for (i = 0; i < sizeof(key_rsa); i++)
		key_rsa[i] = i * 13 + 5;
	EVP_EncodeBlock((unsigned char *)b64_a, key_a, sizeof(key_a));
	EVP_EncodeBlock((unsigned char *)b64_b, key_b, sizeof(key_b));
	EVP_EncodeBlock((unsigned char *)b64_rsa, key_rsa, sizeof(key_rsa));
}

/* A record template: %A, %B, %R are replaced by the base64 keys. */
static const struct judge_case {
	const char	*name;
	enum prop_alg	 alg;	/* expected; the key is A for ed, R for rsa */
	const char	*txt[2];
	size_t		 ntxt;
	enum prop_status want;
} judge_cases[] = {
	{ "ed25519 match", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; p=%A" }, 1, PROP_MATCH },
	{ "rsa match, k= absent", PROP_ALG_RSA, { "v=DKIM1; p=%R" }, 1,
	  PROP_MATCH },
	{ "rsa match, v= absent, h= and t=", PROP_ALG_RSA,
	  { "k=rsa; h=sha256; t=s; p=%R" }, 1, PROP_MATCH },
	{ "h= lists sha256 among others", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; h=sha1 : SHA256; p=%A" }, 1, PROP_MATCH },
	{ "h= without sha256", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; h=sha1; p=%A" }, 1, PROP_MISMATCH },
	{ "s=email", PROP_ALG_RSA, { "v=DKIM1; s=email; p=%R" }, 1,
	  PROP_MATCH },
	{ "s=*", PROP_ALG_RSA, { "v=DKIM1; s=*; p=%R" }, 1, PROP_MATCH },
	{ "s= of another service only", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; s=tlsrpt; p=%A" }, 1, PROP_MISMATCH },
	{ "p= folded with spaces", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; p=%S" }, 1, PROP_MATCH },
	{ "another ed25519 key", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; p=%B" }, 1, PROP_MISMATCH },
	{ "ed25519 key, rsa expected", PROP_ALG_RSA,
	  { "v=DKIM1; k=ed25519; p=%R" }, 1, PROP_MISMATCH },
	{ "k= absent means rsa", PROP_ALG_ED25519, { "v=DKIM1; p=%A" }, 1,
	  PROP_MISMATCH },
	{ "revoked", PROP_ALG_RSA, { "v=DKIM1; p=" }, 1, PROP_EMPTY },
	{ "revoked, k= of another algorithm", PROP_ALG_ED25519,
	  { "v=DKIM1; k=rsa; p=" }, 1, PROP_EMPTY },
	{ "v=DKIM2", PROP_ALG_ED25519, { "v=DKIM2; k=ed25519; p=%A" }, 1,
	  PROP_MISMATCH },
	{ "v= not first", PROP_ALG_ED25519,
	  { "k=ed25519; v=DKIM1; p=%A" }, 1, PROP_MISMATCH },
	{ "no p=", PROP_ALG_RSA, { "v=DKIM1; k=rsa" }, 1, PROP_MISMATCH },
	{ "not tag=value", PROP_ALG_RSA, { "hello world" }, 1,
	  PROP_MISMATCH },
	{ "not base64", PROP_ALG_ED25519, { "v=DKIM1; k=ed25519; p=!!!!" },
	  1, PROP_MISMATCH },
	{ "truncated key", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; p=AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3" },
	  1, PROP_MISMATCH },
	{ "two records, one ours", PROP_ALG_ED25519,
	  { "v=DKIM1; k=ed25519; p=%A", "v=DKIM1; k=ed25519; p=%B" }, 2,
	  PROP_MISMATCH },
	{ "no record", PROP_ALG_RSA, { NULL }, 0, PROP_NODATA },
};

/* expand - fill a template with the test keys */
static char *
expand(const char *t)
{
	char *out = calloc(1, 2048), *o = out;

	for (; *t != '\0'; t++) {
		if (t[0] != '%') {
			*o++ = *t;
			continue;
		}
		t++;
		if (*t == 'A' || *t == 'B' || *t == 'R') {
			strcpy(o, *t == 'A' ? b64_a : *t == 'B' ? b64_b :
			    b64_rsa);
			o += strlen(o);
		} else if (*t == 'S') {	/* b64_a with folding */
			memcpy(o, b64_a, 10);
			strcpy(o + 10, " \t ");
			strcpy(o + 13, b64_a + 10);
			o += strlen(o);
		}
	}
	return out;
}

START_TEST(test_judge)
{
	const struct judge_case *jc = &judge_cases[_i];
	struct prop_query q = { .name = "s._domainkey.example.test",
	    .alg = jc->alg };
	char *txt[2] = { NULL, NULL }, *detail = NULL;
	enum prop_status st;
	size_t i;

	setup();
	q.key = jc->alg == PROP_ALG_ED25519 ? key_a : key_rsa;
	q.keylen = jc->alg == PROP_ALG_ED25519 ? sizeof(key_a) :
	    sizeof(key_rsa);
	for (i = 0; i < jc->ntxt; i++)
		txt[i] = expand(jc->txt[i]);
	st = prop_judge(&q, txt, jc->ntxt, &detail);
	ck_assert_msg(st == jc->want, "%s: %s (%s), want %s", jc->name,
	    prop_status_name(st), detail ? detail : "",
	    prop_status_name(jc->want));
	if (st != PROP_NODATA)
		ck_assert_ptr_nonnull(detail);
	for (i = 0; i < jc->ntxt; i++)
		free(txt[i]);
	free(detail);
}
END_TEST

/* Observations: status letters, M match, X mismatch, E empty, N
 * nxdomain, D nodata, T timeout, R error, C chained CNAME. */
static const struct sum_case {
	const char		*obs;
	int			 error;	/* res->error set */
	enum prop_verdict	 want;
	int			 published, revoked;
} sum_cases[] = {
	{ "MM", 0, PROP_V_PUBLISHED, 1, 0 },
	{ "MMMM", 0, PROP_V_PUBLISHED, 1, 0 },
	{ "MN", 0, PROP_V_ABSENT, 0, 0 },
	{ "MT", 0, PROP_V_PARTIAL, 0, 0 },
	{ "MR", 0, PROP_V_PARTIAL, 0, 0 },
	{ "TT", 0, PROP_V_UNKNOWN, 0, 0 },
	{ "MX", 0, PROP_V_MISMATCH, 0, 0 },
	{ "XN", 0, PROP_V_MISMATCH, 0, 0 },
	{ "EN", 0, PROP_V_REVOKED, 0, 1 },
	{ "ED", 0, PROP_V_REVOKED, 0, 1 },
	{ "ET", 0, PROP_V_ABSENT, 0, 0 },
	{ "EM", 0, PROP_V_ABSENT, 0, 0 },
	{ "CCMM", 0, PROP_V_PUBLISHED, 1, 0 },
	{ "CCEE", 0, PROP_V_REVOKED, 0, 1 },
	{ "CC", 1, PROP_V_UNKNOWN, 0, 0 },
	{ "MM", 1, PROP_V_PARTIAL, 0, 0 },
	{ "", 0, PROP_V_UNKNOWN, 0, 0 },
};

START_TEST(test_summarize)
{
	const struct sum_case *sc = &sum_cases[_i];
	struct prop_obs obs[8];
	struct prop_result r;
	size_t i;

	memset(&r, 0, sizeof(r));
	memset(obs, 0, sizeof(obs));
	r.obs = obs;
	r.nobs = strlen(sc->obs);
	r.error = sc->error ? "no zone cut" : NULL;
	for (i = 0; i < r.nobs; i++) {
		obs[i].status = strchr("MC", sc->obs[i]) ? PROP_MATCH :
		    sc->obs[i] == 'X' ? PROP_MISMATCH :
		    sc->obs[i] == 'E' ? PROP_EMPTY :
		    sc->obs[i] == 'N' ? PROP_NXDOMAIN :
		    sc->obs[i] == 'D' ? PROP_NODATA :
		    sc->obs[i] == 'T' ? PROP_TIMEOUT : PROP_ERROR;
		obs[i].chained = sc->obs[i] == 'C';
		obs[i].ttl = 100 + i;
		obs[i].neg_ttl = sc->obs[i] == 'N' ? 900 : 0;
	}
	prop_summarize(&r);
	ck_assert_msg(r.verdict == sc->want, "%s: %s, want %s", sc->obs,
	    prop_verdict_name(r.verdict), prop_verdict_name(sc->want));
	ck_assert_int_eq(r.published, sc->published);
	ck_assert_int_eq(r.revoked, sc->revoked);
	if (r.nobs > 0)
		ck_assert_int_eq(r.max_ttl, 100 + r.nobs - 1);
	ck_assert_int_eq(prop_hold(&r), strchr(sc->obs, 'N') ? 900 :
	    r.nobs > 0 ? (long long)(100 + r.nobs - 1) : 0);
}
END_TEST

/* result - a fake two-server result with a verdict and TTLs */
static void
result(struct prop_result *r, struct prop_obs *o, enum prop_status a,
    enum prop_status b, uint32_t ttl)
{
	memset(r, 0, sizeof(*r));
	memset(o, 0, 2 * sizeof(*o));
	o[0].status = a;
	o[1].status = b;
	o[0].ttl = o[1].ttl = ttl;
	o[0].addr = "127.0.0.11:53";
	o[1].addr = "127.0.0.12:53";
	r->obs = o;
	r->nobs = 2;
	prop_summarize(r);
}

START_TEST(test_evidence)
{
	struct pol_obs obs;
	struct prop_result r;
	struct prop_obs o[2];

	memset(&obs, 0, sizeof(obs));
	result(&r, o, PROP_MATCH, PROP_NXDOMAIN, 60);
	evidence_update(&obs, &r, 1000);
	ck_assert_int_eq(obs.dns, POL_DNS_ABSENT);
	ck_assert(strstr(obs.detail, "127.0.0.12:53: nxdomain") != NULL);
	result(&r, o, PROP_MATCH, PROP_MATCH, 60);
	evidence_update(&obs, &r, 1100);
	ck_assert_int_eq(obs.dns, POL_DNS_PUBLISHED);
	ck_assert_int_eq(obs.since, 1100);
	ck_assert_int_eq(obs.hold, 60);
	/* the streak keeps its start, the hold grows to the largest TTL */
	result(&r, o, PROP_MATCH, PROP_MATCH, 300);
	evidence_update(&obs, &r, 1200);
	ck_assert_int_eq(obs.since, 1100);
	ck_assert_int_eq(obs.hold, 300);
	result(&r, o, PROP_MATCH, PROP_MATCH, 30);
	evidence_update(&obs, &r, 1300);
	ck_assert_int_eq(obs.hold, 300);
	/* a timeout breaks it: no evidence is not agreement */
	result(&r, o, PROP_MATCH, PROP_TIMEOUT, 60);
	evidence_update(&obs, &r, 1400);
	ck_assert_int_eq(obs.dns, POL_DNS_PARTIAL);
	ck_assert_int_eq(obs.since, 0);
	result(&r, o, PROP_MATCH, PROP_MATCH, 60);
	evidence_update(&obs, &r, 1500);
	ck_assert_int_eq(obs.since, 1500);
	/* a check that could not run breaks it too */
	evidence_update(&obs, NULL, 1600);
	ck_assert_int_eq(obs.dns, POL_DNS_UNKNOWN);
	result(&r, o, PROP_EMPTY, PROP_NXDOMAIN, 0);
	evidence_update(&obs, &r, 1700);
	ck_assert_int_eq(obs.dns, POL_DNS_REVOKED);
	ck_assert_int_eq(obs.since, 1700);
	result(&r, o, PROP_MISMATCH, PROP_MATCH, 60);
	evidence_update(&obs, &r, 1800);
	ck_assert_int_eq(obs.dns, POL_DNS_MISMATCH);
	ck_assert(strstr(obs.detail, "127.0.0.11:53: mismatch") != NULL);
}
END_TEST


static const struct addr_case {
	const char	*in;
	const char	*want;	/* NULL: refused */
} addr_cases[] = {
	{ "192.0.2.1", "192.0.2.1:53" },
	{ "192.0.2.1:5353", "192.0.2.1:5353" },
	{ "::1", "[::1]:53" },
	{ "[::1]:5353", "[::1]:5353" },
	{ "[2001:db8::1]", "[2001:db8::1]:53" },
	{ "2001:db8::1", "[2001:db8::1]:53" },
	{ "192.0.2.1:0", NULL },
	{ "192.0.2.1:65536", NULL },
	{ "192.0.2.1:53x", NULL },
	{ "192.0.2.1:", NULL },
	{ "[::1", NULL },
	{ "[::1]x", NULL },
	{ "ns1.example.test", NULL },
	{ "", NULL },
};

START_TEST(test_addr)
{
	const struct addr_case *ac = &addr_cases[_i];
	struct dnsio_addr a;
	int r = dnsio_addr_parse(&a, ac->in, 53);

	if (ac->want == NULL) {
		ck_assert_msg(r == -1, "accepted \"%s\"", ac->in);
		return;
	}
	ck_assert_msg(r == 0, "refused \"%s\"", ac->in);
	ck_assert_str_eq(a.text, ac->want);
}
END_TEST

/* udp_socket - a bound UDP socket on 127.0.0.1; its address in *a */
static int
udp_socket(struct dnsio_addr *a)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	ck_assert_int_eq(dnsio_addr_set(a, "127.0.0.1", ntohs(sin.sin_port)),
	    0);
	return fd;
}

START_TEST(test_silent_and_refused)
{
	struct dnsio_opts io = { 300, 2, 0 }, io_ref = { ANSWERED_MS, 1, 0 };
	struct dnsio_addr a;
	ldns_pkt *ans = NULL;
	char *err = NULL;
	int fd, tcp;

	/* a socket that reads and never answers: a timeout */
	fd = udp_socket(&a);
	ck_assert_int_eq(dnsio_query(&io, &a, "example.test", LDNS_RR_TYPE_SOA,
	    0, &ans, &tcp, &err), DNSIO_TIMEOUT);
	ck_assert_ptr_null(ans);
	ck_assert_ptr_nonnull(err);
	free(err);
	/* nothing bound there any more: the ICMP refusal is an error (it
	 * comes at once; the long timeout keeps a busy machine from making
	 * it a timeout) */
	close(fd);
	err = NULL;
	ck_assert_int_eq(dnsio_query(&io_ref, &a, "example.test",
	    LDNS_RR_TYPE_SOA, 0, &ans, &tcp, &err), DNSIO_ERROR);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "refused") != NULL, "%s", err);
	free(err);
}
END_TEST

/* ---- the publish hook that hands records to DNS ---- */

/* hook_slurp - a small file the hook wrote */
static char *
hook_slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* marked_alive - a process that is not a zombie has the argument mark */
static int
marked_alive(const char *mark)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], buf[512], arg[64];
	size_t n, i;
	FILE *f;
	int found = 0;

	ck_assert_ptr_nonnull(d);
	snprintf(arg, sizeof(arg), " %s ", mark);	/* a whole argument */
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;	/* gone meanwhile */
		n = fread(buf, 1, sizeof(buf) - 1, f);	/* a zombie's is empty */
		fclose(f);
		for (i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		found = strstr(buf, arg) != NULL;
	}
	closedir(d);
	return found;
}

/*
 * A hook that hangs is stopped, with what it started, and counts as
 * failed. Its sleeps carry a mark (their length: 300.PID seconds), so the
 * test finds them whether or not the shell got as far as starting the
 * background one before the limit: none may be left.
 */
START_TEST(test_hook_timeout)
{
	char cmd[256], err[128], mark[32];
	struct timespec a, b, nap = { 0, 50 * 1000 * 1000 };
	double took;
	int i, alive = 1;

	snprintf(mark, sizeof(mark), "300.%ld", (long)getpid());
	setenv("KEYTURN_HOOK_TIMEOUT", "1", 1);
	snprintf(cmd, sizeof(cmd), "sleep %s & sleep %s", mark, mark);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(rot_hook(cmd, "publish", "example.test", "kt-1",
	    "v=DKIM1; p=", 0, err, sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_msg(strstr(err, "timed out") != NULL, "%s", err);
	/* not stopped before its limit; the upper bound only catches a hook
	 * waited for to its end (300 s) */
	ck_assert_msg(took >= 0.9 && took < 60, "took %.1f s", took);
	/* what it started was in its process group: killed with it. A
	 * killed process is gone in moments; 30 s only catches one that
	 * was not killed */
	for (i = 0; i < 600 && alive; i++)
		if ((alive = marked_alive(mark)))
			nanosleep(&nap, NULL);
	ck_assert_msg(!alive, "a process of the hook (sleep %s) survived",
	    mark);
	unsetenv("KEYTURN_HOOK_TIMEOUT");
}
END_TEST

/* what the hook starts (grep here) has default signals, none blocked; the
 * hook leads its own session */
START_TEST(test_hook_signals)
{
	char dir[] = "/tmp/check_rotate_hooksig.XXXXXX", cmd[512], err[128];
	char out[64], *txt, *p;
	unsigned long long ign, blk;
	long pid, pgrp, sid;
	sigset_t block;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out", dir);
	signal(SIGPIPE, SIG_IGN);	/* as keyturnd runs */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	snprintf(cmd, sizeof(cmd), "grep -E '^Sig(Ign|Blk)' /proc/self/status "
	    "> %s; echo \"$$ $(cut -d' ' -f5,6 /proc/$$/stat)\" >> %s", out,
	    out);
	ck_assert_msg(rot_hook(cmd, "publish", "example.test", "kt-1",
	    "v=DKIM1; p=", 0, err, sizeof(err)) == 0, "%s", err);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	signal(SIGPIPE, SIG_DFL);
	txt = hook_slurp(out);
	ck_assert_ptr_nonnull(p = strstr(txt, "SigBlk:"));
	blk = strtoull(p + 7, NULL, 16);
	ck_assert_ptr_nonnull(p = strstr(txt, "SigIgn:"));
	ign = strtoull(p + 7, NULL, 16);
	ck_assert_msg(blk == 0, "blocked %llx", blk);
	ck_assert_msg(!(ign & (1ULL << (SIGPIPE - 1))), "ignored %llx", ign);
	ck_assert_ptr_nonnull(p = strrchr(txt, '\n'));
	while (p > txt && p[-1] != '\n')
		p--;
	ck_assert_int_eq(sscanf(p, "%ld %ld %ld", &pid, &pgrp, &sid), 3);
	ck_assert_int_eq(pgrp, pid);
	ck_assert_int_eq(sid, pid);
	unlink(out);
	rmdir(dir);
}
END_TEST

/* ---- the query budget, against a fake DNS server on 127.0.0.1 ---- */

/*
 * FAKE_REFER: every query gets a glueless referral to 16 NS names, so
 * looking them up recurses without end. FAKE_WIDE: zone "test." served
 * properly, with 20 NS names of 3 addresses each (all 127.0.0.1), every
 * one serving key_a. FAKE_FAMILY: zone "test." with NS n0.test (A
 * 127.0.0.1 three times, no AAAA) and n1.test, whose A lookup fails (SERVFAIL) and
 * whose AAAA is ::ffff:127.0.0.1, the same server. FAKE_CNAME: zone
 * "test." with NS n0.test, whose TXT answer for sel.* is a CNAME to
 * x.other plus, out of its zone, "x.other CNAME y.other2" and y.other2's
 * TXT record with key_a.
 * FAKE_LIAR: zone "test." with NS n0.test, whose TXT answer for sel.* is
 * as fake.liar says: the record under SERVFAIL, the record under
 * NXDOMAIN, only a record of another owner, or (3) the record as it is.
 */
enum fake_mode { FAKE_REFER, FAKE_WIDE, FAKE_FAMILY, FAKE_CNAME, FAKE_LIAR };

static struct {
	int		 fd;
	enum fake_mode	 mode;
	int		 delay_ms;
	volatile int	 stop;
	pthread_t	 thr;
	int		 port;
	int		 asked;
	int		 rd_soa_ttl;	/* > 0: the SOA's TTL when RD is set, as
					   a cache that counted it down says */
	int		 liar;		/* FAKE_LIAR: which lie */
} fake;

/* fake_rr - one record from text */
static void
fake_rr(ldns_pkt *a, ldns_pkt_section sec, const char *fmt, ...)
{
	char text[512];
	ldns_rr *rr;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL),
	    LDNS_STATUS_OK);
	ldns_pkt_push_rr(a, sec, rr);
}

/* fake_txt - owner's TXT record with key_a, into the answer */
static void
fake_txt(ldns_pkt *a, const char *owner)
{
	char txt[128];
	ldns_rr *rr;
	ldns_rdf *o;

	/* built by hand: the zone-file parser takes ';' as a comment */
	snprintf(txt + 1, sizeof(txt) - 1, "v=DKIM1; k=ed25519; p=%s",
	    b64_a);
	txt[0] = (char)strlen(txt + 1);
	ck_assert_ptr_nonnull(o = ldns_dname_new_frm_str(owner));
	rr = ldns_rr_new();
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_ttl(rr, 300);
	ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR,
	    (size_t)txt[0] + 1, txt));
	ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, rr);
}

/* fake_answer - the reply of the current mode to one query */
static ldns_pkt *
fake_answer(const ldns_pkt *q)
{
	ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	ldns_rr_type t = ldns_rr_get_type(qrr);
	ldns_pkt *a = ldns_pkt_new();
	char *qn = ldns_rdf2str(ldns_rr_owner(qrr));
	int i;

	ldns_pkt_set_id(a, ldns_pkt_id(q));
	ldns_pkt_set_qr(a, 1);
	ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr));
	if (fake.mode == FAKE_REFER) {
		for (i = 0; i < 16; i++)
			fake_rr(a, LDNS_SECTION_AUTHORITY, "test. 300 IN NS "
			    "n%d.test.", i);
		free(qn);
		return a;
	}
	ldns_pkt_set_aa(a, 1);
	if ((fake.mode == FAKE_CNAME || fake.mode == FAKE_LIAR) &&
	    t == LDNS_RR_TYPE_NS && strcmp(qn, "test.") == 0)
		fake_rr(a, LDNS_SECTION_ANSWER, "test. 300 IN NS n0.test.");
	else if (fake.mode == FAKE_LIAR && t == LDNS_RR_TYPE_TXT &&
	    strncmp(qn, "sel.", 4) == 0) {
		if (fake.liar == 0)
			ldns_pkt_set_rcode(a, LDNS_RCODE_SERVFAIL);
		else if (fake.liar == 1)
			ldns_pkt_set_rcode(a, LDNS_RCODE_NXDOMAIN);
		fake_txt(a, fake.liar == 2 ? "other.test." : qn);
	}
	else if (fake.mode == FAKE_CNAME && t == LDNS_RR_TYPE_TXT &&
	    strncmp(qn, "sel.", 4) == 0) {
		fake_rr(a, LDNS_SECTION_ANSWER, "%s 300 IN CNAME x.other.",
		    qn);
		fake_rr(a, LDNS_SECTION_ANSWER, "x.other. 300 IN CNAME "
		    "y.other2.");
		fake_txt(a, "y.other2.");
	} else if (fake.mode == FAKE_FAMILY && t == LDNS_RR_TYPE_NS &&
	    strcmp(qn, "test.") == 0) {
		fake_rr(a, LDNS_SECTION_ANSWER, "test. 300 IN NS n0.test.");
		fake_rr(a, LDNS_SECTION_ANSWER, "test. 300 IN NS n1.test.");
	} else if (fake.mode == FAKE_FAMILY && t == LDNS_RR_TYPE_A &&
	    strcmp(qn, "n1.test.") == 0)
		ldns_pkt_set_rcode(a, LDNS_RCODE_SERVFAIL);
	else if (fake.mode == FAKE_FAMILY && t == LDNS_RR_TYPE_AAAA &&
	    strcmp(qn, "n1.test.") == 0)
		fake_rr(a, LDNS_SECTION_ANSWER, "n1.test. 300 IN AAAA "
		    "::ffff:127.0.0.1");
	else if (t == LDNS_RR_TYPE_SOA && strcmp(qn, "test.") == 0)
		fake_rr(a, LDNS_SECTION_ANSWER, "test. %d IN SOA n1.test. "
		    "h.test. 1 3600 600 86400 300", ldns_pkt_rd(q) &&
		    fake.rd_soa_ttl > 0 ? fake.rd_soa_ttl : 300);
	else if (t == LDNS_RR_TYPE_NS && strcmp(qn, "test.") == 0)
		for (i = 0; i < 20; i++)
			fake_rr(a, LDNS_SECTION_ANSWER, "test. 300 IN NS "
			    "n%d.test.", i);
	else if (t == LDNS_RR_TYPE_A && strncmp(qn, "n", 1) == 0)
		for (i = 0; i < 3; i++)
			fake_rr(a, LDNS_SECTION_ANSWER, "%s 300 IN A "
			    "127.0.0.1", qn);
	else if (t == LDNS_RR_TYPE_TXT && strncmp(qn, "sel.", 4) == 0)
		fake_txt(a, qn);
	else
		fake_rr(a, LDNS_SECTION_AUTHORITY, "test. %d IN SOA "
		    "n1.test. h.test. 1 3600 600 86400 300", ldns_pkt_rd(q) &&
		    fake.rd_soa_ttl > 0 ? fake.rd_soa_ttl : 300);
	free(qn);
	return a;
}

/* fake_serve - answer until told to stop */
static void *
fake_serve(void *arg)
{
	unsigned char buf[4096];
	struct sockaddr_in from;
	struct timespec nap;
	socklen_t fl;
	ldns_pkt *q, *a;
	uint8_t *w;
	size_t wl;
	ssize_t n;

	(void)arg;
	while (!fake.stop) {
		fl = sizeof(from);
		n = recvfrom(fake.fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) !=
		    LDNS_STATUS_OK)
			continue;
		fake.asked++;
		if (fake.delay_ms > 0) {
			nap.tv_sec = 0;
			nap.tv_nsec = fake.delay_ms * 1000000L;
			nanosleep(&nap, NULL);
		}
		a = fake_answer(q);
		if (ldns_pkt2wire(&w, a, &wl) == LDNS_STATUS_OK) {
			(void)sendto(fake.fd, w, wl, 0,
			    (struct sockaddr *)&from, fl);
			free(w);
		}
		ldns_pkt_free(a);
		ldns_pkt_free(q);
	}
	return NULL;
}

/* fake_start - the server on 127.0.0.1, an ephemeral port */
static void
fake_start(enum fake_mode mode, int delay_ms)
{
	struct sockaddr_in sin;
	struct timeval tv = { 0, 100000 };
	socklen_t sl = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake.fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fake.fd, 0);
	ck_assert_int_eq(bind(fake.fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(getsockname(fake.fd, (struct sockaddr *)&sin, &sl),
	    0);
	setsockopt(fake.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	fake.port = ntohs(sin.sin_port);
	fake.mode = mode;
	fake.delay_ms = delay_ms;
	fake.stop = 0;
	fake.asked = 0;
	ck_assert_int_eq(pthread_create(&fake.thr, NULL, fake_serve, NULL),
	    0);
}

static void
fake_end(void)
{
	fake.stop = 1;
	pthread_join(fake.thr, NULL);
	close(fake.fd);
}

static int fake_cancel;		/* prop_options.cancel_fd */

/* fake_check - prop_check of sel._domainkey.example.test (or .test) */
static double
fake_check(const char *name, int timeout_ms, struct prop_result *res)
{
	struct prop_query q = { .name = name, .alg = PROP_ALG_ED25519,
	    .key = key_a, .keylen = sizeof(key_a) };
	struct prop_options o;
	struct timespec a, b;
	char resolver[32];

	memset(&o, 0, sizeof(o));
	snprintf(resolver, sizeof(resolver), "127.0.0.1:%d", fake.port);
	o.resolver = resolver;
	o.dns_port = fake.port;
	o.timeout_ms = timeout_ms;
	o.tries = 1;
	o.cancel_fd = fake_cancel;
	clock_gettime(CLOCK_MONOTONIC, &a);
	(void)prop_check(&q, &o, res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

/* obs_with - an ERROR observation whose detail has text */
static int
obs_with(const struct prop_result *r, const char *text)
{
	size_t i;

	for (i = 0; i < r->nobs; i++)
		if (r->obs[i].status == PROP_ERROR && r->obs[i].detail &&
		    strstr(r->obs[i].detail, text) != NULL)
			return 1;
	return 0;
}

/*
 * Glueless referrals all the way down: the budget ends the check. Every
 * query is answered at once, so the deadline (10 query timeouts, 100 s)
 * is far off: the observation says which limit it was.
 */
START_TEST(test_budget_queries)
{
	struct prop_result res;

	fake_start(FAKE_REFER, 0);
	(void)fake_check("sel._domainkey.example.test", ANSWERED_MS, &res);
	fake_end();
	ck_assert_msg(obs_with(&res, "query budget exhausted: 200 queries"),
	    "no budget observation");
	ck_assert_int_le(fake.asked, 200);
	ck_assert_int_eq(res.published, 0);
	prop_result_free(&res);
}
END_TEST

/*
 * Slow answers: the deadline (10 query timeouts, 5 s) ends the check.
 * Each answer takes 50 ms at least, so at most 100 are asked before the
 * deadline, half the budget, however slow the machine; the 450 ms left of
 * each query's timeout keeps a busy machine from turning an answer into
 * a timeout.
 */
START_TEST(test_budget_deadline)
{
	struct prop_result res;

	fake_start(FAKE_REFER, 50);
	(void)fake_check("sel._domainkey.example.test", 500, &res);
	fake_end();
	ck_assert_msg(obs_with(&res, "deadline of 5000 ms"),
	    "no deadline observation");
	ck_assert_int_le(fake.asked, 101);
	ck_assert_int_eq(res.published, 0);
	prop_result_free(&res);
}
END_TEST

/*
 * An NS name whose A lookup fails and whose AAAA works: its IPv4
 * addresses are unknown, so they are not asked, and that is said; the
 * addresses that were asked all serving the key does not confirm it.
 */
START_TEST(test_family_failed)
{
	struct prop_result res;
	size_t i, match = 0;

	setup();
	fake_start(FAKE_FAMILY, 0);
	(void)fake_check("sel._domainkey.test", ANSWERED_MS, &res);
	fake_end();
	for (i = 0; i < res.nobs; i++)
		match += res.obs[i].status == PROP_MATCH;
	ck_assert_uint_eq(match, 4);	/* n0: 3 A records; n1: its AAAA */
	ck_assert_msg(obs_with(&res, "A lookup of n1.test"),
	    "the failed A lookup is not reported");
	ck_assert_int_eq(res.published, 0);
	ck_assert_int_ne(res.verdict, PROP_V_PUBLISHED);
	prop_result_free(&res);
}
END_TEST

/*
 * A server of test. answers with its CNAME to x.other and, beyond its
 * zone, with x.other's CNAME and the final TXT record: only its own
 * CNAME counts. The chain goes on at x.other, whose servers are asked;
 * nothing is taken from the records test.'s server has no say over.
 */
START_TEST(test_cname_out_of_zone)
{
	struct prop_result res;
	size_t i, cn = 0;

	setup();
	fake_start(FAKE_CNAME, 0);
	(void)fake_check("sel._domainkey.test", ANSWERED_MS, &res);
	fake_end();
	for (i = 0; i < res.nobs; i++) {
		if (res.obs[i].zone == NULL ||
		    strcmp(res.obs[i].zone, "test") != 0)
			continue;
		ck_assert_msg(res.obs[i].cname != NULL &&
		    strcmp(res.obs[i].cname, "x.other") == 0,
		    "CNAME followed to %s", res.obs[i].cname ?
		    res.obs[i].cname : "nothing");
		cn++;
	}
	ck_assert_uint_eq(cn, 3);
	ck_assert_int_eq(res.published, 0);
	ck_assert_int_ne(res.verdict, PROP_V_PUBLISHED);
	prop_result_free(&res);
}
END_TEST

/*
 * The authoritative server's answer carries the right record, but under
 * SERVFAIL, under NXDOMAIN, or only for another owner: none is a yes (nor
 * a no); each is an error that says why. The same server telling the
 * truth is a yes.
 */
START_TEST(test_lying_answers)
{
	static const char *why[] = { "rcode SERVFAIL",
	    "rcode NXDOMAIN with 1 TXT", "none a TXT or CNAME at" };
	struct prop_result res;
	size_t i, n;

	setup();
	for (fake.liar = 0; fake.liar < 4; fake.liar++) {
		fake_start(FAKE_LIAR, 0);
		(void)fake_check("sel._domainkey.test", ANSWERED_MS, &res);
		fake_end();
		for (i = n = 0; i < res.nobs; i++) {
			if (res.obs[i].zone == NULL ||
			    strcmp(res.obs[i].zone, "test") != 0)
				continue;
			n++;
			if (fake.liar == 3) {
				ck_assert_int_eq(res.obs[i].status,
				    PROP_MATCH);
				continue;
			}
			ck_assert_msg(res.obs[i].status == PROP_ERROR &&
			    res.obs[i].detail != NULL &&
			    strstr(res.obs[i].detail, why[fake.liar]) != NULL,
			    "lie %d: status %d, %s", fake.liar,
			    res.obs[i].status, res.obs[i].detail ?
			    res.obs[i].detail : "no detail");
		}
		ck_assert_uint_eq(n, 3);
		if (fake.liar == 3)
			ck_assert_int_eq(res.verdict, PROP_V_PUBLISHED);
		else {
			ck_assert_int_eq(res.published, 0);
			ck_assert_int_ne(res.verdict, PROP_V_PUBLISHED);
			ck_assert_int_ne(res.verdict, PROP_V_REVOKED);
		}
		prop_result_free(&res);
	}
	fake.liar = 0;
}
END_TEST

/*
 * The resolver gives the zone's SOA with 7 s left of its TTL in cache;
 * the negative TTL of the hold is the zone's own, 300 s, from the
 * authoritative servers.
 */
START_TEST(test_neg_from_auth)
{
	struct prop_result res;

	setup();
	fake.rd_soa_ttl = 7;
	fake_start(FAKE_FAMILY, 0);
	(void)fake_check("sel._domainkey.test", ANSWERED_MS, &res);
	fake_end();
	fake.rd_soa_ttl = 0;
	ck_assert_uint_eq(res.neg_ttl, 300);
	ck_assert_int_ge(prop_hold(&res), 300);
	prop_result_free(&res);
}
END_TEST

/* ---- cancellation: keyturnd stopping in the middle of a pass ---- */

/* cancel_later - write the cancel byte after 200 ms */
static void *
cancel_later(void *arg)
{
	struct timespec nap = { 0, 200 * 1000 * 1000 };

	nanosleep(&nap, NULL);
	ck_assert_int_eq(write(*(int *)arg, "x", 1), 1);
	return NULL;
}

/* since - seconds since a */
static double
since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) + (b.tv_nsec - a->tv_nsec) / 1e9;
}

/*
 * A query waiting on a silent server, a hung publish hook and a whole
 * check all end when the cancel descriptor becomes readable, and count as
 * failures; the error texts say it was the cancel. The query's timeout
 * and the hook's limit are 60 s, so the 30 s bounds below only catch a
 * query or hook that was waited for after all.
 */
START_TEST(test_cancel)
{
	struct dnsio_opts io = { 60000, 1, 0 };
	struct dnsio_addr a;
	struct prop_result res;
	struct timespec t0;
	pthread_t thr;
	ldns_pkt *ans = NULL;
	char *err = NULL, herr[128];
	int fd, tcp, pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	io.cancel_fd = pfd[0];
	ck_assert_int_eq(dnsio_cancelled(pfd[0]), 0);
	ck_assert_int_eq(dnsio_cancelled(0), 0);

	fd = udp_socket(&a);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pthread_create(&thr, NULL, cancel_later, &pfd[1]), 0);
	ck_assert_int_eq(dnsio_query(&io, &a, "example.test", LDNS_RR_TYPE_SOA,
	    0, &ans, &tcp, &err), DNSIO_ERROR);
	pthread_join(thr, NULL);
	ck_assert_msg(since(&t0) < 30, "query took %.1f s", since(&t0));
	ck_assert_ptr_null(ans);
	ck_assert_msg(err != NULL && strstr(err, "cancel") != NULL, "%s",
	    err ? err : "no error");
	free(err);
	close(fd);
	ck_assert_int_eq(dnsio_cancelled(pfd[0]), 1);

	/* the hook, already cancelled: stopped, not waited for */
	setenv("KEYTURN_HOOK_TIMEOUT", "60", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(rot_hook("sleep 300", "publish", "example.test",
	    "kt-1", "v=DKIM1; p=", pfd[0], herr, sizeof(herr)), -1);
	unsetenv("KEYTURN_HOOK_TIMEOUT");
	ck_assert_msg(since(&t0) < 30, "hook took %.1f s", since(&t0));
	ck_assert_msg(strstr(herr, "cancelled") != NULL, "%s", herr);

	/* a check asks nothing once cancelled, and confirms nothing */
	fake_start(FAKE_REFER, 0);
	fake_cancel = pfd[0];
	(void)fake_check("sel._domainkey.example.test", ANSWERED_MS, &res);
	fake_cancel = 0;
	fake_end();
	ck_assert_int_eq(fake.asked, 0);
	ck_assert_int_eq(res.published, 0);
	ck_assert_int_ne(res.verdict, PROP_V_PUBLISHED);
	prop_result_free(&res);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/*
 * 20 NS names of 3 addresses, every one serving the key: 4 names and
 * 16 addresses are not asked, which is said, so the key is not published
 */
START_TEST(test_not_asked)
{
	struct prop_result res;
	size_t i, match = 0;

	setup();
	fake_start(FAKE_WIDE, 0);
	(void)fake_check("sel._domainkey.example.test", ANSWERED_MS, &res);
	fake_end();
	for (i = 0; i < res.nobs; i++)
		match += res.obs[i].status == PROP_MATCH;
	ck_assert_uint_eq(match, 32);
	ck_assert_msg(obs_with(&res, "4 of 20 NS names not asked"),
	    "dropped NS names not reported");
	ck_assert_msg(obs_with(&res, "addresses of n"),
	    "dropped addresses not reported");
	ck_assert_int_eq(res.published, 0);
	ck_assert_int_eq(res.verdict, PROP_V_PARTIAL);
	prop_result_free(&res);
}
END_TEST

static Suite *
prop_suite(void)
{
	Suite *s = suite_create("rotate_prop");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, HANG_TCASE);

	tcase_add_loop_test(tc, test_judge, 0,
	    sizeof(judge_cases) / sizeof(judge_cases[0]));
	tcase_add_loop_test(tc, test_summarize, 0,
	    sizeof(sum_cases) / sizeof(sum_cases[0]));
	tcase_add_test(tc, test_evidence);
	tcase_add_loop_test(tc, test_addr, 0,
	    sizeof(addr_cases) / sizeof(addr_cases[0]));
	tcase_add_test(tc, test_silent_and_refused);
	tcase_add_test(tc, test_hook_timeout);
	tcase_add_test(tc, test_hook_signals);
	tcase_add_test(tc, test_budget_queries);
	tcase_add_test(tc, test_budget_deadline);
	tcase_add_test(tc, test_not_asked);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_family_failed);
	tcase_add_test(tc, test_cname_out_of_zone);
	tcase_add_test(tc, test_lying_answers);
	tcase_add_test(tc, test_neg_from_auth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(prop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
