"""Roles and networks of a VMonG5k provider instance, as EnOSlib returns them.

Every VM is a host named after its address (`virtual-<b2>-<b3>-<b4>`), logged into as
root at its subnet IP through its hypervisor node (as root), and through the access
gateway first when outside Grid'5000; its roles are its group's. The networks are the
reserved subnets (`G5kEnosSubnetNetwork`), under the configuration's network roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedform.objects import Host, Networks, Roles
from bedform.providers.g5k.inventory import subnet_networks
from bedform.providers.vmong5k.config import VMonG5kConf
from bedform.state.model import Record, Status


def vm_host(attributes: Mapping[str, Any], jump: Mapping[str, Any]) -> Host:
    """The Host of one VM record's attributes."""
    extra: dict[str, Any] = {**jump, "internal_gateway": attributes["node"],
                             "internal_gateway_user": "root",
                             "mac": attributes["mac"], "hypervisor": attributes["node"]}
    return Host(attributes["ip"], alias=attributes["name"], user="root", extra=extra)


def inventory(name: str, conf: VMonG5kConf, records: Mapping[str, Record], username: str
              ) -> tuple[Roles, Networks]:
    """Roles of the running VMs and the subnet networks of the applied jobs."""
    roles = Roles()
    started: set[str] = set()
    for record in records.values():
        if record.kind == "vmong5k_domains" and record.status == Status.READY:
            started |= set(record.attributes.get("domains") or {})
    prefix = f"{name}.vm["
    for address, record in sorted(records.items()):
        if record.kind != "vmong5k_vm" or record.status != Status.READY:
            continue
        if record.attributes.get("name") not in started:
            continue
        group = int(address[len(prefix):].split("/", 1)[0])
        if group >= len(conf.machines):
            continue
        roles.add_one(vm_host(record.attributes, record.inputs.get("jump") or {}),
                      list(conf.machines[group].roles))
    return roles, subnet_networks(records, conf.networks)
