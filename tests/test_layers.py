"""The layering of DESIGN.md, checked on real imports in a fresh interpreter."""

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
from bedform.providers import DRIVERS

PROBE = """
import importlib, json, sys
importlib.import_module({module!r})
print(json.dumps(sorted(m for m in sys.modules if m.startswith("bedform"))))
"""


def imported_by(module: str) -> list[str]:
    output = subprocess.run([sys.executable, "-c", PROBE.format(module=module)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def modules_of(package: object) -> list[str]:
    """Every module of a bedform package, found on disk (new modules are checked too)."""
    return sorted(info.name for info in pkgutil.iter_modules(
        package.__path__, package.__name__ + "."))  # type: ignore[attr-defined]


# the EnOSlib-style facade: bedform.api, or bedform.providers.facade/multi before the move
FACADE = ("bedform.api", "bedform.providers.facade", "bedform.providers.multi")


@pytest.mark.parametrize("driver", sorted(target.partition(":")[0]
                                          for target in DRIVERS.values()))
def test_drivers_never_import_the_planner_or_the_state(driver: str) -> None:
    above = [m for m in imported_by(driver)
             if m.startswith(("bedform.planner", "bedform.state", "bedform.stack",
                              "bedform.cli", *FACADE))
             and m not in ("bedform.state", "bedform.state.model")]
    assert above == []


def test_emulators_import_nothing_else_of_bedform() -> None:
    modules = imported_by("bedform.emulators.g5k")
    assert [m for m in modules if not m.startswith("bedform.emulators")] == ["bedform"]


def test_state_does_not_import_the_planner() -> None:
    assert not [m for m in imported_by("bedform.state.store")
                if m.startswith(("bedform.planner", "bedform.cli"))]


def test_tasks_stay_in_the_shared_bottom_layer() -> None:
    assert not [m for m in imported_by("bedform.tasks")
                if m.startswith(("bedform.planner", "bedform.state", "bedform.stack",
                                 "bedform.cli", "bedform.providers", "bedform.emulators"))]


@pytest.mark.parametrize("module", modules_of(bedform.state))
def test_no_state_module_imports_the_planner_or_above(module: str) -> None:
    assert not [m for m in imported_by(module)
                if m.startswith(("bedform.planner", "bedform.stack", "bedform.cli", *FACADE))]


@pytest.mark.parametrize("module", modules_of(bedform.planner))
def test_the_planner_imports_neither_the_stack_nor_the_cli_nor_the_facade(module: str) -> None:
    assert not [m for m in imported_by(module)
                if m.startswith(("bedform.stack", "bedform.cli", *FACADE))]


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
