"""docs/enoslib-compat.md lists every EnOSlib top-level name and is kept true by
scripts/enoslib_names.py (issue 17, "How to prove it")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_compatibility_table_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, "scripts/enoslib_names.py", "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_tutorial_helpers_are_listed_as_present() -> None:
    text = (ROOT / "docs" / "enoslib-compat.md").read_text()
    expected = {"init_logging": "core", "run_command": "core", "check": "core",
                "sync_info": "core", "Roles": "core", "G5k": "provider g5k"}
    for name, where in expected.items():
        assert f"| `{name}` | {where} | yes |" in text
    assert "| `Vagrant` | provider vagrant | yes |" in text
