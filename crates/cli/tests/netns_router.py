"""A link emulator for the netns test: packets the router namespace routes into TUN device
`tun_in` come out of TUN device `tun_out` after a delay drawn from a normal distribution
(mean and deviation in ms, never negative), and a share of them is dropped — what netem's
`delay MEAN DEV distribution normal loss P%` does on a link, for kernels built without netem.

Usage: python3 netns_router.py TUN_IN TUN_OUT MEAN_MS DEV_MS LOSS_PERCENT SEED
It prints "ready" once both devices are open, and a summary on SIGTERM.
"""

import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def main():
    tun_in, tun_out = sys.argv[1], sys.argv[2]
    mean, dev, loss = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]) / 100.0
    rng = random.Random(int(sys.argv[6]))
    fd_in, fd_out = open_tun(tun_in), open_tun(tun_out)
    stats = {"forwarded": 0, "dropped": 0}

    def stop(_sig, _frame):
        print(f"forwarded {stats['forwarded']} dropped {stats['dropped']}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    due = []  # (release time, sequence, packet)
    seq = 0
    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, packet = heapq.heappop(due)
            try:
                os.write(fd_out, packet)
                stats["forwarded"] += 1
            except OSError:
                stats["dropped"] += 1
        timeout = max(0.0, due[0][0] - now) if due else 1.0
        readable, _, _ = select.select([fd_in], [], [], timeout)
        if not readable:
            continue
        while True:
            try:
                packet = os.read(fd_in, 65536)
            except BlockingIOError:
                break
            if rng.random() < loss:
                stats["dropped"] += 1
                continue
            delay = max(0.0, rng.gauss(mean, dev)) / 1000.0
            seq += 1
            heapq.heappush(due, (time.monotonic() + delay, seq, packet))


if __name__ == "__main__":
    main()
