#!/bin/bash
# System test: the ESP tunnel-mode port (type=esp) with UDP-encapsulated
# ESP (NAT traversal, RFC 3948: SAs with encap=udp, port 4500) between two
# sites, each its own ovsdb-server and patched ovs-vswitchd in its own
# network namespace.
#
#  ns natt-ha               ns natt-sa                         ns natt-sb              ns natt-hb
#  +-----------+  +---------------------------+  +---------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), esp0 |  | br-int: hp (system), esp0 |  | hb0       |
#  | 10.1.0.2  +--+ br-wan: wan (system)      |  | br-wan: wan (system)      +--+ 10.2.0.2  |
#  | fd01::2   |  |   br-wan 192.0.2.1/24     |  |   br-wan 192.0.2.2/24     |  | fd02::2   |
#  +-----------+  +-------------+-------------+  +-------------+-------------+  +-----------+
#                               |  veth "WAN": ESP in UDP 4500  |
#                               +------------------------------+
#
# Checks, each of which fails the test:
#   1. ping both ways, IPv4 and IPv6 inside, and the SAs count exactly the
#      pings' packets and bytes;
#   2. a NAT-keepalive (UDP 4500, the byte 0xff) from site B's own stack
#      is counted by site A's port and goes no further;
#   3. the path MTU counts the 8 bytes of UDP: the hosts learn an inner
#      MTU of 1438 (1446 with raw ESP), and a 2 MB TCP transfer completes;
#   4. the WAN capture has only ESP in UDP 4500 (and ARP): no raw ESP, no
#      clear text.
#
# Usage: tests/ovs/esp-natt.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools esp-natt

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
WORK=$(mktemp -d /tmp/esp-natt.XXXXXX)
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=natt-$$-
# shellcheck disable=SC2034  # Used by sites.sh.
PIDS=()
PASS=0
FAIL=0

K_AB=0x8a8b8c8d8e8f909192939495969798999a9b9c9d   # Site A to site B.
K_BA=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4   # Site B to site A.
PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=esp-natt-clear-text-marker                  # TCP payload.

trap 'cleanup_sites esp-natt ha sa sb hb' EXIT

T0=$(date +%s)
netns_add ha sa sb hb
netns_no_ipv6 sa sb
two_site_veths sa sb hp
route_hosts 02:00:00:00:00:01 ipv6

setup_site() {   # setup_site SITE LOCAL REMOTE HOST_MAC OUT_SPI OUT_KEY IN_SPI IN_KEY NET NET6
    local s=$1 local_ip=$2 remote_ip=$3 host_mac=$4 net=$9 net6=${10}
    start_site "$s"
    netdev_bridge "$s" br-wan wan
    netdev_bridge "$s" br-int hp
    vsctl "$s" add-port br-int esp0 -- set Interface esp0 type=esp \
        options:remote_ip="$remote_ip" options:local_ip="$local_ip"
    in_ns "$s" ip addr add "$local_ip/24" dev br-wan
    ofctl "$s" add-flow br-int "in_port=hp,ip,nw_dst=$net,actions=esp0"
    ofctl "$s" add-flow br-int "in_port=hp,ipv6,ipv6_dst=$net6,actions=esp0"
    ofctl "$s" add-flow br-int "in_port=esp0,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$host_mac,hp"
    appctl "$s" ipsec/sa-add esp0 out \
        "spi=$5,src=$local_ip,dst=$remote_ip,aead=aes-gcm-128,key=$6,encap=udp"
    appctl "$s" ipsec/sa-add esp0 in \
        "spi=$7,src=$remote_ip,dst=$local_ip,aead=aes-gcm-128,key=$8,encap=udp"
}
mac() { in_ns "$1" cat "/sys/class/net/$2/address"; }
setup_site sa 192.0.2.1 192.0.2.2 "$(mac ha ha0)" 0x2001 $K_AB 0x1001 $K_BA \
    10.2.0.0/24 fd02::/64
setup_site sb 192.0.2.2 192.0.2.1 "$(mac hb hb0)" 0x1001 $K_BA 0x2001 $K_AB \
    10.1.0.0/24 fd01::/64

start_wan_capture sa

sa_counters() {   # sa_counters SITE SPI -> "P B"
    appctl "$1" ipsec/sa-show esp0 | grep -A3 "spi 0x0000$2" | sed -n 4p \
        | sed 's/.*packets=\([0-9]*\) bytes=\([0-9]*\).*/\1 \2/'
}
port_line() { appctl "$1" ipsec/sa-show esp0 | grep '^port esp0:'; }

check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true

# 1: 3 echo requests and 3 replies each way, 84 bytes of IP each, then
# IPv6 (104 bytes each).
before_a=$(sa_counters sa 2001)
before_b=$(sa_counters sb 2001)
check "ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.1.0.2 >/dev/null
check "site A out SA counted 6 packets, 504 bytes" \
    test "$(minus "$(sa_counters sa 2001)" "$before_a")" = "6 504"
check "site B in SA counted 6 packets, 504 bytes" \
    test "$(minus "$(sa_counters sb 2001)" "$before_b")" = "6 504"
check "ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd02::2 >/dev/null
check "ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd01::2 >/dev/null

# 2: a NAT-keepalive from site B's own address and port 4500.
in_ns sb "$PYTHON3" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 4500))
s.sendto(b"\xff", ("192.0.2.1", 4500))
'
keepalive_counted() { port_line sa | grep -q 'keepalives=1$'; }
check "site A counted the NAT-keepalive ($(port_line sa))" \
    retry 20 keepalive_counted

# 3: the path MTU with the UDP header: 1500 - 20 - 8 - 8 - 8 - 16, less
# the 2 trailer bytes, rounded to 4: 1438.
in_ns ha ping -M "do" -c 1 -W 2 -s 1472 -p $PATTERN 10.2.0.2 \
    > "$WORK/ping-df.txt" 2>&1 || true
check "frag needed with mtu = 1438 ($(grep -i frag "$WORK/ping-df.txt" | head -1))" \
    grep -q 'Frag needed and DF set (mtu = 1438)' "$WORK/ping-df.txt"
r=0
tcp_transfer ha hb 10.1.0.2 2 "$MARKER" || r=$?
check "2 MB over TCP hb -> ha arrived complete ($(cat "$WORK/tcp-rx.txt"))" \
    test $r = 0

# 4: the WAN.
stop_wan_capture
n_natt=$(tcpdump -nr "$WORK/wan.pcap" 'udp port 4500' 2>/dev/null | wc -l)
n_raw=$(tcpdump -nr "$WORK/wan.pcap" 'ip proto 50' 2>/dev/null | wc -l)
n_other=$(tcpdump -nr "$WORK/wan.pcap" 'not (udp port 4500) and not arp' \
    2>/dev/null | wc -l)
n_big=$(tcpdump -nr "$WORK/wan.pcap" 'ip[2:2] > 1500' 2>/dev/null | wc -l)
check "ESP in UDP 4500 on the WAN ($n_natt packets)" test "$n_natt" -ge 1000
check "no raw ESP on the WAN ($n_raw)" test "$n_raw" -eq 0
check "nothing but ESP in UDP and ARP on the WAN ($n_other others)" \
    test "$n_other" -eq 0
check "no packet over the path MTU on the WAN ($n_big)" test "$n_big" -eq 0
check "no clear-text payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check "no key in any log" \
    not grep -rqi -e 8a8b8c8d8e8f9091 -e a1a2a3a4a5a6a7a8 "$WORK/sa" "$WORK/sb"

echo "esp-natt: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
