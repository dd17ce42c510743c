# Unit tests of the shared helpers in keystore/ (tag=value, durations).

check_PROGRAMS += t/check_base
TESTS += t/check_base
UNIT_TESTS += t/check_base
t_check_base_SOURCES = t/check_base.c
t_check_base_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_check_base_LDADD = $(KEYSTORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += t/check_conf
TESTS += t/check_conf
UNIT_TESTS += t/check_conf
t_check_conf_SOURCES = t/check_conf.c
t_check_conf_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BSD_CFLAGS)
t_check_conf_LDADD = $(KEYSTORE_LIBS) $(CHECK_LIBS)
