"""Configuration of the `vagrant` provider: EnOSlib's fields, defaults and validation.

```yaml
vms:
  type: vagrant
  backend: libvirt              # or virtualbox (rendered, refused at apply without it)
  box: bedform/debian12         # the offline box scripts/vagrant-box.sh builds
  user: root                    # SSH user written into the inventory
  name_prefix: enos             # VMs are <prefix>-<group>[-<n>]
  resources:
    machines:
      - {roles: [server], flavour: tiny, number: 1}
      - {roles: [client], flavour_desc: {core: 1, mem: 768}}
    networks:
      - {cidr: 192.168.56.0/24, roles: [private]}
```

Names and addresses follow EnOSlib: group i is `<name_prefix>-<i>` (or the machine's own
`name_prefix`), with `-<k>` appended when `number` > 1; each network's pool is its cidr
minus the first and last 10 addresses, taken from the end (.245, .244, ... on a /24).
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from bedform.errors import ConfigError
from bedform.providers.schema import validate_section

BACKENDS = ("libvirt", "virtualbox")
DEFAULT_BACKEND = "libvirt"
DEFAULT_BOX = "bedform/debian12"
DEFAULT_USER = "root"
DEFAULT_NAME_PREFIX = "enos"
DEFAULT_MANAGEMENT_CIDR = "192.168.121.0/24"
FLAVOURS: dict[str, tuple[int, int]] = {
    "tiny": (1, 512), "small": (1, 1024), "medium": (2, 2048), "big": (3, 3072),
    "large": (4, 4096), "extra-large": (6, 6144),
}
"""EnOSlib's flavours: name -> (cores, memory in MiB)."""
DEFAULT_FLAVOUR = "tiny"
POOL_MARGIN = 10
"""Addresses left out at each end of a network's pool (EnOSlib's [10:-10])."""
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"

_FLAVOUR_DESC = {
    "type": "object",
    "properties": {"core": {"type": "integer", "minimum": 1},
                   "mem": {"type": "integer", "minimum": 128}},
    "required": ["core", "mem"], "additionalProperties": False,
    "description": "Custom size: {core: <cpus>, mem: <MiB>}.",
}
_MACHINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "roles": {"type": "array", "items": {"type": "string", "minLength": 1},
                  "minItems": 1, "description": "Roles of these VMs, e.g. [server]."},
        "number": {"type": "integer", "minimum": 1, "description": "How many VMs (default 1)."},
        "flavour": {"enum": list(FLAVOURS),
                    "description": f"One of {', '.join(FLAVOURS)} (default tiny)."},
        "flavour_desc": _FLAVOUR_DESC,
        "backend": {"enum": list(BACKENDS)},
        "box": {"type": "string"},
        "user": {"type": "string"},
        "name_prefix": {"type": "string", "pattern": NAME_PATTERN,
                        "description": "Names of these VMs: lower-case letters, digits, -."},
        "config_extra_vm": {"type": "string",
                            "description": "Vagrant Ruby DSL inserted in this VM's block."},
    },
    "required": ["roles"],
    "additionalProperties": False,
}
_NETWORK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "cidr": {"type": "string", "description": "IPv4 network, e.g. 192.168.56.0/24."},
        "roles": {"type": "array", "items": {"type": "string", "minLength": 1},
                  "minItems": 1},
    },
    "required": ["cidr", "roles"],
    "additionalProperties": False,
}
SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "vagrant provider",
    "type": "object",
    "properties": {
        "backend": {"enum": list(BACKENDS), "description": "libvirt (default) or virtualbox."},
        "box": {"type": "string", "minLength": 1,
                "description": f"Vagrant box (default {DEFAULT_BOX}, built offline by "
                               "scripts/vagrant-box.sh)."},
        "user": {"type": "string", "minLength": 1,
                 "description": "SSH user of the hosts in the inventory (default root)."},
        "name_prefix": {"type": "string", "pattern": NAME_PATTERN,
                        "description": "Prefix of VM names (default enos)."},
        "config_extra": {"type": "string",
                         "description": "Vagrant Ruby DSL inserted at the top of the "
                                        "configure block."},
        "management_cidr": {"type": "string",
                            "description": "The isolated management network of the VMs "
                                           f"(default {DEFAULT_MANAGEMENT_CIDR})."},
        "resources": {
            "type": "object",
            "properties": {
                "machines": {"type": "array", "items": {"$ref": "#/definitions/machine"},
                             "minItems": 1},
                "networks": {"type": "array", "items": {"$ref": "#/definitions/network"}},
            },
            "required": ["machines", "networks"],
            "additionalProperties": False,
        },
    },
    "required": ["resources"],
    "additionalProperties": False,
    "definitions": {"machine": _MACHINE_SCHEMA, "network": _NETWORK_SCHEMA},
}


def _list(value: Any) -> list:
    return list(value) if value is not None else []


@attrs.define
class VagrantNetworkConf:
    """A private network: one isolated libvirt network, an address per VM."""

    cidr: str
    roles: list[str] = attrs.field(factory=list, converter=_list)

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any]) -> VagrantNetworkConf:
        return cls(cidr=dictionary["cidr"], roles=list(dictionary["roles"]))

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cidr)

    def to_dict(self) -> dict[str, Any]:
        return {"cidr": self.cidr, "roles": list(self.roles)}


@attrs.define
class VagrantMachineConf:
    """A group of `number` VMs of one size; empty backend/box/user inherit the top level."""

    roles: list[str] = attrs.field(factory=list, converter=_list)
    number: int = 1
    flavour: str | None = None
    flavour_desc: dict[str, int] | None = None
    backend: str | None = None
    box: str | None = None
    user: str | None = None
    name_prefix: str | None = None
    config_extra_vm: str = ""

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any]) -> VagrantMachineConf:
        desc = dictionary.get("flavour_desc")
        return cls(roles=list(dictionary["roles"]), number=dictionary.get("number", 1),
                   flavour=dictionary.get("flavour"),
                   flavour_desc=dict(desc) if desc is not None else None,
                   backend=dictionary.get("backend"), box=dictionary.get("box"),
                   user=dictionary.get("user"), name_prefix=dictionary.get("name_prefix"),
                   config_extra_vm=dictionary.get("config_extra_vm", ""))

    @property
    def size(self) -> tuple[int, int]:
        """(cores, memory MiB)."""
        if self.flavour_desc is not None:
            return int(self.flavour_desc["core"]), int(self.flavour_desc["mem"])
        return FLAVOURS[self.flavour or DEFAULT_FLAVOUR]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "number": self.number}
        for key in ("flavour", "flavour_desc", "backend", "box", "user", "name_prefix"):
            if getattr(self, key) is not None:
                out[key] = copy.deepcopy(getattr(self, key))
        if self.config_extra_vm:
            out["config_extra_vm"] = self.config_extra_vm
        return out


@attrs.frozen
class VmPlan:
    """One VM as the Vagrantfile defines it."""

    name: str
    roles: tuple[str, ...]
    backend: str
    box: str
    user: str
    cores: int
    memory: int
    addresses: tuple[tuple[str, str], ...]
    """(cidr, address) for each private network, in network order."""
    config_extra_vm: str = ""
    group: int = 0
    """Index of the machine group it comes from."""


@attrs.define
class VagrantConf:
    """The `vagrant` provider's configuration (EnOSlib BaseConfiguration builder API)."""

    _machine_cls: ClassVar[type[VagrantMachineConf]] = VagrantMachineConf
    _network_cls: ClassVar[type[VagrantNetworkConf]] = VagrantNetworkConf

    machines: list[VagrantMachineConf] = attrs.field(factory=list)
    networks: list[VagrantNetworkConf] = attrs.field(factory=list)
    backend: str = DEFAULT_BACKEND
    box: str = DEFAULT_BOX
    user: str = DEFAULT_USER
    name_prefix: str = DEFAULT_NAME_PREFIX
    config_extra: str = ""
    management_cidr: str = DEFAULT_MANAGEMENT_CIDR

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any], validate: bool = True
                        ) -> VagrantConf:
        """Validate `dictionary` (ConfigError with the field path) and build the conf."""
        if validate:
            validate_section(SCHEMA, dictionary)
        resources = dictionary.get("resources") or {}
        conf = cls(machines=[cls._machine_cls.from_dictionary(m)
                             for m in resources.get("machines") or []],
                   networks=[cls._network_cls.from_dictionary(n)
                             for n in resources.get("networks") or []])
        for key in ("backend", "box", "user", "name_prefix", "config_extra",
                    "management_cidr"):
            if dictionary.get(key) is not None:
                setattr(conf, key, dictionary[key])
        return conf.finalize() if validate else conf

    from_dictionnary = from_dictionary  # EnOSlib's deprecated spelling

    @classmethod
    def from_settings(cls, **kwargs: Any) -> VagrantConf:
        """A default conf with each keyword set as an attribute (validated by finalize)."""
        conf = cls()
        for key, value in kwargs.items():
            setattr(conf, key, value)
        return conf

    def add_machine(self, **kwargs: Any) -> VagrantConf:
        self.machines.append(self._machine_cls(**kwargs))
        return self

    def add_machine_conf(self, machine: VagrantMachineConf) -> VagrantConf:
        self.machines.append(machine)
        return self

    def add_network(self, *args: Any, **kwargs: Any) -> VagrantConf:
        self.networks.append(self._network_cls(*args, **kwargs))
        return self

    def add_network_conf(self, network: VagrantNetworkConf) -> VagrantConf:
        self.networks.append(network)
        return self

    def finalize(self) -> VagrantConf:
        """Validate the whole conf (schema, then semantics); return self."""
        validate_section(SCHEMA, self.to_dict())
        check(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": self.backend, "box": self.box, "user": self.user,
            "name_prefix": self.name_prefix, "management_cidr": self.management_cidr,
            "resources": {"machines": [m.to_dict() for m in self.machines],
                          "networks": [n.to_dict() for n in self.networks]}}
        if self.config_extra:
            out["config_extra"] = self.config_extra
        return out

    def __repr__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def copy(self) -> VagrantConf:
        return copy.deepcopy(self)

    # -- derived views --------------------------------------------------------------------
    def vms(self) -> list[VmPlan]:
        """Every VM, named and addressed the way EnOSlib does (see the module docstring)."""
        pools = {n.cidr: _pool(n.network) for n in self.networks}
        out = []
        for index, machine in enumerate(self.machines):
            prefix = machine.name_prefix or f"{self.name_prefix}-{index}"
            cores, memory = machine.size
            for k in range(1, machine.number + 1):
                name = f"{prefix}-{k}" if machine.number > 1 else prefix
                addresses = tuple((n.cidr, str(pools[n.cidr].pop())) for n in self.networks)
                out.append(VmPlan(
                    name=name, roles=tuple(machine.roles),
                    backend=machine.backend or self.backend, box=machine.box or self.box,
                    user=machine.user or self.user, cores=cores, memory=memory,
                    addresses=addresses, config_extra_vm=machine.config_extra_vm,
                    group=index))
        return out


def _pool(network: ipaddress.IPv4Network) -> list[ipaddress.IPv4Address]:
    first = int(network.network_address) + POOL_MARGIN
    last = int(network.broadcast_address) - POOL_MARGIN
    return [ipaddress.IPv4Address(i) for i in range(first, last + 1)]


def check(conf: VagrantConf) -> None:
    """Semantic checks the schema cannot express; ConfigError names the field."""
    management = _cidr(conf.management_cidr, ("management_cidr",))
    seen: dict[ipaddress.IPv4Network, int] = {}
    wanted = sum(m.number for m in conf.machines)
    for index, net in enumerate(conf.networks):
        path: tuple[str | int, ...] = ("resources", "networks", index, "cidr")
        network = _cidr(net.cidr, path)
        if network.prefixlen > 30 or len(_pool(network)) < wanted:
            raise ConfigError(
                f"network {net.cidr} has room for {len(_pool(network))} VMs, "
                f"{wanted} are asked for", path,
                hint="Its first and last 10 addresses are left out (as EnOSlib does): "
                     "use a larger network, e.g. a /24.")
        if network.overlaps(management):
            raise ConfigError(f"network {net.cidr} overlaps the management network "
                              f"{conf.management_cidr}", path,
                              hint="Choose another cidr, or set management_cidr.")
        for other, other_index in seen.items():
            if network.overlaps(other):
                raise ConfigError(f"network {net.cidr} overlaps network {other_index} "
                                  f"({other})", path, hint="Give each network its own cidr.")
        seen[network] = index
    for index, machine in enumerate(conf.machines):
        path = ("resources", "machines", index)
        if machine.flavour is not None and machine.flavour_desc is not None:
            raise ConfigError("flavour and flavour_desc are exclusive", (*path, "flavour"),
                              hint="Keep one of them.")
        if machine.flavour is not None and machine.flavour not in FLAVOURS:
            raise ConfigError(f"unknown flavour {machine.flavour!r}", (*path, "flavour"),
                              hint=f"Use one of {', '.join(FLAVOURS)}, or flavour_desc.")
    names: dict[str, int] = {}
    for vm in conf.vms():
        if vm.name in names:
            raise ConfigError(f"two machine groups name a VM {vm.name!r}",
                              ("resources", "machines", vm.group, "name_prefix"),
                              hint="Give each group its own name_prefix.")
        names[vm.name] = vm.group


def _cidr(value: str, path: tuple[str | int, ...]) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ConfigError(f"{value!r} is not an IPv4 network: {exc}", path,
                          hint="Write it as address/prefix with zero host bits, "
                               "e.g. 192.168.56.0/24.") from None
