"""EnOSlib's object model (hosts, networks, roles) without its sharp edges.

What every provider's `inventory()` returns and what the state file's `outputs` hold:

- `Host`: anything Ansible/SSH can reach. Hash over (address, alias, user, keyfile,
  port); equality over every public field; a total order that never raises.
- `Network` (abstract) and `DefaultNetwork`: an IP network plus optional gateway, dns
  and IP/MAC pools. Equality is "same class and same network". The order is
  (IP version, network address, prefix length, class name): IPv4 always sorts before
  IPv6, and sorting a mix never raises (EnOSlib raises TypeError).
- Containers: `ResourcesSet` (a set with EnOSlib's list-like API), `RolesDict`,
  `Roles` (of `HostsView`) and `Networks` (of `NetworksView`).
- Serialisation: `to_dict()` / `from_dict()` on every object, with a `type` key looked
  up in a registry so provider subclasses round-trip (`register_network_class`,
  `register_host_class`), and `roles_to_dict` / `roles_from_dict` /
  `networks_to_dict` / `networks_from_dict` for whole containers.

Ordering and iteration: a `ResourcesSet` ITERATES IN SORTED ORDER (the order of
`resource_sort_key`), the same order `x[i]` indexes, so `list(s)[i] == s[i]` and every
output built by iterating is independent of insertion order. Hosts sort by (address,
alias, user, keyfile, port, extra), None first; networks as above; Hosts come before
networks, which come before any other member (sensors...), those sorting by (class
name, address, alias).

Subclassing (provider objects):

- Serialised fields are the class attribute `dict_fields`: attribute names read with
  `getattr` by `to_dict()` and passed back as keyword arguments to the constructor by
  `from_dict()`. A subclass adds its own with `extra_dict_fields = ("vlan_id",)`
  (appended to the parent's), or replaces the whole list by defining `dict_fields`, or
  overrides the classmethod `from_fields(fields)` when its constructor differs.
- Values are written JSON-able: ipaddress objects and paths become strings, tuples and
  sets lists. A constructor must accept back what it wrote (e.g. strings for addresses).
- A subclass must be registered to be serialised, by its `__qualname__` unless a
  `name` is given: `@register_network_class` / `@register_host_class`. `to_dict()` of an
  unregistered class raises TypeError, `from_dict()` of an unknown type ValueError.
  Non-Host role members (e.g. IoT-LAB sensors) subclass `Serializable` and register
  with `register_host_class`.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSet
from typing import Any, ClassVar, Self, TypeVar

from bedform.values import DESCEND, walk

__all__ = [
    "DefaultNetwork",
    "Host",
    "HostsView",
    "Network",
    "Networks",
    "NetworksView",
    "ResourcesSet",
    "Roles",
    "RolesDict",
    "Serializable",
    "format_mac",
    "networks_from_dict",
    "networks_to_dict",
    "parse_mac",
    "register_host_class",
    "register_network_class",
    "resource_sort_key",
    "roles_from_dict",
    "roles_to_dict",
]

IPAddressType = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetworkType = ipaddress.IPv4Network | ipaddress.IPv6Network
_IP_ADDRESS_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address)
_IP_NETWORK_TYPES = (ipaddress.IPv4Network, ipaddress.IPv6Network)
_IP_INTERFACE_TYPES = (ipaddress.IPv4Interface, ipaddress.IPv6Interface)

_T = TypeVar("_T")
_C = TypeVar("_C", bound=type)
_S = TypeVar("_S", bound="Serializable")

# --------------------------------------------------------------------------- helpers


def _jsonable(value: Any) -> Any:
    """A JSON-able deep copy of `value` (ip objects and paths as strings, sets sorted)."""
    return walk(value, _jsonable_node)


def _jsonable_node(node: Any) -> Any:
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if isinstance(node, _IP_ADDRESS_TYPES + _IP_NETWORK_TYPES + _IP_INTERFACE_TYPES):
        return str(node)
    if isinstance(node, os.PathLike):
        return os.fspath(node)
    if isinstance(node, Mapping | list | tuple):
        return DESCEND
    if isinstance(node, set | frozenset):
        return sorted((_jsonable(item) for item in node), key=_canonical)
    return copy.deepcopy(node)


def _canonical(value: Any) -> str:
    """A deterministic text form of a JSON-like value (for tie-breaks and dedupe)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):  # non-string keys of mixed types, cycles...
        return repr(value)


def _rank(value: Any) -> tuple[int, Any]:
    """Sort key of one field: None first, then numbers, then strings, then the rest.

    Values of one rank always have comparable types, so keys never raise.
    """
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, f"{type(value).__name__}:{value!r}")


def resource_sort_key(obj: Any) -> tuple:
    """The total order of container members; never raises, whatever the mix of types.

    Hosts (and subclasses) first, by (address, alias, user, keyfile, port, extra,
    class); then networks by (IP version, network address, prefix length, class
    name); then anything else by (class name, address, alias).
    """
    if isinstance(obj, Host):
        return (0, _host_key(obj), type(obj).__qualname__)
    if isinstance(obj, Network):
        return (1, _network_key(obj), "")
    alias = getattr(obj, "alias", None)
    return (
        2,
        (type(obj).__qualname__, _rank(getattr(obj, "address", None)), _rank(alias)),
        "",
    )


def _host_key(host: Host) -> tuple:
    return (
        _rank(host.address),
        _rank(host.alias),
        _rank(host.user),
        _rank(host.keyfile),
        _rank(host.port),
        _canonical(host.extra) if host.extra else "",
    )


def _network_key(net: Network) -> tuple:
    network = net.network
    return (
        network.version,
        int(network.network_address),
        network.prefixlen,
        type(net).__qualname__,
    )


class _Ordered:
    """Rich comparisons through `resource_sort_key`, against anything with an address."""

    def _order_keys(self, other: Any) -> tuple[tuple, tuple] | None:
        if isinstance(other, _Ordered) or hasattr(other, "address"):
            return resource_sort_key(self), resource_sort_key(other)
        return None

    def __lt__(self, other: Any) -> bool:
        keys = self._order_keys(other)
        return NotImplemented if keys is None else keys[0] < keys[1]

    def __le__(self, other: Any) -> bool:
        keys = self._order_keys(other)
        return NotImplemented if keys is None else keys[0] <= keys[1]

    def __gt__(self, other: Any) -> bool:
        keys = self._order_keys(other)
        return NotImplemented if keys is None else keys[0] > keys[1]

    def __ge__(self, other: Any) -> bool:
        keys = self._order_keys(other)
        return NotImplemented if keys is None else keys[0] >= keys[1]


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, type] = {}
_NAMES: dict[type, str] = {}


def _register(cls: _C, name: str | None) -> _C:
    name = name or cls.__qualname__
    previous = _REGISTRY.get(name)
    if previous is not None and previous is not cls:
        same_origin = (previous.__module__, previous.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )
        if not same_origin:  # a reloaded module re-registers its own class: fine
            raise ValueError(
                f"object type name {name!r} is already registered for "
                f"{previous.__module__}.{previous.__qualname__}; pass name=... to "
                f"register {cls.__module__}.{cls.__qualname__} under another name"
            )
        _NAMES.pop(previous, None)
    old_name = _NAMES.get(cls)
    if old_name is not None and old_name != name:
        _REGISTRY.pop(old_name, None)
    _REGISTRY[name] = cls
    _NAMES[cls] = name
    return cls


def register_network_class(cls: _C | None = None, /, *, name: str | None = None) -> Any:
    """Register a `Network` subclass so `to_dict`/`from_dict` round-trip it.

    Usable as `@register_network_class`, `@register_network_class(name="X")` or a plain
    call. The type name written in dicts is `name`, default the class's `__qualname__`.
    """

    def decorate(klass: _C) -> _C:
        if not (isinstance(klass, type) and issubclass(klass, Network)):
            raise TypeError(f"register_network_class: {klass!r} is not a Network subclass")
        return _register(klass, name)

    return decorate if cls is None else decorate(cls)


def register_host_class(cls: _C | None = None, /, *, name: str | None = None) -> Any:
    """Register a role-member class (a `Host` subclass, or any `Serializable` with an
    `address`, such as a sensor) so `roles_to_dict`/`roles_from_dict` round-trip it.

    Same forms as `register_network_class`.
    """

    def decorate(klass: _C) -> _C:
        if not isinstance(klass, type) or issubclass(klass, Network):
            raise TypeError(f"register_host_class: {klass!r} is not a role-member class")
        if not (callable(getattr(klass, "to_dict", None))
                and callable(getattr(klass, "from_dict", None))):
            raise TypeError(
                f"register_host_class: {klass.__qualname__} needs to_dict() and from_dict()"
            )
        return _register(klass, name)

    return decorate if cls is None else decorate(cls)


def _type_name(cls: type) -> str:
    name = _NAMES.get(cls)
    if name is None:
        hint = "register_network_class" if issubclass(cls, Network) else "register_host_class"
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} is not registered for serialisation; "
            f"decorate it with @{hint}"
        )
    return name


def _resolve_type(data: Mapping[str, Any], base: type[_T]) -> type[_T]:
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a dict describing a {base.__name__}, got {data!r}")
    name = data.get("type")
    if name is None:
        if getattr(base, "__abstractmethods__", None):
            raise ValueError(f"{base.__name__} dict without a 'type' key: {dict(data)!r}")
        return base
    klass = _REGISTRY.get(name)
    if klass is None:
        raise ValueError(
            f"unknown object type {name!r}: no class is registered under that name "
            f"(is the provider module that defines it imported?)"
        )
    if not issubclass(klass, base):
        raise ValueError(f"object type {name!r} is a {klass.__name__}, not a {base.__name__}")
    return klass


class Serializable:
    """`to_dict()` / `from_dict()` driven by the `dict_fields` class attribute.

    `dict_fields` lists attribute names that are also constructor keywords; a subclass
    appends to it with `extra_dict_fields`, or overrides `from_fields` when its
    constructor takes something else. `ignored_dict_keys` are accepted and dropped on
    reading (compatibility with older documents); any other unknown key is an error.
    """

    dict_fields: ClassVar[tuple[str, ...]] = ()
    extra_dict_fields: ClassVar[tuple[str, ...]] = ()
    ignored_dict_keys: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        base = cls.__dict__.get("dict_fields", cls.dict_fields)
        extra = cls.__dict__.get("extra_dict_fields", ())
        cls.dict_fields = tuple(dict.fromkeys((*base, *extra)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: {"type": registered name, field: value...}."""
        out: dict[str, Any] = {"type": _type_name(type(self))}
        for field in self.dict_fields:
            out[field] = _jsonable(getattr(self, field))
        return out

    @classmethod
    def from_dict(cls: type[_S], data: Mapping[str, Any]) -> _S:
        """Rebuild an object; the `type` key picks the registered subclass."""
        klass = _resolve_type(data, cls)
        fields = {key: value for key, value in data.items() if key != "type"}
        unknown = set(fields) - set(klass.dict_fields) - klass.ignored_dict_keys
        if unknown:
            raise ValueError(
                f"{klass.__name__}: unknown field(s) {sorted(unknown)} "
                f"(known: {list(klass.dict_fields)})"
            )
        kwargs = {
            key: copy.deepcopy(value)
            for key, value in fields.items()
            if key not in klass.ignored_dict_keys
        }
        return klass.from_fields(kwargs)

    @classmethod
    def from_fields(cls: type[_S], fields: dict[str, Any]) -> _S:
        """Build an instance from the `dict_fields` values read (default: `cls(**fields)`)."""
        return cls(**fields)

    def _repr_fields(self) -> str:
        parts = []
        for field in self.dict_fields:
            value = getattr(self, field, None)
            if value is None or value == {} or value == ():
                continue
            if isinstance(value, _IP_ADDRESS_TYPES + _IP_NETWORK_TYPES):
                value = str(value)
            parts.append(f"{field}={value!r}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._repr_fields()})"


# --------------------------------------------------------------------------- Host


def _parse_port(port: Any) -> int | None:
    if port is None:
        return None
    if isinstance(port, bool):
        raise TypeError(f"invalid port {port!r}")
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise ValueError(f"invalid port {port!r}: expected an integer") from None
    if isinstance(port, float) and port != value:
        raise ValueError(f"invalid port {port!r}: expected an integer")
    if not 0 < value < 65536:
        raise ValueError(f"invalid port {port!r}: expected 1..65535")
    return value


class Host(_Ordered, Serializable):
    """Anything Ansible can connect to.

    `alias` (the inventory name) defaults to `address`; `keyfile` is kept as a string;
    `port` as an int. `extra` is deep-copied and snapshotted for `reset_extra()`.
    `net_devices` (`bedform.netdevices`) is empty until `sync_info` reads the host.
    Hash over (address, alias, user, keyfile, port); equality over every public field
    (address, alias, user, keyfile, port, extra, net_devices) and the concrete class.
    Order: (address, alias, user, keyfile, port), None first, then extra as a tie-break;
    it never raises, also against networks and other role members.
    """

    dict_fields = ("address", "alias", "user", "keyfile", "port", "extra")
    ignored_dict_keys = frozenset({"net_devices", "processor"})

    def __init__(
        self,
        address: str,
        alias: str | None = None,
        user: str | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        port: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(address, _IP_ADDRESS_TYPES):
            address = str(address)
        if not isinstance(address, str) or not address:
            raise ValueError(f"Host address must be a non-empty string, got {address!r}")
        self.address: str = address
        self.alias: str = str(alias) if alias else address
        self.user: str | None = user
        self.keyfile: str | None = os.fspath(keyfile) if keyfile is not None else None
        self.port: int | None = _parse_port(port)
        self.extra: dict[str, Any] = copy.deepcopy(dict(extra)) if extra else {}
        self._original_extra: dict[str, Any] = copy.deepcopy(self.extra)
        self.net_devices: set[Any] = set()

    def set_extra(self, **kwargs: Any) -> Host:
        """Update `extra` in place; returns self."""
        self.extra.update(kwargs)
        return self

    def reset_extra(self) -> Host:
        """Restore `extra` to what it was at construction; returns self."""
        self.extra = copy.deepcopy(self._original_extra)
        return self

    def get_extra(self) -> dict[str, Any]:
        """A (deep) copy of `extra`."""
        return copy.deepcopy(self.extra)

    def filter_addresses(self, networks: Iterable[Network] | None = None,
                         include_unknown: bool = False) -> list[Any]:
        """The `IPAddress`es of `net_devices` (filled by `sync_info`) in one of
        `networks`; without networks, those in a known network (plus the others when
        `include_unknown`). `address.ip.ip` is the bare address."""
        return [address for device in sorted(self.net_devices, key=lambda d: d.name)
                for address in device.filter_addresses(networks, include_unknown)]

    def filter_interfaces(self, networks: Iterable[Network] | None = None,
                          include_unknown: bool = False) -> list[str]:
        """Names of the interfaces holding an address `filter_addresses` would give."""
        nets = list(networks or [])
        return [name for device in sorted(self.net_devices, key=lambda d: d.name)
                if device.filter_addresses(nets, include_unknown)
                for name in device.interfaces]

    def has_address(self, address: IPAddressType | str) -> bool:
        """Whether one of `net_devices` holds `address`."""
        wanted = ipaddress.ip_address(address)
        return any(device.has_address(wanted) for device in self.net_devices)

    def _identity(self) -> tuple:
        return (self.address, self.alias, self.user, self.keyfile, self.port)

    def __hash__(self) -> int:
        return hash(self._identity())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Host):
            return NotImplemented
        return (
            type(self) is type(other)
            and self._identity() == other._identity()
            and self.extra == other.extra
            and self.net_devices == other.net_devices
        )

    def __repr__(self) -> str:
        fields = {
            "address": self.address,
            "alias": None if self.alias == self.address else self.alias,
            "user": self.user,
            "keyfile": self.keyfile,
            "port": self.port,
            "extra": self.extra or None,
        }
        inner = ", ".join(f"{key}={value!r}" for key, value in fields.items()
                          if value is not None)
        return f"{type(self).__name__}({inner})"


# --------------------------------------------------------------------------- networks


def _parse_network(address: Any) -> IPNetworkType:
    if isinstance(address, _IP_NETWORK_TYPES):
        return address
    if isinstance(address, _IP_INTERFACE_TYPES):
        return address.network
    if not isinstance(address, str):
        raise TypeError(f"network address must be a CIDR string, got {address!r}")
    try:
        return ipaddress.ip_network(address.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"invalid network address {address!r}: {exc}") from None


def _parse_ip(value: Any, what: str) -> IPAddressType | None:
    if value is None:
        return None
    if isinstance(value, _IP_ADDRESS_TYPES):
        return value
    if isinstance(value, _IP_INTERFACE_TYPES):
        return value.ip
    if not isinstance(value, str):
        raise ValueError(f"invalid {what} {value!r}: expected an IP address string")
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError(f"invalid {what} {value!r}: not an IP address") from None


_MAC_MAX = 1 << 48


def parse_mac(value: Any) -> int:
    """A MAC address as an int, from an int or a string ("00:16:3e:00:00:01",
    "00-16-3E-00-00-01", "0016.3e00.0001", "00163e000001")."""
    if isinstance(value, bool):
        raise ValueError(f"invalid MAC address {value!r}")
    if isinstance(value, int):
        mac = value
    else:
        text = str(value).strip()
        digits = text.replace(":", "").replace("-", "").replace(".", "")
        if len(digits) != 12 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError(f"invalid MAC address {value!r}")
        mac = int(digits, 16)
    if not 0 <= mac < _MAC_MAX:
        raise ValueError(f"invalid MAC address {value!r}: out of range")
    return mac


def format_mac(value: Any) -> str:
    """Canonical MAC string: lower-case, colon-separated ("00:16:3e:00:00:01")."""
    mac = parse_mac(value)
    text = f"{mac:012x}"
    return ":".join(text[i : i + 2] for i in range(0, 12, 2))


class Network(_Ordered, Serializable, ABC):
    """An IP network (abstract). Host bits are dropped: "10.0.0.5/24" is 10.0.0.0/24.

    `network` is the ipaddress network, `alias` (and `address`) its string form.
    Equality: same concrete class and same network; hash: the network's. Order:
    (IP version, network address, prefix length, class name) — IPv4 first, never raises.
    `gateway` and `dns` are None unless a subclass sets them.
    """

    dict_fields = ("address",)

    def __init__(self, address: str | IPNetworkType) -> None:
        self.network: IPNetworkType = _parse_network(address)
        self.gateway: IPAddressType | None = None
        self.dns: IPAddressType | None = None

    @property
    def alias(self) -> str:
        return str(self.network)

    @property
    def address(self) -> str:
        return str(self.network)

    @property
    def version(self) -> int:
        return self.network.version

    @property
    @abstractmethod
    def has_free_ips(self) -> bool:
        """Whether `free_ips` yields anything."""

    @property
    @abstractmethod
    def free_ips(self) -> Iterator[IPAddressType]:
        """Addresses of the pool, as ipaddress objects."""

    @property
    @abstractmethod
    def has_free_macs(self) -> bool:
        """Whether `free_macs` yields anything."""

    @property
    @abstractmethod
    def free_macs(self) -> Iterator[str]:
        """MAC addresses of the pool, as canonical strings."""

    def __hash__(self) -> int:
        return hash(self.network)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return type(self) is type(other) and self.network == other.network


class DefaultNetwork(Network):
    """A network with optional gateway, dns, IP pool and MAC pool.

    `gateway`/`dns`/`ip_start`/`ip_end` are ipaddress objects (ValueError when invalid;
    the pool bounds must have the network's IP version). `mac_start`/`mac_end` accept
    ints or strings in any usual notation and are stored as canonical strings.
    Pools are start-inclusive, end-EXCLUSIVE.
    """

    extra_dict_fields: ClassVar[tuple[str, ...]] = (
        "gateway", "dns", "ip_start", "ip_end", "mac_start", "mac_end")

    def __init__(
        self,
        address: str | IPNetworkType,
        gateway: str | IPAddressType | None = None,
        dns: str | IPAddressType | None = None,
        ip_start: str | IPAddressType | None = None,
        ip_end: str | IPAddressType | None = None,
        mac_start: str | int | None = None,
        mac_end: str | int | None = None,
    ) -> None:
        super().__init__(address)
        self.gateway = _parse_ip(gateway, "gateway")
        self.dns = _parse_ip(dns, "dns")
        self.ip_start: IPAddressType | None = _parse_ip(ip_start, "ip_start")
        self.ip_end: IPAddressType | None = _parse_ip(ip_end, "ip_end")
        for what, bound in (("ip_start", self.ip_start), ("ip_end", self.ip_end)):
            if bound is not None and bound.version != self.network.version:
                raise ValueError(
                    f"{what} {bound} is IPv{bound.version} but network {self.network} "
                    f"is IPv{self.network.version}"
                )
        self.mac_start: str | None = None if mac_start is None else format_mac(mac_start)
        self.mac_end: str | None = None if mac_end is None else format_mac(mac_end)

    @property
    def has_free_ips(self) -> bool:
        return (
            self.ip_start is not None
            and self.ip_end is not None
            and int(self.ip_start) < int(self.ip_end)
        )

    @property
    def free_ips(self) -> Iterator[IPAddressType]:
        if not self.has_free_ips:
            return iter(())
        start, end = int(self.ip_start), int(self.ip_end)  # type: ignore[arg-type]
        factory = (ipaddress.IPv4Address if self.network.version == 4
                   else ipaddress.IPv6Address)
        return (factory(value) for value in range(start, end))

    @property
    def has_free_macs(self) -> bool:
        return (
            self.mac_start is not None
            and self.mac_end is not None
            and parse_mac(self.mac_start) < parse_mac(self.mac_end)
        )

    @property
    def free_macs(self) -> Iterator[str]:
        if not self.has_free_macs:
            return iter(())
        start, end = parse_mac(self.mac_start), parse_mac(self.mac_end)
        return (format_mac(value) for value in range(start, end))


# --------------------------------------------------------------------------- containers


class ResourcesSet(MutableSet):
    """A mutable set with EnOSlib's list-like API.

    Iteration is in SORTED order (`resource_sort_key`), the order `x[i]` indexes; a
    slice is a new set of the same type. `append`/`extend`/`+`/`+=`/`-`/`-=` accept
    any iterable. Iterating works on a snapshot, so mutating during a loop is safe.
    The sorted order is cached until the set itself changes; members must not change
    their hashed fields while in the set (as with any set).
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, iterable: Iterable[Any] | None = None) -> None:
        self._members: dict[Any, None] = {}
        self._sorted: tuple[Any, ...] | None = None
        if iterable is not None:
            self.extend(iterable)

    # -- set protocol
    def __contains__(self, item: object) -> bool:
        try:
            return item in self._members
        except TypeError:  # unhashable
            return False

    def __iter__(self) -> Iterator[Any]:
        return iter(self._ordered())

    def __len__(self) -> int:
        return len(self._members)

    def add(self, value: Any) -> None:
        if value not in self._members:
            self._members[value] = None
            self._sorted = None

    def discard(self, value: Any) -> None:
        if value in self:
            del self._members[value]
            self._sorted = None

    def clear(self) -> None:
        self._members.clear()
        self._sorted = None

    def _ordered(self) -> tuple[Any, ...]:
        if self._sorted is None:
            self._sorted = tuple(sorted(self._members, key=resource_sort_key))
        return self._sorted

    # -- list-like API
    def append(self, value: Any) -> None:
        self.add(value)

    def extend(self, values: Iterable[Any]) -> None:
        for value in values:
            self.add(value)

    def copy(self) -> ResourcesSet:
        return type(self)(self._members)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(self._ordered()[index])
        return self._ordered()[index]

    def __add__(self, other: Iterable[Any]) -> ResourcesSet:
        if not isinstance(other, Iterable):
            return NotImplemented
        result = self.copy()
        result.extend(other)
        return result

    __radd__ = __add__

    def __iadd__(self, other: Iterable[Any]) -> ResourcesSet:
        if not isinstance(other, Iterable):
            return NotImplemented
        self.extend(other)
        return self

    def __sub__(self, other: Iterable[Any]) -> ResourcesSet:
        if not isinstance(other, Iterable):
            return NotImplemented
        result = self.copy()
        for value in other:
            result.discard(value)
        return result

    def __isub__(self, other: Iterable[Any]) -> ResourcesSet:
        if not isinstance(other, Iterable):
            return NotImplemented
        for value in list(other):
            self.discard(value)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._ordered())!r})"


class HostsView(ResourcesSet):
    """The hosts (or other members) of one role."""


class NetworksView(ResourcesSet):
    """The networks of one role (IPv4 before IPv6 when iterating or indexing)."""


class RolesDict(dict):
    """A dict of role name → set (`inner` type) with EnOSlib's semantics.

    Reading a missing key returns a fresh empty set WITHOUT inserting it (`get`,
    `in` and `setdefault` keep plain dict meaning); `d[k] += [...]` inserts. Assigning
    any iterable wraps it in `inner`. `+` and `+=` merge key by key (`+` returns the
    same type and shares no set with its operands); `copy()` copies the sets too.
    """

    inner: ClassVar[type[ResourcesSet]] = ResourcesSet

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def _wrap(self, value: Any) -> ResourcesSet:
        if isinstance(value, self.inner):
            return value
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise TypeError(
                f"{type(self).__name__} values are sets of resources; got {value!r} "
                f"(use add_one(elem, keys) to add a single element)"
            )
        return self.inner(value)

    def __missing__(self, key: Any) -> ResourcesSet:
        return self.inner()

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, self._wrap(value))

    def update(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 argument, got {len(args)}")
        if args:
            source = args[0]
            items = source.items() if isinstance(source, Mapping) else source
            for key, value in items:
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> ResourcesSet:
        if key in self:
            return self[key]
        value = self._wrap(() if default is None else default)
        super().__setitem__(key, value)
        return value

    def copy(self) -> Self:
        return type(self)({key: value.copy() for key, value in self.items()})

    @classmethod
    def fromkeys(cls, keys: Iterable[Any], value: Iterable[Any] | None = None) -> Self:  # type: ignore[override]
        return cls({key: cls.inner(value or ()) for key in keys})

    def add_one(self, elem: Any, keys: str | Iterable[Any]) -> None:
        """Add `elem` under each of `keys` (a single string counts as one key)."""
        if isinstance(keys, str):
            keys = [keys]
        for key in keys:
            self.setdefault(key).add(elem)

    def all(self) -> ResourcesSet:
        """The union of every value."""
        result = self.inner()
        for value in self.values():
            result.extend(value)
        return result

    def __add__(self, other: Mapping[Any, Iterable[Any]]) -> Self:
        if not isinstance(other, Mapping):
            return NotImplemented
        result = self.copy()
        for key, value in other.items():
            super(RolesDict, result).__setitem__(key, result[key] + value)
        return result

    def __iadd__(self, other: Mapping[Any, Iterable[Any]]) -> Self:
        if not isinstance(other, Mapping):
            return NotImplemented
        for key, value in other.items():
            if key in self:
                self[key].extend(value)
            else:
                super().__setitem__(key, self.inner(value))
        return self

    def __or__(self, other: Any) -> Self:
        if not isinstance(other, Mapping):
            return NotImplemented
        result = self.copy()
        result.update(other)
        return result

    def __ror__(self, other: Any) -> Self:
        if not isinstance(other, Mapping):
            return NotImplemented
        result = type(self)(other)
        result.update(self)
        return result

    def __ior__(self, other: Any) -> Self:
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


class Roles(RolesDict):
    """Role name → `HostsView`."""

    inner = HostsView

    def with_alias(self, alias: str) -> set[str]:
        """Names of the roles holding a member whose alias is `alias`."""
        return {
            role for role, members in self.items()
            if any(getattr(member, "alias", None) == alias for member in members)
        }

    def with_ip(self, ip: IPAddressType | str | int) -> set[str]:
        """Names of the roles holding a host with address `ip` (after `sync_info`)."""
        wanted = ipaddress.ip_address(ip)
        return {
            role for role, members in self.items()
            if any(isinstance(member, Host) and member.has_address(wanted)
                   for member in members)
        }


class Networks(RolesDict):
    """Network role name → `NetworksView`."""

    inner = NetworksView


# --------------------------------------------------------------------------- state dicts


def _ordered_members(members: Iterable[Any]) -> list[Any]:
    if isinstance(members, ResourcesSet):
        return list(members)
    return sorted(members, key=resource_sort_key)


def _member_to_dict(member: Any) -> dict[str, Any]:
    name = _type_name(type(member))
    data = member.to_dict()
    if data.get("type") != name:
        data = {"type": name, **{k: v for k, v in data.items() if k != "type"}}
    return data


def _member_from_dict(data: Mapping[str, Any]) -> Any:
    # a registered member class is any class with from_dict, not only a Serializable
    klass: Any = _resolve_type(data, object) if "type" in data else Host
    if issubclass(klass, Network):
        raise ValueError(f"object type {data['type']!r} is a network, not a role member")
    if issubclass(klass, Serializable):
        return klass.from_dict(data)
    return klass.from_dict({k: v for k, v in data.items() if k != "type"})


def _container_to_dict(container: Mapping[Any, Iterable[Any]],
                       to_dict: Callable[[Any], dict[str, Any]]) -> dict[str, list[dict]]:
    return {
        str(key): [to_dict(member) for member in _ordered_members(container[key])]
        for key in sorted(container, key=str)
    }


def _container_from_dict(data: Mapping[str, Any], result: RolesDict,
                         from_dict: Callable[[Mapping[str, Any]], Any],
                         what: str) -> RolesDict:
    if not isinstance(data, Mapping):
        raise TypeError(f"{what}: expected a dict of lists, got {type(data).__name__}")
    made: dict[str, Any] = {}
    for key, members in data.items():
        if isinstance(members, str | bytes | Mapping) or not isinstance(members, Iterable):
            raise TypeError(f"{what}[{key!r}]: expected a list, got {type(members).__name__}")
        view = result.inner()
        for index, member in enumerate(members):
            canonical = _canonical(member)
            obj = made.get(canonical)
            if obj is None:
                try:
                    obj = from_dict(member)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"{what}[{key!r}][{index}]: {exc}") from exc
                made[canonical] = obj
            view.add(obj)
        result[key] = view
    return result


def roles_to_dict(roles: Mapping[str, Iterable[Any]]) -> dict[str, list[dict[str, Any]]]:
    """{role: [member dict, ...]}, roles sorted, members in container (sorted) order.

    Members are registered classes (`Host` and subclasses, sensors...). A member in
    several roles is written under each of them.
    """
    return _container_to_dict(roles, _member_to_dict)


def roles_from_dict(data: Mapping[str, Any]) -> Roles:
    """Inverse of `roles_to_dict`. Identical member dicts become ONE shared object, so a
    host in several roles comes back as a single object present in each role."""
    return _container_from_dict(data, Roles(), _member_from_dict, "roles")  # type: ignore[return-value]


def networks_to_dict(networks: Mapping[str, Iterable[Network]]) -> dict[str, list[dict[str, Any]]]:
    """{role: [network dict, ...]}, roles sorted, networks IPv4 first."""
    return _container_to_dict(networks, lambda net: net.to_dict())


def networks_from_dict(data: Mapping[str, Any]) -> Networks:
    """Inverse of `networks_to_dict`; a network shared by roles is one object."""
    return _container_from_dict(data, Networks(), Network.from_dict, "networks")  # type: ignore[return-value]


register_host_class(Host)
register_network_class(DefaultNetwork)
