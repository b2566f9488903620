"""Chameleon bare metal plugs into the conformance suite: a lease of one compute_haswell
and one compute_skylake host (growing: two skylakes), servers on them, the gateway's
floating IP; objects listed through openstacksdk and blazarclient as the stack's user."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bedform.conformance import Breakage, ConformanceStack, InputChange, Size
from bedform.emulators.openstack.testing import openstack_emulator_factory  # noqa: F401
from tests.conformance.openstack.harness import OpenstackHarness


class ChameleonBaremetalHarness(OpenstackHarness):
    """Leases are keyed `lease:<name>`; breakage: the lease expires (clock moved past
    its end: Blazar deletes its servers) or a server is deleted."""

    name = "chameleonbaremetal"
    breakages = ("deleted", "expired")

    def __init__(self, emulator: Any, workdir: Path) -> None:
        super().__init__(emulator, workdir)
        from blazarclient import client

        self.blazar = client.Client(1, session=self.conn.session,
                                    service_type="reservation", region_name="RegionOne")

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        if slow and not self._slow:
            self.emulator.add_fault(method="POST|PUT|DELETE",
                                    path="^/(compute|network|reservation)", latency_ms=80)
            self._slow = True
        section = {"type": "chameleonbaremetal", "cloud": "bedform-emulator",
                   "key_name": "cf", "walltime": "01:00:00", "resources": {"machines": [
                       {"roles": ["server"], "flavour": "compute_haswell", "number": 1},
                       {"roles": ["client"], "flavour": "compute_skylake",
                        "number": 2 if size == "grown" else 1,
                        "image": "CC-Ubuntu22.04" if changed else "CC-Ubuntu18.04"}]}}
        return {"name": name, "providers": {"os": section}}

    def growth_updates(self) -> frozenset[str]:
        """A second compute_skylake host is the lease's reservation resized in place
        (`PUT /leases/{id}`): the new server boots only on a host the lease holds."""
        return frozenset({"os.lease"})

    def input_change(self) -> InputChange:
        return InputChange("the clients' image", frozenset({"os.server[1-0]"}))

    def adoptable(self) -> str:
        return "os.lease"

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        found = {key: ids for key, ids in super().owned(stack).items()
                 if not key.endswith(("-network", "-subnet", "-router"))}
        found[f"lease:{stack.name}"] = [lease["id"] for lease in self.blazar.lease.list()
                                        if lease["name"] == stack.name]
        return found

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        keys = {}
        for address, record in state["resources"].items():
            name = (record.get("inputs") or {}).get("name")
            if record["kind"] == "blazar_lease":
                keys[f"lease:{name}"] = address
            elif record["kind"] == "os_floating_ip":
                keys["floating_ip"] = address
            elif record["kind"] in ("os_server", "os_security_group"):
                keys[name] = address
        return keys

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        servers = frozenset({"os.server[0-0]", "os.server[1-0]"})
        if how == "expired":
            self.control.advance(3700)
            return Breakage(frozenset({"os.lease", "os.floating_ip"}) | servers, "expired")
        return super().break_object(stack, how)

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        left = self.owned(stack)
        for lease_id in left.pop(f"lease:{stack.name}", []):
            self.blazar.lease.delete(lease_id)
        found = super().cleanup(stack)
        leases = [lease["id"] for lease in self.blazar.lease.list()
                  if lease["name"] == stack.name]
        return {**found, **({f"lease:{stack.name}": leases} if leases else {})}


@pytest.fixture
def conformance_harness(openstack_emulator_factory, tmp_path: Path  # noqa: F811
                        ) -> ChameleonBaremetalHarness:
    return ChameleonBaremetalHarness(
        openstack_emulator_factory(build_seconds=0.0, chameleon=True), tmp_path)
