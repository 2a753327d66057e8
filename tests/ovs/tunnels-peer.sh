#!/bin/bash
# System test: a vxlan and a gre port, both protected with ESP in
# transport mode (options:ipsec=required), and an esp port (ESP tunnel
# mode), between the same two sites: the same remote_ip and the same
# local_ip, each port with its own SAs.  ESP carries no tunnel port
# number, so each site's ovs-vswitchd receives the peer's ESP of all three
# ports on one datapath port (the first port's), and the SPI tells which
# port's SAs decrypt a packet, how it is decapsulated and which port it
# enters OpenFlow from (patches 0025 and 0031).  Site A adds vx first, so
# its vxlan datapath port hands gr's and es's ESP over; site B adds es
# first, so its esp datapath port hands vx's and gr's over.  Userspace
# datapath; two sites, each its own ovsdb-server and patched ovs-vswitchd
# in its own network namespace.
#
#  ns tpe-ha                ns tpe-sa                              ns tpe-sb               ns tpe-hb
#  +-----------+  +------------------------------+  +------------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system),         |  | br-int: hp (system),         |  | hb0       |
#  | 10.0.0.1  +--+   vx (vxlan), gr (gre),      |  |   es (esp), vx (vxlan),      +--+ 10.0.0.2  |
#  | fd00::1   |  |   es (esp)                   |  |   gr (gre)                   |  | fd00::2   |
#  | 10.1.0.2  |  | br-wan: wan (system)         |  | br-wan: wan (system)         |  | 10.2.0.2  |
#  | mtu 1350  |  |  192.0.2.1/24, 2001:db8::1   |  |  192.0.2.2/24, 2001:db8::2   |  | mtu 1350  |
#  +-----------+  +--------------+---------------+  +---------------+--------------+  +-----------+
#                                |          veth "WAN"              |
#                                +----------------------------------+
#
# The overlay's IPv4 goes through vx (SPIs 0x8101 A->B, 0x8102 B->A), its
# IPv6 through gr (0x8201, 0x8202); vx and gr have the same remote_ip,
# local_ip and key (123).  The routed subnets 10.1.0.0/24 (ha) and
# 10.2.0.0/24 (hb) go through es (0x8301, 0x8302), with the same remote_ip
# and local_ip.  Checks, each of which fails the test:
#   1. each site receives the peer's ESP on one datapath port (the peer's
#      entry in tnl/ports/show: the vxlan port's at site A, the esp port's
#      at site B), and no site logs that a port's ESP "already goes" to
#      another datapath port;
#   2. both at once, both ways: 10 MB over TCP ha -> hb over vx (IPv4)
#      while hb and ha ping each other over gr (IPv6); then 10 MB over TCP
#      hb -> ha over gr while ha and hb ping each other over vx; then 10 MB
#      over TCP ha -> hb over es while ha and hb ping each other over vx;
#   3. for each port and direction: the sender's out SA counts exactly the
#      packets that OpenFlow sent into the port, plus the outer IP and
#      tunnel headers in bytes; the receiver's OpenFlow flow "in_port=PORT"
#      counts exactly the packets of the receiver's in SA: each decrypted
#      packet entered OpenFlow from its own port; and the in SA misses no
#      more of the sent packets than the receiving ovs-vswitchd's AF_PACKET
#      socket on the WAN dropped (ss -0 -m: with TCP at full speed on 2
#      CPUs, shared by both sites, it does drop some; TCP resends them);
#      (es: the inner IP packets, 14 bytes less than the Ethernet frames
#      that OpenFlow sent);
#   4. no SA dropped anything, and no ESP was dropped as "no_port";
#   5. fail closed: without site A's outbound SA of gr, IPv6 pings fail and
#      are counted as no_out_sa while IPv4 over vx and es still works; a new
#      SA brings IPv6 back;
#   6. the same three ports over an IPv6 WAN (2001:db8::1 and ::2, new
#      SPIs and keys, the same order of the ports): checks 1, 3 and 4, with
#      10 MB over TCP over es while the hosts ping over gr, then over vx
#      while they ping over es;
#   7. the WAN capture has only ESP (and ARP, and since 6 the sites' own
#      ND and MLD), with the SPIs of all ports in both rounds, and
#      neither the ping payload nor the TCP data's marker in clear.
#
# Usage: tests/ovs/tunnels-peer.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools tunnels-peer

sites_init tunnels-peer tpe-$$- "${1:-}"

K16=0x8a8b8c8d8e8f909192939495969798999a9b9c9d
K32=0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fc0c1c2c3
PATTERN=c0ffee15c0ffee15             # Ping payload.
MARKER=TUNNEL-PEER-CLEARTEXT-MARKER-  # In the TCP data.

trap 'cleanup_sites tunnels-peer ha sa sb hb' EXIT

T0=$(date +%s)
# Hosts: MTU lowered for the tunnel (up to 20 + 8 + 8 with IPv4) and ESP
# (up to 37 with AES-GCM) overhead.
overlay_sites 1350
# The routed subnets of es: 10.1.0.0/24 behind site A, 10.2.0.0/24 behind
# site B, the gateway 02:00:00:00:00:01 (br-int's flows, no ARP).
route_hosts 02:00:00:00:00:01
# The round: 4, the WAN over IPv4 (SPIs 0x81xx to 0x83xx); 6, over IPv6
# (0x91xx to 0x93xx, keys of their own), check 6.
FAM=4 R=8
wan_ip() {   # wan_ip SITE: SITE's WAN address in this round.
    local n=1
    [ "$1" = sb ] && n=2
    if [ "$FAM" = 4 ]; then echo "192.0.2.$n"; else echo "2001:db8::$n"; fi
}
peer_of() { if [ "$1" = sa ]; then echo sb; else echo sa; fi; }
# spi PORT TX: the SPI of PORT's SAs from site TX to the other.
spi() {
    local n
    case $1 in vx) n=1 ;; gr) n=2 ;; es) n=3 ;; esac
    if [ "$2" = sa ]; then echo "0x$R${n}01"; else echo "0x$R${n}02"; fi
}
# key PORT: the key of PORT's SAs (both ways) in this round.
key() {
    local k=$K16
    [ "$1" = gr ] && k=$K32
    if [ "$R" = 8 ]; then echo "$k"; else echo "${k%??}99"; fi
}

# ports: the three ports, their flows and SAs at both sites for this
# round, the last round's (if any) deleted first.  Site A adds vx first,
# site B es first: the first port's datapath port receives the peer's
# ESP of all three.
ports() {
    local s peer order host p t opts spec pn
    for s in sa sb; do
        peer=$(peer_of $s) order="vx:vxlan gr:gre es:esp" host=ha pn=2
        [ $s = sb ] && order="es:esp vx:vxlan gr:gre" host=hb pn=1
        for p in vx gr es; do
            vsctl $s --if-exists del-port br-int $p
            appctl $s ipsec/sa-flush $p >/dev/null 2>&1 || true
        done
        ofctl $s del-flows br-int
        for p in $order; do
            t=${p#*:} p=${p%:*} opts=
            [ "$t" != esp ] && opts="options:key=123 options:ipsec=required"
            # shellcheck disable=SC2086
            vsctl $s add-port br-int $p -- set Interface $p type=$t \
                options:remote_ip="$(wan_ip $peer)" \
                options:local_ip="$(wan_ip $s)" $opts
        done
        ofctl $s add-flow br-int "in_port=hp,ip,nw_dst=10.0.0.0/24,actions=vx"
        ofctl $s add-flow br-int "in_port=hp,ipv6,ipv6_dst=fd00::/64,actions=gr"
        ofctl $s add-flow br-int \
            "in_port=hp,ip,nw_dst=10.$pn.0.0/24,actions=es"
        ofctl $s add-flow br-int "in_port=vx,actions=hp"
        ofctl $s add-flow br-int "in_port=gr,actions=hp"
        ofctl $s add-flow br-int \
            "in_port=es,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$(link_mac $host ${host}0),hp"
        for p in vx gr es; do
            spec="mode=transport,aead=aes-gcm-128"
            [ $p = gr ] && spec="mode=transport,aead=aes-gcm-256"
            if [ $p = es ]; then
                # Tunnel mode: the SAs' addresses those of the port.
                appctl $s ipsec/sa-add es out "spi=$(spi es $s),src=$(wan_ip $s),dst=$(wan_ip $peer),aead=aes-gcm-128,key=$(key es)"
                appctl $s ipsec/sa-add es in "spi=$(spi es $peer),src=$(wan_ip $peer),dst=$(wan_ip $s),aead=aes-gcm-128,key=$(key es)"
            else
                appctl $s ipsec/sa-add $p out "spi=$(spi $p $s),$spec,key=$(key $p)"
                appctl $s ipsec/sa-add $p in "spi=$(spi $p $peer),$spec,key=$(key $p)"
            fi
        done
    done
}
ports

start_wan_capture sa

# peer_esp SITE: the tnl/ports/show entries for the peer's ESP at SITE.
peer_esp() {
    appctl "$1" tnl/ports/show -v \
        | grep "src=$(wan_ip "$(peer_of "$1")"),.*proto=50" || true
}

peer_esp_to() { peer_esp "$1" | grep -q "^$2"; }   # peer_esp_to SITE DP

# check_peer_entries LABEL: at each site, the peer's ESP goes to one
# datapath port, the first port's, and no warning was logged.
check_peer_entries() {
    local s n dp
    for s in sa sb; do
        n=$(peer_esp $s | grep -c . || true)
        check "$1: $s: the peer's ESP goes to one datapath port ($n entries)" \
            test "$n" = 1
        dp=vxlan_sys
        [ $s = sb ] && dp=esp_sys
        check "$1: $s: that datapath port is the first port's ($dp)" \
            peer_esp_to $s $dp
        check "$1: $s: no port's ESP 'already goes' elsewhere" \
            not grep -q 'already goes' "$WORK/$s/ovs-vswitchd.log"
    done
}

# 1.
check_peer_entries 1

check "warm-up ping ha -> hb over vx" ping_answered ha 10.0.0.2
check "warm-up ping -6 ha -> hb over gr" ping_answered ha fd00::2
check "warm-up ping ha -> hb over es" ping_answered ha 10.2.0.2
sleep 1.5

# snapshot: the counters of check 3, in S_<name>.
into() { echo "actions=(output:)?\"?$1\"?\$"; }   # The flows into port $1.
snapshot() {
    local s p spi_out spi_in
    for s in sa sb; do
        for p in vx gr es; do
            spi_out=$(spi $p $s) spi_in=$(spi $p "$(peer_of $s)")
            eval "S_${s}_${p}_into='$(flow_stats $s br-int "$(into $p)")'"
            eval "S_${s}_${p}_from='$(flow_stats $s br-int "in_port=$p ")'"
            eval "S_${s}_${p}_out='$(sa_json $s $p $spi_out out)'"
            eval "S_${s}_${p}_in='$(sa_json $s $p $spi_in in)'"
        done
    done
}

# counted PORT TX RX OVERHEAD: since the snapshot, TX's out SA of PORT
# counted exactly the packets that TX's OpenFlow sent into PORT, plus
# OVERHEAD bytes each; RX's flow "in_port=PORT" counted exactly the packets
# of RX's in SA; and the in SA missed no more of them than RX's socket on
# the WAN dropped (TCP resends those); "got ... want ..." in
# $WORK/counted.
counted() {
    local p=$1 tx=$2 rx=$3 d want out in from lost drops spi
    spi=$(spi "$p" "$tx")
    d=$(minus "$(flow_stats "$tx" br-int "$(into "$p")")" \
        "$(eval echo "\$S_${tx}_${p}_into")")
    want="${d% *} $(( ${d#* } + $4 * ${d% *} ))"
    out=$(minus "$(sa_json "$tx" "$p" $spi out)" \
        "$(eval echo "\$S_${tx}_${p}_out")")
    in=$(minus "$(sa_json "$rx" "$p" $spi in)" \
        "$(eval echo "\$S_${rx}_${p}_in")")
    from=$(minus "$(flow_stats "$rx" br-int "in_port=$p ")" \
        "$(eval echo "\$S_${rx}_${p}_from")")
    lost=$(( ${out% *} - ${in% *} ))
    drops=$(sock_drops "$rx")
    echo "$tx out $out, want $want; $rx in $in, from $p ${from% *}," \
         "lost $lost, $rx wan socket drops ${drops:-?}" > "$WORK/counted"
    test "$out" = "$want" && test "${from% *}" = "${in% *}" \
        && test "${in% *}" -ge 10 && test "$lost" -ge 0 \
        && test "$lost" -le "${drops:-0}"
}

# both_at_once WHAT TCP_FROM TCP_TO TCP_ADDR PING_ADDR_A PING_ADDR_B:
# 10 MB over TCP from TCP_FROM to TCP_ADDR (TCP_TO's) while ha pings
# PING_ADDR_B and hb pings PING_ADDR_A, 40 each, at the same time.
both_at_once() {
    local r=0 pa pb
    in_ns ha ping -c 40 -i 0.05 -W 2 -p $PATTERN "$6" > "$WORK/ping-a.txt" 2>&1 &
    pa=$!
    PIDS+=("$pa")
    in_ns hb ping -c 40 -i 0.05 -W 2 -p $PATTERN "$5" > "$WORK/ping-b.txt" 2>&1 &
    pb=$!
    PIDS+=("$pb")
    check_tcp "$1: 10 MB over TCP $2 -> $3 ($4) arrived complete" \
        "$3" "$2" "$4" 10 "$MARKER"
    r=0; wait $pa || r=$?
    check "$1: ha pinged $6 meanwhile ($(grep -o '[0-9]* received' "$WORK/ping-a.txt"))" \
        test $r = 0
    r=0; wait $pb || r=$?
    check "$1: hb pinged $5 meanwhile ($(grep -o '[0-9]* received' "$WORK/ping-b.txt"))" \
        test $r = 0
}

# check_counted LABEL: check 3 for every port and direction.  Outer bytes
# that transport mode protects with each packet: the outer IP header (20
# or 40) and the tunnel's (UDP 8 + VXLAN 8; GRE with key 8); es's SAs
# count the inner packets, 14 bytes less than the frames OpenFlow sent.
check_counted() {
    local ip=20 c
    [ "$FAM" = 6 ] && ip=40
    sleep 1
    for c in "vx sa sb $(( ip + 16 ))" "vx sb sa $(( ip + 16 ))" \
        "gr sa sb $(( ip + 8 ))" "gr sb sa $(( ip + 8 ))" \
        "es sa sb -14" "es sb sa -14"; do
        # shellcheck disable=SC2086
        retry 50 counted $c || true
        # shellcheck disable=SC2086
        check "$1: ${c% *}: out SA = flows into the port, flow from the port = in SA ($(cat "$WORK/counted"))" \
            counted $c
    done
}

# check_nothing_dropped LABEL: check 4.
check_nothing_dropped() {
    local s p line n
    for s in sa sb; do
        for p in vx gr es; do
            line=$(appctl $s ipsec/sa-show $p | grep ^port)
            check "$1: $s: $p dropped nothing ($line)" test "$line" = \
                "port $p: inbound drops=none outbound drops=none"
        done
        n=$(appctl $s ipsec/stats | sed -n 's/^ *no_port: //p')
        check "$1: $s: no ESP without a port (no_port ${n:-0})" \
            test "${n:-0}" = 0
        n=$( (for p in vx gr es; do appctl $s ipsec/sa-show $p; done) \
            | grep -v ^port | grep drops= | grep -vc drops=none || true)
        check "$1: $s: no SA dropped anything ($n SAs did)" test "$n" = 0
    done
}

# 2, 3 and 4.
snapshot
both_at_once "TCP over vx, pings over gr" ha hb 10.0.0.2 fd00::1 fd00::2
both_at_once "TCP over gr, pings over vx" hb ha fd00::1 10.0.0.1 10.0.0.2
both_at_once "TCP over es, pings over vx" ha hb 10.2.0.2 10.0.0.1 10.0.0.2
check_counted 3
check_nothing_dropped 4

# 5: fail closed on gr only.
sleep 1.5
f0=$(flow_stats sa br-int "$(into gr)")
appctl sa ipsec/sa-del gr 0x8201
check "no ping -6 without gr's outbound SA" \
    not in_ns ha ping -6 -c 2 -i 0.2 -W 1 -p $PATTERN fd00::2 >/dev/null
check "IPv4 over vx still answered" \
    in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.0.0.2 >/dev/null
check "IPv4 over es still answered" \
    in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check_fail_closed sa gr "$f0"
appctl sa ipsec/sa-add gr out "spi=0x8203,mode=transport,aead=aes-gcm-256,key=$K32"
appctl sb ipsec/sa-add gr in "spi=0x8203,mode=transport,aead=aes-gcm-256,key=$K32"
check "ping -6 again with a new SA" \
    in_ns ha ping -6 -c 2 -i 0.2 -W 2 -p $PATTERN fd00::2 >/dev/null

# 6: the three ports again, over an IPv6 WAN (2001:db8::1 and ::2, new
# SPIs and keys): the peer's ESP to one datapath port per site, the
# first port's; 10 MB over TCP over es while the hosts ping over gr, then
# over vx while they ping over es; the counters; nothing dropped.
for s in sa sb; do
    in_ns $s sysctl -qw net.ipv6.conf.br-wan.disable_ipv6=0
done
in_ns sa ip addr add 2001:db8::1/64 dev br-wan nodad
in_ns sb ip addr add 2001:db8::2/64 dev br-wan nodad
FAM=6 R=9
ports
check_peer_entries "6 (IPv6 WAN)"
check "6: warm-up ping ha -> hb over vx" ping_answered ha 10.0.0.2
check "6: warm-up ping -6 ha -> hb over gr" ping_answered ha fd00::2
check "6: warm-up ping ha -> hb over es" ping_answered ha 10.2.0.2
sleep 1.5
snapshot
both_at_once "6: TCP over es, pings over gr" ha hb 10.2.0.2 fd00::1 fd00::2
both_at_once "6: TCP over vx, pings over es" hb ha 10.0.0.1 10.1.0.2 \
    10.2.0.2
check_counted "6 (IPv6 WAN)"
check_nothing_dropped "6 (IPv6 WAN)"

# 7: the WAN (both rounds; ND and MLD since 6).
stop_wan_capture
for spi in 0x8101 0x8102 0x8201 0x8202 0x8203 0x8301 0x8302 \
    0x9101 0x9102 0x9201 0x9202 0x9301 0x9302; do
    n=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null \
        | grep -c "spi=$(printf 0x%08x $spi)" || true)
    check "ESP with SPI $spi on the WAN ($n)" test "$n" -ge 2
done
check_wan_esp_only6 20000
check "no clear-text ping payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
for s in sa sb; do
    check "$s: still no 'already goes' in the log" \
        not grep -q 'already goes' "$WORK/$s/ovs-vswitchd.log"
done
check "no key in any log" \
    not grep -rqi -e 8a8b8c8d8e8f9091 -e 0c0d0e0f1011 "$WORK/sa" "$WORK/sb"

echo "tunnels-peer: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
