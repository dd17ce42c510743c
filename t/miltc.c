/*
 * miltc - a milter client that plays the MTA, for tests and benchmarks
 *
 * SYNOPSIS
 *	miltc -s SOCKET [options] MESSAGE...
 *
 * DESCRIPTION
 *	Sends each MESSAGE (RFC 5322 file) through the filter at SOCKET the
 *	way Postfix (--style postfix, the default) or Sendmail (--style
 *	sendmail) would, and reports the filter's decision and modifications:
 *	one line "N<TAB>FILE<TAB>DECISION[<TAB>REPLY]" per message and one
 *	line "N<TAB>TYPE<TAB>INDEX<TAB>NAME<TAB>VALUE" per modification (the
 *	value with \n, \r, \t and \\ escaped). -o/-O write the message as the
 *	MTA would have it afterwards. -n sends N messages cycling through the
 *	files, over -c concurrent milter connections (one thread each), -k per
 *	SMTP session (SMFIC_ABORT between them) and SMFIC_QUIT_NC between
 *	sessions; -b prints one summary line with messages per second,
 *	latency percentiles, the decisions, and per command (SMFIC_*
 *	letter) the replies read ("awaited=") and those not waited for
 *	because the filter negotiated SMFIP_NR_* ("waived=") instead.
 *
 *	The styles differ where the MTAs differ: the default macros
 *	(Postfix: j {daemon_name}=$myhostname {daemon_addr} v _ at connect,
 *	{mail_addr}, {rcpt_addr}, i; Sendmail: j _ {daemon_name}=MTA
 *	{if_addr} at connect, {mail_addr} {mail_mailer}, {rcpt_addr}
 *	{rcpt_mailer}, i, {msg_id} at end of message). Header values are
 *	presented identically by both (see miltc_msg.c).
 *
 * DIAGNOSTICS
 *	Exit 0 when every message went through without a protocol or I/O
 *	error, 1 on such an error (with a message on stderr), 2 on usage
 *	errors, 3 when -e was given and a decision differed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "xmalloc.h"
#include "miltc.h"

#define OFFER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | \
	SMFIF_DELRCPT | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_CHGFROM | \
	SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST)
#define OFFER_PROTOCOL	0x001fffffU	/* every SMFIP_ flag up to LEADSPC */

/* The run as a whole, shared by the worker threads. */
struct run {
	struct mc_opts	 opts;
	struct mc_msg	*msgs;
	size_t		 nmsgs;
	unsigned long	 total;
	int		 conc;
	unsigned long	 per_session;
	int		 reconnect;
	const char	*outfile;
	const char	*outdir;
	int		 crlf;
	int		 quiet;
	int		 bench;
	int		 verbose;
	int		 expect;	/* decision char, 0 = any */
	atomic_ulong	 next;
	atomic_ulong	 errors;
	atomic_ulong	 mismatches;
	atomic_ulong	 decisions[256];
	atomic_ulong	 awaited[MC_NCMD];	/* replies read, per SMFIC_* */
	atomic_ulong	 waived[MC_NCMD];	/* replies not waited for */
	double		*lat_us;	/* per message; -1 when it failed */
	pthread_mutex_t	 outlock;
};

/* usage - the synopsis, then exit 2 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: miltc -s SOCKET [--style postfix|sendmail] [-t SECS]\n"
	    "\t[-M STAGE:NAME=VALUE]... [--client ADDR] [--client-port N]\n"
	    "\t[--client-name NAME] [--helo NAME] [-f FROM] [-r RCPT]...\n"
	    "\t[-B whole|N|random:SEED[:MAX]] [-n N] [-c CONC] [-k PER-SESSION]\n"
	    "\t[-R] [-o FILE | -O DIR] [--crlf] [-b] [-q] [-v] [-e DECISION]\n"
	    "\t[--offer-actions HEX] [--offer-protocol HEX] MESSAGE...\n");
	exit(2);
}

/* macro_set - add or replace (or, without "=", remove) a macro */
static void
macro_set(struct mc_opts *o, char stage, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < o->nmacros; i++) {
		if (o->macros[i].stage != stage ||
		    strcmp(o->macros[i].name, name) != 0)
			continue;
		free(o->macros[i].value);
		if (value != NULL) {
			o->macros[i].value = xstrdup(value);
			return;
		}
		free(o->macros[i].name);
		o->macros[i] = o->macros[--o->nmacros];
		return;
	}
	if (value == NULL)
		return;
	o->macros = xreallocarray(o->macros, o->nmacros + 1,
	    sizeof(*o->macros));
	o->macros[o->nmacros].stage = stage;
	o->macros[o->nmacros].name = xstrdup(name);
	o->macros[o->nmacros].value = xstrdup(value);
	o->nmacros++;
}

/* macro_arg - parse -M STAGE:NAME[=VALUE] */
static void
macro_arg(struct mc_opts *o, const char *arg)
{
	char *s, *eq;

	if (strlen(arg) < 3 || arg[1] != ':' || strchr("CHMRTNE", arg[0]) == NULL) {
		fprintf(stderr, "miltc: -M %s: want STAGE:NAME=VALUE, STAGE one "
		    "of C H M R T N E\n", arg);
		exit(2);
	}
	s = xstrdup(arg + 2);
	if ((eq = strchr(s, '=')) != NULL)
		*eq++ = '\0';
	macro_set(o, arg[0], s, eq);
	free(s);
}

/* default_macros - what the chosen MTA sends unless told otherwise */
static void
default_macros(struct mc_opts *o)
{
	char *u = xasprintf("%s [%s]", o->client_name, o->client_addr);
	char *from = xstrdup(o->mail_from + (o->mail_from[0] == '<'));
	char *rcpt = xstrdup(o->rcpts[0] + (o->rcpts[0][0] == '<'));

	from[strcspn(from, ">")] = '\0';
	rcpt[strcspn(rcpt, ">")] = '\0';
	macro_set(o, 'C', "j", "mx.test");
	macro_set(o, 'C', "_", u);
	macro_set(o, 'M', "{mail_addr}", from);
	macro_set(o, 'R', "{rcpt_addr}", rcpt);
	if (o->style == MC_STYLE_POSTFIX) {
		macro_set(o, 'C', "{daemon_name}", "mx.test");
		macro_set(o, 'C', "{daemon_addr}", "127.0.0.1");
		macro_set(o, 'C', "v", "Postfix 3.7.11");
	} else {
		macro_set(o, 'C', "{daemon_name}", "MTA");
		macro_set(o, 'C', "{if_addr}", "127.0.0.1");
		macro_set(o, 'M', "{mail_mailer}", "esmtp");
		macro_set(o, 'R', "{rcpt_mailer}", "local");
		macro_set(o, 'E', "{msg_id}", "<miltc@mx.test>");
	}
	free(u);
	free(from);
	free(rcpt);
}

/* chunk_arg - parse -B whole|N|random:SEED[:MAX] */
static void
chunk_arg(struct mc_opts *o, const char *arg)
{
	char *end;

	if (strcmp(arg, "whole") == 0) {
		o->chunk = MC_CHUNK_WHOLE;
		return;
	}
	if (strncmp(arg, "random:", 7) == 0) {
		o->chunk = MC_CHUNK_RANDOM;
		o->seed = (unsigned int)strtoul(arg + 7, &end, 10);
		o->chunk_size = *end == ':' ? strtoul(end + 1, &end, 10) : 0;
	} else {
		o->chunk = MC_CHUNK_FIXED;
		o->chunk_size = strtoul(arg, &end, 10);
		if (o->chunk_size == 0)
			end = "x";
	}
	if (*end != '\0' || o->chunk_size > MC_CHUNK_MAX) {
		fprintf(stderr, "miltc: -B %s: want whole, 1..%d or "
		    "random:SEED[:MAX]\n", arg, MC_CHUNK_MAX);
		exit(2);
	}
}

/* number_arg - a positive number or exit 2 */
static unsigned long
number_arg(const char *opt, const char *arg, int base)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, base);
	if (errno != 0 || *arg == '\0' || *end != '\0' || *arg == '-') {
		fprintf(stderr, "miltc: %s %s: not a number\n", opt, arg);
		exit(2);
	}
	return v;
}

/* decision_arg - -e accept|continue|tempfail|reject|discard */
static int
decision_arg(const char *arg)
{
	static const char d[] = { SMFIR_ACCEPT, SMFIR_CONTINUE, SMFIR_TEMPFAIL,
	    SMFIR_REJECT, SMFIR_DISCARD };
	size_t i;

	for (i = 0; i < sizeof(d); i++)
		if (strcmp(arg, mc_decision_name(d[i])) == 0)
			return d[i];
	fprintf(stderr, "miltc: -e %s: unknown decision\n", arg);
	exit(2);
}

enum {
	OPT_STYLE = 256, OPT_CLIENT, OPT_CLIENT_PORT, OPT_CLIENT_NAME, OPT_HELO,
	OPT_CRLF, OPT_OFFER_ACTIONS, OPT_OFFER_PROTOCOL
};

static const struct option longopts[] = {
	{ "style", required_argument, NULL, OPT_STYLE },
	{ "client", required_argument, NULL, OPT_CLIENT },
	{ "client-port", required_argument, NULL, OPT_CLIENT_PORT },
	{ "client-name", required_argument, NULL, OPT_CLIENT_NAME },
	{ "helo", required_argument, NULL, OPT_HELO },
	{ "crlf", no_argument, NULL, OPT_CRLF },
	{ "offer-actions", required_argument, NULL, OPT_OFFER_ACTIONS },
	{ "offer-protocol", required_argument, NULL, OPT_OFFER_PROTOCOL },
	{ NULL, 0, NULL, 0 }
};

/* parse_args - the command line into the run; macros after defaults */
static void
parse_args(struct run *run, int argc, char **argv)
{
	struct mc_opts *o = &run->opts;
	const char **macros = xcalloc(argc, sizeof(char *));
	size_t nm = 0, i;
	int ch;

	o->style = MC_STYLE_POSTFIX;
	o->timeout = 30;
	o->offer_actions = OFFER_ACTIONS;
	o->offer_protocol = OFFER_PROTOCOL;
	o->client_addr = "127.0.0.1";
	o->client_port = 41234;
	o->helo = "client.example";
	o->mail_from = "sender@example.com";
	run->conc = 1;
	run->per_session = 1;
	while ((ch = getopt_long(argc, argv, "B:bc:e:f:k:M:n:O:o:qRr:s:t:v",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'B': chunk_arg(o, optarg); break;
		case 'b': run->bench = 1; break;
		case 'c': run->conc = (int)number_arg("-c", optarg, 10); break;
		case 'e': run->expect = decision_arg(optarg); break;
		case 'f': o->mail_from = optarg; break;
		case 'k': run->per_session = number_arg("-k", optarg, 10); break;
		case 'M': macros[nm++] = optarg; break;
		case 'n': run->total = number_arg("-n", optarg, 10); break;
		case 'O': run->outdir = optarg; break;
		case 'o': run->outfile = optarg; break;
		case 'q': run->quiet = 1; break;
		case 'R': run->reconnect = 1; break;
		case 'r':
			if (o->nrcpts == sizeof(o->rcpts) / sizeof(o->rcpts[0]))
				usage();
			o->rcpts[o->nrcpts++] = optarg;
			break;
		case 's': o->socket = optarg; break;
		case 't': o->timeout = (int)number_arg("-t", optarg, 10); break;
		case 'v': run->verbose = 1; break;
		case OPT_STYLE:
			if (strcmp(optarg, "postfix") == 0)
				o->style = MC_STYLE_POSTFIX;
			else if (strcmp(optarg, "sendmail") == 0)
				o->style = MC_STYLE_SENDMAIL;
			else
				usage();
			break;
		case OPT_CLIENT: o->client_addr = optarg; break;
		case OPT_CLIENT_PORT:
			o->client_port = number_arg("--client-port", optarg, 10);
			break;
		case OPT_CLIENT_NAME: o->client_name = optarg; break;
		case OPT_HELO: o->helo = optarg; break;
		case OPT_CRLF: run->crlf = 1; break;
		case OPT_OFFER_ACTIONS:
			o->offer_actions = number_arg("--offer-actions", optarg, 16);
			break;
		case OPT_OFFER_PROTOCOL:
			o->offer_protocol = number_arg("--offer-protocol", optarg, 16);
			break;
		default: usage();
		}
	}
	if (o->socket == NULL || optind >= argc || run->conc < 1 ||
	    run->conc > 1024 || o->timeout < 1 || run->per_session < 1 ||
	    (run->outfile != NULL && run->outdir != NULL))
		usage();
	if (o->nrcpts == 0)
		o->rcpts[o->nrcpts++] = "rcpt@example.net";
	if (o->client_name == NULL)
		o->client_name = strncmp(o->client_addr, "127.", 4) == 0 ||
		    strcmp(o->client_addr, "::1") == 0 ? "localhost" : "unknown";
	default_macros(o);
	for (i = 0; i < nm; i++)
		macro_arg(o, macros[i]);
	free(macros);
}

/* load_messages - read every file once */
static void
load_messages(struct run *run, int argc, char **argv)
{
	char err[MC_ERRLEN];
	int i;

	run->nmsgs = argc - optind;
	run->msgs = xcalloc(run->nmsgs, sizeof(*run->msgs));
	for (i = optind; i < argc; i++) {
		if (mc_msg_load(&run->msgs[i - optind], argv[i], err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "miltc: %s\n", err);
			exit(1);
		}
	}
	if (run->total == 0)
		run->total = run->nmsgs;
	if (run->outfile != NULL && run->total != 1) {
		fprintf(stderr, "miltc: -o wants exactly one message; use -O\n");
		exit(2);
	}
}

/* now_us - monotonic microseconds */
static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* escape - a value on one line: \n \r \t \\ */
static void
escape(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		case '\\': fputs("\\\\", fp); break;
		default: fputc(*s, fp);
		}
	}
}

/* decision_word - REPLYCODE reads as tempfail or reject by its digit */
static const char *
decision_word(const struct mc_result *r)
{
	if (r->decision == SMFIR_REPLYCODE && r->reply != NULL)
		return r->reply[0] == '4' ? "tempfail" : "reject";
	return mc_decision_name(r->decision);
}

/* report - the per-message lines */
static void
report(const struct run *run, unsigned long n, const struct mc_msg *m,
    const struct mc_result *r)
{
	size_t i;

	printf("%lu\t%s\t%s", n + 1, m->path, decision_word(r));
	if (r->reply != NULL) {
		putchar('\t');
		escape(stdout, r->reply);
	}
	putchar('\n');
	for (i = 0; i < r->nmods; i++) {
		printf("%lu\t%s\t%" PRIu32 "\t", n + 1,
		    mc_mod_name(r->mods[i].type), r->mods[i].index);
		escape(stdout, r->mods[i].name);
		putchar('\t');
		escape(stdout, r->mods[i].value);
		putchar('\n');
	}
	if (r->replbody)
		printf("%lu\treplbody\t0\t\t%zu bytes\n", n + 1, r->newbodylen);
	fflush(stdout);
}

/* finish - account, report and write out one message's result */
static int
finish(struct run *run, struct mc_conn *c, unsigned long n,
    const struct mc_msg *m, struct mc_result *r)
{
	char err[MC_ERRLEN], *path = NULL;
	int rv = 0, i;

	for (i = 0; i < MC_NCMD; i++) {
		if (r->awaited[i] != 0)
			run->awaited[i] += r->awaited[i];
		if (r->waived[i] != 0)
			run->waived[i] += r->waived[i];
	}
	run->decisions[(unsigned char)(r->decision == SMFIR_REPLYCODE ?
	    *decision_word(r) : r->decision)]++;
	if (run->expect != 0 && strcmp(decision_word(r),
	    mc_decision_name((char)run->expect)) != 0)
		run->mismatches++;
	if (run->outdir != NULL)
		path = xasprintf("%s/%06lu.eml", run->outdir, n + 1);
	pthread_mutex_lock(&run->outlock);
	if (!run->quiet && !run->bench)
		report(run, n, m, r);
	if ((path != NULL || run->outfile != NULL) &&
	    mc_msg_write(m, r, c->protocol, run->crlf,
	    path != NULL ? path : run->outfile, err, sizeof(err)) == -1) {
		fprintf(stderr, "miltc: %s\n", err);
		rv = -1;
	}
	pthread_mutex_unlock(&run->outlock);
	free(path);
	return rv;
}

/* open_conn - connect and negotiate, reporting the outcome with -v */
static int
open_conn(struct run *run, struct mc_conn *c)
{
	if (mc_sess_open(c, &run->opts) == -1) {
		fprintf(stderr, "miltc: %s: %s\n", run->opts.socket, c->err);
		return -1;
	}
	if (run->verbose) {
		pthread_mutex_lock(&run->outlock);
		printf("negotiated\tversion=%u\tactions=0x%x\tprotocol=0x%x\n",
		    c->version, c->actions, c->protocol);
		fflush(stdout);
		pthread_mutex_unlock(&run->outlock);
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
	unsigned long n, insession = 0;
	const struct mc_msg *m;
	double t0;
	int newsess;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	if (open_conn(run, &c) == -1) {
		run->errors++;
		return NULL;
	}
	while ((n = run->next++) < run->total) {
		m = &run->msgs[n % run->nmsgs];
		newsess = insession == 0 || insession % run->per_session == 0;
		if (newsess && insession > 0 && run->reconnect) {
			mc_sess_close(&c, 0);
			if (open_conn(run, &c) == -1) {
				run->errors++;
				break;
			}
		}
		t0 = now_us();
		if (mc_sess_message(&c, &run->opts, m, n, newsess, &r) == -1) {
			fprintf(stderr, "miltc: message %lu (%s): %s\n", n + 1,
			    m->path, c.err);
			run->errors++;
			mc_result_free(&r);
			mc_wire_close(&c);
			break;
		}
		run->lat_us[n] = now_us() - t0;
		insession++;
		if (finish(run, &c, n, m, &r) == -1)
			run->errors++;
		mc_result_free(&r);
	}
	mc_sess_close(&c, 0);
	return NULL;
}

/* cmp_double - qsort order */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* replies - " NAME=C12,H3": a count per SMFIC_* command, if any */
static void
replies(const char *name, const atomic_ulong *n)
{
	const char *sep = "=";
	int i;

	printf(" %s", name);
	for (i = 0; i < MC_NCMD; i++)
		if (n[i] > 0) {
			printf("%s%c%lu", sep, i, (unsigned long)n[i]);
			sep = ",";
		}
	if (*sep == '=')
		printf("=none");
}

/* summary - messages per second, latency percentiles, decisions, and the
 * replies read and waived per command */
static void
summary(struct run *run, double secs)
{
	double *v = xcalloc(run->total, sizeof(double));
	size_t i, n = 0;
	int d;

	for (i = 0; i < run->total; i++)
		if (run->lat_us[i] >= 0)
			v[n++] = run->lat_us[i];
	qsort(v, n, sizeof(double), cmp_double);
	printf("messages=%zu errors=%lu conc=%d seconds=%.3f msgs_per_s=%.1f "
	    "p50_us=%.0f p99_us=%.0f max_us=%.0f", n,
	    (unsigned long)run->errors, run->conc, secs,
	    secs > 0 ? n / secs : 0.0, n ? v[n / 2] : 0.0,
	    n ? v[(size_t)((n - 1) * 0.99)] : 0.0, n ? v[n - 1] : 0.0);
	for (d = 0; d < 256; d++)
		if (run->decisions[d] > 0)
			printf(" %s=%lu", mc_decision_name((char)d),
			    (unsigned long)run->decisions[d]);
	replies("awaited", run->awaited);
	replies("waived", run->waived);
	putchar('\n');
	free(v);
}

int
main(int argc, char **argv)
{
	static struct run run;
	pthread_t *tids;
	unsigned long i;
	double t0;
	int k;

	parse_args(&run, argc, argv);
	load_messages(&run, argc, argv);
	if (run.outdir != NULL && mkdir(run.outdir, 0755) == -1 &&
	    errno != EEXIST) {
		fprintf(stderr, "miltc: %s: %s\n", run.outdir, strerror(errno));
		return 1;
	}
	pthread_mutex_init(&run.outlock, NULL);
	run.lat_us = xcalloc(run.total, sizeof(double));
	for (i = 0; i < run.total; i++)
		run.lat_us[i] = -1;
	tids = xcalloc(run.conc, sizeof(pthread_t));
	t0 = now_us();
	for (k = 0; k < run.conc; k++)
		if (pthread_create(&tids[k], NULL, worker, &run) != 0) {
			fprintf(stderr, "miltc: pthread_create failed\n");
			return 1;
		}
	for (k = 0; k < run.conc; k++)
		pthread_join(tids[k], NULL);
	if (run.bench)
		summary(&run, (now_us() - t0) / 1e6);
	for (i = 0; i < run.nmsgs; i++)
		mc_msg_free(&run.msgs[i]);
	for (i = 0; i < run.opts.nmacros; i++) {
		free(run.opts.macros[i].name);
		free(run.opts.macros[i].value);
	}
	free(run.opts.macros);
	free(run.msgs);
	free(run.lat_us);
	free(tids);
	if (run.errors > 0 || run.next < run.total)
		return 1;
	return run.mismatches > 0 ? 3 : 0;
}
