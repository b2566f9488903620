"""The executor: walks a plan's operation DAG and records every step in the state.

- At most `parallelism` operations work at once, and at most
  `Capabilities.max_concurrent_calls` per provider. A driver waiting between polls
  (`ctx.sleep`) gives its slot back, so queued jobs and deployments do not starve
  other work.
- Before each create, a `pending_create` record (with the identity the object will
  carry) is on disk; remote ids are persisted by `ctx.checkpoint` the moment they exist.
- A failed operation skips what depends on it; independent branches finish.
- `request_stop()` (first Ctrl-C): nothing new starts, waits end, running calls finish.
  `interrupt_handler` wires SIGINT to it; a second Ctrl-C exits at once.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from bedform.errors import ApplyInterrupted, ProviderError
from bedform.planner.diff import Change
from bedform.planner.plan import Plan
from bedform.providers.base import Driver, Ref, Resource, substitute_refs
from bedform.state.model import Record, Status
from bedform.state.store import State, StateWriter

Event = dict[str, Any]
EventSink = Callable[[Event], None]


@attrs.define
class ApplyResult:
    """What an apply did, by operation node `(operation, address)`."""

    completed: list[tuple[str, str]] = attrs.field(factory=list)
    failed: dict[tuple[str, str], BaseException] = attrs.field(factory=dict)
    skipped: list[tuple[str, str]] = attrs.field(factory=list)
    interrupted: bool = False

    def count(self, operation: str) -> int:
        """Completed operations of one type."""
        return sum(1 for op, _ in self.completed if op == operation)


class _Slots:
    """The global slot pool plus one pool per provider."""

    def __init__(self, parallelism: int, per_provider: Mapping[str, int]) -> None:
        self.global_pool = threading.Semaphore(max(1, parallelism))
        self.providers = {name: threading.Semaphore(max(1, n)) for name, n in
                          per_provider.items()}

    def acquire(self, provider: str) -> None:
        self.global_pool.acquire()
        self.providers[provider].acquire()

    def release(self, provider: str) -> None:
        self.providers[provider].release()
        self.global_pool.release()


class _OperationContext:
    """The `ApplyContext` handed to a driver for one operation."""

    def __init__(self, executor: Executor, node: tuple[str, str], provider: str,
                 existing: Mapping[str, Any] | None) -> None:
        self._executor = executor
        self._node = node
        self._provider = provider
        self.existing = existing

    def checkpoint(self, attributes: Mapping[str, Any]) -> None:
        address = self._node[1]

        def merge(state: State) -> None:
            state.resources[address].attributes.update(attributes)
        self._executor.writer.change(merge, address)

    def progress(self, message: str) -> None:
        self._executor.progress_messages[self._node] = message

    def sleep(self, seconds: float) -> None:
        executor = self._executor
        executor.slots.release(self._provider)
        try:
            if executor.stop_event.wait(max(0.0, seconds)):
                raise ApplyInterrupted(f"{self._node[1]}: wait stopped by interrupt")
        finally:
            executor.slots.acquire(self._provider)


class Executor:
    """Applies one plan to one state through the stack's drivers."""

    def __init__(self, plan: Plan, writer: StateWriter, drivers: Mapping[str, Driver], *,
                 parallelism: int = 10, events: EventSink | None = None,
                 progress_interval: float = 10.0) -> None:
        self.plan = plan
        self.writer = writer
        self.drivers = drivers
        self.events = events or (lambda event: None)
        self.progress_interval = progress_interval
        self.slots = _Slots(parallelism, {name: d.capabilities.max_concurrent_calls
                                          for name, d in drivers.items()})
        self.stop_event = threading.Event()
        self.progress_messages: dict[tuple[str, str], str] = {}
        self._changes = {change.address: change for change in plan.changes}

    def request_stop(self) -> None:
        """Start nothing new; end waits; let running calls finish."""
        self.stop_event.set()

    def run(self) -> ApplyResult:
        """Walk the DAG until every operation is done, failed, skipped or not started."""
        graph = self.plan.graph()
        walk = graph.walk()
        result = ApplyResult()
        finished: queue.Queue[tuple[tuple[str, str], BaseException | None]] = queue.Queue()
        running: dict[tuple[str, str], float] = {}
        last_tick = time.monotonic()
        node: tuple[str, str] | None
        while walk or running:
            while walk and not self.stop_event.is_set():
                node = walk.next()
                running[node] = time.monotonic()
                self._emit("apply_start", node)
                threading.Thread(target=self._work, args=(node, finished), daemon=True,
                                 name=f"bedform {node[0]} {node[1]}").start()
            if not running:
                break
            try:
                node, error = finished.get(timeout=min(1.0, self.progress_interval))
            except queue.Empty:
                node = None
            now = time.monotonic()
            if now - last_tick >= self.progress_interval:
                last_tick = now
                for busy, started in sorted(running.items()):
                    self._emit("apply_progress", busy, elapsed=round(now - started, 1),
                               message=self.progress_messages.get(busy, ""))
            if node is None:
                continue
            elapsed = round(time.monotonic() - running.pop(node), 1)
            if error is None:
                result.completed.append(node)
                self._emit("apply_complete", node, elapsed=elapsed)
                walk.done(node)
            elif isinstance(error, ApplyInterrupted):
                result.interrupted = True
                self._emit("apply_interrupted", node, elapsed=elapsed)
            else:
                result.failed[node] = error
                self._emit("apply_errored", node, elapsed=elapsed, error=str(error))
                walk.failed(node)
        result.interrupted = result.interrupted or self.stop_event.is_set()
        done = set(result.completed) | set(result.failed)
        result.skipped = sorted(node for node in graph if node not in done)
        return result

    def _emit(self, kind: str, node: tuple[str, str], **fields: Any) -> None:
        change = self.plan_change(node)
        self.events({"type": kind, "operation": node[0], "address": node[1],
                     "action": change.action.value, "reason": change.why, **fields})

    def plan_change(self, node: tuple[str, str]) -> Change:
        """The change an operation node belongs to."""
        return self._changes[node[1]]

    def _work(self, node: tuple[str, str], finished: queue.Queue) -> None:
        operation, address = node
        change = self.plan_change(node)
        provider = change.provider
        error: BaseException | None = None
        self.slots.acquire(provider)
        try:
            if self.stop_event.is_set():
                raise ApplyInterrupted(f"{address}: not started, run interrupted")
            getattr(self, f"_{operation}")(node, change)
        except BaseException as exc:  # reported to the main loop, never lost
            error = exc
        finally:
            self.slots.release(provider)
            finished.put((node, error))

    def _resolved(self, resource: Resource) -> Resource:
        def lookup(ref: Ref) -> Any:
            record = self.writer.read(lambda s: s.resources.get(ref.address))
            if record is None or ref.attribute not in record.attributes:
                raise ProviderError(f"{resource.address} needs {ref}, which is not known",
                                    hint=f"Check that {ref.address} was created.")
            return record.attributes[ref.attribute]
        return attrs.evolve(resource, inputs=substitute_refs(resource.inputs, lookup))

    def _create(self, node: tuple[str, str], change: Change) -> None:
        address = change.address
        desired = self.plan.desired.resources[address]
        resource = self._resolved(desired)
        driver = self.drivers[change.provider]
        now = time.time()

        def write_ahead(state: State) -> None:
            state.resources[address] = Record(
                address=address, kind=resource.kind, provider=resource.provider,
                status=Status.PENDING_CREATE, inputs=dict(resource.inputs),
                attributes=dict(change.adopt or {}), dependencies=list(desired.dependencies()),
                identity=dict(resource.identity), created_at=now, updated_at=now)
        self.writer.change(write_ahead, address)
        ctx = _OperationContext(self, node, change.provider, change.adopt)
        try:
            attributes = driver.create(resource, ctx)
        except ApplyInterrupted:
            raise
        except BaseException:
            def taint(state: State) -> None:
                record = state.resources[address]
                if record.attributes:
                    record.status = Status.TAINTED
            self.writer.change(taint, address)
            raise

        def ready(state: State) -> None:
            record = state.resources[address]
            record.status = Status.READY
            record.attributes.update(attributes)
            record.expires_at = record.attributes.get("expires_at")
            record.updated_at = time.time()
        self.writer.change(ready, address)

    def _update(self, node: tuple[str, str], change: Change) -> None:
        address = change.address
        resource = self._resolved(self.plan.desired.resources[address])
        record = self.writer.read(lambda s: attrs.evolve(s.resources[address]))
        ctx = _OperationContext(self, node, change.provider, None)
        attributes = self.drivers[change.provider].update(resource, record, ctx)

        def updated(state: State) -> None:
            stored = state.resources[address]
            stored.inputs = dict(resource.inputs)
            stored.attributes.update(attributes)
            stored.expires_at = stored.attributes.get("expires_at")
            stored.updated_at = time.time()
        self.writer.change(updated, address)

    def _delete(self, node: tuple[str, str], change: Change) -> None:
        address = change.address

        def mark(state: State) -> None:
            state.resources[address].status = Status.PENDING_DELETE
        self.writer.change(mark, address)
        record = self.writer.read(lambda s: attrs.evolve(s.resources[address]))
        self.drivers[change.provider].delete(record, _OperationContext(
            self, node, change.provider, None))
        self.writer.change(lambda state: state.resources.pop(address, None), address)

    def _forget(self, node: tuple[str, str], change: Change) -> None:
        self.writer.change(lambda state: state.resources.pop(change.address, None),
                          change.address)


@contextlib.contextmanager
def interrupt_handler(executor: Executor,
                      on_interrupt: Callable[[], None] | None) -> Iterator[None]:
    """First SIGINT: stop gracefully. Second: exit at once (state is already safe)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    count = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal count
        count += 1
        if count == 1:
            executor.request_stop()
            if on_interrupt:
                on_interrupt()
            return
        sys.stderr.write("\nSecond interrupt: exiting now. Every started operation is in "
                         "the state; `bedform apply` resumes.\n")
        os._exit(130)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
