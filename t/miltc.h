/*
 * miltc - the MTA side of the Sendmail milter protocol (version 6), for tests
 *
 * miltc plays Postfix or Sendmail towards a filter: option negotiation,
 * macros, connect/HELO/MAIL/RCPT, headers, body chunks, end of message; it
 * collects the filter's modifications and its decision. Three modules:
 *   miltc_wire.c     sockets and packets (mc_wire_*)
 *   miltc_msg.c      message files in, edited messages out (mc_msg_*)
 *   miltc_session.c  the protocol conversation (mc_sess_*)
 * and miltc.c, the command line, the runs and the benchmark statistics.
 *
 * Run-time errors return -1 with a message in the caller's error buffer;
 * nothing here exits except main.
 */
#ifndef KEYTURN_MILTC_H
#define KEYTURN_MILTC_H

#include <stddef.h>
#include <stdint.h>

#define MC_ERRLEN	512
#define MC_CHUNK_MAX	65535		/* libmilter's default data limit */
#define MC_STAGES	7		/* SMFIM_CONNECT .. SMFIM_EOH */
#define MC_NCMD		128		/* SMFIC_* are ASCII letters */

/* Header styles: how the MTA presents header values. */
enum mc_style {
	MC_STYLE_POSTFIX,
	MC_STYLE_SENDMAIL
};

/* Body chunking. */
enum mc_chunk {
	MC_CHUNK_WHOLE,		/* as large as the protocol allows */
	MC_CHUNK_FIXED,
	MC_CHUNK_RANDOM
};

/* One header as read from the file: value is everything after the colon,
 * folded lines joined with bare LF, as both MTAs keep it. */
struct mc_header {
	char	*name;
	char	*value;
};

/* One message file, loaded once and shared read-only by all threads. */
struct mc_msg {
	char		 *path;
	struct mc_header *hdrs;
	size_t		  nhdrs;
	char		 *body;		/* CRLF line ends, as sent */
	size_t		  bodylen;
};

/* One macro for one stage ('C', 'H', 'M', 'R', 'T', 'N', 'E'). */
struct mc_macro {
	char	 stage;
	char	*name;
	char	*value;
};

/* Everything the command line decides about a conversation. */
struct mc_opts {
	const char	*socket;
	enum mc_style	 style;
	int		 timeout;		/* seconds, per read/write */
	uint32_t	 offer_actions;
	uint32_t	 offer_protocol;
	enum mc_chunk	 chunk;
	size_t		 chunk_size;
	unsigned int	 seed;
	const char	*client_addr;		/* IPv4, IPv6, unix path, "unknown" */
	unsigned int	 client_port;
	const char	*client_name;
	const char	*helo;
	const char	*mail_from;
	const char	*rcpts[16];
	size_t		 nrcpts;
	struct mc_macro	*macros;
	size_t		 nmacros;
};

/* Modification requested by the filter at end of message. */
struct mc_mod {
	char	 type;			/* SMFIR_* */
	uint32_t index;
	char	*name;
	char	*value;
};

/* What happened to one message. */
struct mc_result {
	char		 decision;	/* SMFIR_ACCEPT, _CONTINUE, ... */
	char		 stage;		/* SMFIC_* that drew the decision */
	char		*reply;		/* SMFIR_REPLYCODE text, or NULL */
	struct mc_mod	*mods;
	size_t		 nmods;
	char		*newbody;	/* SMFIR_REPLBODY, concatenated */
	size_t		 newbodylen;
	int		 replbody;
	int		 body_skipped;
	char		*quarantine;
	/* per command (SMFIC_*): replies read, and replies not waited for
	 * because the filter negotiated SMFIP_NR_* for that stage */
	unsigned int	 awaited[MC_NCMD];
	unsigned int	 waived[MC_NCMD];
};

/* One milter connection. */
struct mc_conn {
	int		 fd;
	int		 timeout;
	uint32_t	 version;
	uint32_t	 actions;	/* granted to the filter */
	uint32_t	 protocol;	/* requested by the filter */
	char		*symlist[MC_STAGES];
	int		 in_session;	/* a CONNECT has been sent */
	int		 session_accepted; /* filter accepted the connection */
	int		 session_dead;	/* connection-level reject */
	char		 sess_decision;	/* the connection-level decision */
	int		 dirty;		/* libmilter would drop a QUIT_NC now */
	unsigned char	*buf;		/* last packet read */
	size_t		 bufsize;
	size_t		 len;
	char		 cmd;
	char		 err[MC_ERRLEN];
};

/* miltc_wire.c */
int	 mc_wire_open(struct mc_conn *, const char *spec, int timeout);
void	 mc_wire_close(struct mc_conn *);
int	 mc_wire_send(struct mc_conn *, char cmd, const void *, size_t);
int	 mc_wire_send2(struct mc_conn *, char cmd, const void *, size_t,
	    const void *, size_t);
int	 mc_wire_recv(struct mc_conn *);

/* miltc_msg.c */
int	 mc_msg_load(struct mc_msg *, const char *path, char *err, size_t);
void	 mc_msg_free(struct mc_msg *);
const char *mc_msg_sent_value(const struct mc_msg *, size_t, uint32_t protocol);
int	 mc_msg_write(const struct mc_msg *, const struct mc_result *,
	    uint32_t protocol, int crlf, const char *path, char *err, size_t);
const char *mc_msg_header(const struct mc_msg *, const char *name);

/* miltc_session.c */
int	 mc_sess_open(struct mc_conn *, const struct mc_opts *);
int	 mc_sess_message(struct mc_conn *, const struct mc_opts *,
	    const struct mc_msg *, unsigned long msgno, int newsession,
	    struct mc_result *);
void	 mc_sess_close(struct mc_conn *, int newconn_follows);
void	 mc_result_free(struct mc_result *);
const char *mc_decision_name(char);
const char *mc_mod_name(char);

#endif
