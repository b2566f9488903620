"""EnOSlib's IoT-LAB call sequence (other-apis.md §1.6), made with iotlabcli, on the emulator."""

from collections import defaultdict
from urllib.error import HTTPError

from iotlabcli import experiment, node

ACTIVE = "Running,Launching,toLaunch,Waiting"
GROUPS = [("grenoble", "m3:at86rf231", 2, "a"), ("lille", "m3:at86rf231", 1, "b"),
          ("grenoble", "m3:at86rf231", 1, "a")]  # fmt: skip
PROFILE = {"profilename": "sniff11", "power": "dc", "nodearch": "m3", "consumption": None,
           "radio": {"mode": "sniffer", "channels": [11], "period": None,
                     "num_per_channel": None}}  # fmt: skip


def _init(api, firmwares, now: int) -> tuple[int, dict[str, list[str]]]:
    """One EnOSlib init: profiles, reload-or-submit, wait, map nodes to groups, flash."""
    if PROFILE["profilename"] not in [p["profilename"] for p in api.get_profiles()]:
        api.add_profile(PROFILE)
    found = [e for e in api.get_experiments(ACTIVE, 0, 0)["items"] if e["name"] == "enos"]
    if found:
        exp_id = found[0]["id"]
        assert found[0]["submitted_duration"] == 30
    else:
        resources = [
            experiment.exp_resources(experiment.AliasNodes(n, site, archi), None, "sniff11")
            for site, archi, n, _ in GROUPS
        ]
        # EnOSlib sends the reservation as a string of epoch seconds
        exp_id = experiment.submit_experiment(api, "enos", 30, resources, str(now))["id"]
    experiment.wait_experiment(api, exp_id, step=0, timeout=5)
    pools = defaultdict(list)
    for item in experiment.get_experiment(api, exp_id, "nodes")["items"]:
        pools[(item["site"], item["archi"])].append(item["network_address"])
    by_image = defaultdict(list)
    for site, archi, n, image in GROUPS:
        taken, pools[(site, archi)] = pools[(site, archi)][:n], pools[(site, archi)][n:]
        assert len(taken) == n
        by_image[image].extend(taken)
    assert not any(pools.values()), "every node of the experiment maps to a group"
    for image, boards in by_image.items():
        result = node.node_command(api, "flash", exp_id, boards, str(firmwares[image]))
        assert result == {"0": boards, "1": []}
    return exp_id, by_image


def _destroy(api) -> None:
    for exp in api.get_experiments(ACTIVE, 0, 0)["items"]:
        if exp["name"] == "enos":
            try:
                api.stop_experiment(exp["id"])
            except HTTPError as exc:  # EnOSlib tolerates this one
                assert "This job was already killed" in str(exc)
    for prof in api.get_profiles():
        if prof["profilename"] == PROFILE["profilename"]:
            api.del_profile(prof["profilename"])


def test_enoslib_sequence(iotlab_api, iotlab_emulator, firmwares):
    now = int(iotlab_emulator.now())
    exp_id, by_image = _init(iotlab_api, firmwares, now)
    records = iotlab_emulator.firmware()
    assert {records[b]["name"] for b in by_image["a"]} == {"fw_a.elf"}
    assert {records[b]["name"] for b in by_image["b"]} == {"fw_b.elf"}
    assert all(iotlab_emulator.boards()[b]["profile"] == "sniff11" for b in records)
    first = len(iotlab_emulator.requests())

    # a second init reuses the experiment by name (and reflashes, as EnOSlib does)
    assert _init(iotlab_api, firmwares, now)[0] == exp_id
    calls = [(r["method"], r["path"]) for r in iotlab_emulator.requests()[first:]]
    assert ("POST", "/api/experiments") not in calls
    assert calls.count(("POST", f"/api/experiments/{exp_id}/nodes/flash")) == 2

    # test_slot inputs: the whole testbed and the gantt of the window
    nodes = iotlab_api.get_nodes()["items"]
    assert len(nodes) == 24 + 8 + 4 + 16 + 6 + 2 + 12 + 6 + 4
    gantt = iotlab_api.method(
        "drawgantt/experiments?start=2026-04-01T10:00:00Z&stop=2026-04-01T10:10:00Z")["items"]
    assert [g["id"] for g in gantt] == [exp_id]

    _destroy(iotlab_api)
    assert iotlab_api.get_experiments(ACTIVE, 0, 0)["items"] == []
    assert iotlab_api.get_profiles() == []
    _destroy(iotlab_api)  # idempotent


def test_other_users_experiments_are_forbidden(iotlab_emulator, iotlab_api):
    from iotlabcli import rest

    res = experiment.exp_resources(experiment.AliasNodes(1, "saclay", "nrf52dk:ble"))
    exp_id = experiment.submit_experiment(iotlab_api, "mine", 10, [res])["id"]
    bob = rest.Api("bob", "bob-pw")
    try:
        bob.stop_experiment(exp_id)
    except HTTPError as exc:
        assert exc.code == 403
    else:
        raise AssertionError("bob stopped alice's experiment")
    assert bob.get_experiments("Running", 0, 0)["items"] == []
    assert [e["id"] for e in bob.get_running_experiments()["items"]] == [exp_id]
