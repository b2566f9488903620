"""The unmodified iotlabcli library drives the emulator over real HTTP."""

import hashlib
import io
import json
import tarfile
from pathlib import Path
from urllib.error import HTTPError

import pytest
from iotlabcli import experiment, node, profile

from bedform.emulators.iotlab import IotlabEmulator

M3 = "m3:at86rf231"
G = "grenoble.iot-lab.info"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_experiment(iotlab_api, iotlab_emulator: IotlabEmulator, firmwares):
    prof = profile.ProfileM3(profilename="conso", power="dc")
    prof.set_consumption(period=140, average=16, power=True, voltage=True)
    assert iotlab_api.add_profile(prof)["profilename"] == "conso"

    resources = experiment.exp_resources(
        experiment.AliasNodes(3, "grenoble", M3), str(firmwares["a"]), "conso"
    )
    exp_id = experiment.submit_experiment(iotlab_api, "full", 30, [resources])["id"]
    assert experiment.wait_experiment(iotlab_api, exp_id, step=0, timeout=5) == "Running"

    nodes = experiment.get_experiment(iotlab_api, exp_id, "nodes")["items"]
    names = [n["network_address"] for n in nodes]
    assert names == [f"m3-{i}.{G}" for i in (1, 2, 3)]
    assert {(n["archi"], n["site"], n["state"]) for n in nodes} == {(M3, "grenoble", "Busy")}
    assert experiment.get_experiment(iotlab_api, exp_id, "deployment") == {"0": names, "1": []}
    ids = experiment.get_experiment(iotlab_api, exp_id, "nodes_ids")["items"]
    assert ids == [{"site": "grenoble", "archis": [
        {"archi": M3, "states": [{"state": "Busy", "ids": "1-3"}]}]}]  # fmt: skip

    # the firmware associated at submission is flashed at launch, with its profile
    boards = iotlab_emulator.boards("grenoble")
    assert boards[names[0]]["firmware"]["sha256"] == _sha(firmwares["a"])
    assert boards[names[0]]["profile"] == "conso"

    # flash B on one board (.elf), then .hex and .bin on others
    result = node.node_command(iotlab_api, "flash", exp_id, [names[0]], str(firmwares["b"]))
    assert result == {"0": [names[0]], "1": []}
    assert node.node_command(iotlab_api, "flash", exp_id, [names[1]], str(firmwares["hex"]))[
        "0"] == [names[1]]  # fmt: skip
    assert node.node_command(iotlab_api, "flash", exp_id, [names[2]], str(firmwares["bin"]))[
        "0"] == [names[2]]  # fmt: skip
    flashed = iotlab_emulator.firmware()
    assert flashed[names[0]]["name"] == "fw_b.elf"
    assert flashed[names[0]]["sha256"] == _sha(firmwares["b"])
    assert flashed[names[1]]["name"] == "fw.hex"
    assert flashed[names[2]]["name"] == "fw.bin"
    paths = [r["path"] for r in iotlab_emulator.requests() if r["method"] == "POST"]
    assert f"/api/experiments/{exp_id}/nodes/flash/binary" in paths

    # profile by name, reset, stop/start
    assert node.node_command(iotlab_api, "profile-reset", exp_id)["0"] == names
    assert iotlab_emulator.boards()[names[0]]["profile"] is None
    assert node.node_command(iotlab_api, "profile", exp_id, [names[1]], "conso")["0"] == [
        names[1]]  # fmt: skip
    assert iotlab_emulator.boards()[names[1]]["profile"] == "conso"
    assert node.node_command(iotlab_api, "reset", exp_id) == {"0": names, "1": []}
    assert iotlab_emulator.boards()[names[2]]["resets"] == 1
    assert node.node_command(iotlab_api, "stop", exp_id, [names[2]])["0"] == [names[2]]
    assert node.node_command(iotlab_api, "reset", exp_id, [names[2]]) == {"0": [], "1": [names[2]]}
    assert node.node_command(iotlab_api, "start", exp_id, [names[2]])["0"] == [names[2]]

    # the archive is a real tar.gz with the description and the firmware
    archive = iotlab_api.get_experiment_info(exp_id, "data")
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert members[f"{exp_id}/fw_a.elf"] == firmwares["a"].read_bytes()
    assert json.loads(members[f"{exp_id}/{exp_id}.json"])["name"] == "full"

    assert experiment.stop_experiment(iotlab_api, exp_id)["id"] == exp_id
    assert experiment.get_experiment(iotlab_api, exp_id)["state"] == "Terminated"
    with pytest.raises(HTTPError) as killed:
        experiment.stop_experiment(iotlab_api, exp_id)
    assert "This job was already killed" in str(killed.value)
    # the boards got the idle firmware back and are free again
    assert iotlab_emulator.firmware() == {}
    states = {n["network_address"]: n["state"] for n in iotlab_api.get_nodes(site="grenoble")[
        "items"]}  # fmt: skip
    assert states[names[0]] == "Alive"
    assert iotlab_api.del_profile("conso") is None


def test_physical_reservation_as_string_and_states(
    iotlab_emulator_factory, iotlab_env, firmwares, monkeypatch
):
    from iotlabcli import auth, rest

    emu = iotlab_emulator_factory(launch_seconds=30)
    monkeypatch.setattr(rest.Api, "url", emu.url)
    api = rest.Api(*auth.get_user_credentials())
    start = int(emu.now()) + 3600
    description = {
        "name": "phys", "duration": 20, "reservation": str(start), "type": "physical",
        "nodes": [f"m3-5.{G}", f"a8-2.{G}"],
        "firmwareassociations": [{"firmwarename": "fw_a.elf", "nodes": [f"m3-5.{G}"]}],
        "profileassociations": None, "associations": None, "siteassociations": None,
        "profiles": None, "mobilities": None,
    }  # fmt: skip
    files = {"new_exp.json": json.dumps(description), "fw_a.elf": firmwares["a"].read_bytes()}
    exp_id = api.submit_experiment(files)["id"]
    exp = experiment.get_experiment(api, exp_id)
    assert (exp["state"], exp["type"], exp["reservation"]) == ("Waiting", "physical", start)
    assert exp["scheduled_date"] == "2026-04-01T11:00:00Z"
    assert exp["start_date"] == "1970-01-01T00:00:00Z"
    seen = []
    for step in (3600, 5, 10, 15, 20 * 60 - 1, 1):
        emu.advance(step)
        seen.append(experiment.get_experiment(api, exp_id)["state"])
    assert seen == ["toLaunch", "toLaunch", "Launching", "Running", "Running", "Terminated"]
    final = experiment.get_experiment(api, exp_id)
    assert final["effective_duration"] == 20
    assert final["stop_date"] == "2026-04-01T11:20:30Z"
    # the a8 is a Linux board: listed, but the firmware only went to the m3
    assert experiment.get_experiment(api, exp_id, "deployment")["0"] == [f"a8-2.{G}", f"m3-5.{G}"]
    with pytest.raises(RuntimeError, match="already in state 'Terminated'"):
        experiment.wait_experiment(api, exp_id, step=0, timeout=5)


def test_reservation_refused_with_oar_wording(iotlab_api, iotlab_emulator):
    all_m3 = experiment.AliasNodes(12, "saclay", M3)  # 11 usable: m3-12.saclay is Dead
    with pytest.raises(HTTPError) as short:
        experiment.submit_experiment(iotlab_api, "big", 60, [experiment.exp_resources(all_m3)])
    assert "There are not enough resources" in str(short.value)
    assert "11 usable" in str(short.value)

    first = experiment.exp_resources(experiment.AliasNodes(11, "saclay", M3))
    experiment.submit_experiment(iotlab_api, "first", 60, [first])
    again = experiment.exp_resources(experiment.AliasNodes(1, "saclay", M3))
    now = int(iotlab_emulator.now())
    with pytest.raises(HTTPError) as refused:
        experiment.submit_experiment(iotlab_api, "again", 10, [again], start_time=now + 600)
    # Europe/Paris wall clock: 12:00 + 60 min walltime
    assert ("Reservation not valid --> KO (This reservation could run at 2026-04-01 13:00:00)"
            in str(refused.value))  # fmt: skip
    with pytest.raises(HTTPError) as old:
        experiment.submit_experiment(iotlab_api, "old", 10, [again], start_time=now - 3600)
    assert "Reservation too old" in str(old.value)


def test_queue_expiry_and_replanning(iotlab_api, iotlab_emulator):
    whole = experiment.exp_resources(experiment.AliasNodes(8, "grenoble", "a8:at86rf231"))
    first = experiment.submit_experiment(iotlab_api, "first", 60, [whole])["id"]
    second = experiment.submit_experiment(iotlab_api, "second", 30, [whole])["id"]
    third = experiment.submit_experiment(iotlab_api, "third", 30, [whole])["id"]
    summary = {e["id"]: e for e in experiment.get_experiments_list(iotlab_api, None, 0, 0)[
        "items"]}  # fmt: skip
    assert [summary[i]["state"] for i in (first, second, third)] == [
        "Running", "Waiting", "Waiting"]  # fmt: skip
    assert summary[second]["scheduled_date"] == "2026-04-01T11:00:00Z"
    assert summary[third]["scheduled_date"] == "2026-04-01T11:30:00Z"

    # stopping the first moves the queue forward
    iotlab_emulator.advance(600)
    experiment.stop_experiment(iotlab_api, first)
    assert experiment.get_experiment(iotlab_api, second)["state"] == "Running"
    assert experiment.get_experiment(iotlab_api, third)["scheduled_date"] == "2026-04-01T10:40:00Z"

    # walltime expiry
    iotlab_emulator.advance(30 * 60)
    assert experiment.get_experiment(iotlab_api, second)["state"] == "Terminated"
    assert experiment.get_experiment(iotlab_api, third)["state"] == "Running"
    active = experiment.get_experiments_list(iotlab_api, "Running,Launching,toLaunch,Waiting", 0, 0)
    assert [e["id"] for e in active["items"]] == [third]
    limited = experiment.get_experiments_list(iotlab_api, None, 1, 1)["items"]
    assert [e["id"] for e in limited] == [second]


def test_reload_submits_again(iotlab_api, iotlab_emulator, firmwares):
    res = experiment.exp_resources(experiment.AliasNodes(2, "lille", "nrf52dk:ble"),
                                   str(firmwares["hex"]))  # fmt: skip
    exp_id = experiment.submit_experiment(iotlab_api, "reload-me", 10, [res])["id"]
    experiment.stop_experiment(iotlab_api, exp_id)
    later = int(iotlab_emulator.now()) + 7200
    new_id = experiment.reload_experiment(iotlab_api, exp_id, duration=15, start_time=later)["id"]
    assert new_id != exp_id
    new = experiment.get_experiment(iotlab_api, new_id)
    assert (new["name"], new["submitted_duration"], new["state"]) == ("reload-me", 15, "Waiting")
    old = experiment.get_experiment(iotlab_api, exp_id)
    assert new["firmwareassociations"] == old["firmwareassociations"]
    assert new["firmwareassociations"][0]["firmwarename"] == "fw.hex"
    iotlab_emulator.advance(7200)
    assert set(iotlab_emulator.firmware()) == {"nrf52dk-1.lille.iot-lab.info",
                                               "nrf52dk-2.lille.iot-lab.info"}  # fmt: skip


def test_profiles_crud_and_ranges(iotlab_api):
    radio = profile.ProfileA8(profilename="sniff", power="dc")
    radio.set_radio("sniffer", [26])
    rssi = profile.ProfileM3(profilename="rssi", power="battery")
    rssi.set_radio("rssi", [11, 14], period=100, num_per_channel=10)
    for prof in (radio, rssi):
        iotlab_api.add_profile(prof)
    assert {p["profilename"] for p in iotlab_api.get_profiles()} == {"sniff", "rssi"}
    assert [p["profilename"] for p in iotlab_api.get_profiles("a8")] == ["sniff"]
    assert iotlab_api.get_profile("rssi")["radio"] == {
        "mode": "rssi", "channels": [11, 14], "period": 100, "num_per_channel": 10}  # fmt: skip
    with pytest.raises(HTTPError) as dup:
        iotlab_api.add_profile(rssi)
    assert "already exists" in str(dup.value)
    bad = {"profilename": "bad", "power": "dc", "nodearch": "m3",
           "consumption": {"period": 150, "average": 16, "power": True}}  # fmt: skip
    with pytest.raises(HTTPError) as refused:
        iotlab_api.add_profile(bad)
    assert refused.value.code == 400 and "consumption.period: 150" in str(refused.value)
    bad_radio = {"profilename": "bad", "power": "dc", "nodearch": "m3",
                 "radio": {"mode": "rssi", "channels": [27], "period": 10}}  # fmt: skip
    with pytest.raises(HTTPError, match=r"radio\.channels: 27"):
        iotlab_api.add_profile(bad_radio)
    iotlab_api.del_profile("sniff")
    with pytest.raises(HTTPError) as gone:
        iotlab_api.get_profile("sniff")
    assert gone.value.code == 404


def test_wait_follows_a_running_clock(iotlab_emulator_factory, iotlab_env, monkeypatch):
    from iotlabcli import auth, rest

    emu = iotlab_emulator_factory(speed=600.0, launch_seconds=60)
    monkeypatch.setattr(rest.Api, "url", emu.url)
    api = rest.Api(*auth.get_user_credentials())
    start = int(emu.now()) + 120  # two virtual minutes: 0.2 s, then 0.1 s of launch
    res = experiment.exp_resources(experiment.AliasNodes(2, "saclay", "a8:at86rf231"))
    exp_id = experiment.submit_experiment(api, "soon", 1, [res], start_time=start)["id"]
    assert experiment.get_experiment(api, exp_id)["state"] == "Waiting"
    early = experiment.wait_experiment(api, exp_id, "toLaunch,Launching,Running", step=0.02,
                                       timeout=10)  # fmt: skip
    assert early in ("toLaunch", "Launching", "Running")
    with pytest.raises(RuntimeError, match="Terminated"):
        experiment.wait_experiment(api, exp_id, "Finishing", step=0.02, timeout=10)
    polls = [r for r in emu.requests() if r["path"] == f"/api/experiments/{exp_id}"]
    assert len(polls) > 3
