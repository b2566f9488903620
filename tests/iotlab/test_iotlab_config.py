"""IotlabConf: EnOSlib's builders and defaults, and bad sections giving clear errors."""

from __future__ import annotations

import copy
import random

import pytest
import yaml

from bedform.errors import ConfigError
from bedform.providers.iotlab import IotlabConf
from bedform.providers.iotlab.driver import IotlabDriver
from tests.fuzz.support import assert_clean, invoke
from tests.iotlab.conftest import section


def test_builders_match_from_dictionary():
    built = (IotlabConf.from_settings(job_name="exp", walltime="01:30")
             .add_network(net_id="lan", roles=["lan"], net_type="prod", site="grenoble")
             .add_machine(roles=["s"], archi="m3:at86rf231", site="grenoble", number=2,
                          image="fw.elf", profile="p")
             .add_profile(name="p", archi="m3", radio={"mode": "rssi", "channels": [11],
                                                       "period": 10})
             .finalize())
    loaded = IotlabConf.from_dictionary(built.to_dict())
    assert loaded == built
    assert IotlabConf().walltime == "00:01" and IotlabConf().job_name is None
    phys = IotlabConf.from_settings().add_machine(
        roles=["r"], hostname=["m3-1.grenoble.iot-lab.info", "m3-2.grenoble.iot-lab.info"])
    assert phys.finalize().physical and phys.machines[0].number == 2


BAD = [
    ({"walltime": "1h"}, "walltime", "HH:MM"),
    ({"walltime": "00:00"}, "walltime", "at least one minute"),
    ({"start_time": "2026-02-30 10:00:00"}, "start_time", "not a real date"),
    ({"start_time": "tomorrow"}, "start_time", "Europe/Paris"),
    ({"job_name": ""}, "job_name", ""),
    ({"colour": "blue"}, "colour", "unknown field"),
    ({"resources": {"machines": []}}, "resources.machines", ""),
    ({"resources": {"machines": [{"roles": ["a"], "archi": "m3", "site": "grenoble"}]}},
     "resources.machines", "m3:at86rf231"),
    ({"resources": {"machines": [
        {"roles": ["a"], "archi": "m3:at86rf231", "site": "grenoble"},
        {"roles": ["b"], "hostname": ["m3-1.grenoble.iot-lab.info"]}]}},
     "resources.machines", "never a mix"),
    ({"resources": {"machines": [{"roles": ["a"], "hostname": [
        "m3-1.grenoble.iot-lab.info", "a8-1.grenoble.iot-lab.info"]}]}},
     "resources.machines[0].hostname", "mixes architectures"),
    ({"resources": {"machines": [{"roles": ["a"], "archi": "a8:at86rf231",
                                  "site": "grenoble", "image": "x.elf"}]}},
     "resources.machines[0].image", "cannot be flashed"),
    ({"resources": {"machines": [{"roles": ["a"], "archi": "m3:at86rf231",
                                  "site": "grenoble", "image": "x.txt"}]}},
     "resources.machines[0].image", ".elf, .hex or .bin"),
    ({"resources": {"machines": [{"roles": ["a"], "archi": "m3:at86rf231",
                                  "site": "grenoble", "number": 0}]}},
     "resources.machines", ""),
    ({"resources": {"machines": [{"roles": ["a"], "archi": "m3:at86rf231",
                                  "site": "grenoble"}],
                    "networks": [{"id": "n", "type": "kavlan", "roles": [],
                                  "site": "grenoble"}]}},
     "resources.networks[0].type", "prod"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "m3", "radio": {
        "mode": "rssi", "channels": [10]}}]}},
     "monitoring.profiles[0].radio.channels[0]", "11 to 26"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "m3", "consumption": {
        "period": 100, "average": 4, "power": True}}]}},
     "monitoring.profiles[0].consumption.period", "One of"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "m3", "consumption": {
        "period": 140, "average": 4}}]}},
     "monitoring.profiles[0].consumption", "measures nothing"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "m3", "radio": {
        "mode": "rssi", "channels": [11, 12], "period": 10}}]}},
     "monitoring.profiles[0].radio.num_per_channel", "several channels"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "m3", "radio": {
        "mode": "sniffer", "channels": [11, 12]}}]}},
     "monitoring.profiles[0].radio.channels", "exactly one channel"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "m3", "radio": {
        "mode": "rssi", "channels": [11]}}]}},
     "monitoring.profiles[0].radio.period", "needs a period"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "m3"},
                                  {"name": "p", "archi": "a8"}]}},
     "monitoring.profiles[1].name", "twice"),
    ({"monitoring": {"profiles": [{"name": "p", "archi": "zigbee"}]}},
     "monitoring.profiles[0].archi", ""),
    ({"frontend": {"grenoble": ""}}, "frontend", ""),
    ({"frontend": ["grenoble.iot-lab.info"]}, "frontend", ""),
    ({"frontend": "localhost"}, "frontend", "names no host"),
]


def test_frontend_is_a_template_or_a_site_mapping():
    doc = {"resources": {"machines": [
        {"roles": ["s"], "archi": "m3:at86rf231", "site": "grenoble", "number": 1}]}}
    assert IotlabDriver.load_config(doc).frontend_of("lille") == "lille.iot-lab.info"
    mirror = IotlabDriver.load_config({**doc, "frontend": "{site}.mirror.example.org"})
    assert mirror.frontend_of("lille") == "lille.mirror.example.org"
    box = IotlabDriver.load_config({**doc, "frontend": {"grenoble": "198.18.4.2"}})
    assert box.frontend_of("grenoble") == "198.18.4.2"
    assert box.frontend_of("lille") == "lille.iot-lab.info"
    assert IotlabConf.from_dictionary(box.to_dict()).frontend_of("grenoble") == "198.18.4.2"


@pytest.mark.parametrize("change,where,words", BAD)
def test_bad_sections_name_the_field(change, where, words):
    doc = {"walltime": "01:00", "resources": {"machines": [
        {"roles": ["s"], "archi": "m3:at86rf231", "site": "grenoble", "number": 1}]}}
    doc.update(change)
    with pytest.raises(ConfigError) as caught:
        IotlabDriver.load_config(doc)
    error = caught.value
    assert error.location.startswith(where), (error.location, str(error))
    assert words in str(error), str(error)


def test_missing_firmware_file_is_a_config_error_through_the_cli(stack, tmp_path):
    stack.write(**section(tmp_path / "nowhere.elf"))
    result = stack.run("plan")
    assert result.exit_code == 1
    assert "resources.machines[0].image" in result.output, result.output
    assert "cannot read firmware" in result.output


def _mutations(rng: random.Random, doc: dict) -> dict:
    junk = [None, -1, 0, "", "x", 3.5, [], {}, True, "99:99", "m3", ["a"], {"k": 1}]
    out = copy.deepcopy(doc)
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((*path, key))
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                paths.append((*path, index))
                walk(value, (*path, index))
    walk(out, ())
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        node = out
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = rng.choice(junk)
        except (KeyError, IndexError, TypeError):
            continue
    return out


def test_fuzzed_sections_fail_cleanly(stack):
    rng = random.Random(1302)
    base = section(stack.fw_a)
    for _ in range(60):
        doc = {"name": "fz", "providers": {"iot": {"type": "iotlab",
                                                   **_mutations(rng, base)}}}
        stack.file.write_text(yaml.safe_dump(doc))
        result = invoke("-c", str(stack.file), "validate")
        assert_clean(result, yaml.safe_dump(doc))
