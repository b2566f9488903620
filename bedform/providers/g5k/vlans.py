"""The `g5k_vlan_port` kind: the secondary NICs of a network's nodes put in its kavlan.

The NICs are the mountable, non-mounted Ethernet adapters of the reference description,
in device order. A NIC moved out of the vlan outside bedform is drift, repaired by
attaching it again. Deleting puts the NICs back in the DEFAULT vlan (when the job has
ended they are there already).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.g5k.client import ApiError
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.state.model import Record, Status

if TYPE_CHECKING:
    from bedform.providers.g5k.driver import G5kDriver  # noqa: F401 - in a string


class VlanPortKind(KindHandler["G5kDriver"]):
    """kavlan membership of secondary NICs (see the module docstring)."""

    spec = KindSpec("g5k_vlan_port", description="secondary NICs attached to a kavlan")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        members: dict[tuple[str, str], set[str | None]] = {}
        result: dict[str, Observed] = {}
        for record in records:
            if record.status != Status.READY:
                continue
            site, vlan = record.inputs["site"], str(record.attributes.get("vlan", ""))
            job_address = record.dependencies[0] if record.dependencies else ""
            job = view.observed.get(job_address)
            if job is not None and not job.alive:
                result[record.address] = Observed(alive=False, reason="its job is gone")
                continue
            if (site, vlan) not in members:
                members[(site, vlan)] = self._members(site, vlan)
            missing = [i for i in record.attributes.get("interfaces", [])
                       if i not in members[(site, vlan)]]
            result[record.address] = Observed(
                alive=True, drift=tuple(f"{i} left vlan {vlan}" for i in missing))
        return result

    def _members(self, site: str, vlan: str) -> set[str | None]:
        try:
            items = self.driver.api.get(f"/sites/{site}/vlans/{vlan}/nodes")["items"]
        except ApiError:
            items = []
        return {i.get("uid") or i.get("name") or i.get("node") if isinstance(i, dict) else i
                for i in items}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        api = self.driver.api
        site, vlan = resource.inputs["site"], str(resource.inputs["vlan"])
        pairs = resource.inputs["interfaces"]   # [[node fqdn, secondary NIC index], ...]
        nics: dict[str, list[str]] = {}
        for cluster in sorted({node.split("-", 1)[0] for node, _ in pairs}):
            for item in api.get(f"/sites/{site}/clusters/{cluster}/nodes")["items"]:
                adapters = sorted(
                    (a["device"], a.get("name")) for a in item.get("network_adapters", [])
                    if a.get("mountable") and a.get("interface") == "Ethernet"
                    and not a.get("management") and not a.get("mounted"))
                nics[f"{item['uid']}.{site}.grid5000.fr"] = [d for d, _ in adapters]
        interfaces = []
        for node, index in pairs:
            devices = nics.get(node, [])
            if index >= len(devices):
                raise ProviderError(f"{node} has {len(devices)} secondary NIC(s); network "
                                    f"number {index + 1} cannot be attached")
            short, _, rest = node.partition(".")
            interfaces.append(f"{short}-{devices[index]}.{rest}")
        if interfaces:
            answer = api.post(f"/sites/{site}/vlans/{vlan}/nodes", interfaces) or {}
            failures = [n for n, status in answer.items()
                        if (isinstance(status, dict) and status.get("status") == "failure")
                        or status == "failure"]
            if failures:
                raise ProviderError(f"kavlan {vlan} refused {', '.join(failures)}")
        return {"vlan": vlan, "interfaces": sorted(interfaces)}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        interfaces = record.attributes.get("interfaces", [])
        if interfaces:
            # when the job ended, its NICs went back to DEFAULT already
            with contextlib.suppress(ApiError):
                self.driver.api.post(f"/sites/{record.inputs['site']}/vlans/DEFAULT/nodes",
                                     interfaces)
