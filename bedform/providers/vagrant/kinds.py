"""The vagrant provider's kinds: the Vagrantfile, isolated libvirt networks, VMs.

One refresh costs one `vagrant status --machine-readable` (every VM) and one
`virsh net-list` (every network), shared through the driver's snapshot. `vagrant up`
runs only for VMs that are not running, in one batch per backend so vagrant-libvirt
boots them in parallel; a VM halted outside is booted again in place, a VM destroyed
outside is created again, each alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.vagrant import libvirt
from bedform.providers.vagrant.client import RUNNING
from bedform.providers.vagrant.vagrantfile import MACHINES_DIR, digest
from bedform.state.model import Record

if TYPE_CHECKING:
    from bedform.providers.vagrant.driver import VagrantDriver  # noqa: F401 - in a string

FILE = "vagrant_file"
NETWORK = "vagrant_network"
MACHINE = "vagrant_machine"
HALTED = frozenset({"poweroff", "shutoff", "aborted", "saved", "paused", "suspended"})


@attrs.frozen
class Snapshot:
    """One look at vagrant and libvirt, shared by every kind's refresh."""

    machines: Mapping[str, str] | None
    """VM name -> vagrant state; None when there is no Vagrantfile to ask about."""
    networks: Mapping[str, bool]
    domains: Mapping[str, str] | None
    """Only read when there is no Vagrantfile: domain name -> libvirt state."""


def _info(record: Record) -> dict[str, Any]:
    return {**record.attributes, **record.inputs, **record.identity}


class FileKind(KindHandler["VagrantDriver"]):
    """The rendered Vagrantfile, in the instance's state directory."""

    spec = KindSpec(FILE, updatable={"content", "digest"}, repairs_drift=True,
                    description="the Vagrantfile rendered from the configuration")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        out = {}
        for record in records:
            path = Path(_info(record)["path"])
            if not path.exists():
                out[record.address] = Observed(alive=False, reason=f"{path} is gone")
                continue
            drift = []
            if digest(path.read_text()) != record.inputs.get("digest"):
                drift.append(f"{path} was edited outside bedform")
            out[record.address] = Observed(alive=True, drift=drift,
                                           attributes={"path": str(path)})
        return out

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        path = Path(resource.inputs["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(resource.inputs["content"])
        os.replace(temporary, path)
        self.driver.write_machine_files()
        return {"path": str(path), "digest": resource.inputs["digest"]}

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        return self.create(resource, ctx)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        path = Path(_info(record)["path"])
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        shutil.rmtree(path.parent / ".vagrant", ignore_errors=True)
        shutil.rmtree(path.parent / MACHINES_DIR, ignore_errors=True)


class NetworkKind(KindHandler["VagrantDriver"]):
    """An isolated libvirt network (no forward, no DNS, no gateway handed out)."""

    spec = KindSpec(NETWORK, repairs_drift=True,
                    description="isolated libvirt network for one cidr")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        present = view.snapshot.networks
        out = {}
        for record in records:
            name = _info(record)["name"]
            if name not in present:
                out[record.address] = Observed(alive=False, reason=f"network {name} is gone")
            else:
                drift = [] if present[name] else [f"network {name} is stopped"]
                out[record.address] = Observed(alive=True, drift=drift,
                                               attributes={"name": name})
        return out

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        xml = libvirt.network_xml(inputs["name"], inputs["bridge"], inputs["cidr"],
                                  dhcp=bool(inputs["dhcp"]))
        libvirt.ensure_network(inputs["name"], xml)
        return {"name": inputs["name"], "bridge": inputs["bridge"]}

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        return self.create(resource, ctx)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        libvirt.delete_network(_info(record)["name"])


class MachineKind(KindHandler["VagrantDriver"]):
    """One VM: `vagrant up` when not running, `vagrant destroy -f` to delete."""

    spec = KindSpec(MACHINE, deploy=True, repairs_drift=True,
                    update_changes={"hostname", "port", "keyfile"},
                    description="a Vagrant VM")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        snap: Snapshot = view.snapshot
        out = {}
        for record in records:
            info = _info(record)
            name, domain = info["name"], info["domain"]
            if snap.machines is not None:
                state = snap.machines.get(name, "not_created")
            else:
                state = _vagrant_state(snap.domains.get(domain) if snap.domains else None)
            if state in HALTED | {RUNNING} and "hostname" not in record.attributes:
                # left by an interrupted apply: alive (destroy deletes it), and apply
                # makes it again from scratch, in one batch with the others
                self.driver.mark_incomplete(name)
                out[record.address] = Observed(
                    alive=True, attributes=dict(record.attributes),
                    drift=[f"VM {name} ({state}) was left incomplete by an interrupted run"])
            elif state == RUNNING:
                out[record.address] = Observed(alive=True, attributes=dict(record.attributes))
            elif state in HALTED:
                out[record.address] = Observed(
                    alive=True, attributes=dict(record.attributes),
                    drift=[f"VM {name} is {state} (stopped outside bedform)"])
            else:
                out[record.address] = Observed(alive=False,
                                               reason=f"VM {name} is {state.replace('_', ' ')}")
        return out

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        if ctx.existing is not None and "hostname" not in ctx.existing:
            self.driver.mark_incomplete(resource.inputs["name"])   # adopted from a killed run
        return self._make(resource, ctx, fresh=ctx.existing is None)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        if "hostname" not in record.attributes:
            self.driver.mark_incomplete(resource.inputs["name"])
        return self._make(resource, ctx, fresh=False)

    def _make(self, resource: Resource, ctx: ApplyContext, fresh: bool) -> dict[str, Any]:
        inputs = resource.inputs
        ctx.checkpoint({"name": inputs["name"], "domain": inputs["domain"]})
        self.driver.bring_up(inputs["name"], inputs["backend"], ctx, fresh=fresh)
        return self.driver.read_machine(inputs)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        info = _info(record)
        self.driver.take_down(info["name"], info["domain"], ctx)


def _vagrant_state(libvirt_state: str | None) -> str:
    """The vagrant state matching a libvirt domain state."""
    if libvirt_state is None:
        return "not_created"
    return RUNNING if libvirt_state == "running" else "poweroff"
