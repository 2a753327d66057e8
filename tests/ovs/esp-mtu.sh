#!/bin/bash
# System test: path MTU on the ESP tunnel-mode port (type=esp): ICMP
# "fragmentation needed" / ICMPv6 "packet too big" back to the sender, and
# fragmentation before the encryption (RFC 4459) of IPv4 without DF.
#
#  ns mtu-ha                ns mtu-sa                          ns mtu-sb               ns mtu-hb
#  +-----------+  +---------------------------+  +---------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), esp0 |  | br-int: hp (system), esp0 |  | hb0       |
#  | 10.1.0.2  +--+ br-wan: wan (system)      |  | br-wan: wan (system)      +--+ 10.2.0.2  |
#  | fd01::2   |  |   br-wan 192.0.2.1/24     |  |   br-wan 192.0.2.2/24     |  | fd02::2   |
#  | mtu 1500  |  |                           |  |                           |  | mtu 1500  |
#  +-----------+  +-------------+-------------+  +-------------+-------------+  +-----------+
#                               |   veth "WAN", mtu 1500       |
#                               +------------------------------+
#
# The hosts keep the Ethernet MTU of 1500, so their full-size packets do
# not fit the tunnel: with AES-GCM over IPv4, ESP adds 20 + 8 + 8 + 16
# bytes and 2 to 5 of trailer, and the inner MTU for the default path MTU
# of 1500 is 1446.  Checks, each of which fails the test:
#   1. a 1500-byte ping without DF passes, fragmented by the site before
#      the encryption ("fragmented" counted at both sites), and so does a
#      burst of 300 such UDP datagrams, with no frag_no_room drop;
#   2. a 1500-byte ping with DF gets "Frag needed and DF set (mtu = 1446)"
#      from the destination's address (counted as pmtu_exceeded), and the
#      next one goes out fragmented by the host and passes;
#   3. IPv6 inside: "Packet too big: mtu=1446", then the ping passes;
#   4. a TCP transfer with the hosts' MSS of 1460 completes (path MTU
#      discovery through the site's ICMP errors);
#   5. options:pmtu=1280 at site A: the sender learns mtu = 1226;
#   6. the WAN capture has only ESP and ARP, no ESP packet over 1500 bytes
#      of IP (the path MTU), no clear text.
#
# Usage: tests/ovs/esp-mtu.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools esp-mtu

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
WORK=$(mktemp -d /tmp/esp-mtu.XXXXXX)
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=mtu-$$-
# shellcheck disable=SC2034  # Used by sites.sh.
PIDS=()
PASS=0
FAIL=0

K_AB=0x8a8b8c8d8e8f909192939495969798999a9b9c9d   # Site A to site B.
K_BA=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4   # Site B to site A.
PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=esp-mtu-clear-text-marker                   # TCP payload.

trap 'cleanup_sites esp-mtu ha sa sb hb' EXIT

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
    # What comes from the tunnel, the ICMP errors of the port included,
    # goes to the host.
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

start_wan_capture sa

port_line() {   # port_line SITE: the "port esp0: ..." line of ipsec/sa-show.
    appctl "$1" ipsec/sa-show esp0 | grep '^port esp0:'
}
counter() {   # counter SITE NAME: NAME's value in the port line, or 0.
    port_line "$1" | grep -o "$2[:=][0-9]*" | grep -o '[0-9]*$' || echo 0
}

check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true

# 1: 1472 bytes of ICMP data, 1500 of IP, without DF: each site fragments
# (the echo reply of Linux has no DF either) and the ping passes.
check "1500-byte ping without DF ha -> hb" \
    in_ns ha ping -M dont -c 2 -i 0.3 -W 2 -s 1472 -p $PATTERN 10.2.0.2 \
    >/dev/null
check "site A fragmented the requests (fragmented=$(counter sa fragmented))" \
    test "$(counter sa fragmented)" -ge 2
check "site B fragmented the replies (fragmented=$(counter sb fragmented))" \
    test "$(counter sb fragmented)" -ge 2

# 1b: 300 UDP datagrams of 1500 bytes of IP without DF, in bursts of 30
# sent as fast as the host can: the site reads them in batches of up to 32,
# pushes them into the tunnel in parts that leave room for the fragments,
# and drops none for want of room.
udp_burst() {
    in_ns hb "$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("10.2.0.2", 9999)); s.settimeout(3); n = 0
try:
    while True:
        s.recv(2048); n += 1
except socket.timeout:
    pass
print(n)
' > "$WORK/udp-rx.txt" &
    local rx=$!
    PIDS+=("$rx")
    sleep 0.5
    in_ns ha "$PYTHON3" -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)   # IP_MTU_DISCOVER: IP_PMTUDISC_DONT
for burst in range(10):
    for i in range(30):
        s.sendto(bytes.fromhex("c0ffee15") * 368, ("10.2.0.2", 9999))
    time.sleep(0.2)
'
    wait "$rx" || true
}
frag0=$(counter sa fragmented)
udp_burst
check "burst: site A fragmented the 300 datagrams ($(( $(counter sa fragmented) - frag0 )))" \
    test "$(( $(counter sa fragmented) - frag0 ))" -eq 300
check "burst: no frag_no_room drop ($(port_line sa))" \
    test "$(counter sa frag_no_room)" -eq 0
check "burst: host hb received at least 270 of 300 ($(cat "$WORK/udp-rx.txt"))" \
    test "$(cat "$WORK/udp-rx.txt")" -ge 270

# 2: with DF: "fragmentation needed" with the inner MTU, from 10.2.0.2
# (the packet's destination) ...
in_ns ha ping -M "do" -c 1 -W 2 -s 1472 -p $PATTERN 10.2.0.2 \
    > "$WORK/ping-df.txt" 2>&1 || true
check "ICMP frag needed with mtu = 1446 from 10.2.0.2 ($(grep -i frag "$WORK/ping-df.txt" | head -1))" \
    grep -q 'From 10.2.0.2 .*Frag needed and DF set (mtu = 1446)' \
    "$WORK/ping-df.txt"
check "counted as pmtu_exceeded at site A ($(port_line sa))" \
    test "$(counter sa pmtu_exceeded)" -ge 1
# ... and the host now knows the path MTU: the same ping, with the host
# fragmenting, passes.
check "host ha learned the path MTU of 1446" \
    retry 10 sh -c "ip netns exec $(ns ha) ip route get 10.2.0.2 | grep -q 'mtu 1446'"
check "1500-byte ping passes after path MTU discovery" \
    in_ns ha ping -c 2 -i 0.3 -W 2 -s 1472 -p $PATTERN 10.2.0.2 >/dev/null

# 3: IPv6 inside: "packet too big", then the host fragments.
in_ns ha ping -6 -M "do" -c 1 -W 2 -s 1452 -p $PATTERN fd02::2 \
    > "$WORK/ping6-df.txt" 2>&1 || true
check "ICMPv6 packet too big with mtu=1446 ($(grep -i big "$WORK/ping6-df.txt" | head -1))" \
    grep -q 'From fd02::2 .*Packet too big: mtu=1446' "$WORK/ping6-df.txt"
check "1500-byte IPv6 ping passes after path MTU discovery" \
    in_ns ha ping -6 -c 2 -i 0.3 -W 2 -s 1452 -p $PATTERN fd02::2 >/dev/null

# 4: TCP from hb (which has not learned anything yet) to ha, 2 MB.
r=0
tcp_transfer ha hb 10.1.0.2 2 "$MARKER" || r=$?
check "2 MB over TCP hb -> ha with MSS 1460 arrived complete ($(cat "$WORK/tcp-rx.txt"))" \
    test $r = 0
check "site B answered TCP's full-size segments ($(port_line sb))" \
    test "$(counter sb pmtu_exceeded)" -ge 1

# 5: a configured path MTU.
vsctl sa set Interface esp0 options:pmtu=1280
in_ns ha ip route flush cache
in_ns ha ping -M "do" -c 1 -W 2 -s 1300 -p $PATTERN 10.2.0.2 \
    > "$WORK/ping-1280.txt" 2>&1 || true
check "options:pmtu=1280 gives mtu = 1226 ($(grep -i frag "$WORK/ping-1280.txt" | head -1))" \
    grep -q 'Frag needed and DF set (mtu = 1226)' "$WORK/ping-1280.txt"

# 6: the WAN.
stop_wan_capture
check_wan_esp_only 10
n_big=$(tcpdump -nr "$WORK/wan.pcap" 'esp and ip[2:2] > 1500' 2>/dev/null \
    | wc -l)
check "no ESP packet over 1500 bytes on the WAN ($n_big)" test "$n_big" -eq 0
n_1280=$(tcpdump -nr "$WORK/wan.pcap" 'esp and ip[2:2] > 1400' 2>/dev/null \
    | wc -l)
check "full-size ESP packets on the WAN ($n_1280 over 1400 bytes)" \
    test "$n_1280" -ge 4
check "no clear-text payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check "no key in any log" \
    not grep -rqi -e 8a8b8c8d8e8f9091 -e a1a2a3a4a5a6a7a8 "$WORK/sa" "$WORK/sb"

echo "esp-mtu: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
