"""The layering of DESIGN.md, checked on real imports in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, json, sys
importlib.import_module({module!r})
print(json.dumps(sorted(m for m in sys.modules if m.startswith("bedform"))))
"""


def imported_by(module: str) -> list[str]:
    output = subprocess.run([sys.executable, "-c", PROBE.format(module=module)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)


@pytest.mark.parametrize("driver", ["bedform.providers.local.driver",
                                    "bedform.providers.g5k.driver"])
def test_drivers_never_import_the_planner_or_the_state(driver: str) -> None:
    above = [m for m in imported_by(driver)
             if m.startswith(("bedform.planner", "bedform.state", "bedform.stack",
                              "bedform.cli", "bedform.providers.facade"))
             and m not in ("bedform.state", "bedform.state.model")]
    assert above == []


def test_emulators_import_only_the_machines_layer() -> None:
    modules = imported_by("bedform.emulators.g5k")
    assert [m for m in modules
            if not m.startswith(("bedform.emulators", "bedform.machines"))] == ["bedform"]


def test_machines_import_nothing_else_of_bedform() -> None:
    modules = imported_by("bedform.machines")
    assert [m for m in modules if not m.startswith("bedform.machines")] == ["bedform"]


def test_state_does_not_import_the_planner() -> None:
    assert not [m for m in imported_by("bedform.state.store")
                if m.startswith(("bedform.planner", "bedform.cli"))]
