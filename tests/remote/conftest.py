"""A module-wide local stack of real SSH hosts (network namespaces + sshd), purged and
leak-checked at teardown even when a test fails."""

from __future__ import annotations

import pytest

from bedform.objects import Host
from bedform.providers.local import cleanup
from tests.local.conftest import REASON, LocalStack

CIDR = "198.18.201.0/24"
NOBODY = "198.18.201.250"   # inside the stack's network, nothing there


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> dict[str, Host]:
    """alias → Host of 4 hosts on 198.18.201.0/24 (node-1 … node-4)."""
    if REASON:
        pytest.skip(REASON)
    stack = LocalStack(tmp_path_factory.mktemp("remote") / "stack", "remote")
    try:
        stack.write([{"roles": ["node"], "number": 4}], [{"id": "lan", "cidr": CIDR}])
        stack.apply()
        yield stack.hosts()
        stack.destroy()
    finally:
        found = cleanup.purge(stack.stack_id)
        assert not any(found.values()), f"objects survived the tests: {found}"
