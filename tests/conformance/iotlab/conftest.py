"""FIT IoT-LAB plugs into the conformance suite through its API emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedform.emulators.iotlab.testing import iotlab_emulator_factory  # noqa: F401
from tests.conformance.iotlab.harness import IotlabHarness


@pytest.fixture
def conformance_harness(iotlab_emulator_factory, tmp_path: Path  # noqa: F811
                        ) -> IotlabHarness:
    """An emulator per test: real-time clock, experiments running at once."""
    emulator = iotlab_emulator_factory(speed=1.0, epoch=None, launch_seconds=0.0)
    return IotlabHarness(emulator, tmp_path)
