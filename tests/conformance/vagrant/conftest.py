"""The vagrant provider plugs into the conformance suite: real vagrant-libvirt VMs
(root, the host set-up and the offline box; `pytest -m vagrant`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.vagrant.harness import VagrantHarness
from tests.vagrant.realhost import require_real_host


@pytest.fixture
def conformance_harness(request: pytest.FixtureRequest, tmp_path: Path) -> VagrantHarness:
    require_real_host(request, "vagrant")
    return VagrantHarness(tmp_path)
