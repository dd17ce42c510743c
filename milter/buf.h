/*
 * buf - a growing byte buffer
 *
 * The engine keeps header fields, canonical forms and the signature value in
 * these: capacity doubles, so appending n bytes costs amortized O(n) and a
 * message costs a handful of allocations, never one per byte. Out of memory
 * aborts (xmalloc), except in buf_try_reserve, which the engine calls
 * before the appends that grow with the message so that a message too big
 * for the memory left fails alone. The contents are not NUL-terminated
 * unless buf_cstr is asked for.
 */
#ifndef KEYTURN_BUF_H
#define KEYTURN_BUF_H

#include <stddef.h>

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_reserve(struct buf *, size_t more);
int	 buf_try_reserve(struct buf *, size_t more);	/* -1: no memory */
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_addc(struct buf *, int);
void	 buf_adds(struct buf *, const char *);
char	*buf_cstr(struct buf *);

#endif
