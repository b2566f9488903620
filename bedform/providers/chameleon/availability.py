"""Which hosts of each Blazar node type are free for a lease window.

Built on Blazar's host list (`GET /os-hosts`, each host with its `node_type`) and its
allocations (`GET /os-hosts/allocations`: per host, the reservations holding it and
their dates), the availability calendar Chameleon shows its users. Used by `test_slot`
and to say why a lease was refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bedform.providers.base import SlotCheck
from bedform.providers.chameleon.blazar import epoch, utc
from bedform.providers.chameleon.config import format_walltime


class Availability:
    """Hosts by node type and their busy windows (one listing of each, cached)."""

    def __init__(self, hosts: Sequence[Mapping[str, Any]],
                 allocations: Sequence[Mapping[str, Any]]) -> None:
        self.types: dict[str, list[str]] = {}
        for host in hosts:
            self.types.setdefault(str(host.get("node_type", "")), []).append(str(host["id"]))
        self.busy: dict[str, list[tuple[float, float]]] = {}
        for allocation in allocations:
            windows = self.busy.setdefault(str(allocation["resource_id"]), [])
            for reservation in allocation.get("reservations", []):
                begin, end = epoch(reservation.get("start_date")), \
                    epoch(reservation.get("end_date"))
                if begin is not None and end is not None:
                    windows.append((begin, end))

    def free(self, node_type: str, start: float, duration: float) -> tuple[int, int]:
        """(free hosts, all hosts) of `node_type` for [start, start + duration)."""
        hosts = self.types.get(node_type, [])
        free = [h for h in hosts if not any(b < start + duration and start < e
                                            for b, e in self.busy.get(h, []))]
        return len(free), len(hosts)

    def free_from(self, node_type: str, count: int, start: float, duration: float
                  ) -> float | None:
        """The first moment from `start` when `count` hosts of the type are free for
        `duration` (None: never, there are not that many)."""
        hosts = self.types.get(node_type, [])
        if count > len(hosts):
            return None
        moments = sorted({start, *(e for h in hosts for _, e in self.busy.get(h, [])
                                   if e > start)})
        for moment in moments:
            if self.free(node_type, moment, duration)[0] >= count:
                return moment
        return None

    def check(self, wanted: Mapping[str, int], start: float, duration: float) -> SlotCheck:
        """Enough hosts of every node type for the window; a refusal names the type,
        how many are free and from when enough would be."""
        for node_type, count in wanted.items():
            free, total = self.free(node_type, start, duration)
            if free >= count:
                continue
            if not total:
                known = ", ".join(sorted(t for t in self.types if t)) or "none"
                return SlotCheck(ok=False, reason=f"no host of node type {node_type} on "
                                                  f"this site (node types: {known})")
            later = self.free_from(node_type, count, start, duration)
            reason = (f"{node_type}: {free} of {count} host(s) free for "
                      f"{format_walltime(int(duration))} from {utc(start)} "
                      f"({total} on the site)")
            reason += f"; enough free from {utc(later)}" if later else \
                f"; the site has only {total}"
            return SlotCheck(ok=False, reason=reason, hint=later)
        return SlotCheck(ok=True)
