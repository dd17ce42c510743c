# man/: keyturnd(8), keyturn(8), keyturn.conf(5).
