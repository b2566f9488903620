"""The EnOSlib-style `Provider`, built on plan/apply.

`provider.init()` plans and applies the provider's configuration against an implicit
state directory (`.bedform/<name>/` under the working directory, `name` being the
configuration's job or experiment name, else the provider's name) and returns
`(roles, networks)`. Re-running the same script reloads what exists instead of
resubmitting it; `plan()` shows what `init()` would do without doing it.

This module sits with the CLI at the top of the layers (bedform.api): it drives the
planner; nothing below it imports it.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from bedform.objects import Networks, Roles
from bedform.planner.engine import Engine, Session
from bedform.planner.plan import Mode, Plan
from bedform.planner.render import human_event, render_plan
from bedform.providers import driver_class
from bedform.providers.base import DriverContext, SlotCheck
from bedform.stack import ProviderSection, Stack

PROGRESS = logging.getLogger("bedform.progress")


def log_progress(line: str) -> None:
    """The default `echo`: plan and progress lines as INFO records of the
    `bedform.progress` logger. When the script configured no logging at all, they go to
    standard error (as the CLI shows them); configured logging takes them as it is set."""
    if not logging.getLogger().handlers and not PROGRESS.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        PROGRESS.addHandler(handler)
        PROGRESS.setLevel(logging.INFO)
        PROGRESS.propagate = False
    PROGRESS.info(line)


_HOLDING: dict[Path, str] = {}
"""What each provider initialised by this process holds, by state directory."""


def _remind_on_crash(provider: Provider, count: int, reservations: list[str]) -> None:
    """After `init()`: should the script die on an uncaught exception, say what is still
    reserved and how to release it, instead of leaving it running silently."""
    held = f"reservations {', '.join(reservations)}" if reservations else "no reservation"
    _HOLDING[provider.state_dir] = (
        f"{provider.name} ({provider.type_name}) still holds {count} resource(s), "
        f"{held}, recorded in {provider.state_dir}")
    if getattr(sys.excepthook, "bedform_reminder", False):
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, trace: Any) -> None:
        previous(kind, value, trace)
        for line in _HOLDING.values():
            sys.stderr.write(
                f"\nbedform: {line}. They keep running until released: call `destroy()` "
                "on the provider (or run the script again: `init()` reloads them, it "
                "never resubmits).\n")

    hook.bedform_reminder = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _instance_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "p-" + cleaned
    return cleaned[:31]


class Provider:
    """Base of the user-facing provider classes (`Local`, `G5k`...)."""

    type_name: ClassVar[str]

    def __init__(self, provider_conf: Any, name: str | None = None, *,
                 state_dir: str | Path | None = None,
                 echo: Callable[[str], None] | None = None) -> None:
        if hasattr(provider_conf, "finalize"):
            provider_conf = provider_conf.finalize()
        self.provider_conf = provider_conf
        self.name = name or self.__class__.__name__
        self._state_dir = Path(state_dir).expanduser().resolve() if state_dir else None
        self.echo = echo or log_progress

    def __str__(self) -> str:
        return self.name

    # -- configuration and engine ------------------------------------------------------
    def _section(self) -> dict[str, Any]:
        conf = self.provider_conf
        section = conf.to_dict() if hasattr(conf, "to_dict") else dict(conf)
        return {k: v for k, v in section.items() if k != "type"}

    @property
    def stack_name(self) -> str:
        """Job/experiment name of the configuration, else the provider name."""
        for field in ("job_name", "name", "experiment_name", "lease_name"):
            value = getattr(self.provider_conf, field, None)
            if isinstance(value, str) and value:
                return value
        return self.name

    @property
    def state_dir(self) -> Path:
        """Where this provider's state lives."""
        return self._state_dir or Path.cwd() / ".bedform" / re.sub(
            r"[^A-Za-z0-9_.-]+", "-", self.stack_name)

    def _engine(self, driver_options: dict[str, Any] | None = None) -> Engine:
        section = self._section()
        conf = driver_class(self.type_name).load_config(section)
        instance = _instance_name(self.name)
        stack = Stack(name=self.stack_name, state_dir=self.state_dir,
                      providers={instance: ProviderSection(instance, self.type_name,
                                                           section, conf)})
        return Engine(stack, driver_options=driver_options)

    def _replacements(self, session: Session, force_deploy: bool) -> list[str]:
        if not force_deploy:
            return []
        kinds = session.kinds()
        return [address for address, resource in session.desired().resources.items()
                if kinds[resource.kind].deploy]

    # -- EnOSlib's API -----------------------------------------------------------------
    def plan(self, force_deploy: bool = False) -> Plan:
        """What `init()` would do, without doing it."""
        engine = self._engine()
        with engine.session("plan") as session:
            return session.plan(Mode.APPLY,
                                replace=self._replacements(session, force_deploy))

    def init(self, force_deploy: bool = False, start_time: int | None = None,
             **kwargs: Any) -> tuple[Roles, Networks]:
        """Reserve and provision (or reload) the resources; return (roles, networks)."""
        if start_time is not None:
            self.set_reservation(start_time)
        engine = self._engine()
        with engine.session("init") as session:
            the_plan = session.plan(Mode.APPLY,
                                    replace=self._replacements(session, force_deploy))
            if the_plan.has_changes:
                self.echo(render_plan(the_plan))
            session.apply(the_plan, events=lambda event: self.echo(human_event(event)))
            kinds = session.kinds()
            held = sorted(a for a, r in session.state.resources.items()
                          if r.kind in kinds and kinds[r.kind].expires)
            _remind_on_crash(self, len(session.state.resources), held)
            return session.inventory()

    def async_init(self, **kwargs: Any) -> None:
        """Secure the resources; this provider has no cheaper way than `init`."""
        self.init(**kwargs)

    def is_created(self) -> bool:
        """Whether every resource of the configuration exists and is alive."""
        engine = self._engine()
        if not engine.store.exists():
            return False
        with engine.session("is_created") as session:
            return not session.plan(Mode.APPLY).has_changes

    def destroy(self, wait: bool = False, **kwargs: Any) -> None:
        """Delete everything this provider created, in reverse dependency order."""
        engine = self._engine()
        if not engine.store.exists():
            return
        with engine.session("destroy") as session:
            session.apply(session.plan(Mode.DESTROY),
                          events=lambda event: self.echo(human_event(event)))
        _HOLDING.pop(self.state_dir, None)

    @property
    def reserves(self) -> bool:
        """Whether this testbed has reservations (else: always available, now)."""
        return driver_class(self.type_name).capabilities.advance_reservation

    @property
    def can_test_slot(self) -> bool:
        """Whether `test_slot` really checks availability (declared by the driver)."""
        return driver_class(self.type_name).capabilities.test_slot

    def test_slot(self, start_time: int, end_time: int) -> bool:
        """Whether the resources are free in [start, end]; True for on-demand providers."""
        return True

    def set_reservation(self, timestamp: int) -> None:
        """Ask for an advance reservation starting at `timestamp` (no-op by default)."""

    def offset_walltime(self, offset: int) -> None:
        """Change the walltime by `offset` seconds (no-op for providers without one)."""

    def __enter__(self) -> tuple[Roles, Networks]:
        return self.init()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.destroy()


class ReservingProvider(Provider):
    """A provider of a testbed with advance reservations: `test_slot`/`check_slot` ask
    one driver kept per instance (its availability data fetched once, as EnOSlib does),
    dropped by `forget_availability` and never deep-copied."""

    def _driver(self) -> Any:
        driver = self.__dict__.get("_slot_driver")
        if driver is None:
            driver = self._new_slot_driver()
            self.__dict__["_slot_driver"] = driver
        return driver

    def _new_slot_driver(self) -> Any:
        return driver_class(self.type_name)(DriverContext(
            stack_name=self.stack_name, stack_id="", state_dir=self.state_dir))

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        clone = copy.copy(self)
        clone.__dict__ = {k: copy.deepcopy(v, memo) for k, v in self.__dict__.items()
                          if k != "_slot_driver"}
        return clone

    def forget_availability(self) -> None:
        """Drop the cached availability (after a refusal showed it stale)."""
        self.__dict__.pop("_slot_driver", None)

    def check_slot(self, start_time: int, end_time: int) -> SlotCheck:
        """`test_slot` with the reason of a refusal and a hint of when it could start."""
        return self._driver().test_slot(self.provider_conf, start_time, end_time)

    def test_slot(self, start_time: int, end_time: int) -> bool:
        """Whether the resources are free for the walltime from `start_time`."""
        return bool(self.check_slot(start_time, end_time).ok)

