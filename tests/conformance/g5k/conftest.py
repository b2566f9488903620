"""Grid'5000 plugs into the conformance suite through its API emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedform.emulators.g5k.testing import g5k_emulator_factory  # noqa: F401
from tests.conformance.g5k.harness import G5kHarness


@pytest.fixture
def conformance_harness(g5k_emulator_factory, tmp_path: Path  # noqa: F811
                        ) -> G5kHarness:
    """An emulator per test: real-time clock, jobs start at once, 1 s deployments."""
    emulator = g5k_emulator_factory(speed=1.0, epoch=None, launch_seconds=0.0,
                                    deploy_seconds=1.0)
    return G5kHarness(emulator, tmp_path)
