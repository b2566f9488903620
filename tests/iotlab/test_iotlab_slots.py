"""IoT-LAB in multi-provider slots: a Grid'5000 + IoT-LAB stack gets one common start in
`plan`, after the boards another user holds are free again."""

from __future__ import annotations

import yaml
from click.testing import CliRunner
from iotlabcli import experiment, rest

from bedform.api.iotlab import Iotlab
from bedform.cli import main
from bedform.emulators.g5k.testing import g5k_emulator_factory  # noqa: F401
from bedform.planner import slots
from bedform.providers.g5k.client import paris_to_epoch
from bedform.providers.iotlab import IotlabConf
from tests.iotlab.conftest import M3, SITE, firmware
from tests.slots.conftest import g5k_section, start_emulator


def bob_takes_every_m3(emu, minutes: int) -> int:
    api = rest.Api("bob", "bob-pw")
    api.url = emu.url
    boards = experiment.exp_resources(experiment.AliasNodes(24, SITE, M3, False))
    return experiment.submit_experiment(api, "bob-exp", minutes, [boards])["id"]


def test_g5k_and_iotlab_get_one_common_start(g5k_emulator_factory, emu, tmp_path,  # noqa: F811
                                              monkeypatch):
    g5k = start_emulator(g5k_emulator_factory, tmp_path, monkeypatch)
    bob_takes_every_m3(emu, 60)
    bob_end = emu.now() + 3600
    image = firmware(tmp_path / "fw.elf", "slot firmware")
    stack = tmp_path / "bedform.yaml"
    stack.write_text(yaml.safe_dump({"name": "mixed", "providers": {
        "g5k": {"type": "g5k", **g5k_section(("lyon", "hercule", 1))},
        "iot": {"type": "iotlab", "walltime": "01:00", "resources": {"machines": [
            {"roles": ["sensor"], "archi": M3, "site": SITE, "number": 3,
             "image": str(image)}]}}}}))
    result = CliRunner().invoke(main, ["-c", str(stack), "plan"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "all providers start at" in result.output, result.output
    start_line = next(line for line in result.output.splitlines()
                      if "all providers start at" in line)
    assert "iot walltime" in start_line and "g5k walltime" in start_line, start_line
    reservation = next(line for line in result.output.splitlines()
                       if "+ reservation = " in line).split('"')[1]
    start_time = next(line for line in result.output.splitlines()
                      if "+ start_time = " in line).split('"')[1]
    assert reservation == start_time                        # the same Paris wall clock
    start = paris_to_epoch(start_time)
    assert bob_end <= start < bob_end + slots.TIME_INCREMENT + 60, (start, bob_end)
    gantt = [r for r in emu.requests() if r["path"] == "/api/drawgantt/experiments"]
    nodes = [r for r in emu.requests() if r["path"] == "/api/nodes"]
    assert len(nodes) == 1 and 1 <= len(gantt) <= 2, (nodes, gantt)
    assert g5k.requests()                                   # g5k was asked too


def test_facade_test_slot_sees_busy_boards(emu, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = IotlabConf.from_settings(walltime="00:30").add_machine(
        roles=["s"], archi=M3, site=SITE, number=2).finalize()
    provider = Iotlab(conf)
    now = int(emu.now())
    assert provider.test_slot(now + 60, now + 60)
    bob_takes_every_m3(emu, 60)
    provider = Iotlab(conf)
    check = provider.check_slot(now + 60, now + 60)
    assert not check.ok and f"{SITE}/{M3}: 0 of 2 board(s) free" in check.reason, check
    assert check.hint is not None and check.hint >= now + 3600
    assert provider.test_slot(now + 3600 + 60, now + 3600 + 60)


def test_providers_reserve_g5k_and_iotlab_at_one_start(g5k_emulator_factory,  # noqa: F811
                                                        iotlab_emulator_factory, tmp_path,
                                                        monkeypatch):
    from bedform.api.g5k import G5k
    from bedform.api.providers import Providers
    from bedform.providers.g5k import G5kConf

    # 20 virtual seconds per real second: a start a few minutes ahead comes in seconds,
    # and a loaded machine's delays (a few real seconds) do not make it pass before both
    # submissions are in (the experiment's reservation would then be shifted to "now")
    g5k = start_emulator(g5k_emulator_factory, tmp_path, monkeypatch, speed=20.0)
    iot = iotlab_emulator_factory(epoch=None, speed=20.0, launch_seconds=0.0)
    rc = iot.write_rc(tmp_path / "iotlabrc", "alice")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("IOTLAB_PASSWORD_FILE", str(rc))
    monkeypatch.setenv("IOTLAB_API_URL", iot.url)
    image = firmware(tmp_path / "fw.elf", "together")
    g5k_conf = G5kConf.from_dictionary({**g5k_section(("lyon", "hercule", 1)),
                                        "job_name": "together"})
    iot_conf = IotlabConf.from_settings(job_name="together", walltime="01:00").add_machine(
        roles=["sensor"], archi=M3, site=SITE, number=2, image=str(image)).finalize()
    providers = Providers([G5k(g5k_conf, name="g5k"), Iotlab(iot_conf, name="iot")])
    try:
        roles, _ = providers.init(time_window=3600)
        assert len(roles["sensor"]) == 2 and len(roles["g5k"]) == 1
        reservation = providers.reservation
        assert reservation is not None
        exps = iot.app.testbed.list_experiments("alice", ["Running"], 0, 0)
        assert len(exps) == 1                       # async_init's submission, adopted
        exp = iot.app.testbed.experiments[exps[0]["id"]]
        assert exp.submission.reservation == reservation
        job = next(j for s in g5k.testbed.sites.values() for j in s.jobs.values()
                   if j.user == "alice")
        assert job.reservation == reservation       # one common start
        assert len(iot.firmware()) == 2
    finally:
        providers.destroy()
    assert iot.app.testbed.list_experiments("alice", ["Running", "Waiting", "toLaunch",
                                                      "Launching"], 0, 0) == []
