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

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
WORK=$(mktemp -d /tmp/esp-tunnel.XXXXXX)
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=esp-$$-
# shellcheck disable=SC2034  # Used by sites.sh.
PIDS=()
PASS=0
FAIL=0

K_AB=0x8a8b8c8d8e8f909192939495969798999a9b9c9d   # Site A to site B.
K_BA=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4   # Site B to site A.
PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=ESP-TUNNEL-CLEARTEXT-MARKER-                # In the TCP data.

trap 'cleanup_sites esp-tunnel ha sa sb hb' EXIT

T0=$(date +%s)
netns_add ha sa sb hb
# No IPv6 on the sites (no router solicitations or ND on the WAN); the
# hosts have it, for IPv6 inside the tunnel.
netns_no_ipv6 sa sb
two_site_veths sa sb hp

# Hosts: each routes the other site's subnet to a gateway with a fixed MAC
# (the site's br-int answers no ARP; its flows deliver by port).
route_hosts 02:00:00:00:00:01 ipv6
# Room for the outer IPv4 and ESP headers (up to 57 bytes) in the WAN's
# 1500 (for the TCP transfer; this version does not fragment).
in_ns ha ip link set ha0 mtu 1400
in_ns hb ip link set hb0 mtu 1400

setup_site() {   # setup_site SITE LOCAL REMOTE HOST_MAC OUT_SPI OUT_KEY IN_SPI IN_KEY NET NET6
    local s=$1 local_ip=$2 remote_ip=$3 host_mac=$4 net=$9 net6=${10}
    start_site "$s"
    netdev_bridge "$s" br-wan wan
    netdev_bridge "$s" br-int hp
    vsctl "$s" add-port br-int esp0 -- set Interface esp0 type=esp \
        options:remote_ip="$remote_ip" options:local_ip="$local_ip"
    in_ns "$s" ip addr add "$local_ip/24" dev br-wan
    # Only what goes to the other site enters the tunnel (not the host's
    # own IPv6 multicast: MLD, router solicitations).
    ofctl "$s" add-flow br-int "in_port=hp,ip,nw_dst=$net,actions=esp0"
    ofctl "$s" add-flow br-int "in_port=hp,ipv6,ipv6_dst=$net6,actions=esp0"
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

# Capture the WAN from site A's side.
start_wan_capture sa

# The first packets resolve the tunnel neighbor (ARP from br-wan) and set
# up the datapath flows; let a few go before counting.
sa_counters() {   # sa_counters SITE SPI -> "packets=N bytes=M"
    appctl "$1" ipsec/sa-show esp0 | grep -A3 "spi 0x0000$2" | sed -n 4p \
        | grep -o 'packets=[0-9]* bytes=[0-9]*'
}
check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true

# 1 + 3: pings both ways, and the SA counters move by exactly them
# (3 echo requests and 3 replies each way, 84 bytes of IP each).
before_a_out=$(sa_counters sa 2001 | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
before_b_in=$(sa_counters sb 2001 | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
check "ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.1.0.2 >/dev/null
delta() {   # delta "P0 B0" SITE SPI -> "packets=dP bytes=dB"
    local p0=${1% *} b0=${1#* } now
    now=$(sa_counters "$2" "$3" | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
    echo "packets=$(( ${now% *} - p0 )) bytes=$(( ${now#* } - b0 ))"
}
check "site A out SA counted 6 packets, 504 bytes" \
    test "$(delta "$before_a_out" sa 2001)" = "packets=6 bytes=504"
check "site B in SA counted 6 packets, 504 bytes" \
    test "$(delta "$before_b_in" sb 2001)" = "packets=6 bytes=504"

# IPv6 inside: 3 echo requests and 3 replies each way, 104 bytes each.
before_a_out=$(sa_counters sa 2001 | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
check "ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd02::2 >/dev/null
check "ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd01::2 >/dev/null
check "site A out SA counted 6 IPv6 packets, 624 bytes" \
    test "$(delta "$before_a_out" sa 2001)" = "packets=6 bytes=624"

# 5: 10 MB over TCP, ha -> hb (IPv4 in IPv4), complete; site A's out SA
# protected it (at least one packet per 1400-byte segment) and site B's
# in SA verified it without a drop.  (IPv6 inside and outside: esp-ipv6.sh.)
before_a_out=$(sa_counters sa 2001 | sed 's/packets=\([0-9]*\) bytes=\([0-9]*\)/\1 \2/')
r=0
tcp_transfer hb ha 10.2.0.2 10 "$MARKER" || r=$?
check "10 MB over TCP ha -> hb arrived complete ($(cat "$WORK/tcp-rx.txt"))" test $r = 0
d=$(delta "$before_a_out" sa 2001)
d=${d#packets=}
check "site A out SA counted the TCP transfer (${d% bytes=*} packets)" \
    test "${d% bytes=*}" -ge 7000
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
check "no key in any log" \
    not grep -rqi -e 8a8b8c8d8e8f9091 -e a1a2a3a4a5a6a7a8 "$WORK/sa" "$WORK/sb"

echo "esp-tunnel: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
