"""python-vagrant, with every `vagrant` subprocess bounded and its progress reported.

`VagrantClient` runs the `vagrant` CLI in a provider instance's state directory (the
Vagrantfile and `.vagrant/` live there). python-vagrant builds the commands and parses
`status --machine-readable` and `ssh-config`; this module adds deadlines (the process
group is killed when one passes), streams `vagrant up` output lines as progress, and
turns failures into ProviderErrors that carry the end of vagrant's output.

Each `vagrant` command runs in its own process group, whose id (with bedform's pid) is
written to `vagrant-<pgid>.pid` in the state directory while it runs: when bedform is
killed (SIGKILL) during a `vagrant up`, vagrant goes on alone, and the next run stops
that orphan (`stop_orphans`) before it touches the VMs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import vagrant

from bedform.errors import PreflightError, ProviderError

HOST_SETUP = "sudo bash scripts/vagrant-host.sh"
BOX_BUILD = "sudo bash scripts/vagrant-box.sh"
COMMAND_TIMEOUT = 120.0
UP_TIMEOUT = 1800.0
"""`vagrant up` under QEMU TCG takes 2.5-3 min per batch here; this is the ceiling."""
RUNNING = vagrant.Vagrant.RUNNING
PID_FILES = "vagrant-*.pid"


class BoundedVagrant(vagrant.Vagrant):
    """python-vagrant's client whose commands end within `timeout` seconds."""

    def __init__(self, root: Path, env: dict[str, str], timeout: float) -> None:
        super().__init__(root=str(root), env=env)
        self.timeout = timeout

    def _run_vagrant_command(self, args):
        return run(self._make_vagrant_command(args), self.root, self.env, self.timeout)

    def _call_vagrant_command(self, args):
        run(self._make_vagrant_command(args), self.root, self.env, self.timeout)


def run(command: Sequence[str], cwd: str, env: dict[str, str] | None, timeout: float,
        on_line: Callable[[str], None] | None = None) -> str:
    """Run `command` in its own process group; its stdout. The group is killed when
    `timeout` passes; a non-zero exit is a ProviderError with the output's tail. While
    it runs, its process group id and ours are in `<cwd>/vagrant-<pgid>.pid`."""
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    pid_file = Path(cwd) / f"vagrant-{process.pid}.pid"
    with contextlib.suppress(OSError):
        pid_file.write_text(f"{process.pid} {os.getpid()}\n")
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n").split("\r")[-1]
            lines.append(line)
            if on_line is not None and line.strip():
                on_line(line.strip())
        process.wait()
    except BaseException:
        kill()
        process.wait()
        raise
    finally:
        watchdog.cancel()
        with contextlib.suppress(OSError):
            pid_file.unlink()
    text = "\n".join(lines)
    shown = " ".join(command[1:3])
    if expired.is_set():
        raise ProviderError(f"`vagrant {shown}` did not end within {timeout:g} s and was "
                            "killed", hint="Last output:\n" + "\n".join(lines[-15:]))
    if process.returncode != 0:
        raise ProviderError(f"`vagrant {shown}` failed (exit {process.returncode})",
                            hint="Output:\n" + "\n".join(lines[-20:]))
    return text + "\n"


class VagrantClient:
    """The `vagrant` commands the provider runs, in directory `root`."""

    def __init__(self, root: Path, backend: str = "libvirt",
                 timeout: float = COMMAND_TIMEOUT, up_timeout: float = UP_TIMEOUT) -> None:
        self.root = Path(root)
        self.up_timeout = up_timeout
        self.env = {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1",
                    "VAGRANT_DEFAULT_PROVIDER": backend, "VAGRANT_NO_COLOR": "1",
                    "LIBVIRT_DEFAULT_URI": "qemu:///system"}
        self.vagrant = BoundedVagrant(self.root, self.env, timeout)

    def status(self, locked_for: float = 60.0) -> dict[str, str]:
        """Every machine of the Vagrantfile: name -> state (one `vagrant status`; tried
        again for at most `locked_for` seconds while another vagrant holds a VM's lock,
        e.g. a `vagrant ssh` by hand)."""
        deadline = time.monotonic() + locked_for
        while True:
            try:
                return {s.name: s.state for s in self.vagrant.status()}
            except ProviderError as error:
                if "MachineLocked" not in (error.hint or "") or time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def up(self, names: Sequence[str], backend: str,
           progress: Callable[[str], None]) -> None:
        """`vagrant up --provider <backend> <names>`: one run, VMs booted in parallel."""
        command = self.vagrant._make_vagrant_command(
            ["up", *names, f"--provider={backend}"])
        run(command, str(self.root), self.env, self.up_timeout, on_line=progress)

    def ssh_config(self, name: str) -> tuple[str, dict[str, str]]:
        """`vagrant ssh-config <name>`: its text and python-vagrant's parse of it."""
        text = self.vagrant.ssh_config(vm_name=name)
        return text, self.vagrant.conf(ssh_config=text, vm_name=name)

    def destroy(self, name: str) -> None:
        self.vagrant.destroy(vm_name=name)

    def halt(self, name: str) -> None:
        self.vagrant.halt(vm_name=name, force=True)

    def stop_orphans(self, grace: float = 10.0) -> list[int]:
        """Kill the process groups of `vagrant` commands left running in this directory
        by a bedform process that died (vagrant-<pgid>.pid files); their ids. Only
        processes whose working directory is this one are taken (a recycled pid is left
        alone). Waits at most `grace` seconds for them to end."""
        killed = []
        for pid_file in sorted(self.root.glob(PID_FILES)):
            try:
                pgid, owner = (int(n) for n in pid_file.read_text().split())
            except (OSError, ValueError):
                continue
            if owner == os.getpid() or _alive(owner):
                continue              # a live bedform's command: not an orphan
            if _group_in(pgid, self.root):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                deadline = time.monotonic() + grace
                while _group_in(pgid, self.root) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if _group_in(pgid, self.root):
                    raise ProviderError(
                        f"a vagrant process left by an earlier run (process group {pgid}) "
                        f"did not end within {grace:g} s",
                        hint=f"Stop it (`kill -9 -{pgid}`), then run again.")
                killed.append(pgid)
            with contextlib.suppress(OSError):
                pid_file.unlink()
        return killed


def _alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _group_in(pgid: int, root: Path) -> list[int]:
    """Live processes of process group `pgid` whose working directory is `root`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            if Path(os.readlink(entry / "cwd")).resolve() == root.resolve():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def check_host(backend: str) -> None:
    """PreflightError naming the install command when vagrant or the backend is missing.
    Only files are looked at: no `vagrant` subprocess (a reload stays cheap)."""
    if shutil.which("vagrant") is None:
        raise PreflightError("vagrant is not installed", hint=f"Run `{HOST_SETUP}`.")
    if backend == "virtualbox":
        if shutil.which("VBoxManage") is None:
            raise PreflightError(
                "backend virtualbox needs VirtualBox, which is not installed here",
                hint="VirtualBox is not in Debian 12 main and needs hardware "
                     "virtualization; use `backend: libvirt` on this machine.")
        return
    if not plugin_installed("vagrant-libvirt"):
        raise PreflightError("the vagrant-libvirt plugin is not installed",
                             hint=f"Run `{HOST_SETUP}` (Debian package vagrant-libvirt).")
    if shutil.which("virsh") is None:
        raise PreflightError("libvirt is not installed", hint=f"Run `{HOST_SETUP}`.")


def plugin_installed(name: str) -> bool:
    """Whether the vagrant plugin `name` is installed: from Debian's package (a system
    gem) or by `vagrant plugin install` (VAGRANT_HOME/plugins.json)."""
    system_gems = Path("/usr/share/rubygems-integration/all/specifications")
    if any(system_gems.glob(f"{name}-[0-9]*.gemspec")):
        return True
    plugins = vagrant_home() / "plugins.json"
    try:
        return name in json.loads(plugins.read_text()).get("installed", {})
    except (OSError, ValueError):
        return False


def vagrant_home() -> Path:
    """Where vagrant keeps boxes and plugins."""
    return Path(os.environ.get("VAGRANT_HOME", Path.home() / ".vagrant.d"))
