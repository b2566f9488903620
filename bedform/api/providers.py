"""Several providers with one common start: EnOSlib's `Providers` and its functions.

    providers = Providers([G5k(g5k_conf), Local(local_conf)])
    roles, networks = providers.init(time_window=3600)   # g5k at the common slot
    providers.destroy()

Semantics of EnOSlib 10.9 (`enoslib/infra/providers.py`): 300 s steps up to a fixed end
(`start + time_window`), three tries with margins of 60, 240 and 540 s that keep the end
fixed by shortening the walltime, and the hint of an InvalidReservationTime moving the
search forward. Its bugs are fixed:

- `init` forwards `force_deploy` to every provider (and `start_time` to the ones that
  have no reservation system; reserving ones already hold the common start);
- a retry after a refused reservation destroys only what this call was reserving, never
  providers that were only being reloaded;
- a provider without reservations (`reserves` False, e.g. `Local`) is not part of the
  search and is initialised once, by `init`;
- a provider declares whether it can check availability (`can_test_slot`); one that
  cannot is reported (`unchecked`, a warning) instead of counted as a silent "yes".

A facade sits at the top of the layers; nothing below bedform.api imports this module.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bedform.errors import (
    InvalidReservationCritical,
    InvalidReservationTime,
    InvalidReservationTooOld,
    NegativeWalltime,
    NoSlotError,
)
from bedform.objects import Networks, Roles
from bedform.planner import slots
from bedform.planner.slots import DEFAULT_WINDOW, TIME_INCREMENT, SlotResult
from bedform.providers.base import SlotCheck

__all__ = ["TIME_INCREMENT", "Providers", "find_slot", "find_slot_and_start",
           "start_provider_within_bounds"]

logger = logging.getLogger(__name__)
TRIES = 3


def reserves(provider: Any) -> bool:
    """Whether the provider has a reservation system (undeclared: yes, as EnOSlib)."""
    return bool(getattr(provider, "reserves", True))


def can_test_slot(provider: Any) -> bool:
    """Whether the provider can check availability in advance (undeclared: no)."""
    return bool(getattr(provider, "can_test_slot", False))


def check_slot(provider: Any, start: float, end: float) -> SlotCheck:
    """The provider's answer for a start: checked yes/no, or None (cannot check)."""
    if not reserves(provider):
        return SlotCheck(ok=True, reason="no reservations: available now")
    if hasattr(provider, "check_slot"):
        return slots.as_check(provider.check_slot(int(start), int(end)))
    if not can_test_slot(provider):
        return SlotCheck(ok=None, reason="cannot check availability in advance")
    return SlotCheck(ok=bool(provider.test_slot(int(start), int(end))))


def _names(providers: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for index, provider in enumerate(providers):
        name = str(provider)
        names.append(name if name not in names else f"{name}#{index}")
    return names


def search_slot(providers: Sequence[Any], time_window: float, start_time: float
                ) -> SlotResult:
    """`find_slot` with the details: who could not check, what refused."""
    checkers = {name: (lambda s, e, p=provider: check_slot(p, s, e))
                for name, provider in zip(_names(providers), providers, strict=True)}
    result = slots.find_common_slot(checkers, float(start_time), float(time_window))
    for name in result.unchecked:
        logger.warning("%s cannot check availability in advance: the common start %s "
                       "was not verified for it", name, slots.fmt_utc(result.start))
    return result


def find_slot(providers: Sequence[Any], time_window: float, start_time: float) -> int:
    """The first start (UTC epoch), in 300 s steps from `start_time` up to
    `start_time + time_window`, that every provider accepts; NoSlotError says what
    blocked otherwise."""
    return int(search_slot(providers, time_window, start_time).start)


def start_provider_within_bounds(provider: Any, start_time: float, **kwargs: Any) -> None:
    """Reserve at `start_time`, or as soon after as possible keeping the end fixed.

    Up to three tries: start = max(now + 60 (r+1)² s, start) and the walltime shrinks by
    as much; a reservation found too old is retried, a walltime that would vanish is a
    NoSlotError, any other error (InvalidReservationTime...) propagates.
    """
    start = float(start_time)
    for attempt in range(TRIES):
        candidate, offset = slots.bounds(start, attempt)
        try:
            if offset:
                provider.offset_walltime(offset)
            start = candidate
            provider.async_init(start_time=int(candidate), time_window=0, **kwargs)
            return
        except NegativeWalltime as error:
            raise NoSlotError(f"{provider}: no walltime left when starting at "
                              f"{slots.fmt_utc(candidate)}") from error
        except InvalidReservationTooOld:
            logger.info("%s: reservation at %s too old, retrying", provider,
                        slots.fmt_utc(candidate))
    raise NoSlotError(f"{provider}: could not reserve in {TRIES} tries from "
                      f"{slots.fmt_utc(float(start_time))}")


def find_slot_and_start(providers: Sequence[Any], start_time: float, time_window: float,
                        **kwargs: Any) -> int | None:
    """Find the common slot of the reserving providers not yet created and reserve it.

    Returns the slot (None for a pure reload). A failure to start within bounds becomes
    InvalidReservationTime hinting one step after the slot.
    """
    todo = [p for p in providers if reserves(p) and not p.is_created()]
    if not todo:
        return None
    reservation = find_slot(todo, time_window, start_time)
    try:
        for provider in todo:
            start_provider_within_bounds(provider, reservation, **kwargs)
    except NoSlotError as error:
        hint = datetime.fromtimestamp(max(reservation, start_time) + TIME_INCREMENT, UTC)
        raise InvalidReservationTime(hint, str(error)) from error
    return reservation


def _snapshot(provider: Any) -> Any:
    conf = getattr(provider, "provider_conf", None)
    return copy.deepcopy(conf) if conf is not None else None


class Providers:
    """Several providers reserved at one common start; the EnOSlib provider API."""

    def __init__(self, providers: Iterable[Any]) -> None:
        self.providers = list(providers)
        self.reservation: int | None = None
        self.unchecked: list[str] = []
        self.reloaded: list[Any] = []

    def __str__(self) -> str:
        return "Providers(" + ", ".join(_names(self.providers)) + ")"

    @property
    def name(self) -> str:
        return str(self)

    def _reserve(self, time_window: float | None, start_time: float | None,
                 **kwargs: Any) -> None:
        window = float(DEFAULT_WINDOW if time_window is None or time_window < 0
                       else time_window)
        start = slots.default_start() if start_time is None or start_time < 0 \
            else float(start_time)
        reserving = [p for p in self.providers if reserves(p)]
        self.reloaded = [p for p in reserving if p.is_created()]
        todo = [p for p in reserving if not any(p is r for r in self.reloaded)]
        self.reservation = None
        if not todo:
            return
        while True:
            saved = [(p, _snapshot(p)) for p in todo]
            try:
                result = search_slot(todo, window, start)
                self.unchecked = list(result.unchecked)
                try:
                    for provider in todo:
                        start_provider_within_bounds(provider, result.start, **kwargs)
                except NoSlotError as error:
                    hint = datetime.fromtimestamp(result.start + TIME_INCREMENT, UTC)
                    raise InvalidReservationTime(hint, str(error)) from error
                self.reservation = int(result.start)
                return
            except InvalidReservationTime as error:
                self._undo(saved)
                hinted = error.datetime.timestamp()
                new_start = hinted if hinted > start else start + TIME_INCREMENT
                logger.info("reservation refused (%s); searching again from %s", error,
                            slots.fmt_utc(new_start))
                window -= new_start - start
                start = new_start
                if window < 0:
                    raise InvalidReservationCritical(
                        "Unable to start the providers within given time window: the "
                        f"last refusal hinted {slots.fmt_utc(hinted)} ({error})") from error
            except NoSlotError as error:
                self._undo(saved)
                raise InvalidReservationCritical(
                    f"Unable to start the providers within given time window: {error}"
                ) from error

    def _undo(self, saved: list[tuple[Any, Any]]) -> None:
        """Destroy what this call was reserving (never reloaded providers) and restore
        the configurations changed by set_reservation/offset_walltime."""
        for provider, conf in saved:
            provider.destroy(wait=True)
            if conf is not None:
                provider.provider_conf = conf
            forget = getattr(provider, "forget_availability", None)
            if forget is not None:
                forget()   # the refusal says the cached availability is stale

    # -- EnOSlib's API -------------------------------------------------------------------
    def init(self, force_deploy: bool = False, start_time: int | None = None,
             time_window: int | None = None, **kwargs: Any) -> tuple[Roles, Networks]:
        """Reserve at a common start, then init every provider; merged roles/networks
        (each provider's hosts also under its name)."""
        self._reserve(time_window, start_time)
        roles, networks = Roles(), Networks()
        names = _names(self.providers)
        for name, provider in zip(names, self.providers, strict=True):
            if reserves(provider):
                provider_roles, provider_networks = provider.init(
                    force_deploy=force_deploy, **kwargs)
            else:
                provider_roles, provider_networks = provider.init(
                    force_deploy=force_deploy, start_time=start_time, **kwargs)
            roles += provider_roles
            networks += provider_networks
            roles[name] += provider_roles.all()
            networks[name] += provider_networks.all()
        return roles, networks

    def async_init(self, force_deploy: bool = False, start_time: int | None = None,
                   time_window: int | None = None, **kwargs: Any) -> None:
        """Secure the reservations at a common start without waiting (providers without
        reservations come up at `init`)."""
        self._reserve(time_window, start_time)

    def is_created(self) -> bool:
        reserving = [p for p in self.providers if reserves(p)]
        return bool(reserving) and all(p.is_created() for p in reserving)

    def destroy(self, wait: bool = False, **kwargs: Any) -> None:
        for provider in self.providers:
            provider.destroy(wait=True)

    def test_slot(self, start_time: int, end_time: int) -> bool:
        """True when no provider refuses (one that cannot check is listed in
        `unchecked` and logged, not silently trusted)."""
        self.unchecked = []
        for name, provider in zip(_names(self.providers), self.providers, strict=True):
            verdict = check_slot(provider, start_time, end_time)
            if verdict.ok is None:
                self.unchecked.append(name)
                logger.warning("%s cannot check availability in advance", name)
            elif not verdict.ok:
                return False
        return True

    def set_reservation(self, timestamp: int) -> None:
        for provider in self.providers:
            if reserves(provider):
                provider.set_reservation(timestamp)

    def offset_walltime(self, offset: int) -> None:
        for provider in self.providers:
            if reserves(provider):
                provider.offset_walltime(offset)

    def __enter__(self) -> tuple[Roles, Networks]:
        return self.init()

    def __exit__(self, *exc: object) -> None:
        self.destroy()
