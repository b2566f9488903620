"""Parsing of OAR resource requests (the ``resources`` field of a job).

Grammar (see g5k-api.md §3): groups joined by ``+``, then ``,key=value``
options (``walltime=HH:MM:SS``). A group is an optional ``{SQL filter}``,
an optional ``/`` and ``/``-separated levels ``name=N`` where N is an integer,
``ALL`` or ``BEST``. Examples::

    {cluster='parasilo'}/nodes=2+{type='kavlan'}/vlan=1+slash_22=1,walltime=02:00:00
    {network_address in ('parasilo-1.rennes.grid5000.fr')}/nodes=1
    {(type='default' or type='disk') AND cluster='parasilo'}/nodes=2
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .oarsql import Filter, FilterSyntaxError, compile_filter

#: Level names and their canonical form; compute levels in hierarchy order.
COMPUTE_LEVELS = ("cluster", "switch", "host", "cpu", "core")
_ALIASES = {"nodes": "host", "node": "host", "network_address": "host", "resource_id": "core"}
_SLASH = re.compile(r"slash_(1[6-9]|2[0-2])$")


class ResourceSyntaxError(ValueError):
    """The resource request cannot be parsed."""


@dataclass
class Level:
    """One ``name=N`` step of a group."""

    name: str
    count: int | str  # an integer, "ALL" or "BEST"


@dataclass
class Group:
    """One ``+``-separated part of a request."""

    text: str
    filter: Filter
    levels: list[Level]
    kind: str  # "compute", "vlan" or "subnet"


@dataclass
class ResourceRequest:
    """A parsed request: its groups and options (``walltime`` in seconds)."""

    groups: list[Group]
    walltime: int | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_duration(text: str) -> int:
    """``H[:M[:S]]`` (OAR walltime syntax) to seconds."""
    match = re.fullmatch(r"\s*(\d+)(?::(\d+))?(?::(\d+))?\s*", str(text))
    if not match:
        raise ResourceSyntaxError(f"bad walltime {text!r} (expected H[:M[:S]])")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: float, sign: bool = False) -> str:
    """Seconds to OAR's ``H:M:S`` (no zero padding), optionally with a sign."""
    total = round(seconds)
    prefix = ("-" if total < 0 else "+") if sign else ("-" if total < 0 else "")
    total = abs(total)
    return f"{prefix}{total // 3600}:{total % 3600 // 60}:{total % 60}"


def _split_top(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current: list[str] = []
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quote or depth:
        raise ResourceSyntaxError(f"unbalanced quotes or brackets in {text!r}")
    parts.append("".join(current))
    return parts


def _parse_level(text: str) -> Level:
    name, sep, value = text.partition("=")
    name = name.strip()
    value = value.strip()
    if not sep or not name or not value:
        raise ResourceSyntaxError(f"bad resource level {text!r} (expected name=N)")
    name = _ALIASES.get(name, name)
    if name not in COMPUTE_LEVELS and name != "vlan" and not _SLASH.match(name):
        raise ResourceSyntaxError(f"unknown resource level {name!r}")
    if value.upper() in ("ALL", "BEST"):
        return Level(name, value.upper())
    if not value.isdigit() or int(value) < 1:
        raise ResourceSyntaxError(f"bad number {value!r} for {name}")
    return Level(name, int(value))


def _parse_group(text: str) -> Group:
    rest = text.strip()
    filter_text = ""
    if rest.startswith("{"):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "{"
            depth -= ch == "}"
            if depth == 0:
                filter_text, rest = rest[1:i].strip(), rest[i + 1 :]
                break
        if len(filter_text) >= 2 and filter_text[0] == filter_text[-1] == '"':
            filter_text = filter_text[1:-1]
    try:
        flt = compile_filter(filter_text)
    except FilterSyntaxError as exc:
        raise ResourceSyntaxError(f"bad resource filter {{{filter_text}}}: {exc}") from None
    levels = [_parse_level(p) for p in rest.strip().split("/") if p.strip()]
    if not levels:
        levels = [Level("host", 1)]
    names = [lv.name for lv in levels]
    if "vlan" in names:
        if names != ["vlan"]:
            raise ResourceSyntaxError(f"vlan cannot be combined with other levels in {text!r}")
        kind = "vlan"
    elif all(_SLASH.match(n) for n in names):
        kind = "subnet"
    elif any(_SLASH.match(n) for n in names):
        raise ResourceSyntaxError(f"subnet levels mixed with compute levels in {text!r}")
    else:
        order = [COMPUTE_LEVELS.index(n) for n in names]
        if order != sorted(set(order)):
            raise ResourceSyntaxError(f"levels out of hierarchy order in {text!r}")
        kind = "compute"
    return Group(text.strip(), flt, levels, kind)


def parse_resources(text: str | None) -> ResourceRequest:
    """Parse a resource request (``None``/empty means ``nodes=1``)."""
    text = (text or "").strip() or "nodes=1"
    parts = _split_top(text, ",")
    head, option_parts = parts[0], parts[1:]
    options: dict[str, str] = {}
    walltime = None
    for part in option_parts:
        key, sep, value = part.partition("=")
        if not sep:
            raise ResourceSyntaxError(f"bad option {part!r} (expected key=value)")
        options[key.strip()] = value.strip()
        if key.strip() == "walltime":
            walltime = parse_duration(value)
    if not head.strip():
        head = "nodes=1"
    groups = [_parse_group(g) for g in _split_top(head, "+") if g.strip()]
    if not groups:
        raise ResourceSyntaxError(f"empty resource request {text!r}")
    return ResourceRequest(groups, walltime, options)
