/*
 * check_conf - keyturn.conf parsing: values, defaults, and every error with
 * its file and line; the Socket checks made before binding (confsock.c)
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

struct errs {
	char	text[4096];
	int	n;
};

static void
collect(const char *msg, void *arg)
{
	struct errs *e = arg;

	strlcat(e->text, msg, sizeof(e->text));
	strlcat(e->text, "\n", sizeof(e->text));
	e->n++;
}

/* load_text - write text to a temporary file and load it */
static struct kt_conf *
load_text(const char *text, struct errs *e, char *path, size_t pathlen)
{
	int fd;

	snprintf(path, pathlen, "/tmp/check_conf.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	memset(e, 0, sizeof(*e));
	return conf_load(path, collect, e);
}

START_TEST(test_defaults)
{
	struct kt_conf *c = conf_defaults();
	struct sockaddr_in sin = { .sin_family = AF_INET };

	ck_assert_int_eq(c->sign_authenticated, 1);
	ck_assert_int_eq(c->on_error, CONF_ONERROR_TEMPFAIL);
	ck_assert_int_eq(c->dns_port, 53);
	ck_assert_int_eq(c->signature_ttl, 0);
	ck_assert_int_eq(c->socket_line, 0);
	ck_assert_ptr_null(c->userid);
	ck_assert_ptr_null(c->metrics_listen);	/* off by default */
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	ck_assert(conf_internal(c, (struct sockaddr *)&sin));
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	ck_assert(!conf_internal(c, (struct sockaddr *)&sin));
	conf_free(c);
}
END_TEST

START_TEST(test_full)
{
	const char *text =
	    "# keyturn.conf\n"
	    "\n"
	    "Socket      inet:8891@127.0.0.1   # trailing comment\n"
	    "KeyStore    /var/lib/keyturn\n"
	    "UserID      nobody\n"
	    "InternalHosts 10.0.0.0/8, 192.0.2.7\n"
	    "internalhosts 2001:db8::/32\n"
	    "SignAuthenticated no\n"
	    "DaemonNames ORIGINATING submission\n"
	    "SubDomains yes\n"
	    "SignHeaders From:To , Subject\n"
	    "SignatureTTL 7d\n"
	    "Algorithms rsa-sha256, ed25519\n"
	    "OnError accept\n"
	    "LogLevel debug\n"
	    "Rotation yes\n"
	    "RotationInterval 30s\n"
	    "Resolver [::1]:5353\n"
	    "PropagationResolvers 127.0.0.2:53 127.0.0.3\n"
	    "DNSPort 5300\n"
	    "DNSTimeout 2s\n"
	    "PublishCommand /usr/local/bin/publish --zone example.com\n"
	    "MetricsListen [::1]:9120\n";
	char path[64];
	struct errs e;
	struct kt_conf *c = load_text(text, &e, path, sizeof(path));
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };

	ck_assert_msg(c != NULL, "%s", e.text);
	ck_assert_str_eq(c->socket, "inet:8891@127.0.0.1");
	ck_assert_int_eq(c->socket_line, 3);
	ck_assert_str_eq(c->userid, "nobody");
	ck_assert_uint_eq(c->ninternal, 3);
	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	ck_assert(conf_internal(c, (struct sockaddr *)&sin));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	ck_assert(!conf_internal(c, (struct sockaddr *)&sin));
	inet_pton(AF_INET6, "2001:db8:1::5", &sin6.sin6_addr);
	ck_assert(conf_internal(c, (struct sockaddr *)&sin6));
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
	ck_assert(conf_internal(c, (struct sockaddr *)&sin6));
	ck_assert_int_eq(c->sign_authenticated, 0);
	ck_assert_uint_eq(c->ndaemon_names, 2);
	ck_assert_str_eq(c->daemon_names[1], "submission");
	ck_assert_int_eq(c->subdomains, 1);
	ck_assert_str_eq(c->sign_headers, "from:to:subject");
	ck_assert_int_eq(c->signature_ttl, 7 * 86400);
	ck_assert_uint_eq(c->nalgorithms, 2);
	ck_assert_str_eq(c->algorithms[0], "rsa");
	ck_assert_str_eq(c->algorithms[1], "ed25519");
	ck_assert_int_eq(c->on_error, CONF_ONERROR_ACCEPT);
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_int_eq(c->rotation, 1);
	ck_assert_int_eq(c->rotation_interval, 30);
	ck_assert_str_eq(c->resolver, "[::1]:5353");
	ck_assert_uint_eq(c->npropagation_resolvers, 2);
	ck_assert_int_eq(c->dns_port, 5300);
	ck_assert_int_eq(c->dns_timeout, 2);
	ck_assert_str_eq(c->publish_command,
	    "/usr/local/bin/publish --zone example.com");
	ck_assert_str_eq(c->metrics_listen, "[::1]:9120");
	conf_free(c);
	unlink(path);
}
END_TEST

/* Each bad line, alone after two good lines, must be reported at line 3. */
static const struct bad_case {
	const char *line;
	const char *want;	/* a part of the message */
} bad_cases[] = {
	{ "Frobnicate yes", "unknown keyword \"Frobnicate\"" },
	{ "Socket", "Socket needs a value" },
	{ "Socket tcp:25", "socket must be" },
	{ "Socket inet:99999@localhost", "bad port" },
	{ "Socket unix:relative/path", "absolute path" },
	{ "Socket inet:25@::1", "an IPv6 address needs inet6:" },
	{ "Socket inet6:25@[127.0.0.1]", "not an IPv6 address" },
	{ "KeyStore relative", "absolute path" },
	{ "UserID no-such-user-kt", "no such user" },
	{ "UserID nobody:no-such-group-kt", "no such group" },
	{ "SignAuthenticated perhaps", "expected yes or no" },
	{ "SocketMode 0999", "octal mode" },
	{ "InternalHosts 10.0.0.0/33", "bad address or CIDR" },
	{ "InternalHosts example.com", "bad address or CIDR" },
	{ "SignatureTTL 5 days", "unknown duration unit" },
	{ "SignatureTTL 20000d", "out of range" },
	{ "SignHeaders From:T\xc3\xb6", "bad header field name" },
	{ "SignHeaders From:To:from", "\"from\" listed twice" },
	{ "OversignHeaders Subject, subject", "\"subject\" listed twice" },
	{ "Algorithms rsa dsa", "unknown algorithm \"dsa\"" },
	{ "OnError reject", "expected tempfail or accept" },
	{ "LogLevel chatty", "expected error, warning" },
	{ "RotationInterval 0s", "out of range" },
	{ "Resolver 127.0.0.1:0", "expected an IP address" },
	{ "Resolver ns1.example", "expected an IP address" },
	{ "PropagationResolvers 127.0.0.1 bogus", "bad address \"bogus\"" },
	{ "DNSPort 0", "expected a number from 1 to 65535" },
	{ "DNSTimeout 2m", "out of range" },
	{ "SubDomains yes", "SubDomains already set at line 2" },
	{ "Algorithms ,", "Algorithms \",\": empty list" },
	{ "DaemonNames ,", "DaemonNames \",\": empty list" },
	{ "InternalHosts , ,", "InternalHosts \", ,\": empty list" },
	{ "PropagationResolvers ,", "empty list" },
	{ "MetricsListen 127.0.0.1", "expected an IP address and a port" },
	{ "MetricsListen localhost:9120", "expected an IP address and a port" },
	{ "MetricsListen 127.0.0.1:0", "expected an IP address and a port" },
	{ "MetricsListen ::1", "expected an IP address and a port" },
};

START_TEST(test_bad)
{
	const struct bad_case *bc = &bad_cases[_i];
	char text[512], path[64], want[256];
	struct kt_conf *c;
	struct errs e;

	snprintf(text, sizeof(text), "# comment\nSubDomains no\n%s\n",
	    bc->line);
	c = load_text(text, &e, path, sizeof(path));
	ck_assert_msg(c == NULL, "accepted \"%s\"", bc->line);
	ck_assert_int_eq(e.n, 1);
	snprintf(want, sizeof(want), "%s:3: ", path);
	ck_assert_msg(strncmp(e.text, want, strlen(want)) == 0,
	    "\"%s\": got \"%s\"", bc->line, e.text);
	ck_assert_msg(strstr(e.text, bc->want) != NULL,
	    "\"%s\": got \"%s\", want \"%s\"", bc->line, e.text, bc->want);
	unlink(path);
}
END_TEST

START_TEST(test_all_errors_reported)
{
	char path[64];
	struct errs e;
	struct kt_conf *c = load_text("Bogus 1\nOnError x\nDNSPort 1\n"
	    "Other 2\n", &e, path, sizeof(path));

	ck_assert_ptr_null(c);
	ck_assert_int_eq(e.n, 3);
	ck_assert_ptr_nonnull(strstr(e.text, ":1: unknown keyword"));
	ck_assert_ptr_nonnull(strstr(e.text, ":2: OnError"));
	ck_assert_ptr_nonnull(strstr(e.text, ":4: unknown keyword"));
	unlink(path);
}
END_TEST

START_TEST(test_missing_file)
{
	struct errs e;

	memset(&e, 0, sizeof(e));
	ck_assert_ptr_null(conf_load("/nonexistent/keyturn.conf", collect,
	    &e));
	ck_assert_ptr_nonnull(strstr(e.text, "/nonexistent/keyturn.conf:0: "
	    "cannot open"));
}
END_TEST

START_TEST(test_binary_garbage)
{
	static const char junk[] = "Socket unix:/a\0b\nLogLevel info\n";
	char path[64];
	struct errs e;
	struct kt_conf *c;
	FILE *fp;
	int fd;

	snprintf(path, sizeof(path), "/tmp/check_conf.XXXXXX");
	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fwrite(junk, 1, sizeof(junk) - 1, fp);
	fclose(fp);
	memset(&e, 0, sizeof(e));
	c = conf_load(path, collect, &e);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(e.text, ":1: NUL byte"));
	unlink(path);
}
END_TEST

static const struct addr_case {
	const char *in;
	int ok, family, port;
} addr_cases[] = {
	{ "127.0.0.1", 1, AF_INET, 53 },
	{ "127.0.0.1:5353", 1, AF_INET, 5353 },
	{ "::1", 1, AF_INET6, 53 },
	{ "[::1]:5353", 1, AF_INET6, 5353 },
	{ "[::1]", 1, AF_INET6, 53 },
	{ "[::1]x", 0, 0, 0 },
	{ "127.0.0.1:", 0, 0, 0 },
	{ "256.0.0.1", 0, 0, 0 },
	{ "", 0, 0, 0 },
};

START_TEST(test_addrport)
{
	const struct addr_case *ac = &addr_cases[_i];
	struct sockaddr_storage ss;
	socklen_t len;
	int r = conf_addrport(ac->in, 53, &ss, &len);

	ck_assert_int_eq(r, ac->ok ? 0 : -1);
	if (!ac->ok)
		return;
	ck_assert_int_eq(ss.ss_family, ac->family);
	ck_assert_int_eq(ntohs(ac->family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port), ac->port);
}
END_TEST

/* What libmilter binds: the path and its NUL shorter than sun_path. */
#define SUNPATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 2)

/* sock_spec - prefix and a path of exactly n bytes, "/" then x's */
static void
sock_spec(char *buf, size_t len, const char *prefix, size_t n)
{
	size_t p = strlen(prefix), i;

	ck_assert_uint_lt(p + n, len);
	memcpy(buf, prefix, p);
	buf[p] = '/';
	for (i = 1; i < n; i++)
		buf[p + i] = 'x';
	buf[p + n] = '\0';
}

/* The text alone; want NULL: accepted. */
static const struct sock_case {
	const char *spec;
	const char *want;
} sock_cases[] = {
	{ "unix:/run/keyturn/keyturnd.sock", NULL },
	{ "local:/run/keyturnd.sock", NULL },
	{ "/run/keyturnd.sock", NULL },
	{ "unix:run/keyturnd.sock", "absolute path" },
	{ "tcp:25", "socket must be" },
	{ "inet:8891", NULL },
	{ "inet:8891@127.0.0.1", NULL },
	{ "inet:8891@localhost", NULL },
	{ "inet:8891@[127.0.0.1]", NULL },
	{ "inet6:8891@[::1]", NULL },
	{ "inet6:8891@::1", NULL },
	{ "inet6:8891@localhost", NULL },
	{ "inet:8891@[::1]", "[::1] is not an IPv4 address" },
	{ "inet:8891@::1", "an IPv6 address needs inet6:" },
	{ "inet6:8891@[::1", "bad [address]" },
	{ "inet6:8891@[]", "bad [address]" },
	{ "inet:8891@", "empty host" },
	{ "inet:8891@mail host", "bad host name" },
	{ "inet:0", "bad port" },
	{ "inet:65536", "bad port" },
	{ "inet:+25", "bad port" },
	{ "inet:smtp", "bad port" },
	{ "inet:@127.0.0.1", "bad port" },
};

START_TEST(test_socket_form)
{
	const struct sock_case *sc = &sock_cases[_i];
	char why[256] = "";
	int r = conf_socket_form(sc->spec, why, sizeof(why));

	if (sc->want == NULL)
		ck_assert_msg(r == 0, "%s: %s", sc->spec, why);
	else
		ck_assert_msg(r == -1 && strstr(why, sc->want) != NULL,
		    "%s: %d \"%s\", want \"%s\"", sc->spec, r, why, sc->want);
}
END_TEST

/* a unix path of SUNPATH_MAX bytes binds; one more never does */
START_TEST(test_socket_length)
{
	static const char *prefix[] = { "unix:", "local:", "" };
	char spec[512], why[256], want[128];
	size_t i;

	for (i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++) {
		sock_spec(spec, sizeof(spec), prefix[i], SUNPATH_MAX);
		ck_assert_msg(conf_socket_form(spec, why, sizeof(why)) == 0,
		    "%s: %s", spec, why);
		sock_spec(spec, sizeof(spec), prefix[i], SUNPATH_MAX + 1);
		ck_assert_int_eq(conf_socket_form(spec, why, sizeof(why)), -1);
		snprintf(want, sizeof(want), "unix socket path is %zu bytes; "
		    "the limit is %zu", SUNPATH_MAX + 1, SUNPATH_MAX);
		ck_assert_str_eq(why, want);
	}
}
END_TEST

/* conf_load: a Socket too long for libmilter is an error at its line */
START_TEST(test_socket_line)
{
	char text[512], spec[256], path[64], want[256];
	struct errs e;
	struct kt_conf *c;

	sock_spec(spec, sizeof(spec), "unix:", 110);
	snprintf(text, sizeof(text), "# c\nSubDomains no\n\nSocket %s\n",
	    spec);
	ck_assert_ptr_null(load_text(text, &e, path, sizeof(path)));
	ck_assert_int_eq(e.n, 1);
	snprintf(want, sizeof(want), "%s:4: Socket \"%s\": unix socket path "
	    "is 110 bytes; the limit is %zu\n", path, spec, SUNPATH_MAX);
	ck_assert_str_eq(e.text, want);
	unlink(path);

	sock_spec(spec, sizeof(spec), "unix:", 20);
	snprintf(text, sizeof(text), "# c\nSubDomains no\nSocket %s\n", spec);
	c = load_text(text, &e, path, sizeof(path));
	ck_assert_msg(c != NULL, "%s", e.text);
	ck_assert_int_eq(c->socket_line, 3);
	conf_free(c);
	unlink(path);
}
END_TEST

/*
 * check_socket_fs - conf_socket_check of "unix:" dir rest: accepted when
 * pre is NULL, else refused with pre dir post
 */
static void
check_socket_fs(const char *dir, const char *rest, const char *pre,
    const char *post)
{
	char spec[256], why[256] = "", want[256];
	int r;

	snprintf(spec, sizeof(spec), "unix:%s%s", dir, rest);
	r = conf_socket_check(spec, why, sizeof(why));
	if (pre == NULL) {
		ck_assert_msg(r == 0, "%s: %s", spec, why);
		return;
	}
	snprintf(want, sizeof(want), "%s%s%s", pre, dir, post);
	ck_assert_msg(r == -1 && strcmp(why, want) == 0, "%s: %d \"%s\", "
	    "want \"%s\"", spec, r, why, want);
}

/* the directory exists, and only a socket is in the way */
START_TEST(test_socket_check)
{
	char dir[] = "/tmp/check_conf.XXXXXX", path[128], why[256];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	check_socket_fs(dir, "/sock", NULL, NULL);
	check_socket_fs(dir, "/none/sock", "directory ",
	    "/none does not exist");
	snprintf(path, sizeof(path), "%s/file", dir);
	ck_assert_int_ge(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	check_socket_fs(dir, "/file/sock", "", "/file is not a directory");
	check_socket_fs(dir, "/file/x/sock", "", "/file/x is not a directory");
	check_socket_fs(dir, "/file", "", "/file exists and is not a socket");
	check_socket_fs(dir, "", "", " exists and is not a socket");
	/* an old socket is replaced by libmilter: not an error */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/old", dir);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	check_socket_fs(dir, "/old", NULL, NULL);
	check_socket_fs("", "/sock", NULL, NULL);
	/* the form comes first; numeric and /etc/hosts names resolve */
	ck_assert_int_eq(conf_socket_check("tcp:25", why, sizeof(why)), -1);
	ck_assert_int_eq(conf_socket_check("inet:25@127.0.0.1", why,
	    sizeof(why)), 0);
	ck_assert_int_eq(conf_socket_check("inet6:25@::1", why, sizeof(why)),
	    0);
	ck_assert_msg(conf_socket_check("inet:25@localhost", why,
	    sizeof(why)) == 0, "%s", why);
	unlink(sun.sun_path);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* The fleet: a whole configuration, and what goes together. */
START_TEST(test_fleet)
{
	struct kt_conf *c;
	struct errs e;
	char path[64];

	c = conf_defaults();
	ck_assert_ptr_null(c->fleet_endpoints);
	ck_assert_str_eq(c->fleet_prefix, "/keyturn/");
	ck_assert_int_eq(c->fleet_lease_ttl, 15);
	ck_assert_int_eq(c->fleet_rotation, 1);
	ck_assert_int_eq(c->fleet_stale_after, 300);
	conf_free(c);
	c = load_text("FleetEndpoints https://10.0.0.1:2379,https://[::1]:2379\n"
	    "FleetCA /etc/ca.pem\nFleetCert /etc/c.pem\nFleetKey /etc/c.key\n"
	    "FleetUser keyturn-signer\nFleetPasswordFile /etc/pw\n"
	    "FleetPrefix /mail/keyturn/\nFleetKEK /etc/kek\n"
	    "FleetLeaseTTL 5s\nFleetRotation no\nFleetStaleAfter 1m\n",
	    &e, path, sizeof(path));
	ck_assert_msg(c != NULL, "%s", e.text);
	ck_assert_str_eq(c->fleet_endpoints,
	    "https://10.0.0.1:2379,https://[::1]:2379");
	ck_assert_str_eq(c->fleet_prefix, "/mail/keyturn/");
	ck_assert_str_eq(c->fleet_kek, "/etc/kek");
	ck_assert_str_eq(c->fleet_user, "keyturn-signer");
	ck_assert_int_eq(c->fleet_lease_ttl, 5);
	ck_assert_int_eq(c->fleet_rotation, 0);
	ck_assert_int_eq(c->fleet_stale_after, 60);
	conf_free(c);
	unlink(path);
}
END_TEST

static const struct fleet_case {
	const char *text;
	int	 line;		/* of the first error */
	const char *want;
} fleet_cases[] = {
	{ "FleetKEK /k\n", 1, "FleetKEK needs FleetEndpoints" },
	{ "KeyStore /k\nFleetRotation no\n", 2,
	    "FleetRotation needs FleetEndpoints" },
	{ "FleetEndpoints http://127.0.0.1:2379\n", 1,
	    "FleetEndpoints needs FleetKEK" },
	{ "FleetEndpoints ftp://127.0.0.1\nFleetKEK /k\n", 1,
	    "expected http:// or https:// URLs" },
	{ "FleetEndpoints http://a:1/v3\nFleetKEK /k\n", 1,
	    "no path, no spaces" },
	{ "FleetEndpoints http://a:1,\nFleetKEK /k\n", 1,
	    "expected http:// or https:// URLs" },
	{ "FleetEndpoints http://a:1\nFleetKEK /k\nFleetPrefix keyturn\n",
	    3, "starts and ends with /" },
	{ "FleetEndpoints http://a:1\nFleetKEK /k\nFleetCert /c\n", 3,
	    "FleetCert and FleetKey go together" },
	{ "FleetEndpoints http://a:1\nFleetKEK /k\nFleetPasswordFile /p\n",
	    3, "FleetUser and FleetPasswordFile go together" },
	{ "FleetEndpoints http://a:1\nFleetKEK /k\nFleetLeaseTTL 1s\n", 3,
	    "out of range" },
	{ "FleetEndpoints http://a:1\nFleetKEK /k\nFleetLeaseTTL 1m\n"
	    "FleetStaleAfter 30s\n", 4,
	    "FleetStaleAfter (30s) is shorter than FleetLeaseTTL (60s)" },
	{ "FleetEndpoints http://a:1\nFleetKEK relative\n", 2,
	    "absolute path" },
};

START_TEST(test_fleet_bad)
{
	const struct fleet_case *fc = &fleet_cases[_i];
	char path[64], want[256];
	struct kt_conf *c;
	struct errs e;

	c = load_text(fc->text, &e, path, sizeof(path));
	ck_assert_msg(c == NULL, "accepted \"%s\"", fc->text);
	snprintf(want, sizeof(want), "%s:%d: ", path, fc->line);
	ck_assert_msg(strncmp(e.text, want, strlen(want)) == 0,
	    "\"%s\": got \"%s\", want line %d", fc->text, e.text, fc->line);
	ck_assert_msg(strstr(e.text, fc->want) != NULL,
	    "\"%s\": got \"%s\", want \"%s\"", fc->text, e.text, fc->want);
	unlink(path);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_full);
	tcase_add_loop_test(tc, test_bad, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_fleet);
	tcase_add_loop_test(tc, test_fleet_bad, 0,
	    sizeof(fleet_cases) / sizeof(fleet_cases[0]));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_binary_garbage);
	tcase_add_loop_test(tc, test_addrport, 0,
	    sizeof(addr_cases) / sizeof(addr_cases[0]));
	tcase_add_loop_test(tc, test_socket_form, 0,
	    sizeof(sock_cases) / sizeof(sock_cases[0]));
	tcase_add_test(tc, test_socket_length);
	tcase_add_test(tc, test_socket_line);
	tcase_add_test(tc, test_socket_check);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
