/*
 * supervise - keyturnd's parent: it keeps the sockets, the child signs
 *
 * Why two processes. libmilter parses the MTA's packets inside keyturnd,
 * and some of its faults are beyond our reach: an SMFIC_MACRO packet
 * with an odd number of strings (a name without its value) is stored as
 * it came, and smfi_getsymval walks that list two by two, past its end,
 * for any name it does not hold (libmilter/engine.c st_macros, smfi.c
 * smfi_getsymval). A thread that faults takes the whole process down:
 * every message of every connection. So the process that parses and
 * signs is a child, and the parent, which opened the sockets as root,
 * only watches it: when the child dies, the listening sockets are still
 * open in the parent, connections wait in their backlog, and a new child
 * takes them up at once. It was forked from the same start-up state, so
 * it needs no root, reads no key before its first message (the key cache
 * fills as it does after a start) and serves within milliseconds.
 *
 * The parent runs no thread. HUP, TERM and INT (blocked by main since its
 * first instruction) and CHLD stay blocked except inside ppoll, the one
 * place the parent waits: their handlers only count them there, and the
 * loop acts on the counts once ppoll returns, so no signal comes between
 * a look at the counts and the wait. HUP and the stop signals go on to
 * the child, which handles them as a lone keyturnd did.
 * A HUP that comes while no child runs is not lost: a child started
 * after any HUP reads the configuration again before it serves, so that
 * a restart does not bring back the configuration of the start-up.
 *
 * The child runs in a process group of its own, so that a terminal's
 * ^C (which goes to the foreground group) reaches the parent alone and
 * the child gets it once, forwarded; with -f its log lines still reach
 * the terminal (SIGTTOU ignored). It holds the read end of a pipe whose
 * write end only the parent has: the end of file tells the child that the
 * parent is gone (SIGKILL, say), and it stops as on SIGTERM instead of
 * serving on, unsupervised and unknown to the pid file.
 *
 * Restarts are rate limited: when more than SUP_BURST children died
 * within SUP_WINDOW_MS, the next one waits, 1 s and twice as long at each
 * further death, up to SUP_DELAY_MAX_MS, so that a child that cannot
 * start (or a stream of packets of death) is not forked in a tight loop;
 * the socket keeps accepting meanwhile.
 *
 * What a death costs: the sessions the child held. Their MTA sees the
 * milter connection drop and applies its milter_default_action (Postfix,
 * tempfail unless set otherwise) or the filter's F= flag (Sendmail: F=T
 * tempfails, as keyturnd(8) sets it up) to the messages in flight, so the
 * client retries.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "supervise.h"

#define SUP_BURST		10	/* deaths tolerated within the window */
#define SUP_WINDOW_MS		(60 * 1000LL)
#define SUP_DELAY_MIN_MS	1000LL	/* the first wait past the burst */
#define SUP_DELAY_MAX_MS	(60 * 1000LL)

/* What the parent knows of its child, of the stop, of past deaths. */
struct sup {
	const char	*sockpath;	/* a unix socket's file, or NULL */
	struct stat	 sock;		/* what it was when we started */
	pid_t		 child;		/* -1 while none runs */
	int		 readyfd;	/* the child writes a byte there */
	int		 served;	/* some child reached serving */
	int		 stopping;	/* a SIGTERM or SIGINT came */
	int		 done;		/* leave with status */
	int		 status;
	long long	 deaths[SUP_BURST + 1];	/* a ring of times */
	unsigned int	 ndeaths;
	long long	 delay;		/* the current wait before a child */
	long long	 next;		/* no child before then */
};

/* What the handler counts, by signal; the loop keeps what it acted on. */
enum { SUP_HUP, SUP_TERM, SUP_INT, SUP_CHLD, SUP_NSIG };
static volatile sig_atomic_t sup_got[SUP_NSIG];
static const int sup_sigs[SUP_NSIG] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD };

static int sup_lifeline[2] = { -1, -1 };
static int sup_readyw = -1;		/* the child's end */
static unsigned int sup_nstarted;	/* in a child: those before it */
static unsigned int sup_nhup;		/* SIGHUPs forwarded */
static pid_t sup_ppid;

/* sup_mono_ms - the restarts are timed on a clock no date change moves */
static long long
sup_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sup_onsignal - async-signal-safe: count it, ppoll returns, the loop acts */
static void
sup_onsignal(int sig)
{
	size_t i;

	for (i = 0; i < SUP_NSIG; i++)
		if (sup_sigs[i] == sig)
			sup_got[i]++;	/* the handler never runs inside itself */
}

/*
 * sup_signals - the handlers, with the signals blocked outside ppoll (an
 * inherited SIG_IGN for SIGCHLD would have the kernel reap the child
 * before we saw it die); 0, or -1
 */
static int
sup_signals(void)
{
	struct sigaction sa;
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < SUP_NSIG; i++)
		sigaddset(&set, sup_sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sup_onsignal;
	sa.sa_mask = set;
	for (i = 0; i < SUP_NSIG; i++)
		if (sigaction(sup_sigs[i], &sa, NULL) == -1)
			return -1;
	return 0;
}

/*
 * sup_socket_intact - the unix socket's file is still ours. A child's
 * libmilter that gives up (smfi_main failing) closes its copy of the
 * socket and removes the file: a new child would then listen where no
 * MTA can reach it, and only a start opens a new one.
 */
static int
sup_socket_intact(const struct sup *s)
{
	struct stat st;

	if (s->sockpath == NULL)
		return 1;
	return stat(s->sockpath, &st) == 0 && st.st_dev == s->sock.st_dev &&
	    st.st_ino == s->sock.st_ino;
}

/* sup_unlink - the socket file goes with keyturnd, as at a stop */
static void
sup_unlink(const struct sup *s)
{
	if (s->sockpath != NULL && sup_socket_intact(s) &&
	    unlink(s->sockpath) == -1 && errno != ENOENT)
		log_warn("%s", s->sockpath);
}

/*
 * sup_child - in the new child: a process group of its own (the
 * terminal's signals reach the parent alone, which forwards them once),
 * SIGTTOU ignored (the -f log still reaches the terminal from a
 * background group), SIGCHLD unblocked for the hooks it waits for
 */
static void
sup_child(int readyw)
{
	sigset_t chld;

	close(sup_lifeline[1]);
	sup_lifeline[1] = -1;
	sup_readyw = readyw;
	(void)setpgid(0, 0);
	(void)signal(SIGTTOU, SIG_IGN);
	/* HUP, TERM and INT stay blocked until daemon.c's handlers replace
	 * ours; SIGCHLD is the hooks' business from now on */
	(void)signal(SIGCHLD, SIG_DFL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
}

/* sup_spawn - fork a signing child: 0 in it, 1 in the parent, -1 */
static int
sup_spawn(struct sup *s)
{
	int rp[2];
	pid_t pid;

	if (pipe2(rp, O_CLOEXEC) == -1) {
		log_warn("signing process: pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("signing process: fork");
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	if (pid == 0) {
		close(rp[0]);
		sup_child(rp[1]);
		return 0;
	}
	close(rp[1]);
	(void)fcntl(rp[0], F_SETFL, O_NONBLOCK);
	s->readyfd = rp[0];
	s->child = pid;
	sup_nstarted++;
	log_debug("signing process %ld started", (long)pid);
	return 1;
}

/* sup_how - a death in words: signal and core, or exit status */
static void
sup_how(int st, char *how, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(how, len, "killed by signal %d (%s)%s", WTERMSIG(st),
		    strsignal(WTERMSIG(st)), WCOREDUMP(st) ? ", core dumped" :
		    "");
	else
		snprintf(how, len, "exited %d", WEXITSTATUS(st));
}

/*
 * sup_backoff - when the next child may start: at once, unless more than
 * SUP_BURST died within SUP_WINDOW_MS (then a wait that doubles)
 */
static void
sup_backoff(struct sup *s)
{
	const unsigned int k = SUP_BURST + 1;
	long long now = sup_mono_ms();

	s->deaths[s->ndeaths++ % k] = now;
	/* the oldest of the last k deaths is the next one overwritten */
	if (s->ndeaths >= k && now - s->deaths[s->ndeaths % k] <
	    SUP_WINDOW_MS) {
		s->delay = s->delay == 0 ? SUP_DELAY_MIN_MS : s->delay * 2;
		if (s->delay > SUP_DELAY_MAX_MS)
			s->delay = SUP_DELAY_MAX_MS;
	} else
		s->delay = 0;
	s->next = now + s->delay;
}

/* sup_end - keyturnd exits with status; the socket file goes with it */
static void
sup_end(struct sup *s, int status)
{
	sup_unlink(s);
	s->status = status;
	s->done = 1;
}

/*
 * sup_died - the child is gone: after a stop, its status is ours; a first
 * child that never served is a start-up error; an exit 0 unasked ends
 * keyturnd; anything else starts another child (after the back-off)
 */
static void
sup_died(struct sup *s, int st)
{
	char how[128], c;
	pid_t pid = s->child;

	if (read(s->readyfd, &c, 1) == 1)
		s->served = 1;
	close(s->readyfd);
	s->readyfd = -1;
	s->child = -1;
	sup_how(st, how, sizeof(how));
	if (s->stopping) {
		if (!WIFEXITED(st))
			log_warnx("signing process %ld %s while stopping",
			    (long)pid, how);
		s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		s->done = 1;
	} else if (!s->served) {
		log_warnx("signing process %ld %s at start-up", (long)pid, how);
		sup_end(s, WIFEXITED(st) && WEXITSTATUS(st) != 0 ?
		    WEXITSTATUS(st) : 1);
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		log_notice("signing process %ld ended by itself: keyturnd "
		    "exits", (long)pid);
		sup_end(s, 0);
	} else if (!sup_socket_intact(s)) {
		log_warnx("signing process %ld %s, and %s is no longer the "
		    "socket keyturnd listens on: keyturnd exits (a start "
		    "opens it again)", (long)pid, how, s->sockpath);
		s->status = 1;
		s->done = 1;
	} else {
		sup_backoff(s);
		log_warnx("signing process %ld %s: the messages in flight on "
		    "its milter connections are lost (the MTA applies its "
		    "milter default action to them); a new one starts %s",
		    (long)pid, how, s->delay == 0 ? "now" : "after a wait");
		if (s->delay != 0)
			log_warnx("more than %d signing processes died within "
			    "%lld s: the next one starts in %lld s", SUP_BURST,
			    SUP_WINDOW_MS / 1000, s->delay / 1000);
	}
}

/* sup_reap - every child that ended; only ours counts */
static void
sup_reap(struct sup *s)
{
	pid_t pid;
	int st;

	for (;;) {
		if ((pid = waitpid(-1, &st, WNOHANG)) == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == s->child)
			sup_died(s, st);
	}
}

/*
 * sup_stop - SIGTERM or SIGINT: the socket file goes now, as the child
 * would remove it, and the signal goes on to the child, which drains; with
 * no child (waiting out a back-off) there is nothing to drain
 */
static void
sup_stop(struct sup *s, int sig)
{
	if (!s->stopping)
		sup_unlink(s);
	s->stopping = 1;
	if (s->child != -1) {
		(void)kill(s->child, sig);
		return;
	}
	log_info("%s: no signing process runs: exiting", sig == SIGTERM ?
	    "SIGTERM" : "SIGINT");
	s->status = 0;
	s->done = 1;
}

/*
 * sup_act - what the handlers counted since the last look: the deaths
 * first (a stop then finds no child to forward to), then SIGHUPs (counted
 * even without a child: the next one reloads; several forwarded as one,
 * as the child would take them), then the stops, each forwarded (a second
 * SIGTERM ends the child's wait for the messages in flight)
 */
static void
sup_act(struct sup *s, sig_atomic_t *seen)
{
	sig_atomic_t n;

	if ((n = sup_got[SUP_CHLD]) != seen[SUP_CHLD]) {
		seen[SUP_CHLD] = n;
		sup_reap(s);
	}
	if ((n = sup_got[SUP_HUP]) != seen[SUP_HUP]) {
		sup_nhup += (unsigned int)(n - seen[SUP_HUP]);
		seen[SUP_HUP] = n;
		if (s->child != -1)
			(void)kill(s->child, SIGHUP);
	}
	for (; !s->done && seen[SUP_TERM] != sup_got[SUP_TERM];
	    seen[SUP_TERM]++)
		sup_stop(s, SIGTERM);
	for (; !s->done && seen[SUP_INT] != sup_got[SUP_INT]; seen[SUP_INT]++)
		sup_stop(s, SIGINT);
}

/*
 * sup_wait - the one place the signals are let in: until one came, or
 * the back-off is over when no child runs
 */
static void
sup_wait(const struct sup *s)
{
	struct timespec ts;
	sigset_t none;
	long long left;

	sigemptyset(&none);
	if (s->child != -1) {
		(void)ppoll(NULL, 0, NULL, &none);
		return;
	}
	if ((left = s->next - sup_mono_ms()) < 0)
		left = 0;
	ts.tv_sec = left / 1000;
	ts.tv_nsec = (left % 1000) * 1000000L;
	(void)ppoll(NULL, 0, &ts, &none);
}

/* sup_start - a child when none runs and its time has come; 1 in it */
static int
sup_start(struct sup *s)
{
	if (s->child != -1 || s->done || s->stopping ||
	    sup_mono_ms() < s->next)
		return 0;
	switch (sup_spawn(s)) {
	case 0:
		return 1;
	case -1:
		if (!s->served)
			sup_end(s, 1);
		else
			sup_backoff(s);
		break;
	}
	return 0;
}

/* supervise_run - the parent's loop; see supervise.h */
int
supervise_run(const char *sockpath, int *status)
{
	sig_atomic_t seen[SUP_NSIG] = { 0 };
	struct sup s;

	memset(&s, 0, sizeof(s));
	s.child = -1;
	s.readyfd = -1;
	s.sockpath = sockpath;
	if (sockpath != NULL && stat(sockpath, &s.sock) == -1)
		s.sockpath = NULL;	/* nothing of ours to watch or remove */
	sup_ppid = getpid();
	if (sup_signals() == -1 || pipe2(sup_lifeline, O_CLOEXEC) == -1) {
		log_warn("supervising the signing process");
		sup_end(&s, 1);
	}
	while (!s.done) {
		if (sup_start(&s))
			return SUPERVISE_CHILD;
		if (s.done)
			break;
		sup_wait(&s);
		sup_act(&s, seen);
	}
	*status = s.status;
	return SUPERVISE_EXIT;
}

/* supervise_ready - the parent learns it when the child dies */
void
supervise_ready(void)
{
	if (sup_readyw == -1)
		return;
	(void)write(sup_readyw, "r", 1);
	close(sup_readyw);
	sup_readyw = -1;
}

/* supervise_lifeline - the child's end of the parent's pipe */
int
supervise_lifeline(void)
{
	return sup_lifeline[0];
}

/* supervise_restarts - 0 in the first child */
unsigned int
supervise_restarts(void)
{
	return sup_nstarted;
}

/* supervise_hups - non-zero: a child started after a SIGHUP reloads */
unsigned int
supervise_hups(void)
{
	return sup_nhup;
}

/* supervise_parent - the pid operators know */
pid_t
supervise_parent(void)
{
	return sup_ppid != 0 ? sup_ppid : getpid();
}
