#!/bin/bash
# System test: path MTU on a vxlan port protected with ESP in transport
# mode (options:ipsec=required): ICMP "fragmentation needed" / ICMPv6
# "packet too big" back to the overlay sender, as Ethernet frames from the
# destination's MAC (as Linux answers for bridged vxlan), and
# fragmentation before the encapsulation (RFC 4459) of IPv4 without DF.
#
#  ns tnm-ha                ns tnm-sa                          ns tnm-sb               ns tnm-hb
#  +-----------+  +---------------------------+  +---------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), vx0  |  | br-int: hp (system), vx0  |  | hb0       |
#  | 10.0.0.1  +--+ br-wan: wan (system)      |  | br-wan: wan (system)      +--+ 10.0.0.2  |
#  | fd00::1   |  |   br-wan 192.0.2.1/24     |  |   br-wan 192.0.2.2/24     |  | fd00::2   |
#  | mtu 1500  |  |                           |  |                           |  | mtu 1500  |
#  +-----------+  +-------------+-------------+  +-------------+-------------+  +-----------+
#                               |   veth "WAN", mtu 1500       |
#                               +------------------------------+
#
# The hosts keep the Ethernet MTU of 1500 on one overlay subnet.  With
# AES-GCM over IPv4, a path MTU of 1500 leaves 1446 bytes of ESP payload,
# of which UDP and VXLAN take 16 and the overlay Ethernet header 14: the
# overlay MTU is 1416.  Checks, each of which fails the test:
#   1. a 1500-byte ping with DF gets "Frag needed and DF set (mtu = 1416)"
#      from 10.0.0.2 (the packet's destination), counted as pmtu_exceeded;
#      the host learns the path MTU and the same ping then passes;
#   2. IPv6: "Packet too big: mtu=1416" from fd00::2, then the ping passes;
#   3. a 1500-byte ping without DF from hb passes, fragmented by site B
#      before the encapsulation ("fragmented" counted);
#   4. 2 MB over TCP from hb to ha with the hosts' MSS of 1460 (path MTU
#      discovery through the site's ICMP errors);
#   5. options:pmtu=1280 at site A: the sender learns mtu = 1196;
#   6. the WAN capture has only ESP and ARP (no clear VXLAN), no packet
#      over 1500 bytes of IP, and full-size ESP packets.
#
# Usage: tests/ovs/tunnels-mtu.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools tunnels-mtu

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
WORK=$(mktemp -d /tmp/tunnels-mtu.XXXXXX)
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=tnm-$$-
# shellcheck disable=SC2034  # Used by sites.sh.
PIDS=()
PASS=0
FAIL=0

K_AB=0x8a8b8c8d8e8f909192939495969798999a9b9c9d   # Site A to site B.
K_BA=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4   # Site B to site A.
PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=tunnels-mtu-clear-text-marker               # TCP payload.

trap 'cleanup_sites tunnels-mtu ha sa sb hb' EXIT

T0=$(date +%s)
netns_add ha sa sb hb
netns_no_ipv6 sa sb
two_site_veths sa sb hp

# Hosts: one overlay subnet, the Ethernet MTU, static neighbors (no ARP or
# ND through the tunnel).
MAC_A=$(in_ns ha cat /sys/class/net/ha0/address)
MAC_B=$(in_ns hb cat /sys/class/net/hb0/address)
for h in a b; do
    me=1 peer=2 peer_mac=$MAC_B
    [ $h = b ] && me=2 peer=1 peer_mac=$MAC_A
    in_ns h$h ip addr add 10.0.0.$me/24 dev h${h}0
    in_ns h$h ip addr add fd00::$me/64 dev h${h}0 nodad
    in_ns h$h ip neigh add 10.0.0.$peer lladdr "$peer_mac" dev h${h}0
    in_ns h$h ip neigh add fd00::$peer lladdr "$peer_mac" dev h${h}0
done

setup_site() {   # setup_site SITE LOCAL REMOTE OUT_SPI OUT_KEY IN_SPI IN_KEY
    local s=$1 local_ip=$2 remote_ip=$3
    start_site "$s"
    netdev_bridge "$s" br-wan wan
    netdev_bridge "$s" br-int hp
    in_ns "$s" ip addr add "$local_ip/24" dev br-wan
    vsctl "$s" add-port br-int vx0 -- set Interface vx0 type=vxlan \
        options:remote_ip="$remote_ip" options:local_ip="$local_ip" \
        options:key=123 options:ipsec=required
    ofctl "$s" del-flows br-int
    ofctl "$s" add-flow br-int "in_port=hp,ip,nw_dst=10.0.0.0/24,actions=vx0"
    ofctl "$s" add-flow br-int "in_port=hp,ipv6,ipv6_dst=fd00::/64,actions=vx0"
    # What comes from the tunnel, the ICMP errors of the port included
    # (already addressed to the sender's MAC), goes to the host.
    ofctl "$s" add-flow br-int "in_port=vx0,actions=hp"
    appctl "$s" ipsec/sa-add vx0 out "spi=$4,mode=transport,aead=aes-gcm-128,key=$5"
    appctl "$s" ipsec/sa-add vx0 in "spi=$6,mode=transport,aead=aes-gcm-128,key=$7"
}
setup_site sa 192.0.2.1 192.0.2.2 0x2001 $K_AB 0x1001 $K_BA
setup_site sb 192.0.2.2 192.0.2.1 0x1001 $K_BA 0x2001 $K_AB

start_wan_capture sa

port_line() {   # port_line SITE: the "port vx0: ..." line of ipsec/sa-show.
    appctl "$1" ipsec/sa-show vx0 | grep '^port vx0:'
}
counter() {   # counter SITE NAME: NAME's value in the port line, or 0.
    port_line "$1" | grep -o "$2[:=][0-9]*" | grep -o '[0-9]*$' || echo 0
}

check "warm-up ping ha -> hb" ping_answered ha 10.0.0.2

# 1: 1472 bytes of ICMP data, 1500 of IP, with DF: "fragmentation needed"
# with the overlay MTU, from the destination.
in_ns ha ping -M "do" -c 1 -W 2 -s 1472 -p $PATTERN 10.0.0.2 \
    > "$WORK/ping-df.txt" 2>&1 || true
check "ICMP frag needed with mtu = 1416 from 10.0.0.2 ($(grep -i frag "$WORK/ping-df.txt" | head -1))" \
    grep -q 'From 10.0.0.2 .*Frag needed and DF set (mtu = 1416)' \
    "$WORK/ping-df.txt"
check "counted as pmtu_exceeded at site A ($(port_line sa))" \
    test "$(counter sa pmtu_exceeded)" -ge 1
check "host ha learned the path MTU of 1416" \
    retry 10 sh -c "ip netns exec $(ns ha) ip route get 10.0.0.2 | grep -q 'mtu 1416'"
check "1500-byte ping passes after path MTU discovery" \
    in_ns ha ping -c 2 -i 0.3 -W 2 -s 1472 -p $PATTERN 10.0.0.2 >/dev/null

# 2: IPv6 in the overlay: "packet too big", then the host fragments.
in_ns ha ping -6 -M "do" -c 1 -W 2 -s 1452 -p $PATTERN fd00::2 \
    > "$WORK/ping6-df.txt" 2>&1 || true
check "ICMPv6 packet too big with mtu=1416 ($(grep -i big "$WORK/ping6-df.txt" | head -1))" \
    grep -q 'From fd00::2 .*Packet too big: mtu=1416' "$WORK/ping6-df.txt"
check "1500-byte IPv6 ping passes after path MTU discovery" \
    in_ns ha ping -6 -c 2 -i 0.3 -W 2 -s 1452 -p $PATTERN fd00::2 >/dev/null

# 3: without DF from hb: site B fragments the requests before the VXLAN
# header goes on, site A the replies (Linux's echo reply has no DF either).
check "1500-byte ping without DF hb -> ha" \
    in_ns hb ping -M dont -c 2 -i 0.3 -W 2 -s 1472 -p $PATTERN 10.0.0.1 \
    >/dev/null
check "site B fragmented the requests (fragmented=$(counter sb fragmented))" \
    test "$(counter sb fragmented)" -ge 2

# 4: TCP from hb to ha, 2 MB (tcp_transfer RECEIVER SENDER ...), with
# the learned path MTUs flushed, so that TCP discovers it through site B.
in_ns hb ip route flush cache
in_ns ha ip route flush cache
exceeded0=$(counter sb pmtu_exceeded)
r=0
tcp_transfer ha hb 10.0.0.1 2 "$MARKER" || r=$?
check "2 MB over TCP hb -> ha with MSS 1460 arrived complete ($(cat "$WORK/tcp-rx.txt"))" \
    test $r = 0
check "site B answered TCP's full-size segments ($(port_line sb))" \
    test "$(counter sb pmtu_exceeded)" -gt "$exceeded0"

# 5: a configured path MTU: 1280 - 20 - 16 - 16 = 1228 of ESP payload,
# less 2 of trailer, 16 of UDP and VXLAN, 14 of Ethernet: 1196.
vsctl sa set Interface vx0 options:pmtu=1280
in_ns ha ip route flush cache
in_ns ha ping -M "do" -c 1 -W 2 -s 1300 -p $PATTERN 10.0.0.2 \
    > "$WORK/ping-1280.txt" 2>&1 || true
check "options:pmtu=1280 gives mtu = 1196 ($(grep -i frag "$WORK/ping-1280.txt" | head -1))" \
    grep -q 'Frag needed and DF set (mtu = 1196)' "$WORK/ping-1280.txt"
check "no frag_no_room or pmtu_no_icmp drop ($(port_line sa); $(port_line sb))" \
    test "$(counter sa frag_no_room)$(counter sb frag_no_room)$(counter sa pmtu_no_icmp)$(counter sb pmtu_no_icmp)" = 0000

# 6: the WAN.
stop_wan_capture
check_wan_esp_only 10
n_big=$(tcpdump -nr "$WORK/wan.pcap" 'ip[2:2] > 1500' 2>/dev/null | wc -l)
check "no packet over 1500 bytes on the WAN ($n_big)" test "$n_big" -eq 0
n_full=$(tcpdump -nr "$WORK/wan.pcap" 'esp and ip[2:2] > 1400' 2>/dev/null \
    | wc -l)
check "full-size ESP packets on the WAN ($n_full over 1400 bytes)" \
    test "$n_full" -ge 4
check "no clear-text payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check "no key in any log" \
    not grep -rqi -e 8a8b8c8d8e8f9091 -e a1a2a3a4a5a6a7a8 "$WORK/sa" "$WORK/sb"

echo "tunnels-mtu: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
