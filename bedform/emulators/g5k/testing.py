"""Pytest fixtures for tests that need a Grid'5000 API.

Import them into a ``conftest.py``::

    from bedform.emulators.g5k.testing import (  # noqa: F401
        g5k_box_emulator, g5k_client, g5k_emulator, g5k_emulator_factory,
    )

Defaults are deterministic: users ``alice``/``bob`` (passwords
``alice-pw``/``bob-pw``, admin ``admin``/``admin``), frozen clock
(``speed=0``) starting at 2026-04-01 12:00:00 Europe/Paris. Move time with
``emu.advance(seconds)``. Every emulator started is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import G5kEmulator

#: 2026-04-01 12:00:00 Europe/Paris.
TEST_EPOCH = 1_775_037_600
TEST_USERS = {"alice": "alice-pw", "bob": "bob-pw"}


@pytest.fixture
def g5k_emulator_factory() -> Iterator[Callable[..., G5kEmulator]]:
    """A function that starts emulators (keyword arguments of :class:`G5kEmulator`)."""
    started: list[G5kEmulator] = []

    def make(**kwargs: Any) -> G5kEmulator:
        kwargs.setdefault("users", TEST_USERS)
        kwargs.setdefault("speed", 0.0)
        kwargs.setdefault("epoch", TEST_EPOCH)
        emulator = G5kEmulator(**kwargs)
        started.append(emulator)
        return emulator.start()

    try:
        yield make
    finally:
        for emulator in started:
            emulator.stop()


@pytest.fixture
def g5k_box_emulator(g5k_emulator_factory: Callable[..., G5kEmulator]) -> Iterator[G5kEmulator]:
    """A started emulator whose nodes are real SSH hosts (``box=True``; needs root):
    real-time clock, instant job launch, 1 s deployments. Teardown removes every host,
    bridge and process of the box by its id, even when the test failed."""
    from .box import purge

    emulator = g5k_emulator_factory(box=True, speed=1.0, epoch=None, launch_seconds=0.0,
                                    deploy_seconds=1.0)
    assert emulator.box is not None
    try:
        yield emulator
    finally:
        emulator.stop()
        left = purge(emulator.box.box_id)
        assert not any(left.values()), f"the box left {left}"


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
