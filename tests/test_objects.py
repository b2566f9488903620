"""Behaviour of bedform.objects: hosts, networks, containers, serialisation."""

from __future__ import annotations

import copy
import importlib.util
import ipaddress
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bedform.objects import (
    DefaultNetwork,
    Host,
    HostsView,
    Network,
    Networks,
    NetworksView,
    ResourcesSet,
    Roles,
    RolesDict,
    Serializable,
    format_mac,
    networks_from_dict,
    networks_to_dict,
    parse_mac,
    register_host_class,
    register_network_class,
    resource_sort_key,
    roles_from_dict,
    roles_to_dict,
)

# --------------------------------------------------------------------------- test classes


@register_network_class
class ObjTestVlanNet(DefaultNetwork):
    """A provider-like subclass with one extra serialised field."""

    extra_dict_fields = ("vlan_id",)

    def __init__(self, address, vlan_id, gateway=None, dns=None, ip_start=None,
                 ip_end=None, mac_start=None, mac_end=None):
        super().__init__(address, gateway, dns, ip_start, ip_end, mac_start, mac_end)
        self.vlan_id = vlan_id


@register_network_class(name="test.ProdNet")
class ProdNet(DefaultNetwork):
    """Registered under an explicit name."""


@register_host_class
class ObjTestSensor(Serializable):
    """A non-Host role member (like an IoT-LAB sensor)."""

    dict_fields = ("address", "alias")

    def __init__(self, address, alias=None):
        self.address = address
        self.alias = alias or address.split(".")[0]

    def __eq__(self, other):
        return isinstance(other, ObjTestSensor) and (self.address, self.alias) == (
            other.address, other.alias)

    def __hash__(self):
        return hash((self.address, self.alias))


class PlainThing:
    """Has an address, is not serialisable: may sit in containers all the same."""

    def __init__(self, address):
        self.address = address


# --------------------------------------------------------------------------- Host


def test_host_defaults_and_fields():
    host = Host("10.0.0.1")
    assert host.alias == "10.0.0.1"
    assert (host.user, host.keyfile, host.port, host.extra) == (None, None, None, {})
    assert host.net_devices == set()
    assert Host("10.0.0.1", alias="").alias == "10.0.0.1"
    full = Host("10.0.0.1", "n1", "root", Path("/k/id"), "2222", {"a": 1})
    assert full.keyfile == "/k/id" and isinstance(full.keyfile, str)
    assert full.port == 2222
    assert Host(ipaddress.ip_address("10.0.0.9")).address == "10.0.0.9"


@pytest.mark.parametrize("port", ["ssh", 0, 70000, True, 22.5])
def test_host_rejects_bad_port(port):
    with pytest.raises((ValueError, TypeError)):
        Host("h", port=port)


@pytest.mark.parametrize("address", ["", None, 5])
def test_host_rejects_bad_address(address):
    with pytest.raises(ValueError):
        Host(address)


def test_host_extra_is_deep_copied_and_resettable():
    source = {"nested": {"k": [1]}}
    host = Host("h", extra=source)
    source["nested"]["k"].append(2)
    assert host.extra == {"nested": {"k": [1]}}
    assert host.set_extra(a=1, nested={"k": []}) is host
    assert host.extra == {"nested": {"k": []}, "a": 1}
    copy_ = host.get_extra()
    copy_["a"] = 99
    assert host.extra["a"] == 1
    assert host.reset_extra() is host
    assert host.extra == {"nested": {"k": [1]}}
    host.extra["nested"]["k"].append(3)  # the snapshot is not shared
    assert host.reset_extra().extra == {"nested": {"k": [1]}}


def test_host_hash_and_equality():
    a = Host("10.0.0.1", "n1", "root", extra={"x": 1})
    b = Host("10.0.0.1", "n1", "root", extra={"x": 1})
    c = Host("10.0.0.1", "n1", "root", extra={"x": 2})
    assert a == b and hash(a) == hash(b)
    assert a != c and hash(a) == hash(c)  # hash ignores extra, equality does not
    assert len({a, b, c}) == 2
    d = Host("10.0.0.1", "n1", "root", extra={"x": 1})
    d.net_devices.add("eth0")
    assert a != d
    assert a != Host("10.0.0.1", "n1", "admin", extra={"x": 1})
    assert a != "10.0.0.1"


def test_host_subclass_is_not_equal_to_host():
    class Special(Host):
        pass

    assert Host("h") != Special("h")


def test_host_total_order_none_first_and_deterministic():
    hosts = [
        Host("b"),
        Host("a", user="root"),
        Host("a"),
        Host("a", port=22),
        Host("a", keyfile="/k"),
        Host("a", alias="z"),
        Host("a", extra={"x": 1}),
    ]
    ordered = sorted(hosts)
    assert ordered == [
        Host("a"),
        Host("a", extra={"x": 1}),
        Host("a", port=22),
        Host("a", keyfile="/k"),
        Host("a", user="root"),
        Host("a", alias="z"),
        Host("b"),
    ]
    assert sorted(reversed(hosts)) == ordered
    assert Host("a") < Host("b") <= Host("b") and Host("c") > Host("b") >= Host("b")


def test_host_to_dict_round_trip_json():
    host = Host("10.0.0.1", "n1", "root", Path("/k/id"), 2222,
                {"gateway": "gw", "ip": ipaddress.ip_address("10.1.1.1"), "l": (1, 2)})
    data = host.to_dict()
    assert data == {
        "type": "Host", "address": "10.0.0.1", "alias": "n1", "user": "root",
        "keyfile": "/k/id", "port": 2222,
        "extra": {"gateway": "gw", "ip": "10.1.1.1", "l": [1, 2]},
    }
    again = Host.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    plain = Host("h", "a", "u", "/k", 22, {"x": [1, {"y": None}]})
    assert Host.from_dict(json.loads(json.dumps(plain.to_dict()))) == plain


def test_host_from_dict_compat_and_errors():
    legacy = {"address": "h", "alias": "h", "user": None, "keyfile": None, "port": None,
              "extra": {}, "net_devices": [], "processor": None}
    assert Host.from_dict(legacy) == Host("h")
    with pytest.raises(ValueError, match="bogus"):
        Host.from_dict({"address": "h", "bogus": 1})
    with pytest.raises(ValueError, match="NoSuchHost"):
        Host.from_dict({"type": "NoSuchHost", "address": "h"})
    with pytest.raises(ValueError, match="not a Host"):
        Host.from_dict({"type": "DefaultNetwork", "address": "10.0.0.0/24"})


def test_host_repr_is_readable():
    assert repr(Host("10.0.0.1", "n1", "root", port=22)) == (
        "Host(address='10.0.0.1', alias='n1', user='root', port=22)")
    assert repr(Host("h")) == "Host(address='h')"


# --------------------------------------------------------------------------- networks


def test_network_is_abstract():
    with pytest.raises(TypeError):
        Network("10.0.0.0/24")


def test_default_network_parsing():
    net = DefaultNetwork("10.0.0.5/24", gateway="10.0.0.1", dns="8.8.8.8")
    assert net.network == ipaddress.ip_network("10.0.0.0/24")
    assert net.alias == "10.0.0.0/24" and net.address == "10.0.0.0/24"
    assert net.gateway == ipaddress.ip_address("10.0.0.1")
    assert net.dns == ipaddress.ip_address("8.8.8.8")
    assert DefaultNetwork("2001:db8::7/64").alias == "2001:db8::/64"
    assert DefaultNetwork(ipaddress.ip_network("10.1.0.0/16")).alias == "10.1.0.0/16"


@pytest.mark.parametrize("kwargs", [
    {"address": "10.0.0.0/33"},
    {"address": "nope"},
    {"address": "10.0.0.0/24", "gateway": "10.0.0.300"},
    {"address": "10.0.0.0/24", "dns": "dns.example"},
    {"address": "10.0.0.0/24", "ip_start": "2001:db8::1"},
    {"address": "10.0.0.0/24", "mac_start": "00:16:3e:00:00"},
    {"address": "10.0.0.0/24", "mac_end": "zz:16:3e:00:00:00"},
])
def test_default_network_rejects_invalid(kwargs):
    with pytest.raises(ValueError):
        DefaultNetwork(**kwargs)


def test_free_ips_end_exclusive():
    net = DefaultNetwork("10.0.0.0/24", ip_start="10.0.0.10", ip_end="10.0.0.20")
    assert net.has_free_ips
    ips = list(net.free_ips)
    assert len(ips) == 10
    assert ips[0] == ipaddress.ip_address("10.0.0.10")
    assert ips[-1] == ipaddress.ip_address("10.0.0.19")
    assert all(isinstance(ip, ipaddress.IPv4Address) for ip in ips)
    assert list(net.free_ips) == ips  # a fresh generator each time

    v6 = DefaultNetwork("2001:db8::/64", ip_start="2001:db8::1", ip_end="2001:db8::4")
    assert [str(ip) for ip in v6.free_ips] == ["2001:db8::1", "2001:db8::2", "2001:db8::3"]


@pytest.mark.parametrize("start,end", [(None, None), ("10.0.0.5", None),
                                       ("10.0.0.5", "10.0.0.5"), ("10.0.0.9", "10.0.0.5")])
def test_no_free_ips(start, end):
    net = DefaultNetwork("10.0.0.0/24", ip_start=start, ip_end=end)
    assert not net.has_free_ips
    assert list(net.free_ips) == []


def test_free_macs_end_exclusive_any_notation():
    for start, end in [("00:16:3e:00:00:01", "00:16:3E:00:00:04"),
                       ("00-16-3E-00-00-01", "00-16-3e-00-00-04"),
                       (0x00163E000001, 0x00163E000004)]:
        net = DefaultNetwork("10.0.0.0/24", mac_start=start, mac_end=end)
        assert net.has_free_macs
        assert list(net.free_macs) == ["00:16:3e:00:00:01", "00:16:3e:00:00:02",
                                       "00:16:3e:00:00:03"]
    assert not DefaultNetwork("10.0.0.0/24", mac_start=5, mac_end=5).has_free_macs
    assert list(DefaultNetwork("10.0.0.0/24").free_macs) == []


def test_mac_helpers():
    assert parse_mac("0016.3e00.0001") == 0x00163E000001
    assert format_mac(1) == "00:00:00:00:00:01"
    assert format_mac("AA-BB-CC-DD-EE-FF") == "aa:bb:cc:dd:ee:ff"
    for bad in (-1, 1 << 48, "00:16:3e:00:00:0g", True):
        with pytest.raises(ValueError):
            parse_mac(bad)


def test_network_equality_and_hash():
    a = DefaultNetwork("10.0.0.0/24", gateway="10.0.0.1")
    b = DefaultNetwork("10.0.0.7/24", gateway="10.0.0.254", ip_start="10.0.0.10",
                       ip_end="10.0.0.20")
    assert a == b and hash(a) == hash(b)  # pools and gateway are not identity
    assert a != DefaultNetwork("10.0.1.0/24")
    assert a != ProdNet("10.0.0.0/24")  # provenance is the class
    assert hash(a) == hash(ProdNet("10.0.0.0/24"))
    assert len({a, b, ProdNet("10.0.0.0/24")}) == 2
    assert a != "10.0.0.0/24"


def test_mixed_v4_v6_sort_never_raises_and_v4_first():
    v6 = DefaultNetwork("2001:db8::/64")
    v4 = DefaultNetwork("10.0.0.0/24")
    v4b = ObjTestVlanNet("192.168.0.0/16", vlan_id=4)
    assert sorted([v6, v4b, v4]) == [v4, v4b, v6]
    assert sorted([v6, v4]) == [v4, v6]
    assert v4 < v6 and v6 > v4 and not v6 < v4
    # same network, different classes: ordered by class name, still total
    assert sorted([ObjTestVlanNet("10.0.0.0/24", 1), v4]) == [v4, ObjTestVlanNet("10.0.0.0/24", 1)]
    # prefix length breaks ties on the network address
    assert sorted([DefaultNetwork("10.0.0.0/24"), DefaultNetwork("10.0.0.0/16")])[0].alias \
        == "10.0.0.0/16"


_v4 = st.builds(lambda n, p: f"{ipaddress.IPv4Address(n)}/{p}",
                st.integers(0, 2**32 - 1), st.integers(8, 32))
_v6 = st.builds(lambda n, p: f"{ipaddress.IPv6Address(n)}/{p}",
                st.integers(0, 2**128 - 1), st.integers(16, 128))
_nets = st.builds(
    lambda cls, cidr: cls(cidr) if cls is not ObjTestVlanNet else ObjTestVlanNet(cidr, vlan_id=1),
    st.sampled_from([DefaultNetwork, ProdNet, ObjTestVlanNet]),
    st.one_of(_v4, _v6),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_nets, max_size=25), st.randoms(use_true_random=False))
def test_network_sort_is_total_and_order_independent(nets, rnd):
    ordered = sorted(nets)
    versions = [net.version for net in ordered]
    assert versions == sorted(versions)  # every IPv4 before every IPv6
    shuffled = list(nets)
    rnd.shuffle(shuffled)
    assert [n.to_dict() for n in sorted(shuffled)] == [n.to_dict() for n in ordered]
    view = NetworksView(shuffled)
    assert list(view) == list(NetworksView(nets))
    if view:
        assert view[0] == ordered[0]
        assert view[0].version == min(versions)


def test_network_to_dict_round_trip_and_subclasses():
    net = DefaultNetwork("10.0.0.0/24", "10.0.0.1", "8.8.8.8", "10.0.0.10", "10.0.0.20",
                         "00-16-3E-00-00-01", 0x00163E0000FF)
    data = net.to_dict()
    assert data == {
        "type": "DefaultNetwork", "address": "10.0.0.0/24", "gateway": "10.0.0.1",
        "dns": "8.8.8.8", "ip_start": "10.0.0.10", "ip_end": "10.0.0.20",
        "mac_start": "00:16:3e:00:00:01", "mac_end": "00:16:3e:00:00:ff",
    }
    back = Network.from_dict(json.loads(json.dumps(data)))
    assert type(back) is DefaultNetwork and back.to_dict() == data

    vlan = ObjTestVlanNet("10.16.0.0/18", vlan_id=4, gateway="10.16.63.254")
    vdata = vlan.to_dict()
    assert vdata["type"] == "ObjTestVlanNet" and vdata["vlan_id"] == 4
    vback = Network.from_dict(vdata)
    assert type(vback) is ObjTestVlanNet and vback.vlan_id == 4 and vback == vlan
    assert DefaultNetwork.from_dict(vdata).vlan_id == 4  # dispatch from a base class
    assert ProdNet("10.0.0.0/24").to_dict()["type"] == "test.ProdNet"
    assert type(Network.from_dict(ProdNet("10.0.0.0/24").to_dict())) is ProdNet


def test_network_from_dict_errors():
    with pytest.raises(ValueError, match="G5kEnosNoSuchNetwork"):
        Network.from_dict({"type": "G5kEnosNoSuchNetwork", "address": "10.0.0.0/24"})
    with pytest.raises(ValueError, match="type"):
        Network.from_dict({"address": "10.0.0.0/24"})  # abstract base needs the type
    assert DefaultNetwork.from_dict({"address": "10.0.0.0/24"}) == DefaultNetwork("10.0.0.0/24")
    with pytest.raises(ValueError, match="not a ObjTestVlanNet"):
        ObjTestVlanNet.from_dict(DefaultNetwork("10.0.0.0/24").to_dict())
    with pytest.raises(ValueError, match="vlan"):
        DefaultNetwork.from_dict({"type": "DefaultNetwork", "address": "10.0.0.0/24",
                                  "vlan": 3})


def test_unregistered_subclass_cannot_be_serialised():
    class Unregistered(DefaultNetwork):
        pass

    with pytest.raises(TypeError, match="register_network_class"):
        Unregistered("10.0.0.0/24").to_dict()


def test_registry_rejects_conflicts_and_non_networks():
    class Other(DefaultNetwork):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_network_class(Other, name="ObjTestVlanNet")
    with pytest.raises(TypeError):
        register_network_class(Host)
    with pytest.raises(TypeError):
        register_host_class(DefaultNetwork)
    assert register_network_class(ObjTestVlanNet) is ObjTestVlanNet  # idempotent


def test_subclass_field_declarations():
    assert DefaultNetwork.dict_fields == ("address", "gateway", "dns", "ip_start", "ip_end",
                                          "mac_start", "mac_end")
    assert ObjTestVlanNet.dict_fields == (*DefaultNetwork.dict_fields, "vlan_id")

    class Replaced(DefaultNetwork):
        dict_fields = ("address", "vlan")

    assert Replaced.dict_fields == ("address", "vlan")


def test_network_repr():
    assert repr(DefaultNetwork("10.0.0.0/24", gateway="10.0.0.1")) == (
        "DefaultNetwork(address='10.0.0.0/24', gateway='10.0.0.1')")


# --------------------------------------------------------------------------- ResourcesSet


def _hosts(*names):
    return [Host(name) for name in names]


def test_resources_set_semantics():
    a, b, c = _hosts("a", "b", "c")
    s = ResourcesSet()
    s.append(b)
    s.append(b)
    s.append(Host("b"))  # equal: not added twice
    s.extend([c, a])
    assert len(s) == 3 and a in s and Host("a") in s and Host("z") not in s
    assert [] not in s  # unhashable: plain False
    assert s == {a, b, c} and s == ResourcesSet([c, b, a])
    s2 = s + [Host("d")]  # noqa: RUF005 (the operator under test)
    assert isinstance(s2, ResourcesSet) and len(s2) == 4 and len(s) == 3
    s3 = s - [a, Host("zz")]
    assert list(s3) == [b, c] and len(s) == 3
    same = s
    s += [Host("e")]
    assert s is same and len(s) == 4
    s -= [Host("e"), b]
    assert s is same and list(s) == [a, c]
    assert list([b] + s) == [a, b, c]  # noqa: RUF005
    s.discard(Host("nope"))
    s.remove(a)
    with pytest.raises(KeyError):
        s.remove(a)
    assert s | {b} == {b, c} and s & {c} == {c}


def test_resources_set_iteration_and_indexing_are_sorted():
    hosts = _hosts("n3", "n1", "n2", "n10")
    s = HostsView(hosts)
    assert [h.address for h in s] == ["n1", "n10", "n2", "n3"]
    assert s[0].address == "n1" and s[-1].address == "n3"
    assert [s[i] for i in range(len(s))] == list(s)
    with pytest.raises(IndexError):
        s[4]
    sl = s[1:3]
    assert type(sl) is HostsView and [h.address for h in sl] == ["n10", "n2"]
    assert list(HostsView(reversed(hosts))) == list(s)
    for host in s:  # iterating works on a snapshot: mutation inside is safe
        s.discard(host)
    assert len(s) == 0


def test_resources_set_mixed_members_never_raise():
    members = [
        DefaultNetwork("2001:db8::/64"),
        ObjTestSensor("m3-1.grenoble.iot-lab.info"),
        Host("10.0.0.2"),
        PlainThing("x"),
        DefaultNetwork("10.0.0.0/24"),
        Host("10.0.0.1"),
        ObjTestSensor("a8-1.grenoble.iot-lab.info"),
    ]
    s = ResourcesSet(members)
    kinds = [type(m).__name__ for m in s]
    # hosts, networks, then others by (class name, address)
    assert kinds == ["Host", "Host", "DefaultNetwork", "DefaultNetwork", "ObjTestSensor",
                     "ObjTestSensor", "PlainThing"]
    assert s[4].alias == "a8-1"
    assert sorted(members, key=resource_sort_key) == list(s)
    # direct comparisons between hosts and other members do not raise either
    assert Host("z") < ObjTestSensor("a.b") and DefaultNetwork("10.0.0.0/8") > Host("a")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["10.0.0.1", "10.0.0.2", "n1", "n2"]),
                          st.sampled_from([None, "a", "b"]),
                          st.sampled_from([None, "root", "u"]),
                          st.sampled_from([None, 22, 2222]),
                          st.sampled_from([{}, {"x": 1}, {"x": 2}])), max_size=12),
       st.randoms(use_true_random=False))
def test_hosts_view_order_is_independent_of_insertion(specs, rnd):
    hosts = [Host(a, alias, user, port=port, extra=extra)
             for a, alias, user, port, extra in specs]
    shuffled = list(hosts)
    rnd.shuffle(shuffled)
    one, two = HostsView(hosts), HostsView(shuffled)
    assert [h.to_dict() for h in one] == [h.to_dict() for h in two]
    assert [one[i].to_dict() for i in range(len(one))] == [h.to_dict() for h in two]


def test_resources_set_copy_pickle():
    s = HostsView(_hosts("a", "b"))
    assert pickle.loads(pickle.dumps(s)) == s
    assert copy.deepcopy(s) == s and type(copy.deepcopy(s)) is HostsView
    c = s.copy()
    c.append(Host("c"))
    assert len(s) == 2 and type(c) is HostsView


# --------------------------------------------------------------------------- RolesDict


def test_roles_dict_missing_key_does_not_insert():
    roles = Roles()
    view = roles["absent"]
    assert isinstance(view, HostsView) and len(view) == 0
    assert "absent" not in roles and len(roles) == 0
    view.append(Host("h"))  # not wired to the dict
    assert "absent" not in roles
    assert roles.get("absent") is None and roles.get("absent", 5) == 5
    roles["server"] += [Host("s1")]
    assert "server" in roles and list(roles["server"]) == [Host("s1")]
    assert isinstance(roles["server"], HostsView)


def test_roles_dict_assignment_wraps():
    roles = Roles()
    roles["a"] = [Host("h1"), Host("h1"), Host("h2")]
    assert type(roles["a"]) is HostsView and len(roles["a"]) == 2
    roles["b"] = ResourcesSet([Host("x")])
    assert type(roles["b"]) is HostsView
    view = HostsView([Host("y")])
    roles["c"] = view
    assert roles["c"] is view
    with pytest.raises(TypeError):
        roles["d"] = Host("h")
    with pytest.raises(TypeError):
        roles["d"] = "h1"
    built = Roles({"x": [Host("a")]}, y=(Host("b"),))
    assert type(built["x"]) is HostsView and type(built["y"]) is HostsView
    built.update({"z": [Host("c")]})
    assert type(built["z"]) is HostsView
    assert type(built.setdefault("w")) is HostsView and "w" in built
    assert type(Networks(lan=[DefaultNetwork("10.0.0.0/24")])["lan"]) is NetworksView


def test_roles_dict_add_one_all_and_merge():
    h1, h2, h3 = _hosts("h1", "h2", "h3")
    roles = Roles()
    roles.add_one(h1, ["a", "b"])
    roles.add_one(h2, "a")
    assert list(roles["a"]) == [h1, h2] and list(roles["b"]) == [h1]
    assert roles["a"][0] is roles["b"][0]
    assert isinstance(roles.all(), HostsView) and list(roles.all()) == [h1, h2]

    other = Roles(b=[h3], c=[h3])
    merged = roles + other
    assert type(merged) is Roles
    assert set(merged) == {"a", "b", "c"} and list(merged["b"]) == [h1, h3]
    assert list(roles["b"]) == [h1] and "c" not in roles  # operands untouched
    merged["c"].append(h1)
    assert list(other["c"]) == [h3]  # no set shared with the operands

    roles += {"b": [h2], "d": [h3]}
    assert list(roles["b"]) == [h1, h2] and list(roles["d"]) == [h3]

    snapshot = roles.copy()
    snapshot["a"].append(h3)
    assert h3 not in roles["a"]


def test_roles_with_alias():
    roles = Roles(a=[Host("10.0.0.1", alias="n1")], b=[Host("10.0.0.2", alias="n2")],
                  c=[Host("10.0.0.1", alias="n1"), ObjTestSensor("m3-1.x")])
    assert roles.with_alias("n1") == {"a", "c"}
    assert roles.with_alias("m3-1") == {"c"}
    assert roles.with_alias("zz") == set()


def test_plain_roles_dict():
    d = RolesDict()
    d["x"] += [1, 2]
    assert type(d["x"]) is ResourcesSet and list(d["x"]) == [1, 2]


# --------------------------------------------------------------------------- state dicts


def test_roles_round_trip_keeps_shared_hosts_shared():
    shared = Host("10.0.0.1", "n1", "root", "/k", 22, {"gateway": "gw", "n": [1]})
    alone = Host("10.0.0.2", "n2")
    sensor = ObjTestSensor("m3-1.grenoble.iot-lab.info")
    roles = Roles(server=[shared, alone], client=[shared], iot=[sensor], empty=[])
    data = roles_to_dict(roles)
    assert list(data) == ["client", "empty", "iot", "server"]
    assert [m["alias"] for m in data["server"]] == ["n1", "n2"]
    assert data["iot"] == [{"type": "ObjTestSensor", "address": "m3-1.grenoble.iot-lab.info",
                            "alias": "m3-1"}]
    text = json.dumps(data)
    back = roles_from_dict(json.loads(text))
    assert isinstance(back, Roles) and back == roles
    assert set(back) == set(roles) and len(back["empty"]) == 0
    assert roles_to_dict(back) == data
    assert back["server"][0] is back["client"][0]  # ONE object, shared
    back["server"][0].set_extra(tag=1)
    assert back["client"][0].extra["tag"] == 1


def test_roles_round_trip_keeps_different_same_alias_hosts_apart():
    a = Host("10.0.0.1", "n1", extra={"x": 1})
    b = Host("10.0.0.1", "n1", extra={"x": 2})
    back = roles_from_dict(roles_to_dict(Roles(r1=[a], r2=[b])))
    assert back["r1"][0] == a and back["r2"][0] == b


def test_roles_with_host_subclass_round_trip():
    @register_host_class(name="test.VirtualMachine")
    class VirtualMachine(Host):
        extra_dict_fields = ("mac",)

        def __init__(self, address, alias=None, user=None, keyfile=None, port=None,
                     extra=None, mac=None):
            super().__init__(address, alias, user, keyfile, port, extra)
            self.mac = mac

    vm = VirtualMachine("10.158.0.2", "virtual-158-0-2", "root", mac="00:16:3e:9e:00:02")
    back = roles_from_dict(json.loads(json.dumps(roles_to_dict(Roles(vms=[vm])))))
    got = back["vms"][0]
    assert type(got) is VirtualMachine and got.mac == vm.mac and got == vm


def test_roles_to_dict_rejects_unregistered_members():
    with pytest.raises(TypeError, match="register_host_class"):
        roles_to_dict(Roles(x=[PlainThing("a")]))


def test_roles_from_dict_errors_locate_the_member():
    with pytest.raises(ValueError, match=r"roles\['r'\]\[1\].*Nope"):
        roles_from_dict({"r": [Host("a").to_dict(), {"type": "Nope", "address": "b"}]})
    with pytest.raises(TypeError):
        roles_from_dict({"r": {"address": "a"}})
    with pytest.raises(ValueError, match="network"):
        roles_from_dict({"r": [DefaultNetwork("10.0.0.0/24").to_dict()]})


def test_networks_round_trip_with_subclass_and_sharing():
    lan4 = ObjTestVlanNet("10.16.0.0/18", vlan_id=4, gateway="10.16.63.254",
                   ip_start="10.16.26.0", ip_end="10.16.62.0")
    lan6 = ObjTestVlanNet("2001:660:4406:1083::/64", vlan_id=4)
    prod = ProdNet("172.16.0.0/20", gateway="172.16.15.254", dns="172.16.15.253")
    nets = Networks(lan=[lan6, lan4], prod=[prod], both=[lan4, prod])
    data = networks_to_dict(nets)
    assert [n["address"] for n in data["lan"]] == ["10.16.0.0/18", "2001:660:4406:1083::/64"]
    back = networks_from_dict(json.loads(json.dumps(data)))
    assert isinstance(back, Networks) and back == nets
    assert type(back["lan"]) is NetworksView
    assert back["lan"][0].vlan_id == 4 and back["lan"][0].version == 4
    assert back["lan"][0] is back["both"][0]
    assert list(back["lan"][0].free_ips)[:1] == [ipaddress.ip_address("10.16.26.0")]
    assert networks_to_dict(back) == data


def test_networks_from_dict_unknown_type_names_it():
    with pytest.raises(ValueError, match="NoSuchNetworkClass"):
        networks_from_dict({"lan": [{"type": "NoSuchNetworkClass",
                                     "address": "10.158.0.0/22"}]})


# --------------------------------------------------------------------------- import cost


def test_objects_module_imports_no_heavy_dependency():
    path = Path(__file__).resolve().parents[1] / "bedform" / "objects.py"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('objects_probe', {str(path)!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "heavy = ('jsonschema', 'networkx', 'rich', 'attrs', 'cattrs', 'yaml', 'netaddr')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
    assert importlib.util.find_spec("bedform.objects") is not None
