"""A miniature executor for driving `LocalDriver` directly, as the engine would."""

from __future__ import annotations

import graphlib
import subprocess
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from bedform.providers.base import Record, Resource, Status


class Ctx:
    """The smallest ApplyContext: no persistence, real sleeps."""

    def __init__(self, existing: Mapping[str, Any] | None = None) -> None:
        self.existing = existing
        self.checkpoints: list[dict] = []
        self.messages: list[str] = []

    def checkpoint(self, attributes: Mapping[str, Any]) -> None:
        self.checkpoints.append(dict(attributes))

    def progress(self, message: str) -> None:
        self.messages.append(message)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def record_of(resource: Resource, attributes: Mapping[str, Any],
              status: Status = Status.READY) -> Record:
    return Record(
        address=resource.address, kind=resource.kind, provider=resource.provider,
        status=status, inputs=dict(resource.inputs), attributes=dict(attributes),
        dependencies=list(resource.dependencies()), identity=dict(resource.identity),
    )


def _walk(graph: Mapping[str, list[str]], action, parallelism: int) -> dict[str, Any]:
    """Run `action(node)` for every node once its predecessors are done, as soon as a
    worker is free (no barrier between levels, like the engine's executor)."""
    sorter = graphlib.TopologicalSorter(graph)
    sorter.prepare()
    results: dict[str, Any] = {}
    with ThreadPoolExecutor(parallelism) as pool:
        running: dict[Future, str] = {}
        while sorter.is_active():
            for node in sorter.get_ready():
                running[pool.submit(action, node)] = node
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                node = running.pop(future)
                results[node] = future.result()
                sorter.done(node)
    return results


def apply_all(driver, resources: Iterable[Resource], parallelism: int = 10
              ) -> dict[str, Record]:
    """Create every resource in dependency order, `parallelism` at a time."""
    by_address = {r.address: r for r in resources}
    graph = {a: [d for d in r.dependencies() if d in by_address]
             for a, r in by_address.items()}
    attributes = _walk(graph, lambda a: driver.create(by_address[a], Ctx()), parallelism)
    return {a: record_of(by_address[a], attributes[a]) for a in by_address}


def destroy_all(driver, records: Mapping[str, Record], parallelism: int = 10) -> None:
    """Delete every record in reverse dependency order."""
    dependents: dict[str, list[str]] = {a: [] for a in records}
    for address, record in records.items():
        for dependency in record.dependencies:
            if dependency in dependents:
                dependents[dependency].append(address)
    _walk(dependents, lambda a: driver.delete(records[a], Ctx()), parallelism)


def converge(driver, resources: Iterable[Resource], records: dict[str, Record]
             ) -> dict[str, Record]:
    """What the engine does after a refresh: replace drifted objects (and everything
    depending on them), recreate gone ones. Returns the new records."""
    by_address = {r.address: r for r in resources}
    observed = driver.refresh(list(records.values()))
    doomed = {a for a, o in observed.items() if not o.alive or o.drift}
    changed = True
    while changed:  # dependents of a replaced object are replaced too
        changed = False
        for address, record in records.items():
            if address not in doomed and doomed & set(record.dependencies):
                doomed.add(address)
                changed = True
    destroy_all(driver, {a: records[a] for a in doomed})
    recreated = apply_all(driver, [by_address[a] for a in doomed])
    return {**records, **recreated}


def ssh(host, command: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", host.keyfile, "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
         "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
         f"{host.user}@{host.address}", command],
        capture_output=True, text=True, timeout=timeout, check=False)
