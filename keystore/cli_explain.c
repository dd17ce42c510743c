/*
 * cli_explain - keyturn explain: would keyturnd sign this message, with
 * which d=, s= and a=, or exactly why not?
 *
 * The same code keyturnd runs: keyturn.conf and its SigningTable and
 * SenderLogins, a snapshot of the keystore built by keyturnd's loader,
 * decide_client for the client (--client, --auth, --daemon), the header
 * fields given to the signing engine as the MTA gives them, and
 * decide_message at the end. Exit 0 when it would sign, 1 when it would
 * not (or the configuration, the rules or the keystore do not load), 2
 * on a usage error.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "decide.h"
#include "dkim.h"
#include "loader.h"
#include "rules.h"
#include "snapshot.h"
#include "xmalloc.h"

#define EXPLAIN_MAX_HEADER	(1024 * 1024)

/* The client as the options describe it. */
struct explain_client {
	struct sockaddr_storage	 ss;
	struct decide_client	 dc;
};

/* explain_report - configuration and rules errors, one per line */
static void
explain_report(const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "keyturn: %s\n", msg);
}

/* explain_addr - --client: an IPv4 or IPv6 address; -1 if neither */
static int
explain_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/*
 * explain_conf - keyturn.conf as keyturnd reads it (its own copy, which
 * the snapshot takes), the keystore of -K if given
 */
static struct kt_conf *
explain_conf(struct cli *c)
{
	const char *path = c->conffile;
	struct kt_conf *conf;

	if (path == NULL && access(CLI_CONF_DEFAULT, F_OK) == 0)
		path = CLI_CONF_DEFAULT;
	if (path == NULL)
		conf = conf_defaults();
	else if ((conf = conf_load(path, explain_report, NULL)) == NULL) {
		(void)cli_fail("%s: fix the errors above", path);
		return NULL;
	}
	if (c->keystore != NULL) {
		free(conf->keystore);
		conf->keystore = xstrdup(c->keystore);
	}
	return conf;
}

/* explain_snapshot - what keyturnd would sign with now; NULL after saying why */
static struct snapshot *
explain_snapshot(struct cli *c)
{
	struct kt_conf *conf;
	struct rules *rules;
	struct loader *l;
	struct snapshot *s;
	char err[1024];

	if ((conf = explain_conf(c)) == NULL)
		return NULL;
	if ((rules = rules_load(conf, explain_report, NULL)) == NULL) {
		conf_free(conf);
		(void)cli_fail("the SigningTable or SenderLogins has errors "
		    "(above)");
		return NULL;
	}
	l = loader_new();
	if ((s = loader_build(l, conf, rules, NULL, err, sizeof(err))) ==
	    NULL) {
		rules_unref(rules);
		conf_free(conf);
		(void)cli_fail("%s", err);
	}
	loader_free(l);
	return s;
}

/* explain_field - one header field to the engine, as the MTA hands it */
static enum dkim_status
explain_field(struct dkim_msg *m, char *field, char *err, size_t errlen)
{
	char *colon, *value;
	size_t len;

	if ((colon = strchr(field, ':')) == NULL) {
		snprintf(err, errlen, "header line without a colon: %.60s",
		    field);
		return DKIM_EFROM;
	}
	*colon = '\0';
	value = colon + 1;
	len = strlen(value);
	while (len > 0 && value[len - 1] == '\n')
		value[--len] = '\0';
	return dkim_msg_header(m, field, value, len, err, errlen);
}

/* explain_fieldline - does the line start a header field (name:)? */
static int
explain_fieldline(const char *line)
{
	const char *p = line;

	while (*p > ' ' && *p < 127 && *p != ':')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return p != line && *p == ':';
}

/*
 * explain_header - the header block of f into the engine: CRLF made LF,
 * continuation lines kept with their field; a line that is not a field
 * ends the header, as the MTA takes it for the start of the body; -1 with
 * err as keyturnd would log it
 */
static int
explain_header(FILE *f, struct dkim_msg *m, char *err, size_t errlen)
{
	char *line = NULL, *field = NULL;
	size_t cap = 0, flen = 0, total = 0;
	ssize_t r;
	int rc = 0;

	while (rc == 0 && (r = getline(&line, &cap, f)) > 0) {
		if (r >= 2 && line[r - 2] == '\r' && line[r - 1] == '\n')
			line[r - 2] = '\n', line[--r] = '\0';
		if ((total += (size_t)r) > EXPLAIN_MAX_HEADER) {
			snprintf(err, errlen, "header larger than %d bytes",
			    EXPLAIN_MAX_HEADER);
			rc = -1;
			break;
		}
		if (field != NULL && (line[0] == ' ' || line[0] == '\t')) {
			field = xreallocarray(field, flen + (size_t)r + 1, 1);
			memcpy(field + flen, line, (size_t)r + 1);
			flen += (size_t)r;
			continue;
		}
		if (field != NULL && explain_field(m, field, err,
		    errlen) != DKIM_OK)
			rc = -1;
		free(field);
		field = NULL;
		if (!explain_fieldline(line))
			break;
		field = xstrdup(line);
		flen = (size_t)r;
	}
	if (rc == 0 && field != NULL && explain_field(m, field, err,
	    errlen) != DKIM_OK)
		rc = -1;
	free(field);
	free(line);
	return rc;
}

/* explain_print - the decision, in words or JSON */
static void
explain_print(struct cli *c, const struct decide_out *o)
{
	int first = 1;
	size_t i;

	if (!c->json) {
		if (o->verdict != DECIDE_SIGN) {
			printf("not signed (%s): %s\n",
			    decide_verdict_name(o->verdict), o->why);
			return;
		}
		if (o->rule > 0)
			printf("signed (SigningTable line %d)\n", o->rule);
		else if (o->rule == 0)
			printf("signed (the From domain)\n");
		else
			printf("signed (%s)\n", o->why);
		for (i = 0; i < o->nsign; i++)
			printf("  d=%s s=%s a=%s\n", o->sign[i].domain,
			    o->sign[i].selector, dkim_alg_name(o->sign[i].alg));
		return;
	}
	printf("{\"sign\":%s,\"verdict\":\"%s\"", o->verdict == DECIDE_SIGN ?
	    "true" : "false", decide_verdict_name(o->verdict));
	if (o->verdict != DECIDE_SIGN) {
		printf(",\"reason\":");
		cli_json_str(stdout, o->why);
	} else {
		printf(",\"rule\":%d", o->rule);
		if (o->why[0] != '\0') {
			printf(",\"note\":");
			cli_json_str(stdout, o->why);
		}
	}
	printf(",\"signatures\":[");
	for (i = 0; i < o->nsign; i++) {
		cli_json_sep(&first);
		printf("{\"d\":");
		cli_json_str(stdout, o->sign[i].domain);
		printf(",\"s\":");
		cli_json_str(stdout, o->sign[i].selector);
		printf(",\"a\":\"%s\"}", dkim_alg_name(o->sign[i].alg));
	}
	printf("]}\n");
}

/* explain_refuse - a decision made before the message: not signed */
static int
explain_refuse(struct cli *c, enum decide_verdict v, const char *why)
{
	struct decide_out o;

	memset(&o, 0, sizeof(o));
	o.verdict = v;
	o.rule = -1;
	snprintf(o.why, sizeof(o.why), "%s", why);
	explain_print(c, &o);
	return CLI_FAIL;
}

/* explain_run - the client, then the message, then the decision */
static int
explain_run(struct cli *c, struct snapshot *s, struct explain_client *ec,
    FILE *f)
{
	struct dkim_msg *m;
	struct decide_gathered g;
	struct decide_out o;
	char why[512];
	int rc;

	if (!decide_client(s->conf, &ec->dc, why, sizeof(why)))
		return explain_refuse(c, DECIDE_PASS, why);
	m = dkim_msg_new(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED);
	rc = explain_header(f, m, why, sizeof(why));
	decide_gather(m, ec->dc.auth_authen, decide_authenticated(&ec->dc),
	    &g);
	if (rc == -1)
		decide_unreadable(s, &g.m, why, &o);
	else
		decide_message(s, &g.m, c->now, &o);
	explain_print(c, &o);
	rc = o.verdict == DECIDE_SIGN ? CLI_OK : CLI_FAIL;
	decide_release(&o);
	dkim_msg_free(m);
	return rc;
}

/* cmd_explain - keyturn explain [--client ADDR] [--auth LOGIN] ... FILE|- */
int
cmd_explain(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'C' },
		{ "auth", required_argument, NULL, 'A' },
		{ "daemon", required_argument, NULL, 'D' },
		CLI_COMMON_OPTS, { 0 }
	};
	struct explain_client ec;
	struct snapshot *s;
	const char *client = "127.0.0.1", *path;
	FILE *f;
	int ch, rc;

	memset(&ec, 0, sizeof(ec));
	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'C')
			client = optarg;
		else if (ch == 'A')
			ec.dc.auth_authen = optarg;
		else if (ch == 'D')
			ec.dc.daemon_name = optarg;
		else
			return CLI_USAGE;
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one message FILE, or - for "
		    "standard input");
	if (strcmp(client, "unix") == 0)
		ec.dc.unix_socket = 1;
	else if (explain_addr(client, &ec.ss) == -1)
		return cli_usage(c, "--client %s: an IPv4 or IPv6 address, "
		    "or \"unix\"", client);
	else
		ec.dc.addr = (struct sockaddr *)&ec.ss;
	if (ec.dc.auth_authen != NULL)
		ec.dc.auth_type = "PLAIN";
	path = argv[optind];
	if ((f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r")) == NULL)
		return cli_fail("%s: cannot open", path);
	if ((s = explain_snapshot(c)) == NULL)
		rc = CLI_FAIL;
	else {
		rc = explain_run(c, s, &ec, f);
		snapshot_unref(s);
	}
	if (f != stdin)
		fclose(f);
	return rc;
}
