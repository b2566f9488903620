"""A common start for several reserving providers (EnOSlib's find_slot, as a plan step).

The search walks from `start` in 300 s steps up to a fixed `start + window` and asks
every participant, in order, whether it could start there (stopping at the first
refusal, as EnOSlib does). A refusal may carry a hint: an epoch before which it cannot
become a yes; the search then jumps to the first step at or after it. A participant
that cannot check availability answers `ok=None`: it is listed as unchecked, never
counted as a yes silently.

Once a slot is chosen, `bounds` keeps the *end* fixed: when the slot is already (nearly)
past, the start moves to now + a growing margin and the walltime shrinks by as much.

Epochs are UTC seconds throughout; drivers convert to their testbed's wall clock.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from bedform.errors import NoSlotError
from bedform.providers.base import (
    Driver,
    ReservationConf,
    Reserving,
    SlotCheck,
    SlotTesting,
)
from bedform.state.model import Record

TIME_INCREMENT = 300
DEFAULT_WINDOW = 7200
START_MARGIN = 60

Checker = Callable[[float, float], "SlotCheck | bool"]


def now() -> float:
    """The current UTC epoch (patched by tests that run on an emulator's clock)."""
    return time.time()


def default_start(at: float | None = None) -> float:
    """EnOSlib's default start: now + 60 s, rounded up (here to the whole minute)."""
    base = (now() if at is None else at) + START_MARGIN
    return float(math.ceil(base / 60) * 60)


def fmt_utc(epoch: float, seconds: bool = False) -> str:
    """`2026-11-24 14:05 UTC`."""
    pattern = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return datetime.fromtimestamp(epoch, UTC).strftime(pattern)


def fmt_walltime(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def as_check(answer: SlotCheck | bool | None) -> SlotCheck:
    """A driver's or facade's answer as a SlotCheck (a bare bool is a checked answer)."""
    if isinstance(answer, SlotCheck):
        return answer
    return SlotCheck(ok=None if answer is None else bool(answer))


@attrs.frozen
class Blocker:
    """One refusal met by the search."""

    name: str
    at: float
    reason: str


@attrs.frozen
class SlotResult:
    """The common start found, and who could not check it."""

    start: float
    unchecked: tuple[str, ...] = ()
    blockers: tuple[Blocker, ...] = ()


def next_step(initial: float, current: float, hint: float | None,
              step: int = TIME_INCREMENT) -> float:
    """The next start to try: one step on, or the first step at or after `hint`."""
    candidate = current + step
    if hint is not None and hint > candidate:
        candidate = initial + math.ceil((hint - initial) / step) * step
    return candidate


def find_common_slot(checkers: Mapping[str, Checker], start: float, window: float,
                     step: int = TIME_INCREMENT) -> SlotResult:
    """The earliest step in [start, start + window] that every participant accepts.

    Raises NoSlotError naming what blocked (participant, reason, times) otherwise.
    """
    end = start + window
    current = start
    unchecked: dict[str, None] = {}
    blockers: list[Blocker] = []
    while current <= end:
        refusal: tuple[str, SlotCheck] | None = None
        for name, check in checkers.items():
            verdict = as_check(check(current, end))
            if verdict.ok is None:
                unchecked.setdefault(name)
            elif not verdict.ok:
                refusal = (name, verdict)
                break
        if refusal is None:
            return SlotResult(current, tuple(unchecked), tuple(blockers))
        name, verdict = refusal
        blockers.append(Blocker(name, current, verdict.reason))
        current = next_step(start, current, verdict.hint, step)
    raise no_slot(list(checkers), start, window, blockers)


def no_slot(names: Sequence[str], start: float, window: float,
            blockers: Sequence[Blocker]) -> NoSlotError:
    """A NoSlotError saying which participant refused which times, and why."""
    groups: list[tuple[str, str, float, float]] = []
    for blocker in blockers:
        if groups and groups[-1][:2] == (blocker.name, blocker.reason):
            groups[-1] = (*groups[-1][:3], blocker.at)
        else:
            groups.append((blocker.name, blocker.reason, blocker.at, blocker.at))
    lines = []
    for name, reason, first, last in groups:
        when = fmt_utc(first) if first == last else f"{fmt_utc(first)} to {fmt_utc(last)}"
        lines.append(f"  {name} refused starts {when}: {reason or 'not available'}")
    span = f"{fmt_utc(start)} .. {fmt_utc(start + window)}"
    error = NoSlotError(
        f"no common start for {', '.join(names)} in {span} (window {int(window)} s):\n"
        + "\n".join(lines or ["  (the window holds no start to try)"]),
        hint="Widen the window (--window), start later (--start), or ask for fewer "
        "resources.")
    error.blockers = list(blockers)  # type: ignore[attr-defined]
    return error


def candidate_starts(check: Checker, start: float, window: float,
                     step: int = TIME_INCREMENT) -> tuple[list[float], SlotCheck | None]:
    """Every step of the window one participant accepts (for `bedform slots`), and its
    last refusal (None when it never refused)."""
    end = start + window
    accepted: list[float] = []
    refusal: SlotCheck | None = None
    current = start
    while current <= end:
        verdict = as_check(check(current, end))
        if verdict.ok is None:
            return [], verdict
        if verdict.ok:
            accepted.append(current)
        else:
            refusal = verdict
        current += step
    return accepted, refusal


def bounds(slot: float, attempt: int = 0, at: float | None = None) -> tuple[float, int]:
    """(start, walltime offset): start = max(now + 60 (r+1)² s, slot), and the walltime
    shrinks by as much so that the end stays fixed (EnOSlib's start_provider_within_bounds).
    """
    current = math.ceil(now() if at is None else at)
    candidate = float(max(current + 60 * (attempt + 1) ** 2, slot))
    return candidate, int(slot - candidate)


@attrs.define
class SlotPlan:
    """What the slot step of a plan decided, for the plan notes and `bedform slots`."""

    start: float | None = None
    window: float = DEFAULT_WINDOW
    search_start: float | None = None
    slotted: list[str] = attrs.field(factory=list)
    reloaded: dict[str, float | None] = attrs.field(factory=dict)
    fixed: dict[str, str] = attrs.field(factory=dict)
    on_demand: list[str] = attrs.field(factory=list)
    unchecked: list[str] = attrs.field(factory=list)
    walltimes: dict[str, int] = attrs.field(factory=dict)
    offsets: dict[str, int] = attrs.field(factory=dict)
    candidates: dict[str, list[float]] = attrs.field(factory=dict)
    refusals: dict[str, str] = attrs.field(factory=dict)
    error: str = ""
    overrides: dict[str, Any] = attrs.field(factory=dict, repr=False)

    def notes(self) -> list[str]:
        """Plan notes: the common start, adjusted walltimes, who is not checked."""
        notes = []
        if self.start is not None and self.slotted:
            walltimes = "; ".join(
                f"{name} walltime {fmt_walltime(self.walltimes[name])}"
                + (" after adjustment" if self.offsets.get(name) else "")
                for name in self.slotted if name in self.walltimes)
            who = "all providers" if not self.on_demand and not self.reloaded \
                else ", ".join(self.slotted)
            notes.append(f"{who} start at {fmt_utc(self.start)}"
                         + (f"; {walltimes}" if walltimes else ""))
        for name, at in self.reloaded.items():
            if self.start is not None and at is not None and at > now() \
                    and at != self.start:
                notes.append(f"{name} keeps its start {fmt_utc(at)}: no common start "
                             f"with it was free; use --replace on its jobs to realign")
        for name in self.unchecked:
            notes.append(f"{name} cannot check availability in advance: the common start "
                         "was not verified for it")
        if self.slotted:
            for name, start in self.reloaded.items():
                since = f" (start {fmt_utc(start)})" if start is not None else ""
                notes.append(f"{name} already holds its reservation{since}; reloaded, "
                             "not re-reserved")
            for name in self.on_demand:
                notes.append(f"{name} has no reservations: created at apply")
        return notes


@attrs.frozen
class Participant:
    """A provider section as the slot step sees it: `live` holds its recorded objects
    that expire and are still alive (their reservation is kept on reload)."""

    name: str
    driver: Driver
    conf: Any
    live: Mapping[str, Record] = attrs.field(factory=dict)


def slot_step(participants: Sequence[Participant], start: float | None = None,
              window: float | None = None, *, candidates: bool = False,
              force: bool = False) -> SlotPlan | None:
    """The common start of the reserving jobs an apply would make.

    Participants whose jobs are alive (reload) keep their reservation and are not
    searched; one with an explicit reservation keeps it; drivers that cannot reserve
    come up at apply. The search runs when at least two reserving jobs are to be made
    (participants, or sites of one) or with `force` (`bedform slots`); None when there
    is nothing to decide.
    """
    plan = SlotPlan(window=DEFAULT_WINDOW if window is None or window < 0
                    else float(window))
    checkers: dict[str, Checker] = {}
    searched: dict[str, tuple[Reserving, Any]] = {}
    units = 0
    for participant in participants:
        name, driver, conf = participant.name, participant.driver, participant.conf
        capabilities = driver.capabilities
        if not (capabilities.advance_reservation and isinstance(driver, Reserving)) or (
                capabilities.test_slot and not isinstance(driver, SlotTesting)):
            plan.on_demand.append(name)  # cannot reserve, or says it checks but cannot
            continue
        if participant.live:
            recorded = driver.recorded_reservation(conf, participant.live)
            plan.reloaded[name] = recorded[0] if recorded else None
            if recorded:
                plan.overrides[name] = driver.with_reservation(
                    conf, recorded[0], recorded[1] - driver.walltime(conf))
            continue
        fixed, sites = ((conf.reservation, conf.sites) if isinstance(conf, ReservationConf)
                        else (None, ()))
        if fixed:
            plan.fixed[name] = str(fixed)
            continue
        units += len(sites) or 1  # one reserving job per site
        plan.slotted.append(name)
        searched[name] = (driver, conf)
        checkers[name] = (functools.partial(driver.test_slot, conf)
                          if capabilities.test_slot and isinstance(driver, SlotTesting)
                          else _cannot_check)
    # jobs of this stack reserved earlier and not started yet: new ones join them
    pending = [at for at in plan.reloaded.values() if at is not None and at > now()]
    units += len(pending)
    if not plan.slotted or (units < 2 and not force):
        plan.slotted = []
        return plan if plan.overrides or force else None
    if start is not None and start >= 0:
        plan.search_start = float(start)
    elif pending:
        plan.search_start = max(pending)
    else:
        plan.search_start = default_start()
    if candidates:
        for name, check in checkers.items():
            accepted, refusal = candidate_starts(check, plan.search_start, plan.window)
            plan.candidates[name] = accepted
            if refusal is not None:
                plan.refusals[name] = refusal.reason or (
                    "cannot check availability" if refusal.ok is None else "busy")
    try:
        result = find_common_slot(checkers, plan.search_start, plan.window)
    except NoSlotError as error:
        if not candidates:
            raise
        plan.error = str(error)
        return plan
    plan.unchecked = list(result.unchecked)
    begin, offset = bounds(result.start)
    plan.start = begin
    for name, (reserving, conf) in searched.items():
        walltime = reserving.walltime(conf) + offset
        if walltime <= 0:
            raise NoSlotError(f"{name}: starting at {fmt_utc(begin)} to keep the common "
                              "end leaves no walltime")
        plan.walltimes[name] = walltime
        plan.offsets[name] = offset
        plan.overrides[name] = reserving.with_reservation(conf, begin, offset)
    return plan


def _cannot_check(start: float, end: float) -> SlotCheck:
    return SlotCheck(ok=None, reason="cannot check availability in advance")


def parse_duration(text: str) -> int:
    """`2h`, `90m`, `1h30m`, `45s`, `3600` (seconds) in seconds."""
    import re

    value = text.strip().lower()
    if value.isdigit():
        return int(value)
    match = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not value or not match:
        raise ValueError(f"cannot read duration {text!r} (use e.g. 2h, 90m, 1h30m, 3600)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def parse_time(text: str, at: float | None = None) -> float:
    """A start: an epoch, `+30m` (from now), or ISO `2026-11-24 14:00[:00][+01:00]`
    (UTC when no offset is given)."""
    value = text.strip()
    if value.startswith("+"):
        return (now() if at is None else at) + parse_duration(value[1:])
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read time {text!r} (use an epoch, +30m, or "
                         "'YYYY-MM-DD HH:MM' in UTC)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def ranges(starts: Sequence[float], step: int = TIME_INCREMENT) -> list[str]:
    """Consecutive starts as `14:00-14:40` ranges (UTC clock times)."""
    out: list[str] = []
    groups: list[list[float]] = []
    for start in starts:
        if groups and start - groups[-1][-1] == step:
            groups[-1].append(start)
        else:
            groups.append([start])
    for group in groups:
        first = datetime.fromtimestamp(group[0], UTC).strftime("%H:%M")
        last = datetime.fromtimestamp(group[-1], UTC).strftime("%H:%M")
        out.append(first if len(group) == 1 else f"{first}-{last}")
    return out
