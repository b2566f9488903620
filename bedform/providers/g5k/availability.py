"""Whether a Grid'5000 configuration could start at a given time (the slot step).

EnOSlib's cluster-status model: a node is free for a slot when none of its known
reservations overlaps it; dead and suspected nodes never count; besteffort jobs and
jobs with no known start do not block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bedform.providers.base import SlotCheck
from bedform.providers.g5k.client import epoch_to_paris, paris_to_epoch
from bedform.providers.g5k.config import G5kConf, format_walltime, walltime_seconds


def paris_expressible(epoch: float) -> bool:
    """Whether the Europe/Paris wall-clock string of `epoch` names it (not so in the
    second pass of the repeated hour in October, which OAR reads as the first)."""
    return paris_to_epoch(epoch_to_paris(epoch)) == int(epoch)


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def node_availability(status: Mapping[str, Any], start: float, duration: float
                      ) -> tuple[set[str], dict[str, tuple[float, list[str]]]]:
    """The nodes of a cluster status document free during [start, start + duration),
    and the others with (when their last overlapping reservation ends, its jobs).

    Dead and suspected nodes are neither; besteffort jobs and reservations with no known
    start (not scheduled yet) do not block.
    """
    free: set[str] = set()
    blocked: dict[str, tuple[float, list[str]]] = {}
    for node, data in status.get("nodes", {}).items():
        if data.get("hard") in ("dead", "suspected"):
            continue
        ends, jobs = [], []
        for res in data.get("reservations", []):
            begin = res.get("started_at") or res.get("scheduled_at")
            if res.get("queue") == "besteffort" or not begin:
                continue
            finish = begin + int(res.get("walltime", 0))
            if begin < start + duration and start < finish:
                ends.append(finish)
                jobs.append(f"{res.get('uid')} ({res.get('user', '?')})")
        if ends:
            blocked[node] = (max(ends), jobs)
        else:
            free.add(node)
    return free, blocked


def test_slot(conf: G5kConf, start: float,
              cluster_status: Callable[[str, str], Mapping[str, Any]]) -> SlotCheck:
    """Enough nodes free on every cluster for the walltime from `start` (EnOSlib's
    cluster-status model, §4.3); `cluster_status(site, cluster)` is the API's status
    document of a cluster.

    A refusal names the cluster, the counts and the blocking jobs, and hints at the
    earliest time enough blocked nodes could be free (a lower bound).
    """
    if not paris_expressible(start):
        later = next((start + k * 300 for k in range(1, 14)
                      if paris_expressible(start + k * 300)), None)
        return SlotCheck(ok=False, hint=later, reason=(
            f"{_utc(start)} is in the repeated hour of the daylight-saving change: "
            "OAR's Europe/Paris wall-clock date cannot name it"))
    duration = walltime_seconds(conf.walltime)
    demands: dict[tuple[str, str], list[Any]] = {}
    for machine in conf.machines:
        servers = list(getattr(machine, "servers", []))
        cluster = machine.cluster or (servers[0].split("-", 1)[0] if servers else "")
        entry = demands.setdefault((machine.site or "", cluster), [0, []])
        entry[0] += machine.nodes
        entry[1] += servers
    for (site, cluster), (count, servers) in sorted(demands.items()):
        free, blocked = node_availability(cluster_status(site, cluster), start, duration)
        missing = [s for s in servers if s not in free]
        if len(free) >= count and not missing:
            continue
        need = count - len(free)
        releases = sorted(end for end, _ in blocked.values())
        hint = releases[need - 1] if 0 < need <= len(releases) else None
        if need > len(releases):
            hint = None
        for server in missing:
            if server in blocked:
                hint = max(hint or 0.0, blocked[server][0])
        jobs = sorted({j for _, js in blocked.values() for j in js})
        reason = (f"{site}/{cluster}: {len(free)} of {count} node(s) free for "
                  f"{format_walltime(duration)} from {_utc(start)}")
        if missing:
            reason += f"; not free: {', '.join(missing)}"
        if jobs:
            reason += f"; busy with job(s) {', '.join(jobs[:5])}"
        if hint:
            reason += f" until {_utc(hint)} at least"
        return SlotCheck(ok=False, reason=reason, hint=hint)
    return SlotCheck(ok=True)
