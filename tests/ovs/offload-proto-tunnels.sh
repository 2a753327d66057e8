#!/bin/bash
# System test: the SAs of IPsec-required vxlan, geneve and gre ports (ESP
# in transport mode on the outer packet) on "dpdk-inline-protocol" in
# ovs-vswitchd (patch 0030).  Site A's WAN port is a DPDK port
# (net_af_packet on a veth) with the test-only software model of an
# inline-IPsec NIC in protocol mode (Interface
# other_config:ipsec-nic-model=8, ipsec-nic-model-actions=protocol); its
# three tunnel ports name it (options:ipsec-offload-port=wan).  So A's
# datapath hands the NIC the clear tunnel packets and the NIC inserts ESP
# after their IP header (sequence numbers, encryption); the NIC removes
# the ESP of what arrives (replay window, ICV) and A's datapath pops the
# clear tunnel packet as the SA's port's tunnel.  Site B runs the same
# ports in software (the ESP engine, intel-ipsec-mb; the model uses
# OpenSSL): two independent implementations of each direction.  Scapy,
# at B's end of the WAN, is a third: it decrypts A's ESP from the capture
# and sends its own ESP to A.
#
#  ns pt-ha        ns pt-sa (DPDK, 1 PMD)               ns pt-sb (system ports)     ns pt-hb
#  +----------+  +-------------------------------+  +--------------------------+  +----------+
#  | ha0      +--+ hp   br-int: vx0 (vxlan 123),  |  | br-int: vx0, gn0, gr0    +--+ hb0      |
#  | 10.0.0.1 |  |   gn0 (geneve 124), gr0 (gre  |  |   (the same, sw)         |  | 10.0.0.2 |
#  | fd00::1  |  |   125), each ipsec=required,  |  | br-wan 192.0.2.2         |  | fd00::2  |
#  +----------+  |   ipsec-offload-port=wan      |  |   wan (system; capture,  |  +----------+
#                | br-wan 192.0.2.1              |  |   Scapy)                 |
#                |   wan (dpdk, NIC model,       |  |                          |
#                |     protocol) ----------------+--+--                        |
#                +-------------------------------+  +--------------------------+
#
# The overlay's ICMP goes through gn0, the rest of its IPv4 through vx0,
# its IPv6 through gr0.  SPIs: A->B 0x2001 (vx0), 0x2002 (gn0), 0x2003
# (gr0); B->A 0x1001, 0x1002, 0x1003; a key of its own for each.
# Checks, each of which fails the test:
#   1. A's six SAs land on dpdk-inline-protocol, the model has 6 live
#      sessions and 3 rte_flow ESP rules; B's SAs run in sw;
#   2. pings both ways over gn0 (IPv4) and gr0 (IPv6), UDP over vx0: all
#      answered or delivered; for each port, A's out SA counts exactly
#      what B's in SA counts (packets and bytes) and B's out SA what A's
#      in SA counts; A's SA counters are the NIC's (sa-show offload_stats
#      opackets/ipackets) and their sums the model's proto_tx/proto_rx; no
#      drop anywhere;
#   3. 5 MB over TCP each way over vx0 arrive complete;
#   4. fail closed at output: the clear tunnel packets of gn0's out SA
#      leave only through wan, in the marked mbuf: a second port lk0 on
#      br-wan, flows that also output them to lk0 (lk0 first: lk0 gets a
#      copy; wan first: wan gets the copy), then NORMAL flooding.  Every
#      copy and every packet to lk0 is dropped (inline_wrong_port,
#      inline_unmarked, coverage ipsec_inline_leak_drop, logged); lk1
#      sees no IP packet; the originals still leave wan as ESP; a flow
#      that also sends them to the controller gives it their 14-byte
#      Ethernet header only (inline_upcall, patch 0034);
#   5. Scapy's ESP (transport mode, its own AES-GCM) from 192.0.2.2: a
#      VXLAN packet for vx0 is decapsulated by the model and delivered to
#      ha; the same with a corrupted ICV and a replay of it are refused by
#      the model (proto_rx_auth, proto_replay) and dropped and counted by
#      A's in SA as offload_auth; clear VXLAN from 192.0.2.2 is still
#      dropped as cleartext; Scapy's ESP with vx0's SPI from another
#      address (192.0.2.3) is decapsulated by the NIC but dropped as
#      proto_rx_wrong_addr, not delivered;
#   6. fail closed: without A's out SA of vx0, UDP to vx0 is dropped and
#      counted as no_out_sa; without A's in SA of vx0, the NIC leaves
#      Scapy's ESP for it encrypted and the datapath drops it (no_sa): ha
#      gets nothing; the model has 4 live sessions left;
#   7. vx0 over an IPv6 WAN (2001:db8::1 and ::2, both sites' vx0
#      reconfigured, new SAs): A's SAs on dpdk-inline-protocol, the NIC's
#      rule for the new in SA, 20 UDP datagrams each way and 2 MB over TCP
#      each way delivered, through path MTU discovery (with IPv6, VXLAN and
#      ESP, the hosts' 1400 bytes do not fit into 1500: vx0 answers with
#      ICMP, counted as ipsec_pmtu_exceeded); A's and B's SAs, the NIC's
#      counters and the model's proto_tx/proto_rx agree; no drop;
#   8. sa-flush destroys every session and rule (none orphaned);
#   9. the WAN capture has only ESP and ARP (and the clear VXLAN packet
#      Scapy sent in 5, and the sites' own ND and MLD since 7); Scapy
#      decrypts every ESP packet of A's four out SAs, each to its own
#      tunnel (VXLAN to 4789 with VNI 123 over IPv4 and over IPv6, Geneve
#      to 6081 with VNI 124, GRE with key 125); neither the ping payload
#      nor the TCP marker is in clear on the WAN.
# The PMD thread spins for about 30 s; the test reserves 128 2 MiB
# hugepages and gives back exactly those.  It skips (exit 0, with the
# reason) when DPDK cannot be initialized here, the build has no model or
# ovs-vswitchd does not drive inline protocol for tunnel ports.
#
# Usage: tests/ovs/offload-proto-tunnels.sh [OVS_BUILD_DIR]
#        (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3 with Scapy.
# Removes every namespace, veth and process it made, also on failure; ends
# only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools offload-proto-tunnels

sites_init offload-proto-tunnels pt-$$- "${1:-}"

PATTERN=c0ffee27c0ffee27                           # Ping payload.
MARKER=offload-proto-tunnels-clear-text-marker     # TCP payload.
BR_WAN_MAC=02:00:00:00:0d:01
PORTS="vx0 gn0 gr0"

skip() { skip_test offload-proto-tunnels "$*"; }
trap 'cleanup_sites offload-proto-tunnels ha sa sb hb; give_back_hugepages' EXIT

T0=$(date +%s)
grep -q proto_rx_wrong_addr "$OVS/vswitchd/ovs-vswitchd" 2>/dev/null \
    || skip "ovs-vswitchd does not drive inline protocol for tunnel ports (patch 0030)"
offload_model_preflight offload-proto-tunnels

# Port number 1-3 (vx0, gn0, gr0), its SPIs and keys (K_AB, K_BA with the
# last salt byte the port number: one key per SA).
pnum() { case $1 in vx0) echo 1 ;; gn0) echo 2 ;; gr0) echo 3 ;; esac; }
spi_ab() { echo "0x200$(pnum "$1")"; }
spi_ba() { echo "0x100$(pnum "$1")"; }
key_ab() { echo "${K_AB%??}0$(pnum "$1")"; }
key_ba() { echo "${K_BA%??}0$(pnum "$1")"; }
spec() { echo "spi=$1,mode=transport,aead=aes-gcm-128,key=$2"; }

netns_add ha sa sb hb
netns_no_ipv6 sa sb
two_site_veths sa sb hp
overlay_hosts 1400

# tunnel_ports SITE REMOTE LOCAL [COLUMN=VALUE...]: vx0, gn0 and gr0 on
# SITE's br-int, IPsec-required, with the given Interface settings, and
# the overlay's flows (see the header).
tunnel_ports() {
    local s=$1 remote=$2 local_ip=$3 p t key
    shift 3
    for p in $PORTS; do
        case $p in
            vx0) t=vxlan key=123 ;;
            gn0) t=geneve key=124 ;;
            gr0) t=gre key=125 ;;
        esac
        vsctl "$s" add-port br-int $p -- set Interface $p type=$t \
            options:remote_ip="$remote" options:local_ip="$local_ip" \
            options:key=$key options:ipsec=required "$@"
    done
    ofctl "$s" del-flows br-int
    ofctl "$s" add-flow br-int \
        "priority=200,in_port=hp,icmp,nw_dst=10.0.0.0/24,actions=gn0"
    ofctl "$s" add-flow br-int \
        "priority=100,in_port=hp,ip,nw_dst=10.0.0.0/24,actions=vx0"
    ofctl "$s" add-flow br-int \
        "priority=100,in_port=hp,ipv6,ipv6_dst=fd00::/64,actions=gr0"
    for p in $PORTS; do
        ofctl "$s" add-flow br-int "in_port=$p,actions=hp"
    done
}

# Site B: software.
start_site sb
netdev_bridge sb br-wan wan
netdev_bridge sb br-int hp
in_ns sb ip addr add 192.0.2.2/24 dev br-wan
tunnel_ports sb 192.0.2.1 192.0.2.2
for p in $PORTS; do
    appctl sb ipsec/sa-add $p out "$(spec "$(spi_ba $p)" "$(key_ba $p)")"
    appctl sb ipsec/sa-add $p in "$(spec "$(spi_ab $p)" "$(key_ab $p)")"
done
SB_WAN_MAC=$(link_mac sb br-wan)
appctl sb tnl/neigh/set br-wan 192.0.2.1 $BR_WAN_MAC >/dev/null

# Site A: DPDK, the NIC model in protocol mode on wan.
start_dpdk_site sa 0x1 ipsec-offload=true || skip "$DPDK_ERR"
PMD_T0=$(date +%s)
dpdk_wan_bridge sa $BR_WAN_MAC other_config:ipsec-nic-model=8 \
    other_config:ipsec-nic-model-actions=protocol
netdev_bridge sa br-int hp
tunnel_ports sa 192.0.2.2 192.0.2.1 options:ipsec-offload-port=wan
retry 50 test "$(vsctl sa get Interface wan link_state)" = up || true
appctl sa tnl/neigh/set br-wan 192.0.2.2 "$SB_WAN_MAC" >/dev/null
for p in $PORTS; do
    appctl sa ipsec/sa-add $p out "$(spec "$(spi_ab $p)" "$(key_ab $p)")"
    appctl sa ipsec/sa-add $p in "$(spec "$(spi_ba $p)" "$(key_ba $p)")"
done

start_wan_capture sb

model() { nic_model sa "$1"; }   # model COUNTER
# pc SITE PORT COUNTER: PORT's COUNTER (cleartext, no_out_sa, no_sa,
# proto_rx_wrong_addr, ...) from sa-show --json's port_drops, 0 if none.
pc() {
    appctl "$1" ipsec/sa-show "$2" --json | "$PYTHON3" -c '
import json, sys
print(json.load(sys.stdin)["port_drops"].get(sys.argv[1], {})
      .get(sys.argv[2], 0))
' "$2" "$3"
}
# nic PORT SPI DIR COUNTER: the NIC's COUNTER (opackets, ipackets, ...) of
# A's SA, from sa-show's offload_stats.
nic() {
    sa_field sa "$1" "$2" "$3" offload_stats \
        | sed -n "s/.*nic: .*\b$4=\([0-9]*\).*/\1/p"
}

# 1: where the SAs run.
for p in $PORTS; do
    for d in out in; do
        spi=$(spi_ab $p)
        [ $d = in ] && spi=$(spi_ba $p)
        o=$(sa_field sa $p "$spi" $d offload)
        check "1: A's $d SA of $p on dpdk-inline-protocol ($o: $(sa_field sa $p "$spi" $d offload_reason))" \
            test "$o" = dpdk-inline-protocol
    done
    check "1: B's SAs of $p in sw" \
        test "$(sa_field sb $p "$(spi_ba $p)" out offload) $(sa_field sb $p "$(spi_ab $p)" in offload)" = "sw sw"
done
check "1: the model has 6 live sessions ($(model live))" \
    test "$(model live)" = 6
check "1: the model runs in protocol mode" \
    grep -q 'actions=protocol' <(appctl sa ipsec/nic-model-show)
# The in SAs have no dst=: each rule matches its port's local_ip.
check_model_rules 1 3

# 2: pings both ways over gn0 and gr0, UDP over vx0.
check "2: warm-up ping ha -> hb (gn0)" ping_answered ha 10.0.0.2
check "2: 10 pings ha -> hb over gn0 all answered" \
    in_ns ha ping -c 10 -i 0.1 -W 2 -p $PATTERN 10.0.0.2 >/dev/null
check "2: 5 pings hb -> ha over gn0 all answered" \
    in_ns hb ping -c 5 -i 0.1 -W 2 -p $PATTERN 10.0.0.1 >/dev/null
check "2: 5 pings ha -> hb over gr0 (IPv6) all answered" \
    retry 5 in_ns ha ping -6 -c 5 -i 0.1 -W 2 -p $PATTERN fd00::2 >/dev/null
check "2: 5 pings hb -> ha over gr0 (IPv6) all answered" \
    in_ns hb ping -6 -c 5 -i 0.1 -W 2 -p $PATTERN fd00::1 >/dev/null
# udp_to HOST DST N PORT: N UDP datagrams from HOST to DST:PORT, received
# by a listener there; prints how many arrived.
udp_to() {
    local rx_host=$1 dst=$2 n=$3 port=$4 tx_host=ha rx
    [ "$rx_host" = ha ] && tx_host=hb
    in_ns "$rx_host" timeout 5 "$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[3]))); s.settimeout(2); n = 0
try:
    while n < int(sys.argv[2]):
        s.recv(2048); n += 1
except socket.timeout:
    pass
print(n)
' "$dst" "$n" "$port" > "$WORK/udp-rx.txt" &
    rx=$!
    PIDS+=("$rx")
    sleep 0.5
    in_ns "$tx_host" "$PYTHON3" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b"udp-over-vx0 %d" % i, (sys.argv[1], int(sys.argv[3])))
    time.sleep(0.02)
' "$dst" "$n" "$port"
    wait "$rx" 2>/dev/null || true
    cat "$WORK/udp-rx.txt"
}
check "2: 20 UDP datagrams ha -> hb over vx0 all delivered" \
    test "$(udp_to hb 10.0.0.2 20 7001)" = 20
check "2: 20 UDP datagrams hb -> ha over vx0 all delivered" \
    test "$(udp_to ha 10.0.0.1 20 7002)" = 20
sleep 0.5
tx_sum=0 rx_sum=0
for p in $PORTS; do
    ab=$(sa_json sa $p "$(spi_ab $p)" out)
    ab_b=$(sa_json sb $p "$(spi_ab $p)" in)
    ba=$(sa_json sa $p "$(spi_ba $p)" in)
    ba_b=$(sa_json sb $p "$(spi_ba $p)" out)
    check "2: $p: A's out SA = B's in SA ($ab; $ab_b)" \
        test "$ab" = "$ab_b" -a "${ab% *}" -ge 5
    check "2: $p: B's out SA = A's in SA ($ba_b; $ba)" \
        test "$ba" = "$ba_b" -a "${ba% *}" -ge 5
    o=$(nic $p "$(spi_ab $p)" out opackets)
    i=$(nic $p "$(spi_ba $p)" in ipackets)
    check "2: $p: the NIC's counters are the SAs' (opackets=$o, ipackets=$i)" \
        test "$o $i" = "${ab% *} ${ba% *}"
    check "2: $p: no drop at A ($(sa_drops sa $p "$(spi_ba $p)" in); $(sa_drops sa $p "$(spi_ab $p)" out))" \
        test "$(sa_drops sa $p "$(spi_ba $p)" in) $(sa_drops sa $p "$(spi_ab $p)" out)" \
        = "none none"
    check "2: $p: no drop at B ($(sa_drops sb $p "$(spi_ab $p)" in))" \
        test "$(sa_drops sb $p "$(spi_ab $p)" in)" = none
    tx_sum=$(( tx_sum + ${ab% *} ))
    rx_sum=$(( rx_sum + ${ba% *} ))
done
check "2: the model built all of A's ESP (proto_tx=$(model proto_tx), SAs $tx_sum)" \
    test "$(model proto_tx)" = $tx_sum
check "2: the model opened all of B's ESP (proto_rx=$(model proto_rx), SAs $rx_sum)" \
    test "$(model proto_rx)" = $rx_sum
check "2: no TX error in the model ($(model tx_errors) $(model proto_tx_errors))" \
    test "$(model tx_errors) $(model proto_tx_errors)" = "0 0"

# 3: TCP both ways over vx0.
check_tcp "3: 5 MB over TCP ha -> hb arrived complete" hb ha 10.0.0.2 5 "$MARKER"
check_tcp "3: 5 MB over TCP hb -> ha arrived complete" ha hb 10.0.0.1 5 "$MARKER"
check "3: still no drop at A ($(sa_drops sa vx0 0x1001 in))" \
    test "$(sa_drops sa vx0 0x1001 in)" = none

# 4: the clear tunnel packets of gn0's out SA leave through wan only, in
# the mbuf marked for the NIC.
veth lk0 sa lk1 sb
vsctl sa add-port br-wan lk0
WAN_TCPDUMP=$TCPDUMP WAN_CAPTURE=$CAPTURE
start_capture sb lk1 "$WORK/leak.pcap" -s 0
LEAK_TCPDUMP=$TCPDUMP
TCPDUMP=$WAN_TCPDUMP CAPTURE=$WAN_CAPTURE
LEAK_PORT=gn0 OUT=0x2002
leaks() { sa_field sa gn0 $OUT out "$1"; }
pings() {   # pings N: N pings from ha over gn0.
    in_ns ha ping -c "$1" -i 0.2 -W 1 -p $PATTERN -q 10.0.0.2 \
        >/dev/null 2>&1 || true
    sleep 0.3
}
inline_leak_checks 4 proto_tx 14
check "4: coverage ipsec_inline_leak_drop = $(( LEAK_W + LEAK_U ))" \
    coverage_is sa ipsec_inline_leak_drop $(( LEAK_W + LEAK_U ))
check "4: logged" grep -q "dropped a packet of inline-protocol SA 0x00002002 of port gn0 (inline_wrong_port)" \
    "$WORK/sa/ovs-vswitchd.log"
check_leak_capture 4 ip "IP packet"

# 5: Scapy's own VXLAN + ESP (transport mode) for vx0, sequence numbers
# above B's.
scapy_esp() {   # scapy_esp SEQ good|bad|clear SRC ICMP_ID
    in_ns sb "$PYTHON3" "$SCAPY_VXLAN_ESP" $BR_WAN_MAC "$(link_mac sb wan)" \
        "$(link_mac ha ha0)" "$(link_mac hb hb0)" "$(key_ba vx0 | cut -c3-)" \
        "$1" "$2" "$3" "$4"
}
# ha_gets ICMP_ID CMD...: whether ha receives an ICMP echo request with
# ICMP_ID while CMD runs.
ha_gets() {
    local id=$1 td
    shift
    rm -f "$WORK/ha-scapy.txt"
    in_ns ha timeout 3 tcpdump -c 1 -nli ha0 "icmp and icmp[4:2] = $id" \
        > "$WORK/ha-scapy.txt" 2>/dev/null &
    td=$!
    PIDS+=("$td")
    sleep 1
    "$@"
    wait $td 2>/dev/null || true
    grep -q "ICMP echo request, id $id" "$WORK/ha-scapy.txt"
}
seq=$(( $(sa_field sb vx0 0x1001 out seq) + 1000 ))
d0=$(model proto_rx)
check "5: ha got Scapy's echo request through the NIC and vx0" \
    ha_gets 4242 scapy_esp $seq good 192.0.2.2 4242
check "5: the model decapsulated it (proto_rx $d0 -> $(model proto_rx))" \
    test "$(model proto_rx)" = $(( d0 + 1 ))
a0=$(model proto_rx_auth)
scapy_esp $(( seq + 1 )) bad 192.0.2.2 4243
sleep 0.5
check "5: the model refused the bad ICV ($a0 -> $(model proto_rx_auth))" \
    test "$(model proto_rx_auth)" = $(( a0 + 1 ))
check "5: A's in SA dropped it as offload_auth ($(sa_drops sa vx0 0x1001 in))" \
    test "$(sa_drops sa vx0 0x1001 in)" = offload_auth:1
r0=$(model proto_replay)
scapy_esp $seq good 192.0.2.2 4242
sleep 0.5
check "5: the model refused the replay ($r0 -> $(model proto_replay))" \
    test "$(model proto_replay)" = $(( r0 + 1 ))
check "5: A's in SA dropped it as offload_auth ($(sa_drops sa vx0 0x1001 in))" \
    test "$(sa_drops sa vx0 0x1001 in)" = offload_auth:2
c0=$(pc sa vx0 cleartext)
check "5: clear VXLAN from 192.0.2.2 does not reach ha" \
    not ha_gets 4244 scapy_esp 0 clear 192.0.2.2 4244
check "5: and is dropped as cleartext ($(port_line sa vx0))" \
    test "$(pc sa vx0 cleartext)" = $(( c0 + 1 ))
check "5: vx0's ESP from 192.0.2.3 does not reach ha" \
    not ha_gets 4245 scapy_esp $(( seq + 2 )) good 192.0.2.3 4245
check "5: the NIC decapsulated it, the datapath dropped it ($(port_line sa vx0))" \
    test "$(pc sa vx0 proto_rx_wrong_addr)" = 1

check_model_rules 5 3

# 6: fail closed.
f0=$(flow_stats sa br-int 'actions=(output:)?"?vx0"?$')
appctl sa ipsec/sa-del vx0 0x2001 out >/dev/null
udp_to hb 10.0.0.2 5 7003 > "$WORK/udp-fc.txt"
check "6: no UDP over vx0 without its out SA ($(cat "$WORK/udp-fc.txt"))" \
    test "$(cat "$WORK/udp-fc.txt")" = 0
f1=$(flow_stats sa br-int 'actions=(output:)?"?vx0"?$')
check "6: counted as no_out_sa ($(port_line sa vx0), sent $(( ${f1% *} - ${f0% *} )))" \
    test "$(pc sa vx0 no_out_sa)" = $(( ${f1% *} - ${f0% *} )) \
    -a $(( ${f1% *} - ${f0% *} )) -ge 5
appctl sa ipsec/sa-del vx0 0x1001 in >/dev/null
check "6: Scapy's ESP for the deleted in SA does not reach ha" \
    not ha_gets 4246 scapy_esp $(( seq + 3 )) good 192.0.2.2 4246
check "6: it stayed ESP and was dropped as no_sa ($(port_line sa vx0))" \
    test "$(pc sa vx0 no_sa)" = 1
retry 30 test "$(model live)" = 4 || true
check "6: the model has 4 live sessions left ($(model live))" \
    test "$(model live)" = 4

# 7: vx0 over an IPv6 WAN (2001:db8::1 and ::2), on inline protocol
# again: new SAs (SPIs 0x2011 A->B, 0x1011 B->A, keys of their own),
# UDP both ways, TCP both ways through the path MTU (the hosts' 1400 bytes
# do not fit into 1500 with IPv6, VXLAN and the NIC's ESP: vx0 answers
# "fragmentation needed"), the counters as in 2.
for s in sa sb; do
    in_ns $s sysctl -qw net.ipv6.conf.br-wan.disable_ipv6=0
done
in_ns sa ip addr add 2001:db8::1/64 dev br-wan nodad
in_ns sb ip addr add 2001:db8::2/64 dev br-wan nodad
appctl sb ipsec/sa-flush vx0 >/dev/null
vsctl sa set Interface vx0 options:remote_ip=2001:db8::2 \
    options:local_ip=2001:db8::1
vsctl sb set Interface vx0 options:remote_ip=2001:db8::1 \
    options:local_ip=2001:db8::2
appctl sa tnl/neigh/set br-wan 2001:db8::2 "$SB_WAN_MAC" >/dev/null
appctl sb tnl/neigh/set br-wan 2001:db8::1 $BR_WAN_MAC >/dev/null
K6_AB=${K_AB%??}11 K6_BA=${K_BA%??}11
appctl sa ipsec/sa-add vx0 out "$(spec 0x2011 "$K6_AB")"
appctl sa ipsec/sa-add vx0 in "$(spec 0x1011 "$K6_BA")"
appctl sb ipsec/sa-add vx0 out "$(spec 0x1011 "$K6_BA")"
appctl sb ipsec/sa-add vx0 in "$(spec 0x2011 "$K6_AB")"
for d in out in; do
    spi=0x2011
    [ $d = in ] && spi=0x1011
    o=$(sa_field sa vx0 $spi $d offload)
    check "7: A's $d SA of vx0 over IPv6 on dpdk-inline-protocol ($o: $(sa_field sa vx0 $spi $d offload_reason))" \
        test "$o" = dpdk-inline-protocol
done
# gn0 and gr0: one rule each; vx0's in SA: one, for 2001:db8::1.
check_model_rules 7 3
tx0=$(model proto_tx) rx0=$(model proto_rx)
big0=$(appctl sa coverage/read-counter ipsec_pmtu_exceeded)
check "7: 20 UDP datagrams ha -> hb over vx0 (IPv6 WAN) all delivered" \
    retry 3 test "$(udp_to hb 10.0.0.2 20 7011)" = 20
check "7: 20 UDP datagrams hb -> ha over vx0 (IPv6 WAN) all delivered" \
    test "$(udp_to ha 10.0.0.1 20 7012)" = 20
sleep 0.5
ab=$(sa_json sa vx0 0x2011 out) ab_b=$(sa_json sb vx0 0x2011 in)
ba=$(sa_json sa vx0 0x1011 in) ba_b=$(sa_json sb vx0 0x1011 out)
check "7: A's out SA = B's in SA ($ab; $ab_b)" \
    test "$ab" = "$ab_b" -a "${ab% *}" -ge 20
check "7: B's out SA = A's in SA ($ba_b; $ba)" \
    test "$ba" = "$ba_b" -a "${ba% *}" -ge 20
check_tcp "7: 2 MB over TCP ha -> hb (IPv6 WAN) arrived complete" hb ha \
    10.0.0.2 2 "$MARKER"
check_tcp "7: 2 MB over TCP hb -> ha (IPv6 WAN) arrived complete" ha hb \
    10.0.0.1 2 "$MARKER"
sleep 0.5
# With TCP at full speed, B's ovs-vswitchd (a system port, AF_PACKET)
# may not read all of A's ESP in time: B's in SA misses at most what its
# socket dropped (TCP resends those).  A's own counters agree exactly.
ab=$(sa_json sa vx0 0x2011 out) ab_b=$(sa_json sb vx0 0x2011 in)
ba=$(sa_json sa vx0 0x1011 in) ba_b=$(sa_json sb vx0 0x1011 out)
lost=$(( ${ab% *} - ${ab_b% *} )) drops=$(sock_drops sb)
check "7: B's in SA missed no more of A's ESP than B's socket dropped ($ab; $ab_b; dropped ${drops:-?})" \
    test "${ab% *}" -ge 100 -a "$lost" -ge 0 -a "$lost" -le "${drops:-0}"
check "7: B's out SA = A's in SA ($ba_b; $ba)" \
    test "$ba" = "$ba_b" -a "${ba% *}" -ge 100
o=$(nic vx0 0x2011 out opackets)
i=$(nic vx0 0x1011 in ipackets)
check "7: the NIC's counters are the SAs' (opackets=$o, ipackets=$i)" \
    test "$o $i" = "${ab% *} ${ba% *}"
check "7: the model built A's ESP (proto_tx +$(( $(model proto_tx) - tx0 )))" \
    test $(( $(model proto_tx) - tx0 )) = "${ab% *}"
check "7: the model opened B's ESP (proto_rx +$(( $(model proto_rx) - rx0 )))" \
    test $(( $(model proto_rx) - rx0 )) = "${ba% *}"
check "7: no drop at A ($(sa_drops sa vx0 0x1011 in); $(sa_drops sa vx0 0x2011 out))" \
    test "$(sa_drops sa vx0 0x1011 in) $(sa_drops sa vx0 0x2011 out)" \
    = "none none"
big=$(( $(appctl sa coverage/read-counter ipsec_pmtu_exceeded) - big0 ))
check "7: vx0 answered packets too big for the IPv6 path ($big; $(port_line sa vx0))" \
    test "$big" -ge 1

# 8: deleting the other SAs destroys the sessions.
for p in vx0 gn0 gr0; do
    appctl sa ipsec/sa-flush $p >/dev/null
done
check_model_sessions_gone 8

# 9: the wire.
stop_wan_capture
# Nothing but ESP and ARP (and, since 7, the sites' own ND and MLD),
# except the clear VXLAN packet Scapy sent in 5.
n_esp=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null | wc -l)
tcpdump -nr "$WORK/wan.pcap" "not esp and not arp and not $(nd_mld)" \
    2>/dev/null > "$WORK/wan-other.txt"
check "9: ESP on the WAN ($n_esp packets)" test "$n_esp" -ge 100
check "9: nothing but ESP and ARP on the WAN, and Scapy's clear VXLAN ($(tr '\n' ' ' < "$WORK/wan-other.txt"))" \
    test "$(grep -c '^[0-9]' "$WORK/wan-other.txt")" = 1 \
    -a "$(grep -c '192.0.2.2.40000 > 192.0.2.1.4789: VXLAN' "$WORK/wan-other.txt")" = 1 \
    -a "$(grep -c 'ICMP echo request, id 4244' "$WORK/wan-other.txt")" = 1
cat > "$WORK/decrypt.py" <<'EOF'
import sys
from scapy.all import rdpcap
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
want = {0x2001: ("udp", 4789, 123), 0x2002: ("udp", 6081, 124),
        0x2003: ("gre", 0, 125), 0x2011: ("udp", 4789, 123)}
sas = {int(spi, 0): SecurityAssociation(ESP, spi=int(spi, 0),
                                        crypt_algo="AES-GCM",
                                        crypt_key=bytes.fromhex(key[2:]))
       for spi, key in zip(sys.argv[2::2], sys.argv[3::2])}
ok = {spi: 0 for spi in want}
bad = 0
for p in rdpcap(sys.argv[1]):
    # A's ESP: over IPv4 from 1 to 6, over IPv6 (vx0 only) in 7.
    if IP in p and p[IP].proto == 50 and p[IP].src == "192.0.2.1":
        outer = IP(bytes(p[IP]))
    elif (IPv6 in p and p[IPv6].nh == 50
          and p[IPv6].src == "2001:db8::1"):
        outer = IPv6(bytes(p[IPv6]))
    else:
        continue
    spi = p[ESP].spi
    try:
        ip = sas[spi].decrypt(outer)
        nxt = ip.proto if ip.version == 4 else ip.nh
        raw = bytes(ip.payload)
        kind, dport, vni = want[spi]
        if kind == "udp":
            good = (nxt == 17 and UDP in ip and ip[UDP].dport == dport
                    and int.from_bytes(raw[12:15], "big") == vni)
        else:
            # GRE with the key bit: flags, protocol, then the key.
            good = (nxt == 47 and raw[0] & 0x20
                    and int.from_bytes(raw[4:8], "big") == vni)
    except Exception:
        good = False
    if good:
        ok[spi] += 1
    else:
        bad += 1
print(bad, " ".join("%d" % ok[s] for s in sorted(ok)))
EOF
res=$("$PYTHON3" "$WORK/decrypt.py" "$WORK/wan.pcap" \
    0x2001 "$(key_ab vx0)" 0x2002 "$(key_ab gn0)" 0x2003 "$(key_ab gr0)" \
    0x2011 "$K6_AB")
n_cap=""
for p in $PORTS; do
    n_cap="$n_cap $(tcpdump -nr "$WORK/wan.pcap" \
        "src host 192.0.2.1 and esp and ip[20:4] = $(spi_ab $p)" 2>/dev/null \
        | wc -l)"
done
n_cap="$n_cap $(tcpdump -nr "$WORK/wan.pcap" \
    "src host 2001:db8::1 and esp and ip6[40:4] = 0x2011" 2>/dev/null | wc -l)"
check "9: Scapy decrypted every ESP packet of A's out SAs, each to its tunnel (bad, vx0 gn0 gr0 vx0-over-IPv6: $res; captured:$n_cap)" \
    test "$res" = "0$n_cap"
read -r _ n_vx n_gn n_gr n_vx6 <<< "$res"
check "9: and there were some of each ($n_vx $n_gn $n_gr $n_vx6)" \
    test "$n_vx" -ge 20 -a "$n_gn" -ge 10 -a "$n_gr" -ge 5 -a "$n_vx6" -ge 100
check "9: no clear-text ping payload on the WAN" not hex_on_wan $PATTERN
check "9: no clear-text TCP payload on the WAN" not wan_has_ascii "$MARKER"
check_no_key_in_logs

echo "offload-proto-tunnels: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s, PMD up ${PMD_S} s)"
[ "$FAIL" -eq 0 ]
