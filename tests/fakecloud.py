"""A test driver whose "remote" objects live in a JSON file: a fake cloud.

It exercises the engine without any testbed, across processes (the file is locked with
flock), with settable latency, objects that expire, creates that fail on request, and a
counter of mutating calls. Objects carry the stack id in their name, as real drivers do,
so the tests can tell which objects a stack owns and spot duplicates.

Stack section::

    type: fake
    cloud: /path/to/cloud.json
    latency: 0.0              # seconds each create/delete waits (through ctx.sleep)
    networks: [{name: lan, cidr: 10.0.0.0/24}]
    servers: [{name: web, count: 2, size: small, image: debian, network: lan}]
    jobs: [{name: batch, walltime: 3600}]       # expire after walltime seconds
    # a server may also name `job: batch`: it then runs inside (depends on) that job
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bedform.errors import ConfigError, ProviderError
from bedform.objects import DefaultNetwork, Host, Networks, Roles
from bedform.providers import register_driver
from bedform.providers.base import (
    ApplyContext,
    Capabilities,
    DriverContext,
    KindSpec,
    Observed,
    Ref,
    Resource,
)
from bedform.providers.schema import validate_section
from bedform.state.model import Record, Status

SCHEMA = {
    "type": "object",
    "required": ["cloud"],
    "additionalProperties": False,
    "properties": {
        "cloud": {"type": "string"},
        "latency": {"type": "number", "minimum": 0},
        "networks": {"type": "array", "items": {
            "type": "object", "required": ["name", "cidr"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "cidr": {"type": "string"}}}},
        "servers": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string"},
                           "count": {"type": "integer", "minimum": 0},
                           "size": {"type": "string"}, "image": {"type": "string"},
                           "network": {"type": "string"}, "job": {"type": "string"},
                           "roles": {"type": "array", "items": {"type": "string"}}}}},
        "jobs": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string"},
                           "walltime": {"type": "number", "minimum": 1}}}},
    },
}


class Cloud:
    """The JSON file holding the fake remote objects, locked across processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def open(self) -> Iterator[dict[str, Any]]:
        """Lock the cloud and yield its document; changes are saved on exit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text())
            except (FileNotFoundError, ValueError):
                data = {"objects": {}, "next_id": 1, "mutations": 0, "log": [],
                        "fail": [], "now_offset": 0.0}
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data))
                tmp.replace(self.path)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the document."""
        with self.open() as data:
            return json.loads(json.dumps(data))

    def now(self, data: Mapping[str, Any]) -> float:
        """The cloud's clock (real time plus what tests advanced)."""
        return time.time() + data.get("now_offset", 0.0)

    def advance(self, seconds: float) -> None:
        """Move the cloud's clock forward (jobs expire)."""
        with self.open() as data:
            data["now_offset"] = data.get("now_offset", 0.0) + seconds

    def live(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Objects that exist, not expired."""
        snap = self.snapshot()
        now = self.now(snap)
        return [o for o in snap["objects"].values()
                if (kind is None or o["kind"] == kind)
                and (o.get("expires_at") is None or o["expires_at"] > now)]


class FakeDriver:
    """Driver of the fake cloud: networks, servers (size updatable) and expiring jobs."""

    type_name = "fake"
    kinds = {
        "fake_network": KindSpec("fake_network"),
        "fake_server": KindSpec("fake_server", updatable={"size"}),
        "fake_job": KindSpec("fake_job", updatable={"walltime"}, expires=True),
    }
    capabilities = Capabilities(max_concurrent_calls=4, walltime_update=True)

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self._conf: dict[str, Any] | None = None

    @classmethod
    def schema(cls) -> dict[str, Any]:
        return SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> dict[str, Any]:
        validate_section(SCHEMA, section)
        names = [n["name"] for n in section.get("networks", [])]
        for index, server in enumerate(section.get("servers", [])):
            if "network" in server and server["network"] not in names:
                raise ConfigError(f"unknown network {server['network']!r}",
                                  ("servers", index, "network"),
                                  hint=f"Declare it under networks (known: {names}).")
        return dict(section)

    def preflight(self, conf: Any = None) -> None:
        return None

    def _cloud(self, conf: Mapping[str, Any] | None = None) -> Cloud:
        if conf is not None:
            self._conf = dict(conf)
        if self._conf is None:
            raise ProviderError("fake driver used before expand")
        return Cloud(self._conf["cloud"])

    def _name(self, address: str) -> str:
        return f"{self.context.stack_id}:{address}"

    def expand(self, name: str, conf: Mapping[str, Any],
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        self._cloud(conf)
        resources = []
        for net in conf.get("networks", []):
            address = f"{name}.network[{net['name']}]"
            resources.append(Resource(address, "fake_network", {"cidr": net["cidr"]},
                                      identity={"name": self._name(address)}))
        for server in conf.get("servers", []):
            for index in range(1, server.get("count", 1) + 1):
                address = f"{name}.server[{server['name']}-{index}]"
                inputs: dict[str, Any] = {"size": server.get("size", "small"),
                                          "image": server.get("image", "debian"),
                                          "roles": server.get("roles", [server["name"]])}
                if "network" in server:
                    inputs["network_id"] = Ref(f"{name}.network[{server['network']}]", "id")
                if "job" in server:
                    inputs["job_id"] = Ref(f"{name}.job[{server['job']}]", "id")
                resources.append(Resource(address, "fake_server", inputs,
                                          identity={"name": self._name(address)}))
        for job in conf.get("jobs", []):
            address = f"{name}.job[{job['name']}]"
            resources.append(Resource(address, "fake_job",
                                      {"walltime": job.get("walltime", 3600)},
                                      identity={"name": self._name(address)}))
        return resources

    def refresh(self, records: Sequence[Record]) -> dict[str, Observed]:
        if not records:
            return {}
        with self._cloud_of(records).open() as data:
            now = self._now(data)
            by_name = {o["name"]: o for o in data["objects"].values()}
            result = {}
            for record in records:
                obj = data["objects"].get(str(record.attributes.get("id"))) \
                    or by_name.get(record.identity.get("name"))
                if obj is None:
                    result[record.address] = Observed(alive=False, reason="deleted outside")
                elif obj.get("expires_at") is not None and obj["expires_at"] <= now:
                    stamp = time.strftime("%H:%M:%S", time.gmtime(obj["expires_at"]))
                    result[record.address] = Observed(alive=False,
                                                      reason=f"expired at {stamp}")
                else:
                    drift = tuple(obj.get("drift", []))
                    result[record.address] = Observed(
                        alive=True, attributes=_attributes(obj), drift=drift,
                        expires_at=obj.get("expires_at"))
            return result

    def _cloud_of(self, records: Sequence[Record]) -> Cloud:
        if self._conf is not None:
            return Cloud(self._conf["cloud"])
        for record in records:
            if "cloud" in record.attributes:
                return Cloud(record.attributes["cloud"])
        raise ProviderError("fake driver: no cloud known")

    @staticmethod
    def _now(data: Mapping[str, Any]) -> float:
        return time.time() + data.get("now_offset", 0.0)

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        cloud = self._cloud()
        name = resource.identity["name"]
        if ctx.existing and "id" in ctx.existing:
            with cloud.open() as data:
                obj = data["objects"][str(ctx.existing["id"])]
                return _attributes(obj)
        with cloud.open() as data:
            if name.split(":", 1)[1] in data.get("fail", []):
                data["log"].append(["create-failed", name])
                raise ProviderError(f"the cloud refused to create {name}")
            oid = data["next_id"]
            data["next_id"] += 1
            data["mutations"] += 1
            obj = {"id": oid, "kind": resource.kind, "name": name,
                   "inputs": dict(resource.inputs), "cloud": str(cloud.path)}
            if resource.kind == "fake_job":
                obj["expires_at"] = self._now(data) + resource.inputs["walltime"]
            data["objects"][str(oid)] = obj
            data["log"].append(["create", name])
        ctx.checkpoint({"id": oid, "cloud": str(cloud.path)})
        ctx.sleep(self._conf.get("latency", 0.0))
        return _attributes(obj)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        with self._cloud().open() as data:
            obj = data["objects"].get(str(record.attributes["id"]))
            if obj is None:
                raise ProviderError(f"{record.address} vanished during update")
            data["mutations"] += 1
            obj["inputs"].update({k: resource.inputs[k] for k in ("size", "walltime")
                                  if k in resource.inputs})
            if resource.kind == "fake_job":
                obj["expires_at"] = obj["expires_at"] - record.inputs["walltime"] + \
                    resource.inputs["walltime"]
            data["log"].append(["update", obj["name"]])
            return _attributes(obj)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        cloud = self._cloud_of([record])
        ctx.sleep(self._conf.get("latency", 0.0) if self._conf else 0.0)
        with cloud.open() as data:
            oid = str(record.attributes.get("id"))
            if oid not in data["objects"]:
                by_name = [k for k, o in data["objects"].items()
                           if o["name"] == record.identity.get("name")]
                if not by_name:
                    return
                oid = by_name[0]
            data["mutations"] += 1
            data["log"].append(["delete", data["objects"].pop(oid)["name"]])

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        with self._cloud().open() as data:
            obj = data["objects"].get(remote_id)
            if obj is None:
                raise ProviderError(f"no object with id {remote_id}")
            return _attributes(obj)

    def inventory(self, name: str, conf: Any, records: Mapping[str, Record]
                  ) -> tuple[Roles, Networks]:
        roles, networks = Roles(), Networks()
        for record in sorted(records.values(), key=lambda r: r.address):
            if record.status != Status.READY:
                continue
            if record.kind == "fake_server":
                alias = record.address.split("[", 1)[1].rstrip("]")
                host = Host(f"10.0.0.{record.attributes['id']}", alias=alias, user="root")
                roles.add_one(host, record.inputs["roles"])
            elif record.kind == "fake_network":
                network_name = record.address.split("[", 1)[1].rstrip("]")
                networks[network_name] += [DefaultNetwork(record.inputs["cidr"])]
        return roles, networks


def _attributes(obj: Mapping[str, Any]) -> dict[str, Any]:
    attributes = {"id": obj["id"], "name": obj["name"], "cloud": obj["cloud"]}
    if obj.get("expires_at") is not None:
        attributes["expires_at"] = obj["expires_at"]
    return attributes


def register() -> None:
    """Make `type: fake` available to stacks in this process."""
    register_driver("fake", "tests.fakecloud:FakeDriver")
