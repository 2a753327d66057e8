# `make bench`: single-core encap/decap throughput of the ESP engine
# against (a) the AEAD alone and (b) DPDK rte_ipsec with CPU crypto.
# Prints a table; writes $(B)/bench/results.json, results.md, plot-*.dat
# and throughput.{svg,png}.  See docs/performance.md.
#
# Knobs: BENCH_ARGS (e.g. "--seconds 0.1 --reps 2", "--cpu 0", "--quick").

BENCH_DIR := $(B)/bench
BENCH_HDRS := tests/bench/bench.h tests/unit/ones-sum.h
BENCH_ARGS ?=
GNUPLOT ?= gnuplot

# DPDK headers as system headers (they do not build warning-free with
# our flags); the experimental session-pool API is needed on 22.11.
BENCH_DPDK_CFLAGS = \
	$(shell pkg-config --cflags libdpdk | sed 's/-I/-isystem /g') \
	-DALLOW_EXPERIMENTAL_API
BENCH_DPDK_LIBS = $(shell pkg-config --libs libdpdk)
# The ipsec-mb crypto PMD is a plugin; link it so that its vdevs
# (crypto_aesni_gcm, crypto_chacha20_poly1305, crypto_aesni_mb) register
# at start-up.
BENCH_PMD = $(firstword $(wildcard \
	/usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_crypto_ipsec_mb.so))

$(BENCH_DIR)/bench.o: tests/bench/bench.c $(BENCH_HDRS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/bench -Itests/unit -c $< -o $@

$(BENCH_DIR)/bench-dpdk.o: tests/bench/bench-dpdk.c $(BENCH_HDRS) $(LIB_HDRS)
	@mkdir -p $(@D)
	@pkg-config --exists libdpdk || \
	    { echo "bench: libdpdk-dev not found (make deps)"; exit 1; }
	$(CC) $(ALL_CFLAGS) $(BENCH_DPDK_CFLAGS) -Itests/bench -c $< -o $@

$(BENCH_DIR)/espbench: $(BENCH_DIR)/bench.o $(BENCH_DIR)/bench-dpdk.o \
		$(B)/libespdp.a
	$(CC) $(ALL_CFLAGS) -o $@ $(BENCH_DIR)/bench.o \
		$(BENCH_DIR)/bench-dpdk.o $(B)/libespdp.a \
		-Wl,--no-as-needed $(BENCH_PMD) -Wl,--as-needed \
		$(BENCH_DPDK_LIBS) $(LIBS)

bench: $(BENCH_DIR)/espbench $(B)/offload/tests/test-offload-cryptodev \
		$(B)/offload/tests/test-offload-inline
	$(BENCH_DIR)/espbench --json $(BENCH_DIR)/results.json \
		--plot-dir $(BENCH_DIR) --command "make bench" $(BENCH_ARGS)
	$(GNUPLOT) -e "dir='$(BENCH_DIR)'" tests/bench/plot.gp
	@echo "bench: wrote $(BENCH_DIR)/results.json," \
		"$(BENCH_DIR)/results.md, $(BENCH_DIR)/throughput.{svg,png}"
	@echo "bench: sw engine vs DPDK cryptodev lookaside and CPU crypto" \
		"(offload providers, docs/offload.md)"
	$(B)/offload/tests/test-offload-cryptodev --bench
	@echo "bench: ESP core, sw engine vs inline crypto" \
		"(datapath work only, NIC model)"
	$(B)/offload/tests/test-offload-inline --bench
