# offload/: the IPsec offload provider registry (no DPDK dependency), the
# dpdk providers (rte_security inline crypto / inline protocol, cryptodev
# lookaside / CPU crypto) and the software model of an inline-capable NIC
# used by the tests.
#
#   make offload         build/offload/libipsec-offload.a       registry + sw
#                        build/offload/libipsec-offload-dpdk.a  dpdk providers
#                        build/offload/libsecmodel.a            NIC model
#   make check-offload   provider selection table, model and cryptodev
#                        tests (they start a DPDK EAL without hugepages)
#   build/offload/tests/test-offload-cryptodev --bench
#                        cycles/packet: sw vs lookaside vs CPU crypto

OFFLOAD_HDRS := $(wildcard offload/*.h)
OFFLOAD_CORE_SRCS := offload/ipsec-offload.c offload/ipsec-offload-sw.c
OFFLOAD_DPDK_SRCS := offload/ipsec-offload-dpdk.c \
	offload/crypto-cryptodev.c offload/ipsec-offload-cryptodev.c
OFFLOAD_MODEL_SRCS := offload/sec-model.c
OFFLOAD_TEST_NAMES := test-offload-select test-offload-model \
	test-offload-cryptodev test-offload-inline test-offload-proto

# rte_security_set_pkt_metadata() and the dynfield helpers are still
# marked experimental in DPDK 22.11.
OFFLOAD_DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk) \
	-DALLOW_EXPERIMENTAL_API
# net_ring: rte_eth_from_rings() for the inline test's ports.
OFFLOAD_DPDK_LIBS := $(shell pkg-config --libs libdpdk) -lrte_net_ring
# The tests create crypto_aesni_mb0 / crypto_openssl0 vdevs: link the PMD
# plugins so that their drivers register at start-up (pkg-config does not
# list them, and --as-needed would drop them).
OFFLOAD_PMDS := $(firstword $(wildcard \
	/usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_crypto_ipsec_mb.so)) \
	$(firstword $(wildcard \
	/usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_crypto_openssl.so))
OFFLOAD_TEST_LIBS := -Wl,--no-as-needed $(OFFLOAD_PMDS) -Wl,--as-needed \
	$(OFFLOAD_DPDK_LIBS) -lpthread

OFFLOAD_CORE_LIB := $(B)/offload/libipsec-offload.a
OFFLOAD_DPDK_LIB := $(B)/offload/libipsec-offload-dpdk.a
OFFLOAD_MODEL_LIB := $(B)/offload/libsecmodel.a

.PHONY: offload check-offload
offload: $(OFFLOAD_CORE_LIB) $(OFFLOAD_DPDK_LIB) $(OFFLOAD_MODEL_LIB) \
	$(addprefix $(B)/offload/tests/,$(OFFLOAD_TEST_NAMES))

$(B)/offload/core/%.o: offload/%.c $(OFFLOAD_HDRS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ioffload -c $< -o $@

$(B)/offload/dpdk/%.o: offload/%.c $(OFFLOAD_HDRS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ioffload $(OFFLOAD_DPDK_CFLAGS) -c $< -o $@

$(OFFLOAD_CORE_LIB): $(patsubst offload/%.c,$(B)/offload/core/%.o,\
		$(OFFLOAD_CORE_SRCS))
	rm -f $@ && ar rcs $@ $^

$(OFFLOAD_DPDK_LIB): $(patsubst offload/%.c,$(B)/offload/dpdk/%.o,\
		$(OFFLOAD_DPDK_SRCS))
	rm -f $@ && ar rcs $@ $^

$(OFFLOAD_MODEL_LIB): $(patsubst offload/%.c,$(B)/offload/dpdk/%.o,\
		$(OFFLOAD_MODEL_SRCS))
	rm -f $@ && ar rcs $@ $^

$(B)/offload/tests/%: offload/tests/%.c offload/tests/offload-test.h \
		offload/tests/ring-ports.h \
		$(OFFLOAD_HDRS) $(OFFLOAD_MODEL_LIB) $(OFFLOAD_DPDK_LIB) \
		$(OFFLOAD_CORE_LIB) $(B)/libespdp.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ioffload -Ioffload/tests -Itests/unit \
		$(OFFLOAD_DPDK_CFLAGS) -o $@ $< $(OFFLOAD_MODEL_LIB) \
		$(OFFLOAD_DPDK_LIB) $(OFFLOAD_CORE_LIB) $(B)/libespdp.a \
		$(LIBS) $(OFFLOAD_TEST_LIBS)

check-offload: $(addprefix $(B)/offload/tests/,$(OFFLOAD_TEST_NAMES))
	@fail=0; pass=0; \
	for t in $(OFFLOAD_TEST_NAMES); do \
	    if $(B)/offload/tests/$$t; then pass=$$((pass+1)); \
	    else echo "FAIL: $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "offload: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# The same tests under AddressSanitizer + UBSan with leak detection.
OFFLOAD_ALL_SRCS := $(OFFLOAD_CORE_SRCS) $(OFFLOAD_DPDK_SRCS) \
	$(OFFLOAD_MODEL_SRCS)
$(B)/asan/offload/tests/%: offload/tests/%.c offload/tests/offload-test.h \
		offload/tests/ring-ports.h \
		$(OFFLOAD_HDRS) $(OFFLOAD_ALL_SRCS) $(B)/asan/libespdp.a
	@mkdir -p $(@D)
	$(CLANG) $(ASAN_CFLAGS) -Ioffload -Ioffload/tests -Itests/unit \
		$(OFFLOAD_DPDK_CFLAGS) -o $@ $< $(OFFLOAD_ALL_SRCS) \
		$(B)/asan/libespdp.a $(LIBS) $(OFFLOAD_TEST_LIBS)

.PHONY: check-offload-asan
check-offload-asan: $(addprefix $(B)/asan/offload/tests/,$(OFFLOAD_TEST_NAMES))
	@fail=0; pass=0; \
	for t in $(OFFLOAD_TEST_NAMES); do \
	    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	        LSAN_OPTIONS=suppressions=$(CURDIR)/offload/tests/lsan.supp \
	        $(B)/asan/offload/tests/$$t; then pass=$$((pass+1)); \
	    else echo "FAIL (asan): $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "offload asan: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]
