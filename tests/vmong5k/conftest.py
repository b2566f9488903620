"""Fixtures: the Grid'5000 box of the G5k box tests (nodes that are SSH hosts with a
`virsh`, alice's key in an ssh-agent) and a VMonG5k stack driven through the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import g5k_box_factory, g5k_emulator_factory  # noqa: F401
from tests.g5k.conftest import G5kStack
from tests.g5k.test_g5k_box import box  # noqa: F401 - the fixture


class VmStack(G5kStack):
    """A stack file with one `vms` provider of type vmong5k, run through the CLI."""

    def __init__(self, root: Path, emu: G5kEmulator) -> None:
        super().__init__(root, emu)
        assert emu.box is not None
        self.key = emu.box.user_key("alice").with_suffix(".pub")
        # the base image, a path every node sees (the box's nodes share this file system)
        self.image = root / "base.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(self.image), "1G"],
                       check=True, timeout=30)
        self.working_dir = root / "wd"

    def write(self, machines: list[dict[str, Any]],  # type: ignore[override]
              **section: Any) -> VmStack:
        body = {"type": "vmong5k", "key": str(self.key), "image": str(self.image),
                "working_dir": str(self.working_dir), "walltime": "01:00:00",
                "resources": {"machines": machines}, **section}
        self.file.write_text(yaml.safe_dump({"name": "exp", "providers": {"vms": body}}))
        return self


@pytest.fixture
def stack(tmp_path: Path, box: G5kEmulator) -> VmStack:  # noqa: F811
    return VmStack(tmp_path / "stack", box)
