"""Nova ``/v2.1``: version documents, flavors, key pairs, quotas and limits, and the
routes of the servers (see :mod:`.servers`).

Microversions 2.1 to :data:`MAX_MICROVERSION` are accepted (``OpenStack-API-Version:
compute X.Y`` or ``X-OpenStack-Nova-API-Version``) and change the shapes the
clients read: key pair ``type`` (2.2), 201/204 for key pairs (2.2), ``networks``
required (2.37), the embedded server ``flavor`` (2.47), flavor ``description``
(2.55) and ``extra_specs`` (2.61). Servers spend ``build_seconds`` of virtual
time in BUILD, then turn ACTIVE (or ERROR under a ``server_error`` fault).
"""

from __future__ import annotations

import re
from typing import Any

from ..common import Request, Response, json_response
from .cloud import Cloud
from .keypairs import Keypairs, keypair_view
from .keystone import Caller
from .model import Flavor, nova_error
from .network import Networking
from .secgroups import SecurityGroups
from .servers import Servers, compute_usage, find_flavor

MAX_MICROVERSION = (2, 61)
COMPUTE_QUOTAS = ("instances", "cores", "ram", "key_pairs")



def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def microversion(request: Request) -> tuple[int, int]:
    """The compute microversion asked for (2.1 by default); 406 when out of range."""
    header = request.header("OpenStack-API-Version") or ""
    asked = None
    for item in header.split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() == "compute":
            asked = value.strip()
    asked = asked or (request.header("X-OpenStack-Nova-API-Version") or "").strip() or "2.1"
    if asked.lower() == "latest":
        return MAX_MICROVERSION
    match = re.fullmatch(r"(\d+)\.(\d+)", asked)
    version = (int(match[1]), int(match[2])) if match else (0, 0)
    if not (2, 1) <= version <= MAX_MICROVERSION:
        raise nova_error(406, f"Version {asked} is not supported by the API. Minimum is 2.1 and "
                              f"maximum is {_text(MAX_MICROVERSION)}.")
    return version


class Nova:
    """The compute service of a :class:`Cloud`."""

    def __init__(self, cloud: Cloud, net: Networking, groups: SecurityGroups) -> None:
        self.cloud = cloud
        self.net = net
        self.groups = groups
        self.keypairs = Keypairs(cloud)
        self.servers = Servers(cloud, net, groups)

    # ------------------------------------------------------------- versions
    def version_doc(self, base_url: str, current_only: bool) -> Response:
        """``GET /v2.1`` (``current_only``) or the versions list at the root."""
        v21 = {
            "id": "v2.1", "status": "CURRENT", "version": _text(MAX_MICROVERSION),
            "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base_url}/v2.1/"},
                      {"rel": "describedby", "type": "text/html",
                       "href": "http://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}],
        }
        if current_only:
            return json_response({"version": v21})
        v20 = {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
               "updated": "2011-01-21T11:33:21Z",
               "links": [{"rel": "self", "href": f"{base_url}/v2/"}]}
        return json_response({"versions": [v20, v21]})

    # ---------------------------------------------------------------- routes
    def handle(self, request: Request, caller: Caller, parts: list[str]) -> Response:
        """Answer a ``/v2.1/…`` request (``parts`` after ``v2.1``, project id dropped)."""
        version = microversion(request)
        if parts and parts[0] == caller.project_id:
            parts = parts[1:]
        with self.cloud.lock:
            response = self._route(request, caller, parts, version)
        response.headers.update({"OpenStack-API-Version": f"compute {_text(version)}",
                                 "X-OpenStack-Nova-API-Version": _text(version),
                                 "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"})
        return response

    def _route(self, request: Request, caller: Caller, parts: list[str],
               version: tuple[int, int]) -> Response:
        method = request.method
        match parts:
            case ["flavors"] | ["flavors", "detail"] if method == "GET":
                flavors = sorted(self.cloud.flavors.values(), key=lambda f: (f.ram, f.id))
                detail = parts[-1] == "detail"
                return json_response({"flavors": [self._flavor_view(f, version, caller, detail)
                                                  for f in flavors]})
            case ["flavors", flavor_id] if method == "GET":
                flavor = find_flavor(self.cloud, flavor_id, 404)
                return json_response({"flavor": self._flavor_view(flavor, version, caller, True)})
            case ["flavors", flavor_id, "os-extra_specs"] if method == "GET":
                return json_response({"extra_specs": dict(find_flavor(self.cloud, flavor_id, 404)
                                                          .extra_specs)})
            case ["os-keypairs", *rest]:
                return self._keypairs(request, caller, rest, version)
            case ["servers"] | ["servers", "detail"] if method == "GET":
                return self.servers.index(request, caller, version, parts[-1] == "detail")
            case ["servers"] if method == "POST":
                return self.servers.create(request, caller, version)
            case ["servers", server_id] if method == "GET":
                server = self.servers.get(caller, server_id)
                return json_response({"server": self.servers.view(server, version, caller)})
            case ["servers", server_id] if method == "DELETE":
                self.servers.delete(self.servers.get(caller, server_id))
                return Response(204)
            case ["servers", server_id, "action"] if method == "POST":
                return self.servers.action(request, self.servers.get(caller, server_id))
            case ["os-quota-sets", project_id, *rest] if method == "GET":
                return self._quota_set(caller, project_id, rest == ["detail"])
            case ["limits"] if method == "GET":
                return self._limits(caller)
        raise nova_error(404, "The resource could not be found.")

    # --------------------------------------------------------------- flavors
    @staticmethod
    def _flavor_view(flavor: Flavor, version: tuple[int, int], caller: Caller,
                     detail: bool) -> dict[str, Any]:
        link = f"{caller.base_url}/v2.1/flavors/{flavor.id}"
        view: dict[str, Any] = {"id": flavor.id, "name": flavor.name,
                                "links": [{"rel": "self", "href": link},
                                          {"rel": "bookmark", "href": link}]}
        if version >= (2, 55):
            view["description"] = flavor.description
        if detail:
            view.update({"ram": flavor.ram, "vcpus": flavor.vcpus, "disk": flavor.disk,
                         "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
                         "swap": flavor.swap or "", "rxtx_factor": 1.0,
                         "OS-FLV-DISABLED:disabled": False,
                         "os-flavor-access:is_public": flavor.is_public})
            if version >= (2, 61):
                view["extra_specs"] = dict(flavor.extra_specs)
        return view

    # ------------------------------------------------------------- key pairs
    def _keypairs(self, request: Request, caller: Caller, rest: list[str],
                  version: tuple[int, int]) -> Response:
        user_id = caller.user.id
        if version >= (2, 10) and request.query.get("user_id"):
            user_id = request.query["user_id"]
            if user_id != caller.user.id and not caller.is_admin:
                raise nova_error(403, "Policy doesn't allow os_compute_api:os-keypairs:index "
                                      "to be performed.")
        match rest, request.method:
            case [], "GET":
                return json_response({"keypairs": [
                    {"keypair": keypair_view(k, version, False)}
                    for k in self.keypairs.list(user_id)]})
            case [], "POST":
                body = request.json() or {}
                keypair, private = self.keypairs.create(user_id, body.get("keypair"))
                view = keypair_view(keypair, version, False)
                view["user_id"] = keypair.user_id
                if private is not None:
                    view["private_key"] = private
                return json_response({"keypair": view}, 201 if version >= (2, 2) else 200)
            case [name], "GET":
                return json_response({"keypair": keypair_view(self.keypairs.get(user_id, name),
                                                              version, True)})
            case [name], "DELETE":
                self.keypairs.delete(user_id, name)
                return Response(204 if version >= (2, 2) else 202)
        raise nova_error(404, "The resource could not be found.")

    # ---------------------------------------------------------------- quotas
    def _quota_set(self, caller: Caller, project_id: str, detail: bool) -> Response:
        if project_id != caller.project_id and not caller.is_admin:
            raise nova_error(403, "Policy doesn't allow os_compute_api:os-quota-sets:show to "
                                  "be performed.")
        if project_id not in self.cloud.projects:
            raise nova_error(404, f"Project {project_id} could not be found.")
        used = compute_usage(self.cloud, project_id)
        quota: dict[str, Any] = {"id": project_id, "metadata_items": 128, "server_groups": 10,
                                 "server_group_members": 10}
        for resource in COMPUTE_QUOTAS:
            limit = self.cloud.quota(project_id, resource)
            quota[resource] = ({"limit": limit, "in_use": used[resource], "reserved": 0}
                               if detail else limit)
        return json_response({"quota_set": quota})

    def _limits(self, caller: Caller) -> Response:
        project_id = caller.project_id
        used = compute_usage(self.cloud, project_id)
        quota = self.cloud.quota
        absolute = {
            "maxTotalInstances": quota(project_id, "instances"),
            "maxTotalCores": quota(project_id, "cores"),
            "maxTotalRAMSize": quota(project_id, "ram"),
            "maxTotalKeypairs": quota(project_id, "key_pairs"),
            "maxServerMeta": 128, "maxImageMeta": 128, "maxPersonality": 5,
            "maxPersonalitySize": 10240, "maxServerGroups": 10, "maxServerGroupMembers": 10,
            "totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"],
            "totalRAMUsed": used["ram"], "totalServerGroupsUsed": 0,
        }
        return json_response({"limits": {"rate": [], "absolute": absolute}})
