#!/bin/bash
# System test (interop): an Open vSwitch site's ESP tunnel-mode port
# (type=esp, userspace datapath) against a standard tunnel-mode IPsec
# gateway played by Scapy's independent ESP (tests/ovs/scapy-gateway.py)
# with the same SAs, for AES-GCM-128, AES-GCM-256, AES-CBC-128 +
# HMAC-SHA-256-128 and ChaCha20-Poly1305.
#
#  ns sg-ha                ns sg-sa                          ns sg-gw
#  +-----------+  +---------------------------+  +------------------------------+
#  | ha0       |  | br-int: hp (system),      |  | wan (no kernel address)      |
#  | 10.1.0.2  +--+   esp0 (IPv4), esp6 (IPv6)|  | scapy-gateway.py: 192.0.2.2, |
#  | fd01::2   |  | br-wan: wan (system)      |  |   2001:db8::2; pretends      |
#  +-----------+  |   192.0.2.1/24            |  |   10.2.0.2, fd02::2 behind   |
#                 |   2001:db8::1/64          |  |                              |
#                 +-------------+-------------+  +--------------+---------------+
#                               |        veth "WAN"             |
#                               +-------------------------------+
#
# Each suite over the IPv4 WAN (port esp0), and AES-GCM-128 and AES-CBC +
# HMAC over the IPv6 WAN (port esp6, 2001:db8::1 <-> ::2); IPv4 and IPv6
# inside each.  For each round (new SPIs, the port's SAs flushed and added
# again at the site, a new gateway process), checks, each of which fails
# the test:
#   1. OVS -> Scapy: ha pings 10.2.0.2 and fd02::2; the gateway decrypts
#      each echo request and answers with ESP that OVS decrypts: all pings
#      answered;
#   2. Scapy -> OVS: the gateway originates 5 IPv4 and 5 IPv6 echo
#      requests to ha in ESP; all 10 replies come back through OVS's
#      encryption and Scapy decrypts them;
#   3. no ESP that Scapy could not verify (bad = 0); the site's out SA
#      counted exactly the packets that Scapy decrypted, and its in SA
#      exactly the packets Scapy sent, without a drop.
# Over the run: the WAN capture has only ESP (and ARP, ND, MLD), and not
# the ping payload in clear.
#
# Usage: tests/ovs/scapy-gateway.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3 with Scapy.
# Removes every namespace, veth and process it made, also on failure; ends
# only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools scapy-gateway
GATEWAY=$(cd "$(dirname "$0")" && pwd)/scapy-gateway.py

sites_init scapy-gateway sg-$$- "${1:-}"
PATTERN=c0ffee15c0ffee15   # Ping payload.

trap 'cleanup_sites scapy-gateway ha sa gw' EXIT

if ! "$PYTHON3" -c 'import scapy.layers.ipsec' 2>/dev/null; then
    echo "scapy-gateway: SKIPPED: $PYTHON3 has no Scapy (Debian: python3-scapy)"
    exit 0
fi

T0=$(date +%s)
netns_add ha sa gw
netns_no_ipv6 sa gw
veth wan sa wan gw
veth ha0 ha hp sa
in_ns ha ip addr add 10.1.0.2/24 dev ha0
in_ns ha ip route add 10.2.0.0/24 via 10.1.0.1
in_ns ha ip neigh add 10.1.0.1 lladdr 02:00:00:00:00:01 dev ha0
in_ns ha ip addr add fd01::2/64 dev ha0 nodad
in_ns ha ip route add fd02::/64 via fd01::1
in_ns ha ip neigh add fd01::1 lladdr 02:00:00:00:00:01 dev ha0
HA_MAC=$(link_mac ha ha0)

start_site sa
netdev_bridge sa br-wan wan
netdev_bridge sa br-int hp
in_ns sa sysctl -qw net.ipv6.conf.br-wan.disable_ipv6=0
in_ns sa ip addr add 192.0.2.1/24 dev br-wan
in_ns sa ip addr add 2001:db8::1/64 dev br-wan nodad
OVS_MAC=$(link_mac sa br-wan)
vsctl sa add-port br-int esp0 -- set Interface esp0 type=esp \
    options:remote_ip=192.0.2.2 options:local_ip=192.0.2.1 \
    -- add-port br-int esp6 -- set Interface esp6 type=esp \
    options:remote_ip=2001:db8::2 options:local_ip=2001:db8::1
ofctl sa del-flows br-int
for p in esp0 esp6; do
    ofctl sa add-flow br-int "in_port=$p,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$HA_MAC,hp"
done

start_wan_capture sa

# One suite: suite NAME N OUTER SPEC_OUT SPEC_IN KEYS_OUT KEYS_IN (the
# specs' key fields; the gateway's keys in its own syntax), over the
# IPv4 (esp0) or IPv6 (esp6) WAN.
suite() {
    local name=$1 n=$2 f=$3 out=0x${2}01 in=0x${2}02 gw res r p=esp0 \
        me=192.0.2.1 peer=192.0.2.2 what
    if [ "$f" = 6 ]; then
        p=esp6 me=2001:db8::1 peer=2001:db8::2
    fi
    what="$name over IPv$f"
    appctl sa ipsec/sa-flush "$p" >/dev/null
    appctl sa ipsec/sa-add "$p" out "spi=$out,src=$me,dst=$peer,$4"
    appctl sa ipsec/sa-add "$p" in "spi=$in,src=$peer,dst=$me,$5"
    rm -f "$WORK/go" "$WORK/stop"
    in_ns gw "$PYTHON3" "$GATEWAY" wan "$OVS_MAC" "$f" "$name" "$out" "$6" \
        "$in" "$7" 5 "$WORK/go" "$WORK/stop" > "$WORK/gw-$n.json" \
        2>"$WORK/gw-$n.err" &
    gw=$!
    PIDS+=("$gw")
    # Listening before OpenFlow sends anything to the port: OVS sends its
    # ARP or ND for the gateway once (also when the new flows make the
    # revalidators translate cached flows again), and the datapath flow
    # that dropped the packet waiting for it lives on while the pings keep
    # it busy.
    for _ in $(seq 300); do
        grep -q ready "$WORK/gw-$n.err" 2>/dev/null && break
        sleep 0.1
    done
    check "$what: the Scapy gateway started" grep -q ready "$WORK/gw-$n.err"
    ofctl sa add-flow br-int "in_port=hp,ip,nw_dst=10.2.0.0/24,actions=$p"
    ofctl sa add-flow br-int "in_port=hp,ipv6,ipv6_dst=fd02::/64,actions=$p"
    # 1: ha's pings answered by the gateway (the first may wait for ARP
    # or ND).
    check "$what: warm-up ping ha -> gateway" ping_answered ha 10.2.0.2
    check "$what: 5 pings ha -> 10.2.0.2 (Scapy) all answered" \
        in_ns ha ping -c 5 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
    check "$what: 5 pings ha -> fd02::2 (Scapy) all answered" \
        in_ns ha ping -6 -c 5 -i 0.2 -W 2 -p $PATTERN fd02::2 >/dev/null
    # 2: the gateway's own pings to ha, 5 IPv4 and 5 IPv6.
    touch "$WORK/go"
    sleep 2.5
    touch "$WORK/stop"
    wait $gw || true
    res=$(cat "$WORK/gw-$n.json")
    j() { "$PYTHON3" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$res" "$1"; }
    check "$what: Scapy's 5 + 5 pings to ha all answered ($res)" \
        test "$(j pings_sent) $(j replies4) $(j replies6)" = "10 5 5"
    check "$what: Scapy verified every ESP from OVS (bad=$(j bad))" \
        test "$(j bad)" = 0 -a "$(j decrypted)" -ge 21
    r=$(sa_json sa "$p" "$out" out)
    check "$what: site out SA packets = ESP Scapy decrypted ($r, $(j decrypted))" \
        test "${r% *}" = "$(j decrypted)"
    r=$(sa_json sa "$p" "$in" in)
    check "$what: site in SA packets = ESP Scapy sent ($r, $(j esp_out))" \
        test "${r% *}" = "$(j esp_out)"
    check "$what: site in SA dropped nothing ($(sa_drops sa "$p" "$in" in))" \
        test "$(sa_drops sa "$p" "$in" in)" = none
}

K16=000102030405060708090a0b0c0d0e0f
K32=${K16}101112131415161718191a1b1c1d1e1f
A32=505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f
SALT_O=c0c1c2c3 SALT_I=d0d1d2d3
CBC="enc=aes-cbc-128,enc-key=0x$K16,auth=hmac-sha256-128,auth-key=0x$A32"
suite aes-gcm-128 51 4 "aead=aes-gcm-128,key=0x$K16$SALT_O" \
    "aead=aes-gcm-128,key=0x$K16$SALT_I" "$K16$SALT_O" "$K16$SALT_I"
suite aes-gcm-256 52 4 "aead=aes-gcm-256,key=0x$K32$SALT_O" \
    "aead=aes-gcm-256,key=0x$K32$SALT_I" "$K32$SALT_O" "$K32$SALT_I"
suite aes-cbc-128 53 4 "$CBC" "$CBC" "$K16:$A32" "$K16:$A32"
suite chacha20-poly1305 54 4 "aead=chacha20-poly1305,key=0x$K32$SALT_O" \
    "aead=chacha20-poly1305,key=0x$K32$SALT_I" "$K32$SALT_O" "$K32$SALT_I"
suite aes-gcm-128 61 6 "aead=aes-gcm-128,key=0x$K16$SALT_O" \
    "aead=aes-gcm-128,key=0x$K16$SALT_I" "$K16$SALT_O" "$K16$SALT_I"
suite aes-cbc-128 63 6 "$CBC" "$CBC" "$K16:$A32" "$K16:$A32"

stop_wan_capture
check_wan_esp_only6 120
check "no clear-text ping payload on the WAN" not wan_has_hex $PATTERN
check "no key in any log" not grep -rqi -e 08090a0b0c0d0e0f -e 58595a5b5c5d "$WORK/sa"

echo "scapy-gateway: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
