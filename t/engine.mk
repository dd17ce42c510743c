# t/engine.mk: tests of this area, included from t/local.mk.
