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
