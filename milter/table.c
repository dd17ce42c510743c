/*
 * table - address patterns, their index, and the line reader of the
 * SigningTable and SenderLogins files (table.h)
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "table.h"
#include "xmalloc.h"

#define TABLE_MAXLINE	8192

struct table_entry {
	char	*key;
	size_t	 rule;
};

/* table_lower - ASCII lowercase in place */
static void
table_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* table_domain_ok - a domain a pattern may name; NULL or why not */
static const char *
table_domain_ok(const char *d)
{
	const char *why;

	if (*d == '\0')
		return "no domain";
	if (strchr(d, '*') != NULL)
		return "'*' stands only before '@' or as the first label";
	if ((why = dkim_hostname_check(d, strlen(d))) != NULL)
		return why;
	return NULL;
}

/* table_everything - patterns that would match every domain */
static int
table_everything(const char *p)
{
	return strcmp(p, "*") == 0 || strcmp(p, "*@*") == 0 ||
	    strcmp(p, "*@") == 0 || strcmp(p, "*@*.*") == 0 ||
	    strcmp(p, "*.*") == 0 || strcmp(p, ".") == 0 ||
	    strcmp(p, "*@.") == 0 || strcmp(p, "@") == 0;
}

/* table_pattern - see table.h */
char *
table_pattern(const char *pat, char *why, size_t whylen)
{
	const char *at, *dom, *err;
	char *key;
	int sub = 0;

	if (table_everything(pat)) {
		snprintf(why, whylen, "\"%s\" matches every domain: refused "
		    "(PlatformDomain adds one domain's signature to all mail)",
		    pat);
		return NULL;
	}
	if ((at = strrchr(pat, '@')) != NULL && at != pat &&
	    strcmp(at + 1, "") != 0 && !(at == pat + 1 && pat[0] == '*')) {
		/* user@domain */
		if (memchr(pat, '*', (size_t)(at - pat)) != NULL) {
			snprintf(why, whylen, "\"%s\": '*' stands alone "
			    "before '@'", pat);
			return NULL;
		}
		if ((err = table_domain_ok(at + 1)) != NULL) {
			snprintf(why, whylen, "\"%s\": %s", pat, err);
			return NULL;
		}
		key = xstrdup(pat);
		table_lower(key);
		return key;
	}
	dom = pat;
	if (strncmp(dom, "*@", 2) == 0)
		dom += 2;
	else if (*dom == '@') {
		snprintf(why, whylen, "\"%s\": no local part before '@'", pat);
		return NULL;
	}
	if (strncmp(dom, "*.", 2) == 0) {
		dom += 2;
		sub = 1;
	} else if (*dom == '.') {
		dom += 1;
		sub = 1;
	}
	if ((err = table_domain_ok(dom)) != NULL) {
		snprintf(why, whylen, "\"%s\": %s", pat, err);
		return NULL;
	}
	if (sub && strchr(dom, '.') == NULL) {
		snprintf(why, whylen, "\"%s\" covers a whole top-level domain: "
		    "refused", pat);
		return NULL;
	}
	key = xasprintf("%s%s", sub ? "." : "", dom);
	table_lower(key);
	return key;
}

/* table_matches - see table.h */
int
table_matches(const char *key, const char *local, const char *domain)
{
	const char *at;
	size_t kl, dl;

	if (key[0] == '.') {
		kl = strlen(key);
		dl = strlen(domain);
		return dl > kl && strcasecmp(domain + dl - kl, key) == 0;
	}
	if ((at = strrchr(key, '@')) == NULL)
		return strcasecmp(key, domain) == 0;
	return local != NULL && strlen(local) == (size_t)(at - key) &&
	    strncasecmp(key, local, (size_t)(at - key)) == 0 &&
	    strcasecmp(at + 1, domain) == 0;
}

/* table_index_add - the index takes key */
void
table_index_add(struct table_index *ix, char *key, size_t rule)
{
	if (ix->n == ix->size) {
		ix->size = ix->size ? ix->size * 2 : 16;
		ix->v = xreallocarray(ix->v, ix->size, sizeof(*ix->v));
	}
	ix->v[ix->n].key = key;
	ix->v[ix->n].rule = rule;
	ix->n++;
}

/* table_entry_cmp - by key, then by rule: the first of a key wins */
static int
table_entry_cmp(const void *a, const void *b)
{
	const struct table_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* table_index_seal - sorted for lookups */
void
table_index_seal(struct table_index *ix)
{
	if (ix->n > 1)
		qsort(ix->v, ix->n, sizeof(*ix->v), table_entry_cmp);
}

/* table_index_free - the keys and the array */
void
table_index_free(struct table_index *ix)
{
	size_t i;

	for (i = 0; i < ix->n; i++)
		free(ix->v[i].key);
	free(ix->v);
	memset(ix, 0, sizeof(*ix));
}

/* table_index_find - binary search for the first entry of key */
size_t
table_index_find(const struct table_index *ix, const char *key)
{
	size_t lo = 0, hi = ix->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(ix->v[mid].key, key)) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->n && strcmp(ix->v[lo].key, key) == 0)
		return ix->v[lo].rule;
	return TABLE_NONE;
}

/* table_index_dups - after table_index_seal: equal keys are adjacent */
int
table_index_dups(const struct table_index *ix, const char *path,
    int (*linefn)(const void *, size_t), const void *arg, const char *msg,
    conf_report_fn *report, void *rarg)
{
	char line[700];
	size_t i, first = 0;
	int errors = 0;

	for (i = 1; i < ix->n; i++) {
		if (strcmp(ix->v[i].key, ix->v[first].key) != 0) {
			first = i;
			continue;
		}
		snprintf(line, sizeof(line), "%s:%d: %s (first at line %d)",
		    path, linefn(arg, ix->v[i].rule), msg,
		    linefn(arg, ix->v[first].rule));
		if (report != NULL)
			report(line, rarg);
		errors++;
	}
	return errors;
}

/* table_min - the earlier of two rules */
static size_t
table_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/*
 * table_index_lookup - the address, the domain, and each parent of the
 * domain as a subdomain pattern; the earliest rule of them all
 */
size_t
table_index_lookup(const struct table_index *ix, const char *local,
    const char *domain)
{
	char buf[600], dom[256];
	const char *p;
	size_t best = TABLE_NONE;

	if (ix->n == 0 || strlen(domain) >= sizeof(dom))
		return TABLE_NONE;
	snprintf(dom, sizeof(dom), "%s", domain);
	table_lower(dom);
	if (local != NULL && *local != '\0') {
		snprintf(buf, sizeof(buf), "%s@%s", local, dom);
		table_lower(buf);
		best = table_index_find(ix, buf);
	}
	best = table_min(best, table_index_find(ix, dom));
	for (p = strchr(dom, '.'); p != NULL; p = strchr(p + 1, '.'))
		best = table_min(best, table_index_find(ix, p));
	return best;
}

static void table_error(conf_report_fn *, void *, const char *, int,
    const char *, ...) __attribute__((format(printf, 5, 6)));

/* table_error - "file:line: message" to the caller's report function */
static void
table_error(conf_report_fn *report, void *rarg, const char *path, int lineno,
    const char *fmt, ...)
{
	char msg[600], line[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lineno > 0)
		snprintf(line, sizeof(line), "%s:%d: %s", path, lineno, msg);
	else
		snprintf(line, sizeof(line), "%s: %s", path, msg);
	if (report != NULL)
		report(line, rarg);
}

/* table_strip - cut a comment ('#' at the start or after white space) */
static void
table_strip(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p == '#' && (p == s || *(p - 1) == ' ' ||
		    *(p - 1) == '\t')) {
			*p = '\0';
			break;
		}
}

/* table_trim - without white space at either end */
static char *
table_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * table_split - KEY, white space, then a comma list; -1 with why when the
 * list is missing or has an empty item
 */
static int
table_split(char *line, char **key, char ***values, size_t *n, char *why,
    size_t whylen)
{
	char *rest, *item, *next;

	*key = line;
	rest = line + strcspn(line, " \t");
	if (*rest == '\0') {
		snprintf(why, whylen, "\"%s\" has no value after it", line);
		return -1;
	}
	*rest++ = '\0';
	rest = table_trim(rest);
	*n = 0;
	for (item = rest; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		item = table_trim(item);
		if (*item == '\0' || strpbrk(item, " \t") != NULL) {
			snprintf(why, whylen, *item == '\0' ? "empty item in "
			    "the list" : "\"%s\": items are separated by "
			    "commas", item);
			return -1;
		}
		*values = xreallocarray(*values, *n + 1, sizeof(**values));
		(*values)[(*n)++] = item;
	}
	return 0;
}

/* table_read - see table.h */
int
table_read(const char *path, table_line_fn *fn, void *arg,
    conf_report_fn *report, void *rarg)
{
	FILE *fp;
	char *buf = NULL, *line, *key, **values = NULL, why[600];
	size_t cap = 0, n;
	ssize_t len;
	int lineno = 0, errors = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		table_error(report, rarg, path, 0, "cannot open: %s",
		    strerror(errno));
		return 1;
	}
	while ((len = getline(&buf, &cap, fp)) != -1) {
		lineno++;
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (len > TABLE_MAXLINE || strlen(buf) != (size_t)len) {
			table_error(report, rarg, path, lineno, len >
			    TABLE_MAXLINE ? "line longer than %d bytes" :
			    "NUL byte in line", TABLE_MAXLINE);
			errors++;
			continue;
		}
		table_strip(buf);
		line = table_trim(buf);
		if (*line == '\0')
			continue;
		if (table_split(line, &key, &values, &n, why,
		    sizeof(why)) == -1 ||
		    fn(arg, lineno, key, values, n, why, sizeof(why)) == -1) {
			table_error(report, rarg, path, lineno, "%s", why);
			errors++;
		}
	}
	if (ferror(fp)) {
		table_error(report, rarg, path, 0, "read error: %s",
		    strerror(errno));
		errors++;
	}
	fclose(fp);
	free(buf);
	free(values);
	return errors;
}
