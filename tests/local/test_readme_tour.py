"""The README's tour and the quick start agree (issue 17, item 10): the tour's first
`Plan:` line is what `bedform plan` prints for examples/quickstart.yaml."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bedform.cli import main
from tests.local.conftest import REPO, root_only

pytestmark = [pytest.mark.root, root_only]


def test_the_tour_counts_are_the_quick_starts(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    tour = readme[readme.index("## A tour"):]
    promised = re.search(r"Plan: \d+ to add, \d+ to change, \d+ to destroy\.", tour)
    assert promised is not None
    stack = tmp_path / "bedform.yaml"
    shutil.copy(REPO / "examples" / "quickstart.yaml", stack)
    result = CliRunner().invoke(main, ["-c", str(stack), "plan"])
    assert result.exit_code == 0, result.output
    assert promised.group(0) in result.output, result.output[-300:]
    assert "five hosts" in readme and result.output.count('+ local_host "') == 5
