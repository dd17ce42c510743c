/*
 * cli_doctor_mta - keyturn doctor: keyturnd's socket as the MTA finds it
 *
 * The unix socket must exist and accept connections (keyturnd runs and
 * listens there); for Postfix, its user (mail_owner) must search every
 * directory above it and write to it. Postfix's settings come from
 * postconf(1) -c DIR: queue_directory, smtpd_milters, non_smtpd_milters,
 * and the chroot column of master.cf for the smtpd and cleanup services
 * ("-" is n since Postfix 3.0). A chrooted daemon reaches only sockets
 * under the queue directory, and every Postfix daemon resolves a relative
 * milter path from there; a milter list must name keyturnd's socket.
 * Sendmail connects to milters as root: only a listening socket matters.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_doctor.h"
#include "conf.h"
#include "xmalloc.h"

/* doc_may - would u get the access bits want (4 r, 2 w, 1 x) on st? */
static int
doc_may(const struct doc_user *u, const struct stat *st, int want)
{
	int i, bits = st->st_mode & 07;

	if (u->uid == 0)
		return 1;
	if (st->st_uid == u->uid)
		bits = (st->st_mode >> 6) & 07;
	else
		for (i = 0; i < u->ngroups; i++)
			if (u->groups[i] == st->st_gid) {
				bits = (st->st_mode >> 3) & 07;
				break;
			}
	return (bits & want) == want;
}

/* doc_owner - "user:group" of a file, for messages */
static char *
doc_owner(const struct stat *st, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	char u[32], g[32];

	snprintf(u, sizeof(u), "%lu", (unsigned long)st->st_uid);
	snprintf(g, sizeof(g), "%lu", (unsigned long)st->st_gid);
	snprintf(buf, len, "%s:%s", pw ? pw->pw_name : u, gr ? gr->gr_name :
	    g);
	return buf;
}

/*
 * doc_reach - the first directory above path that u cannot search, or
 * NULL: a socket or keystore behind it is out of reach whatever its mode
 */
char *
doc_reach(const struct doc_user *u, const char *path, struct stat *bad)
{
	char *p = xstrdup(path), *s;

	for (s = p; (s = strchr(s + 1, '/')) != NULL; ) {
		*s = '\0';
		if (stat(*p ? p : "/", bad) == 0 && !doc_may(u, bad, 1))
			return p;
		*s = '/';
	}
	if (stat("/", bad) == 0 && !doc_may(u, bad, 1)) {
		free(p);
		return xstrdup("/");
	}
	free(p);
	return NULL;
}

/* doc_run - a command's standard output (stderr discarded); exit status */
static int
doc_run(char *const argv[], char **out)
{
	size_t len = 0, cap = 4096;
	ssize_t r;
	pid_t pid;
	int fd[2], st, null;

	*out = xmalloc(cap);
	**out = '\0';
	if (pipe(fd) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(fd[1], 1);
		dup2(null, 2);
		close(fd[0]);
		execv(argv[0], argv);	/* an absolute path: no PATH search */
		_exit(127);
	}
	close(fd[1]);
	while ((r = read(fd[0], *out + len, cap - len - 1)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			break;
		if ((len += r) + 1 == cap)
			*out = xreallocarray(*out, cap *= 2, 1);
	}
	(*out)[len] = '\0';
	close(fd[0]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A Postfix setting as postconf(1) says it: $names expanded, and as written */
struct doc_pf {
	char	*queue, *smtpd_milters, *non_smtpd_milters, *owner;
	char	*smtpd_raw, *non_smtpd_raw;
	int	 major;	/* mail_version */
	/* the first chrooted smtpd and cleanup services, or "" */
	char	 smtpd_chroot[128], cleanup_chroot[128];
};

/* doc_pf_line - the next line of text, cut off; NULL at the end */
static char *
doc_pf_line(char **text)
{
	char *s = *text, *nl;

	if (s == NULL || *s == '\0')
		return NULL;
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		*text = nl + 1;
	} else
		*text = s + strlen(s);
	return s;
}

/* doc_pf_chroot - which smtpd and cleanup services run chrooted */
static void
doc_pf_chroot(struct doc_pf *pf, char *text)
{
	char *l, *eq, svc[128], cmd[64], ch[8];
	char chroots[64][128];
	int n = 0, i;

	/* postconf -F prints every chroot line, then every command line */
	while ((l = doc_pf_line(&text)) != NULL) {
		if ((eq = strstr(l, " = ")) == NULL ||
		    sscanf(l, "%127[^ ]", svc) != 1)
			continue;
		if (strstr(svc, "/chroot") && n < 64 && sscanf(eq + 3,
		    "%7s", ch) == 1 && (ch[0] == 'y' || (ch[0] == '-' &&
		    pf->major < 3)))
			snprintf(chroots[n++], sizeof(chroots[0]), "%.*s",
			    (int)(strstr(svc, "/chroot") - svc), svc);
		if (!strstr(svc, "/command") || sscanf(eq + 3, "%63s",
		    cmd) != 1)
			continue;
		*strstr(svc, "/command") = '\0';
		for (i = 0; i < n; i++)
			if (strcmp(chroots[i], svc) == 0 &&
			    strcmp(cmd, "smtpd") == 0 && !*pf->smtpd_chroot)
				snprintf(pf->smtpd_chroot,
				    sizeof(pf->smtpd_chroot), "%s", svc);
			else if (strcmp(chroots[i], svc) == 0 &&
			    strcmp(cmd, "cleanup") == 0 && !*pf->cleanup_chroot)
				snprintf(pf->cleanup_chroot,
				    sizeof(pf->cleanup_chroot), "%s", svc);
	}
}

/* doc_pf_read - main.cf and master.cf through postconf; -1 when absent */
static int
doc_pf_read(struct doc *d, struct doc_pf *pf)
{
	char *h[] = { "/usr/sbin/postconf", "-c", (char *)d->pfdir, "-x",
	    "-h", "queue_directory", "smtpd_milters", "non_smtpd_milters",
	    "mail_owner", "mail_version", NULL };
	char *raw[] = { "/usr/sbin/postconf", "-c", (char *)d->pfdir, "-h",
	    "smtpd_milters", "non_smtpd_milters", NULL };
	char *f[] = { "/usr/sbin/postconf", "-c", (char *)d->pfdir, "-F",
	    "*/*/chroot", "*/*/command", NULL };
	char *out, *p, *l, *main = xasprintf("%s/main.cf", d->pfdir);
	int r = access(main, F_OK);
	size_t n;

	free(main);
	memset(pf, 0, sizeof(*pf));
	if (r == -1 || doc_run(h, &out) != 0) {
		if (r == 0 || d->pfgiven)
			fprintf(stderr, "keyturn: %s: no Postfix main.cf, or "
			    "postconf failed: Postfix not checked\n", d->pfdir);
		return -1;
	}
	p = out;
	pf->queue = xstrdup((l = doc_pf_line(&p)) ? l : "");
	pf->smtpd_milters = xstrdup((l = doc_pf_line(&p)) ? l : "");
	pf->non_smtpd_milters = xstrdup((l = doc_pf_line(&p)) ? l : "");
	pf->owner = xstrdup((l = doc_pf_line(&p)) ? l : "postfix");
	pf->major = (l = doc_pf_line(&p)) ? atoi(l) : 3;
	free(out);
	/* "/x/q/" is the directory /x/q */
	for (n = strlen(pf->queue); n > 1 && pf->queue[n - 1] == '/'; n--)
		pf->queue[n - 1] = '\0';
	p = NULL;
	if (doc_run(raw, &out) == 0)
		p = out;
	pf->smtpd_raw = xstrdup((l = doc_pf_line(&p)) ? l :
	    pf->smtpd_milters);
	pf->non_smtpd_raw = xstrdup((l = doc_pf_line(&p)) ? l :
	    pf->non_smtpd_milters);
	free(out);
	if (doc_run(f, &out) == 0)
		doc_pf_chroot(pf, out);
	free(out);
	return 0;
}

/*
 * doc_under - path relative to dir when it is inside it, as written or
 * resolved (malloc'd), or NULL
 */
static char *
doc_under(const char *path, const char *dir)
{
	char rd[PATH_MAX], rp[PATH_MAX], *pd, *base, *rel = NULL;
	const char *p;
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	if (strncmp(path, dir, n) == 0 && path[n] == '/') {
		for (p = path + n; *p == '/'; p++)
			;
		if (*p != '\0')
			return xstrdup(p);
	}
	pd = xstrdup(path);
	if ((base = strrchr(pd, '/')) == NULL || base[1] == '\0') {
		free(pd);
		return NULL;
	}
	*base++ = '\0';
	if (realpath(dir, rd) != NULL && realpath(*pd ? pd : "/", rp) !=
	    NULL) {
		n = strcmp(rd, "/") == 0 ? 0 : strlen(rd);
		if (strncmp(rp, rd, n) == 0 && (rp[n] == '/' ||
		    rp[n] == '\0')) {
			for (p = rp + n; *p == '/'; p++)
				;
			rel = *p ? xasprintf("%s/%s", p, base) :
			    xstrdup(base);
		}
	}
	free(pd);
	return rel;
}

/* doc_same - are two socket paths the same file (or the same text)? */
static int
doc_same(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return 1;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* doc_pf_names - does a milter list name keyturnd's unix socket? */
static int
doc_pf_names(const char *list, const char *sock, const char *queue,
    int chrooted)
{
	char *l = xstrdup(list), *tok, *p, *path;
	int found = 0;

	for (tok = strtok(l, " \t,{}"); tok && !found; tok = strtok(NULL,
	    " \t,{}")) {
		if (strncmp(tok, "unix:", 5) == 0)
			p = tok + 5;
		else if (strncmp(tok, "local:", 6) == 0)
			p = tok + 6;
		else
			continue;
		/* the daemons run in the queue directory, chrooted or not */
		path = *p != '/' || chrooted ? xasprintf("%s/%s", queue,
		    p + (*p == '/')) : xstrdup(p);
		found = doc_same(path, sock);
		free(path);
	}
	free(l);
	return found;
}

/*
 * doc_pf_append - a milter list as written, less its entries naming sock
 * (unreachable from a chroot), with unix:addr added: other milters stay
 */
static char *
doc_pf_append(const struct doc_pf *pf, const char *raw, const char *sock,
    const char *addr)
{
	char *out = xstrdup(""), *e, *t;
	const char *p = raw, *q;
	int depth;

	while (*p != '\0') {
		if (strchr(" \t\r\n,", *p) != NULL) {
			p++;
			continue;
		}
		q = p;
		if (*q == '{') {
			for (depth = 0; *q != '\0'; q++)
				if (*q == '{')
					depth++;
				else if (*q == '}' && --depth == 0) {
					q++;
					break;
				}
		} else
			q += strcspn(q, " \t\r\n,");
		e = xasprintf("%.*s", (int)(q - p), p);
		if (*e == '{' || !doc_pf_names(e, sock, pf->queue, 0)) {
			t = xasprintf("%s%s%s", out, *out ? ", " : "", e);
			free(out);
			out = t;
		}
		free(e);
		p = q;
	}
	t = xasprintf("%s%sunix:%s", out, *out ? ", " : "", addr);
	free(out);
	return t;
}

/* doc_pf_chfix - the fix for a socket a chrooted daemon cannot reach */
static char *
doc_pf_chfix(struct doc *d, const struct doc_pf *pf, const char *param,
    const char *raw, const char *sock)
{
	char *what, *line, *fix, *list;

	what = xasprintf("Socket unix:%s/keyturn/keyturnd.sock", pf->queue);
	line = doc_conf_where(d, d->conf->socket_line, what);
	list = doc_pf_append(pf, raw, sock, "keyturn/keyturnd.sock");
	fix = xasprintf("mkdir -p %s/keyturn; %s; postconf -c %s -e '%s = "
	    "%s'; restart keyturnd and Postfix", pf->queue, line, d->pfdir,
	    param, list);
	free(list);
	free(line);
	free(what);
	return fix;
}

/*
 * doc_pf_param - one milter parameter against keyturnd's socket; 1 when
 * it does not name it
 */
static int
doc_pf_param(struct doc *d, const struct doc_pf *pf, const char *param,
    const char *value, const char *raw, const char *svc, const char *sock)
{
	char *rel = doc_under(sock, pf->queue);
	const char *addr = rel ? rel : sock;
	char *subject = xasprintf("%s/main.cf %s", d->pfdir, param), *list;
	int r = 0;

	list = doc_pf_append(pf, raw, sock, addr);
	if (*svc && rel == NULL)
		doc_add(d, "postfix", subject, xasprintf("%s runs chrooted in "
		    "%s (master.cf), so it cannot reach keyturnd's socket %s "
		    "outside it", svc, pf->queue, sock),
		    doc_pf_chfix(d, pf, param, raw, sock));
	else if (*value == '\0' && strcmp(param, "smtpd_milters") == 0)
		doc_add(d, "postfix", subject, xasprintf("%s is empty: mail "
		    "Postfix receives by SMTP is not given to keyturnd",
		    param), xasprintf("postconf -c %s -e '%s = %s'; "
		    "postfix reload", d->pfdir, param, list));
	else if (*value != '\0' && !doc_pf_names(value, sock, pf->queue,
	    *svc != '\0')) {
		doc_add(d, "postfix", subject, xasprintf("%s = %s does not "
		    "name keyturnd's socket %s", param, value, sock),
		    xasprintf("postconf -c %s -e '%s = %s'; postfix "
		    "reload", d->pfdir, param, list));
		r = 1;
	}
	free(list);
	free(rel);
	free(subject);
	return r;
}

/* doc_pf_refers - does a value as written use $name or ${name}? */
static int
doc_pf_refers(const char *raw, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = raw; (p = strchr(p, '$')) != NULL; p++) {
		if (p[1] == '{' || p[1] == '(')
			p++;
		if (strncmp(p + 1, name, n) == 0 && (p[1 + n] == '\0' ||
		    strchr("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"
		    "Z0123456789", p[1 + n]) == NULL))
			return 1;
	}
	return 0;
}

/* doc_postfix - the chroot of smtpd and cleanup, and the milter lists */
static void
doc_postfix(struct doc *d, const char *sock)
{
	struct doc_pf pf;
	int r;

	if (doc_pf_read(d, &pf) == -1)
		return;
	if (doc_user(pf.owner, &d->mtau) == -1)
		doc_user("postfix", &d->mtau);
	if (sock != NULL && *pf.queue) {
		r = doc_pf_param(d, &pf, "smtpd_milters", pf.smtpd_milters,
		    pf.smtpd_raw, pf.smtpd_chroot, sock);
		/* $smtpd_milters in it: the fix above mends both */
		if (*pf.non_smtpd_milters && !(r && doc_pf_refers(
		    pf.non_smtpd_raw, "smtpd_milters")))
			doc_pf_param(d, &pf, "non_smtpd_milters",
			    pf.non_smtpd_milters, pf.non_smtpd_raw,
			    pf.cleanup_chroot, sock);
	}
	free(pf.smtpd_raw);
	free(pf.non_smtpd_raw);
	free(pf.queue);
	free(pf.smtpd_milters);
	free(pf.non_smtpd_milters);
	free(pf.owner);
}

/* doc_listening - does something accept connections on the socket? */
static int
doc_listening(const char *path)
{
	struct sockaddr_un sun;
	int fd, r, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 1;	/* not ours to judge */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/* nonblocking: a full backlog is a busy listener, not a hang */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		close(fd);
		return 1;
	}
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	close(fd);
	return r == 0 || e == EACCES || e == EAGAIN || e == EINPROGRESS;
}

/* doc_sock_fix - the owner and mode the MTA needs, now and after restarts */
static char *
doc_sock_fix(struct doc *d, const char *sock)
{
	struct group *gr = getgrgid(d->mtau.groups[0]);
	const char *who = d->conf->socket_owner ? d->conf->socket_owner :
	    d->conf->userid ? d->conf->userid : "root";
	char *user = xstrdup(who), *fix;

	user[strcspn(user, ":")] = '\0';
	fix = xasprintf("chown %s:%s %s; chmod 0660 %s; and keep it so with "
	    "SocketOwner %s:%s and SocketMode 0660 in %s", user, gr ?
	    gr->gr_name : d->mtau.name, sock, sock, user, gr ? gr->gr_name :
	    d->mtau.name, d->confpath ? d->confpath : CLI_CONF_DEFAULT);
	free(user);
	return fix;
}

/* doc_socket - keyturnd's unix socket, as the MTA's user finds it */
void
doc_socket(struct doc *d)
{
	const char *sock = conf_socket_path(d->conf->socket);
	struct stat st;
	char *bad, own[80];

	if (d->mta == DOC_MTA_POSTFIX)
		doc_postfix(d, sock);
	if (sock == NULL || d->sockbad)
		return;		/* inet, or said already */
	if (lstat(sock, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    !doc_listening(sock)) {
		doc_add(d, "socket", sock, xstrdup("keyturnd is not listening "
		    "on this socket (not running, or it failed to start)"),
		    xasprintf("start keyturnd (keyturnd -c %s); if it exits, "
		    "keyturnd -n -c %s and the log say why", d->confpath ?
		    d->confpath : CLI_CONF_DEFAULT, d->confpath ? d->confpath :
		    CLI_CONF_DEFAULT));
		return;
	}
	if (d->mta != DOC_MTA_POSTFIX)
		return;	/* Sendmail connects as root; none: no user */
	if ((bad = doc_reach(&d->mtau, sock, &st)) != NULL) {
		doc_add(d, "socket", sock, xasprintf("%s (the MTA's user) "
		    "cannot search %s (mode %04o, %s)", d->mtau.name, bad,
		    (unsigned)(st.st_mode & 07777), doc_owner(&st, own,
		    sizeof(own))), xasprintf("chmod o+x %s", bad));
		free(bad);
	} else if (lstat(sock, &st) == 0 && !doc_may(&d->mtau, &st, 2))
		doc_add(d, "socket", sock, xasprintf("%s (the MTA's user) "
		    "cannot connect: the socket is mode %04o, owned by %s",
		    d->mtau.name, (unsigned)(st.st_mode & 07777),
		    doc_owner(&st, own, sizeof(own))), doc_sock_fix(d, sock));
}
