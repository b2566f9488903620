"""The `os_router` kind: a router with its gateway on the external network and its
interface on the private subnet.

Adopted by name + mark after a killed run (owned.py); the interface is added only when
missing, so a run killed between the router and its interface completes it. Refresh
checks both in the batched listings (routers, router-interface ports): a gateway or
interface removed outside is drift repaired in place. Delete removes the interface,
then the router. Reused by the Chameleon provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.kinds import RefreshView
from bedform.providers.openstack.client import refusal
from bedform.providers.openstack.listing import Listing
from bedform.providers.openstack.owned import NeutronKind, create_owned, find_named
from bedform.state.model import Record


def external_network(conn: Any, name: str | None) -> Any:
    """The external network named `name`, else the first `router:external` one."""
    networks = sorted(conn.network.networks(is_router_external=True), key=lambda n: n.name)
    hint = "Set `external_network:` to one of the project's external networks."
    if name:
        return find_named(networks, name, "external network", hint)
    if not networks:
        raise ProviderError("the project sees no external network (router:external)",
                            hint="Ask the cloud operators for one, or set "
                                 "`configure_network: false` and `gateway: false`.")
    return networks[0]


def _interface_ports(ports: list[Any], router_id: str, subnet_id: str) -> list[Any]:
    return [p for p in ports if p.device_id == router_id
            and any(ip.get("subnet_id") == subnet_id for ip in p.fixed_ips or [])]


class RouterKind(NeutronKind):
    """A Neutron router (see the module docstring)."""

    spec = KindSpec("os_router", repairs_drift=True, description="Neutron router")
    listing = Listing.routers
    what = "router"
    delete_call = "delete_router"

    def attributes(self, obj: Any) -> dict[str, Any]:
        gateway = obj.external_gateway_info or {}
        return {"id": obj.id, "name": obj.name,
                "external_network_id": gateway.get("network_id")}

    def observe(self, record: Record, obj: Any, view: RefreshView) -> Observed:
        attributes = self.attributes(obj)
        drift = []
        if not attributes["external_network_id"]:
            drift.append("gateway on the external network removed")
        subnet_id = record.inputs.get("subnet_id")
        if subnet_id and not _interface_ports(view.snapshot.router_interfaces(), obj.id,
                                              subnet_id):
            drift.append(f"interface on subnet {subnet_id} removed")
        return Observed(alive=True, attributes={**record.attributes, **attributes},
                        drift=drift)

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        conn = self.driver.conn
        name, mark = inputs["name"], inputs["mark"]
        external = external_network(conn, inputs.get("external_network"))
        router_id = create_owned(
            ctx, "router", name, mark, listed=lambda: conn.network.routers(name=name),
            make=lambda: conn.network.create_router(
                name=name, description=mark,
                external_gateway_info={"network_id": external.id}))
        return self._complete(router_id, external.id, inputs)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        external = external_network(self.driver.conn, resource.inputs.get("external_network"))
        return self._complete(record.attributes["id"], external.id, resource.inputs)

    def _complete(self, router_id: str, external_id: str,
                  inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Give the router its gateway and interface when it lacks them."""
        network = self.driver.conn.network
        router = network.get_router(router_id)
        name, subnet_id = inputs["name"], inputs["subnet_id"]
        if not (router.external_gateway_info or {}).get("network_id"):
            with refusal(f"gateway of router {name}"):
                router = network.update_router(
                    router, external_gateway_info={"network_id": external_id})
        ports = list(network.ports(device_id=router_id))
        interfaces = _interface_ports(ports, router_id, subnet_id)
        if not interfaces:
            with refusal(f"interface of router {name} on subnet {subnet_id}"):
                network.add_interface_to_router(router, subnet_id=subnet_id)
            interfaces = _interface_ports(list(network.ports(device_id=router_id)),
                                          router_id, subnet_id)
        return {**self.attributes(router), "subnet_id": subnet_id,
                "interface_port_id": interfaces[0].id if interfaces else None}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        router_id = record.attributes.get("id")
        subnet_id = record.inputs.get("subnet_id")
        network = self.driver.conn.network
        if router_id is None:
            return
        router = network.find_router(router_id, ignore_missing=True)
        if router is None:
            return
        if subnet_id and _interface_ports(list(network.ports(device_id=router_id)),
                                          router_id, subnet_id):
            from openstack import exceptions

            # a killed run's own removal may end between the listing and this call
            with contextlib.suppress(exceptions.NotFoundException):
                network.remove_interface_from_router(router, subnet_id=subnet_id)
        network.delete_router(router_id, ignore_missing=True)
