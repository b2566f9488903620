"""Engine figures: planning 10,000 resources, writing their state, `bedform --help`.

`measure()` returns the rows; run standalone, it prints them as a table. The planning
figure uses an in-memory driver (refresh answers instantly), so it measures the planner
alone: expand, dependency check, diff against the refreshed state and the plan's graph.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform.planner.engine import Engine
from bedform.planner.plan import Mode
from bedform.providers import register_driver
from bedform.providers.base import (
    Capabilities,
    DriverContext,
    KindSpec,
    Observed,
    Ref,
    Resource,
)
from bedform.stack import ProviderSection, Stack
from bedform.state.model import Record
from bedform.state.store import StateStore
from benchmarks.common import Row, best_of, print_table

SIZE = 10_000


class MemoryDriver:
    """Resources that exist as soon as they are recorded: 100 networks, the rest hosts."""

    type_name = "memory"
    kinds = {"mem_network": KindSpec("mem_network"),
             "mem_host": KindSpec("mem_host", updatable={"size"})}
    capabilities = Capabilities(max_concurrent_calls=64)

    def __init__(self, context: DriverContext) -> None:
        self.context = context

    @classmethod
    def schema(cls) -> dict[str, Any]:
        return {"type": "object"}

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> dict[str, Any]:
        return dict(section)

    def preflight(self, conf: Any = None) -> None:
        return None

    def expand(self, name: str, conf: Mapping[str, Any],
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        count = conf["count"]
        networks = [Resource(f"{name}.network[n{i}]", "mem_network", {"cidr": f"10.{i}.0.0/16"})
                    for i in range(100)]
        hosts = [Resource(f"{name}.host[h{i}]", "mem_host",
                          {"size": "m", "image": "debian", "index": i,
                           "network": Ref(f"{name}.network[n{i % 100}]", "id")},
                          identity={"name": f"h{i}"})
                 for i in range(count - 100)]
        return networks + hosts

    def refresh(self, records: Sequence[Record]) -> dict[str, Observed]:
        return {r.address: Observed(alive=True) for r in records}

    def create(self, resource: Resource, ctx: Any) -> dict[str, Any]:
        return {"id": resource.address}

    def update(self, resource: Resource, record: Record, ctx: Any) -> dict[str, Any]:
        return {}

    def delete(self, record: Record, ctx: Any) -> None:
        return None

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        return {"id": remote_id}

    def inventory(self, name: str, conf: Any, records: Mapping[str, Record]) -> Any:
        from bedform.objects import Networks, Roles

        return Roles(), Networks()


def _records(session: Any) -> dict[str, Record]:
    """The records an apply of the 10,000 resources would leave, built directly."""
    records = {}
    for address, resource in session.desired().resources.items():
        inputs = {k: (f"{v.address}" if isinstance(v, Ref) else v)
                  for k, v in resource.inputs.items()}
        records[address] = Record(address=address, kind=resource.kind, provider="mem",
                                  inputs=inputs, attributes={"id": address},
                                  dependencies=list(resource.dependencies()),
                                  identity=dict(resource.identity))
    return records


def measure() -> list[Row]:
    register_driver("memory", f"{__name__}:MemoryDriver")
    with tempfile.TemporaryDirectory() as root:
        stack = Stack(name="bench", state_dir=Path(root) / "state", providers={
            "mem": ProviderSection("mem", "memory", {"count": SIZE}, {"count": SIZE})})
        engine = Engine(stack)
        small = Engine(Stack(name="small", state_dir=Path(root) / "small", providers={
            "mem": ProviderSection("mem", "memory", {"count": 1000}, {"count": 1000})}))
        with small.session("apply") as session:
            apply_time = best_of(1, lambda: session.apply(session.plan(Mode.APPLY),
                                                          parallelism=64))
        with engine.session("apply") as session:
            session.state.resources.update(_records(session))
            session.engine.store.save(session.state)
        with engine.session("plan") as session:
            plan_time = best_of(3, lambda: session.plan(Mode.APPLY))
            assert not session.plan(Mode.APPLY).has_changes
        store = StateStore(Path(root) / "state")
        state = store.load()
        host = state.resources["mem.host[h1]"]

        def write_changed() -> None:
            host.attributes["touch"] = time.perf_counter()
            store.save(state)
        write_time = best_of(5, write_changed)
        load_time = best_of(3, lambda: StateStore(Path(root) / "state").load())
    help_time = best_of(5, lambda: subprocess.run(
        [sys.executable, "-m", "bedform.cli", "--help"], check=True, capture_output=True))
    return [
        Row("engine: no-op plan, 10,000 resources (refreshed)", 1.0, plan_time),
        Row("engine: state write, 10,000 resources", 0.3, write_time),
        Row("engine: state load, 10,000 resources", None, load_time),
        Row("engine: apply, 1,000 resources, in-memory driver", None, apply_time),
        Row("engine: `bedform --help` wall time", 0.3, help_time),
    ]


def main() -> None:
    print_table(measure())


if __name__ == "__main__":
    main()
