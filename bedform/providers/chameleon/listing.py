"""The batched observation of a Chameleon refresh: the OpenStack collections, plus
Blazar's leases and the project's ports, each listed once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bedform.providers.openstack.listing import Listing


class ChameleonListing(Listing):
    """`Listing` with `GET /v1/leases` (one call for every lease record) and ports."""

    def __init__(self, conn: Any, blazar: Any, prefixes: Iterable[str] = ()) -> None:
        super().__init__(conn, prefixes)
        self.blazar = blazar

    def leases(self) -> list[Any]:
        return self._get("leases", self.blazar.lease.list)

    def ports(self) -> list[Any]:
        return self._get("ports", self.conn.network.ports)
