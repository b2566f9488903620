"""Roles and networks of a Distem provider instance, as EnOSlib returns them.

Every running vnode is a host named after the vnode (`vnode-<group>-<k>`), logged into as
root at its vnetwork address with the stack's key, through the coordinator (as root), and
through the access gateway first when outside Grid'5000; its roles are its group's. The
network is the job's subnet (`G5kEnosSubnetNetwork`) under the configuration's network
roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedform.objects import Host, Networks, Roles
from bedform.providers.distem.config import DistemConf
from bedform.providers.g5k.inventory import subnet_networks
from bedform.state.model import Record, Status


def vnode_host(attributes: Mapping[str, Any], jump: Mapping[str, Any], keyfile: str | None
               ) -> Host:
    """The Host of one vnode record's attributes."""
    coordinator = attributes["coordinator"]
    if jump:
        extra: dict[str, Any] = {**jump, "internal_gateway": coordinator,
                                 "internal_gateway_user": "root"}
    else:
        extra = {"gateway": coordinator, "gateway_user": "root"}
    extra["pnode"] = attributes["pnode"]
    return Host(attributes["address"], alias=attributes["name"], user="root",
                keyfile=keyfile, extra=extra)


def inventory(name: str, conf: DistemConf, records: Mapping[str, Record]
              ) -> tuple[Roles, Networks]:
    """Roles of the applied vnodes and the subnet of the applied job."""
    roles = Roles()
    prefix = f"{name}.vnode["
    for address, record in sorted(records.items()):
        if record.kind != "distem_vnode" or record.status != Status.READY:
            continue
        group = int(address[len(prefix):].split("/", 1)[0])
        if group >= len(conf.machines):
            continue
        roles.add_one(vnode_host(record.attributes, record.inputs.get("jump") or {},
                                 record.inputs.get("key_path")),
                      list(conf.machines[group].roles))
    return roles, subnet_networks(records, conf.networks)
