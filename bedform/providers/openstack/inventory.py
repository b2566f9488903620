"""Roles and networks of an OpenStack provider instance, as EnOSlib builds them.

A server is a `Host` at its fixed address on the private network, alias = its name,
user = its group's `user`; with `gateway: true` every host carries the jump extras
(`gateway` = the floating IP, `gateway_user`, `forward_agent`) and EnOSlib's
`ansible_become`. Each role of `resources.networks` gets the private subnet as an
`OSNetwork` (cidr, gateway, the first DNS server, pool from the 100th to the 3rd-last
address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from bedform.objects import DefaultNetwork, Host, Networks, Roles, register_network_class
from bedform.providers.openstack.config import OpenstackConf
from bedform.state.model import Record, Status


@register_network_class
class OSNetwork(DefaultNetwork):
    """The private subnet of an OpenStack stack (EnOSlib's OSNetwork)."""


def _ready(records: Mapping[str, Record], kind: str) -> list[Record]:
    return sorted((r for r in records.values() if r.kind == kind and r.status == Status.READY
                   and r.attributes.get("id")),
                  key=lambda r: (r.inputs.get("group", 0), r.inputs.get("number", 0)))


def hosts(conf: OpenstackConf, servers: Sequence[Mapping[str, Any]],
          floating_ip: str | None) -> list[tuple[Host, list[str]]]:
    """(Host, roles) of servers given as {name, fixed_ip, group} mappings."""
    out = []
    for server in servers:
        if not server.get("fixed_ip"):
            continue
        group = server.get("group", 0)
        machine = conf.machines[group] if group < len(conf.machines) else None
        extra: dict[str, Any] = {"ansible_become": "yes"}
        if conf.gateway and floating_ip:
            extra.update(gateway=floating_ip, gateway_user=conf.gateway_user or conf.user,
                         forward_agent=True)
        user = (machine.user if machine else None) or conf.user
        out.append((Host(server["fixed_ip"], alias=server["name"], user=user, extra=extra),
                    list(machine.roles) if machine else []))
    return out


def inventory(conf: OpenstackConf, records: Mapping[str, Record]) -> tuple[Roles, Networks]:
    """Roles and networks of the applied records."""
    roles, networks = Roles(), Networks()
    fips = _ready(records, "os_floating_ip")
    floating = fips[0].attributes.get("floating_ip_address") if fips else None
    servers = [{**r.attributes, "group": r.inputs.get("group", 0)}
               for r in _ready(records, "os_server")]
    for host, host_roles in hosts(conf, servers, floating):
        roles.add_one(host, host_roles)
    subnets = _ready(records, "os_subnet")
    if subnets and conf.networks:
        attributes = subnets[0].attributes
        cidr = ipaddress.ip_network(attributes["cidr"], strict=False)
        dns = (attributes.get("dns_nameservers") or conf.dns_nameservers or ["8.8.8.8"])[0]
        start = cidr[min(100, cidr.num_addresses - 1)]
        end = cidr[max(-3, -cidr.num_addresses)]
        network = OSNetwork(str(cidr), gateway=attributes.get("gateway_ip"), dns=dns,
                            ip_start=start, ip_end=end)
        for role in conf.networks:
            networks.add_one(network, [role])
    return roles, networks
