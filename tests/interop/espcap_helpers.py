"""Helpers shared by the espcap interop tests.

Everything here is deliberately independent of the C code: pcap files are
written and read with struct, ESP is produced and checked with Scapy 2.5
(scapy.layers.ipsec) and, where Scapy falls short, by hand with
python3-cryptography.
"""

import hashlib
import hmac
import os
import re
import struct
import subprocess

from scapy.layers.inet import IP, TCP, UDP, ICMP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
from scapy.layers.ipsec import SecurityAssociation, ESP
from scapy.packet import Raw

HERE = os.path.dirname(os.path.abspath(__file__))
ESPCAP = os.environ.get(
    "ESPCAP", os.path.join(HERE, "..", "..", "build", "espcap"))

LINK_ETHERNET = 1
LINK_RAW = 101

# Fixed test keys: never used outside these tests.
KEY16 = bytes(range(0x10, 0x20))
KEY32 = bytes(range(0x20, 0x40))
SALT = bytes.fromhex("cafebabe")
AUTH32 = bytes(range(0x40, 0x60))

# name -> (spec fragment, Scapy SecurityAssociation kwargs, aead?)
SUITES = {
    "aes-gcm-128": (
        "aead=aes-gcm-128,key=0x" + (KEY16 + SALT).hex(),
        dict(crypt_algo="AES-GCM", crypt_key=KEY16 + SALT), True),
    "aes-gcm-256": (
        "aead=aes-gcm-256,key=0x" + (KEY32 + SALT).hex(),
        dict(crypt_algo="AES-GCM", crypt_key=KEY32 + SALT), True),
    "chacha20-poly1305": (
        "aead=chacha20-poly1305,key=0x" + (KEY32 + SALT).hex(),
        dict(crypt_algo="CHACHA20-POLY1305", crypt_key=KEY32 + SALT), True),
    "aes-cbc-128": (
        "enc=aes-cbc-128,enc-key=0x" + KEY16.hex()
        + ",auth=hmac-sha256-128,auth-key=0x" + AUTH32.hex(),
        dict(crypt_algo="AES-CBC", crypt_key=KEY16,
             auth_algo="SHA2-256-128", auth_key=AUTH32), False),
    "aes-cbc-256": (
        "enc=aes-cbc-256,enc-key=0x" + KEY32.hex()
        + ",auth=hmac-sha256-128,auth-key=0x" + AUTH32.hex(),
        dict(crypt_algo="AES-CBC", crypt_key=KEY32,
             auth_algo="SHA2-256-128", auth_key=AUTH32), False),
}

INNER = {
    4: dict(src="10.1.0.1", dst="10.2.0.1"),
    6: dict(src="2001:db8:1::1", dst="2001:db8:2::1"),
}
OUTER = {
    4: dict(src="192.0.2.1", dst="198.51.100.2"),
    6: dict(src="2001:db8:ffff::1", dst="2001:db8:eeee::2"),
}


# --- pcap files ------------------------------------------------------------

def write_pcap(path, frames, linktype=LINK_RAW, nsec=False, big=False,
               snaplen=262144):
    e = ">" if big else "<"
    magic = 0xa1b23c4d if nsec else 0xa1b2c3d4
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen,
                            linktype))
        for i, fr in enumerate(frames):
            f.write(struct.pack(e + "IIII", 1700000000 + i, i * 10,
                                len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    """Returns (linktype, nsec, [frame bytes]) of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = "<"
    else:
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
    assert magic in (0xa1b2c3d4, 0xa1b23c4d), "bad magic %#x" % magic
    _, _, _, _, snaplen, linktype = struct.unpack(e + "HHiIII", data[4:24])
    frames, off = [], 24
    while off < len(data):
        _, _, caplen, origlen = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        assert off + caplen <= len(data), "truncated output pcap"
        frames.append(data[off:off + caplen])
        off += caplen
    return linktype, magic == 0xa1b23c4d, frames


# --- running espcap --------------------------------------------------------

SUMMARY_RE = re.compile(
    r"^espcap: (\d+) packets, (\d+) ok(?:, (\d+) passed through "
    r"\(([^)]*)\))?, (\d+) dropped(?: \(([^)]*)\))?$", re.M)


class Result:
    def __init__(self, rc, stderr, frames, linktype):
        self.rc = rc
        self.stderr = stderr
        self.frames = frames
        self.linktype = linktype

    def summary(self):
        """Parses the summary line: (packets, ok, passed, dropped,
        {reason: count})."""
        m = SUMMARY_RE.search(self.stderr)
        assert m, "no summary line in stderr: %r" % self.stderr
        reasons = {}
        for group in (m.group(4), m.group(6)):
            for item in (group or "").split(", "):
                if item:
                    k, v = item.split(": ")
                    reasons[k] = int(v)
        return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0),
                int(m.group(5)), reasons)


def run_espcap(tmp_path, cmd, specs, frames=None, linktype=LINK_RAW,
               in_path=None, name="x"):
    """Runs espcap on 'frames' (or on the file 'in_path') and returns a
    Result with the output frames."""
    if in_path is None:
        in_path = str(tmp_path / ("%s-in.pcap" % name))
        write_pcap(in_path, frames, linktype)
    out_path = str(tmp_path / ("%s-out.pcap" % name))
    if os.path.exists(out_path):
        os.unlink(out_path)
    argv = [ESPCAP, cmd]
    for s in specs:
        argv += ["--sa", s]
    argv += [in_path, out_path]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    stderr = p.stderr.decode(errors="replace")
    print("$ " + " ".join(argv))
    print(stderr, end="")
    out_frames, out_link = [], None
    if os.path.exists(out_path):
        out_link, _, out_frames = read_pcap(out_path)
    return Result(p.returncode, stderr, out_frames, out_link)


# --- packets ---------------------------------------------------------------

def inner_packets(ver):
    """A few packets of different protocols and lengths (padding 0..)."""
    if ver == 4:
        def base():
            return IP(ttl=63, id=0x1234, flags="DF", tos=0x28, **INNER[4])
        icmp = ICMP(id=7, seq=1)
    else:
        def base():
            return IPv6(hlim=63, tc=0x28, fl=0x12345, **INNER[6])
        icmp = ICMPv6EchoRequest(id=7, seq=1)
    pkts = [
        base() / TCP(sport=40000, dport=80, flags="S", seq=1),
        base() / UDP(sport=5353, dport=53) / Raw(b"q" * 13),
        base() / icmp / Raw(b"ping" * 25),
        base() / UDP(sport=1, dport=2) / Raw(bytes(range(256)) * 4),
    ]
    return [bytes(p) for p in pkts]


def ip_class(b):
    return IP if b[0] >> 4 == 4 else IPv6


def parse_ip(b):
    return ip_class(b)(b)


# --- ESP with Scapy --------------------------------------------------------

def scapy_sa(suite, spi, mode, outer_ver=None, esn=False):
    kw = dict(SUITES[suite][1])
    if mode == "tunnel":
        o = OUTER[outer_ver]
        kw["tunnel_header"] = IP(**o) if outer_ver == 4 else IPv6(**o)
    return SecurityAssociation(ESP, spi=spi, esn_en=esn, **kw)


def hmac_icv(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()[:16]


def scapy_encrypt(sa, suite, pkt_bytes, seq, esn):
    """ESP-protects one packet with Scapy.  Returns bytes (outer IP / ESP).

    Scapy quirks handled here (not in our code):
      - encrypt(seq_num=0) silently uses the SA's own counter, and
        esn=0 likewise falls back to the SA's: set both on the SA.
      - For CBC + HMAC with ESN, Scapy 2.5 leaves the high sequence bits
        out of the ICV (RFC 4303 section 2.2.1 wants them appended to the
        authenticated data): compute the ICV by hand there.
    """
    lo, hi = seq & 0xffffffff, seq >> 32
    sa.seq_num = lo
    sa.esn = hi
    aead = SUITES[suite][2]
    if esn and not aead:
        auth_algo, auth_key = sa.auth_algo, sa.auth_key
        from scapy.layers.ipsec import AUTH_ALGOS
        sa.auth_algo, sa.auth_key = AUTH_ALGOS["NULL"], None
        try:
            p = sa.encrypt(parse_ip(pkt_bytes), seq_num=lo, esn_en=True,
                           esn=hi)
        finally:
            sa.auth_algo, sa.auth_key = auth_algo, auth_key
        raw_esp = bytes(p[ESP])
        icv = hmac_icv(auth_key, raw_esp + struct.pack("!I", hi))
        hdr = p.copy()
        hdr[ESP].underlayer.remove_payload()
        return fix_lengths(bytes(hdr), raw_esp + icv)
    p = sa.encrypt(parse_ip(pkt_bytes), seq_num=lo, esn_en=esn, esn=hi)
    return bytes(p)


def fix_lengths(hdr, payload):
    """Joins an IP header chain and a payload, fixing lengths/checksum."""
    p = parse_ip(hdr)
    last = p
    while last.payload and not isinstance(last.payload, Raw):
        last = last.payload
    last.remove_payload()
    last.add_payload(Raw(payload))
    if isinstance(p, IP):
        del p.len
        del p.chksum
    else:
        del p.plen
    return bytes(p.__class__(bytes(p)))


def scapy_decrypt(sa, suite, esp_pkt_bytes, hi, esn):
    """Verifies and decrypts one ESP packet (raw protocol 50) with Scapy.
    Returns the inner (tunnel) or reconstructed (transport) packet bytes;
    raises on an ICV failure."""
    sa.esn = hi
    aead = SUITES[suite][2]
    p = parse_ip(esp_pkt_bytes)
    if esn and not aead:
        # Scapy 2.5 ignores ESN in the HMAC: verify by hand, strip the ICV.
        raw_esp = bytes(p[ESP])
        body, icv = raw_esp[:-16], raw_esp[-16:]
        want = hmac_icv(sa.auth_key, body + struct.pack("!I", hi))
        if not hmac.compare_digest(icv, want):
            raise ValueError("ICV mismatch (hand-checked HMAC with ESN)")
        hdr = p.copy()
        hdr[ESP].underlayer.remove_payload()
        p = parse_ip(fix_lengths(bytes(hdr), body))
        from scapy.layers.ipsec import AUTH_ALGOS
        auth_algo, auth_key = sa.auth_algo, sa.auth_key
        sa.auth_algo, sa.auth_key = AUTH_ALGOS["NULL"], None
        try:
            out = sa.decrypt(p, esn_en=True, esn=hi)
        finally:
            sa.auth_algo, sa.auth_key = auth_algo, auth_key
        return bytes(out)
    return bytes(sa.decrypt(p, esn_en=esn, esn=hi))


# --- UDP encapsulation (RFC 3948), by hand ---------------------------------

def add_udp_encap(esp_pkt_bytes, sport=4500, dport=4500):
    """IP / ESP  ->  IP / UDP(4500) / ESP.  IPv4: checksum 0 (RFC 3948
    section 2.1); IPv6: a real checksum (RFC 8200 section 8.1)."""
    p = parse_ip(esp_pkt_bytes)
    esp = bytes(p[ESP])
    hdr = p.copy()
    hdr[ESP].underlayer.remove_payload()
    if isinstance(hdr, IP):
        hdr.proto = 17
        udp = UDP(sport=sport, dport=dport, chksum=0)
    else:
        hdr.nh = 17
        udp = UDP(sport=sport, dport=dport)
    p = hdr / udp / Raw(esp)
    if isinstance(p, IP):
        del p.len
        del p.chksum
    else:
        del p.plen
    return bytes(p.__class__(bytes(p)))


def strip_udp_encap(pkt_bytes, sport=4500, dport=4500):
    """IP / UDP / ESP  ->  IP / ESP, checking the UDP header on the way."""
    p = parse_ip(pkt_bytes)
    assert p.haslayer(UDP), "expected UDP encapsulation: %r" % p
    u = p[UDP]
    assert (u.sport, u.dport) == (sport, dport), (u.sport, u.dport)
    udp_raw = bytes(u)
    assert struct.unpack("!H", udp_raw[4:6])[0] == len(udp_raw)
    if isinstance(p, IPv6):
        # A zero UDP checksum over IPv6 is not allowed here (RFC 8200).
        from scapy.layers.inet6 import in6_chksum
        zeroed = udp_raw[:6] + b"\0\0" + udp_raw[8:]
        want = in6_chksum(17, p[IPv6], zeroed) or 0xffff
        assert u.chksum == want, "bad IPv6 UDP checksum %#x, want %#x" % (
            u.chksum, want)
    esp = bytes(u.payload)
    hdr = p.copy()
    hdr[UDP].underlayer.remove_payload()
    if isinstance(hdr, IP):
        hdr.proto = 50
    else:
        hdr.nh = 50
    return fix_lengths(bytes(hdr), esp)


def ethernet(ip_bytes, src="02:00:00:00:00:01", dst="02:00:00:00:00:02"):
    et = 0x0800 if ip_bytes[0] >> 4 == 4 else 0x86dd
    mac = lambda s: bytes(int(x, 16) for x in s.split(":"))
    return mac(dst) + mac(src) + struct.pack("!H", et) + ip_bytes


def spec(suite, spi, mode="tunnel", outer_ver=None, esn=False, udp=False,
         extra=""):
    s = "spi=%#x,mode=%s,%s" % (spi, mode, SUITES[suite][0])
    if mode == "tunnel" and outer_ver:
        s += ",src=%s,dst=%s" % (OUTER[outer_ver]["src"],
                                 OUTER[outer_ver]["dst"])
    if esn:
        s += ",esn=on"
    if udp:
        s += ",encap=udp"
    if extra:
        s += "," + extra
    return s
