"""Fault controls, testbed views, authentication and refusals of the IoT-LAB emulator."""

import json
import time
from urllib.error import HTTPError

import pytest
import requests
from iotlabcli import experiment, node, rest

from bedform.emulators.iotlab import IotlabEmulator

M3 = "m3:at86rf231"
G = "grenoble.iot-lab.info"


def _control(emu: IotlabEmulator, method: str, path: str, body: dict | None = None):
    response = requests.request(method, f"{emu.base_url}/_emulator/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response


def _running(api, boards: int = 3, name: str = "exp") -> tuple[int, list[str]]:
    res = experiment.exp_resources(experiment.AliasNodes(boards, "grenoble", M3))
    exp_id = experiment.submit_experiment(api, name, 60, [res])["id"]
    nodes = experiment.get_experiment(api, exp_id, "nodes")["items"]
    return exp_id, [n["network_address"] for n in nodes]


def test_flash_failure_and_dead_board(iotlab_api, iotlab_emulator, firmwares):
    exp_id, names = _running(iotlab_api)
    fault = _control(iotlab_emulator, "POST", "faults",
                     {"kind": "node_ko", "command": "flash", "nodes": [names[1]], "count": 1})
    assert fault.status_code == 201 and fault.json()["nodes"] == [names[1]]
    first = node.node_command(iotlab_api, "flash", exp_id, [], str(firmwares["a"]))
    assert first == {"0": [names[0], names[2]], "1": [names[1]]}
    assert names[1] not in iotlab_emulator.firmware()
    # the fault was for one command only
    assert node.node_command(iotlab_api, "flash", exp_id, [], str(firmwares["a"]))["1"] == []

    dead = _control(iotlab_emulator, "POST", "boards", {"nodes": [names[2]], "state": "Dead"})
    assert dead.json() == {"nodes": [names[2]], "state": "Dead"}
    assert node.node_command(iotlab_api, "reset", exp_id) == {"0": names[:2], "1": [names[2]]}
    states = {n["network_address"]: n["state"]
              for n in experiment.get_experiment(iotlab_api, exp_id, "nodes")["items"]}
    assert states == {names[0]: "Busy", names[1]: "Busy", names[2]: "Dead"}
    # a Suspected board is not allocated; a Dead one cannot be asked for by name
    iotlab_emulator.set_board_state([f"m3-4.{G}"], "Suspected")
    _, more = _running(iotlab_api, 1, "more")
    assert more == [f"m3-5.{G}"]
    physical = experiment.exp_resources([names[2]])
    with pytest.raises(HTTPError, match="is Dead"):
        experiment.submit_experiment(iotlab_api, "phys", 10, [physical])
    assert iotlab_emulator.boards()[f"m3-4.{G}"]["health"] == "Suspected"


def test_http_faults_and_latency(iotlab_api, iotlab_emulator):
    _control(iotlab_emulator, "POST", "faults",
             {"path": "/api/experiments$", "method": "POST", "status": 503, "count": 1})
    res = experiment.exp_resources(experiment.AliasNodes(1, "grenoble", M3))
    with pytest.raises(HTTPError) as failed:
        experiment.submit_experiment(iotlab_api, "x", 10, [res])
    assert failed.value.code == 503
    assert experiment.submit_experiment(iotlab_api, "x", 10, [res])["id"] > 0
    iotlab_emulator.add_fault(path="/api/nodes", latency_ms=150, count=1)
    started = time.monotonic()
    iotlab_api.get_nodes()
    assert time.monotonic() - started >= 0.15
    assert _control(iotlab_emulator, "GET", "faults").json()["total"] == 0


def test_node_command_refusals(iotlab_api, iotlab_emulator, firmwares, tmp_path):
    exp_id, _ = _running(iotlab_api, 1)
    outsider = f"m3-20.{G}"
    assert node.node_command(iotlab_api, "reset", exp_id, [outsider]) == {"0": [], "1": [outsider]}
    bad = tmp_path / "broken.elf"
    bad.write_bytes(b"not an elf")
    with pytest.raises(HTTPError) as refused:
        node.node_command(iotlab_api, "flash", exp_id, [], str(bad))
    assert refused.value.code == 400 and "is not an ELF file" in str(refused.value)
    with pytest.raises(HTTPError, match="does not exist"):
        node.node_command(iotlab_api, "profile", exp_id, [], "nope")
    experiment.stop_experiment(iotlab_api, exp_id)
    with pytest.raises(HTTPError, match="is not running"):
        node.node_command(iotlab_api, "reset", exp_id)

    # Linux boards (a8, rpi3) cannot be flashed
    res = experiment.exp_resources(experiment.AliasNodes(1, "grenoble", "rpi3:at86rf233"))
    linux_id = experiment.submit_experiment(iotlab_api, "linux", 10, [res])["id"]
    result = node.node_command(iotlab_api, "flash", linux_id, [], str(firmwares["a"]))
    assert result == {"0": [], "1": [f"rpi3-1.{G}"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "mixed"}, "type: 'mixed' must be 'alias' or 'physical'"),
        ({"duration": 0}, "duration: must be a number of minutes >= 1"),
        ({"reservation": "soon"}, "reservation: 'soon' is not an integer"),
        ({"nodes": []}, "nodes: must be a non-empty list"),
        ({"firmwareassociations": [{"firmwarename": "x.elf", "nodes": ["1"]}]},
         "no file part named 'x.elf'"),
        ({"profileassociations": [{"profilename": "p", "nodes": ["1"]}]},
         "profile 'p' does not exist"),
        ({"profileassociations": [{"profilename": "p", "nodes": ["7"]}]},
         "7 not in the experiment"),
        ({"nodes": [{"alias": "1", "nbnodes": 1, "properties": {"archi": M3, "site": "nowhere"}}]},
         "site 'nowhere' does not exist"),
    ],
)
def test_submission_errors_name_the_field(iotlab_api, change, message):
    description = {"name": "bad", "duration": 10, "reservation": None, "type": "alias",
                   "nodes": [{"alias": "1", "nbnodes": 1,
                              "properties": {"archi": M3, "site": "grenoble", "mobile": False}}],
                   **change}  # fmt: skip
    with pytest.raises(HTTPError) as refused:
        iotlab_api.submit_experiment({"new_exp.json": json.dumps(description)})
    assert refused.value.code in (400, 500)
    assert message in str(refused.value)


@pytest.mark.filterwarnings("ignore:Non-string:DeprecationWarning")  # iotlabcli's Api(None, None)
def test_auth_and_public_routes(iotlab_api, iotlab_emulator):
    assert iotlab_api.check_credential() is True
    assert rest.Api("alice", "wrong").check_credential() is False
    answer = requests.get(f"{iotlab_emulator.url}experiments", timeout=10)
    assert answer.status_code == 401 and answer.json()["code"] == 401
    assert "Basic" in answer.headers["WWW-Authenticate"]
    assert [s["site"] for s in rest.Api.get_sites()["items"]] == ["grenoble", "lille", "saclay"]
    with pytest.raises(HTTPError):
        rest.Api(None, None).get_nodes()


def test_testbed_views(iotlab_api, iotlab_emulator):
    exp_id, names = _running(iotlab_api, 2)
    nodes = iotlab_api.get_nodes(site="saclay")["items"]
    assert {n["archi"] for n in nodes} == {M3, "a8:at86rf231", "nrf52dk:ble"}
    dead = next(n for n in nodes if n["network_address"] == "m3-12.saclay.iot-lab.info")
    assert dead["state"] == "Dead" and dead["uid"] and float(dead["x"]) >= 0
    assert set(dead) >= {"archi", "network_address", "site", "uid", "state", "x", "y", "z",
                         "mobile", "mobility_type", "camera", "production"}  # fmt: skip
    busy = iotlab_api.get_nodes(site="grenoble", archi="m3", state="Busy")["items"]
    assert [n["network_address"] for n in busy] == names
    ids = iotlab_api.get_nodes(list_id=True, site="lille", archi="m3")["items"]
    assert ids == [{"site": "lille", "archis": [{"archi": M3, "states": [
        {"state": "Absent", "ids": "16"}, {"state": "Alive", "ids": "1-15"}]}]}]  # fmt: skip
    details = {s["site"]: s for s in iotlab_api.get_sites_details()["items"]}
    assert {"archi": "rpi3:at86rf233", "mobile": 0, "total": 4} in details["grenoble"]["archis"]
    running = iotlab_api.get_running_experiments()["items"]
    assert [e["id"] for e in running] == [exp_id]

    gantt = iotlab_api.method(
        "drawgantt/experiments?start=2026-04-01T09:00:00Z&stop=2026-04-01T12:00:00Z"
    )["items"]
    assert gantt == [{"id": exp_id, "user": "alice", "state": "Running",
                      "start_date": "2026-04-01T10:00:00Z", "stop_date": "2026-04-01T11:00:00Z",
                      "submitted_duration": 60, "nodes": names}]  # fmt: skip
    assert iotlab_api.method(
        "drawgantt/experiments?start=2026-04-01T11:00:00Z&stop=2026-04-01T12:00:00Z"
    )["items"] == []

    user = iotlab_api.method("user")
    assert user["login"] == "alice" and user["sshkeys"] == []
    iotlab_api.set_ssh_keys({"sshkeys": ["ssh-ed25519 AAAA alice@lab"]})
    assert iotlab_api.get_ssh_keys() == {"sshkeys": ["ssh-ed25519 AAAA alice@lab"]}


def test_firmware_content_and_reset(iotlab_api, iotlab_emulator, firmwares):
    exp_id, names = _running(iotlab_api, 1)
    node.node_command(iotlab_api, "flash", exp_id, [], str(firmwares["b"]))
    content = _control(iotlab_emulator, "GET", f"boards/{names[0]}/firmware").content
    assert content == firmwares["b"].read_bytes()
    listed = _control(iotlab_emulator, "GET", "firmware").json()
    assert listed[names[0]]["name"] == "fw_b.elf"
    everything = _control(iotlab_emulator, "GET", "experiments").json()
    assert [e["id"] for e in everything["items"]] == [exp_id]
    _control(iotlab_emulator, "POST", "reset")
    assert iotlab_emulator.firmware() == {}
    assert iotlab_emulator.requests() == []
    with pytest.raises(HTTPError) as gone:
        experiment.get_experiment(iotlab_api, exp_id)
    assert gone.value.code == 404


def test_bad_json_body_gets_a_json_error(iotlab_emulator, iotlab_api):
    answer = requests.post(f"{iotlab_emulator.url}monitoring", data=b"{not json",
                           auth=("alice", "alice-pw"), timeout=10)  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["code"] == 400 and "Invalid JSON body" in answer.json()["message"]


def test_flash_fault_at_launch_is_used_only_where_it_fires(iotlab_api, iotlab_emulator, firmwares):
    target = f"m3-6.{G}"
    iotlab_emulator.add_fault(kind="node_ko", command="flash", nodes=[target], count=1)
    exp_id, _ = _running(iotlab_api, 2)  # m3-1, m3-2: the fault does not fire
    node.node_command(iotlab_api, "flash", exp_id, [], str(firmwares["a"]))
    assert [f["nodes"] for f in iotlab_emulator.app.list_faults()] == [[target]]

    res = experiment.exp_resources(experiment.AliasNodes(4, "grenoble", M3), str(firmwares["b"]))
    second = experiment.submit_experiment(iotlab_api, "with-fw", 10, [res])["id"]
    deployment = experiment.get_experiment(iotlab_api, second, "deployment")
    assert deployment["1"] == [target] and len(deployment["0"]) == 3
    assert iotlab_emulator.app.list_faults() == []
    assert target not in iotlab_emulator.firmware()
