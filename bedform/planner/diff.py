"""Diff: desired resources against refreshed state → one `Change` per address, with a reason."""

from __future__ import annotations

import enum
import time
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from bedform.planner.resources import UNKNOWN, DesiredSet
from bedform.providers.base import (
    KindSpec,
    Observed,
    Ref,
    Resource,
    substitute_refs,
)
from bedform.state.model import Record, Status


class Action(enum.StrEnum):
    """What apply will do to one object (Terraform's vocabulary)."""

    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    FORGET = "forget"

    @property
    def symbol(self) -> str:
        """The symbol Terraform users read."""
        return {"no-op": " ", "create": "+", "update": "~", "replace": "-/+",
                "delete": "-", "forget": "."}[self.value]


class Reason(enum.StrEnum):
    """Why a change is planned."""

    NEW = "new"
    EXPIRED = "expired"
    DELETED_OUTSIDE = "deleted outside"
    CHANGED_OUTSIDE = "changed outside"
    TAINTED = "tainted"
    REQUESTED = "requested"
    INPUTS_CHANGED = "inputs changed"
    DEPENDENCY_REPLACED = "dependency replaced"
    ADOPT = "left by an interrupted run"
    NOT_IN_CONFIG = "no longer in configuration"
    DESTROY = "destroy requested"
    GONE = "already gone"
    UNCHANGED = "unchanged"


@attrs.frozen
class Change:
    """One planned change. `before` are the inputs as applied, `after` as desired
    (UNKNOWN where known only after apply)."""

    address: str
    kind: str
    provider: str
    action: Action
    reason: Reason
    detail: str = ""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    forces_replacement: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    adopt: Mapping[str, Any] | None = None

    @property
    def why(self) -> str:
        """The reason in words, with its detail."""
        if not self.detail or self.detail.startswith(self.reason.value):
            return self.detail or self.reason.value
        return f"{self.reason.value}: {self.detail}"


@attrs.frozen
class DriftEntry:
    """Something that changed outside bedform since the last apply."""

    address: str
    kind: str
    status: str  # "deleted", "changed", "found"
    detail: str


def _gone_reason(record: Record, observed: Observed, now: float) -> tuple[Reason, str]:
    if record.expires_at is not None and record.expires_at <= now:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.expires_at))
        return Reason.EXPIRED, f"expired at {stamp}"
    text = observed.reason or "deleted outside bedform"
    return (Reason.EXPIRED if "expir" in text else Reason.DELETED_OUTSIDE), text


def compute_drift(records: Mapping[str, Record], observed: Mapping[str, Observed],
                  now: float) -> list[DriftEntry]:
    """What refresh found different from the state: gone, changed, or left by a crash."""
    drift = []
    for address in sorted(observed):
        record, seen = records[address], observed[address]
        if record.status == Status.PENDING_CREATE:
            if seen.alive:
                drift.append(DriftEntry(address, record.kind, "found",
                                        "created by an interrupted run; will be adopted"))
        elif not seen.alive and record.status != Status.PENDING_DELETE:
            drift.append(DriftEntry(address, record.kind, "deleted",
                                    _gone_reason(record, seen, now)[1]))
        elif seen.drift:
            drift.append(DriftEntry(address, record.kind, "changed", "; ".join(seen.drift)))
    return drift


def diff(
    desired: DesiredSet,
    records: Mapping[str, Record],
    observed: Mapping[str, Observed],
    kinds: Mapping[str, KindSpec],
    *,
    replace: Collection[str] = (),
    now: float | None = None,
) -> list[Change]:
    """Changes that bring the refreshed state to the desired resources.

    Desired resources come first in dependency order, deletions last. Re-creating or
    replacing an object replaces everything that depends on it.
    """
    now = time.time() if now is None else now
    changes: list[Change] = []
    recreated: set[str] = set()  # addresses whose attributes are unknown until apply
    updated: dict[str, frozenset[str]] = {}  # address -> attributes its update may change

    def lookup(ref: Ref) -> Any:
        if ref.address in recreated or ref.attribute in updated.get(ref.address, ()):
            return UNKNOWN
        record = records.get(ref.address)
        if record is None:
            return UNKNOWN
        seen = observed.get(ref.address)
        attributes = seen.attributes if seen is not None and seen.attributes else \
            record.attributes
        return attributes.get(ref.attribute, UNKNOWN)

    for address in desired.order:
        resource = desired.resources[address]
        after = substitute_refs(resource.inputs, lookup)
        change = _diff_one(resource, after, records.get(address), observed.get(address),
                           kinds[resource.kind], address in replace, recreated, now)
        if change.action in (Action.CREATE, Action.REPLACE):
            recreated.add(address)
        elif change.action == Action.UPDATE:
            updated[address] = kinds[resource.kind].update_changes
        changes.append(change)

    for address in sorted(set(records) - set(desired.resources)):
        record = records[address]
        seen = observed.get(address)
        gone = seen is not None and not seen.alive
        changes.append(_removal(record, gone, Reason.NOT_IN_CONFIG))
    return changes


def _removal(record: Record, gone: bool, reason: Reason) -> Change:
    """Delete a recorded object, or just forget it when it no longer exists."""
    if gone:
        return Change(record.address, record.kind, record.provider, Action.FORGET,
                      Reason.GONE, before=record.inputs, dependencies=tuple(record.dependencies))
    return Change(record.address, record.kind, record.provider, Action.DELETE, reason,
                  before=record.inputs, dependencies=tuple(record.dependencies))


def destroy_changes(records: Mapping[str, Record],
                    observed: Mapping[str, Observed]) -> list[Change]:
    """Delete every recorded object (forget those already gone)."""
    changes = []
    for address in sorted(records):
        seen = observed.get(address)
        changes.append(_removal(records[address], seen is not None and not seen.alive,
                                Reason.DESTROY))
    return changes


def _diff_one(resource: Resource, after: dict[str, Any], record: Record | None,
              seen: Observed | None, spec: KindSpec, requested: bool,
              recreated: set[str], now: float) -> Change:
    base: dict[str, Any] = {"address": resource.address, "kind": resource.kind,
            "provider": resource.provider, "after": after,
            "dependencies": resource.dependencies()}
    if record is None:
        return Change(action=Action.CREATE, reason=Reason.NEW, **base)
    base["before"] = record.inputs
    alive = seen is None or seen.alive
    if record.status == Status.PENDING_CREATE:
        if alive and seen is not None:
            return Change(action=Action.CREATE, reason=Reason.ADOPT,
                          detail=_describe_ids(seen.attributes),
                          adopt=dict(seen.attributes), **base)
        return Change(action=Action.CREATE, reason=Reason.NEW, **base)
    if not alive and record.status == Status.PENDING_DELETE:
        return Change(action=Action.CREATE, reason=Reason.NEW, **base)
    if not alive:
        assert seen is not None
        reason, detail = _gone_reason(record, seen, now)
        return Change(action=Action.CREATE, reason=reason, detail=detail, **base)
    base["dependencies"] = tuple(dict.fromkeys((*resource.dependencies(),
                                                *record.dependencies)))
    if record.status == Status.PENDING_DELETE:
        return Change(action=Action.REPLACE, reason=Reason.TAINTED,
                      detail="an interrupted run was deleting it", **base)
    if record.status == Status.TAINTED:
        return Change(action=Action.REPLACE, reason=Reason.TAINTED, **base)
    if requested:
        return Change(action=Action.REPLACE, reason=Reason.REQUESTED, **base)
    replaced_deps = [dep for dep in resource.dependencies() if dep in recreated]
    keys = sorted(set(record.inputs) | set(after))
    changed = [k for k in keys if record.inputs.get(k) != after.get(k)]
    forcing = tuple(k for k in changed if k not in spec.updatable)
    if seen is not None and seen.drift:
        repair = spec.repairs_drift and not forcing and not replaced_deps
        return Change(action=Action.UPDATE if repair else Action.REPLACE,
                      reason=Reason.CHANGED_OUTSIDE, detail="; ".join(seen.drift), **base)
    if forcing:
        return Change(action=Action.REPLACE, reason=Reason.INPUTS_CHANGED,
                      forces_replacement=forcing, **base)
    if replaced_deps:
        return Change(action=Action.REPLACE, reason=Reason.DEPENDENCY_REPLACED,
                      detail=", ".join(replaced_deps), **base)
    if changed:
        return Change(action=Action.UPDATE, reason=Reason.INPUTS_CHANGED, **base)
    return Change(action=Action.NOOP, reason=Reason.UNCHANGED, **base)


def _describe_ids(attributes: Mapping[str, Any]) -> str:
    ids = [f"{k}={v}" for k, v in sorted(attributes.items())
           if k in ("id", "uid", "job_id", "name") and v is not None]
    return ", ".join(ids)
