"""Whether an IoT-LAB configuration could start at a given time (the slot step).

EnOSlib's free-node model: candidates are the boards in state Alive or Busy (`GET
nodes`); a board is free for [start, start + walltime) unless an experiment of the
Gantt chart (`GET drawgantt/experiments`) holding it overlaps that interval. Board
groups need `number` free boards of their (site, archi); physical groups need each
named board free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bedform.providers.base import SlotCheck
from bedform.providers.g5k.availability import paris_expressible
from bedform.providers.iotlab.client import iso_to_epoch
from bedform.providers.iotlab.config import BoardConf, IotlabConf, walltime_minutes

CANDIDATE_STATES = ("Alive", "Busy")


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def busy_until(gantt: Sequence[Mapping[str, Any]], start: float, duration: float
               ) -> dict[str, tuple[float, list[str]]]:
    """Boards held by an experiment overlapping [start, start + duration): when the last
    such experiment ends, and those experiments (`id (user)`)."""
    blocked: dict[str, tuple[float, list[str]]] = {}
    for item in gantt:
        begin = iso_to_epoch(item.get("start_date"))
        if begin is None:
            continue
        finish = iso_to_epoch(item.get("stop_date")) or \
            begin + int(item.get("submitted_duration") or 0) * 60
        if not (begin < start + duration and start < finish):
            continue
        label = f"{item.get('id')} ({item.get('user', '?')})"
        for board in item.get("nodes", []):
            end, labels = blocked.get(board, (0.0, []))
            blocked[board] = (max(end, finish), [*labels, label])
    return blocked


def test_slot(conf: IotlabConf, start: float, nodes: Sequence[Mapping[str, Any]],
              gantt: Sequence[Mapping[str, Any]]) -> SlotCheck:
    """Enough free boards for every group from `start` for the walltime; a refusal
    names the (site, archi) or boards that are short and hints at the earliest time
    enough of them could be free (a lower bound)."""
    if not paris_expressible(start):
        return SlotCheck(ok=False, reason=(
            f"{_utc(start)} is in the repeated hour of the daylight-saving change: the "
            "Europe/Paris start_time cannot name it"), hint=start + 3600)
    duration = walltime_minutes(conf.walltime) * 60
    blocked = busy_until(gantt, start, duration)
    candidates = {n["network_address"]: n for n in nodes
                  if n.get("state") in CANDIDATE_STATES}
    free = {a: n for a, n in candidates.items() if a not in blocked}
    demands: dict[tuple[str, str], int] = {}
    for machine in conf.machines:
        if isinstance(machine, BoardConf):
            key = (machine.site, machine.archi)
            demands[key] = demands.get(key, 0) + machine.number
            continue
        taken = [h for h in machine.hostname if h not in free]
        if taken:
            ends = [blocked[h][0] for h in taken if h in blocked]
            hint = max(ends) if len(ends) == len(taken) else None
            jobs = sorted({j for h in taken if h in blocked for j in blocked[h][1]})
            reason = f"board(s) not free from {_utc(start)}: {', '.join(taken[:5])}"
            if jobs:
                reason += f"; held by experiment(s) {', '.join(jobs[:5])}"
            return SlotCheck(ok=False, reason=reason, hint=hint)
    for (site, archi), count in sorted(demands.items()):
        pool = [a for a, n in free.items() if n.get("site") == site and n.get("archi") == archi]
        if len(pool) >= count:
            continue
        releases = sorted(end for a, (end, _) in blocked.items()
                          if a in candidates and candidates[a].get("site") == site
                          and candidates[a].get("archi") == archi)
        need = count - len(pool)
        hint = releases[need - 1] if need <= len(releases) else None
        reason = (f"{site}/{archi}: {len(pool)} of {count} board(s) free for "
                  f"{conf.walltime} from {_utc(start)}")
        if hint:
            reason += f" until {_utc(hint)} at least"
        return SlotCheck(ok=False, reason=reason, hint=hint)
    return SlotCheck(ok=True)
