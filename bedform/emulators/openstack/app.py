"""HTTP dispatch of the OpenStack emulator: one port, one path prefix per service.

``/`` and ``/v3`` are Keystone, ``/compute`` Nova (``/compute/v2.1``),
``/network`` Neutron (``/network/v2.0``), ``/image`` Glance (``/image/v2``) and
``/reservation`` Blazar (``/reservation/v1``, see :mod:`.blazar`).
The catalog is built from :attr:`OpenstackApp.services`.
Control endpoints beyond the common ones: ``/_emulator/quotas``,
``/_emulator/servers/{id or name}`` and ``/_emulator/leases/{id or name}``; fault
kinds ``server_error`` and ``lease_error``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..common import (
    ApiError,
    BaseEmulatorApp,
    Request,
    Response,
    VirtualClock,
    json_response,
    text_response,
)
from .blazar import Blazar
from .cloud import ADMIN_PROJECT, Cloud
from .glance import Glance, glance_not_found
from .keystone import Keystone
from .leases import Host, blazar_error
from .model import CloudError, nova_error, seeded_id
from .network import Networking, neutron_error
from .neutron import Neutron
from .nova import Nova
from .secgroups import SecurityGroups
from .servers import NO_VALID_HOST

#: A service's request handler: (request, path parts after its prefix, its root URL).
Handler = Callable[[Request, list[str], str], Response]


@dataclass(frozen=True)
class Service:
    """One catalog entry and the path prefix that serves it."""

    type: str
    name: str
    prefix: str
    #: what the catalog points at, relative to the prefix ("/v2.1" for compute)
    endpoint_suffix: str
    handler: Handler


class OpenstackApp(BaseEmulatorApp):
    """Keystone, Nova, Neutron and Glance over one :class:`Cloud`."""

    def __init__(self, cloud: Cloud, clock: VirtualClock, latency_ms: float = 0.0, *,
                 hosts: Sequence[Host] | None = None, event_period: float = 0.0,
                 chameleon: bool = False) -> None:
        super().__init__(clock, latency_ms)
        self.cloud = cloud
        self.networking = Networking(cloud)
        self.groups = SecurityGroups(self.networking)
        self.keystone = Keystone(cloud, self.catalog)
        self.nova = Nova(cloud, self.networking, self.groups)
        self.neutron = Neutron(cloud, self.networking, self.groups)
        self.glance = Glance(cloud)
        self.services: list[Service] = [
            Service("compute", "nova", "/compute", "/v2.1", self._compute),
            Service("network", "neutron", "/network", "", self._network),
            Service("image", "glance", "/image", "", self._image),
            Service("reservation", "blazar", "/reservation", "/v1", self._reservation),
        ]
        #: further ``/_emulator/<name>/...`` controls (the box's)
        self.controls: dict[str, Callable[[Request, list[str]], Response]] = {}
        self.seed_networks()
        self.blazar = Blazar(cloud, self.networking, self.nova, self.neutron, hosts,
                             event_period, chameleon)

    def seed_networks(self) -> None:
        """Create the external network (after a reset of the cloud)."""
        with self.cloud.lock:
            self.networking.seed_external(seeded_id("project", ADMIN_PROJECT))

    # --------------------------------------------------------------- catalog
    def catalog(self, host_url: str) -> list[dict[str, Any]]:
        """The service catalog for clients reaching the emulator at ``host_url``."""
        entries = [("identity", "keystone", f"{host_url}/v3")]
        entries += [(s.type, s.name, f"{host_url}{s.prefix}{s.endpoint_suffix}")
                    for s in self.services]
        region = self.cloud.region
        return [{
            "type": kind, "name": name, "id": seeded_id("service", kind),
            "endpoints": [{"id": seeded_id("endpoint", f"{kind}-{interface}"),
                           "interface": interface, "region": region, "region_id": region,
                           "url": url} for interface in ("public", "internal")],
        } for kind, name, url in entries]

    # -------------------------------------------------------------- dispatch
    def handle_api(self, request: Request) -> Response:
        """Route to the service owning the path prefix (Keystone owns the rest)."""
        host_url = f"http://{request.header('Host') or '127.0.0.1'}"
        try:
            with self.cloud.lock:
                self.blazar.sync()  # leases that started or ended since the last request
            for service in self.services:
                if request.path == service.prefix or request.path.startswith(
                        service.prefix + "/"):
                    parts = [p for p in request.path[len(service.prefix):].split("/") if p]
                    return service.handler(request, parts, host_url)
            parts = [p for p in request.path.split("/") if p]
            return self.keystone.handle(request, parts, host_url)
        except CloudError as exc:
            if isinstance(exc.body, str):
                return text_response(exc.body, exc.status, exc.headers)
            return json_response(exc.body, exc.status, exc.headers)

    def _compute(self, request: Request, parts: list[str], host_url: str) -> Response:
        root = f"{host_url}/compute"
        if not parts:
            return self.nova.version_doc(root, current_only=False)
        if parts[0] != "v2.1":
            raise nova_error(404, "The resource could not be found.")
        if len(parts) == 1:
            return self.nova.version_doc(root, current_only=True)
        caller = self.keystone.caller(request, host_url, root)
        if request.method != "POST" or parts[-1] != "servers":
            return self.nova.handle(request, caller, parts[1:])
        with self.cloud.lock:  # servers a Blazar filter would not place end in ERROR
            before = set(self.cloud.servers)
            response = self.nova.handle(request, caller, parts[1:])
            self.blazar.admit(caller, [s for s in self.cloud.servers if s not in before])
        return response

    def _network(self, request: Request, parts: list[str], host_url: str) -> Response:
        root = f"{host_url}/network"
        if not parts:
            return self.neutron.versions(root)
        if parts[0] != "v2.0":
            raise neutron_error(404, "HTTPNotFound", "The resource could not be found.")
        return self.neutron.handle(request, self.keystone.caller(request, host_url, root),
                                   parts[1:])

    def _image(self, request: Request, parts: list[str], host_url: str) -> Response:
        root = f"{host_url}/image"
        if parts in ([], ["versions"]):
            return self.glance.versions(root)
        if parts[0] != "v2":
            raise glance_not_found("The resource could not be found.")
        return self.glance.handle(request, self.keystone.caller(request, host_url, root),
                                  parts[1:])

    def _reservation(self, request: Request, parts: list[str], host_url: str) -> Response:
        root = f"{host_url}/reservation"
        if not parts:
            return json_response({"versions": [{"id": "v1.0", "status": "CURRENT",
                                                "links": [{"rel": "self",
                                                           "href": f"{root}/v1/"}]}]}, 300)
        if parts[0] != "v1":
            raise blazar_error(404, "The resource could not be found.")
        return self.blazar.handle(request, self.keystone.caller(request, host_url, root),
                                  parts[1:])

    # -------------------------------------------------------------- controls
    def reset_state(self) -> None:
        """Back to the seed: accounts, flavors, images, the external network (and the
        Chameleon site's shared network) only; no lease."""
        with self.cloud.lock:
            self.cloud.reset()
            self.seed_networks()
            self.blazar.reset()

    def add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """HTTP faults, plus ``server_error`` (builds of matching names end in ERROR) and
        ``lease_error`` (leases of matching names go to ERROR at their start)."""
        if spec.get("kind") == "lease_error":
            with self.cloud.lock:
                return self.blazar.add_fault(spec)
        if spec.get("kind", "http") != "server_error":
            return super().add_fault(spec)
        name = str(spec.get("name", ".*"))
        count = spec.get("count")
        try:
            re.compile(name)
        except re.error as exc:
            raise ApiError(400, f"invalid fault: name is not a regular expression: {exc}") \
                from None
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ApiError(400, "invalid fault: count must be an integer >= 1")
        message = str(spec.get("message") or NO_VALID_HOST)
        with self.cloud.lock:
            return self.cloud.add_server_fault(name, count, message).to_dict()

    def list_faults(self) -> list[dict[str, Any]]:
        """HTTP and server faults."""
        with self.cloud.lock:
            servers = [fault.to_dict() for fault in self.cloud.server_faults]
            leases = [dict(fault) for fault in self.blazar.faults]
        return super().list_faults() + servers + leases

    def clear_faults(self) -> None:
        """Remove every fault."""
        super().clear_faults()
        with self.cloud.lock:
            self.cloud.server_faults.clear()
            self.blazar.faults.clear()

    def handle_control(self, request: Request, parts: list[str]) -> Response | None:
        """``/_emulator/quotas`` (GET, POST), ``POST /_emulator/servers/{id or name}``,
        ``POST /_emulator/leases/{id or name}`` (``{"status": "ERROR"}``) and those of
        ``controls`` (the box's)."""
        if parts and parts[0] in self.controls:
            return self.controls[parts[0]](request, parts[1:])
        body = (request.json() or {}) if request.method == "POST" else {}
        if parts == ["quotas"] and request.method in ("GET", "POST"):
            return json_response(self.quotas(dict(body), request.method == "POST"))
        if len(parts) == 2 and parts[0] == "servers" and request.method == "POST":
            return json_response(self.set_server_status(parts[1], str(body.get("status", "")),
                                                        body.get("message")))
        if len(parts) == 2 and parts[0] == "leases" and request.method == "POST":
            with self.cloud.lock:
                return json_response(self.blazar.set_status(
                    parts[1], str(body.get("status", "")), body.get("message")))
        return None

    def quotas(self, body: dict[str, Any], change: bool) -> dict[str, Any]:
        """The limits of a project (``body["project"]``) or of all, changed if ``change``."""
        with self.cloud.lock:
            project_name = body.pop("project", None)
            try:
                projects = ([self.cloud.project(str(project_name))] if project_name else
                            [p for p in self.cloud.projects.values() if p.name != ADMIN_PROJECT])
            except KeyError as exc:
                raise ApiError(404, str(exc)) from None
            try:
                for project in projects if change else []:
                    self.cloud.set_quotas(project.id, body)
            except CloudError as exc:
                raise ApiError(exc.status, str(exc.body)) from None
            return {p.name: {r: self.cloud.quota(p.id, r) for r in self.cloud.quotas[p.id]}
                    for p in projects}

    def set_server_status(self, server: str, status: str, message: Any = None) -> dict[str, Any]:
        """Force a server (id or name) to ERROR, SHUTOFF or ACTIVE, as a drift would."""
        if status not in ("ERROR", "SHUTOFF", "ACTIVE"):
            raise ApiError(400, "status must be one of ERROR, SHUTOFF, ACTIVE")
        with self.cloud.lock:
            found = [s for s in self.cloud.servers.values() if server in (s.id, s.name)]
            if len(found) != 1:
                raise ApiError(404 if not found else 409,
                               f"{len(found)} servers match {server!r}; give an id")
            target = found[0]
            self.nova.servers.sync(target)
            if status == "ERROR":
                self.nova.servers.fail(target, str(message or "Emulated failure of the instance."))
            else:
                target.status, target.fault = status, None
                target.updated_at = self.cloud.clock.now()
            return {"id": target.id, "name": target.name, "status": target.status}
