"""espcap behaviour: tampering, replay, ESN, lifetimes, encapsulation
mismatch, selectors, pass-through, usage errors and malformed pcap input.
Peer packets come from Scapy."""

import os
import struct

import pytest

from espcap_helpers import (
    SUITES, KEY16, SALT, AUTH32, LINK_RAW, LINK_ETHERNET, OUTER, ESPCAP,
    inner_packets, run_espcap, scapy_sa, scapy_encrypt, scapy_decrypt,
    add_udp_encap, spec, write_pcap, read_pcap, ethernet)

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Raw


def esp_offset(pkt):
    """Offset of the ESP header in an IP / [UDP /] ESP packet."""
    if pkt[0] >> 4 == 4:
        off, proto = (pkt[0] & 0xf) * 4, pkt[9]
    else:
        off, proto = 40, pkt[6]
    return off + 8 if proto == 17 else off


def one_esp(suite, esn=False, udp=False, seq=1, ver=4):
    sa = scapy_sa(suite, 0x4242, "tunnel", ver, esn)
    p = scapy_encrypt(sa, suite, inner_packets(ver)[1], seq, esn)
    return add_udp_encap(p) if udp else p


# --- integrity -------------------------------------------------------------

TAMPER = ["seq", "iv", "ciphertext-first", "ciphertext-middle", "icv-first",
          "icv-last"]


@pytest.mark.parametrize("suite", ["aes-gcm-128", "chacha20-poly1305",
                                   "aes-cbc-128"])
@pytest.mark.parametrize("udp", [False, True], ids=["raw", "udp"])
@pytest.mark.parametrize("esn", [False, True], ids=["noesn", "esn"])
@pytest.mark.parametrize("where", TAMPER)
def test_flipped_bit_is_auth_drop(tmp_path, suite, udp, esn, where):
    """One flipped bit anywhere after the SPI fails the ICV check.  The
    good copy after it still passes: the bad one moved no window."""
    good = one_esp(suite, esn, udp, seq=5)
    e = esp_offset(good)
    iv_len = 8 if SUITES[suite][2] else 16
    pos = {
        "seq": e + 7,
        "iv": e + 8,
        "ciphertext-first": e + 8 + iv_len,
        "ciphertext-middle": e + 8 + iv_len + (len(good) - e - 24
                                               - iv_len) // 2,
        "icv-first": len(good) - 16,
        "icv-last": len(good) - 1,
    }[where]
    # Flip 0x10 of the low seq byte: seq 5 -> 21, still inside the window
    # and not a replay, so only the ICV can catch it.
    bad = bytearray(good)
    bad[pos] ^= 0x10
    s = spec(suite, 0x4242, "tunnel", 4, esn, udp)
    r = run_espcap(tmp_path, "decrypt", [s], [bytes(bad), good])
    assert r.rc == 1
    assert "espcap: 2 packets, 1 ok, 1 dropped (auth: 1)" in r.stderr
    assert len(r.frames) == 1
    assert r.frames[0] == inner_packets(4)[1]


def test_flipped_spi_is_no_sa(tmp_path):
    good = one_esp("aes-gcm-128")
    bad = bytearray(good)
    bad[esp_offset(good) + 3] ^= 1
    r = run_espcap(tmp_path, "decrypt", [spec("aes-gcm-128", 0x4242,
                                              "tunnel", 4)], [bytes(bad)])
    assert r.rc == 1
    assert r.summary() == (1, 0, 0, 1, {"no_sa": 1})


# --- replay ----------------------------------------------------------------

def test_replayed_packet_is_dropped(tmp_path):
    p = one_esp("aes-gcm-256", seq=7)
    r = run_espcap(tmp_path, "decrypt", [spec("aes-gcm-256", 0x4242,
                                              "tunnel", 4)], [p, p])
    assert r.rc == 1
    assert "espcap: 2 packets, 1 ok, 1 dropped (replay: 1)" in r.stderr
    assert len(r.frames) == 1


def test_replay_window_zero_disables_check(tmp_path):
    p = one_esp("aes-gcm-256", seq=7)
    s = spec("aes-gcm-256", 0x4242, "tunnel", 4, extra="replay-window=0")
    r = run_espcap(tmp_path, "decrypt", [s], [p, p])
    assert r.rc == 0, r.stderr
    assert r.summary() == (2, 2, 0, 0, {})


def test_left_of_window_is_stale(tmp_path):
    new = one_esp("aes-cbc-256", seq=1000)
    old = one_esp("aes-cbc-256", seq=900)
    s = spec("aes-cbc-256", 0x4242, "tunnel", 4, extra="replay-window=64")
    r = run_espcap(tmp_path, "decrypt", [s], [new, old])
    assert r.rc == 1
    assert r.summary() == (2, 1, 0, 1, {"stale": 1})


# --- ESN near 2^32 ---------------------------------------------------------

def test_esn_receiver_infers_high_bits_across_wrap(tmp_path):
    """RFC 4303 appendix A2: highest seen 2^32 + 5; a packet with low bits
    0xfffffffe is 2^32 - 2 (inside the window), one with low bits 6 is
    2^32 + 6."""
    suite = "chacha20-poly1305"
    sa = scapy_sa(suite, 0x4242, "tunnel", 6, True)
    plain = inner_packets(6)
    a = scapy_encrypt(sa, suite, plain[0], (1 << 32) - 2, True)
    b = scapy_encrypt(sa, suite, plain[1], (1 << 32) + 6, True)
    s = spec(suite, 0x4242, "tunnel", 6, esn=True,
             extra="seq=%d" % ((1 << 32) + 5))
    r = run_espcap(tmp_path, "decrypt", [s], [a, b])
    assert r.rc == 0, r.stderr
    assert r.frames == plain[:2]


def test_esn_off_sequence_overflow(tmp_path):
    """Without ESN the sender stops at 2^32 - 1 (RFC 4303 section
    3.3.3): the next packet is dropped, never sent with a cycled seq."""
    s = spec("aes-gcm-128", 0x4242, "tunnel", 4,
             extra="seq=%d" % 0xffffffff)
    r = run_espcap(tmp_path, "encrypt", [s], inner_packets(4)[:2])
    assert r.rc == 1
    assert r.summary() == (2, 1, 0, 1, {"seq_overflow": 1})
    out = r.frames[0]
    assert struct.unpack("!I", out[24:28])[0] == 0xffffffff


def test_esn_on_encrypt_crosses_2_32(tmp_path):
    suite = "aes-cbc-128"
    s = spec(suite, 0x4242, "tunnel", 4, esn=True,
             extra="seq=%d" % 0xffffffff)
    plain = inner_packets(4)[:3]
    r = run_espcap(tmp_path, "encrypt", [s], plain)
    assert r.rc == 0, r.stderr
    sa = scapy_sa(suite, 0x4242, "tunnel", 4, True)
    seqs = [0xffffffff, 1 << 32, (1 << 32) + 1]
    for got, want, seq in zip(r.frames, plain, seqs):
        assert struct.unpack("!I", got[24:28])[0] == seq & 0xffffffff
        assert scapy_decrypt(sa, suite, got, seq >> 32, True) == want


# --- SA selection ----------------------------------------------------------

def test_encrypt_picks_first_matching_selector(tmp_path):
    g = SUITES["aes-gcm-128"][0]
    o = "src=%s,dst=%s" % (OUTER[4]["src"], OUTER[4]["dst"])
    sas = ["spi=0x5001,%s,%s,sel-dst=10.2.0.0/16,sel-proto=udp" % (g, o),
           "spi=0x5002,%s,%s,sel-dst=10.2.0.0/16" % (g, o),
           "spi=0x5003,%s,%s,sel-dst=2001:db8::/32" % (g, o)]
    plain = inner_packets(4)[:3] + inner_packets(6)[:1]
    other = bytes(IP(src="10.1.0.1", dst="172.16.0.1") / UDP() / b"x")
    r = run_espcap(tmp_path, "encrypt", sas, plain + [other])
    assert r.rc == 1
    assert r.summary() == (5, 4, 0, 1, {"no_sa": 1})
    spis = [struct.unpack("!I", f[20:24])[0] for f in r.frames]
    # TCP -> 5002, UDP -> 5001, ICMP -> 5002, IPv6 -> 5003.
    assert spis == [0x5002, 0x5001, 0x5002, 0x5003]


def test_decrypt_selects_sa_by_spi(tmp_path):
    frames, plain, specs = [], [], []
    for i, suite in enumerate(SUITES):
        spi = 0x6000 + i
        sa = scapy_sa(suite, spi, "transport", None, False)
        p = inner_packets(4)[i % 4]
        frames.append(scapy_encrypt(sa, suite, p, 1, False))
        plain.append(p)
        specs.append(spec(suite, spi, "transport"))
    r = run_espcap(tmp_path, "decrypt", specs[::-1], frames)
    assert r.rc == 0, r.stderr
    assert r.frames == plain


# --- pass-through ----------------------------------------------------------

def test_natt_keepalive_and_ike_are_passed_not_dropped(tmp_path):
    """RFC 3948 section 2.2 keepalive (0xff) and a non-ESP marker (IKE on
    port 4500, RFC 3948 section 2.2) are handed back, not written, and
    not counted as drops (exit 0)."""
    o = OUTER[4]
    ka = bytes(IP(**o) / UDP(sport=4500, dport=4500) / Raw(b"\xff"))
    ike = bytes(IP(**o) / UDP(sport=4500, dport=4500)
                / Raw(b"\0\0\0\0" + b"\x11" * 40))
    esp = one_esp("aes-gcm-128", udp=True)
    s = spec("aes-gcm-128", 0x4242, "tunnel", 4, udp=True)
    r = run_espcap(tmp_path, "decrypt", [s], [ka, esp, ike])
    assert r.rc == 0, r.stderr
    assert r.summary() == (3, 1, 2, 0, {"keepalive": 1, "non_esp": 1})
    assert len(r.frames) == 1


def test_non_ip_ethernet_frame_is_dropped(tmp_path):
    arp = bytes(6) + bytes(6) + b"\x08\x06" + bytes(28)
    s = spec("aes-gcm-128", 0x4242, "tunnel", 4)
    r = run_espcap(tmp_path, "encrypt", [s],
                   [arp, ethernet(inner_packets(4)[0])], LINK_ETHERNET)
    assert r.rc == 1
    assert r.summary() == (2, 1, 0, 1, {"not_ip": 1})


# --- outer header options, fixed IV, engines -------------------------------

def test_outer_header_options(tmp_path):
    s = spec("aes-gcm-128", 0x4242, "tunnel", 4,
             extra="ttl=5,df=clear,dscp=46")
    r = run_espcap(tmp_path, "encrypt", [s], inner_packets(4)[:1])
    assert r.rc == 0, r.stderr
    outer = IP(r.frames[0])
    assert outer.ttl == 5
    assert not (outer.flags & 2)
    assert outer.tos >> 2 == 46


def test_fixed_iv_is_reproducible_and_increments(tmp_path):
    iv = "0x0102030405060708"
    s = spec("aes-gcm-128", 0x4242, "tunnel", 4, extra="iv=" + iv)
    plain = inner_packets(4)
    a = run_espcap(tmp_path, "encrypt", [s], plain, name="a")
    b = run_espcap(tmp_path, "encrypt", [s], plain, name="b")
    assert a.rc == 0 and b.rc == 0
    assert a.frames == b.frames
    ivs = [int.from_bytes(f[28:36], "big") for f in a.frames]
    assert ivs == [0x0102030405060708 + i for i in range(len(plain))]


@pytest.mark.parametrize("suite", list(SUITES))
def test_engines_agree(tmp_path, suite):
    """Same key and IV: ipsec-mb and openssl produce identical bytes."""
    iv = "0x" + ("a5" * (8 if SUITES[suite][2] else 16))
    plain = inner_packets(6)
    outs = []
    for engine in ("ipsec-mb", "openssl"):
        s = spec(suite, 0x4242, "transport",
                 extra="iv=%s,engine=%s" % (iv, engine))
        r = run_espcap(tmp_path, "encrypt", [s], plain, name=engine)
        assert r.rc == 0, r.stderr
        outs.append(r.frames)
    assert outs[0] == outs[1]


# --- lifetimes -------------------------------------------------------------
# espcap passes now = 0 to the engine: packet and byte lifetimes apply,
# seconds never expire.  A soft limit only raises an event (no drop).

UDP41 = inner_packets(4)[1]     # IPv4 / UDP / 13 bytes: 41 bytes.


def esp_seq(pkt):
    return struct.unpack("!I", pkt[esp_offset(pkt) + 4:
                                   esp_offset(pkt) + 8])[0]


def test_encrypt_hard_packets_drops_the_rest(tmp_path):
    """hard-packets=6: packets 1..6 sent with seq 1..6, the other 4
    dropped as 'lifetime'.  soft-packets=2 drops nothing."""
    suite = "aes-gcm-128"
    s = spec(suite, 0x4242, "tunnel", 4,
             extra="soft-packets=2,hard-packets=6")
    r = run_espcap(tmp_path, "encrypt", [s], [UDP41] * 10)
    assert r.rc == 1
    assert "espcap: 10 packets, 6 ok, 4 dropped (lifetime: 4)" in r.stderr
    assert r.summary() == (10, 6, 0, 4, {"lifetime": 4})
    assert [esp_seq(f) for f in r.frames] == list(range(1, 7))
    sa = scapy_sa(suite, 0x4242, "tunnel", 4)
    for f in r.frames:
        assert scapy_decrypt(sa, suite, f, 0, False) == UDP41


def test_decrypt_hard_packets_drops_the_rest(tmp_path):
    """Inbound hard-packets=3 on 10 valid packets from Scapy (seq 1..10,
    one burst): 3 decrypted, 7 dropped as 'lifetime'."""
    suite = "chacha20-poly1305"
    sa = scapy_sa(suite, 0x4242, "tunnel", 4)
    esp = [scapy_encrypt(sa, suite, UDP41, seq, False)
           for seq in range(1, 11)]
    s = spec(suite, 0x4242, "tunnel", 4, extra="hard-packets=3")
    r = run_espcap(tmp_path, "decrypt", [s], esp)
    assert r.rc == 1
    assert "espcap: 10 packets, 3 ok, 7 dropped (lifetime: 7)" in r.stderr
    assert r.frames == [UDP41] * 3


def test_decrypt_hard_packets_across_bursts(tmp_path):
    """40 packets are two bursts (32 + 8): whatever the first burst let
    through, hard-packets=3 stops the SA before the second one."""
    suite = "aes-gcm-128"
    sa = scapy_sa(suite, 0x4242, "tunnel", 4)
    esp = [scapy_encrypt(sa, suite, UDP41, seq, False)
           for seq in range(1, 41)]
    s = spec(suite, 0x4242, "tunnel", 4, extra="hard-packets=3")
    r = run_espcap(tmp_path, "decrypt", [s], esp)
    assert r.rc == 1
    n, ok, passed, dropped, reasons = r.summary()
    assert (n, passed, ok + dropped) == (40, 0, 40)
    assert 3 <= ok <= 32
    assert reasons == {"lifetime": dropped}


def test_encrypt_hard_bytes(tmp_path):
    """hard-bytes counts inner bytes: exactly three 41-byte packets fit in
    123, the fourth finds the limit reached."""
    s = spec("aes-cbc-128", 0x4242, "tunnel", 4,
             extra="soft-bytes=100,hard-bytes=%d" % (3 * len(UDP41)))
    r = run_espcap(tmp_path, "encrypt", [s], [UDP41] * 10)
    assert r.rc == 1
    assert r.summary() == (10, 3, 0, 7, {"lifetime": 7})
    assert [esp_seq(f) for f in r.frames] == [1, 2, 3]


def test_seconds_lifetimes_have_no_effect_in_espcap(tmp_path):
    """espcap has no clock (now = 0): hard-seconds=1 never expires."""
    s = spec("aes-gcm-128", 0x4242, "tunnel", 4,
             extra="soft-seconds=1,hard-seconds=2")
    r = run_espcap(tmp_path, "encrypt", [s], [UDP41] * 10)
    assert r.rc == 0, r.stderr
    assert r.summary() == (10, 10, 0, 0, {})


# --- encapsulation mismatch ------------------------------------------------

@pytest.mark.parametrize("sent_udp", [True, False],
                         ids=["udp-to-raw-sa", "raw-to-udp-sa"])
def test_encap_mismatch_is_dropped(tmp_path, sent_udp):
    """ESP whose encapsulation (RFC 3948 UDP or raw protocol 50) differs
    from the SA's is dropped as 'encap'; the same packets decrypt with the
    SA that matches them, so nothing else is wrong with them."""
    plain = inner_packets(4)
    enc = spec("aes-gcm-128", 0x4242, "tunnel", 4, udp=sent_udp)
    other = spec("aes-gcm-128", 0x4242, "tunnel", 4, udp=not sent_udp)
    e = run_espcap(tmp_path, "encrypt", [enc], plain, name="e")
    assert e.rc == 0, e.stderr
    assert all((f[9] == 17) == sent_udp for f in e.frames)
    same = run_espcap(tmp_path, "decrypt", [enc], e.frames, name="same")
    assert same.rc == 0, same.stderr
    assert same.frames == plain
    r = run_espcap(tmp_path, "decrypt", [other], e.frames, name="d")
    assert r.rc == 1
    n = len(plain)
    assert ("espcap: %d packets, 0 ok, %d dropped (encap: %d)" % (n, n, n)
            in r.stderr)
    assert r.frames == []


# --- usage and SA spec errors ----------------------------------------------

GCM = SUITES["aes-gcm-128"][0]
TUN = "src=192.0.2.1,dst=192.0.2.2"

USAGE = [
    ([], "usage"),
    (["frobnicate"], "unknown command"),
    (["encrypt", "in", "out"], "--sa"),
    (["encrypt", "--sa"], "--sa: missing SPEC"),
    (["encrypt", "--sa", "spi=4096," + GCM + "," + TUN, "in"],
     "expected IN.pcap and OUT.pcap"),
    (["encrypt", "--bogus", "x"], "unknown option"),
]

SPEC_ERRORS = [
    (GCM + "," + TUN, "spi: missing"),
    ("spi=12," + GCM + "," + TUN, "spi: 12 is reserved"),
    ("spi=0x1g," + GCM, "spi:"),
    ("spi=99999999999," + GCM, "spi:"),
    ("spi=4096,aead=aes-gcm-128,key=0x" + KEY16.hex() + "," + TUN,
     "key: aes-gcm-128 needs 20 bytes (16 key + 4 salt), got 16"),
    ("spi=4096,aead=aes-gcm-512,key=0x00," + TUN, "aead: 'aes-gcm-512'"),
    ("spi=4096,aead=aes-cbc-128,key=0x00," + TUN, "use enc=aes-cbc-128"),
    ("spi=4096,enc=aes-cbc-128,enc-key=0x" + KEY16.hex() + "," + TUN,
     "auth: missing"),
    ("spi=4096,enc=aes-cbc-128,enc-key=0x" + KEY16.hex()
     + ",auth=hmac-sha256-128,auth-key=0x0011," + TUN,
     "auth-key: hmac-sha256-128 needs 32 bytes, got 2"),
    ("spi=4096,mode=tunnel," + GCM, "src: missing"),
    ("spi=4096,mode=sideways," + GCM + "," + TUN, "mode:"),
    ("spi=4096," + GCM + ",src=192.0.2.1,dst=2001:db8::1",
     "dst: address family differs"),
    ("spi=4096," + GCM + ",src=192.0.2.300,dst=192.0.2.1", "src:"),
    ("spi=4096," + GCM + "," + TUN + ",esn=maybe", "esn:"),
    ("spi=4096," + GCM + "," + TUN + ",seq=0", "seq:"),
    ("spi=4096," + GCM + "," + TUN + ",seq=4294967296", "seq:"),
    ("spi=4096," + GCM + "," + TUN + ",replay-window=64", "replay-window:"),
    ("spi=4096," + GCM + "," + TUN + ",encap=tcp", "encap:"),
    ("spi=4096," + GCM + "," + TUN + ",sport=4500", "sport: needs encap"),
    ("spi=4096," + GCM + "," + TUN + ",iv=0x0011", "iv:"),
    ("spi=4096," + GCM + "," + TUN + ",sel-dst=10.0.0.1/8", "sel-dst:"),
    ("spi=4096," + GCM + "," + TUN + ",sel-proto=bogus", "sel-proto:"),
    ("spi=4096," + GCM + "," + TUN + ",engine=qat", "engine:"),
    ("spi=4096," + GCM + "," + TUN + ",ttl=0", "ttl:"),
    ("spi=4096," + GCM + "," + TUN + ",dscp=64", "dscp:"),
    ("spi=4096," + GCM + "," + TUN + ",spi=4097", "spi: given twice"),
    ("spi=4096," + GCM + "," + TUN + ",colour=red", "unknown field 'colour'"),
    ("spi=4096,," + GCM + "," + TUN, "field 2 is empty"),
    ("spi=4096," + GCM + "," + TUN + ",soft-packets=100,hard-packets=50",
     "soft-packets: 100 is not below hard-packets 50"),
    ("spi=4096," + GCM + "," + TUN + ",hard-bytes=1000,soft-bytes=1000",
     "soft-bytes: 1000 is not below hard-bytes 1000"),
    ("spi=4096," + GCM + "," + TUN + ",hard-seconds=ten", "hard-seconds:"),
]


@pytest.mark.parametrize("argv,message", USAGE)
def test_usage_errors_exit_2(tmp_path, argv, message):
    import subprocess
    p = subprocess.run([ESPCAP] + argv, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=str(tmp_path))
    err = p.stderr.decode()
    print(err)
    assert p.returncode == 2
    assert message in err


@pytest.mark.parametrize("sa,message", SPEC_ERRORS)
def test_spec_errors_exit_2_naming_the_field(tmp_path, sa, message):
    inp = str(tmp_path / "in.pcap")
    write_pcap(inp, inner_packets(4))
    r = run_espcap(tmp_path, "encrypt", [sa], in_path=inp)
    assert r.rc == 2
    assert "espcap: --sa: " in r.stderr
    assert message in r.stderr
    assert not os.path.exists(str(tmp_path / "x-out.pcap"))


SECRET = "00112233445566778899aabbccddeeff"


@pytest.mark.parametrize("sa", [
    "spi=4096,aead=aes-gcm-128,key=0x" + SECRET,
    "spi=4096,mode=tunnelkey=0x" + SECRET + "cafebabe",
    "spi=4096,aead=aes-gcm-128,key=0x" + SECRET + "zz",
    "spi=4096,0x" + SECRET + "cafebabe,aead=aes-gcm-128",
    "spi=4096,aead=aes-gcm-128,key=0x" + SECRET + "cafebabe,src=" + SECRET,
    "spi=4096,aead=aes-gcm-128,key" + SECRET + "=1",
    "spi=4096,enc=aes-cbc-128,enc-key=" + SECRET[:-2],
])
def test_errors_never_echo_key_bytes(tmp_path, sa):
    inp = str(tmp_path / "in.pcap")
    write_pcap(inp, inner_packets(4))
    r = run_espcap(tmp_path, "encrypt", [sa], in_path=inp)
    assert r.rc == 2
    for i in range(0, len(SECRET) - 8):
        assert SECRET[i:i + 8] not in r.stderr.lower()


# --- pcap input ------------------------------------------------------------

def pcap_header(magic=0xa1b2c3d4, snaplen=65535, linktype=LINK_RAW, e="<"):
    return struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def record(data, caplen=None, e="<"):
    caplen = len(data) if caplen is None else caplen
    return struct.pack(e + "IIII", 1, 2, caplen, caplen) + data


PKT = inner_packets(4)[0]

MALFORMED = [
    ("empty", b"", "empty file"),
    ("bad-magic", b"\xde\xad\xbe\xef" + bytes(20), "bad magic"),
    ("short-header", pcap_header()[:10], "truncated pcap header"),
    ("pcapng", b"\x0a\x0d\x0d\x0a" + bytes(40), "pcapng"),
    ("bad-version", struct.pack("<IHHiIII", 0xa1b2c3d4, 1, 0, 0, 0, 65535,
                                101), "version"),
    ("short-record-header", pcap_header() + record(PKT) + bytes(7),
     "truncated record header"),
    ("short-record", pcap_header() + record(PKT)[:-3], "truncated"),
    ("caplen-over-256k", pcap_header(snaplen=0) + record(b"", 300000),
     "exceeds the 262144-byte limit"),
    ("caplen-over-snaplen", pcap_header(snaplen=64) + record(PKT + bytes(64)),
     "exceeds the snapshot length"),
    ("linktype", pcap_header(linktype=105), "link type 105"),
]


@pytest.mark.parametrize("name,data,message", MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_pcap_exits_2(tmp_path, name, data, message):
    inp = tmp_path / "bad.pcap"
    inp.write_bytes(data)
    r = run_espcap(tmp_path, "encrypt",
                   [spec("aes-gcm-128", 0x4242, "tunnel", 4)],
                   in_path=str(inp))
    assert r.rc == 2
    assert message in r.stderr
    assert not os.path.exists(str(tmp_path / "x-out.pcap"))


@pytest.mark.parametrize("big", [False, True], ids=["little", "big"])
@pytest.mark.parametrize("nsec", [False, True], ids=["usec", "nsec"])
def test_pcap_byte_orders_and_resolutions(tmp_path, big, nsec):
    inp = str(tmp_path / "in.pcap")
    plain = inner_packets(6)
    write_pcap(inp, plain, nsec=nsec, big=big)
    s = spec("aes-gcm-128", 0x4242, "transport")
    r = run_espcap(tmp_path, "encrypt", [s], in_path=inp, name="e")
    assert r.rc == 0, r.stderr
    _, out_nsec, _ = read_pcap(str(tmp_path / "e-out.pcap"))
    assert out_nsec == nsec
    r2 = run_espcap(tmp_path, "decrypt", [s], r.frames, name="d")
    assert r2.rc == 0, r2.stderr
    assert r2.frames == plain


def test_empty_capture_is_fine(tmp_path):
    r = run_espcap(tmp_path, "encrypt",
                   [spec("aes-gcm-128", 0x4242, "tunnel", 4)], [])
    assert r.rc == 0
    assert r.summary() == (0, 0, 0, 0, {})
    assert r.frames == []


def test_same_input_and_output_refused(tmp_path):
    import subprocess
    inp = str(tmp_path / "in.pcap")
    write_pcap(inp, inner_packets(4))
    p = subprocess.run([ESPCAP, "encrypt", "--sa",
                        spec("aes-gcm-128", 0x4242, "tunnel", 4), inp, inp],
                       stderr=subprocess.PIPE)
    assert p.returncode == 2
    assert b"same file" in p.stderr
    assert read_pcap(inp)[2] == inner_packets(4)


@pytest.mark.parametrize("mode", ["tunnel", "transport"])
def test_ethernet_min_frame_padding_is_not_encrypted(tmp_path, mode):
    """A 40-byte TCP SYN in a 60-byte Ethernet frame: the 6 bytes of
    Ethernet padding are not part of the IP packet and must not end up
    inside the ESP payload."""
    p = inner_packets(4)[0]
    frame = ethernet(p) + bytes(6)
    s = spec("aes-gcm-128", 0x4242, mode, 4)
    r = run_espcap(tmp_path, "encrypt", [s], [frame], LINK_ETHERNET,
                   name="e")
    assert r.rc == 0, r.stderr
    sa = scapy_sa("aes-gcm-128", 0x4242, mode, 4)
    assert scapy_decrypt(sa, "aes-gcm-128", r.frames[0][14:], 0,
                         False) == p
    r2 = run_espcap(tmp_path, "decrypt", [s], r.frames, LINK_ETHERNET,
                    name="d")
    assert r2.rc == 0, r2.stderr
    assert r2.frames == [frame[:14 + len(p)]]


def test_vlan_tags_are_kept(tmp_path):
    p = inner_packets(6)[1]
    eth = ethernet(p)
    tagged = eth[:12] + b"\x88\xa8\x00\x64\x81\x00\x00\x0a" + eth[12:]
    s = spec("aes-gcm-128", 0x4242, "tunnel", 4)
    r = run_espcap(tmp_path, "encrypt", [s], [tagged], LINK_ETHERNET)
    assert r.rc == 0, r.stderr
    out = r.frames[0]
    assert out[:20] == tagged[:20]
    assert out[20:22] == b"\x08\x00"
    sa = scapy_sa("aes-gcm-128", 0x4242, "tunnel", 4)
    assert scapy_decrypt(sa, "aes-gcm-128", out[22:], 0, False) == p


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_write_error_exits_2_and_keeps_special_file(tmp_path):
    import subprocess
    inp = str(tmp_path / "in.pcap")
    write_pcap(inp, inner_packets(4) * 200)
    p = subprocess.run([ESPCAP, "encrypt", "--sa",
                        spec("aes-gcm-128", 0x4242, "tunnel", 4), inp,
                        "/dev/full"], stderr=subprocess.PIPE)
    assert p.returncode == 2
    assert b"/dev/full: write error" in p.stderr
    assert os.path.exists("/dev/full")
