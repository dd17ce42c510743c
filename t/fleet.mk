# t/fleet.mk: the fleet's etcd client and key-encryption key, included
# from t/local.mk.

# Check tests of keystore/kek.c (and the parts of keystore/etcd.c that
# need no server)
check_PROGRAMS += t/check_kek
TESTS += t/check_kek
UNIT_TESTS += t/check_kek
t_check_kek_SOURCES = t/check_kek.c
t_check_kek_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS)
t_check_kek_LDADD = $(KEYSTORE_LIBS) $(CHECK_LIBS)

# keystore/etcd.h and kek.h from the command line, for the shell tests
check_PROGRAMS += t/etcdc
t_etcdc_SOURCES = t/etcdc.c
t_etcdc_CFLAGS = $(AM_CFLAGS) $(BSD_CFLAGS)
t_etcdc_LDADD = $(KEYSTORE_LIBS)

# the client against a real 3-member etcd on loopback, with and without
# TLS and authentication (contrib/etcd's certificates and roles; contrib/
# is in EXTRA_DIST whole)
TESTS += t/fleet_etcd.sh
EXTRA_DIST += t/fleet_etcd.sh t/lib/etcd.sh

# keyturnd fleets: three etcd members, several keyturnd, Knot for DNS
# (t/lib/fleet.sh runs the daemons)
check_PROGRAMS += t/fleet_fence
t_fleet_fence_SOURCES = t/fleet_fence.c
t_fleet_fence_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS)
t_fleet_fence_LDADD = $(KEYSTORE_LIBS) $(PTHREAD_LIBS)
TESTS += t/fleet_cli.sh t/fleet_corrupt.sh t/fleet_cycle.sh \
	t/fleet_failover.sh t/fleet_quorum.sh
EXTRA_DIST += t/fleet_cli.sh t/fleet_corrupt.sh t/fleet_cycle.sh \
	t/fleet_failover.sh t/fleet_quorum.sh t/lib/fleet.sh

# the mirror's file system failing under keyturn's fleet writes
# (t/faultshim.so, built by t/keystore.mk)
TESTS += t/fleet_fault.sh
EXTRA_DIST += t/fleet_fault.sh

# Benchmark (run by hand, prints numbers): a swap's way to three
# keyturnd, the mirror's sync at 10,000 domains, CPU per message
EXTRA_DIST += t/bench/fleet_bench.sh t/bench/fleet_swap.py
