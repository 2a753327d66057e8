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

sites_init esp-mtu mtu-$$- "${1:-}"

PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=esp-mtu-clear-text-marker                   # TCP payload.

trap 'cleanup_sites esp-mtu ha sa sb hb' EXIT

T0=$(date +%s)
esp_two_site_net 1500

esp_two_sites esp

start_wan_capture sa

check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true

# 1: 1472 bytes of ICMP data, 1500 of IP, without DF: each site fragments
# (the echo reply of Linux has no DF either) and the ping passes.
check "1500-byte ping without DF ha -> hb" \
    in_ns ha ping -M dont -c 2 -i 0.3 -W 2 -s 1472 -p $PATTERN 10.2.0.2 \
    >/dev/null
check "site A fragmented the requests (fragmented=$(port_counter sa fragmented))" \
    test "$(port_counter sa fragmented)" -ge 2
check "site B fragmented the replies (fragmented=$(port_counter sb fragmented))" \
    test "$(port_counter sb fragmented)" -ge 2

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
frag0=$(port_counter sa fragmented)
udp_burst
check "burst: site A fragmented the 300 datagrams ($(( $(port_counter sa fragmented) - frag0 )))" \
    test "$(( $(port_counter sa fragmented) - frag0 ))" -eq 300
check "burst: no frag_no_room drop ($(port_line sa))" \
    test "$(port_counter sa frag_no_room)" -eq 0
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
    test "$(port_counter sa pmtu_exceeded)" -ge 1
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
check_tcp "2 MB over TCP hb -> ha with MSS 1460 arrived complete" ha hb 10.1.0.2 2 "$MARKER"
check "site B answered TCP's full-size segments ($(port_line sb))" \
    test "$(port_counter sb pmtu_exceeded)" -ge 1

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
check_no_key_in_logs

echo "esp-mtu: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
