"""The helpers EnOSlib tutorials call on hosts: `init_logging`, `run_command`, `run`,
`sync_info`, `get_hosts`, with EnOSlib's signatures and results.

Commands run over SSH with `bedform.remote` (the same connection settings as the
Ansible inventory and ssh config), not through Ansible:

    results = run_command("uptime", roles=roles["server"])
    for result in results:            # one CommandResult per host
        print(result.host, result.rc, result.stdout)
    results.filter(status=STATUS_FAILED)

`roles` is EnOSlib's RolesLike: `Roles` (with `pattern_hosts`, an Ansible host pattern:
`all`, role or alias names and globs joined by `:` or `,`, `&name` to intersect,
`!name` to exclude), an iterable of hosts, or one `Host`.

Failures: `EnosFailedHostsError` (a command exited non-zero or timed out) is raised
before `EnosUnreachableHostsError` (ssh could not reach the host), each with `.hosts`
the failing `CommandResult`s as in EnOSlib, unless `on_error_continue=True`.

Departures, each refused with a clear error rather than ignored: no Ansible, so no
`gather_facts`, `extra_vars` templating, `inventory_path`, `ns` or `cgroup`; module
arguments are limited to `chdir`, `become`/`become_user` (sudo) and `timeout`
(seconds per host, default 600). `sync_info` reads interfaces with `ip -json address`
instead of Ansible facts, so `Host.processor` is not filled.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from bedform.errors import EnosError, EnosFailedHostsError, EnosUnreachableHostsError
from bedform.netdevices import devices_from_ip_json
from bedform.objects import Host, Networks, Roles
from bedform.remote import run_many

__all__ = ["STATUS_FAILED", "STATUS_OK", "STATUS_SKIPPED", "STATUS_UNREACHABLE",
           "CommandResult", "Results", "get_hosts", "init_logging", "run", "run_command",
           "sync_info"]

STATUS_OK = "OK"
STATUS_FAILED = "FAILED"
STATUS_UNREACHABLE = "UNREACHABLE"
STATUS_SKIPPED = "SKIPPED"
DEFAULT_TIMEOUT = 600.0
_MODULE_ARGS = frozenset({"chdir", "become", "become_user", "timeout"})
_R = TypeVar("_R")


def init_logging(level: int = logging.INFO, **kwargs: Any) -> ModuleType:
    """Log to the terminal through rich (EnOSlib's `init_logging`); `kwargs` go to
    `rich.logging.RichHandler` (default `show_time=False`). Like `logging.basicConfig`,
    it does nothing when the root logger already has handlers. Returns `logging`."""
    from rich.logging import RichHandler

    options: dict[str, Any] = {"show_time": False, **kwargs}
    logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]",
                        handlers=[RichHandler(**options)])
    return logging


@dataclass
class CommandResult:
    """What one host answered (EnOSlib's CommandResult: `payload` plus the
    `stdout`/`stderr`/`rc` shortcuts)."""

    host: str
    task: str
    status: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def stdout(self) -> str:
        return self.payload.get("stdout", "")

    @property
    def stderr(self) -> str:
        return self.payload.get("stderr", "")

    @property
    def rc(self) -> int | None:
        return self.payload.get("rc")

    def ok(self) -> bool:
        return self.status == STATUS_OK

    def match(self, **kwargs: Any) -> bool:
        return all(getattr(self, key) == value for key, value in kwargs.items())

    def to_dict(self, include_payload: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.host, "task": self.task, "status": self.status,
               "stdout": self.stdout, "stderr": self.stderr, "rc": self.rc}
        if include_payload:
            out["payload"] = copy.deepcopy(self.payload)
        return out


class Results(list):
    """A flat list of `CommandResult` (one per host and command), with filters."""

    def filter(self, **kwargs: Any) -> Results:
        """The results whose attributes equal `kwargs` (e.g. `status=STATUS_FAILED`)."""
        return Results(r for r in self if r.match(**kwargs))

    def ok(self, **kwargs: Any) -> Results:
        return Results(r for r in self.filter(**kwargs) if r.ok())

    def to_dict(self, include_payload: bool = False) -> list[dict[str, Any]]:
        return [r.to_dict(include_payload) for r in self]


# --------------------------------------------------------------------------- targets

def _as_roles(roles: Any) -> Roles:
    """EnOSlib's RolesLike (Roles, mapping, hosts, one host) as Roles."""
    if roles is None:
        raise EnosError("no hosts to run on", hint="Pass `roles=` (Roles, hosts or a Host).")
    if isinstance(roles, Host):
        return Roles({"all": [roles]})
    if isinstance(roles, Mapping):
        return Roles({role: list(members) for role, members in roles.items()})
    return Roles({"all": list(roles)})


def get_hosts(roles: Any, pattern_hosts: str = "all") -> list[Host]:
    """The hosts of `roles` matching the Ansible host pattern, sorted by alias."""
    groups = _as_roles(roles)
    everyone = {m.alias: m for members in groups.values() for m in members
                if isinstance(m, Host)}

    def matching(term: str) -> set[str]:
        if term in ("all", "*"):
            return set(everyone)
        found = {m.alias for role, members in groups.items()
                 if fnmatch.fnmatchcase(str(role), term)
                 for m in members if isinstance(m, Host)}
        return found | {alias for alias in everyone if fnmatch.fnmatchcase(alias, term)}

    terms = [t.strip() for t in pattern_hosts.replace(",", ":").split(":") if t.strip()]
    selected: set[str] = set()
    for term in (t for t in terms if t[0] not in "!&"):
        selected |= matching(term)
    for term in (t for t in terms if t[0] == "&"):
        selected &= matching(term[1:])
    for term in (t for t in terms if t[0] == "!"):
        selected -= matching(term[1:])
    return [everyone[alias] for alias in sorted(selected)]


# --------------------------------------------------------------------------- commands

def _shell(command: str, kwargs: dict[str, Any], run_as: str | None,
           background: bool) -> str:
    """The remote shell line for `command` with EnOSlib's options applied."""
    if kwargs.get("chdir"):
        command = f"cd {shlex.quote(str(kwargs['chdir']))} && {command}"
    if background:
        command = f"nohup sh -c {shlex.quote(command)} >/dev/null 2>&1 &"
    user = run_as or (kwargs.get("become_user", "root") if kwargs.get("become") else None)
    if user:
        command = f"sudo -n -u {shlex.quote(user)} -- sh -c {shlex.quote(command)}"
    return command


def run_command(command: str, *, pattern_hosts: str = "all",
                inventory_path: str | None = None, roles: Any = None,
                gather_facts: bool = False, extra_vars: Mapping[str, Any] | None = None,
                on_error_continue: bool = False, run_as: str | None = None,
                background: bool = False, task_name: str | None = None, raw: bool = False,
                ns: str | None = None, cgroup: str | None = None,
                cgroup_prefix: str = "/sys/fs/cgroup", **kwargs: Any) -> Results:
    """Run a shell command on the hosts of `roles` matching `pattern_hosts`, in parallel.

    Returns one `CommandResult` per host (`task` is `task_name`, else the command).
    `run_as` runs it as that user (sudo); `background` detaches it (rc 0 once started);
    `raw` changes nothing (no Python is ever needed on the hosts). See the module for
    what raises."""
    del raw, cgroup_prefix
    unsupported = {"inventory_path": inventory_path, "gather_facts": gather_facts,
                   "extra_vars": extra_vars, "ns": ns, "cgroup": cgroup}
    unknown = sorted(set(kwargs) - _MODULE_ARGS)
    wanted = [name for name, value in unsupported.items() if value] + unknown
    if wanted:
        raise EnosError(f"run_command: {', '.join(wanted)} not supported by bedform",
                        hint="bedform runs commands over SSH without Ansible: pass "
                             "`roles=` and a plain shell command (or run a playbook on "
                             "`bedform output --format ansible`).")
    hosts = get_hosts(roles, pattern_hosts)
    line = _shell(command, kwargs, run_as, background)
    timeout = float(kwargs.get("timeout", DEFAULT_TIMEOUT))
    answers = run_many([(host, line) for host in hosts], timeout=timeout, check=False)
    results = Results()
    for host in hosts:
        answer = answers[host.alias]
        status = STATUS_UNREACHABLE if answer.unreachable else \
            STATUS_OK if answer.ok else STATUS_FAILED
        payload = {"stdout": answer.stdout.rstrip("\n"), "stderr": answer.stderr.rstrip("\n"),
                   "rc": answer.rc, "cmd": command, "duration": answer.duration,
                   "timed_out": answer.timed_out}
        results.append(CommandResult(host.alias, task_name or command, status, payload))
    if not on_error_continue:
        _raise_for(results)
    return results


def _raise_for(results: Results) -> None:
    failed = results.filter(status=STATUS_FAILED)
    unreachable = results.filter(status=STATUS_UNREACHABLE)

    def why(result: CommandResult) -> str:
        if result.payload.get("timed_out"):
            return f"{result.host} (timed out)"
        last = (result.stderr.strip().splitlines() or [""])[-1]
        return f"{result.host} (rc {result.rc}{': ' + last if last else ''})"

    if failed:
        error: EnosError = EnosFailedHostsError(
            failed, f"command failed on {len(failed)} host(s): "
            + "; ".join(why(r) for r in failed))
    elif unreachable:
        error = EnosUnreachableHostsError(
            unreachable, f"{len(unreachable)} host(s) unreachable over SSH: "
            + "; ".join(why(r) for r in unreachable))
    else:
        return
    error.results = results  # type: ignore[attr-defined]
    raise error


def run(cmd: str, roles: Any, **kwargs: Any) -> Results:
    """`run_command(cmd, roles=roles, **kwargs)` (EnOSlib's shortcut)."""
    return run_command(cmd, roles=roles, **kwargs)


# --------------------------------------------------------------------------- sync_info

def sync_info(roles: _R, networks: Networks, inplace: bool = False, **kwargs: Any) -> _R:
    """Fill each host's `net_devices` from its live interfaces (`ip -json address
    show`), each address tied to the network of `networks` holding it; afterwards
    `Host.filter_addresses(networks=...)` answers. Returns the same kind of object as
    given (Roles, hosts or one Host), a copy unless `inplace`. `kwargs` go to
    `run_command` (e.g. `timeout`); an unreachable host raises."""
    if not roles:
        logging.getLogger(__name__).warning("sync_info: the roles are empty")
        return roles
    target: Any = roles if inplace else copy.deepcopy(roles)
    groups = _as_roles(target)
    hosts = get_hosts(groups)
    results = run_command("ip -json address show", roles=hosts, **kwargs)
    answers = {r.host: r.stdout for r in results}
    for members in groups.values():
        for member in members:
            if isinstance(member, Host):
                member.net_devices = devices_from_ip_json(answers[member.alias], networks)
    return target
