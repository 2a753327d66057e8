#!/bin/bash
# System test: ESP from two peers mixed in the same receive batches.
# ESP receive finds the IPsec port of each packet by its outer addresses
# and reuses the port found for the previous packet of the batch when the
# addresses are the same (patch 0015): a batch that alternates between
# two peers must still give every packet to its own port.  The WAN port is
# a DPDK port (net_af_packet on a veth) so that the PMD thread reads the
# frames in bursts: the port is set down while Scapy queues the frames in
# the AF_PACKET ring and up again, so the PMD reads them 32 at a time.
#
#  ns ep-sa (DPDK, 1 PMD)                                   ns ep-gw
#  +-------------------------------------------------+    +--------------+
#  | br-int: esp1 (type=esp, remote 192.0.2.2)       |    | Scapy: ESP   |
#  |         esp2 (type=esp, remote 192.0.2.3)       |    | from .2 and  |
#  |   or    vx1, vx2 (vxlan, ipsec=required, same)  |    | .3, mixed    |
#  | br-wan 192.0.2.1                                |    |              |
#  |   wan (dpdk, net_af_packet) --------------------+----+ wan          |
#  +-------------------------------------------------+    +--------------+
#
# Rounds: the esp ports (tunnel mode), then vxlan ports with ESP in
# transport mode (the ports and SAs of the first round deleted: the vxlan
# ports have the same peers and local address, which an esp port and a
# tunnel port cannot share; tunnel ports of different types can, see
# tunnels-peer.sh).  Each round: 64 frames, alternating
# .2, .3, .2, ... (and in a second burst two by two), queued while wan is
# down.  Checks, each of which fails the test:
#   1. each inbound SA counted exactly its 64 packets;
#   2. no drop anywhere: the SAs' drops and the ports' lines are empty
#      (a packet given to the other peer's port would be no_sa);
#   3. the OpenFlow flow of each port's input counted its 64 packets (the
#      packets entered from their own port);
#   4. the PMD read the frames in bursts (fewer busy iterations than
#      packets), so the batches really mixed the peers.
# The PMD thread spins for a few seconds; the test reserves 128 2 MiB
# hugepages and gives back exactly those.  It skips (exit 0, with the
# reason) when DPDK cannot be initialized here.
#
# Usage: tests/ovs/esp-peers.sh [OVS_BUILD_DIR] (default build/ovs/src)
# Needs root, ip, ethtool, /usr/bin/python3 with Scapy.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools esp-peers

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
WORK=$(mktemp -d /tmp/esp-peers.XXXXXX)
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=ep-$$-
PIDS=()
PASS=0
FAIL=0
BR_WAN_MAC=02:00:00:00:0c:01
K2=000102030405060708090a0b0c0d0e0f10111213
K3=202122232425262728292a2b2c2d2e2f30313233
N=64

skip() {
    echo "esp-peers: SKIPPED: $*"
    exit 0
}
trap 'cleanup_sites esp-peers sa gw; give_back_hugepages' EXIT

T0=$(date +%s)
"$PYTHON3" -c 'import scapy.layers.ipsec' 2>/dev/null \
    || skip "$PYTHON3 has no Scapy (Debian: python3-scapy)"
reserve_hugepages 128 64 || skip "$HP_ERR"

netns_add sa gw
netns_no_ipv6 sa gw
veth wan sa wan gw

start_dpdk_site sa 0x1 || skip "$DPDK_ERR"

dpdk_wan_bridge sa $BR_WAN_MAC
vsctl sa add-br br-int -- set bridge br-int datapath_type=netdev
retry 50 test "$(vsctl sa get Interface wan link_state)" = up || true
GW_MAC=$(in_ns gw cat /sys/class/net/wan/address)
appctl sa tnl/neigh/set br-wan 192.0.2.2 "$GW_MAC" >/dev/null
appctl sa tnl/neigh/set br-wan 192.0.2.3 "$GW_MAC" >/dev/null

# The frames, MODE-1.pcap and MODE-2.pcap: MODE esp (tunnel mode, inner
# UDP 10.2.0.x -> 10.1.0.2) or vxlan (transport mode over UDP 4789 / VXLAN
# VNI 5 / Ethernet / the same inner packet); in -1 the peers alternate
# packet by packet, in -2 two by two; each SA's sequence numbers go on
# from -1 to -2.  Scapy's ESP, independent of the datapath's engine.
cat > "$WORK/frames.py" <<'EOF'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
from scapy.layers.ipsec import SecurityAssociation, ESP
from scapy.layers.vxlan import VXLAN

mode, n, gw_mac, wan_mac, out = sys.argv[1:6]
n = int(n)
peers = [("192.0.2.2", 0x8102, bytes.fromhex(sys.argv[6])),
         ("192.0.2.3", 0x8103, bytes.fromhex(sys.argv[7]))]
sas = [SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM",
                           crypt_key=key,
                           tunnel_header=(IP(src=src, dst="192.0.2.1")
                                          if mode == "esp" else None))
       for src, spi, key in peers]
seq = [0, 0]
for order in (1, 2):
    frames = []
    for i in range(n):
        p = (i // order) % 2
        src = peers[p][0]
        inner = (IP(src="10.2.0.%d" % (2 + p), dst="10.1.0.2")
                 / UDP(sport=1000 + i, dport=7) / Raw(b"\xab" * 32))
        if mode == "esp":
            clear = inner
        else:
            clear = (IP(src=src, dst="192.0.2.1")
                     / UDP(sport=50000 + i, dport=4789) / VXLAN(vni=5)
                     / Ether(src="02:00:00:00:0d:%02x" % p,
                             dst="02:00:00:00:0d:10") / inner)
        seq[p] += 1
        frames.append(Ether(src=gw_mac, dst=wan_mac)
                      / sas[p].encrypt(clear, seq_num=seq[p]))
    wrpcap("%s-%d.pcap" % (out, order), frames)
EOF

# send_burst PCAP: queues PCAP's frames on the gw side while the DPDK port
# is down (the AF_PACKET ring keeps them), then lets the PMD read them.
send_burst() {
    ofctl sa mod-port br-wan wan down
    sleep 0.3
    in_ns gw "$PYTHON3" -c '
import sys
from scapy.all import rdpcap, sendp
sendp(rdpcap(sys.argv[1]), iface="wan", verbose=False)' "$1"
    sleep 0.3
    ofctl sa mod-port br-wan wan up
}

# pmd_rx: the PMD's busy iterations and received packets since the clear.
pmd_rx() {
    appctl sa dpif-netdev/pmd-perf-show \
        | sed -n 's/^ *- busy iterations: *\([0-9]*\).*/\1/p;
                  s/^ *Rx packets: *\([0-9]*\).*/\1/p' | tr '\n' ' '
}

# round MODE PORT1 PORT2: the two ports and their SAs exist; sends the
# two bursts of N frames, N / 2 for each port in each, and checks.
round() {
    local mode=$1 p1=$2 p2=$3 order got want drops p port spi iters rx
    "$PYTHON3" "$WORK/frames.py" "$mode" $N "$GW_MAC" $BR_WAN_MAC \
        "$WORK/$mode" $K2 $K3
    ofctl sa del-flows br-int
    ofctl sa add-flow br-int "in_port=$p1,actions=drop"
    ofctl sa add-flow br-int "in_port=$p2,actions=drop"
    appctl sa dpif-netdev/pmd-stats-clear >/dev/null
    for order in 1 2; do
        send_burst "$WORK/$mode-$order.pcap"
    done
    want=$N
    for p in "$p1:0x8102" "$p2:0x8103"; do
        port=${p%:*} spi=${p#*:}
        retry 50 test "$(sa_json sa "$port" "$spi" in | cut -d' ' -f1)" = $want \
            || true
        got=$(sa_json sa "$port" "$spi" in | cut -d' ' -f1)
        check "$mode 1: $port's SA $spi counted $got packets, want $want" \
            test "$got" = $want
        drops=$(sa_drops sa "$port" "$spi" in)
        check "$mode 2: $port's SA $spi dropped nothing ($drops)" \
            test "$drops" = none
        got=$(flow_stats sa br-int "in_port=${port}[ ,]" | cut -d' ' -f1)
        check "$mode 3: the flow of in_port=$port counted $got, want $want" \
            test "$got" = $want
    done
    check "$mode 2: no port drops ($(appctl sa ipsec/sa-show | grep ^port | tr '\n' ' '))" \
        not grep -q '=[a-z_]*:[0-9]' <(appctl sa ipsec/sa-show | grep '^port')
    read -r iters rx <<< "$(pmd_rx)"
    check "$mode 4: the PMD read bursts ($rx packets in $iters busy iterations)" \
        test "${iters:-0}" -gt 0 -a "${iters:-0}" -lt "${rx:-0}"
}

# Round 1: esp ports.
vsctl sa add-port br-int esp1 -- set Interface esp1 type=esp \
    options:remote_ip=192.0.2.2 options:local_ip=192.0.2.1
vsctl sa add-port br-int esp2 -- set Interface esp2 type=esp \
    options:remote_ip=192.0.2.3 options:local_ip=192.0.2.1
appctl sa ipsec/sa-add esp1 in \
    "spi=0x8102,src=192.0.2.2,dst=192.0.2.1,aead=aes-gcm-128,key=0x$K2" >/dev/null
appctl sa ipsec/sa-add esp2 in \
    "spi=0x8103,src=192.0.2.3,dst=192.0.2.1,aead=aes-gcm-128,key=0x$K3" >/dev/null
round esp esp1 esp2
appctl sa ipsec/sa-flush >/dev/null
vsctl sa del-port esp1 -- del-port esp2

# Round 2: vxlan ports with ESP in transport mode.
vsctl sa add-port br-int vx1 -- set Interface vx1 type=vxlan \
    options:remote_ip=192.0.2.2 options:local_ip=192.0.2.1 options:key=5 \
    options:ipsec=required
vsctl sa add-port br-int vx2 -- set Interface vx2 type=vxlan \
    options:remote_ip=192.0.2.3 options:local_ip=192.0.2.1 options:key=5 \
    options:ipsec=required
appctl sa ipsec/sa-add vx1 in \
    "spi=0x8102,mode=transport,aead=aes-gcm-128,key=0x$K2" >/dev/null
appctl sa ipsec/sa-add vx2 in \
    "spi=0x8103,mode=transport,aead=aes-gcm-128,key=0x$K3" >/dev/null
round vxlan vx1 vx2

vsctl sa set Open_vSwitch . other_config:pmd-cpu-mask=0 >/dev/null 2>&1 || true
echo "esp-peers: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
