"""Fixtures: a G5k API emulator over real HTTP and a stack file driven through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bedform.cli import main
from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import g5k_emulator_factory  # noqa: F401
from bedform.state.store import StateStore


@pytest.fixture
def emu(g5k_emulator_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
        ) -> G5kEmulator:
    """A running emulator (real-time clock, instant launch, 1 s deployments)."""
    emulator = g5k_emulator_factory(speed=1.0, epoch=None, launch_seconds=0.0,
                                    deploy_seconds=1.0)
    path = tmp_path / "g5k.yaml"
    emulator.write_client_config(path, "alice")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(path))
    return emulator


class G5kStack:
    def __init__(self, root: Path, emu: G5kEmulator) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        self.emu = emu
        self.key = root / "id.pub"
        self.key.write_text("ssh-ed25519 AAAA test@bedform\n")

    def write(self, **section: Any) -> G5kStack:
        section.setdefault("key", str(self.key))
        doc = {"name": "exp", "providers": {"g5k": {"type": "g5k", **section}}}
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

    def mutations(self) -> list[tuple[str, str]]:
        return [(r["method"], r["path"]) for r in self.emu.requests()
                if r["method"] in ("POST", "DELETE", "PUT")]


@pytest.fixture
def stack(tmp_path: Path, emu: G5kEmulator) -> G5kStack:
    return G5kStack(tmp_path / "stack", emu)


def section(**overrides: Any) -> dict[str, Any]:
    """A deploy job with a kavlan primary network and a kavlan-local secondary one."""
    base: dict[str, Any] = {
        "walltime": "01:00:00", "job_type": "deploy", "env_name": "debian12-min",
        "resources": {
            "machines": [{"roles": ["server"], "cluster": "parasilo", "site": "rennes",
                          "nodes": 2, "primary_network": "n1",
                          "secondary_networks": ["n2"]},
                         {"roles": ["client"], "cluster": "paradoxe", "site": "rennes",
                          "nodes": 1, "min": 1, "primary_network": "n1"}],
            "networks": [{"id": "n1", "type": "kavlan", "roles": ["lan"], "site": "rennes"},
                         {"id": "n2", "type": "kavlan-local", "roles": ["priv"],
                          "site": "rennes"},
                         {"id": "s1", "type": "slash_22", "roles": ["vms"],
                          "site": "rennes"}]}}
    base.update(overrides)
    return base
