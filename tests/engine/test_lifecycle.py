"""The lifecycle helpers: bounded polls with an injected clock, adoption, deletes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from bedform.errors import ApplyInterrupted, ProviderError
from bedform.providers.lifecycle import (
    BlockingContext,
    Wait,
    WaitTimeout,
    adopt_or_create,
    client_error,
    delete_if_present,
    poll,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeContext:
    """An ApplyContext whose sleep advances a fake clock instead of waiting."""

    def __init__(self, clock: FakeClock, existing: Mapping[str, Any] | None = None) -> None:
        self.clock = clock
        self.existing = existing
        self.sleeps: list[float] = []
        self.progress_lines: list[str] = []
        self.checkpoints: list[dict[str, Any]] = []

    def checkpoint(self, attributes: Mapping[str, Any]) -> None:
        self.checkpoints.append(dict(attributes))

    def progress(self, message: str) -> None:
        self.progress_lines.append(message)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds


def test_poll_returns_when_the_target_state_is_reached() -> None:
    clock = FakeClock()
    ctx = FakeContext(clock)
    states = iter(["waiting", "waiting", "launching", "running"])
    wait = Wait("job 7 on rennes to run", pending={"waiting", "launching"},
                target={"running"}, timeout=60)
    found = poll(ctx, wait, lambda: ({"uid": 7}, next(states)),
                 describe=lambda job, state: f"job {job['uid']} {state}", clock=clock)
    assert found == {"uid": 7}
    assert ctx.sleeps == [0.5, 1.0, 2.0]          # back-off
    assert ctx.progress_lines == ["job 7 waiting", "job 7 waiting", "job 7 launching"]


def test_poll_deadline_names_what_was_awaited_for_how_long_and_what_to_do() -> None:
    clock = FakeClock()
    ctx = FakeContext(clock)
    wait = Wait("job 7 on rennes to run", pending={"waiting"}, target={"running"},
                timeout=300, hint="Job 7 stays reserved and recorded in the state.")
    with pytest.raises(WaitTimeout) as caught:
        poll(ctx, wait, lambda: ({"uid": 7}, "waiting"), clock=clock)
    text = str(caught.value)
    assert "timed out after 5 min 0 s waiting for job 7 on rennes to run" in text
    assert "last seen: state 'waiting'" in text
    assert "stays reserved and recorded" in text
    assert clock.now - 1000.0 == pytest.approx(300)   # never sleeps past the deadline
    assert max(ctx.sleeps) <= 30


def test_poll_failure_state_and_disappearance() -> None:
    clock = FakeClock()
    wait = Wait("deployment 3 on lyon to end", pending={"processing"},
                target={"terminated"}, timeout=60, not_found=1)
    with pytest.raises(ProviderError, match="ended before terminated: state 'canceled'"):
        poll(FakeContext(clock), wait, lambda: ({}, "canceled"), clock=clock)
    answers = iter([(None, None), ({}, "processing"), (None, None), (None, None)])
    with pytest.raises(ProviderError, match="deployment 3 on lyon to end: the object is gone"):
        poll(FakeContext(clock), wait, lambda: next(answers), clock=clock)


def test_poll_stops_on_interrupt() -> None:
    ctx = BlockingContext()
    ctx.stop()
    wait = Wait("vm-1 to boot", pending={"BUILD"}, target={"ACTIVE"}, timeout=60)
    with pytest.raises(ApplyInterrupted):
        poll(ctx, wait, lambda: ({}, "BUILD"))


def test_adopt_or_create_prefers_recorded_then_found_then_created() -> None:
    clock = FakeClock()
    created: list[int] = []

    def create() -> int:
        created.append(1)
        return 42

    ctx = FakeContext(clock, existing={"uid": 5})
    assert adopt_or_create(ctx, "uid", lambda: 9, create, "job") == 5
    ctx = FakeContext(clock)
    assert adopt_or_create(ctx, "uid", lambda: 9, create, "job", extra={"site": "x"}) == 9
    assert ctx.checkpoints == [{"uid": 9, "site": "x"}]
    assert "adopting job 9" in ctx.progress_lines[0]
    assert adopt_or_create(FakeContext(clock), "uid", lambda: None, create, "job") == 42
    assert created == [1]


def test_delete_if_present_and_error_mapping() -> None:
    def gone() -> None:
        raise ProviderError("404 not found")

    assert delete_if_present(gone, lambda e: "404" in str(e)) is False
    with pytest.raises(ProviderError):
        delete_if_present(gone, lambda e: False)
    assert delete_if_present(lambda: None, lambda e: True) is True
    mapped = client_error(ConnectionRefusedError(111, "Connection refused"))
    assert isinstance(mapped, ProviderError) and "cannot reach the API" in str(mapped)
    disk = client_error(OSError(28, "No space left on device", "/x/state.json"))
    assert disk is not None and "No space left on device (/x/state.json)" in str(disk)
    assert client_error(KeyError("bug")) is None
