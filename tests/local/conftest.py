"""Fixtures of the local-provider tests: fresh stacks, and a leak check that runs even
when the test fails: nothing carrying a test stack's id may survive the test."""

from __future__ import annotations

import os
import secrets

import pytest

from bedform.providers.base import DriverContext
from bedform.providers.local import system


def _can_run() -> str:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for program in ("ip", "sshd", "ssh", "ssh-keygen", "unshare", "nsenter"):
        if not system.which(program):
            return f"needs {program} (apt-get install iproute2 openssh-server)"
    return ""


REASON = _can_run()
root_only = pytest.mark.skipif(bool(REASON), reason=REASON or "ok")


@pytest.fixture
def new_stack(tmp_path):
    """`new_stack(name)` -> DriverContext with a fresh stack id; leak-checked at teardown."""
    made: list[str] = []

    def make(name: str = "test", **options) -> DriverContext:
        stack_id = secrets.token_hex(4)
        made.append(stack_id)
        state_dir = tmp_path / f"{name}-{stack_id}"
        state_dir.mkdir()
        return DriverContext(stack_name=name, stack_id=stack_id, state_dir=state_dir,
                             options=options)

    yield make
    leaks = {}
    for stack_id in made:
        found = system.purge(stack_id)  # always clean up, then complain
        if any(found.values()):
            leaks[stack_id] = {k: v for k, v in found.items() if v}
    assert not leaks, f"objects survived the test: {leaks}"
