/*
 * fuzz_conf - keyturn.conf as conf_load reads it (libFuzzer entry)
 *
 * The input is the file, written once per run to the same path in the
 * scratch directory. conf_load must return a configuration or NULL
 * after reporting at least one error, never both and never neither;
 * a configuration that loads is checked as keyturnd checks it further
 * (conf_socket_form on Socket, conf_internal on two addresses), and it
 * must not hold a Socket that conf_socket_form refuses.
 */
#include "config.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz_util.h"

static char *fuzz_conf_path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_conf_path = fz_path("keyturn.conf", NULL);
	return 0;
}

/* fuzz_conf_use - what keyturnd does next with a configuration */
static void
fuzz_conf_use(const struct kt_conf *c)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	char why[512];

	if (c->socket == NULL || conf_socket_form(c->socket, why,
	    sizeof(why)) == -1)
		abort();
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &a4.sin_addr);
	(void)conf_internal(c, (struct sockaddr *)&a4);
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	(void)conf_internal(c, (struct sockaddr *)&a6);
	(void)conf_socket_path(c->socket);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kt_conf *c;
	int errors = 0;

	fz_write(fuzz_conf_path, data, size, 0600);
	c = conf_load(fuzz_conf_path, fz_count, &errors);
	if ((c == NULL) != (errors > 0))
		abort();
	if (c != NULL) {
		fuzz_conf_use(c);
		conf_free(c);
	}
	return 0;
}
