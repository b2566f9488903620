"""Pytest fixtures for tests that need an OpenStack cloud.

Import them into a ``conftest.py`` (or a test module)::

    from bedform.emulators.openstack.testing import (  # noqa: F401
        openstack_box_factory, openstack_cloud, openstack_emulator,
        openstack_emulator_factory,
    )

Defaults are deterministic but for the time: users ``alice``/``bob``
(passwords ``alice-pw``/``bob-pw``) in projects ``demo`` and ``other``, a
frozen clock (``speed=0``) started at the real time (keystoneauth compares
token expiry with the real clock), servers building for 5 virtual seconds.
Move time with ``emu.advance(seconds)``. Every emulator started is stopped at
teardown. ``openstack_box_factory`` starts emulators whose servers are real SSH
hosts (box mode, root only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import DEFAULT_CLOUD_NAME, OpenstackEmulator

TEST_USERS = {"alice": "alice-pw", "bob": "bob-pw"}
TEST_PROJECTS = ("demo", "other")


@pytest.fixture
def openstack_emulator_factory() -> Iterator[Callable[..., OpenstackEmulator]]:
    """A function that starts emulators (keyword arguments of :class:`OpenstackEmulator`)."""
    started: list[OpenstackEmulator] = []

    def make(**kwargs: Any) -> OpenstackEmulator:
        kwargs.setdefault("users", TEST_USERS)
        kwargs.setdefault("projects", TEST_PROJECTS)
        kwargs.setdefault("speed", 0.0)
        emulator = OpenstackEmulator(**kwargs)
        started.append(emulator)
        return emulator.start()

    try:
        yield make
    finally:
        for emulator in started:
            emulator.stop()


@pytest.fixture
def openstack_box_factory(
    openstack_emulator_factory: Callable[..., OpenstackEmulator],
) -> Iterator[Callable[..., OpenstackEmulator]]:
    """A function that starts emulators whose ACTIVE servers are real SSH hosts
    (``box=True``; needs root); defaults: real-time clock, servers ACTIVE at once.
    Teardown removes every host, bridge and process of each box by its id, even when the
    test failed, and fails if anything was left."""
    from .box import purge

    started: list[OpenstackEmulator] = []

    def make(**kwargs: Any) -> OpenstackEmulator:
        kwargs.setdefault("speed", 1.0)
        kwargs.setdefault("build_seconds", 0.0)
        emulator = openstack_emulator_factory(**kwargs, box=True)
        started.append(emulator)
        return emulator

    try:
        yield make
    finally:
        leaks = {}
        for emulator in started:
            emulator.stop()
            assert emulator.box is not None
            left = purge(emulator.box.box_id)
            if any(left.values()):
                leaks[emulator.box.box_id] = left
        assert not leaks, f"boxes left {leaks}"


@pytest.fixture
def openstack_emulator(
    openstack_emulator_factory: Callable[..., OpenstackEmulator],
) -> OpenstackEmulator:
    """A started emulator with the deterministic defaults."""
    return openstack_emulator_factory()


@pytest.fixture
def openstack_cloud(
    openstack_emulator: OpenstackEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """An openstacksdk ``Connection`` as ``alice`` on project ``demo``, from a clouds.yaml.

    ``OS_CLIENT_CONFIG_FILE`` and ``OS_CLOUD`` point at the written file for the
    duration of the test, so subprocesses (the ``openstack`` CLI) use it too.
    """
    import openstack

    path = openstack_emulator.write_clouds_yaml(tmp_path / "clouds.yaml")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.setenv("OS_CLOUD", DEFAULT_CLOUD_NAME)
    connection = openstack.connect(cloud=DEFAULT_CLOUD_NAME)
    try:
        yield connection
    finally:
        connection.close()
