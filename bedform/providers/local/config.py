"""Configuration of the `local` provider: JSON schema and EnOSlib-style builder classes.

```yaml
here:
  type: local
  user: root            # SSH user written into the inventory (default root)
  ssh: true             # false: no sshd, hosts are reached with `ip netns exec`
  prefix: bf            # prefix of namespace names (default bf)
  resources:
    machines:
      - {roles: [server], number: 2}                 # networks: default all
      - {roles: [client, edge], number: 3, networks: [lan]}
    networks:                                        # default: one 198.18.0.0/24 "lan"
      - {id: lan, cidr: 198.18.0.0/24, roles: [lan]}
```

Python builders follow EnOSlib's BaseConfiguration:
`LocalConf.from_settings(user="root").add_machine(roles=["server"], number=2)
.add_network(id="lan", cidr="198.18.0.0/24", roles=["lan"]).finalize()`.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from bedform.errors import ConfigError
from bedform.providers.schema import validate_section

DEFAULT_USER = "root"
DEFAULT_PREFIX = "bf"
DEFAULT_NETWORK_ID = "lan"
# Inside 198.18.0.0/15, the range reserved for benchmarking (RFC 2544): it does not clash
# with a user's own networks.
DEFAULT_CIDR = "198.18.0.0/24"
BENCHMARK_RANGE = ipaddress.ip_network("198.18.0.0/15")

# A host name is `<group>-<n>`: it must stay a valid hostname label (63 chars).
GROUP_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,48}[A-Za-z0-9])?$"
# A network id is also the interface name inside each host: kernel limit 15 chars.
NETWORK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$"
RESERVED_NETWORK_IDS = frozenset({"lo", "all", "default"})
USER_PATTERN = r"^[a-z_][a-z0-9_.-]{0,31}$"
PREFIX_PATTERN = r"^[a-z][a-z0-9]{0,7}$"

_MACHINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "roles": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
            "description": "Roles of these hosts, e.g. [server]. The first one names them.",
        },
        "number": {
            "type": "integer", "minimum": 0,
            "description": "How many hosts of this group (default 1).",
        },
        "networks": {
            "type": "array", "items": {"type": "string"}, "uniqueItems": True,
            "description": "Ids of the networks these hosts join (default: all).",
        },
        "name": {
            "type": "string", "pattern": GROUP_NAME_PATTERN,
            "description": "Host name prefix (default: the first role): hosts are <name>-<n>.",
        },
    },
    "required": ["roles"],
    "additionalProperties": False,
}

_NETWORK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {
            "type": "string", "pattern": NETWORK_ID_PATTERN,
            "description": "Network id: letters, digits, - and _, at most 15 characters "
                           "(it is also the interface name inside each host).",
        },
        "cidr": {
            "type": "string",
            "description": "IPv4 network, e.g. 198.18.0.0/24; its first address is the "
                           "gateway on this machine.",
        },
        "roles": {
            "type": "array", "items": {"type": "string", "minLength": 1},
            "description": "Roles of this network (default: [id]).",
        },
    },
    "required": ["id", "cidr"],
    "additionalProperties": False,
}

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "local provider",
    "type": "object",
    "properties": {
        "user": {
            "type": "string", "pattern": USER_PATTERN,
            "description": "SSH user of the hosts in the inventory (default root).",
        },
        "ssh": {
            "type": "boolean",
            "description": "Run an OpenSSH server in each host (default true).",
        },
        "prefix": {
            "type": "string", "pattern": PREFIX_PATTERN,
            "description": "Prefix of namespace names: 1-8 lower-case letters/digits "
                           "(default bf).",
        },
        "resources": {
            "type": "object",
            "properties": {
                "machines": {"type": "array", "items": {"$ref": "#/definitions/machine"}},
                "networks": {"type": "array", "items": {"$ref": "#/definitions/network"}},
            },
            "required": ["machines"],
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
class LocalNetworkConf:
    """One network: a bridge on this machine holding the gateway, the first address."""

    id: str
    cidr: str
    roles: list[str] | None = attrs.field(default=None)

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any]) -> LocalNetworkConf:
        roles = dictionary.get("roles")
        return cls(id=dictionary["id"], cidr=dictionary["cidr"],
                   roles=list(roles) if roles is not None else None)

    @property
    def effective_roles(self) -> list[str]:
        return list(self.roles) if self.roles else [self.id]

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cidr)

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.network.network_address + 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "cidr": self.cidr}
        if self.roles is not None:
            out["roles"] = list(self.roles)
        return out


@attrs.define
class LocalMachineConf:
    """A group of `number` hosts named `<name or first role>-<n>`, n from 1."""

    roles: list[str] = attrs.field(factory=list, converter=_list)
    number: int = 1
    networks: list[str] | None = None
    name: str | None = None

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any]) -> LocalMachineConf:
        networks = dictionary.get("networks")
        return cls(
            roles=list(dictionary["roles"]),
            number=dictionary.get("number", 1),
            networks=list(networks) if networks is not None else None,
            name=dictionary.get("name"),
        )

    @property
    def group_name(self) -> str:
        return self.name or (self.roles[0] if self.roles else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "number": self.number}
        if self.networks is not None:
            out["networks"] = list(self.networks)
        if self.name is not None:
            out["name"] = self.name
        return out


@attrs.define
class LocalConf:
    """The `local` provider's configuration (EnOSlib BaseConfiguration builder API)."""

    _machine_cls: ClassVar[type[LocalMachineConf]] = LocalMachineConf
    _network_cls: ClassVar[type[LocalNetworkConf]] = LocalNetworkConf

    machines: list[LocalMachineConf] = attrs.field(factory=list)
    networks: list[LocalNetworkConf] = attrs.field(factory=list)
    user: str = DEFAULT_USER
    ssh: bool = True
    prefix: str = DEFAULT_PREFIX

    # -- EnOSlib builder API -------------------------------------------------------------
    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any], validate: bool = True
                        ) -> LocalConf:
        """Validate `dictionary` (ConfigError with the field path) and build the conf."""
        if validate:
            validate_section(SCHEMA, dictionary)
        resources = dictionary.get("resources") or {}
        conf = cls(
            machines=[cls._machine_cls.from_dictionary(m)
                      for m in resources.get("machines") or []],
            networks=[cls._network_cls.from_dictionary(n)
                      for n in resources.get("networks") or []],
        )
        for key in ("user", "ssh", "prefix"):
            if dictionary.get(key) is not None:
                setattr(conf, key, dictionary[key])
        return conf.finalize() if validate else conf

    from_dictionnary = from_dictionary  # EnOSlib's deprecated spelling

    @classmethod
    def from_settings(cls, **kwargs: Any) -> LocalConf:
        """A default conf with each keyword set as an attribute (validated by finalize)."""
        conf = cls()
        for key, value in kwargs.items():
            setattr(conf, key, value)
        return conf

    def add_machine(self, **kwargs: Any) -> LocalConf:
        self.machines.append(self._machine_cls(**kwargs))
        return self

    def add_machine_conf(self, machine: LocalMachineConf) -> LocalConf:
        self.machines.append(machine)
        return self

    def add_network(self, *args: Any, **kwargs: Any) -> LocalConf:
        self.networks.append(self._network_cls(*args, **kwargs))
        return self

    def add_network_conf(self, network: LocalNetworkConf) -> LocalConf:
        self.networks.append(network)
        return self

    def finalize(self) -> LocalConf:
        """Validate the whole conf (schema, then semantics); return self."""
        validate_section(SCHEMA, self.to_dict())
        check(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        resources: dict[str, Any] = {"machines": [m.to_dict() for m in self.machines]}
        if self.networks:
            resources["networks"] = [n.to_dict() for n in self.networks]
        return {"user": self.user, "ssh": self.ssh, "prefix": self.prefix,
                "resources": resources}

    def __repr__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    # -- derived views --------------------------------------------------------------------
    @property
    def effective_networks(self) -> list[LocalNetworkConf]:
        """The configured networks, or the default one when none is given."""
        if self.networks:
            return list(self.networks)
        return [LocalNetworkConf(id=DEFAULT_NETWORK_ID, cidr=DEFAULT_CIDR,
                                 roles=[DEFAULT_NETWORK_ID])]

    def networks_of(self, machine: LocalMachineConf) -> list[LocalNetworkConf]:
        """The networks a group joins, in the order it lists them (default: all)."""
        by_id = {n.id: n for n in self.effective_networks}
        if machine.networks is None:
            return list(by_id.values())
        return [by_id[i] for i in machine.networks]

    def copy(self) -> LocalConf:
        return copy.deepcopy(self)


def _machine_path(index: int, *rest: str | int) -> tuple[str | int, ...]:
    return ("resources", "machines", index, *rest)


def _network_path(index: int, *rest: str | int) -> tuple[str | int, ...]:
    return ("resources", "networks", index, *rest)


def check(conf: LocalConf) -> None:
    """Semantic checks beyond the schema; ConfigError paths are relative to the section."""
    seen_ids: dict[str, int] = {}
    parsed: list[tuple[int, ipaddress.IPv4Network]] = []
    for index, net in enumerate(conf.networks):
        if net.id in seen_ids:
            raise ConfigError(
                f"duplicate network id {net.id!r} (also networks[{seen_ids[net.id]}])",
                _network_path(index, "id"), hint="Give each network its own id.")
        seen_ids[net.id] = index
        if net.id.lower() in RESERVED_NETWORK_IDS:
            raise ConfigError(
                f"network id {net.id!r} is reserved (it names the interface inside hosts)",
                _network_path(index, "id"), hint="Use another id, e.g. lan or net1.")
        if not re.match(NETWORK_ID_PATTERN, net.id):
            raise ConfigError(f"invalid network id {net.id!r}", _network_path(index, "id"),
                              hint=_NETWORK_SCHEMA["properties"]["id"]["description"])
        network = _parse_cidr(net.cidr, _network_path(index, "cidr"))
        for other_index, other in parsed:
            if network.overlaps(other):
                raise ConfigError(
                    f"cidr {net.cidr} overlaps networks[{other_index}] "
                    f"({conf.networks[other_index].id}: {other})",
                    _network_path(index, "cidr"),
                    hint="Networks of the local provider are bridges on the same machine: "
                         "give them disjoint cidrs, e.g. 198.18.0.0/24 and 198.18.1.0/24.")
        parsed.append((index, network))

    networks = conf.effective_networks
    known = [n.id for n in networks]
    groups: dict[str, int] = {}
    for index, machine in enumerate(conf.machines):
        if not machine.roles:
            raise ConfigError("a machine group needs at least one role",
                              _machine_path(index, "roles"), hint="e.g. roles: [server]")
        if not isinstance(machine.number, int) or isinstance(machine.number, bool) \
                or machine.number < 0:
            raise ConfigError(f"number must be a non-negative integer, not {machine.number!r}",
                              _machine_path(index, "number"))
        group = machine.group_name
        where = _machine_path(index, "name") if machine.name else _machine_path(index, "roles", 0)
        if not re.match(GROUP_NAME_PATTERN, group):
            raise ConfigError(
                f"{group!r} cannot start host names (hosts are named <group>-<n>)", where,
                hint="Host names may hold letters, digits and inner hyphens (at most 50 "
                     "characters before -<n>); set `name:` on this machine group to a "
                     "valid prefix, e.g. name: server.")
        if group.lower() in groups:
            raise ConfigError(
                f"machine groups {groups[group.lower()]} and {index} would both name their "
                f"hosts {group}-<n>", where,
                hint="Give one of them a distinct `name:` (the host name prefix).")
        groups[group.lower()] = index
        if machine.networks is not None:
            if not machine.networks:
                raise ConfigError("a machine group must join at least one network",
                                  _machine_path(index, "networks"),
                                  hint="Omit `networks` to join every network.")
            for position, net_id in enumerate(machine.networks):
                if net_id not in known:
                    raise ConfigError(
                        f"unknown network id {net_id!r}",
                        _machine_path(index, "networks", position),
                        hint=f"Known networks: {', '.join(known)}.")

    # Capacity: each group attached to a network owns an equal share of its addresses
    # (see layout.allocate); a group larger than its share does not fit.
    for net_index, net in enumerate(networks):
        attached = [(i, m) for i, m in enumerate(conf.machines)
                    if net.id in {n.id for n in conf.networks_of(m)}]
        if not attached:
            continue
        capacity = usable_addresses(net.network)
        share = capacity // len(attached)
        for index, machine in attached:
            if machine.number > share:
                where = (_network_path(net_index, "cidr") if conf.networks
                         else _machine_path(index, "number"))
                raise ConfigError(
                    f"network {net.id} ({net.cidr}) is too small: its {capacity} host "
                    f"addresses are shared by {len(attached)} machine group(s), "
                    f"{share} each, and group {machine.group_name!r} has {machine.number} "
                    f"hosts", where,
                    hint="Use a larger cidr (e.g. a /22), or fewer hosts.")

    if not isinstance(conf.ssh, bool):
        raise ConfigError("ssh must be true or false", ("ssh",))
    if not re.match(USER_PATTERN, str(conf.user)):
        raise ConfigError(f"invalid user name {conf.user!r}", ("user",))
    if not re.match(PREFIX_PATTERN, str(conf.prefix)):
        raise ConfigError(f"invalid prefix {conf.prefix!r}", ("prefix",),
                          hint=SCHEMA["properties"]["prefix"]["description"])


def usable_addresses(network: ipaddress.IPv4Network) -> int:
    """Host addresses left once the network, gateway and broadcast addresses are taken."""
    return max(network.num_addresses - 3, 0)


def _parse_cidr(cidr: str, path: tuple[str | int, ...]) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ConfigError(f"{cidr!r} is not a network in cidr notation", path,
                          hint="e.g. 198.18.0.0/24") from None
    if network.version != 4:
        raise ConfigError(f"{cidr} is IPv6; the local provider supports IPv4 only", path,
                          hint="Use a block of 198.18.0.0/15, e.g. 198.18.0.0/24.")
    if "/" not in cidr:
        raise ConfigError(f"{cidr!r} has no prefix length", path, hint=f"e.g. {cidr}/24")
    if str(network) != cidr.strip():
        raise ConfigError(f"{cidr} has host bits set", path, hint=f"Did you mean {network}?")
    if network.prefixlen > 30:
        raise ConfigError(f"{cidr} is too small: a network needs a gateway and hosts", path,
                          hint="Use at most a /30, typically a /24.")
    return network
