"""The conformance kit itself: its place in the layers and its emulator controls."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from bedform.conformance import EmulatorControl
from bedform.emulators.g5k.testing import g5k_emulator, g5k_emulator_factory  # noqa: F401

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
