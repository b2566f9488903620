"""Plan/apply of an IoT-LAB stack against the API emulator over HTTP, through the CLI:
first apply, no-op apply, firmware change, expiry, destroy."""

from __future__ import annotations

from iotlabcli import rest

from tests.iotlab.conftest import firmware, section


def active(emu) -> list[dict]:
    return [e for e in emu.app.testbed.list_experiments("alice", [
        "Running", "Launching", "toLaunch", "Waiting"], 0, 0)]


def test_apply_flashes_once_and_noop_apply_makes_no_mutation(stack):
    stack.write(**section(stack.fw_a))
    stack.apply()
    state = stack.state()
    exp = state.resources["iot.experiment"]
    assert exp.attributes["state"] == "Running"
    m3 = exp.attributes["groups[0]"]
    assert len(m3) == 3 and all(b.startswith("m3-") for b in m3)
    assert [b.split("-")[0] for b in exp.attributes["groups[1]"]] == ["a8"]
    records = stack.emu.firmware()
    assert sorted(records) == sorted(m3)
    assert {r["name"] for r in records.values()} == {"fw-a.elf"}
    assert len(stack.flashes()) == 1                        # one call for the group
    boards = stack.emu.boards("grenoble")
    assert all(boards[b]["profile"] == "rssi" for b in m3)
    roles = state.outputs["roles"]
    assert [h["address"] for h in roles["linux"]] == \
        [f"node-{exp.attributes['groups[1]'][0]}"]
    assert roles["linux"][0]["extra"] == {"gateway": "grenoble.iot-lab.info",
                                          "gateway_user": "alice"}
    assert sorted(s["address"] for s in roles["sensor"]) == sorted(m3)
    assert "lan" in state.outputs["networks"]
    stack.emu.clear_requests()
    again = stack.apply()
    assert "No changes" in again.output, again.output
    assert stack.posts() == [] and stack.flashes() == []
    gets = sorted(r["path"] for r in stack.emu.requests())
    assert gets == ["/api/experiments", "/api/monitoring"]   # one listing each
    assert len(active(stack.emu)) == 1


def test_changed_firmware_reflashes_only_its_group(stack):
    second = {"roles": ["other"], "archi": "m3:at86rf231", "site": "grenoble", "number": 2,
              "image": str(firmware(stack.root / "fw-c.elf", "firmware C"))}
    doc = section(stack.fw_a)
    doc["resources"]["machines"].append(second)
    stack.write(**doc).apply()
    exp = stack.state().resources["iot.experiment"].attributes
    first, other = exp["groups[0]"], exp["groups[2]"]
    firmware(stack.fw_a, "firmware B")                    # same path, new content
    stack.emu.clear_requests()
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "# iot.firmware[0] will be updated in-place (reason: changed outside: firmware " \
        "fw-a.elf changed (sha256 " in plan.output, plan.output
    assert "iot.firmware[2]" not in plan.output
    for board in first:
        assert board in plan.output                         # the plan names the boards
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.output
    stack.apply()
    assert len(stack.flashes()) == 1
    flash = next(r for r in stack.emu.requests() if "/nodes/flash" in r["path"])
    assert flash["status"] == 200
    records = stack.emu.firmware()
    digest_b = stack.state().resources["iot.firmware[0]"].inputs["sha256"]
    assert {records[b]["sha256"] for b in first} == {digest_b}
    assert {records[b]["name"] for b in other} == {"fw-c.elf"}
    assert stack.emu.boards()[first[0]]["flashes"] == 2
    assert stack.emu.boards()[other[0]]["flashes"] == 1


def test_force_deploy_reflashes_with_unchanged_firmware(stack):
    stack.write(**section(stack.fw_a)).apply()
    stack.emu.clear_requests()
    result = stack.run("apply", "--auto-approve", "--replace", "iot.firmware[0]")
    assert result.exit_code == 0, result.output
    assert len(stack.flashes()) == 1


def test_expiry_recreates_experiment_and_reflashes(stack):
    stack.write(**section(stack.fw_a)).apply()
    old = stack.state().resources["iot.experiment"].attributes["id"]
    stack.emu.advance(3601)
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "# iot.experiment will be created (reason: expired at" in plan.output, \
        plan.output
    for dependent in ("iot.firmware[0]", "iot.profile_association[0]", "iot.boot[1]"):
        assert f"# {dependent} will be created (reason: expired: its experiment " \
            "iot.experiment: expired at" in plan.output, plan.output
    assert "iot.profile[rssi]" not in plan.output.split("Plan:")[0].split("will be")[0]
    stack.emu.clear_requests()
    stack.apply()
    new = stack.state().resources["iot.experiment"].attributes
    assert new["id"] != old and new["state"] == "Running"
    assert len(stack.flashes()) == 1
    records = stack.emu.firmware()
    assert {records[b]["experiment"] for b in new["groups[0]"]} == {new["id"]}
    submits = [p for p in stack.posts() if p == "/api/experiments"]
    assert len(submits) == 1 and len(active(stack.emu)) == 1


def test_walltime_change_forces_replacement(stack):
    stack.write(**section(stack.fw_a)).apply()
    stack.write(**section(stack.fw_a, walltime="02:00"))
    plan = stack.run("plan")
    assert "# iot.experiment must be replaced" in plan.output, plan.output
    assert "forces replacement" in plan.output
    assert "# iot.firmware[0] must be replaced" in plan.output


def test_destroy_stops_experiment_and_removes_only_its_profiles(stack):
    api = rest.Api("alice", "alice-pw")
    api.url = stack.emu.url
    api.add_profile({"profilename": "theirs", "power": "dc", "nodearch": "m3",
                     "radio": None, "consumption": {"period": 140, "average": 1,
                                                    "power": True}})
    doc = section(stack.fw_a)
    doc["monitoring"]["profiles"].append({"name": "theirs", "archi": "m3", "consumption": {
        "period": 140, "average": 1, "power": True}})
    stack.write(**doc).apply()
    assert stack.state().resources["iot.profile[theirs]"].attributes["created"] is False
    result = stack.run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert active(stack.emu) == []
    assert [p["profilename"] for p in api.get_profiles()] == ["theirs"]
    assert not stack.state().resources


def test_physical_boards_get_their_firmware(stack):
    boards = ["m3-7.grenoble.iot-lab.info", "m3-9.grenoble.iot-lab.info"]
    stack.write(walltime="00:30", resources={"machines": [
        {"roles": ["named"], "hostname": boards, "image": str(stack.fw_a)},
        {"roles": ["linux"], "hostname": ["a8-2.grenoble.iot-lab.info"]}]})
    stack.apply()
    exp = stack.state().resources["iot.experiment"].attributes
    assert exp["groups[0]"] == boards and exp["groups[1]"] == ["a8-2.grenoble.iot-lab.info"]
    assert sorted(stack.emu.firmware()) == boards
    roles = stack.state().outputs["roles"]
    assert [h["address"] for h in roles["linux"]] == ["node-a8-2.grenoble.iot-lab.info"]
