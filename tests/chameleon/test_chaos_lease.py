"""Chaos: SIGKILL between the lease's creation and the servers' boot; the next apply
adopts the lease (exactly one) and boots the servers on it (issue 19)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.chameleon.conftest import Stack, bare_metal


def test_sigkill_after_the_lease_converges_to_one_lease(site, tmp_path):
    # server creations hang for 5 s: the kill lands after the lease, before any server
    site.add_fault(method="POST", path="^/compute/v2.1/servers$", latency_ms=5000)
    stack = Stack(tmp_path / "s").write(cbm=bare_metal(
        [("server", "compute_haswell", 1), ("client", "compute_skylake", 1)]))
    process = subprocess.Popen(
        [sys.executable, "-m", "bedform.cli", "-c", str(stack.file), "apply",
         "--auto-approve"], env=dict(os.environ), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not site.app.blazar.leases:
            assert time.monotonic() < deadline, "the apply never made the lease"
            assert process.poll() is None, "the apply ended before the kill"
            time.sleep(0.05)
        time.sleep(0.3)                  # the servers' POSTs are in flight (5 s latency)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    assert len(site.app.blazar.leases) == 1
    assert not any(s.status == "ACTIVE" for s in site.app.cloud.servers.values())
    [first] = site.app.blazar.leases
    site.app.clear_faults()
    stack.apply()
    assert list(site.app.blazar.leases) == [first]          # adopted, not doubled
    assert len(site.app.blazar.leases) == 1
    [lease] = site.app.blazar.leases.values()
    hints = {r.id for r in lease.reservations}
    servers = list(site.app.cloud.servers.values())
    assert sorted(s.name for s in servers) == ["exp-0-0", "exp-1-0"]
    assert {s.scheduler_hints["reservation"] for s in servers} == hints
    assert stack.run("plan", "--detailed-exitcode").exit_code == 0
    assert stack.run("destroy", "--auto-approve").exit_code == 0
