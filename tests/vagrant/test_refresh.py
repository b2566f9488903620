"""Refresh of the vagrant kinds from one snapshot (one `vagrant status`, one
`virsh net-list`), and the refusal of VirtualBox where it is absent."""

from __future__ import annotations

import shutil

import pytest

from bedform.errors import PreflightError
from bedform.providers.base import DriverContext
from bedform.providers.kinds import RefreshView
from bedform.providers.vagrant.client import check_host
from bedform.providers.vagrant.driver import VagrantDriver
from bedform.providers.vagrant.kinds import MACHINE, NETWORK, MachineKind, NetworkKind, Snapshot
from bedform.state.model import Record, Status


def machine(name: str) -> Record:
    return Record(address=f"vms.machine[{name}]", kind=MACHINE, provider="vms",
                  status=Status.READY, inputs={"name": name, "domain": f"bf-x-{name}"},
                  attributes={"hostname": "192.168.121.5"})


def test_machines_running_halted_and_gone(tmp_path):
    driver = VagrantDriver(DriverContext("st", "id", tmp_path))
    snap = Snapshot(machines={"a": "running", "b": "poweroff", "c": "not_created"},
                    networks={}, domains=None)
    seen = MachineKind(driver).refresh([machine(n) for n in "abcd"], RefreshView(snapshot=snap))
    assert seen["vms.machine[a]"].alive and not seen["vms.machine[a]"].drift
    assert seen["vms.machine[b]"].alive and "poweroff" in seen["vms.machine[b]"].drift[0]
    assert not seen["vms.machine[c]"].alive and "not created" in seen["vms.machine[c]"].reason
    assert not seen["vms.machine[d]"].alive


def test_a_vm_an_interrupted_run_left_is_alive_and_repaired(tmp_path):
    driver = VagrantDriver(DriverContext("st", "id", tmp_path))
    record = Record(address="vms.machine[a]", kind=MACHINE, provider="vms",
                    status=Status.PENDING_CREATE, inputs={"name": "a", "domain": "bf-x-a"},
                    attributes={"name": "a", "domain": "bf-x-a"})
    snap = Snapshot(machines={"a": "running"}, networks={}, domains=None)
    seen = MachineKind(driver).refresh([record], RefreshView(snapshot=snap))
    observed = seen["vms.machine[a]"]
    assert observed.alive and "interrupted" in observed.drift[0]


def test_without_a_vagrantfile_libvirt_domains_are_looked_at(tmp_path):
    driver = VagrantDriver(DriverContext("st", "id", tmp_path))
    snap = Snapshot(machines=None, networks={}, domains={"bf-x-a": "running",
                                                          "bf-x-b": "shut off"})
    seen = MachineKind(driver).refresh([machine(n) for n in "abc"], RefreshView(snapshot=snap))
    assert [seen[f"vms.machine[{n}]"].alive for n in "abc"] == [True, True, False]
    assert seen["vms.machine[b]"].drift


def test_networks_gone_or_stopped(tmp_path):
    driver = VagrantDriver(DriverContext("st", "id", tmp_path))
    records = [Record(address=f"vms.network[{n}]", kind=NETWORK, provider="vms",
                      status=Status.READY, inputs={"name": n}) for n in ("up", "down", "gone")]
    snap = Snapshot(machines=None, networks={"up": True, "down": False}, domains=None)
    seen = NetworkKind(driver).refresh(records, RefreshView(snapshot=snap))
    assert seen["vms.network[up]"].alive and not seen["vms.network[up]"].drift
    assert seen["vms.network[down]"].drift == ("network down is stopped",)
    assert not seen["vms.network[gone]"].alive


@pytest.mark.skipif(shutil.which("VBoxManage") is not None, reason="VirtualBox is installed")
@pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed")
def test_virtualbox_is_refused_clearly_where_it_is_absent():
    with pytest.raises(PreflightError) as caught:
        check_host("virtualbox")
    assert "VirtualBox" in str(caught.value) and "libvirt" in caught.value.hint
