#!/bin/bash
# System test: two sites joined by a vxlan port protected with ESP in
# transport mode (options:ipsec=required) on the Open vSwitch userspace
# datapath, each site its own ovsdb-server and patched ovs-vswitchd in its
# own network namespace.  The two hosts share one overlay subnet.
#
#  ns vxe-ha                ns vxe-sa                          ns vxe-sb               ns vxe-hb
#  +-----------+  +---------------------------+  +---------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), vx0  |  | br-int: hp (system), vx0  |  | hb0       |
#  | 10.0.0.1  +--+ br-wan: wan (system)      |  | br-wan: wan (system)      +--+ 10.0.0.2  |
#  | fd00::1   |  |   br-wan 192.0.2.1/24     |  |   br-wan 192.0.2.2/24     |  | fd00::2   |
#  +-----------+  |                           |  |                           |  +-----------+
#                 +-------------+-------------+  +-------------+-------------+
#                               |        veth "WAN"            |
#                               +------------------------------+
#
# vx0 is type=vxlan, key 123, ipsec=required, with transport-mode SAs
# installed by ovs-appctl.  Checks, each of which fails the test:
#   1. ping both ways, IPv4 and IPv6, over vxlan + ESP;
#   2. ipsec/sa-show counts exactly the packets and bytes that OpenFlow
#      sent into the tunnel (flow statistics), on both sides;
#   3. a 10 MB TCP transfer from ha to hb arrives complete;
#   4. the capture on the WAN veth has only ESP and ARP (no clear VXLAN),
#      and not the payload pattern of the pings;
#   5. deleting the outbound SA stops the traffic (fail closed), counted
#      as no_out_sa, with nothing in clear on the WAN; a new SA restores it.
#
# Usage: tests/ovs/vxlan-esp.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools vxlan-esp

sites_init vxlan-esp vxe-$$- "${1:-}"

PATTERN=c0ffee15c0ffee15                           # Ping payload.

trap 'cleanup_sites vxlan-esp ha sa sb hb' EXIT

T0=$(date +%s)
netns_add ha sa sb hb
netns_no_ipv6 sa sb
two_site_veths sa sb hp

# Hosts: one overlay subnet, MTU lowered for the VXLAN (50) and ESP (up to
# 40 with AES-GCM) overhead; static neighbors, so that no ARP or ND goes
# through the tunnel and the SA counters count only the test's packets.
MAC_A=$(link_mac ha ha0)
MAC_B=$(link_mac hb hb0)
in_ns ha ip link set ha0 mtu 1400
in_ns hb ip link set hb0 mtu 1400
in_ns ha ip addr add 10.0.0.1/24 dev ha0
in_ns ha ip addr add fd00::1/64 dev ha0 nodad
in_ns ha ip neigh add 10.0.0.2 lladdr "$MAC_B" dev ha0
in_ns ha ip neigh add fd00::2 lladdr "$MAC_B" dev ha0
in_ns hb ip addr add 10.0.0.2/24 dev hb0
in_ns hb ip addr add fd00::2/64 dev hb0 nodad
in_ns hb ip neigh add 10.0.0.1 lladdr "$MAC_A" dev hb0
in_ns hb ip neigh add fd00::1 lladdr "$MAC_A" dev hb0

setup_site() {   # setup_site SITE LOCAL REMOTE OUT_SPI OUT_KEY IN_SPI IN_KEY
    local s=$1 local_ip=$2 remote_ip=$3
    start_site "$s"
    netdev_bridge "$s" br-wan wan
    netdev_bridge "$s" br-int hp
    vsctl "$s" add-port br-int vx0 -- set Interface vx0 type=vxlan \
        options:remote_ip="$remote_ip" options:local_ip="$local_ip" \
        options:key=123 options:ipsec=required
    in_ns "$s" ip addr add "$local_ip/24" dev br-wan
    # Only unicast to the overlay subnet enters the tunnel (not the host's
    # own IPv6 multicast: MLD, router solicitations): no NORMAL flow.
    ofctl "$s" del-flows br-int
    ofctl "$s" add-flow br-int "in_port=hp,ip,nw_dst=10.0.0.0/24,actions=vx0"
    ofctl "$s" add-flow br-int "in_port=hp,ipv6,ipv6_dst=fd00::/64,actions=vx0"
    ofctl "$s" add-flow br-int "in_port=vx0,actions=hp"
    appctl "$s" ipsec/sa-add vx0 out \
        "spi=$4,mode=transport,aead=aes-gcm-128,key=$5"
    appctl "$s" ipsec/sa-add vx0 in \
        "spi=$6,mode=transport,aead=aes-gcm-128,key=$7"
}
setup_site sa 192.0.2.1 192.0.2.2 0x2001 $K_AB 0x1001 $K_BA
setup_site sb 192.0.2.2 192.0.2.1 0x1001 $K_BA 0x2001 $K_AB

# Capture the WAN from site A's side.
start_wan_capture sa

# The first packets resolve the tunnel neighbor (ARP from br-wan) and set
# up the datapath flows; let a few go before counting.
check "warm-up ping ha -> hb" ping_answered ha 10.0.0.2
in_ns hb ping -c 1 -W 2 10.0.0.1 >/dev/null 2>&1 || true

flows_to_vx0() {   # flows_to_vx0 SITE -> "P B"
    flow_stats "$1" br-int 'actions=(output:)?"?vx0"?$'
}

# Baselines for 2, once the warm-up is in the OpenFlow statistics (the
# first packets may be dropped before the tunnel, waiting for ARP).
sleep 1.5
F0_sa=$(flows_to_vx0 sa)
F0_sb=$(flows_to_vx0 sb)
S0_sa_out=$(sa_json sa vx0 0x2001 out)
S0_sb_in=$(sa_json sb vx0 0x2001 in)
S0_sb_out=$(sa_json sb vx0 0x1001 out)
S0_sa_in=$(sa_json sa vx0 0x1001 in)

# 1: pings both ways, IPv4 and IPv6 inside.
check "ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.0.0.2 >/dev/null
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.0.0.1 >/dev/null
check "ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd00::2 >/dev/null
check "ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd00::1 >/dev/null

# 2: each site's outbound SA protected exactly what its OpenFlow flows
# sent into vx0 since the baseline (the pings, nothing else: there is no
# NORMAL flow to flood into the tunnel): as many
# packets, and as many bytes plus the outer IPv4 (20), UDP (8) and VXLAN
# (8) headers that transport mode protects with each.  Site B's inbound
# SA verified the same.
sleep 0.5
# OpenFlow statistics follow the datapath's with a delay (revalidators):
# wait until they have caught up.
sa_matches_flows() {   # sa_matches_flows SITE F0 OUT_SPI S0_OUT PEER S0_IN
    local d want
    d=$(minus "$(flows_to_vx0 "$1")" "$2")
    want="$(( ${d% *} )) $(( ${d#* } + 36 * ${d% *} ))"
    echo "$want" > "$WORK/want-$1"
    minus "$(sa_json "$1" vx0 "0x$3" out)" "$4" > "$WORK/got-$1"
    minus "$(sa_json "$5" vx0 "0x$3" in)" "$6" > "$WORK/got-$5-in"
    test "$(cat "$WORK/got-$1")" = "$want" \
        && test "$(cat "$WORK/got-$5-in")" = "$want"
}
for s in sa sb; do
    if [ $s = sa ]; then
        args="$F0_sa 2001 $S0_sa_out sb $S0_sb_in" peer=sb
    else
        args="$F0_sb 1001 $S0_sb_out sa $S0_sa_in" peer=sa
    fi
    # shellcheck disable=SC2086  # Split into the arguments on purpose.
    set -- $args
    for _ in $(seq 50); do
        sa_matches_flows $s "$1 $2" "$3" "$4 $5" "$6" "$7 $8" && break
        sleep 0.2
    done
    want=$(cat "$WORK/want-$s")
    check "site $s out SA = flows into vx0 + 36 B each ($(cat "$WORK/got-$s"), want $want)" \
        test "$(cat "$WORK/got-$s")" = "$want"
    check "site $peer in SA = site $s flows into vx0 ($(cat "$WORK/got-$peer-in"), want $want)" \
        test "$(cat "$WORK/got-$peer-in")" = "$want"
    check "site $s sent at least the 6 pings' packets ($want)" test "${want% *}" -ge 6
done

# 3: 10 MB over TCP, ha -> hb, checked by size and digest at hb.
check_tcp "10 MB over TCP arrived complete" hb ha 10.0.0.2 10 VXLAN-ESP-TCP-DATA-

# 5: fail closed.  Without site A's outbound SA nothing gets through and
# the drops are counted; a new SA pair brings the traffic back.
# Every packet OpenFlow sends into vx0 meanwhile (the pings, and any
# leftover of the TCP connection) is dropped and counted.
sleep 1
f0=$(flows_to_vx0 sa)
appctl sa ipsec/sa-del vx0 0x2001
check "no ping without an outbound SA" \
    not in_ns ha ping -c 2 -i 0.2 -W 1 -p $PATTERN 10.0.0.2 >/dev/null
check_fail_closed sa vx0 "$f0"
appctl sa ipsec/sa-add vx0 out \
    "spi=0x2002,mode=transport,aead=aes-gcm-128,key=$K_AB"
appctl sb ipsec/sa-add vx0 in \
    "spi=0x2002,mode=transport,aead=aes-gcm-128,key=$K_AB"
check "ping again with a new SA" \
    in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.0.0.2 >/dev/null

# 4: the WAN carried only ESP (and ARP), never VXLAN or the payload in
# clear.
stop_wan_capture
check_wan_esp_only 1000
check "no clear-text payload on the WAN" not hex_on_wan $PATTERN
check_no_key_in_logs

echo "vxlan-esp: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
