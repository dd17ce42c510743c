# t/harness.mk: the test and benchmark harness, included from t/local.mk.
# miltc (the MTA side of the milter protocol), the floor filter, the raw
# crypto cost helper, the Postfix/DNS/verifier shell libraries and their
# self-tests.

noinst_PROGRAMS += t/miltc
t_miltc_SOURCES = t/miltc.c t/miltc.h t/miltc_wire.c t/miltc_msg.c \
	t/miltc_session.c
t_miltc_CFLAGS = $(AM_CFLAGS) $(MILTER_CFLAGS)
t_miltc_LDADD = $(KEYSTORE_LIBS) $(PTHREAD_LIBS)

noinst_PROGRAMS += t/bench/floor t/bench/rawcost
t_bench_floor_SOURCES = t/bench/floor.c t/bench/rawsign.c t/bench/rawsign.h
t_bench_floor_CFLAGS = $(AM_CFLAGS) $(MILTER_CFLAGS) $(CRYPTO_CFLAGS)
t_bench_floor_LDADD = $(MILTER_LIBS) $(CRYPTO_LIBS) $(PTHREAD_LIBS)
t_bench_rawcost_SOURCES = t/bench/rawcost.c t/bench/rawsign.c \
	t/bench/rawsign.h
t_bench_rawcost_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_bench_rawcost_LDADD = $(KEYSTORE_LIBS)

TESTS += t/harness_floor.sh t/harness_postfix.sh t/harness_verify.sh

# The Debian package (contrib/debian): built with contrib/deb, checked by
# lintian, installed, used and purged (root).
TESTS += t/package_deb.sh
EXTRA_DIST += t/package_deb.sh
EXTRA_DIST += t/harness_floor.sh t/harness_postfix.sh t/harness_verify.sh \
	t/lib/postfix.sh t/lib/verify.sh t/lib/dkimverify.py t/lib/listening.sh \
	t/lib/mta.sh \
	t/bench/milter_bench.sh
