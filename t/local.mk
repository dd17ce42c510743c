# t/: unit tests (Check), integration tests, benchmarks. Each area keeps
# its own fragment.

include t/base.mk
include t/engine.mk
include t/keystore.mk
include t/fleet.mk
include t/rotate.mk
include t/milter.mk
include t/harness.mk
include t/fuzz.mk
