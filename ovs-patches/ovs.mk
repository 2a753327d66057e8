# Open vSwitch 3.1.0 (Debian openvswitch-source) with the patch series in
# ovs-patches/, built against libespdp.  Included by the top-level Makefile.
#
#   make ovs         unpack, patch and configure (each only when needed),
#                    then build incrementally
#   make check-ovs   the autotests the series adds (keyword "ipsec") and the
#                    existing tunnel_push_pop ones, to show no regression
#   make check-ovs-system
#                    system tests in network namespaces (tests/ovs/*.sh,
#                    root): two sites, real ovs-vswitchd, ESP on the wire
#   make clean-ovs   forget the OVS tree (the next "make ovs" starts over)
#
# Layout: $(B)/ovs/src is the patched source tree, configured and built in
# place; $(B)/ovs/*.stamp record the steps done; $(B)/ovs/*.log their output.
#
# The tree is unpacked afresh whenever the tarball, ovs-patches/series or a
# patch changes, and reconfigured when the configure flags change.  The patches carry
# sources only (configure.ac, *.m4, automake.mk, ...), never generated files,
# so boot.sh (autoreconf) runs after they are applied.
#
# libespdp is linked through the configure variables the series adds
# (ESPDP_CFLAGS, ESPDP_LIBS; see the ipsec patch): lib/ipsec.c is built into
# libopenvswitch and ovs-vswitchd links -lespdp.  Automake cannot know that
# ovs-vswitchd depends on a library named by a configure variable, so
# "make ovs" deletes ovs-vswitchd when libespdp.a is newer, and OVS's make
# relinks it.  Changes to datapath/*.h recompile lib/ipsec.c through OVS's
# own dependency tracking.

OVS_TARBALL ?= /usr/src/openvswitch/openvswitch.tar.gz
OVS_DIR := $(B)/ovs
OVS_SRC := $(OVS_DIR)/src
OVS_SERIES := $(shell sed -e 's/\#.*//' ovs-patches/series 2>/dev/null)
OVS_PATCHES := $(addprefix ovs-patches/,$(OVS_SERIES))
OVS_VSWITCHD := $(OVS_SRC)/vswitchd/ovs-vswitchd
OVS_ESPDP_LIB := $(B)/libespdp.a
# The offload registry and providers (offload/offload.mk builds them; named
# here because that file is included after this one).
OVS_OFFLOAD_LIBS := $(B)/offload/libsecmodel.a \
	$(B)/offload/libipsec-offload-dpdk.a $(B)/offload/libipsec-offload.a
OVS_CONFIGURE_FLAGS := --with-dpdk=shared PYTHON3=$(PYTHON3) \
	ESPDP_CFLAGS="-I$(CURDIR)/datapath -I$(CURDIR)/offload" \
	ESPDP_LIBS="-L$(CURDIR)/$(B)/offload -lsecmodel -lipsec-offload-dpdk \
	-lipsec-offload -L$(CURDIR)/$(B) -lespdp -lIPSec_MB -lcrypto"
# Parallelism for OVS's own make when the top-level make runs without -j
# (with -j, the sub-make shares the top-level jobserver).
OVS_JOBS ?= 2
OVS_SUBMAKE = $(MAKE) -C $(OVS_SRC) \
	$(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(OVS_JOBS))
# Autotest flags for check-ovs: several -k are or'ed.
OVS_TESTSUITEFLAGS ?= -j$(OVS_JOBS)
OVS_TEST_KEYWORDS ?= -k ipsec -k tunnel_push_pop -k tunnel_push_pop_ipv6 \
	-k unixctl -k JSON-RPC -k datapath,parsing,formatting

.PHONY: ovs check-ovs check-ovs-system clean-ovs

# Reconfigure when the configure flags change, not on every edit of this
# file: the flags are kept in a file rewritten only when they differ.
OVS_FLAGS_FILE := $(OVS_DIR)/configure.flags
ifneq ($(OVS_CONFIGURE_FLAGS),$(shell cat $(OVS_FLAGS_FILE) 2>/dev/null))
$(shell mkdir -p $(OVS_DIR) && echo '$(OVS_CONFIGURE_FLAGS)' \
	> $(OVS_FLAGS_FILE))
endif
$(OVS_FLAGS_FILE):
	mkdir -p $(@D) && echo '$(OVS_CONFIGURE_FLAGS)' > $@

$(OVS_DIR)/patched.stamp: $(OVS_TARBALL) ovs-patches/series $(OVS_PATCHES)
	rm -rf $(OVS_SRC) $(OVS_DIR)/*.stamp
	mkdir -p $(OVS_SRC)
	tar -xzf $(OVS_TARBALL) -C $(OVS_SRC) --strip-components=1
	@set -e; for p in $(OVS_PATCHES); do \
	    echo "patch: $$p"; \
	    patch -d $(OVS_SRC) -p1 -s -F0 -N --no-backup-if-mismatch < $$p; \
	done
	cd $(OVS_SRC) && ./boot.sh > ../boot.log 2>&1 \
	    || { tail -20 ../boot.log; exit 1; }
	touch $@

$(OVS_DIR)/configured.stamp: $(OVS_DIR)/patched.stamp $(OVS_FLAGS_FILE) \
		| $(OVS_ESPDP_LIB) $(OVS_OFFLOAD_LIBS)
	cd $(OVS_SRC) && ./configure $(OVS_CONFIGURE_FLAGS) \
	    > ../configure.log 2>&1 || { tail -20 ../configure.log; exit 1; }
	grep -q '^HAVE_ESPDP=.yes' $(OVS_SRC)/tests/atlocal
	touch $@

ovs: $(OVS_DIR)/configured.stamp $(OVS_ESPDP_LIB) $(OVS_OFFLOAD_LIBS)
	@for lib in $(OVS_ESPDP_LIB) $(OVS_OFFLOAD_LIBS); do \
	    if test -e $(OVS_VSWITCHD) && test $$lib -nt $(OVS_VSWITCHD); then \
	        echo "ovs: $$lib changed, relinking ovs-vswitchd"; \
	        rm -f $(OVS_VSWITCHD); \
	    fi; \
	done
	+$(OVS_SUBMAKE) --no-print-directory

# The ESP tunnel port cases (tests/ipsec.at) make and check ESP frames with
# espcap; the testsuite takes its path as a variable and skips them without.
check-ovs: ovs $(B)/espcap
	+$(OVS_SUBMAKE) --no-print-directory check \
	    TESTSUITEFLAGS='$(OVS_TESTSUITEFLAGS) $(OVS_TEST_KEYWORDS) \
	    ESPCAP=$(CURDIR)/$(B)/espcap'

# Each script is a self-contained test (see its header) that cleans up
# after itself; they run one after the other.
# agent-*.sh need esp-agent: they run from check-controller-system.
# sites.sh is the library the tests source.
OVS_SYSTEM_TESTS := $(sort $(filter-out tests/ovs/agent-% tests/ovs/sites.sh,\
	$(wildcard tests/ovs/*.sh)))
check-ovs-system: ovs
	@set -e; for t in $(OVS_SYSTEM_TESTS); do \
	    echo "system test: $$t"; \
	    $$t $(OVS_SRC); \
	done

clean-ovs:
	rm -rf $(OVS_DIR)
