"""Run the IoT-LAB emulator: in-process for tests, or from the command line."""

from __future__ import annotations

import base64
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ..common import Request, Response, VirtualClock, json_response
from ..g5k.server import _parse_users
from ..handle import EmulatorHandle
from .api import IotlabApp
from .box import IotlabBox
from .inventory import Inventory
from .testbed import Testbed

DEFAULT_USERS: dict[str, str] = {"alice": "alice"}
DEFAULT_RC_PATH = Path(".bedform") / "iotlabrc"


class IotlabEmulator(EmulatorHandle):
    """A FIT IoT-LAB REST API emulator on a free loopback port.

    >>> with IotlabEmulator(users={"alice": "pw"}, speed=0) as emu:
    ...     emu.write_rc("iotlabrc", "alice")   # for IOTLAB_PASSWORD_FILE
    ...     env = emu.client_env("iotlabrc")    # IOTLAB_API_URL + IOTLAB_PASSWORD_FILE
    ...     emu.advance(3600)                   # one virtual hour later

    ``users`` may call the API with HTTP Basic auth. ``speed`` is virtual
    seconds per real second (0 freezes the clock), ``epoch`` the initial
    virtual time (default: now), ``latency_ms`` a delay added to every API
    request. Experiments spend ``launch_seconds`` in toLaunch/Launching.
    ``layout`` (site → archi → count) and ``health`` (board → state) replace
    the default inventory.

    ``box=True`` backs the testbed with real hosts (see ``box/``, needs root): each
    site frontend is an SSH host reachable at ``frontends[site]``, firmware boards of
    running experiments have serial consoles, Linux boards are SSH hosts behind their
    frontend; ``box_id`` names the box (a later start with the same id removes what a
    killed one left), ``authorized_keys`` are public keys every user accepts besides
    the key pair the box writes for each, ``box_sites`` limits the box to some sites.
    ``GET /_emulator/box`` shows it.
    """

    app: IotlabApp
    box: IotlabBox | None

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        speed: float = 1.0,
        latency_ms: float = 0.0,
        epoch: float | None = None,
        launch_seconds: float = 10.0,
        first_experiment_id: int = 400_001,
        port: int = 0,
        layout: Mapping[str, Mapping[str, int]] | None = None,
        health: Mapping[str, str] | None = None,
        box: bool = False,
        box_id: str | None = None,
        authorized_keys: Iterable[str] = (),
        box_sites: Iterable[str] | None = None,
    ) -> None:
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.clock = VirtualClock(epoch=epoch, speed=speed)
        self.testbed = Testbed(
            Inventory(layout, health), self.clock, launch_seconds, first_experiment_id
        )
        self.app = IotlabApp(self.testbed, self.users, self.clock, latency_ms)
        self.box: IotlabBox | None = None
        if box:
            self.box = IotlabBox(self.testbed, self.users, box_id=box_id,
                                 authorized_keys=list(authorized_keys), sites=box_sites)
        self._listen(port)

    def _serve(self, request: Request) -> Response:
        """``GET /_emulator/box`` shows the box; anything else is answered as usual."""
        if self.box is not None and request.path == "/_emulator/box":
            return json_response(self.box.view())
        return super()._serve(request)

    # ----------------------------------------------------------- addresses
    @property
    def url(self) -> str:
        """The API base URL for iotlabcli (``IOTLAB_API_URL``), ending with ``/``."""
        return f"{self._server.base_url}/api/"

    # ------------------------------------------------------- client config
    def credentials(self, user: str | None = None) -> tuple[str, str]:
        """``(login, password)`` of ``user`` (default: the first account)."""
        if user is None:
            user = next(iter(self.users))
        if user not in self.users:
            raise KeyError(f"unknown emulator user {user!r}")
        return user, self.users[user]

    def write_rc(self, path: str | Path, user: str | None = None) -> Path:
        """Write an iotlabcli password file (``login:base64(password)``, mode 0600)."""
        login, password = self.credentials(user)
        if ":" in login:
            raise ValueError(f"user {login!r}: iotlabcli cannot read a login containing ':'")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        encoded = base64.b64encode(password.encode()).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{login}:{encoded}")
        return path

    def client_env(self, rc_path: str | Path) -> dict[str, str]:
        """Environment that points iotlabcli (set before importing it) at this emulator."""
        return {"IOTLAB_API_URL": self.url, "IOTLAB_PASSWORD_FILE": str(Path(rc_path).resolve())}

    # ------------------------------------------------------ test helpers
    def set_board_state(self, nodes: Iterable[str], state: str = "Dead") -> list[str]:
        """Same as ``POST /_emulator/boards``: ``Alive``, ``Absent``, ``Suspected``, ``Dead``."""
        return self.testbed.set_health(list(nodes), state)

    def boards(self, site: str | None = None) -> dict[str, Any]:
        """Same as ``GET /_emulator/boards``."""
        return self.app.boards_view(site)

    def firmware(self) -> dict[str, Any]:
        """Same as ``GET /_emulator/firmware``: board → flashed file name and sha256."""
        return self.app.firmware_view()

    def reset(self) -> None:
        """Same as ``POST /_emulator/reset``: forget all state, faults and the log."""
        self.testbed.reset()
        self.app.clear_faults()
        self.app.log.clear()


def run_cli(
    port: int = 0,
    speed: float = 1.0,
    latency_ms: float = 0.0,
    users: Mapping[str, str] | Iterable[str] | None = None,
    config_path: str | Path | None = None,
    *,
    out: TextIO | None = None,
    stop_event: threading.Event | None = None,
    box: bool = False,
    box_id: str | None = None,
    authorized_keys: Iterable[str] = (),
) -> None:
    """Serve the emulator until Ctrl-C (or SIGTERM, or ``stop_event``).

    ``users`` is a mapping or ``NAME:PASSWORD`` strings (default ``alice:alice``).
    Prints the address, writes the first user's iotlabcli password file to
    ``config_path`` (default ``.bedform/iotlabrc``) and the lines that point
    iotlabcli at the emulator. ``box`` backs it with real hosts (see
    :class:`IotlabEmulator`) and prints the frontends' addresses.
    """
    out = out or sys.stdout
    emulator = IotlabEmulator(_parse_users(users), speed=speed, latency_ms=latency_ms, port=port,
                              box=box, box_id=box_id, authorized_keys=authorized_keys)
    path = Path(config_path) if config_path else DEFAULT_RC_PATH
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _terminate(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    emulator.start()
    try:
        written = emulator.write_rc(path).resolve()
        env = emulator.client_env(written)
        print(f"FIT IoT-LAB API emulator listening on {emulator.url}", file=out)
        print(f"  accounts: {', '.join(emulator.users)}", file=out)
        print(f"  speed: x{speed:g}, latency: {latency_ms:g} ms", file=out)
        print(f"  iotlabcli password file ({next(iter(emulator.users))}): {written}", file=out)
        print("  point iotlabcli at it (and have no ~/.iotlab.api-url):", file=out)
        for name, value in env.items():
            print(f"    export {name}={value}", file=out)
        print(
            f"  control endpoints:    {emulator.base_url}/_emulator/boards (see docs/emulators.md)",
            file=out,
        )
        if emulator.box is not None:
            print(f"  box {emulator.box.box_id}: users' keys in {emulator.box.key_dir}; "
                  "site frontends (the stack's `frontend`):", file=out)
            for site, address in emulator.box.frontends.items():
                print(f"    {site}.iot-lab.info: {address}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        while not (stop_event and stop_event.is_set()):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        print("Emulator stopped.", file=out, flush=True)
