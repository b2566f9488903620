"""`distemd`, the Distem daemon of the Grid'5000 box's nodes.

    distemd [--verbose] [-d] [--port 4567] [--containers SOCKET]

Serves the REST API (app.py) on 0.0.0.0:4567 and the inter-daemon port 4568. `-d` runs
it in the background (double fork; its log and request log go to /root/.bedform-distem,
the node's own root home). RUNNING vnodes are made by the box (the node's "LXC"): each
container operation is one JSON line over the box's Unix socket (`--containers`), and
the box answers once the vnode's namespace and sshd exist. At start, and at `DELETE
/pnodes` (after which it exits), the daemon asks the box to drop every container it
made before: the model lives in this process only, as distemd's does.

This module runs as a program on the nodes: standard library only, relative imports.
`install` writes the program into the box's shared programs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from .app import RequestLog, make_server
from .model import UNAVAILABLE, DistemError, Platform

API_PORT = 4567
DAEMON_PORT = 4568
STATE = Path("/root/.bedform-distem")
PROGRAM_MODULES = ("model.py", "app.py", "daemon.py")
BACKEND_TIMEOUT = 60.0


class BoxContainers:
    """The `Containers` of model.py, asked of the box over its Unix socket."""

    def __init__(self, socket_path: str, coordinator: str) -> None:
        self.socket_path = socket_path
        self.coordinator = coordinator

    def _call(self, request: dict[str, Any]) -> Any:
        request = {**request, "coordinator": self.coordinator}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(BACKEND_TIMEOUT)
                sock.connect(self.socket_path)
                sock.sendall(json.dumps(request).encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError as error:
            raise DistemError(500, UNAVAILABLE, f"the container backend does not answer: "
                                                f"{error}") from None
        answer = json.loads(data or b'{"error": "no answer"}')
        if "error" in answer:
            raise DistemError(int(answer.get("status", 500)), str(answer.get("kind", UNAVAILABLE)),
                              str(answer["error"]))
        return answer.get("result")

    def check(self, pnodes: list[str]) -> None:
        self._call({"op": "check", "pnodes": pnodes})

    def start(self, vnode: dict[str, Any]) -> None:
        self._call({"op": "start", "name": vnode["name"], "pnode": vnode["host"],
                    "addresses": [v["address"] for v in vnode["vifaces"]],
                    "public_key": (vnode.get("ssh_key") or {}).get("public", "")})

    def stop(self, name: str) -> None:
        self._call({"op": "stop", "name": name})

    def execute(self, name: str, command: str) -> str:
        return str(self._call({"op": "execute", "name": name, "command": command}))

    def reset(self) -> None:
        self._call({"op": "reset"})


def _daemonize(log: Path) -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="distemd")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("-d", "--daemon", action="store_true")
    parser.add_argument("--port", type=int, default=API_PORT)
    parser.add_argument("--containers", default=os.environ.get("DISTEMD_CONTAINERS"))
    args = parser.parse_args(argv)
    STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
    backend = BoxContainers(args.containers, socket.gethostname()) if args.containers \
        else None
    platform = Platform(backend)
    log = RequestLog(str(STATE / "requests.log"))
    try:
        servers = [make_server(platform, ("0.0.0.0", port), log, args.verbose)
                   for port in (args.port, args.port + 1)]
    except OSError as error:
        print(f"distemd: cannot listen: {error}", file=sys.stderr)
        return 1
    if args.daemon:
        _daemonize(STATE / "distemd.log")
    (STATE / "distemd.pid").write_text(f"{os.getpid()}\n")
    if backend is not None:
        try:
            backend.reset()   # containers of an earlier daemon: its model is gone
        except DistemError as error:
            print(f"distemd: {error.message}", file=sys.stderr, flush=True)

    def shut_down() -> None:
        for server in servers:
            server.shutdown()

    def quit_after_answer() -> None:
        threading.Timer(0.2, shut_down).start()

    original = platform.quit

    def quit_platform() -> list[dict[str, Any]]:
        answer = original()
        quit_after_answer()
        return answer

    platform.quit = quit_platform  # type: ignore[method-assign]
    signal.signal(signal.SIGTERM, lambda *_: quit_after_answer())
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers[1:]]
    for thread in threads:
        thread.start()
    try:
        servers[0].serve_forever()
    finally:
        for server in servers[1:]:
            server.shutdown()
        for server in servers:
            server.server_close()
        if backend is not None:
            try:
                backend.reset()
            except DistemError as error:
                print(f"distemd: {error.message}", file=sys.stderr)
    return 0


LAUNCHER = """#!/usr/bin/python3 -IS
# distemd of the Grid'5000 box (bedform): the emulator's package under another name
import importlib, sys, types
package = types.ModuleType("distem_emulator")
package.__path__ = [{library!r}]
sys.modules["distem_emulator"] = package
sys.exit(importlib.import_module("distem_emulator.daemon").main(
    ["--containers", {socket!r}, *sys.argv[1:]]))
"""


def install(bin_dir: Path, containers_socket: Path) -> Path:
    """Write `distemd` (and the modules it runs) into the box's shared programs."""
    library = bin_dir / ".distemd"
    library.mkdir(mode=0o755, exist_ok=True)
    here = Path(__file__).parent
    for name in PROGRAM_MODULES:
        shutil.copyfile(here / name, library / name)
    program = bin_dir / "distemd"
    # the system interpreter: /root (where a pyenv lives) is each node's own on the box
    program.write_text(LAUNCHER.format(library=str(library), socket=str(containers_socket)))
    os.chmod(program, 0o755)
    return program
