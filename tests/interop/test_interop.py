"""espcap against Scapy 2.5's independent ESP implementation.

For every suite x mode x IP version x ESN x UDP encapsulation:
  - Scapy encrypts, espcap decrypts: the result is the original packet,
    byte for byte;
  - espcap encrypts, Scapy decrypts: likewise.
Tunnel mode also runs all four inner/outer IP version combinations.

Scapy 2.5 supports ChaCha20-Poly1305 (RFC 7634) as CHACHA20-POLY1305, so
ChaCha is covered by Scapy like the other suites.
"""

import struct

import pytest

from espcap_helpers import (
    SUITES, LINK_RAW, LINK_ETHERNET, inner_packets, run_espcap, scapy_sa,
    scapy_encrypt, scapy_decrypt, add_udp_encap, strip_udp_encap, spec,
    ethernet)

SUITE_NAMES = list(SUITES)

# (mode, inner version, outer version): transport has no outer header.
LAYOUTS = [
    ("tunnel", 4, 4),
    ("tunnel", 6, 6),
    ("transport", 4, None),
    ("transport", 6, None),
]
CROSS = [("tunnel", 4, 6), ("tunnel", 6, 4)]


def cases():
    for suite in SUITE_NAMES:
        layouts = LAYOUTS + (CROSS if suite == "aes-gcm-128" else [])
        for mode, iv, ov in layouts:
            for esn in (False, True):
                for udp in (False, True):
                    yield pytest.param(
                        suite, mode, iv, ov, esn, udp,
                        id="%s-%s-in%d%s-%s-%s" % (
                            suite, mode, iv,
                            "-out%d" % ov if ov else "",
                            "esn" if esn else "noesn",
                            "udp" if udp else "raw"))


# Sequence numbers: with ESN, start just below 2^32 so the high half moves
# inside the test (RFC 4303 appendix A).
def first_seq(esn):
    return (1 << 32) - 2 if esn else 1


@pytest.mark.parametrize("suite,mode,inner_ver,outer_ver,esn,udp", cases())
def test_scapy_encrypts_espcap_decrypts(tmp_path, suite, mode, inner_ver,
                                        outer_ver, esn, udp):
    spi = 0x1000 + 7
    sa = scapy_sa(suite, spi, mode, outer_ver, esn)
    plain = inner_packets(inner_ver)
    seq0 = first_seq(esn)
    frames = []
    for i, p in enumerate(plain):
        e = scapy_encrypt(sa, suite, p, seq0 + i, esn)
        frames.append(add_udp_encap(e) if udp else e)

    # Inbound: the highest sequence number already seen is seq0 - 1.
    s = spec(suite, spi, mode, outer_ver, esn, udp,
             extra="seq=%d" % (seq0 - 1))
    r = run_espcap(tmp_path, "decrypt", [s], frames)
    assert r.rc == 0, r.stderr
    n = len(plain)
    assert r.summary() == (n, n, 0, 0, {})
    assert r.linktype == LINK_RAW
    assert len(r.frames) == n
    for got, want in zip(r.frames, plain):
        assert got.hex() == want.hex()


@pytest.mark.parametrize("suite,mode,inner_ver,outer_ver,esn,udp", cases())
def test_espcap_encrypts_scapy_decrypts(tmp_path, suite, mode, inner_ver,
                                        outer_ver, esn, udp):
    spi = 0x2000 + 9
    plain = inner_packets(inner_ver)
    seq0 = first_seq(esn)
    s = spec(suite, spi, mode, outer_ver, esn, udp, extra="seq=%d" % seq0)
    r = run_espcap(tmp_path, "encrypt", [s], plain)
    assert r.rc == 0, r.stderr
    n = len(plain)
    assert r.summary() == (n, n, 0, 0, {})
    assert len(r.frames) == n

    sa = scapy_sa(suite, spi, mode, outer_ver, esn)
    for i, (got, want) in enumerate(zip(r.frames, plain)):
        seq = seq0 + i
        esp = strip_udp_encap(got) if udp else got
        # The ESP header carries the low 32 bits (RFC 4303 section 2.2).
        ver = esp[0] >> 4
        hl = (esp[0] & 0xf) * 4 if ver == 4 else 40
        wire_spi, wire_seq = struct.unpack("!II", esp[hl:hl + 8])
        assert wire_spi == spi
        assert wire_seq == seq & 0xffffffff
        if mode == "tunnel":
            assert ver == outer_ver
        out = scapy_decrypt(sa, suite, esp, seq >> 32, esn)
        assert out.hex() == want.hex()


@pytest.mark.parametrize("inner_ver,outer_ver", [(4, 4), (4, 6), (6, 4),
                                                 (6, 6)])
def test_ethernet_link_type(tmp_path, inner_ver, outer_ver):
    """Ethernet input keeps its MAC header; the ethertype follows the IP
    version of the output (e.g. IPv6 outer on an IPv4 inner packet)."""
    suite = "aes-gcm-256"
    spi = 0x3000
    plain = inner_packets(inner_ver)
    frames = [ethernet(p) for p in plain]
    s = spec(suite, spi, "tunnel", outer_ver)
    r = run_espcap(tmp_path, "encrypt", [s], frames, LINK_ETHERNET, name="e")
    assert r.rc == 0, r.stderr
    assert r.linktype == LINK_ETHERNET
    want_type = 0x0800 if outer_ver == 4 else 0x86dd
    sa = scapy_sa(suite, spi, "tunnel", outer_ver)
    for i, (got, orig) in enumerate(zip(r.frames, frames)):
        assert got[:12] == orig[:12]
        assert struct.unpack("!H", got[12:14])[0] == want_type
        assert scapy_decrypt(sa, suite, got[14:], 0, False) == plain[i]

    # And back through espcap decrypt: the original frames.
    r2 = run_espcap(tmp_path, "decrypt", [s], r.frames, LINK_ETHERNET,
                    name="d")
    assert r2.rc == 0, r2.stderr
    assert [f.hex() for f in r2.frames] == [f.hex() for f in frames]
