"""The `os_network` and `os_subnet` kinds: the private network and its subnet.

Made with the stack's mark (owned.py) and adopted by name + mark after a killed run;
with `managed: false` (EnOSlib's `configure_network: false`) the named network and
subnet are read, never changed nor deleted. Reused by the Chameleon provider.
"""

from __future__ import annotations

from typing import Any

from bedform.providers.base import ApplyContext, KindSpec, Resource
from bedform.providers.openstack.listing import Listing
from bedform.providers.openstack.owned import NeutronKind, create_owned, find_named

_READ_HINT = ("With `configure_network: false` the network and subnet must exist; "
              "create them first, or set `configure_network: true` to let bedform "
              "make them.")


class NetworkKind(NeutronKind):
    """A Neutron network (see the module docstring)."""

    spec = KindSpec("os_network", description="Neutron network")
    listing = Listing.networks
    what = "network"
    delete_call = "delete_network"

    def attributes(self, obj: Any) -> dict[str, Any]:
        return {"id": obj.id, "name": obj.name}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        network = self.driver.conn.network
        if not inputs.get("managed", True):
            found = find_named(list(network.networks(name=inputs["name"])),
                               inputs["name"], "network", _READ_HINT)
            return {**self.attributes(found), "managed": False}
        name, mark = inputs["name"], inputs["mark"]
        network_id = create_owned(ctx, "network", name, mark,
                                  listed=lambda: network.networks(name=name),
                                  make=lambda: network.create_network(name=name,
                                                                      description=mark))
        return {"id": network_id, "name": name, "managed": True}


class SubnetKind(NeutronKind):
    """A Neutron subnet with its cidr, DNS servers and allocation pool."""

    spec = KindSpec("os_subnet", description="Neutron subnet")
    listing = Listing.subnets
    what = "subnet"
    delete_call = "delete_subnet"

    def attributes(self, obj: Any) -> dict[str, Any]:
        return {"id": obj.id, "name": obj.name, "cidr": obj.cidr,
                "gateway_ip": obj.gateway_ip, "network_id": obj.network_id,
                "dns_nameservers": list(obj.dns_nameservers or [])}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        network = self.driver.conn.network
        name = inputs["name"]
        if not inputs.get("managed", True):
            found = find_named(list(network.subnets(network_id=inputs["network_id"])),
                               name, "subnet", _READ_HINT)
            return {**self.attributes(found), "managed": False}
        subnet_id = create_owned(
            ctx, "subnet", name, inputs["mark"],
            listed=lambda: network.subnets(name=name, network_id=inputs["network_id"]),
            make=lambda: network.create_subnet(
                name=name, description=inputs["mark"], network_id=inputs["network_id"],
                cidr=inputs["cidr"], ip_version=4,
                dns_nameservers=list(inputs["dns_nameservers"]),
                allocation_pools=[dict(inputs["allocation_pool"])]))
        return {**self.attributes(network.get_subnet(subnet_id)), "managed": True}
