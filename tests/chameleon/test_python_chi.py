"""python-chi (Chameleon's own library) against the emulator's Blazar, configured
without its online site list (`chi.use_site` fetches it from Chameleon's resource API):
a lease created, waited for and listed through python-chi, beside a bedform stack's lease
that python-chi reads too. python-chi is not in the test extras (it pulls numpy, pandas,
matplotlib, ipywidgets, bqplot...): the test is skipped where it is not installed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bedform.emulators.openstack import OpenstackEmulator
from tests.chameleon.conftest import Stack, bare_metal, blazar

chi_lease = pytest.importorskip(
    "chi.lease", reason="python-chi is not installed (pip install python-chi; it pulls numpy, "
                  "pandas, matplotlib and ipywidgets, so it is not in the test extras)")
chi = pytest.importorskip("chi")


@pytest.fixture
def chi_context(site: OpenstackEmulator):
    """python-chi's global context pointed at the emulator's Keystone, as alice: what
    `chi.use_site` would set from the site list, given by hand; reset afterwards."""
    chi.context.reset()
    chi.set("auth_type", "v3password")
    for key, value in site.auth().items():
        if key != "project_id":
            chi.set(key, value)
    chi.set("region_name", site.cloud.region)
    try:
        yield chi
    finally:
        chi.context.reset()


def test_lease_create_and_list_through_python_chi(chi_context, site, tmp_path):
    lease = chi_lease.Lease("chi-lease", duration=timedelta(hours=1))
    lease.add_node_reservation(amount=2, node_type="compute_skylake")
    lease.submit(wait_for_active=True, wait_timeout=30, idempotent=True)
    assert lease.status == "ACTIVE"
    assert [(r["min"], r["max"]) for r in lease.node_reservations] == [(2, 2)]

    # a bedform stack beside it: python-chi lists and reads its lease as well
    stack = Stack(tmp_path / "s", name="beside").write(
        cbm=bare_metal([("server", "compute_haswell", 1)]))
    stack.apply()
    listed = {item.name: item.status for item in chi_lease.list_leases()}
    assert listed == {"chi-lease": "ACTIVE", "beside": "ACTIVE"}
    assert chi_lease.get_lease("beside").node_reservations[0]["min"] == 1

    # idempotent submit finds the lease by name instead of making a second one
    again = chi_lease.Lease("chi-lease", duration=timedelta(hours=1))
    again.add_node_reservation(amount=2, node_type="compute_skylake")
    again.submit(wait_for_active=True, wait_timeout=30, idempotent=True)
    assert again.id == lease.id

    lease.delete()
    assert stack.run("destroy", "--auto-approve").exit_code == 0
    assert chi_lease.list_leases() == [] and blazar().lease.list() == []
