"""python-blazarclient on the openstacksdk session, Blazar's dates, and what a
refusal means.

The client shares the Connection's keystoneauth session (one token for every
service) and finds `reservation` in the catalog of the configured region. Blazar
dates are UTC: `YYYY-MM-DDTHH:MM:SS.ffffff` in answers, `YYYY-MM-DD HH:MM` in requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from bedform.errors import PreflightError

ANSWER_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                  "%Y-%m-%d %H:%M")
REUSABLE = frozenset({"CREATING", "PENDING", "STARTING", "UPDATING", "ACTIVE"})
"""Statuses of a lease that holds (or will hold) its hosts: such a lease is reused.
EnOSlib fused STARTING and UPDATING into one string and so never reused them."""
ENDED = frozenset({"TERMINATING", "TERMINATED", "DELETED"})


def client(conn: Any) -> Any:
    """A Blazar v1 client on the Connection's session (PreflightError when
    python-blazarclient is missing)."""
    try:
        from blazarclient import client as blazar_client
    except ImportError:
        raise PreflightError("python-blazarclient is not installed",
                             hint="Install it: pip install python-blazarclient") from None
    return blazar_client.Client(1, session=conn.session, service_type="reservation",
                                interface="public", region_name=conn.config.region_name)


def server_now(blazar: Any) -> float:
    """Blazar's own clock, read from the `Date` header of a `GET /leases` (lease dates
    are absolute: a client whose clock is off would ask for a window already past);
    this machine's clock when the answer has no date."""
    import time
    from email.utils import parsedate_to_datetime

    response, _ = blazar.lease.request_manager.get("/leases")
    try:
        return parsedate_to_datetime(response.headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return time.time()


def epoch(text: str | None) -> float | None:
    """A Blazar date (any of its formats, UTC) as an epoch."""
    if not text:
        return None
    for pattern in ANSWER_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def utc(moment: float | None) -> str:
    """`2026-11-24 14:05 UTC`."""
    if moment is None:
        return "an unknown time"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_of(error: BaseException) -> int:
    """The HTTP status of a blazarclient error (kept in its `kwargs`)."""
    return int((getattr(error, "kwargs", None) or {}).get("code") or 0)


def is_missing(error: BaseException) -> bool:
    """Whether a blazarclient error is a 404."""
    return status_of(error) == 404


@contextlib.contextmanager
def blazar_refusal() -> Iterator[None]:
    """Let Blazar's own refusals through as `Refused` (status, message)."""
    from blazarclient import exception

    try:
        yield
    except exception.BlazarClientException as error:
        message = str(error).removeprefix("ERROR: ").strip()
        raise Refused(status_of(error), message) from error


class Refused(Exception):
    """Blazar said no: its status and its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
