"""The Grid'5000 driver: configuration, expansion into kinds, reservations, inventory.

Resources of a provider instance `g5k`, one handler per kind:

- `g5k.job[<site>]` (`g5k_job`, jobs.py): one OAR job per site.
- `g5k.deployment[<site>/<primary network id>]` (`g5k_deployment`, deployments.py):
  kadeploy of the nodes whose primary network is that network.
- `g5k.vlan_port[<network id>]` (`g5k_vlan_port`, vlans.py): secondary NICs in a kavlan.
- `g5k.dhcp[<site>]`, `g5k.root_access[<site>]` (remote_setup.py): steps over SSH.

Refresh costs one job listing per site, a GET per job only when a recorded job is gone
(to say why), and a GET per vlan holding ports.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bedform.errors import ConfigError, NegativeWalltime, PreflightError
from bedform.objects import Networks, Roles
from bedform.providers.base import Capabilities, Observed, Ref, Resource, SlotCheck
from bedform.providers.g5k import availability, inventory
from bedform.providers.g5k import config as g5kconf
from bedform.providers.g5k.checks import public_keys
from bedform.providers.g5k.client import Api, ApiError, epoch_to_paris, paris_to_epoch
from bedform.providers.g5k.config import (
    KAVLAN_TYPES,
    G5kConf,
    format_walltime,
    walltime_seconds,
)
from bedform.providers.g5k.deployments import DeploymentKind
from bedform.providers.g5k.jobs import (
    ORIGIN,
    JobKind,
    find_jobs,
    oar_resources,
)
from bedform.providers.g5k.remote_setup import (
    DhcpKind,
    RootAccessKind,
    dhcp_resource,
    root_access_resource,
)
from bedform.providers.g5k.vlans import VlanPortKind
from bedform.providers.kinds import KindDriver, KindHandler
from bedform.state.model import Record


class G5kDriver(KindDriver):
    """Driver of `type: g5k` sections."""

    type_name = "g5k"
    handlers: ClassVar[tuple[type[KindHandler[Any]], ...]] = (
        JobKind, DeploymentKind, VlanPortKind, DhcpKind, RootAccessKind)
    capabilities = Capabilities(advance_reservation=True, test_slot=True,
                                walltime_update=True, max_concurrent_calls=6)

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._api: Api | None = None
        self._site_cache: dict[str, dict[str, Any]] = {}
        self._status_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._cluster_nodes: dict[tuple[str, str], dict[str, Any]] = {}

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        return g5kconf.SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> G5kConf:
        return g5kconf.load(section)

    def preflight(self, conf: Any = None) -> None:
        self.api  # noqa: B018 - reads and checks the credentials file

    def refresh(self, records: Sequence[Record]) -> dict[str, Observed]:
        if not records:  # a new stack: one authenticated read proves the credentials
            self.api.get("/sites")
            return {}
        return super().refresh(records)

    def _username(self) -> str:
        """The API user (identity of jobs); empty when credentials are missing, which
        `preflight` reports before any remote call."""
        try:
            return self.api.username
        except PreflightError:
            return ""

    @property
    def api(self) -> Api:
        """The python-grid5000 client, created on first use."""
        if self._api is None:
            self._api = Api()
        return self._api

    # -- desired resources ---------------------------------------------------------------
    def job_name(self, conf: G5kConf) -> str:
        return conf.job_name or self.context.stack_name

    def expand(self, name: str, conf: G5kConf,
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        if conf.oargrid_jobids:
            raise ConfigError("oargrid_jobids is not supported by bedform",
                              ("oargrid_jobids",), hint="Use `bedform import` instead.")
        job_name = self.job_name(conf)
        types = list(conf.job_type)
        if not any(t.startswith("origin=") for t in types):
            types.append(ORIGIN)
        if conf.monitor:
            types.append(f"monitor={conf.monitor}")
        deploy = "deploy" in types
        key = public_keys(conf.key) if deploy else None
        resources: list[Resource] = []
        for site in conf.sites:
            job = f"{name}.job[{site}]"
            groups: list[dict[str, Any]] = [
                {"index": i, "cluster": m.cluster, "nodes": m.nodes, "min": m.min,
                 "servers": list(getattr(m, "servers", [])),
                 "reservable_disks": m.reservable_disks,
                 "primary": m.primary_network,
                 "secondary": list(m.secondary_networks)}
                for i, m in enumerate(conf.machines) if m.site == site]
            networks = [{"id": n.id, "type": n.type} for n in conf.networks if n.site == site]
            inputs: dict[str, Any] = {
                "site": site, "name": job_name, "resources": oar_resources(groups, networks),
                "types": types, "queue": conf.queue, "walltime": conf.walltime,
                "groups": groups, "networks": networks}
            if conf.project:
                inputs["project"] = conf.project
            if conf.reservation:
                inputs["reservation"] = conf.reservation
            resources.append(Resource(job, "g5k_job", inputs,
                                      identity={"name": job_name, "site": site,
                                                "user": self._username()}))
            if deploy:
                for net_id in dict.fromkeys(g["primary"] for g in groups):
                    net = conf.network(net_id)
                    dep: dict[str, Any] = {
                        "site": site, "nodes": Ref(job, f"nodes[{net_id}]"),
                        "job_uid": Ref(job, "uid"), "environment": conf.env_name,
                        "key": key}
                    if conf.env_version is not None:
                        dep["version"] = conf.env_version
                    if net.type in KAVLAN_TYPES:
                        dep["vlan"] = Ref(job, f"vlan[{net_id}]")
                    resources.append(Resource(f"{name}.deployment[{site}/{net_id}]",
                                              "g5k_deployment", dep))
            for net_id in dict.fromkeys(s for g in groups for s in g["secondary"]):
                net = conf.network(net_id)
                if net.type not in KAVLAN_TYPES:
                    continue
                resources.append(Resource(
                    f"{name}.vlan_port[{net_id}]", "g5k_vlan_port",
                    {"site": site, "vlan": Ref(job, f"vlan[{net_id}]"),
                     "interfaces": Ref(job, f"secondary[{net_id}]")}))
            if deploy and conf.dhcp:
                resources += dhcp_resource(name, site, job, groups, conf,
                                           self._username())
            elif not deploy:
                resources += root_access_resource(name, site, job, conf, self._username())
        return resources

    def last_node(self, site: str, cluster: str) -> dict[str, Any]:
        """The reference description of the cluster's last node (cached per driver): what
        VM and container placement sizes a group's nodes from."""
        key = (site, cluster)
        if key not in self._cluster_nodes:
            items = self.api.get(f"/sites/{site}/clusters/{cluster}/nodes")["items"]
            self._cluster_nodes[key] = items[-1] if items else {}
        return self._cluster_nodes[key]

    def site_info(self, site: str) -> dict[str, Any]:
        """kavlans, g5ksubnet and dns server of `site` (cached per driver)."""
        if site not in self._site_cache:
            record = self.api.get(f"/sites/{site}")
            dns = None
            try:
                server = self.api.get(f"/sites/{site}/servers/dns")
                dns = server.get("network_adapters", {}).get("default", {}).get("ip")
            except (ApiError, AttributeError):
                pass
            self._site_cache[site] = {"kavlans": record.get("kavlans", {}),
                                      "g5ksubnet": record.get("g5ksubnet", {}), "dns": dns}
        return self._site_cache[site]

    # -- reservations: the slot step and EnOSlib's async_init ----------------------------
    def walltime(self, conf: G5kConf) -> int:
        return walltime_seconds(conf.walltime)

    def with_reservation(self, conf: G5kConf, start: float, offset: int = 0) -> G5kConf:
        """A copy of `conf` reserving at `start` (UTC epoch, written in Europe/Paris wall
        clock as OAR wants) with the walltime changed by `offset` seconds. Every site's
        job of the conf gets that same start."""
        seconds = walltime_seconds(conf.walltime) + int(offset)
        if seconds <= 0:
            raise NegativeWalltime(f"walltime {conf.walltime} {offset:+d} s would be zero "
                                   "or negative")
        new = copy.deepcopy(conf)
        new.reservation = epoch_to_paris(start)
        new.walltime = format_walltime(seconds)
        return new

    def recorded_reservation(self, conf: G5kConf, records: Mapping[str, Record]
                             ) -> tuple[float, int] | None:
        if conf.reservation:
            return None
        for record in sorted(records.values(), key=lambda r: r.address):
            if record.kind == "g5k_job" and record.inputs.get("reservation"):
                return (paris_to_epoch(record.inputs["reservation"]),
                        walltime_seconds(record.inputs["walltime"]))
        return None

    def test_slot(self, conf: G5kConf, start: float, end: float) -> SlotCheck:
        """Enough nodes free on every cluster for the walltime from `start` (one status
        call per cluster, cached by this driver); see `availability.test_slot`."""
        return availability.test_slot(conf, start, self._cluster_status)

    def _cluster_status(self, site: str, cluster: str) -> dict[str, Any]:
        key = (site, cluster)
        if key not in self._status_cache:
            self._status_cache[key] = self.api.get(
                f"/sites/{site}/clusters/{cluster}/status") or {}
        return self._status_cache[key]

    def find_jobs(self, conf: G5kConf) -> dict[str, list[dict[str, Any]]]:
        """Our active jobs named like the conf's, per site."""
        name = self.job_name(conf)
        return {site: find_jobs(self.api, site, name) for site in conf.sites}

    def kill_jobs(self, conf: G5kConf) -> None:
        """Delete our active jobs named like the conf's."""
        for site, items in self.find_jobs(conf).items():
            for item in items:
                with contextlib.suppress(ApiError):
                    self.api.delete(f"/sites/{site}/jobs/{item['uid']}")

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, name: str, conf: G5kConf, records: Mapping[str, Record]
                  ) -> tuple[Roles, Networks]:
        return inventory.inventory(name, conf, records, self.api.username)
