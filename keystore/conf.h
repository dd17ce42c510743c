/*
 * conf - keyturn.conf(5), read by keyturnd and by the keyturn CLI
 *
 * "Keyword value" lines, '#' comments, blank lines. Keywords are matched
 * without regard to case; every keyword has a type and bounds in one table
 * (conf.c). Unknown keywords, bad values and repeated single-valued keywords
 * are errors reported as "file:line: message"; conf_load reports every error
 * it finds, not just the first, and returns NULL when there was any.
 */
#ifndef KEYTURN_CONF_H
#define KEYTURN_CONF_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define CONF_ONERROR_TEMPFAIL	0
#define CONF_ONERROR_ACCEPT	1

#define CONF_MISMATCH_NONE	0	/* pass unsigned */
#define CONF_MISMATCH_REJECT	1
#define CONF_MISMATCH_TEMPFAIL	2

/* One InternalHosts entry: an address and a prefix length. */
struct conf_net {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	int		prefix;
};

struct kt_conf {
	char		*path;		/* the file read, or NULL for defaults */

	/* milter */
	char		*socket;	/* unix:/path, inet:PORT@HOST, inet6:PORT@HOST */
	int		 socket_line;	/* its line in path; 0: the default */
	int		 socket_mode;	/* -1: leave to umask */
	char		*socket_owner;	/* user[:group] or NULL */
	char		*keystore;
	char		*userid;	/* user[:group] or NULL */
	char		*pidfile;	/* NULL: none */
	struct conf_net	*internal;	/* InternalHosts */
	size_t		 ninternal;
	int		 sign_authenticated;
	char		**daemon_names;	/* NULL: any {daemon_name} */
	size_t		 ndaemon_names;
	int		 subdomains;
	char		*sign_headers;	/* colon-separated; NULL: RFC 6376 5.4.1 */
	char		*oversign_headers; /* colon-separated; NULL: default */
	long long	 signature_ttl;	/* seconds; 0: no x= */
	char		**algorithms;	/* NULL: every algorithm the domain has */
	size_t		 nalgorithms;
	int		 on_error;	/* CONF_ONERROR_* */
	char		*signing_table;	/* SigningTable file, or NULL */
	char		*sender_logins;	/* SenderLogins file, or NULL */
	int		 sender_mismatch; /* CONF_MISMATCH_* */
	char		*platform_domain; /* PlatformDomain, or NULL */
	int		 log_level;	/* syslog priority */
	int		 allow_root;	/* run as root without UserID */
	char		*metrics_listen; /* address:port of /metrics; NULL: off */
	int		 key_cache;	/* domains whose keys stay parsed */

	/* rotation */
	int		 rotation;
	long long	 rotation_interval;	/* seconds */
	char		*resolver;	/* address[:port]; NULL: /etc/resolv.conf */
	char		**propagation_resolvers;
	size_t		 npropagation_resolvers;
	int		 dns_port;	/* port used to reach nameservers */
	long long	 dns_timeout;	/* seconds */
	int		 dns_concurrency; /* propagation checks in flight */
	long long	 recheck_interval; /* seconds between checks of a
					    record already confirmed */
	char		*publish_command;

	/* fleet: the keystore in etcd, KeyStore its local mirror */
	char		*fleet_endpoints;	/* NULL: no fleet */
	char		*fleet_ca;
	char		*fleet_cert;
	char		*fleet_key;
	char		*fleet_user;
	char		*fleet_password_file;
	char		*fleet_prefix;		/* "/keyturn/" */
	char		*fleet_kek;		/* FleetKEK file */
	long long	 fleet_lease_ttl;	/* seconds */
	int		 fleet_rotation;	/* this host may lead */
	long long	 fleet_stale_after;	/* seconds */
};

#define CONF_KEY_CACHE		100000
#define CONF_DNS_CONCURRENCY	16
#define CONF_RECHECK_INTERVAL	86400
#define CONF_FLEET_PREFIX	"/keyturn/"
#define CONF_FLEET_LEASE_TTL	15
#define CONF_FLEET_STALE_AFTER	300

typedef void conf_report_fn(const char *msg, void *arg);

/* conf_defaults - a configuration with every default and no file */
struct kt_conf	*conf_defaults(void);
/*
 * conf_load - read path; NULL after calling report once per error with a
 * "file:line: message" string (report may be NULL).
 */
struct kt_conf	*conf_load(const char *path, conf_report_fn *report, void *arg);
void		 conf_free(struct kt_conf *);

/* conf_internal - is this client address in InternalHosts? */
int		 conf_internal(const struct kt_conf *, const struct sockaddr *);
/* conf_net_parse - "192.0.2.0/24", "::1", ...; 0 or -1 */
int		 conf_net_parse(const char *, struct conf_net *);
int		 conf_net_match(const struct conf_net *, const struct sockaddr *);
/* conf_socket_path - the file of a unix Socket (unix:, local:, /), or NULL */
const char	*conf_socket_path(const char *spec);
/*
 * conf_socket_form - Socket as text: its form, port, host syntax, and a
 * unix path libmilter can bind (at most 106 bytes on Linux); 0, or -1
 * with why
 */
int		 conf_socket_form(const char *spec, char *why, size_t whylen);
/*
 * conf_socket_check - all that can be known of Socket without binding it:
 * conf_socket_form, then a unix socket's directory exists and only a
 * socket is in its place, or an inet host name resolves; 0, or -1 with why
 */
int		 conf_socket_check(const char *spec, char *why, size_t whylen);
/*
 * conf_addrport - "192.0.2.1", "192.0.2.1:5353", "::1", "[::1]:5353" into
 * a sockaddr (port defport when none is given); 0 or -1
 */
int		 conf_addrport(const char *, int defport,
		    struct sockaddr_storage *, socklen_t *);

#endif
