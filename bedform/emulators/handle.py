"""`EmulatorHandle`: the Python object of a testbed emulator (G5k, IoT-LAB, OpenStack).

It serves its app over HTTP on loopback, with the optional box (real hosts behind the
API, made to match every answer), and gives tests the clock, the request log and faults.
Subclasses build `clock`, `app` and `box`, then call `_listen(port)`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Self

from .common import BaseEmulatorApp, EmulatorServer, Request, Response, VirtualClock


class EmulatorBox(Protocol):
    """Real hosts behind an emulator's API."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconcile(self) -> None: ...


class EmulatorHandle:
    """Start/stop (idempotent, a context manager), addresses and test helpers shared by
    the emulators."""

    clock: VirtualClock
    app: BaseEmulatorApp
    box: Any = None   # an EmulatorBox, or None without one
    _server: EmulatorServer

    def _listen(self, port: int) -> None:
        """Serve on 127.0.0.1:`port` (0: a free one) once started; the Date header of
        every answer follows the virtual clock."""
        self._server = EmulatorServer(self._serve, "127.0.0.1", port, clock=self.clock)

    def _serve(self, request: Request) -> Response:
        """Answer, then (box) make the hosts match what the answer says."""
        response = self.app(request)
        if self.box is not None:
            self.box.reconcile()
        return response

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        """Start serving (idempotent), building the box first; returns self."""
        if not self._server.running:
            if self.box is not None:
                self.box.start()
            try:
                self._server.start()
            except BaseException:
                if self.box is not None:
                    self.box.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop serving and release the port, tear the box down (idempotent)."""
        self._server.stop()
        if self.box is not None:
            self.box.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ----------------------------------------------------------- addresses
    @property
    def port(self) -> int:
        """The TCP port (known once started)."""
        return self._server.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the control endpoints live under ``/_emulator``)."""
        return self._server.base_url

    # ------------------------------------------------------ test helpers
    def now(self) -> float:
        """Current virtual time (epoch seconds)."""
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the virtual clock forward; transitions happen on the next access."""
        return self.clock.advance(seconds)

    def requests(self) -> list[dict[str, Any]]:
        """API requests answered so far (method, path, query, status, time, duration_ms)."""
        return self.app.log.items()

    def clear_requests(self) -> None:
        """Forget the request log."""
        self.app.log.clear()

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        """Same as ``POST /_emulator/faults`` with ``spec`` as the body."""
        return self.app.add_fault(spec)
