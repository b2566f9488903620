"""What a host's network interfaces hold, as `sync_info` reads it (EnOSlib's NetDevice).

- `IPAddress(address, network)`: an address with its prefix; `.ip` is an
  `ipaddress.IPv4Interface`/`IPv6Interface` (so `.ip.ip` is the bare address, as
  EnOSlib's tutorials write it) and `.network` the bedform `Network` it belongs to, or
  None when no known network holds it.
- `NetDevice(name, addresses)`, `BridgeDevice(..., bridged=[ports])` and
  `AliasDevice(..., parent=name)` with `filter_addresses`, `has_address`, `interfaces`.
- `devices_from_ip_json(text, networks)`: the devices of one host from the JSON of
  `ip -json address show` (iproute2), each address matched against `networks`.

Equality and hash follow EnOSlib: an address by (ip, network), a device by its name and
addresses.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bedform.objects import Network

__all__ = ["AliasDevice", "BridgeDevice", "IPAddress", "NetDevice", "devices_from_ip_json"]

IPInterfaceType = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddressType = ipaddress.IPv4Address | ipaddress.IPv6Address


class IPAddress:
    """An address of a host (with its prefix) and the network it belongs to."""

    def __init__(self, address: Any, network: Network | None = None) -> None:
        self.ip: IPInterfaceType = ipaddress.ip_interface(address)
        self.network = network

    def same_as(self, address: IPAddressType) -> bool:
        return self.ip.ip == address

    def to_dict(self) -> dict[str, str]:
        return {"ip": str(self.ip)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IPAddress):
            return NotImplemented
        return (self.ip, self.network) == (other.ip, other.network)

    def __hash__(self) -> int:
        return hash((self.ip, self.network))

    def __repr__(self) -> str:
        return f"IPAddress(ip={str(self.ip)!r}, network={self.network!r})"


class NetDevice:
    """A network interface and its addresses."""

    kind = "ether"

    def __init__(self, name: str, addresses: Iterable[IPAddress] = ()) -> None:
        self.name = name
        self.addresses: set[IPAddress] = set(addresses)

    @property
    def interfaces(self) -> list[str]:
        """The interface names this device stands for (its own)."""
        return [self.name]

    def filter_addresses(self, networks: Iterable[Network] | None = None,
                         include_unknown: bool = False) -> list[IPAddress]:
        """Addresses in one of `networks`; without networks, those in a known network
        (plus those in none when `include_unknown`). Sorted by address."""
        nets = list(networks or [])
        if nets:
            found = [a for a in self.addresses
                     if any(a.ip.version == n.network.version and a.ip.ip in n.network
                            for n in nets)]
        else:
            found = [a for a in self.addresses
                     if a.network is not None or include_unknown]
        return sorted(found, key=lambda a: (a.ip.version, a.ip))

    def has_address(self, address: IPAddressType) -> bool:
        return any(a.same_as(address) for a in self.addresses)

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.name, "type": self.kind,
                "addresses": [a.to_dict() for a in self.filter_addresses(
                    include_unknown=True)]}

    def _key(self) -> tuple[str, frozenset[IPAddress]]:
        return (self.name, frozenset(self.addresses))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NetDevice):
            return NotImplemented
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, addresses={self.addresses!r})"


class BridgeDevice(NetDevice):
    """A bridge; `interfaces` are its ports."""

    kind = "bridge"

    def __init__(self, name: str, addresses: Iterable[IPAddress] = (),
                 bridged: Iterable[str] = ()) -> None:
        super().__init__(name, addresses)
        self.bridged = sorted(bridged)

    @property
    def interfaces(self) -> list[str]:
        return list(self.bridged)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "interfaces": self.interfaces}


class AliasDevice(NetDevice):
    """An address label on another interface (`eth0:1` on `eth0`)."""

    kind = "alias"

    def __init__(self, name: str, addresses: Iterable[IPAddress] = (),
                 parent: str | None = None) -> None:
        super().__init__(name, addresses)
        self.parent = parent

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "parent": self.parent}


def _network_of(address: IPInterfaceType,
                networks: Mapping[str, Iterable[Network]]) -> Network | None:
    for members in networks.values():
        for net in members:
            if net.network.version == address.version and address.ip in net.network:
                return net
    return None


def devices_from_ip_json(text: str,
                         networks: Mapping[str, Iterable[Network]]) -> set[NetDevice]:
    """The devices described by `ip -json address show` (loopback left out, as the
    addresses of `lo` belong to no testbed network)."""
    links: list[dict[str, Any]] = json.loads(text or "[]")
    ports: dict[str, list[str]] = {}
    for link in links:
        if link.get("master"):
            ports.setdefault(link["master"], []).append(link["ifname"])
    devices: set[NetDevice] = set()
    for link in links:
        name = link["ifname"]
        if link.get("link_type") == "loopback":
            continue
        own: list[IPAddress] = []
        labelled: dict[str, list[IPAddress]] = {}
        for info in link.get("addr_info", []):
            if info.get("family") not in ("inet", "inet6") or "local" not in info:
                continue
            address = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            item = IPAddress(address, _network_of(address, networks))
            label = info.get("label") or name
            (own if label == name else labelled.setdefault(label, [])).append(item)
        if link.get("linkinfo", {}).get("info_kind") == "bridge":
            devices.add(BridgeDevice(name, own, ports.get(name, [])))
        else:
            devices.add(NetDevice(name, own))
        devices.update(AliasDevice(label, items, parent=name)
                       for label, items in labelled.items())
    return devices
