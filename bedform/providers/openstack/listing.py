"""One batched observation of a project for a refresh: each collection listed once.

A refresh costs at most one call per collection its records need, whatever their
number: `GET servers/detail?name=^(<prefix>)-` (every server of the stack's prefixes),
`GET networks`, `GET subnets`, `GET routers`, `GET ports?device_owner=
network:router_interface`, `GET floatingips`, `GET security-groups`. A collection no
record needs is not listed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

ROUTER_INTERFACE = "network:router_interface"


class Listing:
    """The collections of one refresh, each fetched on first use (thread-safe)."""

    def __init__(self, conn: Any, prefixes: Iterable[str] = ()) -> None:
        self.conn = conn
        self.prefixes = sorted(set(prefixes))
        self._cache: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def _get(self, key: str, fetch: Callable[[], Iterable[Any]]) -> list[Any]:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = list(fetch())
            return self._cache[key]

    def servers(self) -> list[Any]:
        """Servers whose names start with one of the prefixes (one call)."""
        if not self.prefixes:
            return []
        pattern = "^(" + "|".join(re.escape(p) for p in self.prefixes) + ")-"
        return self._get("servers", lambda: self.conn.compute.servers(details=True,
                                                                      name=pattern))

    def networks(self) -> list[Any]:
        return self._get("networks", self.conn.network.networks)

    def subnets(self) -> list[Any]:
        return self._get("subnets", self.conn.network.subnets)

    def routers(self) -> list[Any]:
        return self._get("routers", self.conn.network.routers)

    def router_interfaces(self) -> list[Any]:
        return self._get("router_interfaces",
                         lambda: self.conn.network.ports(device_owner=ROUTER_INTERFACE))

    def floating_ips(self) -> list[Any]:
        return self._get("floating_ips", self.conn.network.ips)

    def security_groups(self) -> list[Any]:
        return self._get("security_groups", self.conn.network.security_groups)


def by_id(items: Iterable[Any]) -> dict[str, Any]:
    """Objects keyed by id."""
    return {item.id: item for item in items}
