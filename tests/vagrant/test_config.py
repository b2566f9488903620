"""VagrantConf: EnOSlib's fields, defaults, names, addresses and validation errors."""

from __future__ import annotations

import pytest

from bedform.errors import ConfigError
from bedform.providers.vagrant.config import DEFAULT_BOX, VagrantConf
from bedform.providers.vagrant.driver import VagrantDriver


def section(**top):
    machines = top.pop("machines", [{"roles": ["server"]}])
    networks = top.pop("networks", [{"cidr": "192.168.56.0/24", "roles": ["private"]}])
    return {**top, "resources": {"machines": machines, "networks": networks}}


def test_defaults_are_enoslib_ones_but_the_offline_box():
    conf = VagrantConf.from_dictionary(section())
    assert (conf.backend, conf.box, conf.user, conf.name_prefix) == (
        "libvirt", DEFAULT_BOX, "root", "enos")
    (vm,) = conf.vms()
    assert (vm.name, vm.cores, vm.memory, vm.box) == ("enos-0", 1, 512, DEFAULT_BOX)


def test_names_and_addresses_follow_enoslib():
    conf = VagrantConf.from_dictionary(section(machines=[
        {"roles": ["a"], "flavour": "medium"},
        {"roles": ["b"], "number": 2, "flavour_desc": {"core": 3, "mem": 700}},
        {"roles": ["c"], "name_prefix": "db", "box": "other/box", "user": "vagrant"}]))
    vms = conf.vms()
    assert [vm.name for vm in vms] == ["enos-0", "enos-1-1", "enos-1-2", "db"]
    assert [vm.addresses[0][1] for vm in vms] == [
        "192.168.56.245", "192.168.56.244", "192.168.56.243", "192.168.56.242"]
    assert (vms[0].cores, vms[0].memory) == (2, 2048)
    assert (vms[1].cores, vms[1].memory) == (3, 700)
    assert (vms[3].box, vms[3].user, vms[0].user) == ("other/box", "vagrant", "root")


def test_builder_api_validates_on_finalize():
    conf = (VagrantConf.from_settings(backend="virtualbox")
            .add_machine(roles=["server"], flavour="small")
            .add_network(cidr="10.20.0.0/24", roles=["net"]).finalize())
    assert conf.vms()[0].backend == "virtualbox"
    assert VagrantDriver.load_config({"type": "vagrant", **conf.to_dict()}).to_dict() == \
        conf.to_dict()


@pytest.mark.parametrize(("top", "path", "words"), [
    ({"backend": "docker"}, ("backend",), "docker"),
    ({"machines": [{"roles": ["a"], "flavour": "huge"}]},
     ("resources", "machines", 0, "flavour"), "huge"),
    ({"machines": [{"roles": ["a"], "flavour": "tiny", "flavour_desc": {"core": 1, "mem": 512}}]},
     ("resources", "machines", 0, "flavour"), "exclusive"),
    ({"networks": [{"cidr": "192.168.56.1/24", "roles": ["x"]}]},
     ("resources", "networks", 0, "cidr"), "IPv4 network"),
    ({"networks": [{"cidr": "192.168.56.0/28", "roles": ["x"]}]},
     ("resources", "networks", 0, "cidr"), "room for"),
    ({"networks": [{"cidr": "192.168.121.0/25", "roles": ["x"]}]},
     ("resources", "networks", 0, "cidr"), "management"),
    ({"networks": [{"cidr": "10.0.0.0/16", "roles": ["x"]},
                   {"cidr": "10.0.1.0/24", "roles": ["y"]}]},
     ("resources", "networks", 1, "cidr"), "overlaps"),
    ({"machines": [{"roles": ["a"], "name_prefix": "x"}, {"roles": ["b"], "name_prefix": "x"}]},
     ("resources", "machines", 1, "name_prefix"), "two machine groups"),
    ({"machines": [{"roles": ["a"], "colour": "red"}]},
     ("resources", "machines", 0, "colour"), "unknown field"),
])
def test_bad_input_names_the_field(top, path, words):
    with pytest.raises(ConfigError) as caught:
        VagrantConf.from_dictionary(section(**top))
    assert caught.value.path == path
    assert words in str(caught.value) + caught.value.hint


def test_networks_are_required_as_in_enoslib():
    with pytest.raises(ConfigError) as caught:
        VagrantConf.from_dictionary({"resources": {"machines": [{"roles": ["a"]}]}})
    assert caught.value.path == ("resources", "networks")
