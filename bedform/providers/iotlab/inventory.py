"""Roles and networks of an IoT-LAB provider instance, as EnOSlib builds them.

A8 / Raspberry Pi boards become `IotlabHost`s (`root@node-<board>`, through the site
frontend as the IoT-LAB login), the other boards `IotlabSensor`s; networks come from the
per-site address table: each configured network's site rows under its roles, and sites
with Linux boards but no configured network under `prod`.
"""

from __future__ import annotations

from collections.abc import Mapping

from bedform.objects import Networks, Roles
from bedform.providers.iotlab.config import IotlabConf, is_linux
from bedform.providers.iotlab.objects import NETWORKS, IotlabHost, IotlabNetwork, IotlabSensor
from bedform.state.model import Record, Status


def inventory(conf: IotlabConf, records: Mapping[str, Record], username: str
              ) -> tuple[Roles, Networks]:
    """Roles and networks of the applied experiment record."""
    roles, networks = Roles(), Networks()
    experiment = next((r for r in records.values() if r.kind == "iotlab_experiment"
                       and r.status == Status.READY), None)
    if experiment is None:
        return roles, networks
    attributes = experiment.attributes
    boards = attributes.get("boards", {})
    linux_sites: set[str] = set()
    for index, machine in enumerate(conf.machines):
        for address in attributes.get(f"groups[{index}]", []):
            info = boards.get(address, {})
            site = info.get("site") or address.split(".")[1]
            member: IotlabHost | IotlabSensor
            if is_linux(address):
                linux_sites.add(site)
                member = IotlabHost(f"node-{address}", alias=f"node-{address}", user="root",
                                    extra={"gateway": conf.frontend_of(site),
                                           "gateway_user": username})
            else:
                member = IotlabSensor(address, site=site, uid=info.get("uid", ""),
                                      archi=info.get("archi", ""), image=machine.image,
                                      experiment=attributes.get("id"))
            roles.add_one(member, list(machine.roles))
    configured = set()
    for net in conf.networks:
        configured.add(net.site)
        for cidr in NETWORKS.get(net.site, ()):
            networks.add_one(IotlabNetwork(cidr, roles=list(net.roles)),
                             list(net.roles) or [net.id])
    for site in sorted(linux_sites - configured):
        for cidr in NETWORKS.get(site, ()):
            networks.add_one(IotlabNetwork(cidr, roles=["prod"]), ["prod"])
    return roles, networks
