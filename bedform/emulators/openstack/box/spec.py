"""What the cloud says the box's hosts should be, read under the cloud's lock: every
ACTIVE server with its NICs (port MAC, fixed IPv4 address, subnet gateway), the login of
its image, the public key of the key pair it booted with, and the floating IP a port of
it holds on the external network. Stopped (SHUTOFF), building and failed servers have
no host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from ..cloud import Cloud
from ..model import Server


@dataclass(frozen=True)
class Nic:
    """One port of a server: the interface `eth<i>` of its host."""

    network_id: str
    mac: str
    address: str  # a.b.c.d/len, the port's fixed IPv4 address in its subnet
    gateway: str | None


@dataclass(frozen=True)
class ServerSpec:
    """An ACTIVE server as a host."""

    id: str
    name: str
    user: str  # the image's default login (cloud-init's default user)
    keys: tuple[str, ...]  # the key pair's public key, as cloud-init injects it at boot
    nics: tuple[Nic, ...]
    floating: str | None  # a.b.c.d/len on the external network, None without one

    @property
    def identity(self) -> tuple[str, str, tuple[Nic, ...]]:
        """The host is re-created when this changes; a floating IP is added or removed on
        the running host."""
        return (self.id, self.user, self.nics)


@dataclass(frozen=True)
class CloudView:
    """The hosts the box should run, and which servers exist at all (a stopped server
    keeps its home directory, a deleted one loses it)."""

    servers: dict[str, ServerSpec]
    existing: frozenset[str]


def read(cloud: Cloud, sync: Callable[[Server], None], external_network: str) -> CloudView:
    """The box's view of `cloud`; `sync` brings a server's status up to date (BUILD ends
    on the virtual clock); only floating IPs of `external_network` make hosts reachable."""
    with cloud.lock:
        out: dict[str, ServerSpec] = {}
        for server in list(cloud.servers.values()):
            sync(server)
            if server.status == "ACTIVE":
                out[server.id] = _spec(cloud, server, external_network)
        return CloudView(out, frozenset(cloud.servers))


def _spec(cloud: Cloud, server: Server, external_network: str) -> ServerSpec:
    nics = []
    floating = None
    for port_id in server.port_ids:
        port = cloud.ports.get(port_id)
        if port is None:
            continue
        fixed = [ip for ip in port["fixed_ips"]
                 if ipaddress.ip_address(ip["ip_address"]).version == 4
                 and ip["subnet_id"] in cloud.subnets]
        if not fixed:
            continue
        subnet = cloud.subnets[fixed[0]["subnet_id"]]
        prefixlen = ipaddress.ip_network(subnet["cidr"]).prefixlen
        nics.append(Nic(port["network_id"], port["mac_address"],
                        f"{fixed[0]['ip_address']}/{prefixlen}", subnet.get("gateway_ip")))
        for fip in cloud.floatingips.values():
            if floating is None and fip["port_id"] == port_id \
                    and fip["floating_network_id"] == external_network:
                floating = _on_external(cloud, fip["floating_ip_address"], external_network)
    image = cloud.images.get(server.image_id)
    keypair = cloud.keypairs.get((server.user_id, server.key_name or ""))
    return ServerSpec(server.id, server.name, image.os_admin_user if image else "root",
                      (keypair.public_key,) if keypair else (), tuple(nics), floating)


def _on_external(cloud: Cloud, address: str, external_network: str) -> str | None:
    """`address/len` in the external network's subnet that holds it."""
    for subnet_id in cloud.networks[external_network]["subnets"]:
        network = ipaddress.ip_network(cloud.subnets[subnet_id]["cidr"])
        if ipaddress.ip_address(address) in network:
            return f"{address}/{network.prefixlen}"
    return None
