"""Vagrant-provider figures (run as root, after scripts/vagrant-host.sh): real VMs.

Through the real CLI in a subprocess: the offline box build (cached; cold with `--cold`,
which rebuilds from debootstrap, about 3 min), apply of 1 VM (`vagrant up` under QEMU
TCG), a no-op apply (one `vagrant status`), destroy. Cleans up even on failure.

`measure()` returns the rows (skipped, with a note, when the host set-up is missing);
run standalone, it prints them as a table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, Row, cli, cli_env, print_table

BOX_SCRIPT = REPO / "scripts" / "vagrant-box.sh"
FIGURES = [("vagrant: box build, cold (debootstrap)", None),
           ("vagrant: box build, cached", 10.0),
           ("vagrant: apply, 1 VM (CLI wall, QEMU TCG)", 300.0),
           ("vagrant: no-op apply, 1 VM (CLI wall)", 15.0),
           ("vagrant: destroy, 1 VM (CLI wall)", 30.0)]


def skipped(reason: str) -> list[Row]:
    return [Row(name, target, None, note=reason) for name, target in FIGURES]


def _box_build(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", str(BOX_SCRIPT), *args], check=True, capture_output=True,
                   timeout=1800)
    return time.perf_counter() - started


def measure(cold: bool = False) -> list[Row]:
    if os.geteuid() != 0:
        return skipped("needs root (libvirt, debootstrap)")
    if shutil.which("vagrant") is None or shutil.which("virsh") is None:
        return skipped("needs the host set-up: sudo bash scripts/vagrant-host.sh")
    cold_time = _box_build("--force") if cold else None
    cached_time = _box_build()
    with tempfile.TemporaryDirectory() as root:
        config = Path(root) / "bedform.yaml"
        config.write_text(yaml.safe_dump({"name": "vbench", "providers": {"vms": {
            "type": "vagrant", "name_prefix": "bench", "management_cidr": "192.168.215.0/24",
            "resources": {"machines": [{"roles": ["node"], "flavour": "tiny"}],
                          "networks": [{"cidr": "192.168.216.0/24", "roles": ["lan"]}]}}}}))
        try:
            apply_time, _ = cli(config, "apply", "--auto-approve")
            reload_time, proc = cli(config, "apply", "--auto-approve")
            if "0 to add, 0 to change, 0 to destroy" not in proc.stdout and \
                    "No changes" not in proc.stdout:
                raise RuntimeError(f"the second apply was not a no-op:\n{proc.stdout}")
            destroy_time, _ = cli(config, "destroy", "--auto-approve")
        finally:
            subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(config),
                            "destroy", "--auto-approve"], cwd=REPO, capture_output=True,
                           check=False, env=cli_env())
    values = [cold_time, cached_time, apply_time, reload_time, destroy_time]
    return [Row(name, target, value, note="" if value is not None else "run with --cold")
            for (name, target), value in zip(FIGURES, values, strict=True)]


def main() -> None:
    print_table(measure(cold="--cold" in sys.argv[1:]))


if __name__ == "__main__":
    main()
