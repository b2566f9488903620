"""Neutron's model: networks, subnets and ports with IP allocation.

Resources are the JSON dictionaries the API shows, stored in the :class:`Cloud`.
Errors are :class:`CloudError` in Neutron's ``{"NeutronError": …}`` shape, with
the type names and messages of the real service. Callers hold ``cloud.lock``.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping
from typing import Any

from .cloud import Cloud
from .model import CloudError, Server, dashed_id
from .seed import EXTERNAL_NETWORK, EXTERNAL_SUBNET

ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATING_IP_OWNER = "network:floatingip"
#: URL collection name -> (Neutron's NotFound type, its message)
NOT_FOUND = {
    "networks": ("NetworkNotFound", "Network {} could not be found."),
    "subnets": ("SubnetNotFound", "Subnet {} could not be found."),
    "ports": ("PortNotFound", "Port {} could not be found."),
    "routers": ("RouterNotFound", "Router {} could not be found."),
    "floatingips": ("FloatingIPNotFound", "Floating IP {} could not be found."),
    "security-groups": ("SecurityGroupNotFound", "Security group {} does not exist"),
    "security-group-rules": ("SecurityGroupRuleNotFound", "Security group rule {} does not exist"),
}
#: URL collection name -> quota resource name
QUOTA_NAMES = {"networks": "network", "subnets": "subnet", "ports": "port", "routers": "router",
               "floatingips": "floatingip", "security-groups": "security_group",
               "security-group-rules": "security_group_rule"}


def neutron_error(status: int, kind: str, message: str) -> CloudError:
    """An error in Neutron's shape."""
    return CloudError(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})


def bad_request(message: str) -> CloudError:
    """Neutron's 400 for invalid input."""
    return neutron_error(400, "HTTPBadRequest", message)


def not_found(collection: str, item_id: str) -> CloudError:
    """Neutron's 404 for an unknown (or invisible) resource of a collection."""
    kind, message = NOT_FOUND[collection]
    return neutron_error(404, kind, message.format(item_id))


class Networking:
    """Operations on the networking state of a cloud (the logic behind ``/v2.0``)."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    # ---------------------------------------------------------------- common
    def base(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Attributes every resource has."""
        stamp = self.cloud.stamp()
        return {
            "id": self.cloud.new_id(),
            "name": str(body.get("name") or ""),
            "description": str(body.get("description") or ""),
            "tenant_id": project_id,
            "project_id": project_id,
            "tags": [],
            "created_at": stamp,
            "updated_at": stamp,
            "revision_number": 0,
        }

    def touch(self, resource: dict[str, Any]) -> None:
        """Record a change (``updated_at``, ``revision_number``)."""
        resource["updated_at"] = self.cloud.stamp()
        resource["revision_number"] += 1

    def check_quota(self, project_id: str, resource: str, collection: Mapping[str, Any]) -> None:
        """409 OverQuota when one more ``resource`` would exceed the project's limit."""
        limit = self.cloud.quota(project_id, resource)
        used = sum(1 for item in collection.values() if item["project_id"] == project_id)
        if limit >= 0 and used + 1 > limit:
            raise neutron_error(409, "OverQuota", f"Quota exceeded for resources: ['{resource}'].")

    def collection(self, name: str) -> dict[str, dict[str, Any]]:
        """The store behind a URL collection name (``networks``, ``security-groups``…)."""
        cloud = self.cloud
        return {"networks": cloud.networks, "subnets": cloud.subnets, "ports": cloud.ports,
                "routers": cloud.routers, "floatingips": cloud.floatingips,
                "security-groups": cloud.security_groups,
                "security-group-rules": cloud.security_group_rules}[name]

    def usage(self, project_id: str) -> dict[str, int]:
        """How many of each quota'd resource a project holds."""
        return {QUOTA_NAMES[name]: sum(1 for item in self.collection(name).values()
                                       if item["project_id"] == project_id)
                for name in QUOTA_NAMES}

    def find(self, collection: str, item_id: str) -> dict[str, Any]:
        """A resource of a collection, or Neutron's 404 for its kind."""
        resource = self.collection(collection).get(item_id)
        if resource is None:
            raise not_found(collection, item_id)
        return resource

    def network(self, network_id: str) -> dict[str, Any]:
        """A network, or 404 NetworkNotFound."""
        return self.find("networks", network_id)

    def subnet(self, subnet_id: str) -> dict[str, Any]:
        """A subnet, or 404 SubnetNotFound."""
        return self.find("subnets", subnet_id)

    def port(self, port_id: str) -> dict[str, Any]:
        """A port, or 404 PortNotFound."""
        return self.find("ports", port_id)

    # -------------------------------------------------------------- networks
    def seed_external(self, project_id: str) -> None:
        """The external network ``public`` with its subnet, owned by ``project_id``."""
        network = self.create_network(project_id, {"name": EXTERNAL_NETWORK,
                                                   "router:external": True})
        _rekey(self.cloud.networks, network, dashed_id("network", EXTERNAL_NETWORK))
        subnet = self.create_subnet(project_id, {"name": EXTERNAL_SUBNET,
                                                 "network_id": network["id"],
                                                 "cidr": self.cloud.external_cidr, "ip_version": 4,
                                                 "enable_dhcp": False})
        _rekey(self.cloud.subnets, subnet, dashed_id("subnet", EXTERNAL_SUBNET))
        network["subnets"] = [subnet["id"]]

    def create_network(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new network."""
        self.check_quota(project_id, "network", self.cloud.networks)
        network = self.base(project_id, body)
        network.update({
            "admin_state_up": bool(body.get("admin_state_up", True)),
            "status": "ACTIVE",
            "subnets": [],
            "shared": bool(body.get("shared", False)),
            "router:external": bool(body.get("router:external", False)),
            "mtu": int(body.get("mtu") or 1450),
            "port_security_enabled": bool(body.get("port_security_enabled", True)),
            "availability_zone_hints": [],
            "availability_zones": ["nova"],
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "is_default": False,
            "l2_adjacency": True,
            "dns_domain": str(body.get("dns_domain") or ""),
        })
        self.cloud.networks[network["id"]] = network
        return network

    def delete_network(self, network: dict[str, Any]) -> None:
        """Delete a network; 409 NetworkInUse while ports other than DHCP/router use it."""
        in_use = [p for p in self.cloud.ports.values() if p["network_id"] == network["id"]]
        if in_use:
            raise neutron_error(
                409, "NetworkInUse",
                f"Unable to complete operation on network {network['id']}. "
                "There are one or more ports still in use on the network.")
        for subnet_id in network["subnets"]:
            self.cloud.subnets.pop(subnet_id, None)
        del self.cloud.networks[network["id"]]

    # --------------------------------------------------------------- subnets
    def create_subnet(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new subnet: default gateway is the first address, the pool the rest."""
        network = self.network(str(body.get("network_id") or ""))
        try:
            cidr = ipaddress.ip_network(str(body.get("cidr") or ""), strict=False)
        except ValueError:
            raise bad_request(f"Invalid input for cidr. Reason: '{body.get('cidr')}' "
                              "is not a valid IP subnet.") from None
        if int(body.get("ip_version", cidr.version)) != cidr.version:
            raise bad_request("Invalid input for operation: ip_version does not match cidr.")
        for other_id in network["subnets"]:
            other = ipaddress.ip_network(self.cloud.subnets[other_id]["cidr"])
            if other.overlaps(cidr):
                raise bad_request(
                    f"Invalid input for operation: Requested subnet with cidr: {cidr} for "
                    f"network: {network['id']} overlaps with another subnet.")
        self.check_quota(project_id, "subnet", self.cloud.subnets)
        first, last = _usable_range(cidr)
        gateway = body.get("gateway_ip", str(first))
        if gateway is not None and ipaddress.ip_address(gateway) not in cidr:
            raise bad_request(f"Invalid input for operation: Gateway IP {gateway} "
                              f"is not in subnet {cidr}.")
        pools = body.get("allocation_pools") or _default_pools(first, last, gateway)
        for pool in pools:
            for key in ("start", "end"):
                if ipaddress.ip_address(pool[key]) not in cidr:
                    raise bad_request(f"The allocation pool {pool['start']}-{pool['end']} "
                                      f"spans beyond the subnet cidr {cidr}.")
        subnet = self.base(project_id, body)
        subnet.update({
            "network_id": network["id"],
            "ip_version": cidr.version,
            "cidr": str(cidr),
            "gateway_ip": gateway,
            "allocation_pools": [{"start": p["start"], "end": p["end"]} for p in pools],
            "dns_nameservers": list(body.get("dns_nameservers") or []),
            "host_routes": list(body.get("host_routes") or []),
            "enable_dhcp": bool(body.get("enable_dhcp", True)),
            "ipv6_ra_mode": None,
            "ipv6_address_mode": None,
            "subnetpool_id": None,
            "segment_id": None,
            "service_types": [],
            "dns_publish_fixed_ip": False,
        })
        self.cloud.subnets[subnet["id"]] = subnet
        network["subnets"].append(subnet["id"])
        self.touch(network)
        return subnet

    def delete_subnet(self, subnet: dict[str, Any]) -> None:
        """Delete a subnet; 409 SubnetInUse while a port has an address on it."""
        if any(ip["subnet_id"] == subnet["id"] for port in self.cloud.ports.values()
               for ip in port["fixed_ips"]):
            raise neutron_error(
                409, "SubnetInUse",
                f"Unable to complete operation on subnet {subnet['id']}: "
                "One or more ports have an IP allocation from this subnet.")
        network = self.cloud.networks[subnet["network_id"]]
        network["subnets"].remove(subnet["id"])
        del self.cloud.subnets[subnet["id"]]

    def allocate_ip(self, subnet: Mapping[str, Any]) -> str:
        """The first free address of the subnet's pools; 409 when exhausted."""
        used = {ip["ip_address"] for port in self.cloud.ports.values()
                for ip in port["fixed_ips"] if ip["subnet_id"] == subnet["id"]}
        for pool in subnet["allocation_pools"]:
            address = ipaddress.ip_address(pool["start"])
            end = ipaddress.ip_address(pool["end"])
            while int(address) <= int(end):
                if str(address) not in used:
                    return str(address)
                address += 1
        raise neutron_error(409, "IpAddressGenerationFailure",
                            f"No more IP addresses available on network {subnet['network_id']}.")

    # ----------------------------------------------------------------- ports
    def create_port(
        self,
        project_id: str,
        body: Mapping[str, Any],
        *,
        security_group_ids: list[str] | None = None,
        counted: bool = True,
    ) -> dict[str, Any]:
        """A new port on ``body["network_id"]`` with an address on each requested subnet.

        ``fixed_ips`` may name ``subnet_id`` and/or ``ip_address``; by default the
        port gets one address from the network's first IPv4 subnet. ``counted``
        ports (all but the hidden gateway and floating IP ports) count against
        the project's ``port`` quota.
        """
        network = self.network(str(body.get("network_id") or ""))
        if counted:
            self.check_quota(project_id, "port", self.cloud.ports)
        fixed_ips = self._fixed_ips(network, body.get("fixed_ips"))
        port = self.base(project_id, body)
        device_owner = str(body.get("device_owner") or "")
        if security_group_ids is None:
            security_group_ids = list(body.get("security_groups") or [])
        port.update({
            "network_id": network["id"],
            "admin_state_up": bool(body.get("admin_state_up", True)),
            "mac_address": "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}"
                                                  for _ in range(3)),
            "fixed_ips": fixed_ips,
            "device_id": str(body.get("device_id") or ""),
            "device_owner": device_owner,
            "status": "ACTIVE" if device_owner else "DOWN",
            "security_groups": security_group_ids,
            "allowed_address_pairs": list(body.get("allowed_address_pairs") or []),
            "extra_dhcp_opts": [],
            "port_security_enabled": bool(body.get("port_security_enabled",
                                                   network["port_security_enabled"])),
            "binding:vnic_type": "normal",
            "dns_name": "",
            "dns_assignment": [],
            "ip_allocation": "immediate",
            "propagate_uplink_status": False,
        })
        self.cloud.ports[port["id"]] = port
        return port

    def _fixed_ips(self, network: Mapping[str, Any], requested: Any) -> list[dict[str, str]]:
        if not requested:
            v4 = [s for s in network["subnets"] if self.cloud.subnets[s]["ip_version"] == 4]
            requested = [{"subnet_id": v4[0]}] if v4 else []
        fixed = []
        for spec in requested:
            subnet_id = spec.get("subnet_id")
            address = spec.get("ip_address")
            if subnet_id is None:
                subnet_id = next(
                    (s for s in network["subnets"]
                     if ipaddress.ip_address(address)
                     in ipaddress.ip_network(self.cloud.subnets[s]["cidr"])), None)
                if subnet_id is None:
                    raise bad_request(f"Invalid input for operation: IP address {address} is "
                                      f"not a valid IP for any of the subnets on the network "
                                      f"{network['id']}.")
            subnet = self.subnet(subnet_id)
            if subnet["network_id"] != network["id"]:
                raise bad_request(f"Invalid input for operation: Failed to create port on "
                                  f"network {network['id']}, because fixed_ips included invalid "
                                  f"subnet {subnet_id}.")
            if address is None:
                address = self.allocate_ip(subnet)
            elif any(ip["ip_address"] == address and ip["subnet_id"] == subnet_id
                     for p in self.cloud.ports.values() for ip in p["fixed_ips"]):
                raise neutron_error(409, "IpAddressAlreadyAllocated",
                                    f"IP address {address} already allocated in subnet "
                                    f"{subnet_id}")
            fixed.append({"subnet_id": subnet_id, "ip_address": str(address)})
        return fixed

    def delete_port(self, port: Mapping[str, Any]) -> None:
        """Remove a port; floating IPs on it are disassociated."""
        for fip in self.cloud.floatingips.values():
            if fip["port_id"] == port["id"]:
                self.disassociate(fip)
        self.cloud.ports.pop(port["id"], None)

    # ------------------------------------------------------ servers (for Nova)
    def server_addresses(self, server: Server) -> dict[str, list[dict[str, Any]]]:
        """Nova's ``addresses``: per network name, fixed entries then floating ones."""
        addresses: dict[str, list[dict[str, Any]]] = {}
        for port_id in server.port_ids:
            port = self.cloud.ports.get(port_id)
            if port is None:
                continue
            entries = addresses.setdefault(self.cloud.networks[port["network_id"]]["name"], [])
            mac = port["mac_address"]
            for ip in port["fixed_ips"]:
                entries.append(_address(ip["ip_address"], "fixed", mac))
            for fip in self.cloud.floatingips.values():
                if fip["port_id"] == port_id:
                    entries.append(_address(fip["floating_ip_address"], "floating", mac))
        return addresses

    def disassociate(self, fip: dict[str, Any]) -> None:
        """Detach a floating IP from its port."""
        fip.update({"port_id": None, "fixed_ip_address": None, "router_id": None,
                    "status": "DOWN", "port_details": None})

def _usable_range(cidr: Any) -> tuple[Any, Any]:
    """First and last assignable addresses (no network/broadcast address in IPv4)."""
    if cidr.num_addresses <= 2:
        return cidr.network_address, cidr.broadcast_address
    last = cidr.broadcast_address - 1 if cidr.version == 4 else cidr.broadcast_address
    return cidr.network_address + 1, last


def _default_pools(first: Any, last: Any, gateway: str | None) -> list[dict[str, str]]:
    """The whole usable range, split around the gateway address."""
    ranges = [(first, last)]
    if gateway is not None and first <= ipaddress.ip_address(gateway) <= last:
        address = ipaddress.ip_address(gateway)
        ranges = [(first, address - 1), (address + 1, last)]
    return [{"start": str(low), "end": str(high)} for low, high in ranges if low <= high]


def _rekey(collection: dict[str, dict[str, Any]], resource: dict[str, Any], new_id: str) -> None:
    """Give a seeded resource its stable id."""
    collection.pop(resource["id"])
    resource["id"] = new_id
    collection[new_id] = resource


def _address(address: str, kind: str, mac: str) -> dict[str, Any]:
    return {"version": ipaddress.ip_address(address).version, "addr": address,
            "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": mac}
