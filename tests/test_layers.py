"""The layering of DESIGN.md, checked on real imports in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, json, pkgutil, sys
for name in {modules!r}:
    module = importlib.import_module(name)
    if {walk!r} and hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, name + "."):
            importlib.import_module(info.name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("bedform"))))
"""


def imported_by(*modules: str, walk: bool = False) -> list[str]:
    """The bedform modules loaded by importing `modules` (with `walk`: and every module
    of those packages) in a fresh interpreter."""
    output = subprocess.run([sys.executable, "-c", PROBE.format(modules=modules, walk=walk)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)


@pytest.mark.parametrize("driver", ["bedform.providers.local.driver",
                                    "bedform.providers.g5k.driver"])
def test_drivers_never_import_the_planner_or_the_state(driver: str) -> None:
    above = [m for m in imported_by(driver)
             if m.startswith(("bedform.planner", "bedform.state", "bedform.stack",
                              "bedform.cli", "bedform.api"))
             and m not in ("bedform.state", "bedform.state.model")]
    assert above == []


@pytest.mark.parametrize("layer", ["bedform.providers", "bedform.planner", "bedform.state"])
def test_the_facade_sits_above_every_lower_layer(layer: str) -> None:
    modules = imported_by(layer, walk=True)
    assert [m for m in modules if m.startswith(layer)], "the walk imported nothing"
    assert [m for m in modules if m.startswith(("bedform.api", "bedform.cli"))] == []


def test_emulators_import_nothing_else_of_bedform() -> None:
    modules = imported_by("bedform.emulators", walk=True)
    assert "bedform.emulators.g5k.server" in modules
    assert [m for m in modules if not m.startswith("bedform.emulators")] == ["bedform"]


def test_state_does_not_import_the_planner() -> None:
    assert not [m for m in imported_by("bedform.state", walk=True)
                if m.startswith(("bedform.planner", "bedform.cli"))]
