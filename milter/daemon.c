/*
 * daemon - start-up, privilege drop, signals, reloads and shutdown
 *
 * Start-up order (STYLE.md 9): as root, open the milter socket and set its
 * mode and owner, bind MetricsListen, load the keystore (acting as
 * UserID, who owns it), go to the background, write the pidfile; then
 * drop to UserID for good. Then keyturnd forks (supervise.c): the parent
 * keeps the listening sockets and only watches; the child serves, with
 * every thread below, and a child that dies is replaced by a new one on
 * the same sockets. What follows is the child's life, which is what a
 * lone keyturnd did before; the parent's is in supervise.c.
 *
 * Signals. main blocks SIGHUP, SIGTERM and SIGINT first thing; they stay
 * blocked through start-up (a SIGHUP while a big keystore loads waits
 * instead of killing keyturnd) and in the parent, which lets them in only
 * while it waits (ppoll) and sends them on to the child. The child
 * installs its handlers before anything slow and unblocks the signals
 * once it serves.
 * There the main thread is the one thread that takes them: a handler,
 * which they do not interrupt, notes each in a flag and wakes the main
 * loop through a pipe.
 * Every other thread blocks them, and libmilter's signal thread, which
 * would stop the filter on any of them (SIGHUP included, which keyturnd
 * keeps for reloading), waits through keyturnd's own sigwait, which
 * leaves them out. The end of file on the parent's lifeline
 * (supervise_lifeline) stops the child as SIGTERM would: a child whose
 * parent is gone is not left serving.
 *
 * Stopping: a unix socket's file is removed at once (an MTA connecting
 * gets an error and applies its default action; an inet socket still
 * accepts until the exit), messages that begin from then on, on any
 * connection, get tempfail at DATA, and keyturnd waits until no message
 * that began before is between MAIL and its end, plus a moment for the
 * last replies to reach the MTA, before it exits 0. libmilter is not
 * stopped before that: smfi_stop ends its worker pool, which would never
 * read again a session that was waiting for the MTA (between MAIL and
 * DATA, say); nor does the child ever call smfi_stop otherwise: libmilter
 * would then close the listening socket and remove its file, which the
 * parent keeps for the next child.
 *
 * Keystore changes: domains are read on their first message into the
 * cache (keycache.c); a watcher thread polls the keystore's generation
 * every DAEMON_POLL_MS and, when it moved, reads the journal to learn
 * which domains were written and reads those again if they are cached
 * (loader.c), so that a change costs what changed. SIGHUP builds a new
 * snapshot from a freshly read configuration and checks every cached
 * domain's files. Both hold daemon_reload_lock. A child started after a
 * death inherits the snapshot of the start-up: its watcher catches up
 * with the keystore at its first poll, and when a SIGHUP ever came it
 * reads the configuration again before it serves.
 * Long-running services get their thread next to the watcher, in
 * daemon_services: the rotation (rotation_thread.c) waits with
 * daemon_sleep and installs its keystore changes with daemon_refresh.
 * They run in the child only, so a rotation never runs twice at once.
 *
 * MetricsListen: its socket is bound as root with the milter's (a port
 * below 1024 needs it), kept open by the parent, and served in each
 * child by libmicrohttpd's own thread, started after the privilege drop
 * and stopped at shutdown (metrics.c). Each snapshot installed is counted
 * there; the counters start again with each child.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "daemon.h"
#include "filter.h"
#include "keycache.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "privs.h"
#include "rules.h"
#include "rotation_thread.h"
#include "fleet.h"
#include "fleet_thread.h"
#include "snapshot.h"
#include "supervise.h"
#include "xmalloc.h"

#define DAEMON_POLL_MS		200	/* keystore change detection */
#define DAEMON_DRAIN_S		600	/* longest wait for messages in flight */
#define DAEMON_LINGER_MS	500	/* for the last replies to leave */
#define DAEMON_SOCKET_MODE	0660	/* unix socket, unless SocketMode */
#define DAEMON_SESSION_STACK	(256 * 1024)	/* libmilter's threads */
#define DAEMON_SERVICE_STACK	(2048 * 1024)	/* keyturnd's own */

static int daemon_pipe[2] = { -1, -1 };	/* wakes the main loop */
static volatile sig_atomic_t daemon_got_hup;	/* set by the handler */
static volatile sig_atomic_t daemon_got_stop;	/* SIGTERM or SIGINT */
static volatile sig_atomic_t daemon_nstop;	/* how many of them */
static atomic_int daemon_milter_ended;		/* smfi_main returned */
static pthread_mutex_t daemon_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int daemon_stop_pipe[2] = { -1, -1 };	/* readable: stopping */
static struct loader *daemon_loader;
static const char *daemon_confpath;
static char *daemon_sockpath;		/* a unix socket's file, or NULL */
static int daemon_milter_status;	/* once daemon_milter_ended */

/* daemon_report - conf_load's per-error callback for -n and start-up */
static void
daemon_report(const char *msg, void *arg)
{
	if (arg != NULL)
		fprintf(stderr, "keyturnd: %s\n", msg);
	else
		log_warnx("%s", msg);
}

/* daemon_userid - resolve UserID; 0 and *has set, or -1 */
static int
daemon_userid(const struct kt_conf *conf, struct privs_id *id, int *has,
    char *err, size_t errlen)
{
	*has = 0;
	if (conf->userid == NULL)
		return 0;
	if (privs_lookup(conf->userid, id, err, errlen) == -1)
		return -1;
	*has = 1;
	return 0;
}

/*
 * daemon_rules - SigningTable and SenderLogins for conf; NULL and err
 * after each error was reported (on stderr with tostderr, else logged)
 */
static struct rules *
daemon_rules(const struct kt_conf *conf, int tostderr, char *err,
    size_t errlen)
{
	struct rules *r;

	if ((r = rules_load(conf, daemon_report, tostderr ? &tostderr :
	    NULL)) == NULL)
		snprintf(err, errlen, "the SigningTable or SenderLogins has "
		    "errors (each given with its file and line)");
	return r;
}

/*
 * daemon_first_load - the first snapshot, read as UserID when we are root
 * (the keystore must belong to the user that runs the daemon, and the
 * tables must be readable by it). Errors of the rules go to stderr with
 * tostderr (-n), else to the log.
 */
static struct snapshot *
daemon_first_load(struct loader *l, struct kt_conf *conf, int tostderr,
    char *err, size_t errlen)
{
	struct privs_id id;
	struct snapshot *s = NULL;
	struct rules *rules;
	int has, borrowed = 0;

	if (daemon_userid(conf, &id, &has, err, errlen) == -1)
		return NULL;
	if (has && geteuid() == 0 && id.uid != 0) {
		if (privs_borrow(&id, err, errlen) == -1)
			return NULL;
		borrowed = 1;
	}
	/* the tables too as UserID, who reads them again at each reload */
	if ((rules = daemon_rules(conf, tostderr, err, errlen)) != NULL &&
	    (s = loader_build(l, conf, rules, NULL, err, errlen)) == NULL)
		rules_unref(rules);
	if (borrowed) {
		char perr[256];

		/* a start-up invariant: nothing sane follows if it breaks */
		if (privs_return(perr, sizeof(perr)) == -1) {
			fprintf(stderr, "keyturnd: %s\n", perr);
			log_warnx("%s", perr);
			exit(1);
		}
	}
	return s;
}

/*
 * daemon_socket_check - what binding Socket would run into, found before
 * the bind and told as "file:line: Socket ...", the line of the setting
 */
static int
daemon_socket_check(const struct kt_conf *conf, char *msg, size_t len)
{
	char why[512];

	if (conf_socket_check(conf->socket, why, sizeof(why)) == 0)
		return 0;
	if (conf->socket_line > 0)
		snprintf(msg, len, "%s:%d: Socket \"%s\": %s", conf->path,
		    conf->socket_line, conf->socket, why);
	else
		snprintf(msg, len, "Socket \"%s\" (the default): %s",
		    conf->socket, why);
	return -1;
}

/*
 * daemon_check_domains - -n: a signing domain the SigningTable or
 * PlatformDomain names that the keystore lacks is warned of (its mail
 * would get the failure policy); it may be a domain still to be added
 */
static void
daemon_check_domains(const struct snapshot *s)
{
	const struct signtable *t = s->rules != NULL ? s->rules->signtable :
	    NULL;
	size_t i, j;

	struct snap_domain *d;

	if (s->conf->platform_domain != NULL &&
	    (d = snapshot_find(s, s->conf->platform_domain, 0)) != NULL)
		snap_domain_unref(d);
	else if (s->conf->platform_domain != NULL)
		fprintf(stderr, "keyturnd: warning: %s: PlatformDomain %s is "
		    "not in the keystore: every message would get the "
		    "failure policy\n", s->conf->path != NULL ?
		    s->conf->path : "defaults", s->conf->platform_domain);
	for (i = 0; t != NULL && i < t->nrules; i++)
		for (j = 0; j < t->rules[i].ndomains; j++)
			if ((d = snapshot_find(s, t->rules[i].domains[j],
			    0)) != NULL)
				snap_domain_unref(d);
			else
				fprintf(stderr, "keyturnd: warning: %s:%d: "
				    "signing domain %s is not in the keystore: "
				    "its mail would get the failure policy\n",
				    t->path, t->rules[i].lineno,
				    t->rules[i].domains[j]);
}

/*
 * daemon_check_keystore - -n reads what keyturnd reads on first use, for
 * every domain: each one that does not load is told with its error
 */
static int
daemon_check_keystore(const struct snapshot *s, size_t *count)
{
	struct store *st = keycache_store(s->kc);
	struct snap_domain *d;
	char **names, err[1024];
	size_t n, i;
	int bad = 0;

	if (store_domain_names(st, &names, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "keyturnd: %s\n", err);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((d = keycache_load(st, names[i])) == NULL)
			continue;	/* removed meanwhile */
		if (d->error != NULL) {
			fprintf(stderr, "keyturnd: domain %s: %s\n", d->name,
			    d->error);
			bad = 1;
		}
		snap_domain_unref(d);
	}
	store_names_free(names, n);
	*count = n;
	return bad ? -1 : 0;
}

/* daemon_check - keyturnd -n: what start-up would open and load, not serving */
int
daemon_check(struct kt_conf *conf, const char *confpath)
{
	struct loader *l = loader_new();
	struct snapshot *s;
	char err[1024], msg[1024];
	size_t n = 0;
	int bad = 0, sockbad;

	sockbad = daemon_socket_check(conf, msg, sizeof(msg)) == -1;
	if (sockbad)
		fprintf(stderr, "keyturnd: %s\n", msg);
	/* the fleet's secrets, as keyturnd reads them at start */
	if (conf->fleet_endpoints != NULL) {
		struct fleet *f = fleet_new(conf, 1, err, sizeof(err));

		if (f == NULL) {
			fprintf(stderr, "keyturnd: fleet: %s\n", err);
			sockbad = 1;
		}
		fleet_free(f);
	}
	s = daemon_first_load(l, conf, 1, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "keyturnd: %s\n", err);
		conf_free(conf);
		loader_free(l);
		return 1;
	}
	daemon_check_domains(s);
	if (daemon_check_keystore(s, &n) == -1)
		bad = 1;
	if (bad || sockbad) {
		snapshot_unref(s);
		loader_free(l);
		return 1;
	}
	printf("%s: OK, %zu domain%s in %s\n", confpath != NULL ? confpath :
	    "defaults", n, n == 1 ? "" : "s", s->conf->keystore);
	snapshot_unref(s);
	loader_free(l);
	return 0;
}

/*
 * daemon_listen - the socket is created with its mode at bind time: the
 * umask is set from SocketMode (default DAEMON_SOCKET_MODE) around
 * smfi_opensocket, so there is no moment when an inherited umask (000)
 * lets any local user connect and have mail signed. libmilter tells its
 * reasons to syslog alone, some without an errno: what can be checked
 * before the bind is checked first, so that the log says why.
 */
static int
daemon_listen(const struct kt_conf *conf)
{
	char msg[1024];
	mode_t mode, old;
	int r, saved;

	if (daemon_socket_check(conf, msg, sizeof(msg)) == -1) {
		log_warnx("cannot listen: %s", msg);
		return -1;
	}
	mode = conf->socket_mode >= 0 ? (mode_t)conf->socket_mode :
	    DAEMON_SOCKET_MODE;
	old = umask(~mode & 0777);
	errno = 0;
	r = smfi_setconn(conf->socket) == MI_SUCCESS &&
	    smfi_opensocket(1) == MI_SUCCESS ? 0 : -1;
	saved = errno;
	umask(old);
	if (r == -1)
		log_warnx("%s: cannot listen: %s", conf->socket, saved != 0 ?
		    strerror(saved) : "libmilter refused it without an error "
		    "code (its own message, if any, is in syslog)");
	return r;
}

/* daemon_socket - listen before dropping root; mode and owner as configured */
static int
daemon_socket(const struct kt_conf *conf, const struct privs_id *user,
    int hasuser)
{
	struct privs_id owner;
	const char *path;
	char err[256];

	if (daemon_listen(conf) == -1)
		return -1;
	if ((path = conf_socket_path(conf->socket)) == NULL)
		return 0;
	daemon_sockpath = xstrdup(path);
	if (conf->socket_owner != NULL) {
		if (privs_lookup(conf->socket_owner, &owner, err,
		    sizeof(err)) == -1) {
			log_warnx("SocketOwner: %s", err);
			return -1;
		}
	} else if (hasuser)
		owner = *user;
	else
		return 0;
	/* lchown: a symbolic link put in its place is not followed */
	if (lchown(path, owner.uid, owner.gid) == -1) {
		log_warn("%s: chown", path);
		return -1;
	}
	return 0;
}

/*
 * daemon_pidfile - write our pid; failure is a start-up error. Root writes
 * it in a directory its user may own: a symbolic link there is refused
 * (O_NOFOLLOW), and so is anything but a regular file.
 */
static int
daemon_pidfile(const char *path)
{
	struct stat st;
	char buf[32];
	int fd, n;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK | O_NOCTTY, 0644)) == -1) {
		if (errno == ELOOP)
			log_warnx("%s: PidFile is a symbolic link, refused",
			    path);
		else if (errno == ENXIO)	/* a FIFO without a reader */
			log_warnx("%s: PidFile is not a regular file, refused",
			    path);
		else
			log_warn("%s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: PidFile is not a regular file, refused", path);
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, buf, n) != n) {
		log_warn("%s", path);
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		log_warn("%s", path);
		return -1;
	}
	return 0;
}

/* The signals the main thread handles, and only it. */
static const int daemon_sigs[] = { SIGHUP, SIGTERM, SIGINT };
#define DAEMON_NSIGS (sizeof(daemon_sigs) / sizeof(daemon_sigs[0]))

/* daemon_sigset - daemon_sigs as a set */
static void
daemon_sigset(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < DAEMON_NSIGS; i++)
		sigaddset(set, daemon_sigs[i]);
}

/* daemon_block_signals - a signal during start-up waits, never kills */
void
daemon_block_signals(void)
{
	sigset_t set;

	daemon_sigset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* daemon_unblock_signals - deliver what is pending, to the handlers if set */
void
daemon_unblock_signals(void)
{
	sigset_t set;

	daemon_sigset(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * daemon_onsignal - async-signal-safe: note the signal, wake the main
 * loop. The note is what counts: a full pipe (a storm of SIGHUPs) loses
 * a wake-up byte, never a SIGTERM.
 */
static void
daemon_onsignal(int sig)
{
	int saved = errno;
	unsigned char c = 1;

	if (sig == SIGHUP)
		daemon_got_hup = 1;
	else {
		daemon_got_stop = sig;
		daemon_nstop++;		/* the handler never runs inside itself */
	}
	(void)write(daemon_pipe[1], &c, 1);
	errno = saved;
}

/*
 * sigwait - defined here so that libmilter's call resolves to it. The
 * thread smfi_main starts waits with sigwait for SIGHUP, SIGTERM and
 * SIGINT and stops the filter on any of them. A process signal goes to
 * any thread that accepts it, and a thread inside sigwait accepts what it
 * waits for: whenever the main thread already had one pending, or was in
 * its handler, a SIGHUP meant for a reload could stop keyturnd instead.
 * Those three are the main thread's alone: they are taken out of the set,
 * and a caller left with nothing to wait for sleeps for good.
 */
int
sigwait(const sigset_t *restrict set, int *restrict sig)
{
	sigset_t want;
	size_t i;
	int r;

	want = *set;
	for (i = 0; i < DAEMON_NSIGS; i++)
		sigdelset(&want, daemon_sigs[i]);
	if (sigisemptyset(&want))
		for (;;)
			pause();
	while ((r = sigwaitinfo(&want, NULL)) == -1 && errno == EINTR)
		;
	if (r == -1)
		return errno;
	*sig = r;
	return 0;
}

/* daemon_signals - the main thread's handlers for HUP/TERM/INT, and the pipe */
static int
daemon_signals(void)
{
	struct sigaction sa;
	size_t i;

	if (pipe(daemon_pipe) == -1 ||
	    pipe2(daemon_stop_pipe, O_CLOEXEC) == -1)
		return -1;
	fcntl(daemon_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(daemon_pipe[1], F_SETFL, O_NONBLOCK);
	fcntl(daemon_pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(daemon_pipe[1], F_SETFD, FD_CLOEXEC);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = daemon_onsignal;
	sa.sa_flags = SA_RESTART;
	daemon_sigset(&sa.sa_mask);	/* never inside itself */
	for (i = 0; i < DAEMON_NSIGS; i++)
		if (sigaction(daemon_sigs[i], &sa, NULL) == -1)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/*
 * daemon_stacks - the stack of the threads libmilter creates, one per MTA
 * connection (Postfix and Sendmail open one per SMTP client). Left alone
 * they get RLIMIT_STACK, 8 MB on most systems and many times what a
 * session uses (under 32 kB), and glibc keeps only 40 MB of exited
 * threads' stacks for reuse, so past five sessions at once new ones map
 * theirs afresh. keyturnd's own threads set their size in daemon_spawn.
 */
static void
daemon_stacks(void)
{
#ifdef HAVE_PTHREAD_SETATTR_DEFAULT_NP
	pthread_attr_t a;

	if (pthread_attr_init(&a) != 0)
		return;
	if (pthread_attr_setstacksize(&a, DAEMON_SESSION_STACK) != 0 ||
	    pthread_setattr_default_np(&a) != 0)
		log_warnx("session thread stack of %d kB not set: the system "
		    "default stays", DAEMON_SESSION_STACK / 1024);
	pthread_attr_destroy(&a);
#endif
}

/*
 * daemon_spawn - one of keyturnd's own threads: a mask without
 * HUP/TERM/INT, and a stack for the rotation's DNS work (64 kB buffers)
 */
static int
daemon_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t set, old;
	int r;

	if ((r = pthread_attr_init(&attr)) != 0)
		return r;
	if ((r = pthread_attr_setstacksize(&attr, DAEMON_SERVICE_STACK)) == 0) {
		daemon_sigset(&set);
		pthread_sigmask(SIG_BLOCK, &set, &old);
		r = pthread_create(t, &attr, fn, arg);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_attr_destroy(&attr);
	return r;
}

/* daemon_milter - libmilter's accept loop; wakes the main thread at its end */
static void *
daemon_milter(void *arg)
{
	unsigned char c = 0;

	daemon_milter_status = smfi_main() == MI_SUCCESS ? 0 : 1;
	atomic_store(&daemon_milter_ended, 1);	/* after the status */
	(void)write(daemon_pipe[1], &c, 1);
	return NULL;
}

/* daemon_install - the signers' snapshot from now on, and its metrics */
static void
daemon_install(struct snapshot *s)
{
	metrics_snapshot_installed(time(NULL));
	snapshot_install(s);
}

/* daemon_swap - install a new snapshot, or say why the old one stays */
static void
daemon_swap(struct snapshot *s, const struct snapshot *cur, const char *what,
    const char *err)
{
	static char lasterr[1024];

	if (s == NULL) {
		if (strcmp(lasterr, err) != 0)
			log_warnx("%s refused, still signing with the previous "
			    "keys: %s", what, err);
		snprintf(lasterr, sizeof(lasterr), "%s", err);
		return;
	}
	lasterr[0] = '\0';
	if (strcmp(what, "reload") == 0)
		log_info("reload: in force; %zu cached domain%s read again "
		    "(KeyCache %zu)", loader_reread(daemon_loader),
		    loader_reread(daemon_loader) == 1 ? "" : "s",
		    keycache_max(s->kc));
	else
		log_info("%s: in force", what);
	daemon_install(s);
}

/*
 * daemon_rules_once - a SigningTable or SenderLogins file changed: the
 * snapshot again with the new rules, or, when they do not load, the ones
 * in force kept and the failure not retried until the files change again
 */
static void
daemon_rules_once(struct snapshot *cur)
{
	struct snapshot *s;
	struct rules *r;
	char err[1024];

	if ((r = daemon_rules(cur->conf, 0, err, sizeof(err))) == NULL) {
		rules_tried(cur->rules, cur->conf);
		log_warnx("rules change refused, still signing with the rules "
		    "in force: %s", err);
		return;
	}
	if ((s = loader_build(daemon_loader, NULL, r, cur, err,
	    sizeof(err))) == NULL) {
		rules_unref(r);
		rules_tried(cur->rules, cur->conf);	/* not every second */
	}
	daemon_swap(s, cur, "rules change", err);
}

/* daemon_keystore_once - the domains written since the last poll */
static void
daemon_keystore_once(void)
{
	int n = loader_poll(daemon_loader);
	size_t reread = loader_reread(daemon_loader);
	unsigned long long gen =
	    (unsigned long long)loader_generation(daemon_loader);

	if (n == 0)
		return;
	metrics_keystore_moved(loader_generation(daemon_loader),
	    n > 0 ? (unsigned)n : 0);
	if (n == LOADER_LOST)
		log_notice("keystore change: generation %llu: the journal "
		    "cannot say which domains changed; every cached domain "
		    "checked, %zu read again", gen, reread);
	else
		log_info("keystore change: generation %llu: %d domain "
		    "write%s, %zu cached domain%s read again", gen, n,
		    n == 1 ? "" : "s", reread, reread == 1 ? "" : "s");
}

/*
 * daemon_watch_once - the keystore's journal, and the rules' files when
 * they changed
 */
static void
daemon_watch_once(void)
{
	struct snapshot *cur;

	pthread_mutex_lock(&daemon_reload_lock);
	if ((cur = snapshot_current()) == NULL) {
		pthread_mutex_unlock(&daemon_reload_lock);
		return;
	}
	if (cur->rules != NULL && rules_changed(cur->rules, cur->conf))
		daemon_rules_once(cur);
	daemon_keystore_once();
	snapshot_unref(cur);
	pthread_mutex_unlock(&daemon_reload_lock);
}

/* daemon_mono_ms - the monotonic clock in milliseconds */
static long long
daemon_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * daemon_sleep - a service thread's timed wait, cut short by shutdown.
 * The stop pipe becomes readable for good at shutdown; the wait is
 * measured on the monotonic clock, so a step of the wall clock neither
 * stretches nor cuts it.
 */
int
daemon_sleep(long long ms)
{
	struct pollfd pfd;
	long long end = daemon_mono_ms() + (ms > 0 ? ms : 0), left;
	int r;

	for (;;) {
		pfd.fd = daemon_stop_pipe[0];
		pfd.events = POLLIN;
		left = end - daemon_mono_ms();
		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;
		if ((r == 0 && left <= INT_MAX) || (r == -1 && errno != EINTR))
			return 0;
	}
}

/* daemon_cancel_fd - readable once keyturnd is stopping */
int
daemon_cancel_fd(void)
{
	return daemon_stop_pipe[0];
}

/* daemon_refresh - the rotation thread's swap reaches the signers now */
void
daemon_refresh(void)
{
	daemon_watch_once();
}

/* daemon_watcher - the keystore change detector (a few seconds at most) */
static void *
daemon_watcher(void *arg)
{
	while (daemon_sleep(DAEMON_POLL_MS) == 0)
		daemon_watch_once();
	return NULL;
}

/* Threads that run beside the milter until shutdown. */
static const struct {
	const char	*name;
	void		*(*fn)(void *);
} daemon_services[] = {
	{ "keystore watcher", daemon_watcher },
	{ "rotation", rotation_thread },
	{ "fleet mirror", fleet_mirror_thread },
	{ "fleet session", fleet_session_thread },
};
#define DAEMON_NSERVICES (sizeof(daemon_services) / sizeof(daemon_services[0]))

/* daemon_fixed_changed - settings that only a restart applies */
static void
daemon_fixed_changed(const struct kt_conf *o, const struct kt_conf *n)
{
	static const char *none = "";

#define KT_DIFF(a, b) (strcmp((a) != NULL ? (a) : none, (b) != NULL ? (b) : none))
	if (KT_DIFF(o->socket, n->socket) || KT_DIFF(o->userid, n->userid) ||
	    KT_DIFF(o->pidfile, n->pidfile) ||
	    KT_DIFF(o->socket_owner, n->socket_owner) ||
	    KT_DIFF(o->metrics_listen, n->metrics_listen) ||
	    o->socket_mode != n->socket_mode)
		log_notice("Socket, SocketMode, SocketOwner, UserID, PidFile "
		    "and MetricsListen changes take effect at the next "
		    "restart");
#undef KT_DIFF
}

/*
 * daemon_fleet_changed - a fleet's settings, and the KeyStore its mirror
 * threads write, are those keyturnd started with: a reload that changes
 * them is refused (1), since the signers would read another directory
 * than the mirror is written to
 */
static int
daemon_fleet_changed(const struct kt_conf *o, const struct kt_conf *n)
{
	static const char *none = "";

#define KT_DIFF(a, b) (strcmp((a) != NULL ? (a) : none, (b) != NULL ? (b) : none))
	if (o->fleet_endpoints == NULL && n->fleet_endpoints == NULL)
		return 0;
	return KT_DIFF(o->fleet_endpoints, n->fleet_endpoints) ||
	    KT_DIFF(o->fleet_ca, n->fleet_ca) ||
	    KT_DIFF(o->fleet_cert, n->fleet_cert) ||
	    KT_DIFF(o->fleet_key, n->fleet_key) ||
	    KT_DIFF(o->fleet_user, n->fleet_user) ||
	    KT_DIFF(o->fleet_password_file, n->fleet_password_file) ||
	    KT_DIFF(o->fleet_prefix, n->fleet_prefix) ||
	    KT_DIFF(o->fleet_kek, n->fleet_kek) ||
	    KT_DIFF(o->keystore, n->keystore) ||
	    o->fleet_lease_ttl != n->fleet_lease_ttl ||
	    o->fleet_rotation != n->fleet_rotation ||
	    o->fleet_stale_after != n->fleet_stale_after;
#undef KT_DIFF
}

/* daemon_reload - SIGHUP: configuration and keystore, all or nothing */
static void
daemon_reload(void)
{
	struct kt_conf *conf;
	struct snapshot *cur, *s;
	struct rules *rules;
	char err[1024];

	if ((conf = conf_load(daemon_confpath, daemon_report, NULL)) == NULL) {
		log_warnx("%s: configuration reload refused, keeping the "
		    "running one", daemon_confpath);
		return;
	}
	if ((rules = daemon_rules(conf, 0, err, sizeof(err))) == NULL) {
		log_warnx("%s: configuration reload refused, keeping the "
		    "running one: %s", daemon_confpath, err);
		conf_free(conf);
		return;
	}
	pthread_mutex_lock(&daemon_reload_lock);
	cur = snapshot_current();
	if (cur != NULL && daemon_fleet_changed(cur->conf, conf)) {
		log_warnx("%s: configuration reload refused, keeping the "
		    "running one: the Fleet settings and a fleet's KeyStore "
		    "change only at a restart", daemon_confpath);
		snapshot_unref(cur);
		pthread_mutex_unlock(&daemon_reload_lock);
		conf_free(conf);
		rules_unref(rules);
		return;
	}
	if (cur != NULL)
		daemon_fixed_changed(cur->conf, conf);
	s = loader_build(daemon_loader, conf, rules, cur, err, sizeof(err));
	if (s == NULL) {
		conf_free(conf);
		rules_unref(rules);
	} else
		log_setlevel(s->conf->log_level);
	daemon_swap(s, cur, "reload", err);
	snapshot_unref(cur);
	pthread_mutex_unlock(&daemon_reload_lock);
}

/*
 * daemon_drain - after filter_stop: wait while any message is in flight,
 * then until the sessions close, no callback has run for
 * DAEMON_LINGER_MS, or that long has passed. The count of messages drops
 * inside the end-of-message callback, before libmilter sends its reply,
 * and a message may start and end between two polls: the time of the
 * last callback (filter.c) says the replies have left; the cap keeps new
 * sessions, tempfailed as they come, from holding keyturnd up. A second
 * SIGTERM or SIGINT ends the wait (the MTA then applies its default
 * action to what is left).
 */
static void
daemon_drain(int nstop)
{
	struct timespec nap = { 0, 10 * 1000000L };
	long long until = daemon_mono_ms() + DAEMON_DRAIN_S * 1000LL;
	unsigned int n = 0, waited = 0;
	int again = 0;

	while (daemon_mono_ms() < until &&
	    !(again = daemon_nstop != nstop)) {
		if ((n = filter_inflight()) == 0 && (filter_sessions() == 0 ||
		    filter_idle_ms() >= DAEMON_LINGER_MS ||
		    waited >= DAEMON_LINGER_MS))
			return;
		if (n == 0)
			waited += 10;
		nanosleep(&nap, NULL);
	}
	n = filter_inflight();
	log_warnx("exiting with %u message%s still in flight%s", n,
	    n == 1 ? "" : "s", again ? " (second signal)" : "");
}

/* daemon_stop_new - SIGTERM: no unix socket file, no new message */
static void
daemon_stop_new(void)
{
	if (daemon_sockpath != NULL && unlink(daemon_sockpath) == -1 &&
	    errno != ENOENT)
		log_warn("%s", daemon_sockpath);
	filter_stop();
}

/*
 * daemon_stopping - a stop to begin: a SIGTERM or SIGINT noted, or the
 * parent gone (its lifeline at end of file); its name for the log, or NULL
 */
static const char *
daemon_stopping(const struct pollfd *life)
{
	int stop = daemon_got_stop;

	if (stop != 0)
		return stop == SIGTERM ? "SIGTERM" : "SIGINT";
	if (life->revents != 0)
		return "the supervising process is gone";
	return NULL;
}

/*
 * daemon_loop - the main thread: wait for a signal, for libmilter's end or
 * for the parent's. 1 when stopped (*nstop: the stop signals counted
 * then, so that the drain knows a later one), 0 when smfi_main returned
 * by itself.
 */
static int
daemon_loop(int *nstop)
{
	struct pollfd pfd[2] = {
		{ daemon_pipe[0], POLLIN, 0 },
		{ supervise_lifeline(), POLLIN, 0 },
	};
	unsigned char buf[256];
	const char *why;

	for (;;) {
		while (read(daemon_pipe[0], buf, sizeof(buf)) > 0)
			;			/* the notes say what came */
		if ((why = daemon_stopping(&pfd[1])) != NULL) {
			*nstop = daemon_nstop;	/* read after the flag */
			/* logged once no new message can start */
			daemon_stop_new();
			log_info("%s: finishing %u message%s in flight", why,
			    filter_inflight(), filter_inflight() == 1 ? "" :
			    "s");
			return 1;
		}
		if (atomic_load(&daemon_milter_ended))
			return 0;
		if (daemon_got_hup) {
			/* cleared first: a SIGHUP from now on reloads again */
			daemon_got_hup = 0;
			log_info("SIGHUP: reloading");
			daemon_reload();
			continue;
		}
		(void)poll(pfd, 2, -1);
	}
}

/* daemon_stop_services - wake and join the service threads */
static void
daemon_stop_services(pthread_t *t, size_t n)
{
	size_t i;

	/* never read: it stays readable, for every waiter and every
	 * rotation check or hook under way (daemon_cancel_fd) */
	(void)write(daemon_stop_pipe[1], "x", 1);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* daemon_prepare - everything done as root; -1 means exit 1 */
static int
daemon_prepare(struct kt_conf *conf, const struct daemon_opts *o,
    struct privs_id *id, int *hasuser)
{
	struct snapshot *s;
	char err[1024];

	if (daemon_userid(conf, id, hasuser, err, sizeof(err)) == -1) {
		log_warnx("UserID: %s", err);
		return -1;
	}
	if (geteuid() == 0 && !*hasuser && !conf->allow_root) {
		log_warnx("refusing to run as root without UserID "
		    "(set AllowRoot yes to insist)");
		return -1;
	}
	if (*hasuser && geteuid() != 0 && geteuid() != id->uid) {
		log_warnx("UserID %s: keyturnd must be started as root or as "
		    "that user", conf->userid);
		return -1;
	}
	if (filter_register() == -1 || daemon_socket(conf, id, *hasuser) == -1)
		return -1;
	if (conf->metrics_listen != NULL && metrics_listen(conf->metrics_listen,
	    err, sizeof(err)) == -1) {
		log_warnx("MetricsListen %s", err);
		return -1;
	}
	/* the fleet's secrets are read as root, like the keys */
	if (fleet_thread_init(conf, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	daemon_loader = loader_new();
	if ((s = daemon_first_load(daemon_loader, conf, 0, err,
	    sizeof(err))) == NULL) {
		log_warnx("keystore: %s", err);
		return -1;
	}
	log_info("keystore %s: domains are read on their first message "
	    "(KeyCache %zu)", s->conf->keystore, keycache_max(s->kc));
	metrics_keystore_moved(loader_generation(daemon_loader), 0);
	daemon_install(s);
	return 0;
}

/*
 * daemon_background - what daemon(3) does, but the signals that came for
 * the parent during start-up (blocked, so still pending in it, and a child
 * does not inherit them) are sent on to the child before the parent leaves;
 * there they wait, as in a foreground start-up, to be taken by the
 * supervising loop and sent on to the signing process
 */
static int
daemon_background(void)
{
	sigset_t pending;
	pid_t pid;
	size_t i;
	int fd;

	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid != 0) {
		sigpending(&pending);
		for (i = 0; i < DAEMON_NSIGS; i++)
			if (sigismember(&pending, daemon_sigs[i]) == 1)
				(void)kill(pid, daemon_sigs[i]);
		_exit(0);
	}
	if (setsid() == -1) {
		log_warn("setsid");
		return -1;
	}
	if (chdir("/") == -1)
		log_warn("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	log_init("keyturnd", 0, log_getlevel());
	return 0;
}

/*
 * daemon_start - STYLE.md 9's order up to the fork: socket and keystore as
 * root, background, pidfile, privilege drop; -1 means exit 1. The signals
 * stay blocked: the parent and the child each install their handlers.
 */
static int
daemon_start(struct kt_conf *conf, const struct daemon_opts *o,
    const char *pidfile)
{
	struct privs_id id;
	char err[256];
	int hasuser;

	if (daemon_prepare(conf, o, &id, &hasuser) == -1 ||
	    (!o->foreground && daemon_background() == -1) ||
	    daemon_pidfile(pidfile) == -1)
		goto fail;
	if (hasuser && geteuid() == 0 && privs_drop(&id, err,
	    sizeof(err)) == -1) {
		log_warnx("dropping privileges to %s: %s", id.name, err);
		goto failpid;
	}
	return 0;
failpid:
	if (pidfile != NULL)
		(void)unlink(pidfile);
fail:
	if (daemon_sockpath != NULL)
		(void)unlink(daemon_sockpath);
	return -1;
}

/*
 * daemon_catch_up - what the child does before it serves: the first one
 * makes the fleet's mirror equal to etcd; one that replaces a dead child
 * reads the configuration again if a SIGHUP ever came (the dead child had
 * reloaded it; this one was forked from the start-up's)
 */
static void
daemon_catch_up(void)
{
	if (supervise_restarts() == 0) {
		fleet_thread_first_sync();
		return;
	}
	if (supervise_hups() > 0) {
		log_info("signing process %ld: reading the configuration "
		    "again, as the last SIGHUP did", (long)getpid());
		daemon_reload();
	}
}

/*
 * daemon_threads - the child up to serving: handlers, the milter thread
 * and the services; -1 means exit 1. When a service does not start, the
 * milter thread is left running to the exit: smfi_stop would close the
 * listening socket and remove its file, which the parent keeps for the
 * next child.
 */
static int
daemon_threads(const char *maddr, pthread_t *milter, pthread_t *svc)
{
	char err[256];
	size_t i;
	int r;

	/* before anything slow: the signals (blocked since main) wait */
	if (daemon_signals() == -1) {
		log_warn("start-up: signal handlers");
		return -1;
	}
	daemon_catch_up();
	/* what came meanwhile goes to the pipe now, for daemon_loop */
	daemon_unblock_signals();
	daemon_stacks();
	if (metrics_start(err, sizeof(err)) == -1) {
		log_warnx("MetricsListen %s: %s", maddr, err);
		return -1;
	}
	if ((r = daemon_spawn(milter, daemon_milter, NULL)) != 0) {
		log_warnx("start-up: %s", strerror(r));
		return -1;
	}
	for (i = 0; i < DAEMON_NSERVICES; i++)
		if ((r = daemon_spawn(&svc[i], daemon_services[i].fn,
		    NULL)) != 0) {
			log_warnx("starting the %s: %s",
			    daemon_services[i].name, strerror(r));
			/* the threads started use what the exit frees */
			daemon_stop_services(svc, i);
			_exit(1);
		}
	return 0;
}

/*
 * daemon_serve - the signing child's life: threads, the main loop, the
 * drain; its exit status
 */
static int
daemon_serve(const char *sock, const char *maddr)
{
	pthread_t milter, svc[DAEMON_NSERVICES];
	int status, nstop;

	if (daemon_threads(maddr, &milter, svc) == -1)
		return 1;
	supervise_ready();
	if (supervise_restarts() == 0)
		log_info("keyturnd %s started on %s", PACKAGE_VERSION, sock);
	else
		log_notice("signing process %ld serves on %s (restart %u)",
		    (long)getpid(), sock, supervise_restarts());
	/* after a signal, drain the sessions and leave: exit closes the rest */
	if (daemon_loop(&nstop)) {
		daemon_drain(nstop);
		/* libmilter may have ended on its own meanwhile */
		status = atomic_load(&daemon_milter_ended) ?
		    daemon_milter_status : 0;
	} else {
		pthread_join(milter, NULL);
		status = daemon_milter_status;
		daemon_drain(daemon_nstop);
	}
	daemon_stop_services(svc, DAEMON_NSERVICES);
	metrics_stop();
	log_info("stopped");
	return status;
}

/*
 * daemon_run - the start-up order of STYLE.md 9, then the fork: the child
 * serves, the parent watches it (supervise.c) and removes the pid file at
 * the end
 */
int
daemon_run(struct kt_conf *conf, const struct daemon_opts *o)
{
	char *pidfile, *sock, *maddr;
	int status;

	daemon_confpath = o->confpath;
	pidfile = conf->pidfile != NULL ? xstrdup(conf->pidfile) : NULL;
	sock = xstrdup(conf->socket);
	maddr = xstrdup(conf->metrics_listen != NULL ? conf->metrics_listen :
	    "");
	if (daemon_start(conf, o, pidfile) == -1)
		status = 1;
	else if (supervise_run(daemon_sockpath, &status) == SUPERVISE_CHILD)
		status = daemon_serve(sock, maddr);
	else if (pidfile != NULL)
		(void)unlink(pidfile);
	metrics_stop();
	snapshot_shutdown();
	loader_free(daemon_loader);
	fleet_thread_free();
	free(pidfile);
	free(sock);
	free(maddr);
	free(daemon_sockpath);
	return status;
}

/* daemon_pid - the supervising parent's pid, from either process */
pid_t
daemon_pid(void)
{
	return supervise_parent();
}
