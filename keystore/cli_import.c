/*
 * cli_import - keyturn import opendkim: an OpenDKIM signer as a keystore
 *
 * SYNOPSIS
 *	keyturn import opendkim OPENDKIM.CONF [--signing-table FILE]
 *	    [--dry-run]
 *
 * DESCRIPTION
 *	Reads opendkim.conf(5) ("Keyword value" lines, '#' comments,
 *	Include followed) and its datasets, and translates what keyturn can
 *	reproduce: the keys of KeyTable (or of Domain, Selector and KeyFile),
 *	SigningTable, InternalHosts, OversignHeaders, SignatureTTL and, for
 *	a single-key setup, SubDomains. Every key is imported under its own
 *	selector; a key whose record every authoritative nameserver already
 *	serves (the rotation's propagation check, keyturn.conf's DNS
 *	settings) is active at once, any other stays pending for the
 *	rotation. The translated SigningTable is written to FILE, and the
 *	keyturn.conf(5) lines of the setup are printed on standard output,
 *	which as a whole is a keyturn.conf fragment ('#' lines report).
 *
 *	Nothing is written unless everything translates: datasets keyturn
 *	cannot read (LDAP, SQL, Lua, Berkeley DB, ...), Lua policy scripts,
 *	inline key data, keys that fail the key-pair check, key files
 *	through a symbolic link or writable by group or others, what would
 *	sign mail OpenDKIM did not (an InternalHosts exclusion, PeerList,
 *	ExemptDomains), patterns keyturn cannot express and a catch-all
 *	SigningTable rule (its closest keyturn equivalent, a PlatformDomain
 *	line, is printed) are named as "file:line: why" and refused. What is
 *	read, checked and asked of DNS comes first, then the keystore is
 *	written (a write that fails midway removes the domains it added),
 *	then the SigningTable file.
 *
 *	Key files are read by the invoking user (root can read OpenDKIM's
 *	keys); the keystore is written by a child process that becomes the
 *	keystore's owner (cli_open); the SigningTable file is written by the
 *	invoking user once the child succeeded.
 *
 *	This file runs the command on what cli_import_odk.c read and
 *	translated (cli_import.h): DNS, the keystore, the SigningTable file
 *	and the keyturn.conf lines.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "adapt.h"
#include "cli.h"
#include "cli_import.h"
#include "propagate.h"
#include "rotation.h"
#include "store.h"
#include "xmalloc.h"

/* ---- DNS ---- */

/* imp_verdict - what DNS said of a key about to be imported */
static const char *
imp_verdict(enum prop_verdict v)
{
	switch (v) {
	case PROP_V_PUBLISHED:
		return "served by every nameserver";
	case PROP_V_PARTIAL:
		return "some nameservers did not answer";
	case PROP_V_MISMATCH:
		return "a nameserver serves another key";
	case PROP_V_ABSENT:
	case PROP_V_REVOKED:
		return "not published";
	default:
		return "no nameserver answered";
	}
}

/* imp_dns_one - is this key served by every authoritative address */
static void
imp_dns_one(const struct rot_config *cf, struct imp_key *k)
{
	struct store_key sk;
	struct prop_query q;
	struct prop_result res;
	char err[256];

	memset(&sk, 0, sizeof(sk));
	strlcpy(sk.selector, k->selector, sizeof(sk.selector));
	sk.alg = k->alg;
	sk.p = k->p;
	if (adapt_query(k->domain, &sk, &q, err, sizeof(err)) == -1) {
		k->dns = xstrdup(err);
		return;
	}
	memset(&res, 0, sizeof(res));
	if (prop_check(&q, &cf->dns, &res) == -1 && res.nobs == 0)
		k->dns = xasprintf("not checked: %s", res.error ? res.error :
		    "no nameserver could be asked");
	else {
		k->served = res.published;
		k->dns = xstrdup(imp_verdict(res.verdict));
		if (res.verdict == PROP_V_MISMATCH)
			imp_warn(k->file, k->line, "a nameserver serves "
			    "another key for %s._domainkey.%s (keyturn check "
			    "%s shows which)", k->selector, k->domain,
			    k->domain);
	}
	prop_result_free(&res);
	adapt_query_free(&q);
}

/* imp_dns - ask DNS about every key, as the rotation would */
static int
imp_dns(struct cli *c, struct imp *im)
{
	struct rot_config cf;
	struct kt_conf *conf;
	size_t i;

	if ((conf = cli_conf(c)) == NULL)
		return CLI_FAIL;
	rot_config_init(&cf, conf);
	for (i = 0; i < im->nkeys; i++)
		if (im->keys[i].same == 0)
			imp_dns_one(&cf, &im->keys[i]);
	return CLI_OK;
}

/* ---- the keystore (a child process: cli_open may drop privileges) ---- */

/* imp_was_used - did the domain's history ever name this selector */
static int
imp_was_used(struct store *s, const char *domain, const char *sel,
    char *err, size_t errlen)
{
	struct store_event *ev;
	size_t n, i;
	int r;

	if ((r = store_history_load(s, domain, &ev, &n, err, errlen)) == -2)
		return 0;
	if (r != 0)
		return -1;
	for (i = 0, r = 0; i < n && !r; i++)
		r = strcasecmp(ev[i].selector, sel) == 0;
	store_history_free(ev, n);
	return r;
}

/* imp_check_key - a key against its domain as the keystore has it */
static void
imp_check_key(struct imp *im, struct store *s, const struct store_domain *d,
    struct imp_key *k)
{
	const struct store_key *sk;
	char err[1024];
	int used;

	if (d != NULL && (sk = store_domain_key(d, k->selector)) != NULL) {
		if (sk->p != NULL && strcmp(sk->p, k->p) == 0)
			k->skip = 1;
		else
			imp_err(im, k->file, k->line, "selector %s of %s is "
			    "another key in the keystore", k->selector,
			    k->domain);
		return;
	}
	if ((used = imp_was_used(s, k->domain, k->selector, err,
	    sizeof(err))) == -1)
		imp_err(im, k->file, k->line, "%s", err);
	else if (used)
		imp_err(im, k->file, k->line, "selector %s of %s was used "
		    "before (keyturn history %s): a selector is never reused",
		    k->selector, k->domain, k->domain);
	else if (d != NULL && !(d->policy.algs & STORE_ALGBIT(k->alg)))
		imp_err(im, k->file, k->line, "%s does not sign with %s: "
		    "keyturn domain set %s --algorithms rsa,ed25519, then "
		    "import again", k->domain, store_alg_name(k->alg),
		    k->domain);
}

/* imp_check_limit - new active keys fit beside the domain's own */
static void
imp_check_limit(struct imp *im, const struct store_domain *d,
    const struct imp_key *k)
{
	const char *domain = k->domain;
	size_t i;
	int a, n;

	for (a = 0; a < STORE_NALGS; a++) {
		n = d != NULL ? store_domain_count(d, a, STORE_ACTIVE) : 0;
		for (i = 0; i < im->nkeys; i++)
			if (im->keys[i].same == 0 && !im->keys[i].skip &&
			    im->keys[i].served && im->keys[i].alg ==
			    (enum store_alg)a &&
			    strcmp(im->keys[i].domain, domain) == 0)
				n++;
		if (n > STORE_MAX_ACTIVE)
			imp_err(im, k->file, k->line, "%s would have %d active "
			    "%s keys; at most %d sign: retire some first",
			    domain, n, store_alg_name(a), STORE_MAX_ACTIVE);
	}
}

/* imp_first - is k the first new key of its domain in the list */
static int
imp_first(const struct imp *im, const struct imp_key *k)
{
	size_t i;

	for (i = 0; &im->keys[i] != k; i++)
		if (im->keys[i].same == 0 &&
		    strcmp(im->keys[i].domain, k->domain) == 0)
			return 0;
	return 1;
}

/* imp_check - every key against the keystore, before anything is written */
static void
imp_check(struct imp *im, struct store *s)
{
	struct store_domain *d;
	char err[1024];
	size_t i;

	for (i = 0; i < im->nkeys; i++) {
		if (im->keys[i].same != 0)
			continue;
		d = store_domain_load(s, im->keys[i].domain, 0, err,
		    sizeof(err));
		imp_check_key(im, s, d, &im->keys[i]);
		if (imp_first(im, &im->keys[i]))
			imp_check_limit(im, d, &im->keys[i]);
		store_domain_free(d);
	}
}

/* imp_policy - a new domain: the algorithms and RSA size of its keys */
static void
imp_policy(const struct imp *im, const char *domain, struct store_policy *p)
{
	size_t i;
	int n[STORE_NALGS] = { 0, 0 };

	store_policy_default(p);
	p->algs = 0;
	for (i = 0; i < im->nkeys; i++) {
		if (im->keys[i].same != 0 ||
		    strcmp(im->keys[i].domain, domain) != 0)
			continue;
		if (!(p->algs & STORE_ALGBIT(im->keys[i].alg)) &&
		    im->keys[i].alg == STORE_ALG_RSA)
			p->bits = im->keys[i].bits;
		p->algs |= STORE_ALGBIT(im->keys[i].alg);
		n[im->keys[i].alg] += im->keys[i].served;
	}
	p->active_keys = n[0] > n[1] ? n[0] : n[1];
	if (p->active_keys < 1)
		p->active_keys = 1;
}

/* imp_domain - add the key's domain when the keystore lacks it; *added */
static int
imp_domain(struct cli *c, struct imp *im, struct store *s,
    const struct imp_key *k, int dry, int *added)
{
	struct store_domain *d;
	struct store_policy p;
	char err[1024];

	if ((d = store_domain_load(s, k->domain, 0, err, sizeof(err))) !=
	    NULL) {
		store_domain_free(d);
		return 0;
	}
	imp_policy(im, k->domain, &p);
	if (!dry && store_domain_add(s, k->domain, &p, c->now, err,
	    sizeof(err)) == -1)
		return cli_fail("%s", err), -1;
	*added = 1;
	printf("# %s: domain %s (algorithms %s)\n", k->domain, dry ?
	    "would be added" : "added", store_algs_name(p.algs));
	return 0;
}

/* imp_say - what happened to one key, as a comment line */
static void
imp_say(const struct imp_key *k, int dry)
{
	if (k->skip)
		printf("# %s: key %s already in the keystore\n", k->domain,
		    k->selector);
	else if (k->served)
		printf("# %s: key %s (%s %d) %s active: served by every "
		    "nameserver\n", k->domain, k->selector,
		    store_alg_name(k->alg), k->bits, dry ? "would be" : "is");
	else
		printf("# %s: key %s (%s %d) %s pending (dns: %s): the "
		    "rotation activates it once every nameserver serves it "
		    "(keyturn dns %s)\n", k->domain, k->selector,
		    store_alg_name(k->alg), k->bits, dry ? "would be" : "is",
		    k->dns ? k->dns : "-", k->domain);
}

/* imp_write_key - import one key; active at once when DNS serves it */
static int
imp_write_key(struct cli *c, struct store *s, const struct imp_key *k)
{
	struct store_change ch;
	char err[1024], reason[256];

	snprintf(reason, sizeof(reason), "import: OpenDKIM key %s (%s:%d)",
	    k->name, k->file, k->line);
	if (store_key_import_pem(s, k->domain, k->selector, k->path, k->pem,
	    k->pemlen, c->now, reason, err, sizeof(err)) == -1)
		return cli_fail("%s", err), -1;
	if (!k->served)
		return 0;
	ch = (struct store_change){ k->selector, STORE_PENDING, STORE_ACTIVE,
	    "import: served by every nameserver" };
	if (store_apply(s, k->domain, &ch, 1, c->now, STORE_FORCE, err,
	    sizeof(err)) == -1)
		return cli_fail("%s (key %s of %s stays pending)", err,
		    k->selector, k->domain), -1;
	return 0;
}

/*
 * imp_unsigned - a domain left without an active key: keyturnd
 * tempfails its mail (OnError) until the rotation activates one
 */
static void
imp_unsigned(const struct imp *im, struct store *s, const char *domain,
    int dry)
{
	struct store_domain *d;
	char err[1024];
	size_t i;
	int n = 0;

	for (i = 0; i < im->nkeys; i++)
		if (strcmp(im->keys[i].domain, domain) == 0)
			n += im->keys[i].served;
	if (n == 0 && (d = store_domain_load(s, domain, 0, err,
	    sizeof(err))) != NULL) {
		for (i = 0; i < d->nkeys; i++)
			n += d->keys[i].state == STORE_ACTIVE;
		store_domain_free(d);
	}
	if (n == 0)
		fprintf(stderr, "keyturn: warning: %s %s no active key: "
		    "keyturnd tempfails its mail until its record is served "
		    "and the rotation activates the key (or keyturn activate "
		    "--force)\n", domain, dry ? "would have" : "has");
}

/* imp_undo - a failed write: remove the domains this run added */
static void
imp_undo(struct cli *c, struct imp *im, struct store *s, const int *added)
{
	char err[1024];
	size_t i;

	for (i = 0; i < im->nkeys; i++) {
		if (!added[i])
			continue;
		if (store_domain_remove(s, im->keys[i].domain, 1, c->now, err,
		    sizeof(err)) == -1)
			fprintf(stderr, "keyturn: %s: added by this import, "
			    "not removed: %s\n", im->keys[i].domain, err);
		else
			fprintf(stderr, "keyturn: %s: added by this import, "
			    "removed again\n", im->keys[i].domain);
	}
}

/*
 * imp_write - domain by domain, its keys; at the first failure the
 * domains this run added are removed again
 */
static int
imp_write(struct cli *c, struct imp *im, struct store *s, int dry)
{
	struct imp_key *k;
	size_t i, j;
	int *added;

	added = xcalloc(im->nkeys ? im->nkeys : 1, sizeof(*added));
	for (i = 0; i < im->nkeys; i++) {
		if (im->keys[i].same != 0 || !imp_first(im, &im->keys[i]))
			continue;
		if (imp_domain(c, im, s, &im->keys[i], dry, &added[i]) == -1)
			goto fail;
		for (j = i; j < im->nkeys; j++) {
			k = &im->keys[j];
			if (k->same != 0 ||
			    strcmp(k->domain, im->keys[i].domain) != 0)
				continue;
			if (!dry && !k->skip && imp_write_key(c, s, k) == -1)
				goto fail;
			imp_say(k, dry);
		}
		imp_unsigned(im, s, im->keys[i].domain, dry);
	}
	free(added);
	return CLI_OK;
fail:
	if (!dry)
		imp_undo(c, im, s, added);
	free(added);
	return CLI_FAIL;
}

/* imp_keystore - the child: check, then write (or only say, dry) */
static int
imp_keystore(struct cli *c, struct imp *im, int dry)
{
	struct store *s;
	int r;

	if ((s = cli_open(c, dry)) == NULL)
		return CLI_FAIL;
	imp_check(im, s);
	if (im->errors > 0)
		r = cli_fail("nothing written: fix the %d error%s above",
		    im->errors, im->errors > 1 ? "s" : "");
	else
		r = imp_write(c, im, s, dry);
	store_close(s);
	return r;
}

/* imp_child - the keystore part in a process of its own */
static int
imp_child(struct cli *c, struct imp *im, int dry)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return cli_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		st = imp_keystore(c, im, dry);
		fflush(stdout);
		fflush(stderr);
		_exit(st);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return cli_fail("waitpid: %s", strerror(errno));
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return cli_fail("the keystore writer died (signal %d)",
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* ---- the SigningTable file ---- */

/* imp_table_text - the translated table, the same for the same input */
static char *
imp_table_text(const struct imp *im)
{
	const struct imp_set *s = &im->set[KW_SIGNINGTABLE];
	char *t, *line, *o;
	size_t i, j;

	t = xasprintf("# SigningTable translated from OpenDKIM's %s by "
	    "keyturn import opendkim\n# first match wins: PATTERN "
	    "DOMAIN[,DOMAIN...]\n", s->value);
	for (i = 0; i < im->nrules; i++) {
		line = xstrdup(im->rules[i].pattern);
		for (j = 0; j < im->rules[i].ndomains; j++) {
			o = line;
			line = xasprintf("%s%s%s", o, j ? "," : " ",
			    im->rules[i].domains[j]);
			free(o);
		}
		o = t;
		t = xasprintf("%s%s\n", o, line);
		free(o);
		free(line);
	}
	return t;
}

/* imp_table_same - does FILE exist with this text; -1 when it differs */
static int
imp_table_same(const char *path, const char *text)
{
	char *buf;
	size_t len = strlen(text), n;
	FILE *f;
	int r;

	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	buf = xmalloc(len + 2);
	n = fread(buf, 1, len + 1, f);
	r = n == len && memcmp(buf, text, len) == 0 ? 1 : -1;
	fclose(f);
	free(buf);
	return r;
}

/* imp_table_tmp - the new table next to FILE, renamed at the very end */
static int
imp_table_tmp(struct imp *im)
{
	size_t len = strlen(im->tabletext);
	int fd;

	im->tabletmp = xasprintf("%s.XXXXXX", im->table);
	if ((fd = mkstemp(im->tabletmp)) == -1) {
		cli_fail("%s: %s", im->tabletmp, strerror(errno));
		free(im->tabletmp);
		im->tabletmp = NULL;
		return -1;
	}
	if (fchmod(fd, 0644) == -1 || write(fd, im->tabletext, len) !=
	    (ssize_t)len || fsync(fd) == -1) {
		cli_fail("%s: %s", im->tabletmp, strerror(errno));
		close(fd);
		unlink(im->tabletmp);
		return -1;
	}
	close(fd);
	return 0;
}

/* imp_table - check FILE and stage the new table (not when dry) */
static int
imp_table(struct cli *c, struct imp *im, int dry)
{
	int same;

	if (im->nrules == 0)
		return CLI_OK;
	if (im->table == NULL)
		return cli_usage(c, "the SigningTable has %zu rule%s: name the "
		    "file to write it to with --signing-table FILE",
		    im->nrules, im->nrules > 1 ? "s" : "");
	im->tabletext = imp_table_text(im);
	if ((same = imp_table_same(im->table, im->tabletext)) == -1)
		return cli_fail("%s exists and says something else: refused "
		    "(remove it, or name another --signing-table)", im->table);
	im->tablesame = same;
	if (dry || same)
		return CLI_OK;
	return imp_table_tmp(im) == -1 ? CLI_FAIL : CLI_OK;
}

/* ---- the command ---- */

/* imp_abspath - keyturn.conf names files by absolute paths */
static char *
imp_abspath(const char *p)
{
	char cwd[PATH_MAX];

	if (p[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(p);
	return xasprintf("%s/%s", cwd, p);
}

/*
 * imp_fallback - keyturnd signs mail From a keystore domain that no rule
 * matches with that domain's keys; OpenDKIM signed only what its
 * SigningTable matched. Say so for each domain without a rule of its own.
 */
static void
imp_fallback(const struct imp *im)
{
	const struct imp_key *k;
	size_t i, j;

	for (i = 0; i < im->nkeys; i++) {
		k = &im->keys[i];
		if (k->same != 0 || !imp_first(im, k))
			continue;
		for (j = 0; j < im->nrules; j++)
			if (strcmp(im->rules[j].pattern, k->domain) == 0)
				break;
		if (j == im->nrules)
			imp_warn(k->file, k->line, "no SigningTable rule for "
			    "every address at %s: keyturnd signs all its mail "
			    "with its own keys, OpenDKIM did not", k->domain);
	}
}

/* imp_read - opendkim.conf and everything it names, translated */
static int
imp_read(struct imp *im)
{
	if (imp_lines(im, im->conffile, imp_conf_line, NULL) == -1)
		return cli_fail("%s: %s", im->conffile, strerror(errno));
	im->multisig = imp_bool(&im->set[KW_MULTISIG]);
	if (im->set[KW_KEYTABLE].value != NULL)
		imp_keytable(im);
	else
		imp_single(im);
	if (im->set[KW_SIGNINGTABLE].value != NULL)
		imp_signtable(im);
	else if (im->set[KW_KEYTABLE].value != NULL)
		imp_warn(im->set[KW_KEYTABLE].file, im->set[KW_KEYTABLE].line,
		    "a KeyTable without a SigningTable: each key signs its "
		    "own domain's mail");
	if (im->set[KW_INTERNALHOSTS].value != NULL)
		imp_hosts(im);
	if (im->set[KW_SIGNINGTABLE].value != NULL && im->errors == 0)
		imp_fallback(im);
	return CLI_OK;
}

/* imp_conf_sigttl - SignatureTTL seconds as a keyturn duration */
static void
imp_conf_sigttl(const struct imp_set *s)
{
	const char *errstr = NULL;
	long long v;

	if (s->value == NULL)
		return;
	v = strtonum(s->value, 0, 3650 * 86400LL, &errstr);
	if (errstr != NULL)
		imp_warn(s->file, s->line, "SignatureTTL %s: %s: not "
		    "translated", s->value, errstr);
	else if (v > 0)
		printf("SignatureTTL %llds\n", v);
}

/*
 * imp_conf_alg - OpenDKIM signs with one algorithm (SignatureAlgorithm,
 * default rsa-sha256) whatever its keys; keyturnd signs with every
 * algorithm a domain has keys of, so Algorithms is printed when a key of
 * the other algorithm was imported
 */
static void
imp_conf_alg(const struct imp *im)
{
	const struct imp_set *s = &im->set[KW_SIGALG];
	enum store_alg alg = STORE_ALG_RSA;
	size_t i;
	int other = 0;

	if (s->value != NULL && strcasecmp(s->value, "ed25519-sha256") == 0)
		alg = STORE_ALG_ED25519;
	else if (s->value != NULL && strcasecmp(s->value, "rsa-sha1") == 0)
		imp_warn(s->file, s->line, "rsa-sha1: keyturn signs "
		    "rsa-sha256 (RFC 8301)");
	else if (s->value != NULL && strcasecmp(s->value, "rsa-sha256") != 0)
		imp_warn(s->file, s->line, "SignatureAlgorithm %s: not "
		    "translated", s->value);
	for (i = 0; i < im->nkeys; i++)
		if (im->keys[i].same == 0 && im->keys[i].alg != alg) {
			imp_warn(im->keys[i].file, im->keys[i].line, "key %s "
			    "is %s: OpenDKIM signs %s only; imported, and "
			    "Algorithms %s keeps it from signing",
			    im->keys[i].name, store_alg_name(im->keys[i].alg),
			    store_alg_name(alg), store_alg_name(alg));
			other = 1;
		}
	if (other)
		printf("Algorithms %s\n", store_alg_name(alg));
}

/* imp_conf_lines - the keyturn.conf lines of this setup */
static void
imp_conf_lines(const struct imp *im)
{
	const struct imp_set *o = &im->set[KW_OVERSIGN];
	char *h, *p, *sp;
	int n;

	printf("# keyturn.conf lines for this setup:\n");
	if (im->nrules > 0)
		printf("SigningTable %s\n", im->table);
	if (im->nhosts > 0)
		printf("InternalHosts %s\n", im->hosts);
	else if (im->set[KW_INTERNALHOSTS].value == NULL)
		printf("# InternalHosts: OpenDKIM's default (127.0.0.1) is "
		    "within keyturn's (127.0.0.1 ::1)\n");
	if (o->value != NULL) {
		h = xstrdup(o->value);
		printf("OversignHeaders ");
		for (p = strtok_r(h, ", \t", &sp), n = 0; p != NULL;
		    p = strtok_r(NULL, ", \t", &sp))
			printf("%s%s", n++ ? "," : "", p);
		printf("\n");
		free(h);
	}
	if (im->set[KW_KEYTABLE].value == NULL &&
	    imp_bool(&im->set[KW_SUBDOMAINS]))
		printf("SubDomains yes\n");
	imp_conf_sigttl(&im->set[KW_SIGTTL]);
	imp_conf_alg(im);
}

/* imp_free - everything an import holds; key material wiped */
static void
imp_free(struct imp *im)
{
	size_t i, j;

	for (i = 0; i < KW_N; i++) {
		free(im->set[i].value);
		free(im->set[i].file);
	}
	for (i = 0; i < im->nkeys; i++) {
		if (im->keys[i].pem != NULL)
			freezero(im->keys[i].pem, IMP_PEM_MAX + 1);
		free(im->keys[i].name);
		free(im->keys[i].domain);
		free(im->keys[i].selector);
		free(im->keys[i].path);
		free(im->keys[i].file);
		free(im->keys[i].spki);
		free(im->keys[i].p);
		free(im->keys[i].dns);
	}
	free(im->keys);
	for (i = 0; i < im->nrules; i++) {
		free(im->rules[i].pattern);
		free(im->rules[i].file);
		for (j = 0; j < im->rules[i].ndomains; j++)
			free(im->rules[i].domains[j]);
	}
	free(im->rules);
	free(im->hosts);
	free(im->catchall);
	free(im->table);
	free(im->tabletext);
	free(im->tabletmp);
}

/* imp_refused - the verdict when anything did not translate */
static int
imp_refused(struct imp *im)
{
	if (im->catchall != NULL)
		printf("# the closest keyturn.conf line to the catch-all "
		    "rule:\nPlatformDomain %s\n", im->catchall);
	return cli_fail("%s: nothing written: fix the %d error%s above and "
	    "import again", im->conffile, im->errors, im->errors > 1 ? "s" :
	    "");
}

/* imp_finish - the staged table into place, then the conf lines */
static int
imp_finish(struct imp *im, int r, int dry)
{
	if (im->tabletmp != NULL && r != CLI_OK)
		unlink(im->tabletmp);
	if (r != CLI_OK)
		return r;
	if (im->tabletmp != NULL && rename(im->tabletmp, im->table) == -1) {
		unlink(im->tabletmp);
		return cli_fail("%s: %s: the keystore is written; write the "
		    "table yourself:\n%s", im->table, strerror(errno),
		    im->tabletext);
	}
	if (im->nrules > 0)
		printf("# %s: %s\n", im->table, dry ? "would be written" :
		    im->tablesame ? "unchanged" : "written");
	imp_conf_lines(im);
	if (dry)
		printf("# --dry-run: nothing written\n");
	return CLI_OK;
}

/*
 * cmd_import_opendkim - keyturn import opendkim OPENDKIM.CONF
 * [--signing-table FILE] [--dry-run]
 */
int
cmd_import_opendkim(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "signing-table", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	struct imp im;
	int ch, dry = 0, r;

	memset(&im, 0, sizeof(im));
	while ((ch = cli_getopt(c, argc, argv, "nt:", opts, NULL)) != -1) {
		if (ch == 'n')
			dry = 1;
		else if (ch == 't') {
			free(im.table);
			im.table = imp_abspath(optarg);
		} else {
			free(im.table);
			return CLI_USAGE;
		}
	}
	if (optind != argc - 1) {
		free(im.table);
		return cli_usage(c, "expected one OPENDKIM.CONF");
	}
	im.conffile = argv[optind];
	printf("# keyturn import opendkim %s%s\n", im.conffile, dry ?
	    " --dry-run" : "");
	if ((r = imp_read(&im)) == CLI_OK && im.errors > 0)
		r = imp_refused(&im);
	if (r == CLI_OK && (r = imp_table(c, &im, dry)) == CLI_OK &&
	    (r = imp_dns(c, &im)) == CLI_OK)
		r = imp_finish(&im, imp_child(c, &im, dry), dry);
	else if (im.tabletmp != NULL)
		unlink(im.tabletmp);
	imp_free(&im);
	return r;
}
