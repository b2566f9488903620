"""The `g5k_job` kind: one OAR job per site.

Identity: name + user + site (a job of ours with the stack's name is adopted, never
resubmitted). The walltime changes in place through the walltime endpoint; a job that
ended (walltime, killed) is drift whose reason says which and when. Refresh costs one
listing of our active jobs per site, plus a GET per recorded job only when it is gone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bedform.errors import (
    ApplyInterrupted,
    InvalidReservationTooOld,
    NotEnoughNodesError,
    ProviderError,
)
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.g5k.checks import check_oar_request
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
    format_walltime,
    walltime_seconds,
)
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import Wait, adopt_or_create, delete_if_present, poll
from bedform.state.model import Record

if TYPE_CHECKING:
    from bedform.providers.g5k.driver import G5kDriver  # noqa: F401 - in a string

ACTIVE = "waiting,launching,running"
QUEUED = ("waiting", "launching", "hold", "toLaunch", "toAckReservation")
ORIGIN = "origin=bedform"
SUBMIT_ONLY = "g5k_submit_only"
"""Driver option: submit (or adopt) jobs and stop there (EnOSlib's `async_init`)."""
QUEUE_WAIT = 6 * 3600
"""How long past its scheduled start (or its submission) a job may stay queued."""


class Submitted(ApplyInterrupted):
    """A job was submitted and checkpointed, and the run stops there on purpose: its
    record stays `pending_create` with the job id, so the next apply adopts it and
    waits for it, exactly as after an interrupted run."""


def find_jobs(api: Api, site: str, name: str | None = None) -> list[dict[str, Any]]:
    """Our active jobs on `site` (named `name` when given), one listing call."""
    query: dict[str, Any] = {"user": api.username, "state": ACTIVE}
    if name is not None:
        query["name"] = name
    items = api.get(f"/sites/{site}/jobs", resources="yes", limit=500, **query)["items"]
    return [item for item in items if name is None or item.get("name", name) == name]


def oldest_uid(items: Sequence[Mapping[str, Any]]) -> int | None:
    """The uid of the first submitted job among `items` (the one a reload adopts)."""
    return min((item["uid"] for item in items), default=None)


def vlan_nature(vlan_id: str) -> str:
    """kavlan-local (1-3), kavlan (4-9) or kavlan-global, from a vlan number."""
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


def submit(api: Api, site: str, inputs: Mapping[str, Any],
           progress: Any = None) -> int:
    """Submit a job; a reservation date that has passed means "start now".

    That happens when a job of a reserved set is re-created (one site's job expired or
    was killed while the others live): its inputs keep the set's recorded start, which
    OAR now refuses as too old.
    """
    payload = job_payload(inputs)
    check_oar_request(payload, site)
    try:
        return api.post(f"/sites/{site}/jobs", payload)["uid"]
    except ApiError as error:
        failure = submit_error(error, site, inputs["resources"])
        if not (isinstance(failure, InvalidReservationTooOld) and "reservation" in payload):
            raise failure from None
    if progress is not None:
        progress(f"the reservation {payload.pop('reservation')} (Europe/Paris) has "
                 "passed: submitting the job to start now")
    else:
        payload.pop("reservation")
    try:
        return api.post(f"/sites/{site}/jobs", payload)["uid"]
    except ApiError as error:
        raise submit_error(error, site, inputs["resources"]) from None


def job_site(record: Record) -> str:
    """The site of a job record (inputs, or identity for a bare pending record)."""
    return record.inputs.get("site") or record.identity["site"]


class JobKind(KindHandler["G5kDriver"]):
    """OAR jobs (see the module docstring)."""

    spec = KindSpec("g5k_job", updatable={"walltime"}, expires=True,
                    update_changes={"walltime", "expires_at"},
                    description="OAR job, one per site")
    import_format = "the OAR job id on the site of the resource, e.g. 2154321"

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        api = self.driver.api
        listings = {site: {item["uid"]: item for item in find_jobs(api, site)}
                    for site in sorted({job_site(r) for r in records})}
        result: dict[str, Observed] = {}
        for record in records:
            site = job_site(record)
            listing = listings[site]
            uid = record.attributes.get("uid")
            item = listing.get(uid) if uid is not None else None
            if item is None and uid is None:
                named = [i for i in listing.values()
                         if i.get("name") == record.identity.get("name")]
                item = listing.get(oldest_uid(named)) if named else None
            if item is None:
                result[record.address] = self._gone(site, uid)
                continue
            attributes = job_attributes(item, record.inputs, strict=False)
            result[record.address] = Observed(alive=True, attributes=attributes,
                                              expires_at=attributes.get("expires_at"))
        return result

    def _gone(self, site: str, uid: int | None) -> Observed:
        if uid is None:
            return Observed(alive=False, reason="not found")
        try:
            job = self.driver.api.get(f"/sites/{site}/jobs/{uid}")
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

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        site, name = inputs["site"], inputs["name"]
        api = self.driver.api
        uid = adopt_or_create(
            ctx, "uid", find=lambda: oldest_uid(find_jobs(api, site, name)),
            create=lambda: submit(api, site, inputs, ctx.progress),
            label=f"job named {name!r} on {site}", extra={"site": site})
        if self.driver.context.options.get(SUBMIT_ONLY):
            raise Submitted(f"job {uid} submitted on {site}; the next apply waits for it")
        job = self.wait_running(ctx, site, uid, inputs.get("reservation"))
        attributes = job_attributes(job, inputs, strict=True)
        attributes["site_info"] = self.driver.site_info(site)
        return attributes

    def wait_running(self, ctx: ApplyContext, site: str, uid: int,
                     reservation: str | None = None) -> dict[str, Any]:
        """Poll job `uid` until it runs (bounded: QUEUE_WAIT past its reserved start)."""
        api = self.driver.api
        start = paris_to_epoch(reservation) if reservation else time.time()
        wait = Wait(
            what=f"job {uid} on {site} to run", pending=QUEUED, target={"running"},
            timeout=max(0.0, start - time.time()) + QUEUE_WAIT,
            hint=f"Job {uid} stays reserved in the OAR queue and recorded in the state: "
                 "`bedform apply` waits for it again, `bedform destroy` cancels it.")

        def read() -> tuple[dict[str, Any] | None, str | None]:
            try:
                job = api.get(f"/sites/{site}/jobs/{uid}")
            except ApiError as error:
                if error.status == 404:
                    return None, None
                raise
            return job, job["state"]

        def describe(job: Mapping[str, Any], state: str) -> str:
            if job.get("scheduled_at"):
                return (f"job {uid} {state}, scheduled at "
                        f"{epoch_to_paris(job['scheduled_at'])} Europe/Paris")
            return f"job {uid} {state}"
        return poll(ctx, wait, read, describe)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        api = self.driver.api
        site, uid = resource.inputs["site"], record.attributes["uid"]
        new = walltime_seconds(resource.inputs["walltime"])
        old = walltime_seconds(record.inputs["walltime"])
        job = api.get(f"/sites/{site}/jobs/{uid}")
        delta = new - int(job.get("walltime", old))
        if delta:
            sign = "+" if delta > 0 else "-"
            api.post(f"/sites/{site}/jobs/{uid}/walltime",
                     {"walltime": sign + format_walltime(abs(delta))})
            job = api.get(f"/sites/{site}/jobs/{uid}")
            if int(job.get("walltime", 0)) != new:
                status = api.get(f"/sites/{site}/jobs/{uid}/walltime")
                raise ProviderError(
                    f"walltime of job {uid} is {format_walltime(int(job['walltime']))}, "
                    f"not {resource.inputs['walltime']}: OAR granted part of the change "
                    f"({status.get('pending', 'pending')} pending)" if isinstance(status, dict)
                    else f"walltime change of job {uid} not granted")
        return job_attributes(job, resource.inputs, strict=False)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        uid = record.attributes.get("uid")
        if uid is None:
            return
        site = job_site(record)
        delete_if_present(
            lambda: self.driver.api.delete(f"/sites/{site}/jobs/{uid}"),
            gone=lambda error: isinstance(error, ApiError) and (
                error.status in (400, 404) or "already killed" in error.detail))

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        site = resource.inputs["site"]
        try:
            job = self.driver.api.get(f"/sites/{site}/jobs/{int(remote_id)}")
        except (ApiError, ValueError):
            raise ProviderError(f"no job {remote_id} on {site}",
                                hint=f"REMOTE_ID is {self.import_format}.") from None
        return {**job_attributes(job, resource.inputs, strict=False),
                "site_info": self.driver.site_info(site)}
