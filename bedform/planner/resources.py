"""The desired resources of a stack: gathered from every driver, checked, ordered."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import networkx as nx

from bedform.errors import ConfigError
from bedform.providers.base import Ref, Resource


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


def encode_value(value: Any) -> Any:
    """JSON form of an input value: refs become {"$ref": "address#attribute"}."""
    if isinstance(value, Ref):
        return {"$ref": f"{value.address}#{value.attribute}"}
    if isinstance(value, Mapping):
        return {key: encode_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    return value


def decode_value(value: Any) -> Any:
    """Inverse of `encode_value`."""
    if isinstance(value, Mapping):
        if set(value) == {"$ref"}:
            address, _, attribute = value["$ref"].rpartition("#")
            return Ref(address, attribute)
        return {key: decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


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
                                  hint="Give the machines or networks distinct names.")
            by_address[resource.address] = resource
        graph = nx.DiGraph()
        graph.add_nodes_from(sorted(by_address))
        for resource in by_address.values():
            for dependency in resource.dependencies():
                if dependency not in by_address:
                    raise ConfigError(
                        f"{resource.address} depends on {dependency}, which the "
                        "configuration does not define")
                graph.add_edge(dependency, resource.address)
        try:
            order = tuple(nx.lexicographical_topological_sort(graph))
        except nx.NetworkXUnfeasible:
            cycle = " -> ".join(edge[0] for edge in nx.find_cycle(graph))
            raise ConfigError(f"resources depend on each other in a cycle: {cycle}") from None
        return cls(by_address, order)

    def fingerprint(self) -> str:
        """Hash of every desired resource, to tell whether the configuration changed."""
        document = [resource_to_dict(self.resources[address]) for address in self.order]
        return hashlib.sha256(
            json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
