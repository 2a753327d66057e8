#!/bin/bash
# Benchmark: the patched ovs-vswitchd, one PMD thread, DPDK vdev ports only
# (no kernel I/O on the measured path).  Plain VXLAN tunnel push/pop
# against VXLAN + ESP transport (options:ipsec=required) and against the
# ESP tunnel port (type=esp): the same overlay traffic, 64 and 1400-byte
# frames, encap and decap, side by side in one run.  Numbers from
# `ovs-appctl dpif-netdev/pmd-perf-show`.
#
#  netns ovsb-PID: ovsdb-server + ovs-vswitchd (dpdk-init=true, --in-memory)
#
#   br-int (netdev)                          br-phy (netdev, 02:00:00:00:00:01,
#                                              tap with 192.0.2.1, .11 /24)
#   src (net_pcap,       vxp  vxlan, remote .2 ------+
#    infinite rx) --OF--> or vxe vxlan+ESP, remote .3 --+--> LOCAL --> wire0
#    inner frames         or esp0 esp, remote .4 -------+          (net_null)
#
#   sink0 (net_null) <-- vxp|vxe|esp0 <-- tnl_pop (+ ESP decrypt) <-- LOCAL
#                                      <-- dsrc (net_pcap, infinite rx:
#                                           VXLAN, or ESP made by Scapy)
#
#   offload phase only (below), br-phy, each port with the NIC model:
#     LOCAL --> nicw (net_null, the model encrypts,      esp0 encap, inline
#               or builds all of ESP)
#     LOCAL <-- nicr-64, nicr-1400 (net_pcap, infinite   esp0 decap, inline
#               rx: the same Scapy ESP as dsrc; the model decrypts, or
#               decapsulates: the inner packet goes straight to esp0)
#     LOCAL <-> nicv (net_pcap: Scapy ESP in, capture out)  verification
#
# Encap: the inner frames, replayed forever by net_pcap (infinite_rx=1) on
# src, go by one OpenFlow flow into one of the tunnel ports; the tunnel
# push resolves through br-phy's address and a static tunnel neighbor
# (tnl/arp/set), and the result leaves by wire0, a net_null port that frees
# it.  Decap: the wire packets (plain VXLAN, or ESP made by Scapy with the
# SA OVS has) replayed on dsrc into br-phy are popped (and decrypted) and
# leave by sink0.  The kernel sees no packet: the tap behind br-phy only
# holds the addresses.  Cases per size and direction:
#   vxlan        plain VXLAN, no IPsec port in the switch (the baseline);
#   vxlan-mixed  the same, while the IPsec ports vxe and esp0 exist;
#   vxlan-esp    VXLAN + ESP transport on vxe;
#   esp          the ESP tunnel port esp0.
# All AES-GCM-128.
#
# Before measuring, a verification phase sends a few packets through every
# path into net_pcap capture ports: Scapy's own ESP decrypts what OVS sent
# and checks it against the frames given, and checks that OVS turned
# Scapy's ESP back into the original frames.
#
# Decap SAs have the replay check off (replay-window=0): the pcap of 32 ESP
# packets is replayed over and over, and with a replay window every packet
# after the first pass would be dropped as a replay.  This is the usual
# practice for replayed-traffic IPsec benchmarks; the window's cost is in
# `make bench` (espbench, window 1024).
#
# Offload providers (OVS_BENCH_OFFLOAD=1, the default; 0 skips them): after
# the cases above, the ESP tunnel port esp0 again, same traffic, with its
# SAs re-installed on each provider in turn (the provider is chosen when an
# SA is installed): sw, dpdk-inline-crypto, dpdk-inline-protocol,
# dpdk-lookaside and dpdk-cpu-crypto (crypto_aesni_mb0,
# other_config:ipsec-cryptodev).  Inline crypto and inline protocol run on
# the test-only software model of an inline NIC (Interface
# other_config:ipsec-nic-model, offload/sec-model.h; with
# ipsec-nic-model-actions=both it offers both, and ipsec-offload-order
# picks one) on extra br-phy ports, esp0's options:ipsec-offload-port
# naming the one in use:
#
#   br-phy  nicv  (net_pcap, model): verification, Scapy ESP in, capture out
#           nicw  (net_null, model): encap sink, ESP encrypted by the model
#                 (inline crypto) or built by it from the Ethernet + inner
#                 packet the datapath hands it (inline protocol)
#           nicr-64, nicr-1400 (net_pcap, infinite rx, model): decap
#                 sources, the same Scapy ESP as dsrc, decrypted by the model
#                 (inline crypto, esp0 pops it) or decapsulated by it
#                 (inline protocol: the datapath takes the inner packet
#                 into esp0, ipsec_offload_dpdk_proto_rx())
#           nicr-vx-64, nicr-vx-1400 (net_pcap, infinite rx, model): the
#                 VXLAN + ESP of vxe's decap rows, decrypted by the model
#
# A model stays on its port for the life of ovs-vswitchd, so these ports
# stay too; those not in use are kept administratively down (ovs-ofctl
# mod-port), which stops their polling and so their traffic.  Then vxe
# (VXLAN + ESP transport) on sw, inline crypto (patch 0018) and inline
# protocol (patch 0030), the same traffic as its first-phase rows, its
# SAs checked to be on the provider (its inline ESP is checked with Scapy
# by tests/ovs/offload-tunnels.sh and offload-proto-tunnels.sh, not
# here).  Each
# window also reads ipsec/nic-model-show: the TSC cycles the model's RX/TX
# callbacks spent (the crypto, or all of ESP, that a real NIC does in
# hardware; they run on the PMD core) are subtracted per packet for the
# "NIC model excluded" rows.  The in SA keeps replay-window=0 on the model
# too (the model then keeps no window: the decap pcap repeats).  Before
# measuring, every provider's ESP is checked with Scapy both ways as
# above, and each SA must show the provider it is measured on (an SA that
# fell back to sw fails the bench).  About 3 more minutes.
#
# The machine may be shared: each window also measures the share of time
# the PMD thread was on a CPU (/proc/.../schedstat), and the report gives
# cycles/pkt both as pmd-perf-show measured them and per time on the CPU.
#
# Usage: tests/bench/ovs-bench.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Knobs (environment): OVS_BENCH_ROUNDS (2), OVS_BENCH_WINDOWS (2, per case
# and round), OVS_BENCH_SECONDS (1, per window), OVS_BENCH_WARMUP (0.5),
# OVS_BENCH_PMD_CORE (highest CPU), OVS_BENCH_HUGEPAGES (768 x 2 MiB, 512
# with OVS_BENCH_OFFLOAD=0),
# OVS_BENCH_OFFLOAD (1; 0 skips the offload providers' cases),
# OVS_BENCH_OUT (build/bench), KEEP=1 keeps the work directory,
# OVS_BENCH_PERF=DIR records a 1 s `perf record -g` of the PMD thread per
# case of the first round into DIR (for profiling; not in the numbers).
# Writes $OVS_BENCH_OUT/ovs-results.{json,md}.  Needs root, the DPDK
# net_pcap and net_null PMDs, python3-scapy; with OVS_BENCH_OFFLOAD=1 also
# an ovs-vswitchd with the offload providers and the NIC model
# (libsecmodel) and the DPDK crypto_ipsec_mb PMD.  Exit status: 0 when the
# benchmark ran (missed targets are reported, not failures), 1 on a set-up
# or verification failure.  Ends only the processes it started; gives back
# the hugepages it reserved; removes its namespace and files, also on
# failure or interruption.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON3=${PYTHON3:-/usr/bin/python3}
ROUNDS=${OVS_BENCH_ROUNDS:-2}
WINDOWS=${OVS_BENCH_WINDOWS:-2}
WSECS=${OVS_BENCH_SECONDS:-1}
WARMUP=${OVS_BENCH_WARMUP:-0.5}
OFFLOAD=${OVS_BENCH_OFFLOAD:-1}
HUGE=${OVS_BENCH_HUGEPAGES:-$((OFFLOAD ? 768 : 512))}
OUT=${OVS_BENCH_OUT:-build/bench}
COMMAND=${OVS_BENCH_COMMAND:-"tests/bench/ovs-bench.sh${*:+ $*}"}
NR_HUGE=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

die() { echo "ovs-bench: $*" >&2; exit 1; }

# --- preflight -------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (hugepages, network namespace)"
OVS=$(cd "${1:-build/ovs/src}" 2>/dev/null && pwd) \
    || die "no OVS build directory ${1:-build/ovs/src} (make ovs)"
[ -x "$OVS/vswitchd/ovs-vswitchd" ] \
    || die "$OVS/vswitchd/ovs-vswitchd not built (make ovs)"
"$OVS/vswitchd/ovs-vswitchd" --version | grep -q DPDK \
    || die "ovs-vswitchd is not built with DPDK (--with-dpdk=shared)"
for pmd in net_pcap net_null; do
    ls /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_${pmd}.so >/dev/null \
        2>&1 || die "DPDK $pmd PMD not found (Debian: dpdk / libdpdk-dev)"
done
case $OFFLOAD in
0) ;;
1)
    grep -q "^HAVE_IPSEC_OFFLOAD_DPDK='yes'" "$OVS/tests/atlocal" \
        2>/dev/null || die "$OVS is not built with the IPsec offload DPDK" \
            "providers (or OVS_BENCH_OFFLOAD=0)"
    grep -q secmodel_port_attach "$OVS/vswitchd/ovs-vswitchd" \
        || die "ovs-vswitchd has no NIC model (link" \
            "build/offload/libsecmodel.a, or OVS_BENCH_OFFLOAD=0)"
    grep -q ipsec-nic-model-actions "$OVS/vswitchd/ovs-vswitchd" \
        || die "ovs-vswitchd does not drive inline protocol (patch 0014," \
            "or OVS_BENCH_OFFLOAD=0)"
    ls /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_crypto_ipsec_mb.so \
        >/dev/null 2>&1 || die "no DPDK crypto_ipsec_mb PMD (Debian: dpdk," \
            "or OVS_BENCH_OFFLOAD=0)"
    ;;
*) die "OVS_BENCH_OFFLOAD=$OFFLOAD: 0 or 1" ;;
esac
"$PYTHON3" -c 'import scapy.layers.ipsec' 2>/dev/null \
    || die "$PYTHON3 cannot import scapy (Debian: python3-scapy)"
[ -w "$NR_HUGE" ] || die "no 2 MiB hugepage support ($NR_HUGE)"
if [ -z "${OVS_BENCH_PMD_CORE:-}" ]; then
    OVS_BENCH_PMD_CORE=$(( $(nproc --all) - 1 ))
fi
PMD_CORE=$OVS_BENCH_PMD_CORE
MAIN_CORE=0
[ "$PMD_CORE" -eq 0 ] && MAIN_CORE=1
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH

WORK=$(mktemp -d /tmp/ovs-bench.XXXXXX)
NS=ovsb-$$
PIDS=()
HUGE_OLD=
HUGE_SET=
OK=0

cleanup() {
    local pid
    set +e
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 25); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null
    done
    ip netns del "$NS" 2>/dev/null
    if [ -n "$HUGE_SET" ]; then
        # Give back what we reserved; if someone else changed the count
        # meanwhile, take back only our share.
        local now
        now=$(cat "$NR_HUGE")
        if [ "$now" = "$HUGE_SET" ]; then
            echo "$HUGE_OLD" > "$NR_HUGE"
        elif [ "$now" -gt "$HUGE" ]; then
            echo $(( now - HUGE )) > "$NR_HUGE"
        else
            echo 0 > "$NR_HUGE"
        fi
        echo "ovs-bench: hugepages back to $(cat "$NR_HUGE") (were $HUGE_OLD)"
    fi
    if [ "$OK" != 1 ] && [ -f "$WORK/ovs-vswitchd.log" ]; then
        echo "ovs-bench: last errors in ovs-vswitchd.log:" >&2
        grep -E '\|(ERR|WARN|EMER)\|' "$WORK/ovs-vswitchd.log" \
            | grep -vE 'checksum offload|MTU configuration|1048576 kB' \
            | tail -n 15 >&2
    fi
    if [ -n "${KEEP:-}" ]; then
        echo "ovs-bench: work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'echo "ovs-bench: interrupted" >&2; exit 130' INT TERM

T0=$(date +%s)
LOAD_BEFORE=$(uptime | sed 's/^ *//')
echo "ovs-bench: load before: $LOAD_BEFORE"

# --- traffic ---------------------------------------------------------------
"$PYTHON3" "$HERE/ovs-bench.py" gen "$WORK" || die "cannot write the pcaps"

# --- hugepages (DPDK --in-memory: no mount needed) -------------------------
HUGE_OLD=$(cat "$NR_HUGE")
HUGE_SET=$(( HUGE_OLD + HUGE ))
echo "$HUGE_SET" > "$NR_HUGE"
got=$(cat "$NR_HUGE")
if [ "$got" != "$HUGE_SET" ]; then
    HUGE_SET=$got
    die "asked for $HUGE more 2 MiB hugepages, the kernel gave" \
        "$(( got - HUGE_OLD ))"
fi

# --- daemons ---------------------------------------------------------------
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1

in_ns() {
    ip netns exec "$NS" env OVS_RUNDIR="$WORK" OVS_LOGDIR="$WORK" \
        OVS_DBDIR="$WORK" OVS_SYSCONFDIR="$WORK" "$@"
}
vsctl() { ovs-vsctl --db=unix:"$WORK/db.sock" --timeout=20 "$@"; }
appctl() { ovs-appctl --timeout=20 -t "$WORK/ovs-vswitchd.ctl" "$@"; }
ofctl() { OVS_RUNDIR=$WORK ovs-ofctl "$@"; }

ovsdb-tool create "$WORK/conf.db" "$OVS/vswitchd/vswitch.ovsschema"
in_ns ovsdb-server "$WORK/conf.db" --remote=punix:"$WORK/db.sock" \
    --pidfile="$WORK/ovsdb-server.pid" --log-file="$WORK/ovsdb-server.log" \
    --detach --no-chdir || die "ovsdb-server did not start"
PIDS+=("$(cat "$WORK/ovsdb-server.pid")")
vsctl --no-wait init
# --no-pci: never touch the machine's NICs; the vdevs are the only ports.
vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    other_config:dpdk-lcore-mask="$(printf '0x%x' $((1 << MAIN_CORE)))" \
    other_config:pmd-cpu-mask="$(printf '0x%x' $((1 << PMD_CORE)))" \
    other_config:per-port-memory=true \
    other_config:dpdk-socket-limit=$(( HUGE * 2 )) \
    other_config:dpdk-extra="--no-pci --no-telemetry"
in_ns ovs-vswitchd unix:"$WORK/db.sock" --unixctl="$WORK/ovs-vswitchd.ctl" \
    --pidfile="$WORK/ovs-vswitchd.pid" --log-file="$WORK/ovs-vswitchd.log" \
    --detach --no-chdir -vconsole:off -vfile:info \
    2>>"$WORK/start.log" || die "ovs-vswitchd did not start (DPDK init?)"
PIDS+=("$(cat "$WORK/ovs-vswitchd.pid")")
[ "$(vsctl get Open_vSwitch . dpdk_initialized)" = true ] \
    || die "DPDK did not initialize"
appctl list-commands | grep -q 'ipsec/sa-add' \
    || die "this ovs-vswitchd has no ipsec/* commands (built without" \
           "ESPDP_LIBS?)"

# --- bridges, ports, SAs ---------------------------------------------------
# OpenFlow port numbers are fixed (ofport_request) so that flows can name
# ports that come and go.  br-phy: 1 wire0, 2 capw, 3 dsrc, and in the
# offload phase 4 nicv, 5 nicw, 6 nicr-64, 7 nicr-1400.  br-int: 1 sink0,
# 2 capi, 3 src, 10 vxp, 11 vxe, 12 esp0.
NDEV=0
dpdk_port() {   # dpdk_port BRIDGE NAME OFPORT DEVARGS-AFTER-NAME [COL=VAL..]
    NDEV=$((NDEV + 1))
    local drv=net_pcap
    case $4 in no-rx*) drv=net_null ;; esac
    vsctl add-port "$1" "$2" -- set Interface "$2" type=dpdk \
        ofport_request="$3" options:dpdk-devargs="${drv}_b$NDEV,$4" "${@:5}"
    [ "$(vsctl get Interface "$2" ofport)" = "$3" ] \
        || die "port $2 did not come up: $(vsctl get Interface "$2" error)"
}
del_port() { vsctl del-port "$1" "$2"; }

vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev \
        other_config:hwaddr=02:00:00:00:00:01 \
    -- add-br br-int -- set bridge br-int datapath_type=netdev
dpdk_port br-phy wire0 1 no-rx=1
dpdk_port br-int sink0 1 no-rx=1
ip netns exec "$NS" ip link set br-phy up
ip netns exec "$NS" ip addr add 192.0.2.1/24 dev br-phy
ip netns exec "$NS" ip addr add 192.0.2.11/24 dev br-phy
vsctl add-port br-int vxp -- set Interface vxp type=vxlan ofport_request=10 \
    options:remote_ip=192.0.2.2 options:local_ip=192.0.2.1 options:key=123
# The IPsec ports vxe and esp0 come and go with the case (ipsec_ports):
#   none  neither exists: plain VXLAN as without IPsec, the baseline;
#   both  both exist (created again for each case, so that every case
#         starts from the same state); ESP from .3 goes to the datapath
#         port of vxe, ESP from .4 to that of esp0 (patch 0017).
# The SAs stay when the ports go (they are kept by port name).
add_vxe() {
    vsctl add-port br-int vxe -- set Interface vxe type=vxlan \
        ofport_request=11 options:remote_ip=192.0.2.3 \
        options:local_ip=192.0.2.1 options:key=123 options:ipsec=required
}
add_esp0() {
    vsctl add-port br-int esp0 -- set Interface esp0 type=esp \
        ofport_request=12 options:remote_ip=192.0.2.4 \
        options:local_ip=192.0.2.11
}
ipsec_ports() {   # ipsec_ports none|both
    local show
    vsctl --if-exists del-port br-int vxe -- --if-exists del-port br-int esp0
    [ "$1" = none ] && return 0
    add_vxe
    add_esp0
    show=$(appctl tnl/ports/show -v | grep 'proto=50')
    grep -q '^vxlan_sys_4789 .*ipv4(src=192.0.2.3,dst=192.0.2.1,' <<< "$show" \
        && grep -q '^esp_sys .*ipv4(src=192.0.2.4,dst=192.0.2.11,' <<< "$show" \
        || die "ESP from .3 and .4 does not go to vxe's and esp0's" \
               "datapath ports: $show"
}
ipsec_ports both
# AES-GCM-128; the keys are those of ovs-bench.py (benchmark keys only).
K_OUT=0x000102030405060708090a0b0c0d0e0f10111213
K_IN=0x202122232425262728292a2b2c2d2e2f30313233
appctl ipsec/sa-add vxe out \
    "spi=0x2001,mode=transport,aead=aes-gcm-128,key=$K_OUT"
appctl ipsec/sa-add vxe in \
    "spi=0x1001,mode=transport,aead=aes-gcm-128,key=$K_IN,replay-window=0"
appctl ipsec/sa-add esp0 out \
    "spi=0x2002,src=192.0.2.11,dst=192.0.2.4,aead=aes-gcm-128,key=$K_OUT"
ESP0_IN=spi=0x1002,src=192.0.2.4,dst=192.0.2.11,aead=aes-gcm-128
appctl ipsec/sa-add esp0 in "$ESP0_IN,key=$K_IN,replay-window=0"
for i in 2 3 4; do
    appctl tnl/arp/set br-phy 192.0.2.$i 02:00:00:00:00:0$i >/dev/null
done
for _ in $(seq 50); do
    appctl ovs/route/show | grep -q '192.0.2.0/24 dev br-phy' && break
    sleep 0.1
done
appctl ovs/route/show | grep -q '192.0.2.0/24 dev br-phy' \
    || die "OVS did not learn the route to 192.0.2.0/24 via br-phy"

# --- verification: a few packets through every path, checked by Scapy ------
ofctl del-flows br-phy
ofctl del-flows br-int
ofctl add-flow br-phy in_port=LOCAL,actions=2
ofctl add-flow br-phy in_port=3,actions=LOCAL
ofctl add-flow br-int in_port=3,ip,nw_dst=10.2.0.1,actions=10
ofctl add-flow br-int in_port=3,ip,nw_dst=10.2.0.2,actions=11
ofctl add-flow br-int in_port=3,ip,nw_dst=10.2.0.3,actions=12
for p in 10 11 12; do
    ofctl add-flow br-int in_port=$p,actions=2
done
dpdk_port br-phy capw 2 "rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/cap-wire.pcap"
dpdk_port br-int capi 2 "rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/cap-inner.pcap"
tx_pkts() {   # tx_pkts BRIDGE OFPORT
    ofctl dump-ports "$1" "$2" | sed -n 's/.*tx pkts=\([0-9]*\).*/\1/p'
}
# send_once BRIDGE NAME PCAP: the packets of PCAP once into BRIDGE by a
# net_pcap port (OpenFlow port 3).  net_pcap reads the file as soon as the
# port starts, before OVS's flow translation knows the new port (those
# upcalls fail and the packets are dropped), so once the port is known,
# restart it (a queue-size change): net_pcap reads the file again.
send_once() {
    dpdk_port "$1" "$2" 3 "rx_pcap=$3"
    sleep 0.3
    vsctl set Interface "$2" options:n_rxq_desc=1024
}
wait_tx() {   # wait_tx BRIDGE OFPORT N: until the port sent N packets.
    for _ in $(seq 50); do
        [ "$(tx_pkts "$1" "$2")" -ge "$3" ] && return 0
        sleep 0.1
    done
    echo "ovs-bench: verification: $1 port $2 sent $(tx_pkts "$1" "$2")" \
         "packets, not $3" >&2
}
send_once br-int vsrc "$WORK/verify-enc.pcap"
send_once br-phy vdec "$WORK/verify-dec-vx.pcap"
wait_tx br-phy 2 24
wait_tx br-int 2 16
del_port br-phy vdec
ipsec_ports both
send_once br-phy vdec "$WORK/verify-dec-esp.pcap"
wait_tx br-int 2 24
sleep 0.2
del_port br-int vsrc
del_port br-phy vdec
del_port br-phy capw
del_port br-int capi
ipsec_ports both
VERIFY=$("$PYTHON3" "$HERE/ovs-bench.py" verify "$WORK") || VERIFY=
if [ -n "$VERIFY" ]; then
    echo "ovs-bench: verification: $VERIFY"
else
    echo "ovs-bench: VERIFICATION FAILED: the numbers below do not" \
         "measure a working ESP path" >&2
fi

# --- measurement -----------------------------------------------------------
mkdir -p "$WORK/raw"
ofctl del-flows br-phy
ofctl del-flows br-int
ofctl add-flow br-phy in_port=LOCAL,actions=1
ofctl add-flow br-phy in_port=3,actions=LOCAL
for p in 10 11 12; do
    ofctl add-flow br-int in_port=$p,actions=1
done
port_of() {
    case $1 in vxlan-esp) echo 11 ;; esp) echo 12 ;; *) echo 10 ;; esac
}
VSWITCHD_PID=$(cat "$WORK/ovs-vswitchd.pid")
pmd_tid() {   # pmd_tid: the PMD thread's ID.
    local t
    for t in /proc/"$VSWITCHD_PID"/task/*; do
        case $(cat "$t/comm") in
        pmd-c*) echo "${t##*/}"; return ;;
        esac
    done
    die "no PMD thread in ovs-vswitchd"
}
PMD_TID=$(pmd_tid)
MODEL=
model_counters() {   # model_counters: the NIC models' counters, summed.
    # A model in protocol mode has a second line (proto_*).
    echo "ns=$(date +%s%N) $(appctl ipsec/nic-model-show | awk '
        { for (i = 1; i <= NF; i++) {
              n = split($i, kv, "=");
              if (n == 2 && kv[1] ~ /^(tx|rx|proto)_/) {
                  s[kv[1]] += kv[2] } } }
        END { for (k in s) { printf "%s=%.0f ", k, s[k] } }')"
}
pmd_run_ns() {   # pmd_run_ns: the PMD thread's time on a CPU so far, in ns.
    cut -d' ' -f1 /proc/"$VSWITCHD_PID"/task/"$PMD_TID"/schedstat
}
measure() {   # measure DIR MODE SIZE ROUND
    local w f run0 t0
    sleep "$WARMUP"
    for w in $(seq "$WINDOWS"); do
        f=$WORK/raw/$1-$2-$3-r$4w$w.txt
        appctl dpif-netdev/pmd-stats-clear >/dev/null
        m0=
        [ -z "$MODEL" ] || m0=$(model_counters)
        run0=$(pmd_run_ns)
        t0=$(date +%s%N)
        sleep "$WSECS"
        appctl dpif-netdev/pmd-perf-show > "$f"
        echo "ovs-bench: pmd run_ns=$(( $(pmd_run_ns) - run0 ))" \
             "wall_ns=$(( $(date +%s%N) - t0 ))" >> "$f"
        if [ -n "$MODEL" ]; then
            echo "ovs-bench: model0 $m0" >> "$f"
            echo "ovs-bench: model1 $(model_counters)" >> "$f"
        fi
    done
    if [ -n "${OVS_BENCH_PERF:-}" ] && [ "$4" = 1 ]; then
        mkdir -p "$OVS_BENCH_PERF"
        perf record -q -g -t "$PMD_TID" -o "$OVS_BENCH_PERF/$1-$2-$3.data" \
            -- sleep 1 >/dev/null 2>&1 || echo "ovs-bench: perf failed" >&2
    fi
    printf "  %-6s %-10s %5s B  round %s: %s\n" "$1" "$2" "$3" "$4" \
        "$(sed -n 's/^ *Rx packets: *[0-9]* *(\(.*\))/\1/p' \
            "$WORK/raw/$1-$2-$3-r$4w$WINDOWS.txt")"
}
# Modes: vxlan (no IPsec port in the switch), vxlan-mixed (the same plain
# VXLAN while the IPsec ports exist), vxlan-esp, esp.
encap_case() {   # encap_case MODE SIZE ROUND
    ofctl add-flow br-int "in_port=3,actions=$(port_of "$1")"
    appctl revalidator/purge >/dev/null
    measure encap "$@"
}
decap_case() {   # decap_case MODE SIZE ROUND
    local pcap=dec-${1/vxlan-mixed/vxlan}-$2.pcap
    dpdk_port br-phy dsrc 3 "rx_pcap=$WORK/$pcap,infinite_rx=1"
    measure decap "$@"
    del_port br-phy dsrc
}
cpu_steal() {   # cpu_steal: hypervisor steal time of the PMD's CPU, ticks.
    awk -v c="cpu$PMD_CORE" '$1 == c { print $9 }' /proc/stat
}
STEAL0=$(cpu_steal)
MT0=$(date +%s%N)
for r in $(seq "$ROUNDS"); do
    for size in 64 1400; do
        dpdk_port br-int src 3 "rx_pcap=$WORK/inner-$size.pcap,infinite_rx=1"
        ipsec_ports none
        encap_case vxlan $size "$r"
        ipsec_ports both
        for mode in vxlan-mixed vxlan-esp esp; do
            encap_case $mode $size "$r"
        done
        del_port br-int src
        ipsec_ports none
        decap_case vxlan $size "$r"
        ipsec_ports both
        decap_case vxlan-mixed $size "$r"
        decap_case vxlan-esp $size "$r"
        ipsec_ports both
        decap_case esp $size "$r"
    done
done

# --- offload providers (the ESP tunnel port) ------------------------------
OFFLOAD_VERIFY=
OFFLOAD_SETUP=
# port_sas PORT PROVIDER [OFFLOAD_PORT]: the IPsec port PORT's SAs (esp0
# or vxe; SPIs and keys as above) flushed and installed again on PROVIDER;
# with OFFLOAD_PORT, PORT's options:ipsec-offload-port=OFFLOAD_PORT (vxe:
# patch 0018).  Fails unless both SAs run on PROVIDER (and, for lookaside
# and CPU crypto, on its cryptodev engine) and PORT still receives its ESP.
port_sas() {
    local ipp=$1 prov=$2 port=${3:-} order=$2,sw engine='' got sys
    [ "$prov" = sw ] && order=sw
    case $prov in
    dpdk-lookaside) engine=cryptodev-lookaside ;;
    dpdk-cpu-crypto) engine=cryptodev-cpu ;;
    esac
    appctl ipsec/sa-flush "$ipp" >/dev/null
    vsctl set Open_vSwitch . other_config:ipsec-offload-order="$order"
    if [ -n "$port" ]; then
        vsctl set Interface "$ipp" options:ipsec-offload-port="$port"
    else
        vsctl remove Interface "$ipp" options ipsec-offload-port
    fi
    if [ "$ipp" = vxe ]; then
        sys=vxlan_sys_4789
        appctl ipsec/sa-add vxe out \
            "spi=0x2001,mode=transport,aead=aes-gcm-128,key=$K_OUT"
        appctl ipsec/sa-add vxe in \
            "spi=0x1001,mode=transport,aead=aes-gcm-128,key=$K_IN,replay-window=0"
    else
        sys=esp_sys
        appctl ipsec/sa-add esp0 out \
            "spi=0x2002,src=192.0.2.11,dst=192.0.2.4,aead=aes-gcm-128,key=$K_OUT"
        appctl ipsec/sa-add esp0 in "$ESP0_IN,key=$K_IN,replay-window=0"
    fi
    got=$(appctl ipsec/sa-show "$ipp" --json | "$PYTHON3" -c '
import json, sys
prov, engine = sys.argv[1], sys.argv[2]
sas = json.load(sys.stdin)["sas"]
ok = (sorted(sa["dir"] for sa in sas) == ["in", "out"]
      and all(sa["offload"] == prov and engine in ("", sa["engine"])
              for sa in sas))
print("; ".join("%s SA: offload=%s engine=%s reason=%s" % (
    sa["dir"], sa["offload"], sa["engine"], sa["offload_reason"] or "-")
    for sa in sas))
sys.exit(0 if ok else 1)' "$prov" "$engine") \
        || die "$ipp's SAs are not both on $prov${engine:+ ($engine)}:" \
               "sa-show says: $got"
    appctl tnl/ports/show -v | grep 'proto=50' | grep -q "^$sys" \
        || die "ESP is not received by $ipp any more"
}
port_state() {   # port_state NAME up|down
    ofctl mod-port br-phy "$1" "$2"
}
is_inline() {   # is_inline PROVIDER: whether it runs on the NIC model.
    case $1 in dpdk-inline-*) return 0 ;; esac
    return 1
}
NICV_DESC=512
off_verify() {   # off_verify PROVIDER: esp0's ESP both ways, by Scapy.
    local tag=$1 wire=2
    ofctl del-flows br-phy
    ofctl del-flows br-int
    dpdk_port br-int capi 2 \
        "rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/cap-inner-$tag.pcap"
    if is_inline "$tag"; then
        # nicv: Scapy's ESP in (decrypted or decapsulated by the model),
        # the ESP out (encrypted or built by the model) captured.  Its
        # first reading of the pcap goes before the SAs exist; restarting
        # the port (a queue size change, so a new size each time) reads it
        # again and starts a new capture.
        wire=4
        port_state nicv up
        port_sas esp0 "$tag" nicv
    else
        dpdk_port br-phy capw 2 \
            "rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/cap-wire-$tag.pcap"
        port_sas esp0 "$tag"
    fi
    ofctl add-flow br-phy in_port=LOCAL,actions=$wire
    ofctl add-flow br-phy in_port=3,actions=LOCAL
    ofctl add-flow br-phy in_port=4,actions=LOCAL
    ofctl add-flow br-int in_port=3,ip,actions=12
    ofctl add-flow br-int in_port=12,actions=2
    if is_inline "$tag"; then
        sleep 0.3
        NICV_DESC=$(( NICV_DESC == 1024 ? 2048 : 1024 ))
        vsctl set Interface nicv options:n_rxq_desc=$NICV_DESC
    else
        send_once br-phy vdec "$WORK/verify-dec-esp.pcap"
    fi
    wait_tx br-int 2 8
    send_once br-int vsrc "$WORK/verify-enc-esp.pcap"
    wait_tx br-phy $wire 8
    sleep 0.2
    del_port br-int vsrc
    del_port br-int capi
    if is_inline "$tag"; then
        port_state nicv down
        # nicv stays (its model does): copy what it wrote so far.
        cp "$WORK/cap-wire-nicv.pcap" "$WORK/cap-wire-$tag.pcap"
    else
        del_port br-phy vdec
        del_port br-phy capw
    fi
    "$PYTHON3" "$HERE/ovs-bench.py" verify-esp "$WORK" "$tag" \
        > "$WORK/verify-$tag.txt" || OFF_FAILED+=" $tag"
}
# off_encap / off_decap PORT PROVIDER SIZE ROUND: the IPsec port PORT's
# SAs on PROVIDER, measured as mode off-[vx-]<provider>.  esp0: the inner
# frames into the null sink (sw, cryptodevs) or the NIC model's nicw
# (inline), and for decap Scapy's ESP from dsrc or the model ports
# nicr-64 / nicr-1400.  vxe (VXLAN + ESP transport, after esp0's
# providers, sw, inline crypto and inline protocol): the same, with the
# first phase's VXLAN + ESP pcaps, from the model ports nicr-vx-64 /
# nicr-vx-1400 (OpenFlow 8 and 9) for inline.
off_mode() {   # off_mode PORT PROVIDER: the measured mode's name.
    local mode=off-${2#dpdk-}
    mode=${mode%-crypto}
    [ "$1" = vxe ] && mode=off-vx-${mode#off-}
    echo "$mode"
}
off_encap() {   # off_encap PORT PROVIDER SIZE ROUND
    local wire=1
    if is_inline "$2"; then
        wire=5
        port_state nicw up
        port_sas "$1" "$2" nicw
    else
        port_sas "$1" "$2"
    fi
    ofctl add-flow br-phy in_port=LOCAL,actions=$wire
    appctl revalidator/purge >/dev/null
    measure encap "$(off_mode "$1" "$2")" "$3" "$4"
    [ $wire = 1 ] || port_state nicw down
}
off_decap() {   # off_decap PORT PROVIDER SIZE ROUND
    local mode nic=nicr-$3 pcap=dec-esp-$3.pcap
    mode=$(off_mode "$1" "$2")
    if [ "$1" = vxe ]; then
        nic=nicr-vx-$3
        pcap=dec-vxlan-esp-$3.pcap
    fi
    if is_inline "$2"; then
        port_sas "$1" "$2" "$nic"
        port_state "$nic" up
        measure decap "$mode" "$3" "$4"
        port_state "$nic" down
    else
        port_sas "$1" "$2"
        dpdk_port br-phy dsrc 3 "rx_pcap=$WORK/$pcap,infinite_rx=1"
        measure decap "$mode" "$3" "$4"
        del_port br-phy dsrc
    fi
}
OFF_PROVIDERS="sw dpdk-inline-crypto dpdk-inline-protocol"
OFF_PROVIDERS+=" dpdk-lookaside dpdk-cpu-crypto"
VX_PROVIDERS="sw dpdk-inline-crypto dpdk-inline-protocol"
if [ "$OFFLOAD" = 1 ]; then
    echo "ovs-bench: offload providers: $OFF_PROVIDERS"
    ipsec_ports both
    vsctl set Open_vSwitch . other_config:ipsec-offload=true \
        other_config:ipsec-cryptodev=crypto_aesni_mb0
    for _ in $(seq 50); do
        appctl ipsec/offload-show | grep -q '^cryptodev: crypto_aesni_mb0$' \
            && break
        sleep 0.1
    done
    appctl ipsec/offload-show | grep -q '^cryptodev: crypto_aesni_mb0$' \
        || die "cryptodev crypto_aesni_mb0 did not open:" \
            "$(appctl ipsec/offload-show | grep -i -e error -e cryptodev)"
    # The model ports (OpenFlow 4-7), down until used.  Their models offer
    # inline crypto and inline protocol (actions=both); the SAs' provider
    # (ipsec-offload-order, port_sas) chooses.
    MODEL_CFG=(other_config:ipsec-nic-model=true
               other_config:ipsec-nic-model-actions=both)
    dpdk_port br-phy nicv 4 \
        "rx_pcap=$WORK/verify-dec-esp.pcap,tx_pcap=$WORK/cap-wire-nicv.pcap" \
        "${MODEL_CFG[@]}"
    port_state nicv down
    dpdk_port br-phy nicw 5 no-rx=1 "${MODEL_CFG[@]}"
    port_state nicw down
    dpdk_port br-phy nicr-64 6 "rx_pcap=$WORK/dec-esp-64.pcap,infinite_rx=1" \
        "${MODEL_CFG[@]}"
    port_state nicr-64 down
    dpdk_port br-phy nicr-1400 7 \
        "rx_pcap=$WORK/dec-esp-1400.pcap,infinite_rx=1" "${MODEL_CFG[@]}"
    port_state nicr-1400 down
    dpdk_port br-phy nicr-vx-64 8 \
        "rx_pcap=$WORK/dec-vxlan-esp-64.pcap,infinite_rx=1" "${MODEL_CFG[@]}"
    port_state nicr-vx-64 down
    dpdk_port br-phy nicr-vx-1400 9 \
        "rx_pcap=$WORK/dec-vxlan-esp-1400.pcap,infinite_rx=1" \
        "${MODEL_CFG[@]}"
    port_state nicr-vx-1400 down
    OFF_FAILED=
    for prov in dpdk-inline-crypto dpdk-inline-protocol dpdk-lookaside \
        dpdk-cpu-crypto; do
        off_verify $prov
        v=$(cat "$WORK/verify-$prov.txt")
        echo "ovs-bench: offload verification: ${v:-$prov: FAILED}"
        OFFLOAD_VERIFY+="${OFFLOAD_VERIFY:+; }$v"
    done
    if [ -n "$OFF_FAILED" ]; then
        OFFLOAD_VERIFY=
        echo "ovs-bench: OFFLOAD VERIFICATION FAILED for$OFF_FAILED: the" \
             "offload providers are not measured" >&2
    else
        OFFLOAD_SETUP="AES-GCM-128, replay window off on the in SA;"
        OFFLOAD_SETUP+=" inline crypto and inline protocol on the NIC model"
        OFFLOAD_SETUP+=" (net_null sink for encap, net_pcap source for"
        OFFLOAD_SETUP+=" decap; the model keeps no replay window),"
        OFFLOAD_SETUP+=" lookaside and CPU crypto on crypto_aesni_mb0"
        ofctl del-flows br-phy
        ofctl del-flows br-int
        ofctl add-flow br-phy in_port=3,actions=LOCAL
        ofctl add-flow br-phy in_port=6,actions=LOCAL
        ofctl add-flow br-phy in_port=7,actions=LOCAL
        ofctl add-flow br-phy in_port=8,actions=LOCAL
        ofctl add-flow br-phy in_port=9,actions=LOCAL
        ofctl add-flow br-int in_port=11,actions=1
        ofctl add-flow br-int in_port=12,actions=1
        MODEL=1
        for r in $(seq "$ROUNDS"); do
            for size in 64 1400; do
                dpdk_port br-int src 3 \
                    "rx_pcap=$WORK/inner-$size.pcap,infinite_rx=1"
                ofctl add-flow br-int in_port=3,actions=12
                for prov in $OFF_PROVIDERS; do
                    off_encap esp0 "$prov" "$size" "$r"
                done
                ofctl add-flow br-int in_port=3,actions=11
                for prov in $VX_PROVIDERS; do
                    off_encap vxe "$prov" "$size" "$r"
                done
                del_port br-int src
                for prov in $OFF_PROVIDERS; do
                    off_decap esp0 "$prov" "$size" "$r"
                done
                for prov in $VX_PROVIDERS; do
                    off_decap vxe "$prov" "$size" "$r"
                done
            done
        done
        MODEL=
        appctl ipsec/nic-model-show > "$WORK/nic-model.txt"
    fi
fi

STEAL_PCT=$(awk -v t="$(( $(cpu_steal) - STEAL0 ))" \
    -v ns="$(( $(date +%s%N) - MT0 ))" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.1f", ns ? 100 * t / (ns / 1e9 * hz) : 0 }')
appctl ipsec/stats > "$WORK/ipsec-stats.txt" 2>&1 || true
LOAD_AFTER=$(uptime | sed 's/^ *//')
echo "ovs-bench: load after: $LOAD_AFTER"

# --- report ----------------------------------------------------------------
CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
VIRT=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -n 1)
export CPU_MODEL VIRT LOAD_BEFORE LOAD_AFTER COMMAND VERIFY ROUNDS WINDOWS \
    WSECS WARMUP PMD_CORE STEAL_PCT OFFLOAD OFFLOAD_VERIFY OFFLOAD_SETUP
NCPU=$(nproc --all)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
OVS_VERSION=$(ovs-vswitchd --version | tr '\n' ' ' | sed 's/ *$//')
export NCPU DATE OVS_VERSION
"$PYTHON3" - "$WORK/meta.json" <<'EOF'
import json, os, sys
e = os.environ
json.dump(dict(cpu=e["CPU_MODEL"], ncpu=e["NCPU"],
               virt=("virtual machine, " + e["VIRT"]) if e["VIRT"]
               else "bare metal",
               date=e["DATE"], command=e["COMMAND"],
               ovs_version=e["OVS_VERSION"], load_before=e["LOAD_BEFORE"],
               load_after=e["LOAD_AFTER"], verify=e["VERIFY"] or None,
               rounds=e["ROUNDS"], windows=e["WINDOWS"], seconds=e["WSECS"],
               warmup=e["WARMUP"], pmd_core=e["PMD_CORE"],
               steal_pct=float(e["STEAL_PCT"]),
               offload=e["OFFLOAD"],
               offload_verify=e["OFFLOAD_VERIFY"] or None,
               offload_setup=e["OFFLOAD_SETUP"],
               suite="aes-gcm-128"), open(sys.argv[1], "w"), indent=1)
EOF
mkdir -p "$OUT"
"$PYTHON3" "$HERE/ovs-bench.py" report "$WORK" "$OUT/ovs-results.json" \
    "$OUT/ovs-results.md" || die "cannot write the report"
echo "ovs-bench: wrote $OUT/ovs-results.json, $OUT/ovs-results.md" \
     "($(( $(date +%s) - T0 )) s)"
OK=1
[ -n "$VERIFY" ] || exit 1
[ "$OFFLOAD" = 0 ] || [ -n "$OFFLOAD_VERIFY" ] || exit 1
