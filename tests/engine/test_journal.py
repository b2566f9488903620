"""The state journal: replay after a kill, torn and foreign journals, kills while folding."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bedform.errors import StateError
from bedform.state import journal as journal_module
from bedform.state.journal import apply_entries, encode_entry, read_journal
from bedform.state.model import Record
from bedform.state.store import State, StateStore, StateWriter
from tests.engine.conftest import REPO, FakeStack, mutations
from tests.engine.test_guarantees import BASE

SLOTS = 40  # records the changes below cycle through


def host(n: int) -> Record:
    """The record change number `n` writes: slot n % SLOTS, attributes naming n."""
    return Record(address=f"mem.host[h{n % SLOTS}]", kind="mem_host", provider="mem",
                  inputs={"size": "m"}, attributes={"id": f"i-{n}", "n": n})


def make_changes(store: StateStore, state: State, count: int) -> None:
    """`count` changes, each one record written (serial + 1 each)."""
    writer = StateWriter(store, state)
    for _ in range(count):
        record = host(state.serial + 1)
        writer.change(lambda s, r=record: s.resources.__setitem__(r.address, r), record.address)


def expected_records(serial: int) -> dict[str, int]:
    """Slot address -> the change number it holds once changes 1..serial are applied."""
    return {host(n).address: n for n in range(max(1, serial - SLOTS + 1), serial + 1)}


def holds(state: State) -> dict[str, int]:
    return {address: record.attributes["n"] for address, record in state.resources.items()}


def killed_run(directory: Path, count: int) -> StateStore:
    """A store left as by a run killed after `count` changes: the journal not folded."""
    store = StateStore(directory)
    with store.locked("apply"):
        make_changes(store, store.load(), 1)  # the first change of a new state writes it
    make_changes(store, store.load(), count)  # unlocked: nothing folds at the end
    return store


def file_serial(store: StateStore) -> int:
    return json.loads(store.path.read_text())["serial"]


def test_a_run_journals_its_changes_and_folds_them_at_its_end(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with store.locked("apply"):
        state = store.load()
        make_changes(store, state, 1)
        assert file_serial(store) == 1 and not store.journal_path.exists()
        make_changes(store, state, 5)
        assert file_serial(store) == 1, "later changes are appended, not rewritten"
        assert stat.S_IMODE(store.journal_path.stat().st_mode) == 0o600
        lines = store.journal_path.read_text().splitlines()
        assert [json.loads(line)["serial"] for line in lines] == [2, 3, 4, 5, 6]
        assert {json.loads(line)["lineage"] for line in lines} == {state.lineage}
    assert not store.journal_path.exists()
    assert file_serial(store) == 6
    assert holds(StateStore(tmp_path).load()) == expected_records(6)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_change_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    store = killed_run(tmp_path, 3)
    with store.locked("apply"):
        state = store.load()
        writer = StateWriter(store, state)
        writer.change(lambda s: None)
        writer.change(lambda s: s.resources[host(4).address].attributes.update(n=4),
                      host(4).address)
        assert state.serial == 4 and not store.journal_path.exists()
    assert file_serial(store) == 4


def test_a_killed_run_is_replayed_in_memory_unlocked_and_folded_locked(
        tmp_path: Path) -> None:
    store = killed_run(tmp_path, 7)
    assert file_serial(store) == 1 and store.journal_path.exists()
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    state = StateStore(tmp_path).load()
    assert state.serial == 8 and holds(state) == expected_records(8)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before, \
        "a load without the lock (plan, show) writes nothing"
    fresh = StateStore(tmp_path)
    with fresh.locked("plan"):
        assert holds(fresh.load()) == expected_records(8)
        assert not store.journal_path.exists() and file_serial(store) == 8
    backups = fresh.backups()
    assert len(backups) == 1 and json.loads(backups[0].read_text())["serial"] == 1


def test_replay_is_idempotent(tmp_path: Path) -> None:
    store = killed_run(tmp_path, 5)
    document = json.loads(store.path.read_text())
    contents = read_journal(store.journal_path, document["lineage"])
    assert contents is not None
    assert apply_entries(document, contents.entries, store.journal_path) == 5
    once = json.dumps(document, sort_keys=True)
    assert apply_entries(document, contents.entries, store.journal_path) == 0
    assert json.dumps(document, sort_keys=True) == once
    assert StateStore(tmp_path).load().to_dict() == StateStore(tmp_path).load().to_dict()


def test_a_torn_last_line_is_ignored_and_the_next_change_continues(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = killed_run(tmp_path, 4)
    whole = store.journal_path.read_bytes()
    line = whole.splitlines(keepends=True)[-1]
    store.journal_path.write_bytes(whole + line[:len(line) // 2])  # a write cut short
    caplog.set_level(logging.WARNING)
    state = StateStore(tmp_path).load()
    assert state.serial == 5 and holds(state) == expected_records(5)
    assert not caplog.records, "nothing is lost until a locked load drops the line"
    # A writer without the lock appends after the last whole line, not after the tear.
    writer_store = StateStore(tmp_path)
    make_changes(writer_store, writer_store.load(), 2)
    assert StateStore(tmp_path).load().serial == 7
    store.journal_path.write_bytes(store.journal_path.read_bytes() + b'{"lineage":')
    locked = StateStore(tmp_path)
    with locked.locked("apply"):
        assert holds(locked.load()) == expected_records(7)
    assert file_serial(store) == 7 and not store.journal_path.exists()
    [warning] = [r.getMessage() for r in caplog.records]
    assert str(store.journal_path) in warning and "incomplete change (11 bytes)" in warning


def test_a_complete_journal_folds_without_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = killed_run(tmp_path, 2)
    caplog.set_level(logging.WARNING)
    with store.locked("apply"):
        store.load()
    assert not caplog.records and file_serial(store) == 3


def test_a_damaged_line_before_the_end_is_refused(tmp_path: Path) -> None:
    store = killed_run(tmp_path, 3)
    lines = store.journal_path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"n":', b'"m":')  # the checksum no longer matches
    store.journal_path.write_bytes(b"".join(lines))
    with pytest.raises(StateError) as error, store.locked("apply"):
        store.load()
    assert f"state journal {store.journal_path} is damaged" in str(error.value)
    assert file_serial(store) == 1, "nothing is folded from a damaged journal"


def test_an_operation_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    store = killed_run(tmp_path, 1)
    lineage = json.loads(store.path.read_text())["lineage"]
    with store.journal_path.open("a") as journal:
        journal.write(encode_entry(lineage, 3, ['["rename","a","b"]']))
    with pytest.raises(StateError) as error:
        StateStore(tmp_path).load()
    assert 'entry 3 has an operation this bedform cannot read: ["rename"' in str(error.value)
    assert str(store.journal_path) in error.value.hint


def test_a_journal_of_another_state_is_ignored_and_set_aside(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    other = killed_run(tmp_path / "other", 3)
    store = killed_run(tmp_path / "mine", 0)
    store.journal_path.write_bytes(other.journal_path.read_bytes())
    caplog.set_level(logging.WARNING)
    state = StateStore(store.directory).load()
    assert state.serial == 1 and holds(state) == expected_records(1)
    [ignored] = [r.getMessage() for r in caplog.records]
    assert str(store.journal_path) in ignored and "another state" in ignored
    assert store.journal_path.exists(), "without the lock, nothing is moved"
    caplog.clear()
    with store.locked("apply"):
        assert store.load().serial == 1
    [moved] = [r.getMessage() for r in caplog.records]
    [aside] = store.backup_dir.glob("journal-*.ignored")
    assert str(store.journal_path) in moved and str(aside) in moved
    assert aside.read_bytes() == other.journal_path.read_bytes()
    assert not store.journal_path.exists() and file_serial(store) == 1


def test_a_crash_between_the_rewrite_and_the_journal_removal_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Crash(BaseException):
        pass

    def crash(path: Path) -> None:
        raise Crash(path)

    store = StateStore(tmp_path)
    with pytest.raises(Crash), store.locked("apply"):
        state = store.load()
        make_changes(store, state, 6)
        monkeypatch.setattr(journal_module, "remove_journal", crash)
    monkeypatch.undo()
    assert file_serial(store) == 6 and store.journal_path.exists()
    folded = store.path.read_bytes()
    assert holds(StateStore(tmp_path).load()) == expected_records(6)
    again = StateStore(tmp_path)
    with again.locked("apply"):
        assert again.load().serial == 6
    assert store.path.read_bytes() == folded, "replaying the folded journal changes nothing"
    assert not store.journal_path.exists()


# Real kills ---------------------------------------------------------------------------
WRITER = textwrap.dedent("""
    import os, signal, sys
    from bedform.state import journal
    from bedform.state.store import StateStore
    from tests.engine.test_journal import make_changes

    directory, per_run, kill_in_fold = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    if kill_in_fold:  # SIGKILL ourselves right after the atomic rewrite of the fold
        journal.remove_journal = lambda path: os.kill(os.getpid(), signal.SIGKILL)
    while True:
        store = StateStore(directory)
        with store.locked("apply"):
            state = store.load()
            for _ in range(per_run):
                make_changes(store, state, 1)
                print(state.serial, flush=True)
""")


def _spawn_writer(directory: Path, per_run: int, kill_in_fold: bool) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory), str(per_run), str(int(kill_in_fold))],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
        text=True)


def _check_recovered(directory: Path, acknowledged: int) -> int:
    """The state after a kill holds every acknowledged change and exactly those before."""
    state = StateStore(directory).load()
    assert state.serial >= acknowledged
    assert holds(state) == expected_records(state.serial)
    store = StateStore(directory)
    with store.locked("check"):
        assert store.load().serial == state.serial
    assert not store.journal_path.exists()
    assert json.loads(store.path.read_text())["serial"] == state.serial
    return state.serial


@pytest.mark.slow
def test_sigkill_right_after_the_fold_rewrite_then_replay(tmp_path: Path) -> None:
    for round_ in range(3):
        process = _spawn_writer(tmp_path, 5, kill_in_fold=True)
        out, _ = process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL
        serial = int(out.split()[-1])
        assert (tmp_path / "state.journal").exists(), "killed before removing the journal"
        assert json.loads((tmp_path / "state.json").read_text())["serial"] == serial
        assert _check_recovered(tmp_path, serial) == serial == 5 * (round_ + 1)


@pytest.mark.slow
def test_sigkill_at_random_points_of_changes_and_folds(tmp_path: Path) -> None:
    rng = random.Random(20261202)
    serial = 0
    for _ in range(12):
        process = _spawn_writer(tmp_path, rng.choice([3, 30]), kill_in_fold=False)
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        target = serial + rng.randint(1, 60)
        acknowledged = serial
        while acknowledged < target and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the writer ended on its own"
            acknowledged = int(line)
        time.sleep(rng.uniform(0.0, 0.05))
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=30)
        acknowledged = max([acknowledged, *map(int, rest.split())])
        serial = _check_recovered(tmp_path, acknowledged)
    assert serial >= 12


@pytest.mark.slow
def test_sigkill_mid_apply_leaves_a_journal_that_covers_every_object(
        stack: FakeStack) -> None:
    stack.write(**{**BASE, "latency": 0.2,
                   "servers": [{"name": "web", "count": 6, "network": "lan"}]})
    process = stack.spawn("apply", "--auto-approve")
    deadline = time.monotonic() + 20
    while mutations(stack) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    journal = stack.state_dir / "state.journal"
    assert journal.exists()
    on_file = json.loads((stack.state_dir / "state.json").read_text())["resources"]
    state = stack.state()
    created = {o["name"].split(":", 1)[1] for o in stack.owned()}
    assert created <= set(state.resources), "a write-ahead record precedes every object"
    assert not created <= set(on_file), "the journal holds what the file does not yet"
    files = {p: p.read_bytes() for p in stack.state_dir.glob("state.*")}
    shown = stack.run("show")
    assert shown.exit_code == 0 and all(address in shown.output for address in created)
    assert {p: p.read_bytes() for p in stack.state_dir.glob("state.*")} == files, \
        "a command without the lock replays in memory and writes nothing"
    assert stack.run("plan").exit_code == 0
    assert not journal.exists()
    assert created <= set(json.loads((stack.state_dir / "state.json").read_text())
                          ["resources"])
    stack.apply()
    assert len(stack.owned()) == 7
