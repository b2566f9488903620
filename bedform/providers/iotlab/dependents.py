"""Refresh of the kinds that live on the boards of the experiment (firmware, profile
associations, boot waits): they are gone when their experiment is gone or is another
one, and cost no API call of their own."""

from __future__ import annotations

from collections.abc import Sequence

from bedform.providers.base import Observed
from bedform.providers.kinds import RefreshView
from bedform.state.model import Record, Status


def dependency_gone(record: Record, view: RefreshView) -> Observed | None:
    """Gone when the experiment this record lives on is gone or another one now (the
    reason says which, e.g. "expired at …"); None when it lives or was not refreshed."""
    exp_address = f"{record.provider}.experiment"
    exp = view.observed.get(exp_address)
    if exp is None:
        return None
    if not exp.alive:
        return Observed(alive=False, reason=f"its experiment {exp_address}: "
                                            f"{exp.reason or 'gone'}")
    if exp.attributes.get("id") != record.inputs.get("experiment"):
        return Observed(alive=False, reason=f"its experiment {exp_address} is another one")
    return None


def follow_experiment(records: Sequence[Record], view: RefreshView,
                      interrupted: str) -> dict[str, Observed]:
    """Alive as long as the experiment; a record an interrupted run left pending is
    not (`interrupted` says what it was doing), so it is made again."""
    return {record.address: dependency_gone(record, view) or Observed(
                alive=record.status != Status.PENDING_CREATE, reason=interrupted)
            for record in records}
