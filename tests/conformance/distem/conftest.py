"""Distem plugs into the conformance suite through the Grid'5000 box (needs root)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedform.emulators.g5k.testing import (  # noqa: F401
    g5k_box_factory,
    g5k_emulator_factory,
    ssh_agent,
)
from tests.conformance.distem.harness import DistemHarness

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")


@pytest.fixture
def conformance_harness(g5k_box_factory, tmp_path: Path,  # noqa: F811
                        monkeypatch: pytest.MonkeyPatch) -> Iterator[DistemHarness]:
    """A box per test: real-time clock, jobs start at once, 1 s deployments, and an
    ssh-agent holding alice's key (the CLI's SSH steps and the harness use it)."""
    emulator = g5k_box_factory(speed=1.0, epoch=None, launch_seconds=0.0,
                               deploy_seconds=1.0)
    assert emulator.box is not None
    with ssh_agent([emulator.box.user_key("alice")], tmp_path) as agent:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)  # the harness's own listings
        yield DistemHarness(emulator, tmp_path, agent)
