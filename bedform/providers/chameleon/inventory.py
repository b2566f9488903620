"""Roles and networks of a `chameleonbaremetal` instance: OpenStack's, each network role
holding a `ChameleonNetwork` that carries the `extra_ips`.

EnOSlib makes `extra_ips` Neutron ports on the network and hands their fixed addresses
to the network's description (`extra_ips`): addresses Neutron gave nobody else, that an
experiment may take for a service (a virtual IP, a load balancer's address). Here they
are the fixed addresses of the `os_port` records, in port order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from bedform.objects import Networks, Roles, register_network_class
from bedform.providers.openstack import inventory as openstack_inventory
from bedform.providers.openstack.config import OpenstackConf
from bedform.providers.openstack.inventory import OSNetwork
from bedform.state.model import Record, Status


@register_network_class
class ChameleonNetwork(OSNetwork):
    """The subnet of a bare-metal stack (an `OSNetwork`) with `extra_ips`: the fixed
    addresses of its extra ports, as strings."""

    extra_dict_fields = ("extra_ips",)

    def __init__(self, address: str, *args: Any, extra_ips: Iterable[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(address, *args, **kwargs)
        self.extra_ips = [str(ipaddress.ip_address(ip)) for ip in extra_ips]
        outside = [ip for ip in self.extra_ips if ipaddress.ip_address(ip) not in self.network]
        if outside:
            raise ValueError(f"extra_ips {outside} are not in network {self.network}")


def extra_ips(records: Mapping[str, Record]) -> list[str]:
    """The fixed addresses of the ready `os_port` records, by port number."""
    ports = [r for r in records.values() if r.kind == "os_port"
             and r.status == Status.READY and r.attributes.get("fixed_ip")]
    ports.sort(key=lambda r: int(r.address.rsplit("[", 1)[1].rstrip("]")))
    return [str(r.attributes["fixed_ip"]) for r in ports]


def inventory(conf: OpenstackConf, records: Mapping[str, Record]) -> tuple[Roles, Networks]:
    """OpenStack's roles; its networks as `ChameleonNetwork`s with the extra ports'
    addresses (those in the network's cidr)."""
    roles, networks = openstack_inventory.inventory(conf, records)
    addresses = extra_ips(records)
    out = Networks()
    for role, members in networks.items():
        for network in members:
            inside = [ip for ip in addresses if ipaddress.ip_address(ip) in network.network]
            out.add_one(ChameleonNetwork(
                network.address, gateway=network.gateway, dns=network.dns,
                ip_start=network.ip_start, ip_end=network.ip_end, extra_ips=inside), [role])
    return roles, out
