#!/usr/bin/python3
"""ESP from the Scapy gateway of the offload tests, one packet per sequence
number, out of the interface "wan" of the namespace it runs in.

Each packet is an ICMP echo request from 10.2.0.2 to 10.1.0.2 (ICMP
sequence = the ESP sequence number) in tunnel-mode ESP from 192.0.2.2 to
192.0.2.1, AES-GCM (Scapy's own ESP), in an Ethernet frame to OVS_MAC.
With "bad", the last byte of each ICV is flipped.

Usage: scapy-esp.py OVS_MAC SPI KEY good|bad SEQ...
  KEY   hex, the key with its 4-byte salt
"""
import socket
import sys

from scapy.layers.inet import ICMP, IP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw


def main():
    dst_mac, spi = sys.argv[1], int(sys.argv[2], 0)
    key = bytes.fromhex(sys.argv[3])
    corrupt = sys.argv[4] == "bad"
    seqs = [int(x) for x in sys.argv[5:]]
    sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM",
                             crypt_key=key,
                             tunnel_header=IP(src="192.0.2.2",
                                              dst="192.0.2.1"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("wan", 0))
    mine = open("/sys/class/net/wan/address").read().strip()
    for seq in seqs:
        inner = (IP(src="10.2.0.2", dst="10.1.0.2") / ICMP(id=7, seq=seq)
                 / Raw(b"x" * 32))
        esp = bytearray(bytes(sa.encrypt(inner, seq_num=seq)))
        if corrupt:
            esp[-1] ^= 0x5a     # The ICV.
        s.send(bytes(Ether(src=mine, dst=dst_mac, type=0x800)) + bytes(esp))


if __name__ == "__main__":
    main()
