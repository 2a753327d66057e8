#!/usr/bin/env bash
# espcap round trip (make demo-espcap): no root, no OVS needed.
#
#   plaintext.pcap --espcap encrypt--> esp.pcap --espcap decrypt--> out.pcap
#
# Shows that the wire copy holds only ESP (no plaintext bytes) and that
# decryption gives back the identical packets.  Exits non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
ESPCAP=build/espcap
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*"; }

step "1/6 build"
make -s build/espcap >/dev/null
echo "built $ESPCAP"

step "2/6 make 20 plaintext packets (IPv4 UDP and ICMP, marker 'PLAINTEXT-MARKER')"
$PY - "$work/plain.pcap" <<'PYEOF'
import sys
from scapy.all import Ether, IP, UDP, ICMP, Raw, wrpcap
pkts = []
for i in range(20):
    l4 = UDP(sport=5000 + i, dport=53) if i % 2 else ICMP(seq=i)
    pkts.append(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                IP(src="10.1.0.5", dst="10.2.0.7") / l4 /
                Raw(b"PLAINTEXT-MARKER %02d " % i + b"x" * (i * 37)))
wrpcap(sys.argv[1], pkts)
PYEOF
echo "wrote $(( $(stat -c %s "$work/plain.pcap") )) bytes"

# A fresh AES-GCM-256 key (32 bytes + 4 bytes salt) from the kernel CSPRNG;
# it lives only in this shell and is never printed.
key=0x$(head -c 36 /dev/urandom | od -An -tx1 | tr -d ' \n')
sa="spi=0x00001001,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-256,key=$key"

step "3/6 espcap encrypt (tunnel mode, 192.0.2.1 -> 192.0.2.2, AES-GCM-256)"
$ESPCAP encrypt --sa "$sa" "$work/plain.pcap" "$work/esp.pcap"
if command -v tcpdump >/dev/null; then
    tcpdump -nr "$work/esp.pcap" 2>/dev/null | head -3
fi
if grep -q "PLAINTEXT-MARKER" "$work/esp.pcap"; then
    echo "FAIL: plaintext visible in the encrypted capture"; exit 1
fi
echo "no plaintext byte pattern in esp.pcap"

step "4/6 espcap decrypt"
$ESPCAP decrypt --sa "$sa" "$work/esp.pcap" "$work/out.pcap"

step "5/6 compare"
$PY - "$work/plain.pcap" "$work/out.pcap" <<'PYEOF'
import sys
from scapy.all import rdpcap
a, b = rdpcap(sys.argv[1]), rdpcap(sys.argv[2])
same = len(a) == len(b) and all(bytes(x) == bytes(y) for x, y in zip(a, b))
print("%d packets in, %d out, %s" % (len(a), len(b),
      "identical" if same else "DIFFERENT"))
sys.exit(0 if same else 1)
PYEOF
step "6/6 tamper with packet 3 and replay packet 5: both dropped, by name"
$PY - "$work/esp.pcap" "$work/bad.pcap" <<'PYEOF'
import sys
from scapy.all import rdpcap, wrpcap
pkts = [bytearray(bytes(p)) for p in rdpcap(sys.argv[1])]
pkts[2][-20] ^= 0x01            # one bit of packet 3's ICV region
pkts.append(pkts[4])            # packet 5 again
wrpcap(sys.argv[2], [bytes(p) for p in pkts], linktype=1)
PYEOF
set +e
$ESPCAP decrypt --sa "$sa" "$work/bad.pcap" "$work/bad-out.pcap" 2>&1 \
    | tee "$work/bad.txt"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 1 ] || ! grep -q "auth: 1" "$work/bad.txt" \
        || ! grep -q "replay: 1" "$work/bad.txt"; then
    echo "FAIL: expected exit 1 with auth: 1 and replay: 1 (exit $rc)"
    exit 1
fi

echo
echo "demo: ESP round trip OK; tampered and replayed packets dropped"
