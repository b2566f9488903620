"""Configuration of the `distem` provider: EnOSlib's fields, defaults and validation.

```yaml
containers:
  type: distem
  image: file:///home/alice/public/distem-fs-bookworm.tar.gz   # required
  walltime: "02:00:00"
  resources:
    machines:
      - {roles: [server], cluster: parasilo, number: 5, flavour: tiny}
      - {roles: [client], cluster: parasilo, number: 5,
         flavour_desc: {core: 1, mem: 512}}
    networks: [enos_network]   # roles given to the vnetwork (the job's subnet)
```

EnOSlib's fields keep their meaning, with these differences (docs/distem.md): the default
`networks` list is never shared between configurations; `cluster` is required (EnOSlib
reads it unconditionally); `flavour` and `flavour_desc` exclude each other and default to
`tiny`; `undercloud` is computed (leave it out). bedform extensions: `nodes` fixes a
group's node count (EnOSlib computes it from the cores), `env_name` (default
debian11-nfs: Grid'5000 no longer offers EnOSlib's debian10-nfs), `key` (the public key
the deployment installs for root), `gateway` and `jump` as for G5k, and `vnetwork` (the
virtual network's name).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs

from bedform.errors import ConfigError
from bedform.providers.g5k.checks import public_keys
from bedform.providers.g5k.config import (
    DEFAULT_GATEWAY,
    DEFAULT_QUEUE,
    QUEUES,
    RESERVATION_PATTERN,
    WALLTIME_PATTERN,
)
from bedform.providers.g5k.hosted import HostedMachinesConf
from bedform.providers.schema import validate_section
from bedform.providers.vmong5k.config import DEFAULT_FLAVOUR, FLAVOURS

DEFAULT_JOB_NAME = "EnOslib-distem"
DEFAULT_WALLTIME = "02:00:00"
DEFAULT_ENV = "debian11-nfs"
DEFAULT_NETWORKS = ("enos_network",)
DEFAULT_VNETWORK = "bedform_distem_network"

_MACHINE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["roles", "cluster"],
    "properties": {
        "roles": {"type": "array", "minItems": 1,
                  "items": {"type": "string", "minLength": 1}},
        "number": {"type": "integer", "minimum": 0, "description": "How many vnodes."},
        "cluster": {"type": "string", "minLength": 1},
        "flavour": {"type": "string", "enum": sorted(FLAVOURS)},
        "flavour_desc": {
            "type": "object", "additionalProperties": False, "required": ["core", "mem"],
            "properties": {"core": {"type": "integer", "minimum": 1},
                           "mem": {"type": "integer", "minimum": 64,
                                   "description": "MiB"}}},
        "vcore_type": {"type": "string", "enum": ["thread", "core"]},
        "undercloud": {"type": "array", "maxItems": 0,
                       "description": "Computed from the reservation; leave it out."},
        "nodes": {"type": "integer", "minimum": 1,
                  "description": "Node count (default: from the cluster's cores)."},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["resources", "image"],
    "properties": {
        "job_name": {"type": "string", "minLength": 1},
        "queue": {"type": "string", "enum": QUEUES},
        "walltime": {"type": "string", "pattern": WALLTIME_PATTERN,
                     "description": "H:MM:SS, any number of hours."},
        "reservation": {"type": "string", "pattern": RESERVATION_PATTERN,
                        "description": "Europe/Paris time, YYYY-MM-DD HH:MM:SS."},
        "force_deploy": {"type": "boolean"},
        "image": {"type": "string", "minLength": 1,
                  "description": "The vnodes' file system archive (e.g. file:///…tar.gz)."},
        "project": {"type": "string"},
        "env_name": {"type": "string", "minLength": 1},
        "key": {"type": "string", "description": "Path to a public key file."},
        "gateway": {"type": "string"},
        "jump": {"type": ["boolean", "null"]},
        "vnetwork": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "resources": {
            "type": "object", "additionalProperties": False, "required": ["machines"],
            "properties": {
                "machines": {"type": "array", "minItems": 1, "items": _MACHINE},
                "networks": {"type": "array", "minItems": 1,
                             "items": {"type": "string", "minLength": 1}},
            }},
    },
}


@attrs.define
class DistemMachineConf:
    """A group of `number` vnodes of one flavour on nodes of one cluster."""

    roles: list[str]
    cluster: str
    number: int = 1
    flavour: str | None = None
    flavour_desc: dict[str, int] | None = None
    vcore_type: str = "thread"
    nodes: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.flavour is not None and self.flavour_desc is not None:
            raise ConfigError("give `flavour` or `flavour_desc`, not both", ("flavour",))
        if self.flavour_desc is None:
            name = self.flavour or DEFAULT_FLAVOUR
            if name not in FLAVOURS:
                raise ConfigError(f"unknown flavour {name!r}", ("flavour",),
                                  hint=f"One of {', '.join(FLAVOURS)}, or `flavour_desc: "
                                       "{core: 2, mem: 2048}`.")
            self.flavour_desc = dict(FLAVOURS[name])

    @property
    def core(self) -> int:
        return int((self.flavour_desc or {})["core"])

    @property
    def site(self) -> str:
        """The cluster's site (the packaged reference catalogue)."""
        from bedform.providers.g5k.checks import site_of

        return site_of(self.cluster, ("cluster",))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "cluster": self.cluster,
                               "number": self.number,
                               "flavour_desc": dict(self.flavour_desc or {}),
                               "vcore_type": self.vcore_type}
        if self.nodes is not None:
            out["nodes"] = self.nodes
        return out


_TOP = ("job_name", "queue", "walltime", "reservation", "force_deploy", "image", "project",
        "env_name", "key", "gateway", "jump", "vnetwork")


@attrs.define
class DistemConf(HostedMachinesConf):
    """EnOSlib's Distem Configuration (see the module docstring for the differences)."""

    fields = _TOP
    schema = SCHEMA
    machine_class = DistemMachineConf
    ignored_machine_keys = ("undercloud",)

    image: str | None = None
    job_name: str | None = None
    queue: str = DEFAULT_QUEUE
    walltime: str = DEFAULT_WALLTIME
    reservation: str | None = None
    force_deploy: bool = False
    project: str | None = None
    env_name: str = DEFAULT_ENV
    key: str | None = None
    gateway: str = DEFAULT_GATEWAY
    jump: bool | None = None
    vnetwork: str = DEFAULT_VNETWORK
    machines: list[DistemMachineConf] = attrs.field(factory=list)
    networks: list[str] = attrs.field(factory=lambda: list(DEFAULT_NETWORKS))

    def finalize(self) -> DistemConf:
        """Validate: an image, machine groups, every cluster on one site."""
        from bedform.providers.g5k.client import client_setting

        if self.gateway == DEFAULT_GATEWAY:
            self.gateway = str(client_setting("gateway") or DEFAULT_GATEWAY)
        if not self.image:
            raise ConfigError("`image` is required: the vnodes' file system archive",
                              ("image",), hint="e.g. `image: file:///home/<you>/public/"
                                               "distem-fs-bookworm.tar.gz`")
        if not self.machines:
            raise ConfigError("no machine group", ("resources", "machines"),
                              hint="Add `- {roles: [node], cluster: parasilo, number: 2}`.")
        sites: dict[str, int] = {}
        for index, machine in enumerate(self.machines):
            try:
                sites.setdefault(machine.site, index)
            except ConfigError as error:
                raise error.within(prefix=("resources", "machines", index)) from None
        if len(sites) > 1:
            first, second = sorted(sites.items(), key=lambda item: item[1])[:2]
            raise ConfigError(
                f"Distem runs on one site, but the clusters are on {first[0]} and "
                f"{second[0]}", ("resources", "machines", second[1], "cluster"),
                hint="Pick clusters of one site; use another provider section for the "
                     "other site.")
        validate_section(SCHEMA, self.to_dict())
        return self

    @property
    def site(self) -> str:
        return self.machines[0].site

    @property
    def sites(self) -> list[str]:
        return [self.site] if self.machines else []

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in _TOP:
            value = getattr(self, field)
            if value is not None:
                out[field] = copy.deepcopy(value)
        out["resources"] = {"machines": [m.to_dict() for m in self.machines],
                            "networks": list(self.networks)}
        return out


def load(section: Mapping[str, Any]) -> DistemConf:
    """Validate a stack section (ConfigError with the YAML path) into a DistemConf; the
    nodes are deployed, so a public key to install is needed (`key`, else ~/.ssh/*.pub)."""
    validate_section(SCHEMA, section)
    conf = DistemConf.from_dictionary(section, validate=False)
    public_keys(conf.key)
    return conf
