#!/usr/bin/python3
"""A standard tunnel-mode IPsec gateway played by Scapy, for scapy-gateway.sh.

It owns the WAN address 192.0.2.2 (OUTER=4) or 2001:db8::2 (OUTER=6) on
IFACE (the kernel there has no address): answers ARP or IPv6 neighbor
solicitations for it, decrypts the ESP that the Open vSwitch site
(192.0.2.1 or 2001:db8::1) sends with Scapy's own ESP
(scapy.layers.ipsec), answers the ICMP and ICMPv6 echo requests to the
host it pretends to have behind it (10.2.0.2, fd02::2) with ESP, and, once
the file GO exists, originates COUNT echo requests from 10.2.0.2 to
10.1.0.2 and COUNT from fd02::2 to fd01::2, and counts the replies.  Ends
when the file STOP exists (or after 60 s) and prints its counters as one
JSON object.  Says "ready" on stderr once it listens.  Its packets'
sequence numbers come from the SA's own counter, from 1.

Usage: scapy-gateway.py IFACE OVS_MAC OUTER SUITE SPI_IN KEYS_IN SPI_OUT
                        KEYS_OUT COUNT GO STOP
  SUITE      aes-gcm-128 | aes-gcm-256 | chacha20-poly1305 | aes-cbc-128
  KEYS_*     hex; for aes-cbc-128 "ENCKEY:AUTHKEY", else the key with salt
  SPI_IN     the SPI of the ESP it receives (the site's outbound SA)
"""

import json
import os
import socket
import sys
import time

from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6NDOptDstLLAddr, IPv6)
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

WAN = {4: ("192.0.2.2", "192.0.2.1"), 6: ("2001:db8::2", "2001:db8::1")}
HOST_BEHIND = {4: "10.2.0.2", 6: "fd02::2"}
HOST_AT_SITE = {4: "10.1.0.2", 6: "fd01::2"}
PING_ID = 0x4242
ETH_P_ALL = 3
PACKET_OUTGOING = 4


def make_sa(suite, spi, keys, src, dst, outer):
    if suite == "aes-cbc-128":
        enc, auth = keys.split(":")
        kw = dict(crypt_algo="AES-CBC", crypt_key=bytes.fromhex(enc),
                  auth_algo="SHA2-256-128", auth_key=bytes.fromhex(auth))
    elif suite == "chacha20-poly1305":
        kw = dict(crypt_algo="CHACHA20-POLY1305",
                  crypt_key=bytes.fromhex(keys))
    else:
        kw = dict(crypt_algo="AES-GCM", crypt_key=bytes.fromhex(keys))
    hdr = IP(src=src, dst=dst) if outer == 4 else IPv6(src=src, dst=dst)
    return SecurityAssociation(ESP, spi=spi, seq_num=1, tunnel_header=hdr,
                               **kw)


def echo(ver, src, dst, reply, ident, seq, payload):
    if ver == 4:
        return (IP(src=src, dst=dst, ttl=64)
                / ICMP(type=0 if reply else 8, id=ident, seq=seq)
                / Raw(payload))
    cls = ICMPv6EchoReply if reply else ICMPv6EchoRequest
    return (IPv6(src=src, dst=dst, hlim=64) / cls(id=ident, seq=seq)
            / Raw(payload))


def main():
    (iface, ovs_mac, outer, suite, spi_in, keys_in, spi_out, keys_out, count,
     go, stop) = sys.argv[1:12]
    outer, count = int(outer), int(count)
    gw_ip, site_ip = WAN[outer]
    sa_in = make_sa(suite, int(spi_in, 0), keys_in, site_ip, gw_ip, outer)
    sa_out = make_sa(suite, int(spi_out, 0), keys_out, gw_ip, site_ip, outer)
    my_mac = open("/sys/class/net/%s/address" % iface).read().strip()
    outer_cls = IP if outer == 4 else IPv6

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                      socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.05)
    print("ready", file=sys.stderr, flush=True)
    c = dict(neigh=0, esp_in=0, decrypted=0, bad=0, echo_answered=0,
             esp_out=0, pings_sent=0, replies4=0, replies6=0, other=0)

    def send_esp(inner):
        pkt = sa_out.encrypt(inner)
        s.send(bytes(Ether(src=my_mac, dst=ovs_mac) / pkt))
        c["esp_out"] += 1

    deadline = time.time() + 60
    next_ping = 0.0
    while time.time() < deadline and not os.path.exists(stop):
        if (os.path.exists(go) and c["pings_sent"] < 2 * count
                and time.time() >= next_ping):
            ver = 4 if c["pings_sent"] < count else 6
            c["pings_sent"] += 1
            send_esp(echo(ver, HOST_BEHIND[ver], HOST_AT_SITE[ver], False,
                          PING_ID, c["pings_sent"],
                          b"scapy-gateway-ping" * 3))
            next_ping = time.time() + 0.1
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == PACKET_OUTGOING:
            continue
        eth = Ether(data)
        if os.environ.get("GW_DEBUG"):
            print("%.3f %s" % (time.time(), eth.summary()), file=sys.stderr,
                  flush=True)
        if ARP in eth and eth[ARP].op == 1 and eth[ARP].pdst == gw_ip:
            c["neigh"] += 1
            s.send(bytes(Ether(src=my_mac, dst=eth.src)
                         / ARP(op=2, hwsrc=my_mac, psrc=gw_ip,
                               hwdst=eth[ARP].hwsrc, pdst=eth[ARP].psrc)))
            continue
        if ICMPv6ND_NS in eth and eth[ICMPv6ND_NS].tgt == gw_ip:
            c["neigh"] += 1
            s.send(bytes(Ether(src=my_mac, dst=eth.src)
                         / IPv6(src=gw_ip, dst=eth[IPv6].src, hlim=255)
                         / ICMPv6ND_NA(tgt=gw_ip, R=0, S=1, O=1)
                         / ICMPv6NDOptDstLLAddr(lladdr=my_mac)))
            continue
        if outer_cls not in eth:
            c["other"] += 1
            continue
        ip = eth[outer_cls]
        proto = ip.proto if outer == 4 else ip.nh
        if proto != 50 or ip.dst != gw_ip or ip.src != site_ip:
            c["other"] += 1
            continue
        c["esp_in"] += 1
        try:
            inner = sa_in.decrypt(ip)
        except Exception:   # Wrong ICV or SPI: Scapy raises.
            c["bad"] += 1
            continue
        c["decrypted"] += 1
        ver = 4 if isinstance(inner, IP) else 6
        if ver == 4 and ICMP in inner:
            req = inner[ICMP].type == 8
            rep = inner[ICMP].type == 0
            ident, seq = inner[ICMP].id, inner[ICMP].seq
            payload = bytes(inner[ICMP].payload)
        elif ver == 6 and ICMPv6EchoRequest in inner:
            req, rep = True, False
            e = inner[ICMPv6EchoRequest]
            ident, seq, payload = e.id, e.seq, bytes(e.payload)
        elif ver == 6 and ICMPv6EchoReply in inner:
            req, rep = False, True
            ident = inner[ICMPv6EchoReply].id
        else:
            continue
        if req and inner.dst == HOST_BEHIND[ver]:
            send_esp(echo(ver, HOST_BEHIND[ver], inner.src, True, ident, seq,
                          payload))
            c["echo_answered"] += 1
        elif rep and ident == PING_ID:
            c["replies%d" % ver] += 1
    print(json.dumps(c, sort_keys=True))


if __name__ == "__main__":
    main()
