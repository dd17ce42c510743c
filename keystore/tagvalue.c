/*
 * tagvalue - RFC 6376 section 3.2 tag=value lists
 *
 *	tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 *	tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *	tag-name  = ALPHA *ALNUMPUNC
 *	tag-value = [ tval *( 1*(WSP / FWS) tval ) ]
 *	tval      = 1*VALCHAR		; %x21-3A / %x3C-7E
 *
 * One function per rule; the cursor is a (pointer, end) pair.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tagvalue.h"
#include "xmalloc.h"

struct cursor {
	const char *p;
	const char *end;
};

static int
is_fws_char(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnumpunc(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

static int
is_valchar(int c)
{
	return (c >= 0x21 && c <= 0x3a) || (c >= 0x3c && c <= 0x7e);
}

/* skip_fws - FWS is optional everywhere it appears in the grammar */
static void
skip_fws(struct cursor *c)
{
	while (c->p < c->end && is_fws_char((unsigned char)*c->p))
		c->p++;
}

/* tag_name - ALPHA *ALNUMPUNC; NULL when the cursor is not at one */
static char *
tag_name(struct cursor *c)
{
	const char *start = c->p;

	if (c->p >= c->end || !is_alpha((unsigned char)*c->p))
		return NULL;
	while (c->p < c->end && is_alnumpunc((unsigned char)*c->p))
		c->p++;
	return xstrndup(start, c->p - start);
}

/* tag_value - tval runs separated by whitespace, up to ";" or the end */
static char *
tag_value(struct cursor *c, char *err, size_t errlen)
{
	const char *start = c->p, *last = c->p;

	while (c->p < c->end && *c->p != ';') {
		unsigned char ch = *c->p;

		if (is_valchar(ch))
			last = c->p + 1;
		else if (!is_fws_char(ch)) {
			snprintf(err, errlen, "invalid character 0x%02x in "
			    "tag value", ch);
			return NULL;
		}
		c->p++;
	}
	return xstrndup(start, last - start);
}

/* tag_spec - one tag=value; appends to out */
static int
tag_spec(struct cursor *c, struct tv_list *out, char *err, size_t errlen)
{
	char *tag, *value;

	skip_fws(c);
	if ((tag = tag_name(c)) == NULL) {
		snprintf(err, errlen, "expected a tag name at offset %td",
		    c->end - c->p);
		return -1;
	}
	if (tv_get(out, tag) != NULL) {
		snprintf(err, errlen, "duplicate tag \"%s\"", tag);
		free(tag);
		return -1;
	}
	skip_fws(c);
	if (c->p >= c->end || *c->p != '=') {
		snprintf(err, errlen, "tag \"%s\" has no \"=\"", tag);
		free(tag);
		return -1;
	}
	c->p++;
	skip_fws(c);
	if ((value = tag_value(c, err, errlen)) == NULL) {
		free(tag);
		return -1;
	}
	out->pairs = xreallocarray(out->pairs, out->n + 1,
	    sizeof(*out->pairs));
	out->pairs[out->n].tag = tag;
	out->pairs[out->n].value = value;
	out->n++;
	return 0;
}

int
tv_parse(const char *s, size_t len, struct tv_list *out, char *err,
    size_t errlen)
{
	struct cursor c = { s, s + len };

	out->pairs = NULL;
	out->n = 0;
	for (;;) {
		if (tag_spec(&c, out, err, errlen) == -1) {
			tv_free(out);
			return -1;
		}
		if (c.p >= c.end)
			return 0;
		c.p++;			/* the ";" */
		skip_fws(&c);
		if (c.p >= c.end)	/* a trailing ";" is allowed */
			return 0;
	}
}

const char *
tv_get(const struct tv_list *l, const char *tag)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->pairs[i].tag, tag) == 0)
			return l->pairs[i].value;
	return NULL;
}

void
tv_free(struct tv_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->pairs[i].tag);
		free(l->pairs[i].value);
	}
	free(l->pairs);
	l->pairs = NULL;
	l->n = 0;
}

char *
tv_strip_fws(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *q = out;

	for (; *s; s++)
		if (!is_fws_char((unsigned char)*s))
			*q++ = *s;
	*q = '\0';
	return out;
}
