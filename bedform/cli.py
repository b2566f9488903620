"""The `bedform` command. Heavy modules are imported inside commands so `--help` is fast.

Exit codes: 0 ok, 1 error, 2 changes present (plan --detailed-exitcode).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from bedform.planner.engine import Engine, Session
    from bedform.planner.plan import Plan


class Options:
    """Global options shared by every command."""

    def __init__(self, config: str, state: str | None, lock_timeout: float, debug: bool,
                 colour: bool, adopt_state: bool = False) -> None:
        self.config = config
        self.state = state
        self.adopt_state = adopt_state
        self.lock_timeout = lock_timeout
        self.debug = debug
        self.colour = colour

    def engine(self) -> Engine:
        """Load the stack and make its engine."""
        from bedform.planner.engine import Engine
        from bedform.stack import load_stack

        stack = load_stack(self.config, self.state)
        return Engine(stack, lock_timeout=self.lock_timeout, adopt_state=self.adopt_state)


pass_options = click.make_pass_decorator(Options)

PARALLELISM_HELP = ("At most this many operations at once (each provider may allow "
                    "fewer); a driver waiting between polls gives its slot back.")


def fail(message: str, hint: str = "") -> NoReturn:
    """Print one error paragraph and exit 1."""
    click.echo(click.style("Error: ", fg="red", bold=True) + message, err=True)
    if hint:
        click.echo(hint, err=True)
    sys.exit(1)


@contextmanager
def reported(options: Options) -> Iterator[None]:
    """Turn every error into one clear paragraph (a traceback only with --debug)."""
    from bedform.errors import EnosError

    try:
        yield
    except BrokenPipeError:
        # the reader went away (`bedform show | head`): stop quietly, and keep Python's
        # final flush of stdout from failing again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except EnosError as exc:
        if options.debug:
            traceback.print_exc()
        text = str(exc)
        if getattr(exc, "hint", "") and text.endswith(exc.hint):
            text = text[: -len(exc.hint)].rstrip()
        fail(text, getattr(exc, "hint", ""))
    except KeyboardInterrupt:
        fail("interrupted", "The state is consistent; run the command again to resume.")
    except OSError as exc:   # a file of the state or of a provider: name it
        if options.debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}",
             "Check the permissions and free space of that path; what exists is recorded "
             "in the state. `bedform plan --no-lock` reads a state it may not write.")
    except (SystemExit, click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:
        if options.debug:
            traceback.print_exc()
        fail(f"unexpected internal error: {exc!r}",
             "Re-run with --debug to see the traceback, and report it.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", default="bedform.yaml", show_default=True,
              envvar="BEDFORM_CONFIG", help="Stack file.")
@click.option("--state", "state", default=None, envvar="BEDFORM_STATE",
              help="State directory (default: .bedform/<stack name> beside the stack "
                   "file).")
@click.option("--adopt-state", is_flag=True,
              help="Use a state recorded for another stack name (after renaming a stack).")
@click.option("--lock-timeout", default=0.0, type=float, show_default=True,
              help="Seconds to wait for the state lock.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("--no-color", is_flag=True, help="Plain output.")
@click.version_option(package_name="bedform")
@click.pass_context
def main(ctx: click.Context, config: str, state: str | None, adopt_state: bool,
         lock_timeout: float, debug: bool, no_color: bool) -> None:
    """Plan and apply experiment infrastructure on research testbeds."""
    ctx.obj = Options(config, state, lock_timeout, debug,
                      colour=not no_color and sys.stdout.isatty(), adopt_state=adopt_state)


@main.command()
@pass_options
def validate(options: Options) -> None:
    """Check the stack file without touching any testbed."""
    with reported(options):
        engine = options.engine()
        with engine.session("validate", lock=False) as session:
            count = len(session.desired().resources)
        click.echo(f"Success! {engine.stack.label} is valid ({count} resources).")


def _print_plan(options: Options, plan: Plan, as_json: bool) -> None:
    from bedform.planner.render import plan_to_json, render_plan

    if as_json:
        click.echo(json.dumps(plan_to_json(plan), indent=1))
    else:
        click.echo(render_plan(plan, options.colour))


def _plan_mode(destroy: bool, refresh_only: bool) -> Any:
    from bedform.planner.plan import Mode

    if destroy and refresh_only:
        raise click.UsageError("--destroy and --refresh-only cannot be combined")
    return Mode.DESTROY if destroy else Mode.REFRESH_ONLY if refresh_only else Mode.APPLY


@main.command()
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan here.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--refresh-only", is_flag=True, help="Only report drift.")
@click.option("--destroy", is_flag=True, help="Plan the destruction of everything.")
@click.option("--target", "targets", multiple=True, help="Only this address (repeatable).")
@click.option("--replace", "replace", multiple=True, help="Force replacing this address.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan.")
@click.option("--lock/--no-lock", default=True, show_default=True,
              help="Lock the state (--no-lock: read a state directory you cannot write).")
@pass_options
def plan(options: Options, out: str | None, detailed_exitcode: bool, refresh_only: bool,
         destroy: bool, targets: tuple[str, ...], replace: tuple[str, ...],
         as_json: bool, lock: bool) -> None:
    """Show what apply would do, without changing anything."""
    from bedform.planner.planfile import save_plan

    with reported(options):
        mode = _plan_mode(destroy, refresh_only)
        engine = options.engine()
        with engine.session("plan", lock=lock) as session:
            the_plan = session.plan(mode, targets=targets, replace=replace)
        _print_plan(options, the_plan, as_json)
        if out:
            save_plan(the_plan, Path(out))
            if not as_json:
                click.echo(f"\nSaved the plan to {out}. Apply exactly it with "
                           f"`bedform apply {out}`.")
        if detailed_exitcode and the_plan.has_changes:
            sys.exit(2)


def _confirm(question: str, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        fail("refusing to change infrastructure without confirmation: no terminal to ask",
             "Pass --auto-approve, or apply a reviewed plan file.")
    try:
        answer = click.prompt(f"\n{question}\n  Only 'yes' will be accepted to approve.\n\n"
                              "  Enter a value", default="", show_default=False)
    except click.exceptions.Abort:  # Ctrl-C or end of input at the prompt
        click.echo("\nCancelled. Nothing was changed.", err=True)
        sys.exit(1)
    if answer.strip() != "yes":
        fail("cancelled: nothing was changed")


def _run_apply(session: Session, the_plan: Plan, parallelism: int, as_json: bool) -> None:
    from bedform.planner.render import human_event, json_event, json_message

    def events(event: dict[str, Any]) -> None:
        click.echo(json_event(event) if as_json else human_event(event))

    def on_interrupt() -> None:
        click.echo("\nInterrupt received: no new operation starts, running ones finish. "
                   "Press Ctrl-C again to exit at once (the state is safe).", err=True)

    result = session.apply(the_plan, parallelism=parallelism, events=events,
                           on_interrupt=on_interrupt)
    if the_plan.mode.value == "destroy":
        message = f"Destroy complete! Resources: {result.count('delete')} destroyed."
    else:
        message = (f"Apply complete! Resources: {result.count('create')} added, "
                   f"{result.count('update')} changed, {result.count('delete')} destroyed.")
    click.echo(json_message("change_summary", message) if as_json else "\n" + message)


@main.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
              help=PARALLELISM_HELP)
@click.option("--target", "targets", multiple=True, help="Only this address (repeatable).")
@click.option("--replace", "replace", multiple=True, help="Force replacing this address.")
@click.option("--refresh-only", is_flag=True, help="Only record drift in the state.")
@click.option("--json", "as_json", is_flag=True, help="JSON event lines.")
@pass_options
def apply(options: Options, planfile: str | None, auto_approve: bool, parallelism: int,
          targets: tuple[str, ...], replace: tuple[str, ...], refresh_only: bool,
          as_json: bool) -> None:
    """Make the infrastructure match the stack (or apply a saved plan)."""
    from bedform.planner.planfile import load_plan

    with reported(options):
        engine = options.engine()
        with engine.session("apply") as session:
            if planfile:
                if targets or replace or refresh_only:
                    raise click.UsageError("a saved plan already fixes targets and "
                                           "replacements")
                the_plan = load_plan(Path(planfile))
                session.check_plan(the_plan)
            else:
                the_plan = session.plan(_plan_mode(False, refresh_only), targets=targets,
                                        replace=replace)
                if not as_json:
                    _print_plan(options, the_plan, False)
                if not the_plan.has_changes:
                    session.apply(the_plan, parallelism=parallelism)
                    return
                _confirm("Do you want to perform these actions?", auto_approve)
            if the_plan.mode.value == "refresh-only":
                gone = session.refresh_only()
                click.echo(f"\nRefresh recorded: {len(gone)} object(s) no longer exist.")
                return
            _run_apply(session, the_plan, parallelism, as_json)


@main.command()
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
              help=PARALLELISM_HELP)
@click.option("--target", "targets", multiple=True, help="Only this address (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="JSON event lines.")
@pass_options
def destroy(options: Options, auto_approve: bool, parallelism: int,
            targets: tuple[str, ...], as_json: bool) -> None:
    """Delete everything the state records, in reverse dependency order."""
    from bedform.planner.plan import Mode

    with reported(options):
        engine = options.engine()
        with engine.session("destroy") as session:
            the_plan = session.plan(Mode.DESTROY, targets=targets)
            if not as_json:
                _print_plan(options, the_plan, False)
            if not the_plan.actionable:
                session.apply(the_plan, parallelism=parallelism)
                return
            if the_plan.has_changes:
                _confirm("Do you really want to destroy all resources?", auto_approve)
            _run_apply(session, the_plan, parallelism, as_json)


@main.command()
@pass_options
def refresh(options: Options) -> None:
    """Update the state from what exists (drops objects that are gone)."""
    with reported(options):
        engine = options.engine()
        with engine.session("refresh") as session:
            gone = session.refresh_only()
        for address in gone:
            click.echo(f"{address}: gone, removed from the state")
        click.echo(f"Refresh complete: {len(gone)} object(s) gone.")


@main.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def show(options: Options, planfile: str | None, as_json: bool) -> None:
    """Show the state (or a saved plan)."""
    from bedform.planner.planfile import load_plan

    with reported(options):
        if planfile:
            _print_plan(options, load_plan(Path(planfile)), as_json)
            return
        engine = options.engine()
        with engine.session("show", lock=False) as session:
            state = session.state
        if as_json:
            click.echo(json.dumps(state.to_dict(), indent=1, sort_keys=True))
            return
        if not state.resources:
            click.echo("The state is empty.")
            return
        for address, record in sorted(state.resources.items()):
            click.echo(f"# {address} ({record.kind}, {record.status.value})")
            for key, value in sorted(record.attributes.items()):
                click.echo(f"    {key} = {json.dumps(value)}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["json", "ansible", "ssh-config"]),
              default="json", show_default=True)
@pass_options
def output(options: Options, fmt: str) -> None:
    """Print the roles and networks: JSON, an Ansible inventory or an ssh config."""
    from bedform.errors import StateError
    from bedform.inventory import ansible_inventory, outputs_json, ssh_config
    from bedform.objects import networks_from_dict, roles_from_dict

    with reported(options):
        engine = options.engine()
        with engine.session("output", lock=False) as session:
            outputs = session.state.outputs
            session.kinds()  # loads the drivers, which register their object classes
        if not outputs:
            fail("no outputs: nothing has been applied yet", "Run `bedform apply` first.")
        try:
            roles = roles_from_dict(outputs.get("roles", {}))
            networks = networks_from_dict(outputs.get("networks", {}))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"state file {engine.store.path} has malformed outputs: {exc}",
                             hint="Run `bedform apply` to compute them again.") from None
        if fmt == "json":
            click.echo(json.dumps(outputs_json(roles, networks), indent=1, sort_keys=True))
        elif fmt == "ansible":
            click.echo(ansible_inventory(roles, networks), nl=False)
        else:
            click.echo(ssh_config(roles), nl=False)


@main.group()
def state() -> None:
    """Inspect or edit the state (never the infrastructure)."""


@state.command("list")
@pass_options
def state_list(options: Options) -> None:
    """List the addresses in the state."""
    with reported(options):
        engine = options.engine()
        with engine.session("state list", lock=False) as session:
            for address in sorted(session.state.resources):
                click.echo(address)


@state.command("show")
@click.argument("address")
@pass_options
def state_show(options: Options, address: str) -> None:
    """Show one record of the state."""
    from bedform.state.store import record_to_dict

    with reported(options):
        engine = options.engine()
        with engine.session("state show", lock=False) as session:
            record = session.state.resources.get(address)
        if record is None:
            fail(f"{address} is not in the state", "`bedform state list` shows addresses.")
        click.echo(json.dumps({address: record_to_dict(record)}, indent=1, sort_keys=True))


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@pass_options
def state_rm(options: Options, addresses: tuple[str, ...]) -> None:
    """Forget objects without deleting them (they will no longer be managed)."""
    from bedform.state.store import StateWriter

    with reported(options):
        engine = options.engine()
        with engine.session("state rm") as session:
            missing = [a for a in addresses if a not in session.state.resources]
            if missing:
                fail(f"{missing[0]} is not in the state", "Nothing was changed.")
            writer = StateWriter(engine.store, session.state)
            writer.change(lambda s: [s.resources.pop(a) for a in addresses])
        for address in addresses:
            click.echo(f"Removed {address} from the state (the object itself is untouched).")


class _ImportCommand(click.Command):
    """`import`, whose help lists the importable kinds of the installed providers."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from bedform.providers.registry import import_formats

        super().format_help_text(ctx, formatter)
        with formatter.section("REMOTE_ID, per kind"):
            formatter.write_dl(list(import_formats().items()))


@main.command("import", cls=_ImportCommand)
@click.argument("address")
@click.argument("remote_id")
@pass_options
def import_(options: Options, address: str, remote_id: str) -> None:
    """Start managing an existing object as ADDRESS (an address of the plan). REMOTE_ID
    depends on the kind (listed below, from the installed providers); other kinds cannot
    be imported."""
    with reported(options):
        engine = options.engine()
        with engine.session("import") as session:
            session.import_object(address, remote_id)
        click.echo(f"Import successful: {address} is now managed by bedform.")


@main.command()
@click.option("--destroy", is_flag=True, help="The graph of a destroy.")
@pass_options
def graph(options: Options, destroy: bool) -> None:
    """Print the plan's operation graph in DOT (the stack's graph when nothing changes)."""
    with reported(options):
        engine = options.engine()
        with engine.session("graph") as session:
            the_plan = session.plan(_plan_mode(destroy, False))
        click.echo("digraph bedform {")
        click.echo("  rankdir = LR;")
        if the_plan.has_changes:
            dag = the_plan.graph()
            for operation, address in sorted(dag.nodes):
                click.echo(f'  "{operation} {address}";')
            for (op1, a1), (op2, a2) in sorted(dag.edges):
                click.echo(f'  "{op1} {a1}" -> "{op2} {a2}";')
        else:   # nothing to do: the stack's own dependency graph
            resources = the_plan.desired.resources
            for address in sorted(resources):
                click.echo(f'  "{address}";')
            for address, resource in sorted(resources.items()):
                for dependency in resource.dependencies():
                    click.echo(f'  "{dependency}" -> "{address}";')
        click.echo("}")


@main.command()
@click.option("--window", default="2h", show_default=True,
              help="How far after the start to search (2h, 90m, 3600...).")
@click.option("--start", "start", default=None,
              help="Earliest start: 'YYYY-MM-DD HH:MM' UTC, an epoch, or +30m "
              "(default: now + 1 minute).")
@pass_options
def slots(options: Options, window: str, start: str | None) -> None:
    """Print the candidate start times per provider and the common one; reserves
    nothing."""
    from bedform.planner import slots as slotmod

    with reported(options):
        try:
            seconds = slotmod.parse_duration(window)
            begin = slotmod.parse_time(start) if start else None
        except ValueError as error:
            fail(str(error))
        engine = options.engine()
        with engine.session("slots", lock=False) as session:
            session.preflight()
            observed = session.refresh()
            result = session.slot_plan(begin, seconds, observed=observed, candidates=True,
                                       force=True)
        assert result is not None
        if result.search_start is not None:
            click.echo(f"Search: {slotmod.fmt_utc(result.search_start)} to "
                       f"{slotmod.fmt_utc(result.search_start + result.window)}, "
                       f"{slotmod.TIME_INCREMENT} s steps.")
        for name in result.slotted:
            accepted = result.candidates.get(name, [])
            if name in result.refusals and not accepted and \
                    result.refusals[name].startswith("cannot check"):
                click.echo(f"  {name}: cannot check availability in advance")
                continue
            where = ", ".join(slotmod.ranges(accepted)) if accepted else "none"
            click.echo(f"  {name}: {len(accepted)} candidate start(s): {where}")
            if name in result.refusals:
                click.echo(f"      last refusal: {result.refusals[name]}")
        for name, at in result.reloaded.items():
            since = f" (start {slotmod.fmt_utc(at)})" if at is not None else ""
            click.echo(f"  {name}: already reserved{since}; reloaded, not re-reserved")
        for name, reservation in result.fixed.items():
            click.echo(f"  {name}: fixed reservation {reservation} (Europe/Paris)")
        for name in result.on_demand:
            click.echo(f"  {name}: no reservations, available now")
        if result.error:
            fail(result.error.split("\n", 1)[0], result.error.split("\n", 1)[-1])
        if result.start is not None:
            notes = result.notes()
            click.echo("Common start: " + (notes[0] if notes else
                                            slotmod.fmt_utc(result.start)))
            for note in notes[1:]:
                click.echo(f"Note: {note}")
        elif not result.slotted:
            click.echo("Nothing to reserve: no provider needs a new reservation.")
        click.echo("Nothing was reserved.")


@main.command("force-unlock")
@click.argument("lock_id")
@pass_options
def force_unlock(options: Options, lock_id: str) -> None:
    """Break a stuck lock (ID from the lock error)."""
    from bedform.state.lock import describe_holder
    from bedform.state.lock import force_unlock as unlock

    with reported(options):
        engine = options.engine()
        info = unlock(engine.store.directory, lock_id)
        click.echo(f"Unlocked: the lock held by {describe_holder(info)} was removed.")


@main.group()
def emulate() -> None:
    """Run a local emulator of a testbed API, to develop offline."""


def box_options(function: Any) -> Any:
    """The options of an emulator's box besides `--box`: its id and extra keys."""
    for option in reversed((
            click.option("--box-id", metavar="ID", help="Name of the box (default: "
                         "random); a start with the id of a killed box removes what it "
                         "left."),
            click.option("--authorized-key", "authorized_keys", multiple=True,
                         metavar="FILE", type=click.Path(exists=True, dir_okay=False),
                         help="A public key every box user accepts (repeatable), besides "
                              "the key pair the box writes for each user."))):
        function = option(function)
    return function


@emulate.command("g5k")
@click.option("--port", default=0, type=int, help="Port on 127.0.0.1 (default: any free).")
@click.option("--speed", default=1.0, type=float, show_default=True,
              help="Virtual seconds per real second.")
@click.option("--latency-ms", default=0.0, type=float, show_default=True,
              help="Delay added to every answer.")
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD",
              help="An account (repeatable; default alice:alice).")
@click.option("--write-config", "config_path", type=click.Path(dir_okay=False),
              help="Where to write the python-grid5000 configuration.")
@click.option("--launch-seconds", default=5.0, type=float, show_default=True,
              help="Virtual seconds a job spends launching.")
@click.option("--deploy-seconds", default=120.0, type=float, show_default=True,
              help="Virtual seconds a deployment takes.")
@click.option("--box", is_flag=True,
              help="Back the nodes with real SSH hosts (network namespaces; needs root).")
@box_options
@pass_options
def emulate_g5k(options: Options, port: int, speed: float, latency_ms: float,
                users: tuple[str, ...], config_path: str | None, launch_seconds: float,
                deploy_seconds: float, box: bool, box_id: str | None,
                authorized_keys: tuple[str, ...]) -> None:
    """The Grid'5000 REST API, served on loopback until Ctrl-C."""
    from pathlib import Path

    from bedform.emulators.g5k.server import run_cli

    for user in users:
        if ":" not in user:
            raise click.BadParameter(f"{user!r} is not NAME:PASSWORD", param_hint="--user")
    from bedform.errors import PreflightError
    from bedform.machines import MachineError

    with reported(options):
        try:
            run_cli(port=port, speed=speed, latency_ms=latency_ms, users=list(users) or None,
                    config_path=config_path, launch_seconds=launch_seconds,
                    deploy_seconds=deploy_seconds, box=box, box_id=box_id,
                    authorized_keys=[Path(k).read_text() for k in authorized_keys])
        except MachineError as exc:  # the box could not be built on this machine
            raise PreflightError(exc.message, hint=exc.hint) from exc


def emulator_options(function: Any) -> Any:
    """The options every `bedform emulate` command takes."""
    for option in reversed((
            click.option("--port", default=0, type=int,
                         help="Port on 127.0.0.1 (default: any free)."),
            click.option("--speed", default=1.0, type=float, show_default=True,
                         help="Virtual seconds per real second."),
            click.option("--latency-ms", default=0.0, type=float, show_default=True,
                         help="Delay added to every answer."))):
        function = option(function)
    return function


@emulate.command("iotlab")
@emulator_options
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD",
              help="An account (repeatable; default alice:alice).")
@click.option("--write-config", "config_path", type=click.Path(dir_okay=False),
              help="Where to write the iotlabcli password file of the first account.")
@click.option("--box", is_flag=True, help="Back the frontends and boards with real hosts "
              "(SSH frontends, serial consoles, Linux boards; needs root).")
@box_options
@pass_options
def emulate_iotlab(options: Options, port: int, speed: float, latency_ms: float,
                   users: tuple[str, ...], config_path: str | None, box: bool,
                   box_id: str | None, authorized_keys: tuple[str, ...]) -> None:
    """The FIT IoT-LAB REST API, served on loopback until Ctrl-C."""
    from pathlib import Path

    from bedform.emulators.iotlab.server import run_cli
    from bedform.errors import PreflightError
    from bedform.machines import MachineError

    for user in users:
        if ":" not in user:
            raise click.BadParameter(f"{user!r} is not NAME:PASSWORD", param_hint="--user")
    with reported(options):
        try:
            run_cli(port=port, speed=speed, latency_ms=latency_ms,
                    users=list(users) or None, config_path=config_path, box=box,
                    box_id=box_id, authorized_keys=[Path(k).read_text()
                                                    for k in authorized_keys])
        except MachineError as exc:  # the box could not be built on this machine
            raise PreflightError(exc.message, hint=exc.hint) from exc


@emulate.command("openstack")
@emulator_options
@click.option("--write-config", "config_path", type=click.Path(dir_okay=False),
              help="Where to write clouds.yaml (an openrc is written beside it).")
@click.option("--chameleon", is_flag=True,
              help="A Chameleon site: shared network sharednet1, CC images, Blazar events "
                   "every minute.")
@click.option("--box", is_flag=True, help="Back the ACTIVE servers with real SSH hosts, "
              "reachable through their floating IPs (network namespaces; needs root).")
@click.option("--box-id", metavar="ID", help="Name of the box (default: random); a start "
              "with the id of a killed box removes what it left.")
@pass_options
def emulate_openstack(options: Options, port: int, speed: float, latency_ms: float,
                      config_path: str | None, chameleon: bool, box: bool,
                      box_id: str | None) -> None:
    """Keystone, Nova, Neutron, Glance and Blazar, served on loopback until Ctrl-C."""
    from bedform.emulators.openstack.server import run_cli
    from bedform.errors import PreflightError
    from bedform.machines import MachineError

    with reported(options):
        try:
            run_cli(port=port, speed=speed, latency_ms=latency_ms, config_path=config_path,
                    chameleon=chameleon, box=box, box_id=box_id)
        except MachineError as exc:  # the box could not be built on this machine
            raise PreflightError(exc.message, hint=exc.hint) from exc


if __name__ == "__main__":
    main()
