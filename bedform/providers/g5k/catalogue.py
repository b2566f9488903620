"""What bedform knows of Grid'5000 without asking the API: sites, clusters, nodes, limits.

The source is the packaged copy of the public reference description
(``bedform/data/g5k-reference.json``, the same file the emulator serves) and the list
of standard environments (``bedform/data/g5k-environments.json``). Plan-time checks
use it to reject, before any job is submitted, what Grid'5000 would reject: an unknown
site, cluster, server or environment (with the nearest valid names), more nodes than a
cluster has, and a walltime beyond what a cluster's nodes accept.

Walltime limits: the reference gives each node a ``max_walltime`` (seconds, 0 for none;
production clusters have one). It has no site-wide maximum for the default queue, so
bedform checks only these per-node limits: a group needs `nodes` nodes whose limit
allows the walltime.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


def data_text(name: str) -> str:
    """The text of a file of the package's shared data directory (``bedform/data``)."""
    return resources.files("bedform").joinpath("data", name).read_text()


def walltime_seconds(walltime: str) -> int:
    """'H:MM:SS' (any number of hours) in seconds."""
    hours, minutes, seconds = (int(part) for part in walltime.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def format_walltime(seconds: int) -> str:
    """Seconds as 'H:MM:SS' with two-digit hours at least (24 h and more work)."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass(frozen=True)
class ClusterInfo:
    """A cluster of the reference: its site, node uids and per-node walltime limits."""

    uid: str
    site: str
    queues: tuple[str, ...]
    max_walltimes: dict[str, int]  # node uid -> seconds, 0 for no limit

    @property
    def nodes(self) -> int:
        return len(self.max_walltimes)

    def nodes_accepting(self, walltime: int) -> int:
        """How many nodes accept a job of `walltime` seconds."""
        return sum(1 for limit in self.max_walltimes.values() if not limit or walltime <= limit)

    @property
    def longest_walltime(self) -> int:
        """The largest walltime some node accepts (0: no limit)."""
        limits = self.max_walltimes.values()
        return 0 if any(not limit for limit in limits) else max(limits, default=0)


@dataclass(frozen=True)
class Catalogue:
    """Sites, clusters and standard environments of the packaged reference."""

    sites: frozenset[str]
    clusters: dict[str, ClusterInfo]
    environments: frozenset[str]

    def site_of(self, cluster: str) -> str | None:
        info = self.clusters.get(cluster)
        return info.site if info else None

    def site_clusters(self, site: str) -> list[str]:
        return sorted(c.uid for c in self.clusters.values() if c.site == site)


def _cluster(site: str, uid: str, data: dict[str, Any]) -> ClusterInfo:
    limits = {node_uid: int(node.get("supported_job_types", {}).get("max_walltime") or 0)
              for node_uid, node in data.get("nodes", {}).items()}
    return ClusterInfo(uid, site, tuple(data.get("queues") or ()), limits)


@functools.cache
def catalogue() -> Catalogue:
    """The packaged catalogue, read once per process."""
    grid = json.loads(data_text("g5k-reference.json"))["grid5000"]
    clusters = {uid: _cluster(site_uid, uid, data)
                for site_uid, site in grid["sites"].items()
                for uid, data in site.get("clusters", {}).items()}
    environments = json.loads(data_text("g5k-environments.json"))["environments"]
    return Catalogue(frozenset(grid["sites"]), clusters, frozenset(environments))
