# The policy agent (controller/): `make controller` builds esp-agent,
# `make check-controller` runs its tests (also under ASan + UBSan),
# `make check-controller-system` the two-site system test (root).
# Included by the top-level Makefile; uses B, CC, CLANG, ALL_CFLAGS, LIBS
# and PYTHON3 from there, and the `ovs` target and OVS_SRC of
# ovs-patches/ovs.mk: esp-agent links Open vSwitch's own library from the
# patched build (unixctl client, OVSDB IDL, vconn), as ovn-controller does.
# Needs libyaml (Debian: libyaml-dev).

CTL_LIB_SRCS := controller/policy.c controller/compile.c controller/rekey.c
CTL_HDRS := $(wildcard controller/*.h)
CTL_OBJS := $(patsubst %.c,$(B)/%.o,$(CTL_LIB_SRCS))
CTL_CFLAGS := $(ALL_CFLAGS) -Icontroller
CTL_LIBS := -lyaml

# Open vSwitch's library, and what it needs (the LIBS its configure found,
# DPDK's included; read when linking, after `make ovs` configured it).
CTL_OVS_SRC := $(B)/ovs/src
CTL_OVS_LIB := $(CTL_OVS_SRC)/lib/.libs/libopenvswitch.a
CTL_OVS_AVX512_LIB := $(CTL_OVS_SRC)/lib/.libs/libopenvswitchavx512.a
CTL_OVS_CFLAGS := -std=gnu11 -O2 -g -Wall -Wno-unused-parameter \
	-Wno-sign-compare -D_GNU_SOURCE -Idatapath -Icontroller \
	-I$(CTL_OVS_SRC) -I$(CTL_OVS_SRC)/include -I$(CTL_OVS_SRC)/lib
# The engine and offload libraries exactly as the OVS build links them
# (its ESPDP_LIBS: libespdp, the offload registry and providers, ...).
CTL_OVS_LIBS = $(CTL_OVS_LIB) $(CTL_OVS_AVX512_LIB) \
	$(shell sed -n 's/^ESPDP_LIBS = //p' $(CTL_OVS_SRC)/Makefile 2>/dev/null) \
	-lIPSec_MB -lssl -lcrypto \
	$(shell sed -n 's/^LIBS = //p' $(CTL_OVS_SRC)/Makefile 2>/dev/null) \
	-lpthread
CTL_ASAN_CFLAGS := -std=gnu11 -O1 -g -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -D_GNU_SOURCE \
	-Idatapath -Icontroller -Wall -Wno-unused-parameter

.PHONY: controller check-controller check-controller-system
# The top-level `all` lists controller before ovs: build ovs first.  The
# sub-make is told that ovs is done (-o ovs): this make just made it, or
# was itself told so (`make -o ovs ...`, which a sub-make does not
# inherit).
controller: ovs
	$(MAKE) --no-print-directory -o ovs $(B)/controller/esp-agent \
	    $(B)/controller/test-controller

# The library exists once `make ovs` has run; it has no rule of its own.
$(CTL_OVS_LIB): | ovs ;

# The files that use Open vSwitch's library.
CTL_OVS_SRCS := controller/apply.c controller/agent.c
CTL_OVS_OBJS := $(patsubst %.c,$(B)/%.o,$(CTL_OVS_SRCS))

$(CTL_OVS_OBJS): $(B)/controller/%.o: controller/%.c $(CTL_HDRS) \
		$(CTL_OVS_LIB)
	@mkdir -p $(@D)
	$(CC) $(CTL_OVS_CFLAGS) -c $< -o $@

$(B)/controller/%.o: controller/%.c $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CTL_CFLAGS) -c $< -o $@

$(B)/controller/esp-agent: $(B)/controller/esp-agent.o \
		$(CTL_OVS_OBJS) $(CTL_OBJS) $(CTL_OVS_LIB) $(B)/libespdp.a
	$(CC) $(CTL_CFLAGS) -o $@ $(B)/controller/esp-agent.o \
	    $(CTL_OVS_OBJS) $(CTL_OBJS) $(CTL_LIBS) $(CTL_OVS_LIBS)

# The unit test also links the engine, to check that every SA the compiler
# makes is accepted by the engine's own spec parser (esp_spec_parse()).
$(B)/controller/test-controller: controller/tests/test-controller.c \
		$(CTL_OBJS) $(CTL_HDRS) $(B)/libespdp.a
	@mkdir -p $(@D)
	$(CC) $(CTL_CFLAGS) -o $@ $< $(CTL_OBJS) $(B)/libespdp.a \
		$(CTL_LIBS) $(LIBS)

# Under ASan the agent's own code is instrumented, OVS's library is not.
$(B)/asan/controller/esp-agent: controller/esp-agent.c $(CTL_OVS_SRCS) \
		$(CTL_LIB_SRCS) $(CTL_HDRS) $(CTL_OVS_LIB) $(B)/libespdp.a
	@mkdir -p $(@D)
	$(CLANG) $(CTL_ASAN_CFLAGS) -c -o $(@D)/apply.o controller/apply.c \
		-I$(CTL_OVS_SRC) -I$(CTL_OVS_SRC)/include -I$(CTL_OVS_SRC)/lib
	$(CLANG) $(CTL_ASAN_CFLAGS) -c -o $(@D)/agent.o controller/agent.c \
		-I$(CTL_OVS_SRC) -I$(CTL_OVS_SRC)/include -I$(CTL_OVS_SRC)/lib
	$(CLANG) $(CTL_ASAN_CFLAGS) -o $@ controller/esp-agent.c \
		$(@D)/apply.o $(@D)/agent.o $(CTL_LIB_SRCS) $(CTL_LIBS) \
		$(CTL_OVS_LIBS)

$(B)/asan/controller/test-controller: controller/tests/test-controller.c \
		$(CTL_LIB_SRCS) $(CTL_HDRS) $(B)/asan/libespdp.a
	@mkdir -p $(@D)
	$(CLANG) $(CTL_ASAN_CFLAGS) -o $@ $< $(CTL_LIB_SRCS) \
		$(B)/asan/libespdp.a $(CTL_LIBS) $(LIBS)

check-controller: controller $(B)/asan/controller/esp-agent \
		$(B)/asan/controller/test-controller
	$(B)/controller/test-controller
	$(PYTHON3) controller/tests/check_policy.py $(B)/controller/esp-agent
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    $(B)/asan/controller/test-controller
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(PYTHON3) \
	    controller/tests/check_policy.py $(B)/asan/controller/esp-agent

# Two sites in network namespaces, configured by `esp-agent apply` from
# nothing but their bridges; needs root.  Also with the ASan build.  Then
# 20+ make-before-break rekeys under probes with no loss (about 35 s);
# restarts of ovs-vswitchd and of the agent under probes (about 35 s);
# policy changes and 30+ invalid policies reloaded into a running agent on
# three sites, under probes (about 35 s, with the ASan build); one of three
# sites down, under probes and rekeys on the others (about 20 s, ASan).
check-controller-system: controller $(B)/asan/controller/esp-agent
	tests/ovs/agent-two-sites.sh $(CTL_OVS_SRC) $(B)/controller/esp-agent
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    tests/ovs/agent-two-sites.sh $(CTL_OVS_SRC) \
	    $(B)/asan/controller/esp-agent
	tests/ovs/agent-rekey.sh $(CTL_OVS_SRC) $(B)/controller/esp-agent
	tests/ovs/agent-restart.sh $(CTL_OVS_SRC) $(B)/controller/esp-agent
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    tests/ovs/agent-reload.sh $(CTL_OVS_SRC) \
	    $(B)/asan/controller/esp-agent
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    tests/ovs/agent-sites.sh $(CTL_OVS_SRC) \
	    $(B)/asan/controller/esp-agent
