# t/rotate.mk: tests of this area, included from t/local.mk.
