/*
 * cli_doctor - keyturn doctor: what a failing setup gets wrong, and the fix
 *
 * SYNOPSIS
 *	keyturn doctor [--mta postfix|sendmail|none] [--postfix-config DIR]
 *	    [--json]
 *
 * DESCRIPTION
 *	Reads everything keyturnd depends on and reports each problem as a
 *	finding: what is wrong (one line naming the file, key or socket) and
 *	the exact fix (a command to run or a line to change). In order:
 *	keyturn.conf (every error of conf_load, then the SigningTable and
 *	SenderLogins files, then Socket); the keystore's owner and modes
 *	against UserID; the socket as the MTA's user finds it (the directory
 *	chain, the socket's mode and owner, a listening keyturnd) and, for
 *	Postfix, whether smtpd and cleanup reach it from their chroot and
 *	whether smtpd_milters and non_smtpd_milters name it; every active
 *	key's record at every authoritative nameserver; a key due to rotate
 *	out soon with no ready standby; a revoked key whose p= is still
 *	served.
 *
 *	Nothing is changed: the keystore is read with lstat and as the
 *	invoking user (no switch to its owner), Postfix is asked with
 *	postconf(1), DNS with the rotation's propagation check. Errors of
 *	keyturn.conf stop the other checks, which need its settings.
 *
 *	This file reads keyturn.conf, the keystore and DNS, and prints;
 *	cli_doctor_mta.c looks at the socket and Postfix (cli_doctor.h).
 *
 * DIAGNOSTICS
 *	"problem: ..." and "  fix: ..." per finding, then "N findings" or
 *	"no problems found"; --json an array of {check, subject, problem,
 *	fix}. Exit 0 when nothing was found, 1 otherwise, 2 on a usage error.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_doctor.h"
#include "conf.h"
#include "rotation.h"
#include "rules.h"
#include "xmalloc.h"

/* mode findings before one summary finding */
#define DOC_MODE_MAX		20

/* doc_add - one finding; problem and fix are taken over */
void
doc_add(struct doc *d, const char *check, const char *subject, char *problem,
    char *fix)
{
	d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
	d->v[d->n].check = xstrdup(check);
	d->v[d->n].subject = xstrdup(subject);
	d->v[d->n].problem = problem;
	d->v[d->n++].fix = fix;
}

/*
 * doc_conf_report - each "file:line: what" of conf_load and rules_load is
 * a finding whose fix names the line
 */
static void
doc_conf_report(const char *msg, void *arg)
{
	struct doc *d = arg;
	const char *p, *q;
	char *subject;

	for (p = msg; (p = strchr(p, ':')) != NULL; p++) {
		for (q = p + 1; *q >= '0' && *q <= '9'; q++)
			;
		if (q > p + 1 && q[0] == ':' && q[1] == ' ')
			break;
	}
	if (p == NULL) {
		doc_add(d, "conf", d->confpath ? d->confpath : "keyturn.conf",
		    xstrdup(msg), xstrdup("correct the file named above"));
		return;
	}
	subject = xasprintf("%.*s", (int)(q - msg), msg);
	if (q - p - 1 == 1 && p[1] == '0')	/* the file, not a line */
		doc_add(d, "conf", subject, xstrdup(q + 2), xasprintf("make "
		    "%.*s readable by the invoking user", (int)(p - msg),
		    msg));
	else
		doc_add(d, "conf", subject, xstrdup(q + 2), xasprintf("edit "
		    "%.*s line %.*s", (int)(p - msg), msg, (int)(q - p - 1),
		    p + 1));
	free(subject);
}

/* doc_user - a user and every group it is in, as the kernel checks them */
int
doc_user(const char *name, struct doc_user *u)
{
	struct passwd *pw;
	int n = DOC_NGROUPS;

	if ((pw = getpwnam(name)) == NULL)
		return -1;
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	u->uid = pw->pw_uid;
	if (getgrouplist(pw->pw_name, pw->pw_gid, u->groups, &n) == -1)
		n = DOC_NGROUPS;
	u->ngroups = n;
	return 0;
}

/* doc_userid - UserID's "user[:group]": its user, the group checked */
static int
doc_userid(const char *spec, struct doc_user *u)
{
	char *user = xstrdup(spec), *group;
	int r;

	if ((group = strchr(user, ':')) != NULL)
		*group++ = '\0';
	r = doc_user(user, u) == 0 && (group == NULL || *group == '\0' ||
	    getgrnam(group) != NULL) ? 0 : -1;
	free(user);
	return r;
}

/* doc_conf_where - how a fix names a keyturn.conf line */
char *
doc_conf_where(struct doc *d, int line, const char *what)
{
	if (d->confpath != NULL && line > 0)
		return xasprintf("edit %s line %d: %s", d->confpath, line,
		    what);
	return xasprintf("add to %s: %s", d->confpath ? d->confpath :
	    CLI_CONF_DEFAULT, what);
}

/* doc_sockbad - Socket as written cannot be listened on */
static void
doc_sockbad(struct doc *d, const char *why)
{
	const char *path = conf_socket_path(d->conf->socket);
	char *dir = xstrdup(path ? path : ""), *s = strrchr(dir, '/');
	struct stat st;

	d->sockbad = 1;
	if (s != NULL && s != dir)
		*s = '\0';
	if (s != NULL && s != dir && stat(dir, &st) == -1 && errno == ENOENT)
		doc_add(d, "conf", d->conf->socket, xstrdup(why),
		    xasprintf("mkdir -p -m 0755 %s", dir));
	else
		doc_add(d, "conf", d->conf->socket, xstrdup(why),
		    doc_conf_where(d, d->conf->socket_line, "Socket "
		    "unix:/run/keyturn/keyturnd.sock"));
	free(dir);
}

/* doc_ks_owner - the keystore directory's owner when not root, or -1 */
static int
doc_ks_owner(const char *keystore, char *name, size_t len)
{
	struct passwd *pw;
	struct stat st;

	if (lstat(keystore, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    st.st_uid == 0 || (pw = getpwuid(st.st_uid)) == NULL)
		return -1;
	snprintf(name, len, "%s", pw->pw_name);
	return 0;
}

/* doc_conf - keyturn.conf, the files it names, its Socket and UserID */
static int
doc_conf(struct doc *d)
{
	struct doc_user u;
	struct rules *r;
	char why[512], owner[64], *what;

	if (d->c->conffile != NULL)
		d->confpath = d->c->conffile;
	else if (access(CLI_CONF_DEFAULT, F_OK) == 0)
		d->confpath = CLI_CONF_DEFAULT;
	if (d->confpath != NULL && access(d->confpath, F_OK) == -1 &&
	    errno == ENOENT) {
		doc_add(d, "conf", d->confpath, xstrdup("no such file"),
		    xasprintf("create %s with KeyStore, Socket and UserID "
		    "lines (keyturn.conf(5)), or name another with -c",
		    d->confpath));
		return -1;
	}
	d->conf = d->confpath ? conf_load(d->confpath, doc_conf_report, d) :
	    conf_defaults();
	if (d->conf == NULL)
		return -1;
	d->keystore = d->c->keystore ? d->c->keystore : d->conf->keystore;
	if ((r = rules_load(d->conf, doc_conf_report, d)) != NULL)
		rules_unref(r);
	if (conf_socket_check(d->conf->socket, why, sizeof(why)) == -1)
		doc_sockbad(d, why);
	if (d->conf->userid == NULL && !d->conf->allow_root) {
		/* the user that owns the keystore already, else a new one */
		what = doc_ks_owner(d->keystore, owner, sizeof(owner)) == 0 ?
		    xasprintf("UserID %s (the keystore's owner)", owner) :
		    xasprintf("UserID keyturn (a user of its own), then chown "
		    "-R keyturn: %s", d->keystore);
		doc_add(d, "conf", "UserID", xstrdup("not set: keyturnd "
		    "started as root refuses to run"), doc_conf_where(d, 0,
		    what));
		free(what);
	} else if (d->conf->userid != NULL && doc_userid(d->conf->userid,
	    &u) == -1)
		doc_add(d, "conf", d->conf->userid, xstrdup("UserID: no such "
		    "user or group"), doc_conf_where(d, 0, "UserID with a user "
		    "(and group) that exists"));
	d->kt = d->confpath ? xasprintf("keyturn -c %s", d->confpath) :
	    xasprintf("keyturn -K %s", d->keystore);
	return 0;
}

/* doc_ks_entry - one keystore entry against the owner and the modes */
static void
doc_ks_entry(struct doc *d, const char *path, const struct stat *st,
    uid_t owner, int inkeys)
{
	char *fix = NULL, *what = NULL;
	mode_t m = st->st_mode & 07777;

	if (st->st_uid != owner && d->nbadown++ == 0)
		d->badown = xstrdup(path);
	if (S_ISDIR(st->st_mode) && (m & 077)) {
		what = xasprintf("directory mode %04o: group or other can "
		    "enter it", (unsigned)m);
		fix = xasprintf("chmod 0700 %s", path);
	} else if (S_ISREG(st->st_mode) && inkeys && (m & 077)) {
		what = xasprintf("private key mode %04o: keyturnd refuses a "
		    "key group or other can read", (unsigned)m);
		fix = xasprintf("chmod 0600 %s", path);
	} else if (S_ISREG(st->st_mode) && (m & 022)) {
		what = xasprintf("mode %04o: group or other can change it",
		    (unsigned)m);
		fix = xasprintf("chmod go-w %s", path);
	}
	if (what == NULL)
		return;
	if (d->nmode++ < DOC_MODE_MAX) {
		doc_add(d, "keystore", path, what, fix);
		return;
	}
	free(what);
	free(fix);
}

/* doc_ks_walk - every entry under dir, never following a link */
static void
doc_ks_walk(struct doc *d, const char *dir, uid_t owner, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *dp;
	char *path;
	int inkeys = strcmp(strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir,
	    "keys") == 0;

	if (depth > 8 || (dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name,
		    "..") == 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0) {
			doc_ks_entry(d, path, &st, owner, inkeys);
			if (S_ISDIR(st.st_mode))
				doc_ks_walk(d, path, owner, depth + 1);
		}
		free(path);
	}
	closedir(dp);
}

/*
 * doc_ks_user - keyturnd's user: UserID, else root (AllowRoot), else the
 * keystore's owner UserID is to name; *own 0 when no owner is settled
 */
static int
doc_ks_user(struct doc *d, struct doc_user *u, char *spec, size_t len,
    int *own)
{
	char owner[64];

	*own = 1;
	if (d->conf->userid == NULL && !d->conf->allow_root &&
	    doc_ks_owner(d->keystore, owner, sizeof(owner)) == 0) {
		snprintf(spec, len, "%s:", owner);
		return doc_user(owner, u);
	}
	if (d->conf->userid == NULL) {
		*own = d->conf->allow_root;	/* doc_conf said UserID */
		snprintf(spec, len, "root:");
		return doc_user("root", u);
	}
	if (doc_userid(d->conf->userid, u) == -1)
		return -1;	/* doc_conf said so */
	snprintf(spec, len, "%s%s", d->conf->userid, strchr(d->conf->userid,
	    ':') ? "" : ":");
	return 0;
}

/* doc_keystore - owner and modes of the keystore against UserID */
static void
doc_keystore(struct doc *d)
{
	struct doc_user u;
	struct stat st;
	char spec[128], real[PATH_MAX], *bad;
	int own;

	if (doc_ks_user(d, &u, spec, sizeof(spec), &own) == -1)
		return;
	if (lstat(d->keystore, &st) == 0 && S_ISLNK(st.st_mode)) {
		/* init and keyturnd refuse a link: name what it points to */
		d->ksbad = 1;
		if (realpath(d->keystore, real) == NULL)
			snprintf(real, sizeof(real), "the directory itself");
		doc_add(d, "keystore", d->keystore, xstrdup("a symbolic link: "
		    "keyturn and keyturnd refuse a keystore reached through "
		    "one"), d->c->keystore || d->confpath == NULL ?
		    xasprintf("name the directory itself: keyturn%s%s -K %s",
		    d->confpath ? " -c " : "", d->confpath ? d->confpath : "",
		    real) : xasprintf("name the directory itself: KeyStore %s "
		    "in %s", real, d->confpath));
		return;
	}
	if (lstat(d->keystore, &st) == -1 || !S_ISDIR(st.st_mode)) {
		d->ksbad = 1;
		doc_add(d, "keystore", d->keystore, xasprintf("no keystore "
		    "directory here: %s", access(d->keystore, F_OK) == 0 ?
		    "not a directory" : strerror(errno)),
		    u.uid == 0 ? xasprintf("keyturn -K %s init", d->keystore) :
		    xasprintf("sudo -u %s keyturn -K %s init", u.name,
		    d->keystore));
		return;
	}
	if ((bad = doc_reach(&u, d->keystore, &st)) != NULL) {
		doc_add(d, "keystore", d->keystore, xasprintf("%s (UserID) "
		    "cannot reach the keystore: %s is mode %04o", u.name, bad,
		    (unsigned)(st.st_mode & 07777)),
		    xasprintf("chmod o+x %s", bad));
		free(bad);
	}
	lstat(d->keystore, &st);
	doc_ks_entry(d, d->keystore, &st, u.uid, 0);
	doc_ks_walk(d, d->keystore, u.uid, 0);
	if (d->nmode > DOC_MODE_MAX)
		doc_add(d, "keystore", d->keystore, xasprintf("%d more "
		    "entries with group or other access", d->nmode -
		    DOC_MODE_MAX), xasprintf("chmod -R go-rwx %s",
		    d->keystore));
	if (d->nbadown > 0 && own)
		doc_add(d, "keystore", d->keystore, xasprintf("%ld entr%s "
		    "not owned by %s (uid %lu), keyturnd's user, such as %s",
		    d->nbadown, d->nbadown == 1 ? "y" : "ies", u.name,
		    (unsigned long)u.uid, d->badown),
		    xasprintf("chown -R %s %s", spec, d->keystore));
}

/* doc_obs - what the addresses that did not say match answered */
static char *
doc_obs(const struct prop_result *res, int served)
{
	const struct prop_obs *o;
	char buf[512] = "";
	size_t i, len;
	int n = 0;

	for (i = 0; i < res->nobs; i++) {
		o = &res->obs[i];
		if ((served && o->status != PROP_MATCH && o->status !=
		    PROP_MISMATCH) || (!served && o->status == PROP_MATCH))
			continue;
		len = strlen(buf);
		if (n++ < 3)
			snprintf(buf + len, sizeof(buf) - len, "%s%s (%s) "
			    "answered %s", len ? "; " : "", o->addr,
			    o->server, prop_status_name(o->status));
	}
	return n > 0 ? xstrdup(buf) : NULL;
}

/* doc_key_dns - an active key served everywhere, a revoked one nowhere */
static void
doc_key_dns(struct doc *d, const struct rot_config *cf, const char *domain,
    const struct store_key *k)
{
	struct prop_result res;
	struct prop_query q;
	char err[512], *subject, *seen = NULL;
	int revoked = k->state == STORE_REVOKED;

	if (adapt_query(domain, k, &q, err, sizeof(err)) == -1)
		return;
	subject = xasprintf("%s (%s key)", q.name, store_state_name(k->state));
	memset(&res, 0, sizeof(res));
	if (prop_check(&q, &cf->dns, &res) == -1 && res.nobs == 0)
		doc_add(d, "dns", subject, xasprintf("cannot be checked: %s",
		    res.error ? res.error : "no nameserver answered"),
		    xasprintf("check Resolver, DNSPort and DNSTimeout in %s "
		    "and the delegation of %s", d->confpath ? d->confpath :
		    CLI_CONF_DEFAULT, domain));
	else if (!revoked && !res.published)
		doc_add(d, "dns", subject, xasprintf("not served by every "
		    "authoritative nameserver: %s", (seen = doc_obs(&res, 0)) ?
		    seen : prop_verdict_name(res.verdict)), xasprintf("publish "
		    "the record %s dns %s prints (PublishCommand: see "
		    "keyturnd's log), then %s check %s", d->kt, domain, d->kt,
		    domain));
	else if (revoked && (seen = doc_obs(&res, 1)) != NULL)
		doc_add(d, "revoked", subject, xasprintf("revoked, but its "
		    "p= is still served: %s", seen), xasprintf("publish "
		    "\"v=DKIM1; p=\" as %s dns %s prints it (PublishCommand: "
		    "see keyturnd's log), then %s check %s %s", d->kt, domain,
		    d->kt, domain, k->selector));
	free(seen);
	free(subject);
	prop_result_free(&res);
	adapt_query_free(&q);
}

/*
 * doc_standby - the oldest active key of an algorithm is due to rotate
 * out soon and no ready key can take its place without waiting on DNS
 */
static void
doc_standby(struct doc *d, const struct store_domain *dom, enum store_alg a)
{
	const struct store_key *k, *old = NULL, *pend = NULL;
	enum store_state next;
	long long soon = d->conf->rotation_interval * 2;
	time_t when;
	char t[32], age[16];
	size_t i;

	for (i = 0; i < dom->nkeys; i++) {
		k = &dom->keys[i];
		if (k->alg != a)
			continue;
		if (k->state == STORE_READY)
			return;
		if (k->state == STORE_PENDING && pend == NULL)
			pend = k;
		if (k->state == STORE_ACTIVE && (old == NULL || k->since <
		    old->since))
			old = k;
	}
	if (old == NULL || (when = store_key_planned(dom, old, &next)) == 0 ||
	    when - d->c->now > (soon > 86400 ? soon : 86400))
		return;
	doc_add(d, "standby", dom->name, xasprintf("active %s key %s rotates "
	    "out at %s (in %s) and no %s key is ready to take over",
	    store_alg_name(a), old->selector, store_time_format(when, t,
	    sizeof(t)), cli_age(when - d->c->now, age, sizeof(age)),
	    store_alg_name(a)), pend ? xasprintf("publish the record of "
	    "pending key %s (%s dns %s), then %s rotate %s", pend->selector,
	    d->kt, dom->name, d->kt, dom->name) : xasprintf("%s rotate %s "
	    "(makes a standby key), publish its record (%s dns %s), then "
	    "%s rotate %s again", d->kt, dom->name, d->kt, dom->name, d->kt,
	    dom->name));
}

/* doc_domain - the DNS of one domain's keys, and its standbys */
static void
doc_domain(struct doc *d, const struct rot_config *cf, const char *name)
{
	struct store_domain *dom;
	char err[1024];
	size_t i;
	int a;

	if ((dom = store_domain_load(cf->store, name, 0, err,
	    sizeof(err))) == NULL) {
		/* an owner or a mode the walk reported already */
		if (d->nbadown == 0 && d->nmode == 0)
			doc_add(d, "keystore", name, xstrdup(err),
			    xasprintf("correct the file named, then %s list "
			    "%s", d->kt, name));
		return;
	}
	for (i = 0; i < dom->nkeys; i++)
		if (dom->keys[i].state == STORE_ACTIVE ||
		    dom->keys[i].state == STORE_REVOKED)
			doc_key_dns(d, cf, name, &dom->keys[i]);
	for (a = 0; a < STORE_NALGS; a++)
		if (dom->policy.algs & STORE_ALGBIT(a))
			doc_standby(d, dom, a);
	store_domain_free(dom);
}

/* doc_keys - every domain, read as the invoking user (no switch) */
static void
doc_keys(struct doc *d)
{
	struct rot_config cf;
	struct doc_user u;
	struct stat st;
	char **names, err[1024], spec[128], *vf;
	size_t n, i;
	int own;

	if (d->ksbad || stat(d->keystore, &st) == -1)
		return;		/* doc_keystore said so */
	rot_config_init(&cf, d->conf);
	if ((cf.store = store_open_owner(d->keystore, STORE_RDONLY,
	    st.st_uid, err, sizeof(err))) == NULL) {
		vf = xasprintf("%s/keyturn.keystore", d->keystore);
		if (lstat(vf, &st) == -1 && errno == ENOENT)
			doc_add(d, "keystore", d->keystore, xstrdup("not a "
			    "keystore: no keyturn.keystore in it"),
			    doc_ks_user(d, &u, spec, sizeof(spec), &own) ==
			    0 && u.uid != 0 ? xasprintf("sudo -u %s keyturn "
			    "-K %s init", u.name, d->keystore) :
			    xasprintf("keyturn -K %s init", d->keystore));
		else
			doc_add(d, "keystore", d->keystore, xasprintf("cannot "
			    "be opened: %s", err), xasprintf("restore %s from "
			    "a backup", d->keystore));
		free(vf);
		return;
	}
	if (store_domain_names(cf.store, &names, &n, err, sizeof(err)) == -1)
		doc_add(d, "keystore", d->keystore, xstrdup(err),
		    xasprintf("move the entry named out of %s", d->keystore));
	else {
		for (i = 0; i < n; i++)
			doc_domain(d, &cf, names[i]);
		store_names_free(names, n);
	}
	store_close(cf.store);
}

/* doc_print - the findings, as text or JSON */
static void
doc_print(struct doc *d)
{
	const struct doc_finding *f;
	size_t i;
	int first = 1;

	if (d->c->json)
		printf("[");
	for (i = 0; i < d->n; i++) {
		f = &d->v[i];
		if (!d->c->json) {
			printf("problem: %s: %s\n  fix: %s\n", f->subject,
			    f->problem, f->fix);
			continue;
		}
		cli_json_sep(&first);
		printf("%s{\"check\": ", i == 0 ? "\n" : "");
		cli_json_str(stdout, f->check);
		printf(", \"subject\": ");
		cli_json_str(stdout, f->subject);
		printf(", \"problem\": ");
		cli_json_str(stdout, f->problem);
		printf(", \"fix\": ");
		cli_json_str(stdout, f->fix);
		printf("}");
	}
	if (d->c->json)
		printf("%s]\n", d->n ? "\n" : "");
	else if (d->n == 0)
		printf("no problems found\n");
	else
		printf("%zu finding%s\n", d->n, d->n == 1 ? "" : "s");
}

/* doc_free - the findings and what doc_conf made */
static void
doc_free(struct doc *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].check);
		free(d->v[i].subject);
		free(d->v[i].problem);
		free(d->v[i].fix);
	}
	free(d->v);
	free(d->badown);
	free(d->kt);
	conf_free(d->conf);
}

/* doc_options - --mta and --postfix-config; -1 on a usage error */
static int
doc_options(struct doc *d, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTS,
		{ "mta", required_argument, NULL, 'm' },
		{ "postfix-config", required_argument, NULL, 'P' }, { 0 } };
	const char *mta = NULL;
	int ch;

	d->pfdir = "/etc/postfix";
	while ((ch = cli_getopt(d->c, argc, argv, "m:P:", opts, NULL)) != -1)
		if (ch == 'm')
			mta = optarg;
		else if (ch == 'P') {
			d->pfdir = optarg;
			d->pfgiven = 1;
		} else
			return -1;
	if (optind < argc)
		return (cli_usage(d->c, "no arguments"), -1);
	if (mta == NULL)
		d->mta = d->pfgiven || access("/etc/postfix/main.cf", F_OK) ==
		    0 ? DOC_MTA_POSTFIX : access("/etc/mail/sendmail.cf",
		    F_OK) == 0 ? DOC_MTA_SENDMAIL : DOC_MTA_NONE;
	else if (strcmp(mta, "postfix") == 0)
		d->mta = DOC_MTA_POSTFIX;
	else if (strcmp(mta, "sendmail") == 0)
		d->mta = DOC_MTA_SENDMAIL;
	else if (strcmp(mta, "none") == 0)
		d->mta = DOC_MTA_NONE;
	else
		return (cli_usage(d->c, "--mta %s: postfix, sendmail or none",
		    mta), -1);
	if (d->mta == DOC_MTA_POSTFIX && doc_user("postfix", &d->mtau) == -1)
		d->mta = DOC_MTA_NONE;
	return 0;
}

/* cmd_doctor - keyturn doctor: every check, then every finding */
int
cmd_doctor(struct cli *c, int argc, char **argv)
{
	struct doc d;
	int r;

	memset(&d, 0, sizeof(d));
	d.c = c;
	if (doc_options(&d, argc, argv) == -1)
		return CLI_USAGE;
	if (doc_conf(&d) == 0) {
		doc_keystore(&d);
		doc_socket(&d);
		doc_keys(&d);
	} else
		fprintf(stderr, "keyturn: %s has errors: fix them first, the "
		    "other checks need it\n", d.confpath);
	doc_print(&d);
	r = d.n > 0 ? CLI_FAIL : CLI_OK;
	doc_free(&d);
	return r;
}
