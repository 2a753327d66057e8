#!/bin/bash
# System test: an ESP port's SAs on "dpdk-inline-protocol" in ovs-vswitchd.
# The site's WAN port is a DPDK port (net_af_packet on a veth) with the
# test-only software model of an inline-IPsec NIC in protocol mode
# (Interface other_config:ipsec-nic-model=2,
# other_config:ipsec-nic-model-actions=protocol; offload/sec-model.h): the
# NIC does all of ESP.  The esp port names it
# (options:ipsec-offload-port=wan).  The peer is Scapy's independent ESP
# (tests/ovs/scapy-gateway.py) with the same SAs.
#
#  ns op-ha            ns op-sa (DPDK, 1 PMD)             ns op-gw
#  +----------+  +--------------------------------+  +-------------------+
#  | ha0      +--+ hp (system, main thread)       |  | scapy-gateway.py  |
#  | 10.1.0.2 |  |   br-int: esp0 (type=esp,      |  |  192.0.2.2, with  |
#  +----------+  |     ipsec-offload-port=wan)    |  |  10.2.0.2 behind  |
#                |   br-wan 192.0.2.1             |  |                   |
#                |   wan (dpdk, net_af_packet,    |  |                   |
#                |     NIC model, protocol) ------+--+ wan (capture)     |
#                |   lk0 (system, check 6) -------+--+ lk1 (capture)     |
#                +--------------------------------+  +-------------------+
#
# Checks, each of which fails the test:
#   1. both SAs of esp0 land on dpdk-inline-protocol (sa-show text and
#      --json, with the datapath's and the NIC's counters), the model has
#      2 live sessions and the in SA's rte_flow ESP rule;
#   2. ha pings 10.2.0.2 and Scapy pings ha: all answered; Scapy verified
#      every ESP (the model built all of it from the clear inner packets);
#      the out SA's datapath count = the model's proto_tx = what Scapy
#      decrypted; the in SA's = the model's proto_rx = what Scapy sent;
#      ha's packets were copied into mbufs (inline_tx_copy); the NIC's
#      soft packet lifetime (soft-packets=4 on the out SA) reached
#      sa-show as an event and the log;
#   3. ESP from Scapy with a corrupted ICV: the model flags it failed,
#      the datapath drops and counts it as offload_auth;
#   4. a replayed ESP packet (valid ICV, a sequence number the model has
#      seen): the model's replay window refuses it (proto_replay), the
#      datapath drops and counts it as offload_auth; a fresh one passes;
#   5. path MTU: a 1500-byte DF ping does not fit once the NIC adds ESP:
#      answered with "fragmentation needed" (pmtu_exceeded);
#   6. fail closed: the clear inner packets of the out SA may leave only
#      through wan, in the marked mbuf: a second port lk0 on br-wan, flows
#      that also output them to lk0 (lk0 first: lk0 gets a copy; wan
#      first: wan gets the copy), then NORMAL flooding.  Every copy and
#      every packet to lk0 is dropped (inline_wrong_port/inline_unmarked,
#      coverage ipsec_inline_leak_drop, logged); lk1 sees no ICMP and no
#      clear-text payload; the originals still leave wan as ESP; a flow
#      that also sends them to the controller gives it their 14-byte
#      Ethernet header only (inline_upcall, patch 0034);
#   7. sa-del of both SAs destroys the sessions and the rule (none
#      orphaned; before it, no ESP of a live session went without its
#      rule): the model has 0 live;
#   8. the WAN capture has only ESP and ARP, and no clear-text payload.
# The PMD thread spins for about 20 s; the test reserves 128 2 MiB
# hugepages and gives back exactly those.  It skips (exit 0, with the
# reason) when DPDK cannot be initialized here or the build has no model.
#
# Usage: tests/ovs/offload-proto.sh [OVS_BUILD_DIR] (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3 with Scapy.
# Removes every namespace, veth and process it made, also on failure; ends
# only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools offload-proto
GATEWAY=$(cd "$(dirname "$0")" && pwd)/scapy-gateway.py
SCAPY_ESP=$(cd "$(dirname "$0")" && pwd)/scapy-esp.py

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
WORK=$(mktemp -d /tmp/offload-proto.XXXXXX)
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=op-$$-
PIDS=()
PASS=0
FAIL=0
PATTERN=c0ffee17c0ffee17
BR_WAN_MAC=02:00:00:00:0b:01
K16=000102030405060708090a0b0c0d0e0f
SALT_O=c0c1c2c3 SALT_I=d0d1d2d3
OUT=0x7201 IN=0x7202

skip() { skip_test offload-proto "$*"; }
trap 'cleanup_sites offload-proto ha sa gw; give_back_hugepages' EXIT

T0=$(date +%s)
grep -q ipsec-nic-model-actions "$OVS/vswitchd/ovs-vswitchd" 2>/dev/null \
    || skip "ovs-vswitchd does not drive inline protocol (patch 0014)"
offload_model_preflight offload-proto

offload_site_net

start_dpdk_site sa 0x1 ipsec-offload=true || skip "$DPDK_ERR"

PMD_T0=$(date +%s)
dpdk_wan_bridge sa $BR_WAN_MAC other_config:ipsec-nic-model=2 \
    other_config:ipsec-nic-model-actions=protocol
vsctl sa add-br br-int -- set bridge br-int datapath_type=netdev
vsctl sa add-port br-int hp
vsctl sa add-port br-int esp0 -- set Interface esp0 type=esp \
    options:remote_ip=192.0.2.2 options:local_ip=192.0.2.1 \
    options:ipsec-offload-port=wan
retry 50 test "$(vsctl sa get Interface wan link_state)" = up || true
appctl sa tnl/neigh/set br-wan 192.0.2.2 "$GW_MAC" >/dev/null
ofctl sa del-flows br-int
ofctl sa add-flow br-int "in_port=esp0,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$HA_MAC,hp"

start_wan_capture gw

appctl sa ipsec/sa-add esp0 out \
    "spi=$OUT,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=0x$K16$SALT_O,soft-packets=4"
appctl sa ipsec/sa-add esp0 in \
    "spi=$IN,src=192.0.2.2,dst=192.0.2.1,aead=aes-gcm-128,key=0x$K16$SALT_I"
appctl sa ipsec/sa-show esp0 > "$WORK/sa-show-1.txt"
model() { nic_model sa "$1"; }   # model COUNTER
check "1: out SA on dpdk-inline-protocol ($(sa_field sa esp0 $OUT out offload))" \
    test "$(sa_field sa esp0 $OUT out offload)" = dpdk-inline-protocol
check "1: in SA on dpdk-inline-protocol ($(sa_field sa esp0 $IN in offload))" \
    test "$(sa_field sa esp0 $IN in offload)" = dpdk-inline-protocol
check "1: sa-show says offload=dpdk-inline-protocol" \
    grep -q 'offload=dpdk-inline-protocol' "$WORK/sa-show-1.txt"
check "1: sa-show prints the datapath's and the NIC's counters" \
    grep -q 'offload-stats: datapath: .*; nic: ' "$WORK/sa-show-1.txt"
check "1: sa-show --json has them ($(sa_field sa esp0 $IN in offload_stats))" \
    grep -q 'nic: ipackets=' <<< "$(sa_field sa esp0 $IN in offload_stats)"
check "1: the model has 2 live sessions ($(model live))" \
    test "$(model live)" = 2
check_model_rules 1 1
check "1: the model runs in protocol mode" \
    grep -q 'actions=protocol' <(appctl sa ipsec/nic-model-show)

# 2: traffic both ways with the Scapy gateway.
rm -f "$WORK/go" "$WORK/stop"
ip netns exec "$(ns gw)" "$PYTHON3" "$GATEWAY" wan "$BR_WAN_MAC" 4 \
    aes-gcm-128 "$OUT" "$K16$SALT_O" "$IN" "$K16$SALT_I" 5 \
    "$WORK/go" "$WORK/stop" > "$WORK/gw.json" 2>"$WORK/gw.err" &
GW=$!
PIDS+=("$GW")
for _ in $(seq 300); do
    grep -q ready "$WORK/gw.err" 2>/dev/null && break
    sleep 0.1
done
check "2: the Scapy gateway started" grep -q ready "$WORK/gw.err"
ofctl sa add-flow br-int "in_port=hp,ip,nw_dst=10.2.0.0/24,actions=esp0"
check "2: warm-up ping ha -> gateway" ping_answered ha 10.2.0.2
check "2: 5 pings ha -> 10.2.0.2 (Scapy) all answered" \
    in_ns ha ping -c 5 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
touch "$WORK/go"
sleep 2
touch "$WORK/stop"
wait $GW || true
res=$(cat "$WORK/gw.json")
j() { "$PYTHON3" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$res" "$1"; }
check "2: Scapy's pings to ha all answered ($res)" \
    test "$(j pings_sent) $(j replies4)" = "10 5"
check "2: Scapy verified every ESP from OVS (bad=$(j bad), decrypted=$(j decrypted))" \
    test "$(j bad)" = 0 -a "$(j decrypted)" -ge 11
r=$(sa_json sa esp0 $OUT out)
check "2: out SA packets = ESP Scapy decrypted (${r% *}, $(j decrypted))" \
    test "${r% *}" = "$(j decrypted)"
check "2: the model built them (proto_tx=$(model proto_tx))" \
    test "$(model proto_tx)" = "${r% *}"
r=$(sa_json sa esp0 $IN in)
check "2: in SA packets = ESP Scapy sent (${r% *}, $(j esp_out))" \
    test "${r% *}" = "$(j esp_out)"
check "2: the model opened them (proto_rx=$(model proto_rx))" \
    test "$(model proto_rx)" = "${r% *}"
check "2: no TX error in the model ($(model tx_errors) $(model proto_tx_errors))" \
    test "$(model tx_errors) $(model proto_tx_errors)" = "0 0"
port_line=$(appctl sa ipsec/sa-show esp0 | head -1)
check "2: ha's packets were copied into mbufs ($port_line)" \
    grep -q 'inline_tx_copy=[1-9]' <<< "$port_line"
soft() { appctl sa ipsec/sa-show esp0 | grep -q 'offload-events: soft-expired'; }
retry 30 soft || true
check "2: the NIC's soft lifetime event reached sa-show" soft
check "2: and the log" grep -q "SA 0x00007201 (dpdk-inline-protocol) reported soft-expired" \
    "$WORK/sa/ovs-vswitchd.log"

# 3 and 4: ESP from "Scapy" that the NIC refuses.
f0=$(model proto_rx_auth)
in_ns gw "$PYTHON3" "$SCAPY_ESP" $BR_WAN_MAC $IN "$K16$SALT_I" bad 1000 1001 1002
sleep 0.5
check "3: the model refused 3 bad ICVs ($f0 -> $(model proto_rx_auth))" \
    test "$(model proto_rx_auth)" = $(( f0 + 3 ))
check "3: the in SA dropped them as offload_auth ($(sa_drops sa esp0 $IN in))" \
    test "$(sa_drops sa esp0 $IN in)" = offload_auth:3
r0=$(model proto_replay)
i0=$(sa_json sa esp0 $IN in)
# Sequence number 1 was the gateway's first packet: a duplicate.
in_ns gw "$PYTHON3" "$SCAPY_ESP" $BR_WAN_MAC $IN "$K16$SALT_I" good 1
sleep 0.5
check "4: the model refused the replayed packet ($r0 -> $(model proto_replay))" \
    test "$(model proto_replay)" = $(( r0 + 1 ))
check "4: the in SA dropped it as offload_auth ($(sa_drops sa esp0 $IN in))" \
    test "$(sa_drops sa esp0 $IN in)" = offload_auth:4
in_ns gw "$PYTHON3" "$SCAPY_ESP" $BR_WAN_MAC $IN "$K16$SALT_I" good 2000
sleep 0.5
i1=$(sa_json sa esp0 $IN in)
check "4: a fresh packet still passes (packets ${i0% *} -> ${i1% *})" \
    test "${i1% *}" = $(( ${i0% *} + 1 ))

# 5: the NIC adds ESP, so the path MTU still counts it.
in_ns ha ping -c 1 -W 1 -M "do" -s 1472 10.2.0.2 >/dev/null 2>&1 || true
port_line=$(appctl sa ipsec/sa-show esp0 | head -1)
check "5: a 1500-byte DF packet is too big ($port_line)" \
    grep -q "pmtu_exceeded:1" <<< "$port_line"

# 6: the clear inner packets leave through wan only, in the marked mbuf.
veth lk0 sa lk1 gw
vsctl sa add-port br-wan lk0
WAN_TCPDUMP=$TCPDUMP
start_capture gw lk1 "$WORK/leak.pcap" -s 0
LEAK_TCPDUMP=$TCPDUMP
TCPDUMP=$WAN_TCPDUMP CAPTURE="$WORK/wan.pcap"
leaks() { sa_field sa esp0 $OUT out "$1"; }
pings() {   # pings N: N pings from ha with the pattern (not answered).
    in_ns ha ping -c "$1" -i 0.2 -W 1 -p $PATTERN -q 10.2.0.2 \
        >/dev/null 2>&1 || true
    sleep 0.3
}
inline_leak_checks 6 proto_tx 14
w1=$LEAK_W u1=$LEAK_U
check "6: coverage ipsec_inline_leak_drop = $(( w1 + u1 ))" \
    coverage_is sa ipsec_inline_leak_drop $(( w1 + u1 ))
check "6: logged" grep -q "dropped a packet of inline-protocol SA 0x00007201 of port esp0 (inline_wrong_port)" \
    "$WORK/sa/ovs-vswitchd.log"
check_leak_capture 6 'icmp or esp' "ICMP and no ESP"

check_model_rules 6 1

# 7: deleting the SAs destroys the sessions.
appctl sa ipsec/sa-del esp0 $OUT out >/dev/null
appctl sa ipsec/sa-del esp0 $IN in >/dev/null
check_model_sessions_gone 7

# 8: the wire.
stop_wan_capture
check_wan_esp_only 20
check "8: no clear-text ping payload on the WAN" not hex_on_wan $PATTERN
check "no key in any log" not grep -rqi -e 08090a0b0c0d0e0f "$WORK/sa"

echo "offload-proto: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s, PMD up ${PMD_S} s)"
[ "$FAIL" -eq 0 ]
