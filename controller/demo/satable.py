#!/usr/bin/python3
"""Tables of SAs for the two-site demo (two-sites.sh), from the JSON of
`ovs-appctl ipsec/sa-show --json` (which never holds keys).

  satable.py installed SITE=FILE...   one line per SA: port, direction, SPI,
                                      suite, mode, outer addresses, state
  satable.py counters SITE=FILE...    one line per SA: packets, bytes, drops
  satable.py sent SITE=FILE...        the number of packets all outbound SAs
                                      encrypted
  satable.py check SITE_A=FILE SITE_B=FILE
      exit 0 if every outbound SA of one site has the same packet count as
      the inbound SA with its SPI at the other, and no SA dropped anything;
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
            elif sa["packets"] == 0:
                print("SA 0x%08x: no packet" % spi)
                ok = False
    return ok


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sites = load(sys.argv[2:])
    if sys.argv[1] == "installed":
        installed(sites)
    elif sys.argv[1] == "counters":
        counters(sites)
    elif sys.argv[1] == "sent":
        print(sum(sa["packets"] for _, doc in sites for sa in doc["sas"]
                  if sa["dir"] == "out"))
    elif sys.argv[1] == "check":
        sys.exit(0 if check(sites) else 1)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
