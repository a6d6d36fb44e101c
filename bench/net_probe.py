#!/usr/bin/python3
"""Measures a TCP link between two hosts (bench/slow_link.sh: two network
namespaces): round-trip time of 1-byte messages and one-way bulk rate.

  net_probe.py server ADDR PORT           serves one client, then exits
  net_probe.py client ADDR PORT [--pings N] [--megabytes M]

The client prints one JSON line: {"rtt_us_median", "rtt_us_min", "pings",
"bulk_bytes", "bulk_seconds", "gbits_per_second"}. The bulk rate counts
from the first byte sent to the server's 1-byte acknowledgement of the
last, so it includes one round trip. Standard library only.
"""

import json
import socket
import statistics
import sys
import time

CHUNK = 1 << 16


def receive_exactly(connection, count):
    data = bytearray()
    while len(data) < count:
        part = connection.recv(min(CHUNK, count - len(data)))
        if not part:
            raise ConnectionError("peer closed the connection")
        data += part
    return bytes(data)


def serve(address, port):
    with socket.create_server((address, port)) as server:
        server.settimeout(60)
        connection, _ = server.accept()
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pings = int.from_bytes(receive_exactly(connection, 4), "big")
            for _ in range(pings):
                connection.sendall(receive_exactly(connection, 1))
            bulk = int.from_bytes(receive_exactly(connection, 8), "big")
            remaining = bulk
            while remaining:
                part = connection.recv(min(CHUNK, remaining))
                if not part:
                    raise ConnectionError("peer closed the connection mid-transfer")
                remaining -= len(part)
            connection.sendall(b"k")


def connect(address, port, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return socket.create_connection((address, port), timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def client(address, port, pings, megabytes):
    with connect(address, port) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sendall(pings.to_bytes(4, "big"))
        rtts = []
        for _ in range(pings):
            start = time.perf_counter()
            connection.sendall(b"p")
            receive_exactly(connection, 1)
            rtts.append(time.perf_counter() - start)
        bulk = megabytes << 20
        connection.sendall(bulk.to_bytes(8, "big"))
        payload = bytes(CHUNK)
        start = time.perf_counter()
        remaining = bulk
        while remaining:
            sent = connection.send(payload[:min(CHUNK, remaining)])
            remaining -= sent
        receive_exactly(connection, 1)
        seconds = time.perf_counter() - start
    print(json.dumps({"rtt_us_median": round(1e6 * statistics.median(rtts), 1),
                      "rtt_us_min": round(1e6 * min(rtts), 1), "pings": pings,
                      "bulk_bytes": bulk, "bulk_seconds": round(seconds, 4),
                      "gbits_per_second": round(8 * bulk / seconds / 1e9, 4)}), flush=True)


def main(argv):
    if len(argv) < 3 or argv[0] not in ("server", "client"):
        sys.exit(__doc__)
    address, port = argv[1], int(argv[2])
    if argv[0] == "server":
        serve(address, port)
        return
    pings, megabytes = 200, 16
    rest = argv[3:]
    while rest:
        if rest[0] == "--pings" and len(rest) > 1:
            pings = int(rest[1])
        elif rest[0] == "--megabytes" and len(rest) > 1:
            megabytes = int(rest[1])
        else:
            sys.exit(f"net_probe.py: unknown option {rest[0]}")
        rest = rest[2:]
    client(address, port, pings, megabytes)


if __name__ == "__main__":
    main(sys.argv[1:])
