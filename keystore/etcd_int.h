/*
 * etcd_int - what keystore/etcd*.c share: the client, one attempt's
 * outcome, answer buffers, the JSON of the gateway
 *
 * Not for other modules: they use etcd.h.
 */
#ifndef KEYTURN_ETCD_INT_H
#define KEYTURN_ETCD_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "etcd.h"

#define ETCD_ELECTION_ROUNDS	4	/* rounds more during an election */
#define ETCD_ELECTION_WAIT_MS	250	/* x the round before each */
#define ETCD_ANSWER_MAX	(256 * 1024 * 1024)
#define ETCD_VALUE_MAX	(ETCD_ANSWER_MAX / 2)
#define ETCD_EP_MAX	16		/* endpoints in the list */
#define ETCD_WHY	1024		/* one attempt's error, or all */
#define ETCD_PAGE	1000		/* etcd_range_all: page 0 */
#define ETCD_POLL_MS	1000		/* longest sleep of the watch */

/* gRPC status codes etcd answers with */
#define GRPC_NOT_FOUND		5
#define GRPC_PERMISSION		7
#define GRPC_UNAVAILABLE	14
#define GRPC_UNAUTHENTICATED	16

/* json-c's output as the gateway takes it: no blanks, "/" as it is */
#define ETCD_JSON_FLAGS	\
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct etcd {
	CURL		*curl;
	CURLM		*multi;		/* drives the watch; NULL until one */
	char		**ep;
	size_t		 nep;
	size_t		 cur;		/* the endpoint tried first */
	char		*user;
	char		*password;
	char		*token;		/* NULL: none yet */
	long		 timeout_ms;
	int		 busy;		/* a watch is running its fn */
	char		 cerr[CURL_ERROR_SIZE];
};

/* what one attempt on one endpoint came to */
enum etcd_class {
	E_OK,
	E_NEXT,			/* not reached, or no leader: try another */
	E_AUTH,			/* the token is no longer valid */
	E_FAIL,			/* etcd said no */
	E_COMPACTED		/* the revision asked for is compacted */
};

struct etcd_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 toobig;
};


/* etcd_json.c: answer buffers, base64 fields, reading JSON */
int		 etcd_buf_add(struct etcd_buf *, const void *, size_t);
void		 etcd_buf_free(struct etcd_buf *);
void		 etcd_jput_bytes(json_object *, const char *, const void *,
		    size_t);
void		 etcd_jput_int(json_object *, const char *, int64_t);
json_object	*etcd_jget(json_object *, const char *);
int		 etcd_jint(json_object *, const char *, int64_t *);
int		 etcd_juint(json_object *, const char *, uint64_t *);
int		 etcd_jbool(json_object *, const char *);
const char	*etcd_jstr(json_object *, const char *);
int		 etcd_jbytes(json_object *, const char *, unsigned char **,
		    size_t *);
json_object	*etcd_jparse(const char *, size_t);
int		 etcd_jkv(json_object *, struct etcd_kv *);
int64_t		 etcd_jrevision(json_object *);

/* etcd.c: requests, errors, authentication, failover */
void		 etcd_printable(char *, size_t, const char *);
enum etcd_class	 etcd_classify(long, int64_t, const char *);
void		 etcd_say(struct etcd *, size_t, const char *, char *, size_t,
		    const char *, ...) __attribute__((format(printf, 6, 7)));
void		 etcd_curl_why(struct etcd *, CURLcode,
		    const struct etcd_buf *, char *, size_t);
struct curl_slist *etcd_headers(struct etcd *, int);
enum etcd_class	 etcd_answer(struct etcd *, size_t, const char *, long,
		    const struct etcd_buf *, json_object **, char *, size_t);
enum etcd_class	 etcd_authenticate(struct etcd *, size_t, char *, size_t);
void		 etcd_forget_token(struct etcd *);
void		 etcd_why_add(char *, size_t, const char *);
int		 etcd_busy(struct etcd *, char *, size_t);
int		 etcd_call(struct etcd *, const char *, json_object *,
		    json_object **, char *, size_t);

#endif
