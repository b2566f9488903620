"""Pytest fixtures for tests that need a Grid'5000 API.

Import them into a ``conftest.py``::

    from bedform.emulators.g5k.testing import (  # noqa: F401
        g5k_box_emulator, g5k_box_factory, g5k_client, g5k_emulator, g5k_emulator_factory,
    )

Defaults are deterministic: users ``alice``/``bob`` (passwords
``alice-pw``/``bob-pw``, admin ``admin``/``admin``), frozen clock
(``speed=0``) starting at 2026-04-01 12:00:00 Europe/Paris. Move time with
``emu.advance(seconds)``. Every emulator started is stopped at teardown.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..fixtures import started_boxes, started_emulators
from .server import G5kEmulator

#: 2026-04-01 12:00:00 Europe/Paris.
TEST_EPOCH = 1_775_037_600
TEST_USERS = {"alice": "alice-pw", "bob": "bob-pw"}


@pytest.fixture
def g5k_emulator_factory() -> Iterator[Callable[..., G5kEmulator]]:
    """A function that starts emulators (keyword arguments of :class:`G5kEmulator`)."""
    yield from started_emulators(G5kEmulator, {"users": TEST_USERS, "speed": 0.0,
                                               "epoch": TEST_EPOCH})


@pytest.fixture
def g5k_box_factory(
    g5k_emulator_factory: Callable[..., G5kEmulator],
) -> Iterator[Callable[..., G5kEmulator]]:
    """A function that starts emulators whose nodes are real SSH hosts (``box=True``;
    needs root); defaults: real-time clock, instant job launch, 1 s deployments. Teardown
    removes every host, bridge and process of each box by its id, even when the test
    failed, and fails if anything was left."""
    from .box import purge

    yield from started_boxes(G5kEmulator, purge, {
        "users": TEST_USERS, "speed": 1.0, "epoch": None, "launch_seconds": 0.0,
        "deploy_seconds": 1.0})


@contextlib.contextmanager
def ssh_agent(keys: Iterable[Path], directory: Path) -> Iterator[str]:
    """An ssh-agent (stopped on exit) holding the private `keys`, its socket in
    `directory`; yields the value for ``SSH_AUTH_SOCK``, as a user's shell would have."""
    socket_path = directory / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists():
            if time.monotonic() > deadline or agent.poll() is not None:
                raise RuntimeError(f"ssh-agent did not open {socket_path} within 10 s")
            time.sleep(0.01)
        for key in keys:
            subprocess.run(["ssh-add", "-q", str(key)], check=True, timeout=10,
                           env={**os.environ, "SSH_AUTH_SOCK": str(socket_path)})
        yield str(socket_path)
    finally:
        agent.terminate()
        agent.wait(timeout=5)


@pytest.fixture
def g5k_box_emulator(g5k_box_factory: Callable[..., G5kEmulator]) -> G5kEmulator:
    """A started box emulator with the defaults of ``g5k_box_factory``."""
    return g5k_box_factory()


@pytest.fixture
def g5k_emulator(g5k_emulator_factory: Callable[..., G5kEmulator]) -> G5kEmulator:
    """A started emulator with the deterministic defaults."""
    return g5k_emulator_factory()


@pytest.fixture
def g5k_client(g5k_emulator: G5kEmulator) -> Iterator[Any]:
    """A python-grid5000 client logged in as ``alice`` on ``g5k_emulator``."""
    from grid5000 import Grid5000

    client = Grid5000(**g5k_emulator.client_config("alice"))
    try:
        yield client
    finally:
        client.session.close()
