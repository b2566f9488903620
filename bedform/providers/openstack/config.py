"""Configuration of the `openstack` provider: EnOSlib's field names, builders, checks.

```yaml
os:
  type: openstack
  cloud: mycloud              # a clouds.yaml cloud; or rc_file: ./openrc.sh; or OS_* vars
  key_name: mykey             # the Nova keypair
  image: debian-12
  user: debian
  prefix: exp1                # default: the stack name (EnOSlib: "enos")
  subnet: {name: exp1-subnet, cidr: 10.87.23.0/24}
  resources:
    machines:
      - {roles: [server], flavour: m1.small, number: 1}
      - {roles: [client], flavour: m1.tiny, number: 3}
    networks: [lan]
```

Python: `OpenstackConf.from_settings(key_name="k", image="debian-12", user="debian")
.add_machine(roles=["server"], flavour="m1.small", number=1).finalize()` gives the same
object as `from_dictionary`. Unlike EnOSlib, the builder gives `image` and `user` to
the machines that have none, `gateway_user` defaults to `user` (not None), every field
is validated, and object names derive from the prefix so that two stacks never share
one: network `<prefix>-network`, subnet `<prefix>-subnet`, router `<prefix>-router`,
security group `<prefix>-secgroup`, servers `<prefix>-<group>-<n>`. With
`configure_network: false` the named network and subnet must exist; they are read,
never changed nor deleted, and no router is made.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import attrs

from bedform.errors import ConfigError
from bedform.providers.openstack.schema import DEFAULT_CIDR, DEFAULT_DNS, SCHEMA
from bedform.providers.schema import validate_section

_TOP_FIELDS = ("key_name", "image", "user", "rc_file", "cloud", "prefix", "network",
               "subnet", "configure_network", "gateway", "gateway_user", "allocation_pool",
               "dns_nameservers", "external_network", "wait_ssh")


@attrs.define
class OpenstackMachineConf:
    """A group of `number` servers of one flavour (EnOSlib's MachineConfiguration)."""

    roles: list[str] = attrs.field(factory=list)
    flavour: str = ""
    number: int = 1
    image: str | None = None
    user: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "flavour": self.flavour,
                               "number": self.number}
        for key in ("image", "user"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@attrs.define
class OpenstackConf:
    """EnOSlib's OpenStack Configuration, with a JSON schema and its builder API.

    Subclasses (the Chameleon confs) change defaults, `fields` and `schema`."""

    fields: ClassVar[tuple[str, ...]] = _TOP_FIELDS
    schema: ClassVar[dict[str, Any]] = SCHEMA

    key_name: str | None = None
    image: str | None = None
    user: str | None = None
    rc_file: str | None = None
    cloud: str | None = None
    prefix: str | None = None
    network: dict[str, str] | None = None
    subnet: dict[str, str] | None = None
    configure_network: bool = True
    gateway: bool = True
    gateway_user: str | None = None
    allocation_pool: dict[str, str] | None = None
    dns_nameservers: list[str] = attrs.field(factory=lambda: list(DEFAULT_DNS))
    external_network: str | None = None
    wait_ssh: bool = False
    machines: list[OpenstackMachineConf] = attrs.field(factory=list)
    networks: list[str] = attrs.field(factory=list)

    # -- builders ------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, **kwargs: Any) -> Self:
        conf = cls()
        for key, value in kwargs.items():
            if key not in cls.fields:
                raise ConfigError(f"unknown field {key!r}", (key,),
                                  hint=f"Known fields: {', '.join(cls.fields)}.")
            setattr(conf, key, copy.deepcopy(value))
        return conf

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any],
                        validate: bool = True) -> Self:
        if validate:
            validate_section(cls.schema, dictionary)
        data = copy.deepcopy(dict(dictionary))
        conf = cls.from_settings(**{k: v for k, v in data.items()
                                    if k in cls.fields and v is not None})
        resources = data.get("resources", {})
        for machine in resources.get("machines", []):
            conf.add_machine(**machine)
        conf.networks = list(resources.get("networks", []))
        return conf.finalize()

    from_dictionnary = from_dictionary

    def add_machine(self, **kwargs: Any) -> Self:
        self.machines.append(OpenstackMachineConf(**kwargs))
        return self

    def add_machine_conf(self, machine: OpenstackMachineConf) -> Self:
        self.machines.append(machine)
        return self

    def add_network(self, *roles: str) -> Self:
        """Name the private subnet with `roles` in the inventory's networks."""
        self.networks.extend(roles)
        return self

    # -- checks --------------------------------------------------------------------------
    def finalize(self) -> Self:
        """Fill the machines' image and user, then validate everything; returns self."""
        for machine in self.machines:
            machine.image = machine.image or self.image
            machine.user = machine.user or self.user
        self.gateway_user = self.gateway_user or self.user
        validate_section(self.schema, self.to_dict())
        if self.rc_file and self.cloud:
            raise ConfigError("rc_file and cloud are both set", ("cloud",),
                              hint="Keep one source of credentials: a clouds.yaml cloud "
                                   "or an openrc file.")
        if self.rc_file and not Path(self.rc_file).expanduser().is_file():
            raise ConfigError(f"rc_file {self.rc_file!r} is not a file", ("rc_file",),
                              hint="Give the path of an openrc file (`export OS_...=...` "
                                   "lines), or use `cloud:` with a clouds.yaml.")
        network = _network(self.cidr, ("subnet", "cidr"))
        for index, server in enumerate(self.dns_nameservers):
            _address(server, ("dns_nameservers", index))
        if self.allocation_pool is not None:
            start = _address(self.allocation_pool["start"], ("allocation_pool", "start"))
            end = _address(self.allocation_pool["end"], ("allocation_pool", "end"))
            for name, value in (("start", start), ("end", end)):
                if value not in network:
                    raise ConfigError(f"allocation_pool.{name} {value} is outside the subnet "
                                      f"{network}", ("allocation_pool", name),
                                      hint="Pick addresses of subnet.cidr.")
            if start > end:
                raise ConfigError(f"allocation_pool starts at {start}, after its end {end}",
                                  ("allocation_pool", "start"))
        elif network.num_addresses < 16:
            raise ConfigError(f"subnet {network} is too small for the default allocation "
                              "pool", ("subnet", "cidr"),
                              hint="Use a /28 or larger, or set allocation_pool.")
        if not any(m.number for m in self.machines):
            raise ConfigError("no server is asked for (every machine group has number: 0)",
                              ("resources", "machines"), hint="Set `number:` to 1 or more.")
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in self.fields:
            value = getattr(self, field)
            if value is not None:
                out[field] = copy.deepcopy(value)
        out["resources"] = {"machines": [m.to_dict() for m in self.machines],
                            "networks": list(self.networks)}
        return out

    def __repr__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    # -- derived values ------------------------------------------------------------------
    @property
    def cidr(self) -> str:
        return (self.subnet or {}).get("cidr") or DEFAULT_CIDR

    def names(self, default_prefix: str) -> dict[str, str]:
        """Names of the objects, from `prefix` (or `default_prefix`, the stack name)."""
        prefix = self.prefix or default_prefix
        return {"prefix": prefix,
                "network": (self.network or {}).get("name") or f"{prefix}-network",
                "subnet": (self.subnet or {}).get("name") or f"{prefix}-subnet",
                "router": f"{prefix}-router", "secgroup": f"{prefix}-secgroup"}

    def pool(self) -> dict[str, str]:
        """The allocation pool: the configured one, else the 10th to 100th addresses
        of the subnet (EnOSlib's 10.87.23.10-10.87.23.100 on its default subnet)."""
        if self.allocation_pool is not None:
            return dict(self.allocation_pool)
        network = ipaddress.ip_network(self.cidr, strict=False)
        last = min(100, network.num_addresses - 2)
        return {"start": str(network[min(10, last)]), "end": str(network[last])}


def _network(value: str, path: Sequence[str | int]) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(f"{value!r} is not a network in CIDR notation", path,
                          hint="Write it like 10.87.23.0/24.") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise ConfigError(f"{value} is not an IPv4 network", path,
                          hint="The private subnet is IPv4 (ip_version 4), as in EnOSlib.")
    return network


def _address(value: str, path: Sequence[str | int]) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise ConfigError(f"{value!r} is not an IPv4 address", path) from None


def load(section: Mapping[str, Any]) -> OpenstackConf:
    """Validate a stack section (ConfigError with the YAML path) into an OpenstackConf."""
    validate_section(SCHEMA, section)
    return OpenstackConf.from_dictionary(section, validate=False)
