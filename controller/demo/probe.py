#!/usr/bin/python3
"""Sequence-numbered UDP probes for the two-site demo (two-sites.sh).

  probe.py recv BIND_IP PORT COUNT RESULT_FILE [ARRIVALS_FILE]
      Receive until COUNT distinct probes arrived or nothing came for
      IDLE seconds after the first; write one line to RESULT_FILE:
      "received=R lost=L duplicated=D out_of_order=O".  With
      ARRIVALS_FILE, also one line per probe there: "SEQ MONOTONIC_TIME"
      (CLOCK_MONOTONIC seconds, comparable across namespaces).
  probe.py send DST_IP PORT COUNT RATE
      Send COUNT probes at RATE per second.

Each probe's payload starts with the marker the demo looks for in the WAN
capture (it must never be found there in clear):
    b"ESPDEMO-PROBE seq=000042 " + padding
"""

import socket
import sys
import time

MARKER = b"ESPDEMO-PROBE"
PAD = b"." * 64
IDLE = 3.0          # Seconds of silence that end a receiver.
START_WAIT = 30.0   # Seconds a receiver waits for the first probe.


def send(dst, port, count, rate):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for seq in range(count):
        # Paced against the start, so that the rate does not drift.
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sock.sendto(b"%s seq=%06d %s" % (MARKER, seq, PAD), (dst, port))
    sock.close()


def recv(bind_ip, port, count, result, arrivals=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((bind_ip, port))
    # Tell the demo the socket is bound.
    with open(result + ".ready", "w") as f:
        f.write("ready\n")
    seen = set()
    log = []
    dup = ooo = bad = 0
    highest = -1
    sock.settimeout(START_WAIT)
    while len(seen) < count:
        try:
            data = sock.recv(2048)
        except socket.timeout:
            break
        sock.settimeout(IDLE)
        fields = data.split(b" ")
        if (len(fields) < 2 or fields[0] != MARKER
                or not fields[1].startswith(b"seq=")):
            bad += 1
            continue
        seq = int(fields[1][4:])
        log.append((seq, time.monotonic()))
        if seq in seen:
            dup += 1
            continue
        if seq < highest:
            ooo += 1
        highest = max(highest, seq)
        seen.add(seq)
    sock.close()
    if arrivals:
        with open(arrivals, "w") as f:
            for seq, t in log:
                f.write("%d %.6f\n" % (seq, t))
    with open(result, "w") as f:
        f.write("received=%d lost=%d duplicated=%d out_of_order=%d "
                "malformed=%d\n"
                % (len(seen), count - len(seen), dup, ooo, bad))


def main():
    if len(sys.argv) in (6, 7) and sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
             sys.argv[6] if len(sys.argv) == 7 else None)
    elif len(sys.argv) == 6 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
             float(sys.argv[5]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
