/*
 * msgfile - feed a message file to the engine (see msgfile.h)
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "msgfile.h"
#include "xmalloc.h"

/* msgfile_eol - length of the line end at p (CRLF or LF), 0 if none */
static size_t
msgfile_eol(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

/* msgfile_line_end - the start of the line end after p, or end */
static const char *
msgfile_line_end(const char *p, const char *end)
{
	while (p < end && msgfile_eol(p, end) == 0)
		p++;
	return p;
}

/* msgfile_field - one field from p; returns the byte after it */
static const char *
msgfile_field(struct dkim_msg *m, const char *p, const char *end,
    const struct msgfile_opts *o, enum dkim_status *st, char *err,
    size_t errlen)
{
	struct buf name, value;
	const char *e = msgfile_line_end(p, end), *colon;

	buf_init(&name);
	buf_init(&value);
	if ((colon = memchr(p, ':', (size_t)(e - p))) == NULL) {
		snprintf(err, errlen, "header line without a colon");
		*st = DKIM_EHEADER;
		return end;
	}
	buf_add(&name, p, (size_t)(colon - p));
	p = colon + 1;
	while (!o->keep_lead && p < e && (*p == ' ' || *p == '\t'))
		p++;
	buf_add(&value, p, (size_t)(e - p));
	p = e + msgfile_eol(e, end);
	while (p < end && (*p == ' ' || *p == '\t')) {
		buf_adds(&value, o->crlf_folds ? "\r\n" : "\n");
		e = msgfile_line_end(p, end);
		buf_add(&value, p, (size_t)(e - p));
		p = e + msgfile_eol(e, end);
	}
	*st = dkim_msg_header(m, buf_cstr(&name), value.p ? value.p : "",
	    value.len, err, errlen);
	buf_free(&name);
	buf_free(&value);
	return p;
}

/* msgfile_body - the body in the chunk sizes asked for */
static void
msgfile_body(struct dkim_msg *m, const char *p, size_t len,
    const struct msgfile_opts *o)
{
	unsigned int s = o->seed * 2654435761u + 1;
	size_t	 n;

	while (len > 0) {
		if (o->chunks == MSGFILE_WHOLE)
			n = len;
		else if (o->chunks == MSGFILE_BYTES)
			n = 1;
		else {
			s = s * 1103515245u + 12345u;
			n = 1 + (s >> 16) % ((s >> 8) % 4 == 0 ? 4096 : 7);
		}
		if (n > len)
			n = len;
		dkim_msg_body(m, p, n);
		p += n;
		len -= n;
	}
}

/* msgfile_feed - header fields, then the body; stops at the first bad field */
enum dkim_status
msgfile_feed(struct dkim_msg *m, const char *msg, size_t len,
    const struct msgfile_opts *o, char *err, size_t errlen)
{
	const char *p = msg, *end = msg + len;
	enum dkim_status st;
	size_t	 eol;

	while (p < end && (eol = msgfile_eol(p, end)) == 0) {
		p = msgfile_field(m, p, end, o, &st, err, errlen);
		if (st != DKIM_OK)
			return st;
	}
	if (p < end)
		p += msgfile_eol(p, end);
	msgfile_body(m, p, (size_t)(end - p), o);
	return DKIM_OK;
}

/* msgfile_read - a whole file, NUL-terminated; NULL when it cannot be read */
char *
msgfile_read(const char *path, size_t *len)
{
	struct buf b;
	char	 tmp[65536];
	size_t	 n;
	FILE	*fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	buf_init(&b);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		buf_add(&b, tmp, n);
	fclose(fp);
	*len = b.len;
	return buf_cstr(&b);
}

/*
 * msgfile_bigmsg - a deterministic MIME message with a base64 attachment of
 * attach bytes (before encoding), CRLF line ends, for the large-body tests.
 */
char *
msgfile_bigmsg(size_t attach, size_t *len)
{
	struct buf b;
	unsigned char raw[57];
	char	 line[80];
	uint32_t x = 2463534242u;
	size_t	 done, i, n;

	buf_init(&b);
	buf_adds(&b, "From: Big Sender <big@example.org>\r\n"
	    "To: someone@example.net\r\nSubject: a large attachment\r\n"
	    "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
	    "Message-ID: <big-1@example.org>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	    "--b1\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
	    "--b1\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	for (done = 0; done < attach; done += n) {
		n = attach - done < sizeof(raw) ? attach - done : sizeof(raw);
		for (i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			raw[i] = (unsigned char)x;
		}
		EVP_EncodeBlock((unsigned char *)line, raw, (int)n);
		buf_adds(&b, line);
		buf_adds(&b, "\r\n");
	}
	buf_adds(&b, "--b1--\r\n");
	*len = b.len;
	return buf_cstr(&b);
}
