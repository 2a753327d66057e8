#!/bin/bash
# System test: IPsec offload provider selection in ovs-vswitchd, with the
# crypto of site A's SAs on a DPDK cryptodev (crypto_aesni_mb0) and site B's
# in the ESP engine (sw), over an ESP tunnel-mode port (type=esp).
#
#  ns ofl-ha                ns ofl-sa                          ns ofl-sb               ns ofl-hb
#  +-----------+  +---------------------------+  +---------------------------+  +-----------+
#  | ha0       |  | br-int: hp (system), esp0 |  | br-int: hp (system), esp0 |  | hb0       |
#  | 10.1.0.2  +--+ br-wan: wan (system)      |  | br-wan: wan (system)      +--+ 10.2.0.2  |
#  |           |  |   br-wan 192.0.2.1/24     |  |   br-wan 192.0.2.2/24     |  |           |
#  +-----------+  | dpdk-init=true            |  | no DPDK                   |  +-----------+
#                 | ipsec-offload=true        |  | ipsec-offload unset: sw   |
#                 | ipsec-cryptodev=          |  |                           |
#                 |   crypto_aesni_mb0        |  |                           |
#                 +-------------+-------------+  +-------------+-------------+
#                               |        veth "WAN"            |
#                               +------------------------------+
#
# Site A runs DPDK (--in-memory, no PCI, no DPDK port: nothing spins; the
# esp port's engine runs on the main thread, which polls the system
# ports).  Two rounds, each with a new SA pair installed after the
# preference order changed (selection happens once per SA, at install):
#   round 1: other_config:ipsec-offload-order=dpdk-lookaside,sw
#   round 2: other_config:ipsec-offload-order=dpdk-cpu-crypto,sw
# Checks per round, each of which fails the test:
#   1. site A's SAs show offload=<provider> and engine=cryptodev-*, site
#      B's offload=sw (offload disabled);
#   2. ping both ways and a 2 MB TCP transfer ha -> hb arrive (size and
#      SHA-256), nothing but ESP and ARP on the WAN;
#   3. site A's out SA and site B's in SA count exactly the pings; site
#      A's out SA counts exactly what its flow sent into esp0 during the
#      transfer; ipsec/offload-show counts the SA's packets for the
#      provider; the cryptodev completed ops without op errors;
#   4. deleting site A's SAs frees their cryptodev sessions (sessions in
#      use back to 0, created == freed).
#
# Hugepages: DPDK needs some; the test adds 256 2 MiB pages
# (reserve_hugepages in sites.sh) and gives back exactly those at exit.
#
# Usage: tests/ovs/offload-cryptodev.sh [OVS_BUILD_DIR]  (default
# build/ovs/src).  Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3,
# an OVS built with DPDK and the IPsec offload providers, and the DPDK
# crypto_ipsec_mb PMD; skips (exit 0, saying why) without them.  Removes every
# namespace, veth and process it made, also on failure; ends only the
# processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools offload-cryptodev

use_ovs "${1:-}"

skip() { echo "offload-cryptodev: skipped: $*"; exit 0; }
grep -q "^HAVE_IPSEC_OFFLOAD_DPDK='yes'" "$OVS/tests/atlocal" 2>/dev/null \
    || skip "$OVS is not built with the IPsec offload DPDK providers"
ls /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_crypto_ipsec_mb.so \
    >/dev/null 2>&1 || skip "no DPDK crypto_ipsec_mb PMD (dpdk package)"

sites_work offload-cryptodev ofl-$$-

PATTERN=c0ffee15c0ffee15                           # Ping payload.
MARKER=OFFLOAD-CRYPTODEV-CLEARTEXT-MARKER-         # In the TCP data.

trap 'cleanup_sites offload-cryptodev ha sa sb hb; give_back_hugepages' EXIT

reserve_hugepages 256 128 || skip "$HP_ERR"

T0=$(date +%s)
netns_add ha sa sb hb
netns_no_ipv6 sa sb ha hb
two_site_veths sa sb hp
route_hosts 02:00:00:00:00:01
# Room for the outer IPv4 and ESP headers in the WAN's 1500.
in_ns ha ip link set ha0 mtu 1400
in_ns hb ip link set hb0 mtu 1400

# Site A with DPDK and the cryptodev, configured before ovs-vswitchd starts
# (dpdk-init is read once).
start_site sa other_config:dpdk-init=true other_config:dpdk-extra="--no-pci" \
    other_config:ipsec-offload=true \
    other_config:ipsec-cryptodev=crypto_aesni_mb0 \
    other_config:ipsec-offload-order=dpdk-lookaside,sw
start_site sb
esp_site sa 192.0.2.1 192.0.2.2 "$(link_mac ha ha0)" 10.2.0.0/24
esp_site sb 192.0.2.2 192.0.2.1 "$(link_mac hb hb0)" 10.1.0.0/24

cryptodev_open() {
    appctl sa ipsec/offload-show | grep -q '^cryptodev: crypto_aesni_mb0$'
}
if ! retry 50 cryptodev_open; then
    appctl sa ipsec/offload-show | sed -n '1,/^providers/p' >&2 || true
    grep -iE 'dpdk|ipsec_offload' "$WORK/sa/ovs-vswitchd.log" | tail -20 >&2
    FAIL=$((FAIL + 1))
    echo "FAIL: site A opened cryptodev crypto_aesni_mb0"
    exit 1
fi

# add_sas A_TO_B_SPI B_TO_A_SPI: the SA pair on both sites.
add_sas() {
    appctl sa ipsec/sa-add esp0 out \
        "spi=$1,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=$K_AB"
    appctl sa ipsec/sa-add esp0 in \
        "spi=$2,src=192.0.2.2,dst=192.0.2.1,aead=aes-gcm-128,key=$K_BA"
    appctl sb ipsec/sa-add esp0 out \
        "spi=$2,src=192.0.2.2,dst=192.0.2.1,aead=aes-gcm-128,key=$K_BA"
    appctl sb ipsec/sa-add esp0 in \
        "spi=$1,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=$K_AB"
}

# provider_json SITE PROVIDER FIELD: a provider counter, offload-show --json.
provider_json() {
    appctl "$1" ipsec/offload-show --json | "$PYTHON3" -c '
import json, sys
for p in json.load(sys.stdin)["providers"]:
    if p["name"] == sys.argv[1]:
        print(p[sys.argv[2]])
' "$2" "$3"
}

# cryptodev_json SITE FIELD
cryptodev_json() {
    appctl "$1" ipsec/offload-show --json | "$PYTHON3" -c '
import json, sys
print(json.load(sys.stdin)["cryptodev_stats"][sys.argv[1]])
' "$2"
}

sessions_freed() {
    test "$(cryptodev_json sa sessions_in_use)" = 0 && \
        test "$(cryptodev_json sa sessions_created)" = \
             "$(cryptodev_json sa sessions_freed)"
}

start_wan_capture sa

round() {   # round PROVIDER ENGINE OUT_SPI IN_SPI
    local prov=$1 engine=$2 out=$3 in=$4 ops0 d pa pf a0 b0 f0 p_prov
    vsctl sa set Open_vSwitch . other_config:ipsec-offload-order="$prov,sw"
    add_sas "$out" "$in"

    # 1: where the SAs landed.
    check "$prov: site A out SA offload=$prov" \
        test "$(sa_field sa esp0 "$out" out offload)" = "$prov"
    check "$prov: site A in SA offload=$prov" \
        test "$(sa_field sa esp0 "$in" in offload)" = "$prov"
    check "$prov: site A engine=$engine" \
        test "$(sa_field sa esp0 "$out" out engine)" = "$engine"
    check "$prov: site A reason empty" \
        test -z "$(sa_field sa esp0 "$out" out offload_reason)"
    check "$prov: site B offload=sw (offload disabled)" \
        test "$(sa_field sb esp0 "$out" in offload) $(sa_field sb esp0 "$out" in offload_reason)" \
             = "sw offload disabled"
    check "$prov: site A holds sessions" \
        test "$(cryptodev_json sa sessions_in_use)" -ge 2

    # 2 + 3: traffic, and both ends count exactly the pings (3 requests
    # and 3 replies each way, 84 bytes of IP each).
    ops0=$(cryptodev_json sa ops)
    check "$prov: warm-up ping ha -> hb" ping_answered ha 10.2.0.2
    in_ns hb ping -c 1 -W 2 10.1.0.2 >/dev/null 2>&1 || true
    a0=$(sa_json sa esp0 "$out" out) b0=$(sa_json sb esp0 "$out" in)
    check "$prov: ping ha -> hb" \
        in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
    check "$prov: ping hb -> ha" \
        in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.1.0.2 >/dev/null
    d=$(minus "$(sa_json sa esp0 "$out" out)" "$a0")
    check "$prov: site A out SA counted 6 packets, 504 bytes ($d)" \
        test "$d" = "6 504"
    d=$(minus "$(sa_json sb esp0 "$out" in)" "$b0")
    check "$prov: site B in SA counted 6 packets, 504 bytes ($d)" \
        test "$d" = "6 504"

    # The TCP transfer: site A's out SA protected exactly what its flow
    # sent into esp0 (the WAN may lose some on a loaded machine; TCP
    # retransmits).
    # OpenFlow statistics lag the datapath: a revalidation round first.
    appctl sa revalidator/wait
    a0=$(sa_json sa esp0 "$out" out)
    f0=$(flow_stats sa br-int 'in_port=hp')
    check_tcp "$prov: 2 MB over TCP ha -> hb arrived" hb ha 10.2.0.2 2 "$MARKER"
    sa_equals_flow() {
        appctl sa revalidator/wait
        pa=$(minus "$(sa_json sa esp0 "$out" out)" "$a0")
        pf=$(minus "$(flow_stats sa br-int 'in_port=hp')" "$f0")
        test "${pa% *}" = "${pf% *}"
    }
    r=0
    retry 50 sa_equals_flow || r=$?
    check "$prov: A out SA = A's flow into esp0 (${pa% *} vs ${pf% *} packets)" \
        test $r = 0
    check "$prov: A out SA counted the transfer (${pa% *} packets)" \
        test "${pa% *}" -ge 1400
    p_prov=$(provider_json sa "$prov" out_packets)
    d=$(sa_field sa esp0 "$out" out packets)
    check "$prov: offload-show out_packets = SA packets ($p_prov vs $d)" \
        test "$p_prov" = "$d"
    check "$prov: site B drops none" \
        test "$(sa_drops sb esp0 "$out" in)" = none
    check "$prov: site A drops none" \
        test "$(sa_drops sa esp0 "$in" in)" = none
    d=$(( $(cryptodev_json sa ops) - ops0 ))
    check "$prov: cryptodev did the crypto ($d ops)" test "$d" -ge 1400
    check "$prov: no cryptodev op errors" \
        test "$(cryptodev_json sa op_errors)" = 0

    # 4: deleting the SAs frees their sessions (after the RCU grace
    # period).
    appctl sa ipsec/sa-del esp0 "$out" out
    appctl sa ipsec/sa-del esp0 "$in" in
    appctl sb ipsec/sa-flush >/dev/null
    check "$prov: sessions freed after sa-del" retry 50 sessions_freed
    check "$prov: provider released the SAs" \
        test "$(provider_json sa "$prov" sas) $(provider_json sa "$prov" removes)" \
             = "0 2"
}

round dpdk-lookaside cryptodev-lookaside 0x2001 0x1001
round dpdk-cpu-crypto cryptodev-cpu 0x2002 0x1002

stop_wan_capture
check_wan_esp_only 2800
check "no clear-text payload on the WAN" not wan_has_hex $PATTERN
check "no clear-text TCP data on the WAN" not wan_has_ascii "$MARKER"
check_no_key_in_logs

echo "offload-cryptodev: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
