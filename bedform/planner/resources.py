"""The desired resources of a stack: gathered from every driver, checked, ordered."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bedform.errors import ConfigError
from bedform.planner.graph import Dag
from bedform.providers.base import Ref, Resource
from bedform.values import DESCEND, walk


class _Unknown:
    """Placeholder for a value known only after apply."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"


UNKNOWN = _Unknown()


def encode_ref(node: Any) -> Any:
    """A `walk` visitor: a ref becomes {"$ref": "address#attribute"}."""
    if isinstance(node, Ref):
        return {"$ref": f"{node.address}#{node.attribute}"}
    return DESCEND


def encode_value(value: Any) -> Any:
    """JSON form of an input value: refs become {"$ref": "address#attribute"}."""
    return walk(value, encode_ref)


def decode_value(value: Any) -> Any:
    """Inverse of `encode_value`."""
    def decode(node: Any) -> Any:
        if isinstance(node, Mapping) and set(node) == {"$ref"}:
            address, _, attribute = node["$ref"].rpartition("#")
            return Ref(address, attribute)
        return DESCEND
    return walk(value, decode)


def resource_to_dict(resource: Resource) -> dict[str, Any]:
    """JSON form of a desired resource (for saved plans)."""
    return {"address": resource.address, "kind": resource.kind, "provider": resource.provider,
            "inputs": encode_value(resource.inputs), "depends_on": list(resource.depends_on),
            "identity": dict(resource.identity)}


def resource_from_dict(data: Mapping[str, Any]) -> Resource:
    """Inverse of `resource_to_dict`."""
    return Resource(address=data["address"], kind=data["kind"], provider=data["provider"],
                    inputs=decode_value(data["inputs"]), depends_on=data["depends_on"],
                    identity=data["identity"])


@attrs.frozen
class DesiredSet:
    """Desired resources by address, in a dependency (topological) order."""

    resources: dict[str, Resource]
    order: tuple[str, ...]

    @classmethod
    def build(cls, resources: Iterable[Resource]) -> DesiredSet:
        """Check addresses are unique and dependencies exist and form no cycle."""
        by_address: dict[str, Resource] = {}
        for resource in resources:
            if resource.address in by_address:
                raise ConfigError(f"two resources share the address {resource.address!r}",
                                  ("providers", resource.provider),
                                  hint="Give the machines or networks distinct names.")
            by_address[resource.address] = resource
        dag: Dag[str] = Dag()
        for resource in by_address.values():
            dag.add(resource.address)
            for dependency in resource.dependencies():
                if dependency not in by_address:
                    raise ConfigError(
                        f"{resource.address} depends on {dependency}, which the "
                        "configuration does not define", ("providers", resource.provider),
                        hint="Declare it, or remove the reference to it.")
                dag.link(dependency, resource.address)
        order = dag.order()
        if len(order) < len(by_address):
            stuck = sorted(set(by_address) - set(order))
            raise ConfigError("resources depend on each other in a cycle: "
                              + ", ".join(stuck[:5]))
        return cls(by_address, tuple(order))

    def fingerprint(self) -> str:
        """Hash of every desired resource, to tell whether the configuration changed."""
        document = [resource_to_dict(self.resources[address]) for address in self.order]
        return hashlib.sha256(
            json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
