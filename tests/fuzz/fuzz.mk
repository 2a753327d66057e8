# libFuzzer targets (clang, ASan + UBSan), built under $(B)/fuzz/.
# Included by the top-level Makefile; uses B, CLANG, LIBS, LIB_SRCS,
# LIB_HDRS from there.
#
#   make check-fuzz   each target for FUZZ_SHORT seconds (part of `make check`)
#   make fuzz         each target for FUZZ_LONG seconds
#
# New inputs found go to $(B)/fuzz/work/<target>/, never into the
# committed seed corpora in tests/fuzz/corpus/<target>/.  A crash leaves
# its input as $(B)/fuzz/crash-* and fails the target.

FUZZ_SHORT ?= 20
FUZZ_LONG ?= 300
FUZZ_TARGETS := fuzz-decap fuzz-pcap fuzz-spec

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(FUZZ_SAN) -D_GNU_SOURCE -Idatapath \
	-Idatapath/espcap -Wall -Wno-unused-parameter

FUZZ_LIB_OBJS := $(patsubst %.c,$(B)/fuzz/%.o,$(LIB_SRCS))
FUZZ_PCAP_OBJ := $(B)/fuzz/datapath/espcap/pcap-io.o

$(B)/fuzz/datapath/%.o: datapath/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/datapath/espcap/%.o: datapath/espcap/%.c datapath/espcap/pcap-io.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_LIB_OBJS) $(FUZZ_PCAP_OBJ) \
		$(LIB_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_LIB_OBJS) $(FUZZ_PCAP_OBJ) $(LIBS)

FUZZ_BINS := $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))

# $(call fuzz-run,SECONDS): runs every target in turn; stops at a crash.
define fuzz-run
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(B)/fuzz/work/$$t; \
	    echo "fuzz: $$t for $(1) s"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    $(B)/fuzz/$$t -max_total_time=$(1) -max_len=4096 -timeout=10 \
	        -rss_limit_mb=2048 -print_final_stats=0 \
	        -artifact_prefix=$(B)/fuzz/crash-$$t- \
	        $(B)/fuzz/work/$$t tests/fuzz/corpus/$$t \
	        > $(B)/fuzz/$$t.log 2>&1 \
	    || { tail -40 $(B)/fuzz/$$t.log; echo "fuzz: $$t FAILED"; \
	         exit 1; }; \
	    grep -h '^#[0-9]*.*DONE' $(B)/fuzz/$$t.log | tail -1; \
	done; \
	echo "fuzz: $(words $(FUZZ_TARGETS)) passed, 0 failed"
endef

.PHONY: check-fuzz fuzz
check-fuzz: $(FUZZ_BINS)
	$(call fuzz-run,$(FUZZ_SHORT))

fuzz: $(FUZZ_BINS)
	$(call fuzz-run,$(FUZZ_LONG))
