"""Leak detection and purge of one stack's `local` objects (tests, recovery after a kill)."""

from __future__ import annotations

from bedform import machines
from bedform.providers.local.layout import UTS_DIR, ifname_prefix, netns_prefix, short_id


def leftovers(stack_id: str, prefix: str = "bf") -> dict[str, list]:
    """Everything on this machine that carries the stack's id, by type."""
    sid = short_id(stack_id)
    return machines.leftovers(netns_prefix(prefix, sid), ifname_prefix(sid), UTS_DIR)


def purge(stack_id: str, prefix: str = "bf") -> dict[str, list]:
    """Remove everything `leftovers` finds; returns what it found."""
    sid = short_id(stack_id)
    return machines.purge(netns_prefix(prefix, sid), ifname_prefix(sid), UTS_DIR)
