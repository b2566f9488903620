"""The layering of the README's design section, checked on real imports in a fresh
interpreter (every module of a layer is imported, so new modules are checked too)."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bedform.planner
import bedform.state
from bedform.providers.registry import installed

PROBE = """
import importlib, json, pkgutil, sys
for name in {modules!r}:
    module = importlib.import_module(name)
    if {walk!r} and hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, name + "."):
            importlib.import_module(info.name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("bedform"))))
"""

ABOVE_THE_PLANNER = ("bedform.stack", "bedform.cli", "bedform.api", "bedform.conformance")


def imported_by(*modules: str, walk: bool = False) -> list[str]:
    """The bedform modules loaded by importing `modules` (with `walk`: and every module
    of those packages) in a fresh interpreter."""
    output = subprocess.run([sys.executable, "-c", PROBE.format(modules=modules, walk=walk)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def modules_of(package: object) -> list[str]:
    """Every module of a bedform package, found on disk."""
    return sorted(info.name for info in pkgutil.iter_modules(
        package.__path__, package.__name__ + "."))  # type: ignore[attr-defined]


DRIVER_MODULES = sorted({entry.module for entries in installed().values()
                         for entry in entries if entry.module.startswith("bedform.")})


@pytest.mark.parametrize("driver", DRIVER_MODULES)
def test_drivers_never_import_the_planner_or_the_state(driver: str) -> None:
    above = [m for m in imported_by(driver)
             if m.startswith(("bedform.planner", "bedform.state", *ABOVE_THE_PLANNER))
             and m not in ("bedform.state", "bedform.state.model")]
    assert above == []


@pytest.mark.parametrize("layer", ["bedform.providers", "bedform.planner", "bedform.state"])
def test_the_facade_sits_above_every_lower_layer(layer: str) -> None:
    modules = imported_by(layer, walk=True)
    assert [m for m in modules if m.startswith(layer)], "the walk imported nothing"
    assert [m for m in modules if m.startswith(("bedform.api", "bedform.cli",
                                                "bedform.conformance"))] == []


@pytest.mark.parametrize("module", modules_of(bedform.state))
def test_no_state_module_imports_the_planner_or_above(module: str) -> None:
    assert not [m for m in imported_by(module)
                if m.startswith(("bedform.planner", *ABOVE_THE_PLANNER))]


@pytest.mark.parametrize("module", modules_of(bedform.planner))
def test_the_planner_imports_neither_the_stack_nor_the_cli_nor_the_facade(module: str) -> None:
    assert not [m for m in imported_by(module) if m.startswith(ABOVE_THE_PLANNER)]


def test_the_planner_uses_no_name_of_the_root_package() -> None:
    """`bedform/__init__.py` re-exports the public API (the facade among it): the planner
    imports the modules it needs, never `bedform` itself."""
    offending = []
    for path in sorted(Path(bedform.planner.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.ImportFrom) and node.module == "bedform") or (
                    isinstance(node, ast.Import)
                    and any(alias.name == "bedform" for alias in node.names)):
                offending.append(f"{path.name}:{node.lineno}")
    assert offending == []


def test_tasks_stay_in_the_shared_bottom_layer() -> None:
    assert not [m for m in imported_by("bedform.tasks")
                if m.startswith(("bedform.planner", "bedform.state", "bedform.providers",
                                 "bedform.emulators", *ABOVE_THE_PLANNER))]


def test_emulators_import_only_the_machines_layer() -> None:
    modules = imported_by("bedform.emulators", walk=True)
    assert "bedform.emulators.g5k.server" in modules
    assert [m for m in modules
            if not m.startswith(("bedform.emulators", "bedform.machines"))] == ["bedform"]


def test_machines_import_nothing_else_of_bedform() -> None:
    modules = imported_by("bedform.machines", walk=True)
    assert [m for m in modules if not m.startswith("bedform.machines")] == ["bedform"]
