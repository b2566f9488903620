"""Nova servers: creation (networks, ports, security groups, quotas), the BUILD →
ACTIVE/ERROR life on the virtual clock, listing with regex names, views by
microversion, actions and deletion.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ..common import Request, Response, json_response
from .cloud import Cloud
from .keystone import Caller
from .model import CloudError, Flavor, Server, iso_time, nova_error
from .network import Networking
from .secgroups import SecurityGroups

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
STATES = {  # status -> (vm_state, task_state, power_state)
    "BUILD": ("building", "spawning", 0),
    "ACTIVE": ("active", None, 1),
    "SHUTOFF": ("stopped", None, 4),
    "ERROR": ("error", None, 0),
}


def ref(value: Any) -> str:
    """An id from an id or a URL (Nova accepts both for imageRef/flavorRef)."""
    return str(value or "").rstrip("/").rsplit("/", 1)[-1]


def find_flavor(cloud: Cloud, flavor_id: str, status: int) -> Flavor:
    """A flavor, or ``status`` (404 on its own URL, 400 inside a server request)."""
    flavor = cloud.flavors.get(flavor_id)
    if flavor is None:
        raise nova_error(status, f"Flavor {flavor_id} could not be found.")
    return flavor


def compute_usage(cloud: Cloud, project_id: str) -> dict[str, int]:
    """What a project uses of each compute quota."""
    mine = [s for s in cloud.servers.values() if s.project_id == project_id]
    flavors = [cloud.flavors[s.flavor_id] for s in mine if s.flavor_id in cloud.flavors]
    owners = {u.id for u in cloud.users.values() if u.project_ids[0] == project_id}
    return {"instances": len(mine), "cores": sum(f.vcpus for f in flavors),
            "ram": sum(f.ram for f in flavors),
            "key_pairs": sum(1 for (user, _) in cloud.keypairs if user in owners)}


class Servers:
    """The ``/servers`` resource (callers hold ``cloud.lock``)."""

    def __init__(self, cloud: Cloud, net: Networking, groups: SecurityGroups) -> None:
        self.cloud = cloud
        self.net = net
        self.groups = groups

    def sync(self, server: Server) -> None:
        """Apply the BUILD → ACTIVE/ERROR transition once its time has come."""
        if server.status != "BUILD" or self.cloud.clock.now() < server.ready_at:
            return
        if server.doomed is not None:
            self.fail(server, server.doomed, at=server.ready_at)
        else:
            server.status = "ACTIVE"
            server.launched_at = server.updated_at = server.ready_at

    def fail(self, server: Server, message: str, at: float | None = None) -> None:
        """Put a server in ERROR with a fault; a failed build releases its ports."""
        when = self.cloud.clock.now() if at is None else at
        if server.status == "BUILD":
            self._release_ports(server)
        server.status = "ERROR"
        server.updated_at = when
        server.fault = {"code": 500, "created": iso_time(when), "message": message}

    def get(self, caller: Caller, server_id: str) -> Server:
        """A server of the caller's project (brought up to date), or 404."""
        server = self.cloud.servers.get(server_id)
        if server is None or (server.project_id != caller.project_id and not caller.is_admin):
            raise nova_error(404, f"Instance {server_id} could not be found.")
        self.sync(server)
        return server

    def index(self, request: Request, caller: Caller, version: tuple[int, int],
              detail: bool) -> Response:
        """``GET /servers[/detail]``: the caller's servers, newest first, filtered and paged."""
        query = request.query
        try:
            name = re.compile(query.get("name", ""))
            ip = re.compile(query.get("ip", ""))
        except re.error as exc:
            raise nova_error(400, f"Invalid regular expression: {exc}") from None
        servers = []
        for server in sorted(self.cloud.servers.values(),
                             key=lambda s: (-s.created_at, s.id)):
            if server.project_id != caller.project_id and not (
                    caller.is_admin and query.get("all_tenants") not in (None, "0", "false")):
                continue
            self.sync(server)
            fixed = [entry["addr"] for entries in self.net.server_addresses(server).values()
                     for entry in entries if entry["OS-EXT-IPS:type"] == "fixed"]
            if not name.search(server.name) or ("ip" in query and not any(
                    ip.search(address) for address in fixed)):
                continue
            if "status" in query and server.status != query["status"].upper():
                continue
            if "flavor" in query and server.flavor_id != query["flavor"]:
                continue
            if "image" in query and server.image_id != ref(query["image"]):
                continue
            servers.append(server)
        servers, links = self._page(servers, query, caller, detail)
        views = [self.view(s, version, caller) if detail else
                 {"id": s.id, "name": s.name, "links": self._links(caller, s.id)}
                 for s in servers]
        body: dict[str, Any] = {"servers": views}
        if links:
            body["servers_links"] = links
        return json_response(body)

    def _page(self, servers: list[Server], query: Mapping[str, str], caller: Caller,
              detail: bool) -> tuple[list[Server], list[dict[str, str]]]:
        if "marker" in query:
            ids = [s.id for s in servers]
            if query["marker"] not in ids:
                raise nova_error(400, f"marker [{query['marker']}] not found")
            servers = servers[ids.index(query["marker"]) + 1:]
        if "limit" not in query:
            return servers, []
        try:
            limit = int(query["limit"])
        except ValueError:
            raise nova_error(400, "limit param must be an integer") from None
        if limit < 0:
            raise nova_error(400, "limit param must be positive")
        page = servers[:limit]
        if len(page) < limit or not page:
            return page, []
        path = "servers/detail" if detail else "servers"
        kept = {k: v for k, v in query.items() if k not in ("limit", "marker")}
        href = (f"{caller.base_url}/v2.1/{path}?"
                + urlencode({**kept, "limit": limit, "marker": page[-1].id}))
        return page, [{"rel": "next", "href": href}]

    @staticmethod
    def _links(caller: Caller, server_id: str) -> list[dict[str, str]]:
        return [{"rel": "self", "href": f"{caller.base_url}/v2.1/servers/{server_id}"},
                {"rel": "bookmark", "href": f"{caller.base_url}/servers/{server_id}"}]

    def view(self, server: Server, version: tuple[int, int], caller: Caller) -> dict[str, Any]:
        """A server as ``GET /servers/{id}`` shows it at ``version``."""
        vm_state, task_state, power_state = STATES[server.status]
        flavor = self.cloud.flavors.get(server.flavor_id)
        if version >= (2, 47) and flavor is not None:
            flavor_view: dict[str, Any] = {
                "original_name": flavor.name, "vcpus": flavor.vcpus, "ram": flavor.ram,
                "disk": flavor.disk, "ephemeral": flavor.ephemeral, "swap": flavor.swap,
                "extra_specs": dict(flavor.extra_specs)}
        else:
            flavor_view = {"id": server.flavor_id, "links": [
                {"rel": "bookmark", "href": f"{caller.base_url}/flavors/{server.flavor_id}"}]}
        host = hashlib.sha224(f"{server.project_id}emulator".encode()).hexdigest()
        view: dict[str, Any] = {
            "id": server.id, "name": server.name, "status": server.status,
            "tenant_id": server.project_id, "user_id": server.user_id,
            "metadata": dict(server.metadata),
            "hostId": host if server.status != "BUILD" else "",
            "image": {"id": server.image_id, "links": [
                {"rel": "bookmark", "href": f"{caller.base_url}/images/{server.image_id}"}]},
            "flavor": flavor_view,
            "created": iso_time(server.created_at), "updated": iso_time(server.updated_at),
            "addresses": (self.net.server_addresses(server)
                          if server.status in ("ACTIVE", "SHUTOFF", "ERROR") else {}),
            "accessIPv4": "", "accessIPv6": "",
            "links": self._links(caller, server.id),
            "OS-DCF:diskConfig": "MANUAL",
            "progress": 0 if server.status == "BUILD" else 100,
            "OS-EXT-AZ:availability_zone": server.availability_zone,
            "config_drive": "",
            "key_name": server.key_name,
            "OS-SRV-USG:launched_at": (iso_time(server.launched_at)[:-1]
                                       if server.launched_at else None),
            "OS-SRV-USG:terminated_at": None,
            "security_groups": ([{"name": name} for name in server.security_groups]
                                if server.port_ids else []),
            "OS-EXT-STS:task_state": task_state,
            "OS-EXT-STS:vm_state": vm_state,
            "OS-EXT-STS:power_state": power_state,
            "os-extended-volumes:volumes_attached": [],
        }
        if server.fault is not None:
            view["fault"] = dict(server.fault)
        if version >= (2, 9):
            view["locked"] = False
        if version >= (2, 19):
            view["description"] = server.description
        if version >= (2, 26):
            view["tags"] = []
        return view

    # --------------------------------------------------------- create/delete
    def create(self, request: Request, caller: Caller, version: tuple[int, int]) -> Response:
        """``POST /servers``: validate, check quotas, create ports, answer 202."""
        body = request.json() or {}
        spec = body.get("server") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise nova_error(400, "Invalid input for field/attribute server. Value: None. "
                                  "None is not of type 'object'")
        name = spec.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 255:
            raise nova_error(400, "Invalid input for field/attribute name. Value: "
                                  f"{name}. 'name' is a required property")
        image = self.cloud.images.get(ref(spec.get("imageRef")))
        if image is None:
            raise nova_error(400, f"Image {ref(spec.get('imageRef'))} could not be found.")
        flavor = find_flavor(self.cloud, ref(spec.get("flavorRef")), 400)
        if flavor.disk and image.min_disk > flavor.disk:  # Nova's words (Zed, measured)
            raise nova_error(400, "Flavor's disk is smaller than the minimum size specified "
                                  f"in image metadata. Flavor disk is {flavor.disk << 30} "
                                  f"bytes, minimum size is {image.min_disk << 30} bytes.")
        key_name = spec.get("key_name")
        if key_name is not None and (caller.user.id, key_name) not in self.cloud.keypairs:
            raise nova_error(400, "Invalid key_name provided.")
        groups = spec.get("security_groups") or [{"name": "default"}]
        if not isinstance(groups, list) or not all(isinstance(g, dict) and g.get("name")
                                                   for g in groups):
            raise nova_error(400, "Invalid input for field/attribute security_groups. "
                                  "Each item must be an object with a 'name'.")
        group_names = [str(g["name"]) for g in groups]
        try:
            networks = self._requested_networks(caller, spec.get("networks"), version)
            group_ids = [self.groups.resolve(caller.project_id, g) for g in group_names]
        except CloudError as exc:
            raise _as_nova(exc) from None
        minimum, count = _counts(spec)
        count = self._admissible(caller.project_id, flavor, minimum, count)
        hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
        created = []
        for index in range(count):
            server_name = f"{name}-{index + 1}" if count > 1 else name
            created.append(self._build(caller, server_name, spec, image.id, flavor, networks,
                                       group_names, group_ids, hints))
        first = created[0]
        return json_response(
            {"server": {"id": first.id, "links": self._links(caller, first.id),
                        "OS-DCF:diskConfig": "MANUAL", "adminPass": first.admin_pass,
                        "security_groups": [{"name": n} for n in group_names]}},
            202, {"Location": f"{caller.base_url}/v2.1/servers/{first.id}"})

    def _requested_networks(self, caller: Caller, requested: Any,
                            version: tuple[int, int]) -> list[dict[str, str]]:
        if requested is None and version >= (2, 37):
            raise nova_error(400, "Invalid input for field/attribute server. Value: {}. "
                                  "'networks' is a required property")
        if requested == "none":
            return []
        if requested in (None, "auto"):
            own = [n for n in self.cloud.networks.values()
                   if n["project_id"] == caller.project_id or n["shared"]]
            if len(own) > 1:
                raise nova_error(409, "Multiple possible networks found, use a Network ID to "
                                      "be more specific.")
            if not own and requested == "auto":
                raise nova_error(400, "Unable to automatically allocate a network for project "
                                      f"{caller.project_id}")
            return [{"uuid": n["id"]} for n in own]
        if not isinstance(requested, list):
            raise nova_error(400, "Invalid input for field/attribute networks.")
        wanted = []
        for item in requested:
            if not isinstance(item, dict):
                raise nova_error(400, "Invalid input for field/attribute networks. Each item "
                                      "must be an object with 'uuid' or 'port'.")
            if item.get("port"):
                port = self.cloud.ports.get(str(item["port"]))
                if port is None or (port["project_id"] != caller.project_id
                                    and not caller.is_admin):
                    raise nova_error(400, f"Port id {item['port']} could not be found.")
                if port["device_id"]:
                    raise nova_error(409, f"Port {port['id']} is still in use.")
                wanted.append({"port": port["id"]})
                continue
            network = self.cloud.networks.get(str(item.get("uuid") or ""))
            if network is None or not (network["project_id"] == caller.project_id
                                       or network["shared"] or network["router:external"]
                                       or caller.is_admin):
                raise nova_error(400, f"Network {item.get('uuid')} could not be found.")
            if not network["subnets"]:
                raise nova_error(400, f"Network {network['id']} requires a subnet in order to "
                                      "boot instances on.")
            entry = {"uuid": network["id"]}
            if item.get("fixed_ip"):
                entry["fixed_ip"] = str(item["fixed_ip"])
            wanted.append(entry)
        return wanted

    def _admissible(self, project_id: str, flavor: Flavor, minimum: int, count: int) -> int:
        """How many servers the quotas allow (``count`` if possible, else 403)."""
        used = compute_usage(self.cloud, project_id)
        each = {"instances": 1, "cores": flavor.vcpus, "ram": flavor.ram}
        for wanted in range(count, minimum - 1, -1):
            overs = [r for r in each if self.cloud.quota(project_id, r) >= 0
                     and used[r] + each[r] * wanted > self.cloud.quota(project_id, r)]
            if not overs:
                return wanted
        resource = overs[0]
        raise nova_error(403, f"Quota exceeded for {resource}: Requested "
                              f"{each[resource] * minimum}, but already used {used[resource]} "
                              f"of {self.cloud.quota(project_id, resource)} {resource}")

    def _build(self, caller: Caller, name: str, spec: Mapping[str, Any], image_id: str,
               flavor: Flavor, networks: list[dict[str, str]], group_names: list[str],
               group_ids: list[str], hints: Mapping[str, Any]) -> Server:
        now = self.cloud.clock.now()
        server = Server(
            id=self.cloud.new_id(), name=name, project_id=caller.project_id,
            user_id=caller.user.id, flavor_id=flavor.id, image_id=image_id,
            key_name=spec.get("key_name"), port_ids=[], security_groups=group_names,
            created_at=now, ready_at=now + self.cloud.build_seconds, updated_at=now,
            metadata={str(k): str(v) for k, v in (spec.get("metadata") or {}).items()},
            scheduler_hints=dict(hints),
            availability_zone=str(spec.get("availability_zone") or "nova"),
            description=spec.get("description"), admin_pass=secrets.token_urlsafe(9),
        )
        try:
            for wanted in networks:
                if "port" in wanted:
                    port = self.cloud.ports[wanted["port"]]
                    server.given_port_ids.append(port["id"])
                else:
                    fixed = ([{"ip_address": wanted["fixed_ip"]}] if "fixed_ip" in wanted
                             else None)
                    port = self.net.create_port(caller.project_id, {
                        "network_id": wanted["uuid"], "fixed_ips": fixed},
                        security_group_ids=list(group_ids))
                port.update({"device_id": server.id, "device_owner": "compute:nova",
                             "status": "ACTIVE"})
                server.port_ids.append(port["id"])
        except CloudError as exc:
            self._release_ports(server)
            raise _as_nova(exc) from None
        for fault in self.cloud.server_faults:
            if re.search(fault.name, name):
                server.doomed = fault.message
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self.cloud.server_faults.remove(fault)
                break
        self.cloud.servers[server.id] = server
        self.sync(server)
        return server

    def _release_ports(self, server: Server) -> None:
        for port_id in server.port_ids:
            port = self.cloud.ports.get(port_id)
            if port is None:
                continue
            if port_id in server.given_port_ids:
                for fip in self.cloud.floatingips.values():
                    if fip["port_id"] == port_id:
                        self.net.disassociate(fip)
                port.update({"device_id": "", "device_owner": "", "status": "DOWN"})
            else:
                self.net.delete_port(port)
        server.port_ids = []

    def delete(self, server: Server) -> None:
        """Delete a server at once (then GET answers 404); its own ports go with it."""
        self._release_ports(server)
        del self.cloud.servers[server.id]

    def action(self, request: Request, server: Server) -> Response:
        """``POST /servers/{id}/action``: ``os-stop``, ``os-start`` or ``reboot``."""
        body = request.json() or {}
        action = next(iter(body), None) if isinstance(body, dict) else None
        allowed = {"os-stop": ("ACTIVE",), "os-start": ("SHUTOFF",),
                   "reboot": ("ACTIVE", "SHUTOFF")}
        if action not in allowed:
            raise nova_error(400, f"There is no such action: {action}")
        if server.status not in allowed[action]:
            verb = {"os-stop": "stop", "os-start": "start", "reboot": "reboot"}[action]
            raise nova_error(409, f"Cannot '{verb}' instance {server.id} while it is in "
                                  f"vm_state {STATES[server.status][0]}")
        server.status = "SHUTOFF" if action == "os-stop" else "ACTIVE"
        server.updated_at = self.cloud.clock.now()
        return Response(202)


def _counts(spec: Mapping[str, Any]) -> tuple[int, int]:
    """``min_count`` and ``max_count`` of a server request, validated (400 otherwise)."""
    try:
        minimum = int(spec.get("min_count") or 1)
        maximum = int(spec.get("max_count") or minimum)
    except (TypeError, ValueError):
        raise nova_error(400, "Invalid input for field/attribute min_count/max_count: "
                              "integers expected.") from None
    if not 1 <= minimum <= maximum:
        raise nova_error(400, f"min_count ({minimum}) must be >= 1 and <= max_count "
                              f"({maximum}).")
    return minimum, maximum


def _as_nova(error: CloudError) -> CloudError:
    """A Neutron error met while building a server, as Nova reports it."""
    body = error.body if isinstance(error.body, dict) else {}
    detail = body.get("NeutronError", {})
    message = detail.get("message") or str(error.body)
    if detail.get("type") == "OverQuota":
        return nova_error(403, "Maximum number of ports exceeded")
    return nova_error(400 if error.status in (400, 404) else error.status, message)
