# man/: keyturnd(8), keyturn(8), keyturn.conf(5).
dist_man_MANS += man/keyturn.8
dist_man_MANS += man/keyturnd.8 man/keyturn.conf.5
