/*
 * signtable - SigningTable (signtable.h)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "signtable.h"
#include "xmalloc.h"

/* What one load is collecting. */
struct signtable_ctx {
	struct signtable	*t;
	size_t			 size;
};

/* signtable_domain - a keystore domain name, lowercased, or NULL with why */
static char *
signtable_domain(const char *d, char *err, size_t errlen)
{
	const char *why;
	char *s, *p;

	if ((why = dkim_hostname_check(d, strlen(d))) != NULL) {
		snprintf(err, errlen, "signing domain \"%s\": %s", d, why);
		return NULL;
	}
	s = xstrdup(d);
	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	return s;
}

/* signtable_line - one rule: a pattern and its signing domains */
static int
signtable_line(void *arg, int lineno, const char *key, char **values,
    size_t n, char *err, size_t errlen)
{
	struct signtable_ctx *ctx = arg;
	struct signtable_rule r;
	size_t i, j;

	memset(&r, 0, sizeof(r));
	if (n > SIGNTABLE_MAXDOMAINS) {
		snprintf(err, errlen, "%zu signing domains; at most %d", n,
		    SIGNTABLE_MAXDOMAINS);
		return -1;
	}
	if ((r.pattern = table_pattern(key, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((r.domains[i] = signtable_domain(values[i], err,
		    errlen)) == NULL)
			goto bad;
		r.ndomains++;
		for (j = 0; j < i; j++)
			if (strcmp(r.domains[j], r.domains[i]) == 0) {
				snprintf(err, errlen, "signing domain %s "
				    "listed twice", r.domains[i]);
				goto bad;
			}
	}
	r.lineno = lineno;
	if (ctx->t->nrules == ctx->size) {
		ctx->size = ctx->size ? ctx->size * 2 : 16;
		ctx->t->rules = xreallocarray(ctx->t->rules, ctx->size,
		    sizeof(*ctx->t->rules));
	}
	ctx->t->rules[ctx->t->nrules++] = r;
	return 0;
bad:
	free(r.pattern);
	for (i = 0; i < r.ndomains; i++)
		free(r.domains[i]);
	return -1;
}

/* signtable_lineof - a rule's line, for table_index_dups */
static int
signtable_lineof(const void *arg, size_t rule)
{
	const struct signtable *t = arg;

	return t->rules[rule].lineno;
}

/* signtable_load - see signtable.h */
struct signtable *
signtable_load(const char *path, conf_report_fn *report, void *rarg)
{
	struct signtable_ctx ctx;
	size_t i;
	int errors;

	memset(&ctx, 0, sizeof(ctx));
	ctx.t = xcalloc(1, sizeof(*ctx.t));
	ctx.t->path = xstrdup(path);
	errors = table_read(path, signtable_line, &ctx, report, rarg);
	for (i = 0; i < ctx.t->nrules; i++)
		table_index_add(&ctx.t->ix, xstrdup(ctx.t->rules[i].pattern),
		    i);
	table_index_seal(&ctx.t->ix);
	errors += table_index_dups(&ctx.t->ix, path, signtable_lineof, ctx.t,
	    "pattern given again: this rule is never used", report, rarg);
	if (errors > 0) {
		signtable_free(ctx.t);
		return NULL;
	}
	return ctx.t;
}

/* signtable_free - NULL is fine */
void
signtable_free(struct signtable *t)
{
	size_t i, j;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrules; i++) {
		free(t->rules[i].pattern);
		for (j = 0; j < t->rules[i].ndomains; j++)
			free(t->rules[i].domains[j]);
	}
	free(t->rules);
	table_index_free(&t->ix);
	free(t->path);
	free(t);
}

/* signtable_lookup - see signtable.h */
const struct signtable_rule *
signtable_lookup(const struct signtable *t, const char *local,
    const char *domain)
{
	size_t r = table_index_lookup(&t->ix, local, domain);

	return r == TABLE_NONE ? NULL : &t->rules[r];
}
