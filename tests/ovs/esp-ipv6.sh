#!/bin/bash
# System test: the ESP tunnel-mode port (type=esp) with IPv6: IPv6 in IPv6,
# IPv4 in IPv6 and IPv6 in IPv4, two sites on the Open vSwitch userspace
# datapath, each its own ovsdb-server and patched ovs-vswitchd in its own
# network namespace.
#
#  ns e6-ha                ns e6-sa                              ns e6-sb               ns e6-hb
#  +-----------+  +------------------------------+  +------------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system),         |  | br-int: hp (system),         |  | hb0       |
#  | 10.1.0.2  +--+   esp6 (IPv6 outer),         |  |   esp6 (IPv6 outer),         +--+ 10.2.0.2  |
#  | fd01::2   |  |   esp4 (IPv4 outer)          |  |   esp4 (IPv4 outer)          |  | fd02::2   |
#  | mtu 1400  |  | br-wan: wan (system)         |  | br-wan: wan (system)         |  | mtu 1400  |
#  +-----------+  |  2001:db8::1/64 192.0.2.1/24 |  |  2001:db8::2/64 192.0.2.2/24 |  +-----------+
#                 +--------------+---------------+  +---------------+--------------+
#                                |          veth "WAN"              |
#                                +----------------------------------+
#
# esp6 runs AES-GCM-256 SAs between 2001:db8::1 and ::2, esp4 AES-GCM-128
# SAs between 192.0.2.1 and .2.  Checks, each of which fails the test:
#   1. phase "6in6+4in6" (OpenFlow sends IPv4 and IPv6 to esp6): ping both
#      ways, IPv4 and IPv6; 10 MB over TCP ha -> hb over IPv6 and over
#      IPv4, arriving complete (size and SHA-256);
#   2. phase "6in4" (IPv6 to esp4): ping -6 both ways, 10 MB over TCP;
#   3. in each phase, ipsec/sa-show --json counts exactly what OpenFlow
#      sent into the port (flow statistics: as many packets, and their
#      bytes less the 14-byte Ethernet header that the L3 port drops); for
#      the pings the receiving site's inbound SA counts exactly the same,
#      and for TCP at least half of it and no more, with no drop (the WAN
#      veth and the receiving AF_PACKET socket lose packets under TCP
#      bursts, before ESP; TCP resends them);
#   4. the capture on the WAN veth has only ESP (and ARP, ND, MLD), and
#      neither the ping payload nor the TCP data's marker in clear;
#   5. fail closed over IPv6: after site A's outbound esp6 SA is deleted,
#      ping -6 fails and every packet OpenFlow sent into esp6 is counted
#      as no_out_sa; a new SA pair brings the pings back.
#
# Usage: tests/ovs/esp-ipv6.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools esp-ipv6

sites_init esp-ipv6 e6-$$- "${1:-}"

K6_AB=0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fc0c1c2c3
K6_BA=0x202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3fd0d1d2d3
K4_AB=0x8a8b8c8d8e8f909192939495969798999a9b9c9d
K4_BA=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4
PATTERN=c0ffee15c0ffee15            # Ping payload.
MARKER=ESP-IPV6-CLEARTEXT-MARKER-   # In the TCP data.

trap 'cleanup_sites esp-ipv6 ha sa sb hb' EXIT

T0=$(date +%s)
# IPv6 on the sites only where needed: on br-wan (below), not on their
# other interfaces (no router solicitations from the WAN veth's kernel
# side).
esp_two_site_net 1400

setup_site() {   # setup_site SITE ME PEER HOST_MAC
    local s=$1 me=$2 peer=$3 host_mac=$4 k6o k6i k4o k4i
    if [ "$me" = 1 ]; then
        k6o=$K6_AB k6i=$K6_BA k4o=$K4_AB k4i=$K4_BA
    else
        k6o=$K6_BA k6i=$K6_AB k4o=$K4_BA k4i=$K4_AB
    fi
    start_site "$s"
    netdev_bridge "$s" br-wan wan
    netdev_bridge "$s" br-int hp
    in_ns "$s" sysctl -qw net.ipv6.conf.br-wan.disable_ipv6=0
    in_ns "$s" ip addr add "2001:db8::$me/64" dev br-wan nodad
    in_ns "$s" ip addr add "192.0.2.$me/24" dev br-wan
    vsctl "$s" add-port br-int esp6 -- set Interface esp6 type=esp \
        options:remote_ip="2001:db8::$peer" options:local_ip="2001:db8::$me" \
        -- add-port br-int esp4 -- set Interface esp4 type=esp \
        options:remote_ip="192.0.2.$peer" options:local_ip="192.0.2.$me"
    ofctl "$s" del-flows br-int
    ofctl "$s" add-flow br-int "in_port=esp6,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$host_mac,hp"
    ofctl "$s" add-flow br-int "in_port=esp4,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$host_mac,hp"
    appctl "$s" ipsec/sa-add esp6 out \
        "spi=0x600$me,src=2001:db8::$me,dst=2001:db8::$peer,aead=aes-gcm-256,key=$k6o"
    appctl "$s" ipsec/sa-add esp6 in \
        "spi=0x600$peer,src=2001:db8::$peer,dst=2001:db8::$me,aead=aes-gcm-256,key=$k6i"
    appctl "$s" ipsec/sa-add esp4 out \
        "spi=0x400$me,src=192.0.2.$me,dst=192.0.2.$peer,aead=aes-gcm-128,key=$k4o"
    appctl "$s" ipsec/sa-add esp4 in \
        "spi=0x400$peer,src=192.0.2.$peer,dst=192.0.2.$me,aead=aes-gcm-128,key=$k4i"
}
setup_site sa 1 2 "$(link_mac ha ha0)"
setup_site sb 2 1 "$(link_mac hb hb0)"

# route SITE PEER_NET PEER_NET6 PORT4 PORT6: where OpenFlow sends the
# host's IPv4 and IPv6 packets to the other site (replaces the flows).
route() {
    ofctl "$1" add-flow br-int "in_port=hp,ip,nw_dst=$2,actions=$4"
    ofctl "$1" add-flow br-int "in_port=hp,ipv6,ipv6_dst=$3,actions=$5"
}

start_wan_capture sa

# --- counting ---------------------------------------------------------------

# snapshot PORT: the counters a phase starts from, in variables.
snapshot() {
    local p=$1
    sleep 1.5   # OpenFlow statistics follow the datapath's (revalidators).
    FA0=$(flow_stats sa br-int "actions=(output:)?\"?$p\"?\$")
    FB0=$(flow_stats sb br-int "actions=(output:)?\"?$p\"?\$")
    IA0=$(flow_stats sa br-int "in_port=\"?$p\"?[ ,]")
    IB0=$(flow_stats sb br-int "in_port=\"?$p\"?[ ,]")
    OA0=$(sa_json sa "$p" "$OUT_A" out)
    OB0=$(sa_json sb "$p" "$OUT_B" out)
    NA0=$(sa_json sa "$p" "$OUT_B" in)
    NB0=$(sa_json sb "$p" "$OUT_A" in)
}

# counted SITE PORT F0 S0 OUT_SPI -> success when SITE's out SA counted
# exactly what OpenFlow sent into PORT since the snapshot; "got want" in
# $WORK/counted-SITE.
counted() {
    local d want got
    d=$(minus "$(flow_stats "$1" br-int "actions=(output:)?\"?$2\"?\$")" "$3")
    want="${d% *} $(( ${d#* } - 14 * ${d% *} ))"
    got=$(minus "$(sa_json "$1" "$2" "$5" out)" "$4")
    echo "got $got, want $want" > "$WORK/counted-$1"
    test "$got" = "$want"
}

# check_counters PHASE PORT EXACT: after a phase's traffic, each site's
# out SA against its flows, each site's in SA against the other's out SA
# (exactly, or with EXACT=no at least half, no more, and no SA drop), and against the flows that
# took the decrypted packets.
check_counters() {
    local phase=$1 p=$2 exact=$3 oa ob na nb ia ib
    retry 50 counted sa "$p" "$FA0" "$OA0" "$OUT_A" || true
    check "$phase: site A $p out SA = flows into $p, less 14 B each ($(cat "$WORK/counted-sa"))" \
        counted sa "$p" "$FA0" "$OA0" "$OUT_A"
    retry 50 counted sb "$p" "$FB0" "$OB0" "$OUT_B" || true
    check "$phase: site B $p out SA = flows into $p, less 14 B each ($(cat "$WORK/counted-sb"))" \
        counted sb "$p" "$FB0" "$OB0" "$OUT_B"
    oa=$(minus "$(sa_json sa "$p" "$OUT_A" out)" "$OA0")
    ob=$(minus "$(sa_json sb "$p" "$OUT_B" out)" "$OB0")
    na=$(minus "$(sa_json sa "$p" "$OUT_B" in)" "$NA0")
    nb=$(minus "$(sa_json sb "$p" "$OUT_A" in)" "$NB0")
    check "$phase: sent through $p at least 6 packets each way ($oa / $ob)" \
        test "${oa% *}" -ge 6 -a "${ob% *}" -ge 6
    if [ "$exact" = yes ]; then
        check "$phase: site B in SA = site A out SA ($nb, $oa)" test "$nb" = "$oa"
        check "$phase: site A in SA = site B out SA ($na, $ob)" test "$na" = "$ob"
    else
        # Under TCP bursts the WAN veth and the AF_PACKET socket of the
        # receiving ovs-vswitchd lose packets (10% was seen here, before
        # ESP: the SA counts no drop); TCP resends them.
        check "$phase: site B in SA got most of site A out SA, no more ($nb, $oa)" \
            test $(( ${nb% *} * 2 )) -ge "${oa% *}" -a "${nb% *}" -le "${oa% *}"
        check "$phase: site A in SA got most of site B out SA, no more ($na, $ob)" \
            test $(( ${na% *} * 2 )) -ge "${ob% *}" -a "${na% *}" -le "${ob% *}"
        check "$phase: site B in SA dropped nothing ($(sa_drops sb "$p" "$OUT_A" in))" \
            test "$(sa_drops sb "$p" "$OUT_A" in)" = none
        check "$phase: site A in SA dropped nothing ($(sa_drops sa "$p" "$OUT_B" in))" \
            test "$(sa_drops sa "$p" "$OUT_B" in)" = none
    fi
    # What the inbound SA decrypted is what came out of the port.
    sleep 1.5
    ia=$(minus "$(flow_stats sa br-int "in_port=\"?$p\"?[ ,]")" "$IA0")
    ib=$(minus "$(flow_stats sb br-int "in_port=\"?$p\"?[ ,]")" "$IB0")
    check "$phase: site A flows from $p = its in SA ($ia, $na)" \
        test "${ia% *}" = "${na% *}"
    check "$phase: site B flows from $p = its in SA ($ib, $nb)" \
        test "${ib% *}" = "${nb% *}"
}

tcp_ok() {   # tcp_ok PHASE ADDR: 10 MB over TCP from ha to hb's ADDR.
    check_tcp "$1: 10 MB over TCP ha -> hb arrived complete" hb ha "$2" 10 \
        "$MARKER"
}

pings() {   # pings FAMILY: 3 pings each way (-4 or -6).
    local a=10.2.0.2 b=10.1.0.2
    [ "$1" = -6 ] && a=fd02::2 b=fd01::2
    check "ping $1 ha -> hb" in_ns ha ping "$1" -c 3 -i 0.2 -W 2 -p $PATTERN $a >/dev/null
    check "ping $1 hb -> ha" in_ns hb ping "$1" -c 3 -i 0.2 -W 2 -p $PATTERN $b >/dev/null
}

# --- phase 1: IPv6 and IPv4 inside IPv6 (esp6) -------------------------------

route sa 10.2.0.0/24 fd02::/64 esp6 esp6
route sb 10.1.0.0/24 fd01::/64 esp6 esp6
OUT_A=0x6001 OUT_B=0x6002
# Warm-up: resolves the tunnel neighbor (ND from br-wan).
check "warm-up ping -6 ha -> hb (6in6)" ping_answered ha fd02::2
check "warm-up ping ha -> hb (4in6)" ping_answered ha 10.2.0.2
in_ns hb ping -c 1 -W 2 fd01::2 >/dev/null 2>&1 || true

snapshot esp6
pings -6
pings -4
check_counters "6in6+4in6 pings" esp6 yes

snapshot esp6
tcp_ok 6in6 fd02::2
tcp_ok 4in6 10.2.0.2
check_counters "6in6+4in6 TCP" esp6 no

# --- fail closed over IPv6 --------------------------------------------------

# Without site A's outbound SA on esp6 nothing gets through, and every
# packet OpenFlow sends into esp6 is dropped and counted; a new SA pair
# restores the traffic.  (Nothing in clear: the capture check at the end.)
sleep 1.5
f0=$(flow_stats sa br-int 'actions=(output:)?"?esp6"?$')
appctl sa ipsec/sa-del esp6 0x6001
check "no ping -6 without an outbound SA" \
    not in_ns ha ping -6 -c 2 -i 0.2 -W 1 -p $PATTERN fd02::2 >/dev/null
check_fail_closed sa esp6 "$f0"
appctl sa ipsec/sa-add esp6 out \
    "spi=0x6003,src=2001:db8::1,dst=2001:db8::2,aead=aes-gcm-256,key=$K6_AB"
appctl sb ipsec/sa-add esp6 in \
    "spi=0x6003,src=2001:db8::1,dst=2001:db8::2,aead=aes-gcm-256,key=$K6_AB"
check "ping -6 again with a new SA pair" \
    in_ns ha ping -6 -c 2 -i 0.2 -W 2 -p $PATTERN fd02::2 >/dev/null

# --- phase 2: IPv6 inside IPv4 (esp4) ---------------------------------------

route sa 10.2.0.0/24 fd02::/64 esp6 esp4
route sb 10.1.0.0/24 fd01::/64 esp6 esp4
OUT_A=0x4001 OUT_B=0x4002
check "warm-up ping -6 ha -> hb (6in4)" ping_answered ha fd02::2
in_ns hb ping -c 1 -W 2 fd01::2 >/dev/null 2>&1 || true

snapshot esp4
pings -6
check_counters "6in4 pings" esp4 yes

snapshot esp4
tcp_ok 6in4 fd02::2
check_counters "6in4 TCP" esp4 no

# --- the WAN ----------------------------------------------------------------

stop_wan_capture
check_wan_esp_only6 20000
check "no clear-text ping payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
n6=$(tcpdump -nr "$WORK/wan.pcap" 'ip6 and esp' 2>/dev/null | wc -l)
n4=$(tcpdump -nr "$WORK/wan.pcap" 'ip and esp' 2>/dev/null | wc -l)
check "ESP over IPv6 ($n6) and over IPv4 ($n4) on the WAN" \
    test "$n6" -ge 10000 -a "$n4" -ge 5000
check "no key in any log" \
    not grep -rqi -e 0c0d0e0f1011 -e 2c2d2e2f3031 -e 8a8b8c8d8e8f9091 \
    -e a1a2a3a4a5a6a7a8 "$WORK/sa" "$WORK/sb"

echo "esp-ipv6: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
