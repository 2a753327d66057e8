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

sites_init tunnels-mtu tnm-$$- "${1:-}"

PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=tunnels-mtu-clear-text-marker               # TCP payload.

trap 'cleanup_sites tunnels-mtu ha sa sb hb' EXIT

T0=$(date +%s)
netns_add ha sa sb hb
netns_no_ipv6 sa sb
two_site_veths sa sb hp

overlay_hosts 1500   # The Ethernet MTU: the port answers for the tunnel.

GCM="mode=transport,aead=aes-gcm-128"
vxlan_esp_site sa 192.0.2.1 192.0.2.2 "spi=0x2001,$GCM,key=$K_AB" \
    "spi=0x1001,$GCM,key=$K_BA"
vxlan_esp_site sb 192.0.2.2 192.0.2.1 "spi=0x1001,$GCM,key=$K_BA" \
    "spi=0x2001,$GCM,key=$K_AB"

start_wan_capture sa

counter() { port_counter "$1" "$2" vx0; }   # counter SITE NAME

check "warm-up ping ha -> hb" ping_answered ha 10.0.0.2

# 1: 1472 bytes of ICMP data, 1500 of IP, with DF: "fragmentation needed"
# with the overlay MTU, from the destination.
in_ns ha ping -M "do" -c 1 -W 2 -s 1472 -p $PATTERN 10.0.0.2 \
    > "$WORK/ping-df.txt" 2>&1 || true
check "ICMP frag needed with mtu = 1416 from 10.0.0.2 ($(grep -i frag "$WORK/ping-df.txt" | head -1))" \
    grep -q 'From 10.0.0.2 .*Frag needed and DF set (mtu = 1416)' \
    "$WORK/ping-df.txt"
check "counted as pmtu_exceeded at site A ($(port_line sa vx0))" \
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
check_tcp "2 MB over TCP hb -> ha with MSS 1460 arrived complete" ha hb 10.0.0.1 2 "$MARKER"
check "site B answered TCP's full-size segments ($(port_line sb vx0))" \
    test "$(counter sb pmtu_exceeded)" -gt "$exceeded0"

# 5: a configured path MTU: 1280 - 20 - 16 - 16 = 1228 of ESP payload,
# less 2 of trailer, 16 of UDP and VXLAN, 14 of Ethernet: 1196.
vsctl sa set Interface vx0 options:pmtu=1280
in_ns ha ip route flush cache
in_ns ha ping -M "do" -c 1 -W 2 -s 1300 -p $PATTERN 10.0.0.2 \
    > "$WORK/ping-1280.txt" 2>&1 || true
check "options:pmtu=1280 gives mtu = 1196 ($(grep -i frag "$WORK/ping-1280.txt" | head -1))" \
    grep -q 'Frag needed and DF set (mtu = 1196)' "$WORK/ping-1280.txt"
check "no frag_no_room or pmtu_no_icmp drop ($(port_line sa vx0); $(port_line sb vx0))" \
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
