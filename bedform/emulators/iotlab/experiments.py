"""Experiments: the submitted description, its validation, its states and views.

An experiment asks for boards by alias (``nbnodes`` of an ``archi`` on a
``site``) or physically (a list of FQDNs). Its life on the virtual clock:
``Waiting`` until its scheduled date, ``toLaunch`` then ``Launching`` for
``launch_seconds``, ``Running`` for ``duration`` minutes, then ``Terminated``
(walltime reached, or stopped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATES = ("Waiting", "toLaunch", "Launching", "Running", "Finishing", "Terminated", "Stopped",
          "Error")  # fmt: skip
FINAL_STATES = ("Terminated", "Stopped", "Error")
UNSET_DATE = "1970-01-01T00:00:00Z"
PASSTHROUGH_KEYS = ("associations", "siteassociations", "profiles", "mobilities")


class SubmissionError(ValueError):
    """A submission the API refuses (bad JSON, unknown field value, missing file)."""


def iso(epoch: float | None) -> str:
    """Epoch → ``YYYY-MM-DDTHH:MM:SSZ`` (``1970-01-01T00:00:00Z`` when unset)."""
    if epoch is None:
        return UNSET_DATE
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AliasDemand:
    """``nbnodes`` boards of ``archi`` on ``site``, referred to as ``alias``."""

    alias: str
    site: str
    archi: str
    nbnodes: int
    mobile: bool = False


@dataclass
class Demand:
    """What an experiment asks for: alias groups or physical boards."""

    kind: str
    aliases: list[AliasDemand] = field(default_factory=list)
    physical: list[str] = field(default_factory=list)

    @property
    def references(self) -> set[str]:
        """Names that associations may refer to (alias ids or FQDNs)."""
        if self.kind == "alias":
            return {a.alias for a in self.aliases}
        return set(self.physical)


def _integer(value: Any, name: str, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise SubmissionError(f"{name}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise SubmissionError(f"{name}: {value!r} is not an integer (or a string of digits)")


def _demand(kind: Any, nodes: Any) -> Demand:
    if kind not in ("alias", "physical"):
        raise SubmissionError(f"type: {kind!r} must be 'alias' or 'physical'")
    if not isinstance(nodes, list) or not nodes:
        raise SubmissionError("nodes: must be a non-empty list")
    if kind == "physical":
        if not all(isinstance(n, str) and n for n in nodes):
            raise SubmissionError("nodes: a physical experiment lists node FQDNs (strings)")
        if len(set(nodes)) != len(nodes):
            raise SubmissionError("nodes: a node is listed twice")
        return Demand("physical", physical=list(nodes))
    aliases = []
    for index, item in enumerate(nodes):
        where = f"nodes[{index}]"
        if not isinstance(item, dict):
            raise SubmissionError(f"{where}: an alias experiment lists alias objects")
        props = item.get("properties")
        if not isinstance(props, dict):
            raise SubmissionError(f"{where}.properties: must be an object with archi and site")
        archi, site = props.get("archi"), props.get("site")
        if not isinstance(archi, str) or ":" not in archi:
            raise SubmissionError(f"{where}.properties.archi: {archi!r} is not like m3:at86rf231")
        if not isinstance(site, str) or not site:
            raise SubmissionError(f"{where}.properties.site: {site!r} is not a site name")
        count = _integer(item.get("nbnodes"), f"{where}.nbnodes")
        if count is None or count < 1:
            raise SubmissionError(f"{where}.nbnodes: must be >= 1")
        alias = str(item.get("alias", index + 1))
        aliases.append(AliasDemand(alias, site, archi, count, bool(props.get("mobile"))))
    if len({a.alias for a in aliases}) != len(aliases):
        raise SubmissionError("nodes: two alias groups share the same alias id")
    return Demand("alias", aliases=aliases)


def _associations(value: Any, key: str, name_key: str, refs: set[str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SubmissionError(f"{key}: must be a list of {{{name_key}, nodes}} objects")
    result = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get(name_key), str):
            raise SubmissionError(f"{where}: needs a {name_key} string and a nodes list")
        nodes = item.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            raise SubmissionError(f"{where}.nodes: must be a non-empty list")
        unknown = sorted(str(n) for n in nodes if str(n) not in refs)
        if unknown:
            raise SubmissionError(f"{where}.nodes: {', '.join(unknown)} not in the experiment")
        result.append({name_key: item[name_key], "nodes": [str(n) for n in nodes]})
    return result


@dataclass
class Submission:
    """A validated ``new_exp.json``."""

    name: str | None
    duration: int
    reservation: int | None
    demand: Demand
    firmwares: list[dict[str, Any]]
    profiles: list[dict[str, Any]]
    extra: dict[str, Any]


def parse_submission(data: Any) -> Submission:
    """Validate the experiment JSON; ``reservation`` may be null, an int or a string."""
    if not isinstance(data, dict):
        raise SubmissionError("the experiment description must be a JSON object")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise SubmissionError(f"name: {name!r} must be a string")
    duration = _integer(data.get("duration"), "duration")
    if duration is None or duration < 1:
        raise SubmissionError("duration: must be a number of minutes >= 1")
    reservation = _integer(data.get("reservation"), "reservation", allow_none=True)
    demand = _demand(data.get("type"), data.get("nodes"))
    refs = demand.references
    firmwares = _associations(
        data.get("firmwareassociations"), "firmwareassociations", "firmwarename", refs
    )
    profiles = _associations(
        data.get("profileassociations"), "profileassociations", "profilename", refs
    )
    extra = {key: data.get(key) for key in PASSTHROUGH_KEYS}
    return Submission(name, duration, reservation, demand, firmwares, profiles, extra)


@dataclass
class Experiment:
    """One experiment, its boards and its timeline (epoch seconds)."""

    id: int
    user: str
    submission: Submission
    files: dict[str, bytes]
    submitted_at: float
    scheduled: float
    launch_seconds: float
    boards: list[str]
    groups: dict[str, list[str]]
    stopped_at: float | None = None
    launched: bool = False
    finished: bool = False
    deployment: dict[str, list[str]] = field(default_factory=lambda: {"0": [], "1": []})

    @property
    def started(self) -> float:
        """When it becomes Running."""
        return self.scheduled + self.launch_seconds

    @property
    def end(self) -> float:
        """When it ends (walltime or stop)."""
        walltime_end = self.started + self.submission.duration * 60
        if self.stopped_at is not None:
            return min(self.stopped_at, walltime_end)
        return walltime_end

    def state(self, now: float) -> str:
        """The state at ``now``."""
        if now >= self.end:
            return "Terminated"
        if now < self.scheduled:
            return "Waiting"
        if now < self.scheduled + self.launch_seconds / 3:
            return "toLaunch"
        if now < self.started:
            return "Launching"
        return "Running"

    def active_at(self, now: float) -> bool:
        """Whether it still holds (or will hold) its boards."""
        return self.state(now) not in FINAL_STATES

    def boards_of(self, reference: str) -> list[str]:
        """Boards named by an association entry (an alias id or an FQDN)."""
        return self.groups.get(reference, [reference] if reference in self.boards else [])

    def summary(self, now: float) -> dict[str, Any]:
        """The API's ExperimentResponse."""
        state = self.state(now)
        ran = state in ("Running", "Terminated") and self.end > self.started
        effective = (min(now, self.end) - self.started) if ran else 0
        return {
            "id": self.id,
            "name": self.submission.name,
            "user": self.user,
            "state": state,
            "nb_nodes": len(self.boards),
            "submitted_duration": self.submission.duration,
            "effective_duration": max(0, int(effective // 60)),
            "submission_date": iso(self.submitted_at),
            "scheduled_date": iso(self.scheduled),
            "start_date": iso(self.started if ran or state == "Launching" else None),
            "stop_date": iso(self.end if state == "Terminated" else None),
        }

    def description(self, now: float) -> dict[str, Any]:
        """The API's ExperimentSubmission (summary plus what was submitted)."""
        sub = self.submission
        if sub.demand.kind == "alias":
            nodes: list[Any] = [
                {"alias": a.alias, "nbnodes": a.nbnodes,
                 "properties": {"archi": a.archi, "site": a.site, "mobile": a.mobile}}
                for a in sub.demand.aliases
            ]  # fmt: skip
        else:
            nodes = list(sub.demand.physical)
        return {
            **self.summary(now),
            "type": sub.demand.kind,
            "reservation": sub.reservation,
            "nodes": nodes,
            "firmwareassociations": sub.firmwares or None,
            "profileassociations": sub.profiles or None,
            **sub.extra,
        }
