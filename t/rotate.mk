# t/rotate.mk: tests of rotate/ (propagation check, policy engine), and
# the Knot DNS test library t/lib/knot.sh.

check_PROGRAMS += t/check_rotate_policy
TESTS += t/check_rotate_policy
UNIT_TESTS += t/check_rotate_policy
t_check_rotate_policy_SOURCES = t/check_rotate_policy.c
t_check_rotate_policy_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_check_rotate_policy_LDADD = $(ROTATE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += t/check_rotate_prop
TESTS += t/check_rotate_prop
UNIT_TESTS += t/check_rotate_prop
t_check_rotate_prop_SOURCES = t/check_rotate_prop.c
t_check_rotate_prop_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS) \
	$(LDNS_CFLAGS)
t_check_rotate_prop_LDADD = $(ROTATE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += t/check_rotate_adapt
TESTS += t/check_rotate_adapt
UNIT_TESTS += t/check_rotate_adapt
t_check_rotate_adapt_SOURCES = t/check_rotate_adapt.c
t_check_rotate_adapt_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS)
t_check_rotate_adapt_LDADD = $(ROTATE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += t/check_rotate_recheck
TESTS += t/check_rotate_recheck
UNIT_TESTS += t/check_rotate_recheck
t_check_rotate_recheck_SOURCES = t/check_rotate_recheck.c
t_check_rotate_recheck_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS)
t_check_rotate_recheck_LDADD = $(ROTATE_LIBS) $(CHECK_LIBS)

# rotate_probe: prop_check + evidence + policy against live servers
check_PROGRAMS += t/rotate_probe
t_rotate_probe_SOURCES = t/rotate_probe.c
t_rotate_probe_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_rotate_probe_LDADD = $(ROTATE_LIBS)

# rotate_run: rotation passes (rot_pass) over a keystore and live DNS
check_PROGRAMS += t/rotate_run
t_rotate_run_SOURCES = t/rotate_run.c
t_rotate_run_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
t_rotate_run_LDADD = $(ROTATE_LIBS)

TESTS += t/rotate_dns.sh t/rotate_cycle.sh t/cli_rotate.sh t/cli_root.sh \
	t/publish_nsupdate.sh t/rotate_zero_touch.sh t/rotate_sigterm.sh \
	t/rotate_recheck.sh t/rotate_delegated.sh t/rotate_dnsfault.sh
EXTRA_DIST += t/rotate_dns.sh t/rotate_cycle.sh t/cli_rotate.sh \
	t/cli_root.sh t/publish_nsupdate.sh t/rotate_zero_touch.sh \
	t/rotate_sigterm.sh t/rotate_recheck.sh t/rotate_delegated.sh \
	t/rotate_dnsfault.sh t/dnsfault.py \
	t/lib/knot.sh t/lib/unbound.sh t/lib/silent_udp.py t/lib/ztstream.py

# Scale benchmark (run by hand, not by make check): one rotation pass over
# 100,000 domains served by Knot, DNSConcurrency 16 against 1
EXTRA_DIST += t/bench/rotation_bench.sh
