"""Fixtures of the local-provider tests: fresh stacks, and a leak check that runs even
when the test fails: nothing carrying a test stack's id may survive the test."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bedform import machines
from bedform.cli import main
from bedform.objects import Host, Roles
from bedform.planner.engine import Engine
from bedform.providers.base import DriverContext
from bedform.providers.local import cleanup
from bedform.stack import load_stack
from bedform.state.store import State, StateStore


def _can_run() -> str:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for program in ("ip", "sshd", "ssh", "ssh-keygen", "unshare", "nsenter"):
        if not machines.which(program):
            return f"needs {program} (apt-get install iproute2 openssh-server)"
    return ""


REASON = _can_run()
root_only = pytest.mark.skipif(bool(REASON), reason=REASON or "ok")


@pytest.fixture
def new_stack(tmp_path):
    """`new_stack(name)` -> DriverContext with a fresh stack id; leak-checked at teardown."""
    made: list[str] = []

    def make(name: str = "test", **options) -> DriverContext:
        stack_id = secrets.token_hex(4)
        made.append(stack_id)
        state_dir = tmp_path / f"{name}-{stack_id}"
        state_dir.mkdir()
        return DriverContext(stack_name=name, stack_id=stack_id, state_dir=state_dir,
                             options=options)

    yield make
    leaks = {}
    for stack_id in made:
        found = cleanup.purge(stack_id)  # always clean up, then complain
        if any(found.values()):
            leaks[stack_id] = {k: v for k, v in found.items() if v}
    assert not leaks, f"objects survived the test: {leaks}"


REPO = Path(__file__).resolve().parents[2]


class LocalStack:
    """A stack file with one `local` provider section (instance `here`), driven through
    the real CLI. Its state is seeded with a known lineage so that its stack id, which
    names every object it makes, is known before the first apply (for the leak check)."""

    def __init__(self, root: Path, name: str = "exp") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        self.name = name
        self.state_dir = root / ".bedform"
        seed = State()
        StateStore(self.state_dir).save(seed)
        self.stack_id = seed.stack_id

    def write(self, machines: list[dict], networks: list[dict] | None = None,
              **top: Any) -> LocalStack:
        resources: dict[str, Any] = {"machines": machines}
        if networks is not None:
            resources["networks"] = networks
        document = {"name": self.name,
                    "providers": {"here": {"type": "local", **top, "resources": resources}}}
        self.file.write_text(yaml.safe_dump(document))
        return self

    def run(self, *args: str) -> Result:
        """The CLI in-process."""
        return CliRunner().invoke(main, ["-c", str(self.file), *args],
                                  catch_exceptions=False)

    def apply(self, *args: str) -> Result:
        result = self.run("apply", "--auto-approve", *args)
        assert result.exit_code == 0, result.output
        return result

    def destroy(self) -> Result:
        result = self.run("destroy", "--auto-approve")
        assert result.exit_code == 0, result.output
        return result

    def command(self, *args: str) -> list[str]:
        """The CLI as a subprocess command line."""
        return [sys.executable, "-m", "bedform.cli", "-c", str(self.file), *args]

    def spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO)})

    def state(self) -> State:
        return StateStore(self.state_dir).load()

    def engine(self) -> Engine:
        return Engine(load_stack(self.file))

    def roles(self) -> Roles:
        with self.engine().session("inventory", lock=False) as session:
            roles, _ = session.inventory()
        return roles

    def hosts(self) -> dict[str, Host]:
        return {h.alias: h for h in self.roles().all()}

    def attribute(self, address: str, name: str) -> Any:
        return self.state().resources[address].attributes[name]

    def leftovers(self) -> dict[str, list]:
        return cleanup.leftovers(self.stack_id)

    def assert_matches_state(self, context: str = "") -> None:
        """Namespaces, links and processes of the stack id are exactly those of its state
        (an SSH session's sshd child, just closed, is given up to 3 s to exit)."""
        resources = self.state().resources.values()
        sshds = sorted(r.attributes["pid"] for r in resources if r.kind == "local_sshd")
        found = self.leftovers()
        deadline = time.monotonic() + 3
        while sorted(found["processes"]) != sshds and time.monotonic() < deadline:
            time.sleep(0.05)
            found = self.leftovers()
        namespaces = sorted(r.inputs["netns"] for r in resources if r.kind == "local_host")
        links = sorted(r.inputs["ifname"] for r in resources
                       if r.kind in ("local_bridge", "local_veth"))
        assert found["namespaces"] == namespaces, f"{context}: {found}"
        assert len(found["uts"]) == len(namespaces), f"{context}: {found}"
        assert found["links"] == links, f"{context}: {found}"
        assert sorted(found["processes"]) == sshds, f"{context}: {found}"


@pytest.fixture
def local_stack(tmp_path):
    """`local_stack(name)` -> LocalStack; everything of it is purged and leak-checked at
    teardown, even when the test fails."""
    made: list[LocalStack] = []

    def make(name: str = "exp") -> LocalStack:
        stack = LocalStack(tmp_path / f"{name}-{len(made)}", name)
        made.append(stack)
        return stack

    yield make
    leaks = {}
    for stack in made:
        found = cleanup.purge(stack.stack_id)
        if any(found.values()):
            leaks[stack.stack_id] = {k: v for k, v in found.items() if v}
    assert not leaks, f"objects survived the test: {leaks}"
