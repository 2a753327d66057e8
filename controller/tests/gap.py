#!/usr/bin/python3
"""Outage of a probe stream (controller/demo/probe.py recv's ARRIVALS_FILE)
around an event at monotonic time T_UP (e.g. a switch back up).

  gap.py ARRIVALS_FILE T_UP

Prints "last_before=SEQ@T first_after=SEQ@T restore_ms=MS missing=N":
the last probe received before the longest silence, the first one after
it, how long after T_UP that first one arrived (negative: before T_UP),
and how many sequence numbers never arrived.  Exit status 1 if no probe
came after T_UP.
"""
import sys


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            seq, t = line.split()
            rows.append((int(seq), float(t)))
    t_up = float(sys.argv[2])
    if not rows:
        print("no probes")
        return 1
    rows.sort(key=lambda r: r[1])
    gap, at = 0.0, 0
    for i in range(1, len(rows)):
        if rows[i][1] - rows[i - 1][1] > gap:
            gap, at = rows[i][1] - rows[i - 1][1], i
    seqs = {r[0] for r in rows}
    missing = max(seqs) + 1 - len(seqs)
    after = [r for r in rows if r[1] >= t_up]
    before = rows[at - 1] if at else rows[0]
    first = rows[at] if at else rows[0]
    if not after:
        print("no probe after the event; missing=%d" % missing)
        return 1
    print("last_before=%d@%.3f first_after=%d@%.3f gap_ms=%d restore_ms=%d "
          "missing=%d" % (before[0], before[1], first[0], first[1],
                          gap * 1000, (first[1] - t_up) * 1000, missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
