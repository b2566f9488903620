"""The mutable state of the emulated testbed and the rules that change it.

OAR jobs, kadeploy deployments, KaVLAN memberships, firewall openings and
storage accesses, per site, driven by a virtual clock. Nothing runs in the
background: every access first calls :meth:`Testbed.sync`, which replays the
transitions due since the last access in time order (jobs start, become
running, reach their walltime; deployments finish). All public methods take
the testbed lock.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .oarsql import FilterSyntaxError, compile_filter
from .reference import ReferenceData, fqdn
from .resources import ResourceRequest, ResourceSyntaxError, format_duration, parse_resources
from .scheduler import (
    AdmissionError,
    Allocation,
    Constraints,
    Occupant,
    Prepared,
    SitePlanner,
    busy_during,
    find_slot,
)

PARIS = ZoneInfo("Europe/Paris")
ACTIVE_STATES = ("waiting", "launching", "running")
QUEUES = {"admin": 10, "default": 5, "production": 5, "abaca": 5, "testing": 5, "besteffort": 0}
DEFAULT_WALLTIME = 3600
#: A reservation that starts less than this before "now" is moved to now.
RESERVATION_TOLERANCE = 60.0
_DATE = re.compile(
    r"^\s*(\d{4})-(0?[0-9]|1[0-2])-(0?[1-9]|[12][0-9]|3[01])\s+"
    r"(0?[0-9]|1[0-9]|2[0-3])(?::(0?[0-9]|[1-5][0-9])(?::(0?[0-9]|[1-5][0-9]))?)?\s*$"
)
_TIME = re.compile(
    r"^\s*(0?[0-9]|1[0-9]|2[0-3])(?::(0?[0-9]|[1-5][0-9])(?::(0?[0-9]|[1-5][0-9]))?)?\s*$"
)


class TestbedError(Exception):
    """An API error raised by the testbed: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def paris_time(epoch: float) -> str:
    """Epoch → ``YYYY-MM-DD HH:MM:SS`` in Europe/Paris (how OAR prints dates)."""
    return datetime.fromtimestamp(int(epoch), PARIS).strftime("%Y-%m-%d %H:%M:%S")


def parse_paris(text: str, now: float) -> float:
    """A reservation date (Europe/Paris wall clock, or ``hh:mm[:ss]`` today, or ``now``)."""
    text = text.strip()
    if text == "now":
        return now
    m = _DATE.match(text)
    if m:
        y, mo, d, h, mi, s = (int(g or 0) for g in m.groups())
        return datetime(y, mo, d, h, mi, s, tzinfo=PARIS).timestamp()
    m = _TIME.match(text)
    if m:
        h, mi, s = (int(g or 0) for g in m.groups())
        today = datetime.fromtimestamp(now, PARIS)
        return today.replace(hour=h, minute=mi, second=s, microsecond=0).timestamp()
    raise ValueError(text)


@dataclass
class Job:
    """An OAR job."""

    uid: int
    site: str
    user: str
    queue: str
    types: list[str]
    command: str
    walltime: int
    submitted_at: float
    request: ResourceRequest
    prepared: Prepared
    constraints: Constraints
    name: str | None = None
    project: str | None = None
    properties: str = ""
    reservation: float | None = None
    state: str = "waiting"
    scheduled_at: float | None = None
    started_at: float = 0.0
    stopped_at: float | None = None
    alloc: Allocation | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    fail_at_launch: bool = False
    wt_granted: int = 0
    wt_pending: int = 0
    wt_whole: bool = False
    wt_delay_next: bool = False

    @property
    def active(self) -> bool:
        """Waiting, launching or running."""
        return self.state in ACTIVE_STATES

    @property
    def start(self) -> float | None:
        """Actual start, or predicted start, or ``None``."""
        return self.started_at if self.started_at else self.scheduled_at

    @property
    def end(self) -> float | None:
        """End of the walltime (actual or predicted)."""
        start = self.start
        return None if start is None else start + self.walltime

    def occupant(self) -> Occupant | None:
        """The job's place in the gantt chart, if it has one."""
        if not self.active or self.alloc is None or self.start is None:
            return None
        return Occupant(self.start, self.start + self.walltime, self.alloc)


@dataclass
class Deployment:
    """A kadeploy deployment."""

    uid: str
    site: str
    user: str
    environment: str
    nodes: list[str]
    created_at: float
    done_at: float
    options: dict[str, Any]
    status: str = "processing"
    updated_at: float = 0.0
    result: dict[str, dict[str, Any]] | None = None
    output: str | None = None
    ko_nodes: set[str] = field(default_factory=set)
    force_error: bool = False
    public_key: str | None = None  # the key given inline (the box installs it for root)


@dataclass
class _SiteState:
    planner: SitePlanner
    next_uid: int
    jobs: dict[int, Job] = field(default_factory=dict)
    active: dict[int, Job] = field(default_factory=dict)
    next_event: int = 1
    deployments: dict[str, Deployment] = field(default_factory=dict)
    next_deployment: int = 1
    #: interface name -> (host fqdn, device, primary)
    interfaces: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    vlan_of: dict[str, str] = field(default_factory=dict)
    vlan_grants: dict[str, set[str]] = field(default_factory=dict)
    firewall: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    storage: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    next_storage: int = 1
    dead: set[str] = field(default_factory=set)


class Testbed:
    """All sites' jobs, deployments and network state, on a virtual clock."""

    def __init__(
        self,
        reference: ReferenceData,
        clock: Any,
        admins: Iterable[str] = (),
        launch_seconds: float = 5.0,
        deploy_seconds: float = 120.0,
        first_job_uid: int = 1_000_001,
    ) -> None:
        self.ref = reference
        self.clock = clock
        self.admins = set(admins)
        self.launch_seconds = float(launch_seconds)
        self.deploy_seconds = float(deploy_seconds)
        self.first_job_uid = int(first_job_uid)
        self.lock = threading.RLock()
        self.sites: dict[str, _SiteState] = {}
        #: nodes broken on purpose (the box's controls): every deployment on them fails
        self.broken: set[str] = set()
        self._faults: list[dict[str, Any]] = []
        self._next_fault = 1
        self.reset()

    # ------------------------------------------------------------------ setup
    def reset(self) -> None:
        """Forget every job, deployment, vlan membership, fault and broken node."""
        with self.lock:
            self.sites = {}
            self.broken = set()
            for uid, index in self.ref.index.items():
                state = _SiteState(SitePlanner(index), self.first_job_uid)
                for host in index.hosts:
                    for name, device, primary in host.interfaces:
                        state.interfaces[name] = (host.fqdn, device, primary)
                self.sites[uid] = state
            self._faults = []

    def site(self, uid: str) -> _SiteState:
        """A site's state, or 404."""
        try:
            return self.sites[uid]
        except KeyError:
            raise TestbedError(404, f"Cannot find resource /sites/{uid}") from None

    def now(self) -> float:
        """Current virtual time."""
        return self.clock.now()

    def is_admin(self, user: str | None) -> bool:
        """Whether a user bypasses ownership checks."""
        return user is not None and user in self.admins

    # ------------------------------------------------------------------ time
    def sync(self) -> float:
        """Apply every transition due up to now; return now."""
        with self.lock:
            now = self.now()
            self._advance(now)
            return now

    def _next_transition(self) -> tuple[float, str, Any] | None:
        """The earliest pending transition; at equal times ends come first."""
        order = {"end": 0, "deployed": 1, "start": 2, "running": 3}
        best: tuple[float, int, str, str, Any] | None = None
        for site_uid, site in self.sites.items():
            for job in site.active.values():
                if job.state == "waiting":
                    if job.scheduled_at is None:
                        continue
                    when, what = job.scheduled_at, "start"
                elif job.state == "launching":
                    end = job.started_at + job.walltime
                    ready = job.started_at + self.launch_seconds
                    when, what = (ready, "running") if ready < end else (end, "end")
                else:
                    when, what = job.started_at + job.walltime, "end"
                key: tuple[float, int, str, str, Any] = (
                    when, order[what], site_uid, f"{job.uid:012d}", job)
                if best is None or key[:4] < best[:4]:
                    best = key
            for dep in site.deployments.values():
                if dep.status == "processing":
                    key = (dep.done_at, order["deployed"], site_uid, dep.uid, dep)
                    if best is None or key[:4] < best[:4]:
                        best = key
        if best is None:
            return None
        when, rank, _site, _uid, obj = best
        return when, next(k for k, v in order.items() if v == rank), obj

    def _advance(self, now: float) -> None:
        while True:
            item = self._next_transition()
            if item is None or item[0] > now:
                return
            when, what, obj = item
            if what == "start":
                self._start(obj, when)
            elif what == "running":
                obj.state = "running"
            elif what == "end":
                self._event(
                    obj,
                    when,
                    "WALLTIME",
                    f"[sarko] Job [{obj.uid}] from "
                    f"{int(obj.started_at)} with {obj.walltime}; current time="
                    f"{int(when)} (Elapsed)",
                )
                self._finish(obj, when, reschedule=False)
            else:
                self._deployment_done(obj, when)

    def _start(self, job: Job, when: float) -> None:
        job.started_at = when
        job.scheduled_at = when
        if job.fail_at_launch:
            self._event(
                job, when, "SWITCH_INTO_ERROR_STATE", "Job failed at launch (injected fault)"
            )
            self._finish(job, when, reschedule=True)
            return
        job.state = "launching" if self.launch_seconds > 0 else "running"

    def _event(self, job: Job, when: float, kind: str, description: str) -> None:
        site = self.sites[job.site]
        job.events.append(
            {
                "uid": site.next_event,
                "created_at": int(when),
                "type": kind,
                "description": description,
                "to_check": "NO",
            }
        )
        site.next_event += 1

    def _finish(self, job: Job, when: float, reschedule: bool) -> None:
        """End a job (walltime, kill or error) and release what it held."""
        site = self.sites[job.site]
        if job.started_at:
            job.stopped_at = when
        job.state = "error"
        site.active.pop(job.uid, None)
        self._release(job)
        if reschedule:
            self._reschedule(job.site, when)

    def _release(self, job: Job) -> None:
        site = self.sites[job.site]
        if job.alloc is not None:
            hosts = set(job.alloc.hosts)
            for name, (host, _device, _primary) in site.interfaces.items():
                if host in hosts:
                    site.vlan_of.pop(name, None)
            for vid in job.alloc.vlans:
                scope = self.sites.values() if self.ref.global_vlan_owner.get(vid) else [site]
                for other in scope:
                    for name in [n for n, v in other.vlan_of.items() if v == vid]:
                        del other.vlan_of[name]
        site.firewall.pop(job.uid, None)
        for accesses in site.storage.values():
            for key in [
                k for k, v in accesses.items() if v.get("termination", {}).get("job") == job.uid
            ]:
                del accesses[key]

    # ------------------------------------------------------------ scheduling
    def _occupants(
        self, site_uid: str, skip: Job | None = None, fixed_only: bool = False
    ) -> list[Occupant]:
        result = []
        for job in self.sites[site_uid].active.values():
            if job is skip:
                continue
            if fixed_only and job.state == "waiting" and job.reservation is None:
                continue
            occ = job.occupant()
            if occ is not None:
                result.append(occ)
        return result

    def _reschedule(self, site_uid: str, now: float) -> None:
        """Recompute predictions of waiting batch jobs (conservative backfilling)."""
        site = self.sites[site_uid]
        for job in site.active.values():
            if job.state == "running" and job.wt_pending > 0:
                self._grant_walltime(job, now)
        batch = sorted(
            (j for j in site.active.values() if j.state == "waiting" and j.reservation is None),
            key=lambda j: (-QUEUES.get(j.queue, 0), j.uid),
        )
        for job in batch:
            job.scheduled_at, job.alloc = None, None
        occupants = self._occupants(site_uid)
        for job in batch:
            slot = find_slot(site.planner, job.prepared, occupants, now, job.walltime)
            if slot is not None:
                job.scheduled_at, job.alloc = slot
                occupants.append(Occupant(slot[0], slot[0] + job.walltime, slot[1]))

    # ------------------------------------------------------------------ jobs
    def _take_job_fault(self, site: str, name: str | None) -> bool:
        for fault in self._faults:
            if fault["kind"] != "job_error":
                continue
            if fault.get("site") not in (None, site):
                continue
            if fault.get("name") is not None and not re.search(fault["name"], name or ""):
                continue
            self._consume(fault)
            return True
        return False

    def _consume(self, fault: dict[str, Any]) -> None:
        if fault.get("count") is not None:
            fault["count"] -= 1
            if fault["count"] <= 0:
                self._faults.remove(fault)

    def submit_job(self, site_uid: str, user: str, body: Mapping[str, Any]) -> Job:
        """``POST /sites/{site}/jobs``."""
        with self.lock:
            now = self.sync()
            site = self.site(site_uid)
            invalid = "The job you are trying to submit is not valid: "
            reservation = body.get("reservation")
            command = body.get("command")
            errors = []
            if reservation is None and not command:
                errors.append("you must give a :command to execute on launch")
            start = None
            if reservation is not None:
                if not isinstance(reservation, str):
                    errors.append("`reservation` should be a String.")
                else:
                    begin, _, finish = reservation.partition(",")
                    try:
                        start = parse_paris(begin, now)
                    except ValueError:
                        errors.append(
                            "Syntax error in reservation start date, should at least match the "
                            "format: 'YYYY-MM-DD hh:mm:ss'. Please see documentation for "
                            "available date syntaxes."
                        )
                    try:
                        stop = parse_paris(finish, now) if finish else None
                    except ValueError:
                        stop = None
                        errors.append(
                            "Syntax error in reservation end date, should at least match the "
                            "format: 'YYYY-MM-DD hh:mm:ss'. Please see documentation for "
                            "available date syntaxes."
                        )
            if errors:
                raise TestbedError(400, invalid + "; ".join(errors))
            types = body.get("types") or []
            if isinstance(types, str):
                types = [types]
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise TestbedError(400, invalid + "types must be a list of strings")
            queue = str(body.get("queue") or "default")
            if queue not in QUEUES:
                raise TestbedError(400, f"[ADMISSION RULE] Error: the queue {queue} does not exist")
            if queue == "admin" and not self.is_admin(user):
                raise TestbedError(
                    400, "[ADMISSION RULE] Error: only admins can submit to the admin queue"
                )
            try:
                request = parse_resources(body.get("resources"))
            except ResourceSyntaxError as exc:
                raise TestbedError(400, f"[oarsub] Bad resource request: {exc}") from None
            walltime = request.walltime
            if walltime is None and body.get("walltime") is not None:
                try:
                    walltime = int(body["walltime"])
                except (TypeError, ValueError):
                    walltime = None
            walltime = walltime or DEFAULT_WALLTIME
            if start is not None and reservation and "," in reservation and stop is not None:
                walltime = max(1, int(stop - start))
            properties = str(body.get("properties") or "")
            try:
                prop_filter = compile_filter(properties) if properties else None
            except FilterSyntaxError as exc:
                raise TestbedError(400, f"[oarsub] Bad properties: {exc}") from None
            constraints = Constraints(
                queue, tuple(types), walltime, prop_filter, frozenset(site.dead)
            )
            try:
                prepared = site.planner.prepare(request, constraints)
            except AdmissionError as exc:
                raise TestbedError(400, str(exc)) from None
            job = Job(
                uid=site.next_uid,
                site=site_uid,
                user=user,
                queue=queue,
                types=list(types),
                command=str(command or ""),
                walltime=walltime,
                submitted_at=now,
                request=request,
                prepared=prepared,
                constraints=constraints,
                name=None if body.get("name") is None else str(body["name"]),
                project=None if body.get("project") is None else str(body["project"]),
                properties=properties,
            )
            not_enough = "There are not enough resources for your request"
            if start is not None:
                if start < now - RESERVATION_TOLERANCE:
                    raise TestbedError(
                        400,
                        f"[ADMISSION RULE] Reservation too old: {paris_time(start)} is before "
                        f"now ({paris_time(now)})",
                    )
                start = max(start, now)
                fixed = self._occupants(site_uid, fixed_only=True)
                slot = find_slot(site.planner, prepared, fixed, start, walltime)
                if slot is None:
                    raise TestbedError(400, f"{not_enough}\nReservation not valid --> KO")
                if slot[0] > start:
                    raise TestbedError(
                        400,
                        "Reservation mode: waiting validation...\n"
                        "Reservation not valid --> KO (This reservation could run at "
                        f"{paris_time(slot[0])})",
                    )
                job.reservation = start
                job.scheduled_at, job.alloc = slot
            else:
                slot = find_slot(site.planner, prepared, self._occupants(site_uid), now, walltime)
                if slot is None:
                    raise TestbedError(400, f"[ADMISSION RULE] {not_enough}")
                job.scheduled_at, job.alloc = slot
            job.fail_at_launch = self._take_job_fault(site_uid, job.name)
            site.next_uid += 1
            site.jobs[job.uid] = job
            site.active[job.uid] = job
            if job.reservation is not None:
                self._reschedule(site_uid, now)
            self._advance(now)
            return job

    def job(self, site_uid: str, uid: Any) -> Job:
        """One job, or 404 as g5k-api words it."""
        site = self.site(site_uid)
        try:
            return site.jobs[int(uid)]
        except (KeyError, ValueError, TypeError):
            raise TestbedError(404, f"Couldn't find OAR::Job with 'job_id'={uid}") from None

    def list_jobs(self, site_uid: str, query: Mapping[str, str]) -> tuple[int, list[Job]]:
        """Jobs matching the list filters, newest first, with the total count."""
        with self.lock:
            self.sync()
            jobs = sorted(self.site(site_uid).jobs.values(), key=lambda j: -j.uid)
            if query.get("user"):
                jobs = [j for j in jobs if j.user == query["user"]]
            if query.get("name"):
                jobs = [j for j in jobs if j.name == query["name"]]
            if query.get("project"):
                jobs = [j for j in jobs if j.project == query["project"]]
            if query.get("queue"):
                jobs = [j for j in jobs if j.queue == query["queue"]]
            if query.get("job_id"):
                jobs = [j for j in jobs if str(j.uid) == str(query["job_id"])]
            if "state" in query:
                states = {s.strip().lower() for s in query["state"].split(",")}
                jobs = [j for j in jobs if j.state in states]
            return len(jobs), jobs

    def delete_job(self, site_uid: str, uid: Any, user: str) -> Job:
        """``DELETE /sites/{site}/jobs/{uid}`` (oardel)."""
        with self.lock:
            now = self.sync()
            job = self.job(site_uid, uid)
            if job.user != user and not self.is_admin(user):
                raise TestbedError(403, "You are not authorized to access this resource")
            if not job.active:
                raise TestbedError(400, f"Cannot frag {job.uid} ; This job was already killed.")
            self._event(
                job, now, "FRAG_JOB_REQUEST", f"User {user} requested to frag the job {job.uid}"
            )
            self._finish(job, now, reschedule=True)
            return job

    def fail_job(self, site_uid: str, uid: Any) -> Job:
        """Put an active job in error now (an outside event, for drift tests)."""
        with self.lock:
            now = self.sync()
            job = self.job(site_uid, uid)
            if job.active:
                self._event(
                    job, now, "SWITCH_INTO_ERROR_STATE", "Job switched to error (injected fault)"
                )
                self._finish(job, now, reschedule=True)
            return job

    # -------------------------------------------------------------- walltime
    def walltime_info(self, site_uid: str, uid: Any) -> dict[str, Any]:
        """``GET /sites/{site}/jobs/{uid}/walltime``."""
        with self.lock:
            self.sync()
            site = self.site(site_uid)
            job = site.jobs.get(int(uid)) if str(uid).isdigit() else None
            if job is None:
                raise TestbedError(404, f"Job id '{uid}' cannot be found.")
            forbidden = "FORBIDDEN" if not self.is_admin(job.user) else "NO"
            return {
                "walltime": format_duration(job.walltime),
                "possible": "UNLIMITED",
                "timeout": "0:0:0",
                "force": forbidden,
                "delay_next_jobs": "YES" if job.wt_delay_next else forbidden,
                "whole": "YES" if job.wt_whole else "NO",
                "granted": format_duration(job.wt_granted, sign=bool(job.wt_granted)),
                "pending": format_duration(job.wt_pending, sign=bool(job.wt_pending)),
                "granted_with_force": "0:0:0",
                "granted_with_whole": (
                    format_duration(job.wt_granted, sign=bool(job.wt_granted))
                    if job.wt_whole
                    else "0:0:0"
                ),
                "granted_with_delay_next_jobs": (
                    format_duration(job.wt_granted, sign=bool(job.wt_granted))
                    if job.wt_delay_next
                    else "0:0:0"
                ),
            }

    def change_walltime(self, site_uid: str, uid: Any, user: str, body: Any) -> str:
        """``POST /sites/{site}/jobs/{uid}/walltime``; returns OAR's message."""
        invalid = "The job walltime change you are trying to submit is not valid: "
        if not isinstance(body, dict):
            raise TestbedError(400, invalid + "you must give a new walltime")
        errors = []
        walltime = body.get("walltime")
        if walltime in (None, ""):
            errors.append("you must give a new walltime")
        elif not isinstance(walltime, str):
            errors.append("new walltime must be a String")
        if body.get("timeout") not in (None, "") and not isinstance(body.get("timeout"), int):
            errors.append("timeout must be an Integer")
        flags = ("delay_next_jobs", "force", "whole")
        if any(body.get(f) is not None and not isinstance(body.get(f), bool) for f in flags):
            errors.append("delay_next_jobs, force, whole must be a Boolean")
        if errors:
            raise TestbedError(400, invalid + "; ".join(errors))
        m = re.fullmatch(r"\s*([+-]?)(\d+)(?::(\d+))?(?::(\d+))?\s*", str(walltime))
        if not m:
            raise TestbedError(400, f"Bad walltime change {walltime!r}, expected [+-]h[:m[:s]]")
        amount = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0)
        with self.lock:
            now = self.sync()
            site = self.site(site_uid)
            job = site.jobs.get(int(uid)) if str(uid).isdigit() else None
            if job is None:
                raise TestbedError(404, f"Job id '{uid}' cannot be found.")
            admin = self.is_admin(user)
            if job.user != user and not admin:
                raise TestbedError(403, f"Job {job.uid} does not belong to you")
            if job.state != "running":
                raise TestbedError(403, f"Job {job.uid} is not running")
            if body.get("force") and not admin:
                raise TestbedError(403, "Walltime change for this job is not allowed to be forced")
            if body.get("delay_next_jobs") and not admin:
                raise TestbedError(
                    403, "Walltime change for this job is not allowed to delay other jobs"
                )
            sign = m.group(1)
            target = job.walltime + job.wt_pending
            if sign == "+":
                target += amount
            elif sign == "-":
                target -= amount
            else:
                target = amount
            job.wt_whole = bool(body.get("whole"))
            job.wt_delay_next = bool(body.get("delay_next_jobs"))
            delta = target - job.walltime
            if delta <= 0:
                job.wt_pending = 0
                job.walltime = max(int(now - job.started_at) + 1, target)
                job.wt_granted += delta
                self._reschedule(site_uid, now)
            else:
                job.wt_pending = delta
                self._grant_walltime(job, now)
                self._reschedule(site_uid, now)
            self._advance(now)
            return f"Walltime change request updated for job {job.uid}, it will be handled shortly"

    def _grant_walltime(self, job: Job, now: float) -> None:
        """Grant as much of the pending extension as the next jobs allow."""
        if job.alloc is None or job.end is None:
            return
        end = job.end
        limit: float | None = None
        others = self._occupants(job.site, skip=job, fixed_only=job.wt_delay_next)
        mine = Allocation(
            dict(job.alloc.cores),
            list(job.alloc.disks),
            list(job.alloc.vlans),
            list(job.alloc.subnets),
        )
        for occ in others:
            if occ.end <= end:
                continue
            busy = busy_during([occ], occ.start, occ.end)
            shared = (
                any(busy.cores.get(h, set()) & set(c) for h, c in mine.cores.items())
                or busy.disks & set(mine.disks)
                or busy.vlans & set(mine.vlans)
                or busy.subnets & set(mine.subnets)
            )
            if shared:
                room = max(0.0, occ.start - end)
                limit = room if limit is None else min(limit, room)
        grant = job.wt_pending if limit is None else min(job.wt_pending, int(limit))
        if job.wt_whole and grant < job.wt_pending:
            grant = 0
        if grant > 0:
            job.walltime += grant
            job.wt_granted += grant
            job.wt_pending -= grant

    # ---------------------------------------------------------- deployments
    def _holder(self, site_uid: str, host: str) -> Job | None:
        for job in self.sites[site_uid].active.values():
            if job.state in ("launching", "running") and job.alloc and host in job.alloc.cores:
                return job
        return None

    def has_vlan(self, user: str | None, site_uid: str, vid: str) -> bool:
        """Whether a user may put nodes in ``vid`` (holds it in a running job)."""
        if vid == "DEFAULT" or self.is_admin(user):
            return True
        if user is None:
            return False
        owner = self.ref.vlan_owner(site_uid, vid)
        if user in self.sites[site_uid].vlan_grants.get(vid, set()):
            return True
        return any(
            job.user == user
            and job.state in ("launching", "running")
            and job.alloc
            and vid in job.alloc.vlans
            for job in self.sites[owner].active.values()
        )

    def create_deployment(self, site_uid: str, user: str, body: Any, files_url: str) -> Deployment:
        """``POST /sites/{site}/deployments``."""
        invalid = "The deployment you are trying to submit is not valid: "
        if not isinstance(body, dict):
            raise TestbedError(400, invalid + "the body must be a JSON object")
        nodes = body.get("nodes")
        errors = []
        if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
            errors.append("nodes must be a non-empty list of node FQDN")
        if not body.get("environment"):
            errors.append("environment can't be blank")
        if errors:
            raise TestbedError(400, invalid + "; ".join(errors))
        assert isinstance(nodes, list)  # checked above
        with self.lock:
            now = self.sync()
            site = self.site(site_uid)
            launch = "Cannot launch deployment: Kadeploy error: "
            unknown = [
                n
                for n in nodes
                if self.ref.host_by_fqdn.get(n) is None or self.ref.host_by_fqdn[n].site != site_uid
            ]
            if unknown:
                raise TestbedError(400, launch + f"the nodes {', '.join(unknown)} do not exist")
            if not self.is_admin(user):
                denied = [
                    n
                    for n in nodes
                    if (holder := self._holder(site_uid, n)) is None
                    or holder.user != user
                    or "deploy" not in holder.types
                ]
                if denied:
                    raise TestbedError(
                        403,
                        launch + "You do not have the rights to deploy on the nodes "
                        f"{', '.join(denied)} (they must be in one of your running deploy jobs)",
                    )
            vlan = body.get("vlan")
            if vlan not in (None, ""):
                vlan = str(vlan)
                if self.ref.vlan_type(site_uid, vlan) is None:
                    raise TestbedError(400, launch + f"Vlan {vlan} does not exist")
                if not self.has_vlan(user, site_uid, vlan):
                    raise TestbedError(403, launch + f"You do not have the rights on vlan {vlan}")
            options = {
                k: body[k]
                for k in (
                    "version",
                    "arch",
                    "partition_label",
                    "block_device",
                    "reformat_tmp",
                    "reboot_classical_timeout",
                    "reboot_kexec_timeout",
                )
                if body.get(k) is not None
            }
            if "version" in options:
                options["version"] = str(options["version"])
            for flag in (
                "disable_disk_partitioning",
                "disable_bootloader_install",
                "ignore_nodes_deploying",
            ):
                options[flag] = bool(body.get(flag, False))
            if vlan not in (None, ""):
                options["vlan"] = int(vlan) if str(vlan).isdigit() else vlan
            key = body.get("key")
            if key:
                if re.match(r"^https?://", str(key)):
                    options["key"] = key
                else:
                    digest = hashlib.sha1(str(key).encode()).hexdigest()
                    options["key"] = f"{files_url}/{user}-key-{digest}"
            number = site.next_deployment
            site.next_deployment += 1
            raw = hashlib.sha1(f"{site_uid}/{number}".encode()).digest()[:16]
            dep = Deployment(
                uid=f"D-{uuid.UUID(bytes=raw)}",
                site=site_uid,
                user=user,
                environment=str(body["environment"]),
                nodes=list(dict.fromkeys(nodes)),
                created_at=now,
                done_at=now + self.deploy_seconds,
                options=options,
                updated_at=now,
                public_key=str(key) if key and not re.match(r"^https?://", str(key)) else None,
            )
            for fault in list(self._faults):
                if fault["kind"] == "deploy_ko" and set(fault["nodes"]) & set(dep.nodes):
                    dep.ko_nodes |= set(fault["nodes"]) & set(dep.nodes)
                    self._consume(fault)
                elif fault["kind"] == "deploy_error" and not dep.force_error:
                    dep.force_error = True
                    self._consume(fault)
            site.deployments[dep.uid] = dep
            return dep

    def _deployment_done(self, dep: Deployment, when: float) -> None:
        dep.updated_at = when
        if dep.force_error:
            dep.status = "error"
            dep.output = "Kadeploy error: the deployment workflow failed (injected fault)"
            return
        site = self.sites[dep.site]
        vlan = dep.options.get("vlan")
        result = {}
        for node in dep.nodes:
            holder = self._holder(dep.site, node)
            ok = (
                node not in dep.ko_nodes
                and node not in site.dead
                and node not in self.broken
                and (self.is_admin(dep.user) or (holder is not None and holder.user == dep.user))
            )
            result[node] = {
                "state": "OK" if ok else "KO",
                "macro": None if ok else "SetDeploymentEnv",
                "micro": None if ok else "reboot",
                "breakpoint": False,
            }
            if ok and vlan is not None:
                for name, (host, _dev, primary) in site.interfaces.items():
                    if host == node and primary:
                        site.vlan_of[name] = str(vlan)
        dep.result = result
        dep.status = "terminated"

    def deployment(self, site_uid: str, uid: str) -> Deployment:
        """One deployment, or 404."""
        with self.lock:
            self.sync()
            site = self.site(site_uid)
            if uid not in site.deployments:
                raise TestbedError(404, f"Couldn't find Grid5000::Deployment with 'uid'={uid}")
            return site.deployments[uid]

    def cancel_deployment(self, site_uid: str, uid: str, user: str) -> Deployment:
        """``DELETE /sites/{site}/deployments/{uid}``."""
        with self.lock:
            now = self.sync()
            dep = self.deployment(site_uid, uid)
            if dep.user != user and not self.is_admin(user):
                raise TestbedError(403, "You are not authorized to access this resource")
            if dep.status == "processing":
                dep.status = "canceled"
                dep.updated_at = now
            return dep

    # ----------------------------------------------------------------- vlans
    def vlan_of(self, site_uid: str, iface: str) -> str:
        """The vlan of an interface (``DEFAULT`` when in the production network)."""
        return self.sites[site_uid].vlan_of.get(iface, "DEFAULT")

    def set_vlan_nodes(
        self, site_uid: str, vid: str, user: str | None, names: Sequence[str]
    ) -> dict[str, str]:
        """``POST /sites/{site}/vlans/{id}/nodes``: ``ok``, ``unknown_node`` or ``unchanged``."""
        with self.lock:
            self.sync()
            site = self.site(site_uid)
            if not self.has_vlan(user, site_uid, vid):
                raise TestbedError(403, "Not enough privileges on Kavlan resources")
            if not self.is_admin(user):
                for name in names:
                    if name in site.interfaces:
                        holder = self._holder(site_uid, site.interfaces[name][0])
                        if holder is None or holder.user != user:
                            raise TestbedError(403, "Not enough privileges on Kavlan resources")
            result = {}
            for name in names:
                if name not in site.interfaces:
                    result[name] = "unknown_node"
                elif self.vlan_of(site_uid, name) == vid:
                    result[name] = "unchanged"
                else:
                    if vid == "DEFAULT":
                        site.vlan_of.pop(name, None)
                    else:
                        site.vlan_of[name] = vid
                    result[name] = "ok"
            return result

    def vlan_users(self, site_uid: str) -> dict[str, list[str]]:
        """User → vlan ids of this site they have rights on."""
        with self.lock:
            self.sync()
            site = self.site(site_uid)
            users: dict[str, set[str]] = {}
            for vid in site.planner.index.vlans:
                if vid == "DEFAULT":
                    continue
                owner = self.ref.vlan_owner(site_uid, vid)
                for job in self.sites[owner].active.values():
                    if (
                        job.state in ("launching", "running")
                        and job.alloc
                        and vid in job.alloc.vlans
                    ):
                        users.setdefault(job.user, set()).add(vid)
                for user in site.vlan_grants.get(vid, set()):
                    users.setdefault(user, set()).add(vid)
            return {u: sorted(v, key=int) for u, v in sorted(users.items())}

    def grant_vlan(self, site_uid: str, vid: str, caller: str, user: str, allow: bool) -> None:
        """``PUT``/``DELETE /sites/{site}/vlans/{id}/users/{user}``."""
        with self.lock:
            self.sync()
            if not self.has_vlan(caller, site_uid, vid):
                raise TestbedError(403, "Not enough privileges on Kavlan resources")
            grants = self.site(site_uid).vlan_grants.setdefault(vid, set())
            if allow:
                grants.add(user)
            else:
                grants.discard(user)

    # -------------------------------------------------------------- firewall
    def _owned_job(self, site_uid: str, uid: Any, user: str) -> Job:
        job = self.job(site_uid, uid)
        if job.user != user and not self.is_admin(user):
            raise TestbedError(403, f"Job {job.uid} does not belong to you")
        return job

    def firewall_add(
        self, site_uid: str, uid: Any, user: str, openings: Any
    ) -> list[dict[str, Any]]:
        """``POST /sites/{site}/firewall/{job}``."""
        with self.lock:
            self.sync()
            job = self._owned_job(site_uid, uid, user)
            if job.state != "running":
                raise TestbedError(400, f"Job {job.uid} is not running")
            if not isinstance(openings, list) or not openings:
                raise TestbedError(
                    400, "Invalid request: expected a non-empty JSON array of openings"
                )
            hosts = set(job.alloc.hosts if job.alloc else [])
            added = []
            for item in openings:
                if (
                    not isinstance(item, dict)
                    or not isinstance(item.get("addr"), list)
                    or not item["addr"]
                ):
                    raise TestbedError(
                        400, "Invalid request: each opening needs a non-empty 'addr' list"
                    )
                for addr in item["addr"]:
                    node = str(addr).split(".")[0].removesuffix("-ipv6")
                    if fqdn(node, site_uid) not in hosts:
                        raise TestbedError(
                            400, f"Invalid request: {addr} is not a node of job {job.uid}"
                        )
                proto = item.get("proto", "tcp+udp")
                if proto not in ("tcp", "udp", "tcp+udp", "all"):
                    raise TestbedError(400, f"Invalid request: unknown proto {proto!r}")
                port = item.get("port")
                ports = port if isinstance(port, list) else [port]
                if proto != "all" and (
                    port is None or not all(isinstance(p, int) and 0 < p < 65536 for p in ports)
                ):
                    raise TestbedError(
                        400, "Invalid request: 'port' must be a port number or a list of them"
                    )
                opening = {"addr": list(item["addr"]), "proto": proto}
                if port is not None:
                    opening["port"] = port
                if item.get("src_addr") is not None:
                    opening["src_addr"] = item["src_addr"]
                added.append(opening)
            self.sites[site_uid].firewall.setdefault(job.uid, []).extend(added)
            return added

    def firewall_list(self, site_uid: str, uid: Any) -> list[dict[str, Any]]:
        """``GET /sites/{site}/firewall/{job}``."""
        with self.lock:
            self.sync()
            job = self.job(site_uid, uid)
            return list(self.sites[site_uid].firewall.get(job.uid, []))

    def firewall_clear(self, site_uid: str, uid: Any, user: str) -> None:
        """``DELETE /sites/{site}/firewall/{job}``."""
        with self.lock:
            self.sync()
            job = self._owned_job(site_uid, uid, user)
            self.sites[site_uid].firewall.pop(job.uid, None)

    # --------------------------------------------------------------- storage
    def storage_add(
        self, site_uid: str, server: str, name: str, user: str, body: Any
    ) -> dict[str, Any]:
        """``POST /sites/{site}/storage/{server}/{name}/access``."""
        with self.lock:
            now = self.sync()
            site = self.site(site_uid)
            if server == "home" and name != user and not self.is_admin(user):
                raise TestbedError(403, f"You are not allowed to manage the home of {name}")
            if not isinstance(body, dict):
                raise TestbedError(400, "Invalid request: expected a JSON object")
            addresses = body.get("ipv4", body.get("hosts"))
            if not isinstance(addresses, list) or not addresses:
                raise TestbedError(400, "Invalid request: 'ipv4' must be a non-empty list")
            termination = body.get("termination")
            if not isinstance(termination, dict):
                raise TestbedError(
                    400, "Invalid request: 'termination' must give a job or an 'until' date"
                )
            if "job" in termination:
                job_site = str(termination.get("site") or site_uid)
                job = self.job(job_site, termination["job"])
                if not job.active or (job.user != user and not self.is_admin(user)):
                    raise TestbedError(
                        400, f"Invalid request: job {job.uid} is not one of your running jobs"
                    )
                tag = f"j_{job.uid}-{job_site}"
                termination = {"job": job.uid, "site": job_site}
            elif "until" in termination:
                until = termination["until"]
                try:
                    stamp = (
                        int(until)
                        if isinstance(until, int | float)
                        else int(parse_paris(str(until), now))
                    )
                except ValueError:
                    raise TestbedError(400, f"Invalid request: bad date {until!r}") from None
                tag = f"u_{stamp}"
                termination = {"until": stamp}
            else:
                raise TestbedError(
                    400, "Invalid request: 'termination' must give a job or an 'until' date"
                )
            for addr in addresses:
                try:
                    ipaddress.ip_address(addr)
                except ValueError:
                    if "hosts" not in body:
                        raise TestbedError(
                            400, f"Invalid request: {addr!r} is not an IPv4 address"
                        ) from None
            key = f"G5k-{server}_{name}_{tag}_{site.next_storage}"
            site.next_storage += 1
            export = f"/export/home/{name}" if server == "home" else f"/export/group/{name}"
            host = "srv-data" if server == "home" else server
            entry = {
                "ipv4": list(addresses),
                "termination": termination,
                "nfs_address": f"{host}.{site_uid}.grid5000.fr:{export}",
            }
            site.storage.setdefault((server, name), {})[key] = entry
            return {key: entry}

    def storage_list(self, site_uid: str, server: str, name: str) -> dict[str, Any]:
        """``GET /sites/{site}/storage/{server}/{name}/access`` (expired entries dropped)."""
        with self.lock:
            now = self.sync()
            accesses = self.site(site_uid).storage.get((server, name), {})
            for key in [
                k for k, v in accesses.items() if v["termination"].get("until", now + 1) <= now
            ]:
                del accesses[key]
            return dict(accesses)

    def storage_delete(self, site_uid: str, server: str, name: str, key: str, user: str) -> None:
        """Remove one access rule."""
        with self.lock:
            self.sync()
            if server == "home" and name != user and not self.is_admin(user):
                raise TestbedError(403, f"You are not allowed to manage the home of {name}")
            accesses = self.site(site_uid).storage.get((server, name), {})
            if key not in accesses:
                raise TestbedError(404, f"Access {key} does not exist")
            del accesses[key]

    # ---------------------------------------------------------------- faults
    def add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Register a testbed fault (``job_error``, ``deploy_ko``, ``deploy_error``)."""
        kind = spec.get("kind")
        count = spec.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise TestbedError(400, "invalid fault: count must be a positive integer or null")
        with self.lock:
            fault: dict[str, Any] = {"uid": self._next_fault, "kind": kind, "count": count}
            if kind == "job_error":
                if spec.get("job") is not None:
                    site = str(spec.get("site") or "")
                    self.fail_job(site, spec["job"])
                    fault.update(site=site, job=int(spec["job"]), count=0)
                    self._next_fault += 1
                    return fault
                if spec.get("name") is not None:
                    try:
                        re.compile(str(spec["name"]))
                    except re.error as exc:
                        raise TestbedError(400, f"invalid fault: bad name regex: {exc}") from None
                fault.update(site=spec.get("site"), name=spec.get("name"))
            elif kind == "deploy_ko":
                nodes = spec.get("nodes")
                if not isinstance(nodes, list) or not nodes:
                    raise TestbedError(
                        400, "invalid fault: deploy_ko needs a non-empty 'nodes' list"
                    )
                fault["nodes"] = [str(n) for n in nodes]
            elif kind != "deploy_error":
                raise TestbedError(400, f"unknown fault kind {kind!r}")
            self._next_fault += 1
            self._faults.append(fault)
            return dict(fault)

    def faults(self) -> list[dict[str, Any]]:
        """Active testbed faults."""
        with self.lock:
            return [dict(f) for f in self._faults]

    def clear_faults(self) -> None:
        """Remove every testbed fault."""
        with self.lock:
            self._faults = []

    def set_hard_state(self, nodes: Sequence[str], hard: str) -> list[str]:
        """Mark nodes ``dead`` (or back ``alive``); waiting jobs are re-planned."""
        if hard not in ("alive", "dead", "absent", "suspected", "standby"):
            raise TestbedError(400, f"invalid hard state {hard!r}")
        with self.lock:
            now = self.sync()
            touched = set()
            for name in nodes:
                host = self.ref.host_by_fqdn.get(name)
                if host is None:
                    raise TestbedError(404, f"Unknown node '{name}'.")
                site = self.sites[host.site]
                if hard in ("alive", "standby"):
                    site.dead.discard(name)
                else:
                    site.dead.add(name)
                touched.add(host.site)
            for uid in sorted(touched):
                site = self.sites[uid]
                for job in site.active.values():
                    if job.state == "waiting" and job.reservation is None:
                        job.constraints.dead_hosts = frozenset(site.dead)
                        job.prepared = site.planner.prepare(job.request, job.constraints)
                self._reschedule(uid, now)
            return sorted(nodes)
