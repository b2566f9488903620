"""Run the OpenStack emulator: in-process for tests, or from the command line."""

from __future__ import annotations

import functools
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml

from ..common import VirtualClock
from ..handle import EmulatorHandle
from .app import OpenstackApp
from .box import OpenstackBox, box_control, external_cidr
from .cloud import Cloud
from .leases import Host
from .seed import EXTERNAL_CIDR

DEFAULT_USERS: dict[str, str] = {"alice": "alice"}
DEFAULT_PROJECTS: tuple[str, ...] = ("demo",)
DEFAULT_CLOUD_NAME = "bedform-emulator"
DEFAULT_CONFIG_PATH = Path(".bedform") / "openstack-emulator" / "clouds.yaml"


def _write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


class OpenstackEmulator(EmulatorHandle):
    """Keystone, Nova, Neutron and Glance emulated on a free loopback port.

    >>> with OpenstackEmulator(speed=0) as emu:
    ...     emu.write_clouds_yaml("clouds.yaml")   # openstack.connect(cloud="bedform-emulator")
    ...     emu.advance(10)                        # servers leave BUILD

    ``users`` maps logins to passwords; each is a member of every project in
    ``projects`` (the first is its default). ``speed`` is virtual seconds per
    real second (0 freezes the clock), ``epoch`` the initial virtual time
    (default: now; keystoneauth compares token expiry with the real clock, so
    keep it near now), ``latency_ms`` a delay added to every request. Servers
    spend ``build_seconds`` (virtual) in BUILD. Blazar (``app.blazar``) reserves
    ``hosts`` (default: a small Chameleon site) and runs its lease events every
    ``event_period`` virtual seconds; ``chameleon`` adds the site's shared network
    ``sharednet1`` and its CC images.

    ``box=True`` backs the ACTIVE servers with real SSH hosts (see ``box/``, needs root):
    a floating IP makes a server reachable from this machine, which holds the external
    subnet's gateway address; ``box_id`` names the box (a later start with the same id
    purges what a killed one left).
    """

    app: OpenstackApp
    box: OpenstackBox | None

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        projects: Sequence[str] = DEFAULT_PROJECTS,
        region: str = "RegionOne",
        speed: float = 1.0,
        latency_ms: float = 0.0,
        epoch: float | None = None,
        build_seconds: float = 5.0,
        port: int = 0,
        chameleon: bool = False,
        event_period: float = 0.0,
        hosts: Sequence[Host] | None = None,
        box: bool = False,
        box_id: str | None = None,
    ) -> None:
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.clock = VirtualClock(epoch=epoch, speed=speed)
        box_id = box_id or secrets.token_hex(4)
        self.cloud = Cloud(self.clock, self.users, projects, region=region,
                           build_seconds=build_seconds,
                           external_cidr=external_cidr(box_id) if box else EXTERNAL_CIDR)
        self.app = OpenstackApp(self.cloud, self.clock, latency_ms, hosts=hosts,
                                event_period=event_period, chameleon=chameleon)
        self.box: OpenstackBox | None = None
        if box:
            self.box = OpenstackBox(self.cloud, self.app.nova.servers.sync, box_id=box_id)
            self.app.controls["box"] = functools.partial(box_control, self.box)
        self._listen(port)

    # ----------------------------------------------------------- addresses
    @property
    def auth_url(self) -> str:
        """Keystone's versioned URL, ``http://127.0.0.1:PORT/v3``."""
        return f"{self._server.base_url}/v3"

    # ------------------------------------------------------- client config
    def _account(self, user: str | None) -> tuple[str, str]:
        user = user or next(iter(self.users))
        if user not in self.users:
            raise KeyError(f"unknown emulator user {user!r}")
        return user, self.users[user]

    def auth(self, user: str | None = None, project: str | None = None) -> dict[str, str]:
        """keystoneauth ``password`` arguments for ``user`` on ``project`` (defaults: first)."""
        login, password = self._account(user)
        account = self.cloud.user_named(login)
        if account is None:
            raise KeyError(f"unknown emulator user {login!r}")
        project_name = project or self.cloud.projects[account.project_ids[0]].name
        return {"auth_url": self.auth_url, "username": login, "password": password,
                "project_name": project_name, "project_id": self.cloud.project(project_name).id,
                "user_domain_name": "Default", "project_domain_name": "Default"}

    def app_credential(self, user: str | None = None) -> dict[str, str]:
        """keystoneauth ``v3applicationcredential`` arguments of ``user``'s credential."""
        login, _ = self._account(user)
        credential = self.cloud.app_credential_of(login)
        return {"auth_url": self.auth_url, "application_credential_id": credential.id,
                "application_credential_secret": credential.secret}

    def clouds_yaml(self, cloud_name: str = DEFAULT_CLOUD_NAME, user: str | None = None,
                    project: str | None = None) -> dict[str, Any]:
        """A ``clouds.yaml`` document with one cloud (password auth)."""
        auth = self.auth(user, project)
        auth.pop("project_id")
        return {"clouds": {cloud_name: {"auth": auth, "auth_type": "password",
                                        "region_name": self.cloud.region,
                                        "interface": "public", "identity_api_version": 3}}}

    def write_clouds_yaml(self, path: str | Path, cloud_name: str = DEFAULT_CLOUD_NAME,
                          user: str | None = None, project: str | None = None) -> Path:
        """Write ``clouds.yaml`` (mode 0600); use it with ``OS_CLIENT_CONFIG_FILE``."""
        text = yaml.safe_dump(self.clouds_yaml(cloud_name, user, project), sort_keys=False)
        return _write_private(Path(path), text)

    def openrc(self, user: str | None = None, project: str | None = None) -> str:
        """An openrc script (``export OS_…``), readable by EnOSlib's rc parser too."""
        auth = self.auth(user, project)
        values = {
            "OS_AUTH_URL": auth["auth_url"], "OS_AUTH_TYPE": "password",
            "OS_IDENTITY_API_VERSION": "3", "OS_USERNAME": auth["username"],
            "OS_PASSWORD": auth["password"], "OS_PROJECT_ID": auth["project_id"],
            "OS_PROJECT_NAME": auth["project_name"], "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": self.cloud.region,
            "OS_INTERFACE": "public",
        }
        return "".join(f'export {key}="{value}"\n' for key, value in values.items())

    def write_openrc(self, path: str | Path, user: str | None = None,
                     project: str | None = None) -> Path:
        """Write the openrc script (mode 0600)."""
        return _write_private(Path(path), self.openrc(user, project))

    # ------------------------------------------------------ test helpers
    def set_quotas(self, project: str | None = None, **limits: int) -> dict[str, Any]:
        """Same as ``POST /_emulator/quotas``: change limits (of every project by default)."""
        body: dict[str, Any] = dict(limits)
        if project is not None:
            body["project"] = project
        return self.app.quotas(body, change=True)

    def set_server_status(self, server: str, status: str,
                          message: str | None = None) -> dict[str, Any]:
        """Same as ``POST /_emulator/servers/{server}``."""
        return self.app.set_server_status(server, status, message)

    def reset(self) -> None:
        """Same as ``POST /_emulator/reset``: back to the seed, no faults, empty log."""
        self.app.reset_state()
        self.app.clear_faults()
        self.app.log.clear()


def run_cli(
    port: int = 0,
    speed: float = 1.0,
    latency_ms: float = 0.0,
    config_path: str | Path | None = None,
    *,
    chameleon: bool = False,
    box: bool = False,
    box_id: str | None = None,
    out: TextIO | None = None,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve the emulator until Ctrl-C (or SIGTERM, or ``stop_event``).

    The account is ``alice``/``alice`` in project ``demo``. Writes
    ``clouds.yaml`` to ``config_path`` (default
    ``.bedform/openstack-emulator/clouds.yaml``) and an openrc beside it
    (``openrc`` in the same directory), and prints how to point clients at them.
    ``box`` backs the servers with SSH hosts (see :class:`OpenstackEmulator`).
    """
    out = out or sys.stdout
    emulator = OpenstackEmulator(speed=speed, latency_ms=latency_ms, port=port,
                                 chameleon=chameleon, event_period=60.0 if chameleon else 0.0,
                                 box=box, box_id=box_id)
    path = Path(config_path) if config_path else DEFAULT_CONFIG_PATH
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _terminate(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    emulator.start()
    try:
        rc = emulator.write_openrc(path.parent / "openrc").resolve()
        written = emulator.write_clouds_yaml(path).resolve()
        print(f"OpenStack emulator listening on {emulator.base_url}", file=out)
        print(f"  Keystone: {emulator.auth_url}  region: {emulator.cloud.region}", file=out)
        print(f"  accounts: {', '.join(emulator.users)} (project "
              f"{', '.join(p.name for p in emulator.cloud.projects.values())})", file=out)
        print(f"  speed: x{speed:g}, latency: {latency_ms:g} ms", file=out)
        if chameleon:
            print(f"  Blazar hosts: {emulator.app.blazar.describe()}; network sharednet1",
                  file=out)
        print(f"  openrc: {rc}", file=out)
        print(f"  clouds.yaml: {written}", file=out)
        print(f"  point the clients at it:  export OS_CLIENT_CONFIG_FILE={written} "
              f"OS_CLOUD={DEFAULT_CLOUD_NAME}", file=out)
        if emulator.box is not None:
            print(f"  box {emulator.box.box_id}: servers with a floating IP answer SSH "
                  f"from here (this machine is {emulator.box.gateway} on the external "
                  f"network {emulator.cloud.external_cidr})", file=out)
        print(f"  control endpoints: {emulator.base_url}/_emulator/clock "
              "(see docs/emulators.md)", file=out)
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
