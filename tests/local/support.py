"""Helpers of the local-provider tests: the engine on one `local` instance (`here`),
a minimal ApplyContext for the few driver calls tests make directly, and ssh."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from bedform.planner.engine import Engine
from bedform.planner.plan import Mode
from bedform.providers.base import DriverContext, Resource
from bedform.providers.local.driver import LocalDriver
from bedform.stack import ProviderSection, Stack
from bedform.state.model import Record, Status
from bedform.state.store import State, StateStore


class Ctx:
    """The smallest ApplyContext, for calling a driver directly: no persistence."""

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


class LocalBed:
    """A `local` section as instance `here` of a stack whose state lives in
    `ctx.state_dir`, created and deleted by the engine. Its state is seeded so that the
    stack id is `ctx.stack_id` (what the leak check of `new_stack` looks for)."""

    def __init__(self, ctx: DriverContext, section: Mapping[str, Any]) -> None:
        self.conf = LocalDriver.load_config(section)
        store = StateStore(ctx.state_dir)
        if not store.exists():
            store.save(State(lineage=f"{ctx.stack_id}-{uuid.uuid4()}"))
        stack = Stack(name=ctx.stack_name, state_dir=ctx.state_dir, providers={
            "here": ProviderSection("here", "local", section, self.conf)})
        self.engine = Engine(stack, driver_options=ctx.options)
        with self.engine.session("expand", lock=False) as session:
            self.driver: LocalDriver = session.driver("here")  # type: ignore[assignment]
            self.driver.preflight(self.conf)
            self.resources = list(session.desired().resources.values())

    def apply(self, targets: Collection[str] = ()) -> dict[str, Record]:
        """Plan and apply (only `targets` and their dependencies, if given): creates what
        is missing, replaces what drifted; returns the records."""
        with self.engine.session("apply") as session:
            session.apply(session.plan(Mode.APPLY, targets=targets))
            return dict(session.state.resources)

    def destroy(self) -> None:
        with self.engine.session("destroy") as session:
            session.apply(session.plan(Mode.DESTROY))
            assert not session.state.resources

    def inventory(self):
        with self.engine.session("inventory", lock=False) as session:
            return session.inventory()


def ssh(host, command: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", host.keyfile, "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
         "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
         f"{host.user}@{host.address}", command],
        capture_output=True, text=True, timeout=timeout, check=False)
