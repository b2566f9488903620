"""`DistemEmulator`: distemd's API in this process, on a free loopback port (tests and
`bedform`-less experiments with the `distem` client).

    with DistemEmulator() as emu:
        client = distem.Distem(serveraddr="127.0.0.1", port=emu.port)
"""

from __future__ import annotations

import threading
from typing import Any

from .app import RequestLog, make_server
from .model import Containers, Platform

MUTATING = frozenset({"POST", "PUT", "DELETE"})


class DistemEmulator:
    """A coordinator's API (no containers unless `containers` is given)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 containers: Containers | None = None) -> None:
        self.platform = Platform(containers)
        self.log = RequestLog()
        self._server = make_server(self.platform, (host, port), self.log)
        self.host, self.port = str(self._server.server_address[0]), \
            int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> DistemEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="distem-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def requests(self) -> list[dict[str, Any]]:
        return list(self.log.items)

    def mutations(self) -> int:
        return sum(1 for r in self.log.items if r["method"] in MUTATING)

    def __enter__(self) -> DistemEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
