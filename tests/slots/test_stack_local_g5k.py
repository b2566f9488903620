"""A stack with a local provider and a two-site Grid'5000 provider: local hosts come up at
apply, the g5k jobs at the common slot; destroy removes both."""

from __future__ import annotations

import yaml

from bedform.planner import slots
from bedform.providers.g5k.client import paris_to_epoch
from bedform.providers.local import cleanup
from tests.local.conftest import LocalStack, root_only
from tests.slots.conftest import g5k_section, job_posts, start_emulator


@root_only
def test_local_and_g5k_share_one_apply(g5k_emulator_factory, tmp_path, monkeypatch):
    # 60 virtual seconds per real second: the reservation a minute ahead starts in ~1 s
    emu = start_emulator(g5k_emulator_factory, tmp_path, monkeypatch, speed=60.0)
    stack = LocalStack(tmp_path / "stack", "mixed")
    try:
        stack.file.write_text(yaml.safe_dump({"name": "mixed", "providers": {
            "here": {"type": "local", "resources": {
                "machines": [{"roles": ["ctl"], "number": 1, "networks": ["lan"]}],
                "networks": [{"id": "lan", "cidr": "198.18.130.0/24", "roles": ["lan"]}]}},
            "g5k": {"type": "g5k", **g5k_section(("lyon", "hercule", 1),
                                                   ("nancy", "gros", 1))}}}))
        plan = stack.run("plan")
        assert plan.exit_code == 0, plan.output
        assert "g5k start at" in plan.output, plan.output
        assert "here has no reservations: created at apply" in plan.output
        before = slots.now()
        result = stack.apply()
        state = stack.state()
        jobs = [state.resources[f"g5k.job[{s}]"] for s in ("lyon", "nancy")]
        starts = {paris_to_epoch(j.inputs["reservation"]) for j in jobs}
        assert len(starts) == 1                              # one common start
        start = starts.pop()
        assert start >= before + slots.START_MARGIN
        assert all(j.attributes["started_at"] >= start for j in jobs), result.output
        assert len(job_posts(emu)) == 2
        hosts = stack.hosts()
        assert "ctl-1" in hosts or any(h.startswith("ctl") for h in hosts)
        assert any(a.startswith("here.host") for a in state.resources)
        emu.clear_requests()
        again = stack.apply()
        assert "No changes" in again.output, again.output   # reload keeps its reservation
        assert job_posts(emu) == []
        stack.destroy()
        assert not stack.state().resources
        assert not any(any(v) for v in cleanup.leftovers(stack.stack_id).values())
        assert [j for s in emu.testbed.sites.values() for j in s.jobs.values()
                if j.user == "alice" and j.state in ("waiting", "launching", "running")] == []
    finally:
        found = cleanup.purge(stack.stack_id)
        assert not any(found.values()), f"objects survived the test: {found}"
