#!/bin/bash
# Shared by the two-site system tests (tests/ovs/*.sh) and the demo
# (controller/demo/two-sites.sh); sourced, not run.  Each site is its own
# ovsdb-server and patched ovs-vswitchd (userspace datapath,
# datapath_type=netdev) in its own network namespace; the hosts are
# namespaces too, joined to their site by a veth, and the sites to each
# other by the "WAN" veth.  Each script keeps its own topology drawing.
#
# The sourcing script sets, before calling these functions:
#   NS_PREFIX  prefix of its namespace names (unique to the run: use $$);
#   WORK       its work directory, one subdirectory per site;
#   OVS        the Open vSwitch build directory (utilities, vswitchd, ovsdb
#              on PATH);
#   PIDS=()    the processes it started, the only ones cleanup ends;
#   PASS=0 FAIL=0, the counters of check.
# shellcheck shell=bash

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "sites.sh: library of the two-site tests, sourced by them: skipped"
    exit 0
fi

# --- preflight ------------------------------------------------------------

# need_root_and_tools TEST: exits 2 unless root, with ip, ethtool, tcpdump
# and ping.
need_root_and_tools() {
    local tool
    for tool in ip ethtool tcpdump ping; do
        if ! command -v $tool >/dev/null; then
            echo "$1: $tool not found (Debian: iproute2, ethtool, tcpdump," \
                 "iputils-ping)" >&2
            exit 2
        fi
    done
    if [ "$(id -u)" != 0 ]; then
        echo "$1: needs root (network namespaces)" >&2
        exit 2
    fi
}

# sites_init TEST NS_PREFIX [OVS_BUILD_DIR]: the variables above: those
# of use_ovs, and sites_work's.
sites_init() {
    use_ovs "${3:-}"
    sites_work "$1" "$2"
}

# use_ovs [OVS_BUILD_DIR]: OVS (default build/ovs/src), its programs first
# on PATH.
use_ovs() {
    OVS=$(cd "${1:-build/ovs/src}" && pwd)
    PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
}

# sites_work TEST NS_PREFIX: WORK a new /tmp/TEST.XXXXXX, NS_PREFIX, PIDS,
# PASS and FAIL.
sites_work() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    NS_PREFIX=$2
    PIDS=()
    PASS=0
    FAIL=0
}

# link_mac NS IFACE: the MAC address of IFACE in namespace NS.
link_mac() { in_ns "$1" cat "/sys/class/net/$2/address"; }

# overlay_hosts MTU: hosts ha and hb on one overlay subnet (10.0.0.1-2/24,
# fd00::1-2/64), link MTU MTU, and static neighbors: no ARP or ND goes
# through the tunnel, so the SA counters count only the test's packets.
overlay_hosts() {
    local h me peer peer_mac mac_a mac_b
    mac_a=$(link_mac ha ha0)
    mac_b=$(link_mac hb hb0)
    for h in a b; do
        me=1 peer=2 peer_mac=$mac_b
        [ $h = b ] && me=2 peer=1 peer_mac=$mac_a
        in_ns h$h ip link set h${h}0 mtu "$1"
        in_ns h$h ip addr add 10.0.0.$me/24 dev h${h}0
        in_ns h$h ip addr add fd00::$me/64 dev h${h}0 nodad
        in_ns h$h ip neigh add 10.0.0.$peer lladdr "$peer_mac" dev h${h}0
        in_ns h$h ip neigh add fd00::$peer lladdr "$peer_mac" dev h${h}0
    done
}

# overlay_sites MTU: the namespaces of the two-site tunnel tests: hosts ha
# and hb (overlay_hosts MTU), sites sa and sb (no IPv6 of their own), each
# started with br-wan (192.0.2.1 or .2/24, port wan) and br-int (port hp)
# without flows: only what a test's flows steer enters a tunnel.
overlay_sites() {
    local s me
    netns_add ha sa sb hb
    netns_no_ipv6 sa sb
    two_site_veths sa sb hp
    overlay_hosts "$1"
    for s in sa sb; do
        me=1
        [ $s = sb ] && me=2
        start_site $s
        netdev_bridge $s br-wan wan
        netdev_bridge $s br-int hp
        in_ns $s ip addr add 192.0.2.$me/24 dev br-wan
        ofctl $s del-flows br-int
    done
}

# vxlan_esp_site SITE LOCAL REMOTE OUT_SPEC IN_SPEC: SITE with br-wan
# (LOCAL/24) and br-int, IPsec-required vxlan port vx0 to REMOTE, the
# overlay subnets of overlay_hosts steered into it, everything from it (the
# port's ICMP errors included, already addressed to the sender's MAC) to
# the host, and the SAs of ipsec/sa-add specs OUT_SPEC and IN_SPEC.
vxlan_esp_site() {
    local s=$1
    start_site "$s"
    netdev_bridge "$s" br-wan wan
    netdev_bridge "$s" br-int hp
    in_ns "$s" ip addr add "$2/24" dev br-wan
    vsctl "$s" add-port br-int vx0 -- set Interface vx0 type=vxlan \
        options:remote_ip="$3" options:local_ip="$2" \
        options:key=123 options:ipsec=required
    ofctl "$s" del-flows br-int
    ofctl "$s" add-flow br-int "in_port=hp,ip,nw_dst=10.0.0.0/24,actions=vx0"
    ofctl "$s" add-flow br-int \
        "in_port=hp,ipv6,ipv6_dst=fd00::/64,actions=vx0"
    ofctl "$s" add-flow br-int "in_port=vx0,actions=hp"
    appctl "$s" ipsec/sa-add vx0 out "$4"
    appctl "$s" ipsec/sa-add vx0 in "$5"
}

# --- hugepages (DPDK tests) -------------------------------------------------

HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HP_ADDED=0

# reserve_hugepages WANT MIN: adds WANT 2 MiB hugepages to the system's
# count (OVS 3.1 starts DPDK --in-memory, which needs them).  Fails, with
# the reason in HP_ERR, if the kernel has none or fewer than MIN could be
# added.  give_back_hugepages (in the test's EXIT trap) takes back exactly
# what was added, so that parallel DPDK runs keep theirs.
# shellcheck disable=SC2034  # HP_ERR is read by the sourcing scripts.
reserve_hugepages() {
    local before
    if [ ! -w $HP ]; then
        HP_ERR="no 2 MiB hugepages on this kernel ($HP)"
        return 1
    fi
    before=$(cat $HP)
    echo $(( before + $1 )) > $HP
    HP_ADDED=$(( $(cat $HP) - before ))
    if [ "$HP_ADDED" -lt "$2" ]; then
        HP_ERR="could reserve only $HP_ADDED of $1 2 MiB hugepages (memory)"
        return 1
    fi
}

give_back_hugepages() {
    local now
    if [ "$HP_ADDED" -gt 0 ]; then
        now=$(cat $HP)
        echo $(( now > HP_ADDED ? now - HP_ADDED : 0 )) > $HP
        HP_ADDED=0
    fi
}

# skip_test TEST REASON: a skipped test's one line, with the reason; exits
# 0 (its EXIT trap cleans up).
skip_test() {
    echo "$1: SKIPPED: $2"
    exit 0
}

# offload_model_preflight TEST: skips TEST unless Scapy and an
# ovs-vswitchd linked with the NIC model are there, and 128 2 MiB
# hugepages (at least 64) could be reserved (given back by
# give_back_hugepages).
offload_model_preflight() {
    "$PYTHON3" -c 'import scapy.layers.ipsec' 2>/dev/null \
        || skip_test "$1" "$PYTHON3 has no Scapy (Debian: python3-scapy)"
    grep -q secmodel_port_attach "$OVS/vswitchd/ovs-vswitchd" 2>/dev/null \
        || skip_test "$1" "ovs-vswitchd has no NIC model (link build/offload/libsecmodel.a)"
    reserve_hugepages 128 64 || skip_test "$1" "$HP_ERR"
}

# --- namespaces -----------------------------------------------------------

# start_dpdk_site SITE PMD_MASK [KEY=VALUE...]: SITE's ovsdb-server and
# ovs-vswitchd with DPDK (--no-pci: the tests' ports are vdevs, the
# machine's NICs are never probed; OVS 3.1 adds --in-memory), PMD threads
# on PMD_MASK and the given Open_vSwitch other_config keys; waits for DPDK.
# Returns 1, with the reason in DPDK_ERR, if DPDK did not initialize.
start_dpdk_site() {
    local s=$1 mask=$2 kv oc=()
    shift 2
    for kv in "$@"; do
        oc+=("other_config:$kv")
    done
    start_site "$s"
    vsctl "$s" set Open_vSwitch . other_config:dpdk-init=true \
        other_config:dpdk-extra="--no-pci --in-memory" \
        other_config:pmd-cpu-mask="$mask" "${oc[@]}"
    for _ in $(seq 100); do
        grep -q -e 'DPDK Enabled - initialized' -e 'DPDK.*[Ff]ail' \
            -e 'EAL: .*[Ee]rror' "$WORK/$s/ovs-vswitchd.log" 2>/dev/null \
            && break
        kill -0 "$(cat "$WORK/$s/ovs-vswitchd.pid")" 2>/dev/null || break
        sleep 0.2
    done
    if ! grep -q 'DPDK Enabled - initialized' "$WORK/$s/ovs-vswitchd.log" \
            2>/dev/null; then
        # shellcheck disable=SC2034  # For the caller.
        DPDK_ERR="DPDK did not initialize: $(grep -i -e eal -e dpdk \
            "$WORK/$s/ovs-vswitchd.log" | tail -3 | tr '\n' ' ')"
        return 1
    fi
}

# dpdk_wan_bridge SITE MAC [COLUMN=VALUE...]: br-wan at SITE (hwaddr MAC,
# 192.0.2.1/24) with the DPDK port "wan" (net_af_packet on SITE's veth
# "wan") and the given Interface settings (e.g. other_config:...), its
# flows only between LOCAL and wan (no flooding).  The port may still be
# coming up when it returns.
dpdk_wan_bridge() {
    local s=$1 mac=$2
    shift 2
    vsctl "$s" add-br br-wan -- set bridge br-wan datapath_type=netdev \
        other_config:hwaddr="$mac"
    in_ns "$s" ip link set br-wan up
    in_ns "$s" ip addr add 192.0.2.1/24 dev br-wan
    vsctl "$s" add-port br-wan wan -- set Interface wan type=dpdk \
        options:dpdk-devargs=net_af_packet0,iface=wan "$@"
    ofctl "$s" del-flows br-wan
    ofctl "$s" add-flow br-wan "in_port=LOCAL,actions=wan"
    ofctl "$s" add-flow br-wan "in_port=wan,actions=LOCAL"
}

# offload_site_net: the namespaces of the offload tests: host ha
# (10.1.0.2, its gateway 10.1.0.1 at 02:00:00:00:00:01, port hp of site
# sa), site sa, and gw (the Scapy gateway, on sa's veth "wan"); sets
# HA_MAC and GW_MAC.
offload_site_net() {
    netns_add ha sa gw
    netns_no_ipv6 ha sa gw
    veth wan sa wan gw
    veth ha0 ha hp sa
    in_ns ha ip addr add 10.1.0.2/24 dev ha0
    in_ns ha ip route add 10.2.0.0/24 via 10.1.0.1
    in_ns ha ip neigh add 10.1.0.1 lladdr 02:00:00:00:00:01 dev ha0
    # shellcheck disable=SC2034  # For the caller.
    HA_MAC=$(in_ns ha cat /sys/class/net/ha0/address)
    # shellcheck disable=SC2034
    GW_MAC=$(in_ns gw cat /sys/class/net/wan/address)
}

# inline_leak_checks LABEL COUNTER: the fail-closed output check of an
# inline SA (offload-inline.sh, offload-proto.sh,
# offload-proto-tunnels.sh).  Site "sa" has br-wan with the offload port
# wan and a second port lk0; the caller defines leaks REASON (the out SA
# $OUT's drops for REASON), pings N (N packets into the SA's port,
# $LEAK_PORT or esp0, from the host) and model NAME (the NIC model's
# counter NAME; COUNTER is the one that counts packets the NIC
# protected).  Three
# rounds: a. flows to lk0 then wan (lk0 gets a copy: inline_wrong_port;
# wan the marked original, protected by the NIC); b. wan then lk0 (wan
# gets an unmarked copy: inline_unmarked; lk0 the original:
# inline_wrong_port; nothing reaches the NIC); c. NORMAL flooding (every
# packet to lk0 dropped; to wan either a copy, dropped, or the original,
# protected); d. the controller, then wan (an ovs-ofctl monitor gets each
# packet as its first LEN bytes only, LEN the third argument: up to the ESP
# header, or the Ethernet header of an inline-protocol SA's clear packet;
# "inline_upcall"; the originals leave wan through the NIC).  Leaves
# br-wan's LOCAL flow to wan only, and the totals in LEAK_W
# (inline_wrong_port) and LEAK_U (inline_unmarked).
inline_leak_checks() {
    local l=$1 c=$2 len=$3 o0 o1 e0 w0 u0 pins mon
    ofctl sa add-flow br-wan "in_port=LOCAL,actions=lk0,wan"
    appctl sa revalidator/wait >/dev/null
    o0=$(sa_json sa "${LEAK_PORT:-esp0}" "$OUT" out)
    e0=$(model "$c")
    pings 3
    o1=$(sa_json sa "${LEAK_PORT:-esp0}" "$OUT" out)
    check "${l}a: 3 copies to lk0 dropped as inline_wrong_port ($(leaks inline_wrong_port))" \
        test "$(leaks inline_wrong_port)" = 3 -a "$(leaks inline_unmarked)" = 0
    check "${l}a: the originals still leave wan through the NIC (packets ${o0% *} -> ${o1% *}, $c $e0 -> $(model "$c"))" \
        test "${o1% *}" = $(( ${o0% *} + 3 )) -a "$(model "$c")" = $(( e0 + 3 ))

    ofctl sa add-flow br-wan "in_port=LOCAL,actions=wan,lk0"
    appctl sa revalidator/wait >/dev/null
    e0=$(model "$c")
    pings 2
    check "${l}b: the copies to wan dropped as inline_unmarked ($(leaks inline_unmarked))" \
        test "$(leaks inline_unmarked)" = 2
    check "${l}b: the originals to lk0 dropped as inline_wrong_port ($(leaks inline_wrong_port))" \
        test "$(leaks inline_wrong_port)" = 5
    check "${l}b: nothing reached the NIC model ($c $e0 -> $(model "$c"))" \
        test "$(model "$c")" = "$e0"

    ofctl sa add-flow br-wan "in_port=LOCAL,actions=NORMAL"
    appctl sa revalidator/wait >/dev/null
    w0=$(leaks inline_wrong_port)
    u0=$(leaks inline_unmarked)
    e0=$(model "$c")
    pings 2
    LEAK_W=$(leaks inline_wrong_port)
    LEAK_U=$(leaks inline_unmarked)
    check "${l}c: flooding: every packet to lk0 dropped ($w0 -> $LEAK_W), a copy to wan too or the original through the NIC ($u0 -> $LEAK_U, $c $e0 -> $(model "$c"))" \
        test $(( LEAK_W - w0 )) = 2 -a $(( LEAK_U - u0 + $(model "$c") - e0 )) = 2

    ip netns exec "$(ns sa)" env OVS_RUNDIR="$WORK/sa" ovs-ofctl monitor \
        br-wan 65534 -P nxt_packet_in >"$WORK/monitor-$l.log" 2>&1 &
    mon=$!
    PIDS+=("$mon")
    sleep 0.5
    ofctl sa add-flow br-wan "priority=40000,in_port=LOCAL,ip,actions=controller,wan"
    appctl sa revalidator/wait >/dev/null
    u0=$(leaks inline_upcall)
    e0=$(model "$c")
    pings 2
    sleep 0.3
    kill "$mon" 2>/dev/null || true
    pins=$(grep -c "total_len=" "$WORK/monitor-$l.log" || true)
    check "${l}d: the controller got 2 packet-ins ($pins)" test "$pins" = 2
    check "${l}d: each one $len bytes ($(grep -o 'total_len=[0-9]*' "$WORK/monitor-$l.log" | sort | uniq -c | tr '\n' ' '))" \
        test "$(grep -o 'total_len=[0-9]*' "$WORK/monitor-$l.log" | sort -u)" \
        = "total_len=$len"
    check "${l}d: counted as inline_upcall ($u0 -> $(leaks inline_upcall))" \
        test "$(leaks inline_upcall)" = $(( u0 + 2 ))
    check "${l}d: the originals still leave wan through the NIC ($c $e0 -> $(model "$c"))" \
        test "$(model "$c")" = $(( e0 + 2 ))
    ofctl sa --strict del-flows br-wan "priority=40000,in_port=LOCAL,ip"
    ofctl sa add-flow br-wan "in_port=LOCAL,actions=wan"
    appctl sa revalidator/wait >/dev/null
}

# check_leak_capture LABEL FILTER WHAT: stops the capture on the leak
# port's far end (LEAK_TCPDUMP, writing $WORK/leak.pcap) and checks that
# it holds no packet that the tcpdump FILTER matches (WHAT names them)
# and no clear-text $PATTERN (offload-inline.sh, offload-proto.sh,
# offload-proto-tunnels.sh).
check_leak_capture() {
    local l=$1 filter=$2 what=$3 n
    sleep 0.5
    kill "$LEAK_TCPDUMP"
    wait "$LEAK_TCPDUMP" 2>/dev/null || true
    n=$(tcpdump -nr "$WORK/leak.pcap" "$filter" 2>/dev/null | wc -l)
    check "$l: no $what on lk1 ($n)" test "$n" = 0
    check "$l: no clear-text ping payload on lk1" \
        not grep -q "$PATTERN" < <(tcpdump -xnr "$WORK/leak.pcap" \
            2>/dev/null | sed 's/^.*0x[0-9a-f]*: *//' | tr -d ' \n')
}

ns() { echo "$NS_PREFIX$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

netns_add() {   # netns_add NAME...: new namespaces, loopback up.
    local n
    for n in "$@"; do
        ip netns add "$(ns "$n")"
        in_ns "$n" ip link set lo up
    done
}

netns_no_ipv6() {   # netns_no_ipv6 NAME...: no router solicitations, ND, MLD.
    local n
    for n in "$@"; do
        in_ns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        in_ns "$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    done
}

veth() {   # veth NAME1 NS1 NAME2 NS2
    ip link add "$1" netns "$(ns "$2")" type veth peer name "$3" \
        netns "$(ns "$4")"
    in_ns "$2" ip link set "$1" up
    in_ns "$4" ip link set "$3" up
    # AF_PACKET ports and ESP need packets with their checksums done.
    in_ns "$2" ethtool -K "$1" tx off >/dev/null
    in_ns "$4" ethtool -K "$3" tx off >/dev/null
}

# two_site_veths SITE_A SITE_B LAN_PORT: the WAN veth ("wan" at both
# sites), and hosts ha and hb (ha0, hb0) on LAN_PORT of their site.
two_site_veths() {
    veth wan "$1" wan "$2"
    veth ha0 ha "$3" "$1"
    veth hb0 hb "$3" "$2"
}

# route_hosts GATEWAY_MAC [ipv6]: ha is 10.1.0.2/24, hb 10.2.0.2/24, each
# routing the other's subnet via .1 of its own, a static neighbor at
# GATEWAY_MAC (the site answers no ARP for it); with "ipv6", the same with
# fd01::2/64 and fd02::2/64.
route_hosts() {
    local mac=$1 ipv6=${2:-} h i me peer
    for h in a b; do
        i=${h}0
        me=1 peer=2
        [ $h = b ] && me=2 peer=1
        in_ns h$h ip addr add 10.$me.0.2/24 dev h$i
        in_ns h$h ip route add 10.$peer.0.0/24 via 10.$me.0.1
        in_ns h$h ip neigh add 10.$me.0.1 lladdr "$mac" dev h$i
        if [ -n "$ipv6" ]; then
            in_ns h$h ip addr add fd0$me::2/64 dev h$i nodad
            in_ns h$h ip route add fd0$peer::/64 via fd0$me::1
            in_ns h$h ip neigh add fd0$me::1 lladdr "$mac" dev h$i
        fi
    done
}

# --- site daemons ---------------------------------------------------------

# at_site SITE CMD...: CMD in SITE's namespace, against SITE's daemons.
at_site() {
    local s=$1
    shift
    in_ns "$s" env OVS_RUNDIR="$WORK/$s" OVS_LOGDIR="$WORK/$s" \
        OVS_DBDIR="$WORK/$s" OVS_SYSCONFDIR="$WORK/$s" "$@"
}
vsctl() { local s=$1; shift; at_site "$s" ovs-vsctl --timeout=10 "$@"; }
appctl() {
    local s=$1
    shift
    at_site "$s" ovs-appctl --timeout=10 -t "$WORK/$s/ovs-vswitchd.ctl" "$@"
}
ofctl() { local s=$1; shift; at_site "$s" ovs-ofctl "$@"; }

# start_site SITE [KEY=VALUE...]: its ovsdb-server and ovs-vswitchd, with
# the Open_vSwitch record's columns KEY set to VALUE (e.g.
# other_config:dpdk-init=true) before ovs-vswitchd starts.
start_site() {
    local s=$1 init=()
    shift
    [ $# -gt 0 ] && init=(-- set Open_vSwitch . "$@")
    mkdir -p "$WORK/$s"
    ovsdb-tool create "$WORK/$s/conf.db" "$OVS/vswitchd/vswitch.ovsschema"
    at_site "$s" ovsdb-server "$WORK/$s/conf.db" \
        --remote=punix:"$WORK/$s/db.sock" \
        --pidfile="$WORK/$s/ovsdb-server.pid" \
        --log-file="$WORK/$s/ovsdb-server.log" --detach --no-chdir \
        2>>"$WORK/$s/start.log"
    PIDS+=("$(cat "$WORK/$s/ovsdb-server.pid")")
    vsctl "$s" --no-wait init "${init[@]}"
    start_vswitchd "$s"
}

# start_vswitchd SITE [WRAPPER...]: SITE's ovs-vswitchd (run by WRAPPER,
# the command it is given as its arguments, if any), detached.
start_vswitchd() {
    local s=$1
    shift
    # The unixctl socket at a fixed path, the one a policy names.
    at_site "$s" "$@" ovs-vswitchd unix:"$WORK/$s/db.sock" \
        --unixctl="$WORK/$s/ovs-vswitchd.ctl" \
        --pidfile="$WORK/$s/ovs-vswitchd.pid" \
        --log-file="$WORK/$s/ovs-vswitchd.log" --detach --no-chdir \
        -vconsole:off -vfile:info 2>>"$WORK/$s/start.log"
    PIDS+=("$(cat "$WORK/$s/ovs-vswitchd.pid")")
}

# netdev_bridge SITE BRIDGE [PORT...]: a userspace-datapath bridge with
# the given system ports, its internal interface up.
netdev_bridge() {
    local s=$1 br=$2 port adds=()
    shift 2
    for port in "$@"; do
        adds+=(-- add-port "$br" "$port")
    done
    vsctl "$s" add-br "$br" -- set bridge "$br" datapath_type=netdev \
        "${adds[@]}"
    in_ns "$s" ip link set "$br" up
}

# lan_wan_sites SITE_A SITE_B: the agent's starting point at both sites,
# bridges and their system ports only: br-wan (wan, 192.0.2.1 and .2/24)
# and br0 (lan0).
lan_wan_sites() {
    local s
    for s in "$1" "$2"; do
        start_site "$s"
        netdev_bridge "$s" br-wan wan
        netdev_bridge "$s" br0 lan0
    done
    in_ns "$1" ip addr add 192.0.2.1/24 dev br-wan
    in_ns "$2" ip addr add 192.0.2.2/24 dev br-wan
}

# ping_answered HOST ADDR: whether HOST gets an answer from ADDR within 20
# pings (the first ones resolve the tunnel neighbor, set up flows).
ping_answered() {
    for _ in $(seq 20); do
        if in_ns "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; then
            return 0
        fi
    done
    return 1
}

# --- WAN capture ----------------------------------------------------------

# start_capture NS IFACE PCAP [TCPDUMP_ARG...]: tcpdump on IFACE of
# namespace NS into PCAP (in CAPTURE), its PID in TCPDUMP; returns once it
# listens.
start_capture() {
    local n=$1 i=$2 pcap=$3
    shift 3
    # Not through in_ns: a shell function run with & is a subshell, and $!
    # would be its PID, not tcpdump's (which would outlive cleanup).
    ip netns exec "$(ns "$n")" tcpdump -i "$i" -U -w "$pcap" "$@" \
        2>"$WORK/tcpdump.log" &
    TCPDUMP=$!
    CAPTURE=$pcap
    PIDS+=("$TCPDUMP")
    for _ in $(seq 50); do
        grep -q listening "$WORK/tcpdump.log" 2>/dev/null && break
        sleep 0.1
    done
}

# start_wan_capture NS [IFACE]: tcpdump on IFACE (default wan: a site's
# end of the WAN veth) of namespace NS into $WORK/wan.pcap, its PID in
# TCPDUMP; returns once it listens.
start_wan_capture() {
    start_capture "$1" "${2:-wan}" "$WORK/wan.pcap" -s 0
}

# stop_wan_capture: the capture of start_capture (or start_wan_capture)
# ended, once its file has stopped growing for 0.5 s (10 s at most): a
# tcpdump that lags behind (a loaded machine) ends without writing what
# it has not read yet.
stop_wan_capture() {
    local size=-1 now
    for _ in $(seq 20); do
        sleep 0.5
        now=$(stat -c %s "${CAPTURE:-}" 2>/dev/null || echo 0)
        [ "$now" = "$size" ] && break
        size=$now
    done
    kill "$TCPDUMP"
    wait "$TCPDUMP" 2>/dev/null || true
}

# check_wan_esp_only MIN_ESP: the capture holds at least MIN_ESP ESP
# packets and nothing but ESP and ARP.
check_wan_esp_only() {
    local n_esp n_other
    n_esp=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null | wc -l)
    n_other=$(tcpdump -nr "$WORK/wan.pcap" 'not esp and not arp' \
        2>/dev/null | wc -l)
    check "ESP on the WAN ($n_esp packets)" test "$n_esp" -ge "$1"
    check "nothing but ESP and ARP on the WAN ($n_other others)" \
        test "$n_other" -eq 0
}

# hex_on_wan HEX: whether the capture's bytes contain HEX anywhere.
hex_on_wan() {
    tcpdump -xnr "$WORK/wan.pcap" 2>/dev/null | sed 's/^.*0x[0-9a-f]*: *//' \
        | tr -d ' \n' | grep -q "$1"
}

# --- checks and clean-up --------------------------------------------------

not() { ! "$@"; }
quiet() { "$@" >/dev/null; }   # quiet CMD...: CMD with its stdout discarded.

# coverage SITE NAME -> the coverage counter NAME of SITE's ovs-vswitchd.
coverage() { appctl "$1" coverage/read-counter "$2"; }
# coverage_is SITE NAME N: whether counter NAME reaches N within 15 s.  A
# PMD thread adds its counts to the totals that coverage/read-counter
# reads only from time to time (at most once a second; once, on this
# machine, not within 5 s), so a count read right after the traffic may
# still lack the last packets.
coverage_is() { retry 75 test "$(coverage "$1" "$2")" = "$3"; }

check() {   # check WHAT CMD...: counts CMD's success in PASS or FAIL.
    local what=$1; shift
    if "$@"; then
        PASS=$((PASS + 1))
    else
        FAIL=$((FAIL + 1))
        echo "FAIL: $what" >&2   # stderr: a check of CMD >/dev/null still tells
    fi
}

end_pids() {   # end_pids: SIGTERM to PIDS, SIGKILL after 2 s.
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null
    done
}

netns_del() {   # netns_del NAME...
    local n
    for n in "$@"; do
        ip netns del "$(ns "$n")" 2>/dev/null
    done
}

# cleanup_sites TEST NAME...: the EXIT trap of a test: ends its processes,
# deletes its namespaces NAME..., and its work directory unless a check
# failed or KEEP is set.
cleanup_sites() {
    local test=$1
    shift
    set +e
    end_pids
    netns_del "$@"
    if [ "$FAIL" -eq 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$WORK"
    else
        echo "$test: logs kept in $WORK"
    fi
}

# --- helpers added for the IPv6, tunnel, interop and PMD tests ------------

PYTHON3=${PYTHON3:-/usr/bin/python3}
# Scapy's VXLAN + ESP to site A of the tunnel offload tests (see its
# header).
# shellcheck disable=SC2034  # Used by the sourcing scripts.
SCAPY_VXLAN_ESP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/scapy-vxlan-esp.py

# retry TRIES CMD...: CMD until it succeeds, at most TRIES times 0.2 s
# apart; its last status.
retry() {
    local n=$1 i
    shift
    for i in $(seq "$n"); do
        "$@" && return 0
        [ "$i" -lt "$n" ] && sleep 0.2
    done
    return 1
}

# sa_json SITE PORT SPI DIR -> "P B": the packets and bytes of PORT's DIR
# SA with SPI (a number, 0x hex allowed), from ipsec/sa-show --json.
sa_json() {
    appctl "$1" ipsec/sa-show "$2" --json | "$PYTHON3" -c '
import json, sys
port, spi, d = sys.argv[1], int(sys.argv[2], 0), sys.argv[3]
for sa in json.load(sys.stdin)["sas"]:
    if sa["port"] == port and sa["spi"] == spi and sa["dir"] == d:
        print(sa["packets"], sa["bytes"])
        break
else:
    print("none none")
' "$2" "$3" "$4"
}

# sa_field SITE PORT SPI DIR FIELD -> FIELD of PORT's DIR SA with SPI, from
# ipsec/sa-show --json (e.g. offload, offload_reason, engine, seq), 0 if
# the SA has no such field (counters that are zero are left out), nothing
# if there is no such SA.
sa_field() {
    appctl "$1" ipsec/sa-show "$2" --json | "$PYTHON3" -c '
import json, sys
port, spi, d, f = sys.argv[1], int(sys.argv[2], 0), sys.argv[3], sys.argv[4]
for sa in json.load(sys.stdin)["sas"]:
    if sa["port"] == port and sa["spi"] == spi and sa["dir"] == d:
        print(sa.get(f, 0))
' "$2" "$3" "$4" "$5"
}

# nic_model SITE COUNTER -> the NIC model's COUNTER at SITE (offload tests).
nic_model() {
    appctl "$1" ipsec/nic-model-show | sed -n "s/.* $2=\([0-9]*\).*/\1/p"
}

# check_model_rules LABEL N: the NIC model of site sa holds N rte_flow ESP
# rules (those of the inbound inline SAs: one per SA, or one per IP version
# for an SA without a destination), and it left no ESP of a live inbound
# session encrypted for the lack of a rule.
check_model_rules() {
    check "$1: the model holds $2 rte_flow ESP rule(s) ($(nic_model sa flows))" \
        test "$(nic_model sa flows)" = "$2"
    check "$1: no ESP of a live session went without its rule (rx_no_flow $(nic_model sa rx_no_flow))" \
        test "$(nic_model sa rx_no_flow)" = 0
}

# check_model_sessions_gone LABEL: once the caller has deleted its inline
# SAs, the NIC model of site sa has no live session left (waits up to 6 s)
# and destroyed every session it created, and has no rte_flow rule left,
# none orphaned by its session going first; then site sa's PMD threads stop
# (pmd-cpu-mask=0) and PMD_S gets the seconds they ran since PMD_T0.
model_no_live() { test "$(nic_model sa live)" = 0; }
check_model_sessions_gone() {
    retry 30 model_no_live || true
    check "$1: no live session left ($(nic_model sa live); created $(nic_model sa created), destroyed $(nic_model sa destroyed))" \
        model_no_live
    check "$1: every session created was destroyed" \
        test "$(nic_model sa created)" = "$(nic_model sa destroyed)"
    check "$1: no rte_flow rule left ($(nic_model sa flows)), each removed before its session (orphaned $(nic_model sa flow_orphaned))" \
        test "$(nic_model sa flows)/$(nic_model sa flow_orphaned)" = 0/0
    check "$1: every rule created was destroyed" \
        test "$(nic_model sa flow_created)" = "$(nic_model sa flow_destroyed)"
    vsctl sa set Open_vSwitch . other_config:pmd-cpu-mask=0 >/dev/null 2>&1 \
        || true
    # shellcheck disable=SC2034  # For the caller.
    PMD_S=$(( $(date +%s) - PMD_T0 ))
}

# sa_drops SITE PORT SPI DIR -> the SA's drops as "reason:N ..." or "none".
sa_drops() {
    appctl "$1" ipsec/sa-show "$2" --json | "$PYTHON3" -c '
import json, sys
port, spi, d = sys.argv[1], int(sys.argv[2], 0), sys.argv[3]
for sa in json.load(sys.stdin)["sas"]:
    if sa["port"] == port and sa["spi"] == spi and sa["dir"] == d:
        print(" ".join("%s:%d" % kv for kv in sorted(sa["drops"].items()))
              or "none")
' "$2" "$3" "$4"
}

# flow_stats SITE BRIDGE REGEX -> "P B": the packets and bytes of the
# flows of BRIDGE whose dump-flows line (with --names) matches REGEX.
flow_stats() {
    ofctl "$1" --names dump-flows "$2" | grep -E "$3" \
        | sed 's/.*n_packets=\([0-9]*\), n_bytes=\([0-9]*\).*/\1 \2/' \
        | awk '{ p += $1; b += $2 } END { print p + 0, b + 0 }'
}

# sock_drops SITE -> the packets that the kernel dropped because SITE's
# ovs-vswitchd did not read its AF_PACKET socket on wan (a system port)
# fast enough: with TCP at full speed, the two sites share 2 CPUs, and TCP
# resends what was lost.
sock_drops() {
    in_ns "$1" ss -0 -m -n -p | grep -A1 '\*:wan .*ovs-vswitchd' \
        | sed -n 's/.*skmem:(.*,d\([0-9]*\)).*/\1/p' | head -1
}

# check_fail_closed SITE PORT F0: once PORT's outbound SA is deleted, the
# port line at SITE comes to count as no_out_sa (and no other drop) each
# packet that OpenFlow sent into PORT since F0 (its flow_stats then), at
# least 2 (waits up to 10 s for the statistics).
check_fail_closed() {
    local s=$1 p=$2 f1 n line want
    for _ in $(seq 50); do
        f1=$(flow_stats "$s" br-int "actions=(output:)?\"?$p\"?\$")
        n=$(( ${f1% *} - ${3% *} ))
        want="port $p: inbound drops=none outbound drops=no_out_sa:$n"
        line=$(appctl "$s" ipsec/sa-show "$p" | grep ^port)
        test "$line" = "$want" && break
        sleep 0.2
    done
    check "fail-closed drops counted ($line, $n sent)" \
        test "$line" = "$want" -a "$n" -ge 2
}

minus() {   # minus "P1 B1" "P0 B0" -> "dP dB"
    echo "$(( ${1% *} - ${2% *} )) $(( ${1#* } - ${2#* } ))"
}

# check_tcp LABEL RX_HOST TX_HOST ADDR MB MARKER: tcp_transfer as a
# check, LABEL followed by the receiver's report.
check_tcp() {
    local l=$1 r=0
    shift
    tcp_transfer "$@" || r=$?
    check "$l ($(cat "$WORK/tcp-rx.txt"))" test $r = 0
}

# tcp_transfer RX_HOST TX_HOST ADDR MB MARKER: MB megabytes over TCP from
# TX_HOST to ADDR (RX_HOST's, IPv4 or IPv6; port 5001), the data MARKER
# (ASCII) and a counter repeated; succeeds when the receiver got exactly
# what was sent (size and SHA-256).  Output of both ends in
# $WORK/tcp-{rx,tx}.txt.
tcp_transfer() {
    local rx
    rm -f "$WORK/tcp-rx.txt" "$WORK/tcp-tx.txt"
    in_ns "$1" "$PYTHON3" -c '
import hashlib, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, 5001)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d); h.update(d)
print(n, h.hexdigest())
' "$3" > "$WORK/tcp-rx.txt" 2>"$WORK/tcp-rx.err" &
    rx=$!
    PIDS+=("$rx")
    sleep 0.5
    in_ns "$2" "$PYTHON3" -c '
import hashlib, socket, sys
addr, mb, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
unit = b"".join(marker + b"%08d" % i for i in range(4096))
data = unit * (mb * 1000000 // len(unit) + 1)
s = socket.create_connection((addr, 5001), timeout=60)
s.sendall(data); s.close()
print(len(data), hashlib.sha256(data).hexdigest())
' "$3" "$4" "$5" > "$WORK/tcp-tx.txt" 2>"$WORK/tcp-tx.err" || true
    wait "$rx" 2>/dev/null || true
    test -s "$WORK/tcp-tx.txt" \
        && test "$(cat "$WORK/tcp-rx.txt")" = "$(cat "$WORK/tcp-tx.txt")"
}

# wan_has_ascii TEXT: whether the WAN capture's bytes hold TEXT anywhere.
wan_has_ascii() {
    "$PYTHON3" -c '
import sys
sys.exit(0 if sys.argv[2].encode() in open(sys.argv[1], "rb").read() else 1)
' "$WORK/wan.pcap" "$1"
}

# nd_mld: a tcpdump filter for ICMPv6 neighbor discovery (types 133 to 136)
# and MLD (in a hop-by-hop header, types 130 to 143), which a stack with
# IPv6 sends by itself.
nd_mld() {
    echo '((ip6 and ip6[6] == 58 and ip6[40] >= 133 and ip6[40] <= 136)' \
        'or (ip6 and ip6[6] == 0 and ip6[40] == 58 and ip6[48] >= 130' \
        'and ip6[48] <= 143))'
}

# check_wan_esp_only6 MIN_ESP: like check_wan_esp_only, with IPv6 on the
# WAN: nothing but ESP, ARP, and ICMPv6 neighbor discovery (types 133 to
# 136) and MLD (in a hop-by-hop header, types 130 to 143).
check_wan_esp_only6() {
    local n_esp n_other
    n_esp=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null | wc -l)
    n_other=$(tcpdump -nr "$WORK/wan.pcap" \
        "not esp and not arp and not $(nd_mld)" 2>/dev/null | wc -l)
    check "ESP on the WAN ($n_esp packets)" test "$n_esp" -ge "$1"
    check "nothing but ESP, ARP, ND and MLD on the WAN ($n_other others)" \
        test "$n_other" -eq 0
}

# wan_has_hex HEX: whether the WAN capture's bytes hold the bytes HEX.
wan_has_hex() {
    "$PYTHON3" -c '
import sys
data = open(sys.argv[1], "rb").read()
sys.exit(0 if bytes.fromhex(sys.argv[2]) in data else 1)
' "$WORK/wan.pcap" "$1"
}

# --- two sites joined by an ESP tunnel-mode port --------------------------

# The keys of the two-site ESP tests (AES-GCM-128, key and salt): site A
# to site B, and site B to site A.
# shellcheck disable=SC2034  # Used by the sourcing scripts.
K_AB=0x8a8b8c8d8e8f909192939495969798999a9b9c9d
# shellcheck disable=SC2034  # Used by the sourcing scripts.
K_BA=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4

check_no_key_in_logs() {   # check_no_key_in_logs: K_AB, K_BA in no log.
    check "no key in any log" \
        not grep -rqi -e 8a8b8c8d8e8f9091 -e a1a2a3a4a5a6a7a8 "$WORK/sa" \
        "$WORK/sb"
}

# esp_two_site_net MTU: namespaces ha, sa, sb, hb, the sites without IPv6
# (no router solicitations or ND on the WAN), joined as two_site_veths sa
# sb hp; the hosts routed as route_hosts with IPv6 and the gateway
# 02:00:00:00:00:01 (the site's br-int answers no ARP; its flows deliver
# by port), their link MTU MTU.
esp_two_site_net() {
    netns_add ha sa sb hb
    netns_no_ipv6 sa sb
    two_site_veths sa sb hp
    route_hosts 02:00:00:00:00:01 ipv6
    in_ns ha ip link set ha0 mtu "$1"
    in_ns hb ip link set hb0 mtu "$1"
}

# esp_site SITE LOCAL REMOTE HOST_MAC NET [NET6]: on the started SITE,
# br-wan (wan, LOCAL/24) and br-int (hp, and esp0: ESP tunnel mode from
# LOCAL to REMOTE); OpenFlow sends hp's packets to NET (and NET6) into
# esp0, and what comes out of esp0 (the port's ICMP errors included) to
# hp, from 02:00:00:00:00:01 to HOST_MAC.  Only what goes to the other
# site enters the tunnel (not the host's own IPv6 multicast: MLD, router
# solicitations).
esp_site() {
    local s=$1 local_ip=$2 remote_ip=$3 host_mac=$4 net=$5 net6=${6:-}
    netdev_bridge "$s" br-wan wan
    netdev_bridge "$s" br-int hp
    vsctl "$s" add-port br-int esp0 -- set Interface esp0 type=esp \
        options:remote_ip="$remote_ip" options:local_ip="$local_ip"
    in_ns "$s" ip addr add "$local_ip/24" dev br-wan
    ofctl "$s" add-flow br-int "in_port=hp,ip,nw_dst=$net,actions=esp0"
    if [ -n "$net6" ]; then
        ofctl "$s" add-flow br-int \
            "in_port=hp,ipv6,ipv6_dst=$net6,actions=esp0"
    fi
    ofctl "$s" add-flow br-int \
        "in_port=esp0,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$host_mac,hp"
}

# esp_sa_pair SITE LOCAL REMOTE OUT_SPI OUT_KEY IN_SPI IN_KEY [OPTS]: an
# AES-GCM-128 outbound and inbound SA on SITE's esp0, OPTS (e.g.
# ",encap=udp") added to both.
esp_sa_pair() {
    local s=$1 local_ip=$2 remote_ip=$3 opts=${8:-}
    appctl "$s" ipsec/sa-add esp0 out \
        "spi=$4,src=$local_ip,dst=$remote_ip,aead=aes-gcm-128,key=$5$opts"
    appctl "$s" ipsec/sa-add esp0 in \
        "spi=$6,src=$remote_ip,dst=$local_ip,aead=aes-gcm-128,key=$7$opts"
}

# esp_two_sites ENCAP: sites sa (192.0.2.1, host ha 10.1.0.0/24,
# fd01::/64) and sb (192.0.2.2, host hb 10.2.0.0/24, fd02::/64), as
# two_site_veths sa sb hp and route_hosts joined them, started and made
# esp_site; SAs 0x2001 (A to B, K_AB) and 0x1001 (B to A, K_BA), raw ESP
# (ENCAP "esp") or in UDP (ENCAP "udp", NAT-T).
esp_two_sites() {
    local opts=
    [ "$1" = udp ] && opts=,encap=udp
    start_site sa
    esp_site sa 192.0.2.1 192.0.2.2 "$(link_mac ha ha0)" 10.2.0.0/24 \
        fd02::/64
    esp_sa_pair sa 192.0.2.1 192.0.2.2 0x2001 $K_AB 0x1001 $K_BA $opts
    start_site sb
    esp_site sb 192.0.2.2 192.0.2.1 "$(link_mac hb hb0)" 10.1.0.0/24 \
        fd01::/64
    esp_sa_pair sb 192.0.2.2 192.0.2.1 0x1001 $K_BA 0x2001 $K_AB $opts
}

# check_natt_keepalive PORT: a NAT-keepalive (RFC 3948 section 2.3: UDP
# 4500, the byte 0xff) from site B's own stack (192.0.2.2) to site A
# (192.0.2.1) is counted by site A's PORT.
check_natt_keepalive() {
    in_ns sb "$PYTHON3" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 4500))
s.sendto(b"\xff", ("192.0.2.1", 4500))
'
    check "site A counted the NAT-keepalive ($(port_line sa "$1"))" \
        retry 20 port_line_has sa "$1" keepalives=1
}

# check_natt_wan MIN: the stopped WAN capture holds at least MIN packets
# of ESP in UDP 4500 and nothing but them and ARP: no raw ESP, no packet
# over the path MTU of 1500.
check_natt_wan() {
    local n_natt n_raw n_other n_big pcap=$WORK/wan.pcap
    n_natt=$(tcpdump -nr "$pcap" 'udp port 4500' 2>/dev/null | wc -l)
    n_raw=$(tcpdump -nr "$pcap" 'ip proto 50' 2>/dev/null | wc -l)
    n_other=$(tcpdump -nr "$pcap" 'not (udp port 4500) and not arp' \
        2>/dev/null | wc -l)
    n_big=$(tcpdump -nr "$pcap" 'ip[2:2] > 1500' 2>/dev/null | wc -l)
    check "ESP in UDP 4500 on the WAN ($n_natt packets)" \
        test "$n_natt" -ge "$1"
    check "no raw ESP on the WAN ($n_raw)" test "$n_raw" -eq 0
    check "nothing but ESP in UDP and ARP on the WAN ($n_other others)" \
        test "$n_other" -eq 0
    check "no packet over the path MTU on the WAN ($n_big)" \
        test "$n_big" -eq 0
}

# port_line SITE [PORT]: the "port PORT: ..." line of ipsec/sa-show PORT
# (default esp0).
port_line() {
    local p=${2:-esp0}
    appctl "$1" ipsec/sa-show "$p" | grep "^port $p:"
}

# port_line_has SITE PORT WORD: whether the port line holds WORD.
port_line_has() { port_line "$1" "$2" | grep -qw -- "$3"; }

# port_counter SITE NAME [PORT]: NAME's value in the port line, or 0.
port_counter() {
    port_line "$1" "${3:-esp0}" | grep -o "$2[:=][0-9]*" | grep -o '[0-9]*$' \
        || echo 0
}
