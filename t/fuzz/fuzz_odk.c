/*
 * fuzz_odk - OpenDKIM's configuration as keyturn import opendkim reads
 * it (keystore/cli_import_odk.c: opendkim.conf, Include, KeyTable,
 * SigningTable, InternalHosts; libFuzzer entry)
 *
 * cli_import_odk.c is in the keyturn binary only: it is compiled in here,
 * with its fopen(3) and open(2) given a root of their own, the scratch
 * directory: a name the files use (absolute, or relative to the root)
 * is looked up under it, ".." and anything that is not a regular file
 * there do not exist, so no input reads the host's files or waits on a
 * device. The root holds the input's files and fixed test keys:
 *	/etc/opendkim/opendkim.conf	the input up to the first separator
 *	/etc/opendkim/KeyTable		then each part, "\n=====\n" between
 *	/etc/opendkim/SigningTable
 *	/etc/opendkim/TrustedHosts
 *	/etc/opendkim/include.conf
 *	/etc/opendkim/keys/{rsa,ed,shared,writable,junk}.private
 * and the directory /etc/opendkim/keys/dir. The import's reading half
 * runs as cli_import.c's imp_read runs it (copied here: it is static
 * there). Properties: what the import would write loads in keyturnd,
 * the SigningTable (signtable_load) and the keyturn.conf lines printed for
 * InternalHosts (both when the import has no errors) and PlatformDomain
 * (printed for a refused catch-all rule; conf_load).
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

#include "fuzz_keys.h"
#include "fuzz_util.h"

static char *fuzz_root;

/* fuzz_map - a file name of the import, under the root; NULL: none */
static char *
fuzz_map(const char *path)
{
	char *p;

	if (strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 ||
	    strstr(path, "/../") != NULL || (strlen(path) >= 3 &&
	    strcmp(path + strlen(path) - 3, "/..") == 0))
		return NULL;
	if (asprintf(&p, "%s%s%s", fuzz_root, path[0] == '/' ? "" : "/",
	    path) == -1)
		abort();
	return p;
}

/* fuzz_fopen - fopen(3) of a regular file under the root */
static FILE *
fuzz_fopen(const char *path, const char *mode)
{
	struct stat st;
	char *p = fuzz_map(path);
	FILE *f = NULL;

	if (p == NULL || stat(p, &st) == -1 || !S_ISREG(st.st_mode))
		errno = ENOENT;
	else
		f = fopen(p, mode);
	free(p);
	return f;
}

/* fuzz_open - open(2) under the root (the key files: never created) */
static int
fuzz_open(const char *path, int flags, ...)
{
	char *p = fuzz_map(path);
	int fd = -1;

	if (p == NULL)
		errno = ENOENT;
	else
		fd = open(p, flags & ~O_CREAT);
	free(p);
	return fd;
}

#define fopen	fuzz_fopen
#define open	fuzz_open
#include "cli_import_odk.c"
#undef fopen
#undef open

static const char *fuzz_files[] = { "opendkim.conf", "KeyTable",
    "SigningTable", "TrustedHosts", "include.conf" };
#define FUZZ_NFILES	(sizeof(fuzz_files) / sizeof(fuzz_files[0]))
static char *fuzz_etc, *fuzz_check;

/* fuzz_key - one key file under /etc/opendkim/keys */
static void
fuzz_key(const char *name, const char *pem, mode_t mode)
{
	char *p;

	if (asprintf(&p, "%s/keys/%s", fuzz_etc, name) == -1)
		abort();
	fz_write(p, pem, strlen(pem), mode);
	free(p);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *p;

	(void)argc;
	(void)argv;
	fuzz_root = fz_path("root", NULL);
	fz_mkdir(fuzz_root);
	p = fz_path("root", "etc");
	fz_mkdir(p);
	free(p);
	fuzz_etc = fz_path("root", "etc/opendkim");
	fz_mkdir(fuzz_etc);
	if (asprintf(&p, "%s/keys", fuzz_etc) == -1)
		abort();
	fz_mkdir(p);
	free(p);
	if (asprintf(&p, "%s/keys/dir", fuzz_etc) == -1)
		abort();
	fz_mkdir(p);
	free(p);
	fuzz_key("rsa.private", fuzz_rsa, 0600);
	fuzz_key("ed.private", fuzz_ed, 0600);
	fuzz_key("shared.private", fuzz_ed, 0640);
	fuzz_key("writable.private", fuzz_rsa, 0620);
	fuzz_key("junk.private", "-----BEGIN PRIVATE KEY-----\nAAAA\n", 0600);
	fuzz_check = fz_path("check", NULL);
	return 0;
}

/* fuzz_imp_read - cli_import.c's imp_read, less its fallback warnings */
static void
fuzz_imp_read(struct imp *im)
{
	if (imp_lines(im, im->conffile, imp_conf_line, NULL) == -1)
		abort();	/* the harness wrote it */
	im->multisig = imp_bool(&im->set[KW_MULTISIG]);
	if (im->set[KW_KEYTABLE].value != NULL)
		imp_keytable(im);
	else
		imp_single(im);
	if (im->set[KW_SIGNINGTABLE].value != NULL)
		imp_signtable(im);
	if (im->set[KW_INTERNALHOSTS].value != NULL)
		imp_hosts(im);
}

/* fuzz_imp_free - cli_import.c's imp_free (static there) */
static void
fuzz_imp_free(struct imp *im)
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
}

/* fuzz_table_text - the rules as cli_import.c's imp_table_text writes them */
static char *
fuzz_table_text(const struct imp *im)
{
	char *t = strdup("# translated\n"), *o;
	size_t i, j;

	for (i = 0; t != NULL && i < im->nrules; i++) {
		o = t;
		if (asprintf(&t, "%s%s", o, im->rules[i].pattern) == -1)
			abort();
		free(o);
		for (j = 0; j < im->rules[i].ndomains; j++) {
			o = t;
			if (asprintf(&t, "%s%s%s", o, j ? "," : " ",
			    im->rules[i].domains[j]) == -1)
				abort();
			free(o);
		}
		o = t;
		if (asprintf(&t, "%s\n", o) == -1)
			abort();
		free(o);
	}
	if (t == NULL)
		abort();
	return t;
}

/* fuzz_conf_loads - keyturn.conf lines the import prints must load */
static void
fuzz_conf_loads(const char *kw, const char *value)
{
	struct kt_conf *c;
	char *text;
	int errors = 0;

	if (asprintf(&text, "%s %s\n", kw, value) == -1)
		abort();
	fz_write(fuzz_check, text, strlen(text), 0644);
	free(text);
	if ((c = conf_load(fuzz_check, fz_count, &errors)) == NULL)
		abort();	/* a printed line is refused */
	conf_free(c);
}

/* fuzz_loads - what the import would write is read by keyturnd */
static void
fuzz_loads(const struct imp *im)
{
	struct signtable *t;
	char *text;
	int errors = 0;

	if (im->errors == 0 && im->nrules > 0) {
		text = fuzz_table_text(im);
		fz_write(fuzz_check, text, strlen(text), 0644);
		free(text);
		if ((t = signtable_load(fuzz_check, fz_count, &errors)) == NULL)
			abort();	/* the translated table is refused */
		signtable_free(t);
	}
	if (im->errors == 0 && im->nhosts > 0)
		fuzz_conf_loads("InternalHosts", im->hosts);
	if (im->catchall != NULL)	/* printed with the refusal */
		fuzz_conf_loads("PlatformDomain", im->catchall);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct imp im;
	const uint8_t *p;
	char *path;
	size_t i, n;

	for (i = 0; i < FUZZ_NFILES; i++) {
		p = fz_part(&in, "\n=====\n", &n);
		if (asprintf(&path, "%s/%s", fuzz_etc, fuzz_files[i]) == -1)
			abort();
		fz_write(path, p, n, 0644);
		free(path);
	}
	memset(&im, 0, sizeof(im));
	im.conffile = "/etc/opendkim/opendkim.conf";
	fuzz_imp_read(&im);
	fuzz_loads(&im);
	fuzz_imp_free(&im);
	return 0;
}
