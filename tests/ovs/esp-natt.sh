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

sites_init esp-natt natt-$$- "${1:-}"

PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=esp-natt-clear-text-marker                  # TCP payload.

trap 'cleanup_sites esp-natt ha sa sb hb' EXIT

T0=$(date +%s)
esp_two_site_net 1500

esp_two_sites udp

start_wan_capture sa

check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true

# 1: 3 echo requests and 3 replies each way, 84 bytes of IP each, then
# IPv6 (104 bytes each).
before_a=$(sa_json sa esp0 0x2001 out)
before_b=$(sa_json sb esp0 0x2001 in)
check "ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.1.0.2 >/dev/null
check "site A out SA counted 6 packets, 504 bytes" \
    test "$(minus "$(sa_json sa esp0 0x2001 out)" "$before_a")" = "6 504"
check "site B in SA counted 6 packets, 504 bytes" \
    test "$(minus "$(sa_json sb esp0 0x2001 in)" "$before_b")" = "6 504"
check "ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd02::2 >/dev/null
check "ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd01::2 >/dev/null

# 2: a NAT-keepalive from site B's own address and port 4500.
check_natt_keepalive esp0

# 3: the path MTU with the UDP header: 1500 - 20 - 8 - 8 - 8 - 16, less
# the 2 trailer bytes, rounded to 4: 1438.
in_ns ha ping -M "do" -c 1 -W 2 -s 1472 -p $PATTERN 10.2.0.2 \
    > "$WORK/ping-df.txt" 2>&1 || true
check "frag needed with mtu = 1438 ($(grep -i frag "$WORK/ping-df.txt" | head -1))" \
    grep -q 'Frag needed and DF set (mtu = 1438)' "$WORK/ping-df.txt"
check_tcp "2 MB over TCP hb -> ha arrived complete" ha hb 10.1.0.2 2 "$MARKER"

# 4: the WAN.
stop_wan_capture
check_natt_wan 1000
check "no clear-text payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check_no_key_in_logs

echo "esp-natt: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
