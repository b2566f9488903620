"""Pytest fixtures of the conformance suite.

A provider's test directory defines a `conformance_harness` fixture (its Harness) in its
conftest.py and imports the suite into a test module::

    from bedform.conformance.suite import *  # noqa: F403

(`pytest_plugins = ["bedform.conformance.plugin"]` in a root conftest.py also works
for the fixtures alone.)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bedform.conformance.harness import Harness
from bedform.conformance.stack import ConformanceStack


@pytest.fixture
def conformance_stack(conformance_harness: Harness, tmp_path: Path
                      ) -> Iterator[Callable[[], ConformanceStack]]:
    """`conformance_stack()` -> a new stack with a unique name (`cf-<hex>`); at
    teardown every stack made is destroyed, then whatever is left of it is removed and
    reported as a leak, even when the test failed."""
    made: list[ConformanceStack] = []

    def make() -> ConformanceStack:
        name = f"cf-{secrets.token_hex(4)}"
        stack = ConformanceStack(conformance_harness, tmp_path / name, name)
        made.append(stack)
        return stack

    yield make
    leaks: dict[str, dict[str, list[str]]] = {}
    for stack in made:
        if stack.file.exists():
            stack.run("destroy", "--auto-approve")
        left = conformance_harness.cleanup(stack)
        if left:
            leaks[stack.name] = left
    assert not leaks, f"objects survived their stack's destroy: {leaks}"
