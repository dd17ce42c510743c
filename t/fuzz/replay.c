/*
 * replay - run saved fuzz inputs through LLVMFuzzerTestOneInput without
 * libFuzzer, so a crash found by the fuzzer can be rerun under gdb or
 * valgrind with the ordinary toolchain.
 *
 *	fuzz_engine file...
 */
#include "config.h"

#include <err.h>
#include <stdint.h>
#include <stdlib.h>

#include "msgfile.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(int argc, char *argv[])
{
	char	*p;
	size_t	 n;
	int	 i;

	for (i = 1; i < argc; i++) {
		if ((p = msgfile_read(argv[i], &n)) == NULL)
			err(1, "%s", argv[i]);
		LLVMFuzzerTestOneInput((const uint8_t *)p, n);
		free(p);
	}
	return 0;
}
