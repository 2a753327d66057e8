# Top-level build.  `make deps` once on a fresh Debian 12 machine, then
# `make`, `make check`, `make bench`, `make fuzz`.
#
# Layout of the build tree:
#   build/            optimized library, tools, unit tests
#   build/asan/       the same under AddressSanitizer + UBSan (clang)
#   build/fuzz/       libFuzzer targets (clang)

CC ?= cc
CLANG ?= clang-14
PYTHON3 ?= /usr/bin/python3
B := build

# Packages every target below needs; `make deps` installs them.
DEB_PACKAGES := build-essential clang-14 libclang-rt-14-dev pkg-config \
	libipsec-mb-dev libssl-dev libpcap-dev libdpdk-dev \
	python3-pytest python3-scapy python3-cryptography \
	gnuplot-nox tcpdump iproute2 ethtool valgrind \
	openvswitch-source autoconf automake libtool libyaml-dev iputils-ping

WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -Idatapath
LIBS := -lIPSec_MB -lcrypto

LIB_SRCS := $(wildcard datapath/*.c)
LIB_HDRS := $(wildcard datapath/*.h)
ESPCAP_SRCS := $(wildcard datapath/espcap/*.c)
ESPCAP_HDRS := $(wildcard datapath/espcap/*.h)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_HELPERS := $(filter-out tests/unit/test-%,$(wildcard tests/unit/*.c))
UNIT_HDRS := $(wildcard tests/unit/*.h)
UNIT_NAMES := $(patsubst tests/unit/%.c,%,$(UNIT_SRCS))

.PHONY: all deps check check-unit check-asan check-valgrind check-interop \
	check-fuzz \
	bench fuzz clean demo demo-espcap
all: $(B)/libespdp.a $(B)/espcap $(addprefix $(B)/tests/,$(UNIT_NAMES)) \
	offload controller ovs

deps:
	@if dpkg-query -W -f='$${Status}\n' $(DEB_PACKAGES) 2>/dev/null \
	    | grep -qv 'install ok installed' \
	    || ! dpkg-query -W $(DEB_PACKAGES) >/dev/null 2>&1; then \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        $(DEB_PACKAGES); \
	else echo "deps: all packages already installed"; fi

# --- optimized build -------------------------------------------------------
$(B)/datapath/%.o: datapath/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libespdp.a: $(patsubst %.c,$(B)/%.o,$(LIB_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/datapath/espcap/%.o: datapath/espcap/%.c $(LIB_HDRS) $(ESPCAP_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idatapath/espcap -c $< -o $@

$(B)/espcap: $(patsubst %.c,$(B)/%.o,$(ESPCAP_SRCS)) $(B)/libespdp.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# Unit tests: each tests/unit/test-NAME.c is one program, linked with the
# helpers in tests/unit/ that are not tests themselves and with espcap's
# pcap reader (for tests that read captures).
ESPCAP_LIB_SRCS := $(filter-out datapath/espcap/espcap.c,$(ESPCAP_SRCS))
$(B)/tests/%: tests/unit/%.c $(UNIT_HELPERS) $(UNIT_HDRS) $(ESPCAP_LIB_SRCS) \
		$(B)/libespdp.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Idatapath/espcap -o $@ $< \
		$(UNIT_HELPERS) $(ESPCAP_LIB_SRCS) $(B)/libespdp.a $(LIBS)

check-unit: $(addprefix $(B)/tests/,$(UNIT_NAMES))
	@fail=0; pass=0; \
	for t in $(UNIT_NAMES); do \
	    if (cd tests && ../$(B)/tests/$$t); then pass=$$((pass+1)); \
	    else echo "FAIL: $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "unit: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# --- AddressSanitizer + UBSan ---------------------------------------------
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
ASAN_CFLAGS := -std=gnu11 -O1 -g $(SAN) -D_GNU_SOURCE -Idatapath \
	-Wall -Wno-unused-parameter

$(B)/asan/datapath/%.o: datapath/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(ASAN_CFLAGS) -c $< -o $@

$(B)/asan/libespdp.a: $(patsubst %.c,$(B)/asan/%.o,$(LIB_SRCS))
	rm -f $@ && ar rcs $@ $^

$(B)/asan/tests/%: tests/unit/%.c $(UNIT_HELPERS) $(UNIT_HDRS) \
		$(ESPCAP_LIB_SRCS) $(B)/asan/libespdp.a
	@mkdir -p $(@D)
	$(CLANG) $(ASAN_CFLAGS) -Itests/unit -Idatapath/espcap -o $@ $< \
		$(UNIT_HELPERS) $(ESPCAP_LIB_SRCS) $(B)/asan/libespdp.a $(LIBS)

check-asan: $(addprefix $(B)/asan/tests/,$(UNIT_NAMES))
	@fail=0; pass=0; \
	for t in $(UNIT_NAMES); do \
	    if (cd tests && ESP_TEST_QUICK=1 \
	        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	        ../$(B)/asan/tests/$$t); then pass=$$((pass+1)); \
	    else echo "FAIL (asan): $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "asan: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# --- valgrind: reads of uninitialized memory, which ASan does not see -----
check-valgrind: $(addprefix $(B)/tests/,$(UNIT_NAMES))
	@fail=0; pass=0; \
	for t in $(UNIT_NAMES); do \
	    if (cd tests && ESP_TEST_QUICK=1 valgrind -q --error-exitcode=99 \
	        ../$(B)/tests/$$t); then pass=$$((pass+1)); \
	    else echo "FAIL (valgrind): $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "valgrind: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

-include tests/interop/interop.mk
-include tests/fuzz/fuzz.mk
-include tests/bench/bench.mk
-include tests/bench/ovs-bench.mk
-include ovs-patches/ovs.mk
-include offload/offload.mk
-include controller/controller.mk

check: all
	$(MAKE) check-unit
	$(MAKE) check-asan
	$(MAKE) check-valgrind
	$(MAKE) check-interop
	$(MAKE) check-fuzz
	$(MAKE) check-offload
	$(MAKE) check-offload-asan
	$(MAKE) check-controller
	$(MAKE) check-ovs
	$(MAKE) check-ovs-system
	$(MAKE) check-controller-system
	$(MAKE) demo-espcap
	$(MAKE) demo
	@echo "check: all suites passed"

# The main job (root): two sites in network namespaces, each its own
# ovsdb-server + patched ovs-vswitchd, joined by ESP; esp-agent configures
# them from docs/examples/two-sites.yaml.  Builds what is missing.
demo:
	@bash controller/demo/two-sites.sh

# The espcap round trip (no root, no OVS): encrypt a capture, show only
# ESP crossed, decrypt it back, tampered and replayed packets dropped.
demo-espcap:
	@bash datapath/espcap/demo.sh

clean:
	rm -rf $(B)
