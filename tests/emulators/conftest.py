"""Fixtures for the emulator tests."""

import logging

import pytest

from bedform.emulators.g5k.testing import (  # noqa: F401
    g5k_client,
    g5k_emulator,
    g5k_emulator_factory,
)


@pytest.fixture(autouse=True)
def _quiet_grid5000_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """python-grid5000 warns about verify_ssl=false on every client; keep logs readable."""
    caplog.set_level(logging.ERROR, logger="grid5000")
