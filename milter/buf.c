/*
 * buf - a growing byte buffer (see buf.h)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

/* buf_init - an empty buffer owns no memory yet */
void
buf_init(struct buf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
}

/* buf_free - give the memory back; the buffer is empty and reusable */
void
buf_free(struct buf *b)
{
	free(b->p);
	buf_init(b);
}

/* buf_reserve - room for more bytes (and a NUL), doubling to stay amortized */
/* buf_grow - the capacity for more bytes after len; -1 when no memory */
static int
buf_grow(struct buf *b, size_t more, int abort_on_fail)
{
	size_t	 cap;
	char	*p;

	if (b->cap - b->len > more)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len <= more)
		cap *= 2;
	if (abort_on_fail)
		p = xreallocarray(b->p, cap, 1);
	else if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

void
buf_reserve(struct buf *b, size_t more)
{
	(void)buf_grow(b, more, 1);
}

int
buf_try_reserve(struct buf *b, size_t more)
{
	return buf_grow(b, more, 0);
}

/* buf_add - append n bytes */
void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* buf_addc - append one byte */
void
buf_addc(struct buf *b, int c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = (char)c;
}

/* buf_adds - append a C string */
void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* buf_cstr - the contents as a C string (the NUL is not counted in len) */
char *
buf_cstr(struct buf *b)
{
	buf_reserve(b, 1);
	b->p[b->len] = '\0';
	return b->p;
}
