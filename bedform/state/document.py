"""The state document: its in-memory form, its JSON form and the check of its shape."""

from __future__ import annotations

import json
import uuid
from typing import Any

import attrs

from bedform.state.model import Record, Status

FORMAT = "bedform-state"
FORMAT_VERSION = 1
_RECORD_FIELDS = ("kind", "provider", "status", "inputs", "attributes", "dependencies",
                  "identity", "created_at", "updated_at", "expires_at")


@attrs.define
class State:
    """In-memory state: records by address plus the outputs (roles, networks)."""

    lineage: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    stack: str = ""
    providers: dict[str, str] = attrs.field(factory=dict)
    resources: dict[str, Record] = attrs.field(factory=dict)
    outputs: dict[str, Any] = attrs.field(factory=dict)

    @property
    def stack_id(self) -> str:
        """Short id unique to this stack, used to name remote objects."""
        return self.lineage.replace("-", "")[:8]

    def content(self) -> dict[str, Any]:
        """The part of the document whose change bumps the serial."""
        return {
            "stack": self.stack,
            "providers": self.providers,
            "resources": {
                address: record_to_dict(record)
                for address, record in sorted(self.resources.items())
            },
            "outputs": self.outputs,
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole JSON document."""
        return {"format": FORMAT, "version": FORMAT_VERSION, "lineage": self.lineage,
                "serial": self.serial, **self.content()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        """Parse a document; raises KeyError/TypeError/ValueError on a malformed one."""
        resources = {
            address: record_from_dict(address, item)
            for address, item in data["resources"].items()
        }
        return cls(lineage=data["lineage"], serial=int(data["serial"]),
                   stack=data.get("stack", ""), providers=data.get("providers", {}),
                   resources=resources,
                   outputs=data.get("outputs", {}))

    def copy(self) -> State:
        """A deep copy, safe to mutate."""
        return State.from_dict(json.loads(json.dumps(self.to_dict())))


_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,), "provider": (str,), "status": (str,), "inputs": (dict,),
    "attributes": (dict,), "dependencies": (list,), "identity": (dict,),
    "created_at": (int, float, type(None)), "updated_at": (int, float, type(None)),
    "expires_at": (int, float, type(None)),
}


def document_problem(data: dict[str, Any]) -> str:
    """What is wrong with the shape of a state document, as `path: problem`; "" if fine."""
    top: dict[str, tuple[type, ...]] = {
        "lineage": (str,), "serial": (int,), "stack": (str,), "providers": (dict,),
        "resources": (dict,), "outputs": (dict,)}
    for key, types in top.items():
        if key not in data and key in ("stack", "providers", "outputs"):
            continue
        if key not in data:
            return f"{key}: missing"
        if not isinstance(data[key], types) or isinstance(data[key], bool):
            return f"{key}: expected {types[0].__name__}, found {type(data[key]).__name__}"
    for name, value in data.get("providers", {}).items():
        if not isinstance(value, str):
            return f"providers.{name}: expected a provider type name"
    for address, record in data["resources"].items():
        if not isinstance(record, dict):
            return f"resources.{address}: expected an object"
        for key, types in _RECORD_TYPES.items():
            if key in ("kind", "provider") and key not in record:
                return f"resources.{address}.{key}: missing"
            if key in record and not isinstance(record[key], types):
                return (f"resources.{address}.{key}: expected {types[0].__name__}, "
                        f"found {type(record[key]).__name__}")
        if record.get("status", "ready") not in {s.value for s in Status}:
            return f"resources.{address}.status: unknown status {record['status']!r}"
        if not all(isinstance(d, str) for d in record.get("dependencies", [])):
            return f"resources.{address}.dependencies: expected addresses"
    outputs = data.get("outputs", {})
    for key in ("roles", "networks"):
        if key not in outputs:
            continue
        if not isinstance(outputs[key], dict):
            return f"outputs.{key}: expected an object"
        for role, members in outputs[key].items():
            if not isinstance(members, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("address"), str)
                    for m in members):
                return f"outputs.{key}.{role}: expected a list of objects with an address"
    return ""


def record_to_dict(record: Record) -> dict[str, Any]:
    """JSON form of a record (the address is the key around it)."""
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


def record_from_dict(address: str, data: dict[str, Any]) -> Record:
    """Inverse of `record_to_dict`."""
    fields = {name: data[name] for name in _RECORD_FIELDS if name in data}
    fields["status"] = Status(fields.get("status", Status.READY))
    return Record(address=address, **fields)


def canonical(content: dict[str, Any]) -> str:
    """Compact JSON with sorted keys: equal content, equal text."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"))
