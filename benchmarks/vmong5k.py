"""VMonG5k figures on the Grid'5000 box in light mode (run as root): plan and apply of
many VMs in 2 groups on `gros` nodes, the SSH sessions they cost, and a no-op reload.

Through the CLI in-process (as a user would run it) against `G5kEmulator(box=True)` on a
frozen clock (jobs launch and deployments end at once, so the figures are bedform's and
the nodes' own work). SSH sessions are counted in the node sshds' logs. The anchor is
EnOSlib's documented scale: about 3,000 VMs on 29 nodes in about 30 minutes. Cleans up
even on failure: the box is purged by its id.

    python benchmarks/vmong5k.py [--vms 300] [--nodes 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from click.testing import CliRunner

from bedform.cli import main as cli
from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.box import purge
from bedform.emulators.g5k.testing import ssh_agent
from benchmarks.common import Row, print_table

ANCHOR = "EnOSlib: ~30 min for ~3,000 VMs on 29 nodes"


def _sessions(emu: G5kEmulator) -> int:
    assert emu.box is not None
    total = 0
    for host in emu.box.nodes.values():
        log = emu.box.dir / "hosts" / host.netns / "sshd.log"
        if log.exists():
            total += log.read_text().count("Accepted publickey")
    return total


def _run(config: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["-c", str(config), *args])
    elapsed = time.perf_counter() - started
    if result.exit_code not in (0, 2):
        raise RuntimeError(f"bedform {' '.join(args)} failed:\n{result.output[-3000:]}")
    return elapsed, result.output


def skipped(reason: str, vms: int, nodes: int) -> list[Row]:
    return [Row(f"vmong5k: {what} ({vms} VMs, {nodes} nodes)", None, None, note=reason)
            for what in ("plan", "apply", "no-op reload")]


def measure(vms: int = 300, nodes: int = 10) -> list[Row]:
    if os.geteuid() != 0:
        return skipped("needs root (network namespaces, bridges)", vms, nodes)
    warnings.simplefilter("ignore")
    nodes = max(2, nodes)
    emu = G5kEmulator(users={"alice": "pw"}, speed=0, launch_seconds=0, deploy_seconds=0,
                      box=True)
    assert emu.box is not None
    box_id = emu.box.box_id
    saved = {k: os.environ.get(k) for k in ("BEDFORM_G5K_CONFIG", "SSH_AUTH_SOCK")}
    try:
        emu.start()
        with tempfile.TemporaryDirectory(prefix="bedform-vmong5k-") as tmp:
            work = Path(tmp)
            os.environ["BEDFORM_G5K_CONFIG"] = str(emu.write_client_config(
                work / "g5k.yaml", "alice"))
            image = work / "base.qcow2"
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1G"],
                           check=True, timeout=30)
            half_vms, half_nodes = vms // 2, nodes // 2
            machines = [{"roles": ["server"], "cluster": "gros", "number": half_vms,
                         "nodes": half_nodes},
                        {"roles": ["client"], "cluster": "gros", "number": vms - half_vms,
                         "nodes": nodes - half_nodes,
                         "flavour_desc": {"core": 1, "mem": 256}}]
            subnet = {"subnet_type": "slash_16"} if vms > 1021 else {}
            config = work / "bedform.yaml"
            config.write_text(yaml.safe_dump({"name": "bench", "providers": {"vms": {
                "type": "vmong5k", "key": str(emu.box.user_key("alice")) + ".pub",
                "image": str(image), "working_dir": str(work / "wd"),
                "resources": {"machines": machines}, **subnet}}}))
            with ssh_agent([emu.box.user_key("alice")], work) as agent:
                os.environ["SSH_AUTH_SOCK"] = agent
                plan_time, _ = _run(config, "plan")
                before = _sessions(emu)
                apply_time, _ = _run(config, "apply", "--auto-approve", "--parallelism",
                                     "32")
                apply_sessions = _sessions(emu) - before
                before = _sessions(emu)
                reload_time, output = _run(config, "apply", "--auto-approve")
                reload_sessions = _sessions(emu) - before
                if "No changes." not in output:
                    raise RuntimeError(f"the reload planned changes:\n{output[-2000:]}")
                _run(config, "destroy", "--auto-approve", "--parallelism", "32")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        emu.stop()
        purge(box_id)
    scale = f"{vms} VMs, {nodes} nodes"
    return [
        Row(f"vmong5k: plan ({scale}, empty state)", None, plan_time),
        Row(f"vmong5k: apply until every VM runs ({scale}, light mode)", None, apply_time,
            note=ANCHOR),
        Row(f"vmong5k: SSH sessions of the apply ({scale})", 2 * nodes, apply_sessions,
            unit="", note="refresh + set-up + one batch per node"),
        Row(f"vmong5k: no-op reload, refresh included ({scale})", None, reload_time),
        Row(f"vmong5k: SSH sessions of the no-op reload ({scale})", nodes,
            reload_sessions, unit="", note="one `virsh list --all` per node"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmarks/vmong5k.py needs root (network namespaces, bridges)")
    print_table(measure(args.vms, args.nodes))


if __name__ == "__main__":
    main()
