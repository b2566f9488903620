"""Where and when an experiment runs: first fit on the boards, on the virtual clock.

An experiment holds its boards from its scheduled date for ``launch_seconds``
plus its duration. A submission starts at the earliest date (now, its
reservation, or the end of an experiment in the way) where enough ``Alive``
boards are free, taken in site / number order; a reservation that cannot be
honoured is refused with OAR's wording, naming the earliest possible date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..g5k.testbed import paris_time
from .errors import IotlabError
from .experiments import Demand, Experiment, Submission
from .inventory import Inventory, InventoryError

#: A reservation that starts less than this before "now" is moved to now.
RESERVATION_TOLERANCE = 60.0

Slot = tuple[float, float, set[str]]
Groups = dict[str, list[str]]


class Planner:
    """Places submissions among the experiments that hold boards."""

    def __init__(self, inventory: Inventory, launch_seconds: float) -> None:
        self.inventory = inventory
        self.launch_seconds = launch_seconds

    @staticmethod
    def _slots(experiments: Iterable[Experiment], now: float, exclude: Iterable[int] = ()
               ) -> list[Slot]:  # fmt: skip
        skip = set(exclude)
        return [(e.scheduled, e.end, set(e.boards))
                for e in experiments if e.id not in skip and e.active_at(now)]  # fmt: skip

    def _fit(self, demand: Demand, start: float, end: float, slots: list[Slot]) -> Groups | None:
        taken: set[str] = set()
        for s, e, boards in slots:
            if s < end and e > start:
                taken |= boards
        if demand.kind == "physical":
            for address in demand.physical:
                if self.inventory.board(address).health != "Alive" or address in taken:
                    return None
            return {address: [address] for address in demand.physical}
        groups: Groups = {}
        for alias in demand.aliases:
            free = [
                b.network_address
                for b in self.inventory.select(alias.site)
                if b.archi == alias.archi and b.health == "Alive" and b.network_address not in taken
            ]
            if len(free) < alias.nbnodes:
                return None
            groups[alias.alias] = free[: alias.nbnodes]
            taken.update(groups[alias.alias])
        return groups

    def _earliest(self, demand: Demand, earliest: float, span: float, slots: list[Slot]
                  ) -> tuple[float, Groups] | None:  # fmt: skip
        for start in sorted({earliest, *(e for _, e, _ in slots if e > earliest)}):
            groups = self._fit(demand, start, start + span, slots)
            if groups is not None:
                return start, groups
        return None

    def check(self, demand: Demand) -> None:
        """Refuse what could never run: unknown site or node, not enough usable boards."""
        for address in demand.physical:
            try:
                board = self.inventory.board(address)
            except InventoryError as exc:
                raise IotlabError(400, f"nodes: {exc}") from None
            if board.health != "Alive":
                raise IotlabError(500, "There are not enough resources for your request: "
                                  f"{address} is {board.health}")  # fmt: skip
        sites = self.inventory.sites()
        wanted: dict[tuple[str, str], int] = {}
        for alias in demand.aliases:
            if alias.site not in sites:
                raise IotlabError(400, f"site {alias.site!r} does not exist "
                                  f"(sites: {', '.join(sites)})")  # fmt: skip
            key = (alias.site, alias.archi)
            wanted[key] = wanted.get(key, 0) + alias.nbnodes
        for (site, archi), count in wanted.items():
            usable = [b for b in self.inventory.select(site)
                      if b.archi == archi and b.health == "Alive"]  # fmt: skip
            if len(usable) < count:
                raise IotlabError(
                    500, f"There are not enough resources for your request: {count} {archi} "
                    f"at {site}, {len(usable)} usable "
                    f"(archis there: {', '.join(self.inventory.archis(site))})"
                )

    def place(self, sub: Submission, now: float, experiments: Iterable[Experiment]
              ) -> tuple[float, Groups]:  # fmt: skip
        """The start date and boards of a submission, or the OAR-style refusal."""
        self.check(sub.demand)
        span = self.launch_seconds + sub.duration * 60
        slots = self._slots(experiments, now)
        if sub.reservation is None:
            found = self._earliest(sub.demand, now, span, slots)
            if found is None:  # pragma: no cover - check() guarantees a slot
                raise IotlabError(500, "There are not enough resources for your request")
            return found
        if sub.reservation < now - RESERVATION_TOLERANCE:
            raise IotlabError(500, "Reservation not valid --> KO (Reservation too old)")
        start = max(float(sub.reservation), now)
        groups = self._fit(sub.demand, start, start + span, slots)
        if groups is None:
            later = self._earliest(sub.demand, start, span, slots)
            when = paris_time(later[0]) if later else "never"
            raise IotlabError(
                500, f"Reservation not valid --> KO (This reservation could run at {when})"
            )
        return start, groups

    def replan(self, now: float, experiments: Mapping[int, Experiment]) -> None:
        """Move the as-soon-as-possible waiting experiments as early as they now fit."""
        waiting = sorted(
            (e for e in experiments.values()
             if e.state(now) == "Waiting" and e.submission.reservation is None),
            key=lambda e: e.id,
        )  # fmt: skip
        movable = {e.id for e in waiting}
        for exp in waiting:
            movable.discard(exp.id)
            slots = self._slots(experiments.values(), now, exclude=[exp.id, *movable])
            found = self._earliest(exp.submission.demand, now, exp.end - exp.scheduled, slots)
            if found is not None and found[0] <= exp.scheduled:
                exp.scheduled, exp.groups = found
                exp.boards = sorted({a for group in found[1].values() for a in group})
