"""One stack against its state: refresh, plan, apply, outputs.

`Engine(stack).session("apply")` locks the state directory, loads the state and yields a
`Session` whose methods the CLI and the Provider facade call.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from bedform.errors import (
    ApplyError,
    ApplyInterrupted,
    ConfigError,
    EnosError,
    ProviderError,
    StateError,
)
from bedform.objects import Networks, Roles, networks_to_dict, roles_to_dict
from bedform.planner import slots as slotmod
from bedform.planner.apply import ApplyResult, EventSink, Executor, interrupt_handler
from bedform.planner.diff import Action, compute_drift, destroy_changes, diff
from bedform.planner.plan import DEFAULT_PLAN_TTL, Mode, Plan, restrict_to_targets
from bedform.planner.planfile import verify_plan
from bedform.planner.resources import DesiredSet
from bedform.planner.stackview import StackView
from bedform.providers import driver_class
from bedform.providers.base import (
    Driver,
    DriverContext,
    KindSpec,
    Observed,
    Ref,
    Resource,
    substitute_refs,
)
from bedform.state.model import Record, Status
from bedform.state.store import State, StateStore, StateWriter


class Engine:
    """Plans and applies one stack (a `StackView`: the caller loads the stack file)."""

    def __init__(self, stack: StackView, *, lock_timeout: float = 0.0,
                 driver_options: Mapping[str, Any] | None = None,
                 adopt_state: bool = False) -> None:
        self.stack = stack
        self.store = StateStore(stack.state_dir)
        self.lock_timeout = lock_timeout
        self.adopt_state = adopt_state
        self.driver_options = dict(driver_options or {})

    @contextlib.contextmanager
    def session(self, operation: str, lock: bool = True) -> Iterator[Session]:
        """Lock the state (unless `lock` is False, for read-only use) and load it."""
        if not lock:
            yield Session(self, self.store.load())
            return
        with self.store.locked(operation, self.lock_timeout):
            yield Session(self, self.store.load())


class Session:
    """The loaded state of a stack and the drivers that serve it."""

    def __init__(self, engine: Engine, state: State) -> None:
        self.engine = engine
        self.stack = engine.stack
        self.state = state
        if state.stack and state.stack != self.stack.name and not engine.adopt_state:
            raise StateError(
                f"the state in {engine.store.directory} belongs to stack {state.stack!r}, "
                f"not to {self.stack.name!r} ({self.stack.label})",
                hint="Give this stack its own directory with --state DIR, or, if the stack "
                     "was renamed, pass --adopt-state to take that state over.")
        if state.stack != self.stack.name:
            state.stack = self.stack.name
        self._drivers: dict[str, Driver] = {}
        self._observed: dict[str, Observed] = {}
        self._refreshed_once = False

    # -- drivers -----------------------------------------------------------------------
    def driver(self, provider: str) -> Driver:
        """The driver of a provider instance, from the stack or, if removed, the state."""
        if provider not in self._drivers:
            if provider in self.stack.providers:
                cls = driver_class(self.stack.providers[provider].type)
            elif provider in self.state.providers:
                cls = driver_class(self.state.providers[provider])
            else:
                raise ConfigError(f"provider {provider!r} is neither in the stack nor in "
                                  "the state")
            context = DriverContext(
                stack_name=self.stack.name, stack_id=self.state.stack_id,
                state_dir=self.stack.state_dir / "providers" / provider,
                options=self.engine.driver_options)
            self._drivers[provider] = cls(context)
        return self._drivers[provider]

    def kinds(self) -> dict[str, KindSpec]:
        """Every resource kind of the drivers in use."""
        kinds: dict[str, KindSpec] = {}
        for provider in self._providers_in_use():
            kinds.update(self.driver(provider).kinds)
        return kinds

    def _providers_in_use(self) -> list[str]:
        names = dict.fromkeys(self.stack.providers)
        names.update(dict.fromkeys(r.provider for r in self.state.resources.values()))
        return list(names)

    def preflight(self) -> None:
        """Check this machine can run every driver the stack or state uses."""
        for provider in self._providers_in_use():
            section = self.stack.providers.get(provider)
            self.driver(provider).preflight(section.conf if section else None)

    # -- planning ----------------------------------------------------------------------
    def desired(self, overrides: Mapping[str, Any] | None = None) -> DesiredSet:
        """Expand every provider section into desired resources (`overrides`: confs
        replacing some sections' ones, e.g. with the slot step's reservation)."""
        resources = []
        overrides = overrides or {}
        for name, section in self.stack.providers.items():
            prior = {a: r for a, r in self.state.resources.items() if r.provider == name}
            conf = overrides.get(name, section.conf)
            try:
                expanded = self.driver(name).expand(name, conf, records=prior)
            except ConfigError as exc:
                raise exc.within(self._stack_file, ("providers", name)) from None
            resources += [_with_provider(resource, name) for resource in expanded]
        try:
            return DesiredSet.build(resources)
        except ConfigError as exc:
            raise exc.within(self._stack_file) from None

    @property
    def _stack_file(self) -> str | None:
        return str(self.stack.path) if self.stack.path else None

    def slot_plan(self, start: float | None = None, window: float | None = None, *,
                  observed: Mapping[str, Observed] | None = None, candidates: bool = False,
                  force: bool = False) -> slotmod.SlotPlan | None:
        """The slot step (`slots.slot_step`) over the stack's providers; a provider's
        live expiring objects (per `observed`, default the last refresh) are reloaded."""
        observed = self._observed if observed is None else observed
        kinds = self.kinds()
        participants = []
        for name, section in self.stack.providers.items():
            live = {a: r for a, r in self.state.resources.items()
                    if r.provider == name and r.kind in kinds and kinds[r.kind].expires
                    and r.status == Status.READY
                    and observed.get(a, Observed(alive=True)).alive}
            participants.append(slotmod.Participant(name, self.driver(name), section.conf,
                                                    live))
        return slotmod.slot_step(participants, start, window, candidates=candidates,
                                 force=force)

    def refresh(self) -> dict[str, Observed]:
        """Observe every recorded object; one batched call per provider, in parallel. A
        provider of the stack with nothing recorded is asked too (with no records), so
        that it can check its access (credentials) before a plan promises anything."""
        by_provider: dict[str, list[Record]] = {name: [] for name in self.stack.providers}
        for record in self.state.resources.values():
            by_provider.setdefault(record.provider, []).append(record)
        observed: dict[str, Observed] = {}
        self._refreshed_once = True
        if not by_provider:
            return observed
        with ThreadPoolExecutor(max_workers=len(by_provider)) as pool:
            futures = {name: pool.submit(self.driver(name).refresh, records)
                       for name, records in by_provider.items()}
            for name, future in futures.items():
                seen = self._refreshed(name, future)
                for record in by_provider[name]:
                    # A driver that says nothing of a record saw nothing against it; but a
                    # pending create it did not find was never made, so it is not adopted.
                    default = Observed(alive=record.status != Status.PENDING_CREATE)
                    observed[record.address] = seen.get(record.address, default)
        self._observed = observed
        return observed

    def _refreshed(self, provider: str, future: Any) -> dict[str, Observed]:
        """A driver's refresh answer; an unexpected crash becomes a clear error."""
        try:
            return future.result()
        except EnosError:
            raise
        except Exception as exc:
            raise ProviderError(
                f"the {provider} driver failed to read the objects the state records "
                f"({exc!r})",
                hint=f"If {self.engine.store.path} was edited by hand, restore the latest "
                "copy from its backups/ directory; otherwise re-run with --debug and "
                "report the traceback.") from exc

    def plan(self, mode: Mode = Mode.APPLY, *, targets: Collection[str] = (),
             replace: Collection[str] = (), refresh: bool = True,
             ttl: float = DEFAULT_PLAN_TTL, slot_start: float | None = None,
             slot_window: float | None = None) -> Plan:
        """Refresh, then compute the plan for `mode`.

        With several reserving jobs to make (providers or Grid'5000 sites), the common
        start is computed first (`slot_plan`) and shown as a plan note.
        """
        now = time.time()
        desired = DesiredSet.build([]) if mode == Mode.DESTROY else self.desired()
        configured = desired
        unknown = [a for a in replace if a not in desired.resources]
        if unknown:
            raise ConfigError(f"--replace {unknown[0]} is not a resource of the stack",
                              hint="`bedform state list` shows the addresses.")
        self.preflight()
        observed = self.refresh() if refresh else {}
        records = self.state.resources
        drift = compute_drift(records, observed, now)
        notes = []
        if mode == Mode.APPLY:
            slot = self.slot_plan(slot_start, slot_window, observed=observed)
            if slot is not None:
                notes += slot.notes()
                if slot.overrides:
                    desired = self.desired(slot.overrides)
        if mode == Mode.APPLY:
            changes = diff(desired, records, observed, self.kinds(), replace=replace, now=now)
        elif mode == Mode.DESTROY:
            changes = destroy_changes(records, observed)
        else:
            changes = []
        if targets:
            changes, target_notes = restrict_to_targets(changes, targets,
                                                        destroy=mode == Mode.DESTROY)
            notes += target_notes
        kept = {c.address for c in changes if c.action in (Action.NOOP, Action.UPDATE)}
        ends = [r.expires_at for a, r in records.items()
                if a in kept and r.expires_at is not None]
        return Plan(mode=mode, changes=changes, drift=drift, desired=desired,
                    lineage=self.state.lineage, serial=self.state.serial,
                    config_hash=self.config_hash(configured if mode != Mode.DESTROY
                                                 else None),
                    created_at=now, expires_at=min([now + ttl, *ends]),
                    targets=tuple(targets), notes=notes)

    def check_plan(self, plan: Plan) -> None:
        """Refuse a saved plan made for another state, an older state or configuration."""
        if self.state.serial == 0 and not self.engine.store.exists() and not self._drivers:
            self.state.lineage = plan.lineage  # remote names in the plan derive from it
        verify_plan(plan, self.state.lineage, self.state.serial, self.config_hash())

    def config_hash(self, desired: DesiredSet | None = None) -> str:
        """Fingerprint of the configuration a plan was made from."""
        return (desired or self.desired()).fingerprint()

    # -- applying ----------------------------------------------------------------------
    def apply(self, plan: Plan, *, parallelism: int = 10, events: EventSink | None = None,
              progress_interval: float = 10.0,
              on_interrupt: Callable[[], None] | None = None) -> ApplyResult:
        """Apply `plan`; raises ApplyError (state kept) if any operation failed."""
        writer = StateWriter(self.engine.store, self.state)
        writer.change(self._record_refresh)
        executor = Executor(plan, writer, {p: self.driver(p) for p in self._providers_in_use()},
                            parallelism=parallelism, events=events,
                            progress_interval=progress_interval)
        with interrupt_handler(executor, on_interrupt):
            result = executor.run()
        if plan.mode == Mode.APPLY:
            roles, networks = self.inventory()
            outputs = {"roles": roles_to_dict(roles), "networks": networks_to_dict(networks)}
        else:
            outputs = self.state.outputs if self.state.resources else {}
        writer.change(lambda state: state.outputs.update(outputs) if outputs
                      else state.outputs.clear())
        self._raise_for(result)
        return result

    def _record_refresh(self, state: State) -> None:
        state.stack = self.stack.name
        for name, section in self.stack.providers.items():
            state.providers[name] = section.type
        for address, seen in self._observed.items():
            record = state.resources.get(address)
            if record is None or record.status != Status.READY:
                continue
            if seen.alive:
                record.attributes.update(seen.attributes)
                if seen.expires_at is not None:
                    record.expires_at = seen.expires_at
        used = {r.provider for r in state.resources.values()} | set(self.stack.providers)
        for name in list(state.providers):
            if name not in used:
                del state.providers[name]

    def refresh_only(self) -> list[str]:
        """Record what refresh saw (gone objects dropped); returns the dropped addresses.

        Reuses the refresh this session already made (by `plan`), if any.
        """
        if self._refreshed_once:
            observed = self._observed
        else:
            self.preflight()
            observed = self.refresh()
        gone = [a for a, seen in observed.items() if not seen.alive
                and self.state.resources[a].status != Status.PENDING_CREATE]
        writer = StateWriter(self.engine.store, self.state)

        def record(state: State) -> None:
            self._record_refresh(state)
            for address in gone:
                state.resources.pop(address, None)
        writer.change(record)
        return gone

    def _raise_for(self, result: ApplyResult) -> None:
        if result.failed:
            first_node, first_error = next(iter(result.failed.items()))
            count = len(result.failed)
            raise ApplyError(
                f"{first_node[1]}: {first_error}" + (f" (and {count - 1} more failures)"
                                                      if count > 1 else ""),
                {node[1]: error for node, error in result.failed.items()},
                hint="Everything that succeeded is recorded in the state; fix the cause "
                "and run `bedform apply` again to resume.")
        if result.interrupted:
            raise ApplyInterrupted(
                "apply interrupted; every started operation is recorded in the state",
                hint="Run `bedform apply` again to resume; nothing will be duplicated.")

    def import_object(self, address: str, remote_id: str) -> Record:
        """Record an existing object as the desired resource `address`."""
        desired = self.desired()
        resource = desired.resources.get(address)
        if resource is None:
            raise ConfigError(f"{address} is not a resource of the stack",
                              hint="Add it to the configuration first; `bedform plan` "
                              "lists the addresses.")
        if address in self.state.resources:
            raise ConfigError(f"{address} is already managed",
                              hint=f"Run `bedform state rm {address}` first to re-import.")

        def lookup(ref: Ref) -> Any:
            record = self.state.resources.get(ref.address)
            if record is None or ref.attribute not in record.attributes:
                raise ConfigError(f"{address} refers to {ref}, which is not in the state",
                                  hint=f"Import or apply {ref.address} first.")
            return record.attributes[ref.attribute]
        resolved = attrs.evolve(resource, inputs=substitute_refs(resource.inputs, lookup))
        self.preflight()
        attributes = self.driver(resource.provider).import_object(resolved, remote_id)
        now = time.time()
        record = Record(address=address, kind=resource.kind, provider=resource.provider,
                        inputs=dict(resolved.inputs), attributes=dict(attributes),
                        dependencies=list(resource.dependencies()),
                        identity=dict(resource.identity), created_at=now, updated_at=now,
                        expires_at=attributes.get("expires_at"))

        def add(state: State) -> None:
            self._record_refresh(state)
            state.resources[address] = record
        StateWriter(self.engine.store, self.state).change(add)
        return record

    # -- outputs -------------------------------------------------------------------------
    def inventory(self, providers: Collection[str] | None = None) -> tuple[Roles, Networks]:
        """Roles and networks of the stack's applied resources.

        With several providers, each provider's hosts are also under its name.
        """
        names = list(providers) if providers is not None else list(self.stack.providers)
        roles, networks = Roles(), Networks()
        for name in names:
            section = self.stack.providers[name]
            records = {a: r for a, r in self.state.resources.items() if r.provider == name}
            provider_roles, provider_networks = self.driver(name).inventory(
                name, section.conf, records)
            roles += provider_roles
            networks += provider_networks
            if len(names) > 1:
                roles[name] += provider_roles.all()
                networks[name] += provider_networks.all()
        return roles, networks


def _with_provider(resource: Resource, provider: str) -> Resource:
    if resource.provider == provider:
        return resource
    return attrs.evolve(resource, provider=provider)
