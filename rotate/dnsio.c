/*
 * dnsio - one DNS query to one address, and the addresses themselves
 *
 * ldns builds and parses the packets; the sockets are ours, so that a
 * timeout, a refusal and a truncation are each seen for what they are:
 * UDP on a connected socket (an ICMP refusal is an error, silence is a
 * timeout), EDNS0 with a 1232-byte payload, and the same query over TCP
 * (RFC 7766 framing) when the answer comes back truncated. A reply is
 * taken only when its id, QR bit and question match the query; a reply
 * over TCP that is truncated again is an error, never an answer.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "dnsio.h"
#include "xmalloc.h"

#define DNSIO_EDNS_SIZE	1232

/* now_ms - a monotonic clock for deadlines */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dnsio_addr_set - fill an address from text and a port; -1 when not one */
int
dnsio_addr_set(struct dnsio_addr *a, const char *host, int port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		snprintf(a->text, sizeof(a->text), "%s:%d", host, port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		snprintf(a->text, sizeof(a->text), "[%s]:%d", host, port);
		return 0;
	}
	return -1;
}

/* dnsio_addr_parse - keyturn.conf's address[:port] forms (conf_addrport) */
int
dnsio_addr_parse(struct dnsio_addr *a, const char *s, int defport)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char host[INET6_ADDRSTRLEN];
	socklen_t len;

	if (conf_addrport(s, defport, &ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		return dnsio_addr_set(a, host, ntohs(s4->sin_port));
	}
	inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
	return dnsio_addr_set(a, host, ntohs(s6->sin6_port));
}

/* dnsio_resolv_conf - the first nameserver of /etc/resolv.conf */
int
dnsio_resolv_conf(struct dnsio_addr *a)
{
	char line[512], ns[INET6_ADDRSTRLEN + 1];
	FILE *fp;
	int r = -1;

	if ((fp = fopen("/etc/resolv.conf", "r")) == NULL)
		return -1;
	while (r == -1 && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, " nameserver %46s", ns) == 1)
			r = dnsio_addr_set(a, ns, 53);
	fclose(fp);
	return r;
}

/* dnsio_cancelled - is the cancel descriptor readable */
int
dnsio_cancelled(int cancel_fd)
{
	struct pollfd pfd;

	if (cancel_fd <= 0)
		return 0;
	pfd.fd = cancel_fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) > 0;
}

/*
 * wait_fd - poll one descriptor until the deadline: 1 ready, 0 timeout,
 * -1 with errno (ECANCELED when cancel, if > 0, became readable first)
 */
static int
wait_fd(int fd, short events, long long deadline, int cancel)
{
	struct pollfd pfd[2];
	long long left;
	int r;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		pfd[0].fd = fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		pfd[1].fd = cancel;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		r = poll(pfd, cancel > 0 ? 2 : 1, (int)left);
		if (r > 0 && pfd[1].revents != 0) {
			errno = ECANCELED;
			return -1;
		}
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* mismatch - what makes a reply no answer to q, or NULL */
static const char *
mismatch(const ldns_pkt *q, const ldns_pkt *a)
{
	ldns_rr *qq, *aq;

	qq = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	aq = ldns_rr_list_rr(ldns_pkt_question(a), 0);
	if (ldns_pkt_id(a) != ldns_pkt_id(q))
		return "another query id";
	if (!ldns_pkt_qr(a))
		return "not a response";
	if (aq == NULL || ldns_rr_get_type(aq) != ldns_rr_get_type(qq) ||
	    ldns_dname_compare(ldns_rr_owner(aq), ldns_rr_owner(qq)) != 0)
		return "another question";
	return NULL;
}

/* reply_for - is this packet the answer to our query? */
static ldns_pkt *
reply_for(const ldns_pkt *q, const uint8_t *buf, size_t len)
{
	ldns_pkt *a = NULL;

	if (ldns_wire2pkt(&a, buf, len) != LDNS_STATUS_OK)
		return NULL;
	if (mismatch(q, a) != NULL) {
		ldns_pkt_free(a);
		return NULL;
	}
	return a;
}

/* reply_why - why a packet reply_for refused is no answer, for the error
 * of a query that got none */
static const char *
reply_why(const ldns_pkt *q, const uint8_t *buf, size_t len)
{
	ldns_pkt *a = NULL;
	ldns_status st;
	const char *why;

	if ((st = ldns_wire2pkt(&a, buf, len)) != LDNS_STATUS_OK)
		return ldns_get_errorstr_by_id(st);
	why = mismatch(q, a);
	ldns_pkt_free(a);
	return why != NULL ? why : "not the answer";
}

/* xchg_udp - send up to tries times, wait for the matching reply */
static enum dnsio_status
xchg_udp(const struct dnsio_opts *c, const struct dnsio_addr *to,
    const ldns_pkt *q, const uint8_t *wire, size_t wlen, ldns_pkt **ans,
    char **err)
{
	uint8_t buf[65535];
	long long deadline;
	const char *why = NULL;
	ssize_t n;
	int fd, t, w, ignored = 0;

	/* close-on-exec: a publish hook that another rotation worker
	 * starts meanwhile must not inherit the socket */
	if ((fd = socket(to->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC,
	    0)) == -1 ||
	    connect(fd, (const struct sockaddr *)&to->ss, to->len) == -1) {
		*err = xasprintf("udp: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return DNSIO_ERROR;
	}
	for (t = 0; t < c->tries; t++) {
		if (send(fd, wire, wlen, 0) == -1)
			break;
		deadline = now_ms() + c->timeout_ms / c->tries;
		while ((w = wait_fd(fd, POLLIN, deadline, c->cancel_fd)) ==
		    1) {
			if ((n = recv(fd, buf, sizeof(buf), 0)) == -1)
				break;
			if ((*ans = reply_for(q, buf, n)) != NULL) {
				close(fd);
				return DNSIO_OK;
			}
			why = reply_why(q, buf, n);	/* wait for ours */
			ignored++;
		}
		if (w != 0)
			break;
	}
	if (t == c->tries) {
		close(fd);
		if (ignored > 0)
			*err = xasprintf("no answer in %d ms, %d replies "
			    "ignored (the last: %s)", c->timeout_ms, ignored,
			    why);
		else
			*err = xasprintf("no answer in %d ms", c->timeout_ms);
		return DNSIO_TIMEOUT;
	}
	*err = xasprintf("udp: %s", strerror(errno));
	close(fd);
	return DNSIO_ERROR;
}

/* read_full - read exactly len bytes before the deadline */
static enum dnsio_status
read_full(int fd, uint8_t *buf, size_t len, long long deadline, int cancel)
{
	size_t got = 0;
	ssize_t n;
	int w;

	while (got < len) {
		if ((w = wait_fd(fd, POLLIN, deadline, cancel)) != 1)
			return w == 0 ? DNSIO_TIMEOUT : DNSIO_ERROR;
		if ((n = read(fd, buf + got, len - got)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == 0)
				errno = ECONNRESET;
			return DNSIO_ERROR;
		}
		got += n;
	}
	return DNSIO_OK;
}

/* tcp_connect - non-blocking connect bounded by the deadline */
static enum dnsio_status
tcp_connect(int fd, const struct dnsio_addr *to, long long deadline,
    int cancel)
{
	socklen_t sl = sizeof(int);
	int e = 0, w;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (connect(fd, (const struct sockaddr *)&to->ss, to->len) == 0)
		return DNSIO_OK;
	if (errno != EINPROGRESS)
		return DNSIO_ERROR;
	if ((w = wait_fd(fd, POLLOUT, deadline, cancel)) != 1)
		return w == 0 ? DNSIO_TIMEOUT : DNSIO_ERROR;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1 || e != 0) {
		errno = e;
		return DNSIO_ERROR;
	}
	return DNSIO_OK;
}

/* xchg_tcp - one query over TCP, RFC 7766 two-byte length framing */
static enum dnsio_status
xchg_tcp(const struct dnsio_opts *c, const struct dnsio_addr *to,
    const ldns_pkt *q, const uint8_t *wire, size_t wlen, ldns_pkt **ans,
    char **err)
{
	uint8_t *buf, hdr[2];
	long long deadline = now_ms() + c->timeout_ms;
	const char *why = NULL;
	enum dnsio_status x;
	size_t len;
	int fd;

	if ((fd = socket(to->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) == -1) {
		*err = xasprintf("tcp: %s", strerror(errno));
		return DNSIO_ERROR;
	}
	buf = xmalloc(wlen + 2);
	buf[0] = wlen >> 8;
	buf[1] = wlen & 0xff;
	memcpy(buf + 2, wire, wlen);
	errno = 0;
	if ((x = tcp_connect(fd, to, deadline, c->cancel_fd)) == DNSIO_OK &&
	    write(fd, buf, wlen + 2) == (ssize_t)(wlen + 2) &&
	    (x = read_full(fd, hdr, 2, deadline, c->cancel_fd)) ==
	    DNSIO_OK) {
		len = (hdr[0] << 8) | hdr[1];
		free(buf);
		buf = xmalloc(len + 1);
		if ((x = read_full(fd, buf, len, deadline, c->cancel_fd)) ==
		    DNSIO_OK &&
		    (*ans = reply_for(q, buf, len)) == NULL) {
			why = reply_why(q, buf, len);
			x = DNSIO_ERROR;
		}
	} else if (x == DNSIO_OK)
		x = DNSIO_ERROR;
	if (x == DNSIO_TIMEOUT)
		*err = xasprintf("tcp: no answer in %d ms", c->timeout_ms);
	else if (x == DNSIO_ERROR)
		*err = xasprintf("tcp: %s", why != NULL ? why :
		    strerror(errno));
	free(buf);
	close(fd);
	return x;
}

/* dnsio_query - ask one address; TCP when the UDP answer is truncated */
enum dnsio_status
dnsio_query(const struct dnsio_opts *c, const struct dnsio_addr *to,
    const char *name, ldns_rr_type type, int rd, ldns_pkt **ans, int *tcp,
    char **err)
{
	ldns_rdf *dn;
	ldns_pkt *q;
	uint8_t *wire = NULL;
	size_t wlen;
	enum dnsio_status x;

	*ans = NULL;
	*err = NULL;
	*tcp = 0;
	if ((dn = ldns_dname_new_frm_str(name)) == NULL) {
		*err = xasprintf("bad name %s", name);
		return DNSIO_ERROR;
	}
	q = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
	ldns_pkt_set_random_id(q);
	ldns_pkt_set_edns_udp_size(q, DNSIO_EDNS_SIZE);
	if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK) {
		ldns_pkt_free(q);
		*err = xasprintf("cannot build a query for %s", name);
		return DNSIO_ERROR;
	}
	x = xchg_udp(c, to, q, wire, wlen, ans, err);
	if (x == DNSIO_OK && ldns_pkt_tc(*ans)) {
		ldns_pkt_free(*ans);
		*ans = NULL;
		*tcp = 1;
		x = xchg_tcp(c, to, q, wire, wlen, ans, err);
	}
	/* truncated over TCP too: part of an answer is not an answer */
	if (x == DNSIO_OK && ldns_pkt_tc(*ans)) {
		ldns_pkt_free(*ans);
		*ans = NULL;
		*err = xstrdup("tcp: answer truncated");
		x = DNSIO_ERROR;
	}
	free(wire);
	ldns_pkt_free(q);
	return x;
}
