#!/bin/bash
# System test: a vxlan and a gre port, both protected with ESP in
# transport mode (options:ipsec=required), between the same two sites:
# the same remote_ip and the same local_ip, each port with its own SAs.
# ESP carries no tunnel port number, so each site's ovs-vswitchd receives
# the peer's ESP of both ports on one datapath port (the first port's),
# and the SPI tells which port's SAs decrypt a packet and which port it
# enters OpenFlow from (patch 0025).  Userspace datapath; two sites, each
# its own ovsdb-server and patched ovs-vswitchd in its own network
# namespace.
#
#  ns tpe-ha                ns tpe-sa                              ns tpe-sb               ns tpe-hb
#  +-----------+  +------------------------------+  +------------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system),         |  | br-int: hp (system),         |  | hb0       |
#  | 10.0.0.1  +--+   vx (vxlan), gr (gre)       |  |   vx (vxlan), gr (gre)       +--+ 10.0.0.2  |
#  | fd00::1   |  | br-wan: wan (system)         |  | br-wan: wan (system)         |  | fd00::2   |
#  | mtu 1350  |  |  192.0.2.1/24                |  |  192.0.2.2/24                |  | mtu 1350  |
#  +-----------+  +--------------+---------------+  +---------------+--------------+  +-----------+
#                                |          veth "WAN"              |
#                                +----------------------------------+
#
# The overlay's IPv4 goes through vx (SPIs 0x8101 A->B, 0x8102 B->A), its
# IPv6 through gr (0x8201, 0x8202); vx and gr have the same remote_ip,
# local_ip and key (123).  Checks, each of which fails the test:
#   1. each site receives the peer's ESP on one datapath port (the peer's
#      entry in tnl/ports/show), and no site logs that a port's ESP
#      "already goes" to another datapath port;
#   2. both at once, both ways: 10 MB over TCP ha -> hb over vx (IPv4)
#      while hb and ha ping each other over gr (IPv6); then 10 MB over TCP
#      hb -> ha over gr while ha and hb ping each other over vx;
#   3. for each port and direction: the sender's out SA counts exactly the
#      packets that OpenFlow sent into the port, plus the outer IP and
#      tunnel headers in bytes; the receiver's OpenFlow flow "in_port=PORT"
#      counts exactly the packets of the receiver's in SA: each decrypted
#      packet entered OpenFlow from its own port; and the in SA misses no
#      more of the sent packets than the receiving ovs-vswitchd's AF_PACKET
#      socket on the WAN dropped (ss -0 -m: with TCP at full speed on 2
#      CPUs, shared by both sites, it does drop some; TCP resends them);
#   4. no SA dropped anything, and no ESP was dropped as "no_port";
#   5. fail closed: without site A's outbound SA of gr, IPv6 pings fail and
#      are counted as no_out_sa while IPv4 over vx still works; a new SA
#      brings IPv6 back;
#   6. the WAN capture has only ESP (and ARP), with the SPIs of both ports,
#      and neither the ping payload nor the TCP data's marker in clear.
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
for s in sa sb; do
    me=1 peer=2
    [ $s = sb ] && me=2 peer=1
    # vx first: its datapath port receives the peer's ESP of both ports.
    for p in vx:vxlan gr:gre; do
        vsctl $s add-port br-int "${p%:*}" -- set Interface "${p%:*}" \
            type="${p#*:}" options:remote_ip=192.0.2.$peer \
            options:local_ip=192.0.2.$me options:key=123 \
            options:ipsec=required
    done
    ofctl $s add-flow br-int "in_port=hp,ip,nw_dst=10.0.0.0/24,actions=vx"
    ofctl $s add-flow br-int "in_port=hp,ipv6,ipv6_dst=fd00::/64,actions=gr"
    ofctl $s add-flow br-int "in_port=vx,actions=hp"
    ofctl $s add-flow br-int "in_port=gr,actions=hp"
done

# sa_pair PORT SPI_AB SPI_BA SUITE KEY: PORT's SAs at both sites.
sa_pair() {
    appctl sa ipsec/sa-add "$1" out "spi=$2,mode=transport,aead=$4,key=$5"
    appctl sb ipsec/sa-add "$1" in "spi=$2,mode=transport,aead=$4,key=$5"
    appctl sb ipsec/sa-add "$1" out "spi=$3,mode=transport,aead=$4,key=$5"
    appctl sa ipsec/sa-add "$1" in "spi=$3,mode=transport,aead=$4,key=$5"
}
sa_pair vx 0x8101 0x8102 aes-gcm-128 $K16
sa_pair gr 0x8201 0x8202 aes-gcm-256 $K32

start_wan_capture sa

# 1: one datapath port per site for the peer's ESP, and no warning.
for s in sa sb; do
    n=$(appctl $s tnl/ports/show -v | grep -c 'src=192.0.2.*proto=50' || true)
    check "$s: the peer's ESP goes to one datapath port ($n entries)" \
        test "$n" = 1
    check "$s: no port's ESP 'already goes' elsewhere" \
        not grep -q 'already goes' "$WORK/$s/ovs-vswitchd.log"
done

check "warm-up ping ha -> hb over vx" ping_answered ha 10.0.0.2
check "warm-up ping -6 ha -> hb over gr" ping_answered ha fd00::2
sleep 1.5

# snapshot: the counters of check 3, in S_<name>.
into() { echo "actions=(output:)?\"?$1\"?\$"; }   # The flows into port $1.
snapshot() {
    local s p spi_out spi_in
    for s in sa sb; do
        for p in vx gr; do
            if [ $p = vx ]; then
                spi_out=0x8101 spi_in=0x8102
            else
                spi_out=0x8201 spi_in=0x8202
            fi
            if [ $s = sb ]; then
                local t=$spi_out; spi_out=$spi_in; spi_in=$t
            fi
            eval "S_${s}_${p}_into='$(flow_stats $s br-int "$(into $p)")'"
            eval "S_${s}_${p}_from='$(flow_stats $s br-int "in_port=$p ")'"
            eval "S_${s}_${p}_out='$(sa_json $s $p $spi_out out)'"
            eval "S_${s}_${p}_in='$(sa_json $s $p $spi_in in)'"
        done
    done
}

# sock_drops SITE -> the packets that the kernel dropped because SITE's
# ovs-vswitchd did not read its AF_PACKET socket on wan fast enough (the
# two sites share 2 CPUs with TCP at full speed both ways).
sock_drops() {
    in_ns "$1" ss -0 -m -n -p | grep -A1 '\*:wan .*ovs-vswitchd' \
        | sed -n 's/.*skmem:(.*,d\([0-9]*\)).*/\1/p' | head -1
}

# counted PORT TX RX OVERHEAD: since the snapshot, TX's out SA of PORT
# counted exactly the packets that TX's OpenFlow sent into PORT, plus
# OVERHEAD bytes each; RX's flow "in_port=PORT" counted exactly the packets
# of RX's in SA; and the in SA missed no more of them than RX's socket on
# the WAN dropped (TCP resends those); "got ... want ..." in
# $WORK/counted.
counted() {
    local p=$1 tx=$2 rx=$3 d want out in from lost drops spi
    case $p$tx in
        vxsa) spi=0x8101 ;; vxsb) spi=0x8102 ;;
        grsa) spi=0x8201 ;; grsb) spi=0x8202 ;;
    esac
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

# 2 and 3.  Outer bytes that transport mode protects with each packet: the
# IPv4 header (20) and the tunnel's (UDP 8 + VXLAN 8; GRE with key 8).
snapshot
both_at_once "TCP over vx, pings over gr" ha hb 10.0.0.2 fd00::1 fd00::2
both_at_once "TCP over gr, pings over vx" hb ha fd00::1 10.0.0.1 10.0.0.2
sleep 1
for c in "vx sa sb 36" "vx sb sa 36" "gr sa sb 28" "gr sb sa 28"; do
    # shellcheck disable=SC2086
    retry 50 counted $c || true
    # shellcheck disable=SC2086
    check "${c% *}: out SA = flows into the port, flow from the port = in SA ($(cat "$WORK/counted"))" \
        counted $c
done

# 4: nothing dropped.
for s in sa sb; do
    for p in vx gr; do
        line=$(appctl $s ipsec/sa-show $p | grep ^port)
        check "$s: $p dropped nothing ($line)" test "$line" = \
            "port $p: inbound drops=none outbound drops=none"
    done
    n=$(appctl $s ipsec/stats | sed -n 's/^ *no_port: //p')
    check "$s: no ESP without a port (no_port ${n:-0})" test "${n:-0}" = 0
    n=$( (appctl $s ipsec/sa-show vx; appctl $s ipsec/sa-show gr) \
        | grep -v ^port | grep drops= | grep -vc drops=none || true)
    check "$s: no SA dropped anything ($n SAs did)" test "$n" = 0
done

# 5: fail closed on gr only.
sleep 1.5
f0=$(flow_stats sa br-int "$(into gr)")
appctl sa ipsec/sa-del gr 0x8201
check "no ping -6 without gr's outbound SA" \
    not in_ns ha ping -6 -c 2 -i 0.2 -W 1 -p $PATTERN fd00::2 >/dev/null
check "IPv4 over vx still answered" \
    in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.0.0.2 >/dev/null
check_fail_closed sa gr "$f0"
appctl sa ipsec/sa-add gr out "spi=0x8203,mode=transport,aead=aes-gcm-256,key=$K32"
appctl sb ipsec/sa-add gr in "spi=0x8203,mode=transport,aead=aes-gcm-256,key=$K32"
check "ping -6 again with a new SA" \
    in_ns ha ping -6 -c 2 -i 0.2 -W 2 -p $PATTERN fd00::2 >/dev/null

# 6: the WAN.
stop_wan_capture
for spi in 0x8101 0x8102 0x8201 0x8202 0x8203; do
    n=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null \
        | grep -c "spi=$(printf 0x%08x $spi)" || true)
    check "ESP with SPI $spi on the WAN ($n)" test "$n" -ge 2
done
check_wan_esp_only 10000
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
