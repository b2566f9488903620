"""Fixtures: the Grid'5000 box (whose nodes have `distemd`), alice's key in an ssh-agent,
and a Distem stack driven through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import g5k_box_factory, g5k_emulator_factory  # noqa: F401
from tests.g5k.conftest import G5kStack
from tests.g5k.test_g5k_box import box  # noqa: F401 - the fixture

IMAGE = "file:///home/alice/public/distem-fs-bookworm.tar.gz"
MUTATING = ("POST", "PUT", "DELETE")


class DistemStack(G5kStack):
    """A stack file with one `distem` provider, run through the CLI."""

    def __init__(self, root: Path, emu: G5kEmulator) -> None:
        super().__init__(root, emu)
        assert emu.box is not None
        self.key = emu.box.user_key("alice").with_suffix(".pub")

    def write(self, machines: list[dict[str, Any]],  # type: ignore[override]
              **section: Any) -> DistemStack:
        body = {"type": "distem", "key": str(self.key), "image": IMAGE,
                "walltime": "01:00:00", "resources": {"machines": machines}, **section}
        self.file.write_text(yaml.safe_dump({"name": "exp", "providers": {"distem": body}}))
        return self

    def vnodes(self) -> dict[str, dict[str, Any]]:
        """Vnode address → its recorded attributes."""
        return {a: r.attributes for a, r in self.state().resources.items()
                if r.kind == "distem_vnode"}

    def coordinator(self) -> str:
        return str(self.state().resources["distem.bootstrap"].attributes["coordinator"])

    def distem_requests(self) -> list[dict[str, Any]]:
        """The coordinator's request log (its distemd writes it in the node's /root)."""
        emu = self.emu
        assert emu.box is not None
        log = (emu.box.dir / "hosts" / emu.box.plan.node_netns(self.coordinator()) / "root"
               / ".bedform-distem" / "requests.log")
        return [json.loads(line) for line in log.read_text().splitlines()] \
            if log.exists() else []

    def distem_mutations(self) -> list[tuple[str, str]]:
        return [(r["method"], r["path"]) for r in self.distem_requests()
                if r["method"] in MUTATING]


@pytest.fixture
def stack(tmp_path: Path, box: G5kEmulator) -> DistemStack:  # noqa: F811
    return DistemStack(tmp_path / "stack", box)
