#!/usr/bin/python3
"""VXLAN + ESP (transport mode) from "Scapy" at site B of the tunnel
offload tests, out of the interface "wan" of the namespace it runs in.

The packet is an ICMP echo request from hb (10.0.0.2) to ha (10.0.0.1),
ICMP id ICMP_ID and sequence SEQ, in VXLAN (VNI 123, UDP 40000 -> 4789)
from SRC to 192.0.2.1, protected with Scapy's own AES-GCM ESP (SPI 0x1001,
sequence number SEQ), in an Ethernet frame from SRC_MAC to DST_MAC.
HOW: "good"; "bad" flips the last byte of the ICV; "clear" sends the VXLAN
packet without ESP.

Usage: scapy-vxlan-esp.py DST_MAC SRC_MAC HA_MAC HB_MAC KEY SEQ HOW SRC
                          ICMP_ID
  KEY   hex, without 0x: the key with its 4-byte salt
"""
import socket
import sys

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw


def main():
    (dst_mac, src_mac, ha_mac, hb_mac, key, seq, how, src,
     icmp_id) = sys.argv[1:10]
    seq = int(seq)
    sa = SecurityAssociation(ESP, spi=0x1001, crypt_algo="AES-GCM",
                             crypt_key=bytes.fromhex(key))
    inner = (Ether(src=hb_mac, dst=ha_mac)
             / IP(src="10.0.0.2", dst="10.0.0.1")
             / ICMP(id=int(icmp_id), seq=seq & 0xffff) / Raw(b"scapy" * 8))
    outer = (IP(src=src, dst="192.0.2.1")
             / UDP(sport=40000, dport=4789) / VXLAN(flags=0x08, vni=123)
             / inner)
    if how == "clear":
        wire = bytes(outer)
    else:
        wire = bytearray(bytes(sa.encrypt(IP(bytes(outer)), seq_num=seq)))
        if how == "bad":
            wire[-1] ^= 0x5a        # The ICV.
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("wan", 0))
    s.send(bytes(Ether(src=src_mac, dst=dst_mac, type=0x800)) + bytes(wire))


if __name__ == "__main__":
    main()
