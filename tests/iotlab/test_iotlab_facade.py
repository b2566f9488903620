"""The EnOSlib-style `Iotlab` class: init → (roles, networks) with sensors whose
start/stop/reset call the API, objects that round-trip, destroy."""

from __future__ import annotations

from pathlib import Path

from bedform.api.iotlab import Iotlab
from bedform.objects import networks_from_dict, networks_to_dict, roles_from_dict, roles_to_dict
from bedform.providers.iotlab import IotlabConf, IotlabHost, IotlabNetwork, IotlabSensor
from tests.iotlab.conftest import A8, M3, SITE, firmware


def test_init_sensors_reset_and_destroy(emu, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = firmware(tmp_path / "hello.elf", "hello")
    conf = (IotlabConf.from_settings(job_name="facade", walltime="00:30")
            .add_network(net_id="lan", roles=["lan"], net_type="prod", site=SITE)
            .add_machine(roles=["sensor"], archi=M3, site=SITE, number=2, image=str(image))
            .add_machine(roles=["linux"], archi=A8, site=SITE, number=1)
            .finalize())
    provider = Iotlab(conf)
    roles, networks = provider.init()
    assert provider.is_created()
    sensors = list(roles["sensor"])
    assert len(sensors) == 2 and all(isinstance(s, IotlabSensor) for s in sensors)
    assert sensors[0].alias == sensors[0].address.split(".")[0]
    assert [type(h) for h in roles["linux"]] == [IotlabHost]
    # EnOSlib's table says 10.0.12.0/21, which a Network normalises to its /21
    assert {str(n.network) for n in networks["lan"]} == {"10.0.8.0/21",
                                                         "2001:660:5307:3000::/64"}
    assert all(isinstance(n, IotlabNetwork) and n.roles == ["lan"] for n in networks["lan"])
    assert roles_from_dict(roles_to_dict(roles)) == roles
    assert networks_from_dict(networks_to_dict(networks)) == networks
    emu.clear_requests()
    assert sensors[0].reset() == {"0": [sensors[0].address], "1": []}
    assert sensors[1].stop()["0"] == [sensors[1].address]
    assert emu.boards()[sensors[1].address]["powered"] is False
    assert sensors[1].start()["0"] == [sensors[1].address]
    assert emu.boards()[sensors[0].address]["resets"] == 1
    assert [r["path"].rsplit("/", 1)[1] for r in emu.requests()] == \
        ["reset", "stop", "start"]
    again, _ = provider.init()                    # reload: nothing flashed again
    assert sorted(s.address for s in again["sensor"]) == sorted(s.address for s in sensors)
    assert sum("/flash" in r["path"] for r in emu.requests()) == 0
    provider.destroy()
    assert not provider.is_created()


def test_the_example_applies_with_generated_firmware(emu, tmp_path, monkeypatch):
    import importlib.util

    from click.testing import CliRunner

    from bedform.cli import main

    repo = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "iotlab_firmware", repo / "examples" / "iotlab_firmware.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    monkeypatch.chdir(tmp_path)
    generator.write("firmware/fw-a.elf", "firmware A")
    stack = tmp_path / "bedform.yaml"
    stack.write_text((repo / "examples" / "iotlab-m3.yaml").read_text())
    result = CliRunner().invoke(main, ["-c", str(stack), "apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert len(emu.firmware()) == 3
    assert {r["name"] for r in emu.firmware().values()} == {"fw-a.elf"}
