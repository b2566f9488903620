"""Fixtures for engine tests: a stack on the fake cloud, driven through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bedform.cli import main
from bedform.planner.engine import Engine
from bedform.stack import load_stack
from bedform.state.store import StateStore
from tests.fakecloud import Cloud, register

REPO = Path(__file__).resolve().parents[2]


class FakeStack:
    """A stack file using the fake provider, its cloud and its state directory."""

    def __init__(self, root: Path, name: str = "exp", cloud: Cloud | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        self.cloud = cloud or Cloud(root / "cloud.json")
        self.name = name
        self.state_dir = root / ".bedform"

    def write(self, **section: Any) -> FakeStack:
        """Write the stack file with this fake provider section."""
        document = {"name": self.name, "providers": {
            "fake": {"type": "fake", "cloud": str(self.cloud.path), **section}}}
        self.file.write_text(yaml.safe_dump(document))
        return self

    def run(self, *args: str, input: str | None = None) -> Result:
        """Run the CLI in-process."""
        return CliRunner().invoke(main, ["-c", str(self.file), *args], input=input,
                                  catch_exceptions=False)

    def apply(self, *args: str) -> Result:
        """`apply --auto-approve`, asserting success."""
        result = self.run("apply", "--auto-approve", *args)
        assert result.exit_code == 0, result.output
        return result

    def spawn(self, *args: str, **kwargs: Any) -> subprocess.Popen:
        """Run the CLI in a subprocess (for signals)."""
        kwargs.setdefault("env", {**os.environ, "PYTHONPATH": str(REPO)})
        return subprocess.Popen(
            [sys.executable, "-m", "tests.fakecloud_cli", "-c", str(self.file), *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            **kwargs)

    def state(self):
        """The state as on disk."""
        return StateStore(self.state_dir).load()

    def engine(self) -> Engine:
        """An engine on this stack."""
        return Engine(load_stack(self.file))

    def owned(self) -> list[dict[str, Any]]:
        """Live cloud objects named after this stack."""
        stack_id = self.state().stack_id
        return [o for o in self.cloud.live() if o["name"].startswith(stack_id + ":")]


@pytest.fixture(autouse=True)
def fake_driver() -> None:
    """Register `type: fake` for in-process runs."""
    register()


@pytest.fixture
def stack(tmp_path: Path) -> FakeStack:
    """A fresh stack directory with its own fake cloud."""
    return FakeStack(tmp_path / "stack")


def mutations(stack: FakeStack) -> int:
    """Mutating calls the cloud has received so far."""
    return stack.cloud.snapshot()["mutations"]
