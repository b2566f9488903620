"""Grid'5000 + Chameleon bare metal in one stack: one common start, after a lease of
another user that holds every compute_skylake host for an hour (issue 19)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bedform.emulators.g5k.testing import g5k_emulator_factory  # noqa: F401
from bedform.planner import slots
from tests.chameleon.conftest import Stack, bare_metal
from tests.openstack.conftest import prepare
from tests.slots.conftest import g5k_section, start_emulator


def test_common_start_after_a_blocking_lease(g5k_emulator_factory,  # noqa: F811
                                             openstack_emulator_factory, tmp_path,
                                             monkeypatch):
    g5k = start_emulator(g5k_emulator_factory, tmp_path, monkeypatch)
    site = prepare(openstack_emulator_factory(build_seconds=0.0, chameleon=True,
                                              epoch=g5k.now()), tmp_path, monkeypatch)
    blocker = Stack(tmp_path / "bob", name="bob").write(cbm=bare_metal(
        [("x", "compute_skylake", 3)], walltime="01:00:00"))
    blocker.apply()
    [held] = site.app.blazar.leases.values()
    stack = Stack(tmp_path / "s", name="mixed").write(
        g5k={"type": "g5k", **g5k_section(("lyon", "hercule", 1))},
        cbm=bare_metal([("server", "compute_skylake", 1)], walltime="01:00:00"))
    search = slots.default_start()
    expected = search + math.ceil((held.end - search) / slots.TIME_INCREMENT) \
        * slots.TIME_INCREMENT
    stamp = datetime.fromtimestamp(expected, UTC).strftime("%Y-%m-%d %H:%M UTC")

    found = stack.run("slots", "--window", "3h")
    assert found.exit_code == 0, found.output
    assert stamp in found.output, found.output
    plan = stack.run("plan")
    assert plan.exit_code == 0, plan.output
    assert f"all providers start at {stamp}" in plan.output, plan.output

    assert blocker.run("destroy", "--auto-approve").exit_code == 0
