"""What a provider tells the conformance suite: how to write its stacks, how to see and
break its remote objects, how to count its mutating calls.

A harness answers in the provider's own terms; the suite only compares what it answers
before and after CLI runs. Write one by subclassing :class:`Harness` (about 50-100
lines, see docs/conformance.md and tests/conformance/ for fake, local and g5k).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import attrs
import yaml

if TYPE_CHECKING:
    from bedform.conformance.stack import ConformanceStack

Size = Literal["small", "grown"]
"""`small`: the stack every guarantee starts from; `grown`: the same with more members in
a group (more hosts, nodes, VMs), nothing else changed."""

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@attrs.frozen
class InputChange:
    """The one input `changed=True` alters, and the addresses the plan must then touch
    (replace or update): the changed object and its dependents, nothing else."""

    description: str
    touched: frozenset[str]


@attrs.frozen
class Breakage:
    """An object broken outside bedform, and what the plan must then say: exactly
    `addresses` are created again or replaced, and `reason` is in the plan's text."""

    addresses: frozenset[str]
    reason: str


class Harness:
    """Base of a provider's harness: override what your provider needs.

    Remote objects are named by *keys*, strings the harness chooses (an object's name on
    the testbed: `job[rennes]`, a namespace name, a server name); each key maps to the
    ids of the live objects carrying it, so two ids under one key are a duplicate.
    """

    #: shown in test ids and messages
    name: ClassVar[str] = "provider"
    #: ways `break_object` can break something outside bedform ("deleted", "expired"...)
    breakages: ClassVar[tuple[str, ...]] = ("deleted",)
    #: the CLI process survives SIGKILL tests (False: the suite skips guarantee 5)
    supports_sigkill: ClassVar[bool] = True
    #: apply/destroy pairs killed in the crash test
    crash_rounds: ClassVar[int] = 2
    #: a kill lands after 1..crash_points units of progress (mutating calls or objects)
    crash_points: ClassVar[int] = 3
    #: bound on one CLI run in a subprocess, seconds
    run_timeout: ClassVar[float] = 120.0

    # -- stacks ---------------------------------------------------------------------------
    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        """The stack file's content. `changed` alters the one input of `input_change`;
        `slow` (crash test) makes each mutating call last long enough for a kill to land
        in the middle of a run, where the provider can be told so."""
        raise NotImplementedError

    def write_stack(self, directory: Path, name: str, size: Size, changed: bool = False,
                    slow: bool = False) -> Path:
        """Write `bedform.yaml` (and any file it refers to) into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "bedform.yaml"
        document = self.stack_document(name, size, changed=changed, slow=slow)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def environment(self) -> dict[str, str]:
        """Environment variables the CLI needs (credentials file of an emulator...)."""
        return {}

    def cli_command(self) -> list[str]:
        """The CLI as a command line, for runs in a subprocess."""
        return [sys.executable, "-m", "bedform.cli"]

    def input_change(self) -> InputChange:
        """What `stack_document(..., changed=True)` changes and what it must touch."""
        raise NotImplementedError

    def growth_updates(self) -> frozenset[str]:
        """The addresses that growing the stack updates in place (a lease resized to
        hold the new members...): the growth test expects each planned as an `update`
        that keeps its remote object, and every other change a create. Default: none,
        growing only creates."""
        return frozenset()

    def adoptable(self) -> str:
        """The address of an object the provider finds again by its identity alone: the
        suite leaves only a `pending_create` record of it (as a run killed right after
        creating it would) and expects it adopted, not created again."""
        raise NotImplementedError

    # -- remote side ----------------------------------------------------------------------
    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """The live remote objects of `stack`, found by listing the testbed (never from
        the state): key -> ids of the objects under that key."""
        raise NotImplementedError

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        """The keys of the remote objects a state document (`show --json`) records,
        each with the address recording it."""
        raise NotImplementedError

    def mutations(self) -> int | None:
        """Mutating calls received by the testbed so far (all stacks), or None when the
        provider cannot count them; the suite then compares remote objects instead."""
        return None

    def settle(self) -> None:
        """Wait until the testbed has finished what a killed run left in flight (a user
        re-runs seconds after a kill; the suite re-runs at once). Default: nothing."""
        control = getattr(self, "control", None)
        if isinstance(control, EmulatorControl):
            control.settle()

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        """Break one object of an applied small `stack` outside bedform, `how` being one
        of `breakages`."""
        raise NotImplementedError

    def verify(self, stack: ConformanceStack) -> None:
        """Optional: check that the applied objects work (ssh to each host...)."""

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """Remove whatever of `stack` is left once the test is over (after its destroy);
        return what had to be removed: the suite reports it as a leak."""
        return {key: ids for key, ids in self.owned(stack).items() if ids}


class EmulatorControl:
    """The `/_emulator/` control endpoints every testbed in a box serves (request log,
    clock, faults): what emulator-backed harnesses need."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}/_emulator/{path}", data=data,
                                         method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def requests(self) -> list[dict[str, Any]]:
        """The request log: method, path, query, status, time."""
        return list(self._call("GET", "requests")["items"])

    def mutations(self) -> int:
        """How many mutating API requests the emulator has answered."""
        return sum(1 for r in self.requests() if r["method"] in MUTATING_METHODS)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the emulator has answered every request it received: those of a
        killed client complete after its death, as on a real testbed."""
        deadline = time.monotonic() + timeout
        while self._call("GET", "requests").get("inflight", 0):
            if time.monotonic() > deadline:
                raise AssertionError(f"the emulator at {self.base_url} still answers requests "
                                     f"of a killed run after {timeout:g} s")
            time.sleep(0.02)

    def advance(self, seconds: float) -> None:
        """Move the emulator's virtual clock forward."""
        self._call("POST", "clock", {"advance": seconds})
