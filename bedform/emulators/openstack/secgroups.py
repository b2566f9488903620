"""Neutron security groups and rules, with the ``default`` group of each project."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .network import Networking, bad_request, neutron_error

PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
RULE_MATCH = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
              "remote_ip_prefix", "remote_group_id")


class SecurityGroups:
    """Operations on security groups (callers hold ``cloud.lock``)."""

    def __init__(self, net: Networking) -> None:
        self.net = net
        self.cloud = net.cloud

    def group(self, group_id: str) -> dict[str, Any]:
        """A group, or 404 SecurityGroupNotFound."""
        return self.net.find("security-groups", group_id)

    def ensure_default(self, project_id: str) -> dict[str, Any]:
        """The project's ``default`` group, created (as Neutron does) on first use."""
        for group in self.cloud.security_groups.values():
            if group["project_id"] == project_id and group["name"] == "default":
                return group
        group = self._new_group(project_id, {"name": "default",
                                             "description": "Default security group"})
        for ethertype in ("IPv4", "IPv6"):
            self._add_rule(group, {"direction": "egress", "ethertype": ethertype})
            self._add_rule(group, {"direction": "ingress", "ethertype": ethertype,
                                   "remote_group_id": group["id"]})
        return group

    def create_group(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new group with the two egress rules Neutron adds."""
        if body.get("name") == "default":
            raise neutron_error(409, "SecurityGroupDefaultAlreadyExists",
                                "Default security group already exists.")
        self.ensure_default(project_id)
        self.net.check_quota(project_id, "security_group", self.cloud.security_groups)
        group = self._new_group(project_id, body)
        for ethertype in ("IPv4", "IPv6"):
            self._add_rule(group, {"direction": "egress", "ethertype": ethertype})
        return group

    def _new_group(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        group = self.net.base(project_id, body)
        group.update({"stateful": bool(body.get("stateful", True)), "shared": False,
                      "security_group_rules": []})
        self.cloud.security_groups[group["id"]] = group
        return group

    def view(self, group: Mapping[str, Any]) -> dict[str, Any]:
        """The group with its current rules."""
        rules = [dict(rule) for rule in self.cloud.security_group_rules.values()
                 if rule["security_group_id"] == group["id"]]
        return {**group, "security_group_rules": rules}

    def delete_group(self, group: Mapping[str, Any]) -> None:
        """Delete a group; 409 for ``default`` and for groups in use by a port."""
        if group["name"] == "default":
            raise neutron_error(409, "SecurityGroupCannotRemoveDefault",
                                "Insufficient rights for removing default security group.")
        if any(group["id"] in port["security_groups"] for port in self.cloud.ports.values()):
            raise neutron_error(409, "SecurityGroupInUse", f"Security Group {group['id']} in use.")
        for rule_id, rule in list(self.cloud.security_group_rules.items()):
            if rule["security_group_id"] == group["id"]:
                del self.cloud.security_group_rules[rule_id]
        del self.cloud.security_groups[group["id"]]

    def create_rule(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new rule, validated as Neutron does; 409 for a duplicate."""
        group = self.group(str(body.get("security_group_id") or ""))
        self.net.check_quota(project_id, "security_group_rule", self.cloud.security_group_rules)
        return self._add_rule(group, body)

    def _add_rule(self, group: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
        direction = body.get("direction")
        if direction not in ("ingress", "egress"):
            raise bad_request(f"Invalid input for direction. Reason: {direction} is not in "
                              "valid_values.")
        ethertype = body.get("ethertype") or "IPv4"
        if ethertype not in ("IPv4", "IPv6"):
            raise bad_request(f"Invalid input for ethertype. Reason: {ethertype} is not in "
                              "valid_values.")
        protocol = body.get("protocol")
        protocol = None if protocol in (None, "", "any") else str(protocol).lower()
        if protocol is not None and protocol not in PROTOCOL_NUMBERS and not (
                protocol.isdigit() and 0 <= int(protocol) <= 255):
            raise neutron_error(400, "SecurityGroupRuleInvalidProtocol",
                                f"Security group rule protocol {protocol} not supported. Only "
                                "protocol values [None, 'tcp', 'udp', 'icmp', 'icmpv6'] and "
                                "integer representations [0 to 255] are supported.")
        low, high = _port(body, "port_range_min"), _port(body, "port_range_max")
        if protocol in ("tcp", "udp"):
            if (low is None) != (high is None) or (low is not None and high is not None and (
                    not 1 <= low <= high <= 65535)):
                raise neutron_error(400, "SecurityGroupInvalidPortRange",
                                    "For TCP/UDP protocols, port_range_min must be <= "
                                    "port_range_max")
        elif (low is not None or high is not None) and protocol is None:
            raise neutron_error(400, "SecurityGroupProtocolRequiredWithPorts",
                                "Must also specify protocol if port range is given.")
        remote_group = body.get("remote_group_id")
        if remote_group is not None:
            self.group(str(remote_group))
        rule = self.net.base(group["project_id"], body)
        del rule["name"], rule["tags"]
        rule.update({"security_group_id": group["id"], "direction": direction,
                     "ethertype": ethertype, "protocol": protocol, "port_range_min": low,
                     "port_range_max": high, "remote_ip_prefix": body.get("remote_ip_prefix"),
                     "remote_group_id": remote_group, "remote_address_group_id": None,
                     "normalized_cidr": body.get("remote_ip_prefix"), "belongs_to_default_sg":
                     group["name"] == "default"})
        for other in self.cloud.security_group_rules.values():
            if other["security_group_id"] == group["id"] and all(
                    other[key] == rule[key] for key in RULE_MATCH):
                raise neutron_error(409, "SecurityGroupRuleExists",
                                    f"Security group rule already exists. Rule id is "
                                    f"{other['id']}.")
        self.cloud.security_group_rules[rule["id"]] = rule
        return rule

    def resolve(self, project_id: str, name_or_id: str) -> str:
        """A group id from a name or id as Nova receives it; 400 when unknown or ambiguous."""
        if name_or_id == "default":
            return str(self.ensure_default(project_id)["id"])
        group = self.cloud.security_groups.get(name_or_id)
        if group is not None and group["project_id"] == project_id:
            return name_or_id
        found = [g["id"] for g in self.cloud.security_groups.values()
                 if g["project_id"] == project_id and g["name"] == name_or_id]
        if len(found) > 1:
            raise neutron_error(409, "Conflict", f"Multiple security groups found matching "
                                f"'{name_or_id}'. Use an ID to be more specific.")
        if not found:
            raise neutron_error(400, "SecurityGroupNotFound", f"Security group {name_or_id} "
                                f"not found for project {project_id}.")
        return str(found[0])


def _port(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid input for {key}. Reason: '{value}' is not an integer.") \
            from None
