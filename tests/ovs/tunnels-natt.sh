#!/bin/bash
# System test: UDP-encapsulated ESP (NAT traversal, RFC 3948: SAs with
# encap=udp) on a vxlan port protected with ESP in transport mode
# (options:ipsec=required), between two sites, each its own ovsdb-server
# and patched ovs-vswitchd in its own network namespace.
#
#  ns tnn-ha                ns tnn-sa                          ns tnn-sb               ns tnn-hb
#  +-----------+  +---------------------------+  +---------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), vx0  |  | br-int: hp (system), vx0  |  | hb0       |
#  | 10.0.0.1  +--+ br-wan: wan (system)      |  | br-wan: wan (system)      +--+ 10.0.0.2  |
#  | fd00::1   |  |   br-wan 192.0.2.1/24     |  |   br-wan 192.0.2.2/24     |  | fd00::2   |
#  | mtu 1500  |  |                           |  |                           |  | mtu 1500  |
#  +-----------+  +-------------+-------------+  +-------------+-------------+  +-----------+
#                               |  veth "WAN": ESP in UDP       |
#                               +------------------------------+
#
# Site B sends from UDP port 40000, as if a NAT in front of it had mapped
# its port 4500 there (site A receives on 4500 from any source port);
# site A sends to 4500.  Checks, each of which fails the test:
#   1. the vxlan datapath port takes UDP 4500 beside VXLAN and ESP
#      (tnl/ports/show);
#   2. ping both ways, IPv4 and IPv6 in the overlay; each site's in SA
#      counts exactly the other's out SA's packets, and drops nothing;
#   3. a NAT-keepalive (UDP 4500, the byte 0xff) from site B's own stack
#      is counted by site A's port and goes no further;
#   4. the path MTU counts the 8 bytes of UDP: "Frag needed and DF set
#      (mtu = 1408)" (1416 with raw ESP), and 2 MB over TCP from hosts
#      with MTU 1500 arrive complete;
#   5. the WAN capture has only ESP in UDP (and ARP): no raw ESP, no
#      clear VXLAN, nothing over 1500 bytes, no clear text.
#
# Usage: tests/ovs/tunnels-natt.sh [OVS_BUILD_DIR] (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools tunnels-natt

sites_init tunnels-natt tnn-$$- "${1:-}"

PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=tunnels-natt-clear-text-marker              # TCP payload.

trap 'cleanup_sites tunnels-natt ha sa sb hb' EXIT

T0=$(date +%s)
netns_add ha sa sb hb
netns_no_ipv6 sa sb
two_site_veths sa sb hp

overlay_hosts 1500

GCM="mode=transport,aead=aes-gcm-128"
vxlan_esp_site sa 192.0.2.1 192.0.2.2 \
    "spi=0x2001,$GCM,key=$K_AB,encap=udp,sport=4500" \
    "spi=0x1001,$GCM,key=$K_BA,encap=udp"
vxlan_esp_site sb 192.0.2.2 192.0.2.1 \
    "spi=0x1001,$GCM,key=$K_BA,encap=udp,sport=40000" \
    "spi=0x2001,$GCM,key=$K_AB,encap=udp"

start_wan_capture sa

# 1: the tunnel port map.
check "site A's vxlan port takes UDP 4500 ($(appctl sa tnl/ports/show -v | grep -c 'udp(dst=4500)'))" \
    test "$(appctl sa tnl/ports/show -v | grep vxlan_sys | grep -c 'udp(dst=4500)')" -ge 1

# 2: pings both ways.
check "warm-up ping ha -> hb" ping_answered ha 10.0.0.2
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.0.0.1 >/dev/null
check "ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd00::2 >/dev/null
check "ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd00::1 >/dev/null
sleep 0.5
same_counts() {   # same_counts FROM SPI TO: FROM's out SA counts = TO's in SA.
    local out in
    out=$(sa_json "$1" vx0 "$2" out)
    in=$(sa_json "$3" vx0 "$2" in)
    check "$1's out SA $2 ($out) = $3's in SA ($in)" test "$out" = "$in"
    check "$3's in SA $2 dropped nothing ($(sa_drops "$3" vx0 "$2" in))" \
        test "$(sa_drops "$3" vx0 "$2" in)" = none
}
same_counts sa 0x2001 sb
same_counts sb 0x1001 sa
check "site B sent from port 40000" \
    sh -c "tcpdump -nr $WORK/wan.pcap 'udp src port 40000' 2>/dev/null | grep -q ."

# 3: a NAT-keepalive from site B's own address and port 4500.
check_natt_keepalive vx0

# 4: the path MTU with the UDP header: 1500 - 20 - 8 - 8 - 8 - 16 = 1440,
# less 2 trailer bytes, 16 of UDP and VXLAN, 14 of Ethernet: 1408.
in_ns ha ping -M "do" -c 1 -W 2 -s 1472 -p $PATTERN 10.0.0.2 \
    > "$WORK/ping-df.txt" 2>&1 || true
check "frag needed with mtu = 1408 ($(grep -i frag "$WORK/ping-df.txt" | head -1))" \
    grep -q 'Frag needed and DF set (mtu = 1408)' "$WORK/ping-df.txt"
check_tcp "2 MB over TCP hb -> ha arrived complete" ha hb 10.0.0.1 2 "$MARKER"

# 5: the WAN.
stop_wan_capture
check_natt_wan 1000
check "no clear-text payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check_no_key_in_logs

echo "tunnels-natt: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
