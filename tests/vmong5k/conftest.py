"""Fixtures: the Grid'5000 box (nodes that are SSH hosts with a `virsh`) and a VMonG5k
stack driven through the CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bedform.cli import main
from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import (  # noqa: F401
    g5k_box_factory,
    g5k_emulator_factory,
    ssh_agent,
)
from bedform.state.store import StateStore

#: Virtual seconds per real second (deployments of 20 virtual seconds take 0.5 s).
SPEED = 40.0


@pytest.fixture
def box(g5k_box_factory: Any, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> Iterator[G5kEmulator]:
    """The box on a fast clock, its client configuration and an ssh-agent holding alice's
    box key (the provider and the generated ssh config use the user's agent)."""
    emulator = g5k_box_factory(speed=SPEED, deploy_seconds=20.0)
    path = emulator.write_client_config(tmp_path / "g5k.yaml", "alice")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(path))
    assert emulator.box is not None
    with ssh_agent([emulator.box.user_key("alice")], tmp_path) as agent:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)
        yield emulator


class VmStack:
    """A stack file with one `vms` provider of type vmong5k, run through the CLI."""

    def __init__(self, root: Path, emu: G5kEmulator) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        self.emu = emu
        assert emu.box is not None
        self.key = emu.box.user_key("alice").with_suffix(".pub")
        # the base image, a path every node sees (the box's nodes share this file system)
        self.image = root / "base.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(self.image), "1G"],
                       check=True, timeout=30)
        self.working_dir = root / "wd"

    def write(self, machines: list[dict[str, Any]], **section: Any) -> VmStack:
        body = {"type": "vmong5k", "key": str(self.key), "image": str(self.image),
                "working_dir": str(self.working_dir), "walltime": "01:00:00",
                "resources": {"machines": machines}, **section}
        self.file.write_text(yaml.safe_dump({"name": "exp", "providers": {"vms": body}}))
        return self

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["-c", str(self.file), *args])

    def apply(self, *args: str) -> Result:
        result = self.run("apply", "--auto-approve", *args)
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    def state(self) -> Any:
        return StateStore(self.root / ".bedform").load()


@pytest.fixture
def stack(tmp_path: Path, box: G5kEmulator) -> VmStack:
    return VmStack(tmp_path / "stack", box)
