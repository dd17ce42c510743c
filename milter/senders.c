/*
 * senders - SenderLogins (senders.h)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "senders.h"
#include "xmalloc.h"

/* What one load is collecting. */
struct senders_ctx {
	struct senders	*t;
	size_t		 size;
};

/* senders_key - a login as the index keeps it: lowercased */
static char *
senders_key(const char *login)
{
	char *s = xstrdup(login), *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	return s;
}

/* senders_login_ok - NULL, or why the login column is refused */
static const char *
senders_login_ok(const char *login)
{
	const char *dom;

	if (strcmp(login, "*") == 0 || strcmp(login, "*@*") == 0)
		return "a login pattern for every login is refused";
	if (strncmp(login, "*@", 2) == 0) {
		dom = login + 2;
		if (*dom == '\0' || strchr(dom, '*') != NULL ||
		    dkim_hostname_check(dom, strlen(dom)) != NULL)
			return "\"*@\" must be followed by a domain name";
		return NULL;
	}
	if (strchr(login, '*') != NULL)
		return "'*' only as \"*@domain\"";
	return NULL;
}

/* senders_line - one login and the addresses it owns */
static int
senders_line(void *arg, int lineno, const char *key, char **values,
    size_t n, char *err, size_t errlen)
{
	struct senders_ctx *ctx = arg;
	struct senders_login l;
	const char *why;
	size_t i;

	if ((why = senders_login_ok(key)) != NULL) {
		snprintf(err, errlen, "login \"%s\": %s", key, why);
		return -1;
	}
	memset(&l, 0, sizeof(l));
	l.patterns = xcalloc(n, sizeof(*l.patterns));
	for (i = 0; i < n; i++) {
		if ((l.patterns[i] = table_pattern(values[i], err,
		    errlen)) == NULL) {
			while (i-- > 0)
				free(l.patterns[i]);
			free(l.patterns);
			return -1;
		}
	}
	l.npatterns = n;
	l.lineno = lineno;
	l.login = senders_key(key);
	if (ctx->t->nlogins == ctx->size) {
		ctx->size = ctx->size ? ctx->size * 2 : 16;
		ctx->t->logins = xreallocarray(ctx->t->logins, ctx->size,
		    sizeof(*ctx->t->logins));
	}
	ctx->t->logins[ctx->t->nlogins++] = l;
	return 0;
}

/* senders_lineof - a login's line, for table_index_dups */
static int
senders_lineof(const void *arg, size_t i)
{
	const struct senders *t = arg;

	return t->logins[i].lineno;
}

/* senders_load - see senders.h */
struct senders *
senders_load(const char *path, conf_report_fn *report, void *rarg)
{
	struct senders_ctx ctx;
	size_t i;
	int errors;

	memset(&ctx, 0, sizeof(ctx));
	ctx.t = xcalloc(1, sizeof(*ctx.t));
	ctx.t->path = xstrdup(path);
	errors = table_read(path, senders_line, &ctx, report, rarg);
	for (i = 0; i < ctx.t->nlogins; i++)
		table_index_add(&ctx.t->ix, xstrdup(ctx.t->logins[i].login),
		    i);
	table_index_seal(&ctx.t->ix);
	errors += table_index_dups(&ctx.t->ix, path, senders_lineof, ctx.t,
	    "login given again", report, rarg);
	if (errors > 0) {
		senders_free(ctx.t);
		return NULL;
	}
	return ctx.t;
}

/* senders_free - NULL is fine */
void
senders_free(struct senders *t)
{
	size_t i, j;

	if (t == NULL)
		return;
	for (i = 0; i < t->nlogins; i++) {
		for (j = 0; j < t->logins[i].npatterns; j++)
			free(t->logins[i].patterns[j]);
		free(t->logins[i].patterns);
		free(t->logins[i].login);
	}
	free(t->logins);
	table_index_free(&t->ix);
	free(t->path);
	free(t);
}

/* senders_find - see senders.h; no allocation on the message path */
const struct senders_login *
senders_find(const struct senders *t, const char *login)
{
	char key[600];
	const char *at;
	size_t i, n;

	if ((n = strlen(login)) + 2 > sizeof(key))
		return NULL;
	for (i = 0; i <= n; i++)
		key[i] = (char)(login[i] >= 'A' && login[i] <= 'Z' ?
		    login[i] + ('a' - 'A') : login[i]);
	i = table_index_find(&t->ix, key);
	if (i == TABLE_NONE && (at = strrchr(login, '@')) != NULL &&
	    at[1] != '\0') {
		/* "*@domain": the domain part, lowercased, after "*" */
		memmove(key + 1, key + (at - login), n - (size_t)(at - login) + 1);
		key[0] = '*';
		i = table_index_find(&t->ix, key);
	}
	return i == TABLE_NONE ? NULL : &t->logins[i];
}

/* senders_allows - see senders.h */
int
senders_allows(const struct senders_login *l, const char *local,
    const char *domain)
{
	size_t i;

	for (i = 0; i < l->npatterns; i++)
		if (table_matches(l->patterns[i], local, domain))
			return 1;
	return 0;
}
