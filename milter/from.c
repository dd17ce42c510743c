/*
 * from - the domain of the From field (RFC 5322 3.4, 3.6.2; RFC 6376 5.2)
 *
 *	from         = mailbox-list                ; one mailbox wanted here
 *	mailbox      = name-addr / addr-spec
 *	name-addr    = [display-name] angle-addr
 *	angle-addr   = [CFWS] "<" [obs-route] addr-spec ">" [CFWS]
 *	display-name = phrase = 1*word / obs-phrase ; word *(word / "." / CFWS)
 *	word         = atom / quoted-string
 *	addr-spec    = local-part "@" domain
 *	local-part   = dot-atom / quoted-string / obs-local-part
 *	domain       = dot-atom / domain-literal / obs-domain
 *	group        = display-name ":" [group-list] ";" [CFWS]
 *
 * One function per rule; each takes the cursor and returns 0 when the rule
 * matched (the cursor moved past it) or -1 with the reason in the cursor.
 * Obsolete forms are taken loosely: CFWS anywhere between tokens, dots in
 * display names, a source route, empty list elements. 8-bit bytes are text
 * (RFC 6532); a domain with them is taken as UTF-8 and turned into its
 * A-labels (from_idna), since d= and the DNS key lookup need an ASCII host
 * name. Comments nest; their depth is a
 * counter, not recursion, so no input can exhaust the stack.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <idn2.h>

#include "dkim.h"
#include "xmalloc.h"

#define FROM_DOMAIN_MAX	253

struct from_cur {
	const unsigned char	*p;
	const unsigned char	*end;
	const char		*why;		/* the last failure */
	char			 dom[FROM_DOMAIN_MAX + 2];
	size_t			 domlen;
	int			 domfull;	/* the domain did not fit */
	const unsigned char	*local;		/* the local part as written */
	size_t			 locallen;
};

/* from_fail - note why the rule at hand did not match */
static int
from_fail(struct from_cur *c, const char *why)
{
	c->why = why;
	return -1;
}

/* from_peek - the byte under the cursor, -1 at the end */
static int
from_peek(const struct from_cur *c)
{
	return c->p < c->end ? *c->p : -1;
}

/* from_fws - folding white space; the MTA folds with LF or CRLF */
static void
from_fws(struct from_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	    *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

/* from_atext - RFC 5322 atext, plus UTF-8 non-ASCII bytes (RFC 6532) */
static int
from_atext(int ch)
{
	if (ch < 0)
		return 0;
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch >= 0x80)
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* from_text - what may appear in a comment or quoted string (obs: controls) */
static int
from_text(int ch)
{
	return ch > 0 && ch != '\r' && ch != '\n';
}

/* from_comment - "(" *([FWS] ccontent) [FWS] ")" with nesting */
static int
from_comment(struct from_cur *c)
{
	unsigned long depth = 0;
	int ch;

	do {
		if ((ch = from_peek(c)) == -1)
			return from_fail(c, "unterminated comment");
		c->p++;
		if (ch == '(')
			depth++;
		else if (ch == ')')
			depth--;
		else if (ch == '\\') {
			if (c->p == c->end || *c->p == '\0')
				return from_fail(c, "unterminated comment");
			c->p++;
		} else if (ch == '\0')
			return from_fail(c, "NUL byte in a comment");
	} while (depth > 0);
	return 0;
}

/* from_cfws - *([FWS] comment) [FWS]; fails only on a broken comment */
static int
from_cfws(struct from_cur *c)
{
	for (;;) {
		from_fws(c);
		if (from_peek(c) != '(')
			return 0;
		if (from_comment(c) == -1)
			return -1;
	}
}

/* from_quoted_string - [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS] */
static int
from_quoted_string(struct from_cur *c)
{
	int ch;

	if (from_cfws(c) == -1)
		return -1;
	if (from_peek(c) != '"')
		return from_fail(c, "expected a quoted string");
	c->p++;
	for (;;) {
		from_fws(c);
		if ((ch = from_peek(c)) == -1 || !from_text(ch))
			return from_fail(c, "unterminated quoted string");
		c->p++;
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (c->p == c->end || !from_text(*c->p))
				return from_fail(c, "unterminated quoted "
				    "string");
			c->p++;
		}
	}
	return from_cfws(c);
}

/* from_atom - [CFWS] 1*atext [CFWS]; start/len receive the atext */
static int
from_atom(struct from_cur *c, const unsigned char **start, size_t *len)
{
	const unsigned char *s;

	if (from_cfws(c) == -1)
		return -1;
	s = c->p;
	while (from_atext(from_peek(c)))
		c->p++;
	if (c->p == s)
		return from_fail(c, "expected a word");
	if (start != NULL) {
		*start = s;
		*len = (size_t)(c->p - s);
	}
	return from_cfws(c);
}

/* from_word - atom / quoted-string */
static int
from_word(struct from_cur *c)
{
	const unsigned char *save = c->p;

	if (from_cfws(c) == -1)
		return -1;
	if (from_peek(c) == '"')
		return from_quoted_string(c);
	c->p = save;
	return from_atom(c, NULL, NULL);
}

/* from_phrase - display-name: 1*word, and obs-phrase's dots after the first */
static int
from_phrase(struct from_cur *c)
{
	const unsigned char *save;

	if (from_word(c) == -1)
		return -1;
	for (;;) {
		save = c->p;
		if (from_peek(c) == '.') {
			c->p++;
			continue;
		}
		if (from_word(c) == -1) {
			c->p = save;
			return 0;
		}
	}
}

/* from_local_part - dot-atom / quoted-string / obs-local-part */
static int
from_local_part(struct from_cur *c)
{
	if (from_word(c) == -1)
		return -1;
	while (from_peek(c) == '.') {
		c->p++;
		if (from_word(c) == -1)
			return from_fail(c, "empty part in the local part");
	}
	return 0;
}

/* from_label - one label of the domain, kept (lowercased) in the cursor */
static int
from_label(struct from_cur *c)
{
	const unsigned char *s;
	size_t	 len, i;

	if (from_atom(c, &s, &len) == -1)
		return from_fail(c, "expected a domain name after '@'");
	if (c->domlen + len + 1 > FROM_DOMAIN_MAX) {
		c->domfull = 1;
		return 0;
	}
	if (c->domlen > 0)
		c->dom[c->domlen++] = '.';
	for (i = 0; i < len; i++)
		c->dom[c->domlen++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ?
		    s[i] + ('a' - 'A') : s[i]);
	c->dom[c->domlen] = '\0';
	return 0;
}

/* from_domain - dot-atom / obs-domain; a domain-literal has no name to sign */
static int
from_domain(struct from_cur *c)
{
	const unsigned char *save = c->p;

	if (from_cfws(c) == -1)
		return -1;
	if (from_peek(c) == '[')
		return from_fail(c, "address literal, no domain name");
	c->p = save;
	c->domlen = 0;
	c->domfull = 0;
	if (from_label(c) == -1)
		return -1;
	while (from_peek(c) == '.') {
		c->p++;
		if (from_label(c) == -1)
			return from_fail(c, "empty label in the domain");
	}
	return 0;
}

/* from_addr_spec - local-part "@" domain; the local part's span is kept */
static int
from_addr_spec(struct from_cur *c)
{
	const unsigned char *end;

	if (from_cfws(c) == -1)
		return -1;
	c->local = c->p;
	if (from_local_part(c) == -1)
		return -1;
	for (end = c->p; end > c->local && (end[-1] == ' ' ||
	    end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'); end--)
		;
	c->locallen = (size_t)(end - c->local);
	if (from_peek(c) != '@')
		return from_fail(c, "no '@' in the address");
	c->p++;
	return from_domain(c);
}

/* from_obs_route - obs-domain-list ":" (a source route, ignored) */
static int
from_obs_route(struct from_cur *c)
{
	while (from_peek(c) == '@' || from_peek(c) == ',') {
		if (*c->p++ == '@' && from_domain(c) == -1)
			return -1;
		if (from_cfws(c) == -1)
			return -1;
	}
	if (from_peek(c) != ':')
		return from_fail(c, "bad source route");
	c->p++;
	return 0;
}

/* from_angle_addr - [CFWS] "<" [obs-route] addr-spec ">" [CFWS] */
static int
from_angle_addr(struct from_cur *c)
{
	if (from_cfws(c) == -1)
		return -1;
	if (from_peek(c) != '<')
		return from_fail(c, "expected '<'");
	c->p++;
	if (from_cfws(c) == -1)
		return -1;
	if ((from_peek(c) == '@' || from_peek(c) == ',') &&
	    from_obs_route(c) == -1)
		return -1;
	if (from_peek(c) == '>')
		return from_fail(c, "empty address <>");
	if (from_addr_spec(c) == -1)
		return -1;
	if (from_peek(c) != '>')
		return from_fail(c, "missing '>' after the address");
	c->p++;
	return from_cfws(c);
}

/*
 * from_mailbox - name-addr / addr-spec. A phrase followed by ':' is the
 * start of a group, which has no single author to sign for.
 */
static int
from_mailbox(struct from_cur *c)
{
	const unsigned char *save = c->p;

	if (from_cfws(c) == -1)
		return -1;
	if (from_peek(c) == '<')
		return from_angle_addr(c);
	if (from_phrase(c) == 0) {
		if (from_peek(c) == '<')
			return from_angle_addr(c);
		if (from_peek(c) == ':')
			return from_fail(c, "group syntax, no single author");
	}
	c->p = save;
	return from_addr_spec(c);
}

/* from_mailbox_list - exactly one mailbox; obs empty elements are skipped */
static int
from_mailbox_list(struct from_cur *c)
{
	int	 comma = 0;

	for (;;) {
		if (from_cfws(c) == -1)
			return -1;
		if (from_peek(c) != ',')
			break;
		c->p++;
	}
	if (c->p == c->end)
		return from_fail(c, "no address");
	if (from_mailbox(c) == -1)
		return -1;
	for (;;) {
		if (from_cfws(c) == -1)
			return -1;
		if (from_peek(c) != ',')
			break;
		c->p++;
		comma = 1;
	}
	if (c->p != c->end)
		return from_fail(c, comma ? "several mailboxes" :
		    "unexpected text after the address");
	return 0;
}

/*
 * dkim_hostname_check - why d (len bytes) cannot be a d= domain or an s=
 * selector, or NULL: labels of 1 to 63 letters, digits, '-' and '_', no
 * '-' at either end of a label, 253 bytes at most, ASCII only.
 */
const char *
dkim_hostname_check(const char *d, size_t len)
{
	size_t	 i, label = 0;

	if (len > FROM_DOMAIN_MAX)
		return "longer than 253";
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)d[i];

		if (ch >= 0x80)
			return "not ASCII (write an IDN as A-labels)";
		if (ch == '.') {
			if (label == 0 || d[i - 1] == '-')
				return "not a host name";
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') ||
		    (ch == '-' && label == 0))
			return "not a host name";
		if (++label > 63)
			return "label longer than 63";
	}
	if (label == 0 || d[len - 1] == '-')
		return "not a host name";
	return NULL;
}

/*
 * from_idna - the domain (len bytes) as d= takes it: a domain with UTF-8
 * (an SMTPUTF8 From) in its A-label form, as receivers compare it for
 * DKIM and DMARC (RFC 8616). Strict IDNA2008: U-labels as they must be
 * written (lowercase, no fullwidth or ignorable characters, which the
 * UTS #46 mapping would quietly turn into another, plain ASCII name);
 * only the ASCII letters are lowercased first, and the input is taken
 * in NFC.
 */
static enum dkim_status
from_idna(const char *dom, size_t len, char *domain, size_t domainlen,
    char *err, size_t errlen)
{
	enum dkim_status st = DKIM_EFROM;
	const char *why;
	char *ace = NULL, *low;
	size_t i;
	int rc;

	for (i = 0; i < len && (unsigned char)dom[i] < 0x80; i++)
		;
	if (i < len) {
		low = xmalloc(len + 1);
		for (i = 0; i <= len; i++)
			low[i] = dom[i] >= 'A' && dom[i] <= 'Z' ?
			    dom[i] + ('a' - 'A') : dom[i];
		rc = idn2_to_ascii_8z(low, &ace, IDN2_NO_TR46 |
		    IDN2_NFC_INPUT);
		free(low);
		if (rc != IDN2_OK) {
			snprintf(err, errlen, "From: domain is not an "
			    "internationalized domain name (IDNA2008): %s",
			    idn2_strerror(rc));
			return DKIM_EFROM;
		}
		dom = ace;
		len = strlen(ace);
	}
	if ((why = dkim_hostname_check(dom, len)) != NULL)
		snprintf(err, errlen, "From: domain %s: %s", dom, why);
	else if (len >= domainlen)
		snprintf(err, errlen, "From: domain longer than the buffer");
	else {
		memcpy(domain, dom, len + 1);
		st = DKIM_OK;
	}
	idn2_free(ace);
	return st;
}

/*
 * from_local_copy - the local part, lowercased, as the address tables see
 * it; one too long for the buffer is left empty (no address pattern
 * matches it) rather than keeping the message from being signed
 */
static enum dkim_status
from_local_copy(const struct from_cur *c, char *local, size_t locallen,
    char *err, size_t errlen)
{
	size_t i;

	(void)err;
	(void)errlen;
	if (c->locallen >= locallen) {
		local[0] = '\0';	/* too long to match any address pattern */
		return DKIM_OK;
	}
	for (i = 0; i < c->locallen; i++)
		local[i] = (char)(c->local[i] >= 'A' && c->local[i] <= 'Z' ?
		    c->local[i] + ('a' - 'A') : c->local[i]);
	local[i] = '\0';
	return DKIM_OK;
}

/*
 * dkim_from_address - the one mailbox of a From value: its local part as
 * written (lowercased; local may be NULL) and its domain, lowercased and
 * in A-labels
 */
enum dkim_status
dkim_from_address(const char *value, size_t len, char *local, size_t locallen,
    char *domain, size_t domainlen, char *err, size_t errlen)
{
	struct from_cur c;
	enum dkim_status st;

	if (len == 0) {				/* value may be NULL then */
		snprintf(err, errlen, "From: no address");
		return DKIM_EFROM;
	}
	memset(&c, 0, sizeof(c));
	c.p = (const unsigned char *)value;
	c.end = c.p + len;
	if (memchr(value, '\0', len) != NULL) {
		snprintf(err, errlen, "From: NUL byte");
		return DKIM_EFROM;
	}
	if (from_mailbox_list(&c) == -1) {
		snprintf(err, errlen, "From: %s", c.why);
		return DKIM_EFROM;
	}
	if (c.domfull) {
		snprintf(err, errlen, "From: domain longer than %d",
		    FROM_DOMAIN_MAX);
		return DKIM_EFROM;
	}
	if (local != NULL && (st = from_local_copy(&c, local, locallen, err,
	    errlen)) != DKIM_OK)
		return st;
	return from_idna(c.dom, c.domlen, domain, domainlen, err, errlen);
}

/* dkim_from_domain - the lowercased domain of the one mailbox in a From value */
enum dkim_status
dkim_from_domain(const char *value, size_t len, char *domain, size_t domainlen,
    char *err, size_t errlen)
{
	return dkim_from_address(value, len, NULL, 0, domain, domainlen, err,
	    errlen);
}
