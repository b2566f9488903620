"""Parallel command execution over SSH on `Host` objects.

    results = run(roles["server"], "hostname", timeout=30)
    results["server-1"].stdout

Each host is reached with the system OpenSSH client (`ssh`), one process per host, at
most `parallelism` at a time (threads waiting on subprocesses). Why `ssh` and not
paramiko: it honours exactly what `bedform output --format ssh-config` and the Ansible
inventory write (same jump-host chain, same options), the user's `~/.ssh/config`, agent
and keys (the Grid'5000 access gateway is reached with the user's own key), and jump
hosts are handled by ssh itself; no Python SSH stack to keep in step with OpenSSH.

Connection: `Host.user`, `Host.port`, `Host.keyfile` (also offered to the jump hosts, in
addition to the user's default keys) and the gateway extras of `bedform.inventory`
(`gateway`, `gateway_user`, `gateway_port`, `internal_gateway`, ... : at most two hops,
outermost first, chained with nested `ProxyCommand`s). Host keys are not checked (testbed
nodes are redeployed), `BatchMode` is on (never a password prompt), stdin is empty.

Errors (unless `check=False`, which returns every `Result`):

- `EnosUnreachableHostsError` when ssh itself failed for some hosts (exit status 255:
  connection refused or timed out, no route, authentication refused, a jump host down).
  A command that itself exits with 255 is counted as unreachable too (ssh cannot tell).
- otherwise `EnosFailedHostsError` when the command exited non-zero or ran past its
  `timeout` on some hosts (the local ssh is killed; `Result.timed_out`).

Both carry `.hosts` (the `Host` objects) and `.results` (alias → `Result` for every host)
and their message names each host with the last line of its stderr.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bedform.errors import EnosFailedHostsError, EnosUnreachableHostsError
from bedform.inventory import Hop, jump_hops
from bedform.objects import Host

__all__ = ["Result", "run", "run_many", "ssh_argv"]

SSH_OPTIONS = ("StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
               "LogLevel=ERROR", "BatchMode=yes")
UNREACHABLE = 255


@dataclass(frozen=True)
class Result:
    """What one host answered. `rc` is None when the command was killed on timeout."""

    host: str
    stdout: str
    stderr: str
    rc: int | None
    duration: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def unreachable(self) -> bool:
        return self.rc == UNREACHABLE


def _options(connect_timeout: float) -> list[str]:
    args: list[str] = []
    for option in (*SSH_OPTIONS, f"ConnectTimeout={max(1, round(connect_timeout))}",
                   "ServerAliveInterval=5", "ServerAliveCountMax=3"):
        args += ["-o", option]
    return args


def _proxy_command(hops: list[Hop], keyfile: str | None, connect_timeout: float) -> str:
    """A ProxyCommand reaching `%h:%p` through `hops` (outermost first). The inner hop's
    ssh is itself proxied through the outer ones (its `%` doubled once per level)."""
    last = hops[-1]
    args = ["ssh", "-W", "%h:%p", *_options(connect_timeout)]
    if keyfile:
        args += ["-i", keyfile]
    if last.user:
        args += ["-l", last.user]
    if last.port:
        args += ["-p", str(last.port)]
    if len(hops) > 1:
        args += ["-o", "ProxyCommand=" + _proxy_command(hops[:-1], keyfile, connect_timeout)]
    args.append(last.host)
    return " ".join(shlex.quote(a) if a == "%h:%p" else shlex.quote(a.replace("%", "%%"))
                    for a in args)


def ssh_argv(host: Host, command: str, *, connect_timeout: float = 10) -> list[str]:
    """The `ssh` command line that runs `command` on `host`."""
    keyfile = os.path.expanduser(host.keyfile) if host.keyfile else None
    args = ["ssh", *_options(connect_timeout)]
    if keyfile:
        args += ["-i", keyfile]
    if host.user:
        args += ["-l", host.user]
    if host.port:
        args += ["-p", str(host.port)]
    hops = jump_hops(host)
    if hops:
        args += ["-o", "ProxyCommand=" + _proxy_command(hops, keyfile, connect_timeout)]
    if str(host.extra.get("forward_agent", "")).lower() in {"1", "yes", "true", "on"}:
        args.append("-A")
    args += ["--", host.address, command]
    return args


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def _run_one(host: Host, command: str, timeout: float, connect_timeout: float) -> Result:
    start = time.monotonic()
    try:
        # own process group: on timeout, ssh and its ProxyCommand children are killed
        process = subprocess.Popen(
            ssh_argv(host, command, connect_timeout=connect_timeout),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
    except OSError as error:   # no ssh binary, too many open files...
        return Result(host.alias, "", f"cannot run ssh: {error}", UNREACHABLE, 0.0)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            stdout, stderr = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            stdout, stderr = b"", b""
        return Result(host.alias, _text(stdout), _text(stderr), None,
                      time.monotonic() - start, timed_out=True)
    return Result(host.alias, _text(stdout), _text(stderr), process.returncode,
                  time.monotonic() - start)


def _why(result: Result, timeout: float) -> str:
    if result.timed_out:
        return f"timed out after {timeout:g} s"
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if result.unreachable:
        return last or "ssh failed (exit 255)"
    return f"exit {result.rc}" + (f": {last}" if last else "")


def run_many(commands: Iterable[tuple[Host, str]] | Mapping[Host, str], *,
             timeout: float = 60, parallelism: int = 32, connect_timeout: float = 10,
             check: bool = True,
             on_result: Callable[[Result], None] | None = None) -> dict[str, Result]:
    """Run each host's own command, in parallel; alias → `Result`.

    `timeout` bounds each host's whole run (connection included); `connect_timeout` the
    TCP connection to each hop. Raises as the module says when `check`."""
    pairs = list(commands.items()) if isinstance(commands, Mapping) else list(commands)
    seen: dict[str, Host] = {}
    for host, _ in pairs:
        if not isinstance(host, Host):
            raise TypeError(f"not a Host: {host!r}")
        if seen.setdefault(host.alias, host) != host:
            raise ValueError(f"two different hosts share the alias {host.alias!r}")
    results: dict[str, Result] = {}
    if pairs:
        workers = max(1, min(parallelism, len(pairs)))
        with ThreadPoolExecutor(workers, thread_name_prefix="bedform-ssh") as pool:
            futures = [pool.submit(_run_one, host, command, timeout, connect_timeout)
                       for host, command in pairs]
            for future in futures:
                result = future.result()
                results[result.host] = result
                if on_result is not None:
                    on_result(result)
    if check:
        _raise_for(results, seen, timeout)
    return results


def run(hosts: Iterable[Host], command: str, *, timeout: float = 60, parallelism: int = 32,
        connect_timeout: float = 10, check: bool = True) -> dict[str, Result]:
    """Run `command` (a shell string) on every host, in parallel; alias → `Result`."""
    unique = list(dict.fromkeys(hosts))
    return run_many([(host, command) for host in unique], timeout=timeout,
                    parallelism=parallelism, connect_timeout=connect_timeout, check=check)


def _raise_for(results: Mapping[str, Result], hosts: Mapping[str, Host],
               timeout: float) -> None:
    unreachable = sorted(a for a, r in results.items() if r.unreachable)
    failed = sorted(a for a, r in results.items() if not r.ok and not r.unreachable)
    if unreachable:
        error: Exception = EnosUnreachableHostsError(
            [hosts[a] for a in unreachable],
            f"{len(unreachable)} host(s) unreachable over SSH: "
            + "; ".join(f"{a} ({_why(results[a], timeout)})" for a in unreachable)
            + (f"; and the command failed on: {', '.join(failed)}" if failed else ""))
    elif failed:
        error = EnosFailedHostsError(
            [hosts[a] for a in failed],
            f"command failed on {len(failed)} host(s): "
            + "; ".join(f"{a} ({_why(results[a], timeout)})" for a in failed))
    else:
        return
    error.results = dict(results)  # type: ignore[attr-defined]
    raise error
