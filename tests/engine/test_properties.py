"""Property: whatever the prior state, applying the plan then planning again is a no-op."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedform.planner.diff import Action
from bedform.planner.plan import Mode
from tests.engine.conftest import FakeStack

NETWORKS = ["a", "b", "c"]


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    networks = draw(st.lists(st.sampled_from(NETWORKS), unique=True, max_size=3))
    servers = []
    for group in draw(st.lists(st.sampled_from(["x", "y", "z"]), unique=True, max_size=3)):
        server: dict[str, Any] = {
            "name": group, "count": draw(st.integers(0, 3)),
            "size": draw(st.sampled_from(["s", "m"])),
            "image": draw(st.sampled_from(["debian", "ubuntu"]))}
        if networks and draw(st.booleans()):
            server["network"] = draw(st.sampled_from(networks))
        if draw(st.booleans()):
            server["job"] = "j"
        servers.append(server)
    jobs = [{"name": "j", "walltime": draw(st.sampled_from([100, 200]))}] \
        if any("job" in s for s in servers) else []
    return {"networks": [{"name": n, "cidr": f"10.{i}.0.0/24"} for i, n in
                         enumerate(networks)], "servers": servers, "jobs": jobs}


damage = st.fixed_dictionaries({
    "delete": st.lists(st.integers(0, 30), max_size=4),
    "expire": st.booleans(),
})


def _apply(stack: FakeStack) -> None:
    with stack.engine().session("apply") as session:
        session.apply(session.plan(Mode.APPLY))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=configurations(), second=configurations(), harm=damage)
def test_apply_then_plan_is_a_fixed_point(first: dict, second: dict, harm: dict) -> None:
    with tempfile.TemporaryDirectory() as root:
        stack = FakeStack(Path(root) / "s")
        stack.write(**first)
        _apply(stack)
        with stack.cloud.open() as data:
            keys = sorted(data["objects"])
            for index in harm["delete"]:
                if keys and index < len(keys):
                    data["objects"].pop(keys[index], None)
        if harm["expire"]:
            stack.cloud.advance(250)  # every job ends (walltimes are 100 or 200 s)
        stack.write(**second)
        _apply(stack)
        with stack.engine().session("plan") as session:
            plan = session.plan(Mode.APPLY)
        assert [c.address for c in plan.changes if c.action != Action.NOOP] == []
        names = [o["name"] for o in stack.owned()]
        assert len(names) == len(set(names))
        assert len(names) == len(plan.desired.resources)
