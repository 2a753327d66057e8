#!/bin/bash
# System test: vxlan, geneve and gre ports protected with ESP in transport
# mode (options:ipsec=required), each over an IPv4 and over an IPv6 WAN,
# with IPv4 and IPv6 in the overlay, on the Open vSwitch userspace datapath;
# two sites, each its own ovsdb-server and patched ovs-vswitchd in its own
# network namespace.
#
#  ns tne-ha                ns tne-sa                              ns tne-sb               ns tne-hb
#  +-----------+  +------------------------------+  +------------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), tun0    |  | br-int: hp (system), tun0    |  | hb0       |
#  | 10.0.0.1  +--+ br-wan: wan (system)         |  | br-wan: wan (system)         +--+ 10.0.0.2  |
#  | fd00::1   |  |  192.0.2.1/24 2001:db8::1/64 |  |  192.0.2.2/24 2001:db8::2/64 |  | fd00::2   |
#  | mtu 1350  |  |                              |  |                              |  | mtu 1350  |
#  +-----------+  +--------------+---------------+  +---------------+--------------+  +-----------+
#                                |          veth "WAN"              |
#                                +----------------------------------+
#
# tun0 stands for the port of each round: in turn vxlan, geneve and gre
# (key 123), over IPv4 and then over IPv6, each round with a port of its
# own name (t71 .. t76; the previous one deleted, its SAs flushed), SPIs
# and suite.  For each, checks, each of which
# fails the test:
#   1. ping both ways, IPv4 and IPv6 in the overlay (ESP out and in at both
#      sites);
#   2. ipsec/sa-show --json: each site's out SA counts exactly the packets
#      that OpenFlow sent into tun0 (flow statistics) and their bytes plus
#      the outer IP and tunnel headers that transport mode protects; the
#      other site's in SA counts exactly the same;
#   3. for vxlan and geneve over IPv6 and vxlan over IPv4, 10 MB over TCP
#      from ha to hb (IPv6 or IPv4 overlay) arrives complete, the receiving
#      SA dropping nothing;
#   4. ESP with the run's SPI was on the WAN;
#   5. fail closed: after site A's outbound SA is deleted, pings fail and
#      every packet OpenFlow sent into the port is counted as no_out_sa
#      (nothing in clear: the capture check below); a new SA pair brings
#      the pings back.
# Over the whole run: the capture on the WAN veth has only ESP (and ARP,
# ND, MLD): no clear VXLAN, Geneve or GRE, and neither the ping payload
# nor the TCP data's marker in clear.
#
# Usage: tests/ovs/tunnels-esp.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools tunnels-esp

sites_init tunnels-esp tne-$$- "${1:-}"

K16=0x8a8b8c8d8e8f909192939495969798999a9b9c9d
K32=0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fc0c1c2c3
PATTERN=c0ffee15c0ffee15             # Ping payload.
MARKER=TUNNEL-ESP-CLEARTEXT-MARKER-  # In the TCP data.

trap 'cleanup_sites tunnels-esp ha sa sb hb' EXIT

T0=$(date +%s)
# Hosts: MTU lowered for the tunnel (up to 40 + 8 + 8 + 14 with IPv6) and
# ESP (up to 37 with AES-GCM) overhead.  Only unicast to the overlay
# subnet enters a tunnel: no NORMAL on br-int.
overlay_sites 1350
for s in sa sb; do
    me=1
    [ $s = sb ] && me=2
    in_ns $s sysctl -qw net.ipv6.conf.br-wan.disable_ipv6=0
    in_ns $s ip addr add 2001:db8::$me/64 dev br-wan nodad
done

start_wan_capture sa

# tunnel TYPE FAMILY SPI_AB SPI_BA SUITE KEY: port $P of TYPE over FAMILY
# (4 or 6) at both sites, with its flows and SAs.
tunnel() {
    local t=$1 f=$2 s me peer la lb
    for s in sa sb; do
        me=1 peer=2
        [ $s = sb ] && me=2 peer=1
        if [ "$f" = 4 ]; then
            la=192.0.2.$me lb=192.0.2.$peer
        else
            la=2001:db8::$me lb=2001:db8::$peer
        fi
        vsctl $s add-port br-int "$P" -- set Interface "$P" type="$t" \
            options:remote_ip="$lb" options:local_ip="$la" \
            options:key=123 options:ipsec=required
        ofctl $s add-flow br-int "in_port=hp,ip,nw_dst=10.0.0.0/24,actions=$P"
        ofctl $s add-flow br-int "in_port=hp,ipv6,ipv6_dst=fd00::/64,actions=$P"
        ofctl $s add-flow br-int "in_port=$P,actions=hp"
    done
    appctl sa ipsec/sa-add "$P" out "spi=$3,mode=transport,aead=$5,key=$6"
    appctl sb ipsec/sa-add "$P" in "spi=$3,mode=transport,aead=$5,key=$6"
    appctl sb ipsec/sa-add "$P" out "spi=$4,mode=transport,aead=$5,key=$6"
    appctl sa ipsec/sa-add "$P" in "spi=$4,mode=transport,aead=$5,key=$6"
}

untunnel() {   # untunnel: port $P, its flows and SAs gone at both sites.
    local s
    for s in sa sb; do
        vsctl $s del-port br-int "$P"
        ofctl $s del-flows br-int
        appctl $s ipsec/sa-flush "$P" >/dev/null
    done
}

# counted SITE F0 OUT_SPI S0 PEER P0 OVERHEAD: SITE's out SA and PEER's
# in SA counted exactly the flows into port $P since F0, plus OVERHEAD bytes
# each; "got ... want ..." in $WORK/counted.
counted() {
    local d want got gotp
    d=$(minus "$(flow_stats "$1" br-int "actions=(output:)?\"?$P\"?\$")" "$2")
    want="${d% *} $(( ${d#* } + $7 * ${d% *} ))"
    got=$(minus "$(sa_json "$1" "$P" "$3" out)" "$4")
    gotp=$(minus "$(sa_json "$5" "$P" "$3" in)" "$6")
    echo "out $got, peer in $gotp, want $want" > "$WORK/counted"
    test "$got" = "$want" && test "$gotp" = "$want"
}

# run TYPE FAMILY N SUITE KEY OVERHEAD [TCP_ADDR]: one round (SPIs
# 0x<N>01 and 0x<N>02).
run() {
    local t=$1 f=$2 ab=0x${3}01 ba=0x${3}02 what="$1 over IPv$2" \
        fa fb oa ob ia ib r n f0 f1 port_a
    P=t$3
    tunnel "$t" "$f" "$ab" "$ba" "$4" "$5"
    check "$what: warm-up ping ha -> hb" ping_answered ha 10.0.0.2
    in_ns hb ping -c 1 -W 2 10.0.0.1 >/dev/null 2>&1 || true
    sleep 1.5
    fa=$(flow_stats sa br-int "actions=(output:)?\"?$P\"?\$")
    fb=$(flow_stats sb br-int "actions=(output:)?\"?$P\"?\$")
    oa=$(sa_json sa "$P" "$ab" out)
    ob=$(sa_json sb "$P" "$ba" out)
    ia=$(sa_json sb "$P" "$ab" in)
    ib=$(sa_json sa "$P" "$ba" in)
    check "$what: ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.0.0.2 >/dev/null
    check "$what: ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.0.0.1 >/dev/null
    check "$what: ping -6 ha -> hb" in_ns ha ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd00::2 >/dev/null
    check "$what: ping -6 hb -> ha" in_ns hb ping -6 -c 3 -i 0.2 -W 2 -p $PATTERN fd00::1 >/dev/null
    retry 50 counted sa "$fa" "$ab" "$oa" sb "$ia" "$6" || true
    check "$what: site A out SA, site B in SA = flows into $P + $6 B each ($(cat "$WORK/counted"))" \
        counted sa "$fa" "$ab" "$oa" sb "$ia" "$6"
    retry 50 counted sb "$fb" "$ba" "$ob" sa "$ib" "$6" || true
    check "$what: site B out SA, site A in SA = flows into $P + $6 B each ($(cat "$WORK/counted"))" \
        counted sb "$fb" "$ba" "$ob" sa "$ib" "$6"
    d=$(minus "$(sa_json sa "$P" "$ab" out)" "$oa")
    check "$what: at least the 6 pings' packets each way ($d)" test "${d% *}" -ge 6
    if [ -n "${7:-}" ]; then
        check_tcp "$what: 10 MB over TCP ha -> hb ($7) arrived complete" hb ha "$7" 10 "$MARKER"
        check "$what: site B in SA dropped nothing ($(sa_drops sb "$P" "$ab" in))" \
            test "$(sa_drops sb "$P" "$ab" in)" = none
    fi
    n=$(tcpdump -nr "$WORK/wan.pcap" "esp" 2>/dev/null | grep -c "spi=$(printf 0x%08x "$ab")" || true)
    check "$what: ESP with SPI $ab on the WAN ($n)" test "$n" -ge 6
    # 5: fail closed.  Without site A's outbound SA nothing gets through,
    # and every packet OpenFlow sends into the port is dropped and counted;
    # a new SA pair restores the traffic.
    sleep 1.5
    f0=$(flow_stats sa br-int "actions=(output:)?\"?$P\"?\$")
    appctl sa ipsec/sa-del "$P" "$ab"
    check "$what: no ping without an outbound SA" \
        not in_ns ha ping -c 2 -i 0.2 -W 1 -p $PATTERN 10.0.0.2 >/dev/null
    for _ in $(seq 50); do
        f1=$(flow_stats sa br-int "actions=(output:)?\"?$P\"?\$")
        n=$(( ${f1% *} - ${f0% *} ))
        port_a=$(appctl sa ipsec/sa-show "$P" | grep ^port)
        test "$port_a" = "port $P: inbound drops=none outbound drops=no_out_sa:$n" && break
        sleep 0.2
    done
    check "$what: fail-closed drops counted ($port_a, $n sent)" \
        test "$port_a" = "port $P: inbound drops=none outbound drops=no_out_sa:$n" -a "$n" -ge 2
    appctl sa ipsec/sa-add "$P" out "spi=0x${3}03,mode=transport,aead=$4,key=$5"
    appctl sb ipsec/sa-add "$P" in "spi=0x${3}03,mode=transport,aead=$4,key=$5"
    check "$what: ping again with a new SA pair" \
        in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.0.0.2 >/dev/null
    untunnel
}

# Outer bytes that transport mode protects with each packet: the IP header
# (20 or 40) and the tunnel's (UDP 8 + VXLAN or Geneve 8; GRE with key 8).
run vxlan  4 71 aes-gcm-128 $K16 36 fd00::2
run geneve 4 72 aes-gcm-256 $K32 36
run gre    4 73 aes-gcm-128 $K16 28
run vxlan  6 74 aes-gcm-256 $K32 56 fd00::2
run geneve 6 75 aes-gcm-128 $K16 56 10.0.0.2
run gre    6 76 aes-gcm-256 $K32 48

stop_wan_capture
check_wan_esp_only6 30000
check "no clear-text ping payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check "no key in any log" \
    not grep -rqi -e 8a8b8c8d8e8f9091 -e 0c0d0e0f1011 "$WORK/sa" "$WORK/sb"

echo "tunnels-esp: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
