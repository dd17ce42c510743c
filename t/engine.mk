# t/engine.mk: tests of the signing engine (milter/libdkim.a).

noinst_LIBRARIES += t/libmsgfile.a
t_libmsgfile_a_SOURCES = t/msgfile.c t/msgfile.h
t_libmsgfile_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)

# ktsign: signs a message file with the engine, for the independent checks.
check_PROGRAMS += t/ktsign
t_ktsign_SOURCES = t/ktsign.c
t_ktsign_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_ktsign_LDADD = t/libmsgfile.a $(DKIM_LIBS)

# Independent verification with dkimpy (python3-dkim).
TESTS += t/engine_verify.sh
EXTRA_DIST += t/engine_verify.sh t/engine_verify.py

ENGINE_CHECK_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(CHECK_CFLAGS)
ENGINE_CHECK_LIBS = t/libmsgfile.a $(DKIM_LIBS) $(CHECK_LIBS)

check_PROGRAMS += t/check_engine_canon
TESTS += t/check_engine_canon
UNIT_TESTS += t/check_engine_canon
t_check_engine_canon_SOURCES = t/check_engine_canon.c
t_check_engine_canon_CFLAGS = $(ENGINE_CHECK_CFLAGS)
t_check_engine_canon_LDADD = $(ENGINE_CHECK_LIBS)

check_PROGRAMS += t/check_engine_from
TESTS += t/check_engine_from
UNIT_TESTS += t/check_engine_from
t_check_engine_from_SOURCES = t/check_engine_from.c
t_check_engine_from_CFLAGS = $(ENGINE_CHECK_CFLAGS)
t_check_engine_from_LDADD = $(ENGINE_CHECK_LIBS)

check_PROGRAMS += t/check_engine_sign
TESTS += t/check_engine_sign
UNIT_TESTS += t/check_engine_sign
t_check_engine_sign_SOURCES = t/check_engine_sign.c
t_check_engine_sign_CFLAGS = $(ENGINE_CHECK_CFLAGS)
t_check_engine_sign_LDADD = $(ENGINE_CHECK_LIBS)

check_PROGRAMS += t/check_engine_verify
TESTS += t/check_engine_verify
UNIT_TESTS += t/check_engine_verify
t_check_engine_verify_SOURCES = t/check_engine_verify.c
t_check_engine_verify_CFLAGS = $(ENGINE_CHECK_CFLAGS)
t_check_engine_verify_LDADD = $(ENGINE_CHECK_LIBS)
EXTRA_DIST += t/data/dkimpy/README t/data/dkimpy/signed.msg \
	t/data/dkimpy/key.pub t/data/dkimpy/make-vector.py

# Benchmark (built by make, not run by make check): t/bench/bench_sign
noinst_PROGRAMS += t/bench/bench_sign
t_bench_bench_sign_SOURCES = t/bench/bench_sign.c
t_bench_bench_sign_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_bench_bench_sign_LDADD = $(DKIM_LIBS)

# Fuzzing, never run by make check. t/fuzz/fuzz_engine is the harness with
# a main that replays saved inputs (built by make so it keeps compiling);
# `make fuzz-engine` builds the libFuzzer one with clang, ASan and UBSan:
#	t/fuzz/fuzz_engine_lf -max_total_time=300 -max_len=65536 CORPUS...
noinst_PROGRAMS += t/fuzz/fuzz_engine
t_fuzz_fuzz_engine_SOURCES = t/fuzz/fuzz_engine.c t/fuzz/replay.c
t_fuzz_fuzz_engine_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/t
t_fuzz_fuzz_engine_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_fuzz_fuzz_engine_LDADD = t/libmsgfile.a $(DKIM_LIBS)

FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_ENGINE_SRCS = $(top_srcdir)/t/fuzz/fuzz_engine.c \
	$(top_srcdir)/t/msgfile.c $(top_srcdir)/milter/buf.c \
	$(top_srcdir)/milter/canon.c $(top_srcdir)/milter/dkim.c \
	$(top_srcdir)/milter/from.c $(top_srcdir)/milter/hdrsel.c \
	$(top_srcdir)/milter/sigval.c
fuzz-engine: keystore/libkeystore.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(top_builddir) $(AM_CPPFLAGS) \
	    -I$(top_srcdir)/t $(CRYPTO_CFLAGS) $(FUZZ_ENGINE_SRCS) \
	    -o t/fuzz/fuzz_engine_lf $(KEYSTORE_LIBS) $(IDN2_LIBS) \
	    $(PTHREAD_LIBS)
.PHONY: fuzz-engine
CLEANFILES += t/fuzz/fuzz_engine_lf
EXTRA_DIST += t/fuzz/fuzz_engine.c t/fuzz/replay.c
