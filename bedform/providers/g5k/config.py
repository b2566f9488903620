"""Configuration of the `g5k` provider: EnOSlib's field names, defaults and builders.

```yaml
g5k:
  type: g5k
  job_name: my-exp            # default: the stack name (EnOSlib: "EnOSlib")
  walltime: "02:00:00"        # any number of hours: "36:00:00" works
  job_type: [deploy]          # a string is accepted and becomes a list
  env_name: debian12-min
  resources:
    machines:
      - {roles: [server], cluster: paravance, site: rennes, nodes: 2, min: 1,
         primary_network: n1, secondary_networks: [n2]}
      - {roles: [client], servers: [parasilo-1.rennes.grid5000.fr]}
      - {roles: [monitor], cluster: parasilo}   # site and prod network found for you
    networks:
      - {id: n1, type: kavlan, roles: [lan], site: rennes}
      - {id: n2, type: kavlan-local, roles: [priv], site: rennes}
```

Python: `G5kConf.from_settings(job_type="deploy", env_name="debian12-min")
.add_network(id="n1", type="kavlan", roles=["lan"], site="rennes")
.add_machine(roles=["server"], cluster="paravance", site="rennes", nodes=2,
primary_network=...).finalize()` gives the same object as `from_dictionary`.
A group without `site` takes its primary network's, else its cluster's (from the packaged
reference catalogue, or the API for a cluster newer than it); without `primary_network`
it is on its site's prod network. `finalize` then checks the whole configuration
against the catalogue (`checks.py`). Unlike EnOSlib, `min` and `reservable_disks`
survive `from_dictionary`, and
`from_settings(job_type="deploy")` normalises the string into a list.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from bedform.errors import ConfigError
from bedform.providers.g5k import checks
from bedform.providers.g5k.catalogue import format_walltime, walltime_seconds
from bedform.providers.g5k.client import client_setting
from bedform.providers.schema import validate_section

__all__ = ["format_walltime", "walltime_seconds"]  # re-exported: the walltime vocabulary

DEFAULT_WALLTIME = "02:00:00"
DEFAULT_QUEUE = "default"
QUEUES = ["default", "production", "testing", "besteffort", "admin"]
NETWORK_TYPES = ["prod", "kavlan", "kavlan-local", "kavlan-global", "slash_22", "slash_16"]
KAVLAN_TYPES = frozenset({"kavlan", "kavlan-local", "kavlan-global"})
SUBNET_TYPES = frozenset({"slash_22", "slash_16"})
WALLTIME_PATTERN = r"^\d+:[0-5]\d:[0-5]\d$"
RESERVATION_PATTERN = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"
SERVER_PATTERN = r"^[a-z0-9]+-\d+\.[a-z]+\.grid5000\.fr$"
DEFAULT_GATEWAY = "access.grid5000.fr"

_ROLES = {"type": "array", "items": {"type": "string", "minLength": 1}}
_COMMON_MACHINE = {
    "roles": _ROLES,
    "nodes": {"type": "integer", "minimum": 0},
    "min": {"type": "integer", "minimum": 0,
            "description": "Fewer nodes than this is an error (NotEnoughNodesError)."},
    "reservable_disks": {"type": "boolean"},
    "site": {"type": "string"},
    "primary_network": {"type": "string"},
    "secondary_networks": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["resources"],
    "properties": {
        "dhcp": {"type": "boolean"},
        "force_deploy": {"type": "boolean"},
        "env_name": {"type": "string"},
        "env_version": {"type": "integer", "minimum": 2016011914},
        "job_name": {"type": "string", "minLength": 1},
        "job_type": {"oneOf": [{"type": "string"},
                               {"type": "array", "items": {"type": "string"}}]},
        "key": {"type": "string", "description": "Path to a public key file."},
        "monitor": {"type": "string"},
        "oargrid_jobids": {"type": "array", "items": {
            "type": "array", "minItems": 2, "maxItems": 2}},
        "project": {"type": "string"},
        "queue": {"type": "string", "enum": QUEUES},
        "reservation": {"type": "string", "pattern": RESERVATION_PATTERN,
                        "description": "Europe/Paris time, YYYY-MM-DD HH:MM:SS."},
        "walltime": {"type": "string", "pattern": WALLTIME_PATTERN,
                     "description": "H:MM:SS, any number of hours."},
        "jump": {"type": ["boolean", "null"],
                 "description": "Go through access.grid5000.fr (default: when outside G5k)."},
        "gateway": {"type": "string"},
        "resources": {
            "type": "object", "additionalProperties": False, "required": ["machines"],
            "properties": {
                "machines": {"type": "array", "items": {"oneOf": [
                    {"type": "object", "additionalProperties": False,
                     "required": ["roles", "cluster"],
                     "properties": {**_COMMON_MACHINE, "cluster": {"type": "string"}}},
                    {"type": "object", "additionalProperties": False,
                     "required": ["roles", "servers"],
                     "properties": {**_COMMON_MACHINE, "servers": {
                         "type": "array", "minItems": 1,
                         "items": {"type": "string", "pattern": SERVER_PATTERN}}}},
                ]}},
                "networks": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["id", "type", "roles", "site"],
                    "properties": {"id": {"type": "string", "minLength": 1},
                                   "type": {"type": "string", "enum": NETWORK_TYPES},
                                   "roles": _ROLES, "site": {"type": "string"}}}},
            },
        },
    },
}


@attrs.define
class G5kNetworkConf:
    """A network of the configuration (EnOSlib's NetworkConfiguration)."""

    type: str
    roles: list[str] = attrs.field(factory=list)
    site: str = ""
    id: str = attrs.field(factory=lambda: str(uuid.uuid4()))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "roles": list(self.roles),
                "site": self.site}


@attrs.define
class _MachineConf:
    roles: list[str] = attrs.field(factory=list)
    nodes: int = 1
    min: int = 0
    reservable_disks: bool = False
    site: str | None = None
    primary_network: G5kNetworkConf | str | None = None
    secondary_networks: list[G5kNetworkConf | str] = attrs.field(factory=list)

    def _common(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "nodes": self.nodes}
        if self.min:
            out["min"] = self.min
        if self.reservable_disks:
            out["reservable_disks"] = True
        if self.site:
            out["site"] = self.site
        if self.primary_network is not None:
            out["primary_network"] = _net_id(self.primary_network)
        if self.secondary_networks:
            out["secondary_networks"] = [_net_id(n) for n in self.secondary_networks]
        return out


def _net_id(net: G5kNetworkConf | str) -> str:
    return net if isinstance(net, str) else net.id


@attrs.define
class G5kClusterConf(_MachineConf):
    """A group of `nodes` nodes of one cluster."""

    cluster: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self._common(), "cluster": self.cluster}


@attrs.define
class G5kServersConf(_MachineConf):
    """A group of named nodes (FQDNs of one cluster and site)."""

    servers: list[str] = attrs.field(factory=list)
    cluster: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self._common(), "servers": list(self.servers)}


_TOP_FIELDS = ("dhcp", "force_deploy", "env_name", "env_version", "job_name", "job_type",
               "key", "monitor", "oargrid_jobids", "project", "queue", "reservation",
               "walltime", "jump", "gateway")


@attrs.define
class G5kConf:
    """EnOSlib's G5k Configuration, with a JSON schema and EnOSlib's builder API."""

    dhcp: bool = True
    force_deploy: bool = False
    env_name: str | None = None
    env_version: int | None = None
    job_name: str | None = None
    job_type: list[str] = attrs.field(factory=list)
    key: str | None = None
    monitor: str | None = None
    oargrid_jobids: list[list[Any]] | None = None
    project: str | None = None
    queue: str = DEFAULT_QUEUE
    reservation: str | None = None
    walltime: str = DEFAULT_WALLTIME
    jump: bool | None = None
    gateway: str = DEFAULT_GATEWAY
    machines: list[G5kClusterConf | G5kServersConf] = attrs.field(factory=list)
    networks: list[G5kNetworkConf] = attrs.field(factory=list)

    # -- builders ------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, **kwargs: Any) -> G5kConf:
        conf = cls()
        for key, value in kwargs.items():
            if key not in _TOP_FIELDS:
                raise ConfigError(f"unknown field {key!r}", (key,),
                                  hint=f"Known fields: {', '.join(_TOP_FIELDS)}.")
            setattr(conf, key, value)
        conf.job_type = _types(conf.job_type)
        return conf

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any], validate: bool = True) -> G5kConf:
        if validate:
            validate_section(SCHEMA, dictionary)
        data = copy.deepcopy(dict(dictionary))
        conf = cls.from_settings(**{k: v for k, v in data.items()
                                    if k in _TOP_FIELDS and v is not None})
        resources = data.get("resources", {})
        for net in resources.get("networks", []):
            conf.add_network(**net)
        for machine in resources.get("machines", []):
            conf.add_machine(**machine)
        return conf.finalize()

    from_dictionnary = from_dictionary

    def add_machine(self, **kwargs: Any) -> G5kConf:
        if "servers" in kwargs:
            servers = list(kwargs["servers"])
            if not servers:
                raise ConfigError("a servers group needs at least one server", ("servers",))
            kwargs.setdefault("nodes", len(servers))
            kwargs.setdefault("cluster", servers[0].split("-", 1)[0])
            kwargs.setdefault("site", servers[0].split(".")[1])
            self.machines.append(G5kServersConf(**kwargs))
        elif "cluster" in kwargs:
            self.machines.append(G5kClusterConf(**kwargs))
        else:
            raise ConfigError("a machine group needs `cluster` or `servers`",
                              ("resources", "machines", len(self.machines)))
        return self

    def add_machine_conf(self, machine: G5kClusterConf | G5kServersConf) -> G5kConf:
        self.machines.append(machine)
        return self

    def add_network(self, *args: Any, **kwargs: Any) -> G5kConf:
        self.networks.append(G5kNetworkConf(*args, **kwargs))
        return self

    def add_network_conf(self, network: G5kNetworkConf) -> G5kConf:
        self.networks.append(network)
        return self

    # -- checks ------------------------------------------------------------------------
    def finalize(self) -> G5kConf:
        """Normalise (types, networks, default prod networks) and validate; returns self."""
        if self.gateway == DEFAULT_GATEWAY:  # the client configuration may name another
            self.gateway = str(client_setting("gateway") or DEFAULT_GATEWAY)
        self.job_type = _types(self.job_type)
        for net in list(self.networks):
            if net.type in KAVLAN_TYPES and "deploy" not in self.job_type:
                self.job_type.append("deploy")
        if self.env_name and "deploy" not in self.job_type:
            self.job_type.append("deploy")
        if "deploy" in self.job_type and not self.env_name:
            if any(n.type in KAVLAN_TYPES for n in self.networks):
                self.env_name = "debian11-nfs"
            else:
                raise ConfigError("job_type has `deploy` but no env_name is set",
                                  ("env_name",), hint="Add `env_name: debian12-min`.")
        if self.env_version is not None and not self.env_name:
            raise ConfigError("env_version needs env_name", ("env_version",))
        ids = {n.id: n for n in self.networks}
        for index, machine in enumerate(self.machines):
            path = ("resources", "machines", index)
            if machine.site is None:
                machine.site = self._site_of(machine, ids, path)
            for field in ("primary_network", "secondary_networks"):
                value = getattr(machine, field)
                refs = value if isinstance(value, list) else [value]
                for ref_index, ref in enumerate(refs):
                    if ref is None:
                        continue
                    if isinstance(ref, G5kNetworkConf):
                        if ref.id not in ids:
                            self.networks.append(ref)
                            ids[ref.id] = ref
                        continue
                    if ref not in ids:
                        where = (*path, field) if field == "primary_network" else \
                            (*path, field, ref_index)
                        raise ConfigError(f"unknown network {ref!r}", where,
                                          hint=f"Declare it under resources.networks "
                                          f"(known: {sorted(ids)}).")
            if machine.primary_network is None:
                prod = next((n for n in self.networks if n.type == "prod"
                             and n.site == machine.site), None)
                if prod is None:
                    prod = G5kNetworkConf(id=f"prod-{machine.site}", type="prod",
                                          site=machine.site, roles=["prod"])
                    self.networks.append(prod)
                    ids[prod.id] = prod
                machine.primary_network = prod.id
            machine.primary_network = _net_id(machine.primary_network)
            machine.secondary_networks = [_net_id(n) for n in machine.secondary_networks]
            primary = ids[machine.primary_network]
            if primary.type in SUBNET_TYPES:
                raise ConfigError("a subnet cannot be a primary network",
                                  (*path, "primary_network"),
                                  hint="Use a prod or kavlan network.")
            if machine.min > machine.nodes:
                raise ConfigError(f"min ({machine.min}) is more than nodes "
                                  f"({machine.nodes})", (*path, "min"))
        validate_section(SCHEMA, self.to_dict())
        checks.check(self)
        return self

    @staticmethod
    def _site_of(machine: G5kClusterConf | G5kServersConf,
                 ids: Mapping[str, G5kNetworkConf], path: tuple[str | int, ...]) -> str:
        """The site of a group given without one: its primary network's, else its
        cluster's (the packaged catalogue, then the API, as EnOSlib asks the API)."""
        primary = machine.primary_network
        if isinstance(primary, str):
            primary = ids.get(primary)
        if primary is not None and primary.site:
            return primary.site
        return checks.site_of(machine.cluster, (*path, "cluster"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in _TOP_FIELDS:
            value = getattr(self, field)
            if value is not None:
                out[field] = copy.deepcopy(value)
        out["resources"] = {"machines": [m.to_dict() for m in self.machines],
                            "networks": [n.to_dict() for n in self.networks]}
        return out

    @property
    def sites(self) -> list[str]:
        return sorted({m.site for m in self.machines if m.site} |
                      {n.site for n in self.networks})

    def network(self, net_id: str) -> G5kNetworkConf:
        return next(n for n in self.networks if n.id == net_id)

    def __repr__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _types(job_type: Any) -> list[str]:
    if job_type is None:
        return []
    if isinstance(job_type, str):
        return [job_type]
    return list(job_type)


def load(section: Mapping[str, Any]) -> G5kConf:
    """Validate a stack section (ConfigError with the YAML path) into a G5kConf; a
    deploy job also needs a public key to install (`checks.public_keys`)."""
    validate_section(SCHEMA, section)
    conf = G5kConf.from_dictionary(section, validate=False)
    if "deploy" in conf.job_type:
        checks.public_keys(conf.key)
    return conf

