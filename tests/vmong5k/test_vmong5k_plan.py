"""VMonG5k plans through the CLI against the API-only emulator (its nodes are not
reachable: the SSH steps are planned and recorded, not run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bedform import VMonG5k, VMonG5kConf
from bedform.emulators.g5k import G5kEmulator
from tests.g5k.conftest import G5kStack, emu  # noqa: F401 - the fixture


def write(stack: G5kStack, machines: list[dict[str, Any]], **section: Any) -> G5kStack:
    body = {"type": "vmong5k", "key": str(stack.key), "walltime": "01:00:00",
            "resources": {"machines": machines}, **section}
    stack.file.write_text(yaml.safe_dump({"name": "exp", "providers": {"vms": body}}))
    return stack


def test_plan_lists_job_deployment_nodes_batches_and_vms(tmp_path: Path,
                                                        emu: G5kEmulator) -> None:  # noqa: F811
    stack = write(G5kStack(tmp_path, emu), [
        {"roles": ["server"], "cluster": "parasilo", "number": 3,
         "flavour_desc": {"core": 16, "mem": 1024}},
        {"roles": ["client"], "cluster": "parasilo", "number": 2, "nodes": 1}])
    plan = stack.run("plan", "--out", str(tmp_path / "plan.bin"))
    assert plan.exit_code == 0, plan.output
    show = stack.run("show", "--json", str(tmp_path / "plan.bin"))
    document = json.loads(show.output)
    addresses = sorted(c["address"] for c in document["resource_changes"])
    # 3 VMs of 16 cores on 32-thread parasilo nodes: 2 nodes (EnOSlib's count)
    assert addresses == sorted([
        "vms.job[rennes]", "vms.deployment[rennes/prod-rennes]",
        "vms.hypervisor[0/0]", "vms.hypervisor[0/1]", "vms.hypervisor[1/0]",
        "vms.domains[0/0]", "vms.domains[0/1]", "vms.domains[1/0]",
        "vms.vm[0/0]", "vms.vm[0/1]", "vms.vm[0/2]", "vms.vm[1/0]", "vms.vm[1/1]"])
    job = next(c for c in document["resource_changes"] if c["address"] == "vms.job[rennes]")
    assert "slash_22=1" in job["after"]["resources"]
    assert "deploy" in job["after"]["types"]


def test_apply_without_reachable_nodes_records_the_vms(tmp_path: Path,
                                                      emu: G5kEmulator) -> None:  # noqa: F811
    stack = write(G5kStack(tmp_path, emu), [
        {"roles": ["vm"], "cluster": "parasilo", "number": 2, "nodes": 1}])
    stack.apply()
    state = stack.state()
    vm = state.resources["vms.vm[0/1]"].attributes
    assert vm["ip"].endswith(".3") and vm["mac"].startswith("00:16:3e:")
    assert state.resources["vms.hypervisor[0/0]"].attributes["executed"] is False
    assert "No changes." in stack.apply().output


def test_too_many_vms_for_the_subnet(tmp_path: Path, emu: G5kEmulator) -> None:  # noqa: F811
    stack = write(G5kStack(tmp_path, emu), [
        {"roles": ["vm"], "cluster": "parasilo", "number": 1100, "nodes": 4}])
    plan = stack.run("plan")
    assert plan.exit_code == 1
    assert "1100 VMs need 1100 addresses" in plan.output
    assert "subnet_type" in plan.output


def test_enoslib_style_class(tmp_path: Path, emu: G5kEmulator,  # noqa: F811
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAA x\n")
    conf = (VMonG5kConf.from_settings(job_name="vm-facade", walltime="01:00:00",
                                      key=str(key))
            .add_machine(roles=["vm"], cluster="parasilo", number=3, nodes=1)
            .add_network("lab").finalize())
    provider = VMonG5k(conf)
    assert provider.test_slot(int(emu.now()), int(emu.now()) + 3600)  # the G5k job's
    roles, networks = provider.init()
    assert len(roles["vm"]) == 3
    assert all(h.alias == "virtual-" + "-".join(h.address.split(".")[1:])
               for h in roles["vm"])
    assert all(h.extra["internal_gateway"].startswith("parasilo-") for h in roles["vm"])
    assert networks["enos_network"] and networks["lab"]
    assert provider.is_created()
    provider.destroy()
    assert not provider.is_created()
