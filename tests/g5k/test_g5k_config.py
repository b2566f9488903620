"""G5k configuration: EnOSlib names and defaults, builders == dictionary, errors with paths."""

from __future__ import annotations

import pytest

from bedform import G5k, G5kConf
from bedform.errors import ConfigError
from bedform.providers.g5k.jobs import map_nodes, oar_resources
from tests.g5k.conftest import section

DICT = {"job_type": "deploy", "env_name": "debian12-min", "walltime": "30:00:00",
        "resources": {"machines": [{"roles": ["a"], "cluster": "parasilo", "site": "rennes",
                                    "nodes": 2, "min": 1, "reservable_disks": True}],
                      "networks": []}}


def test_defaults_and_normalisation():
    conf = G5kConf.from_dictionary(DICT)
    assert conf.job_type == ["deploy"] and conf.walltime == "30:00:00"
    assert conf.queue == "default" and conf.dhcp is True and conf.job_name is None
    machine = conf.machines[0]
    assert machine.min == 1 and machine.reservable_disks is True
    assert machine.primary_network == "prod-rennes"
    assert conf.networks[0].type == "prod"


def test_builder_equals_dictionary():
    built = (G5kConf.from_settings(job_type="deploy", env_name="debian12-min",
                                   walltime="30:00:00")
             .add_machine(roles=["a"], cluster="parasilo", site="rennes", nodes=2, min=1,
                          reservable_disks=True)
             .finalize())
    assert built.to_dict() == G5kConf.from_dictionary(DICT).to_dict()
    assert G5kConf.from_dictionary(built.to_dict()).to_dict() == built.to_dict()


def test_errors_carry_the_path():
    bad = section()
    bad["resources"]["machines"][0]["primary_network"] = "nope"
    with pytest.raises(ConfigError) as info:
        G5kConf.from_dictionary(bad)
    assert "nope" in str(info.value)
    assert list(info.value.path) == ["resources", "machines", 0, "primary_network"]
    with pytest.raises(ConfigError):
        G5kConf.from_dictionary({**DICT, "walltime": "2h"})


def test_oar_string_as_enoslib_builds_it():
    groups = [{"cluster": "paravance", "nodes": 3, "reservable_disks": True},
              {"servers": ["paravance-1.rennes.grid5000.fr",
                           "paravance-2.rennes.grid5000.fr"], "nodes": 2}]
    nets = [{"type": "kavlan"}, {"type": "slash_22"}, {"type": "prod"}]
    assert oar_resources(groups, nets) == (
        "{network_address in ('paravance-1.rennes.grid5000.fr', "
        "'paravance-2.rennes.grid5000.fr')}/nodes=2+{(type='default' or type='disk') AND "
        "cluster='paravance'}/nodes=3+{type='kavlan'}/vlan=1+slash_22=1")


def test_mapping_is_deterministic_and_min_first():
    groups = [{"index": 0, "cluster": "c", "nodes": 2, "min": 0},
              {"index": 1, "cluster": "c", "nodes": 2, "min": 2}]
    nodes = ["c-3.s.grid5000.fr", "c-1.s.grid5000.fr", "c-2.s.grid5000.fr"]
    mapping = map_nodes(nodes, groups)
    assert mapping == map_nodes(list(reversed(nodes)), groups)
    assert len(mapping[1]) == 2 and len(mapping[0]) == 1


def test_offset_walltime_past_24h():
    provider = G5k(G5kConf.from_dictionary(DICT))
    provider.offset_walltime(-6 * 3600 + 60)
    assert provider.provider_conf.walltime == "24:01:00"
    provider.set_reservation(1775037600)
    assert provider.provider_conf.reservation == "2026-04-01 12:00:00"
