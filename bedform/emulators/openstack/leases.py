"""Blazar's objects in the emulated cloud: reservable hosts, leases, reservations and
host allocations, and the lease life on the virtual clock.

A lease is PENDING until its start date, STARTING until Blazar's next event run
(events run every ``event_period`` virtual seconds, at whole multiples: 60 s is the
real service's "next whole minute"), then ACTIVE until its end date, TERMINATING until
the next event run and TERMINATED after it. A lease whose name matches a
``lease_error`` fault goes to ERROR when it should start. What the start and the end
do to the rest of the cloud (reserved flavors, floating IPs, servers deleted) is in
:mod:`.blazar`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .model import CloudError

#: Date format of Blazar's responses (python-chi and blazarclient parse it).
LEASE_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
NOT_ENOUGH_HOSTS = "Not enough hosts available"


def blazar_error(status: int, message: str) -> CloudError:
    """An error in Blazar's shape (blazarclient shows ``ERROR: <error_message>``)."""
    return CloudError(status, {"error_code": status, "error_message": message,
                               "error_name": status})


@dataclass(frozen=True)
class Host:
    """A reservable bare-metal host (Blazar's ``os-hosts`` with its extra capabilities)."""

    id: str
    hypervisor_hostname: str
    node_type: str
    vcpus: int = 48
    memory_mb: int = 131072
    local_gb: int = 240

    def properties(self) -> dict[str, Any]:
        """What ``resource_properties`` filters read (``$node_type``…)."""
        return {"node_type": self.node_type, "hypervisor_hostname": self.hypervisor_hostname,
                "vcpus": self.vcpus, "memory_mb": self.memory_mb, "local_gb": self.local_gb}


def default_hosts() -> tuple[Host, ...]:
    """A small Chameleon site: 4 compute_haswell, 3 compute_skylake, 1 gpu_rtx_6000."""
    layout = (("compute_haswell", "c01", 4), ("compute_skylake", "c02", 3),
              ("gpu_rtx_6000", "g01", 1))
    hosts, number = [], 1
    for node_type, rack, count in layout:
        for index in range(1, count + 1):
            hosts.append(Host(str(number), f"{rack}-{index:02d}", node_type))
            number += 1
    return tuple(hosts)


@dataclass
class Reservation:
    """One reservation of a lease (``physical:host``, ``flavor:instance`` or
    ``virtual:floatingip``); ``values`` keeps the request's type-specific fields."""

    id: str
    lease_id: str
    resource_type: str
    values: dict[str, Any]
    created_at: float
    hosts: list[str] = field(default_factory=list)
    #: what the start made: a reserved flavor id, floating IP ids
    made: list[str] = field(default_factory=list)


@dataclass
class Lease:
    """A Blazar lease (its status derives from the clock, see :func:`lease_status`)."""

    id: str
    name: str
    project_id: str
    user_id: str
    start: float
    end: float
    created_at: float
    reservations: list[Reservation]
    updated_at: float | None = None
    #: message of the ERROR this lease ends in at its start (a ``lease_error`` fault)
    doomed: str | None = None
    error: str | None = None
    #: the side effects already applied: "" (none), "started", "ended"
    phase: str = ""


def event_time(moment: float, period: float) -> float:
    """When Blazar's event loop handles an event due at ``moment``."""
    if period <= 0:
        return moment
    return math.ceil(moment / period) * period


def lease_status(lease: Lease, now: float, period: float) -> str:
    """PENDING, STARTING, ACTIVE, TERMINATING, TERMINATED or ERROR at ``now``."""
    if lease.error is not None:
        return "ERROR"
    if now < lease.start:
        return "PENDING"
    if now < event_time(lease.start, period):
        return "STARTING"
    if lease.doomed is not None:
        return "ERROR"
    if now < lease.end:
        return "ACTIVE"
    if now < event_time(lease.end, period):
        return "TERMINATING"
    return "TERMINATED"


def matches(expression: Any, properties: dict[str, Any]) -> bool:
    """Whether a host's properties satisfy a Blazar property filter: a JSON string or
    list such as ``["=", "$node_type", "compute_haswell"]``, ``["and", f1, f2]``; an
    empty filter matches every host. Unknown operators are a 400."""
    if isinstance(expression, str):
        if not expression.strip():
            return True
        try:
            expression = json.loads(expression)
        except ValueError:
            raise blazar_error(400, f"Malformed requirements {expression}") from None
    if not expression:
        return True
    if not isinstance(expression, list) or not expression:
        raise blazar_error(400, f"Malformed requirements {expression}")
    operator, *operands = expression
    if operator in ("and", "or"):
        results = [matches(item, properties) for item in operands]
        return all(results) if operator == "and" else any(results)
    if len(operands) != 2 or not str(operands[0]).startswith("$"):
        raise blazar_error(400, f"Malformed requirements {json.dumps(expression)}")
    value = properties.get(str(operands[0])[1:])
    wanted = operands[1]
    compare = {"=": lambda a, b: str(a) == str(b), "==": lambda a, b: str(a) == str(b),
               "!=": lambda a, b: str(a) != str(b), "<": _number(lambda a, b: a < b),
               "<=": _number(lambda a, b: a <= b), ">": _number(lambda a, b: a > b),
               ">=": _number(lambda a, b: a >= b),
               "in": lambda a, b: str(a) in [str(x) for x in b]}
    if operator not in compare:
        raise blazar_error(400, f"Malformed requirements {json.dumps(expression)}")
    return value is not None and bool(compare[operator](value, wanted))


def _number(test: Any) -> Any:
    def compare(a: Any, b: Any) -> bool:
        try:
            return bool(test(float(a), float(b)))
        except (TypeError, ValueError):
            return False
    return compare


def parse_date(text: Any, now: float, field_name: str) -> float:
    """A lease date: ``"now"``, ``YYYY-MM-DD HH:MM`` (UTC), or the response format."""
    from datetime import UTC, datetime

    if text == "now":
        return now
    for pattern in ("%Y-%m-%d %H:%M", LEASE_DATE_FORMAT, "%Y-%m-%dT%H:%M:%S",
                    "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(str(text), pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise blazar_error(400, f"{text} is an invalid date. Required format: %Y-%m-%d %H:%M")


def overlaps(begin: float, end: float, other_begin: float, other_end: float) -> bool:
    """Whether [begin, end) and [other_begin, other_end) share a moment."""
    return begin < other_end and other_begin < end


def name_matches(pattern: str, name: str) -> bool:
    """Whether a fault's regular expression matches a lease name."""
    return re.search(pattern, name) is not None
