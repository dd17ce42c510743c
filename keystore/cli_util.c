/*
 * cli_util - option parsing, opening the keystore, and output helpers
 * shared by the keyturn commands
 */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xmalloc.h"

/* cli_usage - a usage error: what was wrong and the command's usage */
int
cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "keyturn %s: ", c->cmdname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: keyturn %s %s\n", c->cmdname, c->usage);
	return CLI_USAGE;
}

/* cli_fail - an operational error; the message says what to do */
int
cli_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "keyturn: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

struct store *
cli_open(struct cli *c, int rdonly)
{
	struct store *s;
	char err[1024];

	if ((s = store_open(c->keystore, rdonly ? STORE_RDONLY : 0, err,
	    sizeof(err))) == NULL)
		cli_fail("%s", err);
	return s;
}

/*
 * cli_getopt - getopt_long over a command's own arguments; --json and
 * --help are accepted by every command. Returns the option, -1 at the
 * end, '?' on an unknown option (already reported).
 */
int
cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
    const void *longopts, int *idx)
{
	char so[32];
	int ch;

	opterr = 0;
	snprintf(so, sizeof(so), ":%s", shortopts);
	for (;;) {
		ch = getopt_long(argc, argv, so,
		    (const struct option *)longopts, idx);
		if (ch == 'J') {
			c->json = 1;
			continue;
		}
		if (ch == 'h') {
			printf("usage: keyturn %s %s\n", c->cmdname, c->usage);
			exit(CLI_OK);
		}
		if (ch == '?' || ch == ':')
			cli_usage(c, "%s %s", ch == ':' ? "missing value for" :
			    "unknown option", argv[optind - 1]);
		return ch == ':' ? '?' : ch;
	}
}

char *
cli_lower(const char *s)
{
	char *out = xstrdup(s), *p;

	for (p = out; *p; p++)
		*p = tolower((unsigned char)*p);
	return out;
}

/* cli_age - "45s", "12m", "5h", "30d" */
char *
cli_age(long long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, len, "%llds", secs);
	else if (secs < 3600)
		snprintf(buf, len, "%lldm", secs / 60);
	else if (secs < 86400)
		snprintf(buf, len, "%lldh", secs / 3600);
	else
		snprintf(buf, len, "%lldd", secs / 86400);
	return buf;
}

void
cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void
cli_json_sep(int *first)
{
	if (!*first)
		fputs(",\n", stdout);
	*first = 0;
}

char *
cli_dns_name(const char *selector, const char *domain)
{
	return xasprintf("%s._domainkey.%s.", selector, domain);
}

/* cli_zone_line - a TXT record with its value in strings of 255 bytes */
void
cli_zone_line(FILE *f, const char *name, const char *value)
{
	size_t len = strlen(value), off;

	fprintf(f, "%s IN TXT", name);
	for (off = 0; off < len || off == 0; off += 255) {
		fprintf(f, " \"%.*s\"", (int)(len - off < 255 ? len - off :
		    255), value + off);
		if (len == 0)
			break;
	}
	fputc('\n', f);
}

int
cli_parse_int(const char *opt, const char *s, int min, int max, int *out)
{
	const char *errstr = NULL;

	*out = strtonum(s, min, max, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "keyturn: %s %s: %s (%d to %d)\n", opt, s,
		    errstr, min, max);
		return -1;
	}
	return 0;
}
