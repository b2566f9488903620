"""The fake cloud plugs into the conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.fake.harness import FakeHarness


@pytest.fixture
def conformance_harness(tmp_path: Path) -> FakeHarness:
    """A fresh cloud file per test."""
    return FakeHarness(tmp_path / "cloud.json")
