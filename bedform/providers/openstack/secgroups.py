"""The `os_security_group` kind: the stack's security group and its rules.

EnOSlib's rules: ingress TCP 1-65535 and ICMP (plus what Neutron adds: egress). The
group is adopted by name + mark after a killed run, and rules missing from an adopted
group are added. Deleting the group deletes its rules. Reused by the Chameleon provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedform.providers.base import ApplyContext, KindSpec, Resource
from bedform.providers.openstack.client import refusal
from bedform.providers.openstack.listing import Listing
from bedform.providers.openstack.owned import NeutronKind, create_owned

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"direction": "ingress", "protocol": "tcp", "port_range_min": 1,
     "port_range_max": 65535, "ether_type": "IPv4"},
    {"direction": "ingress", "protocol": "icmp", "ether_type": "IPv4"},
)


def _same_rule(existing: Any, wanted: Mapping[str, Any]) -> bool:
    return all(getattr(existing, key, None) == value for key, value in wanted.items())


def _add_rule(network: Any, group_id: str, rule: Mapping[str, Any]) -> None:
    """Add a rule; one Neutron already holds (a killed run made it after our listing)
    counts as added."""
    from openstack import exceptions

    try:
        network.create_security_group_rule(security_group_id=group_id, **rule)
    except exceptions.ConflictException as error:
        if "already exists" not in str(error):
            raise


class SecurityGroupKind(NeutronKind):
    """A Neutron security group with its ingress rules (see the module docstring)."""

    spec = KindSpec("os_security_group", description="Neutron security group and rules")
    listing = Listing.security_groups
    what = "security group"
    delete_call = "delete_security_group"

    def attributes(self, obj: Any) -> dict[str, Any]:
        return {"id": obj.id, "name": obj.name}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        network = self.driver.conn.network
        name, mark = inputs["name"], inputs["mark"]
        group_id = create_owned(
            ctx, "security group", name, mark,
            listed=lambda: network.security_groups(name=name),
            make=lambda: network.create_security_group(name=name, description=mark))
        existing = list(network.security_group_rules(security_group_id=group_id))
        for rule in inputs["rules"]:
            if not any(_same_rule(e, rule) for e in existing):
                with refusal(f"rule {rule['protocol']} of security group {name}"):
                    _add_rule(network, group_id, rule)
        return {"id": group_id, "name": name}
