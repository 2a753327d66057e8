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
#      as no_out_sa, with nothing in clear on the WAN; a new SA restores it;
#   5. a 10 MB TCP transfer ha -> hb (IPv4 inside) arrives complete (size
#      and SHA-256), counted by the SAs, its data's marker never in clear
#      on the WAN.
#
# Usage: tests/ovs/esp-tunnel.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools esp-tunnel

sites_init esp-tunnel esp-$$- "${1:-}"

PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=ESP-TUNNEL-CLEARTEXT-MARKER-                # In the TCP data.

trap 'cleanup_sites esp-tunnel ha sa sb hb' EXIT

T0=$(date +%s)
# The hosts have IPv6, for IPv6 inside the tunnel, and an MTU that leaves
# room for the outer IPv4 and ESP headers (up to 57 bytes) in the WAN's
# 1500 (for the TCP transfer; this test does not fragment).
esp_two_site_net 1400

esp_two_sites esp

# Capture the WAN from site A's side.
start_wan_capture sa

# The first packets resolve the tunnel neighbor (ARP from br-wan) and set
# up the datapath flows; let a few go before counting.
check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true

# 1 + 3: pings both ways, and the SA counters move by exactly them
# (3 echo requests and 3 replies each way, 84 bytes of IP each).
before_a_out=$(sa_json sa esp0 0x2001 out)
before_b_in=$(sa_json sb esp0 0x2001 in)
check "ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.1.0.2 >/dev/null
delta() {   # delta "P0 B0" SITE DIR -> "dP dB" of SITE's SA 0x2001 in DIR
    minus "$(sa_json "$2" esp0 0x2001 "$3")" "$1"
}
check "site A out SA counted 6 packets, 504 bytes" \
    test "$(delta "$before_a_out" sa out)" = "6 504"
check "site B in SA counted 6 packets, 504 bytes" \
    test "$(delta "$before_b_in" sb in)" = "6 504"

# IPv6 inside: 3 echo requests and 3 replies each way, 104 bytes each.
before_a_out=$(sa_json sa esp0 0x2001 out)
check "ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd02::2 >/dev/null
check "ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd01::2 >/dev/null
check "site A out SA counted 6 IPv6 packets, 624 bytes" \
    test "$(delta "$before_a_out" sa out)" = "6 624"

# 5: 10 MB over TCP, ha -> hb (IPv4 in IPv4), complete; site A's out SA
# protected it (at least one packet per 1400-byte segment) and site B's
# in SA verified it without a drop.  (IPv6 inside and outside: esp-ipv6.sh.)
before_a_out=$(sa_json sa esp0 0x2001 out)
check_tcp "10 MB over TCP ha -> hb arrived complete" hb ha 10.2.0.2 10 "$MARKER"
d=$(delta "$before_a_out" sa out)
check "site A out SA counted the TCP transfer (${d% *} packets)" \
    test "${d% *}" -ge 7000
check "site B in SA dropped nothing ($(sa_drops sb esp0 0x2001 in))" \
    test "$(sa_drops sb esp0 0x2001 in)" = none

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
stop_wan_capture
check_wan_esp_only 7000
check "no clear-text payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check_no_key_in_logs

echo "esp-tunnel: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
