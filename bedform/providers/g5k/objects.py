"""G5k network objects (EnOSlib §5.5), registered so they round-trip through the state."""

from __future__ import annotations

import ipaddress
from typing import Any

from bedform.objects import (
    DefaultNetwork,
    IPAddressType,
    IPNetworkType,
    register_network_class,
)

G5K_MAC_PREFIX = "00:16:3e"


@register_network_class
class G5kEnosProd4Network(DefaultNetwork):
    """The production IPv4 network of a site (no free pool)."""


@register_network_class
class G5kEnosProd6Network(DefaultNetwork):
    """The production IPv6 network of a site."""


@register_network_class
class G5kEnosVlan4Network(DefaultNetwork):
    """A kavlan's IPv4 network; `vlan_id` is the kavlan number."""

    extra_dict_fields = ("vlan_id",)

    def __init__(self, address: Any, vlan_id: str | int | None = None, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self.vlan_id = None if vlan_id is None else str(vlan_id)


@register_network_class
class G5kEnosVlan6Network(G5kEnosVlan4Network):
    """A kavlan's IPv6 network."""


@register_network_class
class G5kEnosSubnetNetwork(DefaultNetwork):
    """One /22 of a reserved subnet, with its IPs and the G5k MACs that pair with them."""


def vlan4(cidr: str, gateway: str | None, dns: str | None, vlan_id: str) -> G5kEnosVlan4Network:
    net = ipaddress.ip_network(cidr)
    if int(vlan_id) <= 3:   # kavlan-local: /24 indices 4..6
        subs = list[IPNetworkType](net.subnets(new_prefix=24))[4:7]
    else:                   # routed/global: /23 indices 13..30
        subs = list[IPNetworkType](net.subnets(new_prefix=23))[13:31]
    start, end = (subs[0].network_address, subs[-1].broadcast_address + 1) if subs else \
        (None, None)
    return G5kEnosVlan4Network(cidr, vlan_id=vlan_id, gateway=gateway, dns=dns,
                               ip_start=start, ip_end=end)


def subnet22(cidr: str, gateway: str | None, dns: str | None) -> G5kEnosSubnetNetwork:
    net = ipaddress.ip_network(cidr)
    first, last = net.network_address + 1, net.broadcast_address

    def mac(ip: IPAddressType) -> str:
        b = ip.packed
        return f"{G5K_MAC_PREFIX}:{b[1]:02x}:{b[2]:02x}:{b[3]:02x}"
    return G5kEnosSubnetNetwork(cidr, gateway=gateway, dns=dns, ip_start=first, ip_end=last,
                                mac_start=mac(first), mac_end=mac(last))


def translate(fqdn: str, vlan_id: str | None) -> str:
    """The node's name on a kavlan (`<node>-kavlan-N.<site>.grid5000.fr`)."""
    if not vlan_id:
        return fqdn
    node, _, rest = fqdn.partition(".")
    return f"{node}-kavlan-{vlan_id}.{rest}"
