# t/keystore.mk: tests of this area, included from t/local.mk.

check_PROGRAMS += t/check_keystore
TESTS += t/check_keystore
UNIT_TESTS += t/check_keystore
t_check_keystore_SOURCES = t/check_keystore.c
t_check_keystore_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS)
t_check_keystore_LDADD = $(KEYSTORE_LIBS) $(CHECK_LIBS)
