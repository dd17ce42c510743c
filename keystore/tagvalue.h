/*
 * tagvalue - RFC 6376 section 3.2 tag=value lists
 *
 * Used for DKIM-Signature values, DNS key records ("v=DKIM1; k=rsa; p=...")
 * and anything else written in that grammar. Parsing copies the tags and
 * values; a value keeps its inner folding whitespace (a b= or p= value must
 * be stripped of it with tv_strip_fws before base64 decoding).
 */
#ifndef KEYTURN_TAGVALUE_H
#define KEYTURN_TAGVALUE_H

#include <stddef.h>

struct tv_pair {
	char	*tag;
	char	*value;		/* leading and trailing FWS removed */
};

struct tv_list {
	struct tv_pair	*pairs;
	size_t		 n;
};

/*
 * tv_parse - parse len bytes of s; 0 on success, -1 with err filled on a
 * syntax error or a duplicate tag (RFC 6376 3.2 makes both invalid).
 */
int		 tv_parse(const char *s, size_t len, struct tv_list *out,
		    char *err, size_t errlen);
const char	*tv_get(const struct tv_list *, const char *tag);
void		 tv_free(struct tv_list *);

/* tv_strip_fws - copy of s without any space, tab, CR or LF */
char		*tv_strip_fws(const char *s);

#endif
