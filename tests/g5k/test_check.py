"""`bedform.check()`, EnOSlib's dependency and connectivity check (issue 17, item 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bedform as en
from bedform.providers.g5k import api_utils


def test_check_reports_the_g5k_api(emu, capsys) -> None:
    api_utils.clear_cache()
    rows = en.check(["g5k"])
    assert rows["dependencies"] == [("g5k", "import", True, "")]
    assert ("g5k", "preflight", True, "") in rows["connectivity"]
    api = [row for row in rows["connectivity"] if row[1] == "API"]
    assert api == [("g5k", "API", True, "12 site(s)")]
    printed = capsys.readouterr().out
    assert "Dependency check" in printed and "Connectivity check" in printed


def test_check_names_missing_credentials(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(tmp_path / "absent.yaml"))
    api_utils.clear_cache()
    rows = en.check(["g5k"])
    [(provider, key, ok, hint)] = rows["connectivity"]
    assert (provider, key, ok) == ("g5k", "preflight", False)
    assert "absent.yaml" in hint and "not found" in hint
