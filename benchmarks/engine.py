"""Engine figures: planning 10,000 resources, writing their state, applying 1,000 to
10,000 resources, `bedform --help`.

`measure()` returns the rows; run standalone, it prints them as a table. The planning
and apply figures use an in-memory driver (every call answers instantly), so they
measure the engine alone: expand, dependency check, diff, the plan's graph and, for
apply, the executor and the state journal. The apply rows of each size are printed side
by side with their cost per resource, which must stay flat as the stack grows.
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
APPLY_SIZES = (1_000, 3_000, 10_000)


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
        apply_times = {size: _apply_time(Path(root) / f"apply-{size}", size)
                       for size in APPLY_SIZES}
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
    per_resource = "; ".join(f"{size:,}: {apply_times[size] / size * 1000:.2f} ms"
                             for size in APPLY_SIZES)
    return [
        Row("engine: no-op plan, 10,000 resources (refreshed)", 1.0, plan_time),
        Row("engine: state write, 10,000 resources", 0.3, write_time),
        Row("engine: state load, 10,000 resources", None, load_time),
        *(Row(f"engine: apply, {size:,} resources, in-memory driver",
              15.0 if size == 10_000 else None, apply_times[size],
              note=f"{apply_times[size] / size * 1000:.2f} ms per resource")
          for size in APPLY_SIZES),
        Row("engine: apply cost per resource, 10,000 over 1,000", 1.5,
            apply_times[10_000] / 10_000 / (apply_times[1_000] / 1_000), unit="x",
            note=per_resource),
        Row("engine: `bedform --help` wall time", 0.3, help_time),
    ]


def _apply_time(state_dir: Path, size: int) -> float:
    """Wall time of plan + apply of `size` new resources, the state's final fold included."""
    engine = Engine(Stack(name=f"apply{size}", state_dir=state_dir, providers={
        "mem": ProviderSection("mem", "memory", {"count": size}, {"count": size})}))

    def apply() -> None:
        with engine.session("apply") as session:
            session.apply(session.plan(Mode.APPLY), parallelism=64)
    elapsed = best_of(1, apply)
    assert len(StateStore(state_dir).load().resources) == size
    return elapsed


def main() -> None:
    print_table(measure())


if __name__ == "__main__":
    main()
