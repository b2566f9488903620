"""Plans and apply events for people (Terraform's symbols) and machines (JSON).

The JSON plan document (`plan --json`, `show --json`) has `format_version` "1.0":

    {format_version, bedform_version, mode, lineage, serial, config_hash, created_at,
     expires_at, applyable, targets, notes,
     resource_changes: [{address, kind, provider, actions: [...], action, reason,
                         detail, before, after, after_unknown: [input names],
                         forces_replacement: [input names]}],
     resource_drift: [{address, kind, status, detail}],
     summary: {add, change, destroy}}

`actions` lists Terraform's words: ["create"], ["update"], ["delete", "create"]
(replace), ["delete"], ["forget"] or ["no-op"]. Event lines (`--json` on apply,
destroy, refresh) carry `@level`, `@message`, `@timestamp`, `type` and `ui_version`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import click

from bedform.planner.apply import Event
from bedform.planner.diff import Action, Change
from bedform.planner.plan import Mode, Plan
from bedform.planner.resources import UNKNOWN, encode_ref
from bedform.values import leaves, walk
from bedform.version import __version__

PLAN_JSON_VERSION = "1.0"
UI_VERSION = "1.0"
_COLOURS = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta",
            Action.DELETE: "red", Action.FORGET: "blue"}
_HEADINGS = {
    Action.CREATE: "will be created", Action.UPDATE: "will be updated in-place",
    Action.REPLACE: "must be replaced", Action.DELETE: "will be destroyed",
    Action.FORGET: "will be forgotten",
}
_ACTIONS_JSON = {Action.CREATE: ["create"], Action.UPDATE: ["update"],
                 Action.REPLACE: ["delete", "create"], Action.DELETE: ["delete"],
                 Action.FORGET: ["forget"], Action.NOOP: ["no-op"]}


def format_value(value: Any, limit: int = 100) -> str:
    """A value as it appears in a plan line: a string whole (an OAR resource request is
    read to the end), a structure cut at `limit` characters."""
    if value is UNKNOWN:
        return "(known after apply)"
    text = json.dumps(_jsonable(value), sort_keys=True)
    if isinstance(value, str) or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def _jsonable(value: Any) -> Any:
    return walk(value, lambda node: "(known after apply)" if node is UNKNOWN
                else encode_ref(node))


def _unknown_keys(after: Mapping[str, Any] | None) -> list[str]:
    if not after:
        return []
    return sorted(k for k, v in after.items() if any(leaf is UNKNOWN for leaf in leaves(v)))


def render_plan(plan: Plan, colour: bool = False) -> str:
    """The plan as a person reads it: drift, then each change, then the summary line."""
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if colour else text

    lines: list[str] = []
    if plan.drift:
        lines += ["Note: Objects have changed outside of bedform", ""]
        for entry in plan.drift:
            verb = {"deleted": "has been deleted", "changed": "has changed",
                    "found": "was found"}[entry.status]
            lines.append(f"  # {entry.address} {verb} ({entry.detail})")
        lines.append("")
    for note in plan.notes:
        lines += [style(f"Note: {note}", bold=True), ""]
    changes = plan.actionable
    if plan.mode == Mode.REFRESH_ONLY:
        lines.append("This is a refresh-only plan: apply records the changes above in the "
                     "state and changes nothing else." if plan.drift else
                     "No changes. The state matches the objects it records.")
        return "\n".join(lines)
    if not changes:
        lines.append("No changes. No objects need to be destroyed." if plan.mode ==
                     Mode.DESTROY else "No changes. Your infrastructure matches the "
                     "configuration.")
        return "\n".join(lines)
    used = sorted({c.action for c in changes}, key=list(Action).index)
    lines.append("Resource actions are indicated with the following symbols:")
    legend = {Action.CREATE: "create", Action.UPDATE: "update in-place",
              Action.REPLACE: "destroy and then create replacement",
              Action.DELETE: "destroy", Action.FORGET: "forget (already gone)"}
    for action in used:
        lines.append("  " + style(f"{action.symbol:>3}", fg=_COLOURS[action]) +
                     f" {legend[action]}")
    lines += ["", "bedform will perform the following actions:", ""]
    for change in changes:
        lines += _render_change(change, style)
    summary = plan.summary()
    lines.append(style(f"Plan: {summary}.", bold=True))
    return "\n".join(lines)


def _render_change(change: Change, style: Callable[..., str]) -> list[str]:
    heading = _HEADINGS[change.action]
    if change.action == Action.CREATE and change.adopt is not None:
        heading = "will be adopted (an interrupted run created it)"
    lines = [style(f"  # {change.address} {heading}", bold=True) + f" (reason: {change.why})"]
    symbol = style(f"{change.action.symbol:>3}", fg=_COLOURS[change.action])
    lines.append(f"{symbol} {change.kind} \"{change.address}\" {{")
    before = change.before or {}
    after = change.after or {}
    hidden = 0
    if change.action == Action.CREATE:
        for key in sorted(after):
            lines.append(f"      + {key} = {format_value(after[key])}")
    elif change.action in (Action.UPDATE, Action.REPLACE):
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            if old == new:
                hidden += 1
                continue
            forces = "  # forces replacement" if key in change.forces_replacement else ""
            lines.append(f"      ~ {key} = {format_value(old, 60)} -> "
                         f"{format_value(new, 60)}{forces}")
    else:
        hidden = len(before)
    if hidden:
        lines.append(f"        # ({hidden} unchanged attributes hidden)")
    lines += ["    }", ""]
    return lines


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The documented, versioned JSON form of a plan."""
    summary = plan.summary()
    return {
        "format_version": PLAN_JSON_VERSION, "bedform_version": __version__,
        "mode": plan.mode.value, "lineage": plan.lineage, "serial": plan.serial,
        "config_hash": plan.config_hash, "created_at": plan.created_at,
        "expires_at": plan.expires_at, "applyable": plan.has_changes,
        "targets": list(plan.targets), "notes": plan.notes,
        "resource_changes": [
            {"address": c.address, "kind": c.kind, "provider": c.provider,
             "actions": _ACTIONS_JSON[c.action], "action": c.action.value,
             "reason": c.reason.value, "detail": c.detail, "before": c.before,
             "after": _jsonable(c.after) if c.after is not None else None,
             "after_unknown": _unknown_keys(c.after),
             "forces_replacement": list(c.forces_replacement)}
            for c in plan.changes],
        "resource_drift": [{"address": d.address, "kind": d.kind, "status": d.status,
                            "detail": d.detail} for d in plan.drift],
        "summary": {"add": summary.add, "change": summary.change,
                    "destroy": summary.destroy},
    }


_VERBS = {"create": ("Creating...", "Creation complete", "creating"),
          "update": ("Modifying...", "Modifications complete", "modifying"),
          "delete": ("Destroying...", "Destruction complete", "destroying"),
          "forget": ("Forgetting...", "Forgotten", "forgetting")}


def human_event(event: Event) -> str:
    """One line for an apply event."""
    address, operation = event["address"], event["operation"]
    start, done, doing = _VERBS[operation]
    kind = event["type"]
    if kind == "apply_start":
        return f"{address}: {start}"
    if kind == "apply_progress":
        extra = f" {event['message']}" if event.get("message") else ""
        return f"{address}: Still {doing}... [{_duration(event['elapsed'])} elapsed]{extra}"
    if kind == "apply_complete":
        return f"{address}: {done} after {_duration(event['elapsed'])}"
    if kind == "apply_interrupted":
        return f"{address}: stopped by interrupt after {_duration(event['elapsed'])}"
    return f"{address}: failed after {_duration(event['elapsed'])}: {event.get('error')}"


def json_event(event: Event) -> str:
    """One JSON line for an apply event, with the envelope fields."""
    level = "error" if event["type"] == "apply_errored" else "info"
    document = {"@level": level, "@message": human_event(event),
                "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "ui_version": UI_VERSION, **event}
    return json.dumps(document)


def json_message(kind: str, message: str, level: str = "info", **fields: Any) -> str:
    """A JSON line that is not tied to one operation (summary, diagnostic...)."""
    return json.dumps({"@level": level, "@message": message,
                       "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "ui_version": UI_VERSION, "type": kind, **fields})


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{seconds}s"
