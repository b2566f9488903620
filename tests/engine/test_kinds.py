"""The kind-handler driver base: dispatch by kind, unknown kinds, refresh order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, DriverContext, KindSpec, Observed, Resource
from bedform.providers.kinds import KindDriver, KindHandler, RefreshView
from bedform.state.model import Record


class ParentKind(KindHandler["TwoKinds"]):
    spec = KindSpec("parent")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        self.driver.calls.append(("refresh", "parent", len(records)))
        return {r.address: Observed(alive=r.address != "x.parent[gone]") for r in records}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "Connection refused")


class ChildKind(KindHandler["TwoKinds"]):
    spec = KindSpec("child", updatable={"size"})

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        self.driver.calls.append(("refresh", "child", len(records)))
        return {r.address: Observed(alive=view.observed[r.dependencies[0]].alive)
                for r in records}


class TwoKinds(KindDriver):
    type_name = "two"
    handlers = (ParentKind, ChildKind)

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.calls: list[tuple[str, str, int]] = []


def driver() -> TwoKinds:
    return TwoKinds(DriverContext("s", "id", Path("/nonexistent")))


def test_kinds_come_from_the_handlers() -> None:
    assert list(TwoKinds.kinds) == ["parent", "child"]
    assert TwoKinds.kinds["child"].updatable == frozenset({"size"})


def test_refresh_is_one_batch_per_kind_in_handler_order() -> None:
    records = [Record("x.child[a]", "child", "x", dependencies=["x.parent[gone]"]),
               Record("x.parent[gone]", "parent", "x"),
               Record("x.parent[b]", "parent", "x"),
               Record("x.child[b]", "child", "x", dependencies=["x.parent[b]"])]
    subject = driver()
    observed = subject.refresh(records)
    assert subject.calls == [("refresh", "parent", 2), ("refresh", "child", 2)]
    assert not observed["x.child[a]"].alive and observed["x.child[b]"].alive


def test_unknown_kinds_are_rejected_naming_the_resource() -> None:
    with pytest.raises(ProviderError, match=r"x.thing\[1\]: kind 'thing' is not a kind of "
                                            r"the two provider"):
        driver().refresh([Record("x.thing[1]", "thing", "x")])
    with pytest.raises(ProviderError, match="Its kinds are: parent, child"):
        driver().create(Resource("x.thing[1]", "thing"), None)  # type: ignore[arg-type]


def test_client_errors_become_provider_errors_and_defaults_refuse() -> None:
    subject = driver()
    with pytest.raises(ProviderError, match="cannot reach the API"):
        subject.create(Resource("x.parent[a]", "parent"), None)  # type: ignore[arg-type]
    with pytest.raises(ProviderError, match="cannot be changed in place"):
        subject.update(Resource("x.parent[a]", "parent"), Record("x.parent[a]", "parent", "x"),
                       None)  # type: ignore[arg-type]
    with pytest.raises(ProviderError, match="cannot be imported"):
        subject.import_object(Resource("x.parent[a]", "parent"), "7")
