/*
 * xmalloc - memory allocation that does not return on failure
 *
 * DIAGNOSTICS
 *	Allocation failure prints one line to stderr and aborts.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* oom - no way forward without memory: say so and stop */
static void __attribute__((noreturn))
oom(const char *what, size_t n)
{
	fprintf(stderr, "keyturn: out of memory (%s %zu bytes)\n", what, n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom("malloc", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom("calloc", nmemb * size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (size && nmemb > (size_t)-1 / size)
		oom("reallocarray overflow", nmemb);
	n = nmemb * size;
	if ((p = realloc(ptr, n != 0 ? n : 1)) == NULL)
		oom("realloc", n);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;
	size_t len = strnlen(s, n);

	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom("asprintf", 0);
	return p;
}
