"""Grid'5000 box figures (run as root): start-up, a 20-node job and its deployment on real
hosts, teardown, and the memory each node host costs.

In-process with python-grid5000 against `G5kEmulator(box=True)` on a frozen clock (jobs
launch and deployments finish at once, so the figures are the box's own work): the time
from the job's submission until its 20 nodes answer SSH behind the access frontend, the
same for the deployment that re-creates them, and the proportional memory (PSS) of the
processes inside the node namespaces (one sshd each), per node. Cleans up even on
failure: the box is purged by its id.

`measure()` returns the rows (skipped, with a note, when not root); run standalone, it
prints them as a table.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform import machines
from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.box import purge
from bedform.machines import netlink
from benchmarks.common import Row, print_table

NODES = 20
FIGURES = [("g5k box: start-up (access frontend, bridges)", 2.0, "s"),
           (f"g5k box: job of {NODES} nodes until all answer SSH", 4.0, "s"),
           (f"g5k box: deployment re-creating {NODES} nodes", 4.0, "s"),
           ("g5k box: memory per node host (PSS of its processes)", 8.0, "MB"),
           ("g5k box: teardown", 2.0, "s")]


def skipped(reason: str) -> list[Row]:
    return [Row(name, target, None, unit, note=reason) for name, target, unit in FIGURES]


def pss_mb(pids: list[int]) -> float:
    """Proportional set size of `pids`, in MB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) for line in handle
                              if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def measure() -> list[Row]:
    if os.geteuid() != 0:
        return skipped("needs root (network namespaces, bridges)")
    missing = [p for p in ("ip", "sshd", "ssh-keygen", "nsenter", "dnsmasq")
               if not machines.which(p)]
    if missing:
        return skipped(f"needs {', '.join(missing)}")
    from grid5000 import Grid5000

    warnings.simplefilter("ignore")
    emu = G5kEmulator(users={"alice": "pw"}, speed=0, launch_seconds=0, deploy_seconds=0,
                      box=True)
    assert emu.box is not None
    box_id = emu.box.box_id
    try:
        started = time.perf_counter()
        emu.start()
        startup = time.perf_counter() - started
        client = Grid5000(**emu.client_config("alice"))
        site = client.sites["nancy"]
        started = time.perf_counter()
        job = site.jobs.create({"resources": f"{{cluster='gros'}}/nodes={NODES}",
                                "command": "sleep 3600", "types": ["deploy"]})
        job.refresh()
        job_time = time.perf_counter() - started
        if job.state != "running" or len(emu.box.nodes) != NODES:
            raise RuntimeError(f"job {job.state}, {len(emu.box.nodes)} node hosts")
        key = emu.box.user_key("alice").with_suffix(".pub").read_text()
        started = time.perf_counter()
        deployment = site.deployments.create({"nodes": job.assigned_nodes,
                                              "environment": "debian12-min", "key": key})
        deployment.refresh()
        deploy_time = time.perf_counter() - started
        deployed = {h.spec.deployment for h in emu.box.nodes.values()}
        if deployment.status != "terminated" or deployed != {deployment.uid}:
            raise RuntimeError(f"deployment {deployment.status}, hosts on {deployed}")
        pids = []
        for host in emu.box.nodes.values():
            inode = machines.ns_inode(netlink.netns_path(host.netns))
            pids += machines.pids_in_netns(inode) if inode else []
        memory = pss_mb(pids) / NODES
        started = time.perf_counter()
        emu.stop()
        teardown = time.perf_counter() - started
    finally:
        emu.stop()
        purge(box_id)
    values = [startup, job_time, deploy_time, memory, teardown]
    return [Row(name, target, value, unit)
            for (name, target, unit), value in zip(FIGURES, values, strict=True)]


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("benchmarks/g5k_box.py needs root (network namespaces, bridges)")
    print_table(measure())


if __name__ == "__main__":
    main()
