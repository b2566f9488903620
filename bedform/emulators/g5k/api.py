"""HTTP layer of the Grid'5000 emulator: routes, authentication, JSON views.

Paths are served under ``/stable`` (also ``/3.0`` and ``/sid``), duplicate
slashes collapsed. Answers are ``application/json; charset=utf-8``; errors are
plain text with the status codes and words of the real API (g5k-api.md).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from ..common import (
    ApiError,
    BaseEmulatorApp,
    Request,
    Response,
    VirtualClock,
    json_response,
)
from .reference import REFERENCE_DATE, REFERENCE_VERSION, ReferenceData, data_file
from .resources import format_duration
from .testbed import Deployment, Job, Testbed, TestbedError, paris_time

PREFIXES = ("/stable", "/3.0", "/sid")
ITEM = "application/vnd.grid5000.item+json"
COLLECTION = "application/vnd.grid5000.collection+json"
FORBIDDEN = "You are not authorized to access this resource"
SITE_LINKS = (
    "clusters", "network_equipments", "pdus", "servers", "jobs", "environments",
    "deployments", "vlans", "metrics", "storage", "status",
)  # fmt: skip
ENVIRONMENTS = tuple(json.loads(data_file("g5k-environments.json").read_text())["environments"])


def _link(rel: str, href: str, kind: str = ITEM) -> dict[str, str]:
    return {"rel": rel, "href": href, "type": kind}


def _media_type(request: Request) -> str:
    return (request.header("Content-Type") or "").split(";")[0].strip().lower()


class G5kApp(BaseEmulatorApp):
    """The Grid'5000 REST API (v3) over a :class:`Testbed`."""

    def __init__(
        self,
        testbed: Testbed,
        users: Mapping[str, str],
        clock: VirtualClock,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__(clock, latency_ms)
        self.testbed = testbed
        self.ref: ReferenceData = testbed.ref
        self.users = dict(users)
        #: extra control endpoints: ``/_emulator/<name>/...`` -> handler(request, parts)
        self.controls: dict[str, Callable[[Request, list[str]], Response]] = {}

    # ----------------------------------------------------------- emulator hooks
    def reset_state(self) -> None:
        """Forget jobs, deployments, vlans, firewall and storage state."""
        self.testbed.reset()

    def add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """HTTP faults, plus ``job_error``, ``deploy_ko`` and ``deploy_error``."""
        if spec.get("kind", "http") == "http":
            return super().add_fault(spec)
        try:
            return self.testbed.add_fault(spec)
        except TestbedError as exc:
            raise ApiError(exc.status, exc.message) from None

    def list_faults(self) -> list[dict[str, Any]]:
        """HTTP and testbed faults."""
        return super().list_faults() + self.testbed.faults()

    def clear_faults(self) -> None:
        """Remove every fault."""
        super().clear_faults()
        self.testbed.clear_faults()

    def clock_view(self) -> dict[str, Any]:
        """Clock state with the Paris wall-clock time OAR would print."""
        view = super().clock_view()
        view["paris"] = paris_time(view["now"])
        return view

    def handle_control(self, request: Request, parts: list[str]) -> Response | None:
        """``POST /_emulator/nodes``: set the hard state of nodes."""
        if parts == ["nodes"] and request.method == "POST":
            body = request.json() or {}
            nodes = body.get("nodes")
            if not isinstance(nodes, list):
                raise ApiError(400, "'nodes' must be a list of node FQDNs")
            try:
                changed = self.testbed.set_hard_state(nodes, str(body.get("hard", "dead")))
            except TestbedError as exc:
                raise ApiError(exc.status, exc.message) from None
            return json_response({"nodes": changed, "hard": body.get("hard", "dead")})
        if len(parts) == 3 and parts[0] == "g5k-subnets" and request.method == "GET":
            return json_response(self._g5k_subnets(parts[1], parts[2]))
        if parts and parts[0] in self.controls:
            return self.controls[parts[0]](request, parts[1:])
        return None

    def _g5k_subnets(self, site: str, uid: str) -> dict[str, Any]:
        """What ``g5k-subnets -im -j JOB`` prints on a frontend, as JSON."""
        tb = self.testbed
        try:
            with tb.lock:
                tb.sync()
                job = tb.job(site, uid)
                subnets = list(job.alloc.subnets) if job.alloc else []
        except TestbedError as exc:
            raise ApiError(exc.status, exc.message) from None
        index = self.ref.index[site]
        addresses = []
        for cidr in subnets:
            for ip in ipaddress.ip_network(cidr).hosts():
                octets = ip.packed
                mac = "00:16:3E:{:02X}:{:02X}:{:02X}".format(*octets[1:])
                addresses.append({"ip": str(ip), "mac": mac})
        return {
            "job": job.uid,
            "subnets": subnets,
            "gateway": index.subnet_gateway,
            "netmask": index.subnet_netmask,
            "addresses": addresses,
        }

    # ------------------------------------------------------------------ dispatch
    def handle_api(self, request: Request) -> Response:
        """Route one API request."""
        prefix = next(
            (p for p in PREFIXES if request.path == p or request.path.startswith(p + "/")), None
        )
        if prefix is None:
            raise ApiError(404, f"Cannot find resource {request.path}")
        user = self._authenticate(request)
        parts = [unquote(p) for p in request.path[len(prefix) :].split("/") if p]
        host = request.header("Host") or "127.0.0.1"
        ctx = _Context(request, user, prefix, f"http://{host}{prefix}")
        try:
            return self._route(ctx, parts)
        except TestbedError as exc:
            raise ApiError(exc.status, exc.message) from None

    def _authenticate(self, request: Request) -> str | None:
        header = request.header("Authorization") or ""
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            name, _, password = decoded.partition(":")
            if name not in self.users or self.users[name] != password:
                raise ApiError(
                    401,
                    "Authorization Required",
                    {"WWW-Authenticate": 'Basic realm="Grid5000 API"'},
                )
            return name
        cn = (request.header("X-Api-User-CN") or "").strip().lower()
        if cn and cn not in ("unknown", "(unknown)", "anonymous"):
            return cn
        return None

    def _route(self, ctx: _Context, parts: list[str]) -> Response:
        method = ctx.request.method
        if (parts and parts[-1] == "versions") or (len(parts) > 1 and parts[-2] == "versions"):
            return self._versions(ctx, parts)
        match parts:
            case []:
                return self._root(ctx)
            case ["network_equipments"]:
                return self._collection(ctx, [], "/network_equipments", "")
            case ["sites"]:
                return self._sites(ctx)
            case ["sites", site, *rest]:
                if site not in self.ref.sites:
                    raise ApiError(404, f"Cannot find resource /sites/{site}")
                return self._site_route(ctx, method, site, rest)
        raise ApiError(404, f"Cannot find resource /{'/'.join(parts)}")

    def _site_route(self, ctx: _Context, method: str, site: str, rest: list[str]) -> Response:
        reading = method in ("GET", "HEAD")
        match rest:
            case [] if reading:
                return self._site(ctx, site)
            case ["clusters"] if reading:
                return self._clusters(ctx, site)
            case ["clusters", cluster, *more]:
                return self._cluster_route(ctx, method, site, cluster, more)
            case ["status"] if reading:
                return self._status(ctx, site, None)
            case ["servers"] if reading:
                servers = list(self.ref.sites[site].get("servers", {}).values())
                return self._collection(ctx, servers, f"/sites/{site}/servers", f"/sites/{site}")
            case ["servers", uid] if reading:
                server = self.ref.sites[site].get("servers", {}).get(uid)
                if server is None:
                    raise ApiError(404, f"Cannot find resource /sites/{site}/servers/{uid}")
                return self._item(ctx, server, f"/sites/{site}/servers/{uid}", f"/sites/{site}")
            case ["pdus" | "network_equipments" as kind] if reading:
                return self._collection(ctx, [], f"/sites/{site}/{kind}", f"/sites/{site}")
            case ["metrics"] if reading:
                return json_response([])
            case ["environments"] if reading:
                return self._collection(
                    ctx,
                    [self._environment(name) for name in ENVIRONMENTS],
                    f"/sites/{site}/environments",
                    f"/sites/{site}",
                )
            case ["environments", uid] if reading:
                if uid not in ENVIRONMENTS:
                    raise ApiError(404, f"Cannot find resource /sites/{site}/environments/{uid}")
                return self._item(
                    ctx,
                    self._environment(uid),
                    f"/sites/{site}/environments/{uid}",
                    f"/sites/{site}",
                )
            case ["jobs", *more]:
                return self._jobs_route(ctx, method, site, more)
            case ["deployments", *more]:
                return self._deployments_route(ctx, method, site, more)
            case ["vlans", *more]:
                return self._vlans_route(ctx, method, site, more)
            case ["firewall", uid]:
                return self._firewall(ctx, method, site, uid)
            case ["storage", server, name, "access", *more]:
                return self._storage(ctx, method, site, server, name, more)
        if rest and rest[0] in ("clusters", "status", "servers", "pdus", "environments", "metrics"):
            raise ApiError(405, "Method Not Allowed")
        raise ApiError(404, f"Cannot find resource /sites/{site}/{'/'.join(rest)}")

    def _cluster_route(
        self, ctx: _Context, method: str, site: str, cluster: str, rest: list[str]
    ) -> Response:
        if method not in ("GET", "HEAD"):
            raise ApiError(405, "Method Not Allowed")
        data = self.ref.sites[site].get("clusters", {}).get(cluster)
        if data is None or not self._queue_visible(ctx, data):
            raise ApiError(404, f"Cannot find resource /sites/{site}/clusters/{cluster}")
        base = f"/sites/{site}/clusters/{cluster}"
        match rest:
            case []:
                item = self.ref.cluster_fields(site, cluster)
                item["version"] = REFERENCE_VERSION
                item["links"] = [
                    _link("self", ctx.href(base)),
                    _link("parent", ctx.href(f"/sites/{site}")),
                    _link("nodes", ctx.href(base + "/nodes"), COLLECTION),
                    _link("status", ctx.href(base + "/status")),
                    _link("versions", ctx.href(base + "/versions"), COLLECTION),
                ]
                return json_response(item)
            case ["nodes"]:
                return self._collection(
                    ctx, list(data.get("nodes", {}).values()), base + "/nodes", base
                )
            case ["nodes", node]:
                item = data.get("nodes", {}).get(node)
                if item is None:
                    raise ApiError(404, f"Cannot find resource {base}/nodes/{node}")
                return self._item(ctx, item, f"{base}/nodes/{node}", base)
            case ["status"]:
                return self._status(ctx, site, cluster)
        raise ApiError(404, f"Cannot find resource {base}/{'/'.join(rest)}")

    # ---------------------------------------------------------------- reference
    def _item(self, ctx: _Context, data: Mapping[str, Any], path: str, parent: str) -> Response:
        item = dict(data)
        item["version"] = REFERENCE_VERSION
        item["links"] = [
            _link("self", ctx.href(path)),
            _link("parent", ctx.href(parent)),
            _link("version", ctx.href(f"{path}/versions/{REFERENCE_VERSION}")),
            _link("versions", ctx.href(f"{path}/versions"), COLLECTION),
        ]
        return json_response(item)

    def _collection(self, ctx: _Context, items: list[Any], path: str, parent: str) -> Response:
        return json_response(
            {
                "total": len(items),
                "offset": 0,
                "items": items,
                "version": REFERENCE_VERSION,
                "links": [
                    _link("self", ctx.href(path), COLLECTION),
                    _link("parent", ctx.href(parent)),
                ],
            }
        )

    def _root(self, ctx: _Context) -> Response:
        if ctx.request.query.get("deep") in ("1", "true", "yes"):
            return json_response(
                {
                    "total": len(self.ref.sites),
                    "offset": 0,
                    "items": self.ref.deep(),
                    "version": REFERENCE_VERSION,
                    "links": [_link("self", ctx.href(""))],
                }
            )
        item = {
            **self.ref.grid,
            "version": REFERENCE_VERSION,
            "timestamp": int(self.clock.now()),
            "links": [
                _link("self", ctx.href("")),
                _link("sites", ctx.href("/sites"), COLLECTION),
                _link("network_equipments", ctx.href("/network_equipments"), COLLECTION),
                _link("versions", ctx.href("/versions"), COLLECTION),
            ],
        }
        return json_response(item)

    def _sites(self, ctx: _Context) -> Response:
        if ctx.request.method not in ("GET", "HEAD"):
            raise ApiError(405, "Method Not Allowed")
        if ctx.request.query.get("deep") in ("1", "true", "yes"):
            items: Any = {site: self.ref.deep_site(site) for site in self.ref.sites}
            return json_response(
                {"total": len(items), "offset": 0, "items": items, "version": REFERENCE_VERSION,
                 "links": [_link("self", ctx.href("/sites"), COLLECTION)]}
            )  # fmt: skip
        items = [self._site_item(ctx, site) for site in self.ref.sites]
        return self._collection(ctx, items, "/sites", "")

    def _site_item(self, ctx: _Context, site: str) -> dict[str, Any]:
        item = self.ref.site_fields(site)
        item["version"] = REFERENCE_VERSION
        base = f"/sites/{site}"
        item["links"] = [
            _link("self", ctx.href(base)),
            _link("parent", ctx.href("")),
            _link("version", ctx.href(f"{base}/versions/{REFERENCE_VERSION}")),
            _link("versions", ctx.href(f"{base}/versions"), COLLECTION),
            *(_link(rel, ctx.href(f"{base}/{rel}"), COLLECTION) for rel in SITE_LINKS),
        ]
        return item

    def _site(self, ctx: _Context, site: str) -> Response:
        if ctx.request.query.get("deep") in ("1", "true", "yes"):
            deep = self.ref.deep_site(site)
            return json_response(
                {"total": len(deep), "offset": 0, "items": deep, "version": REFERENCE_VERSION,
                 "links": [_link("self", ctx.href(f"/sites/{site}"))]}
            )  # fmt: skip
        return json_response(self._site_item(ctx, site))

    def _queue_visible(self, ctx: _Context, cluster: Mapping[str, Any]) -> bool:
        wanted = ctx.request.query.get("queues", "admin,default")
        if wanted == "all":
            wanted = "admin,default,production"
        queues = cluster.get("queues") or ["admin", "default"]
        return bool(set(wanted.split(",")) & set(queues))

    def _clusters(self, ctx: _Context, site: str) -> Response:
        items = []
        for uid, data in self.ref.sites[site].get("clusters", {}).items():
            if not self._queue_visible(ctx, data):
                continue
            item = self.ref.cluster_fields(site, uid)
            item["version"] = REFERENCE_VERSION
            item["links"] = [
                _link("self", ctx.href(f"/sites/{site}/clusters/{uid}")),
                _link("parent", ctx.href(f"/sites/{site}")),
                _link("nodes", ctx.href(f"/sites/{site}/clusters/{uid}/nodes"), COLLECTION),
                _link("status", ctx.href(f"/sites/{site}/clusters/{uid}/status")),
            ]
            items.append(item)
        return self._collection(ctx, items, f"/sites/{site}/clusters", f"/sites/{site}")

    def _versions(self, ctx: _Context, parts: list[str]) -> Response:
        at = len(parts) - 1 if parts[-1] == "versions" else len(parts) - 2
        base = parts[:at]
        if base and base[0] == "sites" and (len(base) < 2 or base[1] not in self.ref.sites):
            raise ApiError(404, f"Cannot find resource /{'/'.join(base)}")
        path = "/" + "/".join(base) if base else ""
        version = {
            "uid": REFERENCE_VERSION,
            "date": REFERENCE_DATE,
            "message": "reference-repository snapshot shipped with the emulator",
            "author": "Grid'5000 reference repository",
            "type": "version",
            "links": [_link("self", ctx.href(f"{path}/versions/{REFERENCE_VERSION}"))],
        }
        if at == len(parts) - 1:
            return self._collection(ctx, [version], f"{path}/versions", path)
        if parts[-1] not in (REFERENCE_VERSION, "latest", REFERENCE_VERSION[:7]):
            raise ApiError(404, f"Cannot find resource {path}/versions/{parts[-1]}")
        return json_response(version)

    @staticmethod
    def _environment(name: str) -> dict[str, Any]:
        return {
            "uid": name,
            "name": name,
            "alias": name,
            "arch": "x86_64",
            "version": 2026032300,
            "user": "deploy",
            "visibility": "public",
            "description": f"{name} (emulated kadeploy environment)",
            "type": "environment",
        }

    # ------------------------------------------------------------------- status
    def _status(self, ctx: _Context, site: str, cluster: str | None) -> Response:
        query = ctx.request.query
        details = query.get("job_details", "yes") != "no" and ctx.user is not None
        waiting = query.get("waiting", "yes") != "no"
        only = query.get("network_address")
        with self.testbed.lock:
            now = self.testbed.sync()
            state = self.testbed.site(site)
            allocs = {j.uid: j.alloc for j in state.active.values() if j.alloc is not None}
            jobs = [j for j in state.active.values() if j.uid in allocs]
            if not waiting:
                jobs = [j for j in jobs if j.state != "waiting"]
            jobs.sort(key=lambda j: ((j.start or 0), j.uid))
            running = [j for j in jobs if j.state in ("launching", "running")]
            index = self.ref.index[site]
            hosts = [h for h in index.hosts if cluster is None or h.cluster == cluster]
            if only:
                hosts = [h for h in hosts if h.fqdn == only]
            result: dict[str, Any] = {"uid": int(now)}
            if query.get("nodes") != "no":
                nodes = {}
                for host in sorted(hosts, key=lambda h: h.fqdn):
                    busy = sum(len(allocs[j.uid].cores.get(host.fqdn, ())) for j in running)
                    dead = host.fqdn in state.dead
                    if dead:
                        soft, free = "unknown", 0
                    elif busy == 0:
                        soft, free = "free", host.threads
                    elif busy >= host.threads:
                        soft, free = "busy", 0
                    else:
                        soft = "free_busy" if busy <= host.threads / 2 else "busy_free"
                        free = host.threads - busy
                    entry: dict[str, Any] = {
                        "hard": "dead" if dead else "alive",
                        "soft": soft,
                        "comment": "OK" if not dead else "dead (emulator)",
                        "free_slots": free,
                        "freeable_slots": 0,
                        "busy_slots": 0 if dead else busy,
                    }
                    if details:
                        entry["reservations"] = [
                            self._reservation(j) for j in jobs if host.fqdn in allocs[j.uid].cores
                        ]
                    nodes[host.fqdn] = entry
                result["nodes"] = nodes
            if query.get("disks") != "no":
                disks = {}
                for host in hosts:
                    for disk in host.disks:
                        holders = [j for j in jobs if disk.key in allocs[j.uid].disks]
                        busy = any(j in running for j in holders)
                        entry = {"hard": "alive", "soft": "busy" if busy else "free"}
                        if details:
                            entry["reservations"] = [self._reservation(j) for j in holders]
                        disks[disk.key] = entry
                result["disks"] = disks
            if cluster is None and query.get("vlans") != "no":
                vlans = {}
                for vid, vtype in index.vlans.items():
                    if vtype not in ("kavlan", "kavlan-local", "kavlan-global"):
                        continue
                    holders = [j for j in jobs if vid in allocs[j.uid].vlans]
                    entry = {
                        "hard": "alive",
                        "soft": "busy" if any(j in running for j in holders) else "free",
                        "type": vtype,
                    }
                    if details:
                        entry["reservations"] = [self._reservation(j) for j in holders]
                    vlans[vid] = entry
                result["vlans"] = vlans
            if cluster is None and query.get("subnets") != "no":
                subnets = {}
                held = {s: j for j in jobs for s in allocs[j.uid].subnets}
                for block in index.subnets:
                    name = str(block)
                    holder = held.get(name)
                    entry = {
                        "hard": "alive",
                        "soft": "busy" if holder in running else "free",
                    }
                    if details:
                        entry["reservations"] = [self._reservation(holder)] if holder else []
                    subnets[name] = entry
                result["subnets"] = subnets
        base = f"/sites/{site}" + (f"/clusters/{cluster}" if cluster else "")
        result["links"] = [
            _link("self", ctx.href(base + "/status")),
            _link("parent", ctx.href(base)),
        ]
        return json_response(result)

    # --------------------------------------------------------------------- jobs
    def _reservation(self, job: Job) -> dict[str, Any]:
        return self._job_view(None, job, details=False, events=False)

    def _job_view(
        self, ctx: _Context | None, job: Job, details: bool = True, events: bool = True
    ) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uid": job.uid,
            "user_uid": job.user,
            "user": job.user,
            "walltime": job.walltime,
            "queue": job.queue,
            "state": job.state,
        }
        if job.project is not None:
            view["project"] = job.project
        if job.name is not None:
            view["name"] = job.name
        cores = job.alloc.core_count() if job.alloc else 0
        message = f"R={cores},W={format_duration(job.walltime)},J={'R' if job.reservation else 'B'}"
        if job.types:
            message += f",T={'|'.join(job.types)}"
        view.update(
            {
                "types": list(job.types),
                "mode": "PASSIVE",
                "command": job.command,
                "submitted_at": int(job.submitted_at),
            }
        )
        if job.scheduled_at is not None and job.active:
            view["scheduled_at"] = int(job.scheduled_at)
        view["started_at"] = int(job.started_at)
        if job.stopped_at:
            view["stopped_at"] = int(job.stopped_at)
        view["message"] = f"{message} (Karma=0.000,quota_ok)"
        props = f"({job.properties}) AND " if job.properties else ""
        view["properties"] = f"{props}maintenance = 'NO'"
        view["directory"] = f"/home/{job.user}"
        if events:
            view["events"] = [dict(e) for e in job.events]
        if ctx is not None:
            view["links"] = [
                _link("self", ctx.href(f"/sites/{job.site}/jobs/{job.uid}")),
                _link("parent", ctx.href(f"/sites/{job.site}")),
            ]
        if details:
            by_type: dict[str, list[str]] = {}
            alloc = job.alloc
            if alloc is not None:
                core_list = [f"{h}/{c}" for h, cs in alloc.cores.items() for c in cs]
                if core_list:
                    by_type["cores"] = core_list
                for key, values in (
                    ("vlans", alloc.vlans),
                    ("subnets", alloc.subnets),
                    ("disks", alloc.disks),
                ):
                    if values:
                        by_type[key] = sorted(values)
            view["resources_by_type"] = by_type
            view["assigned_nodes"] = [h for h, cs in (alloc.cores.items() if alloc else []) if cs]
        return view

    def _jobs_route(self, ctx: _Context, method: str, site: str, rest: list[str]) -> Response:
        tb = self.testbed
        match rest:
            case [] if method == "GET":
                query = ctx.request.query
                offset, limit = _paging(query)
                with tb.lock:
                    total, jobs = tb.list_jobs(site, query)
                    details = query.get("resources") == "yes"
                    items = [
                        self._job_view(ctx, j, details=details)
                        for j in jobs[offset : offset + limit]
                    ]
                return json_response(
                    {"total": total, "offset": offset, "items": items,
                     "links": [_link("self", ctx.href(f"/sites/{site}/jobs"), COLLECTION),
                               _link("parent", ctx.href(f"/sites/{site}"))]}
                )  # fmt: skip
            case [] if method == "POST":
                user = ctx.need_user()
                body = ctx.request.json("The job you are trying to submit is not valid")
                if not isinstance(body, dict):
                    raise ApiError(400, "The job you are trying to submit is not valid: "
                                   "the body must be a JSON object")  # fmt: skip
                with tb.lock:
                    job = tb.submit_job(site, user, body)
                    view = self._job_view(ctx, job)
                return json_response(
                    view, 201, {"Location": ctx.absolute(f"/sites/{site}/jobs/{job.uid}")}
                )
            case [uid] if method == "GET":
                with tb.lock:
                    tb.sync()
                    return json_response(self._job_view(ctx, tb.job(site, uid)))
            case [uid] if method == "DELETE":
                user = ctx.need_user()
                job = tb.delete_job(site, uid, user)
                info = (
                    f"Deleting the job = {job.uid} ...REGISTERED. "
                    f"The job(s) [ {job.uid} ] will be deleted in a near future."
                )
                return Response(
                    202,
                    b"",
                    "text/plain; charset=utf-8",
                    {"Location": ctx.absolute(f"/sites/{site}/jobs/{job.uid}"), "X-Oar-Info": info},
                )
            case [uid, "walltime"] if method == "GET":
                ctx.need_user()
                walltime = tb.walltime_info(site, uid)
                walltime["uid"] = int(uid)
                walltime["links"] = [
                    _link("self", ctx.href(f"/sites/{site}/jobs/{uid}/walltime")),
                    _link("parent", ctx.href(f"/sites/{site}/jobs/{uid}")),
                ]
                return json_response(walltime)
            case [uid, "walltime"] if method == "POST":
                user = ctx.need_user()
                if _media_type(ctx.request) != "application/json":
                    raise ApiError(
                        415, f"Content-Type '{_media_type(ctx.request)}' is not supported"
                    )
                message = tb.change_walltime(site, uid, user, ctx.request.json())
                # As the real API: OAR's message rendered verbatim under a JSON content type.
                return Response(
                    202,
                    message.encode(),
                    "application/json; charset=utf-8",
                    {"Location": ctx.absolute(f"/sites/{site}/jobs/{uid}/walltime")},
                )
        if len(rest) <= 2:
            raise ApiError(405, "Method Not Allowed")
        raise ApiError(404, f"Cannot find resource /sites/{site}/jobs/{'/'.join(rest)}")

    # -------------------------------------------------------------- deployments
    def _deployment_view(
        self, ctx: _Context, dep: Deployment, as_created: bool = False
    ) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uid": dep.uid,
            "site_uid": dep.site,
            "user_uid": dep.user,
            "environment": dep.environment,
            "status": "processing" if as_created else dep.status,
            "nodes": list(dep.nodes),
            **dep.options,
            "created_at": int(dep.created_at),
            "updated_at": int(dep.created_at if as_created else dep.updated_at),
        }
        if dep.result is not None and not as_created:
            view["result"] = {k: dict(v) for k, v in dep.result.items()}
        if dep.output is not None and not as_created:
            view["output"] = dep.output
        view["links"] = [
            _link("self", ctx.href(f"/sites/{dep.site}/deployments/{dep.uid}")),
            _link("parent", ctx.href(f"/sites/{dep.site}")),
        ]
        return view

    def _deployments_route(
        self, ctx: _Context, method: str, site: str, rest: list[str]
    ) -> Response:
        tb = self.testbed
        match rest:
            case [] if method == "GET":
                query = ctx.request.query
                offset, limit = _paging(query)
                with tb.lock:
                    tb.sync()
                    deps = list(tb.site(site).deployments.values())
                    if query.get("reverse") != "true":
                        deps.reverse()
                    if query.get("user"):
                        deps = [d for d in deps if d.user == query["user"]]
                    if query.get("status"):
                        deps = [d for d in deps if d.status == query["status"]]
                    items = [self._deployment_view(ctx, d) for d in deps[offset : offset + limit]]
                return json_response(
                    {"total": len(deps), "offset": offset, "items": items,
                     "links": [_link("self", ctx.href(f"/sites/{site}/deployments"), COLLECTION),
                               _link("parent", ctx.href(f"/sites/{site}"))]}
                )  # fmt: skip
            case [] if method == "POST":
                user = ctx.need_user()
                body = ctx.request.json("The deployment you are trying to submit is not valid")
                with tb.lock:
                    dep = tb.create_deployment(
                        site, user, body, ctx.absolute(f"/sites/{site}/files")
                    )
                    view = self._deployment_view(ctx, dep, as_created=True)
                return json_response(
                    view, 201, {"Location": ctx.absolute(f"/sites/{site}/deployments/{dep.uid}")}
                )
            case [uid] if method == "GET":
                with tb.lock:
                    return json_response(self._deployment_view(ctx, tb.deployment(site, uid)))
            case [uid] if method == "PUT":
                tb.deployment(site, uid)
                return Response(204)
            case [uid] if method == "DELETE":
                dep = tb.cancel_deployment(site, uid, ctx.need_user())
                return Response(
                    202,
                    b"",
                    "text/plain; charset=utf-8",
                    {"Location": ctx.absolute(f"/sites/{site}/deployments/{dep.uid}")},
                )
        if len(rest) <= 1:
            raise ApiError(405, "Method Not Allowed")
        raise ApiError(404, f"Cannot find resource /sites/{site}/deployments/{'/'.join(rest)}")

    # -------------------------------------------------------------------- vlans
    def _vlan_item(self, ctx: _Context, site: str, vid: str) -> dict[str, Any]:
        base = f"/sites/{site}/vlans"
        return {
            "uid": vid,
            "type": self.ref.index[site].vlans[vid],
            "links": [
                _link("dhcpd", ctx.href(f"{base}/{vid}/dhcpd")),
                _link("nodes", ctx.href(f"{base}/{vid}/nodes")),
                _link("users", ctx.href(f"{base}/{vid}/users"), COLLECTION),
                _link("self", ctx.href(f"{base}/{vid}")),
                _link("parent", ctx.href(base), COLLECTION),
            ],
        }

    def _iface_item(self, ctx: _Context, site: str, name: str) -> dict[str, Any]:
        base = f"/sites/{site}/vlans/nodes"
        return {
            "uid": name,
            "vlan": self.testbed.vlan_of(site, name),
            "links": [
                _link("self", ctx.href(f"{base}/{name}")),
                _link("parent", ctx.href(base), COLLECTION),
            ],
        }

    def _vlan_names(self, ctx: _Context) -> list[str]:
        if _media_type(ctx.request) != "application/json":
            raise ApiError(415, f"Content-Type '{_media_type(ctx.request)}' is not supported")
        names = ctx.request.json()
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ApiError(422, "Missing node list")
        return names

    def _vlans_route(self, ctx: _Context, method: str, site: str, rest: list[str]) -> Response:
        tb = self.testbed
        vlans = self.ref.index[site].vlans
        base = f"/sites/{site}/vlans"
        reading = method in ("GET", "HEAD")
        if len(rest) >= 1 and rest[0] not in ("nodes", "users") and rest[0] not in vlans:
            raise ApiError(404, f"Vlan {rest[0]} does not exist")
        match rest:
            case [] if reading:
                items = [self._vlan_item(ctx, site, vid) for vid in vlans]
                return json_response(
                    {"total": len(items), "offset": 0, "items": items,
                     "links": [_link("nodes", ctx.href(f"{base}/nodes"), COLLECTION),
                               _link("users", ctx.href(f"{base}/users"), COLLECTION),
                               _link("self", ctx.href(base), COLLECTION),
                               _link("parent", ctx.href(f"/sites/{site}"))]}
                )  # fmt: skip
            case ["nodes"] if reading:
                with tb.lock:
                    tb.sync()
                    names = sorted(tb.site(site).interfaces)
                    items = [self._iface_item(ctx, site, n) for n in names]
                return self._plain_collection(ctx, items, f"{base}/nodes", base)
            case ["nodes"] if method == "POST":
                names = self._vlan_names(ctx)
                with tb.lock:
                    tb.sync()
                    known = [n for n in names if n in tb.site(site).interfaces]
                    items = [{"uid": n, "vlan": tb.vlan_of(site, n)} for n in known]
                return self._plain_collection(ctx, items, f"{base}/nodes", base)
            case ["nodes", name] if reading:
                with tb.lock:
                    tb.sync()
                    if name not in tb.site(site).interfaces:
                        raise ApiError(404, f"Unknown node '{name}'.")
                    return json_response(self._iface_item(ctx, site, name))
            case ["users"] if reading:
                users = tb.vlan_users(site)
                items = [
                    {"uid": u, "links": [_link("self", ctx.href(f"{base}/users/{u}"))]}
                    for u in users
                ]
                return self._plain_collection(ctx, items, f"{base}/users", base)
            case ["users", user] if reading:
                vids = tb.vlan_users(site).get(user, [])
                return json_response(
                    {"uid": user, "vlans": vids,
                     "links": [_link("self", ctx.href(f"{base}/users/{user}")),
                               _link("parent", ctx.href(f"{base}/users"), COLLECTION)]}
                )  # fmt: skip
            case [vid] if reading:
                return json_response(self._vlan_item(ctx, site, vid))
            case [vid, "nodes"] if reading:
                with tb.lock:
                    tb.sync()
                    names = sorted(
                        n for n in tb.site(site).interfaces if tb.vlan_of(site, n) == vid
                    )
                items = [
                    {"uid": n, "vlan": vid,
                     "links": [_link("self", ctx.href(f"{base}/nodes/{n}")),
                               _link("parent", ctx.href(f"{base}/nodes"), COLLECTION)]}
                    for n in names
                ]  # fmt: skip
                return self._plain_collection(ctx, items, f"{base}/{vid}/nodes", f"{base}/{vid}")
            case [vid, "nodes"] if method == "POST":
                user = ctx.need_user()
                names = self._vlan_names(ctx)
                outcome = tb.set_vlan_nodes(site, vid, user, names)
                words = {
                    "ok": ("success", "Successfully added to vlan"),
                    "unknown_node": ("failure", "Unknown node"),
                    "unchanged": ("unchanged", "Node already in vlan"),
                }
                return json_response(
                    {
                        n: dict(zip(("status", "message"), words[outcome[n]], strict=True))
                        for n in names
                    }
                )
            case [vid, "users"] if reading:
                members = [u for u, vids in tb.vlan_users(site).items() if vid in vids]
                items = [{"uid": u} for u in members]
                return self._plain_collection(ctx, items, f"{base}/{vid}/users", f"{base}/{vid}")
            case [vid, "users", user] if reading:
                authorized = vid in tb.vlan_users(site).get(user, [])
                return json_response(
                    {"uid": user, "status": "authorized" if authorized else "unauthorized",
                     "links": [_link("self", ctx.href(f"{base}/{vid}/users/{user}")),
                               _link("parent", ctx.href(f"{base}/{vid}/users"), COLLECTION)]}
                )  # fmt: skip
            case [vid, "users", user] if method in ("PUT", "DELETE"):
                tb.grant_vlan(site, vid, ctx.need_user(), user, method == "PUT")
                return Response(204)
            case [vid, "dhcpd"] if method == "PUT":
                caller = ctx.need_user()
                body = ctx.request.json() or {}
                if not isinstance(body, dict) or body.get("action") not in ("start", "stop"):
                    raise ApiError(422, "An action ('start' or 'stop') should be provided")
                with tb.lock:
                    tb.sync()
                    if not tb.has_vlan(caller, site, vid):
                        raise ApiError(403, "Not enough privileges on Kavlan resources")
                return Response(204)
        if len(rest) <= 3:
            raise ApiError(405, "Method Not Allowed")
        raise ApiError(404, f"Cannot find resource {base}/{'/'.join(rest)}")

    def _plain_collection(
        self, ctx: _Context, items: list[Any], path: str, parent: str
    ) -> Response:
        return json_response(
            {
                "total": len(items),
                "offset": 0,
                "items": items,
                "links": [
                    _link("self", ctx.href(path), COLLECTION),
                    _link("parent", ctx.href(parent)),
                ],
            }
        )

    # -------------------------------------------------------- firewall, storage
    def _firewall(self, ctx: _Context, method: str, site: str, uid: str) -> Response:
        tb = self.testbed
        if method == "GET":
            return json_response(tb.firewall_list(site, uid))
        if method == "POST":
            added = tb.firewall_add(site, uid, ctx.need_user(), ctx.request.json())
            return json_response(added, 201)
        if method == "DELETE":
            tb.firewall_clear(site, uid, ctx.need_user())
            return Response(204)
        raise ApiError(405, "Method Not Allowed")

    def _storage(
        self, ctx: _Context, method: str, site: str, server: str, name: str, rest: list[str]
    ) -> Response:
        tb = self.testbed
        match rest:
            case [] if method == "GET":
                ctx.need_user()
                return json_response(tb.storage_list(site, server, name))
            case [] if method == "POST":
                created = tb.storage_add(site, server, name, ctx.need_user(), ctx.request.json())
                return json_response(created, 201)
            case [key] if method == "DELETE":
                tb.storage_delete(site, server, name, key, ctx.need_user())
                return Response(204)
        raise ApiError(405, "Method Not Allowed")


class _Context:
    """Per-request values: the request, the caller and URL builders."""

    def __init__(self, request: Request, user: str | None, prefix: str, absolute_base: str) -> None:
        self.request = request
        self.user = user
        self.prefix = prefix
        self.absolute_base = absolute_base

    def href(self, path: str) -> str:
        """Path with the version prefix, as the API's links carry it."""
        return f"{self.prefix}{path}"

    def absolute(self, path: str) -> str:
        """Absolute URL (``Location`` headers)."""
        return f"{self.absolute_base}{path}"

    def need_user(self) -> str:
        """The authenticated caller, or 403 as g5k-api answers anonymous writes."""
        if self.user is None:
            raise ApiError(403, FORBIDDEN)
        return self.user


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        offset = max(0, int(query.get("offset", 0)))
        limit = min(500, int(query.get("limit", 50)))
    except ValueError:
        raise ApiError(400, "offset and limit must be integers") from None
    return offset, max(0, limit)
