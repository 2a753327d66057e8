#!/bin/bash
# System test: an ESP port's SAs on "dpdk-inline-crypto" in ovs-vswitchd.
# The site's WAN port is a DPDK port (net_af_packet on a veth) with the
# test-only software model of an inline-crypto NIC attached
# (Interface other_config:ipsec-nic-model, offload/sec-model.h); the esp
# port names it (options:ipsec-offload-port=wan).  The peer is Scapy's
# independent ESP (tests/ovs/scapy-gateway.py) with the same SAs.
#
#  ns oi-ha            ns oi-sa (DPDK, 1 PMD)             ns oi-gw
#  +----------+  +--------------------------------+  +-------------------+
#  | ha0      +--+ hp (system, main thread)       |  | scapy-gateway.py  |
#  | 10.1.0.2 |  |   br-int: esp0 (type=esp,      |  |  192.0.2.2, with  |
#  +----------+  |     ipsec-offload-port=wan)    |  |  10.2.0.2 behind  |
#                |   br-wan 192.0.2.1             |  |                   |
#                |   wan (dpdk, net_af_packet,    |  |                   |
#                |     NIC model, SA table 2) ----+--+ wan (capture)     |
#                |   lk0 (system, check 7) -------+--+ lk1 (capture)     |
#                +--------------------------------+  +-------------------+
#
# Checks, each of which fails the test:
#   1. both SAs of esp0 land on dpdk-inline-crypto (sa-show), the model
#      has 2 live sessions and the in SA's rte_flow ESP rule;
#   2. ha pings 10.2.0.2 and Scapy pings ha: all answered; Scapy verified
#      every ESP (the NIC model encrypted what the datapath built); the
#      model counted as encrypted at least the out SA's packets and as
#      decrypted at least the in SA's; ha's packets, not in mbufs, were
#      copied into mbufs (inline_tx_copy);
#   3. ESP from Scapy with a corrupted ICV: the model flags it
#      RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED, the datapath drops and counts it
#      as offload_auth; the out SA still encrypts through the NIC;
#   4. a third SA finds the model's SA table (2) full: it runs in "sw",
#      its reason says why, and the model counted table_full; the model
#      still has one rule, and no ESP of a live session went without it;
#   5. sa-flush destroys every session and rule: the model has 0 live
#      sessions and 0 rules, none orphaned;
#   6. the WAN capture has only ESP and ARP, and no clear-text payload;
#   7. (run after 3) the ESP of the inline SA may leave only through wan,
#      in the marked mbuf: a second port lk0 on br-wan, and flows that
#      also output the ESP to lk0 (lk0 before wan: lk0 gets a copy, wan
#      the original; wan before lk0: wan gets the copy), then NORMAL
#      flooding.  The datapath drops every copy and every packet to lk0
#      (counted in the SA, the port line, ipsec/stats and the coverage
#      counter ipsec_inline_leak_drop, logged); lk1 sees no ESP and no
#      clear-text payload; the packets of the original still leave wan,
#      encrypted by the model; (7d) a flow that also sends the ESP to
#      the controller: each packet-in is the 42 bytes up to the ESP
#      header (inline_upcall), the originals still leave wan; then (7e)
#      the ESP in UDP of a NAT-T inline
#      SA, sent to lk0 only, is dropped the same way, and (7f) so is a
#      burst of 8 of its packets that the datapath takes in one batch.
#   8. (run after 3, before 7) a restart of wan (options:n_rxq_desc): the
#      in SA's rte_flow rule is destroyed before the stop and created
#      again after the start (net_af_packet does not keep rules), as
#      logged; 3 ESP packets from Scapy afterwards are decrypted by the
#      model, none in software (sa-show offload_sw 0).
# The PMD thread spins for about 17 s; the test reserves 128 2 MiB
# hugepages and gives back exactly those.  It skips (exit 0, with the
# reason) when DPDK cannot be initialized here or the build has no model.
#
# Usage: tests/ovs/offload-inline.sh [OVS_BUILD_DIR] (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3 with Scapy.
# Removes every namespace, veth and process it made, also on failure; ends
# only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools offload-inline
GATEWAY=$(cd "$(dirname "$0")" && pwd)/scapy-gateway.py
SCAPY_ESP=$(cd "$(dirname "$0")" && pwd)/scapy-esp.py

OVS=$(cd "${1:-build/ovs/src}" && pwd)
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
WORK=$(mktemp -d /tmp/offload-inline.XXXXXX)
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=oi-$$-
PIDS=()
PASS=0
FAIL=0
PATTERN=c0ffee16c0ffee16
BR_WAN_MAC=02:00:00:00:0b:01
K16=000102030405060708090a0b0c0d0e0f
SALT_O=c0c1c2c3 SALT_I=d0d1d2d3
OUT=0x7101 IN=0x7102

skip() { skip_test offload-inline "$*"; }
trap 'cleanup_sites offload-inline ha sa gw; give_back_hugepages' EXIT

T0=$(date +%s)
offload_model_preflight offload-inline

offload_site_net

start_dpdk_site sa 0x1 ipsec-offload=true || skip "$DPDK_ERR"

PMD_T0=$(date +%s)
dpdk_wan_bridge sa $BR_WAN_MAC other_config:ipsec-nic-model=2
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
    "spi=$OUT,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=0x$K16$SALT_O"
appctl sa ipsec/sa-add esp0 in \
    "spi=$IN,src=192.0.2.2,dst=192.0.2.1,aead=aes-gcm-128,key=0x$K16$SALT_I"
appctl sa ipsec/sa-show esp0 > "$WORK/sa-show-1.txt"
model() { nic_model sa "$1"; }   # model COUNTER
check "1: out SA on dpdk-inline-crypto ($(sa_field sa esp0 $OUT out offload))" \
    test "$(sa_field sa esp0 $OUT out offload)" = dpdk-inline-crypto
check "1: in SA on dpdk-inline-crypto ($(sa_field sa esp0 $IN in offload))" \
    test "$(sa_field sa esp0 $IN in offload)" = dpdk-inline-crypto
check "1: sa-show says offload=dpdk-inline-crypto" \
    grep -q 'offload=dpdk-inline-crypto' "$WORK/sa-show-1.txt"
check "1: the model has 2 live sessions ($(model live))" \
    test "$(model live)" = 2
check_model_rules 1 1
check "1: sa-show counts the in SA's rule ($(sa_field sa esp0 $IN in rte_flow_rules))" \
    test "$(sa_field sa esp0 $IN in rte_flow_rules)" = 1
# netdev-dpdk asks for the RX/TX security offloads only where the device
# advertises them; net_af_packet does not (the model works in callbacks).
check "1: wan's configuration says rx/tx_security_offload=false" \
    grep -q "rx_security_offload=false.*tx_security_offload=false" \
    <(appctl sa dpif/show)

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
check "2: the model encrypted them (tx_encrypted=$(model tx_encrypted))" \
    test "$(model tx_encrypted)" -ge "${r% *}"
r=$(sa_json sa esp0 $IN in)
check "2: in SA packets = ESP Scapy sent (${r% *}, $(j esp_out))" \
    test "${r% *}" = "$(j esp_out)"
check "2: the model decrypted them (rx_decrypted=$(model rx_decrypted))" \
    test "$(model rx_decrypted)" -ge "${r% *}"
# Patch 0029: each of them went from wan's receive straight into esp0's
# pop, without a first pass through the datapath.
# esp_flows -> the packets counted by datapath flows whose key is ESP
# (IP protocol 50 in the match, not in a tnl_push header).
esp_flows() {
    appctl sa dpctl/dump-flows | sed 's/, actions:.*//' | grep 'proto=50' \
        | sed -n 's/.*packets:\([0-9]*\).*/\1/p' \
        | awk '{ n += $1 } END { print n + 0 }'
}
check "2: no datapath flow took wan's ESP ($(esp_flows) packets)" \
    test "$(esp_flows)" = 0
check "2: coverage ipsec_inline_rx = ESP Scapy sent ($(coverage sa ipsec_inline_rx), $(j esp_out))" \
    coverage_is sa ipsec_inline_rx "$(j esp_out)"
inl_rx=$(coverage sa ipsec_inline_rx)
check "2: no TX error in the model ($(model tx_errors))" \
    test "$(model tx_errors)" = 0
port_line=$(appctl sa ipsec/sa-show esp0 | head -1)
check "2: ha's packets were copied into mbufs ($port_line)" \
    grep -q 'inline_tx_copy=[1-9]' <<< "$port_line"

# 3: a corrupted ICV (scapy-esp.py: ESP from 10.2.0.2 to ha, one packet per
# sequence number given).
f0=$(model rx_failed)
in_ns gw "$PYTHON3" "$SCAPY_ESP" $BR_WAN_MAC $IN "$K16$SALT_I" bad 1000 1001 1002
sleep 0.5
check "3: the model flagged 3 RX_SEC_OFFLOAD_FAILED ($f0 -> $(model rx_failed))" \
    test "$(model rx_failed)" = $(( f0 + 3 ))
check "3: the in SA dropped them as offload_auth ($(sa_drops sa esp0 $IN in))" \
    test "$(sa_drops sa esp0 $IN in)" = offload_auth:3
# They took the inline receive path too: no datapath flow classified the
# ESP from wan (such a flow would count it), as none did for the good
# packets of 2.  (Coverage ipsec_inline_rx counts them as well, but a PMD
# thread adds its counts to what coverage/read-counter reads only from
# time to time: in a CI run it had not after 15 s.)
check "3: they took the inline receive path too (ESP flows from wan: $(esp_flows))" \
    test "$(esp_flows)" = 0
# The gateway has gone: ha's ping is not answered, but still encrypted.
o0=$(sa_json sa esp0 $OUT out)
e0=$(model tx_encrypted)
in_ns ha ping -c 1 -W 1 10.2.0.2 -q >/dev/null || true
o1=$(sa_json sa esp0 $OUT out)
check "3: the out SA still works (packets ${o0% *} -> ${o1% *}, tx_encrypted $e0 -> $(model tx_encrypted))" \
    test "${o1% *}" = $(( ${o0% *} + 1 )) -a "$(model tx_encrypted)" = $(( e0 + 1 ))

# 8: a restart of wan (another RX ring size).  net_af_packet does not keep
# rte_flow rules across a restart, so the in SA's rule is destroyed before
# the stop and created again after the start; then ESP from Scapy is still
# decrypted by the model, none in software.
c0=$(model flow_created)
d0=$(model flow_destroyed)
vsctl sa set Interface wan options:n_rxq_desc=1024
rule_back() { test "$(model flow_created)" = $(( c0 + 1 )); }
retry 50 rule_back || true
check "8: wan's restart destroyed the rule and created it again (destroyed $d0 -> $(model flow_destroyed), created $c0 -> $(model flow_created))" \
    test "$(model flow_destroyed)/$(model flow_created)/$(model flows)" \
        = "$(( d0 + 1 ))/$(( c0 + 1 ))/1"
check "8: sa-show says the in SA has its rule again ($(sa_field sa esp0 $IN in rte_flow_rules))" \
    test "$(sa_field sa esp0 $IN in rte_flow_rules)" = 1
check "8: ovs-vswitchd logged the restart's rules" \
    grep -q "wan: DPDK port [0-9]* restarted: created the 1 ESP rule" \
        "$WORK/sa/ovs-vswitchd.log"
x0=$(model rx_decrypted)
p0=$(sa_json sa esp0 $IN in)
in_ns gw "$PYTHON3" "$SCAPY_ESP" $BR_WAN_MAC $IN "$K16$SALT_I" good 2000 2001 2002
sleep 0.5
check "8: the model decrypted Scapy's 3 ESP packets ($x0 -> $(model rx_decrypted))" \
    test "$(model rx_decrypted)" = $(( x0 + 3 ))
p1=$(sa_json sa esp0 $IN in)
check "8: the in SA took them (${p0% *} -> ${p1% *}), none decrypted in software (offload_sw $(sa_field sa esp0 $IN in offload_sw))" \
    test "${p1% *}/$(sa_field sa esp0 $IN in offload_sw)" \
        = "$(( ${p0% *} + 3 ))/0"

# 7: the ESP of the inline SA leaves through wan only, in the marked mbuf.
veth lk0 sa lk1 gw
vsctl sa add-port br-wan lk0
WAN_TCPDUMP=$TCPDUMP
start_capture gw lk1 "$WORK/leak.pcap" -s 0
LEAK_TCPDUMP=$TCPDUMP
TCPDUMP=$WAN_TCPDUMP CAPTURE="$WORK/wan.pcap"
leaks() {   # leaks REASON [SPI]: the out SA's drops for REASON (0 if none).
    appctl sa ipsec/sa-show esp0 --json | "$PYTHON3" -c '
import json, sys
for sa in json.load(sys.stdin)["sas"]:
    if sa["spi"] == int(sys.argv[1], 0) and sa["dir"] == "out":
        print(sa.get(sys.argv[2], 0))
' "${2:-$OUT}" "$1"
}
pings() {   # pings N: N pings from ha with the pattern (not answered).
    in_ns ha ping -c "$1" -i 0.2 -W 1 -p $PATTERN -q 10.2.0.2 \
        >/dev/null 2>&1 || true
    sleep 0.3
}
inline_leak_checks 7 tx_encrypted 42
w1=$LEAK_W u1=$LEAK_U
port_line=$(appctl sa ipsec/sa-show esp0 | head -1)
check "7: the port line counts them ($port_line)" \
    grep -q "inline_wrong_port=$w1 inline_unmarked=$u1" <<< "$port_line"
check "7: ipsec/stats counts them" \
    test "$(appctl sa ipsec/stats | grep -E 'inline_(wrong_port|unmarked):' | tr -d ' \n')" \
    = "inline_wrong_port:${w1}inline_unmarked:$u1"
check "7: coverage ipsec_inline_leak_drop = $(( w1 + u1 ))" \
    coverage_is sa ipsec_inline_leak_drop $(( w1 + u1 ))
check "7: logged" grep -q "dropped a packet of inline-crypto SA 0x00007101 of port esp0 (inline_wrong_port)" \
    "$WORK/sa/ovs-vswitchd.log"
# d. ESP in UDP (NAT-T) of an inline SA, sent to lk0 only: the output
# check must also know UDP-encapsulated ESP (it looks at UDP packets only
# while such an SA exists).  The old out SA makes room in the model.
appctl sa ipsec/sa-del esp0 $OUT out >/dev/null
appctl sa ipsec/sa-add esp0 out \
    "spi=0x7104,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=0x$K16$SALT_O,encap=udp"
check "7e: the NAT-T out SA is on dpdk-inline-crypto ($(sa_field sa esp0 0x7104 out offload))" \
    test "$(sa_field sa esp0 0x7104 out offload)" = dpdk-inline-crypto
ofctl sa add-flow br-wan "in_port=LOCAL,actions=lk0"
appctl sa revalidator/wait >/dev/null
e0=$(model tx_encrypted)
pings 2
check "7e: 2 ESP-in-UDP packets to lk0 dropped as inline_wrong_port ($(leaks inline_wrong_port 0x7104))" \
    test "$(leaks inline_wrong_port 0x7104)" = 2
check "7e: nothing reached the NIC model (tx_encrypted $e0 -> $(model tx_encrypted))" \
    test "$(model tx_encrypted)" = "$e0"
# e. A burst of the SA's ESP in one batch, to lk0 only: the check looks
# the SA up once per batch and must still drop every packet.  ovs-vswitchd
# is stopped while ha sends, so that hp's main-thread receive takes all
# 8 at once when it continues.
w0=$(leaks inline_wrong_port 0x7104)
vsw=$(cat "$WORK/sa/ovs-vswitchd.pid")
kill -STOP "$vsw"
in_ns ha ping -c 8 -l 8 -W 1 -p $PATTERN -q 10.2.0.2 >/dev/null 2>&1 &
burst=$!
sleep 0.5
kill -CONT "$vsw"
wait "$burst" || true
sleep 0.3
check "7f: a burst of 8 to lk0 all dropped as inline_wrong_port ($w0 -> $(leaks inline_wrong_port 0x7104))" \
    test "$(leaks inline_wrong_port 0x7104)" = $(( w0 + 8 ))
check "7f: nothing reached the NIC model (tx_encrypted $e0 -> $(model tx_encrypted))" \
    test "$(model tx_encrypted)" = "$e0"
ofctl sa add-flow br-wan "in_port=LOCAL,actions=wan"
appctl sa revalidator/wait >/dev/null
check_leak_capture 7 'esp or udp port 4500' ESP

# 4: the model's SA table (2) is full.
appctl sa ipsec/sa-add esp0 in \
    "spi=0x7103,src=192.0.2.2,dst=192.0.2.1,aead=aes-gcm-128,key=0x$K16$SALT_I"
check "4: third SA in sw ($(sa_field sa esp0 0x7103 in offload))" \
    test "$(sa_field sa esp0 0x7103 in offload)" = sw
reason=$(sa_field sa esp0 0x7103 in offload_reason)
check "4: its reason names dpdk-inline-crypto and the table ($reason)" \
    grep -q 'dpdk-inline-crypto: .*full' <<< "$reason"
check "4: the model counted table_full ($(model table_full))" \
    test "$(model table_full)" -ge 1
appctl sa ipsec/sa-show esp0 > "$WORK/sa-show-4.txt"
check_model_rules 4 1

# 5: deleting the SAs destroys the sessions.
appctl sa ipsec/sa-flush esp0 >/dev/null
check_model_sessions_gone 5

# 6: the wire.
stop_wan_capture
check_wan_esp_only 20
check "6: no clear-text ping payload on the WAN" not hex_on_wan $PATTERN
check "no key in any log" not grep -rqi -e 08090a0b0c0d0e0f "$WORK/sa"

echo "offload-inline: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s, PMD up ${PMD_S} s)"
[ "$FAIL" -eq 0 ]
