# milter/: the signing engine (no libmilter dependency) and keyturnd.
