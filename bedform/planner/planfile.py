"""Saved plans: `plan --out FILE` writes one, `apply FILE` reads and verifies it.

A saved plan is applied only to the state and configuration it was made from: same
lineage, same serial, same configuration hash, and before it expires.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import attrs

from bedform.errors import StalePlanError
from bedform.planner.diff import Action, Change, DriftEntry, Reason
from bedform.planner.plan import Mode, Plan
from bedform.planner.resources import (
    UNKNOWN,
    DesiredSet,
    encode_ref,
    resource_from_dict,
    resource_to_dict,
)
from bedform.values import DESCEND, walk
from bedform.version import __version__

PLAN_FORMAT = "bedform-plan"
PLAN_VERSION = 1
_UNKNOWN_MARK = {"$unknown": True}


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan to a file for a later `apply FILE`."""
    Path(path).write_text(json.dumps(plan_to_dict(plan), indent=1), encoding="utf-8")


def load_plan(path: Path) -> Plan:
    """Read a saved plan; a clear error if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StalePlanError(f"cannot read saved plan {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise StalePlanError(f"{path} is not a bedform saved plan",
                             hint="Create one with `bedform plan --out FILE`.")
    if data.get("version") != PLAN_VERSION:
        raise StalePlanError(f"saved plan {path} has format version "
                             f"{data.get('version')!r}; this bedform reads {PLAN_VERSION}")
    return plan_from_dict(data)


def verify_plan(plan: Plan, lineage: str, serial: int, config_hash: str,
           now: float | None = None) -> None:
    """Raise StalePlanError if the state or configuration moved since planning."""
    now = time.time() if now is None else now
    if lineage != plan.lineage and serial != 0:
        raise StalePlanError(
            "this saved plan was made for another state (lineage "
            f"{plan.lineage}, the state's is {lineage})",
            hint="Run `bedform plan --out FILE` again for this stack.")
    if serial != plan.serial:
        raise StalePlanError(
            f"saved plan is stale: the state changed since it was made (serial "
            f"{plan.serial}, now {serial})",
            hint="Run `bedform plan --out FILE` again, review it, then apply it.")
    if config_hash != plan.config_hash:
        raise StalePlanError(
            "saved plan is stale: the configuration changed since it was made",
            hint="Run `bedform plan --out FILE` again, review it, then apply it.")
    if plan.expires_at is not None and now >= plan.expires_at:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(plan.expires_at))
        raise StalePlanError(
            f"saved plan expired at {stamp} (a reservation it relies on ends, or "
            "the plan is too old)",
            hint="Run `bedform plan --out FILE` again.")


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The saved-plan document."""
    desired = plan.desired
    return {
        "format": PLAN_FORMAT, "version": PLAN_VERSION, "bedform_version": __version__,
        "mode": plan.mode.value, "lineage": plan.lineage, "serial": plan.serial,
        "config_hash": plan.config_hash, "created_at": plan.created_at,
        "expires_at": plan.expires_at, "targets": list(plan.targets),
        "notes": plan.notes,
        "desired": [resource_to_dict(desired.resources[a]) for a in desired.order],
        "changes": [_change_to_dict(c) for c in plan.changes],
        "drift": [attrs.asdict(d) for d in plan.drift],
    }


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Inverse of `plan_to_dict`."""
    desired = DesiredSet.build(resource_from_dict(item) for item in data["desired"])
    return Plan(
        mode=Mode(data["mode"]), changes=[_change_from_dict(c) for c in data["changes"]],
        drift=[DriftEntry(**d) for d in data["drift"]], desired=desired,
        lineage=data["lineage"], serial=data["serial"], config_hash=data["config_hash"],
        created_at=data["created_at"], expires_at=data["expires_at"],
        targets=tuple(data["targets"]), notes=list(data.get("notes", [])))


def _encode_after(node: Any) -> Any:
    return dict(_UNKNOWN_MARK) if node is UNKNOWN else encode_ref(node)


def _decode_after(node: Any) -> Any:
    return UNKNOWN if node == _UNKNOWN_MARK else DESCEND


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "address": change.address, "kind": change.kind, "provider": change.provider,
        "action": change.action.value, "reason": change.reason.value, "detail": change.detail,
        "before": change.before, "after": walk(change.after, _encode_after),
        "forces_replacement": list(change.forces_replacement),
        "dependencies": list(change.dependencies), "adopt": change.adopt,
    }


def _change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        address=data["address"], kind=data["kind"], provider=data["provider"],
        action=Action(data["action"]), reason=Reason(data["reason"]), detail=data["detail"],
        before=data["before"], after=walk(data["after"], _decode_after),
        forces_replacement=tuple(data["forces_replacement"]),
        dependencies=tuple(data["dependencies"]), adopt=data["adopt"])
