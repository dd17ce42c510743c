/*
 * cli_import_odk - keyturn import opendkim: OpenDKIM's setup, translated
 *
 * DESCRIPTION
 *	The reading half of keyturn import opendkim (cli_import.c runs the
 *	command). Reads opendkim.conf(5) as OpenDKIM does ("Keyword value"
 *	lines, '#' comments, Include followed, the last setting counts) and
 *	the datasets it names, and fills a struct imp: the keys of KeyTable
 *	(or of Domain, Selector and KeyFile), each read and parsed here by
 *	the invoking user, the SigningTable as keyturn rules in the order
 *	keyturn applies them, and InternalHosts in keyturn's syntax.
 *
 *	Nothing is written here and no key material leaves struct imp: what
 *	keyturn cannot reproduce is counted in im->errors, each named once
 *	on standard error as "file:line: why" (imp_err), and what it merely
 *	does not translate is a warning (imp_warn). A dataset is named by
 *	its type, never its value (a dsn: holds a password).
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cli_import.h"
#include "conf.h"
#include "signtable.h"
#include "store.h"
#include "xmalloc.h"

#define IMP_MAXLINE	8192
#define IMP_MAXDEPTH	8		/* Include nesting */

/* The keywords of enum imp_kw, as opendkim.conf spells them. */
static const char *const imp_kwnames[KW_N] = {
	"KeyTable", "SigningTable", "InternalHosts", "Domain", "Selector",
	"KeyFile", "OversignHeaders", "MultipleSignatures", "SubDomains",
	"SignatureTTL", "SignatureAlgorithm"
};

/* Keywords that run Lua scripts: keyturn runs none. */
static const char *const imp_scripts[] = {
	"ScreenPolicyScript", "SetupPolicyScript", "SignerPolicyScript",
	"FinalPolicyScript", NULL
};

/* Keywords that change what is signed and are not translated. */
static const char *const imp_ignored[] = {
	"SignHeaders", "OmitHeaders", "MTA", "MacroList", "SenderHeaders",
	NULL
};

/* Keywords that keep mail from being signed: keyturn would sign it. */
static const struct {
	const char	*kw;
	const char	*what;
} imp_unsigned[] = {
	{ "PeerList", "mail from these hosts is not signed" },
	{ "ExemptDomains", "mail from these domains is not signed" },
	{ NULL, NULL }
};

/* imp_err - one refusal, "file:line: why"; nothing will be written */
void
imp_err(struct imp *im, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "keyturn: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	im->errors++;
}

/* imp_warn - what is not translated but does not stop the import */
void
imp_warn(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "keyturn: warning: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* imp_trim - strip white space at both ends, in place */
static char *
imp_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* imp_lower - domain names are stored lowercase */
static void
imp_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* ---- opendkim.conf ---- */

/*
 * imp_lines - the line format OpenDKIM uses for its configuration and
 * its file datasets: '#' ends a line, the first word is the key, the
 * rest (trimmed) the value; -1 when the file cannot be read
 */
int
imp_lines(struct imp *im, const char *path, imp_line_fn *fn, void *arg)
{
	char *buf = NULL, *s, *v;
	size_t size = 0, len;
	ssize_t n;
	FILE *f;
	int line = 0, saved;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while ((n = getline(&buf, &size, f)) != -1) {
		line++;
		len = (size_t)n;
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (len > IMP_MAXLINE) {
			imp_err(im, path, line, "a line longer than %d bytes",
			    IMP_MAXLINE);
			continue;
		}
		if (memchr(buf, '\0', len) != NULL) {
			imp_err(im, path, line, "a NUL byte in the line");
			continue;
		}
		if ((s = strchr(buf, '#')) != NULL)
			*s = '\0';
		if (*(s = imp_trim(buf)) == '\0')
			continue;
		for (v = s; *v != '\0' && !isspace((unsigned char)*v); v++)
			;
		if (*v != '\0')
			*v++ = '\0';
		fn(im, path, line, s, imp_trim(v), arg);
	}
	saved = errno;
	if (ferror(f)) {
		fprintf(stderr, "keyturn: %s: read error: %s\n", path,
		    strerror(saved));
		im->errors++;
	}
	free(buf);
	fclose(f);
	return 0;
}

/* imp_conf_refuse - keywords whose meaning keyturn cannot take over */
static int
imp_conf_refuse(struct imp *im, const char *file, int line, const char *key,
    const char *value)
{
	size_t i;

	for (i = 0; imp_scripts[i] != NULL; i++)
		if (strcasecmp(key, imp_scripts[i]) == 0) {
			imp_err(im, file, line, "%s: a Lua policy script: "
			    "keyturn runs no scripts; express its decisions "
			    "in the SigningTable and import again",
			    imp_scripts[i]);
			return 1;
		}
	for (i = 0; imp_ignored[i] != NULL; i++)
		if (strcasecmp(key, imp_ignored[i]) == 0) {
			imp_warn(file, line, "%s is not translated (see "
			    "keyturn.conf(5) for keyturn's equivalent, if any)",
			    imp_ignored[i]);
			return 1;
		}
	for (i = 0; imp_unsigned[i].kw != NULL; i++)
		if (strcasecmp(key, imp_unsigned[i].kw) == 0) {
			imp_err(im, file, line, "%s: %s by OpenDKIM and "
			    "keyturn has no equivalent: keyturn would sign it; "
			    "remove it and import again", imp_unsigned[i].kw,
			    imp_unsigned[i].what);
			return 1;
		}
	if (strcasecmp(key, "Canonicalization") == 0 &&
	    strcasecmp(value, "relaxed/relaxed") != 0)
		imp_warn(file, line, "Canonicalization %s: keyturn signs "
		    "relaxed/relaxed", value);
	return 0;
}

/* imp_include - Include FILE: its settings as if they stood here */
static void
imp_include(struct imp *im, const char *file, int line, const char *path,
    int depth)
{
	if (depth >= IMP_MAXDEPTH) {
		imp_err(im, file, line, "Include %s: nested too deep", path);
		return;
	}
	if (imp_lines(im, path, imp_conf_line, &depth) == -1)
		imp_err(im, file, line, "Include %s: %s", path,
		    strerror(errno));
}

/* imp_conf_line - one opendkim.conf setting; the last one given counts */
void
imp_conf_line(struct imp *im, const char *file, int line, char *key,
    char *value, void *arg)
{
	int depth = arg != NULL ? *(int *)arg : 0;
	size_t i;

	if (strcasecmp(key, "Include") == 0) {
		imp_include(im, file, line, value, depth + 1);
		return;
	}
	if (imp_conf_refuse(im, file, line, key, value))
		return;
	for (i = 0; i < KW_N; i++)
		if (strcasecmp(key, imp_kwnames[i]) == 0)
			break;
	if (i == KW_N)
		return;		/* the daemon's own settings */
	free(im->set[i].value);
	free(im->set[i].file);
	im->set[i].value = xstrdup(value);
	im->set[i].file = xstrdup(file);
	im->set[i].line = line;
}

/* imp_bool - OpenDKIM's booleans */
int
imp_bool(const struct imp_set *s)
{
	return s->value != NULL && (strcasecmp(s->value, "yes") == 0 ||
	    strcasecmp(s->value, "true") == 0 || strcmp(s->value, "1") == 0 ||
	    strcasecmp(s->value, "on") == 0);
}

/* ---- datasets ---- */

enum imp_ds { DS_FILE, DS_REFILE, DS_CSL, DS_OTHER };

/* Dataset types keyturn does not read, and what to call them. */
static const struct {
	const char	*type;
	const char	*what;
} imp_foreign[] = {
	{ "ldap", "an LDAP directory" }, { "ldapi", "an LDAP directory" },
	{ "ldaps", "an LDAP directory" }, { "dsn", "an SQL database" },
	{ "mysql", "an SQL database" }, { "pgsql", "an SQL database" },
	{ "sqlite", "an SQL database" }, { "sqlite3", "an SQL database" },
	{ "odbc", "an SQL database" }, { "lua", "a Lua script" },
	{ "db", "a Berkeley DB file" }, { "mdb", "an LMDB database" },
	{ "memcache", "a memcached table" }, { "socket", "a socket dataset" },
	{ "erlang", "an Erlang node" }, { "repute", "a reputation service" },
	{ NULL, NULL }
};

/* imp_ds_type - what a dataset string names, as OpenDKIM decides it */
static enum imp_ds
imp_ds_type(const char *v, const char **rest, const char **what)
{
	const char *colon = strchr(v, ':'), *comma = strchr(v, ',');
	size_t i, n, len = strlen(v);

	*what = NULL;
	*rest = v;
	if (colon == NULL || (comma != NULL && comma < colon)) {
		if (len > 3 && strcmp(v + len - 3, ".db") == 0) {
			*what = "a Berkeley DB file";
			return DS_OTHER;
		}
		return v[0] == '/' ? DS_FILE : DS_CSL;
	}
	n = (size_t)(colon - v);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]))
			return DS_CSL;	/* "::1": a list with an address */
	*rest = colon + 1;
	if (n == 4 && strncasecmp(v, "file", 4) == 0)
		return DS_FILE;
	if (n == 6 && strncasecmp(v, "refile", 6) == 0)
		return DS_REFILE;
	if (n == 3 && strncasecmp(v, "csl", 3) == 0)
		return DS_CSL;
	for (i = 0; imp_foreign[i].type != NULL; i++)
		if (strlen(imp_foreign[i].type) == n &&
		    strncasecmp(v, imp_foreign[i].type, n) == 0)
			*what = imp_foreign[i].what;
	if (*what == NULL)
		*what = "a dataset type OpenDKIM does not know";
	return DS_OTHER;
}

/*
 * imp_ds - the dataset of a setting, refused (and named, never its
 * value: a dsn: holds a password) unless keyturn can read it
 */
static int
imp_ds(struct imp *im, enum imp_kw kw, const char **rest, enum imp_ds *t)
{
	const struct imp_set *s = &im->set[kw];
	const char *what;
	size_t n;

	*t = imp_ds_type(s->value, rest, &what);
	if (*t != DS_OTHER)
		return 0;
	n = strcspn(s->value, ":");
	if (s->value[n] == ':' && n <= 16)
		imp_err(im, s->file, s->line, "%s is %s (%.*s:): keyturn "
		    "reads files (a path, file:, refile:) and lists only; "
		    "export it to a file and import again", imp_kwnames[kw],
		    what, (int)n, s->value);
	else
		imp_err(im, s->file, s->line, "%s is %s: keyturn reads files "
		    "(a path, file:, refile:) and lists only; export it to a "
		    "file and import again", imp_kwnames[kw], what);
	return -1;
}

/* Collects the entries of a list dataset. */
struct imp_list {
	char		**v;
	char		**file;
	int		 *line;
	size_t		  n;
};

/* imp_list_add - one entry and where it was given */
static void
imp_list_add(struct imp_list *l, const char *v, const char *file, int line)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->file = xreallocarray(l->file, l->n + 1, sizeof(*l->file));
	l->line = xreallocarray(l->line, l->n + 1, sizeof(*l->line));
	l->v[l->n] = xstrdup(v);
	l->file[l->n] = xstrdup(file);
	l->line[l->n++] = line;
}

/* imp_list_free - what imp_list_add made */
static void
imp_list_free(struct imp_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i]);
		free(l->file[i]);
	}
	free(l->v);
	free(l->file);
	free(l->line);
	memset(l, 0, sizeof(*l));
}

/* imp_list_line - a file dataset used as a list: the key of each line */
static void
imp_list_line(struct imp *im, const char *file, int line, char *key,
    char *value, void *arg)
{
	(void)im;
	(void)value;
	imp_list_add(arg, key, file, line);
}

/* imp_list - the entries of a list dataset (file, refile or inline) */
static int
imp_list(struct imp *im, enum imp_kw kw, struct imp_list *l)
{
	const struct imp_set *s = &im->set[kw];
	const char *rest;
	char *copy, *tok, *sp;
	enum imp_ds t;

	memset(l, 0, sizeof(*l));
	if (imp_ds(im, kw, &rest, &t) == -1)
		return -1;
	if (t != DS_CSL) {
		if (imp_lines(im, rest, imp_list_line, l) == 0)
			return 0;
		imp_err(im, s->file, s->line, "%s %s: %s", imp_kwnames[kw],
		    rest, strerror(errno));
		return -1;
	}
	copy = xstrdup(rest);
	for (tok = strtok_r(copy, ",", &sp); tok != NULL;
	    tok = strtok_r(NULL, ",", &sp))
		if (*(tok = imp_trim(tok)) != '\0')
			imp_list_add(l, tok, s->file, s->line);
	free(copy);
	return 0;
}

/* ---- keys ---- */

/* imp_nopass - an encrypted key is refused, never prompted for */
static int
imp_nopass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * imp_read_pem - the key file into memory, read(2) only, any owner; not
 * through a symbolic link, not writable by group or others
 */
static int
imp_read_pem(struct imp_key *k, char *why, size_t whylen)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(k->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    O_NOFOLLOW)) == -1 || fstat(fd, &st) == -1) {
		if (errno == ELOOP)
			snprintf(why, whylen, "a symbolic link: name the key "
			    "file itself");
		else
			snprintf(why, whylen, "%s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > IMP_PEM_MAX) {
		snprintf(why, whylen, "%s", S_ISREG(st.st_mode) ?
		    "too large for a key file" : "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "writable by %s (mode %04o): anyone "
		    "who can write it chooses the key; chmod go-w it",
		    st.st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		imp_warn(k->file, k->line, "%s is readable by %s (mode %04o): "
		    "a private key should be mode 0600", k->path,
		    st.st_mode & S_IROTH ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777));
	k->pem = xmalloc(IMP_PEM_MAX + 1);
	while (k->pemlen < IMP_PEM_MAX && (n = read(fd, k->pem + k->pemlen,
	    IMP_PEM_MAX - k->pemlen)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "%s", strerror(errno));
			close(fd);
			return -1;
		}
		k->pemlen += n;
	}
	k->pem[k->pemlen] = '\0';
	close(fd);
	return 0;
}

/* imp_describe - algorithm, size and public key of a parsed key */
static int
imp_describe(struct imp_key *k, EVP_PKEY *pk, char *why, size_t whylen)
{
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		k->alg = STORE_ALG_RSA;
		k->bits = EVP_PKEY_get_bits(pk);
		if (k->bits < STORE_RSA_MIN || k->bits > STORE_RSA_MAX) {
			snprintf(why, whylen, "an RSA key of %d bits: keyturn "
			    "signs with %d to %d (RFC 8301)", k->bits,
			    STORE_RSA_MIN, STORE_RSA_MAX);
			return -1;
		}
		break;
	case EVP_PKEY_ED25519:
		k->alg = STORE_ALG_ED25519;
		k->bits = 256;
		break;
	default:
		snprintf(why, whylen, "neither an RSA nor an Ed25519 key");
		return -1;
	}
	return store_pkey_pub(pk, &k->spki, &k->p, why, whylen);
}

/* imp_key_load - read and parse one key file; -1 with why */
static int
imp_key_load(struct imp_key *k, char *why, size_t whylen)
{
	EVP_PKEY *pk;
	BIO *b;
	size_t n;
	int r;

	if (imp_read_pem(k, why, whylen) == -1)
		return -1;
	if (store_key_check_pem(k->path, k->pem, k->pemlen, why,
	    whylen) == -1) {
		n = strlen(k->path);
		if (strncmp(why, k->path, n) == 0 &&
		    strncmp(why + n, ": ", 2) == 0)
			memmove(why, why + n + 2, strlen(why + n + 2) + 1);
		return -1;
	}
	if ((b = BIO_new_mem_buf(k->pem, (int)k->pemlen)) == NULL)
		return snprintf(why, whylen, "out of memory"), -1;
	pk = PEM_read_bio_PrivateKey(b, NULL, imp_nopass, NULL);
	BIO_free(b);
	if (pk == NULL) {
		snprintf(why, whylen, "not an unencrypted PEM private key");
		return -1;
	}
	r = imp_describe(k, pk, why, whylen);
	EVP_PKEY_free(pk);
	return r;
}

/* imp_key_same - an earlier entry for this selector of this domain */
static int
imp_key_same(struct imp *im, struct imp_key *k)
{
	size_t i;

	for (i = 0; i < im->nkeys - 1; i++) {
		if (im->keys[i].same != 0 || im->keys[i].p == NULL ||
		    strcmp(im->keys[i].domain, k->domain) != 0 ||
		    strcasecmp(im->keys[i].selector, k->selector) != 0)
			continue;
		if (strcmp(im->keys[i].p, k->p) != 0) {
			imp_err(im, k->file, k->line, "selector %s of %s is "
			    "given another key at %s:%d", k->selector,
			    k->domain, im->keys[i].file, im->keys[i].line);
			return -1;
		}
		k->same = i + 1;
		break;
	}
	return 0;
}

/* imp_key_path - a key file OpenDKIM reads, or why keyturn refuses it */
static int
imp_key_path(struct imp *im, const char *file, int line, const char *name,
    const char *path)
{
	if (path[0] == '/')
		return 0;
	if (strncmp(path, "./", 2) == 0 || strncmp(path, "../", 3) == 0)
		imp_err(im, file, line, "key %s: %s is relative to OpenDKIM's "
		    "working directory: give the absolute path", name, path);
	else
		imp_err(im, file, line, "key %s: the private key is written "
		    "inline: keyturn imports key files; put it in a file "
		    "(mode 0600) and name the file", name);
	return -1;
}

/* imp_key_add - one key: checked, its file read and parsed */
static void
imp_key_add(struct imp *im, const char *file, int line, const char *name,
    const char *domain, const char *selector, const char *path)
{
	struct imp_key *k;
	char why[512];

	if (strcmp(domain, "%") == 0) {
		imp_err(im, file, line, "key %s: the domain \"%%\" (the "
		    "sender's) has no keyturn equivalent: give each domain "
		    "its own key line", name);
		return;
	}
	if (store_domain_valid(domain, why, sizeof(why)) == -1 ||
	    store_selector_valid(selector, why, sizeof(why)) == -1) {
		imp_err(im, file, line, "key %s: %s", name, why);
		return;
	}
	if (imp_key_path(im, file, line, name, path) == -1)
		return;
	im->keys = xreallocarray(im->keys, im->nkeys + 1, sizeof(*im->keys));
	k = &im->keys[im->nkeys++];
	memset(k, 0, sizeof(*k));
	k->name = xstrdup(name);
	k->domain = xstrdup(domain);
	imp_lower(k->domain);
	k->selector = xstrdup(selector);
	k->path = xstrdup(path);
	k->file = xstrdup(file);
	k->line = line;
	if (imp_key_load(k, why, sizeof(why)) == -1) {
		imp_err(im, file, line, "key %s: %s: %s", name, path, why);
		return;
	}
	(void)imp_key_same(im, k);
}

/* imp_keytable_line - "KEYNAME DOMAIN:SELECTOR:KEYFILE" */
static void
imp_keytable_line(struct imp *im, const char *file, int line, char *key,
    char *value, void *arg)
{
	char *sel, *path;

	(void)arg;
	if ((sel = strchr(value, ':')) == NULL ||
	    (path = strchr(sel + 1, ':')) == NULL) {
		imp_err(im, file, line, "key %s: want DOMAIN:SELECTOR:KEYFILE",
		    key);
		return;
	}
	*sel++ = '\0';
	*path++ = '\0';
	imp_key_add(im, file, line, key, imp_trim(value), imp_trim(sel),
	    imp_trim(path));
}

/* imp_keytable - every key of the KeyTable */
void
imp_keytable(struct imp *im)
{
	const struct imp_set *s = &im->set[KW_KEYTABLE];
	const char *rest;
	enum imp_ds t;
	int errors = im->errors;

	if (imp_ds(im, KW_KEYTABLE, &rest, &t) == -1)
		return;
	if (t == DS_CSL)
		imp_err(im, s->file, s->line, "KeyTable is an inline list: "
		    "keyturn reads a KeyTable file; put it in one");
	else if (imp_lines(im, rest, imp_keytable_line, NULL) == -1)
		imp_err(im, s->file, s->line, "KeyTable %s: %s", rest,
		    strerror(errno));
	else if (im->nkeys == 0 && im->errors == errors)
		imp_err(im, s->file, s->line, "KeyTable %s has no keys: "
		    "nothing to import", rest);
}

/* imp_single - Domain, Selector and KeyFile: one key for every domain */
void
imp_single(struct imp *im)
{
	const struct imp_set *d = &im->set[KW_DOMAIN];
	const struct imp_set *sel = &im->set[KW_SELECTOR];
	const struct imp_set *kf = &im->set[KW_KEYFILE];
	struct imp_list l;
	size_t i;

	if (d->value == NULL && sel->value == NULL && kf->value == NULL) {
		imp_err(im, im->conffile, 1, "no KeyTable, no Domain, Selector "
		    "and KeyFile: no key to import");
		return;
	}
	if (d->value == NULL || sel->value == NULL || kf->value == NULL) {
		imp_err(im, d->file ? d->file : sel->file ? sel->file :
		    kf->file, d->line ? d->line : sel->line ? sel->line :
		    kf->line, "without a KeyTable, Domain, Selector and KeyFile "
		    "all name the key: %s is missing", d->value == NULL ?
		    "Domain" : sel->value == NULL ? "Selector" : "KeyFile");
		return;
	}
	if (imp_list(im, KW_DOMAIN, &l) == -1)
		return;
	for (i = 0; i < l.n; i++) {
		if (strchr(l.v[i], '*') != NULL)
			imp_err(im, l.file[i], l.line[i], "Domain %s: a "
			    "pattern: keyturn needs each domain by name",
			    l.v[i]);
		else
			imp_key_add(im, kf->file, kf->line, l.v[i], l.v[i],
			    sel->value, kf->value);
	}
	imp_list_free(&l);
}

/* imp_key_find - the key of a KeyTable name, or NULL */
static struct imp_key *
imp_key_find(struct imp *im, const char *name)
{
	size_t i;

	for (i = 0; i < im->nkeys; i++)
		if (strcmp(im->keys[i].name, name) == 0)
			return &im->keys[i];
	for (i = 0; i < im->nkeys; i++)
		if (strcasecmp(im->keys[i].name, name) == 0)
			return &im->keys[i];
	return NULL;
}

/* ---- SigningTable ---- */

/* imp_catchall - a pattern for every From domain: what comes closest */
static void
imp_catchall(struct imp *im, const char *file, int line, const char *pat,
    const struct imp_key *k)
{
	imp_err(im, file, line, "\"%s\" signs every From domain with key %s "
	    "(d=%s): keyturn has no catch-all rule. The closest is the "
	    "keyturn.conf line \"PlatformDomain %s\" (printed below), which "
	    "adds a %s signature to all signed mail; remove the rule and "
	    "import again", pat, k->name, k->domain, k->domain, k->domain);
	if (im->catchall == NULL)
		im->catchall = xstrdup(k->domain);
}

/*
 * imp_glob - a refile pattern (a glob matched against user@domain) as a
 * keyturn pattern: "user@d", "d" or ".d"; NULL with why, "" for a
 * catch-all
 */
static char *
imp_glob(const char *pat, char *why, size_t whylen)
{
	const char *at, *dom;
	char *local;
	int sub = 0;

	if (strpbrk(pat, "[](){}?|^$\\") != NULL)
		return snprintf(why, whylen, "a regular expression"), NULL;
	if (strcmp(pat, "*") == 0 || strcmp(pat, "*.*") == 0)
		return xstrdup("");
	if ((at = strrchr(pat, '@')) == NULL)
		return snprintf(why, whylen, "no '@': OpenDKIM matches it "
		    "against whole addresses"), NULL;
	local = xstrndup(pat, (size_t)(at - pat));
	dom = at + 1;
	if (strcmp(local, "*") == 0 && (strcmp(dom, "*") == 0 ||
	    strcmp(dom, "*.*") == 0)) {
		free(local);
		return xstrdup("");
	}
	if (strncmp(dom, "*.", 2) == 0) {
		dom += 2;
		sub = 1;
	}
	if (strchr(dom, '*') != NULL || (strchr(local, '*') != NULL &&
	    strcmp(local, "*") != 0) || (sub && strcmp(local, "*") != 0)) {
		free(local);
		return snprintf(why, whylen, "keyturn matches a whole domain "
		    "(*@example.com), its subdomains (*@*.example.com) or one "
		    "address"), NULL;
	}
	if (strcmp(local, "*") == 0) {
		free(local);
		return xasprintf("%s%s", sub ? "." : "", dom);
	}
	free(local);
	return xstrdup(pat);
}

/*
 * imp_exact - a key of a plain SigningTable (looked up as user@host,
 * host, user@.domain, .domain, user@*, *) as a keyturn pattern; NULL
 * with why, "" for a catch-all
 */
static char *
imp_exact(const char *key, char *why, size_t whylen)
{
	const char *at = strrchr(key, '@');

	if (strcmp(key, "*") == 0)
		return xstrdup("");
	if (at != NULL && strcmp(at, "@*") == 0)
		return snprintf(why, whylen, "that user at every domain"),
		    NULL;
	if (at != NULL && at[1] == '.')
		return snprintf(why, whylen, "that user at every subdomain"),
		    NULL;
	if (strchr(key, '*') != NULL)
		return snprintf(why, whylen, "'*' is a plain character in "
		    "this table"), NULL;
	return xstrdup(key);
}

/* imp_rank - lookup order of a canonical pattern: user@d, d, .d */
static int
imp_rank(const char *pat)
{
	if (strchr(pat, '@') != NULL)
		return 0;
	return pat[0] == '.' ? 2 : 1;
}

/* imp_rule_domain - one more signing domain of a rule, once */
static void
imp_rule_domain(struct imp *im, struct imp_rule *r, const char *d)
{
	size_t i;

	for (i = 0; i < r->ndomains; i++)
		if (strcmp(r->domains[i], d) == 0)
			return;
	if (r->ndomains == SIGNTABLE_MAXDOMAINS) {
		imp_err(im, r->file, r->line, "%s: more than %d signing "
		    "domains; keyturn signs with at most %d", r->pattern,
		    SIGNTABLE_MAXDOMAINS, SIGNTABLE_MAXDOMAINS);
		return;
	}
	r->domains[r->ndomains++] = xstrdup(d);
}

/*
 * imp_rule_add - a translated rule; the same pattern again adds its
 * domain (MultipleSignatures with refile) or is never used (otherwise)
 */
static void
imp_rule_add(struct imp *im, const char *file, int line, char *pat,
    const struct imp_key *k)
{
	struct imp_rule *r;
	size_t i;

	for (i = 0; i < im->nrules; i++) {
		r = &im->rules[i];
		if (strcmp(r->pattern, pat) != 0)
			continue;
		if (im->refile && im->multisig)
			imp_rule_domain(im, r, k->domain);
		else
			imp_warn(file, line, "%s: OpenDKIM never uses this "
			    "rule (%s:%d matches first): not translated", pat,
			    r->file, r->line);
		free(pat);
		return;
	}
	im->rules = xreallocarray(im->rules, im->nrules + 1,
	    sizeof(*im->rules));
	r = &im->rules[im->nrules];
	memset(r, 0, sizeof(*r));
	r->pattern = pat;
	r->file = xstrdup(file);
	r->line = line;
	r->rank = imp_rank(pat);
	r->order = im->nrules++;
	imp_rule_domain(im, r, k->domain);
}

/* imp_sign_key - the KeyTable key a SigningTable value names */
static const struct imp_key *
imp_sign_key(struct imp *im, const char *file, int line, char *value)
{
	const struct imp_key *k;
	char *signer;

	if ((signer = strchr(value, ':')) != NULL) {
		*signer++ = '\0';
		imp_warn(file, line, "signer %s (i=) is not translated: "
		    "keyturn signs without i=", imp_trim(signer));
	}
	value = imp_trim(value);
	if (*value == '\0')
		imp_err(im, file, line, "no key name");
	else if (strcmp(value, "%") == 0)
		imp_err(im, file, line, "the key name \"%%\" (the sender's "
		    "domain): name each key");
	else if ((k = imp_key_find(im, value)) == NULL)
		imp_err(im, file, line, "key %s is not in the KeyTable",
		    value);
	else
		return k;
	return NULL;
}

/* imp_sign_line - "PATTERN KEYNAME[:SIGNER]" */
static void
imp_sign_line(struct imp *im, const char *file, int line, char *key,
    char *value, void *arg)
{
	const struct imp_key *k;
	char why[256], *pat, *canon;

	(void)arg;
	if ((k = imp_sign_key(im, file, line, value)) == NULL)
		return;
	pat = im->refile ? imp_glob(key, why, sizeof(why)) :
	    imp_exact(key, why, sizeof(why));
	if (pat == NULL) {
		imp_err(im, file, line, "\"%s\": %s: keyturn cannot express "
		    "this pattern", key, why);
		return;
	}
	if (*pat == '\0') {
		imp_catchall(im, file, line, key, k);
		free(pat);
		return;
	}
	if ((canon = table_pattern(pat, why, sizeof(why))) == NULL)
		imp_err(im, file, line, "%s", why);
	else
		imp_rule_add(im, file, line, canon, k);
	free(pat);
}

/* imp_under - is domain x strictly below domain d */
static int
imp_under(const char *x, const char *d)
{
	size_t xl = strlen(x), dl = strlen(d);

	return xl > dl && x[xl - dl - 1] == '.' && strcmp(x + xl - dl, d) == 0;
}

/* imp_contains - does every address of pattern in match pattern out */
static int
imp_contains(const char *out, const char *in)
{
	const char *at = strchr(in, '@');
	const char *dom = at != NULL ? at + 1 : in;

	if (strcmp(out, in) == 0)
		return 1;
	if (strchr(out, '@') != NULL)
		return 0;
	if (out[0] != '.')
		return at != NULL && strcmp(dom, out) == 0;
	if (dom[0] == '.')
		return strcmp(dom + 1, out + 1) == 0 || imp_under(dom + 1,
		    out + 1);
	return imp_under(dom, out + 1);
}

/* imp_labels - the labels of a pattern's domain */
static int
imp_labels(const char *p)
{
	int n = 1;

	for (; *p != '\0'; p++)
		n += *p == '.';
	return n;
}

/* imp_rule_cmp - the narrower pattern first, else the table's order */
static int
imp_rule_cmp(const void *a, const void *b)
{
	const struct imp_rule *x = a, *y = b;
	int lx = imp_labels(x->pattern), ly = imp_labels(y->pattern);

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->rank == 2 && lx != ly)
		return lx > ly ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * imp_rules_order - keyturn applies the first rule that matches. A plain
 * table is looked up narrowest first; with MultipleSignatures every
 * matching rule signs, so each rule takes the domains of the rules that
 * contain it and the narrowest comes first. A refile without
 * MultipleSignatures keeps its order: its first match wins.
 */
static void
imp_rules_order(struct imp *im)
{
	size_t i, j, k;

	if (im->multisig)
		for (i = 0; i < im->nrules; i++)
			for (j = 0; j < im->nrules; j++)
				if (i != j && imp_contains(im->rules[j].pattern,
				    im->rules[i].pattern))
					for (k = 0; k < im->rules[j].ndomains;
					    k++)
						imp_rule_domain(im,
						    &im->rules[i],
						    im->rules[j].domains[k]);
	if ((!im->refile || im->multisig) && im->nrules > 0)
		qsort(im->rules, im->nrules, sizeof(*im->rules),
		    imp_rule_cmp);
}

/* imp_signtable - the SigningTable, translated */
void
imp_signtable(struct imp *im)
{
	const struct imp_set *s = &im->set[KW_SIGNINGTABLE];
	const char *rest;
	enum imp_ds t;

	if (imp_ds(im, KW_SIGNINGTABLE, &rest, &t) == -1)
		return;
	im->refile = t == DS_REFILE;
	if (t == DS_CSL)
		imp_err(im, s->file, s->line, "SigningTable is an inline "
		    "list: put it in a file");
	else if (imp_lines(im, rest, imp_sign_line, NULL) == -1)
		imp_err(im, s->file, s->line, "SigningTable %s: %s", rest,
		    strerror(errno));
	else
		imp_rules_order(im);
}

/* ---- InternalHosts, OversignHeaders ---- */

/* imp_mask - a dotted netmask as a prefix length, -1 if not contiguous */
static int
imp_mask(const char *m)
{
	struct conf_net n;
	uint32_t v;
	int bits = 0;

	if (conf_net_parse(m, &n) == -1 || n.family != AF_INET ||
	    strchr(m, '/') != NULL)
		return -1;
	v = (uint32_t)n.addr[0] << 24 | (uint32_t)n.addr[1] << 16 |
	    (uint32_t)n.addr[2] << 8 | n.addr[3];
	while (v & 0x80000000u) {
		bits++;
		v <<= 1;
	}
	return v == 0 ? bits : -1;
}

/* imp_host - one InternalHosts entry in keyturn's syntax, or NULL */
static char *
imp_host(const char *e)
{
	struct conf_net n;
	char *s = xstrdup(e), *a = s, *slash, *out = NULL;
	size_t len;
	int bits;

	if (a[0] == '[' && (slash = strchr(a, ']')) != NULL) {
		len = strlen(slash + 1);
		memmove(slash, slash + 1, len + 1);
		a++;
	}
	if ((slash = strchr(a, '/')) != NULL && strchr(slash, '.') != NULL &&
	    (bits = imp_mask(slash + 1)) != -1)
		snprintf(slash + 1, strlen(slash + 1) + 1, "%d", bits);
	if (conf_net_parse(a, &n) == 0)
		out = xstrdup(a);
	free(s);
	return out;
}

/* imp_hosts - InternalHosts: addresses and blocks; names are warned of */
void
imp_hosts(struct imp *im)
{
	struct imp_list l;
	size_t i, len = 0;
	char *h;

	if (imp_list(im, KW_INTERNALHOSTS, &l) == -1)
		return;
	im->hosts = xstrdup("");
	for (i = 0; i < l.n; i++) {
		if (l.v[i][0] == '!') {
			imp_err(im, l.file[i], l.line[i], "%s: keyturn has "
			    "no exclusions: mail from it would be signed if "
			    "another entry covers it; list the hosts to sign "
			    "without it and import again", l.v[i]);
			continue;
		}
		if ((h = imp_host(l.v[i])) == NULL) {
			imp_warn(l.file[i], l.line[i], "%s: not an address "
			    "or CIDR block: not translated (keyturn matches "
			    "client addresses only)", l.v[i]);
			continue;
		}
		len += strlen(h) + 1;
		im->hosts = xreallocarray(im->hosts, len + 1, 1);
		if (im->nhosts++ > 0)
			strlcat(im->hosts, " ", len + 1);
		strlcat(im->hosts, h, len + 1);
		free(h);
	}
	imp_list_free(&l);
}
