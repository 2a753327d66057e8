#!/usr/bin/python3
"""Helper of tests/bench/ovs-bench.sh (the Open vSwitch PMD benchmark).

Subcommands:
  gen DIR             write the traffic (pcap files) into DIR
  verify DIR          check what OVS sent in the verification phase:
                      ESP decrypted with Scapy's own ESP (not our engine)
  verify-esp DIR TAG  the same for the ESP tunnel port with its SAs on an
                      offload provider (captures cap-{wire,inner}-TAG)
  report DIR OUT_JSON OUT_MD
                      parse the saved pmd-perf-show outputs, print the
                      table, write the results as JSON and Markdown

The traffic, keys and addresses are fixed here and in ovs-bench.sh (the
SAs there must match the constants below).  Scapy builds and checks the
ESP independently of the datapath's engine: the decap traffic is Scapy's
ESP, and the verification decrypts OVS's ESP with Scapy.
"""

import glob
import json
import os
import re
import statistics
import sys

from scapy.all import Ether, IP, UDP, Raw, PcapWriter, rdpcap, wrpcap
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.vxlan import VXLAN

# --- the set-up (keep in step with ovs-bench.sh) --------------------------

BR_PHY_MAC = "02:00:00:00:00:01"       # br-phy other_config:hwaddr
LOCAL_VX = "192.0.2.1"                 # local_ip of vxp and vxe
LOCAL_ESP = "192.0.2.11"               # local_ip of esp0
REMOTE = {"vxlan": "192.0.2.2",        # remote_ip of vxp (plain VXLAN)
          "vxlan-esp": "192.0.2.3",    # remote_ip of vxe (VXLAN + ESP)
          "esp": "192.0.2.4"}          # remote_ip of esp0 (ESP tunnel port)
REMOTE_MAC = {"vxlan": "02:00:00:00:00:02", "vxlan-esp": "02:00:00:00:00:03",
              "esp": "02:00:00:00:00:04"}
VNI = 123
# AES-GCM-128 keying material (16-byte key + 4-byte salt).  Benchmark
# keys, used nowhere else.
KEY_OUT = bytes(range(0x00, 0x14))     # OVS sends with it
KEY_IN = bytes(range(0x20, 0x34))      # OVS receives with it
SPI_OUT = {"vxlan-esp": 0x2001, "esp": 0x2002}
SPI_IN = {"vxlan-esp": 0x1001, "esp": 0x1002}

SIZES = (64, 1400)
MODES = ("vxlan", "vxlan-esp", "esp")   # the three kinds of wire traffic
# What is measured: vxlan is plain VXLAN with no IPsec port in the switch
# (the baseline); vxlan-mixed the same traffic while the IPsec ports exist.
CASES = ("vxlan", "vxlan-mixed", "vxlan-esp", "esp")
DIRS = ("encap", "decap")
N_PKTS = 32                            # packets per pcap (one burst)
LABEL = {"vxlan": "VXLAN, no IPsec port",
         "vxlan-mixed": "VXLAN, IPsec ports present",
         "vxlan-esp": "VXLAN + ESP transport", "esp": "ESP tunnel port"}

# The offload phase (OVS_BENCH_OFFLOAD): the ESP tunnel port with its SAs
# on each provider.  Rows: (provider, measured mode, best-window key).
OFF_ROWS = (("sw", "off-sw", "cpu_cycles_per_pkt"),
            ("dpdk-inline-crypto", "off-inline", "excl_cycles_per_pkt"),
            ("dpdk-inline-crypto+model", "off-inline", "cpu_cycles_per_pkt"),
            ("dpdk-inline-protocol", "off-inline-protocol",
             "excl_cycles_per_pkt"),
            ("dpdk-inline-protocol+model", "off-inline-protocol",
             "cpu_cycles_per_pkt"),
            ("dpdk-lookaside", "off-lookaside", "cpu_cycles_per_pkt"),
            ("dpdk-cpu-crypto", "off-cpu", "cpu_cycles_per_pkt"),
            # The VXLAN port with ESP transport (vxe), its own sw baseline.
            ("vx-sw", "off-vx-sw", "cpu_cycles_per_pkt"),
            ("vx-dpdk-inline-crypto", "off-vx-inline", "excl_cycles_per_pkt"),
            ("vx-dpdk-inline-crypto+model", "off-vx-inline",
             "cpu_cycles_per_pkt"),
            ("vx-dpdk-inline-protocol", "off-vx-inline-protocol",
             "excl_cycles_per_pkt"),
            ("vx-dpdk-inline-protocol+model", "off-vx-inline-protocol",
             "cpu_cycles_per_pkt"))
OFF_LABEL = {"sw": "sw",
             "dpdk-inline-crypto": "dpdk-inline-crypto, NIC model excluded",
             "dpdk-inline-crypto+model": "dpdk-inline-crypto, as measured "
             "(NIC model included)",
             "dpdk-inline-protocol": "dpdk-inline-protocol, NIC model "
             "excluded",
             "dpdk-inline-protocol+model": "dpdk-inline-protocol, as "
             "measured (NIC model included)",
             "dpdk-lookaside": "dpdk-lookaside (crypto_aesni_mb)",
             "dpdk-cpu-crypto": "dpdk-cpu-crypto (crypto_aesni_mb)",
             "vx-sw": "VXLAN + ESP (vxe): sw",
             "vx-dpdk-inline-crypto": "VXLAN + ESP (vxe): dpdk-inline-crypto, "
             "NIC model excluded",
             "vx-dpdk-inline-crypto+model": "VXLAN + ESP (vxe): "
             "dpdk-inline-crypto, as measured (NIC model included)",
             "vx-dpdk-inline-protocol": "VXLAN + ESP (vxe): "
             "dpdk-inline-protocol, NIC model excluded",
             "vx-dpdk-inline-protocol+model": "VXLAN + ESP (vxe): "
             "dpdk-inline-protocol, as measured (NIC model included)"}
MAX_INLINE_PCT_1400 = 40               # issue 4, "Benchmark" (inline
                                       # crypto; protocol: information)

# Targets (issue 3, "Benchmark").
MAX_ESP_DELTA_64 = 150                 # cycles/packet over plain VXLAN
MIN_GBPS_1400 = 50.0
REF_CYCLES_64 = 500                    # unmerged ovs-dev series, 64 B encrypt


def inner_frame(size, i, dst="10.2.0.1"):
    """The overlay traffic: an Ethernet/IPv4/UDP frame of SIZE bytes
    (Ethernet header included, no FCS)."""
    p = (Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0b:01")
         / IP(src="10.1.0.1", dst=dst, id=i)
         / UDP(sport=1024 + i, dport=443))
    p = p / Raw(bytes((i + j) & 0xff for j in range(size - len(p))))
    return Ether(bytes(p))


def wire_in(mode, frame, seq):
    """What arrives from the remote for MODE, carrying FRAME (decap)."""
    remote = REMOTE[mode]
    eth = Ether(src=REMOTE_MAC[mode], dst=BR_PHY_MAC)
    if mode == "esp":
        s = SecurityAssociation(ESP, spi=SPI_IN[mode], crypt_algo="AES-GCM",
                                crypt_key=KEY_IN,
                                tunnel_header=IP(src=remote, dst=LOCAL_ESP))
        inner = IP(bytes(frame)[14:])
        return eth / s.encrypt(inner, seq_num=seq)
    vx = (IP(src=remote, dst=LOCAL_VX, flags="DF")
          / UDP(sport=49152 + seq, dport=4789, chksum=0)
          / VXLAN(vni=VNI, flags=0x08) / frame)
    vx = IP(bytes(vx))
    if mode == "vxlan":
        return eth / vx
    s = SecurityAssociation(ESP, spi=SPI_IN[mode], crypt_algo="AES-GCM",
                            crypt_key=KEY_IN)
    return eth / s.encrypt(vx, seq_num=seq)


def cmd_gen(d):
    os.makedirs(d, exist_ok=True)
    for size in SIZES:
        frames = [inner_frame(size, i) for i in range(N_PKTS)]
        wrpcap(os.path.join(d, "inner-%d.pcap" % size), frames)
        for mode in MODES:
            pkts = [wire_in(mode, f, i + 1) for i, f in enumerate(frames)]
            wrpcap(os.path.join(d, "dec-%s-%d.pcap" % (mode, size)), pkts)
    # Verification traffic: 4 frames of each size to each tunnel port (the
    # flows choose the port by nw_dst), and 4 packets of each decap pcap.
    # The ESP for the esp port goes in a file of its own: only one of vxe
    # and esp0 receives ESP at a time (see ovs-bench.sh).
    venc, vdec_vx, vdec_esp = [], [], []
    for size in SIZES:
        for k, mode in enumerate(MODES):
            venc += [inner_frame(size, i, "10.2.0.%d" % (k + 1))
                     for i in range(4)]
            (vdec_esp if mode == "esp" else vdec_vx).extend(
                wire_in(mode, inner_frame(size, i, "10.2.0.%d" % (k + 1)),
                        1000 + i) for i in range(4))
    wrpcap(os.path.join(d, "verify-enc.pcap"), venc)
    # The offload providers' verification: the ESP tunnel port only.
    wrpcap(os.path.join(d, "verify-enc-esp.pcap"),
           [inner_frame(size, i, "10.2.0.3") for size in SIZES
            for i in range(4)])
    wrpcap(os.path.join(d, "verify-dec-vx.pcap"), vdec_vx)
    wrpcap(os.path.join(d, "verify-dec-esp.pcap"), vdec_esp)
    PcapWriter(os.path.join(d, "empty.pcap"), linktype=1, sync=True).close()


# --- verification ----------------------------------------------------------

def ip_csum_ok(ip):
    raw = bytes(ip)[:ip.ihl * 4]
    s = sum(int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def cmd_verify(d):
    errors = []
    want_by_port = {MODES[k]: [] for k in range(3)}
    for p in rdpcap(os.path.join(d, "verify-enc.pcap")):
        k = int(p[IP].dst.split(".")[3]) - 1
        want_by_port[MODES[k]].append(bytes(p))

    # Encap: what left br-phy (wire capture).
    got = {m: [] for m in MODES}
    seqs = {m: [] for m in MODES}
    for p in rdpcap(os.path.join(d, "cap-wire.pcap")):
        if IP not in p:
            continue
        ip = p[IP]
        if not ip_csum_ok(ip):
            errors.append("encap: bad outer IPv4 checksum from %s to %s"
                          % (ip.src, ip.dst))
        mode = [m for m in MODES if REMOTE[m] == ip.dst]
        if not mode:
            continue
        mode = mode[0]
        if p[Ether].dst != REMOTE_MAC[mode] or p[Ether].src != BR_PHY_MAC:
            errors.append("encap %s: Ethernet %s -> %s"
                          % (mode, p[Ether].src, p[Ether].dst))
        if mode == "vxlan":
            if ip.proto != 17 or ip.src != LOCAL_VX:
                errors.append("encap vxlan: not UDP from %s" % LOCAL_VX)
                continue
            got[mode].append(bytes(ip[VXLAN].payload))
            continue
        if ip.proto != 50:
            errors.append("encap %s: IP protocol %d, not ESP (50)"
                          % (mode, ip.proto))
            continue
        esp = ip[ESP]
        if esp.spi != SPI_OUT[mode]:
            errors.append("encap %s: SPI %#x" % (mode, esp.spi))
            continue
        seqs[mode].append(esp.seq)
        if mode == "esp":
            s = SecurityAssociation(ESP, spi=SPI_OUT[mode],
                                    crypt_algo="AES-GCM", crypt_key=KEY_OUT,
                                    tunnel_header=IP(src=LOCAL_ESP,
                                                     dst=REMOTE[mode]))
            if ip.src != LOCAL_ESP:
                errors.append("encap esp: outer source %s" % ip.src)
            try:
                inner = s.decrypt(IP(bytes(ip)))
            except Exception as e:          # noqa: BLE001 (report any)
                errors.append("encap esp: Scapy cannot decrypt: %s" % e)
                continue
            got[mode].append(bytes(inner))
        else:
            s = SecurityAssociation(ESP, spi=SPI_OUT[mode],
                                    crypt_algo="AES-GCM", crypt_key=KEY_OUT)
            try:
                clear = s.decrypt(IP(bytes(ip)))
            except Exception as e:          # noqa: BLE001
                errors.append("encap vxlan-esp: Scapy cannot decrypt: %s"
                              % e)
                continue
            if UDP not in clear or clear[UDP].dport != 4789:
                errors.append("encap vxlan-esp: decrypted is not VXLAN")
                continue
            if clear[VXLAN].vni != VNI:
                errors.append("encap vxlan-esp: VNI %d" % clear[VXLAN].vni)
            got[mode].append(bytes(clear[VXLAN].payload))
    for mode in MODES:
        want = want_by_port[mode]
        if mode == "esp":
            want = [w[14:] for w in want]    # the port carries IP packets
        # Every frame sent came out (a frame may come out twice: the
        # source may replay the file once more), and nothing else.
        if set(got[mode]) != set(want):
            errors.append("encap %s: %d packets out, %d of the %d sent "
                          "found, %d unexpected"
                          % (mode, len(got[mode]),
                             len(set(got[mode]) & set(want)), len(want),
                             len(set(got[mode]) - set(want))))
        if mode != "vxlan" and seqs[mode] != sorted(set(seqs[mode])):
            errors.append("encap %s: sequence numbers not increasing: %s"
                          % (mode, seqs[mode]))

    # Decap: what came out of the three tunnel ports (inner capture).
    want_dec = []
    for size in SIZES:
        for k, mode in enumerate(MODES):
            for i in range(4):
                f = bytes(inner_frame(size, i, "10.2.0.%d" % (k + 1)))
                want_dec.append(f[14:] if mode == "esp" else f)
    got_dec = []
    for p in rdpcap(os.path.join(d, "cap-inner.pcap")):
        b = bytes(p)
        # Frames out of the L3 esp port get an Ethernet header from OVS;
        # compare their IP packet.
        got_dec.append(b if b in want_dec else b[14:])
    if set(got_dec) != set(want_dec):
        errors.append("decap: %d packets out, %d of the %d expected found, "
                      "%d unexpected"
                      % (len(got_dec), len(set(got_dec) & set(want_dec)),
                         len(set(want_dec)),
                         len(set(got_dec) - set(want_dec))))
    n_esp = sum(len(seqs[m]) for m in ("vxlan-esp", "esp"))
    if errors:
        for e in errors:
            print("verify: " + e, file=sys.stderr)
        return 1
    print("the %d ESP packets OVS sent decrypt with Scapy to the frames "
          "given (SPIs, increasing sequence numbers, outer IPv4 checksums "
          "checked), the %d VXLAN ones carry them; OVS turned the %d "
          "packets of Scapy ESP and VXLAN back into the original frames"
          % (n_esp, len(got["vxlan"]), len(got_dec)))
    return 0


def cmd_verify_esp(d, tag):
    """The offload providers' check (ovs-bench.sh, offload phase): what
    the ESP tunnel port sent with its SAs on provider TAG, captured in
    cap-wire-TAG.pcap, decrypts with Scapy to the frames of
    verify-enc-esp.pcap; what it received (Scapy's verify-dec-esp.pcap)
    came out in cap-inner-TAG.pcap as the original frames."""
    errors = []
    want = [bytes(p)[14:]
            for p in rdpcap(os.path.join(d, "verify-enc-esp.pcap"))]
    sa = SecurityAssociation(ESP, spi=SPI_OUT["esp"], crypt_algo="AES-GCM",
                             crypt_key=KEY_OUT,
                             tunnel_header=IP(src=LOCAL_ESP,
                                              dst=REMOTE["esp"]))
    got, seqs = [], []
    for p in rdpcap(os.path.join(d, "cap-wire-%s.pcap" % tag)):
        if IP not in p or p[IP].dst != REMOTE["esp"]:
            continue
        ip = p[IP]
        if not ip_csum_ok(ip):
            errors.append("encap: bad outer IPv4 checksum")
        if p[Ether].dst != REMOTE_MAC["esp"] or p[Ether].src != BR_PHY_MAC:
            errors.append("encap: Ethernet %s -> %s"
                          % (p[Ether].src, p[Ether].dst))
        if ip.proto != 50 or ip.src != LOCAL_ESP:
            errors.append("encap: IP protocol %d from %s, not ESP from %s"
                          % (ip.proto, ip.src, LOCAL_ESP))
            continue
        if ip[ESP].spi != SPI_OUT["esp"]:
            errors.append("encap: SPI %#x" % ip[ESP].spi)
            continue
        seqs.append(ip[ESP].seq)
        try:
            got.append(bytes(sa.decrypt(IP(bytes(ip)))))
        except Exception as e:              # noqa: BLE001 (report any)
            errors.append("encap: Scapy cannot decrypt: %s" % e)
    if set(got) != set(want):
        errors.append("encap: %d packets out, %d of the %d sent found, %d "
                      "unexpected"
                      % (len(got), len(set(got) & set(want)), len(want),
                         len(set(got) - set(want))))
    if seqs != sorted(set(seqs)):
        errors.append("encap: sequence numbers not increasing: %s" % seqs)
    got_dec = [bytes(p)[14:]
               for p in rdpcap(os.path.join(d, "cap-inner-%s.pcap" % tag))]
    if set(got_dec) != set(want):
        errors.append("decap: %d packets out, %d of the %d expected found, "
                      "%d unexpected"
                      % (len(got_dec), len(set(got_dec) & set(want)),
                         len(want), len(set(got_dec) - set(want))))
    if errors:
        for e in errors:
            print("verify %s: %s" % (tag, e), file=sys.stderr)
        return 1
    print("%s: the %d ESP packets OVS sent decrypt with Scapy to the frames "
          "given, OVS turned the %d packets of Scapy ESP back into the "
          "original frames" % (tag, len(got), len(got_dec)))
    return 0


# --- report ----------------------------------------------------------------

def parse_perf(text):
    """The numbers of one window: dpif-netdev/pmd-perf-show's output, and
    the PMD thread's time on the CPU that ovs-bench.sh appends to it."""
    def num(pattern):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else None
    r = {
        "duration_s": num(r"Measurement duration:\s+([\d.]+) s"),
        "used_tsc": num(r"Used TSC cycles:\s+(\d+)"),
        "used_pct": num(r"Used TSC cycles:\s+\d+\s+\(\s*([\d.]+) %"),
        "busy_pct": num(r"busy iterations:\s+\d+\s+\(\s*([\d.]+) %"),
        "rx": num(r"Rx packets:\s+(\d+)"),
        "cycles_per_pkt": num(r"Rx packets:\s+\d+\s+\(\d+ Kpps,\s+(\d+) "
                              r"cycles/pkt"),
        "tx": num(r"Tx packets:\s+(\d+)"),
        "upcalls": num(r"Upcalls:\s+(\d+)"),
        "run_ns": num(r"ovs-bench: pmd run_ns=(\d+)"),
        "wall_ns": num(r"ovs-bench: pmd run_ns=\d+ wall_ns=(\d+)"),
    }
    r["mpps"] = (r["rx"] / r["duration_s"] / 1e6
                 if r["rx"] and r["duration_s"] else 0.0)
    r["tsc_hz"] = (r["used_tsc"] / (r["used_pct"] / 100) / r["duration_s"]
                   if r["used_tsc"] and r["used_pct"] and r["duration_s"]
                   else None)
    # The share of the window the PMD thread was on a CPU (from its
    # schedstat): on a shared machine it is preempted, and pmd-perf-show
    # counts the time it waited in its busy iterations' cycles.
    r["on_cpu"] = (min(1.0, r["run_ns"] / r["wall_ns"])
                   if r["run_ns"] and r["wall_ns"] else None)
    if r["cycles_per_pkt"] and r["on_cpu"]:
        r["cpu_cycles_per_pkt"] = r["cycles_per_pkt"] * r["on_cpu"]
    else:
        r["cpu_cycles_per_pkt"] = None
    parse_model(text, r)
    return r


def parse_model(text, r):
    """The NIC model's counters (ipsec/nic-model-show, summed over the
    model ports) that ovs-bench.sh appends before and after an offload
    window: the TSC cycles its RX/TX callbacks spent, i.e. the crypto a
    real NIC would do in hardware, and the packets they processed (inline
    crypto: tx_encrypted, rx_decrypted; inline protocol, where the model
    builds and opens all of ESP: proto_tx, proto_rx)."""
    snap = {}
    for m in re.finditer(r"ovs-bench: (model[01]) (.*)", text):
        snap[m.group(1)] = {k: int(v) for k, v in
                            re.findall(r"(\w+)=(\d+)", m.group(2))}
    if set(snap) != {"model0", "model1"}:
        return
    d = {k: snap["model1"].get(k, 0) - v for k, v in snap["model0"].items()}
    r["model_cycles"] = d.get("tx_cycles", 0) + d.get("rx_cycles", 0)
    r["model_pkts"] = sum(d.get(k, 0) for k in (
        "tx_encrypted", "rx_decrypted", "proto_tx", "proto_rx"))
    r["model_errors"] = sum(d.get(k, 0) for k in (
        "tx_errors", "rx_failed", "rx_no_session", "proto_tx_errors",
        "proto_tx_expired", "proto_rx_auth", "proto_replay", "proto_rx_bad",
        "proto_rx_expired"))
    if not r["model_pkts"]:
        return
    # Per packet the model processed, as pmd-perf-show's cycles/pkt, and
    # scaled like it by the share of the time the thread was on a CPU.
    r["model_cycles_per_pkt"] = r["model_cycles"] / r["model_pkts"]
    if r["on_cpu"]:
        r["model_cpu_cycles_per_pkt"] = r["model_cycles_per_pkt"] * r["on_cpu"]
    # The packets the model processed per second against those the PMD
    # received: 1.0 when it processed every packet (inline cases).
    if d.get("ns") and r["rx"] and r["duration_s"]:
        r["model_coverage"] = ((r["model_pkts"] / (d["ns"] / 1e9))
                               / (r["rx"] / r["duration_s"]))
    if r["cpu_cycles_per_pkt"] and "model_cpu_cycles_per_pkt" in r:
        r["excl_cycles_per_pkt"] = (r["cpu_cycles_per_pkt"]
                                    - r["model_cpu_cycles_per_pkt"])


def load_runs(d):
    runs = {}
    for path in sorted(glob.glob(os.path.join(d, "raw", "*.txt"))):
        m = re.match(r"(encap|decap)-(\w[\w-]*)-(\d+)-r(\d+)w(\d+)\.txt$",
                     os.path.basename(path))
        if not m:
            continue
        with open(path) as f:
            r = parse_perf(f.read())
        r["round"], r["window"] = int(m.group(4)), int(m.group(5))
        key = (m.group(1), m.group(2), int(m.group(3)))
        runs.setdefault(key, []).append(r)
    return runs


def summarize(direction, size, mode, ws, key="cpu_cycles_per_pkt"):
    """One case: its best window (fewest cycles per packet on the CPU, or
    by KEY: "excl_cycles_per_pkt" for the datapath's cycles without the
    NIC model's)."""
    good = [w for w in ws if w["rx"] and w.get(key) and w["tsc_hz"]]
    r = dict(dir=direction, size=size, mode=mode, valid=bool(good),
             windows=ws)
    if not good:
        return r
    best = min(good, key=lambda w: w[key])
    cyc = [w[key] for w in good]
    r.update(
        cycles_per_pkt=best[key],
        cycles_per_pkt_median=statistics.median(cyc),
        cycles_per_pkt_windows=cyc,
        # What one core does when the PMD thread has it to itself.
        mpps=best["tsc_hz"] / best[key] / 1e6,
        cpu_cycles_per_pkt=best["cpu_cycles_per_pkt"],
        measured_cycles_per_pkt=best["cycles_per_pkt"],
        measured_mpps=best["mpps"],
        on_cpu=best["on_cpu"],
        tsc_hz=best["tsc_hz"],
        delivered=best["tx"] / best["rx"] if best["tx"] is not None else 0.0,
        upcalls=best["upcalls"])
    for k in ("model_cpu_cycles_per_pkt", "model_cycles_per_pkt",
              "model_pkts", "model_errors", "model_coverage"):
        if k in best:
            r[k] = best[k]
    r["gbps"] = r["mpps"] * size * 8 / 1000
    r["measured_gbps"] = r["measured_mpps"] * size * 8 / 1000
    return r


def report_offload(meta, runs):
    """The offload phase: the ESP tunnel port's SAs on each provider.
    Returns (results, targets, Markdown lines)."""
    if meta.get("offload") != "1":
        return [], [], ["", "Offload providers: not measured "
                        "(OVS_BENCH_OFFLOAD=0)."]
    if not meta.get("offload_verify"):
        return [], [], ["", "**Offload providers: verification failed**, "
                        "not measured (see the bench's output)."]
    results = []
    for di in DIRS:
        for si in SIZES:
            for prov, mode, key in OFF_ROWS:
                r = summarize(di, si, mode, runs.get((di, mode, si), []),
                              key)
                r["provider"] = prov
                results.append(r)
    # Each port's rows against its own sw row.
    sw = {(r["provider"], r["dir"], r["size"]): r for r in results
          if r["provider"] in ("sw", "vx-sw") and r["valid"]}
    targets = []
    for r in results:
        base = sw.get(("vx-sw" if r["provider"].startswith("vx-") else "sw",
                       r["dir"], r["size"]))
        if r["valid"] and base:
            r["pct_of_sw"] = 100 * r["cycles_per_pkt"] / base["cycles_per_pkt"]
        if (r["provider"] in ("dpdk-inline-crypto", "vx-dpdk-inline-crypto")
                and r["size"] == 1400 and "pct_of_sw" in r):
            ok = r["pct_of_sw"] <= MAX_INLINE_PCT_1400
            r["target"] = "%s (<= %d %% of sw)" % ("PASS" if ok else "FAIL",
                                                   MAX_INLINE_PCT_1400)
            targets.append(dict(
                what="1400 B %s%s: inline <= %d %% of sw cycles/pkt (NIC "
                "model's cycles excluded)" % (
                    r["dir"], ", VXLAN + ESP" if r["provider"].startswith("vx-")
                    else "", MAX_INLINE_PCT_1400),
                value=round(r["pct_of_sw"], 1), ok=ok))
    lines = ["| provider | dir | frame | cycles/pkt | Mpps | Gbit/s "
             "| % of sw | NIC model cycles/pkt | on-CPU cycles/pkt "
             "| measured cycles/pkt, Mpps | PMD on CPU | sent/rx | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    suspect = 0
    for r in results:
        name = "%s | %s | %d B" % (OFF_LABEL[r["provider"]], r["dir"],
                                   r["size"])
        if not r["valid"]:
            lines.append("| %s | no data | | | | | | | | |" % name)
            suspect += 1
            continue
        model = r.get("model_cpu_cycles_per_pkt")
        note = ""
        if r["delivered"] < 0.99:
            note += " **drops**"
        inline = "dpdk-inline" in r["provider"]
        if inline and (r.get("model_coverage", 0) < 0.95
                       or r.get("model_errors")):
            note += " **NIC model missed packets**"
        if note:
            suspect += 1
        lines.append("| %s | %.0f | %.2f | %.1f | %s | %s | %.0f | %.0f, %.2f "
                     "| %.0f %% | %.3f | %s |"
                     % (name, r["cycles_per_pkt"], r["mpps"], r["gbps"],
                        "%.0f %%" % r["pct_of_sw"] if "pct_of_sw" in r
                        else "",
                        "%.0f" % model if inline and model is not None
                        else "",
                        r["cpu_cycles_per_pkt"],
                        r["measured_cycles_per_pkt"], r["measured_mpps"],
                        100 * r["on_cpu"], r["delivered"],
                        r.get("target", "") + note))
    md = ["", "Offload providers, ESP tunnel port (esp0), same traffic as "
          "its rows above (%s); then the VXLAN port with ESP transport "
          "(vxe) on sw and inline crypto, same traffic as its rows above "
          "(its correctness with inline crypto is checked by "
          "tests/ovs/offload-tunnels.sh, not here):" % meta["offload_setup"],
          "",
          "\n".join(lines), "",
          "cycles/pkt: what the datapath spends per packet on the CPU; for "
          "\"NIC model excluded\" the on-CPU cycles/pkt minus the TSC "
          "cycles the test-only NIC model's ethdev RX/TX callbacks spent "
          "per packet (ipsec/nic-model-show tx_cycles/rx_cycles; the crypto, "
          "for inline protocol all of ESP, that a real NIC does in "
          "hardware), both scaled by the share of the "
          "window the PMD was on a CPU.  % of sw: against the sw row of "
          "the same size and direction (measured in this phase; vxe's rows "
          "against vxe's sw row).  Mpps, "
          "Gbit/s, measured, sent/rx: as in the table above.",
          "",
          "Offload targets: %d of %d pass (issue 4: with inline crypto the "
          "datapath spends at most %d %% of the sw cycles at 1400 B; "
          "inline protocol has no target, its rows are information)."
          % (sum(t["ok"] for t in targets), len(targets),
             MAX_INLINE_PCT_1400),
          "", "Offload verification: " + meta["offload_verify"] + "."]
    if suspect:
        md += ["", "**Warning**: %d offload case(s) with no data, drops or "
               "packets the NIC model did not process." % suspect]
    return results, targets, md


def cmd_report(d, out_json, out_md):
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    runs = load_runs(d)
    results = [summarize(di, si, m, runs.get((di, m, si), []))
               for di in DIRS for si in SIZES for m in CASES]
    by = {(r["dir"], r["size"], r["mode"]): r for r in results}
    targets = []
    for r in results:
        base = by[(r["dir"], r["size"], "vxlan")]
        if r["valid"] and base["valid"]:
            r["delta_vs_vxlan"] = r["cycles_per_pkt"] - base["cycles_per_pkt"]
        if not r["valid"] or r["mode"] in ("vxlan", "vxlan-mixed"):
            continue
        verdicts = []
        if r["size"] == 64 and "delta_vs_vxlan" in r:
            ok = r["delta_vs_vxlan"] <= MAX_ESP_DELTA_64
            verdicts.append("%s (<= +%d)" % ("PASS" if ok else "FAIL",
                                             MAX_ESP_DELTA_64))
            targets.append(dict(
                what="64 B %s %s: ESP adds <= %d cycles/pkt over VXLAN"
                % (r["mode"], r["dir"], MAX_ESP_DELTA_64),
                value=round(r["delta_vs_vxlan"]), ok=ok))
        if r["size"] == 1400:
            ok = r["gbps"] >= MIN_GBPS_1400
            verdicts.append("%s (>= %.0f Gbit/s)" % ("PASS" if ok else "FAIL",
                                                     MIN_GBPS_1400))
            targets.append(dict(
                what="1400 B %s %s: >= %.0f Gbit/s on one PMD core"
                % (r["mode"], r["dir"], MIN_GBPS_1400),
                value=round(r["gbps"], 1), ok=ok))
        r["target"] = ", ".join(verdicts)
    suspect = [r for r in results
               if not r["valid"] or r["delivered"] < 0.99]

    lines = ["| traffic | dir | frame | cycles/pkt | Mpps | Gbit/s "
             "| Δ cycles vs VXLAN | measured cycles/pkt, Mpps | PMD on CPU "
             "| sent/rx | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        name = "%s | %s | %d B" % (LABEL[r["mode"]], r["dir"], r["size"])
        if not r["valid"]:
            lines.append("| %s | no data | | | | | | | |" % name)
            continue
        delta = ("" if r["mode"] == "vxlan" or "delta_vs_vxlan" not in r
                 else "%+d" % round(r["delta_vs_vxlan"]))
        lines.append("| %s | %.0f | %.2f | %.1f | %s | %.0f, %.2f | %.0f %% "
                     "| %.3f | %s |"
                     % (name, r["cycles_per_pkt"], r["mpps"], r["gbps"], delta,
                        r["measured_cycles_per_pkt"], r["measured_mpps"],
                        100 * r["on_cpu"], r["delivered"],
                        r.get("target", "")
                        + (" **drops**" if r["delivered"] < 0.99 else "")))
    n_ok = sum(t["ok"] for t in targets)
    ref = [r for r in results if r["valid"] and r["size"] == 64
           and r["dir"] == "encap" and r["mode"] in ("vxlan-esp", "esp")]
    ref_line = "; ".join("%s %.0f cycles/pkt" % (LABEL[r["mode"]],
                                                  r["cycles_per_pkt"])
                         for r in ref)
    tsc = [r["tsc_hz"] for r in results if r["valid"]]

    md = [
        "- Machine: %s, %s CPUs, %s" % (meta["cpu"], meta["ncpu"],
                                        meta["virt"]),
        "- Date: %s" % meta["date"],
        "- Command: `%s`" % meta["command"],
        "- %s; suite AES-GCM-128" % meta["ovs_version"],
        "- Load (`uptime`) before: `%s`; after: `%s`; hypervisor steal "
        "on the PMD's CPU during the measurements: %.1f %%"
        % (meta["load_before"], meta["load_after"], meta["steal_pct"]),
        "- One PMD thread on core %s; TSC %.2f GHz; %s rounds x %s windows "
        "of %s s per case after %s s of warm-up; the best window (fewest "
        "cycles/pkt on the CPU) is shown"
        % (meta["pmd_core"], (tsc[0] / 1e9) if tsc else 0, meta["rounds"],
           meta["windows"], meta["seconds"], meta["warmup"]),
        "",
        "\n".join(lines),
        "",
        "cycles/pkt: TSC cycles per packet while the PMD thread ran "
        "(pmd-perf-show's cycles/pkt times the share of the window the "
        "thread was on a CPU, from its schedstat); Mpps and Gbit/s: what one "
        "core does at that cost (TSC / cycles); Gbit/s counts the overlay "
        "frames' bytes.  Measured: pmd-perf-show as is.  sent/rx: packets "
        "the PMD sent / received (1.000: nothing dropped).",
        "",
        "Targets: %d of %d pass.  Reference: about %d cycles/pkt for 64 B "
        "encrypt (unmerged ovs-dev series, intel-ipsec-mb, one PMD, another "
        "CPU); here %s." % (n_ok, len(targets), REF_CYCLES_64, ref_line),
    ]
    if meta.get("verify"):
        md += ["", "Verification: " + meta["verify"] + "."]
    else:
        md += ["", "**Verification failed**: these numbers may not measure "
               "working ESP."]
    if suspect:
        md += ["", "**Warning**: %d case(s) with no data or drops (sent/rx "
               "< 0.99): their numbers do not measure the full path."
               % len(suspect)]
    off_results, off_targets, off_md = report_offload(meta, runs)
    md += off_md
    md_text = "\n".join(md) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
    with open(out_md, "w") as f:
        f.write(md_text)
    with open(out_json, "w") as f:
        json.dump(dict(meta=meta, results=results, targets=targets,
                       reference_cycles_64b_encrypt=REF_CYCLES_64,
                       offload_results=off_results,
                       offload_targets=off_targets),
                  f, indent=1)
    print(md_text)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "gen":
        cmd_gen(argv[2])
        return 0
    if len(argv) >= 4 and argv[1] == "verify-esp":
        return cmd_verify_esp(argv[2], argv[3])
    if len(argv) >= 3 and argv[1] == "verify":
        return cmd_verify(argv[2])
    if len(argv) >= 5 and argv[1] == "report":
        return cmd_report(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
