"""DistemConf: EnOSlib's fields and validation, errors that name the field, and the
deterministic placement of vnodes over pnodes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bedform.cli import main
from bedform.errors import ConfigError
from bedform.providers.base import DriverContext
from bedform.providers.distem.config import DistemConf
from bedform.providers.distem.driver import DistemDriver
from bedform.providers.distem.kinds import slot_address
from bedform.providers.vmong5k.placement import allocate_slots
from bedform.state.model import Record

IMAGE = "file:///tmp/fs.tar.gz"


def test_builder_and_defaults() -> None:
    conf = (DistemConf.from_settings(image=IMAGE, walltime="01:00:00")
            .add_machine(roles=["a"], cluster="parasilo", number=4)
            .add_machine(roles=["b"], cluster="paradoxe", flavour="large").finalize())
    assert conf.site == "rennes" and conf.networks == ["enos_network"]
    assert conf.machines[0].flavour_desc == {"core": 1, "mem": 512}
    assert conf.machines[1].core == 4
    assert DistemConf.from_dictionary(conf.to_dict()).to_dict() == conf.to_dict()
    other = DistemConf(image=IMAGE)
    conf.add_network("extra")
    assert other.networks == ["enos_network"]   # never a shared default list


@pytest.mark.parametrize(("section", "path", "words"), [
    ({"resources": {"machines": [{"roles": ["a"], "cluster": "parasilo"}]}},
     (), "image"),
    ({"image": IMAGE, "resources": {"machines": [
        {"roles": ["a"], "cluster": "parasilo"}, {"roles": ["b"], "cluster": "gros"}]}},
     ("resources", "machines", 1, "cluster"), "one site"),
    ({"image": IMAGE, "resources": {"machines": [
        {"roles": ["a"], "cluster": "parasilo", "flavour": "tiny",
         "flavour_desc": {"core": 1, "mem": 512}}]}},
     ("resources", "machines", 0, "flavour"), "not both"),
    ({"image": IMAGE, "resources": {"machines": [{"roles": ["a"], "cluster": "nope"}]}},
     ("resources", "machines", 0, "cluster"), "nope"),
])
def test_bad_configurations_name_the_field(section: dict, path: tuple, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DistemConf.from_dictionary(section)
    assert words in str(caught.value)
    if path:
        assert tuple(caught.value.path[-len(path):]) == path


def test_cli_validate_says_file_field_and_fix(tmp_path: Path) -> None:
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAA t@t\n")
    stack = tmp_path / "bedform.yaml"
    stack.write_text(yaml.safe_dump({"name": "x", "providers": {"distem": {
        "type": "distem", "key": str(key), "image": IMAGE,
        "resources": {"machines": [{"roles": ["a"], "cluster": "parasilo",
                                    "flavour": "huge"}]}}}}))
    result = CliRunner().invoke(main, ["-c", str(stack), "validate"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "bedform.yaml" in result.output and "flavour" in result.output


def test_slots_keep_addresses_and_growth_takes_the_next_ones() -> None:
    wanted = [f"d.vnode[0/{k}]" for k in range(3)]
    slots = allocate_slots(wanted, {})
    assert [slot_address(["10.158.4.0/22"], s) for s in slots.values()] == \
        ["10.158.4.1/22", "10.158.4.2/22", "10.158.4.3/22"]
    grown = allocate_slots([*wanted, "d.vnode[0/3]", "d.vnode[0/4]"], slots)
    assert {a: grown[a] for a in wanted} == slots
    assert [grown["d.vnode[0/3]"], grown["d.vnode[0/4]"]] == [3, 4]


def test_expansion_places_round_robin_and_keeps_recorded_slots(tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(tmp_path / "absent.yaml"))
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAA t@t\n")
    driver = DistemDriver(DriverContext("exp", "id", tmp_path))
    conf = DistemConf.from_dictionary({"image": IMAGE, "key": str(key), "resources": {
        "machines": [{"roles": ["a"], "cluster": "parasilo", "number": 5, "nodes": 2}]}})
    vnodes = [r for r in driver.expand("d", conf, {}) if r.kind == "distem_vnode"]
    assert [r.inputs["position"] for r in vnodes] == [0, 1, 0, 1, 0]
    assert [r.inputs["name"] for r in vnodes] == [f"vnode-0-{k}" for k in range(5)]
    recorded = {r.address: Record(r.address, r.kind, "d", inputs={**r.inputs, "slot": 7 - i})
                for i, r in enumerate(vnodes[:2])}
    again = [r for r in driver.expand("d", conf, recorded) if r.kind == "distem_vnode"]
    assert [r.inputs["slot"] for r in again] == [7, 6, 0, 1, 2]
