# t/keystore.mk: tests of this area, included from t/local.mk.

check_PROGRAMS += t/check_keystore
TESTS += t/check_keystore
UNIT_TESTS += t/check_keystore
t_check_keystore_SOURCES = t/check_keystore.c
t_check_keystore_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS)
t_check_keystore_LDADD = $(KEYSTORE_LIBS) $(CHECK_LIBS)

# A helper of t/keystore_crash.sh (killed at random moments).
check_PROGRAMS += t/keystore_writer
t_keystore_writer_SOURCES = t/keystore_writer.c
t_keystore_writer_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_keystore_writer_LDADD = $(KEYSTORE_LIBS)

# An LD_PRELOAD object that fails (or kills the process at) the Nth
# file-system call under a directory: t/keystore_fault.sh and
# t/keystore_crash.sh. A shared object built as a program: no libtool.
check_PROGRAMS += t/faultshim.so
t_faultshim_so_SOURCES = t/faultshim.c
t_faultshim_so_CFLAGS = $(AM_CFLAGS) -fPIC
t_faultshim_so_LDFLAGS = -shared
t_faultshim_so_LDADD = -ldl

TESTS += t/cli_keystore.sh t/keystore_concurrent.sh t/keystore_crash.sh \
	t/keystore_fault.sh t/keystore_perms.sh t/cli_import_opendkim.sh \
	t/cli_doctor.sh
EXTRA_DIST += t/cli_keystore.sh t/keystore_concurrent.sh \
	t/keystore_crash.sh t/keystore_fault.sh t/keystore_perms.sh \
	t/keystore_lib.sh t/cli_import_opendkim.sh t/cli_doctor.sh
# delegated domains through the CLI (signs with t/ktsign, no DNS)
TESTS += t/cli_delegated.sh
EXTRA_DIST += t/cli_delegated.sh

# Scale benchmark (built by make, run by hand): t/bench/keystore_bench
# builds the keystore of many domains and times the library on it;
# t/bench/keystore_bench.sh runs keyturnd and OpenDKIM on it, driven by
# t/bench/domsend (t/miltc with each message from another domain).
noinst_PROGRAMS += t/bench/keystore_bench
t_bench_keystore_bench_SOURCES = t/bench/keystore_bench.c
t_bench_keystore_bench_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_bench_keystore_bench_LDADD = $(KEYSTORE_LIBS) $(PTHREAD_LIBS)
noinst_PROGRAMS += t/bench/domsend
t_bench_domsend_SOURCES = t/bench/domsend.c t/miltc.h t/miltc_wire.c \
	t/miltc_msg.c t/miltc_session.c
t_bench_domsend_CFLAGS = $(AM_CFLAGS) $(MILTER_CFLAGS)
t_bench_domsend_LDADD = $(KEYSTORE_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += t/bench/keystore_bench.sh
