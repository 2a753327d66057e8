#!/usr/bin/python3
"""Tables of SAs for the two-site demo (two-sites.sh), from the JSON of
`ovs-appctl ipsec/sa-show --json` (which never holds keys).

  satable.py installed SITE=FILE...   one line per SA: port, direction, SPI,
                                      suite, mode, outer addresses, state
  satable.py counters SITE=FILE...    one line per SA: packets, bytes, drops
  satable.py sent SITE=STATS...       the number of packets the sites
                                      encrypted, from `ipsec/stats --json`
                                      (which counts deleted SAs too)
  satable.py check SITE_A=FILE SITE_B=FILE
      exit 0 if every outbound SA of one site has the same packet count as
      the inbound SA with its SPI at the other, each site's outbound SAs
      carried packets, and no SA dropped anything; otherwise print why and
      exit 1.  Only the SAs still installed: rekeying deletes the old ones.
  satable.py active-out SPI SITE=FILE
      exit 0 if SPI (hex) is SITE's active outbound SA, otherwise 1.
  satable.py totals SITE_A=STATS SITE_B=STATS
      one line per site from `ipsec/stats --json`: packets encrypted and
      verified, drops; exit 0 if what each site encrypted is what the other
      verified and neither dropped anything (rotated SAs included),
      otherwise print why and exit 1.
"""

import json
import sys


def load(args):
    sites = []
    for arg in args:
        name, path = arg.split("=", 1)
        with open(path) as f:
            sites.append((name, json.load(f)))
    return sites


def drops(sa):
    d = sa.get("drops") or {}
    return ",".join("%s=%d" % kv for kv in sorted(d.items())) or "none"


def installed(sites):
    fmt = "    %-7s %-8s %-4s %-11s %-12s %-7s %-24s %s"
    print(fmt % ("site", "port", "dir", "SPI", "suite", "mode", "outer",
                 "state"))
    for name, doc in sites:
        for sa in doc["sas"]:
            print(fmt % (name, sa["port"], sa["dir"], "0x%08x" % sa["spi"],
                         sa["suite"], sa["mode"],
                         "%s -> %s" % (sa.get("src", "?"), sa.get("dst", "?")),
                         "active" if sa["active"] else "inactive"))


def counters(sites):
    fmt = "    %-7s %-4s %-11s %9s %11s  %s"
    print(fmt % ("site", "dir", "SPI", "packets", "bytes", "drops"))
    for name, doc in sites:
        for sa in doc["sas"]:
            print(fmt % (name, sa["dir"], "0x%08x" % sa["spi"],
                         sa["packets"], sa["bytes"], drops(sa)))


def check(sites):
    ok = True
    by_spi = {}
    for name, doc in sites:
        for sa in doc["sas"]:
            by_spi[(name, sa["dir"], sa["spi"])] = sa
            if sa.get("drops"):
                print("SA 0x%08x at %s dropped packets: %s"
                      % (sa["spi"], name, drops(sa)))
                ok = False
    names = [name for name, _ in sites]
    for name in names:
        peer = [n for n in names if n != name][0]
        for (site, direction, spi), sa in by_spi.items():
            if site != name or direction != "out":
                continue
            rx = by_spi.get((peer, "in", spi))
            if rx is None:
                print("SA 0x%08x: out at %s, no in at %s" % (spi, name, peer))
                ok = False
            elif rx["packets"] != sa["packets"]:
                print("SA 0x%08x: %s sent %d, %s verified %d"
                      % (spi, name, sa["packets"], peer, rx["packets"]))
                ok = False
        # A pair installed by a rekey just as the traffic ended may have
        # carried nothing, but not every outbound SA of a site.
        if not any(sa["packets"] for (site, direction, _), sa
                   in by_spi.items() if site == name and direction == "out"):
            print("%s: no outbound SA carried any packet" % name)
            ok = False
    return ok


def totals(sites):
    ok = True
    for name, doc in sites:
        d = ",".join("%s=%d" % kv for kv in sorted(doc["drops"].items())
                     if kv[1]) or "none"
        print("    %-7s encrypted %d, verified %d, drops %s"
              % (name, doc["packets"]["out"], doc["packets"]["in"], d))
        if d != "none":
            ok = False
    for i, (name, doc) in enumerate(sites):
        peer, pdoc = sites[1 - i]
        if doc["packets"]["out"] != pdoc["packets"]["in"]:
            print("    %s encrypted %d, %s verified %d"
                  % (name, doc["packets"]["out"], peer, pdoc["packets"]["in"]))
            ok = False
    return ok


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    if sys.argv[1] == "active-out" and len(sys.argv) == 4:
        spi = int(sys.argv[2], 16)
        _, doc = load(sys.argv[3:])[0]
        sys.exit(0 if any(sa["active"] and sa["dir"] == "out"
                          and sa["spi"] == spi for sa in doc["sas"]) else 1)
    sites = load(sys.argv[2:])
    if sys.argv[1] == "installed":
        installed(sites)
    elif sys.argv[1] == "counters":
        counters(sites)
    elif sys.argv[1] == "sent":
        print(sum(doc["packets"]["out"] for _, doc in sites))
    elif sys.argv[1] == "check":
        sys.exit(0 if check(sites) else 1)
    elif sys.argv[1] == "totals" and len(sites) == 2:
        sys.exit(0 if totals(sites) else 1)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
