"""OpenStack plugs into the conformance suite through its emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedform.emulators.openstack.testing import openstack_emulator_factory  # noqa: F401
from tests.conformance.openstack.harness import OpenstackHarness


@pytest.fixture
def conformance_harness(openstack_emulator_factory, tmp_path: Path  # noqa: F811
                        ) -> OpenstackHarness:
    """An emulator per test whose servers are ACTIVE at once."""
    return OpenstackHarness(openstack_emulator_factory(build_seconds=0.0), tmp_path)
