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

from ..fixtures import started_boxes, started_emulators
from .server import DEFAULT_CLOUD_NAME, OpenstackEmulator

TEST_USERS = {"alice": "alice-pw", "bob": "bob-pw"}
TEST_PROJECTS = ("demo", "other")


@pytest.fixture
def openstack_emulator_factory() -> Iterator[Callable[..., OpenstackEmulator]]:
    """A function that starts emulators (keyword arguments of :class:`OpenstackEmulator`)."""
    yield from started_emulators(OpenstackEmulator, {
        "users": TEST_USERS, "projects": TEST_PROJECTS, "speed": 0.0})


@pytest.fixture
def openstack_box_factory(
    openstack_emulator_factory: Callable[..., OpenstackEmulator],
) -> Iterator[Callable[..., OpenstackEmulator]]:
    """A function that starts emulators whose ACTIVE servers are real SSH hosts
    (``box=True``; needs root); defaults: real-time clock, servers ACTIVE at once.
    Teardown removes every host, bridge and process of each box by its id, even when the
    test failed, and fails if anything was left."""
    from .box import purge

    yield from started_boxes(openstack_emulator_factory, purge,
                             {"speed": 1.0, "build_seconds": 0.0})


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
