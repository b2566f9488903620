"""The `os_floating_ip` kind: the floating IP of the gateway server.

Allocated on the external network straight onto the gateway server's port, with the
description `bedform stack <name> gateway`: a run killed after the allocation adopts
the IP attached to that port, else the marked free one, never allocating a second.
Refresh reads every IP from one listing; an IP detached (or moved) outside bedform is
drift repaired in place by attaching it again. Reused by the Chameleon provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import adopt_or_create
from bedform.providers.openstack.client import refusal
from bedform.providers.openstack.owned import refresh_listed
from bedform.providers.openstack.routers import external_network
from bedform.state.model import Record


def _attributes(fip: Any, server_id: str) -> dict[str, Any]:
    return {"id": fip.id, "floating_ip_address": fip.floating_ip_address,
            "port_id": fip.port_id, "fixed_ip_address": fip.fixed_ip_address,
            "server_id": server_id}


class FloatingIpKind(KindHandler[Any]):
    """The gateway's floating IP (see the module docstring)."""

    spec = KindSpec("os_floating_ip", repairs_drift=True,
                    description="floating IP of the gateway server")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        def observe(record: Record, fip: Any) -> Observed:
            port_id = record.attributes.get("port_id")
            attributes = _attributes(fip, record.attributes.get("server_id", ""))
            if not port_id or fip.port_id == port_id:
                return Observed(alive=True, attributes=attributes)
            where = f"moved to port {fip.port_id}" if fip.port_id else "detached"
            return Observed(alive=True, attributes={**attributes, "port_id": port_id},
                            drift=[f"floating IP {fip.floating_ip_address} {where} (was "
                                   f"on server {record.inputs.get('server')})"])
        return refresh_listed(
            records, view.snapshot.floating_ips(),
            identified=lambda fip, record: fip.description == record.identity.get("mark"),
            observe=observe, gone="floating IP released outside bedform")

    def _port(self, server_id: str, server: str) -> Any:
        ports = sorted(self.driver.conn.network.ports(device_id=server_id),
                       key=lambda p: p.id)
        if not ports:
            raise ProviderError(f"server {server} ({server_id}) has no port to attach the "
                                "floating IP to")
        return ports[0]

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        network = self.driver.conn.network
        server_id, mark = inputs["server_id"], inputs["mark"]
        port = self._port(server_id, inputs["server"])

        def find() -> str | None:
            attached = list(network.ips(port_id=port.id))
            if attached:
                return attached[0].id
            marked = sorted(ip.id for ip in network.ips(description=mark) if not ip.port_id)
            return marked[0] if marked else None

        def make() -> str:
            external = external_network(self.driver.conn, inputs.get("external_network"))
            with refusal(f"floating IP of server {inputs['server']}"):
                return network.create_ip(floating_network_id=external.id, port_id=port.id,
                                         description=mark).id
        fip_id = adopt_or_create(ctx, "id", find=find, create=make,
                                 label=f"floating IP of server {inputs['server']}")
        return self._attach(fip_id, port, inputs["server"], server_id)

    def _attach(self, fip_id: str, port: Any, server: str, server_id: str) -> dict[str, Any]:
        network = self.driver.conn.network
        fip = network.get_ip(fip_id)
        if fip.port_id != port.id:
            with refusal(f"floating IP {fip.floating_ip_address} to server {server}"):
                fip = network.update_ip(fip, port_id=port.id)
        return _attributes(fip, server_id)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        port = self._port(inputs["server_id"], inputs["server"])
        return self._attach(record.attributes["id"], port, inputs["server"],
                            inputs["server_id"])

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        fip_id = record.attributes.get("id")
        if fip_id is not None:
            self.driver.conn.network.delete_ip(fip_id, ignore_missing=True)
