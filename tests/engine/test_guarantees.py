"""The seven guarantees of DESIGN.md, on the fake cloud through the real CLI."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter

import pytest

from bedform.state.model import Record, Status
from bedform.state.store import StateStore
from tests.engine.conftest import FakeStack, mutations
from tests.fakecloud import Cloud

BASE = {"networks": [{"name": "lan", "cidr": "10.0.0.0/24"}],
        "servers": [{"name": "web", "count": 2, "network": "lan"},
                    {"name": "db", "count": 1, "size": "large"}]}


def names(stack: FakeStack) -> Counter:
    return Counter(o["name"] for o in stack.owned())


# 1. Idempotent apply -----------------------------------------------------------------
def test_second_apply_makes_no_mutating_call(stack: FakeStack) -> None:
    stack.write(**BASE)
    first = stack.apply()
    assert "Apply complete! Resources: 4 added, 0 changed, 0 destroyed." in first.output
    before = mutations(stack)
    serial = stack.state().serial
    second = stack.apply()
    assert "No changes. Your infrastructure matches the configuration." in second.output
    assert mutations(stack) == before == 4
    assert stack.state().serial == serial
    assert stack.run("plan", "--detailed-exitcode").exit_code == 0


# 2. Reload, never resubmit -----------------------------------------------------------
def test_object_of_an_interrupted_run_is_adopted_not_duplicated(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    store = StateStore(stack.state_dir)
    state = store.load()
    # A run killed right after submitting a new server: its write-ahead record is on
    # disk, the object exists remotely, the id never reached the state.
    address = "fake.server[web-3]"
    name = f"{state.stack_id}:{address}"
    state.resources[address] = Record(address=address, kind="fake_server", provider="fake",
                                      status=Status.PENDING_CREATE, identity={"name": name})
    store.save(state)
    with stack.cloud.open() as data:
        data["objects"]["99"] = {"id": 99, "kind": "fake_server", "name": name,
                                 "inputs": {}, "cloud": str(stack.cloud.path)}
    stack.write(**{**BASE, "servers": [{**BASE["servers"][0], "count": 3},
                                       BASE["servers"][1]]})
    plan = stack.run("plan")
    assert "was found (created by an interrupted run; will be adopted)" in plan.output
    assert "reason: left by an interrupted run: id=99" in plan.output
    before = mutations(stack)
    stack.apply()
    assert mutations(stack) == before
    assert stack.state().resources[address].attributes["id"] == 99
    assert stack.state().resources[address].status == Status.READY
    assert max(names(stack).values()) == 1


# 3. Redeploy only what changed -------------------------------------------------------
def test_only_changed_objects_are_replaced_or_updated(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    ids = {a: r.attributes["id"] for a, r in stack.state().resources.items()}
    changed = {**BASE, "servers": [{**BASE["servers"][0], "image": "ubuntu"},
                                   {**BASE["servers"][1], "size": "xlarge"}]}
    stack.write(**changed)
    plan = stack.run("plan", "--json")
    document = json.loads(plan.output)
    actions = {c["address"]: c["action"] for c in document["resource_changes"]}
    assert actions == {"fake.network[lan]": "no-op", "fake.server[web-1]": "replace",
                       "fake.server[web-2]": "replace", "fake.server[db-1]": "update"}
    web = next(c for c in document["resource_changes"] if c["address"] ==
               "fake.server[web-1]")
    assert web["forces_replacement"] == ["image"]
    assert document["summary"] == {"add": 2, "change": 1, "destroy": 2}
    human = stack.run("plan").output
    assert '~ image = "debian" -> "ubuntu"  # forces replacement' in human
    assert "Plan: 2 to add, 1 to change, 2 to destroy." in human
    stack.apply()
    after = {a: r.attributes["id"] for a, r in stack.state().resources.items()}
    assert after["fake.network[lan]"] == ids["fake.network[lan]"]
    assert after["fake.server[db-1]"] == ids["fake.server[db-1]"]
    assert after["fake.server[web-1]"] != ids["fake.server[web-1]"]


# 4. Stable mapping ---------------------------------------------------------------------
def test_growing_a_group_adds_members_without_renaming(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    ids = {a: r.attributes["id"] for a, r in stack.state().resources.items()}
    roles = stack.state().outputs["roles"]
    stack.write(**{**BASE, "servers": [{**BASE["servers"][0], "count": 4},
                                       BASE["servers"][1]]})
    result = stack.apply()
    assert "2 added, 0 changed, 0 destroyed" in result.output
    after = {a: r.attributes["id"] for a, r in stack.state().resources.items()}
    assert {a: after[a] for a in ids} == ids
    grown = json.loads(stack.run("output", "--format", "json").output)
    assert set(grown["roles"]["web"]) == {"web-1", "web-2", "web-3", "web-4"}
    assert roles  # the earlier outputs existed and web-1/web-2 kept their addresses
    hosts = grown["hosts"]
    assert hosts["web-1"]["address"] == f"10.0.0.{ids['fake.server[web-1]']}"


# 5. Crash safety -----------------------------------------------------------------------
def _converged(stack: FakeStack, expected: set[str]) -> None:
    counts = names(stack)
    stack_id = stack.state().stack_id
    assert {n.split(":", 1)[1] for n in counts} == expected, counts
    assert all(n == 1 for n in counts.values()), counts
    state = stack.state()
    assert set(state.resources) == expected
    assert all(r.status == Status.READY for r in state.resources.values())
    assert all(o["name"].startswith(stack_id) for o in stack.cloud.live())


@pytest.mark.slow
def test_sigkill_at_random_points_never_duplicates_nor_leaks(stack: FakeStack) -> None:
    rng = random.Random(20261123)
    config = {**BASE, "latency": 0.2,
              "servers": [{"name": "web", "count": 6, "network": "lan"},
                          {"name": "db", "count": 2}]}
    stack.write(**config)
    expected = {"fake.network[lan]", *(f"fake.server[web-{i}]" for i in range(1, 7)),
                "fake.server[db-1]", "fake.server[db-2]"}
    killed_mid_run = 0
    for round_ in range(20):
        destroying = round_ % 2 == 1
        args = ["destroy", "--auto-approve"] if destroying else ["apply", "--auto-approve"]
        # Each run makes 9 mutating calls (all objects created, or all deleted): kill it
        # after a random number of them, at a random moment before the next one ends.
        target = mutations(stack) + rng.randint(1, 8)
        process = stack.spawn(*args)
        deadline = time.monotonic() + 20
        while mutations(stack) < target and process.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
        killed_mid_run += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
        if destroying:
            result = stack.run("destroy", "--auto-approve")
            assert result.exit_code == 0, result.output
            assert stack.owned() == [] or not stack.state().resources
            assert not [o for o in stack.cloud.live()], stack.cloud.live()
        else:
            stack.apply()
            _converged(stack, expected)
    assert killed_mid_run >= 16, "most kills must land while the run is working"
    assert stack.run("destroy", "--auto-approve").exit_code == 0
    assert stack.cloud.live() == []


# 6. Expiry is drift, not an error -----------------------------------------------------
def test_expired_job_is_recreated_with_its_dependents(stack: FakeStack) -> None:
    stack.write(jobs=[{"name": "batch", "walltime": 3600}],
                servers=[{"name": "node", "count": 2, "job": "batch"},
                         {"name": "other"}])
    stack.apply()
    stack.cloud.advance(4000)
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "# fake.job[batch] has been deleted (expired at" in plan.output
    assert "# fake.job[batch] will be created (reason: expired at" in plan.output
    assert "# fake.server[node-1] must be replaced" in plan.output
    assert "fake.server[other-1]" not in plan.output
    assert "Plan: 3 to add, 0 to change, 2 to destroy." in plan.output
    stack.apply()
    assert stack.run("plan", "--detailed-exitcode").exit_code == 0


def test_walltime_change_is_an_update_in_place(stack: FakeStack) -> None:
    stack.write(jobs=[{"name": "batch", "walltime": 3600}])
    stack.apply()
    job_id = stack.state().resources["fake.job[batch]"].attributes["id"]
    expires = stack.state().resources["fake.job[batch]"].expires_at
    stack.write(jobs=[{"name": "batch", "walltime": 7200}])
    result = stack.apply()
    assert "0 added, 1 changed, 0 destroyed" in result.output
    record = stack.state().resources["fake.job[batch]"]
    assert record.attributes["id"] == job_id
    assert record.expires_at == pytest.approx(expires + 3600)


# 7. Destroy is complete and scoped ----------------------------------------------------
def test_destroy_is_reverse_ordered_idempotent_and_scoped(stack: FakeStack, tmp_path) -> None:
    stack.write(**BASE)
    stack.apply()
    neighbour = FakeStack(tmp_path / "neighbour", cloud=stack.cloud).write(**BASE)
    neighbour.apply()
    with stack.cloud.open() as data:
        data["objects"]["500"] = {"id": 500, "kind": "fake_server", "name": "someone-else",
                                  "inputs": {}, "cloud": str(stack.cloud.path)}
    result = stack.run("destroy", "--auto-approve")
    assert "Destroy complete! Resources: 4 destroyed." in result.output
    log = [entry for entry in stack.cloud.snapshot()["log"] if entry[0] == "delete"]
    order = [name.split(":", 1)[1] for _, name in log]
    assert order.index("fake.network[lan]") > order.index("fake.server[web-1]")
    assert order.index("fake.network[lan]") > order.index("fake.server[web-2]")
    assert {o["name"] for o in stack.cloud.live()} == {"someone-else",
                                                       *(o["name"] for o in neighbour.owned())}
    assert len(neighbour.owned()) == 4
    again = stack.run("destroy", "--auto-approve")
    assert "No changes. No objects need to be destroyed." in again.output
    assert stack.state().resources == {}


def test_destroy_counts_already_gone_as_done(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    with stack.cloud.open() as data:
        data["objects"] = {k: o for k, o in data["objects"].items()
                           if not o["name"].endswith("fake.server[db-1]")}
    result = stack.run("destroy", "--auto-approve")
    assert result.exit_code == 0
    assert "fake.server[db-1] will be forgotten (reason: already gone)" in result.output
    assert stack.state().resources == {}
    assert Cloud(stack.cloud.path).live() == []
