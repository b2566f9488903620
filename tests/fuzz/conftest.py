"""Fuzz tests: the fake provider is registered for every in-process run."""

from __future__ import annotations

import pytest

from tests.fakecloud import register


@pytest.fixture(autouse=True)
def fake_driver() -> None:
    """Register `type: fake` for in-process runs."""
    register()
