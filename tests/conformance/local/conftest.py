"""The local provider plugs into the conformance suite (root: network namespaces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.local.harness import LocalHarness
from tests.local.conftest import REASON


@pytest.fixture
def conformance_harness(tmp_path: Path) -> LocalHarness:
    if REASON:
        pytest.skip(REASON)
    return LocalHarness(tmp_path)
