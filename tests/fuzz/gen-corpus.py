#!/usr/bin/python3
"""Regenerates the committed seed corpora in tests/fuzz/corpus/.

Usage (from the repository root, after `make`):
    /usr/bin/python3 tests/fuzz/gen-corpus.py [build/espcap]

fuzz-decap seeds are ESP packets for the SAs that fuzz-decap.c creates,
made by espcap encrypt with the matching outbound SAs (same keys), plus
"sealed" inputs whose plaintext is a valid inner packet and trailer.
"""

import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))

from espcap_helpers import write_pcap, read_pcap  # noqa: E402
from scapy.layers.inet import IP, UDP, TCP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402

ESPCAP = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    HERE, "..", "..", "build", "espcap")
CORPUS = os.path.join(HERE, "corpus")

K20 = "0x" + bytes(range(20)).hex()
K36 = "0x" + bytes(range(36)).hex()
K16 = "0x" + bytes(range(16)).hex()
K32 = "0x" + bytes(range(32)).hex()

# Outbound twins of the SAs in fuzz-decap.c.
OUT_SPECS = [
    ("gcm128-tun4", "spi=0x1001,mode=tunnel,src=192.0.2.1,dst=192.0.2.2,"
     "aead=aes-gcm-128,key=" + K20, 4),
    ("chacha-trans-esn", "spi=0x1002,mode=transport,aead=chacha20-poly1305,"
     "key=" + K36 + ",esn=on,seq=0x1fffffff8", 6),
    ("cbc256-tun6-udp-esn", "spi=0x1003,mode=tunnel,src=2001:db8::1,"
     "dst=2001:db8::2,enc=aes-cbc-256,enc-key=" + K32
     + ",auth=hmac-sha256-128,auth-key=" + K32 + ",esn=on,encap=udp", 4),
    ("cbc128-trans-udp", "spi=0x1004,mode=transport,enc=aes-cbc-128,"
     "enc-key=" + K16 + ",auth=hmac-sha256-128,auth-key=" + K32
     + ",encap=udp", 4),
    ("gcm256-tun6-sel", "spi=0x1005,mode=tunnel,src=2001:db8::1,"
     "dst=2001:db8::2,aead=aes-gcm-256,key=" + K36, 4),
]


def inner(ver, n=20):
    if ver == 4:
        return bytes(IP(src="10.1.0.1", dst="10.2.0.1") / UDP(sport=1,
                                                              dport=2)
                     / (b"p" * n))
    return bytes(IPv6(src="2001:db8:1::1", dst="2001:db8:2::1")
                 / TCP(sport=1, dport=2) / (b"p" * n))


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def decap_seeds(tmp):
    burst = b""
    for name, spec, ver in OUT_SPECS:
        inp, out = os.path.join(tmp, "in.pcap"), os.path.join(tmp, "o.pcap")
        write_pcap(inp, [inner(ver), inner(ver, 3)])
        subprocess.run([ESPCAP, "encrypt", "--sa", spec, inp, out],
                       check=True)
        pkts = read_pcap(out)[2]
        put("fuzz-decap", "raw-" + name, b"\0" + pkts[0])
        burst += struct.pack("!H", len(pkts[1])) + pkts[1]
    put("fuzz-decap", "raw-burst", b"\0" + burst)
    # RFC 3948 keepalive.
    put("fuzz-decap", "raw-keepalive",
        b"\0" + bytes(IP(src="192.0.2.1", dst="192.0.2.2")
                      / UDP(sport=4500, dport=4500) / b"\xff"))
    # Sealed: SA index, seq, then inner packet + padding + pad len + nh.
    for idx, ver, nh, seq in ((0, 4, 4, 1), (1, 6, 41, 0xfffffff9),
                              (2, 4, 4, 7)):
        pt = inner(ver) if idx != 1 else inner(6)[40:]
        pad = bytes(range(1, 1 + (-(len(pt) + 2)) % 4 + 4))
        body = pt + pad + bytes([len(pad), nh if idx != 1 else 6])
        put("fuzz-decap", "sealed-%d" % idx,
            b"\x01" + bytes([idx]) + struct.pack("!I", seq) + body)


def pcap_seeds(tmp):
    p = os.path.join(tmp, "p.pcap")
    for name, kw in (("le-usec", {}), ("be-usec", {"big": True}),
                     ("le-nsec", {"nsec": True}),
                     ("be-nsec-eth", {"big": True, "nsec": True,
                                      "linktype": 1})):
        frames = [inner(4, 4), inner(6, 0)]
        if kw.get("linktype") == 1:
            frames = [bytes(12) + b"\x08\x00" + f for f in frames[:1]]
        write_pcap(p, frames, **kw)
        with open(p, "rb") as f:
            put("fuzz-pcap", name, f.read())


def spec_seeds():
    seeds = {
        "gcm": "spi=0x1001,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,"
               "key=" + K20,
        "cbc": "spi=4097,mode=transport,enc=aes-cbc-256,enc-key=" + K32
               + ",auth=hmac-sha256-128,auth-key=" + K32 + ",esn=on,seq=9",
        "full": "spi=0x2000,mode=tunnel,src=2001:db8::1,dst=2001:db8::2,"
                "aead=chacha20-poly1305,key=" + K36 + ",esn=off,"
                "encap=udp,sport=4501,dport=4500,iv=0x0102030405060708,"
                "sel-src=10.0.0.0/8,sel-dst=10.1.0.0/16,sel-proto=udp,"
                "engine=openssl,ttl=9,df=set,dscp=46,ecn=compat",
        "in": "spi=0x3000,dst=192.0.2.2,aead=aes-gcm-256,key=" + K36
              + ",replay-window=1024,seq=100",
    }
    for name, s in seeds.items():
        put("fuzz-spec", name, s.encode())


def main():
    with tempfile.TemporaryDirectory() as tmp:
        decap_seeds(tmp)
        pcap_seeds(tmp)
    spec_seeds()


if __name__ == "__main__":
    main()
