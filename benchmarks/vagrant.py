"""Vagrant-provider figures (run as root, after scripts/vagrant-host.sh): real VMs.

Through the real CLI in a subprocess: the offline box build (cached; cold with `--cold`,
which rebuilds from debootstrap, about 3.5 min), then for 1 and for 2 VMs on one private
network: apply (`vagrant up` under QEMU TCG), a no-op apply (one `vagrant status`),
destroy. Next to it, EnOSlib's way with the same Vagrantfile: python-vagrant's `up()` +
`provision()` for `init()`, and the same again for a second `init()` (EnOSlib runs
`vagrant up` on every `init()`), then `destroy()`. Cleans up even on failure.

`measure()` returns the rows (skipped, with a note, when the host set-up is missing);
run standalone, it prints them as a table. `--only 1,2,enoslib` picks the parts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    # run as a script: this folder must not shadow python-vagrant's `vagrant` module
    HERE = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(HERE.parent))

from benchmarks.common import REPO, Row, cli, cli_env, print_table

BOX_SCRIPT = REPO / "scripts" / "vagrant-box.sh"
PARTS = ("1", "2", "enoslib")


def _box_build(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", str(BOX_SCRIPT), *args], check=True, capture_output=True,
                   timeout=1800)
    return time.perf_counter() - started


def _stack(root: Path, vms: int, name: str) -> Path:
    """A stack file: `vms` VMs of role node on one private network."""
    config = root / "bedform.yaml"
    config.write_text(yaml.safe_dump({"name": name, "providers": {"vms": {
        "type": "vagrant", "name_prefix": "bench", "management_cidr": "192.168.215.0/24",
        "resources": {"machines": [{"roles": ["node"], "flavour": "tiny", "number": vms}],
                      "networks": [{"cidr": "192.168.216.0/24", "roles": ["lan"]}]}}}}))
    return config


def _destroy_quietly(config: Path) -> None:
    subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(config), "destroy",
                    "--auto-approve"], cwd=REPO, capture_output=True, check=False,
                   env=cli_env(), timeout=600)


def bedform_rows(vms: int) -> list[Row]:
    """apply, no-op apply and destroy of `vms` VMs through the CLI."""
    with tempfile.TemporaryDirectory() as root:
        config = _stack(Path(root), vms, f"vbench{vms}")
        try:
            apply_time, _ = cli(config, "apply", "--auto-approve")
            reload_time, proc = cli(config, "apply", "--auto-approve")
            if "No changes" not in proc.stdout:
                raise RuntimeError(f"the second apply was not a no-op:\n{proc.stdout}")
            destroy_time, _ = cli(config, "destroy", "--auto-approve")
        finally:
            _destroy_quietly(config)
    return [Row(f"vagrant: apply, {vms} VM (CLI wall, QEMU TCG)", None, apply_time),
            Row(f"vagrant: no-op apply, {vms} VM (CLI wall)", 15.0, reload_time,
                note="one `vagrant status`, one `virsh net-list`"),
            Row(f"vagrant: destroy, {vms} VM + networks + base volume (CLI wall)", 60.0,
                destroy_time)]


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def enoslib_rows() -> list[Row]:
    """EnOSlib's calls on bedform's Vagrantfile for 1 VM: the isolated networks are made
    first by bedform (`apply -target`), as a CI must for EnOSlib (NOTES.md)."""
    import vagrant

    from bedform.providers.vagrant import libvirt

    with tempfile.TemporaryDirectory() as root:
        config = _stack(Path(root), 1, "vbenchenos")
        before = set(libvirt.volumes())
        machine_dir = Path(root) / "enoslib"
        machine_dir.mkdir()
        env = {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1",
               "VAGRANT_DEFAULT_PROVIDER": "libvirt", "LIBVIRT_DEFAULT_URI": libvirt.URI}
        client = vagrant.Vagrant(root=str(machine_dir), env=env, quiet_stdout=True,
                                 quiet_stderr=True)
        try:
            cli(config, "apply", "--auto-approve", "--target=vms.vagrantfile[main]",
                "--target=vms.network[management]", "--target=vms.network[192.168.216.0/24]")
            rendered = Path(root) / ".bedform" / "providers" / "vms"
            shutil.copy(rendered / "Vagrantfile", machine_dir / "Vagrantfile")
            shutil.copytree(rendered / "machines", machine_dir / "machines")
            first = _timed(lambda: (client.up(), client.provision()))
            again = _timed(lambda: (client.up(), client.provision()))
            gone = _timed(client.destroy)
        finally:
            subprocess.run(["vagrant", "destroy", "-f"], cwd=machine_dir, env=env,
                           capture_output=True, check=False, timeout=600)
            _destroy_quietly(config)
            for volume in set(libvirt.volumes()) - before:
                libvirt.delete_volume(volume)
    return [Row("EnOSlib's way: init() = vagrant up + provision, 1 VM", None, first,
                note="NOTES.md measured 158 s"),
            Row("EnOSlib's way: second init() (up + provision again)", None, again),
            Row("EnOSlib's way: destroy(), 1 VM", None, gone)]


def measure(cold: bool = False, parts: tuple[str, ...] = PARTS) -> list[Row]:
    if os.geteuid() != 0:
        return [Row("vagrant", None, None, note="needs root (libvirt, debootstrap)")]
    if shutil.which("vagrant") is None or shutil.which("virsh") is None:
        return [Row("vagrant", None, None,
                    note="needs the host set-up: sudo bash scripts/vagrant-host.sh")]
    rows = [Row("vagrant: box build, cold (debootstrap)", None,
                _box_build("--force") if cold else None,
                note="" if cold else "run with --cold"),
            Row("vagrant: box build, cached", 10.0, _box_build())]
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        ("1", lambda: bedform_rows(1)), ("2", lambda: bedform_rows(2)),
        ("enoslib", enoslib_rows)]
    for part, step in steps:
        if part not in parts:
            continue
        try:
            rows += step()
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            rows.append(Row(f"vagrant: part {part}", None, None, note=f"failed: {error}"))
        print_table(rows[-3:], file=sys.stderr)
    return rows


def main() -> None:
    args = sys.argv[1:]
    parts = PARTS
    if "--only" in args:
        parts = tuple(args[args.index("--only") + 1].split(","))
    print_table(measure(cold="--cold" in args, parts=parts))


if __name__ == "__main__":
    main()
