"""The `os_port` kind: EnOSlib's `extra_ips`, Neutron ports made on the network.

Each port is named `<prefix>-port-<n>`, carries the stack's mark (adopted by name +
mark after a killed run) and records its fixed address; nothing is attached to it.
Refresh reads them from one listing of the project's ports.
"""

from __future__ import annotations

from typing import Any

from bedform.providers.base import ApplyContext, KindSpec, Resource
from bedform.providers.chameleon.listing import ChameleonListing
from bedform.providers.openstack.owned import NeutronKind, create_owned


class PortKind(NeutronKind):
    """An extra Neutron port with a fixed address."""

    spec = KindSpec("os_port", description="extra Neutron port (extra_ips)")
    listing = ChameleonListing.ports
    what = "port"
    delete_call = "delete_port"

    def attributes(self, obj: Any) -> dict[str, Any]:
        fixed = [ip["ip_address"] for ip in obj.fixed_ips or []]
        return {"id": obj.id, "name": obj.name, "fixed_ip": fixed[0] if fixed else None}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        network = self.driver.conn.network
        name = inputs["name"]
        port_id = create_owned(
            ctx, "port", name, inputs["mark"],
            listed=lambda: network.ports(name=name),
            make=lambda: network.create_port(name=name, description=inputs["mark"],
                                             network_id=inputs["network_id"]))
        return self.attributes(network.get_port(port_id))
