"""State files, locking, saved plans, failures and interrupts."""

from __future__ import annotations

import json
import os
import signal
import stat
import time

from bedform.state.lock import StateLock
from bedform.state.store import StateStore
from tests.engine.conftest import REPO, FakeStack, mutations
from tests.engine.test_guarantees import BASE


def test_state_file_is_private_and_serial_bumps_only_on_change(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    path = stack.state_dir / "state.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["format"] == "bedform-state" and document["version"] == 1
    serial, lineage = document["serial"], document["lineage"]
    stack.apply()
    stack.run("plan")
    again = json.loads(path.read_text())
    assert (again["serial"], again["lineage"]) == (serial, lineage)
    stack.write(**{**BASE, "servers": BASE["servers"][:1]})
    stack.apply()
    assert json.loads(path.read_text())["serial"] > serial
    assert json.loads(path.read_text())["lineage"] == lineage


def test_corrupt_state_names_the_backup_and_is_not_overwritten(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    stack.write(**{**BASE, "servers": BASE["servers"][:1]})
    stack.apply()
    backups = StateStore(stack.state_dir).backups()
    assert backups, "a run that changed the state keeps the previous version"
    path = stack.state_dir / "state.json"
    truncated = path.read_text()[:200]
    path.write_text(truncated)
    result = stack.run("plan")
    assert result.exit_code == 1
    assert "not valid JSON" in result.output and "truncated" in result.output
    assert str(backups[-1]) in result.output
    assert "Traceback" not in result.output
    assert path.read_text() == truncated
    apply = stack.run("apply", "--auto-approve")
    assert apply.exit_code == 1 and path.read_text() == truncated


def test_unknown_state_version_is_refused(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    path = stack.state_dir / "state.json"
    document = json.loads(path.read_text())
    document["version"] = 99
    path.write_text(json.dumps(document))
    result = stack.run("plan")
    assert result.exit_code == 1
    assert "format version 99" in result.output


def test_concurrent_apply_fails_fast_naming_the_holder(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.state_dir.mkdir(parents=True)
    with StateLock(stack.state_dir, "apply") as lock:
        started = time.monotonic()
        result = stack.run("apply", "--auto-approve")
        assert time.monotonic() - started < 2
        assert result.exit_code == 1
        assert f"pid {os.getpid()}" in result.output
        assert "running 'apply'" in result.output
        assert lock.id in result.output
        started = time.monotonic()
        waited = stack.run("--lock-timeout", "0.6", "apply", "--auto-approve")
        assert waited.exit_code == 1
        assert time.monotonic() - started >= 0.6
    assert mutations(stack) == 0
    stack.apply()


def test_force_unlock_breaks_a_stuck_lock(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.state_dir.mkdir(parents=True)
    lock = StateLock(stack.state_dir, "apply")
    lock.acquire()
    try:
        wrong = stack.run("force-unlock", "not-the-id")
        assert wrong.exit_code == 1 and "does not match" in wrong.output
        assert stack.run("force-unlock", lock.id).exit_code == 0
        stack.apply()
    finally:
        lock.release()


def test_saved_plan_applies_exactly_and_refuses_when_stale(stack: FakeStack, tmp_path) -> None:
    stack.write(**BASE)
    planfile = tmp_path / "plan.json"
    result = stack.run("plan", "--out", str(planfile))
    assert result.exit_code == 0 and planfile.exists()
    assert stack.run("apply", str(planfile)).exit_code == 0
    assert len(stack.owned()) == 4
    # A plan made, then overtaken by another apply, is stale.
    stack.write(**{**BASE, "servers": BASE["servers"][:1]})
    assert stack.run("plan", "--out", str(planfile)).exit_code == 0
    stack.apply("--target", "fake.server[db-1]")
    stale = stack.run("apply", str(planfile))
    assert stale.exit_code == 1
    assert "saved plan is stale" in stale.output
    # A plan made before the configuration changed is stale too.
    assert stack.run("plan", "--out", str(planfile)).exit_code == 0
    stack.write(**BASE)
    changed = stack.run("apply", str(planfile))
    assert changed.exit_code == 1 and "configuration changed" in changed.output
    # A plan of another stack is foreign.
    other = FakeStack(tmp_path / "other").write(**BASE)
    other.apply()
    foreign_plan = tmp_path / "foreign.json"
    assert stack.run("plan", "--out", str(foreign_plan)).exit_code == 0
    foreign = other.run("apply", str(foreign_plan))
    assert foreign.exit_code == 1 and "another state" in foreign.output


def test_failed_change_skips_dependents_only(stack: FakeStack) -> None:
    stack.write(**BASE)
    with stack.cloud.open() as data:
        data["fail"] = ["fake.network[lan]"]
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1
    assert "fake.network[lan]: the cloud refused to create" in result.output
    assert "run `bedform apply` again to resume" in result.output
    state = stack.state()
    assert state.resources["fake.server[db-1]"].status == "ready"
    assert "fake.server[web-1]" not in state.resources
    with stack.cloud.open() as data:
        data["fail"] = []
    stack.apply()
    assert len(stack.owned()) == 4


def test_non_interactive_apply_needs_auto_approve(stack: FakeStack) -> None:
    stack.write(**BASE)
    result = stack.run("apply")
    assert result.exit_code == 1
    assert "--auto-approve" in result.output
    assert mutations(stack) == 0


def test_json_events_are_one_object_per_line(stack: FakeStack) -> None:
    stack.write(**BASE)
    result = stack.run("apply", "--auto-approve", "--json")
    events = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    kinds = [e["type"] for e in events]
    assert kinds.count("apply_start") == 4 and kinds.count("apply_complete") == 4
    assert kinds[-1] == "change_summary"
    assert all({"@level", "@message", "@timestamp"} <= set(e) for e in events)


def test_first_sigint_stops_gracefully_and_apply_resumes(stack: FakeStack) -> None:
    stack.write(**{**BASE, "latency": 3.0})
    process = stack.spawn("apply", "--auto-approve", env={**os.environ,
                                                          "PYTHONPATH": str(REPO),
                                                          "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "Creating..." not in seen and time.monotonic() < deadline:   # the apply runs
        seen += process.stdout.readline()
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    output = seen + rest
    assert process.returncode == 1, output
    assert "Interrupt received" in output
    assert "apply interrupted" in output
    stack.write(**BASE)
    stack.apply()
    counts = [o["name"] for o in stack.owned()]
    assert len(counts) == len(set(counts)) == 4


def test_validate_reports_file_and_field(stack: FakeStack) -> None:
    stack.write(servers=[{"name": "web", "network": "nope"}])
    result = stack.run("validate")
    assert result.exit_code == 1
    assert f"{stack.file}: providers.fake.servers[0].network: unknown network 'nope'" \
        in result.output
    stack.write(servers=[{"name": "web", "colour": "blue"}])
    result = stack.run("validate")
    assert "providers.fake.servers[0].colour: unknown field 'colour'" in result.output
    stack.file.write_text("name: x\nproviders:\n  fake: [unclosed\n")
    result = stack.run("validate")
    assert result.exit_code == 1 and "invalid YAML at line" in result.output
    assert "Traceback" not in result.output


def test_state_commands(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    listing = stack.run("state", "list").output.split()
    assert listing == sorted(["fake.network[lan]", "fake.server[web-1]",
                              "fake.server[web-2]", "fake.server[db-1]"])
    shown = json.loads(stack.run("state", "show", "fake.server[db-1]").output)
    assert shown["fake.server[db-1]"]["kind"] == "fake_server"
    object_id = shown["fake.server[db-1]"]["attributes"]["id"]
    assert stack.run("state", "rm", "fake.server[db-1]").exit_code == 0
    assert "fake.server[db-1]" not in stack.state().resources
    imported = stack.run("import", "fake.server[db-1]", str(object_id))
    assert imported.exit_code == 0, imported.output
    before = mutations(stack)
    assert "No changes." in stack.apply().output
    assert mutations(stack) == before
    dot = stack.run("graph", "--destroy").output
    assert '"delete fake.server[web-1]" -> "delete fake.network[lan]";' in dot


def test_refresh_only_records_drift_and_changes_nothing(stack: FakeStack) -> None:
    stack.write(**BASE)
    stack.apply()
    with stack.cloud.open() as data:
        data["objects"] = {k: o for k, o in data["objects"].items()
                           if not o["name"].endswith("fake.server[db-1]")}
    plan = stack.run("plan", "--refresh-only", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "# fake.server[db-1] has been deleted" in plan.output
    before = mutations(stack)
    applied = stack.run("apply", "--refresh-only", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Refresh recorded: 1 object(s) no longer exist." in applied.output
    assert "fake.server[db-1]" not in stack.state().resources
    assert mutations(stack) == before
    assert stack.run("plan", "--refresh-only", "--detailed-exitcode").exit_code == 0
    refreshed = stack.run("refresh")
    assert "Refresh complete: 0 object(s) gone." in refreshed.output
