"""Run the Grid'5000 emulator: in-process for tests, or from the command line."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ..common import VirtualClock
from ..handle import EmulatorHandle
from .api import G5kApp
from .box import Box, box_control
from .reference import ReferenceData
from .testbed import Testbed

DEFAULT_USERS: dict[str, str] = {"alice": "alice"}
DEFAULT_ADMINS: dict[str, str] = {"admin": "admin"}
DEFAULT_CONFIG_PATH = Path(".bedform") / "g5k-emulator.yaml"


@functools.lru_cache(maxsize=1)
def packaged_reference() -> ReferenceData:
    """The packaged reference data, loaded once per process (it is read-only)."""
    return ReferenceData.load()


class G5kEmulator(EmulatorHandle):
    """A Grid'5000 REST API emulator on a free loopback port.

    >>> with G5kEmulator(users={"alice": "pw"}, speed=0) as emu:
    ...     emu.write_client_config("g5k.yaml")   # for Grid5000.from_yaml
    ...     emu.advance(3600)                      # one virtual hour later

    ``users`` may call the API with HTTP Basic auth; ``admins`` too, and they
    may also kill other users' jobs and move any node's vlan (drift tests).
    ``speed`` is virtual seconds per real second (0 freezes the clock),
    ``epoch`` the initial virtual time (default: now), ``latency_ms`` a delay
    added to every API request. Jobs spend ``launch_seconds`` in ``launching``
    and deployments ``deploy_seconds`` in ``processing`` (virtual time).

    ``box=True`` backs the testbed with real hosts (see ``box/``, needs root): the
    nodes of running jobs answer SSH through an access frontend whose address the
    client configuration publishes as ``gateway``; ``box_id`` names the box (a later
    start with the same id purges what a killed one left), ``authorized_keys`` are
    public keys every user accepts besides the key pair the box writes for each.
    """

    app: G5kApp
    box: Box | None

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        admins: Mapping[str, str] | None = None,
        speed: float = 1.0,
        latency_ms: float = 0.0,
        epoch: float | None = None,
        launch_seconds: float = 5.0,
        deploy_seconds: float = 120.0,
        first_job_uid: int = 1_000_001,
        port: int = 0,
        reference: ReferenceData | str | Path | None = None,
        box: bool = False,
        box_id: str | None = None,
        authorized_keys: Iterable[str] = (),
    ) -> None:
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.admins = dict(DEFAULT_ADMINS if admins is None else admins)
        if isinstance(reference, ReferenceData):
            ref = reference
        elif reference is None:
            ref = packaged_reference()
        else:
            ref = ReferenceData.load(reference)
        self.clock = VirtualClock(epoch=epoch, speed=speed)
        self.testbed = Testbed(
            ref,
            self.clock,
            admins=self.admins,
            launch_seconds=launch_seconds,
            deploy_seconds=deploy_seconds,
            first_job_uid=first_job_uid,
        )
        self.app = G5kApp(self.testbed, {**self.users, **self.admins}, self.clock, latency_ms)
        self.box: Box | None = None
        if box:
            self.box = Box(self.testbed, [*self.users, *self.admins], box_id=box_id,
                           authorized_keys=list(authorized_keys))
            self.app.controls["box"] = functools.partial(box_control, self.box)
        self._listen(port)

    # ----------------------------------------------------------- addresses
    @property
    def url(self) -> str:
        """The API root to give python-grid5000 as ``uri``: ``http://127.0.0.1:PORT/stable``."""
        return f"{self._server.base_url}/stable"

    # ------------------------------------------------------- client config
    def client_config(self, user: str | None = None) -> dict[str, Any]:
        """python-grid5000 constructor arguments for ``user`` (default: first user), plus
        what bedform's provider reads: the box's access frontend as ``gateway``, or
        ``nodes_reachable: false`` without a box."""
        accounts = {**self.users, **self.admins}
        if user is None:
            user = next(iter(self.users or self.admins))
        if user not in accounts:
            raise KeyError(f"unknown emulator user {user!r}")
        config = {"uri": self.url, "username": user, "password": accounts[user],
                  "verify_ssl": False}
        if self.box is None:
            config["nodes_reachable"] = False  # the provider records its SSH steps only
        elif self.box.access:
            config["gateway"] = self.box.access
        return config

    def write_client_config(self, path: str | Path, user: str | None = None) -> Path:
        """Write a python-grid5000 YAML configuration (mode 0600); return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = self.client_config(user)
        lines = [f"{key}: {json.dumps(value)}" for key, value in config.items()]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return path

    # ------------------------------------------------------ test helpers
    def set_node_state(self, nodes: Iterable[str], hard: str = "dead") -> list[str]:
        """Same as ``POST /_emulator/nodes``."""
        return self.testbed.set_hard_state(list(nodes), hard)

    def reset(self) -> None:
        """Same as ``POST /_emulator/reset``: forget all state, faults and the log."""
        self.testbed.reset()
        self.app.clear_faults()
        self.app.log.clear()


def _parse_users(users: Mapping[str, str] | Iterable[str] | None) -> dict[str, str] | None:
    if users is None:
        return None
    if isinstance(users, Mapping):
        return dict(users)
    parsed = {}
    for item in users:
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise ValueError(f"bad user {item!r}: expected NAME:PASSWORD")
        parsed[name] = password
    return parsed or None


def run_cli(
    port: int = 0,
    speed: float = 1.0,
    latency_ms: float = 0.0,
    users: Mapping[str, str] | Iterable[str] | None = None,
    config_path: str | Path | None = None,
    *,
    launch_seconds: float = 5.0,
    deploy_seconds: float = 120.0,
    box: bool = False,
    box_id: str | None = None,
    authorized_keys: Iterable[str] = (),
    out: TextIO | None = None,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve the emulator until Ctrl-C (or SIGTERM, or ``stop_event``).

    ``users`` is a mapping or ``NAME:PASSWORD`` strings (default ``alice:alice``;
    the admin account ``admin:admin`` always exists). Prints the address, writes
    a python-grid5000 configuration to ``config_path`` (default
    ``.bedform/g5k-emulator.yaml``) and tells how to point bedform at it.
    Timings (``launch_seconds``, ``deploy_seconds``) are virtual seconds: ``speed``
    scales them all. ``box`` backs the nodes with SSH hosts (see :class:`G5kEmulator`).
    """
    out = out or sys.stdout
    emulator = G5kEmulator(_parse_users(users), speed=speed, latency_ms=latency_ms, port=port,
                           launch_seconds=launch_seconds, deploy_seconds=deploy_seconds,
                           box=box, box_id=box_id, authorized_keys=authorized_keys)
    path = Path(config_path) if config_path else DEFAULT_CONFIG_PATH
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _terminate(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    emulator.start()
    try:
        written = emulator.write_client_config(path).resolve()
        accounts = ", ".join(
            [f"{u} (user)" for u in emulator.users] + [f"{u} (admin)" for u in emulator.admins]
        )
        print(f"Grid'5000 API emulator listening on {emulator.url}", file=out)
        print(f"  accounts: {accounts}", file=out)
        print(f"  speed: x{speed:g}, latency: {latency_ms:g} ms, job launch: "
              f"{launch_seconds:g} s, deployment: {deploy_seconds:g} s (virtual)", file=out)
        if emulator.box is not None:
            print(f"  box {emulator.box.box_id}: access frontend {emulator.box.access} "
                  f"(the configuration's gateway), users' keys in {emulator.box.key_dir}",
                  file=out)
        print(f"  python-grid5000 configuration: {written}", file=out)
        print(f"  point bedform at it:  export BEDFORM_G5K_CONFIG={written}", file=out)
        print(
            f"  control endpoints:    {emulator.base_url}/_emulator/clock (see docs/emulators.md)",
            file=out,
        )
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
