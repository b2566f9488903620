"""`destroy --target` removes the target and what depends on it, never its dependencies
(issue 17, item 1): a shared network or job stays up for the other servers."""

from __future__ import annotations

from tests.engine.conftest import FakeStack

STACK = {"networks": [{"name": "lan", "cidr": "10.0.0.0/24"}],
         "jobs": [{"name": "batch"}],
         "servers": [{"name": "web", "count": 2, "network": "lan", "job": "batch"}]}


def names(stack: FakeStack) -> set[str]:
    return {o["name"].split(":", 1)[1] for o in stack.owned()}


def test_targeting_a_leaf_destroys_it_alone(stack: FakeStack) -> None:
    stack.write(**STACK).apply()
    plan = stack.run("plan", "--destroy", "--target", "fake.server[web-1]")
    assert plan.exit_code == 0, plan.output
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in plan.output
    assert "Targeted destroy keeps what the targets depend on: fake.job[batch], " \
           "fake.network[lan]." in plan.output
    result = stack.run("destroy", "--auto-approve", "--target", "fake.server[web-1]")
    assert result.exit_code == 0, result.output
    assert names(stack) == {"fake.job[batch]", "fake.network[lan]", "fake.server[web-2]"}
    assert set(stack.state().resources) == names(stack)


def test_targeting_a_shared_object_takes_its_dependents_with_it(stack: FakeStack) -> None:
    stack.write(**STACK).apply()
    result = stack.run("destroy", "--auto-approve", "--target", "fake.network[lan]")
    assert result.exit_code == 0, result.output
    assert "3 destroyed" in result.output
    assert names(stack) == {"fake.job[batch]"}
    assert set(stack.state().resources) == {"fake.job[batch]"}   # nothing left dangling
