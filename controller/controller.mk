# The policy agent (controller/): `make controller` builds esp-agent,
# `make check-controller` runs its tests (also under ASan + UBSan).
# Included by the top-level Makefile; uses B, CC, CLANG, ALL_CFLAGS, LIBS
# and PYTHON3 from there.  Needs libyaml (Debian: libyaml-dev).

CTL_LIB_SRCS := controller/policy.c controller/compile.c
CTL_HDRS := $(wildcard controller/*.h)
CTL_OBJS := $(patsubst %.c,$(B)/%.o,$(CTL_LIB_SRCS))
CTL_CFLAGS := $(ALL_CFLAGS) -Icontroller
CTL_LIBS := -lyaml
CTL_ASAN_CFLAGS := -std=gnu11 -O1 -g -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -D_GNU_SOURCE \
	-Idatapath -Icontroller -Wall -Wno-unused-parameter

.PHONY: controller check-controller
controller: $(B)/controller/esp-agent $(B)/controller/test-controller

$(B)/controller/%.o: controller/%.c $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CTL_CFLAGS) -c $< -o $@

$(B)/controller/esp-agent: $(B)/controller/esp-agent.o $(CTL_OBJS)
	$(CC) $(CTL_CFLAGS) -o $@ $^ $(CTL_LIBS)

# The unit test also links the engine, to check that every SA the compiler
# makes is accepted by the engine's own spec parser (esp_spec_parse()).
$(B)/controller/test-controller: controller/tests/test-controller.c \
		$(CTL_OBJS) $(CTL_HDRS) $(B)/libespdp.a
	@mkdir -p $(@D)
	$(CC) $(CTL_CFLAGS) -o $@ $< $(CTL_OBJS) $(B)/libespdp.a \
		$(CTL_LIBS) $(LIBS)

$(B)/asan/controller/esp-agent: controller/esp-agent.c $(CTL_LIB_SRCS) \
		$(CTL_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(CTL_ASAN_CFLAGS) -o $@ controller/esp-agent.c \
		$(CTL_LIB_SRCS) $(CTL_LIBS)

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
