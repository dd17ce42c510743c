/*
 * hdrsel - header field selection and oversigning (see hdrsel.h)
 *
 * The default list is RFC 6376 5.4.1 plus the fields that identify the
 * message and its MIME structure (Sender, Message-ID, MIME-Version,
 * Content-Type, Content-Transfer-Encoding). Names in the oversign list that
 * are not in the sign list are signed too: oversigning implies signing.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdrsel.h"
#include "xmalloc.h"

static const char hdrsel_sign_default[] =
    "from:reply-to:subject:date:to:cc:resent-date:resent-from:"
    "resent-sender:resent-to:resent-cc:in-reply-to:references:list-id:"
    "list-help:list-unsubscribe:list-subscribe:list-post:list-owner:"
    "list-archive:sender:message-id:mime-version:content-type:"
    "content-transfer-encoding";

static const char hdrsel_over_default[] =
    "from:to:cc:subject:date:reply-to:sender:message-id:in-reply-to:"
    "references:mime-version:content-type:content-transfer-encoding";

/* hdrsel_namechar - RFC 5322 ftext: printable ASCII except the colon */
int
hdrsel_namechar(int c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* hdrsel_find - position of a name in the list, or -1 */
static long
hdrsel_find(const struct dkim_hdrlist *l, const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (l->lens[i] == len &&
		    strncasecmp(l->names[i], name, len) == 0)
			return (long)i;
	return -1;
}

/* hdrsel_add - one name of a configured list, checked and lowercased */
static int
hdrsel_add(struct dkim_hdrlist *l, const char *s, size_t len, int over,
    char *err, size_t errlen)
{
	size_t	 i;
	long	 at;
	char	*name;

	for (i = 0; i < len; i++)
		if (!hdrsel_namechar((unsigned char)s[i])) {
			snprintf(err, errlen, "header name \"%.*s\": bad "
			    "character", (int)len, s);
			return -1;
		}
	if ((at = hdrsel_find(l, s, len)) != -1) {
		if (!over) {
			snprintf(err, errlen, "header name \"%.*s\" listed "
			    "twice", (int)len, s);
			return -1;
		}
		l->over[at] = 1;
		return 0;
	}
	name = xstrndup(s, len);
	for (i = 0; i < len; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] += 'a' - 'A';
	l->names = xreallocarray(l->names, l->n + 1, sizeof(*l->names));
	l->over = xreallocarray(l->over, l->n + 1, sizeof(*l->over));
	l->lens = xreallocarray(l->lens, l->n + 1, sizeof(*l->lens));
	l->names[l->n] = name;
	l->lens[l->n] = len;
	l->over[l->n++] = over;
	return 0;
}

/* hdrsel_parse - a colon-separated list; whitespace around names is allowed */
static int
hdrsel_parse(struct dkim_hdrlist *l, const char *list, int over, char *err,
    size_t errlen)
{
	const char *p = list, *e, *b;

	for (;;) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		b = e;
		while (p < b && (*p == ' ' || *p == '\t'))
			p++;
		while (b > p && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (p == b) {
			snprintf(err, errlen, "empty header name in \"%s\"",
			    list);
			return -1;
		}
		if (hdrsel_add(l, p, (size_t)(b - p), over, err, errlen) == -1)
			return -1;
		if (*e == '\0')
			return 0;
		p = e + 1;
	}
}

/* dkim_hdrlist_new - build the list once; From must be among the signed */
struct dkim_hdrlist *
dkim_hdrlist_new(const char *sign, const char *oversign, char *err,
    size_t errlen)
{
	struct dkim_hdrlist *l = xcalloc(1, sizeof(*l));

	if (sign == NULL)
		sign = hdrsel_sign_default;
	if (oversign == NULL)
		oversign = hdrsel_over_default;
	if (hdrsel_parse(l, sign, 0, err, errlen) == -1 ||
	    (*oversign != '\0' &&
	    hdrsel_parse(l, oversign, 1, err, errlen) == -1)) {
		dkim_hdrlist_free(l);
		return NULL;
	}
	if (hdrsel_find(l, "from", 4) == -1) {
		snprintf(err, errlen, "the signed header list must include "
		    "From (RFC 6376 5.4)");
		dkim_hdrlist_free(l);
		return NULL;
	}
	return l;
}

/* dkim_hdrlist_free - NULL is fine */
void
dkim_hdrlist_free(struct dkim_hdrlist *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->lens);
	free(l->over);
	free(l);
}

static pthread_once_t	 hdrsel_once = PTHREAD_ONCE_INIT;
static struct dkim_hdrlist *hdrsel_def;

/* hdrsel_default_init - the built-in lists always parse */
static void
hdrsel_default_init(void)
{
	char	 err[128];

	hdrsel_def = dkim_hdrlist_new(NULL, NULL, err, sizeof(err));
	if (hdrsel_def == NULL)
		abort();
}

/* hdrsel_default - built on first use, by whichever thread comes first */
const struct dkim_hdrlist *
hdrsel_default(void)
{
	pthread_once(&hdrsel_once, hdrsel_default_init);
	return hdrsel_def;
}

/* hdrsel_same - a message field name against list name i (lowercase) */
static int
hdrsel_same(const struct hdrsel_field *f, const struct dkim_hdrlist *l,
    size_t i)
{
	return l->lens[i] == f->len &&
	    strncasecmp(l->names[i], f->name, f->len) == 0;
}

/* hdrsel_hname - list name i once more in the h= value */
static void
hdrsel_hname(struct buf *h, const struct dkim_hdrlist *l, size_t i)
{
	if (h->len > 0)
		buf_addc(h, ':');
	buf_add(h, l->names[i], l->lens[i]);
}

/*
 * hdrsel_select - RFC 6376 5.4.2: repeated fields bottom-up, at most
 * HDRSEL_MAX_INSTANCES of a name, then oversign unless that cut some off
 * (an oversigned name would then stand for a field that is there)
 */
size_t
hdrsel_select(const struct dkim_hdrlist *l, const struct hdrsel_field *f,
    size_t nf, size_t *idx, struct buf *h)
{
	size_t	 i, j, k = 0, taken;
	int	 capped;

	for (i = 0; i < l->n; i++) {
		taken = 0;
		capped = 0;
		for (j = nf; j-- > 0; )
			if (hdrsel_same(&f[j], l, i)) {
				if (taken == HDRSEL_MAX_INSTANCES) {
					capped = 1;
					break;
				}
				idx[k++] = j;
				taken++;
				hdrsel_hname(h, l, i);
			}
		if (l->over[i] && !capped)
			hdrsel_hname(h, l, i);
	}
	return k;
}
