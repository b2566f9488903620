"""The seven guarantees of DESIGN.md, once for every provider.

Each test takes the provider's `conformance_harness` fixture (see harness.py) and drives
the public CLI on stacks the harness writes. Import everything into a test module::

    from bedform.conformance.suite import *  # noqa: F403

`BEDFORM_CONFORMANCE_SEED` fixes the random kill points of the crash test.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from bedform.conformance.harness import Harness
from bedform.conformance.plugin import conformance_stack
from bedform.conformance.stack import ConformanceStack

__all__ = [
    "conformance_stack",
    "test_1_second_apply_changes_nothing",
    "test_2_interrupted_create_is_adopted_not_duplicated",
    "test_3_only_what_changed_is_redeployed",
    "test_4_growing_keeps_the_mapping",
    "test_5_sigkill_then_apply_converges",
    "test_6_outside_breakage_is_drift",
    "test_7_destroy_is_complete_and_scoped",
]

NewStack = Callable[[], ConformanceStack]
NO_CHANGES = "No changes."
ADOPTED = "left by an interrupted run"
SEED = int(os.environ.get("BEDFORM_CONFORMANCE_SEED",
                          random.SystemRandom().randrange(1_000_000)))


def changed_addresses(plan: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The changes of a `plan --json` document that do something, by address."""
    return {c["address"]: c for c in plan["resource_changes"] if c["action"] != "no-op"}


def assert_converged(stack: ConformanceStack, context: str = "") -> None:
    """Every record ready, one remote object per key (no duplicate), exactly the objects
    the state records (no leak, nothing missing), and nothing left to do."""
    state = stack.state()
    pending = {a: r["status"] for a, r in state["resources"].items() if r["status"] != "ready"}
    assert not pending, f"{context}: records not ready: {pending}"
    owned = stack.owned()
    duplicates = {key: ids for key, ids in owned.items() if len(ids) > 1}
    assert not duplicates, f"{context}: duplicated remote objects: {duplicates}"
    recorded = stack.harness.recorded(state)
    leaked = sorted(set(owned) - set(recorded))
    missing = sorted(set(recorded) - set(owned))
    assert not leaked and not missing, \
        f"{context}: remote objects not in the state: {leaked}; recorded but gone: {missing}"
    again = stack.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, f"{context}: the next plan is not empty\n{again}"


def assert_destroyed(stack: ConformanceStack, context: str = "") -> None:
    """Nothing of the stack exists remotely nor in its state."""
    left = stack.owned()
    assert not left, f"{context}: objects left after destroy: {left}"
    resources = stack.state()["resources"]
    assert not resources, f"{context}: records left after destroy: {sorted(resources)}"


# 1. Idempotent apply -----------------------------------------------------------------
def test_1_second_apply_changes_nothing(conformance_harness: Harness,
                                        conformance_stack: NewStack) -> None:
    """A second apply makes no mutating call, changes no object nor the state's serial,
    says `No changes.`, and `plan --detailed-exitcode` exits 0."""
    stack = conformance_stack().write("small")
    stack.apply()
    conformance_harness.verify(stack)
    calls, objects = conformance_harness.mutations(), stack.incarnations()
    serial = stack.state()["serial"]
    second = stack.apply()
    assert NO_CHANGES in second.output, str(second)
    assert conformance_harness.mutations() == calls
    assert stack.incarnations() == objects
    assert stack.state()["serial"] == serial
    assert_converged(stack)


# 2. Reload, never resubmit -----------------------------------------------------------
def create_then_interrupt(stack: ConformanceStack, address: str) -> str:
    """Bring a new stack where a run killed right after creating `address` leaves it:
    `apply --target` makes the object and what it needs (its dependents do not exist
    yet), then its record goes back to the write-ahead one, identity and no attributes.
    Returns the object's remote ids."""
    stack.ok("apply", "--auto-approve", f"--target={address}")
    made = stack.incarnations()
    assert address in made, f"apply --target={address} did not make it: {sorted(made)}"
    path = stack.root / ".bedform" / "state.json"
    document = json.loads(path.read_text())
    document["resources"][address].update(status="pending_create", attributes={})
    document["serial"] += 1
    temporary = path.with_suffix(".conformance")
    temporary.write_text(json.dumps(document))
    temporary.replace(path)
    seen = stack.state()["resources"][address]
    assert seen["status"] == "pending_create" and not seen["attributes"], \
        f"editing {path} did not take (has the state format changed?): {seen}"
    return made[address]


def test_2_interrupted_create_is_adopted_not_duplicated(conformance_harness: Harness,
                                                        conformance_stack: NewStack) -> None:
    """An object left by an interrupted run (a pending record with its identity only) is
    found again and adopted: the plan says so, apply keeps the very object and makes
    what depends on it."""
    stack = conformance_stack().write("small")
    address = conformance_harness.adoptable()
    made = create_then_interrupt(stack, address)
    change = changed_addresses(stack.plan()).get(address)
    assert change is not None and change["reason"].startswith(ADOPTED), change
    stack.apply()
    assert stack.incarnations()[address] == made
    assert_converged(stack)
    conformance_harness.verify(stack)


# 3. Redeploy only what changed -------------------------------------------------------
def test_3_only_what_changed_is_redeployed(conformance_harness: Harness,
                                           conformance_stack: NewStack) -> None:
    """Changing one input touches that object and its dependents only; the plan says
    why; every other object is kept as it was."""
    change = conformance_harness.input_change()
    stack = conformance_stack().write("small")
    stack.apply()
    before = stack.incarnations()
    stack.write("small", changed=True)
    planned = changed_addresses(stack.plan())
    assert set(planned) == change.touched, f"{change.description}: {sorted(planned)}"
    for item in planned.values():
        assert item["action"] in ("update", "replace"), item
        assert item["reason"] in ("inputs changed", "dependency replaced"), item
    text = stack.ok("plan").output
    for address in planned:
        assert f"# {address} " in text and "(reason: " in text, text
    assert "# forces replacement" in text or "will be updated in-place" in text, text
    stack.apply()
    after = stack.incarnations()
    kept = {a for a in before if a not in change.touched}
    assert {a: after.get(a) for a in kept} == {a: before[a] for a in kept}
    replaced = {a for a, item in planned.items() if item["action"] == "replace"}
    assert all(after[a] != before[a] for a in replaced & set(before)), (before, after)
    assert_converged(stack, change.description)


# 4. Stable mapping -------------------------------------------------------------------
def test_4_growing_keeps_the_mapping(conformance_harness: Harness,
                                     conformance_stack: NewStack) -> None:
    """Growing a group only adds members: existing hosts keep their names, addresses
    and roles, and no object is recreated; the harness's `growth_updates` (a lease
    resized for the new members) are updated in place, keeping their remote objects."""
    updates = conformance_harness.growth_updates()
    stack = conformance_stack().write("small")
    stack.apply()
    hosts, roles = stack.inventory()
    before = stack.incarnations()
    assert updates <= set(before), f"growth_updates {sorted(updates - set(before))} " \
                                   "are not objects of the small stack"
    stack.write("grown")
    planned = changed_addresses(stack.plan())
    assert planned, "growing the stack planned nothing"
    assert {a: planned[a]["action"] for a in planned if a not in updates} == \
        {a: "create" for a in planned if a not in updates}, planned
    assert {a: (planned.get(a) or {}).get("action") for a in updates} == \
        {a: "update" for a in updates}, planned
    assert all(planned[a]["reason"] == "inputs changed" for a in updates), planned
    result = stack.apply()
    assert f" {len(updates)} changed, 0 destroyed." in result.output, str(result)
    grown_hosts, grown_roles = stack.inventory()
    assert {alias: grown_hosts.get(alias) for alias in hosts} == hosts
    assert len(grown_hosts) > len(hosts), grown_hosts
    assert all(set(aliases) <= set(grown_roles.get(role, ())) for role, aliases in
               roles.items()), (roles, grown_roles)
    after = stack.incarnations()
    assert {a: after.get(a) for a in before} == before
    assert_converged(stack)


# 5. Crash safety -----------------------------------------------------------------------
def test_5_sigkill_then_apply_converges(conformance_harness: Harness,
                                        conformance_stack: NewStack) -> None:
    """SIGKILL of `apply` (and of `destroy`) after a random number of mutating calls;
    the next run converges with no duplicate and no leak."""
    if not conformance_harness.supports_sigkill:
        pytest.skip(f"{conformance_harness.name} does not support SIGKILL tests")
    harness = conformance_harness
    rng = random.Random(SEED)
    stack = conformance_stack().write("small", slow=True)

    def progress() -> int:
        calls = harness.mutations()
        if calls is not None:
            return calls
        return sum(len(ids) for ids in stack.owned().values())

    mid_run = 0
    for round_ in range(harness.crash_rounds):
        for command in ("apply", "destroy"):
            context = f"seed {SEED} (BEDFORM_CONFORMANCE_SEED), round {round_}, {command}"
            mid_run += stack.run_killed((command, "--auto-approve"), progress,
                                        target=rng.randint(1, harness.crash_points),
                                        jitter=rng.uniform(0.0, 0.05),
                                        timeout=harness.run_timeout)
            harness.settle()
            # the kernel frees a killed holder's lock; allow its teardown a few seconds
            result = stack.run("--lock-timeout", "10", command, "--auto-approve")
            assert result.exit_code == 0, \
                f"{context}: {result}\nprocesses holding the lock: {stack.lock_holders()}"
            if command == "apply":
                assert_converged(stack, context)
                harness.verify(stack)
            else:
                assert_destroyed(stack, context)
    assert mid_run >= 1, f"seed {SEED}: no kill landed while a run was working"


# 6. Expiry and outside deletion are drift --------------------------------------------
@pytest.mark.parametrize("how", ["deleted", "expired", "killed"])
def test_6_outside_breakage_is_drift(conformance_harness: Harness,
                                     conformance_stack: NewStack, how: str) -> None:
    """An object deleted, expired or killed outside bedform shows in the plan, with its
    reason, as created again (its dependents replaced); `plan --detailed-exitcode`
    exits 2 and apply repairs exactly that."""
    if how not in conformance_harness.breakages:
        pytest.skip(f"{conformance_harness.name} cannot have an object {how} outside")
    stack = conformance_stack().write("small")
    stack.apply()
    before = stack.incarnations()
    broken = conformance_harness.break_object(stack, how)
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, str(plan)
    assert broken.reason in plan.output, str(plan)
    for address in broken.addresses:
        assert address in plan.output, str(plan)
    planned = changed_addresses(stack.plan())
    assert set(planned) == broken.addresses, sorted(planned)
    assert {item["action"] for item in planned.values()} <= {"create", "replace"}, planned
    stack.apply()
    after = stack.incarnations()
    kept = {a for a in before if a not in broken.addresses}
    assert {a: after.get(a) for a in kept} == {a: before[a] for a in kept}
    assert_converged(stack, f"after repairing what was {how}")
    conformance_harness.verify(stack)


# 7. Destroy is complete and scoped ---------------------------------------------------
def test_7_destroy_is_complete_and_scoped(conformance_harness: Harness,
                                          conformance_stack: NewStack) -> None:
    """Destroying one of two stacks side by side removes all its objects and none of
    the other's; a second destroy is a no-op."""
    one, two = conformance_stack().write("small"), conformance_stack().write("small")
    one.apply()
    two.apply()
    others, objects = two.owned(), two.incarnations()
    assert others, "the second stack owns nothing remotely"
    result = one.destroy()
    assert "Destroy complete!" in result.output, str(result)
    assert_destroyed(one)
    assert two.owned() == others
    assert two.incarnations() == objects
    assert_converged(two, "the other stack")
    calls = conformance_harness.mutations()
    again = one.destroy()
    assert NO_CHANGES in again.output, str(again)
    assert conformance_harness.mutations() == calls
