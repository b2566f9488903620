"""Fixtures: the OpenStack emulator over real HTTP and stacks driven through the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bedform.cli import main
from bedform.emulators.openstack import OpenstackEmulator
from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from bedform.emulators.openstack.testing import openstack_emulator_factory  # noqa: F401
from bedform.state.store import StateStore

MUTATING = ("POST", "PUT", "DELETE", "PATCH")


KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFb3dF0kGq4o4m1pV1o8m8wqg3c8mZ0c3y4h7g8lq9tY "
       "test@bedform")


def prepare(emulator: OpenstackEmulator, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> OpenstackEmulator:
    """Point the clients at `emulator` (clouds.yaml through OS_CLIENT_CONFIG_FILE, no
    other OS_* variable, a private HOME) and give alice the keypair `mykey`."""
    import openstack

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    for name in [n for n in os.environ if n.startswith("OS_")]:
        monkeypatch.delenv(name)
    path = emulator.write_clouds_yaml(tmp_path / "clouds.yaml")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    conn = openstack.connect(cloud=DEFAULT_CLOUD_NAME)
    conn.compute.create_keypair(name="mykey", public_key=KEY)
    conn.close()
    emulator.clear_requests()
    return emulator


@pytest.fixture
def emu(openstack_emulator_factory, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> OpenstackEmulator:
    """An emulator whose servers are ACTIVE at once, the clients pointed at it."""
    return prepare(openstack_emulator_factory(build_seconds=0.0), tmp_path, monkeypatch)


def connection(emu: OpenstackEmulator) -> Any:
    """An openstacksdk connection as the stacks' user (alice on demo)."""
    import openstack

    return openstack.connect(cloud=DEFAULT_CLOUD_NAME)


def section(servers: int = 3, **top: Any) -> dict[str, Any]:
    """1 gateway group server + `servers` clients on a new network with a router."""
    return {"cloud": DEFAULT_CLOUD_NAME, "key_name": "mykey", "image": "debian-12",
            "user": "debian", **top,
            "resources": {"machines": [
                {"roles": ["server"], "flavour": "m1.small", "number": 1},
                {"roles": ["client"], "flavour": "m1.tiny", "number": servers}],
                "networks": ["lan"]}}


class OpenstackStack:
    """A stack file with one `os` provider section, driven through the CLI."""

    def __init__(self, root: Path, emu: OpenstackEmulator, name: str = "osexp") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        self.emu = emu
        self.name = name

    def write(self, **section_: Any) -> OpenstackStack:
        doc = {"name": self.name, "providers": {"os": {"type": "openstack", **section_}}}
        self.file.write_text(yaml.safe_dump(doc))
        return self

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["-c", str(self.file), *args])

    def apply(self, *args: str) -> Result:
        result = self.run("apply", "--auto-approve", *args)
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    def state(self):
        return StateStore(self.root / ".bedform").load()

    def mutations(self) -> list[str]:
        return [f"{r['method']} {r['path']}" for r in self.emu.requests()
                if r["method"] in MUTATING and not r["path"].startswith("/v3/auth")]


@pytest.fixture
def stack(tmp_path: Path, emu: OpenstackEmulator) -> OpenstackStack:
    return OpenstackStack(tmp_path / "stack", emu)
