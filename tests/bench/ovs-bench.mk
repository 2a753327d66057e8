# `make bench-ovs`: the patched ovs-vswitchd with one PMD thread and DPDK
# vdev ports (net_pcap, net_null): plain VXLAN against VXLAN + ESP and the
# ESP tunnel port, 64 and 1400-byte frames, encap and decap; then the ESP
# tunnel port with its SAs on each offload provider (sw, inline crypto on
# the test-only NIC model with the model's cycles excluded, lookaside and
# CPU crypto on crypto_aesni_mb).  Needs root; reserves 2 MiB hugepages for
# the run and gives them back.  Prints the tables; writes
# $(B)/bench/ovs-results.{json,md}.  See docs/performance.md, "Open vSwitch
# PMD".  About 3.5 minutes (1.5 with OVS_BENCH_OFFLOAD=0).
#
# Knobs (environment, see tests/bench/ovs-bench.sh): OVS_BENCH_ROUNDS,
# OVS_BENCH_WINDOWS, OVS_BENCH_SECONDS, OVS_BENCH_WARMUP,
# OVS_BENCH_PMD_CORE, OVS_BENCH_HUGEPAGES, OVS_BENCH_OFFLOAD (0 skips the
# offload providers), KEEP=1.

.PHONY: bench-ovs
bench-ovs: ovs
	OVS_BENCH_OUT=$(B)/bench OVS_BENCH_COMMAND="make bench-ovs" \
		PYTHON3=$(PYTHON3) tests/bench/ovs-bench.sh $(B)/ovs/src

# `make bench` also runs the OVS PMD benchmark (root; needs the OVS build).
bench: bench-ovs
