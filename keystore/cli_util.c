/*
 * cli_util - option parsing, opening the keystore, and output helpers
 * shared by the keyturn commands
 *
 * Run as root (sudo keyturn ...) on a keystore owned by another user (the
 * daemon's), keyturn becomes that user for good before it opens the
 * keystore, so every file it writes keeps the owner the daemon expects.
 * Any other user who does not own the keystore is refused.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "fleet.h"
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

/* cli_user_name - the user name of uid, or "uid N" */
static void
cli_user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %lu", (unsigned long)uid);
}

/*
 * cli_become - drop root for good to uid and gid (the only group), then
 * check that every id changed and root cannot be regained
 */
static int
cli_become(uid_t uid, gid_t gid, const char *who)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];
	int n;

	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return cli_fail("cannot become %s (uid %lu, gid %lu), the "
		    "keystore's owner: %s", who, (unsigned long)uid,
		    (unsigned long)gid, strerror(errno));
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) ==
	    -1 || ru != uid || eu != uid || su != uid || rg != gid ||
	    eg != gid || sg != gid || (n = getgroups(2, groups)) != 1 ||
	    groups[0] != gid || setresuid(0, 0, 0) != -1)
		return cli_fail("cannot become %s (uid %lu, gid %lu) for good; "
		    "nothing was changed", who, (unsigned long)uid,
		    (unsigned long)gid);
	return CLI_OK;
}

/*
 * cli_owner - before the keystore is touched: root becomes its owner; a
 * user who does not own it is told whom to run as. A missing keystore is
 * left to store_open to report.
 */
static int
cli_owner(const char *dir)
{
	struct passwd *pw;
	struct stat st;
	char who[64], me[64];
	uid_t euid = geteuid();

	if (stat(dir, &st) == -1)
		return errno == ENOENT ? CLI_OK : cli_fail("%s: %s", dir,
		    strerror(errno));
	if (st.st_uid == euid)
		return CLI_OK;
	cli_user_name(st.st_uid, who, sizeof(who));
	if (euid != 0) {
		cli_user_name(euid, me, sizeof(me));
		return cli_fail("%s: the keystore is owned by %s (uid %lu), "
		    "not by %s (uid %lu) that runs keyturn: run it as %s "
		    "(sudo -u %s keyturn ...) or as root (keyturn then acts "
		    "as %s)", dir, who, (unsigned long)st.st_uid, me,
		    (unsigned long)euid, who, who, who);
	}
	/* the owner's primary group; the directory's when it has no entry */
	pw = getpwuid(st.st_uid);
	return cli_become(st.st_uid, pw != NULL ? pw->pw_gid : st.st_gid,
	    who);
}

/* cli_open_local - open the keystore (as its owner), no fleet */
struct store *
cli_open_local(struct cli *c, int rdonly)
{
	struct store *s;
	char err[1024];

	if (cli_owner(c->keystore) != CLI_OK)
		return NULL;
	if ((s = store_open(c->keystore, rdonly ? STORE_RDONLY : 0, err,
	    sizeof(err))) == NULL)
		cli_fail("%s", err);
	return s;
}

/*
 * cli_open - open the keystore (as its owner), or say why not on stderr;
 * with a fleet, the mirror is made equal to etcd first and every write
 * goes through etcd (cli_fleet.c)
 */
struct store *
cli_open(struct cli *c, int rdonly)
{
	struct fleet *f;
	struct store *s;
	int failed;

	if ((f = cli_fleet(c, &failed)) == NULL)
		return failed ? NULL : cli_open_local(c, rdonly);
	fleet_attach(f);
	if ((s = cli_open_local(c, 0)) == NULL)
		return NULL;
	if (cli_fleet_sync(c, s, rdonly) != CLI_OK) {
		store_close(s);
		return NULL;
	}
	if (!rdonly)
		return s;
	store_close(s);
	return cli_open_local(c, 1);
}

/*
 * cli_getopt - getopt_long over a command's own arguments; --json, and
 * -h or --help, are accepted by every command. Returns the option, -1 at
 * the end, '?' on an unknown option (already reported).
 */
int
cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
    const void *longopts, int *idx)
{
	char so[32];
	int ch;

	opterr = 0;
	snprintf(so, sizeof(so), ":%sh", shortopts);
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

/* cli_lower - domain names are stored lowercase */
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

/* cli_json_str - a JSON string literal */
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

/* cli_json_sep - the comma between array elements */
void
cli_json_sep(int *first)
{
	if (!*first)
		fputs(",\n", stdout);
	*first = 0;
}

/* cli_dns_name - the owner name of a key record */
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

/* cli_zone_cname - a CNAME record, zone-file style */
void
cli_zone_cname(FILE *f, const char *name, const char *target)
{
	fprintf(f, "%s IN CNAME %s.\n", name, target);
}

/*
 * cli_slot_cnames - the records the customer of a delegated domain
 * publishes once, one per slot; -1 (said on stderr) when a slot does not
 * render
 */
int
cli_slot_cnames(FILE *f, const char *domain, const struct store_policy *p)
{
	char sel[STORE_SELECTOR_MAX + 1], target[STORE_DOMAIN_MAX + 1];
	char err[512], *name;
	int slot;

	for (slot = 1; slot <= p->slots; slot++) {
		if (store_slot_names(p, domain, slot, sel, sizeof(sel), target,
		    sizeof(target), err, sizeof(err)) == -1) {
			cli_fail("%s", err);
			return -1;
		}
		name = cli_dns_name(sel, domain);
		cli_zone_cname(f, name, target);
		free(name);
	}
	return 0;
}

/* cli_parse_int - a bounded integer option (strtonum) */
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

/* cli_conf_report - conf_load's errors, one line each */
static void
cli_conf_report(const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "keyturn: %s\n", msg);
}

/*
 * cli_conf - keyturn.conf: -c FILE, else the default file if there is one,
 * else the built-in defaults; read once per command. NULL after its
 * errors are said.
 */
struct kt_conf *
cli_conf(struct cli *c)
{
	const char *path = c->conffile;

	if (c->conf != NULL)
		return c->conf;
	if (path == NULL && access(CLI_CONF_DEFAULT, F_OK) == 0)
		path = CLI_CONF_DEFAULT;
	if (path == NULL)
		c->conf = conf_defaults();
	else if ((c->conf = conf_load(path, cli_conf_report, NULL)) == NULL)
		(void)cli_fail("%s: fix the errors above%s", path,
		    c->keystore == NULL ? ", or name the keystore with -K DIR" :
		    "");
	return c->conf;
}
