# t/milter.mk: tests of this area, included from t/local.mk.

# keyturnd: the signing decision and the keystore snapshots (Check).
check_PROGRAMS += t/check_milter
TESTS += t/check_milter
UNIT_TESTS += t/check_milter
t_check_milter_SOURCES = t/check_milter.c
t_check_milter_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS)
t_check_milter_LDADD = milter/libkeyturnd.a milter/libdkim.a \
	keystore/libkeystore.a $(CHECK_LIBS) $(CRYPTO_LIBS) $(BSD_LIBS) \
	$(PTHREAD_LIBS)
