"""Blazar, the reservation service (``/reservation/v1``), as Chameleon runs it.

Routes: ``/leases`` (list, create, show, update, delete), ``/os-hosts`` (list, show),
``/os-hosts/allocations`` and ``/os-hosts/{id}/allocation``, ``/floatingips`` (list).
Reservations: ``physical:host`` (``min``/``max`` hosts chosen by
``resource_properties``/``hypervisor_properties`` among the hosts free for the
whole lease), ``flavor:instance`` (a private flavor ``reservation:<id>`` while ACTIVE)
and ``virtual:floatingip`` (``amount`` floating IPs in the project while ACTIVE).
Refusals carry Blazar's own messages (``Not enough hosts available`` with status 500,
as the real service answers).

On the Nova side (:meth:`Blazar.admit`): a bare-metal flavor boots only with a
``reservation`` scheduler hint naming a ``physical:host`` reservation of an ACTIVE
lease of the project, at most one server per reserved host; any other server with a
hint of an inactive reservation goes to ERROR with Nova's "No valid host" fault, as
Blazar's filter makes it. When a lease ends or is deleted, the servers carrying one of
its hints are deleted, its flavor and floating IPs go.

Everything happens lazily on the virtual clock: :meth:`Blazar.sync` runs before every
request of any service.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..common import ApiError, Request, Response, json_response
from .cloud import ADMIN_PROJECT, Cloud
from .keystone import Caller
from .leases import (
    LEASE_DATE_FORMAT,
    NOT_ENOUGH_HOSTS,
    Host,
    Lease,
    Reservation,
    blazar_error,
    default_hosts,
    event_time,
    lease_status,
    matches,
    name_matches,
    overlaps,
    parse_date,
)
from .model import Image, dashed_id, seeded_id
from .network import Networking
from .neutron import Neutron
from .nova import Nova
from .servers import NO_VALID_HOST

RESOURCE_TYPES = ("physical:host", "flavor:instance", "virtual:floatingip")
BAREMETAL_SPEC = "resources:CUSTOM_BAREMETAL"
LIVE = ("PENDING", "STARTING", "ACTIVE")
HOLDING = (*LIVE, "TERMINATING")
"""Statuses whose lease holds its hosts."""

#: What a Chameleon site adds to the cloud (``chameleon=True``): the shared network
#: with its subnet and router, and the CC images.
SHARED_NETWORK = "sharednet1"
SHARED_SUBNET = "sharednet1-subnet"
SHARED_CIDR = "10.140.80.0/22"
CHAMELEON_IMAGES = (
    Image(dashed_id("image", "CC-Ubuntu18.04"), "CC-Ubuntu18.04", "ubuntu", "18.04", "cc",
          size=2_361_393_152, min_disk=10),
    Image(dashed_id("image", "CC-Ubuntu22.04"), "CC-Ubuntu22.04", "ubuntu", "22.04", "cc",
          size=3_128_360_960, min_disk=10),
)  # fmt: skip


def _stamp(epoch: float | None, pattern: str = LEASE_DATE_FORMAT) -> str | None:
    if epoch is None:
        return None
    text = time.strftime(pattern.replace(".%f", ""), time.gmtime(epoch))
    return text + (f".{int((epoch % 1) * 1_000_000):06d}" if ".%f" in pattern else "")


def _created(epoch: float | None) -> str | None:
    return _stamp(epoch, "%Y-%m-%d %H:%M:%S")


class Blazar:
    """Leases over a host inventory, bound to a cloud's Nova and Neutron."""

    def __init__(self, cloud: Cloud, net: Networking, nova: Nova, neutron: Neutron,
                 hosts: Iterable[Host] | None = None, event_period: float = 0.0,
                 chameleon: bool = False) -> None:
        self.cloud = cloud
        self.net = net
        self.nova = nova
        self.neutron = neutron
        self.hosts = {host.id: host for host in (default_hosts() if hosts is None else hosts)}
        self.event_period = float(event_period)
        self.chameleon = chameleon
        self.faults: list[dict[str, Any]] = []
        self.reset()

    # ------------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget every lease (after the cloud's own reset) and seed the site."""
        self.leases: dict[str, Lease] = {}
        self.server_hosts: dict[str, str] = {}
        if self.chameleon:
            self._seed_site()

    def _seed_site(self) -> None:
        admin = seeded_id("project", ADMIN_PROJECT)
        for project_id in self.cloud.quotas:  # bare-metal flavors use no VCPU/RAM quota
            self.cloud.set_quotas(project_id, {"cores": -1, "ram": -1})
        for image in CHAMELEON_IMAGES:
            self.cloud.images[image.id] = replace(image, created_at=self.cloud.clock.now(),
                                                  owner=admin)
        network = self.net.create_network(admin, {"name": SHARED_NETWORK, "shared": True})
        subnet = self.net.create_subnet(admin, {
            "name": SHARED_SUBNET, "network_id": network["id"], "cidr": SHARED_CIDR,
            "ip_version": 4, "dns_nameservers": ["130.202.101.6", "130.202.101.37"]})
        external = next(n for n in self.cloud.networks.values() if n["router:external"])
        router = self.neutron.routing.create_router(admin, {
            "name": f"{SHARED_NETWORK}-router",
            "external_gateway_info": {"network_id": external["id"]}})
        self.neutron.routing.add_interface(router, {"subnet_id": subnet["id"]})

    def status(self, lease: Lease) -> str:
        """The lease's status now."""
        return lease_status(lease, self.cloud.clock.now(), self.event_period)

    def sync(self) -> None:
        """Apply the start and end of every lease whose time has come (callers hold
        ``cloud.lock``)."""
        for lease in list(self.leases.values()):
            status = self.status(lease)
            if status == "ERROR" and lease.phase != "ended":
                lease.error = lease.error or lease.doomed
                self._end(lease)
            elif status in ("ACTIVE", "TERMINATING", "TERMINATED") and not lease.phase:
                self._start(lease)
            if status in ("TERMINATING", "TERMINATED") and lease.phase == "started":
                self._end(lease)

    def _start(self, lease: Lease) -> None:
        lease.phase = "started"
        for reservation in lease.reservations:
            if reservation.resource_type == "flavor:instance":
                base = self.cloud.flavors[str(reservation.values["flavor_id"])]
                flavor = replace(base, id=reservation.id, name=f"reservation:{reservation.id}",
                                 is_public=False, extra_specs={
                                     **base.extra_specs,
                                     "aggregate_instance_extra_specs:reservation":
                                         reservation.id})
                self.cloud.flavors[flavor.id] = flavor
                reservation.made = [flavor.id]
            elif reservation.resource_type == "virtual:floatingip":
                for _ in range(int(reservation.values["amount"])):
                    fip = self.neutron.routing.create_floatingip(lease.project_id, {
                        "floating_network_id": reservation.values["network_id"],
                        "description": f"reservation:{reservation.id}"})
                    reservation.made.append(fip["id"])

    def _end(self, lease: Lease) -> None:
        """What the end (or deletion, or failure) of a lease takes away."""
        lease.phase = "ended"
        hints = {r.id for r in lease.reservations}
        for server in list(self.cloud.servers.values()):
            if str((server.scheduler_hints or {}).get("reservation", "")) in hints:
                self.nova.servers.delete(server)
                self.server_hosts.pop(server.id, None)
        for reservation in lease.reservations:
            for made in reservation.made:
                if reservation.resource_type == "flavor:instance":
                    self.cloud.flavors.pop(made, None)
                elif made in self.cloud.floatingips:
                    self.neutron.routing.delete_floatingip(self.cloud.floatingips[made])
            reservation.made = []

    # --------------------------------------------------------------- allocation
    def _busy(self, begin: float, end: float, ignore: str | None = None) -> set[str]:
        """Hosts allocated to a live lease (other than ``ignore``) during [begin, end)."""
        busy: set[str] = set()
        for lease in self.leases.values():
            if lease.id == ignore or self.status(lease) not in HOLDING:
                continue
            if overlaps(begin, end, lease.start, lease.end):
                for reservation in lease.reservations:
                    busy.update(reservation.hosts)
        return busy

    def _candidates(self, values: Mapping[str, Any]) -> list[Host]:
        return [host for host in sorted(self.hosts.values(), key=lambda h: int(h.id)
                                        if h.id.isdigit() else 0)
                if matches(values.get("resource_properties") or "", host.properties())
                and matches(values.get("hypervisor_properties") or "", host.properties())]

    def _allocate(self, values: Mapping[str, Any], begin: float, end: float,
                  ignore: str | None = None, taken: set[str] | None = None) -> list[str]:
        """Host ids for a ``physical:host`` reservation, or Blazar's refusal."""
        try:
            minimum, maximum = int(values["min"]), int(values["max"])
        except (KeyError, TypeError, ValueError):
            raise blazar_error(400, "Missing parameter min/max") from None
        if minimum < 1 or maximum < minimum:
            raise blazar_error(400, "Invalid values for min/max of hosts. Max must be equal "
                                    "to or larger than min.")
        busy = self._busy(begin, end, ignore) | (taken or set())
        free = [host.id for host in self._candidates(values) if host.id not in busy]
        if len(free) < minimum:
            raise blazar_error(500, NOT_ENOUGH_HOSTS)
        return free[:maximum]

    # ----------------------------------------------------------------- routes
    def handle(self, request: Request, caller: Caller, parts: list[str]) -> Response:
        """Answer a ``/v1/…`` request (``parts`` after ``v1``)."""
        with self.cloud.lock:
            self.sync()
            return self._route(request, caller, parts)

    def _route(self, request: Request, caller: Caller, parts: list[str]) -> Response:
        method = request.method
        match parts:
            case ["leases"] if method == "GET":
                return json_response({"leases": [self.view(lease) for lease in
                                                 self._visible(caller)]})
            case ["leases"] if method == "POST":
                lease = self.create(caller, self._body(request))
                return json_response({"lease": self.view(lease)}, 201)
            case ["leases", lease_id] if method == "GET":
                return json_response({"lease": self.view(self._lease(caller, lease_id))})
            case ["leases", lease_id] if method == "PUT":
                lease = self.update(self._lease(caller, lease_id), self._body(request))
                view = self.view(lease)
                if view["status"] in LIVE:
                    # Blazar answers while its manager still holds the lease in UPDATING;
                    # the next read shows it settled
                    view["status"] = "UPDATING"
                return json_response({"lease": view})
            case ["leases", lease_id] if method == "DELETE":
                self.delete(self._lease(caller, lease_id))
                return Response(204)
            case ["os-hosts"] if method == "GET":
                return json_response({"hosts": [self._host_view(h) for h in
                                                 self._candidates({})]})
            case ["os-hosts", "allocations"] if method == "GET":
                return json_response({"allocations": self.allocations(request.query)})
            case ["os-hosts", host_id] if method == "GET":
                return json_response({"host": self._host_view(self._host(host_id))})
            case ["os-hosts", host_id, "allocation"] if method == "GET":
                self._host(host_id)
                found = [a for a in self.allocations(request.query)
                         if a["resource_id"] == host_id]
                return json_response({"allocation": found[0] if found else
                                      {"resource_id": host_id, "reservations": []}})
            case ["floatingips"] if method == "GET":
                return json_response({"floatingips": []})
        raise blazar_error(404, "The resource could not be found.")

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json() or {}
        except ApiError as exc:
            raise blazar_error(400, str(exc)) from None
        if not isinstance(body, dict):
            raise blazar_error(400, "The request body must be a JSON object")
        return body

    def _visible(self, caller: Caller) -> list[Lease]:
        return sorted((lease for lease in self.leases.values()
                       if lease.project_id == caller.project_id or caller.is_admin),
                      key=lambda lease: (lease.created_at, lease.id))

    def _lease(self, caller: Caller, lease_id: str) -> Lease:
        lease = self.leases.get(lease_id)
        if lease is None or (lease.project_id != caller.project_id and not caller.is_admin):
            raise blazar_error(404, f"Object with {{'lease_id': '{lease_id}'}} not found")
        return lease

    def _host(self, host_id: str) -> Host:
        if host_id not in self.hosts:
            raise blazar_error(404, f"Host '{host_id}' not found!")
        return self.hosts[host_id]

    # ---------------------------------------------------------------- leases
    def create(self, caller: Caller, body: Mapping[str, Any]) -> Lease:
        """A new lease, its hosts allocated now for its whole window."""
        now = self.cloud.clock.now()
        name = str(body.get("name") or "")
        if not name:
            raise blazar_error(400, "Missing parameter name")
        if any(lease.name == name and lease.project_id == caller.project_id
               for lease in self.leases.values()):
            raise blazar_error(409, f"The lease with name: {name} already exists")
        start = parse_date(body.get("start_date", "now"), now, "start_date")
        end = parse_date(body.get("end_date"), now, "end_date")
        if body.get("start_date") != "now" and start < now - 60:
            raise blazar_error(400, "Start date must be later than current date")
        start = max(start, now) if body.get("start_date") != "now" else now
        if end <= start:
            raise blazar_error(400, "The end_date must be later than the start_date.")
        wanted = body.get("reservations") or []
        if not isinstance(wanted, list) or not wanted:
            raise blazar_error(400, "Missing parameter reservations")
        lease_id = self.cloud.new_id()
        reservations: list[Reservation] = []
        taken: set[str] = set()
        for values in wanted:
            kind = str((values or {}).get("resource_type", ""))
            if kind not in RESOURCE_TYPES:
                raise blazar_error(500, f"The {kind} resource type is not supported")
            reservation = Reservation(self.cloud.new_id(), lease_id, kind,
                                      dict(values), now)
            if kind == "physical:host":
                reservation.hosts = self._allocate(values, start, end, taken=taken)
                taken.update(reservation.hosts)
            elif kind == "flavor:instance":
                if str(values.get("flavor_id")) not in self.cloud.flavors:
                    raise blazar_error(400, f"Flavor {values.get('flavor_id')} not found")
                _positive(values, "amount")
            else:
                network = self.cloud.networks.get(str(values.get("network_id")))
                if network is None or not network["router:external"]:
                    raise blazar_error(400, f"Network {values.get('network_id')} is not an "
                                            "external network")
                _positive(values, "amount")
            reservations.append(reservation)
        lease = Lease(lease_id, name, caller.project_id, caller.user.id, start, end, now,
                      reservations)
        for fault in self.faults:
            if name_matches(fault["name"], name):
                lease.doomed = fault["message"]
                if fault["count"] is not None:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                break
        self.leases[lease.id] = lease
        self.sync()
        return lease

    def update(self, lease: Lease, body: Mapping[str, Any]) -> Lease:
        """Rename, move the start of a lease not started yet, move its end (the hosts
        must stay free for the new window), or change how many hosts a ``physical:host``
        reservation holds."""
        now = self.cloud.clock.now()
        status = self.status(lease)
        if status in ("TERMINATING", "TERMINATED", "ERROR") and set(body) - {"name"}:
            raise blazar_error(400, "Terminated leases can only be renamed")
        start, end = lease.start, lease.end
        if "start_date" in body:
            start = parse_date(body["start_date"], now, "start_date")
            if start != lease.start and status != "PENDING":
                raise blazar_error(400, "Cannot modify the start date of already started "
                                        "leases")
            if start != lease.start and start < now:
                raise blazar_error(400, "Start date must be later than current date")
        if "end_date" in body:
            end = parse_date(body["end_date"], now, "end_date")
            if end <= now or end <= start:
                raise blazar_error(400, "End date must be later than current and start "
                                        "date")
        hosts = {r.id: list(r.hosts) for r in lease.reservations}
        if (start, end) != (lease.start, lease.end):
            busy = self._busy(start, end, ignore=lease.id)
            if any(host in busy for kept in hosts.values() for host in kept):
                raise blazar_error(500, NOT_ENOUGH_HOSTS)
        changed = self._resized(lease, body.get("reservations") or [], start, end, hosts)
        for reservation in lease.reservations:
            reservation.hosts = hosts[reservation.id]
            reservation.values.update(changed.get(reservation.id, {}))
        lease.start, lease.end = start, end
        if body.get("name"):
            lease.name = str(body["name"])
        lease.updated_at = now
        self.sync()
        return lease

    def _resized(self, lease: Lease, wanted: Any, start: float, end: float,
                 hosts: dict[str, list[str]]) -> dict[str, dict[str, int]]:
        """New ``min``/``max`` of ``physical:host`` reservations (by ``id``): hosts are
        added from those free for the window, or released; ``hosts`` is updated."""
        changed: dict[str, dict[str, int]] = {}
        by_id = {r.id: r for r in lease.reservations}
        for values in wanted if isinstance(wanted, list) else []:
            reservation = by_id.get(str((values or {}).get("id")))
            if reservation is None or reservation.resource_type != "physical:host":
                raise blazar_error(409, "Only the min and max of a lease's physical:host "
                                        "reservations (given by id) can be updated")
            limits = {**{k: reservation.values[k] for k in ("min", "max")},
                      **{k: values[k] for k in ("min", "max") if k in values}}
            current = hosts[reservation.id]
            maximum = int(limits["max"])
            if maximum < len(current):
                hosts[reservation.id] = current[:maximum]
            elif maximum > len(current):
                taken = {h for kept in hosts.values() for h in kept}
                free = [h.id for h in self._candidates(reservation.values)
                        if h.id not in self._busy(start, end, ignore=lease.id) | taken]
                extra = free[:maximum - len(current)]
                if len(current) + len(extra) < int(limits["min"]):
                    raise blazar_error(500, NOT_ENOUGH_HOSTS)
                hosts[reservation.id] = current + extra
            changed[reservation.id] = {"min": int(limits["min"]), "max": maximum}
        return changed

    def delete(self, lease: Lease) -> None:
        """Delete a lease: its servers, flavor and floating IPs go at once."""
        if lease.phase != "ended":
            self._end(lease)
        del self.leases[lease.id]

    def fail(self, lease: Lease, message: str) -> None:
        """Put a lease in ERROR (its resources are released)."""
        lease.error = message
        self.sync()

    # ----------------------------------------------------------------- views
    def view(self, lease: Lease) -> dict[str, Any]:
        """A lease as ``GET /leases/{id}`` shows it."""
        status = self.status(lease)
        now = self.cloud.clock.now()
        started, ended = now >= event_time(lease.start, self.event_period), \
            now >= event_time(lease.end, self.event_period)
        return {
            "id": lease.id, "name": lease.name, "status": status,
            "status_reason": lease.error, "degraded": False,
            "start_date": _stamp(lease.start), "end_date": _stamp(lease.end),
            "created_at": _created(lease.created_at), "updated_at": _created(lease.updated_at),
            "user_id": lease.user_id, "project_id": lease.project_id,
            "trust_id": seeded_id("trust", lease.id),
            "reservations": [self._reservation_view(r, status) for r in lease.reservations],
            "events": [
                {"id": seeded_id("event", f"{lease.id}-start"), "lease_id": lease.id,
                 "event_type": "start_lease", "time": _stamp(lease.start),
                 "status": "DONE" if started else "UNDONE"},
                {"id": seeded_id("event", f"{lease.id}-end"), "lease_id": lease.id,
                 "event_type": "end_lease", "time": _stamp(lease.end),
                 "status": "DONE" if ended else "UNDONE"}],
        }

    def _reservation_view(self, reservation: Reservation, status: str) -> dict[str, Any]:
        state = {"PENDING": "pending", "STARTING": "pending", "ACTIVE": "active",
                 "ERROR": "error"}.get(status, "deleted")
        view: dict[str, Any] = {
            "id": reservation.id, "lease_id": reservation.lease_id,
            "resource_id": seeded_id("resource", reservation.id),
            "resource_type": reservation.resource_type, "status": state,
            "created_at": _created(reservation.created_at), "updated_at": None,
            "missing_resources": False, "resources_changed": False}
        values = reservation.values
        if reservation.resource_type == "physical:host":
            view.update(min=int(values["min"]), max=int(values["max"]),
                        resource_properties=values.get("resource_properties") or "",
                        hypervisor_properties=values.get("hypervisor_properties") or "",
                        before_end=values.get("before_end") or "default")
        elif reservation.resource_type == "flavor:instance":
            view.update(flavor_id=values["flavor_id"], amount=int(values["amount"]),
                        affinity=values.get("affinity"))
        else:
            view.update(network_id=values["network_id"], amount=int(values["amount"]),
                        required_floatingips=list(values.get("required_floatingips") or []))
        return view

    def _host_view(self, host: Host) -> dict[str, Any]:
        return {"id": host.id, "hypervisor_hostname": host.hypervisor_hostname,
                "service_name": host.hypervisor_hostname, "hypervisor_type": "ironic",
                "hypervisor_version": 1, "vcpus": host.vcpus, "memory_mb": host.memory_mb,
                "local_gb": host.local_gb, "cpu_info": "baremetal cpu",
                "node_type": host.node_type, "reservable": True,
                "created_at": "2024-01-01 00:00:00", "updated_at": None}

    def allocations(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Per host, the reservations of live leases holding it (Chameleon shows them to
        every user: its availability calendar is built on them)."""
        by_host: dict[str, list[dict[str, Any]]] = {h: [] for h in self.hosts}
        for lease in sorted(self.leases.values(), key=lambda lease: lease.start):
            if self.status(lease) not in HOLDING:
                continue
            if query.get("lease_id") not in (None, lease.id):
                continue
            for reservation in lease.reservations:
                if query.get("reservation_id") not in (None, reservation.id):
                    continue
                for host in reservation.hosts:
                    by_host[host].append({"id": reservation.id, "lease_id": lease.id,
                                          "start_date": _stamp(lease.start),
                                          "end_date": _stamp(lease.end)})
        return [{"resource_id": host, "reservations": found}
                for host, found in by_host.items() if found]

    # ----------------------------------------------------------------- nova
    def admit(self, caller: Caller, server_ids: Iterable[str]) -> None:
        """After Nova accepted servers: fail those Blazar's filter would not place
        (see the module docstring)."""
        with self.cloud.lock:
            self.sync()
            for server_id in server_ids:
                server = self.cloud.servers.get(server_id)
                if server is None:
                    continue
                refusal = self._placement(caller, server)
                if refusal is not None:
                    self.nova.servers.fail(server, refusal)

    def _placement(self, caller: Caller, server: Any) -> str | None:
        flavor = self.cloud.flavors.get(server.flavor_id)
        baremetal = flavor is not None and BAREMETAL_SPEC in flavor.extra_specs
        hint = str((server.scheduler_hints or {}).get("reservation") or "")
        if not hint:
            return f"{NO_VALID_HOST} (bare metal needs a reservation)" if baremetal else None
        found = [(lease, r) for lease in self.leases.values() for r in lease.reservations
                 if r.id == hint and lease.project_id == caller.project_id]
        if not found or self.status(found[0][0]) != "ACTIVE":
            return NO_VALID_HOST
        reservation = found[0][1]
        if reservation.resource_type != "physical:host":
            return None
        used = {self.server_hosts[s.id] for s in self.cloud.servers.values()
                if s.id in self.server_hosts and s.id != server.id}
        free = [host for host in reservation.hosts if host not in used]
        if not baremetal or not free:
            return NO_VALID_HOST
        self.server_hosts[server.id] = free[0]
        return None

    # --------------------------------------------------------------- controls
    def add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``lease_error``: leases whose name matches go to ERROR at their start."""
        fault = {"uid": len(self.faults) + 1, "kind": "lease_error",
                 "name": str(spec.get("name", ".*")), "count": spec.get("count"),
                 "message": str(spec.get("message") or "Failed to create Nova resources "
                                                        "for the reservation")}
        if fault["count"] is not None and (not isinstance(fault["count"], int)
                                           or fault["count"] < 1):
            raise ApiError(400, "invalid fault: count must be an integer >= 1")
        self.faults.append(fault)
        return dict(fault)

    def set_status(self, lease_ref: str, status: str, message: Any = None) -> dict[str, Any]:
        """Force a lease (id or name) to ERROR, as a failure of the site would."""
        if status != "ERROR":
            raise ApiError(400, "status must be ERROR")
        found = [lease for lease in self.leases.values() if lease_ref in (lease.id, lease.name)]
        if len(found) != 1:
            raise ApiError(404 if not found else 409,
                           f"{len(found)} leases match {lease_ref!r}; give an id")
        self.fail(found[0], str(message or "Emulated failure of the lease."))
        return {"id": found[0].id, "name": found[0].name, "status": self.status(found[0])}

    def describe(self) -> str:
        """The host inventory in one line (for ``bedform emulate``)."""
        counts: dict[str, int] = {}
        for host in self.hosts.values():
            counts[host.node_type] = counts.get(host.node_type, 0) + 1
        return ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))


def _positive(values: Mapping[str, Any], key: str) -> None:
    try:
        if int(values[key]) >= 1:
            return
    except (KeyError, TypeError, ValueError):
        pass
    raise blazar_error(400, f"Missing parameter {key}")
