"""find_slot / start_provider_within_bounds / Providers with fake providers (no network):
EnOSlib's semantics and the bugs of EnOSlib 10.9 that bedform fixes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bedform.api.providers import (
    Providers,
    find_slot,
    find_slot_and_start,
    start_provider_within_bounds,
)
from bedform.errors import (
    InvalidReservationCritical,
    InvalidReservationTime,
    InvalidReservationTooOld,
    NegativeWalltime,
    NoSlotError,
)
from bedform.objects import Host, Networks, Roles
from bedform.planner import slots
from bedform.providers.base import SlotCheck

NOW = 1_795_000_000.0          # 2026-11-18 UTC, a multiple of 60
T0 = NOW + 600


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(slots, "now", lambda: NOW)


class Fake:
    """A reserving provider: busy before `free_from`, records every call."""

    reserves = True
    can_test_slot = True

    def __init__(self, name: str, free_from: float = 0.0, walltime: int = 3600,
                 created: bool = False, refusals: list[Exception] | None = None) -> None:
        self.name, self.free_from, self.walltime = name, free_from, walltime
        self.created = created
        self.refusals = list(refusals or [])
        self.calls: list[tuple] = []
        self.reservation: int | None = None

    def __str__(self) -> str:
        return self.name

    def test_slot(self, start: int, end: int) -> bool:
        self.calls.append(("test_slot", start))
        return start >= self.free_from

    def is_created(self) -> bool:
        return self.created

    def set_reservation(self, ts: int) -> None:
        self.reservation = ts

    def offset_walltime(self, offset: int) -> None:
        self.calls.append(("offset_walltime", offset))
        if self.walltime + offset <= 0:
            raise NegativeWalltime("no walltime left")
        self.walltime += offset

    def async_init(self, start_time=None, time_window=None, **kw) -> None:
        self.calls.append(("async_init", start_time, kw))
        if self.refusals:
            raise self.refusals.pop(0)
        self.set_reservation(start_time)
        self.created = True

    def init(self, force_deploy=False, start_time=None, **kw):
        self.calls.append(("init", force_deploy, start_time))
        roles = Roles()
        roles.add_one(Host(f"{self.name}-1"), ["r"])
        return roles, Networks()

    def destroy(self, wait=False, **kw) -> None:
        self.calls.append(("destroy",))
        self.created = False

    def count(self, what: str) -> int:
        return sum(1 for c in self.calls if c[0] == what)


class OnDemand(Fake):
    reserves = False
    can_test_slot = False


class Unverifiable(Fake):
    can_test_slot = False


def test_find_slot_is_the_first_step_all_accept():
    a, b = Fake("a", free_from=T0 + 600), Fake("b", free_from=T0 + 1200)
    assert find_slot([a, b], 3600, T0) == T0 + 1200
    # stops at the first refusal: b is not asked while a refuses
    assert ("test_slot", T0) in a.calls and ("test_slot", T0) not in b.calls


def test_window_zero_tests_exactly_one_slot():
    a = Fake("a")
    assert find_slot([a], 0, T0) == T0
    with pytest.raises(NoSlotError):
        find_slot([Fake("b", free_from=T0 + 1)], 0, T0)


def test_no_slot_says_who_blocked_and_when():
    class Busy(Fake):
        def check_slot(self, start, end):
            return SlotCheck(False, "lyon/hercule: 1 of 2 node(s) free")
    with pytest.raises(NoSlotError) as info:
        find_slot([Fake("a"), Busy("g5k")], 900, T0)
    text = str(info.value)
    assert "g5k refused starts" in text and "lyon/hercule: 1 of 2" in text
    assert slots.fmt_utc(T0) in text and slots.fmt_utc(T0 + 900) in text


def test_hint_jumps_to_the_step_grid():
    seen = []

    def check(start, end):
        seen.append(start)
        return SlotCheck(start >= T0 + 1000, "busy", hint=T0 + 1000)
    result = slots.find_common_slot({"p": check}, T0, 7200)
    assert result.start == T0 + 1200 and seen == [T0, T0 + 1200]


def test_within_bounds_keeps_the_end_when_the_slot_is_past():
    p = Fake("p")
    start_provider_within_bounds(p, NOW - 120)
    assert p.calls[0] == ("offset_walltime", -180)      # start moved to now + 60
    assert p.calls[1][:2] == ("async_init", NOW + 60) and p.walltime == 3600 - 180


def test_within_bounds_retries_too_old_with_growing_margins():
    p = Fake("p", refusals=[InvalidReservationTooOld(), InvalidReservationTooOld()])
    start_provider_within_bounds(p, NOW)
    starts = [c[1] for c in p.calls if c[0] == "async_init"]
    assert starts == [NOW + 60, NOW + 240, NOW + 540]
    assert p.walltime == 3600 - 540                      # the end stayed fixed
    q = Fake("q", refusals=[InvalidReservationTooOld()] * 3)
    with pytest.raises(NoSlotError):
        start_provider_within_bounds(q, NOW)
    with pytest.raises(NoSlotError):
        start_provider_within_bounds(Fake("r", walltime=30), NOW)


def test_within_bounds_lets_invalid_time_through():
    hint = datetime.fromtimestamp(T0 + 900, UTC)
    p = Fake("p", refusals=[InvalidReservationTime(hint)])
    with pytest.raises(InvalidReservationTime):
        start_provider_within_bounds(p, T0)


def test_pure_reload_reserves_nothing():
    a, b = Fake("a", created=True), Fake("b", created=True)
    assert find_slot_and_start([a, b], T0, 3600) is None
    assert a.count("async_init") == b.count("async_init") == 0


def test_init_forwards_force_deploy_and_start_time():
    a, local = Fake("a"), OnDemand("local")
    roles, _ = Providers([a, local]).init(force_deploy=True, start_time=T0, time_window=600)
    assert ("async_init", T0, {}) in a.calls and a.reservation == T0
    assert ("init", True, None) in a.calls            # its start is already reserved
    assert local.calls == [("init", True, T0)]        # once, with both arguments
    assert {h.alias for h in roles["a"]} == {"a-1"} and len(roles["r"]) == 2


def test_provider_without_reservations_is_initialised_once():
    a, local = Fake("a"), OnDemand("local")
    providers = Providers([a, local])
    providers.init(start_time=T0)
    assert local.count("init") == 1 and local.count("async_init") == 0
    assert local.count("offset_walltime") == 0 and local.count("test_slot") == 0
    providers.async_init(start_time=T0)
    assert local.count("init") == 1 and local.count("async_init") == 0


def test_retry_never_destroys_reloaded_providers():
    hint = datetime.fromtimestamp(T0 + 1500, UTC)
    reloaded = Fake("reloaded", created=True)
    fresh = Fake("fresh", refusals=[InvalidReservationTime(hint)])
    providers = Providers([reloaded, fresh])
    providers.async_init(start_time=T0, time_window=3600)
    assert reloaded.count("destroy") == 0 and reloaded.count("async_init") == 0
    assert fresh.count("destroy") == 1                 # what this call was reserving
    assert [c[1] for c in fresh.calls if c[0] == "async_init"] == [T0, T0 + 1500]
    assert providers.reservation == T0 + 1500


def test_hint_not_later_moves_one_step_and_window_shrinks():
    past = datetime.fromtimestamp(T0 - 600, UTC)
    p = Fake("p", refusals=[InvalidReservationTime(past)] * 3)
    with pytest.raises(InvalidReservationCritical):
        Providers([p]).async_init(start_time=T0, time_window=600)
    assert [c[1] for c in p.calls if c[0] == "async_init"] == [T0, T0 + 300, T0 + 600]


def test_no_slot_becomes_critical_with_the_reason():
    with pytest.raises(InvalidReservationCritical) as info:
        Providers([Fake("p", free_from=T0 + 10_000)]).init(start_time=T0, time_window=600)
    assert "p refused starts" in str(info.value)


def test_cannot_check_is_reported_not_assumed(caplog):
    a, blind = Fake("a", free_from=T0 + 300), Unverifiable("blind")
    providers = Providers([a, blind])
    with caplog.at_level(logging.WARNING):
        providers.async_init(start_time=T0, time_window=3600)
    assert providers.reservation == T0 + 300 and providers.unchecked == ["blind"]
    assert blind.count("test_slot") == 0
    assert "blind cannot check availability" in caplog.text
    assert providers.test_slot(T0 + 300, T0 + 600) and providers.unchecked == ["blind"]
    assert not Providers([Fake("x", free_from=T0 + 1)]).test_slot(T0, T0)


def test_set_reservation_and_offset_skip_providers_without_reservations():
    class Static(OnDemand):
        def offset_walltime(self, offset):
            raise NotImplementedError
    a, static = Fake("a"), Static("static")
    providers = Providers([a, static])
    providers.set_reservation(T0)
    providers.offset_walltime(-60)
    assert a.reservation == T0 and a.walltime == 3540 and static.reservation is None
    assert not providers.is_created()


def test_plan_notes():
    plan = slots.SlotPlan(start=1_795_600_000 - 1_795_600_000 % 300, slotted=["g5k", "iot"],
                          walltimes={"g5k": 6900, "iot": 3600}, offsets={"g5k": -300},
                          unchecked=["iot"], on_demand=[])
    notes = plan.notes()
    assert notes[0].startswith("all providers start at 2026-11-") and notes[0].endswith(
        "UTC; g5k walltime 01:55:00 after adjustment; iot walltime 01:00:00")
    assert "iot cannot check availability" in notes[1]


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("90m", 5400),
                                              ("1h30m", 5400), ("3600", 3600)])
def test_parse_duration(text, seconds):
    assert slots.parse_duration(text) == seconds


def test_parse_time():
    assert slots.parse_time("2026-11-24 14:05") == datetime(2026, 11, 24, 14, 5,
                                                            tzinfo=UTC).timestamp()
    assert slots.parse_time("2026-11-24T15:05+01:00") == slots.parse_time("2026-11-24 14:05")
    assert slots.parse_time("+30m") == NOW + 1800
    with pytest.raises(ValueError):
        slots.parse_time("tomorrow")
