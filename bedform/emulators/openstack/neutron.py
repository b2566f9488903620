"""Neutron ``/v2.0``: the HTTP side of networks, subnets, ports, routers, floating IPs,
security groups and rules, quotas and extensions.

Lists take attribute filters as query parameters (``?name=``, ``?device_id=``,
``?router:external=True``, ``?fixed_ips=ip_address=…``); parameters that are not
attributes (``fields``, ``limit``, ``sort_key``…) are ignored and the whole list
is answered in one page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..common import Request, Response, json_response
from .cloud import Cloud
from .keystone import Caller
from .network import Networking, bad_request, neutron_error, not_found
from .routing import Routing
from .secgroups import SecurityGroups

NEUTRON_QUOTAS = ("network", "subnet", "port", "router", "floatingip", "security_group",
                  "security_group_rule")
EXTENSIONS = (
    ("external-net", "Neutron external network"), ("router", "Neutron L3 Router"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode"),
    ("security-group", "security-group"), ("quotas", "Quota management support"),
    ("quota_details", "Quota details management support"), ("binding", "Port Binding"),
    ("allowed-address-pairs", "Allowed Address Pairs"), ("port-security", "Port Security"),
    ("standard-attr-description", "standard-attr-description"),
    ("standard-attr-timestamp", "Resource timestamps"),
    ("standard-attr-revisions", "Resource revision numbers"),
    ("extraroute", "Neutron Extra Route"), ("availability_zone", "Availability Zone"),
    ("network-ip-availability", "Network IP Availability"), ("dns-integration", "DNS Integration"),
    ("fip-port-details", "Floating IP Port Details Extension"),
)  # fmt: skip
UPDATABLE = {
    "networks": {"name", "description", "admin_state_up", "mtu", "port_security_enabled",
                 "shared", "dns_domain"},
    "subnets": {"name", "description", "dns_nameservers", "host_routes", "enable_dhcp",
                "gateway_ip", "allocation_pools"},
    "ports": {"name", "description", "admin_state_up", "security_groups", "device_id",
              "device_owner", "allowed_address_pairs", "port_security_enabled"},
    "routers": {"name", "description", "admin_state_up", "external_gateway_info", "routes"},
    "floatingips": {"port_id", "fixed_ip_address", "description"},
    "security-groups": {"name", "description", "stateful"},
    "security-group-rules": {"description"},
}
SINGULAR = {"networks": "network", "subnets": "subnet", "ports": "port", "routers": "router",
            "floatingips": "floatingip", "security-groups": "security_group",
            "security-group-rules": "security_group_rule"}


class Neutron:
    """The network service of a :class:`Cloud`."""

    def __init__(self, cloud: Cloud, net: Networking, groups: SecurityGroups) -> None:
        self.cloud = cloud
        self.net = net
        self.routing = Routing(net)
        self.groups = groups

    # ----------------------------------------------------------------- routes
    def versions(self, base_url: str) -> Response:
        """``GET /`` of the network endpoint."""
        link = {"href": f"{base_url}/v2.0/", "rel": "self"}
        return json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                            "links": [link]}]})

    def handle(self, request: Request, caller: Caller, parts: list[str]) -> Response:
        """Answer a ``/v2.0/…`` request (``parts`` after ``v2.0``)."""
        parts = [p[:-5] if p.endswith(".json") else p for p in parts]
        method = request.method
        with self.cloud.lock:
            self.groups.ensure_default(caller.project_id)
            match parts:
                case [] if method == "GET":
                    return json_response({"resources": [
                        {"name": SINGULAR[c], "collection": c.replace("-", "_"),
                         "links": [{"rel": "self", "href": f"{caller.base_url}/v2.0/{c}"}]}
                        for c in SINGULAR]})
                case ["extensions"] if method == "GET":
                    return json_response({"extensions": [_extension(a, n)
                                                         for a, n in EXTENSIONS]})
                case ["extensions", alias] if method == "GET":
                    found = [_extension(a, n) for a, n in EXTENSIONS if a == alias]
                    if not found:
                        raise neutron_error(404, "ExtensionNotFound",
                                            f"Extension with alias {alias} does not exist")
                    return json_response({"extension": found[0]})
                case ["quotas", *rest]:
                    return self._quotas(request, caller, rest)
                case ["routers", router_id, action] if method == "PUT" and action in (
                        "add_router_interface", "remove_router_interface"):
                    router = self._get(caller, "routers", router_id)
                    body = _body(request, None)
                    if action == "add_router_interface":
                        return json_response(self.routing.add_interface(router, body))
                    return json_response(self.routing.remove_interface(router, body))
                case [name] if name in SINGULAR:
                    if method == "GET":
                        return self._list(request, caller, name)
                    if method == "POST":
                        return _validated(lambda: self._create(request, caller, name))
                case [name, item_id] if name in SINGULAR:
                    resource = self._get(caller, name, item_id)
                    if method == "GET":
                        return json_response({SINGULAR[name]: self._view(name, resource)})
                    if method == "PUT":
                        return _validated(lambda: self._update(request, name, resource))
                    if method == "DELETE":
                        self._delete(name, resource)
                        return Response(204)
            raise neutron_error(404, "HTTPNotFound", "The resource could not be found.")

    # ------------------------------------------------------------------- CRUD
    def _visible(self, caller: Caller, name: str, resource: Mapping[str, Any]) -> bool:
        if caller.is_admin or resource["project_id"] == caller.project_id:
            return True
        if name == "networks":
            return bool(resource["shared"] or resource["router:external"])
        if name == "subnets":
            network = self.cloud.networks[resource["network_id"]]
            return bool(network["shared"] or network["router:external"])
        return False

    def _get(self, caller: Caller, name: str, item_id: str) -> dict[str, Any]:
        resource = self.net.find(name, item_id)
        if not self._visible(caller, name, resource):
            raise not_found(name, item_id)
        return resource

    def _view(self, name: str, resource: Mapping[str, Any]) -> dict[str, Any]:
        if name == "security-groups":
            return self.groups.view(resource)
        return dict(resource)

    def _list(self, request: Request, caller: Caller, name: str) -> Response:
        items = [self._view(name, r) for r in self.net.collection(name).values()
                 if self._visible(caller, name, r) and _matches(r, request.query)]
        return json_response({SINGULAR[name] + "s": items})

    def _create(self, request: Request, caller: Caller, name: str) -> Response:
        body = _body(request, SINGULAR[name])
        project_id = caller.project_id
        if caller.is_admin and body.get("project_id", body.get("tenant_id")):
            project_id = str(body.get("project_id", body.get("tenant_id")))
        creators: dict[str, Callable[[str, Mapping[str, Any]], dict[str, Any]]] = {
            "networks": self.net.create_network, "subnets": self.net.create_subnet,
            "ports": self.net.create_port, "routers": self.routing.create_router,
            "floatingips": self.routing.create_floatingip,
            "security-groups": self.groups.create_group,
            "security-group-rules": self.groups.create_rule,
        }
        if name == "networks" and body.get("router:external") and not caller.is_admin:
            raise neutron_error(403, "PolicyNotAuthorized",
                                "(rule:create_network and rule:create_network:router:external) "
                                "is disallowed by policy")
        if name in ("subnets", "ports"):
            self._get(caller, "networks", str(body.get("network_id") or ""))
        if name == "ports" and "security_groups" not in body:
            body = {**body, "security_groups": [self.groups.ensure_default(project_id)["id"]]}
        resource = creators[name](project_id, body)
        return json_response({SINGULAR[name]: self._view(name, resource)}, 201)

    def _update(self, request: Request, name: str, resource: dict[str, Any]) -> Response:
        body = _body(request, SINGULAR[name])
        unknown = sorted(set(body) - UPDATABLE[name])
        if unknown:
            raise bad_request(f"Cannot update read-only attribute {unknown[0]}")
        if name == "routers" and "external_gateway_info" in body:
            self.routing.set_gateway(resource, body.pop("external_gateway_info"))
        if name == "floatingips" and "port_id" in body:
            if body["port_id"] is None:
                self.net.disassociate(resource)
            else:
                self.routing.associate(resource, str(body["port_id"]),
                                   body.get("fixed_ip_address"))
            body.pop("port_id")
            body.pop("fixed_ip_address", None)
        resource.update(body)
        self.net.touch(resource)
        return json_response({SINGULAR[name]: self._view(name, resource)})

    def _delete(self, name: str, resource: dict[str, Any]) -> None:
        if name == "ports" and resource["device_owner"].startswith("network:"):
            raise neutron_error(
                409, "ServicePortInUse",
                f"Port {resource['id']} cannot be deleted directly via the port API: has device "
                f"owner {resource['device_owner']}.")
        deleters: dict[str, Callable[[dict[str, Any]], object]] = {
            "networks": self.net.delete_network, "subnets": self.net.delete_subnet,
            "ports": self.net.delete_port, "routers": self.routing.delete_router,
            "floatingips": self.routing.delete_floatingip,
            "security-groups": self.groups.delete_group,
            "security-group-rules": lambda rule: self.cloud.security_group_rules.pop(rule["id"]),
        }
        deleters[name](resource)

    # ----------------------------------------------------------------- quotas
    def _quotas(self, request: Request, caller: Caller, rest: list[str]) -> Response:
        project_id = caller.project_id if not rest or rest == ["project"] else rest[0]
        if project_id != caller.project_id and not caller.is_admin:
            raise neutron_error(403, "PolicyNotAuthorized",
                                "rule:get_quota is disallowed by policy")
        if project_id not in self.cloud.projects:
            raise neutron_error(404, "HTTPNotFound", f"Project {project_id} not found.")
        if request.method == "PUT":
            if not caller.is_admin:
                raise neutron_error(403, "PolicyNotAuthorized",
                                    "rule:update_quota is disallowed by policy")
            limits = _body(request, "quota")
            unknown = sorted(set(limits) - set(NEUTRON_QUOTAS))
            if unknown:
                raise bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
            self.cloud.set_quotas(project_id, limits)
        quotas = {r: self.cloud.quota(project_id, r) for r in NEUTRON_QUOTAS}
        if rest[1:] == ["details"]:
            used = self.net.usage(project_id)
            return json_response({"quota": {r: {"limit": limit, "used": used[r], "reserved": 0}
                                            for r, limit in quotas.items()}})
        return json_response({"quota": quotas})


def _validated(write: Callable[[], Response]) -> Response:
    """Run a create or update; attribute values of the wrong type are Neutron's 400."""
    try:
        return write()
    except (TypeError, ValueError, AttributeError) as exc:
        raise bad_request(f"Invalid input for operation: {exc}.") from None


def _body(request: Request, key: str | None) -> dict[str, Any]:
    data = request.json("Invalid input: malformed JSON")
    if key is not None:
        data = data.get(key) if isinstance(data, dict) else None
    if not isinstance(data, dict):
        raise bad_request("Resource body required" if key is None else
                          f"Unable to find '{key}' in request body")
    return data


def _matches(resource: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    for key, wanted in query.items():
        if key not in resource or key == "tags":
            continue
        value = resource[key]
        if key == "fixed_ips":
            field, _, expected = wanted.partition("=")
            if not any(str(ip.get(field)) == expected for ip in value):
                return False
        elif isinstance(value, bool):
            if wanted.lower() != str(value).lower():
                return False
        elif isinstance(value, list):
            if wanted not in [str(v) for v in value]:
                return False
        elif str(value if value is not None else "") != wanted:
            return False
    return True


def _extension(alias: str, name: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": name, "links": [],
            "updated": "2013-01-20T00:00:00-00:00"}

