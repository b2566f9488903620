"""Walking JSON-like values: mappings, lists and tuples nested to any depth.

One walker serves every layer: references in resource inputs, their substitution, the
saved-plan and JSON encodings, "(known after apply)" markers, JSON copies of objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

DESCEND = object()
"""What a visitor returns to have `walk` go into a value (or keep a scalar as it is)."""

_SCALARS = (str, int, float, type(None))


def walk(value: Any, visit: Callable[[Any], Any]) -> Any:
    """`value` rebuilt top-down: each node becomes `visit(node)`, unless that is
    `DESCEND`; then a mapping becomes a dict and a list or tuple a list of walked items,
    and any other value stays as it is."""
    replaced = visit(value)
    if replaced is not DESCEND or isinstance(value, _SCALARS):
        return value if replaced is DESCEND else replaced
    if isinstance(value, list | tuple):
        return [walk(item, visit) for item in value]
    if isinstance(value, dict | Mapping):
        return {key: walk(item, visit) for key, item in value.items()}
    return value


def leaves(value: Any) -> list[Any]:
    """Every value nested in `value` that is not a mapping, list or tuple, in order."""
    found: list[Any] = []

    def collect(node: Any) -> Any:
        if isinstance(node, _SCALARS) or not isinstance(node, Mapping | list | tuple):
            found.append(node)
        return DESCEND
    walk(value, collect)
    return found
