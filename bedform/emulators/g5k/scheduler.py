"""OAR-like placement of resource requests on one site.

Resources follow OAR's model: compute hosts (one ``core`` resource per hardware
thread, grouped by cluster > switch > host > cpu > core), reservable disks,
KaVLAN ids and /22 subnets (grouped by their /16…/21 supernets). A request is
first *prepared* (filters and admission rules evaluated once: queue, job
types, max walltime, dead hosts), then placed against the resources busy
during a time window; :func:`find_slot` searches the earliest window.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .reference import Host, SiteIndex
from .resources import Group, Level, ResourceRequest


class AdmissionError(ValueError):
    """The request breaks an admission rule (message as OAR words it)."""


@dataclass
class Allocation:
    """Resources held by a job, in allocation order."""

    cores: dict[str, tuple[int, ...]] = field(default_factory=dict)
    disks: list[str] = field(default_factory=list)
    vlans: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> list[str]:
        """Host FQDNs, in allocation order."""
        return list(self.cores)

    def core_count(self) -> int:
        """Number of core resources."""
        return sum(len(c) for c in self.cores.values())

    def extend(self, other: Allocation) -> None:
        """Add another allocation's resources."""
        for host, cores in other.cores.items():
            self.cores[host] = tuple(sorted(set(self.cores.get(host, ())) | set(cores)))
        self.disks.extend(d for d in other.disks if d not in self.disks)
        self.vlans.extend(v for v in other.vlans if v not in self.vlans)
        self.subnets.extend(s for s in other.subnets if s not in self.subnets)


@dataclass
class Busy:
    """Resources unavailable during a time window."""

    cores: dict[str, set[int]] = field(default_factory=dict)
    disks: set[str] = field(default_factory=set)
    vlans: set[str] = field(default_factory=set)
    subnets: set[str] = field(default_factory=set)

    def add(self, alloc: Allocation) -> None:
        """Mark an allocation busy."""
        for host, cores in alloc.cores.items():
            self.cores.setdefault(host, set()).update(cores)
        self.disks.update(alloc.disks)
        self.vlans.update(alloc.vlans)
        self.subnets.update(alloc.subnets)


@dataclass
class Occupant:
    """A job's place in the gantt chart."""

    start: float
    end: float
    alloc: Allocation


@dataclass
class Constraints:
    """What the admission rules look at."""

    queue: str = "default"
    types: Sequence[str] = ()
    walltime: int = 3600
    properties: object = None  # a compiled oarsql.Filter or None
    dead_hosts: frozenset[str] = frozenset()


@dataclass
class _Candidate:
    host: Host
    cores: bool  # the host's cores match the group filter
    disks: list[str]


@dataclass
class _PreparedGroup:
    group: Group
    hosts: list[_Candidate] = field(default_factory=list)
    vlans: list[str] = field(default_factory=list)
    blocks: list[ipaddress.IPv4Network] = field(default_factory=list)


@dataclass
class Prepared:
    """A request with its candidates computed, ready to be placed."""

    groups: list[_PreparedGroup]


def _count_ok(level: Level, chosen: int, total: int) -> bool:
    if level.count == "ALL":
        return chosen == total and total > 0
    if level.count == "BEST":
        return chosen > 0
    return chosen == level.count


def _enough(level: Level, chosen: int) -> bool:
    return isinstance(level.count, int) and chosen >= level.count


class SitePlanner:
    """Places requests on one site's resources."""

    def __init__(self, index: SiteIndex) -> None:
        self.index = index

    # -- preparation -----------------------------------------------------
    def _host_admitted(self, host: Host, c: Constraints) -> bool:
        if host.fqdn in c.dead_hosts:
            return False
        if c.queue == "besteffort":
            if not host.besteffort or "default" not in host.queues:
                return False
        elif c.queue != "admin" and c.queue not in host.queues:
            return False
        if "deploy" in c.types and not host.deploy:
            return False
        if host.exotic and "exotic" not in c.types:
            return False
        if host.max_walltime and c.walltime > host.max_walltime:
            return False
        return not (c.properties is not None and not c.properties.match(host.props))  # type: ignore[attr-defined]

    def prepare(self, request: ResourceRequest, constraints: Constraints) -> Prepared:
        """Evaluate filters and admission rules once for every group."""
        groups: list[_PreparedGroup] = []
        for group in request.groups:
            pg = _PreparedGroup(group)
            flt = group.filter
            typed = "type" in flt.properties
            if group.kind == "compute":
                for host in self.index.hosts:
                    if not self._host_admitted(host, constraints):
                        continue
                    cores = flt.match(host.props)
                    disks = [d.key for d in host.disks if typed and flt.match(d.props)]
                    if cores or disks:
                        pg.hosts.append(_Candidate(host, cores, disks))
            elif group.kind == "vlan":
                if not typed:
                    raise AdmissionError(
                        "[ADMISSION RULE] A vlan request needs a type: "
                        "{type='kavlan'}/vlan=1, kavlan-local or kavlan-global"
                    )
                for vid, vtype in self.index.vlans.items():
                    if vtype in ("kavlan", "kavlan-local", "kavlan-global") and flt.match(
                        {"type": vtype, "vlan": vid}
                    ):
                        pg.vlans.append(vid)
            else:
                for block in self.index.subnets:
                    props = {
                        "type": "subnet",
                        "subnet_address": str(block.network_address),
                        "subnet_prefix": 22,
                    }
                    if flt.match(props):
                        pg.blocks.append(block)
            groups.append(pg)
        return Prepared(groups)

    # -- placement -------------------------------------------------------
    def place(self, prepared: Prepared, busy: Busy) -> Allocation | None:
        """Place every group against ``busy``; ``None`` if one cannot be placed."""
        busy = Busy(
            {h: set(c) for h, c in busy.cores.items()},
            set(busy.disks),
            set(busy.vlans),
            set(busy.subnets),
        )
        result = Allocation()
        for pg in prepared.groups:
            if pg.group.kind == "compute":
                alloc = self._compute(pg.hosts, pg.group.levels, busy)
            elif pg.group.kind == "vlan":
                alloc = self._vlans(pg.vlans, pg.group.levels[0], busy)
            else:
                alloc = self._subnets(pg.blocks, pg.group.levels, busy)
            if alloc is None:
                return None
            busy.add(alloc)
            result.extend(alloc)
        return result

    @staticmethod
    def _free_cores(cand: _Candidate, busy: Busy, cores: Iterable[int]) -> list[int]:
        taken = busy.cores.get(cand.host.fqdn, set())
        return [c for c in cores if c not in taken]

    def _whole(self, members: list[_Candidate], busy: Busy) -> Allocation | None:
        alloc = Allocation()
        for cand in members:
            if cand.cores:
                if busy.cores.get(cand.host.fqdn):
                    return None
                alloc.cores[cand.host.fqdn] = tuple(range(cand.host.threads))
            if any(d in busy.disks for d in cand.disks):
                return None
            alloc.disks.extend(cand.disks)
        if not alloc.cores and not alloc.disks:
            return None
        return alloc

    def _compute(
        self, cands: list[_Candidate], levels: list[Level], busy: Busy
    ) -> Allocation | None:
        level, rest = levels[0], levels[1:]
        if level.name in ("cluster", "switch", "host"):
            groups: dict[str, list[_Candidate]] = {}
            for cand in cands:
                key = {
                    "cluster": cand.host.cluster,
                    "switch": cand.host.switch,
                    "host": cand.host.fqdn,
                }[level.name]
                groups.setdefault(key, []).append(cand)
            return _pick_groups(level, list(groups.values()), lambda members: (
                self._compute(members, rest, busy) if rest else self._whole(members, busy)))
        return self._threads(cands, levels, busy)

    def _threads(
        self, cands: list[_Candidate], levels: list[Level], busy: Busy
    ) -> Allocation | None:
        """``cpu`` and ``core`` levels, possibly across several hosts."""
        level, rest = levels[0], levels[1:]
        result = Allocation()
        chosen = 0
        total = 0
        for cand in (c for c in cands if c.cores):
            host = cand.host
            if level.name == "core":
                free = self._free_cores(cand, busy, range(host.threads))
                total += host.threads
                if level.count == "ALL" and len(free) < host.threads:
                    return None
                need = len(free) if not isinstance(level.count, int) else level.count - chosen
                picked = free[:need]
                if picked:
                    result.cores[host.fqdn] = tuple(picked)
                    chosen += len(picked)
            else:  # cpu
                per_cpu = max(1, host.threads // host.procs)
                for cpu in range(host.procs):
                    total += 1
                    cores = range(cpu * per_cpu, (cpu + 1) * per_cpu)
                    free = self._free_cores(cand, busy, cores)
                    if rest:
                        want = rest[0].count
                        if want == "ALL":
                            ok = len(free) == per_cpu
                            take = free
                        else:
                            ok = bool(free) if want == "BEST" else len(free) >= int(want)
                            take = free if want == "BEST" else free[: int(want)]
                    else:
                        ok = len(free) == per_cpu
                        take = free
                    if not ok:
                        if level.count == "ALL":
                            return None
                        continue
                    merged = set(result.cores.get(host.fqdn, ())) | set(take)
                    result.cores[host.fqdn] = tuple(sorted(merged))
                    chosen += 1
                    if _enough(level, chosen):
                        break
            if _enough(level, chosen):
                break
        return result if _count_ok(level, chosen, total) else None

    @staticmethod
    def _vlans(vlans: list[str], level: Level, busy: Busy) -> Allocation | None:
        free = [v for v in vlans if v not in busy.vlans]
        count = level.count
        if count == "ALL":
            picked = free if len(free) == len(vlans) else []
        elif count == "BEST":
            picked = free
        else:
            assert isinstance(count, int)  # the parser gives an integer, "ALL" or "BEST"
            picked = free[:count] if len(free) >= count else []
        return Allocation(vlans=picked) if picked else None

    def _subnets(
        self, blocks: list[ipaddress.IPv4Network], levels: list[Level], busy: Busy
    ) -> Allocation | None:
        level, rest = levels[0], levels[1:]
        prefix = int(level.name.split("_")[1])
        groups: dict[ipaddress.IPv4Network, list[ipaddress.IPv4Network]] = {}
        for block in blocks:
            groups.setdefault(block.supernet(new_prefix=prefix), []).append(block)
        def allocate(members: list[ipaddress.IPv4Network]) -> Allocation | None:
            if rest:
                return self._subnets(members, rest, busy)
            names = [str(b) for b in members]
            return None if any(n in busy.subnets for n in names) else Allocation(subnets=names)

        return _pick_groups(level, list(groups.values()), allocate)


def busy_during(occupants: Iterable[Occupant], start: float, end: float) -> Busy:
    """Union of the allocations of occupants overlapping ``[start, end)``."""
    busy = Busy()
    for occ in occupants:
        if occ.start < end and occ.end > start:
            busy.add(occ.alloc)
    return busy


def find_slot(
    planner: SitePlanner,
    prepared: Prepared,
    occupants: Sequence[Occupant],
    earliest: float,
    walltime: float,
) -> tuple[float, Allocation] | None:
    """Earliest start ≥ ``earliest`` where the request fits, with its allocation.

    Candidate starts are ``earliest`` and the ends of the occupants after it;
    ``None`` means the request can never be satisfied.
    """
    starts = sorted({earliest, *(o.end for o in occupants if o.end > earliest)})
    for start in starts:
        alloc = planner.place(prepared, busy_during(occupants, start, start + walltime))
        if alloc is not None:
            return start, alloc
    return None


def _pick_groups(level: Level, groups: Sequence[list[Any]],
                 allocate: Callable[[list[Any]], Allocation | None]) -> Allocation | None:
    """Allocate within groups until `level` is satisfied (None if it cannot be)."""
    result = Allocation()
    chosen = 0
    for members in groups:
        sub = allocate(members)
        if sub is None:
            if level.count == "ALL":
                return None
            continue
        result.extend(sub)
        chosen += 1
        if _enough(level, chosen):
            break
    return result if _count_ok(level, chosen, len(groups)) else None
