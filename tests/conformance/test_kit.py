"""The conformance kit itself: its place in the layers, its emulator controls, and its
checks failing when a provider duplicates or leaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bedform.conformance import ConformanceStack, EmulatorControl
from bedform.conformance.suite import assert_converged, create_then_interrupt
from bedform.emulators.g5k.testing import g5k_emulator, g5k_emulator_factory  # noqa: F401
from tests.conformance.fake.harness import FakeHarness

PROBE = """
import importlib, json, sys
for module in {modules!r}:
    importlib.import_module(module)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("bedform"))))
"""


def test_nothing_below_the_cli_imports_the_kit() -> None:
    below = ["bedform", "bedform.stack", "bedform.planner.engine", "bedform.state.store",
             "bedform.providers.local.driver", "bedform.providers.g5k.driver"]
    output = subprocess.run([sys.executable, "-c", PROBE.format(modules=below)],
                            check=True, capture_output=True, text=True).stdout
    assert not [m for m in json.loads(output) if m.startswith("bedform.conformance")]


def test_emulator_control_counts_mutations_and_moves_the_clock(g5k_emulator) -> None:  # noqa: F811
    control = EmulatorControl(g5k_emulator.base_url)
    assert control.mutations() == 0
    auth = ("alice", "alice-pw")
    requests.get(f"{g5k_emulator.url}/sites/rennes/jobs", auth=auth,
                 timeout=10).raise_for_status()
    requests.post(f"{g5k_emulator.url}/sites/rennes/jobs", auth=auth, timeout=10,
                  json={"resources": "nodes=1", "command": "sleep 10"}).raise_for_status()
    assert control.mutations() == 1
    assert [r["method"] for r in control.requests()] == ["GET", "POST"]
    before = g5k_emulator.now()
    control.advance(600)
    assert g5k_emulator.now() - before >= 600


# The suite's checks bite: a duplicate, a leak, a stale write-ahead record -------------
@pytest.fixture
def fake_stack(tmp_path: Path) -> Iterator[ConformanceStack]:
    harness = FakeHarness(tmp_path / "cloud.json")
    stack = ConformanceStack(harness, tmp_path / "stack", "cf-kit").write("small")
    stack.apply()
    yield stack
    stack.destroy()
    harness.cleanup(stack)


def _plant(stack: ConformanceStack, name: str) -> None:
    assert isinstance(stack.harness, FakeHarness)
    with stack.harness.cloud.open() as data:
        data["objects"]["9999"] = {"id": 9999, "kind": "fake_server", "name": name,
                                   "inputs": {}, "cloud": str(stack.harness.cloud.path)}


def test_a_duplicate_fails_convergence(fake_stack: ConformanceStack) -> None:
    assert_converged(fake_stack)
    name = fake_stack.state()["resources"]["fake.server[db-1]"]["identity"]["name"]
    _plant(fake_stack, name)
    with pytest.raises(AssertionError, match="duplicated remote objects"):
        assert_converged(fake_stack)


def test_a_leak_fails_convergence(fake_stack: ConformanceStack) -> None:
    name = fake_stack.state()["resources"]["fake.server[db-1]"]["identity"]["name"]
    _plant(fake_stack, name.replace("db-1", "db-9"))
    with pytest.raises(AssertionError, match=r"not in the state: \['.*db-9\]'\]"):
        assert_converged(fake_stack)


def test_an_interrupted_create_leaves_no_dependent(tmp_path: Path) -> None:
    harness = FakeHarness(tmp_path / "cloud.json")
    stack = ConformanceStack(harness, tmp_path / "stack", "cf-kit").write("small")
    made = create_then_interrupt(stack, "fake.server[web-1]")
    resources = stack.state()["resources"]
    assert sorted(resources) == ["fake.job[batch]", "fake.network[lan]",
                                 "fake.server[web-1]"]
    assert resources["fake.server[web-1]"]["status"] == "pending_create"
    assert sorted(stack.owned()) == sorted(stack.recorded())
    stack.apply()
    assert stack.incarnations()["fake.server[web-1]"] == made
    assert len(stack.owned()) == 5  # job, network, web-1, web-2, db-1
    assert_converged(stack)
    stack.destroy()
    assert not harness.cleanup(stack)


def test_lock_holders_names_the_process_holding_the_lock(fake_stack: ConformanceStack
                                                         ) -> None:
    assert fake_stack.lock_holders() == {}
    with open(fake_stack.root / ".bedform" / "state.lock", "rb"):
        holders = fake_stack.lock_holders()
    assert list(holders) == [os.getpid()] and "pytest" in holders[os.getpid()]
