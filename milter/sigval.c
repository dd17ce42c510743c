/*
 * sigval - building and folding the DKIM-Signature value (see sigval.h)
 */
#include "config.h"

#include <string.h>

#include "sigval.h"

/* sigval_init - the value starts after "DKIM-Signature: " */
void
sigval_init(struct sigval *v)
{
	buf_init(&v->b);
	v->col = strlen(SIGVAL_NAME ": ");
	v->ntags = 0;
}

/* sigval_free - the buffer goes; the caller copied what it needed */
void
sigval_free(struct sigval *v)
{
	buf_free(&v->b);
}

/* sigval_fold - start a new line; the tab is the FWS */
static void
sigval_fold(struct sigval *v)
{
	buf_add(&v->b, "\n\t", 2);
	v->col = 1;
}

/* sigval_room - can n more bytes go on this line? */
static int
sigval_room(const struct sigval *v, size_t n)
{
	return v->col + n <= SIGVAL_WIDTH;
}

/* sigval_put - bytes that are known to fit */
static void
sigval_put(struct sigval *v, const char *s, size_t n)
{
	buf_add(&v->b, s, n);
	v->col += n;
}

/* sigval_start - separator before a tag of n bytes: ";", then " " or a fold */
static void
sigval_start(struct sigval *v, size_t n)
{
	if (v->ntags++ > 0)
		sigval_put(v, ";", 1);
	if (v->ntags == 1)
		return;
	if (sigval_room(v, n + 2))
		sigval_put(v, " ", 1);
	else
		sigval_fold(v);
}

/* sigval_tag - a short tag kept on one line: "t=1528637909" */
void
sigval_tag(struct sigval *v, const char *tag, const char *value)
{
	size_t	 tl = strlen(tag), vl = strlen(value);

	sigval_start(v, tl + 1 + vl);
	sigval_put(v, tag, tl);
	sigval_put(v, "=", 1);
	sigval_put(v, value, vl);
}

/* sigval_hlist - h=, folded between names: "h=from:to:\n\tsubject" */
void
sigval_hlist(struct sigval *v, const char *names)
{
	const char *p = names, *e;
	size_t	 n;

	e = strchr(p, ':');
	n = e ? (size_t)(e - p) + 1 : strlen(p);
	sigval_start(v, 2 + n);
	sigval_put(v, "h=", 2);
	while (*p != '\0') {
		e = strchr(p, ':');
		n = e ? (size_t)(e - p) + 1 : strlen(p);
		if (!sigval_room(v, n + 1) && v->col > 1 &&
		    v->b.p[v->b.len - 1] == ':')
			sigval_fold(v);
		sigval_put(v, p, n);
		p += n;
	}
}

/* sigval_b64tag - "tag=", kept on a line with room for some of its value */
void
sigval_b64tag(struct sigval *v, const char *tag)
{
	size_t	 tl = strlen(tag);

	sigval_start(v, tl + 1 + 8);
	sigval_put(v, tag, tl);
	sigval_put(v, "=", 1);
}

/*
 * sigval_b64data - a base64 value after its tag, split anywhere to fill the
 * lines; last: the final tag, no ";" follows, so the line may be full.
 */
void
sigval_b64data(struct sigval *v, const char *b64, int last)
{
	size_t	 vl = strlen(b64), n;

	while (vl > 0) {
		if (!sigval_room(v, 2))
			sigval_fold(v);
		n = SIGVAL_WIDTH - v->col - (last ? 0 : 1);
		if (n > vl)
			n = vl;
		sigval_put(v, b64, n);
		b64 += n;
		vl -= n;
	}
}
