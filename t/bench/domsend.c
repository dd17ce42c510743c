/*
 * domsend - t/miltc's conversation, with each message from another domain
 *
 * SYNOPSIS
 *	domsend -s SOCKET [-t SECS] [-d NAMES] [-f FIRST] [-m COUNT] [-e STEP]
 *	    [-n N] [-c CONC] [-R] [-k PER-SESSION] [-P KEYSTORE [-p]] [-b]
 *	    [-E SELECTOR] MESSAGE
 *	domsend -S -s SOCKET [-d NAMES] [-f FIRST] [-l SECS] MESSAGE
 *	domsend -w SELECTOR -s SOCKET [-d NAMES] [-f FIRST] [-i MS] [-l SECS]
 *	    MESSAGE -- COMMAND [ARG...]
 *
 * DESCRIPTION
 *	Sends MESSAGE through the filter at SOCKET as t/miltc does (Postfix
 *	style, from 127.0.0.1, one SMTP session per message; -R a milter
 *	connection per session as Postfix has it, -k messages per session),
 *	but message i comes From: alice@ a domain of its own: NAMES with its
 *	one '%' replaced by FIRST + (i mod COUNT) * STEP (defaults: NAMES
 *	"d%.bench.example", the domains of t/bench/keystore_bench; FIRST 0;
 *	COUNT N, every message from a new domain; STEP 1). N messages (default
 *	COUNT) go over CONC connections (default 1), each a thread.
 *
 *	At the end it prints one line as t/miltc -b does (messages, errors,
 *	conc, seconds, msgs_per_s, p50_us, p99_us, max_us), plus mean_us, the
 *	messages that came back with a DKIM-Signature added (signed=) and
 *	without (unsigned=), and the signatures added in all (sigs=); -b is
 *	accepted, as t/miltc's command lines have it. With -E SELECTOR it also
 *	counts the messages one of whose signatures has s=SELECTOR
 *	(selector=).
 *
 *	-P KEYSTORE first reads every file of each domain the messages come
 *	from (KEYSTORE/DOMAIN/ and KEYSTORE/DOMAIN/keys/), so that they are in
 *	the page cache; -p does only that and sends nothing.
 *
 *	-S waits for a filter that is starting: it connects every millisecond
 *	until the filter answers and sends the first message until it comes
 *	back signed (at most -l SECS, default 1200), then prints
 *	"signed_at_ns=T tries=K" with T the CLOCK_REALTIME of that reply.
 *
 *	-w SELECTOR sends a message every -i MS (default 5) milliseconds from
 *	the domain of FIRST; once three are signed it runs COMMAND, and stops
 *	at the first reply whose signatures include s=SELECTOR (at most -l
 *	SECS after COMMAND exited). It prints "exit_to_new_ms=" (from
 *	COMMAND's exit to that reply; negative if it came before the exit),
 *	"command_ms=", "old_after_exit=" (replies signed without SELECTOR
 *	after the exit) and "unsigned="; COMMAND's output goes to standard
 *	error.
 *
 * DIAGNOSTICS
 *	Exit 0 when every message went through without a protocol or I/O
 *	error (-S, -w: when what was waited for came), 1 otherwise, 2 on
 *	usage errors.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "xmalloc.h"
#include "../miltc.h"

#define OFFER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | \
	SMFIF_DELRCPT | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_CHGFROM | \
	SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST)
#define OFFER_PROTOCOL	0x001fffffU

/* The run, shared by the worker threads. */
struct run {
	struct mc_opts	 opts;
	struct mc_msg	 msg;
	size_t		 fromidx;	/* the From header in msg */
	const char	*names;		/* "d%.bench.example" */
	unsigned long	 first, count, step, total;
	unsigned long	 per_session;
	int		 reconnect;
	int		 conc;
	atomic_ulong	 next;
	atomic_ulong	 errors;
	atomic_ulong	 nsigned;
	atomic_ulong	 nunsigned;
	atomic_ulong	 nsigs;
	const char	*expect;	/* -E */
	atomic_ulong	 nexpect;
	double		*lat_us;
};

/* One thread's message: the run's, with a From header of its own. */
struct tmsg {
	struct mc_msg	 msg;
	struct mc_header *hdrs;
	char		 from[320];
};

/* usage - the synopsis, then exit 2 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: domsend -s SOCKET [-t SECS] [-d NAMES] [-f FIRST] "
	    "[-m COUNT] [-e STEP]\n"
	    "\t[-n N] [-c CONC] [-R] [-k PER-SESSION] [-P KEYSTORE [-p]] "
	    "[-b]\n\t[-E SELECTOR] MESSAGE\n"
	    "       domsend -S -s SOCKET [-d NAMES] [-f FIRST] [-l SECS] "
	    "MESSAGE\n"
	    "       domsend -w SELECTOR -s SOCKET [-d NAMES] [-f FIRST] "
	    "[-i MS] [-l SECS]\n\tMESSAGE -- COMMAND [ARG...]\n");
	exit(2);
}

/* number - a non-negative number or exit 2 */
static unsigned long
number(const char *opt, const char *arg)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || *arg == '\0' || *arg == '-' || *end != '\0') {
		fprintf(stderr, "domsend: %s %s: not a number\n", opt, arg);
		exit(2);
	}
	return v;
}

/* now_us - monotonic microseconds */
static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* sleep_ms - a pause between messages; nothing when ms <= 0 */
static void
sleep_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1000.0) * 1e6);
	nanosleep(&ts, NULL);
}

/* domain - the name of message i's domain */
static void
domain(const struct run *run, unsigned long i, char *buf, size_t size)
{
	const char *pct = strchr(run->names, '%');
	unsigned long idx = run->first + (i % run->count) * run->step;

	snprintf(buf, size, "%.*s%lu%s", (int)(pct - run->names), run->names,
	    idx, pct + 1);
}

/* macros - what t/miltc sends by default in Postfix style */
static void
macros(struct mc_opts *o)
{
	static struct mc_macro m[] = {
		{ 'C', "j", "mx.test" },
		{ 'C', "_", "localhost [127.0.0.1]" },
		{ 'C', "{daemon_name}", "mx.test" },
		{ 'C', "{daemon_addr}", "127.0.0.1" },
		{ 'C', "v", "Postfix 3.7.11" },
		{ 'M', "{mail_addr}", "sender@example.com" },
		{ 'R', "{rcpt_addr}", "rcpt@example.net" },
	};

	o->macros = m;
	o->nmacros = sizeof(m) / sizeof(m[0]);
}

/* tmsg_init - a thread's copy of the message; only From is its own */
static void
tmsg_init(struct tmsg *t, const struct run *run)
{
	t->msg = run->msg;
	t->hdrs = xcalloc(run->msg.nhdrs, sizeof(*t->hdrs));
	memcpy(t->hdrs, run->msg.hdrs, run->msg.nhdrs * sizeof(*t->hdrs));
	t->msg.hdrs = t->hdrs;
	t->hdrs[run->fromidx].value = t->from;
}

/* tmsg_from - message i's From: Alice Example <alice@DOMAIN> */
static void
tmsg_from(struct tmsg *t, const struct run *run, unsigned long i)
{
	char d[256];

	domain(run, i, d, sizeof(d));
	snprintf(t->from, sizeof(t->from), " Alice Example <alice@%s>", d);
}

/* signatures - DKIM-Signature fields the filter added */
static int
signatures(const struct mc_result *r)
{
	size_t i;
	int n = 0;

	for (i = 0; i < r->nmods; i++)
		if ((r->mods[i].type == SMFIR_INSHEADER ||
		    r->mods[i].type == SMFIR_ADDHEADER) &&
		    strcasecmp(r->mods[i].name, "DKIM-Signature") == 0)
			n++;
	return n;
}

/* has_selector - one of the signatures has s=SEL */
static int
has_selector(const struct mc_result *r, const char *sel)
{
	const char *v, *p;
	size_t i, len = strlen(sel);

	for (i = 0; i < r->nmods; i++) {
		if ((r->mods[i].type != SMFIR_INSHEADER &&
		    r->mods[i].type != SMFIR_ADDHEADER) ||
		    strcasecmp(r->mods[i].name, "DKIM-Signature") != 0)
			continue;
		for (v = r->mods[i].value; (p = strstr(v, "s=")) != NULL;
		    v = p + 2)
			if ((p == r->mods[i].value || strchr(" \t\n\r;",
			    p[-1]) != NULL) && strncmp(p + 2, sel, len) == 0 &&
			    (p[2 + len] == ';' || p[2 + len] == '\0' ||
			    strchr(" \t\r\n", p[2 + len]) != NULL))
				return 1;
	}
	return 0;
}

/* worker - one milter connection taking messages until none are left */
static void *
worker(void *arg)
{
	struct run *run = arg;
	struct mc_conn c;
	struct mc_result r;
	struct tmsg t;
	unsigned long n, insession = 0;
	double t0;
	int newsess, k;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	tmsg_init(&t, run);
	if (mc_sess_open(&c, &run->opts) == -1) {
		fprintf(stderr, "domsend: %s: %s\n", run->opts.socket, c.err);
		run->errors++;
		free(t.hdrs);
		return NULL;
	}
	while ((n = run->next++) < run->total) {
		tmsg_from(&t, run, n);
		newsess = insession == 0 || insession % run->per_session == 0;
		if (newsess && insession > 0 && run->reconnect) {
			mc_sess_close(&c, 0);
			if (mc_sess_open(&c, &run->opts) == -1) {
				fprintf(stderr, "domsend: %s: %s\n",
				    run->opts.socket, c.err);
				run->errors++;
				break;
			}
		}
		t0 = now_us();
		if (mc_sess_message(&c, &run->opts, &t.msg, n, newsess,
		    &r) == -1) {
			fprintf(stderr, "domsend: message %lu (%s): %s\n",
			    n + 1, t.from, c.err);
			run->errors++;
			mc_result_free(&r);
			mc_wire_close(&c);
			break;
		}
		run->lat_us[n] = now_us() - t0;
		insession++;
		if ((k = signatures(&r)) > 0) {
			run->nsigned++;
			run->nsigs += k;
			if (run->expect != NULL && has_selector(&r, run->expect))
				run->nexpect++;
		} else
			run->nunsigned++;
		mc_result_free(&r);
	}
	mc_sess_close(&c, 0);
	free(t.hdrs);
	return NULL;
}

/* cmp_double - qsort order */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* summary - t/miltc -b's line, with the mean and the signatures */
static void
summary(struct run *run, double secs)
{
	double *v = xcalloc(run->total > 0 ? run->total : 1, sizeof(double));
	double sum = 0;
	size_t i, n = 0;

	for (i = 0; i < run->total; i++)
		if (run->lat_us[i] >= 0) {
			v[n++] = run->lat_us[i];
			sum += run->lat_us[i];
		}
	qsort(v, n, sizeof(double), cmp_double);
	printf("messages=%zu errors=%lu conc=%d seconds=%.3f msgs_per_s=%.1f "
	    "mean_us=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f signed=%lu "
	    "unsigned=%lu sigs=%lu%s", n, (unsigned long)run->errors,
	    run->conc, secs, secs > 0 ? n / secs : 0.0, n ? sum / n : 0.0,
	    n ? v[n / 2] : 0.0, n ? v[(size_t)((n - 1) * 0.99)] : 0.0,
	    n ? v[n - 1] : 0.0, (unsigned long)run->nsigned,
	    (unsigned long)run->nunsigned, (unsigned long)run->nsigs,
	    run->expect != NULL ? " " : "\n");
	if (run->expect != NULL)
		printf("selector=%lu\n", (unsigned long)run->nexpect);
	free(v);
}

/* prime_dir - read every regular file of dirfd/sub; 0 or -1 */
static int
prime_dir(int dirfd, const char *sub)
{
	char buf[65536];
	struct dirent *de;
	DIR *d;
	int fd, f;

	if ((fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_DIR) {
			(void)prime_dir(fd, de->d_name);
			continue;
		}
		if ((f = openat(fd, de->d_name, O_RDONLY)) == -1)
			continue;
		while (read(f, buf, sizeof(buf)) > 0)
			;
		close(f);
	}
	closedir(d);
	return 0;
}

/* prime - the files of every domain the run's messages come from */
static int
prime(struct run *run, const char *keystore)
{
	char d[256];
	unsigned long i, n = run->total < run->count ? run->total : run->count;
	int ks;

	if ((ks = open(keystore, O_RDONLY | O_DIRECTORY)) == -1) {
		fprintf(stderr, "domsend: %s: %s\n", keystore, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		domain(run, i, d, sizeof(d));
		if (prime_dir(ks, d) == -1) {
			fprintf(stderr, "domsend: %s/%s: %s\n", keystore, d,
			    strerror(errno));
			close(ks);
			return -1;
		}
	}
	close(ks);
	return 0;
}

/* one - message i on a connection of its own: -1 error, else signatures */
static int
one(struct run *run, struct tmsg *t, unsigned long i, struct mc_result *r,
    int quiet)
{
	struct mc_conn c;
	int k;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	memset(r, 0, sizeof(*r));
	if (mc_sess_open(&c, &run->opts) == -1) {
		if (!quiet)
			fprintf(stderr, "domsend: %s: %s\n", run->opts.socket,
			    c.err);
		return -1;
	}
	tmsg_from(t, run, i);
	if (mc_sess_message(&c, &run->opts, &t->msg, i, 1, r) == -1) {
		if (!quiet)
			fprintf(stderr, "domsend: %s: %s\n", t->from, c.err);
		mc_result_free(r);
		memset(r, 0, sizeof(*r));
		mc_wire_close(&c);
		return -1;
	}
	k = signatures(r);
	mc_sess_close(&c, 0);
	return k;
}

/* start - until the filter signs the first message */
static int
start(struct run *run, double limit_s)
{
	struct mc_result r;
	struct timespec rt;
	struct tmsg t;
	double end = now_us() + limit_s * 1e6;
	unsigned long tries = 0;
	int k;

	tmsg_init(&t, run);
	for (;;) {
		tries++;
		k = one(run, &t, 0, &r, 1);
		clock_gettime(CLOCK_REALTIME, &rt);
		mc_result_free(&r);
		if (k > 0)
			break;
		if (now_us() > end) {
			fprintf(stderr, "domsend: nothing signed in %.0f s "
			    "(%lu tries)\n", limit_s, tries);
			free(t.hdrs);
			return -1;
		}
		sleep_ms(1);
	}
	printf("signed_at_ns=%lld tries=%lu\n",
	    (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec, tries);
	free(t.hdrs);
	return 0;
}

/* The command of -w and when it exited. */
struct cmd {
	char		**argv;
	pid_t		 pid;
	double		 start_us;
	_Atomic double	 exit_us;	/* 0 until it exited */
	int		 status;
};

/* cmd_wait - the exit time of the command, taken as soon as it exits */
static void *
cmd_wait(void *arg)
{
	struct cmd *c = arg;

	while (waitpid(c->pid, &c->status, 0) == -1 && errno == EINTR)
		;
	c->exit_us = now_us();
	return NULL;
}

/* cmd_run - fork and exec; a thread waits for it */
static int
cmd_run(struct cmd *c, pthread_t *tid)
{
	c->start_us = now_us();
	if ((c->pid = fork()) == -1) {
		perror("domsend: fork");
		return -1;
	}
	if (c->pid == 0) {
		if (dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
			_exit(127);
		execvp(c->argv[0], c->argv);
		fprintf(stderr, "domsend: %s: %s\n", c->argv[0],
		    strerror(errno));
		_exit(127);
	}
	return pthread_create(tid, NULL, cmd_wait, c) == 0 ? 0 : -1;
}

/* watch - how long after COMMAND a new selector signs */
static int
watch(struct run *run, const char *sel, double interval_ms, double limit_s,
    char **argv)
{
	struct cmd c = { .argv = argv };
	struct mc_result r;
	struct tmsg t;
	pthread_t tid;
	unsigned long i = 0, before = 0, old_after = 0, unsig = 0;
	double t0, reply_us, ex, new_us = 0;
	int k, started = 0, early = 0;

	tmsg_init(&t, run);
	for (;;) {
		t0 = now_us();
		k = one(run, &t, 0, &r, 0);
		reply_us = now_us();
		ex = c.exit_us;
		if (k == -1) {
			mc_result_free(&r);
			break;
		}
		i++;
		if (k == 0)
			unsig++;
		else if (!has_selector(&r, sel)) {
			if (ex > 0 && new_us == 0)
				old_after++;
		} else if (!started)
			early = 1;
		else if (new_us == 0)
			new_us = reply_us;
		mc_result_free(&r);
		if (early || (new_us > 0 && ex > 0))
			break;
		if (!started && k > 0 && ++before >= 3) {
			if (cmd_run(&c, &tid) == -1)
				break;
			started = 1;
		}
		if (ex > 0 && reply_us - ex > limit_s * 1e6)
			break;
		sleep_ms(interval_ms - (now_us() - t0) / 1e3);
	}
	if (started)
		pthread_join(tid, NULL);
	free(t.hdrs);
	if (!started || new_us == 0) {
		fprintf(stderr, "domsend: s=%s %s\n", sel, early ?
		    "was signing before the command" : "never signed");
		return -1;
	}
	if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
		fprintf(stderr, "domsend: %s failed\n", argv[0]);
		return -1;
	}
	printf("exit_to_new_ms=%.1f command_ms=%.1f old_after_exit=%lu "
	    "unsigned=%lu messages=%lu\n", (new_us - c.exit_us) / 1e3,
	    (c.exit_us - c.start_us) / 1e3, old_after, unsig, i);
	return 0;
}

/* from_index - the From header of the message, which must have one */
static size_t
from_index(const struct mc_msg *m)
{
	size_t i;

	for (i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, "From") == 0)
			return i;
	fprintf(stderr, "domsend: %s: no From header\n", m->path);
	exit(1);
}

/* send_all - the default mode: N messages over CONC connections */
static int
send_all(struct run *run)
{
	pthread_t *tids;
	unsigned long i;
	double t0;
	int k;

	run->lat_us = xcalloc(run->total > 0 ? run->total : 1,
	    sizeof(double));
	for (i = 0; i < run->total; i++)
		run->lat_us[i] = -1;
	tids = xcalloc(run->conc, sizeof(pthread_t));
	t0 = now_us();
	for (k = 0; k < run->conc; k++)
		if (pthread_create(&tids[k], NULL, worker, run) != 0) {
			fprintf(stderr, "domsend: pthread_create failed\n");
			return 1;
		}
	for (k = 0; k < run->conc; k++)
		pthread_join(tids[k], NULL);
	summary(run, (now_us() - t0) / 1e6);
	free(tids);
	free(run->lat_us);
	return run->errors > 0 || run->next < run->total;
}

int
main(int argc, char **argv)
{
	static struct run run;
	struct mc_opts *o = &run.opts;
	const char *keystore = NULL, *sel = NULL;
	char err[MC_ERRLEN];
	double interval = 5, limit = 1200;
	int ch, only_prime = 0, startup = 0, rv;

	o->style = MC_STYLE_POSTFIX;
	o->timeout = 30;
	o->offer_actions = OFFER_ACTIONS;
	o->offer_protocol = OFFER_PROTOCOL;
	o->client_addr = "127.0.0.1";
	o->client_port = 41234;
	o->client_name = "localhost";
	o->helo = "client.example";
	o->mail_from = "sender@example.com";
	o->rcpts[o->nrcpts++] = "rcpt@example.net";
	macros(o);
	run.names = "d%.bench.example";
	run.conc = 1;
	run.step = 1;
	run.per_session = 1;
	while ((ch = getopt(argc, argv, "+bc:d:E:e:f:i:k:l:m:n:P:pRSs:t:w:")) !=
	    -1) {
		switch (ch) {
		case 'b': break;
		case 'c': run.conc = (int)number("-c", optarg); break;
		case 'd': run.names = optarg; break;
		case 'E': run.expect = optarg; break;
		case 'e': run.step = number("-e", optarg); break;
		case 'f': run.first = number("-f", optarg); break;
		case 'i': interval = number("-i", optarg); break;
		case 'k': run.per_session = number("-k", optarg); break;
		case 'l': limit = number("-l", optarg); break;
		case 'm': run.count = number("-m", optarg); break;
		case 'n': run.total = number("-n", optarg); break;
		case 'P': keystore = optarg; break;
		case 'p': only_prime = 1; break;
		case 'R': run.reconnect = 1; break;
		case 'S': startup = 1; break;
		case 's': o->socket = optarg; break;
		case 't': o->timeout = (int)number("-t", optarg); break;
		case 'w': sel = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (o->socket == NULL || argc < 1 || run.conc < 1 ||
	    run.conc > 1024 || o->timeout < 1 || run.per_session < 1 ||
	    (sel == NULL && argc != 1) || (sel != NULL && (argc < 3 ||
	    strcmp(argv[1], "--") != 0)) || (only_prime && keystore == NULL) ||
	    strchr(run.names, '%') == NULL ||
	    strchr(strchr(run.names, '%') + 1, '%') != NULL)
		usage();
	if (run.count == 0)
		run.count = run.total > 0 ? run.total : 1;
	if (run.total == 0)
		run.total = run.count;
	if (mc_msg_load(&run.msg, argv[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "domsend: %s\n", err);
		return 1;
	}
	run.fromidx = from_index(&run.msg);
	if (keystore != NULL && prime(&run, keystore) == -1)
		return 1;
	if (only_prime)
		rv = 0;
	else if (startup)
		rv = start(&run, limit) == -1;
	else if (sel != NULL)
		rv = watch(&run, sel, interval, limit, argv + 2) == -1;
	else
		rv = send_all(&run);
	mc_msg_free(&run.msg);
	return rv;
}
