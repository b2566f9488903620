"""Configuration of the local provider: defaults, builders, and errors with their path."""

from __future__ import annotations

import pytest

from bedform.errors import ConfigError
from bedform.providers.base import DriverContext
from bedform.providers.local import LocalConf, LocalMachineConf, LocalNetworkConf
from bedform.providers.local.driver import LocalDriver
from bedform.state.model import Record, Status


def driver(tmp_path, stack_id="1a2b3c4d") -> LocalDriver:
    return LocalDriver(DriverContext("demo", stack_id, tmp_path))


def section(machines=None, networks=None, **top):
    resources = {"machines": machines if machines is not None else [{"roles": ["server"]}]}
    if networks is not None:
        resources["networks"] = networks
    return {"type": "local", **top, "resources": resources}


def error(tmp_path, data) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        driver(tmp_path).load_config(data)
    return info.value


def test_defaults(tmp_path):
    conf = driver(tmp_path).load_config(section())
    assert (conf.user, conf.ssh, conf.prefix) == ("root", True, "bf")
    assert conf.machines == [LocalMachineConf(roles=["server"], number=1)]
    [net] = conf.effective_networks
    assert (net.id, net.cidr, net.effective_roles) == ("lan", "198.18.0.0/24", ["lan"])
    assert str(net.gateway) == "198.18.0.1"


def test_builder_api_matches_dictionary(tmp_path):
    built = (LocalConf.from_settings(user="admin", ssh=True)
             .add_machine(roles=["server", "db"], number=2)
             .add_machine(roles=["client"], number=3, networks=["lan"], name="cli")
             .add_network(id="lan", cidr="198.18.4.0/24", roles=["lan", "public"])
             .add_network_conf(LocalNetworkConf(id="admin", cidr="198.18.5.0/24"))
             .finalize())
    loaded = LocalConf.from_dictionary(built.to_dict())
    assert loaded == built
    assert built.to_dict() == {
        "user": "admin", "ssh": True, "prefix": "bf",
        "resources": {
            "machines": [{"roles": ["server", "db"], "number": 2},
                         {"roles": ["client"], "number": 3, "networks": ["lan"],
                          "name": "cli"}],
            "networks": [{"id": "lan", "cidr": "198.18.4.0/24", "roles": ["lan", "public"]},
                         {"id": "admin", "cidr": "198.18.5.0/24"}],
        },
    }
    assert [n.id for n in built.networks_of(built.machines[0])] == ["lan", "admin"]
    assert LocalConf.from_dictionnary(built.to_dict()) == built


def test_the_driver_follows_the_protocol(tmp_path):
    from bedform.providers import driver_class
    from bedform.providers.base import Driver

    assert driver_class("local") is LocalDriver
    assert isinstance(driver(tmp_path), Driver)
    assert LocalDriver.type_name == "local"
    assert not LocalDriver.capabilities.advance_reservation


def test_load_config_works_on_the_class():
    conf = LocalDriver.load_config(section())
    assert isinstance(conf, LocalConf) and LocalDriver.schema()["type"] == "object"


def test_schema_is_a_copy(tmp_path):
    schema = driver(tmp_path).schema()
    schema["properties"].clear()
    assert driver(tmp_path).schema()["properties"]


@pytest.mark.parametrize(("data", "path", "words"), [
    (section(colour="red"), ("colour",), "unknown field"),
    (section(machines=[{"roles": ["a"], "nodes": 2}]),
     ("resources", "machines", 0, "nodes"), "unknown field"),
    (section(machines=[{"number": 2}]), ("resources", "machines", 0, "roles"), "missing"),
    (section(machines=[{"roles": ["a"], "number": -1}]),
     ("resources", "machines", 0, "number"), ""),
    (section(machines=[{"roles": ["a"], "number": "2"}]),
     ("resources", "machines", 0, "number"), ""),
    (section(networks=[{"id": "lan"}]), ("resources", "networks", 0, "cidr"), "missing"),
    (section(networks=[{"id": "a-very-long-network-id", "cidr": "198.18.0.0/24"}]),
     ("resources", "networks", 0, "id"), ""),
    (section(ssh="yes"), ("ssh",), ""),
    (section(prefix="Bad Prefix"), ("prefix",), ""),
])
def test_schema_errors_name_the_field(tmp_path, data, path, words):
    err = error(tmp_path, data)
    assert err.path == path
    assert words in err.message


def test_overlapping_cidrs(tmp_path):
    err = error(tmp_path, section(networks=[{"id": "a", "cidr": "198.18.0.0/23"},
                                            {"id": "b", "cidr": "198.18.1.0/24"}]))
    assert err.path == ("resources", "networks", 1, "cidr")
    assert "overlaps" in err.message and "a" in err.message


def test_duplicate_network_ids(tmp_path):
    err = error(tmp_path, section(networks=[{"id": "a", "cidr": "198.18.0.0/24"},
                                            {"id": "a", "cidr": "198.18.1.0/24"}]))
    assert err.path == ("resources", "networks", 1, "id")
    assert "duplicate" in err.message


def test_unknown_network_id(tmp_path):
    err = error(tmp_path, section(
        machines=[{"roles": ["a"]}, {"roles": ["b"], "networks": ["lan", "wan"]}],
        networks=[{"id": "lan", "cidr": "198.18.0.0/24"}]))
    assert err.path == ("resources", "machines", 1, "networks", 1)
    assert "wan" in err.message and "lan" in err.hint


def test_cidr_too_small(tmp_path):
    err = error(tmp_path, section(machines=[{"roles": ["a"], "number": 6}],
                                  networks=[{"id": "lan", "cidr": "198.18.0.0/29"}]))
    assert err.path == ("resources", "networks", 0, "cidr")
    assert "too small" in err.message
    # 5 usable addresses in a /29: 5 hosts fit
    driver(tmp_path).load_config(section(machines=[{"roles": ["a"], "number": 5}],
                                         networks=[{"id": "lan", "cidr": "198.18.0.0/29"}]))


def test_default_network_too_small_points_at_the_group(tmp_path):
    err = error(tmp_path, section(machines=[{"roles": ["a"], "number": 300}]))
    assert err.path == ("resources", "machines", 0, "number")


@pytest.mark.parametrize(("cidr", "words"), [
    ("198.18.0.5/24", "host bits"), ("not-a-cidr", "not a network"),
    ("fd00::/64", "IPv6"), ("198.18.0.0", "prefix length"), ("198.18.0.0/31", "too small"),
])
def test_bad_cidrs(tmp_path, cidr, words):
    err = error(tmp_path, section(networks=[{"id": "lan", "cidr": cidr}]))
    assert err.path == ("resources", "networks", 0, "cidr")
    assert words in err.message


def test_invalid_host_names(tmp_path):
    err = error(tmp_path, section(machines=[{"roles": ["web_server"]}]))
    assert err.path == ("resources", "machines", 0, "roles", 0)
    assert "name:" in err.hint
    assert driver(tmp_path).load_config(
        section(machines=[{"roles": ["web_server"], "name": "web"}])).machines[0].group_name \
        == "web"
    err = error(tmp_path, section(machines=[{"roles": ["a"], "name": "-x"}]))
    assert err.path == ("resources", "machines", 0, "name")


def test_duplicate_group_names(tmp_path):
    err = error(tmp_path, section(machines=[{"roles": ["server", "db"]},
                                            {"roles": ["server", "web"]}]))
    assert err.path == ("resources", "machines", 1, "roles", 0)
    assert "name:" in err.hint


@pytest.mark.parametrize("net_id", ["lo", "all", "default"])
def test_reserved_network_ids(tmp_path, net_id):
    err = error(tmp_path, section(networks=[{"id": net_id, "cidr": "198.18.0.0/24"}]))
    assert err.path == ("resources", "networks", 0, "id")


def test_group_without_network(tmp_path):
    err = error(tmp_path, section(machines=[{"roles": ["a"], "networks": []}]))
    assert err.path == ("resources", "machines", 0, "networks")


def test_finalize_checks_builder_confs():
    conf = LocalConf.from_settings().add_machine(roles=["a"], networks=["nope"])
    with pytest.raises(ConfigError) as info:
        conf.finalize()
    assert info.value.path == ("resources", "machines", 0, "networks", 0)


# -- expansion: names, dependencies, addresses ---------------------------------------------

def by_address(resources):
    return {r.address: r for r in resources}


def test_expand_resources_and_dependencies(tmp_path):
    drv = driver(tmp_path)
    conf = drv.load_config(section(
        machines=[{"roles": ["server"], "number": 2},
                  {"roles": ["client"], "networks": ["lan"]}],
        networks=[{"id": "lan", "cidr": "198.18.0.0/24"},
                  {"id": "admin", "cidr": "198.18.1.0/24"}]))
    res = by_address(drv.expand("here", conf))
    assert sorted(res) == sorted([
        "here.key[ssh]", "here.bridge[lan]", "here.bridge[admin]",
        "here.host[server-1]", "here.host[server-2]", "here.host[client-1]",
        "here.veth[server-1/lan]", "here.veth[server-1/admin]",
        "here.veth[server-2/lan]", "here.veth[server-2/admin]", "here.veth[client-1/lan]",
        "here.sshd[server-1]", "here.sshd[server-2]", "here.sshd[client-1]",
    ])
    veth = res["here.veth[server-2/admin]"]
    assert veth.kind == "local_veth"
    assert veth.dependencies() == ("here.host[server-2]", "here.bridge[admin]")
    assert veth.inputs["address"] == "198.18.1.3/24"
    assert veth.inputs["peer"] == "admin"
    assert veth.inputs["gateway"] is None  # the default route goes through lan
    assert res["here.veth[server-2/lan]"].inputs["gateway"] == "198.18.0.1"
    assert set(res["here.sshd[server-2]"].dependencies()) == {
        "here.host[server-2]", "here.veth[server-2/lan]", "here.veth[server-2/admin]",
        "here.key[ssh]"}
    assert res["here.sshd[server-2]"].inputs["addresses"] == ["198.18.0.3", "198.18.1.3"]
    assert res["here.host[server-1]"].inputs["netns"] == "bf-1a2b3c4d-here-server-1"
    assert res["here.bridge[lan]"].inputs["gateway"] == "198.18.0.1/24"
    # two groups share lan: the client owns the second half
    assert res["here.veth[client-1/lan]"].inputs["address"] == "198.18.0.128/24"
    for resource in res.values():
        assert resource.identity and resource.provider == "here"
        for key in ("ifname", "bridge"):
            if key in resource.inputs:
                assert len(resource.inputs[key]) <= 15
                assert resource.inputs[key].startswith("bf1a2b3c4d")
    assert all(r.kind in drv.kinds for r in res.values())


def test_expand_without_ssh(tmp_path):
    drv = driver(tmp_path)
    res = drv.expand("here", drv.load_config(section(ssh=False)))
    assert {r.kind for r in res} == {"local_bridge", "local_host", "local_veth"}


def test_expand_is_deterministic_and_names_are_unique(tmp_path):
    drv = driver(tmp_path)
    conf = drv.load_config(section(machines=[{"roles": ["n"], "number": 200}],
                                   networks=[{"id": "a", "cidr": "198.18.0.0/22"},
                                             {"id": "b", "cidr": "198.18.4.0/22"}]))
    first, second = drv.expand("here", conf), drv.expand("here", conf)
    assert first == second
    ifnames = [r.inputs["ifname"] for r in first if "ifname" in r.inputs]
    assert len(ifnames) == len(set(ifnames)) == 402
    addresses = [r.inputs["address"] for r in first if r.kind == "local_veth"]
    assert len(set(addresses)) == 400


def test_two_stacks_never_share_a_name(tmp_path):
    conf = section()
    one, two = driver(tmp_path, "00000001"), driver(tmp_path, "00000002")
    names = []
    for drv in (one, two):
        res = drv.expand("here", drv.load_config(conf))
        names.append({v for r in res for k, v in r.inputs.items()
                      if k in ("ifname", "netns", "uts")})
    assert names[0] and not names[0] & names[1]
    # two instances of one stack do not collide either
    res = by_address(one.expand("there", one.load_config(conf)))
    assert res["there.host[server-1]"].inputs["netns"] == "bf-00000001-there-server-1"


def test_odd_stack_ids_still_fit(tmp_path):
    drv = driver(tmp_path, "a-long-lineage-uuid-0000-1111")
    res = drv.expand("here", drv.load_config(section()))
    assert all(len(r.inputs["ifname"]) <= 15 for r in res if "ifname" in r.inputs)


def addresses(resources):
    return {r.address: r.inputs["address"] for r in resources if r.kind == "local_veth"}


def test_growing_a_group_never_renumbers(tmp_path):
    drv = driver(tmp_path)

    def conf(servers, clients):
        return drv.load_config(section(machines=[{"roles": ["server"], "number": servers},
                                                 {"roles": ["client"], "number": clients}]))
    before = addresses(drv.expand("here", conf(2, 2)))
    after = addresses(drv.expand("here", conf(5, 3)))
    assert before.items() <= after.items()
    assert len(after) == 8


def test_prior_records_pin_addresses(tmp_path):
    drv = driver(tmp_path)
    conf_a = drv.load_config(section(machines=[{"roles": ["server"], "number": 2}]))
    first = drv.expand("here", conf_a)
    records = [Record(r.address, r.kind, "here", Status.READY, dict(r.inputs),
                      {"address": r.inputs.get("address")}) for r in first]
    # adding a group before the servers changes the shares...
    conf_b = drv.load_config(section(machines=[{"roles": ["monitor"]},
                                               {"roles": ["server"], "number": 3}]))
    moved = addresses(drv.expand("here", conf_b))
    assert moved["here.veth[server-1/lan]"] != addresses(first)["here.veth[server-1/lan]"]
    # ...but with the prior records every existing host keeps its address
    pinned = addresses(drv.expand("here", conf_b, records=records))
    assert addresses(first).items() <= pinned.items()
    assert len(set(pinned.values())) == len(pinned) == 4
    assert pinned["here.veth[monitor-1/lan]"] == "198.18.0.4/24"  # its own was taken


def test_update_is_refused(tmp_path):
    from bedform.errors import ProviderError

    drv = driver(tmp_path)
    [bridge] = [r for r in drv.expand("here", drv.load_config(section()))
                if r.kind == "local_bridge"]
    with pytest.raises(ProviderError):
        drv.update(bridge, Record(bridge.address, bridge.kind, "here"), None)
    assert all(not spec.updatable for spec in drv.kinds.values())
