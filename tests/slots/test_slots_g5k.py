"""Common slots against the G5k emulator: busy clusters (bob's jobs), advance
reservations, OAR refusals with a hint, too-short windows, reloads, multi-site stacks."""

from __future__ import annotations

import math

import pytest
import yaml
from click.testing import CliRunner

from bedform.api.g5k import G5k
from bedform.api.providers import Providers, find_slot
from bedform.cli import main
from bedform.errors import InvalidReservationTime, NoSlotError
from bedform.planner import slots
from bedform.providers.g5k import G5kConf
from bedform.providers.g5k.client import epoch_to_paris
from tests.slots.conftest import busy, g5k_section, job_posts


def alice_jobs(emu):
    return [job for site in emu.testbed.sites.values() for job in site.jobs.values()
            if job.user == "alice" and job.state in ("waiting", "launching", "running")]


def provider(name: str, *clusters, walltime: str = "01:00:00") -> G5k:
    conf = G5kConf.from_dictionary({**g5k_section(*clusters, walltime=walltime),
                                    "job_name": name})
    return G5k(conf, name=name)


def first_step_after(start: float, when: float) -> float:
    return start + max(0, math.ceil((when - start) / slots.TIME_INCREMENT)) * \
        slots.TIME_INCREMENT


def test_common_slot_is_the_earliest_at_which_all_fit(emu):
    t0 = emu.now()
    busy(emu, "lyon", "hercule", 3, "1:00:00")           # 1 of 4 hercule nodes left
    a = provider("exp-a", ("lyon", "hercule", 2))
    b = provider("exp-b", ("nancy", "gros", 2))
    start = slots.default_start()
    emu.clear_requests()
    assert b.test_slot(int(start), int(start)) and not a.test_slot(int(start), int(start))
    providers = Providers([a, b])
    providers.async_init(start_time=start, time_window=7200)
    expected = first_step_after(start, t0 + 3600)
    assert providers.reservation == expected
    jobs = alice_jobs(emu)
    assert sorted(j.name for j in jobs) == ["exp-a", "exp-b"]
    assert {j.reservation for j in jobs} == {expected}    # one common start
    assert len(job_posts(emu)) == 2
    status_calls = [r for r in emu.requests() if r["path"].endswith("/status")]
    assert len(status_calls) == 2                         # cached per provider instance


def test_conflict_hint_moves_the_search_forward(emu, monkeypatch):
    a = provider("exp-a", ("lyon", "hercule", 2))
    b = provider("exp-b", ("nancy", "gros", 1))
    start = slots.default_start()
    real = G5k.check_slot
    raced = []

    def racing(self, start_time, end_time):
        # bob grabs hercule at the very start we pick, after we looked
        verdict = real(self, start_time, end_time)
        if not raced and self is a:
            raced.append(busy(emu, "lyon", "hercule", 4, "1:00:00",
                              reservation=epoch_to_paris(start_time)))
        return verdict
    monkeypatch.setattr(G5k, "check_slot", racing)
    providers = Providers([a, b])
    providers.async_init(start_time=start, time_window=7200)
    # the refusal's "could run at" (Paris time) is where the search resumed
    assert providers.reservation == start + 3600
    assert {j.reservation for j in alice_jobs(emu)} == {start + 3600}
    assert len(alice_jobs(emu)) == 2


def test_refusal_becomes_invalid_reservation_time_with_a_tz_aware_hint(emu):
    start = slots.default_start()
    busy(emu, "lyon", "hercule", 4, "2:00:00", reservation=epoch_to_paris(start))
    a = provider("exp-a", ("lyon", "hercule", 1))
    with pytest.raises(InvalidReservationTime) as info:
        a.async_init(start_time=int(start))
    hint = info.value.datetime
    assert hint.tzinfo is not None and hint.utcoffset() is not None
    assert hint.timestamp() == start + 7200
    assert alice_jobs(emu) == []


def test_window_too_short_says_what_blocked(emu):
    uid = busy(emu, "lyon", "hercule", 3, "2:00:00")
    a = provider("exp-a", ("lyon", "hercule", 2))
    b = provider("exp-b", ("nancy", "gros", 1))
    start = slots.default_start()
    with pytest.raises(NoSlotError) as info:
        find_slot([b, a], 3600, start)
    text = str(info.value)
    assert "exp-a refused starts" in text and "lyon/hercule: 1 of 2 node(s) free" in text
    assert f"{uid} (bob)" in text and slots.fmt_utc(start) in text
    assert "exp-b" not in text.split(":", 1)[1].split("\n", 1)[1]   # b never refused
    emu.clear_requests()
    with pytest.raises(Exception, match="Unable to start the providers"):
        Providers([a, b]).async_init(start_time=start, time_window=3600)
    assert job_posts(emu) == [] and alice_jobs(emu) == []


def test_reloading_providers_makes_no_new_reservation(emu):
    busy(emu, "lyon", "hercule", 3, "1:00:00")
    first = Providers([provider("exp-a", ("lyon", "hercule", 2)),
                       provider("exp-b", ("nancy", "gros", 2))])
    first.async_init(time_window=7200)
    emu.clear_requests()
    again = Providers([provider("exp-a", ("lyon", "hercule", 2)),
                       provider("exp-b", ("nancy", "gros", 2))])
    assert again.is_created()
    again.async_init(time_window=7200)
    assert job_posts(emu) == [] and again.reservation is None
    assert len(again.reloaded) == 2
    again.destroy()
    assert alice_jobs(emu) == []


def write_stack(path, **providers):
    path.write_text(yaml.safe_dump({"name": "multi", "providers": providers}))
    return path


def run(path, *args):
    return CliRunner().invoke(main, ["-c", str(path), *args])


def test_multi_site_plan_and_slots_command(emu, tmp_path):
    t0 = emu.now()
    busy(emu, "lyon", "hercule", 3, "1:00:00")
    stack = write_stack(tmp_path / "bedform.yaml", g5k={
        "type": "g5k", **g5k_section(("lyon", "hercule", 2), ("nancy", "gros", 2))})
    emu.clear_requests()
    result = run(stack, "slots", "--window", "2h")
    assert result.exit_code == 0, result.output
    assert "g5k: " in result.output and "candidate start(s)" in result.output
    assert "lyon/hercule: 1 of 2 node(s) free" in result.output
    assert "Common start: all providers start at" in result.output
    assert "Nothing was reserved." in result.output
    assert job_posts(emu) == []
    plan = run(stack, "plan", "--json")
    assert plan.exit_code == 0, plan.output
    import json
    doc = json.loads(plan.output)
    start = slots.default_start()
    expected = first_step_after(start, t0 + 3600)
    assert any(f"start at {slots.fmt_utc(expected)}" in n for n in doc["notes"]), doc["notes"]
    text = run(stack, "plan").output
    assert f"all providers start at {slots.fmt_utc(expected)}" in text
    assert epoch_to_paris(expected) in text               # both jobs carry it
    assert text.count(epoch_to_paris(expected)) >= 2
    exact = run(stack, "slots", "--start", slots.fmt_utc(expected)[:-4], "--window", "0")
    assert exact.exit_code == 0, exact.output
    assert f"start at {slots.fmt_utc(expected)}" in exact.output
    short = run(stack, "slots", "--window", "30m")
    assert short.exit_code == 1
    assert "lyon/hercule" in short.output and "refused starts" in short.output
    assert job_posts(emu) == []


def test_providers_init_then_rerun_reloads(g5k_emulator_factory, tmp_path, monkeypatch):
    from tests.slots.conftest import start_emulator

    # speed 10, not more: the slot step counts in real seconds, so a faster virtual
    # clock could pass the common start between the two submissions on a loaded machine
    emu = start_emulator(g5k_emulator_factory, tmp_path, monkeypatch, speed=10.0)

    def both():
        return Providers([provider("exp-a", ("lyon", "hercule", 1)),
                          provider("exp-b", ("nancy", "gros", 1))])
    first = both()
    roles, _ = first.init(time_window=3600)
    assert {len(roles["exp-a"]), len(roles["exp-b"])} == {1}
    jobs = alice_jobs(emu)
    assert len(jobs) == 2 and len({j.reservation for j in jobs}) == 1
    assert all(j.state == "running" for j in jobs)
    emu.clear_requests()
    again = both()
    roles2, _ = again.init(time_window=3600)           # a re-run of the same script
    assert job_posts(emu) == []
    assert [r for r in emu.requests() if r["method"] == "DELETE"] == []
    assert sorted(h.alias for h in roles2.all()) == sorted(h.alias for h in roles.all())
    again.destroy()
    assert alice_jobs(emu) == []


def test_new_provider_joins_the_start_of_a_reloaded_one(emu, tmp_path):
    from bedform.planner.engine import Engine
    from bedform.providers.base import Observed
    from bedform.stack import load_stack
    from bedform.state.model import Record

    stack = write_stack(tmp_path / "bedform.yaml",
                        a={"type": "g5k", **g5k_section(("lyon", "hercule", 1))},
                        b={"type": "g5k", **g5k_section(("nancy", "gros", 1))})
    later = slots.default_start() + 1800
    with Engine(load_stack(stack)).session("test", lock=False) as session:
        job = next(r for r in session.desired().resources.values() if r.kind == "g5k_job"
                   and r.provider == "a")
        session.state.resources[job.address] = Record(
            address=job.address, kind="g5k_job", provider="a",
            inputs={**job.inputs, "reservation": epoch_to_paris(later)},
            attributes={"uid": 1})
        plan = session.slot_plan(observed={job.address: Observed(alive=True)})
        assert plan is not None and plan.slotted == ["b"] and plan.reloaded == {"a": later}
        assert plan.start == later
        assert plan.overrides["b"].reservation == epoch_to_paris(later)
        assert plan.overrides["a"].reservation == epoch_to_paris(later)
