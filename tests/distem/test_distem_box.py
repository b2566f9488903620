"""Distem against the Grid'5000 box, through the CLI: 2 groups x 3 vnodes on 2 nodes, every
vnode a real SSH host at its vnetwork address (through the access frontend and the
coordinator) that sees the others; no-op, growth, drift and destroy, counted in the G5k
API's and distemd's request logs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bedform.providers.distem.client import coordinator_api
from tests.distem.conftest import DistemStack

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")]

GROUPS = [{"roles": ["server"], "cluster": "parasilo", "number": 3},
          {"roles": ["client"], "cluster": "parasilo", "number": 3,
           "flavour_desc": {"core": 2, "mem": 1024}}]


def ssh(config: Path, host: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", host, command],
                          capture_output=True, text=True, timeout=60, check=False)


def test_vnodes_answer_ssh_grow_drift_and_destroy(stack: DistemStack, tmp_path: Path
                                                  ) -> None:
    stack.write(GROUPS).apply()
    vnodes = stack.vnodes()
    assert len(vnodes) == 6
    pnodes = sorted({v["pnode"] for v in vnodes.values()})
    assert len(pnodes) == 2     # one node per group (6 cores fit in one parasilo node)
    assert {vnodes[f"distem.vnode[0/{k}]"]["pnode"] for k in range(3)} == {pnodes[0]}
    addresses = {v["name"]: v["address"] for v in vnodes.values()}
    assert sorted(addresses.values()) == sorted(
        vnodes[f"distem.vnode[{g}/{k}]"]["address"] for g in range(2) for k in range(3))
    subnet_first = min(addresses.values(), key=lambda a: tuple(map(int, a.split("."))))
    assert subnet_first.endswith(".1")   # slots from the subnet's first host address

    config = tmp_path / "ssh_config"
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    names = sorted(addresses)
    probe = "; ".join(f"timeout 3 bash -c '</dev/tcp/{addresses[n]}/22' && echo {n}"
                      for n in names)
    for name in names:
        result = ssh(config, name, f"hostname; ip -br -4 addr show if0; {probe}")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == name
        assert f"{addresses[name]}/22" in lines[1]
        assert lines[2:] == names, f"{name} sees {lines[2:]}"

    # no-op: no mutating call to the G5k API or to distemd
    stack.emu.clear_requests()
    before = len(stack.distem_mutations())
    assert "No changes." in stack.apply().output
    assert stack.mutations() == []
    assert len(stack.distem_mutations()) == before

    # growing the server group by 2 adds exactly 2 vnodes, next slots, nothing moves
    grown = [{**GROUPS[0], "number": 5}, GROUPS[1]]
    plan = stack.write(grown).run("plan").output
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in plan, plan
    stack.apply()
    after = stack.vnodes()
    assert {a: v for a, v in after.items() if a in vnodes} == vnodes
    new = {a: v for a, v in after.items() if a not in vnodes}
    assert sorted(new) == ["distem.vnode[0/3]", "distem.vnode[0/4]"]
    assert {v["pnode"] for v in new.values()} == {pnodes[0]}
    taken = {tuple(map(int, v["address"].split("."))) for v in vnodes.values()}
    free = sorted(tuple(map(int, v["address"].split("."))) for v in new.values())
    assert all(f > max(taken) for f in free)

    # a vnode removed through the Distem API: the plan re-creates it alone, same address
    jump = {"gateway": stack.emu.box.access, "gateway_user": "alice"}  # type: ignore[union-attr]
    with coordinator_api(stack.coordinator(), jump) as api:
        assert api.call("vnode_execute", "vnode-1-0", "hostname").strip() == "vnode-1-0"
        api.call("vnode_remove", "vnode-1-1")
        api.call("vnode_stop", "vnode-0-0")
    plan = stack.run("plan").output
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in plan, plan
    assert "vnode vnode-1-1 removed outside bedform" in plan
    assert "vnode vnode-0-0 is DOWN" in plan
    stack.apply()
    repaired = stack.vnodes()
    assert repaired == after
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    assert ssh(config, "vnode-1-1", "hostname").stdout.strip() == "vnode-1-1"

    # destroy: no vnode, no vnetwork, no job
    assert stack.run("destroy", "--auto-approve").exit_code == 0
    assert stack.emu.box is not None
    assert stack.emu.box.containers.view() == []
    jobs = stack.emu.testbed.sites["rennes"].active  # type: ignore[attr-defined]
    assert not [j for j in jobs.values() if j.state == "running"]
