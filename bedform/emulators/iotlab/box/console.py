"""The consoles of one site's firmware boards: one process in the site's console
namespace, run as a script (`python console.py STATE_FILE`, standard library only).

The box writes STATE_FILE (JSON: `{"boards": {fqdn: {"ip", "firmware", "since"}}}`),
listing the boards of running experiments; this process listens on port 20000 (serial)
and 30000 (sniffer) of each listed board's address and stops listening for boards that
leave the list (a connection then gets refused, as to a board outside your experiment).

A serial connection reads what the firmware prints, `<firmware file> #<counter>` every
PERIOD seconds, the counter starting at 0 when the board (re)starts (launch, flash,
reset: a new `since`; a reader sees the lines printed from when it connects), and
gets back `echo: <line>` for every line written to it. A
sniffer connection stays open and silent (no radio traffic is emulated).
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import threading
import time
from typing import Any

SERIAL_PORT = 20000
SNIFFER_PORT = 30000
PERIOD = 0.5
POLL = 0.1


class Consoles:
    """Listening sockets per board, kept in step with the state file."""

    def __init__(self, state_path: str) -> None:
        self.state_path = state_path
        self.boards: dict[str, dict[str, Any]] = {}
        self.listeners: dict[tuple[str, int], socket.socket] = {}
        self.owner: dict[socket.socket, tuple[str, int]] = {}
        self.stamp = 0.0

    def load(self) -> None:
        try:
            stamp = os.stat(self.state_path).st_mtime
            if stamp == self.stamp:
                return
            with open(self.state_path) as handle:
                self.boards = dict(json.load(handle)["boards"])
            self.stamp = stamp
        except (OSError, ValueError, KeyError):
            return
        wanted = {(fqdn, port) for fqdn in self.boards for port in (SERIAL_PORT, SNIFFER_PORT)}
        for key in [k for k in self.listeners if k not in wanted]:
            listener = self.listeners.pop(key)
            self.owner.pop(listener, None)
            listener.close()
        for fqdn, port in sorted(wanted - set(self.listeners)):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind((self.boards[fqdn]["ip"], port))
            except OSError as exc:
                print(f"console {fqdn}:{port}: {exc}", file=sys.stderr, flush=True)
                listener.close()
                continue
            listener.listen(16)
            self.listeners[(fqdn, port)] = listener
            self.owner[listener] = (fqdn, port)

    def serve(self) -> None:
        while True:
            self.load()
            if not self.owner:
                time.sleep(POLL)
                continue
            ready, _, _ = select.select(list(self.owner), [], [], POLL)
            for listener in ready:
                key = self.owner.get(listener)
                if key is None:
                    continue
                try:
                    connection, _ = listener.accept()
                except OSError:
                    continue
                target = self.serial if key[1] == SERIAL_PORT else self.sniffer
                threading.Thread(target=target, args=(key[0], connection), daemon=True).start()

    def sniffer(self, fqdn: str, connection: socket.socket) -> None:
        with connection:
            while fqdn in self.boards:
                time.sleep(POLL)

    def serial(self, fqdn: str, connection: socket.socket) -> None:
        since: float | None = None
        printed = -1
        pending = b""
        with connection:
            while True:
                board = self.boards.get(fqdn)
                if board is None:
                    return
                counter = int((time.time() - board["since"]) / PERIOD)
                if since is None:  # a new reader sees what the board prints from now on
                    printed = counter - 1
                elif board["since"] != since:  # the board restarted: so does its counter
                    printed = -1
                since = board["since"]
                try:
                    while printed < counter:
                        printed += 1
                        connection.sendall(f"{board['firmware']} #{printed}\n".encode())
                    readable, _, _ = select.select([connection], [], [], POLL)
                    if readable:
                        data = connection.recv(4096)
                        if not data:
                            return
                        pending += data
                        *lines, pending = pending.split(b"\n")
                        for line in lines:
                            connection.sendall(b"echo: " + line.rstrip(b"\r") + b"\n")
                except OSError:
                    return


if __name__ == "__main__":
    Consoles(sys.argv[1]).serve()
