/*
 * xmalloc - memory allocation that does not return on failure
 *
 * Out of memory is not a condition keyturn recovers from: these wrappers log
 * and abort, so callers never test for NULL.
 */
#ifndef KEYTURN_XMALLOC_H
#define KEYTURN_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
