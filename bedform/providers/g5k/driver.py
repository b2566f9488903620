"""The Grid'5000 driver: OAR jobs, kadeploy deployments, KaVLAN ports.

Resources of a provider instance `g5k`:

- `g5k.job[<site>]` (`g5k_job`): one OAR job per site, identity name + user + site,
  walltime updatable in place, expires.
- `g5k.deployment[<site>/<primary network id>]` (`g5k_deployment`): kadeploy of the
  nodes whose primary network is that network (inputs: nodes, environment, version,
  key, vlan).
- `g5k.vlan_port[<network id>]` (`g5k_vlan_port`): the secondary NICs put in a kavlan.

Refresh costs one job listing per site (`user`, active states, `resources=yes`), a GET
per job only when a recorded job is gone (to say why), and a GET per vlan holding ports.
"""

from __future__ import annotations

import contextlib
import copy
import glob
import os
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bedform.errors import (
    ConfigError,
    InvalidReservationTooOld,
    NegativeWalltime,
    NotEnoughNodesError,
    PreflightError,
    ProviderError,
)
from bedform.objects import Host, Networks, Roles
from bedform.providers.base import (
    ApplyContext,
    Capabilities,
    DriverContext,
    KindSpec,
    Observed,
    Ref,
    Resource,
    SlotCheck,
)
from bedform.providers.g5k import config as g5kconf
from bedform.providers.g5k.client import (
    Api,
    ApiError,
    epoch_to_paris,
    paris_to_epoch,
    submit_error,
)
from bedform.providers.g5k.config import (
    KAVLAN_TYPES,
    SUBNET_TYPES,
    G5kConf,
    format_walltime,
    walltime_seconds,
)
from bedform.providers.g5k.objects import (
    G5kEnosProd4Network,
    G5kEnosProd6Network,
    G5kEnosVlan6Network,
    subnet22,
    translate,
    vlan4,
)
from bedform.state.model import Record, Status

ACTIVE = "waiting,launching,running"
MAX_DEPLOY = 3
ORIGIN = "origin=bedform"
POLLS = (0.5, 1, 2, 3, 5, 10, 15, 30)


def vlan_nature(vlan_id: str) -> str:
    number = int(vlan_id) if str(vlan_id).isdigit() else 0
    return "kavlan-local" if 1 <= number <= 3 else "kavlan" if 4 <= number <= 9 \
        else "kavlan-global"


def oar_resources(groups: Sequence[Mapping[str, Any]],
                  networks: Sequence[Mapping[str, Any]]) -> str:
    """The OAR resource string as EnOSlib builds it (servers groups first)."""
    criteria: list[str] = []
    for group in groups:
        if group["nodes"] <= 0:
            continue
        disk = "(type='default' or type='disk') AND " if group.get("reservable_disks") else ""
        if group.get("servers"):
            names = ", ".join(f"'{s}'" for s in group["servers"])
            criteria.append(f"{{{disk}network_address in ({names})}}/nodes={group['nodes']}")
        else:
            criteria.append(f"{{{disk}cluster='{group['cluster']}'}}/nodes={group['nodes']}")
    for net in networks:
        if net["type"] in KAVLAN_TYPES:
            criteria.append(f"{{type='{net['type']}'}}/vlan=1")
        elif net["type"] in SUBNET_TYPES:
            criteria.append(f"{net['type']}=1")
    criteria.sort(key=lambda c: "network_address" not in c)
    return "+".join(criteria)


def map_nodes(nodes: Sequence[str], groups: Sequence[Mapping[str, Any]],
              strict: bool = True) -> list[list[str]]:
    """EnOSlib's deterministic node→group mapping (servers first, then `min` first)."""
    free = sorted(nodes)
    result: list[list[str]] = [[] for _ in groups]
    for index, group in enumerate(groups):
        if group.get("servers"):
            for server in group["servers"]:
                if server in free and len(result[index]) < group["nodes"]:
                    free.remove(server)
                    result[index].append(server)
    pools: dict[str, list[str]] = {}
    for node in free:
        pools.setdefault(node.split("-", 1)[0], []).append(node)
    order = sorted((i for i, g in enumerate(groups) if not g.get("servers")),
                   key=lambda i: groups[i].get("min", 0))
    for index in order:
        pool = pools.get(groups[index]["cluster"], [])
        take = groups[index].get("min", 0)
        result[index] += pool[:take]
        del pool[:take]
    for index in order:
        pool = pools.get(groups[index]["cluster"], [])
        take = groups[index]["nodes"] - len(result[index])
        result[index] += pool[:take]
        del pool[:take]
    for index, group in enumerate(groups):
        if strict and len(result[index]) < group.get("min", 0):
            raise NotEnoughNodesError(
                f"machine group {group['index']} ({group.get('cluster')}) got "
                f"{len(result[index])} node(s), fewer than min={group['min']}",
                hint="Lower `min`, ask for another cluster, or wait for nodes to free up.")
    return result


class G5kDriver:
    """Driver of `type: g5k` sections."""

    type_name = "g5k"
    kinds = {
        "g5k_job": KindSpec("g5k_job", updatable={"walltime"}, expires=True,
                            update_changes={"walltime", "expires_at"},
                            description="OAR job, one per site"),
        "g5k_deployment": KindSpec("g5k_deployment", deploy=True, repairs_drift=True,
                                   update_changes={"deployed", "failed", "uids"},
                                   description="kadeploy of the nodes of a primary network"),
        "g5k_vlan_port": KindSpec("g5k_vlan_port",
                                  description="secondary NICs attached to a kavlan"),
        "g5k_dhcp": KindSpec("g5k_dhcp",
                             description="dhclient on the secondary NICs, over SSH"),
        "g5k_root_access": KindSpec("g5k_root_access",
                                    description="root accepts the user's keys (no deploy)"),
    }
    capabilities = Capabilities(advance_reservation=True, test_slot=True,
                                walltime_update=True, max_concurrent_calls=6)

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self._api: Api | None = None
        self._site_cache: dict[str, dict[str, Any]] = {}
        self._status_cache: dict[tuple[str, str], dict[str, Any]] = {}

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        return g5kconf.SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> G5kConf:
        return g5kconf.load(section)

    def preflight(self, conf: Any = None) -> None:
        self.api  # noqa: B018 - reads and checks the credentials file

    def _username(self) -> str:
        """The API user (identity of jobs); empty when credentials are missing, which
        `preflight` reports before any remote call."""
        try:
            return self.api.username
        except PreflightError:
            return ""

    @property
    def api(self) -> Api:
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
        key = self._key(conf) if deploy else None
        resources: list[Resource] = []
        for site in conf.sites:
            job = f"{name}.job[{site}]"
            groups = [{"index": i, "cluster": m.cluster, "nodes": m.nodes, "min": m.min,
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
                from bedform.providers.g5k.remote_setup import dhcp_resource

                resources += dhcp_resource(name, site, job, groups, conf,
                                           self._username())
            elif not deploy:
                from bedform.providers.g5k.remote_setup import root_access_resource

                resources += root_access_resource(name, site, job, conf, self._username())
        return resources

    @staticmethod
    def _key(conf: G5kConf) -> str:
        if conf.key:
            path = Path(conf.key).expanduser()
            try:
                text = path.read_text().strip()
            except OSError:
                raise ConfigError(f"cannot read public key {path}", ("key",)) from None
            if not text:
                raise ConfigError(f"public key {path} is empty", ("key",))
            return text
        keys = [Path(p).read_text().strip()
                for p in sorted(glob.glob(os.path.expanduser("~/.ssh/*.pub")))]
        keys = [k for k in keys if k]
        if not keys:
            raise ConfigError("no public key to deploy with", ("key",),
                              hint="Set `key: ~/.ssh/id_ed25519.pub` or create a key.")
        return "\n".join(keys)

    # -- refresh -------------------------------------------------------------------------
    def refresh(self, records: Sequence[Record]) -> dict[str, Observed]:
        result: dict[str, Observed] = {}
        jobs = [r for r in records if r.kind == "g5k_job"]
        listings: dict[str, dict[int, dict[str, Any]]] = {}
        for site in sorted({(r.inputs.get("site") or r.identity.get("site")) for r in jobs}):
            items = self.api.get(f"/sites/{site}/jobs", user=self.api.username,
                                 state=ACTIVE, resources="yes", limit=500)["items"]
            listings[site] = {item["uid"]: item for item in items}
        alive_uids: dict[str, int] = {}
        for record in jobs:
            site = record.inputs.get("site") or record.identity["site"]
            listing = listings[site]
            uid = record.attributes.get("uid")
            item = listing.get(uid) if uid is not None else None
            if item is None and uid is None:
                named = [i for i in listing.values()
                         if i.get("name") == record.identity.get("name")]
                item = min(named, key=lambda i: i["uid"]) if named else None
            if item is None:
                result[record.address] = self._gone(site, uid)
                continue
            alive_uids[record.address] = item["uid"]
            attributes = job_attributes(item, record.inputs, strict=False)
            result[record.address] = Observed(alive=True, attributes=attributes,
                                              expires_at=attributes.get("expires_at"))
        for record in records:
            if record.kind == "g5k_deployment" and record.status == Status.PENDING_CREATE:
                result[record.address] = Observed(
                    alive=bool(record.attributes.get("uids")), attributes=record.attributes,
                    reason="interrupted before kadeploy was called")
            elif record.kind == "g5k_deployment":
                job_addr = record.dependencies[0] if record.dependencies else ""
                uid = record.attributes.get("job_uid") or record.inputs.get("job_uid")
                if job_addr in result and (not result[job_addr].alive
                                           or alive_uids.get(job_addr) != uid):
                    result[record.address] = Observed(
                        alive=False, reason=f"its job {job_addr} is gone")
                elif record.attributes.get("failed"):
                    result[record.address] = Observed(
                        alive=True, drift=(f"nodes failed to deploy: "
                                           f"{', '.join(record.attributes['failed'])}",))
                else:
                    result[record.address] = Observed(alive=True)
        vlan_cache: dict[tuple[str, str], set[str]] = {}
        for record in records:
            if record.kind != "g5k_vlan_port" or record.status != Status.READY:
                continue
            site, vlan = record.inputs["site"], str(record.attributes.get("vlan", ""))
            job_addr = record.dependencies[0] if record.dependencies else ""
            if job_addr in result and not result[job_addr].alive:
                result[record.address] = Observed(alive=False, reason="its job is gone")
                continue
            if (site, vlan) not in vlan_cache:
                try:
                    items = self.api.get(f"/sites/{site}/vlans/{vlan}/nodes")["items"]
                except ApiError:
                    items = []
                vlan_cache[(site, vlan)] = {i.get("uid") or i.get("name") or i.get("node")
                                            if isinstance(i, dict) else i for i in items}
            present = vlan_cache[(site, vlan)]
            missing = [i for i in record.attributes.get("interfaces", []) if i not in present]
            result[record.address] = Observed(
                alive=True, drift=tuple(f"{i} left vlan {vlan}" for i in missing))
        return result

    def _gone(self, site: str, uid: int | None) -> Observed:
        if uid is None:
            return Observed(alive=False, reason="not found")
        try:
            job = self.api.get(f"/sites/{site}/jobs/{uid}")
        except ApiError:
            return Observed(alive=False, reason="deleted outside")
        events = [e.get("type", "") for e in job.get("events", [])]
        stopped = job.get("stopped_at")
        stamp = epoch_to_paris(stopped) + " Europe/Paris" if stopped else "?"
        if any("WALLTIME" in e for e in events):
            return Observed(alive=False, reason=f"expired at {stamp}")
        if any("FRAG" in e for e in events):
            return Observed(alive=False, reason=f"killed at {stamp}")
        return Observed(alive=False, reason=f"job {uid} ended ({job.get('state')}) at {stamp}")

    # -- create / update / delete ----------------------------------------------------------
    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        if resource.kind == "g5k_job":
            return self._create_job(resource, ctx)
        if resource.kind == "g5k_deployment":
            return self._create_deployment(resource, ctx)
        if resource.kind == "g5k_dhcp":
            from bedform.providers.g5k.remote_setup import run_dhcp

            return run_dhcp(self.api, resource.inputs, self.context.options, ctx.progress)
        if resource.kind == "g5k_root_access":
            from bedform.providers.g5k.remote_setup import run_root_access

            return run_root_access(self.api, resource.inputs, self.context.options,
                                   ctx.progress)
        return self._create_vlan_port(resource, ctx)

    def _create_job(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        site = inputs["site"]
        uid = (ctx.existing or {}).get("uid")
        if uid is None:   # reload by name: a job of ours nobody recorded is adopted
            found = self.api.get(f"/sites/{site}/jobs", user=self.api.username,
                                 state=ACTIVE, name=inputs["name"])["items"]
            if found:
                uid = min(i["uid"] for i in found)
                ctx.progress(f"adopting job {uid} named {inputs['name']!r}")
        if uid is None:
            uid = self._submit(site, inputs, ctx)
        ctx.checkpoint({"uid": uid, "site": site})
        delay = 0
        while True:
            job = self.api.get(f"/sites/{site}/jobs/{uid}")
            state = job["state"]
            if state == "running":
                break
            if state not in ("waiting", "launching", "hold", "toLaunch", "toAckReservation"):
                raise ProviderError(f"job {uid} on {site} ended in state {state!r} "
                                    "before it ran")
            if job.get("scheduled_at"):
                ctx.progress(f"job {uid} {state}, scheduled at "
                             f"{epoch_to_paris(job['scheduled_at'])} Europe/Paris")
            ctx.sleep(POLLS[min(delay, len(POLLS) - 1)])
            delay += 1
        attributes = job_attributes(job, inputs, strict=True)
        attributes["site_info"] = self._site_info(site)
        return attributes

    def _submit(self, site: str, inputs: Mapping[str, Any], ctx: ApplyContext) -> int:
        """Submit a job; a reservation date that has passed means "start now".

        That happens when a job of a reserved set is re-created (one site's job expired
        or was killed while the others live): its inputs keep the set's recorded start,
        which OAR now refuses as too old.
        """
        payload = job_payload(inputs)
        try:
            return self.api.post(f"/sites/{site}/jobs", payload)["uid"]
        except ApiError as error:
            failure = submit_error(error, site, inputs["resources"])
            if not (isinstance(failure, InvalidReservationTooOld) and "reservation" in payload):
                raise failure from None
        ctx.progress(f"the reservation {payload.pop('reservation')} (Europe/Paris) has "
                     "passed: submitting the job to start now")
        try:
            return self.api.post(f"/sites/{site}/jobs", payload)["uid"]
        except ApiError as error:
            raise submit_error(error, site, inputs["resources"]) from None

    def _site_info(self, site: str) -> dict[str, Any]:
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

    def _create_deployment(self, resource: Resource, ctx: ApplyContext,
                           done: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Deploy the nodes not yet deployed (`done`: a recorded deployment to complete)."""
        inputs = resource.inputs
        site, nodes = inputs["site"], sorted(inputs["nodes"])
        existing = dict(done or ctx.existing or {})
        deployed: list[str] = list(existing.get("deployed", []))
        uids: list[str] = list(existing.get("uids", []))
        pending = existing.get("pending")
        failed: list[str] = []
        for attempt in range(MAX_DEPLOY):
            todo = [n for n in nodes if n not in deployed]
            if not todo:
                break
            if pending is None:
                body: dict[str, Any] = {"nodes": todo, "environment": inputs["environment"],
                                        "key": inputs["key"]}
                if inputs.get("version") is not None:
                    body["version"] = inputs["version"]
                if inputs.get("vlan"):
                    body["vlan"] = str(inputs["vlan"])
                pending = self.api.post(f"/sites/{site}/deployments", body)["uid"]
                uids.append(pending)
                ctx.checkpoint({"uids": uids, "pending": pending, "deployed": deployed,
                                "job_uid": inputs["job_uid"]})
            ctx.progress(f"deploying {inputs['environment']} on {len(todo)} node(s) "
                         f"(attempt {attempt + 1}/{MAX_DEPLOY})")
            delay = 0
            while True:
                dep = self.api.get(f"/sites/{site}/deployments/{pending}")
                if dep["status"] not in ("processing", "waiting"):
                    break
                ctx.sleep(POLLS[min(delay, len(POLLS) - 1)])
                delay += 1
            result = dep.get("result") or {} if dep["status"] == "terminated" else {}
            ok = [n for n in todo if result.get(n, {}).get("state") == "OK"]
            deployed = sorted(set(deployed) | set(ok))
            failed = [n for n in nodes if n not in deployed]
            pending = None
            ctx.checkpoint({"uids": uids, "pending": None, "deployed": deployed,
                            "job_uid": inputs["job_uid"]})
        if not deployed:
            raise ProviderError(f"kadeploy of {inputs['environment']} failed on every node "
                                f"of {resource.address}: {', '.join(nodes)}")
        if failed:
            ctx.progress(f"{len(failed)} node(s) failed after {MAX_DEPLOY} attempts: "
                         f"{', '.join(failed)}")
        return {"uids": uids, "pending": None, "deployed": deployed, "failed": failed,
                "job_uid": inputs["job_uid"], "vlan": inputs.get("vlan")}

    def _create_vlan_port(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        site, vlan = resource.inputs["site"], str(resource.inputs["vlan"])
        pairs = resource.inputs["interfaces"]   # [[node fqdn, secondary NIC index], ...]
        nics: dict[str, list[str]] = {}
        for cluster in sorted({node.split("-", 1)[0] for node, _ in pairs}):
            items = self.api.get(f"/sites/{site}/clusters/{cluster}/nodes")["items"]
            for item in items:
                adapters = sorted(
                    (a["device"], a.get("name")) for a in item.get("network_adapters", [])
                    if a.get("mountable") and a.get("interface") == "Ethernet"
                    and not a.get("management") and not a.get("mounted"))
                nics[f"{item['uid']}.{site}.grid5000.fr"] = [d for d, _ in adapters]
        interfaces = []
        for node, index in pairs:
            devices = nics.get(node, [])
            if index >= len(devices):
                raise ProviderError(f"{node} has {len(devices)} secondary NIC(s); network "
                                    f"number {index + 1} cannot be attached")
            short, _, rest = node.partition(".")
            interfaces.append(f"{short}-{devices[index]}.{rest}")
        if interfaces:
            answer = self.api.post(f"/sites/{site}/vlans/{vlan}/nodes", interfaces) or {}
            failures = [n for n, status in answer.items()
                        if (isinstance(status, dict) and status.get("status") == "failure")
                        or status == "failure"]
            if failures:
                raise ProviderError(f"kavlan {vlan} refused {', '.join(failures)}")
        return {"vlan": vlan, "interfaces": sorted(interfaces)}

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        if resource.kind == "g5k_deployment":  # drift repair: redeploy the failed nodes
            return self._create_deployment(resource, ctx, {**record.attributes,
                                                           "pending": None})
        if resource.kind != "g5k_job":
            raise ProviderError(f"{resource.kind} cannot be updated in place")
        site, uid = resource.inputs["site"], record.attributes["uid"]
        new = walltime_seconds(resource.inputs["walltime"])
        old = walltime_seconds(record.inputs["walltime"])
        job = self.api.get(f"/sites/{site}/jobs/{uid}")
        delta = new - int(job.get("walltime", old))
        if delta:
            sign = "+" if delta > 0 else "-"
            self.api.post(f"/sites/{site}/jobs/{uid}/walltime",
                          {"walltime": sign + format_walltime(abs(delta))})
            job = self.api.get(f"/sites/{site}/jobs/{uid}")
            if int(job.get("walltime", 0)) != new:
                status = self.api.get(f"/sites/{site}/jobs/{uid}/walltime")
                raise ProviderError(
                    f"walltime of job {uid} is {format_walltime(int(job['walltime']))}, "
                    f"not {resource.inputs['walltime']}: OAR granted part of the change "
                    f"({status.get('pending', 'pending')} pending)" if isinstance(status, dict)
                    else f"walltime change of job {uid} not granted")
        attributes = job_attributes(job, resource.inputs, strict=False)
        return attributes

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        if record.kind == "g5k_job":
            uid = record.attributes.get("uid")
            site = record.inputs.get("site") or record.identity.get("site")
            if uid is None:
                return
            try:
                self.api.delete(f"/sites/{site}/jobs/{uid}")
            except ApiError as error:
                if error.status in (400, 404) or "already killed" in error.detail:
                    return
                raise
        elif record.kind == "g5k_vlan_port":
            interfaces = record.attributes.get("interfaces", [])
            if interfaces:
                # when the job ended, its NICs went back to DEFAULT already
                with contextlib.suppress(ApiError):
                    self.api.post(f"/sites/{record.inputs['site']}/vlans/DEFAULT/nodes",
                                  interfaces)
        # a deployment has nothing to delete: the nodes go back with the job

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        if resource.kind != "g5k_job":
            raise ProviderError("only g5k_job can be imported (by OAR job id)")
        site = resource.inputs["site"]
        try:
            job = self.api.get(f"/sites/{site}/jobs/{int(remote_id)}")
        except (ApiError, ValueError):
            raise ProviderError(f"no job {remote_id} on {site}") from None
        return {**job_attributes(job, resource.inputs, strict=False),
                "site_info": self._site_info(site)}

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

    def _cluster_status(self, site: str, cluster: str) -> dict[str, Any]:
        key = (site, cluster)
        if key not in self._status_cache:
            self._status_cache[key] = self.api.get(
                f"/sites/{site}/clusters/{cluster}/status") or {}
        return self._status_cache[key]

    def test_slot(self, conf: G5kConf, start: float, end: float) -> SlotCheck:
        """Enough nodes free on every cluster for the walltime from `start` (EnOSlib's
        cluster-status model, §4.3; one status call per cluster, cached by this driver).

        A refusal names the cluster, the counts and the blocking jobs, and hints at the
        earliest time enough blocked nodes could be free (a lower bound).
        """
        if not paris_expressible(start):
            later = next((start + k * 300 for k in range(1, 14)
                          if paris_expressible(start + k * 300)), None)
            return SlotCheck(ok=False, hint=later, reason=(
                f"{_utc(start)} is in the repeated hour of the daylight-saving change: "
                "OAR's Europe/Paris wall-clock date cannot name it"))
        duration = walltime_seconds(conf.walltime)
        demands: dict[tuple[str, str], list[Any]] = {}
        for machine in conf.machines:
            servers = list(getattr(machine, "servers", []))
            cluster = machine.cluster or (servers[0].split("-", 1)[0] if servers else "")
            entry = demands.setdefault((machine.site or "", cluster), [0, []])
            entry[0] += machine.nodes
            entry[1] += servers
        for (site, cluster), (count, servers) in sorted(demands.items()):
            free: set[str] = set()
            blocked: dict[str, tuple[float, list[str]]] = {}
            for node, data in self._cluster_status(site, cluster).get("nodes", {}).items():
                if data.get("hard") in ("dead", "suspected"):
                    continue
                ends, jobs = [], []
                for res in data.get("reservations", []):
                    if res.get("queue") == "besteffort":
                        continue
                    begin = res.get("started_at") or res.get("scheduled_at")
                    if not begin:
                        continue   # no known time: it cannot block a given start
                    finish = begin + int(res.get("walltime", 0))
                    if begin < start + duration and start < finish:
                        ends.append(finish)
                        jobs.append(f"{res.get('uid')} ({res.get('user', '?')})")
                if ends:
                    blocked[node] = (max(ends), jobs)
                else:
                    free.add(node)
            missing = [s for s in servers if s not in free]
            if len(free) >= count and not missing:
                continue
            need = count - len(free)
            releases = sorted(end for end, _ in blocked.values())
            hint = releases[need - 1] if 0 < need <= len(releases) else None
            if need > len(releases):
                hint = None
            for server in missing:
                if server in blocked:
                    hint = max(hint or 0.0, blocked[server][0])
            jobs = sorted({j for _, js in blocked.values() for j in js})
            reason = (f"{site}/{cluster}: {len(free)} of {count} node(s) free for "
                      f"{format_walltime(duration)} from {_utc(start)}")
            if missing:
                reason += f"; not free: {', '.join(missing)}"
            if jobs:
                reason += f"; busy with job(s) {', '.join(jobs[:5])}"
            if hint:
                reason += f" until {_utc(hint)} at least"
            return SlotCheck(ok=False, reason=reason, hint=hint)
        return SlotCheck(ok=True)

    def submit_jobs(self, resources: Sequence[Resource]) -> dict[str, int]:
        """Submit the job resources without waiting (EnOSlib's async reserve); a job of
        ours with the same name is reused. An OAR refusal raises InvalidReservationTime
        with the hinted (Europe/Paris, tz-aware) start."""
        uids: dict[str, int] = {}
        for resource in resources:
            if resource.kind != "g5k_job":
                continue
            inputs = resource.inputs
            site = inputs["site"]
            found = self.api.get(f"/sites/{site}/jobs", user=self.api.username,
                                 state=ACTIVE, name=inputs["name"])["items"]
            if found:
                uids[site] = min(i["uid"] for i in found)
                continue
            try:
                uids[site] = self.api.post(f"/sites/{site}/jobs", job_payload(inputs))["uid"]
            except ApiError as error:
                raise submit_error(error, site, inputs["resources"]) from None
        return uids

    def find_jobs(self, conf: G5kConf) -> dict[str, list[dict[str, Any]]]:
        """Our active jobs named like the conf's, per site."""
        name = self.job_name(conf)
        return {site: self.api.get(f"/sites/{site}/jobs", user=self.api.username,
                                   state=ACTIVE, name=name)["items"]
                for site in conf.sites}

    def kill_jobs(self, conf: G5kConf) -> None:
        for site, items in self.find_jobs(conf).items():
            for item in items:
                with contextlib.suppress(ApiError):
                    self.api.delete(f"/sites/{site}/jobs/{item['uid']}")

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, name: str, conf: G5kConf, records: Mapping[str, Record]
                  ) -> tuple[Roles, Networks]:
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
                        extra.update(gateway=conf.gateway, gateway_user=self.api.username)
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


def paris_expressible(epoch: float) -> bool:
    """Whether the Europe/Paris wall-clock string of `epoch` names it (not so in the
    second pass of the repeated hour in October, which OAR reads as the first)."""
    return paris_to_epoch(epoch_to_paris(epoch)) == int(epoch)


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


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


def job_attributes(job: Mapping[str, Any], inputs: Mapping[str, Any],
                   strict: bool) -> dict[str, Any]:
    """Attributes of a job: ids, times, nodes, vlans, subnets and the stored mappings."""
    by_type = job.get("resources_by_type", {}) or {}
    nodes = sorted(job.get("assigned_nodes", []))
    started = job.get("started_at") or None
    walltime = int(job.get("walltime", 0))
    running = job.get("state") == "running"
    attributes: dict[str, Any] = {
        "uid": job["uid"], "site": inputs["site"], "state": job.get("state"),
        "name": job.get("name"), "assigned_nodes": nodes,
        "vlans": sorted(str(v) for v in by_type.get("vlans", [])),
        "subnets": sorted(by_type.get("subnets", [])),
        "started_at": started, "scheduled_at": job.get("scheduled_at"),
        "walltime": walltime,
        "expires_at": float(started + walltime) if started and running else None,
    }
    groups = inputs.get("groups", [])
    mapping = map_nodes(nodes, groups, strict=strict) if running else [[] for _ in groups]
    attributes["groups"] = mapping
    for group, members in zip(groups, mapping, strict=True):
        key = f"nodes[{group['primary']}]"
        attributes[key] = sorted([*attributes.get(key, []), *members])
        for position, net_id in enumerate(group["secondary"]):
            skey = f"secondary[{net_id}]"
            attributes[skey] = sorted([*attributes.get(skey, []),
                                       *([n, position] for n in members)])
    pools: dict[str, list[str]] = {}
    for vlan in sorted(attributes["vlans"], key=lambda v: (len(v), v)):
        pools.setdefault(vlan_nature(vlan), []).append(vlan)
    slash22 = sorted(attributes["subnets"])
    for net in inputs.get("networks", []):
        if net["type"] in KAVLAN_TYPES:
            pool = pools.get(net["type"], [])
            if pool:
                attributes[f"vlan[{net['id']}]"] = pool.pop(0)
            elif strict and running:
                raise ProviderError(f"job {job['uid']} holds no {net['type']} vlan for "
                                    f"network {net['id']!r}")
        elif net["type"] in SUBNET_TYPES:
            take = 1 if net["type"] == "slash_22" else 64
            attributes[f"subnets[{net['id']}]"] = slash22[:take]
            del slash22[:take]
    return attributes


def job_payload(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The OAR submission body of a g5k_job's inputs."""
    payload: dict[str, Any] = {
        "name": inputs["name"], "types": list(inputs["types"]),
        "resources": f"{inputs['resources']},walltime={inputs['walltime']}",
        "command": "sleep 31536000", "queue": inputs["queue"]}
    for key in ("project", "reservation"):
        if inputs.get(key):
            payload[key] = inputs[key]
    return payload
