"""Neutron routers (gateway, interfaces) and floating IPs (allocation, association).

A floating IP can only be associated to a port whose subnet a router connects
to the floating IP's external network, as in Neutron. Callers hold ``cloud.lock``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .model import CloudError
from .network import (
    FLOATING_IP_OWNER,
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    Networking,
    bad_request,
    neutron_error,
    not_found,
)


class Routing:
    """Operations on routers and floating IPs."""

    def __init__(self, net: Networking) -> None:
        self.net = net
        self.cloud = net.cloud

    # --------------------------------------------------------------- routers
    def create_router(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new router, with its gateway when ``external_gateway_info`` is given."""
        self.net.check_quota(project_id, "router", self.cloud.routers)
        router = self.net.base(project_id, body)
        router.update({"admin_state_up": bool(body.get("admin_state_up", True)),
                       "status": "ACTIVE", "external_gateway_info": None, "routes": [],
                       "availability_zone_hints": [], "availability_zones": ["nova"],
                       "flavor_id": None})
        self.set_gateway(router, body.get("external_gateway_info"))
        self.cloud.routers[router["id"]] = router
        return router

    def set_gateway(self, router: dict[str, Any], info: Any) -> None:
        """Set (or with ``None`` clear) the router's external gateway."""
        current = router["external_gateway_info"]
        if current is not None and (info is None or info.get("network_id")
                                    != current["network_id"]):
            if any(f["router_id"] == router["id"] for f in self.cloud.floatingips.values()):
                raise neutron_error(
                    409, "RouterExternalGatewayInUseByFloatingIp",
                    f"Gateway cannot be updated for router {router['id']}, since a gateway to "
                    f"external network {current['network_id']} is required by one or more "
                    "floating IPs.")
            for port in list(self.cloud.ports.values()):
                if port["device_id"] == router["id"] and port["device_owner"] == ROUTER_GATEWAY:
                    self.net.delete_port(port)
            router["external_gateway_info"] = None
        if not info or (current is not None and info.get("network_id")
                        == current["network_id"]):
            return
        network = self.net.network(str(info.get("network_id") or ""))
        if not network["router:external"]:
            raise bad_request(f"Bad router request: Network {network['id']} is not an external "
                              "network.")
        port = self.net.create_port("", {"network_id": network["id"], "device_id": router["id"],
                                     "device_owner": ROUTER_GATEWAY}, counted=False)
        router["external_gateway_info"] = {
            "network_id": network["id"],
            "enable_snat": bool(info.get("enable_snat", True)),
            "external_fixed_ips": [dict(ip) for ip in port["fixed_ips"]],
        }

    def interface_ports(self, router: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The router's interface ports."""
        return [p for p in self.cloud.ports.values()
                if p["device_id"] == router["id"] and p["device_owner"] == ROUTER_INTERFACE]

    def add_interface(self, router: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
        """Attach a subnet (at its gateway address) or an existing port to the router."""
        if "port_id" in body:
            port = self.net.port(str(body["port_id"]))
            if port["device_id"]:
                raise neutron_error(409, "PortInUse",
                                    f"Unable to complete operation on port {port['id']} for "
                                    f"network {port['network_id']}. Port already has an "
                                    f"attached device {port['device_id']}.")
        elif "subnet_id" in body:
            subnet = self.net.subnet(str(body["subnet_id"]))
            if any(ip["subnet_id"] == subnet["id"] for p in self.interface_ports(router)
                   for ip in p["fixed_ips"]):
                raise bad_request(f"Bad router request: Router already has a port on subnet "
                                  f"{subnet['id']}.")
            if not subnet["gateway_ip"]:
                raise bad_request("Bad router request: Subnet for router interface must have "
                                  "a gateway IP.")
            port = self.net.create_port(router["project_id"], {
                "network_id": subnet["network_id"],
                "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}],
            }, security_group_ids=[])
        else:
            raise bad_request("Bad router request: Either subnet_id or port_id must be "
                              "specified.")
        port["device_id"] = router["id"]
        port["device_owner"] = ROUTER_INTERFACE
        port["status"] = "ACTIVE"
        self.net.touch(router)
        return self._interface_info(router, port)

    def remove_interface(self, router: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
        """Detach a subnet or port from the router, deleting the interface port."""
        ports = self.interface_ports(router)
        if "port_id" in body:
            port = next((p for p in ports if p["id"] == body["port_id"]), None)
            if port is None:
                raise neutron_error(404, "RouterInterfaceNotFound",
                                    f"Router {router['id']} does not have an interface with id "
                                    f"{body['port_id']}")
        elif "subnet_id" in body:
            port = next((p for p in ports for ip in p["fixed_ips"]
                         if ip["subnet_id"] == body["subnet_id"]), None)
            if port is None:
                raise neutron_error(404, "RouterInterfaceNotFoundForSubnet",
                                    f"Router {router['id']} has no interface on subnet "
                                    f"{body['subnet_id']}")
        else:
            raise bad_request("Bad router request: Either subnet_id or port_id must be "
                              "specified.")
        subnet_ids = {ip["subnet_id"] for ip in port["fixed_ips"]}
        for fip in self.cloud.floatingips.values():
            fixed = self.cloud.ports.get(fip["port_id"] or "")
            if fip["router_id"] == router["id"] and fixed is not None and any(
                    ip["subnet_id"] in subnet_ids for ip in fixed["fixed_ips"]):
                raise neutron_error(
                    409, "RouterInterfaceInUseByFloatingIP",
                    f"Router interface for subnet {sorted(subnet_ids)[0]} on router "
                    f"{router['id']} cannot be deleted, as it is required by one or more "
                    "floating IPs.")
        info = self._interface_info(router, port)
        self.net.delete_port(port)
        self.net.touch(router)
        return info

    @staticmethod
    def _interface_info(router: Mapping[str, Any], port: Mapping[str, Any]) -> dict[str, Any]:
        subnet_ids = [ip["subnet_id"] for ip in port["fixed_ips"]]
        return {"id": router["id"], "tenant_id": router["project_id"],
                "project_id": router["project_id"], "port_id": port["id"],
                "network_id": port["network_id"], "subnet_id": subnet_ids[0],
                "subnet_ids": subnet_ids}

    def delete_router(self, router: dict[str, Any]) -> None:
        """Delete a router; 409 RouterInUse while it has interfaces."""
        if self.interface_ports(router):
            raise neutron_error(409, "RouterInUse", f"Router {router['id']} still has ports")
        self.set_gateway(router, None)
        del self.cloud.routers[router["id"]]

    # ---------------------------------------------------------- floating IPs
    def create_floatingip(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Allocate an address from the external network (and associate it if asked)."""
        network_id = body.get("floating_network_id")
        if not network_id:
            raise bad_request("Invalid input for floating_network_id. Reason: "
                              "'None' is not a valid UUID.")
        network = self.net.network(str(network_id))
        if not network["router:external"]:
            raise bad_request(f"Bad floatingip request: Network {network['id']} is not a valid "
                              "external network.")
        self.net.check_quota(project_id, "floatingip", self.cloud.floatingips)
        fixed_ips = ([{"ip_address": body["floating_ip_address"]}]
                     if body.get("floating_ip_address") else None)
        fip = self.net.base(project_id, body)
        port = self.net.create_port("", {"network_id": network["id"], "fixed_ips": fixed_ips,
                                     "device_id": fip["id"],
                                     "device_owner": FLOATING_IP_OWNER}, counted=False)
        fip.update({"floating_ip_address": port["fixed_ips"][0]["ip_address"],
                    "floating_network_id": network["id"], "router_id": None, "port_id": None,
                    "fixed_ip_address": None, "status": "DOWN", "port_details": None,
                    "qos_policy_id": None, "dns_name": "", "dns_domain": "",
                    "port_forwardings": []})
        try:
            if body.get("port_id"):
                self.associate(fip, str(body["port_id"]), body.get("fixed_ip_address"))
        except CloudError:
            self.cloud.ports.pop(port["id"], None)
            raise
        self.cloud.floatingips[fip["id"]] = fip
        return fip

    def associate(self, fip: dict[str, Any], port_id: str, fixed_address: Any = None) -> None:
        """Point a floating IP at a port (of its project) through a router reaching its subnet."""
        port = self.net.port(port_id)
        if port["project_id"] != fip["project_id"]:
            raise not_found("ports", port_id)
        candidates = [ip for ip in port["fixed_ips"]
                      if ipaddress.ip_address(ip["ip_address"]).version == 4
                      and fixed_address in (None, ip["ip_address"])]
        if not candidates:
            raise bad_request(f"Bad floatingip request: Port {port_id} does not have fixed ip "
                              f"{fixed_address}." if fixed_address else
                              f"Bad floatingip request: Port {port_id} does not have any IPv4 "
                              "address.")
        fixed = candidates[0]
        router_id = self._router_towards(fip["floating_network_id"], fixed["subnet_id"])
        if router_id is None:
            raise neutron_error(
                404, "ExternalGatewayForFloatingIPNotFound",
                f"External network {fip['floating_network_id']} is not reachable from subnet "
                f"{fixed['subnet_id']}.  Therefore, cannot associate Port {port_id} with a "
                "Floating IP.")
        for other in self.cloud.floatingips.values():
            if (other["id"] != fip["id"] and other["port_id"] == port_id
                    and other["fixed_ip_address"] == fixed["ip_address"]):
                raise neutron_error(
                    409, "FloatingIPPortAlreadyAssociated",
                    f"Cannot associate floating IP {fip['floating_ip_address']} ({fip['id']}) "
                    f"with port {port_id} using fixed IP {fixed['ip_address']}, as that fixed IP "
                    f"already has a floating IP on external network "
                    f"{fip['floating_network_id']}.")
        fip.update({"port_id": port_id, "fixed_ip_address": fixed["ip_address"],
                    "router_id": router_id, "status": "ACTIVE",
                    "port_details": {"name": port["name"], "network_id": port["network_id"],
                                     "mac_address": port["mac_address"],
                                     "admin_state_up": port["admin_state_up"],
                                     "status": port["status"], "device_id": port["device_id"],
                                     "device_owner": port["device_owner"]}})

    def _router_towards(self, external_network_id: str, subnet_id: str) -> str | None:
        for router in self.cloud.routers.values():
            gateway = router["external_gateway_info"]
            if gateway is None or gateway["network_id"] != external_network_id:
                continue
            if any(ip["subnet_id"] == subnet_id for p in self.interface_ports(router)
                   for ip in p["fixed_ips"]):
                return str(router["id"])
        return None

    def delete_floatingip(self, fip: Mapping[str, Any]) -> None:
        """Release a floating IP and its address."""
        for port in list(self.cloud.ports.values()):
            if port["device_id"] == fip["id"] and port["device_owner"] == FLOATING_IP_OWNER:
                del self.cloud.ports[port["id"]]
        del self.cloud.floatingips[fip["id"]]
