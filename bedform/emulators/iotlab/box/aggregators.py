"""`serial_aggregator` and `sniffer_aggregator` of the box's frontends: this file is
installed under both names (standard library only) and acts after the name it runs as.

Nodes are given as the real tools take them, `-l grenoble,m3,1-3+5` (site, family,
ids; repeatable), or as board names (`m3-1`, `m3-1.grenoble.iot-lab.info`); without `-l`,
the nodes of experiment `-i ID` (default: your running experiment) on this site.

- `serial_aggregator`: connects to port 20000 of each node and prints every line it
  reads as `<unix time>;<node>;<line>` (to `-o FILE` too when given); lines typed on
  stdin are sent as `node;message` to one node, or as `message` to all.
- `sniffer_aggregator -o FILE`: connects to port 30000 of each node and writes a pcap
  file (Ethernet link type: ZEP in UDP, as the real tool) until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

BOX_DIR = ""  # written at installation: where the box keeps the experiments' node lists
SERIAL_PORT = 20000
SNIFFER_PORT = 30000
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def site() -> str:
    return socket.gethostname().split(".")[0]


def experiments() -> list[dict]:
    """The running experiments of the calling user that have boards on this site."""
    user = pwd.getpwuid(os.getuid()).pw_name
    found = []
    for path in sorted(Path(BOX_DIR, "experiments").glob("*.json")):
        try:
            item = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if item["user"] == user and any(n.split(".")[1] == site() for n in item["nodes"]):
            found.append(item)
    return found


def expand(spec: str) -> list[str]:
    """`grenoble,m3,1-3+5` -> short names; a plain name list stays as it is."""
    parts = spec.split(",")
    if len(parts) == 3 and not parts[2].isalpha() and "." not in spec:
        where, family, ids = parts
        numbers: list[int] = []
        for chunk in ids.split("+"):
            low, _, high = chunk.partition("-")
            numbers.extend(range(int(low), int(high or low) + 1))
        return [f"{family}-{n}.{where}.iot-lab.info" for n in numbers]
    return [p for p in parts if p]


def nodes_of(args: argparse.Namespace) -> list[str]:
    if args.nodes:
        return [n for spec in args.nodes for n in expand(spec)]
    running = [e for e in experiments() if args.exp_id in (None, e["id"])]
    if not running:
        sys.exit(f"{args.prog}: no running experiment"
                 + (f" {args.exp_id}" if args.exp_id else "") + " of yours on this site")
    return [n for n in running[0]["nodes"] if n.split(".")[1] == site()
            and n.split(".")[0].split("-")[0] not in ("a8", "rpi3")]


def connect(node: str, port: int) -> socket.socket | None:
    try:
        return socket.create_connection((node, port), timeout=5)
    except OSError as exc:
        print(f"{node.split('.')[0]}: cannot connect to port {port}: {exc}", file=sys.stderr,
              flush=True)
        return None


def serial(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(open(args.output, "a", buffering=1)) \
            if args.output else None
        aggregate(args, output)


def aggregate(args: argparse.Namespace, output: Any) -> None:
    """Read every node's serial link until they all close."""
    lock = threading.Lock()
    links: dict[str, socket.socket] = {}
    for node in nodes_of(args):
        link = connect(node, SERIAL_PORT)
        if link is not None:
            links[node.split(".")[0]] = link
    if not links:
        sys.exit("serial_aggregator: no node to read")

    def read(name: str, link: socket.socket) -> None:
        link.settimeout(None)
        for raw in link.makefile("rb"):
            line = f"{time.time():.6f};{name};{raw.decode(errors='replace').rstrip()}"
            with lock:
                print(line, flush=True)
                if output:
                    output.write(line + "\n")

    threads = [threading.Thread(target=read, args=item, daemon=True) for item in links.items()]
    for thread in threads:
        thread.start()
    if not sys.stdin.isatty():
        for text in sys.stdin:
            name, _, message = text.rstrip("\n").rpartition(";")
            for target, link in links.items():
                if not name or name == target:
                    link.sendall(message.encode() + b"\n")
    for thread in threads:
        thread.join()


def sniffer(args: argparse.Namespace) -> None:
    if not args.output:
        sys.exit("sniffer_aggregator: give the pcap file with -o FILE")
    links = [link for node in nodes_of(args) if (link := connect(node, SNIFFER_PORT))]
    if not links:
        sys.exit("sniffer_aggregator: no node to sniff")
    path = Path(args.output).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb", buffering=0) as pcap:
        pcap.write(PCAP_HEADER)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while any(link.fileno() >= 0 for link in links):
            for link in links:
                link.settimeout(0.2)
                try:
                    if not link.recv(65535):
                        link.close()
                except TimeoutError:
                    continue


def main() -> None:
    prog = Path(sys.argv[0]).name
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("-i", "--id", dest="exp_id", type=int)
    parser.add_argument("-l", "--list", dest="nodes", action="append")
    parser.add_argument("-o", "--output")
    args = parser.parse_args()
    args.prog = prog
    with contextlib.suppress(KeyboardInterrupt):
        (sniffer if prog.startswith("sniffer") else serial)(args)


if __name__ == "__main__":
    main()
