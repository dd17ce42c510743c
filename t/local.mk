# t/: unit tests (Check), integration tests, benchmarks. Each area keeps
# its own fragment.

include t/base.mk
