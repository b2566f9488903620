"""The Grid'5000 reference description (sites, clusters, nodes) and its indexes.

The data is the package copy of the public reference repository cut down to
what the emulator needs (``bedform/data/g5k-reference.json``, the one copy the G5k
provider's catalogue reads too; reading a data file imports nothing). Loading builds, per site,
the OAR view of the testbed: compute hosts with their properties and reservable
disks, KaVLAN-capable interfaces, the VLAN ids and the reservable /22 subnets.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

#: Commit of grid5000/reference-repository the data was taken from.
REFERENCE_VERSION = "9ebe1b1e12d4496acf54e276f6885445a57f8c04"
REFERENCE_DATE = "Mon, 23 Mar 2026 12:00:00 GMT"
DOMAIN = "grid5000.fr"
LOCAL_VLANS = ("1", "2", "3")
ROUTED_VLANS = ("4", "5", "6", "7", "8", "9")


def data_file(name: str) -> Traversable:
    """A file of the package's shared data directory (``bedform/data``)."""
    return resources.files("bedform").joinpath("data", name)


def fqdn(node: str, site: str) -> str:
    """``parasilo-1`` on ``rennes`` → ``parasilo-1.rennes.grid5000.fr``."""
    return f"{node}.{site}.{DOMAIN}"


def _node_number(uid: str) -> int:
    match = re.search(r"(\d+)$", uid)
    return int(match.group(1)) if match else 0


@dataclass
class Disk:
    """A reservable disk (OAR resource of type ``disk``)."""

    key: str  # "disk1.parasilo-1.rennes.grid5000.fr", as resources_by_type shows it
    props: dict[str, Any]


@dataclass
class Host:
    """A compute node, as OAR sees it (its cores are ``threads`` resources)."""

    uid: str
    site: str
    cluster: str
    fqdn: str
    number: int
    procs: int
    threads: int
    switch: str
    queues: tuple[str, ...]
    deploy: bool
    besteffort: bool
    exotic: bool
    max_walltime: int
    props: dict[str, Any]
    disks: list[Disk] = field(default_factory=list)
    #: KaVLAN-capable interfaces: (interface name, legacy device, is primary)
    interfaces: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def sort_key(self) -> tuple[str, int, str]:
        """Allocation order: cluster, then node number."""
        return (self.cluster, self.number, self.uid)


@dataclass
class SiteIndex:
    """Everything the scheduler and KaVLAN need to know about one site."""

    uid: str
    hosts: list[Host]
    vlans: dict[str, str]  # id -> type as this site's API shows it ("DEFAULT" -> "NULL")
    global_vlan: str | None
    subnets: list[ipaddress.IPv4Network]
    subnet_gateway: str | None
    subnet_netmask: str | None


class ReferenceData:
    """The loaded reference description plus per-site OAR indexes."""

    def __init__(self, document: dict[str, Any]) -> None:
        grid = document["grid5000"]
        self.grid: dict[str, Any] = {k: v for k, v in grid.items() if k != "sites"}
        self.sites: dict[str, dict[str, Any]] = dict(sorted(grid["sites"].items()))
        self.host_by_fqdn: dict[str, Host] = {}
        self.index: dict[str, SiteIndex] = {}
        globals_by_site = {
            uid: str(site.get("ipv6", {}).get("site_global_kavlan"))
            for uid, site in self.sites.items()
            if site.get("ipv6", {}).get("site_global_kavlan") is not None
            and str(site["ipv6"]["site_global_kavlan"]) in site.get("kavlans", {})
        }
        self.global_vlan_owner: dict[str, str] = {v: s for s, v in globals_by_site.items()}
        for uid, site in self.sites.items():
            self._add_network_addresses(uid, site)
            hosts = [
                self._host(uid, cluster_uid, cluster, node)
                for cluster_uid, cluster in site.get("clusters", {}).items()
                for node in cluster.get("nodes", {}).values()
            ]
            hosts.sort(key=lambda h: h.sort_key)
            for host in hosts:
                self.host_by_fqdn[host.fqdn] = host
            self.index[uid] = SiteIndex(
                uid=uid,
                hosts=hosts,
                vlans=self._vlans(uid, site, globals_by_site),
                global_vlan=globals_by_site.get(uid),
                subnets=self._subnets(site),
                subnet_gateway=site.get("g5ksubnet", {}).get("gateway"),
                subnet_netmask=(
                    str(ipaddress.ip_network(site["g5ksubnet"]["network"]).netmask)
                    if site.get("g5ksubnet")
                    else None
                ),
            )

    @classmethod
    def load(cls, path: str | Path | None = None) -> ReferenceData:
        """Load the packaged data, or another file with the same layout."""
        if path is None:
            text = data_file("g5k-reference.json").read_text()
        else:
            text = Path(path).read_text()
        return cls(json.loads(text))

    # -- construction ------------------------------------------------------
    @staticmethod
    def _add_network_addresses(site_uid: str, site: dict[str, Any]) -> None:
        """Give every enabled adapter the ``network_address`` the API shows."""
        for cluster in site.get("clusters", {}).values():
            for node in cluster.get("nodes", {}).values():
                primary_done = False
                for adapter in node.get("network_adapters", []):
                    if not adapter.get("enabled") or "device" not in adapter:
                        continue
                    if (
                        not primary_done
                        and adapter.get("mounted")
                        and adapter.get("interface") == "Ethernet"
                    ):
                        adapter["network_address"] = fqdn(node["uid"], site_uid)
                        primary_done = True
                    else:
                        adapter["network_address"] = fqdn(
                            f"{node['uid']}-{adapter['device']}", site_uid
                        )

    @staticmethod
    def _host(site: str, cluster_uid: str, cluster: dict[str, Any], node: dict[str, Any]) -> Host:
        arch = node.get("architecture", {})
        jobs = node.get("supported_job_types", {})
        name = fqdn(node["uid"], site)
        primary: dict[str, Any] = next(
            (a for a in node.get("network_adapters", []) if a.get("network_address") == name),
            {},
        )
        gpus = list((node.get("gpu_devices") or {}).values())
        threads = int(arch.get("nb_threads") or arch.get("nb_cores") or 1)
        props: dict[str, Any] = {
            "type": "default",
            "cluster": cluster_uid,
            "host": name,
            "network_address": name,
            "switch": primary.get("switch"),
            "deploy": "YES" if jobs.get("deploy") else "NO",
            "besteffort": "YES" if jobs.get("besteffort") else "NO",
            "exotic": "YES" if node.get("exotic") else "NO",
            "maintenance": "NO",
            "production": "YES" if "production" in jobs.get("queues", []) else "NO",
            "max_walltime": int(jobs.get("max_walltime") or 0),
            "cpuarch": arch.get("platform_type"),
            "cputype": node.get("processor", {}).get("model"),
            "cpu_count": arch.get("nb_procs"),
            "core_count": arch.get("nb_cores"),
            "thread_count": threads,
            "memnode": (node.get("main_memory", {}).get("ram_size") or 0) // (1024 * 1024),
            "gpu_count": len(gpus),
            "gpu_model": gpus[0].get("model") if gpus else None,
            "kavlan": "YES" if cluster.get("kavlan") else "NO",
            "eth_kavlan_count": sum(1 for a in node.get("network_adapters", []) if a.get("kavlan")),
            "nodemodel": cluster.get("model"),
        }
        host = Host(
            uid=node["uid"],
            site=site,
            cluster=cluster_uid,
            fqdn=name,
            number=_node_number(node["uid"]),
            procs=max(1, int(arch.get("nb_procs") or 1)),
            threads=threads,
            switch=str(primary.get("switch") or f"{cluster_uid}-sw"),
            queues=tuple(jobs.get("queues") or cluster.get("queues") or ("admin", "default")),
            deploy=bool(jobs.get("deploy")),
            besteffort=bool(jobs.get("besteffort")),
            exotic=bool(node.get("exotic")),
            max_walltime=int(jobs.get("max_walltime") or 0),
            props=props,
        )
        for device in node.get("storage_devices", []):
            if device.get("reservation"):
                key = f"{device['id']}.{name}"
                disk_props = dict(props, type="disk", disk=f"{device['id']}.{node['uid']}")
                host.disks.append(Disk(key, disk_props))
        for adapter in node.get("network_adapters", []):
            if adapter.get("kavlan") and adapter.get("network_address"):
                host.interfaces.append(
                    (
                        adapter["network_address"],
                        adapter["device"],
                        adapter["network_address"] == name,
                    )
                )
        return host

    @staticmethod
    def _vlans(uid: str, site: dict[str, Any], globals_by_site: dict[str, str]) -> dict[str, str]:
        kavlans = site.get("kavlans") or {}
        vlans = {"DEFAULT": "NULL"}
        found: dict[str, str] = {}
        for vid in LOCAL_VLANS:
            if vid in kavlans:
                found[vid] = "kavlan-local"
        for vid in ROUTED_VLANS:
            if vid in kavlans:
                found[vid] = "kavlan"
        if kavlans:
            for owner, vid in globals_by_site.items():
                found[vid] = "kavlan-global" if owner == uid else "kavlan-global-remote"
        vlans.update(sorted(found.items(), key=lambda item: int(item[0])))
        return vlans

    @staticmethod
    def _subnets(site: dict[str, Any]) -> list[ipaddress.IPv4Network]:
        network = site.get("g5ksubnet", {}).get("network")
        if not network:
            return []
        block = ipaddress.IPv4Network(network)
        sixteens = list(block.subnets(new_prefix=16))[:3]
        return [sub for s16 in sixteens for sub in s16.subnets(new_prefix=22)]

    # -- views -------------------------------------------------------------
    def site_fields(self, site: str) -> dict[str, Any]:
        """The site item fields (no sub-collections)."""
        return {
            k: copy.deepcopy(v)
            for k, v in self.sites[site].items()
            if k not in ("clusters", "servers")
        }

    def cluster_fields(self, site: str, cluster: str) -> dict[str, Any]:
        """The cluster item fields (no nodes)."""
        data = self.sites[site]["clusters"][cluster]
        return {k: copy.deepcopy(v) for k, v in data.items() if k != "nodes"}

    def deep(self) -> dict[str, Any]:
        """The ``/?deep=1`` structure (python-grid5000's ``Grid5000Offline`` layout)."""
        return {
            **copy.deepcopy(self.grid),
            "sites": {site: self.deep_site(site) for site in self.sites},
            "network_equipments": [],
        }

    def deep_site(self, site: str) -> dict[str, Any]:
        """One site with its clusters, nodes and servers, nested."""
        data = self.sites[site]
        return {
            **self.site_fields(site),
            "clusters": {
                uid: {
                    **self.cluster_fields(site, uid),
                    "nodes": [copy.deepcopy(n) for n in cluster.get("nodes", {}).values()],
                }
                for uid, cluster in data.get("clusters", {}).items()
            },
            "servers": [copy.deepcopy(s) for s in data.get("servers", {}).values()],
            "pdus": [],
            "network_equipments": [],
        }

    def vlan_type(self, site: str, vlan: str) -> str | None:
        """The type of a vlan id on a site, ``None`` when unknown."""
        return self.index[site].vlans.get(vlan)

    def vlan_owner(self, site: str, vlan: str) -> str:
        """The site whose OAR holds the vlan resource (global vlans live on one site)."""
        return self.global_vlan_owner.get(vlan, site)
