"""Network devices read from `ip -json address show` (sync_info) and the Host/Roles
helpers EnOSlib's kavlan tutorials call on them (issue 17, item 12)."""

from __future__ import annotations

import ipaddress
import json

from bedform.netdevices import (
    AliasDevice,
    BridgeDevice,
    IPAddress,
    NetDevice,
    devices_from_ip_json,
)
from bedform.objects import DefaultNetwork, Host, Networks, Roles

LAN = DefaultNetwork("10.10.0.0/24")
V6 = DefaultNetwork("2001:db8:1::/64")
PRIV = DefaultNetwork("10.20.0.0/16")
NETWORKS = Networks(lan=[LAN, V6], private=[PRIV])

IP_JSON = json.dumps([
    {"ifname": "lo", "link_type": "loopback",
     "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
    {"ifname": "eth0", "link_type": "ether", "master": "br0", "addr_info": []},
    {"ifname": "br0", "link_type": "ether", "linkinfo": {"info_kind": "bridge"},
     "addr_info": [{"family": "inet", "local": "10.10.0.5", "prefixlen": 24,
                    "label": "br0"},
                   {"family": "inet6", "local": "2001:db8:1::5", "prefixlen": 64},
                   {"family": "inet6", "local": "fe80::1", "prefixlen": 64}]},
    {"ifname": "eth1", "link_type": "ether",
     "addr_info": [{"family": "inet", "local": "10.20.3.4", "prefixlen": 16,
                    "label": "eth1"},
                   {"family": "inet", "local": "192.0.2.9", "prefixlen": 24,
                    "label": "eth1:0"}]},
])


def host() -> Host:
    server = Host("10.10.0.5", "server-1")
    server.net_devices = devices_from_ip_json(IP_JSON, NETWORKS)
    return server


def test_devices_bridges_aliases_and_networks():
    devices = {d.name: d for d in devices_from_ip_json(IP_JSON, NETWORKS)}
    assert set(devices) == {"eth0", "br0", "eth1", "eth1:0"}
    assert isinstance(devices["br0"], BridgeDevice)
    assert devices["br0"].interfaces == ["eth0"]
    assert isinstance(devices["eth1:0"], AliasDevice) and devices["eth1:0"].parent == "eth1"
    assert type(devices["eth1"]) is NetDevice
    by_ip = {str(a.ip): a.network for d in devices.values() for a in d.addresses}
    assert by_ip == {"10.10.0.5/24": LAN, "2001:db8:1::5/64": V6, "fe80::1/64": None,
                     "10.20.3.4/16": PRIV, "192.0.2.9/24": None}


def test_filter_addresses_as_the_tutorials_use_it():
    server = host()
    [private] = server.filter_addresses(networks=NETWORKS["private"])
    assert private.ip.ip == ipaddress.ip_address("10.20.3.4")  # `.ip.ip`, as in EnOSlib
    assert [str(a.ip) for a in server.filter_addresses(networks=NETWORKS["lan"])] == [
        "10.10.0.5/24", "2001:db8:1::5/64"]
    assert len(server.filter_addresses()) == 3  # in a known network
    assert len(server.filter_addresses(include_unknown=True)) == 5
    assert server.filter_interfaces(networks=NETWORKS["lan"]) == ["eth0"]  # br0's port
    assert server.filter_interfaces(networks=NETWORKS["private"]) == ["eth1"]
    assert server.filter_interfaces(include_unknown=True) == ["eth0", "eth1", "eth1:0"]
    assert server.has_address("192.0.2.9") and not server.has_address("10.10.0.6")


def test_roles_with_ip_and_equality():
    server = host()
    roles = Roles(server=[server], client=[Host("10.10.0.6", "client-1")])
    assert roles.with_ip("10.20.3.4") == {"server"}
    assert roles.with_ip("10.99.0.1") == set()
    assert IPAddress("10.10.0.5/24", LAN) == IPAddress("10.10.0.5/24", LAN)
    assert IPAddress("10.10.0.5/24", LAN) != IPAddress("10.10.0.5/24")
    assert host() == host()  # same devices, same host
    assert NetDevice("a", [IPAddress("10.0.0.1/8")]).to_dict() == {
        "device": "a", "type": "ether", "addresses": [{"ip": "10.0.0.1/8"}]}
