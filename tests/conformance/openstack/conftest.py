"""OpenStack plugs into the conformance suite through its emulator, and through the real
fixture under the `openstack_real` marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedform.emulators.openstack.testing import openstack_emulator_factory  # noqa: F401
from tests.conformance.openstack.harness import OpenstackHarness, RealOpenstackHarness
from tests.openstack_real.fixture import openstack_real  # noqa: F401


@pytest.fixture(params=["emulator", pytest.param("real", marks=pytest.mark.openstack_real)])
def conformance_harness(request: pytest.FixtureRequest, openstack_emulator_factory,  # noqa: F811
                        tmp_path: Path) -> OpenstackHarness:
    """An emulator per test whose servers are ACTIVE at once, or the real fixture."""
    if request.param == "real":
        return RealOpenstackHarness(request.getfixturevalue("openstack_real"), tmp_path)
    return OpenstackHarness(openstack_emulator_factory(build_seconds=0.0), tmp_path)
