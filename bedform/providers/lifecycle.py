"""Lifecycle helpers every kind handler uses.

- `adopt_or_create`: find by identity → adopt, else create → checkpoint the remote id.
- `poll`: the one bounded wait (in the spirit of Terraform's `StateChangeConf`): pending
  and target states, a deadline, not-found handling, back-off, the concurrency slot given
  back while sleeping (`ctx.sleep`), Ctrl-C honoured, an injectable clock.
- `delete_if_present`: a delete for which "already gone" is success.
- `client_errors` / `client_error`: the one place where client library errors
  (python-grid5000, requests, iotlabcli, openstacksdk, `bedform.machines`, OS errors)
  become bedform errors.
- `BlockingContext`: the context for waits outside an apply (helpers of the
  EnOSlib-style API), with the same bounded `poll`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from bedform.errors import ApplyInterrupted, EnosError, ProviderError
from bedform.machines.errors import MachineError
from bedform.providers.base import ApplyContext, str_set

T = TypeVar("T")

DELAYS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0)
"""Back-off between polls, in seconds; the last one repeats."""


class WaitTimeout(ProviderError):
    """A bounded wait ran out; the message says what was awaited and for how long."""


@attrs.frozen
class Wait:
    """What `poll` waits for.

    `what` completes "waiting for …" (e.g. "job 42 on rennes to run"). `pending` states
    keep polling, `target` states end the wait, anything else is a failure. `not_found`
    is how many consecutive polls may find nothing before that is a failure (eventual
    consistency right after a create). `hint` says what to do when the deadline passes
    (e.g. that a queued job stays reserved and recorded). Every failure names `what`.
    """

    what: str
    pending: frozenset[str] = attrs.field(converter=str_set)
    target: frozenset[str] = attrs.field(converter=str_set)
    timeout: float = 3600.0
    not_found: int = 0
    hint: str = ""
    delays: tuple[float, ...] = DELAYS


def poll(ctx: ApplyContext, wait: Wait, read: Callable[[], tuple[T | None, str | None]],
         describe: Callable[[T, str], str] | None = None,
         clock: Callable[[], float] = time.monotonic) -> T:
    """Call `read()` until its state is a target one; return the object read last.

    `read` returns `(object, state)`, or `(None, None)` when the object is not found.
    `describe(object, state)` gives the progress line shown while pending. Sleeping goes
    through `ctx.sleep`, which frees the operation's slot and raises `ApplyInterrupted`
    on Ctrl-C. `clock` is injectable so tests need not wait in real time.
    """
    started = clock()
    missing = 0
    attempt = 0
    last = "never read"
    while True:
        found, state = read()
        if found is None or state is None:
            missing += 1
            last = "not found"
            if missing > wait.not_found:
                raise ProviderError(f"{wait.what}: the object is gone (not found while "
                                    "waiting)")
        else:
            missing = 0
            last = f"state {state!r}"
            if state in wait.target:
                return found
            if state not in wait.pending:
                raise ProviderError(f"{wait.what}: ended before "
                                    f"{' or '.join(sorted(wait.target))}: state {state!r}")
            if describe is not None:
                ctx.progress(describe(found, state))
        elapsed = clock() - started
        if elapsed >= wait.timeout:
            raise WaitTimeout(
                f"timed out after {_duration(elapsed)} waiting for {wait.what} "
                f"(last seen: {last})",
                hint=wait.hint or "Run `bedform apply` again to keep waiting; what exists "
                                  "is recorded in the state.")
        delay = wait.delays[min(attempt, len(wait.delays) - 1)]
        ctx.sleep(max(0.0, min(delay, wait.timeout - elapsed)))
        attempt += 1


def _duration(elapsed: float) -> str:
    seconds = round(elapsed)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def adopt_or_create(ctx: ApplyContext, key: str, find: Callable[[], Any],
                    create: Callable[[], Any], label: str,
                    extra: Mapping[str, Any] | None = None) -> Any:
    """The remote id of the object: recorded by an interrupted run (`ctx.existing[key]`),
    else found by identity (`find()`, None when absent) and adopted, else `create()`d.
    The id is checkpointed (with `extra`) before returning, so a wait that follows
    never loses it."""
    remote_id = (ctx.existing or {}).get(key)
    if remote_id is None:
        remote_id = find()
        if remote_id is not None:
            ctx.progress(f"adopting {label} {remote_id} left by an earlier run")
    if remote_id is None:
        remote_id = create()
    ctx.checkpoint({key: remote_id, **(extra or {})})
    return remote_id


def delete_if_present(call: Callable[[], Any], gone: Callable[[BaseException], bool]) -> bool:
    """Run a delete call; True if it deleted, False if `gone(error)` says the object was
    already gone. Any other error propagates: the object is assumed to still exist."""
    try:
        call()
    except EnosError as error:
        if gone(error):
            return False
        raise
    return True


# -- errors --------------------------------------------------------------------------------

_CONNECTION_HINT = ("Check that the API is reachable from this machine (network, VPN, "
                    "proxy, the emulator running); `bedform apply` resumes where it "
                    "stopped.")


def client_error(error: BaseException) -> EnosError | None:
    """The bedform error for an error raised by a client library or the OS; None for
    anything else (a bug, which keeps its traceback under --debug)."""
    if isinstance(error, EnosError):
        return error
    if isinstance(error, MachineError):
        return ProviderError(error.message, hint=error.hint)
    module = type(error).__module__.split(".", 1)[0]
    name = type(error).__name__
    if module in ("requests", "urllib3") or isinstance(error, ConnectionError | TimeoutError):
        return ProviderError(f"cannot reach the API: {name}: {_short(error)}",
                             hint=_CONNECTION_HINT)
    if module in ("grid5000", "iotlabcli", "openstack", "keystoneauth1", "blazarclient",
                  "vagrant", "distem"):
        return ProviderError(f"{module} client error: {name}: {_short(error)}")
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return ProviderError(f"{error.strerror or name}{where}",
                             hint="Check free disk space and permissions on that path; "
                                  "what exists is recorded in the state.")
    return None


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else ""


@contextlib.contextmanager
def client_errors() -> Iterator[None]:
    """Client library and OS errors raised inside become bedform errors (the executor
    names the resource they concern)."""
    try:
        yield
    except ApplyInterrupted:
        raise
    except BaseException as error:
        mapped = client_error(error)
        if mapped is None or mapped is error:
            raise
        raise mapped from error


# -- waits outside an apply ----------------------------------------------------------------

class BlockingContext:
    """An `ApplyContext` for helpers that wait outside an apply: progress goes to
    `report`, sleeping is interruptible by `stop()` (and by Ctrl-C in the main thread)."""

    existing: Mapping[str, Any] | None = None

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self._report = report or (lambda message: None)
        self._stop = threading.Event()

    def checkpoint(self, attributes: Mapping[str, Any]) -> None:
        """Nothing to persist outside an apply."""

    def progress(self, message: str) -> None:
        self._report(message)

    def sleep(self, seconds: float) -> None:
        if self._stop.wait(max(0.0, seconds)):
            raise ApplyInterrupted("wait stopped")

    def stop(self) -> None:
        """End the current and every later sleep."""
        self._stop.set()
