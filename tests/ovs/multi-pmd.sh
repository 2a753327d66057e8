#!/bin/bash
# System test: one ESP SA pair used by two PMD threads at once, on the Open
# vSwitch userspace datapath with DPDK ports (net_af_packet vdevs on
# veths), ovs-vswitchd with pmd-cpu-mask=0x3 (two PMD threads).  The
# remote gateway is played by Python in namespace pb: it captures what
# site A sends and injects ESP made with Scapy.
#
#  ns mp-ha1          ns mp-sa (DPDK, 2 PMD threads)              ns mp-pb
#  +----------+  +---------------------------------------+  +----------------+
#  | ha1      +--+ hp1  (dpdk, PMD core 0)               |  | Python, no IP: |
#  | 10.1.1.2 |  |   br-int: esp0, vx0                   |  | is 192.0.2.2   |
#  +----------+  |   br-wan 192.0.2.1 (esp0), .11 (vx0)  |  | and 192.0.2.12 |
#  ns mp-ha2     |                wan1 (dpdk, core 0) ---+--+ wan1 (capture) |
#  +----------+  |                wan2 (dpdk, core 1) ---+--+ wan2           |
#  | ha2      +--+ hp2  (dpdk, PMD core 1)               |  |                |
#  | 10.1.2.2 |  +---------------------------------------+  +----------------+
#  +----------+
#
# The same twice: for the ESP tunnel-mode port esp0 (192.0.2.1 <-> .2,
# hosts' traffic to 10.2.0.0/24) and for vxlan port vx0 with ESP transport
# mode (ipsec=required, 192.0.2.11 <-> .12, traffic to 10.3.0.0/24).
# Checks, each of which fails the test:
#   1. outbound: ha1 and ha2 send UDP at the same time, so the PMD of hp1
#      and the PMD of hp2 both encrypt with the port's one outbound SA;
#      both PMDs received packets (pmd-stats-show); the ESP sequence
#      numbers captured on the WAN are all different, as many as the SA
#      counted, exactly 1..N, and N is the SA's last sequence number;
#   2. inbound, disjoint: ESP seq 1..M of the port's inbound SA, odd ones
#      injected on wan1 and even ones on wan2 (so both PMDs decrypt with
#      the one SA at once): all M accepted, no drop;
#   3. inbound, duplicates racing: seq M+1..M+D each injected on wan1
#      and on wan2 at the same time: exactly D accepted, exactly D dropped
#      as replay; ha1 got each of the M+D datagrams exactly once.
# The PMD threads spin for about 15 s in all; the test reserves 256 2 MiB
# hugepages and gives them back.  It skips (exit 0, with the reason) when
# DPDK cannot be initialized here.
#
# Usage: tests/ovs/multi-pmd.sh [OVS_BUILD_DIR]   (default build/ovs/src)
# Needs root, ip, ethtool, tcpdump, ping, /usr/bin/python3 with Scapy.
# Removes every namespace, veth and process it made, also on failure; ends
# only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
need_root_and_tools multi-pmd

sites_init multi-pmd mp-$$- "${1:-}"

K_OUT=0x8a8b8c8d8e8f909192939495969798999a9b9c9d
K_IN=0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4
BR_WAN_MAC=02:00:00:00:0a:01
N_UDP=1500   # Datagrams from each host (1).
M=1000       # Disjoint inbound packets (2).
D=400        # Duplicated inbound packets (3).

skip() {
    echo "multi-pmd: SKIPPED: $*"
    exit 0
}
trap 'cleanup_sites multi-pmd ha1 ha2 sa pb; give_back_hugepages' EXIT

T0=$(date +%s)
[ "$(nproc)" -ge 2 ] || skip "two PMD threads need two CPUs, this machine has $(nproc)"
"$PYTHON3" -c 'import scapy.layers.ipsec' 2>/dev/null \
    || skip "$PYTHON3 has no Scapy (Debian: python3-scapy)"
reserve_hugepages 256 128 || skip "$HP_ERR"

netns_add ha1 ha2 sa pb
netns_no_ipv6 ha1 ha2 sa pb
veth hp1 sa ha1 ha1
veth hp2 sa ha2 ha2
veth wan1 sa wan1 pb
veth wan2 sa wan2 pb
for i in 1 2; do
    in_ns ha$i ip addr add 10.1.$i.2/24 dev ha$i
    in_ns ha$i ip route add 10.2.0.0/24 via 10.1.$i.1
    in_ns ha$i ip route add 10.3.0.0/24 via 10.1.$i.1
    in_ns ha$i ip neigh add 10.1.$i.1 lladdr 02:00:00:00:00:01 dev ha$i
done
PB_MAC1=$(link_mac pb wan1)
PB_MAC2=$(link_mac pb wan2)
HA1_MAC=$(link_mac ha1 ha1)
HA2_MAC=$(link_mac ha2 ha2)

# --- the ESP that the "gateway" sends, made before the PMDs spin ------------

cat > "$WORK/gw.py" <<'EOF'
"""Makes (gen) and sends (send) site A's inbound ESP; counts (listen)."""
import pickle, socket, sys, time
cmd = sys.argv[1]
if cmd == "gen":
    # gen OUT KEY SPI DST_MAC SRC_MAC1 SRC_MAC2 M D tunnel|vxlan
    from scapy.all import Ether, IP, UDP, Raw
    from scapy.layers.vxlan import VXLAN
    from scapy.layers.ipsec import SecurityAssociation, ESP
    out, key, spi, dst_mac, src1, src2, m, d, kind = sys.argv[2:11]
    m, d = int(m), int(d)
    key = bytes.fromhex(key[2:])
    if kind == "tunnel":
        sa = SecurityAssociation(ESP, spi=int(spi, 0), crypt_algo="AES-GCM",
                                 crypt_key=key,
                                 tunnel_header=IP(src="192.0.2.2",
                                                  dst="192.0.2.1"))
    else:
        sa = SecurityAssociation(ESP, spi=int(spi, 0), crypt_algo="AES-GCM",
                                 crypt_key=key)
    frames = {}
    for seq in range(1, m + d + 1):
        inner = (IP(src="10.2.0.2", dst="10.1.1.2", ttl=64)
                 / UDP(sport=7000, dport=9000)
                 / Raw(b"%s seq=%08d" % (kind.encode(), seq)))
        if kind == "vxlan":
            inner = (IP(src="192.0.2.12", dst="192.0.2.11", ttl=64)
                     / UDP(sport=40000 + seq % 1000, dport=4789)
                     / VXLAN(vni=123, flags=0x08)
                     / Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
                     / inner)
            inner = IP(bytes(inner))   # Lengths and checksums done.
        esp = bytes(sa.encrypt(inner, seq_num=seq))
        frames[seq] = (bytes(Ether(src=src1, dst=dst_mac, type=0x800)) + esp,
                       bytes(Ether(src=src2, dst=dst_mac, type=0x800)) + esp)
    pickle.dump(frames, open(out, "wb"))
elif cmd == "send":
    frames = pickle.load(open(sys.argv[2], "rb"))
    first, last, both = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    socks = []
    for ifname in ("wan1", "wan2"):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((ifname, 0))
        socks.append(s)
    for n, seq in enumerate(range(first, last + 1)):
        f1, f2 = frames[seq]
        if both == "both":
            socks[0].send(f1)
            socks[1].send(f2)
        elif seq % 2:
            socks[0].send(f1)
        else:
            socks[1].send(f2)
        if n % 16 == 15:
            time.sleep(0.002)
elif cmd == "listen":
    # Counts the datagrams to ADDR:9000 until STOP exists: "n unique".
    addr, stop = sys.argv[2], sys.argv[3]
    import os
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, 9000))
    s.settimeout(0.2)
    seen = []
    while not os.path.exists(stop):
        try:
            seen.append(s.recv(100))
        except socket.timeout:
            pass
    print(len(seen), len(set(seen)))
elif cmd == "blast":
    # N datagrams to ADDR:9, paced.
    addr, n = sys.argv[2], int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        s.sendto(b"x" * 64, (addr, 9))
        if i % 16 == 15:
            time.sleep(0.002)
EOF
"$PYTHON3" "$WORK/gw.py" gen "$WORK/frames-esp0.pkl" $K_IN 0x1001 \
    $BR_WAN_MAC "$PB_MAC1" "$PB_MAC2" $M $D tunnel
"$PYTHON3" "$WORK/gw.py" gen "$WORK/frames-vx0.pkl" $K_IN 0x3002 \
    $BR_WAN_MAC "$PB_MAC1" "$PB_MAC2" $M $D vxlan

# --- site A with DPDK ----------------------------------------------------------

start_dpdk_site sa 0x3 || skip "$DPDK_ERR"
check "DPDK initialized" test "$(vsctl sa get Open_vSwitch . dpdk_initialized)" = true

vsctl sa add-br br-wan -- set bridge br-wan datapath_type=netdev \
    other_config:hwaddr=$BR_WAN_MAC
in_ns sa ip link set br-wan up
in_ns sa ip addr add 192.0.2.1/24 dev br-wan
in_ns sa ip addr add 192.0.2.11/24 dev br-wan
vsctl sa add-br br-int -- set bridge br-int datapath_type=netdev
vsctl sa add-port br-int esp0 -- set Interface esp0 type=esp \
    options:remote_ip=192.0.2.2 options:local_ip=192.0.2.1
appctl sa ipsec/sa-add esp0 out \
    "spi=0x2001,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,key=$K_OUT"
# A window wider than the whole run: a PMD that the loaded machine holds
# back never pushes a packet left of the window (that would be "stale",
# correct but not what this test is about).
appctl sa ipsec/sa-add esp0 in \
    "spi=0x1001,src=192.0.2.2,dst=192.0.2.1,aead=aes-gcm-128,key=$K_IN,replay-window=4096"
# The gateway answers no ARP: its MAC is set.
appctl sa tnl/neigh/set br-wan 192.0.2.2 "$PB_MAC1" >/dev/null
appctl sa tnl/neigh/set br-wan 192.0.2.12 "$PB_MAC1" >/dev/null

# The PMDs start spinning here.
PMD_T0=$(date +%s)
add_dpdk() {   # add_dpdk BRIDGE PORT N CORE
    vsctl sa add-port "$1" "$2" -- set Interface "$2" type=dpdk \
        "options:dpdk-devargs=net_af_packet$3,iface=$2" \
        "other_config:pmd-rxq-affinity=0:$4"
}
add_dpdk br-int hp1 0 0
add_dpdk br-int hp2 1 1
add_dpdk br-wan wan1 2 0
add_dpdk br-wan wan2 3 1
ports_up() {
    for p in hp1 hp2 wan1 wan2; do
        test "$(vsctl sa get Interface $p link_state)" = up || return 1
    done
}
retry 50 ports_up || true
ofctl sa del-flows br-int
ofctl sa add-flow br-int "ip,nw_dst=10.2.0.0/24,actions=esp0"
ofctl sa add-flow br-int "in_port=esp0,ip,nw_dst=10.1.1.0/24,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$HA1_MAC,hp1"
ofctl sa add-flow br-int "in_port=esp0,ip,nw_dst=10.1.2.0/24,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$HA2_MAC,hp2"
appctl sa dpif-netdev/pmd-rxq-show > "$WORK/rxq.txt"
check "4 DPDK ports up, rxqs on two PMDs ($(tr -s ' \n' ' ' < "$WORK/rxq.txt"))" \
    test "$(grep -c 'core_id' "$WORK/rxq.txt")" = 2 -a \
    "$(grep -c 'queue-id' "$WORK/rxq.txt")" = 4

in_delta_is() {   # in_delta_is PORT SPI "P0 B0" N: the in SA counted N more.
    local d
    d=$(minus "$(sa_json sa "$1" "$2" in)" "$3")
    test "${d% *}" = "$4"
}

# round PORT OUT_SPI IN_SPI DST: checks 1 to 3 for PORT, the hosts sending
# to DST.
round() {
    local p=$1 out=$2 in=$3 dst=$4 s0 d n_out seq_out rx n_seq n_uniq \
        i0 listen
    # --- 1: outbound, two PMDs, one SA
    start_capture pb wan1 "$WORK/wan-$p.pcap" -B 16384 -s 128 esp
    appctl sa dpif-netdev/pmd-stats-clear
    s0=$(sa_json sa "$p" "$out" out)
    in_ns ha1 "$PYTHON3" "$WORK/gw.py" blast "$dst" $N_UDP &
    b1=$!
    PIDS+=("$b1")
    in_ns ha2 "$PYTHON3" "$WORK/gw.py" blast "$dst" $N_UDP &
    b2=$!
    PIDS+=("$b2")
    wait $b1 $b2 || true
    stop_wan_capture
    appctl sa dpif-netdev/pmd-stats-show > "$WORK/pmd-stats-$p.txt"
    d=$(minus "$(sa_json sa "$p" "$out" out)" "$s0")
    n_out=${d% *}
    seq_out=$(appctl sa ipsec/sa-show "$p" --json | "$PYTHON3" -c '
import json, sys
print([s["seq"] for s in json.load(sys.stdin)["sas"]
       if s["spi"] == int(sys.argv[1], 0) and s["dir"] == "out"][0])' "$out")
    rx=$(grep 'packets received' "$WORK/pmd-stats-$p.txt" | awk '{print $NF}' | tr '\n' ' ')
    check "$p: both PMDs received host packets (per PMD: $rx)" \
        test "$(grep 'packets received' "$WORK/pmd-stats-$p.txt" | awk '$NF >= 1000' | wc -l)" -ge 2
    check "$p: out SA protected most of the $((2 * N_UDP)) datagrams ($n_out)" \
        test "$n_out" -ge $(( 2 * N_UDP * 9 / 10 ))
    tcpdump -nr "$WORK/wan-$p.pcap" 2>/dev/null \
        | sed -n "s/.*ESP(spi=$(printf 0x%08x "$out"),seq=\(0x[0-9a-f]*\)).*/\1/p" \
        | while read -r x; do echo $((x)); done | sort -n > "$WORK/seqs-$p.txt"
    n_seq=$(wc -l < "$WORK/seqs-$p.txt")
    n_uniq=$(uniq < "$WORK/seqs-$p.txt" | wc -l)
    check "$p: ESP sequence numbers on the WAN all different ($n_uniq of $n_seq)" \
        test "$n_seq" = "$n_uniq"
    check "$p: as many ESP packets on the WAN as the SA counted ($n_seq, $n_out)" \
        test "$n_seq" = "$n_out"
    check "$p: the sequence numbers are exactly 1..$seq_out (first $(head -1 "$WORK/seqs-$p.txt"), last $(tail -1 "$WORK/seqs-$p.txt"))" \
        test "$(head -1 "$WORK/seqs-$p.txt")" = 1 -a "$(tail -1 "$WORK/seqs-$p.txt")" = "$seq_out" -a "$n_seq" = "$seq_out"

    # --- 2 and 3: inbound, two PMDs, one SA
    rm -f "$WORK/stop"
    in_ns ha1 "$PYTHON3" "$WORK/gw.py" listen 10.1.1.2 "$WORK/stop" \
        > "$WORK/listen-$p.txt" &
    listen=$!
    PIDS+=("$listen")
    sleep 0.5
    i0=$(sa_json sa "$p" "$in" in)
    in_ns pb "$PYTHON3" "$WORK/gw.py" send "$WORK/frames-$p.pkl" 1 $M alternate
    retry 10 in_delta_is "$p" "$in" "$i0" $M || true
    d=$(minus "$(sa_json sa "$p" "$in" in)" "$i0")
    check "$p: disjoint: all $M accepted by the in SA ($d)" test "${d% *}" = $M
    check "$p: disjoint: no drop ($(sa_drops sa "$p" "$in" in))" \
        test "$(sa_drops sa "$p" "$in" in)" = none
    i0=$(sa_json sa "$p" "$in" in)
    in_ns pb "$PYTHON3" "$WORK/gw.py" send "$WORK/frames-$p.pkl" $((M + 1)) $((M + D)) both
    retry 10 in_delta_is "$p" "$in" "$i0" $D || true
    sleep 0.3   # Anything more would be a second copy accepted.
    d=$(minus "$(sa_json sa "$p" "$in" in)" "$i0")
    check "$p: duplicates: exactly $D of $((2 * D)) accepted ($d)" test "${d% *}" = $D
    check "$p: duplicates: exactly $D dropped as replay ($(sa_drops sa "$p" "$in" in))" \
        test "$(sa_drops sa "$p" "$in" in)" = "replay:$D"
    touch "$WORK/stop"
    wait $listen || true
    check "$p: ha1 got each of the $((M + D)) datagrams exactly once ($(cat "$WORK/listen-$p.txt"), received unique)" \
        test "$(cat "$WORK/listen-$p.txt")" = "$((M + D)) $((M + D))"
    # For the logs.
    appctl sa ipsec/sa-show "$p" > "$WORK/sa-show-$p.txt"
    appctl sa ipsec/stats > "$WORK/stats-$p.txt"
    appctl sa dpctl/dump-flows > "$WORK/dp-flows-$p.txt"
}

round esp0 0x2001 0x1001 10.2.0.2

# vx0 next to esp0: the ESP of each peer goes to the datapath port of its
# own IPsec port (esp_sys, vxlan_sys_4789), on one bridge and one site.
vsctl sa add-port br-int vx0 -- set Interface vx0 type=vxlan \
    options:remote_ip=192.0.2.12 options:local_ip=192.0.2.11 \
    options:key=123 options:ipsec=required
appctl sa ipsec/sa-add vx0 out \
    "spi=0x3001,mode=transport,aead=aes-gcm-128,key=$K_OUT"
appctl sa ipsec/sa-add vx0 in \
    "spi=0x3002,mode=transport,aead=aes-gcm-128,key=$K_IN,replay-window=4096"
ofctl sa add-flow br-int "ip,nw_dst=10.3.0.0/24,actions=vx0"
ofctl sa add-flow br-int "in_port=vx0,ip,nw_dst=10.1.1.0/24,actions=mod_dl_src:02:00:00:00:00:01,mod_dl_dst:$HA1_MAC,hp1"
round vx0 0x3001 0x3002 10.3.0.2
PMD_T1=$(date +%s)

# The PMDs stop spinning once their ports are gone.
for p in hp1 hp2 wan1 wan2; do
    vsctl sa del-port "$p"
done
echo "multi-pmd: PMD threads polled for $((PMD_T1 - PMD_T0 + 1)) s"

echo "multi-pmd: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
