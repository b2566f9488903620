"""The state's vocabulary: what is recorded of one object, and its lifecycle.

Drivers read and build these records too, so this module imports nothing of bedform:
it is the one part of `state/` that every layer may use.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs


class Status(enum.StrEnum):
    """Lifecycle of a record in the state."""

    READY = "ready"
    PENDING_CREATE = "pending_create"
    PENDING_DELETE = "pending_delete"
    TAINTED = "tainted"


@attrs.define
class Record:
    """What the state knows of one object: inputs as applied and attributes observed."""

    address: str
    kind: str
    provider: str
    status: Status = Status.READY
    inputs: dict[str, Any] = attrs.field(factory=dict)
    attributes: dict[str, Any] = attrs.field(factory=dict)
    dependencies: list[str] = attrs.field(factory=list)
    identity: dict[str, Any] = attrs.field(factory=dict)
    created_at: float | None = None
    updated_at: float | None = None
    expires_at: float | None = None
