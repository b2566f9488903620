"""Configuration of the `vmong5k` provider: EnOSlib's fields, defaults and validation.

```yaml
vms:
  type: vmong5k
  job_name: my-vms            # default: the stack name (EnOSlib: "EnOslib-vmong5k")
  walltime: "02:00:00"
  image: /grid5000/virt-images/debian11-x64-nfs.qcow2   # base qcow2, a path on the nodes
  resources:
    machines:
      - {roles: [server], cluster: parasilo, number: 10, flavour: large}
      - {roles: [client], cluster: parasilo, number: 40,
         flavour_desc: {core: 1, mem: 512}, nodes: 2}
    networks: [enos_network]  # roles given to the VM subnet
```

EnOSlib's fields keep their meaning, with these differences (each says so in the docs):
the default `networks` list is never shared between configurations; `bridge` and
`direct_boot` (bedform extensions) adapt the domain to a node whose bridge has another
name or an image without a boot loader; `cluster` is
required (EnOSlib reads it unconditionally); `skip` is the number of subnet addresses
left free before the first VM (EnOSlib declares it and ignores it); `undercloud` takes
node FQDNs (the group runs on those nodes) and `nodes` (a bedform extension) fixes the
node count that EnOSlib otherwise computes from the cluster's cores and memory. The
nodes are deployed (`env_name`, default debian11-nfs) with the stack's `key` for root.
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
    DEFAULT_WALLTIME,
    QUEUES,
    RESERVATION_PATTERN,
    SERVER_PATTERN,
    WALLTIME_PATTERN,
)
from bedform.providers.g5k.hosted import HostedMachinesConf
from bedform.providers.schema import validate_section
from bedform.providers.vmong5k.domain import BRIDGE as DEFAULT_BRIDGE

DEFAULT_IMAGE = "/grid5000/virt-images/debian11-x64-nfs.qcow2"
DEFAULT_WORKING_DIR = "/tmp/enos_vmong5k"
DEFAULT_ENV = "debian11-nfs"
DEFAULT_NETWORKS = ("enos_network",)
LIBVIRT_DIR = "/var/lib/libvirt/images/enos_vmong5k"
FLAVOURS: dict[str, dict[str, int]] = {
    "tiny": {"core": 1, "mem": 512},
    "small": {"core": 1, "mem": 1024},
    "medium": {"core": 2, "mem": 2048},
    "big": {"core": 3, "mem": 3072},
    "large": {"core": 4, "mem": 4096},
    "extra-large": {"core": 6, "mem": 6144},
}
DEFAULT_FLAVOUR = "tiny"
MAC_PATTERN = r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"

_MACHINE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["roles", "cluster"],
    "properties": {
        "roles": {"type": "array", "minItems": 1,
                  "items": {"type": "string", "minLength": 1}},
        "number": {"type": "integer", "minimum": 0, "description": "How many VMs."},
        "cluster": {"type": "string", "minLength": 1},
        "flavour": {"type": "string", "enum": sorted(FLAVOURS)},
        "flavour_desc": {
            "type": "object", "additionalProperties": False, "required": ["core", "mem"],
            "properties": {"core": {"type": "integer", "minimum": 1},
                           "mem": {"type": "integer", "minimum": 64,
                                   "description": "MiB"},
                           "disk": {"type": "integer", "minimum": 1,
                                    "description": "GB of an extra raw disk"}}},
        "vcore_type": {"type": "string", "enum": ["thread", "core"]},
        "undercloud": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"type": "string", "pattern": SERVER_PATTERN},
                       "description": "FQDNs of the nodes of the group."},
        "nodes": {"type": "integer", "minimum": 1,
                  "description": "Node count (default: from the cluster's cores and RAM)."},
        "macs": {"type": "array", "maxItems": 0,
                 "description": "Computed from the subnet; leave it out."},
        "extra_devices": {"type": "string"},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["resources"],
    "properties": {
        "domain_type": {"type": "string", "enum": ["kvm", "qemu"]},
        "bridge": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,15}$",
                   "description": "The nodes' bridge the VMs join (default br0, made over "
                                  "the node's NIC when absent)."},
        "direct_boot": {
            "type": "object", "additionalProperties": False, "required": ["kernel"],
            "description": "Boot a kernel given by path on the nodes instead of the "
                           "image's boot loader (an image without one).",
            "properties": {"kernel": {"type": "string", "pattern": "^/"},
                           "initrd": {"type": "string", "pattern": "^/"},
                           "cmdline": {"type": "string"}}},
        "enable_taktuk": {"type": "boolean"},
        "force_deploy": {"type": "boolean"},
        "job_name": {"type": "string", "minLength": 1},
        "job_type": {"oneOf": [{"type": "string"},
                               {"type": "array", "items": {"type": "string"}}]},
        "queue": {"type": "string", "enum": QUEUES},
        "reservation": {"type": "string", "pattern": RESERVATION_PATTERN,
                        "description": "Europe/Paris time, YYYY-MM-DD HH:MM:SS."},
        "walltime": {"type": "string", "pattern": WALLTIME_PATTERN,
                     "description": "H:MM:SS, any number of hours."},
        "image": {"type": "string", "pattern": "^/",
                  "description": "Absolute path of the base qcow2 image on the nodes."},
        "skip": {"type": "integer", "minimum": 0},
        "strategy": {"type": "string", "enum": ["cow", "copy"]},
        "subnet_type": {"type": "string", "enum": ["slash_22", "slash_16"]},
        "working_dir": {"type": "string", "pattern": "^/"},
        "project": {"type": "string"},
        "env_name": {"type": "string", "minLength": 1},
        "key": {"type": "string", "description": "Path to a public key file."},
        "gateway": {"type": "string"},
        "jump": {"type": ["boolean", "null"]},
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
class VMonG5kMachineConf:
    """A group of `number` VMs of one flavour on nodes of one cluster."""

    roles: list[str]
    cluster: str
    number: int = 1
    flavour: str | None = None
    flavour_desc: dict[str, int] | None = None
    vcore_type: str = "thread"
    undercloud: list[str] = attrs.field(factory=list)
    nodes: int | None = None
    extra_devices: str = ""

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
        assert self.flavour_desc is not None
        return int(self.flavour_desc["core"])

    @property
    def mem(self) -> int:
        """Memory in MiB."""
        assert self.flavour_desc is not None
        return int(self.flavour_desc["mem"])

    @property
    def site(self) -> str:
        """The cluster's site (the packaged reference catalogue)."""
        if self.undercloud:
            return self.undercloud[0].split(".")[1]
        from bedform.providers.g5k.checks import site_of

        return site_of(self.cluster, ("cluster",))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "cluster": self.cluster,
                               "number": self.number, "flavour_desc": dict(self.flavour_desc
                                                                          or {}),
                               "vcore_type": self.vcore_type}
        if self.undercloud:
            out["undercloud"] = list(self.undercloud)
        if self.nodes is not None:
            out["nodes"] = self.nodes
        if self.extra_devices:
            out["extra_devices"] = self.extra_devices
        return out


_TOP = ("domain_type", "bridge", "direct_boot", "enable_taktuk", "force_deploy",
        "job_name", "job_type", "queue", "reservation", "walltime", "image", "skip",
        "strategy", "subnet_type", "working_dir", "project", "env_name", "key", "gateway", "jump")


@attrs.define
class VMonG5kConf(HostedMachinesConf):
    """EnOSlib's VMonG5k Configuration (see the module docstring for the differences)."""

    fields = _TOP
    schema = SCHEMA
    machine_class = VMonG5kMachineConf
    ignored_machine_keys = ("macs",)

    domain_type: str = "kvm"
    bridge: str = DEFAULT_BRIDGE
    direct_boot: dict[str, str] | None = None
    enable_taktuk: bool = False
    force_deploy: bool = False
    job_name: str | None = None
    job_type: list[str] = attrs.field(factory=list)
    queue: str = DEFAULT_QUEUE
    reservation: str | None = None
    walltime: str = DEFAULT_WALLTIME
    image: str = DEFAULT_IMAGE
    skip: int = 0
    strategy: str = "cow"
    subnet_type: str = "slash_22"
    working_dir: str = DEFAULT_WORKING_DIR
    project: str | None = None
    env_name: str = DEFAULT_ENV
    key: str | None = None
    gateway: str = DEFAULT_GATEWAY
    jump: bool | None = None
    machines: list[VMonG5kMachineConf] = attrs.field(factory=list)
    networks: list[str] = attrs.field(factory=lambda: list(DEFAULT_NETWORKS))

    def _normalised(self) -> VMonG5kConf:
        self.job_type = [self.job_type] if isinstance(self.job_type, str) \
            else list(self.job_type)
        return self

    def finalize(self) -> VMonG5kConf:
        """Normalise (`deploy` dropped from job_type, as EnOSlib) and validate."""
        from bedform.providers.g5k.client import client_setting

        if self.gateway == DEFAULT_GATEWAY:
            self.gateway = str(client_setting("gateway") or DEFAULT_GATEWAY)
        self.job_type = [t for t in self.job_type if t != "deploy"]
        if not self.machines:
            raise ConfigError("no machine group", ("resources", "machines"),
                              hint="Add `- {roles: [vm], cluster: parasilo, number: 2}`.")
        for index, machine in enumerate(self.machines):
            path = ("resources", "machines", index)
            if machine.undercloud and any(n.split("-", 1)[0] != machine.cluster
                                          for n in machine.undercloud):
                raise ConfigError("undercloud nodes must be of the group's cluster "
                                  f"{machine.cluster!r}", (*path, "undercloud"))
            if machine.nodes is not None and machine.undercloud \
                    and machine.nodes != len(machine.undercloud):
                raise ConfigError("`nodes` differs from the number of undercloud nodes",
                                  (*path, "nodes"), hint="Give one of them.")
            try:
                machine.site  # noqa: B018 - an unknown cluster is an error here
            except ConfigError as error:
                raise error.within(prefix=path) from None
        validate_section(SCHEMA, self.to_dict())
        return self

    @property
    def sites(self) -> list[str]:
        return sorted({m.site for m in self.machines})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in _TOP:
            value = getattr(self, field)
            if value is not None:
                out[field] = copy.deepcopy(value)
        out["resources"] = {"machines": [m.to_dict() for m in self.machines],
                            "networks": list(self.networks)}
        return out


def load(section: Mapping[str, Any]) -> VMonG5kConf:
    """Validate a stack section (ConfigError with the YAML path) into a VMonG5kConf; the
    nodes are deployed, so a public key to install is needed (`key`, else ~/.ssh/*.pub)."""
    validate_section(SCHEMA, section)
    conf = VMonG5kConf.from_dictionary(section, validate=False)
    public_keys(conf.key)
    return conf
