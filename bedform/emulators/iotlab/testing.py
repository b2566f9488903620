"""Pytest fixtures for tests that need a FIT IoT-LAB API.

Import them into a ``conftest.py``::

    from bedform.emulators.iotlab.testing import (  # noqa: F401
        iotlab_api, iotlab_box_factory, iotlab_emulator, iotlab_emulator_factory,
        iotlab_env,
    )

Defaults are deterministic: users ``alice``/``bob`` (passwords
``alice-pw``/``bob-pw``), frozen clock (``speed=0``) starting at
2026-04-01 12:00:00 Europe/Paris, and ``launch_seconds=0`` so that an
experiment whose boards are free is ``Running`` at once (iotlabcli's
``wait_experiment`` sleeps 5 real seconds per poll otherwise). Move time with
``emu.advance(seconds)``. Every emulator started is stopped at teardown.
``iotlab_box_factory`` starts emulators backed by real hosts (box mode, root only).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..fixtures import started_boxes, started_emulators
from .server import IotlabEmulator

#: 2026-04-01 12:00:00 Europe/Paris.
TEST_EPOCH = 1_775_037_600
TEST_USERS = {"alice": "alice-pw", "bob": "bob-pw"}


@pytest.fixture
def iotlab_emulator_factory() -> Iterator[Callable[..., IotlabEmulator]]:
    """A function that starts emulators (keyword arguments of :class:`IotlabEmulator`)."""
    yield from started_emulators(IotlabEmulator, {
        "users": TEST_USERS, "speed": 0.0, "epoch": TEST_EPOCH, "launch_seconds": 0.0})


@pytest.fixture
def iotlab_box_factory(
    iotlab_emulator_factory: Callable[..., IotlabEmulator],
) -> Iterator[Callable[..., IotlabEmulator]]:
    """A function that starts emulators whose frontends and boards are real hosts
    (``box=True``; needs root); defaults: real-time clock at the current date,
    experiments running at once. Teardown removes every host, bridge and process of each
    box by its id, even when the test failed, and fails if anything was left."""
    from .box import purge

    yield from started_boxes(iotlab_emulator_factory, purge, {"speed": 1.0, "epoch": None})


@pytest.fixture
def iotlab_emulator(iotlab_emulator_factory: Callable[..., IotlabEmulator]) -> IotlabEmulator:
    """A started emulator with the deterministic defaults."""
    return iotlab_emulator_factory()


@pytest.fixture
def iotlab_env(
    iotlab_emulator: IotlabEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point iotlabcli (in-process and in subprocesses) at ``iotlab_emulator`` as ``alice``.

    Writes the password file, sets ``IOTLAB_API_URL``/``IOTLAB_PASSWORD_FILE``
    and a private ``HOME`` (so no ``~/.iotlab.api-url`` interferes), patches
    the values iotlabcli already read at import, and returns the environment
    for subprocesses.
    """
    from iotlabcli import auth, rest

    home = tmp_path / "iotlab-home"
    home.mkdir()
    rc = iotlab_emulator.write_rc(home / ".iotlabrc", "alice")
    env = iotlab_emulator.client_env(rc)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(rest.Api, "url", iotlab_emulator.url)
    monkeypatch.setattr(rest.Api, "_cache", {})
    monkeypatch.setattr(auth, "RC_FILE", str(rc))
    return {**os.environ, **env, "HOME": str(home)}


@pytest.fixture
def iotlab_api(iotlab_env: dict[str, str]) -> Any:
    """An ``iotlabcli.rest.Api`` logged in as ``alice`` on ``iotlab_emulator``."""
    from iotlabcli import auth, rest

    return rest.Api(*auth.get_user_credentials())
