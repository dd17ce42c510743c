/*
 * confsock - the milter Socket of keyturn.conf(5), checked without binding
 *
 * SYNOPSIS
 *	unix:/path, local:/path or /path; inet:PORT[@HOST] or
 *	inet6:PORT[@HOST], HOST a name, an address or [address], as
 *	libmilter's smfi_opensocket reads them.
 *
 * DESCRIPTION
 *	conf_socket_form is what the text alone says: the form, the port, the
 *	host's syntax, and a unix path short enough for libmilter, which
 *	wants the path and its NUL shorter than sun_path (106 bytes on
 *	Linux). conf_load uses it on every Socket line.
 *
 *	conf_socket_check adds what the system says before anything is
 *	bound: the directory of a unix socket exists, nothing but an old
 *	socket is in its place (libmilter replaces a socket, refuses
 *	anything else), and an inet host name resolves. keyturnd -n runs it,
 *	and so does the start-up, before smfi_opensocket, whose own reasons
 *	go to syslog only and often without an errno.
 *
 * DIAGNOSTICS
 *	Both return 0, or -1 with the reason in why.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* libmilter: strlen(path) + 1 must be below sizeof(sun_path) */
#define CONF_SUNPATH	sizeof(((struct sockaddr_un *)0)->sun_path)
#define CONF_SUNPATH_MAX	(CONF_SUNPATH - 2)

/* conf_socket_path - the file of a unix socket spec */
const char *
conf_socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	if (spec[0] == '/')
		return spec;
	return NULL;
}

static int sock_why(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* sock_why - a reason into the caller's buffer; always -1 */
static int
sock_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* sock_unix_form - an absolute path that fits sun_path with room to spare */
static int
sock_unix_form(const char *path, char *why, size_t whylen)
{
	size_t n = strlen(path);

	if (path[0] != '/')
		return sock_why(why, whylen, "a unix socket needs an absolute "
		    "path (unix:/run/...)");
	if (n > CONF_SUNPATH_MAX)
		return sock_why(why, whylen, "unix socket path is %zu bytes; "
		    "the limit is %zu", n, CONF_SUNPATH_MAX);
	return 0;
}

/* sock_port - libmilter reads a leading digit as a number, else a service */
static int
sock_port(const char *s, size_t n, char *why, size_t whylen)
{
	const char *errstr;
	char port[8];

	if (n == 0 || n >= sizeof(port))
		return sock_why(why, whylen, "bad port in socket");
	memcpy(port, s, n);
	port[n] = '\0';
	errstr = "not a number";
	if (isdigit((unsigned char)port[0]))
		(void)strtonum(port, 1, 65535, &errstr);
	if (errstr != NULL)
		return sock_why(why, whylen, "bad port in socket (1-65535)");
	return 0;
}

/* sock_bracketed - "[address]": libmilter takes it as an address only */
static int
sock_bracketed(const char *host, int family, char *why, size_t whylen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char buf[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(host);

	if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(buf))
		return sock_why(why, whylen, "bad [address] in socket");
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	if (inet_pton(family, buf, addr) != 1)
		return sock_why(why, whylen, "[%s] is not an IPv%d address",
		    buf, family == AF_INET ? 4 : 6);
	return 0;
}

/* sock_host_form - what follows '@': [address], an address or a name */
static int
sock_host_form(const char *host, int family, char *why, size_t whylen)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:";

	if (*host == '\0')
		return sock_why(why, whylen, "empty host after '@' in socket");
	if (host[0] == '[')
		return sock_bracketed(host, family, why, whylen);
	if (host[strspn(host, ok)] != '\0')
		return sock_why(why, whylen, "bad host name in socket");
	if (family == AF_INET && strchr(host, ':') != NULL)
		return sock_why(why, whylen, "an IPv6 address needs inet6:");
	return 0;
}

/* sock_inet_form - "PORT" or "PORT@HOST" */
static int
sock_inet_form(const char *rest, int family, char *why, size_t whylen)
{
	const char *at = strchr(rest, '@');
	size_t n = at != NULL ? (size_t)(at - rest) : strlen(rest);

	if (sock_port(rest, n, why, whylen) == -1)
		return -1;
	return at != NULL ? sock_host_form(at + 1, family, why, whylen) : 0;
}

/* conf_socket_form - the text alone: the forms libmilter accepts */
int
conf_socket_form(const char *spec, char *why, size_t whylen)
{
	const char *path;

	if (strncmp(spec, "inet:", 5) == 0)
		return sock_inet_form(spec + 5, AF_INET, why, whylen);
	if (strncmp(spec, "inet6:", 6) == 0)
		return sock_inet_form(spec + 6, AF_INET6, why, whylen);
	if ((path = conf_socket_path(spec)) == NULL)
		return sock_why(why, whylen, "socket must be unix:/path, "
		    "inet:PORT@HOST or inet6:PORT@HOST");
	return sock_unix_form(path, why, whylen);
}

/*
 * sock_place - a directory to bind in, and nothing but an old socket in
 * the way; what cannot be looked at (no search permission for -n run as
 * another user) is left to the bind
 */
static int
sock_place(const char *path, char *why, size_t whylen)
{
	const char *slash = strrchr(path, '/');
	char dir[CONF_SUNPATH];
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	struct stat st;

	if (n >= sizeof(dir))
		return sock_why(why, whylen, "socket path too long");
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			return sock_why(why, whylen, "directory %s does not "
			    "exist", dir);
		if (errno == ENOTDIR)
			return sock_why(why, whylen, "%s is not a directory",
			    dir);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return sock_why(why, whylen, "%s is not a directory", dir);
	if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return sock_why(why, whylen, "%s exists and is not a socket",
		    path);
	return 0;
}

/* sock_resolve - a host name libmilter would look up, looked up first */
static int
sock_resolve(const char *spec, char *why, size_t whylen)
{
	struct addrinfo hints, *res;
	const char *host = strchr(spec, '@');
	int r;

	if (host == NULL || *++host == '[')
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (strncmp(spec, "inet6:", 6) == 0) {
		hints.ai_family = AF_INET6;
		hints.ai_flags = AI_V4MAPPED | AI_ALL;
	} else
		hints.ai_family = AF_INET;
	if ((r = getaddrinfo(host, NULL, &hints, &res)) != 0)
		return sock_why(why, whylen, "host %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	freeaddrinfo(res);
	return 0;
}

/* conf_socket_check - all that can be known before the bind */
int
conf_socket_check(const char *spec, char *why, size_t whylen)
{
	const char *path;

	if (conf_socket_form(spec, why, whylen) == -1)
		return -1;
	if ((path = conf_socket_path(spec)) != NULL)
		return sock_place(path, why, whylen);
	return sock_resolve(spec, why, whylen);
}
