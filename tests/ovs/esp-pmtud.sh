#!/bin/bash
# System test: path MTU discovery through an ESP tunnel-mode port, on the
# Open vSwitch userspace datapath.  Between the two sites a Linux router
# whose link toward site B has an MTU of 1400: it cannot forward site A's
# full-size ESP packets (DF copied from the inner packet) and answers
# site A with ICMP "fragmentation needed" (mtu 1400).  Site A's esp0
# learns the lower path MTU from it (RFC 4301 section 8.2.1) and answers
# its host's packets that no longer fit with its own ICMP error, so TCP
# between the hosts finds an MSS that fits instead of stalling.
#
#  ns pd-ha        ns pd-sa                 ns pd-rt                 ns pd-sb                ns pd-hb
#  +----------+  +--------------------+  +-----------------------+  +--------------------+  +----------+
#  | ha0      +--+ hp  br-int: esp0   |  | wan 192.0.2.254       |  | esp0  br-int: hp   +--+ hb0      |
#  | 10.1.0.2 |  | br-wan 192.0.2.1   +--+ wan2 198.51.100.254   +--+ br-wan 198.51.100.2|  | 10.2.0.2 |
#  +----------+  |  (wan, system)     |  |   mtu 1400            |  |  (wan, system)     |  +----------+
#                +--------------------+  +-----------------------+  +--------------------+
#
# Checks, each of which fails the test:
#   1. small pings ha -> hb pass the router;
#   2. 2 MB over TCP from ha to hb (MSS 1460, DF on every segment) arrive
#      complete: site A's esp0 learned path MTU 1400 from the router's ICMP
#      (sa-show's learned_pmtu, pmtu_learned, the log line) and answered
#      TCP's segments with "fragmentation needed" (pmtu_exceeded);
#   3. a ping with DF that fits 1500 but not the router's 1400 gets
#      "Frag needed and DF set (mtu = 1346)" from esp0 (1400 less 54 bytes
#      of ESP with AES-GCM), and 1346 bytes pass;
#   4. site B's esp0 learned nothing (its path has no narrower link);
#   5. no key in any log.
#
# Usage: tests/ovs/esp-pmtud.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools esp-pmtud

sites_init esp-pmtud pd-$$- "${1:-}"

PATTERN=c0ffee18c0ffee18                           # Ping payload.
MARKER=esp-pmtud-clear-text-marker                 # TCP payload.

trap 'cleanup_sites esp-pmtud ha sa rt sb hb' EXIT

T0=$(date +%s)
netns_add ha sa rt sb hb
netns_no_ipv6 sa rt sb
veth wan sa wan rt
veth wan2 rt wan sb
veth ha0 ha hp sa
veth hb0 hb hp sb
route_hosts 02:00:00:00:00:01

in_ns rt ip addr add 192.0.2.254/24 dev wan
in_ns rt ip addr add 198.51.100.254/24 dev wan2
in_ns rt ip link set wan2 mtu 1400
in_ns rt sysctl -qw net.ipv4.ip_forward=1

start_site sa
esp_site sa 192.0.2.1 198.51.100.2 "$(link_mac ha ha0)" 10.2.0.0/24
in_ns sa ip route add 198.51.100.0/24 via 192.0.2.254
esp_sa_pair sa 192.0.2.1 198.51.100.2 0x2001 $K_AB 0x1001 $K_BA
start_site sb
esp_site sb 198.51.100.2 192.0.2.1 "$(link_mac hb hb0)" 10.1.0.0/24
in_ns sb ip route add 192.0.2.0/24 via 198.51.100.254
esp_sa_pair sb 198.51.100.2 192.0.2.1 0x1001 $K_BA 0x2001 $K_AB

counter() { port_counter "$1" "$2" esp0; }   # counter SITE NAME

# 1: the tunnel through the router.
check "1: warm-up ping ha -> hb (through the router)" ping_answered ha 10.2.0.2
check "1: 3 pings ha -> hb" \
    in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check "1: nothing learned yet ($(port_line sa))" \
    test "$(counter sa pmtu_learned)" = 0

# 2: TCP from ha: its 1500-byte segments get esp0's "fragmentation needed"
# (mtu 1446 for the configured 1500), the 1500-byte ESP packets then the
# router's (mtu 1400), which esp0 learns, and the next ones esp0's again
# (mtu 1346).
check_tcp "2: 2 MB over TCP ha -> hb arrived complete" hb ha 10.2.0.2 2 "$MARKER"
line=$(port_line sa)
check "2: esp0 learned path MTU 1400 ($line)" \
    grep -q 'learned_pmtu=1400 ([0-9]* s left) pmtu_learned=[1-9]' <<< "$line"
check "2: and answered TCP's segments (pmtu_exceeded=$(counter sa pmtu_exceeded))" \
    test "$(counter sa pmtu_exceeded)" -ge 2
check "2: logged" grep -q \
    'esp0: path MTU 1400 to 198.51.100.2 (SA 0x00002001) learned from ICMP, for 600 s' \
    "$WORK/sa/ovs-vswitchd.log"
check "2: the router sent the ICMP errors" \
    retry 5 sh -c "ip netns exec $(ns rt) nstat -az IcmpOutDestUnreachs | awk '/IcmpOutDestUnreachs/ { exit !(\$2 > 0) }'"

# 3: DF set, 1380 bytes of ICMP data: 1408 bytes of IP fit the configured
# 1500 (1446) but not the learned 1400 (1346).
in_ns ha ip route flush cache
in_ns ha ping -M "do" -c 1 -W 2 -s 1380 -p $PATTERN 10.2.0.2 \
    > "$WORK/ping-df.txt" 2>&1 || true
check "3: ICMP frag needed with mtu = 1346 from esp0 ($(grep -i frag "$WORK/ping-df.txt" | head -1))" \
    grep -q 'Frag needed and DF set (mtu = 1346)' "$WORK/ping-df.txt"
check "3: 1346 bytes with DF pass" \
    in_ns ha ping -M "do" -c 2 -i 0.3 -W 2 -s 1318 -p $PATTERN 10.2.0.2 \
    >/dev/null

# 4, 5.
check "4: site B learned nothing ($(port_line sb))" \
    test "$(counter sb pmtu_learned)" = 0
check_no_key_in_logs

echo "esp-pmtud: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
