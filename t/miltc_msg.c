/*
 * miltc_msg - message files in, edited messages out
 *
 * A message file is RFC 5322 text with LF or CRLF line ends (a leading mbox
 * "From " line is skipped). Headers are kept as the MTAs keep them: the
 * name, and the value after the colon with folded lines joined by a bare
 * LF. The body is converted to CRLF once, at load, because both MTAs send
 * it that way.
 *
 * Header presentation (checked against both MTAs' sources): Postfix
 * (milter8.c) and Sendmail (milter.c) both remove exactly one SP after the
 * colon (a TAB, or a second SP, stays) unless the filter negotiated
 * SMFIP_HDR_LEADSPC, and both keep folded values with bare LF. Headers a
 * filter adds get "Name: value" (one SP inserted) unless it negotiated
 * SMFIP_HDR_LEADSPC. Index 0 of SMFIR_INSHEADER is the top of the header;
 * SMFIR_CHGHEADER indexes the n-th header of that name from 1, an empty
 * value deletes it, a missing one is appended.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "xmalloc.h"
#include "miltc.h"

/* msg_slurp - read a whole file into a NUL-terminated buffer */
static char *
msg_slurp(const char *path, size_t *lenp, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		if ((r = read(fd, buf + off, st.st_size - off)) <= 0) {
			snprintf(err, errlen, "%s: %s", path,
			    r == 0 ? "short read" : strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		off += r;
	}
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

/* msg_line - length of the line at p, without its LF or CRLF */
static size_t
msg_line(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', end - p);
	size_t len;

	if (nl == NULL) {
		*next = end;
		return end - p;
	}
	*next = nl + 1;
	len = nl - p;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

/* msg_add_header - start a new header from a "name: value" line */
static int
msg_add_header(struct mc_msg *m, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t nlen;

	if (colon == NULL || colon == line)
		return -1;
	nlen = colon - line;
	while (nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'))
		nlen--;
	m->hdrs = xreallocarray(m->hdrs, m->nhdrs + 1, sizeof(*m->hdrs));
	m->hdrs[m->nhdrs].name = xstrndup(line, nlen);
	m->hdrs[m->nhdrs].value = xstrndup(colon + 1, len - (colon + 1 - line));
	m->nhdrs++;
	return 0;
}

/* msg_fold - append a continuation line to the last header, bare LF */
static void
msg_fold(struct mc_msg *m, const char *line, size_t len)
{
	struct mc_header *h = &m->hdrs[m->nhdrs - 1];
	size_t old = strlen(h->value);

	h->value = xreallocarray(h->value, old + len + 2, 1);
	h->value[old] = '\n';
	memcpy(h->value + old + 1, line, len);
	h->value[old + 1 + len] = '\0';
}

/* msg_body_crlf - copy the body, turning every bare LF into CRLF */
static void
msg_body_crlf(struct mc_msg *m, const char *p, const char *end)
{
	size_t n = 0, i, len = end - p;

	for (i = 0; i < len; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			n++;
	m->body = xmalloc(len + n + 1);
	for (i = 0, n = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			m->body[n++] = '\r';
		m->body[n++] = p[i];
	}
	m->body[n] = '\0';
	m->bodylen = n;
}

/* mc_msg_load - parse a message file into headers and a CRLF body */
int
mc_msg_load(struct mc_msg *m, const char *path, char *err, size_t errlen)
{
	const char *p, *end, *next;
	char *buf;
	size_t len, flen;

	memset(m, 0, sizeof(*m));
	if ((buf = msg_slurp(path, &flen, err, errlen)) == NULL)
		return -1;
	m->path = xstrdup(path);
	p = buf;
	end = buf + flen;
	if (flen > 5 && strncmp(p, "From ", 5) == 0)
		msg_line(p, end, &p);
	while (p < end) {
		len = msg_line(p, end, &next);
		if (len == 0) {
			p = next;
			break;
		}
		if ((*p == ' ' || *p == '\t') && m->nhdrs > 0)
			msg_fold(m, p, len);
		else if (msg_add_header(m, p, len) == -1)
			break;		/* not a header: the body starts */
		p = next;
	}
	msg_body_crlf(m, p, end);
	free(buf);
	return 0;
}

/* mc_msg_free - release a loaded message */
void
mc_msg_free(struct mc_msg *m)
{
	size_t i;

	for (i = 0; i < m->nhdrs; i++) {
		free(m->hdrs[i].name);
		free(m->hdrs[i].value);
	}
	free(m->hdrs);
	free(m->body);
	free(m->path);
	memset(m, 0, sizeof(*m));
}

/* mc_msg_sent_value - the value as the MTA sends it to the filter */
const char *
mc_msg_sent_value(const struct mc_msg *m, size_t i, uint32_t protocol)
{
	const char *v = m->hdrs[i].value;

	if ((protocol & SMFIP_HDR_LEADSPC) == 0 && *v == ' ')
		v++;
	return v;
}

/* mc_msg_header - first value of a header, as in the file */
const char *
mc_msg_header(const struct mc_msg *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, name) == 0)
			return m->hdrs[i].value;
	return NULL;
}

/* The header list while modifications are applied: raw is after the colon. */
struct out_hdrs {
	char	**name;
	char	**raw;
	size_t	  n;
};

/* out_insert - insert a header at position idx (clamped to the end) */
static void
out_insert(struct out_hdrs *o, size_t idx, const char *name, char *raw)
{
	if (idx > o->n)
		idx = o->n;
	o->name = xreallocarray(o->name, o->n + 1, sizeof(char *));
	o->raw = xreallocarray(o->raw, o->n + 1, sizeof(char *));
	memmove(o->name + idx + 1, o->name + idx, (o->n - idx) * sizeof(char *));
	memmove(o->raw + idx + 1, o->raw + idx, (o->n - idx) * sizeof(char *));
	o->name[idx] = xstrdup(name);
	o->raw[idx] = raw;
	o->n++;
}

/* out_change - SMFIR_CHGHEADER: n-th header of a name, delete on empty */
static void
out_change(struct out_hdrs *o, uint32_t index, const char *name, char *raw,
    int empty)
{
	size_t i, seen = 0;

	if (index == 0)
		index = 1;
	for (i = 0; i < o->n; i++) {
		if (strcasecmp(o->name[i], name) != 0 || ++seen != index)
			continue;
		free(o->raw[i]);
		if (!empty) {
			o->raw[i] = raw;
			return;
		}
		free(o->name[i]);
		memmove(o->name + i, o->name + i + 1, (o->n - i - 1) * sizeof(char *));
		memmove(o->raw + i, o->raw + i + 1, (o->n - i - 1) * sizeof(char *));
		o->n--;
		free(raw);
		return;
	}
	if (empty)
		free(raw);
	else
		out_insert(o, o->n, name, raw);
}

/* out_apply - apply the header modifications in the order received */
static void
out_apply(struct out_hdrs *o, const struct mc_result *r, uint32_t protocol)
{
	const char *sp = (protocol & SMFIP_HDR_LEADSPC) ? "" : " ";
	const struct mc_mod *md;
	size_t i;

	for (i = 0; i < r->nmods; i++) {
		md = &r->mods[i];
		switch (md->type) {
		case SMFIR_INSHEADER:
			out_insert(o, md->index, md->name,
			    xasprintf("%s%s", sp, md->value));
			break;
		case SMFIR_ADDHEADER:
			out_insert(o, o->n, md->name,
			    xasprintf("%s%s", sp, md->value));
			break;
		case SMFIR_CHGHEADER:
			out_change(o, md->index, md->name,
			    xasprintf("%s%s", sp, md->value), md->value[0] == '\0');
			break;
		}
	}
}

/* out_text - write text, bare LF becoming the chosen line end */
static void
out_text(FILE *fp, const char *s, size_t len, int crlf)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;	/* CRLF: the LF below writes the end */
		if (s[i] == '\n' && crlf)
			fputc('\r', fp);
		fputc(s[i], fp);
	}
}

/* mc_msg_write - write the message as the MTA would after the filter */
int
mc_msg_write(const struct mc_msg *m, const struct mc_result *r,
    uint32_t protocol, int crlf, const char *path, char *err, size_t errlen)
{
	struct out_hdrs o = { NULL, NULL, 0 };
	const char *body = r->replbody ? r->newbody : m->body;
	size_t i, bodylen = r->replbody ? r->newbodylen : m->bodylen;
	FILE *fp;
	int rv = 0;

	for (i = 0; i < m->nhdrs; i++)
		out_insert(&o, o.n, m->hdrs[i].name, xstrdup(m->hdrs[i].value));
	out_apply(&o, r, protocol);
	if ((fp = fopen(path, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rv = -1;
	}
	for (i = 0; i < o.n; i++) {
		if (fp != NULL) {
			fprintf(fp, "%s:", o.name[i]);
			out_text(fp, o.raw[i], strlen(o.raw[i]), crlf);
			fputs(crlf ? "\r\n" : "\n", fp);
		}
		free(o.name[i]);
		free(o.raw[i]);
	}
	free(o.name);
	free(o.raw);
	if (fp == NULL)
		return rv;
	fputs(crlf ? "\r\n" : "\n", fp);
	out_text(fp, body, bodylen, crlf);
	if (fclose(fp) == EOF) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
