"""Roles and networks of a Grid'5000 provider instance, as EnOSlib names them.

Hosts are the nodes' FQDNs (`<node>-kavlan-<id>.<site>.grid5000.fr` on a kavlan), logged
into as root, through the access gateway from outside Grid'5000 (and the vlan's gateway
for kavlan-local); networks are the prod, vlan and subnet objects of `objects.py`.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from bedform.objects import Host, Networks, Roles
from bedform.providers.g5k import config as g5kconf
from bedform.providers.g5k.config import KAVLAN_TYPES, G5kConf
from bedform.providers.g5k.jobs import vlan_nature
from bedform.providers.g5k.objects import (
    G5kEnosProd4Network,
    G5kEnosProd6Network,
    G5kEnosVlan6Network,
    subnet22,
    translate,
    vlan4,
)
from bedform.state.model import Record, Status


def inventory(name: str, conf: G5kConf, records: Mapping[str, Record], username: str
              ) -> tuple[Roles, Networks]:
    """Roles and networks of the applied records, as EnOSlib builds them."""
    roles, networks = Roles(), Networks()
    jump = conf.jump if conf.jump is not None else \
        not socket.getfqdn().endswith("grid5000.fr")
    deployed: dict[str, set[str]] = {}
    for record in records.values():
        if record.kind == "g5k_deployment" and record.status == Status.READY:
            deployed[record.address.split("[", 1)[1].rstrip("]")] = \
                set(record.attributes.get("deployed", []))
    deploy = "deploy" in conf.job_type
    for record in sorted(records.values(), key=lambda r: r.address):
        if record.kind != "g5k_job" or record.status != Status.READY:
            continue
        attrs_ = record.attributes
        site = record.inputs["site"]
        info = attrs_.get("site_info", {})
        for group, nodes in zip(record.inputs["groups"], attrs_.get("groups", []),
                                strict=False):
            machine = conf.machines[group["index"]] \
                if group["index"] < len(conf.machines) else None
            group_roles = machine.roles if machine else []
            primary = group["primary"]
            net = _conf_net(conf, primary)
            vlan = attrs_.get(f"vlan[{primary}]") if net and net.type in KAVLAN_TYPES \
                else None
            for node in nodes:
                if deploy and node not in deployed.get(f"{site}/{primary}", set()):
                    continue
                extra: dict[str, Any] = {}
                if jump:
                    extra.update(gateway=conf.gateway, gateway_user=username)
                if vlan and vlan_nature(vlan) == "kavlan-local":
                    extra.update(internal_gateway=f"kavlan-{vlan}.{site}.grid5000.fr",
                                 internal_gateway_user="root")
                address = translate(node, vlan)
                roles.add_one(Host(address, alias=address, user="root", extra=extra),
                              list(group_roles))
        for net in conf.networks:
            if net.site != site:
                continue
            for obj in _network_objects(net, attrs_, info):
                networks.add_one(obj, list(net.roles) or [net.id])
    return roles, networks


def _conf_net(conf: G5kConf, net_id: str) -> g5kconf.G5kNetworkConf | None:
    return next((n for n in conf.networks if n.id == net_id), None)


def _network_objects(net: g5kconf.G5kNetworkConf, attributes: Mapping[str, Any],
                     info: Mapping[str, Any]) -> list[Any]:
    kavlans = info.get("kavlans", {})
    dns = info.get("dns")
    if net.type == "prod":
        data = kavlans.get("default", {})
        out: list[Any] = []
        if data.get("network"):
            out.append(G5kEnosProd4Network(data["network"], gateway=data.get("gateway"),
                                           dns=dns))
        if data.get("network_ipv6"):
            out.append(G5kEnosProd6Network(data["network_ipv6"],
                                           gateway=data.get("gateway_ipv6")))
        return out
    if net.type in KAVLAN_TYPES:
        vlan = attributes.get(f"vlan[{net.id}]")
        data = kavlans.get(str(vlan), {})
        out = []
        if data.get("network"):
            out.append(vlan4(data["network"], data.get("gateway"), dns, str(vlan)))
        if data.get("network_ipv6"):
            out.append(G5kEnosVlan6Network(data["network_ipv6"], vlan_id=str(vlan),
                                           gateway=data.get("gateway_ipv6")))
        return out
    gateway = info.get("g5ksubnet", {}).get("gateway")
    return [subnet22(cidr, gateway, dns) for cidr in attributes.get(f"subnets[{net.id}]", [])]


def subnet_networks(records: Mapping[str, Record], roles: list[str]) -> Networks:
    """The /22 subnets the stack's ready jobs reserved (VMs and containers live there),
    each under `roles`, with the site's gateway and DNS."""
    networks = Networks()
    for record in sorted(records.values(), key=lambda r: r.address):
        if record.kind != "g5k_job" or record.status != Status.READY:
            continue
        info = record.attributes.get("site_info", {})
        gateway = info.get("g5ksubnet", {}).get("gateway")
        site = record.inputs["site"]
        for cidr in record.attributes.get(f"subnets[subnet-{site}]", []):
            networks.add_one(subnet22(cidr, gateway, info.get("dns")), list(roles))
    return networks

