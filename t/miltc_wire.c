/*
 * miltc_wire - sockets and packets of the milter protocol
 *
 * A packet is a 4-byte big-endian length (command byte included), the
 * command byte and the data. Sockets: unix:/path, local:/path, /path,
 * inet:PORT@HOST, inet6:PORT@HOST (libmilter) and inet:HOST:PORT
 * (Postfix). Every read and write is bounded by the connection timeout
 * (SO_RCVTIMEO/SO_SNDTIMEO); a timeout is an error, never a hang.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"
#include "miltc.h"

#define MC_PACKET_MAX	(64 * 1024 * 1024)	/* refuse larger replies */

/* wire_err - record an error with errno, return -1 */
static int
wire_err(struct mc_conn *c, const char *what)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		snprintf(c->err, sizeof(c->err), "%s: timeout after %d s",
		    what, c->timeout);
	else
		snprintf(c->err, sizeof(c->err), "%s: %s", what,
		    errno ? strerror(errno) : "connection closed");
	return -1;
}

/* wire_socket - a stream socket whose connect, reads and writes time out */
static int
wire_socket(struct mc_conn *c, int family)
{
	struct timeval tv;
	int fd;

	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return wire_err(c, "socket");
	tv.tv_sec = c->timeout;
	tv.tv_usec = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		close(fd);
		return wire_err(c, "setsockopt");
	}
	return fd;
}

/* wire_unix - connect to a unix-domain socket */
static int
wire_unix(struct mc_conn *c, const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(c->err, sizeof(c->err), "%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = wire_socket(c, AF_UNIX)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		snprintf(c->err, sizeof(c->err), "connect %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return fd;
}

/* wire_inet - connect to host and port, trying every address */
static int
wire_inet(struct mc_conn *c, const char *host, const char *port, int family)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(c->err, sizeof(c->err), "%s port %s: %s", host, port,
		    gai_strerror(rv));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = wire_socket(c, ai->ai_family)) == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		rv = errno;
		close(fd);
		fd = -1;
		errno = rv;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(c->err, sizeof(c->err), "connect %s port %s: %s",
		    host, port, strerror(errno));
	return fd;
}

/* wire_connect - parse a socket spec and connect */
static int
wire_connect(struct mc_conn *c, const char *spec)
{
	char *s, *at, *host, *port;
	int family = AF_UNSPEC, fd;

	if (strncmp(spec, "unix:", 5) == 0)
		return wire_unix(c, spec + 5);
	if (strncmp(spec, "local:", 6) == 0)
		return wire_unix(c, spec + 6);
	if (spec[0] == '/')
		return wire_unix(c, spec);
	if (strncmp(spec, "inet:", 5) == 0)
		family = AF_INET;
	else if (strncmp(spec, "inet6:", 6) == 0)
		family = AF_INET6;
	else {
		snprintf(c->err, sizeof(c->err), "%s: unknown socket type",
		    spec);
		return -1;
	}
	s = xstrdup(strchr(spec, ':') + 1);
	if ((at = strchr(s, '@')) != NULL) {	/* PORT@HOST */
		*at = '\0';
		port = s;
		host = at + 1;
	} else if ((at = strrchr(s, ':')) != NULL) {	/* HOST:PORT */
		*at = '\0';
		host = s;
		port = at + 1;
	} else {
		port = s;
		host = family == AF_INET6 ? "::1" : "127.0.0.1";
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		host++;
	}
	fd = wire_inet(c, host, port, family);
	free(s);
	return fd;
}

/* mc_wire_open - connect, all I/O bounded by the timeout */
int
mc_wire_open(struct mc_conn *c, const char *spec, int timeout)
{
	c->timeout = timeout;
	c->fd = wire_connect(c, spec);
	return c->fd == -1 ? -1 : 0;
}

/* mc_wire_close - drop the socket and the receive buffer */
void
mc_wire_close(struct mc_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->bufsize = 0;
}

/* wire_writev - write all of an iovec, resuming after short writes */
static int
wire_writev(struct mc_conn *c, struct iovec *iov, int n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = writev(c->fd, iov, n)) == -1) {
			if (errno == EINTR)
				continue;
			return wire_err(c, "write to filter");
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= w;
		}
	}
	return 0;
}

/* mc_wire_send2 - send one packet whose data is two pieces */
int
mc_wire_send2(struct mc_conn *c, char cmd, const void *a, size_t alen,
    const void *b, size_t blen)
{
	unsigned char hdr[5];
	struct iovec iov[3];
	uint32_t n;

	if (alen + blen >= MC_PACKET_MAX) {
		snprintf(c->err, sizeof(c->err), "packet too large");
		return -1;
	}
	n = htonl((uint32_t)(alen + blen + 1));
	memcpy(hdr, &n, 4);
	hdr[4] = (unsigned char)cmd;
	iov[0].iov_base = hdr;
	iov[0].iov_len = 5;
	iov[1].iov_base = (void *)a;
	iov[1].iov_len = alen;
	iov[2].iov_base = (void *)b;
	iov[2].iov_len = blen;
	return wire_writev(c, iov, 3);
}

/* mc_wire_send - send one packet */
int
mc_wire_send(struct mc_conn *c, char cmd, const void *data, size_t len)
{
	return mc_wire_send2(c, cmd, data, len, NULL, 0);
}

/* wire_read - read exactly len bytes */
static int
wire_read(struct mc_conn *c, void *p, size_t len)
{
	ssize_t r;

	while (len > 0) {
		if ((r = read(c->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return wire_err(c, "read from filter");
		}
		if (r == 0) {
			errno = 0;
			return wire_err(c, "read from filter");
		}
		p = (char *)p + r;
		len -= r;
	}
	return 0;
}

/* mc_wire_recv - read one packet into c->cmd, c->buf, c->len */
int
mc_wire_recv(struct mc_conn *c)
{
	uint32_t n;
	unsigned char cmd;

	if (wire_read(c, &n, 4) == -1)
		return -1;
	n = ntohl(n);
	if (n < 1 || n > MC_PACKET_MAX) {
		snprintf(c->err, sizeof(c->err),
		    "protocol error: packet length %u", n);
		return -1;
	}
	if (wire_read(c, &cmd, 1) == -1)
		return -1;
	c->cmd = (char)cmd;
	c->len = n - 1;
	if (c->bufsize < c->len + 1) {
		c->buf = xreallocarray(c->buf, c->len + 1, 1);
		c->bufsize = c->len + 1;
	}
	if (wire_read(c, c->buf, c->len) == -1)
		return -1;
	c->buf[c->len] = '\0';
	return 0;
}
