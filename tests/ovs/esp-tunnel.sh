#!/bin/bash
# System test: two sites joined by an ESP tunnel-mode port (type=esp) on
# the Open vSwitch userspace datapath, each site its own ovsdb-server and
# patched ovs-vswitchd in its own network namespace.
#
#  ns esp-ha                ns esp-sa                          ns esp-sb               ns esp-hb
#  +-----------+  +---------------------------+  +---------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), esp0 |  | br-int: hp (system), esp0 |  | hb0       |
#  | 10.1.0.2  +--+ br-wan: wan (system)      |  | br-wan: wan (system)      +--+ 10.2.0.2  |
#  | fd01::2   |  |   br-wan 192.0.2.1/24     |  |   br-wan 192.0.2.2/24     |  | fd02::2   |
#  +-----------+  |                           |  |                           |  +-----------+
#                 +-------------+-------------+  +-------------+-------------+
#                               |        veth "WAN"            |
#                               +------------------------------+
#
# The hosts route each other's subnet through their site; the site's
# br-int sends it into esp0 (ESP, tunnel mode), which goes out of br-wan.
# Checks, each of which fails the test:
#   1. ping both ways, IPv4 and IPv6 inside the IPv4 tunnel;
#   2. the capture on the WAN veth has only ESP and ARP, and not the
#      payload pattern of the pings;
#   3. ipsec/sa-show counts exactly the pings' packets and bytes;
#   4. deleting the outbound SA stops the traffic (fail closed), counted
#      as no_out_sa, with nothing in clear on the WAN; a new SA restores it.
#
# Usage: tests/ovs/esp-tunnel.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

for tool in ip ethtool tcpdump ping; do
    if ! command -v $tool >/dev/null; then
        echo "esp-tunnel: $tool not found (Debian: iproute2, ethtool, tcpdump," \
             "iputils-ping)" >&2
        exit 2
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "esp-tunnel: needs root (network namespaces)" >&2
    exit 2
fi

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
SCHEMA=$OVS/vswitchd/vswitch.ovsschema
WORK=$(mktemp -d /tmp/esp-tunnel.XXXXXX)
NS_PREFIX=esp-$$-
PIDS=()
PASS=0
FAIL=0

K_AB=0x8a8b8c8d8e8f909192939495969798999a9b9c9d   # Site A to site B.
K_BA=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4   # Site B to site A.
PATTERN=c0ffee15c0ffee15                           # Ping payload.

ns() { echo "$NS_PREFIX$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

cleanup() {
    local pid
    set +e
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
    for n in ha sa sb hb; do
        ip netns del "$(ns $n)" 2>/dev/null
    done
    if [ "$FAIL" -eq 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$WORK"
    else
        echo "esp-tunnel: logs kept in $WORK"
    fi
}
trap cleanup EXIT

not() { ! "$@"; }

check() {
    local what=$1; shift
    if "$@"; then
        PASS=$((PASS + 1))
    else
        FAIL=$((FAIL + 1))
        echo "FAIL: $what"
    fi
}

# Site commands, run inside the site's namespace against its own daemons.
site_env() {
    local s=$1
    echo "OVS_RUNDIR=$WORK/$s OVS_LOGDIR=$WORK/$s OVS_DBDIR=$WORK/$s OVS_SYSCONFDIR=$WORK/$s"
}
vsctl() { local s=$1; shift; in_ns "$s" env $(site_env "$s") ovs-vsctl --timeout=10 "$@"; }
appctl() { local s=$1; shift; in_ns "$s" env $(site_env "$s") ovs-appctl --timeout=10 "$@"; }
ofctl() { local s=$1; shift; in_ns "$s" env $(site_env "$s") ovs-ofctl "$@"; }

start_site() {
    local s=$1
    mkdir -p "$WORK/$s"
    ovsdb-tool create "$WORK/$s/conf.db" "$SCHEMA"
    in_ns "$s" env $(site_env "$s") ovsdb-server "$WORK/$s/conf.db" \
        --remote=punix:"$WORK/$s/db.sock" --pidfile="$WORK/$s/ovsdb-server.pid" \
        --log-file="$WORK/$s/ovsdb-server.log" --detach --no-chdir \
        2>>"$WORK/$s/start.log"
    PIDS+=("$(cat "$WORK/$s/ovsdb-server.pid")")
    vsctl "$s" --no-wait init
    in_ns "$s" env $(site_env "$s") ovs-vswitchd unix:"$WORK/$s/db.sock" \
        --pidfile="$WORK/$s/ovs-vswitchd.pid" \
        --log-file="$WORK/$s/ovs-vswitchd.log" --detach --no-chdir \
        -vconsole:off -vfile:info 2>>"$WORK/$s/start.log"
    PIDS+=("$(cat "$WORK/$s/ovs-vswitchd.pid")")
}

veth() {   # veth NAME1 NS1 NAME2 NS2
    ip link add "$1" netns "$(ns "$2")" type veth peer name "$3" netns "$(ns "$4")"
    in_ns "$2" ip link set "$1" up
    in_ns "$4" ip link set "$3" up
    # AF_PACKET ports and ESP need packets with their checksums done.
    in_ns "$2" ethtool -K "$1" tx off >/dev/null
    in_ns "$4" ethtool -K "$3" tx off >/dev/null
}

T0=$(date +%s)
for n in ha sa sb hb; do
    ip netns add "$(ns $n)"
    in_ns $n ip link set lo up
done
# No IPv6 on the sites (no router solicitations or ND on the WAN); the
# hosts have it, for IPv6 inside the tunnel.
for n in sa sb; do
    in_ns $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    in_ns $n sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
veth wan sa wan sb
veth ha0 ha hp sa
veth hb0 hb hp sb

# Hosts: each routes the other site's subnet to a gateway with a fixed MAC
# (the site's br-int answers no ARP; its flows deliver by port).
in_ns ha ip addr add 10.1.0.2/24 dev ha0
in_ns ha ip route add 10.2.0.0/24 via 10.1.0.1
in_ns ha ip neigh add 10.1.0.1 lladdr 02:00:00:00:00:01 dev ha0
in_ns ha ip addr add fd01::2/64 dev ha0 nodad
in_ns ha ip route add fd02::/64 via fd01::1
in_ns ha ip neigh add fd01::1 lladdr 02:00:00:00:00:01 dev ha0
in_ns hb ip addr add 10.2.0.2/24 dev hb0
in_ns hb ip route add 10.1.0.0/24 via 10.2.0.1
in_ns hb ip neigh add 10.2.0.1 lladdr 02:00:00:00:00:01 dev hb0
in_ns hb ip addr add fd02::2/64 dev hb0 nodad
in_ns hb ip route add fd01::/64 via fd02::1
in_ns hb ip neigh add fd02::1 lladdr 02:00:00:00:00:01 dev hb0

setup_site() {   # setup_site SITE LOCAL REMOTE HOST_MAC OUT_SPI OUT_KEY IN_SPI IN_KEY NET NET6
    local s=$1 local_ip=$2 remote_ip=$3 host_mac=$4 net=$9 net6=${10}
    start_site "$s"
    vsctl "$s" add-br br-wan -- set bridge br-wan datapath_type=netdev \
        -- add-port br-wan wan
    vsctl "$s" add-br br-int -- set bridge br-int datapath_type=netdev \
        -- add-port br-int hp \
        -- add-port br-int esp0 -- set Interface esp0 type=esp \
               options:remote_ip="$remote_ip" options:local_ip="$local_ip"
    in_ns "$s" ip addr add "$local_ip/24" dev br-wan
    in_ns "$s" ip link set br-wan up
    in_ns "$s" ip link set br-int up
    # Only what goes to the other site enters the tunnel (not the host's
    # own IPv6 multicast: MLD, router solicitations).
    ofctl "$s" add-flow br-int "in_port=hp,ip,nw_dst=$net,actions=esp0"
    ofctl "$s" add-flow br-int "in_port=hp,ipv6,ipv6_dst=$net6,actions=esp0"
    ofctl "$s" add-flow br-int "in_port=esp0,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$host_mac,hp"
    appctl "$s" ipsec/sa-add esp0 out \
        "spi=$5,src=$local_ip,dst=$remote_ip,aead=aes-gcm-128,key=$6"
    appctl "$s" ipsec/sa-add esp0 in \
        "spi=$7,src=$remote_ip,dst=$local_ip,aead=aes-gcm-128,key=$8"
}
mac() { in_ns "$1" cat "/sys/class/net/$2/address"; }
setup_site sa 192.0.2.1 192.0.2.2 "$(mac ha ha0)" 0x2001 $K_AB 0x1001 $K_BA \
    10.2.0.0/24 fd02::/64
setup_site sb 192.0.2.2 192.0.2.1 "$(mac hb hb0)" 0x1001 $K_BA 0x2001 $K_AB \
    10.1.0.0/24 fd01::/64

# Capture the WAN from site A's side.
in_ns sa tcpdump -i wan -U -w "$WORK/wan.pcap" -s 0 2>"$WORK/tcpdump.log" &
PIDS+=("$!")
for _ in $(seq 50); do
    grep -q listening "$WORK/tcpdump.log" 2>/dev/null && break
    sleep 0.1
done

# The first packets resolve the tunnel neighbor (ARP from br-wan) and set
# up the datapath flows; let a few go before counting.
sa_counters() {   # sa_counters SITE SPI -> "packets=N bytes=M"
    appctl "$1" ipsec/sa-show esp0 | grep -A3 "spi 0x0000$2" | sed -n 4p \
        | grep -o 'packets=[0-9]* bytes=[0-9]*'
}
warm=0
for _ in $(seq 20); do
    if in_ns ha ping -c 1 -W 1 10.2.0.2 >/dev/null 2>&1; then
        warm=1
        break
    fi
done
check "warm-up ping ha -> hb" test $warm = 1
in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true

# 1 + 3: pings both ways, and the SA counters move by exactly them
# (3 echo requests and 3 replies each way, 84 bytes of IP each).
before_a_out=$(sa_counters sa 2001 | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
before_b_in=$(sa_counters sb 2001 | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
check "ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.1.0.2 >/dev/null
delta() {   # delta "P0 B0" SITE SPI -> "packets=dP bytes=dB"
    local p0=${1% *} b0=${1#* } now
    now=$(sa_counters "$2" "$3" | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
    echo "packets=$(( ${now% *} - p0 )) bytes=$(( ${now#* } - b0 ))"
}
check "site A out SA counted 6 packets, 504 bytes" \
    test "$(delta "$before_a_out" sa 2001)" = "packets=6 bytes=504"
check "site B in SA counted 6 packets, 504 bytes" \
    test "$(delta "$before_b_in" sb 2001)" = "packets=6 bytes=504"

# IPv6 inside: 3 echo requests and 3 replies each way, 104 bytes each.
before_a_out=$(sa_counters sa 2001 | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
check "ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd02::2 >/dev/null
check "ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd01::2 >/dev/null
check "site A out SA counted 6 IPv6 packets, 624 bytes" \
    test "$(delta "$before_a_out" sa 2001)" = "packets=6 bytes=624"

# 4: fail closed.  Without site A's outbound SA nothing gets through and
# the drops are counted; a new SA pair brings the traffic back.
appctl sa ipsec/sa-del esp0 0x2001
check "no ping without an outbound SA" \
    not in_ns ha ping -c 2 -i 0.2 -W 1 -p $PATTERN 10.2.0.2 >/dev/null
fail_closed_counted() {
    appctl sa ipsec/sa-show esp0 | grep -q 'outbound drops=no_out_sa:2$'
}
check "fail-closed drops counted (no_out_sa:2)" fail_closed_counted
appctl sa ipsec/sa-add esp0 out \
    "spi=0x2002,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=$K_AB"
appctl sb ipsec/sa-add esp0 in \
    "spi=0x2002,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=$K_AB"
check "ping again with a new SA" \
    in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null

# 2: the WAN carried only ESP (and ARP), never the payload in clear.
sleep 0.5
kill "${PIDS[-1]}"
wait "${PIDS[-1]}" 2>/dev/null || true
n_esp=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null | wc -l)
n_other=$(tcpdump -nr "$WORK/wan.pcap" 'not esp and not arp' 2>/dev/null | wc -l)
check "ESP on the WAN ($n_esp packets)" test "$n_esp" -ge 26
check "nothing but ESP and ARP on the WAN ($n_other others)" test "$n_other" -eq 0
clear_payload_on_wan() {
    tcpdump -xnr "$WORK/wan.pcap" 2>/dev/null | sed 's/^.*0x[0-9a-f]*: *//' \
        | tr -d ' \n' | grep -q $PATTERN
}
check "no clear-text payload on the WAN" not clear_payload_on_wan
check "no key in any log" \
    not grep -rqi -e 8a8b8c8d8e8f9091 -e a1a2a3a4a5a6a7a8 "$WORK/sa" "$WORK/sb"

echo "esp-tunnel: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
