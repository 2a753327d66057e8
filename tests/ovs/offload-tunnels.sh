#!/bin/bash
# System test: the SAs of an IPsec-required vxlan port (ESP in transport
# mode) on "dpdk-inline-crypto" in ovs-vswitchd.  Site A's WAN port is a
# DPDK port (net_af_packet on a veth) with the test-only software model of
# an inline-crypto NIC (Interface other_config:ipsec-nic-model, SA table
# 2); its vxlan port names it (options:ipsec-offload-port=wan), so the
# datapath builds ESP around the VXLAN packet and the model encrypts it
# with OpenSSL, and the model decrypts what arrives before the datapath
# checks and pops it.  Site B is the same vxlan port in software (the ESP
# engine, intel-ipsec-mb): two independent implementations of each
# direction.  Scapy, at site B's end of the WAN, plays B once more.
#
#  ns ot-ha        ns ot-sa (DPDK, 1 PMD)           ns ot-sb (system ports)     ns ot-hb
#  +----------+  +----------------------------+  +--------------------------+  +----------+
#  | ha0      +--+ hp   br-int: vx0 (vxlan,   |  | br-int: vx0 (vxlan, sw)  +--+ hb0      |
#  | 10.0.0.1 |  |   ipsec-offload-port=wan)  |  | br-wan 192.0.2.2         |  | 10.0.0.2 |
#  +----------+  | br-wan 192.0.2.1           |  |   wan (system; capture,  |  +----------+
#                |   wan (dpdk, NIC model) ---+--+--- Scapy)               |
#                +----------------------------+  +--------------------------+
#
# Checks, each of which fails the test:
#   1. both SAs of A's vx0 land on dpdk-inline-crypto, the model has 2 live
#      sessions and, for the in SA (no dst=), an rte_flow ESP rule with
#      vx0's local_ip (the model, like ixgbe, takes no rule without the
#      address); B's SAs run in sw;
#   2. pings both ways all answered; A's out SA counts what B's in SA
#      counts and the model encrypted at least as many; A's in SA counts
#      what B's out SA counts and the model decrypted at least as many; no
#      drop anywhere, and (with an esp port es0 to another peer beside
#      vx0) none of vx0's ESP went the esp ports' inline receive path;
#   3. 10 MB over TCP from ha to hb and 10 MB from hb to ha arrive
#      complete;
#   4. a third SA finds the model's SA table (2) full: it runs in sw, and
#      its reason says why;
#   5. the NIC's plaintext stays in the datapath: a mirror of what br-wan
#      receives on wan, to an internal port lk0, copies the inbound ESP
#      that the model decrypted in place; the datapath drops each copy
#      (inline_rx_output on the in SA), lk0 sees no ESP, and the pings
#      still go through.  Then flows also send vx0's ESP, both ways, to
#      the controller (ovs-ofctl monitor): each packet-in is the packet's
#      headers only, up to the ESP header (42 bytes; counted as
#      inline_upcall on the SA), never the payload, and the pings still go
#      through; then a flow that pops the inbound ESP and also outputs it
#      to lk0: the pop takes a clone, which keeps the NIC's "decrypted"
#      flag (no auth drop, the pings go through), and lk0's copy is
#      dropped;
#   6. Scapy's own VXLAN + ESP (transport mode) from 192.0.2.2 is
#      decrypted by the model and delivered to ha; the same with a
#      corrupted ICV is flagged RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED by the
#      model and dropped by the datapath as offload_auth;
#   7. sa-flush destroys every session and rule (none orphaned); before
#      it, no ESP of a live session went without its rule;
#   8. the WAN capture has only ESP and ARP (no clear VXLAN), and no
#      clear-text payload.
# The PMD thread spins for about 20 s; the test reserves 128 2 MiB
# hugepages and gives back exactly those.  It skips (exit 0, with the
# reason) when DPDK cannot be initialized here or the build has no model.
#
# Usage: tests/ovs/offload-tunnels.sh [OVS_BUILD_DIR] (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3 with Scapy.
# Removes every namespace, veth and process it made, also on failure; ends
# only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools offload-tunnels

sites_init offload-tunnels ot-$$- "${1:-}"

PATTERN=c0ffee17c0ffee17                           # Ping payload.
MARKER=offload-tunnels-clear-text-marker           # TCP payload.
BR_WAN_MAC=02:00:00:00:0c:01
GCM="mode=transport,aead=aes-gcm-128"

skip() { skip_test offload-tunnels "$*"; }
trap 'cleanup_sites offload-tunnels ha sa sb hb; give_back_hugepages' EXIT

T0=$(date +%s)
offload_model_preflight offload-tunnels

netns_add ha sa sb hb
netns_no_ipv6 sa sb
two_site_veths sa sb hp
overlay_hosts 1400

# Site B: software.
vxlan_esp_site sb 192.0.2.2 192.0.2.1 "spi=0x1001,$GCM,key=$K_BA" \
    "spi=0x2001,$GCM,key=$K_AB"
SB_WAN_MAC=$(link_mac sb br-wan)
appctl sb tnl/neigh/set br-wan 192.0.2.1 $BR_WAN_MAC >/dev/null

# Site A: DPDK, the NIC model on wan.
start_dpdk_site sa 0x1 ipsec-offload=true || skip "$DPDK_ERR"
PMD_T0=$(date +%s)
dpdk_wan_bridge sa $BR_WAN_MAC other_config:ipsec-nic-model=2
netdev_bridge sa br-int hp
vsctl sa add-port br-int vx0 -- set Interface vx0 type=vxlan \
    options:remote_ip=192.0.2.2 options:local_ip=192.0.2.1 \
    options:key=123 options:ipsec=required options:ipsec-offload-port=wan
# An esp port to another peer: the inline-crypto receive shortcut of esp
# ports (patch 0029) is then active, and must leave vx0's ESP alone.
vsctl sa add-port br-int es0 -- set Interface es0 type=esp \
    options:remote_ip=192.0.2.9
retry 50 test "$(vsctl sa get Interface wan link_state)" = up || true
appctl sa tnl/neigh/set br-wan 192.0.2.2 "$SB_WAN_MAC" >/dev/null
ofctl sa del-flows br-int
ofctl sa add-flow br-int "in_port=hp,ip,nw_dst=10.0.0.0/24,actions=vx0"
ofctl sa add-flow br-int "in_port=vx0,actions=hp"
appctl sa ipsec/sa-add vx0 out "spi=0x2001,$GCM,key=$K_AB"
appctl sa ipsec/sa-add vx0 in "spi=0x1001,$GCM,key=$K_BA"

start_wan_capture sb

model() { nic_model sa "$1"; }   # model COUNTER

# 1: where the SAs run.
check "1: A's out SA on dpdk-inline-crypto ($(sa_field sa vx0 0x2001 out offload))" \
    test "$(sa_field sa vx0 0x2001 out offload)" = dpdk-inline-crypto
check "1: A's in SA on dpdk-inline-crypto ($(sa_field sa vx0 0x1001 in offload))" \
    test "$(sa_field sa vx0 0x1001 in offload)" = dpdk-inline-crypto
check "1: the model has 2 live sessions ($(model live))" \
    test "$(model live)" = 2
# The in SA has no dst=: its rule matches vx0's local_ip (the model, like
# ixgbe, needs the address in a rule).
check_model_rules 1 1
check "1: B's SAs in sw ($(sa_field sb vx0 0x1001 out offload), $(sa_field sb vx0 0x2001 in offload))" \
    test "$(sa_field sb vx0 0x1001 out offload) $(sa_field sb vx0 0x2001 in offload)" = "sw sw"

# 2: pings both ways.
check "2: warm-up ping ha -> hb" ping_answered ha 10.0.0.2
check "2: 10 pings ha -> hb all answered" \
    in_ns ha ping -c 10 -i 0.1 -W 2 -p $PATTERN 10.0.0.2 >/dev/null
check "2: 5 pings hb -> ha all answered" \
    in_ns hb ping -c 5 -i 0.1 -W 2 -p $PATTERN 10.0.0.1 >/dev/null
ab=$(sa_json sa vx0 0x2001 out)
ab_b=$(sa_json sb vx0 0x2001 in)
ba=$(sa_json sa vx0 0x1001 in)
ba_b=$(sa_json sb vx0 0x1001 out)
check "2: A's out SA = B's in SA ($ab; $ab_b)" test "$ab" = "$ab_b"
check "2: B's out SA = A's in SA ($ba_b; $ba)" test "$ba" = "$ba_b"
check "2: the model encrypted them (tx_encrypted=$(model tx_encrypted), ${ab% *})" \
    test "$(model tx_encrypted)" -ge "${ab% *}" -a "${ab% *}" -ge 16
check "2: the model decrypted them (rx_decrypted=$(model rx_decrypted), ${ba% *})" \
    test "$(model rx_decrypted)" -ge "${ba% *}" -a "${ba% *}" -ge 16
check "2: no drop at A ($(port_line sa vx0); $(sa_drops sa vx0 0x1001 in))" \
    test "$(sa_drops sa vx0 0x1001 in) $(sa_drops sa vx0 0x2001 out)" \
    = "none none"
check "2: no drop at B ($(sa_drops sb vx0 0x2001 in))" \
    test "$(sa_drops sb vx0 0x2001 in)" = none
check "2: no TX error in the model ($(model tx_errors))" \
    test "$(model tx_errors)" = 0
check "2: none of it took the esp ports' inline receive path" \
    test "$(appctl sa coverage/read-counter ipsec_inline_rx)" = 0

# 3: TCP both ways.
check_tcp "3: 10 MB over TCP ha -> hb arrived complete" hb ha 10.0.0.2 10 "$MARKER"
check_tcp "3: 10 MB over TCP hb -> ha arrived complete" ha hb 10.0.0.1 10 "$MARKER"
check "3: still no drop at A ($(sa_drops sa vx0 0x1001 in))" \
    test "$(sa_drops sa vx0 0x1001 in)" = none

# 4: the model's SA table (2) is full.
appctl sa ipsec/sa-add vx0 in "spi=0x1003,$GCM,key=$K_BA"
check "4: third SA in sw ($(sa_field sa vx0 0x1003 in offload))" \
    test "$(sa_field sa vx0 0x1003 in offload)" = sw
reason=$(sa_field sa vx0 0x1003 in offload_reason)
check "4: its reason names dpdk-inline-crypto and the table ($reason)" \
    grep -q 'dpdk-inline-crypto: .*full' <<< "$reason"

# 5: the NIC's plaintext stays in the datapath.  a. A mirror of what
# br-wan receives on wan, to lk0.
vsctl sa add-port br-wan lk0 -- set Interface lk0 type=internal
retry 50 in_ns sa ip link show lk0 >/dev/null 2>&1 || true
in_ns sa ip link set lk0 up
vsctl sa -- --id=@w get Port wan -- --id=@p get Port lk0 \
    -- --id=@m create Mirror name=m0 select_src_port=@w output_port=@p \
    -- set Bridge br-wan mirrors=@m >/dev/null
ip netns exec "$(ns sa)" tcpdump -nli lk0 -U -w "$WORK/lk0.pcap" \
    'esp or udp port 4789' 2>"$WORK/lk0-tcpdump.log" &
LK0_TD=$!
PIDS+=("$LK0_TD")
retry 50 grep -q listening "$WORK/lk0-tcpdump.log" 2>/dev/null || true
r0=$(sa_field sa vx0 0x1001 in inline_rx_output)
check "5a: 5 pings ha -> hb answered while br-wan mirrors wan to lk0" \
    quiet in_ns ha ping -c 5 -i 0.1 -W 2 -p $PATTERN 10.0.0.2
sleep 0.5
kill "$LK0_TD" 2>/dev/null || true
wait "$LK0_TD" 2>/dev/null || true
check "5a: the 5 mirrored replies dropped as inline_rx_output ($r0 -> $(sa_field sa vx0 0x1001 in inline_rx_output))" \
    test "$(sa_field sa vx0 0x1001 in inline_rx_output)" = $(( r0 + 5 ))
check "5a: lk0 got no ESP or VXLAN ($(tcpdump -nr "$WORK/lk0.pcap" 2>/dev/null | wc -l) packets)" \
    test "$(tcpdump -nr "$WORK/lk0.pcap" 2>/dev/null | wc -l)" = 0
check "5a: the port line counts them ($(port_line sa vx0))" \
    port_line_has sa vx0 "inline_rx_output=$(( r0 + 5 ))"
check "5a: logged" grep -q "dropped a packet of inbound inline-crypto SA 0x00001001 of port vx0 (inline_rx_output)" \
    "$WORK/sa/ovs-vswitchd.log"
vsctl sa -- --id=@m get Mirror m0 -- remove Bridge br-wan mirrors @m \
    >/dev/null
# b. Both directions' ESP to the controller too: headers only.
ip netns exec "$(ns sa)" env OVS_RUNDIR="$WORK/sa" ovs-ofctl monitor \
    br-wan 65534 -P nxt_packet_in >"$WORK/monitor.log" 2>&1 &
PIDS+=("$!")
sleep 0.5
ofctl sa add-flow br-wan \
    "priority=40000,in_port=wan,ip,nw_proto=50,actions=controller,LOCAL"
ofctl sa add-flow br-wan \
    "priority=40000,in_port=LOCAL,udp,tp_dst=4789,actions=controller,wan"
appctl sa revalidator/wait >/dev/null
u_in=$(sa_field sa vx0 0x1001 in inline_upcall)
u_out=$(sa_field sa vx0 0x2001 out inline_upcall)
check "5b: 4 pings ha -> hb answered with the flows to the controller" \
    quiet in_ns ha ping -c 4 -i 0.1 -W 2 -p $PATTERN 10.0.0.2
sleep 0.5
pins=$(grep -c "total_len=" "$WORK/monitor.log" || true)
check "5b: the controller got 8 packet-ins ($pins)" test "$pins" = 8
check "5b: each one 42 bytes, up to the ESP header ($(grep -o 'total_len=[0-9]*' "$WORK/monitor.log" | sort | uniq -c | tr '\n' ' '))" \
    test "$(grep -o 'total_len=[0-9]*' "$WORK/monitor.log" | sort -u)" \
    = total_len=42
check "5b: counted as inline_upcall on both SAs (in $u_in -> $(sa_field sa vx0 0x1001 in inline_upcall), out $u_out -> $(sa_field sa vx0 0x2001 out inline_upcall))" \
    test "$(sa_field sa vx0 0x1001 in inline_upcall) $(sa_field sa vx0 0x2001 out inline_upcall)" \
    = "$(( u_in + 4 )) $(( u_out + 4 ))"
check "5b: ipsec/stats counts them ($(appctl sa ipsec/stats | grep inline_upcall))" \
    test "$(appctl sa ipsec/stats | grep inline_upcall | tr -d ' ')" \
    = "inline_upcall:$(( u_in + u_out + 8 ))"
ofctl sa --strict del-flows br-wan "priority=40000,in_port=LOCAL,udp,tp_dst=4789"
# c. A flow that pops the inbound ESP first and then also sends it to lk0:
# the pop takes a clone, which must keep the NIC's "decrypted" flag
# (patch 0035; without it the clone's plaintext is decrypted again and
# dropped as auth), and lk0 the original (inline_rx_output).
ofctl sa --strict mod-flows br-wan \
    "priority=40000,in_port=wan,ip,nw_proto=50,actions=LOCAL,lk0"
appctl sa revalidator/wait >/dev/null
r0=$(sa_field sa vx0 0x1001 in inline_rx_output)
check "5c: 5 pings ha -> hb answered with a flow that pops, then outputs to lk0" \
    quiet in_ns ha ping -c 5 -i 0.1 -W 2 -p $PATTERN 10.0.0.2
check "5c: no drop on the in SA ($(sa_drops sa vx0 0x1001 in))" \
    test "$(sa_drops sa vx0 0x1001 in)" = none
check "5c: the 5 replies to lk0 dropped as inline_rx_output ($r0 -> $(sa_field sa vx0 0x1001 in inline_rx_output))" \
    test "$(sa_field sa vx0 0x1001 in inline_rx_output)" = $(( r0 + 5 ))
ofctl sa --strict del-flows br-wan "priority=40000,in_port=wan,ip,nw_proto=50"

# 6: Scapy's VXLAN + ESP, good and with a corrupted ICV, sequence numbers
# above B's.
scapy_esp() {   # scapy_esp SEQ good|bad
    in_ns sb "$PYTHON3" "$SCAPY_VXLAN_ESP" $BR_WAN_MAC "$(link_mac sb wan)" \
        "$(link_mac ha ha0)" "$(link_mac hb hb0)" "${K_BA#0x}" "$1" "$2" \
        192.0.2.2 4242
}
seq=$(( $(sa_field sb vx0 0x1001 out seq) + 1000 ))
d0=$(model rx_decrypted)
f0=$(flow_stats sa br-int 'in_port=vx0')
in_ns ha timeout 10 tcpdump -c 1 -nli ha0 'icmp and icmp[4:2] = 4242' \
    > "$WORK/ha-scapy.txt" 2>/dev/null &
TD=$!
PIDS+=("$TD")
sleep 1
scapy_esp $seq good
wait $TD 2>/dev/null || true
check "6: ha got Scapy's echo request ($(head -1 "$WORK/ha-scapy.txt"))" \
    grep -q '10.0.0.2 > 10.0.0.1: ICMP echo request, id 4242' \
    "$WORK/ha-scapy.txt"
check "6: the model decrypted it (rx_decrypted $d0 -> $(model rx_decrypted))" \
    test "$(model rx_decrypted)" -gt "$d0"
f1=$(flow_stats sa br-int 'in_port=vx0')
check "6: it left vx0 ($f0 -> $f1)" test "${f1% *}" -gt "${f0% *}"
x0=$(model rx_failed)
scapy_esp $(( seq + 1 )) bad
sleep 0.5
check "6: the model flagged the bad ICV ($x0 -> $(model rx_failed))" \
    test "$(model rx_failed)" = $(( x0 + 1 ))
check "6: A's in SA dropped it as offload_auth ($(sa_drops sa vx0 0x1001 in))" \
    test "$(sa_drops sa vx0 0x1001 in)" = offload_auth:1

check_model_rules 6 1

# 7: deleting the SAs destroys the sessions.
appctl sa ipsec/sa-flush vx0 >/dev/null
check_model_sessions_gone 7

# 8: the wire.
stop_wan_capture
check_wan_esp_only 1000
check "8: no clear-text ping payload on the WAN" not hex_on_wan $PATTERN
check "8: no clear-text TCP payload on the WAN" not wan_has_ascii "$MARKER"
check_no_key_in_logs

echo "offload-tunnels: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s, PMD up ${PMD_S} s)"
[ "$FAIL" -eq 0 ]
