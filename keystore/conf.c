/*
 * conf - read keyturn.conf(5)
 *
 * SYNOPSIS
 *	A table names every keyword with its type, bounds and field; one
 *	parser per type fills the field. The file is read line by line:
 *	"Keyword value", '#' starts a comment at the start of a line or
 *	after white space, blank lines are ignored.
 *
 * DIAGNOSTICS
 *	Every error is reported as "file:line: message" through the caller's
 *	report function; conf_load reads the whole file and returns NULL if
 *	any error was found, so an operator sees all of them at once.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "duration.h"
#include "log.h"
#include "xmalloc.h"

#define CONF_MAXLINE	4096
#define CONF_SHOWMAX	200	/* bytes of a bad value quoted in an error */

enum conf_type {
	CT_STRING,		/* any non-empty value */
	CT_PATH,		/* absolute path */
	CT_SOCKET,		/* unix:/path, inet:PORT@HOST... (confsock.c) */
	CT_USER,		/* user[:group], both must exist */
	CT_BOOL,		/* yes | no */
	CT_MODE,		/* octal file mode */
	CT_INT,			/* integer within bounds */
	CT_DURATION,		/* duration within bounds (seconds) */
	CT_NETS,		/* addresses and CIDR blocks, a list */
	CT_WORDS,		/* a list of words */
	CT_ADDRPORT,		/* address[:port] */
	CT_ADDRPORTS,		/* a list of address[:port] */
	CT_LISTEN,		/* address:port, the port required */
	CT_HEADERS,		/* header field names, colon or comma separated */
	CT_ALGORITHMS,		/* rsa, ed25519 (or rsa-sha256, ed25519-sha256) */
	CT_ONERROR,		/* tempfail | accept */
	CT_MISMATCH,		/* none | reject | tempfail */
	CT_DOMAIN,		/* a domain name (ASCII, A-labels) */
	CT_LOGLEVEL,		/* error | warning | notice | info | debug */
	CT_URLS,		/* http:// and https:// URLs, comma separated */
	CT_PREFIX		/* an etcd key prefix: /.../ */
};

struct conf_keyword {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;		/* field in struct kt_conf */
	size_t		 countoff;	/* list length field, for lists */
	long long	 min, max;
};

#define F(f)		offsetof(struct kt_conf, f)
#define NOCOUNT		((size_t)-1)

static const struct conf_keyword keywords[] = {
	{ "Socket", CT_SOCKET, F(socket), NOCOUNT, 0, 0 },
	{ "SocketMode", CT_MODE, F(socket_mode), NOCOUNT, 0, 0777 },
	{ "SocketOwner", CT_USER, F(socket_owner), NOCOUNT, 0, 0 },
	{ "KeyStore", CT_PATH, F(keystore), NOCOUNT, 0, 0 },
	{ "UserID", CT_USER, F(userid), NOCOUNT, 0, 0 },
	{ "PidFile", CT_PATH, F(pidfile), NOCOUNT, 0, 0 },
	{ "AllowRoot", CT_BOOL, F(allow_root), NOCOUNT, 0, 0 },
	{ "MetricsListen", CT_LISTEN, F(metrics_listen), NOCOUNT, 0, 0 },
	{ "KeyCache", CT_INT, F(key_cache), NOCOUNT, 1, 100000000 },
	{ "InternalHosts", CT_NETS, F(internal), F(ninternal), 0, 0 },
	{ "SignAuthenticated", CT_BOOL, F(sign_authenticated), NOCOUNT, 0, 0 },
	{ "DaemonNames", CT_WORDS, F(daemon_names), F(ndaemon_names), 0, 0 },
	{ "SubDomains", CT_BOOL, F(subdomains), NOCOUNT, 0, 0 },
	{ "SignHeaders", CT_HEADERS, F(sign_headers), NOCOUNT, 0, 0 },
	{ "OversignHeaders", CT_HEADERS, F(oversign_headers), NOCOUNT, 0, 0 },
	{ "SignatureTTL", CT_DURATION, F(signature_ttl), NOCOUNT, 0,
	    3650 * 86400LL },
	{ "Algorithms", CT_ALGORITHMS, F(algorithms), F(nalgorithms), 0, 0 },
	{ "OnError", CT_ONERROR, F(on_error), NOCOUNT, 0, 0 },
	{ "SigningTable", CT_PATH, F(signing_table), NOCOUNT, 0, 0 },
	{ "SenderLogins", CT_PATH, F(sender_logins), NOCOUNT, 0, 0 },
	{ "SenderMismatch", CT_MISMATCH, F(sender_mismatch), NOCOUNT, 0, 0 },
	{ "PlatformDomain", CT_DOMAIN, F(platform_domain), NOCOUNT, 0, 0 },
	{ "LogLevel", CT_LOGLEVEL, F(log_level), NOCOUNT, 0, 0 },
	{ "Rotation", CT_BOOL, F(rotation), NOCOUNT, 0, 0 },
	{ "RotationInterval", CT_DURATION, F(rotation_interval), NOCOUNT, 1,
	    86400 },
	{ "Resolver", CT_ADDRPORT, F(resolver), NOCOUNT, 0, 0 },
	{ "PropagationResolvers", CT_ADDRPORTS, F(propagation_resolvers),
	    F(npropagation_resolvers), 0, 0 },
	{ "DNSPort", CT_INT, F(dns_port), NOCOUNT, 1, 65535 },
	{ "DNSTimeout", CT_DURATION, F(dns_timeout), NOCOUNT, 1, 60 },
	{ "DNSConcurrency", CT_INT, F(dns_concurrency), NOCOUNT, 1, 256 },
	{ "RecheckInterval", CT_DURATION, F(recheck_interval), NOCOUNT, 1,
	    365 * 86400LL },
	{ "PublishCommand", CT_STRING, F(publish_command), NOCOUNT, 0, 0 },
	{ "FleetEndpoints", CT_URLS, F(fleet_endpoints), NOCOUNT, 0, 0 },
	{ "FleetCA", CT_PATH, F(fleet_ca), NOCOUNT, 0, 0 },
	{ "FleetCert", CT_PATH, F(fleet_cert), NOCOUNT, 0, 0 },
	{ "FleetKey", CT_PATH, F(fleet_key), NOCOUNT, 0, 0 },
	{ "FleetUser", CT_STRING, F(fleet_user), NOCOUNT, 0, 0 },
	{ "FleetPasswordFile", CT_PATH, F(fleet_password_file), NOCOUNT, 0,
	    0 },
	{ "FleetPrefix", CT_PREFIX, F(fleet_prefix), NOCOUNT, 0, 0 },
	{ "FleetKEK", CT_PATH, F(fleet_kek), NOCOUNT, 0, 0 },
	{ "FleetLeaseTTL", CT_DURATION, F(fleet_lease_ttl), NOCOUNT, 2, 3600 },
	{ "FleetRotation", CT_BOOL, F(fleet_rotation), NOCOUNT, 0, 0 },
	{ "FleetStaleAfter", CT_DURATION, F(fleet_stale_after), NOCOUNT, 1,
	    30 * 86400LL },
};

#define NKEYWORDS	(sizeof(keywords) / sizeof(keywords[0]))

/* What one load is doing: where it is and what it has seen. */
struct conf_ctx {
	struct kt_conf	*conf;
	const char	*file;
	int		 lineno;
	int		 errors;
	int		 seen[NKEYWORDS];	/* line of first use, 0 if none */
	conf_report_fn	*report;
	void		*arg;
};

static void conf_error(struct conf_ctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* conf_error - one "file:line: message" to the caller */
static void
conf_error(struct conf_ctx *ctx, const char *fmt, ...)
{
	char msg[512], line[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s:%d: %s", ctx->file, ctx->lineno, msg);
	if (ctx->report != NULL)
		ctx->report(line, ctx->arg);
	ctx->errors++;
}

struct kt_conf *
conf_defaults(void)
{
	struct kt_conf *c = xcalloc(1, sizeof(*c));

	c->socket = xstrdup("unix:" RUNSTATEDIR "/keyturn/keyturnd.sock");
	c->socket_mode = -1;
	c->keystore = xstrdup(LOCALSTATEDIR "/lib/keyturn");
	c->internal = xcalloc(2, sizeof(*c->internal));
	conf_net_parse("127.0.0.1", &c->internal[0]);
	conf_net_parse("::1", &c->internal[1]);
	c->ninternal = 2;
	c->sign_authenticated = 1;
	c->on_error = CONF_ONERROR_TEMPFAIL;
	c->log_level = LOG_INFO;
	c->rotation = 0;
	c->rotation_interval = 600;
	c->dns_port = 53;
	c->dns_timeout = 5;
	c->dns_concurrency = CONF_DNS_CONCURRENCY;
	c->recheck_interval = CONF_RECHECK_INTERVAL;
	c->key_cache = CONF_KEY_CACHE;
	c->fleet_prefix = xstrdup(CONF_FLEET_PREFIX);
	c->fleet_lease_ttl = CONF_FLEET_LEASE_TTL;
	c->fleet_rotation = 1;
	c->fleet_stale_after = CONF_FLEET_STALE_AFTER;
	return c;
}

/* words_free - a NULL-free counted list of strings */
static void
words_free(char **w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

void
conf_free(struct kt_conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->socket);
	free(c->socket_owner);
	free(c->keystore);
	free(c->userid);
	free(c->pidfile);
	free(c->metrics_listen);
	free(c->internal);
	words_free(c->daemon_names, c->ndaemon_names);
	free(c->sign_headers);
	free(c->oversign_headers);
	words_free(c->algorithms, c->nalgorithms);
	free(c->resolver);
	words_free(c->propagation_resolvers, c->npropagation_resolvers);
	free(c->publish_command);
	free(c->signing_table);
	free(c->sender_logins);
	free(c->platform_domain);
	free(c->fleet_endpoints);
	free(c->fleet_ca);
	free(c->fleet_cert);
	free(c->fleet_key);
	free(c->fleet_user);
	free(c->fleet_password_file);
	free(c->fleet_prefix);
	free(c->fleet_kek);
	free(c);
}

/* conf_lower - ASCII lowercase in place */
static void
conf_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/*
 * check_domain - NULL, or why v is not a domain name a signature can
 * carry: labels of letters, digits, '-' and '_', 1 to 63 bytes each, no
 * '-' at either end, 253 bytes at most
 */
static const char *
check_domain(const char *v)
{
	const char *label = v, *p;

	if (strlen(v) > 253)
		return "longer than 253 bytes";
	for (p = v;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label)
				return "an empty label";
			if (p - label > 63)
				return "a label longer than 63 bytes";
			if (*label == '-' || p[-1] == '-')
				return "a label begins or ends with '-'";
			if (*p == '\0')
				return NULL;
			label = p + 1;
		} else if (!isalnum((unsigned char)*p) && *p != '-' &&
		    *p != '_')
			return "not a domain name (ASCII letters, digits, '-', "
			    "'_'; A-labels for other scripts)";
	}
}

/* split_words - a value split at commas and white space */
static char **
split_words(const char *v, size_t *n)
{
	char **w = NULL;
	const char *p = v, *start;

	*n = 0;
	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		w = xreallocarray(w, *n + 1, sizeof(*w));
		w[(*n)++] = xstrndup(start, p - start);
	}
	return w;
}

int
conf_net_parse(const char *s, struct conf_net *net)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long prefix;
	int max;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else
		return -1;
	net->prefix = max;
	if (slash != NULL) {
		errno = 0;
		prefix = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || errno || prefix < 0 ||
		    prefix > max)
			return -1;
		net->prefix = (int)prefix;
	}
	return 0;
}

/* prefix_equal - the first bits bits of a and b agree */
static int
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int
conf_net_match(const struct conf_net *net, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	unsigned char mapped[4];

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET && net->family == AF_INET)
		return prefix_equal(net->addr,
		    (const unsigned char *)&sin->sin_addr, net->prefix);
	if (sa->sa_family != AF_INET6)
		return 0;
	if (net->family == AF_INET6)
		return prefix_equal(net->addr,
		    (const unsigned char *)&sin6->sin6_addr, net->prefix);
	/* An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d). */
	if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return 0;
	memcpy(mapped, &sin6->sin6_addr.s6_addr[12], 4);
	return prefix_equal(net->addr, mapped, net->prefix);
}

int
conf_internal(const struct kt_conf *c, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < c->ninternal; i++)
		if (conf_net_match(&c->internal[i], sa))
			return 1;
	return 0;
}

/* parse_port - a decimal port 1-65535, or -1 */
static int
parse_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

int
conf_addrport(const char *s, int defport, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *colon, *close;
	size_t hlen;
	int p = defport;

	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL)
			return -1;
		hlen = close - s - 1;
		s++;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		hlen = colon - s;
		port = colon + 1;
	} else
		hlen = strlen(s);
	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (port != NULL && (p = parse_port(port)) == -1)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		*len = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

/* check_user - user[:group], both known to the system */
static const char *
check_user(const char *v)
{
	char buf[256], *colon;

	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf))
		return "user name too long";
	if ((colon = strchr(buf, ':')) != NULL)
		*colon++ = '\0';
	if (getpwnam(buf) == NULL)
		return "no such user";
	if (colon != NULL && getgrnam(colon) == NULL)
		return "no such group";
	return NULL;
}

/* check_listen - a listening address needs its port said, never implied */
static const char *
check_listen(const char *v)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	socklen_t len;
	in_port_t port;

	if (conf_addrport(v, 0, &ss, &len) == -1)
		port = 0;
	else if (ss.ss_family == AF_INET) {
		memcpy(&sin, &ss, sizeof(sin));
		port = sin.sin_port;
	} else {
		memcpy(&sin6, &ss, sizeof(sin6));
		port = sin6.sin6_port;
	}
	return port != 0 ? NULL : "expected an IP address and a port, such "
	    "as 127.0.0.1:9120 ([addr]:port for IPv6)";
}

/* check_header_name - RFC 5322 field-name: printable ASCII but colon */
static int
check_header_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < 33 || *s > 126 || *s == ':')
			return 0;
	return 1;
}

/* header_listed - name is an element of the colon-separated list */
static int
header_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; (p = strstr(p, name)) != NULL; p++)
		if ((p == list || p[-1] == ':') && (p[n] == ':' ||
		    p[n] == '\0'))
			return 1;
	return 0;
}

/* parse_headers - "From:To, Subject" into "from:to:subject" */
static char *
parse_headers(struct conf_ctx *ctx, const char *v)
{
	char *copy = xstrdup(v), *out = xcalloc(1, strlen(v) + 1), *tok, *sp;
	char *p;

	for (p = copy; *p; p++)
		if (*p == ',' || *p == ':' || isspace((unsigned char)*p))
			*p = ' ';
	for (tok = strtok_r(copy, " ", &sp); tok != NULL;
	    tok = strtok_r(NULL, " ", &sp)) {
		if (!check_header_name(tok)) {
			conf_error(ctx, "bad header field name \"%s\"", tok);
			free(out);
			out = NULL;
			break;
		}
		for (p = tok; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (header_listed(out, tok)) {
			conf_error(ctx, "header field name \"%s\" listed twice",
			    tok);
			free(out);
			out = NULL;
			break;
		}
		if (*out)
			strcat(out, ":");
		strcat(out, tok);
	}
	free(copy);
	if (out != NULL && *out == '\0') {
		conf_error(ctx, "empty header field list");
		free(out);
		out = NULL;
	}
	return out;
}

/* parse_algorithms - normalize to "rsa" / "ed25519" */
static char **
parse_algorithms(struct conf_ctx *ctx, const char *v, size_t *n)
{
	char **w = split_words(v, n);
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcasecmp(w[i], "rsa") == 0 ||
		    strcasecmp(w[i], "rsa-sha256") == 0) {
			free(w[i]);
			w[i] = xstrdup("rsa");
		} else if (strcasecmp(w[i], "ed25519") == 0 ||
		    strcasecmp(w[i], "ed25519-sha256") == 0) {
			free(w[i]);
			w[i] = xstrdup("ed25519");
		} else {
			conf_error(ctx, "unknown algorithm \"%s\" (rsa, "
			    "ed25519)", w[i]);
			words_free(w, *n);
			*n = 0;
			return NULL;
		}
	}
	return w;
}

/* parse_nets - a list of addresses and CIDR blocks */
static struct conf_net *
parse_nets(struct conf_ctx *ctx, const char *v, size_t *n)
{
	size_t nw, i;
	char **w = split_words(v, &nw);
	struct conf_net *nets = xcalloc(nw ? nw : 1, sizeof(*nets));

	for (i = 0; i < nw; i++) {
		if (conf_net_parse(w[i], &nets[i]) == -1) {
			conf_error(ctx, "bad address or CIDR block \"%s\"",
			    w[i]);
			free(nets);
			nets = NULL;
			break;
		}
	}
	*n = nets ? nw : 0;
	words_free(w, nw);
	return nets;
}

/* parse_bool - yes/no and their usual spellings */
static int
parse_bool(const char *v)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcmp(v, "1") || !strcasecmp(v, "on"))
		return 1;
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
	    !strcmp(v, "0") || !strcasecmp(v, "off"))
		return 0;
	return -1;
}

/* set_string - replace a string field */
static void
set_string(struct conf_ctx *ctx, const struct conf_keyword *kw, char *s)
{
	char **field = (char **)((char *)ctx->conf + kw->off);

	free(*field);
	*field = s;
}

/* set_value - parse v by the keyword's type into its field */
/*
 * check_urls - NULL, or why v is not a list of etcd client URLs:
 * http://host:port or https://host:port, comma separated, no path
 */
static const char *
check_urls(const char *v)
{
	const char *p = v, *host, *end;
	size_t n;

	for (;;) {
		end = p + strcspn(p, ",");
		if (strncmp(p, "http://", 7) == 0)
			host = p + 7;
		else if (strncmp(p, "https://", 8) == 0)
			host = p + 8;
		else
			return "expected http:// or https:// URLs, comma "
			    "separated";
		n = (size_t)(end - host);
		if (n == 0 || memchr(host, '/', n) != NULL ||
		    memchr(host, ' ', n) != NULL)
			return "expected scheme://host:port for each URL (no "
			    "path, no spaces)";
		if (*end == '\0')
			return NULL;
		p = end + 1;
	}
}

static void
set_value(struct conf_ctx *ctx, const struct conf_keyword *kw, const char *v)
{
	char *base = (char *)ctx->conf, *end, *h;
	int *ival = (int *)(base + kw->off);
	long long *llval = (long long *)(base + kw->off);
	const char *why = NULL;
	char buf[256];
	struct sockaddr_storage ss;
	socklen_t sslen;
	long long ll;
	int b;

	switch (kw->type) {
	case CT_STRING:
		set_string(ctx, kw, xstrdup(v));
		return;
	case CT_PATH:
		if (v[0] != '/')
			why = "needs an absolute path";
		else
			set_string(ctx, kw, xstrdup(v));
		break;
	case CT_SOCKET:
		if (conf_socket_form(v, buf, sizeof(buf)) == -1)
			why = buf;
		else
			set_string(ctx, kw, xstrdup(v));
		break;
	case CT_USER:
		if ((why = check_user(v)) == NULL)
			set_string(ctx, kw, xstrdup(v));
		break;
	case CT_BOOL:
		if ((b = parse_bool(v)) == -1)
			why = "expected yes or no";
		else
			*ival = b;
		break;
	case CT_MODE:
		errno = 0;
		ll = strtoll(v, &end, 8);
		if (*end != '\0' || errno || ll < kw->min || ll > kw->max)
			why = "expected an octal mode such as 0660";
		else
			*ival = (int)ll;
		break;
	case CT_INT:
		errno = 0;
		ll = strtoll(v, &end, 10);
		if (*end != '\0' || errno || ll < kw->min || ll > kw->max) {
			conf_error(ctx, "%s: expected a number from %lld to "
			    "%lld", kw->name, kw->min, kw->max);
			return;
		}
		*ival = (int)ll;
		break;
	case CT_DURATION:
		if (duration_parse(v, &ll, &why) == -1)
			break;
		if (ll < kw->min || ll > kw->max) {
			conf_error(ctx, "%s: duration out of range (%llds to "
			    "%llds)", kw->name, kw->min, kw->max);
			return;
		}
		*llval = ll;
		break;
	case CT_ADDRPORT:
		if (conf_addrport(v, 53, &ss, &sslen) == -1)
			why = "expected an IP address, optionally with :port "
			    "([addr]:port for IPv6)";
		else
			set_string(ctx, kw, xstrdup(v));
		break;
	case CT_LISTEN:
		if ((why = check_listen(v)) == NULL)
			set_string(ctx, kw, xstrdup(v));
		break;
	case CT_HEADERS:
		if ((h = parse_headers(ctx, v)) != NULL)
			set_string(ctx, kw, h);
		return;
	default:
		abort();	/* lists go through parse_list */
	case CT_MISMATCH:
		if (strcasecmp(v, "none") == 0)
			*ival = CONF_MISMATCH_NONE;
		else if (strcasecmp(v, "reject") == 0)
			*ival = CONF_MISMATCH_REJECT;
		else if (strcasecmp(v, "tempfail") == 0)
			*ival = CONF_MISMATCH_TEMPFAIL;
		else
			why = "expected none, reject or tempfail";
		break;
	case CT_DOMAIN:
		if ((why = check_domain(v)) == NULL) {
			set_string(ctx, kw, xstrdup(v));
			conf_lower(*(char **)((char *)ctx->conf + kw->off));
		}
		break;
	case CT_ONERROR:
		if (strcasecmp(v, "tempfail") == 0)
			*ival = CONF_ONERROR_TEMPFAIL;
		else if (strcasecmp(v, "accept") == 0)
			*ival = CONF_ONERROR_ACCEPT;
		else
			why = "expected tempfail or accept";
		break;
	case CT_LOGLEVEL:
		if ((b = log_level_parse(v)) == -1)
			why = "expected error, warning, notice, info or debug";
		else
			*ival = b;
		break;
	case CT_URLS:
		if ((why = check_urls(v)) == NULL)
			set_string(ctx, kw, xstrdup(v));
		break;
	case CT_PREFIX:
		if (v[0] != '/' || v[strlen(v) - 1] != '/' || strlen(v) > 128 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-_.") != strlen(v))
			why = "expected a key prefix that starts and ends "
			    "with / (letters, digits, - _ . /; at most 128 "
			    "bytes)";
		else
			set_string(ctx, kw, xstrdup(v));
		break;
	}
	/* a long value is cut, never the reason after it */
	if (why != NULL)
		conf_error(ctx, "%s \"%.*s%s\": %s", kw->name, CONF_SHOWMAX, v,
		    strlen(v) > CONF_SHOWMAX ? "..." : "", why);
}

/* keyword_find - the table entry for a keyword, case-insensitively */
static const struct conf_keyword *
keyword_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYWORDS; i++)
		if (strcasecmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

/* is_list - list keywords may be given on several lines and add up */
static int
is_list(const struct conf_keyword *kw)
{
	return kw->countoff != NOCOUNT;
}

/* strip_comment - cut at a '#' that starts the line or follows a blank */
static void
strip_comment(char *line)
{
	char *p;

	for (p = line; *p; p++) {
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	for (p = line + strlen(line); p > line &&
	    isspace((unsigned char)p[-1]); p--)
		p[-1] = '\0';
}

/* parse_addrports - a list of address[:port] */
static char **
parse_addrports(struct conf_ctx *ctx, const char *v, size_t *n)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char **w = split_words(v, n);
	size_t i;

	for (i = 0; i < *n; i++) {
		if (conf_addrport(w[i], 53, &ss, &sslen) == -1) {
			conf_error(ctx, "bad address \"%s\" (IP address, "
			    "optionally :port; [addr]:port for IPv6)", w[i]);
			words_free(w, *n);
			*n = 0;
			return NULL;
		}
	}
	return w;
}

/* parse_list - a list keyword's value; NULL after reporting an error */
static void *
parse_list(struct conf_ctx *ctx, const struct conf_keyword *kw,
    const char *v, size_t *n)
{
	switch (kw->type) {
	case CT_NETS:
		return parse_nets(ctx, v, n);
	case CT_ADDRPORTS:
		return parse_addrports(ctx, v, n);
	case CT_ALGORITHMS:
		return parse_algorithms(ctx, v, n);
	default:
		return split_words(v, n);
	}
}

/*
 * add_list - the first use of a list keyword replaces its default, later
 * lines add to it
 */
static void
add_list(struct conf_ctx *ctx, const struct conf_keyword *kw, const char *v,
    int first)
{
	char *base = (char *)ctx->conf;
	void **field = (void **)(base + kw->off);
	size_t *count = (size_t *)(base + kw->countoff);
	size_t elem, n;
	const char *p;
	void *list;

	for (p = v; *p == ',' || isspace((unsigned char)*p); p++)
		;
	if (*p == '\0') {	/* never an empty list in place of the default */
		conf_error(ctx, "%s \"%s\": empty list", kw->name, v);
		return;
	}
	if ((list = parse_list(ctx, kw, v, &n)) == NULL)
		return;
	elem = kw->type == CT_NETS ? sizeof(struct conf_net) : sizeof(char *);
	if (first) {
		if (kw->type == CT_NETS)
			free(*field);
		else
			words_free(*field, *count);
		*field = NULL;
		*count = 0;
	}
	*field = xreallocarray(*field, *count + n, elem);
	memcpy((char *)*field + *count * elem, list, n * elem);
	*count += n;
	free(list);
}

/* conf_line - one "Keyword value" line */
static void
conf_line(struct conf_ctx *ctx, char *line)
{
	const struct conf_keyword *kw;
	char *name, *value;
	size_t idx;

	strip_comment(line);
	name = line + strspn(line, " \t");
	if (*name == '\0')
		return;
	value = name + strcspn(name, " \t");
	if (*value != '\0')
		*value++ = '\0';
	value += strspn(value, " \t");
	if ((kw = keyword_find(name)) == NULL) {
		conf_error(ctx, "unknown keyword \"%s\"", name);
		return;
	}
	if (*value == '\0') {
		conf_error(ctx, "%s needs a value", kw->name);
		return;
	}
	idx = kw - keywords;
	if (ctx->seen[idx] && !is_list(kw)) {
		conf_error(ctx, "%s already set at line %d", kw->name,
		    ctx->seen[idx]);
		return;
	}
	if (is_list(kw))
		add_list(ctx, kw, value, !ctx->seen[idx]);
	else
		set_value(ctx, kw, value);
	if (!ctx->seen[idx])
		ctx->seen[idx] = ctx->lineno;
}

/* conf_seen_at - point the next error at the line of a keyword */
static void
conf_seen_at(struct conf_ctx *ctx, const char *name)
{
	ctx->lineno = ctx->seen[keyword_find(name) - keywords];
}

/* conf_check_fleet - the fleet settings that go together */
static void
conf_check_fleet(struct conf_ctx *ctx)
{
	static const char *needs[] = { "FleetCA", "FleetCert", "FleetKey",
	    "FleetUser", "FleetPasswordFile", "FleetPrefix", "FleetKEK",
	    "FleetLeaseTTL", "FleetRotation", "FleetStaleAfter" };
	const struct kt_conf *c = ctx->conf;
	size_t i;

	if (c->fleet_endpoints == NULL) {
		for (i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
			if (ctx->seen[keyword_find(needs[i]) - keywords]) {
				conf_seen_at(ctx, needs[i]);
				conf_error(ctx, "%s needs FleetEndpoints",
				    needs[i]);
			}
		return;
	}
	if (c->fleet_kek == NULL) {
		conf_seen_at(ctx, "FleetEndpoints");
		conf_error(ctx, "FleetEndpoints needs FleetKEK (the file of "
		    "the key that encrypts private keys in etcd)");
	}
	if ((c->fleet_cert == NULL) != (c->fleet_key == NULL)) {
		conf_seen_at(ctx, c->fleet_cert != NULL ? "FleetCert" :
		    "FleetKey");
		conf_error(ctx, "FleetCert and FleetKey go together");
	}
	if ((c->fleet_user == NULL) != (c->fleet_password_file == NULL)) {
		conf_seen_at(ctx, c->fleet_user != NULL ? "FleetUser" :
		    "FleetPasswordFile");
		conf_error(ctx, "FleetUser and FleetPasswordFile go together");
	}
	if (c->fleet_stale_after < c->fleet_lease_ttl) {
		conf_seen_at(ctx, ctx->seen[keyword_find("FleetStaleAfter") -
		    keywords] ? "FleetStaleAfter" : "FleetLeaseTTL");
		conf_error(ctx, "FleetStaleAfter (%llds) is shorter than "
		    "FleetLeaseTTL (%llds)", c->fleet_stale_after,
		    c->fleet_lease_ttl);
	}
}

/* conf_check - rules that span keywords */
static void
conf_check(struct conf_ctx *ctx)
{
	const struct conf_keyword *kw = keyword_find("SocketOwner");

	if (ctx->conf->socket_owner != NULL &&
	    strncmp(ctx->conf->socket, "inet", 4) == 0) {
		ctx->lineno = ctx->seen[kw - keywords];
		conf_error(ctx, "SocketOwner applies to unix sockets only");
	}
	conf_check_fleet(ctx);
}

struct kt_conf *
conf_load(const char *path, conf_report_fn *report, void *arg)
{
	struct conf_ctx ctx;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *fp;

	memset(&ctx, 0, sizeof(ctx));
	ctx.file = path;
	ctx.report = report;
	ctx.arg = arg;
	if ((fp = fopen(path, "r")) == NULL) {
		conf_error(&ctx, "cannot open: %s", strerror(errno));
		return NULL;
	}
	ctx.conf = conf_defaults();
	ctx.conf->path = xstrdup(path);
	while ((len = getline(&line, &cap, fp)) != -1) {
		ctx.lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > CONF_MAXLINE)
			conf_error(&ctx, "line longer than %d bytes",
			    CONF_MAXLINE);
		else if (strlen(line) != (size_t)len)
			conf_error(&ctx, "NUL byte in line");
		else
			conf_line(&ctx, line);
	}
	free(line);
	if (ferror(fp)) {
		conf_error(&ctx, "read error: %s", strerror(errno));
	}
	fclose(fp);
	ctx.conf->socket_line = ctx.seen[keyword_find("Socket") - keywords];
	conf_check(&ctx);
	if (ctx.errors) {
		conf_free(ctx.conf);
		return NULL;
	}
	return ctx.conf;
}
