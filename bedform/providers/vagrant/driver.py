"""The `vagrant` driver: real VMs through python-vagrant and vagrant-libvirt, offline.

Resource kinds (addresses for provider instance `vms`):

| address                          | kind            | what                                   |
|----------------------------------|-----------------|----------------------------------------|
| `vms.vagrantfile[main]`          | vagrant_file    | the Vagrantfile, in the state directory |
| `vms.network[management]`        | vagrant_network | isolated management network (DHCP)      |
| `vms.network[<cidr>]`            | vagrant_network | isolated private network per cidr       |
| `vms.machine[<vm>]`              | vagrant_machine | one VM                                  |

Machines depend on the Vagrantfile and the networks. The Vagrantfile's content digest is
an input (a change shows in the plan); a VM's size, box and addresses are its inputs, so a
changed flavour replaces only that VM. Each VM's definition is its own file
(`machines/<vm>.rb`, rendered from those inputs, written before its `vagrant up` and
removed with it), so adding a VM leaves the Vagrantfile as it was. libvirt names carry
a digest of the stack id and the instance: domains `bf-<id>-<vm>`, networks
`bf-<id>-<label>`, bridges `bfv<id>...`.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from bedform.errors import PreflightError, ProviderError
from bedform.providers.base import ApplyContext, Capabilities, DriverContext, Resource
from bedform.providers.kinds import KindDriver
from bedform.providers.vagrant import client, libvirt
from bedform.providers.vagrant.config import DEFAULT_BOX, SCHEMA, VagrantConf
from bedform.providers.vagrant.kinds import (
    FILE,
    MACHINE,
    NETWORK,
    FileKind,
    MachineKind,
    NetworkKind,
    Snapshot,
)
from bedform.providers.vagrant.vagrantfile import MACHINES_DIR, Names, digest, machine, render
from bedform.state.model import Record, Status

BASE_VOLUME_MARK = "_vagrant_box_image_"
"""Part of the name of the pool volume vagrant-libvirt uploads a box into."""


class VagrantDriver(KindDriver):
    """Driver of the `vagrant` provider (see the module docstring)."""

    type_name: ClassVar[str] = "vagrant"
    handlers = (FileKind, NetworkKind, MachineKind)
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.up_timeout = float(context.options.get("up_timeout", client.UP_TIMEOUT))
        self._conf: VagrantConf | None = None
        self._instance = ""
        self._lock = threading.Lock()
        self._incomplete: set[str] = set()
        self._made: set[str] = set()
        """VMs a `vagrant up` of this process brought up."""
        self._complete: set[str] | None = None
        """VMs the state records as made to the end (from the refresh); None before a
        refresh."""

    # -- configuration ------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        return copy.deepcopy(SCHEMA)

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> VagrantConf:
        """Validate a section (a `type` key is ignored); ConfigError paths are relative
        to the section."""
        return VagrantConf.from_dictionary({k: v for k, v in dict(section).items()
                                            if k != "type"})

    def _as_conf(self, conf: Any) -> VagrantConf:
        self._conf = conf if isinstance(conf, VagrantConf) else self.load_config(conf)
        return self._conf

    def preflight(self, conf: Any = None) -> None:
        """vagrant, the backend (vagrant-libvirt + libvirt, or VirtualBox) and the boxes.

        Only files are looked at (no `vagrant` subprocess): a reload stays cheap."""
        if conf is not None:
            self._as_conf(conf)
        if self._conf is None:
            return
        for backend in sorted({vm.backend for vm in self._conf.vms()}):
            client.check_host(backend)
        missing = sorted({vm.box for vm in self._conf.vms()
                          if vm.backend == "libvirt" and not box_added(vm.box)})
        if missing:
            fix = (f"Build it offline: `{client.BOX_BUILD}`." if missing == [DEFAULT_BOX]
                   else "This machine cannot download boxes: add it with `vagrant box add "
                        f"<name> <file.box>`, or use the offline box {DEFAULT_BOX} "
                        f"(`{client.BOX_BUILD}`).")
            raise PreflightError(f"the Vagrant box {', '.join(missing)} (libvirt) is not "
                                 "added to vagrant on this machine", hint=fix)

    # -- names ----------------------------------------------------------------------------
    def names(self, instance: str, conf: VagrantConf) -> Names:
        sid = hashlib.sha256(f"{self.context.stack_id}/{instance}".encode()).hexdigest()[:6]
        return Names(domain_prefix=f"bf-{sid}-",
                     management_network=f"bf-{sid}-mgmt",
                     networks={n.cidr: f"bf-{sid}-{_label(n.cidr)}" for n in conf.networks})

    @staticmethod
    def bridge(network_name: str) -> str:
        """A bridge name within the kernel's 15 characters, derived from the network's."""
        return "bfv" + hashlib.sha256(network_name.encode()).hexdigest()[:10]

    def files_dir(self) -> Path:
        return Path(self.context.state_dir)

    def write_machine_files(self, only: Sequence[str] | None = None) -> None:
        """Write `machines/<vm>.rb` of every VM of the configuration (or of `only`)."""
        if self._conf is None:
            return
        names = self.names(self._instance, self._conf)
        folder = self.files_dir() / MACHINES_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for vm in self._conf.vms():
            if only is None or vm.name in only:
                path = folder / f"{vm.name}.rb"
                temporary = path.with_name(path.name + ".tmp")
                temporary.write_text(machine(vm, names))
                os.replace(temporary, path)

    def remove_machine_file(self, name: str) -> None:
        (self.files_dir() / MACHINES_DIR / f"{name}.rb").unlink(missing_ok=True)

    def vagrant(self, backend: str = "libvirt") -> client.VagrantClient:
        return client.VagrantClient(self.files_dir(), backend, up_timeout=self.up_timeout)

    # -- desired resources ----------------------------------------------------------------
    def expand(self, name: str, conf: Any,
               records: Mapping[str, Record] | Sequence[Record] | None = None
               ) -> list[Resource]:
        conf = self._as_conf(conf)
        self._instance = name
        names = self.names(name, conf)
        text = render(conf, names, header=f"stack {self.context.stack_name}, provider {name}")
        file_address = f"{name}.vagrantfile[main]"
        path = str(self.files_dir() / "Vagrantfile")
        out = [Resource(address=file_address, kind=FILE, provider=name,
                        inputs={"path": path, "content": text, "digest": digest(text)},
                        identity={"path": path})]
        networks = [("management", names.management_network, conf.management_cidr, True)]
        networks += [(n.cidr, names.networks[n.cidr], n.cidr, False) for n in conf.networks]
        network_addresses = []
        for label, net_name, cidr, dhcp in networks:
            address = f"{name}.network[{label}]"
            network_addresses.append(address)
            out.append(Resource(address=address, kind=NETWORK, provider=name,
                                inputs={"name": net_name, "bridge": self.bridge(net_name),
                                        "cidr": cidr, "dhcp": dhcp},
                                identity={"name": net_name}))
        for vm in conf.vms():
            out.append(Resource(
                address=f"{name}.machine[{vm.name}]", kind=MACHINE, provider=name,
                inputs={"name": vm.name, "domain": names.domain_prefix + vm.name,
                        "backend": vm.backend, "box": vm.box, "cores": vm.cores,
                        "memory": vm.memory, "user": vm.user,
                        "addresses": [list(pair) for pair in vm.addresses],
                        "config_extra_vm": vm.config_extra_vm},
                depends_on=(file_address, *network_addresses),
                identity={"domain": names.domain_prefix + vm.name}))
        return out

    # -- refresh --------------------------------------------------------------------------
    def snapshot(self, records: Sequence[Record]) -> Snapshot:
        """One `vagrant status` when there are VMs, one `virsh net-list` for networks."""
        kinds = {record.kind for record in records}
        self._complete = {_info_name(r) for r in records if r.kind == MACHINE
                          and r.status == Status.READY and "hostname" in r.attributes}
        machines = domains = None
        if MACHINE in kinds:
            if (self.files_dir() / "Vagrantfile").exists():
                # a `vagrant up` left by a dead run holds its VMs' locks (status would
                # wait) and its work can never be recorded: it is stopped first, and the
                # VMs it was making are made again (MachineKind)
                self.vagrant().stop_orphans()
                machines = self.vagrant().status()
            else:
                domains = libvirt.domains()
        networks = libvirt.networks() if NETWORK in kinds else {}
        return Snapshot(machines=machines, networks=networks, domains=domains)

    # -- VMs ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, what: str) -> Iterator[None]:
        """One vagrant command of this instance at a time (bounded wait)."""
        if not self._lock.acquire(timeout=self.up_timeout + 60):
            raise ProviderError(f"waited {self.up_timeout + 60:g} s for another vagrant "
                                f"command of this stack before {what}")
        try:
            yield
        finally:
            self._lock.release()

    def mark_incomplete(self, name: str) -> None:
        """VM `name` was left by an interrupted run (its set-up may have stopped anywhere:
        key, hostname, private addresses, provisioner): the next `bring_up` destroys it
        and brings it up again from scratch, in the batch of the other VMs."""
        self._incomplete.add(name)

    def bring_up(self, name: str, backend: str, ctx: ApplyContext, fresh: bool = False
                 ) -> None:
        """Make VM `name` run. When it does not, every VM of the configuration that is not
        running either, or is incomplete (all of them are planned for this apply), is
        brought up with it in one `vagrant up`, so vagrant-libvirt boots them in
        parallel. `fresh`: the VM has no record; if vagrant has it all the same, a killed
        run's batch made it, and it is incomplete."""
        if backend == "virtualbox":
            client.check_host(backend)
        with self._locked(f"bringing up {name}"):
            vagrant = self.vagrant(backend)
            self._stop_orphans(vagrant, ctx)
            states = vagrant.status()
            self._mark_unrecorded(name, fresh, states)
            if states.get(name) == client.RUNNING and name not in self._incomplete:
                ctx.progress(f"VM {name} is running (brought up with another VM)")
                return
            batch = [vm.name for vm in (self._conf.vms() if self._conf else [])
                     if vm.backend == backend and (states.get(vm.name) != client.RUNNING
                                                   or vm.name in self._incomplete)]
            batch = batch if name in batch else [name]
            self.write_machine_files(batch)
            prefix = self._domain_prefix()
            for vm in batch:
                if vm in self._incomplete:
                    ctx.progress(f"VM {vm} was left incomplete by an interrupted run: "
                                 "destroyed, then brought up again")
                    self._destroy(vm, prefix + vm, states, ctx)
                    states = {**states, vm: "not_created"}
            if backend == "libvirt":
                self._remove_unknown_domains(batch, states, ctx)
            before = self._before_upload() if backend == "libvirt" else set()
            ctx.progress(f"vagrant up {' '.join(batch)} (QEMU TCG: minutes; bounded by "
                         f"{self.up_timeout:g} s)")
            try:
                vagrant.up(batch, backend, progress=ctx.progress)
            finally:
                if backend == "libvirt":
                    self._remember_base_volumes(set(libvirt.volumes()) - before)
            self._incomplete.difference_update(batch)
            self._made.update(batch)

    def _mark_unrecorded(self, name: str, fresh: bool, states: Mapping[str, str]) -> None:
        """VMs vagrant has but no record knows as complete, not made by this run: left by
        a killed run's `vagrant up` batch (whatever their records say), incomplete. Every
        such VM of the configuration when the refresh saw the records, else `name` alone
        when it is `fresh`."""
        if self._complete is None:
            candidates = [name] if fresh else []
        else:
            candidates = [vm.name for vm in (self._conf.vms() if self._conf else [])
                          if vm.name not in self._complete]
        for vm in candidates:
            if states.get(vm, "not_created") != "not_created" and vm not in self._made:
                self.mark_incomplete(vm)

    def _domain_prefix(self) -> str:
        return self.names(self._instance, self._conf).domain_prefix if self._conf else ""

    @staticmethod
    def _stop_orphans(vagrant: client.VagrantClient, ctx: ApplyContext) -> None:
        for pgid in vagrant.stop_orphans():
            ctx.progress(f"stopped vagrant process group {pgid}, left running by an "
                         "interrupted run")

    def _remove_unknown_domains(self, batch: Sequence[str], states: Mapping[str, str],
                                ctx: ApplyContext) -> None:
        """Domains and disks of VMs vagrant does not know (a `vagrant up` killed between
        creating them and recording the domain): removed, so the `vagrant up` that
        follows creates each domain once instead of failing on a name."""
        prefix = self._domain_prefix()
        present = libvirt.domains()
        volumes = libvirt.volumes()
        for name in batch:
            if states.get(name, "not_created") != "not_created":
                continue
            domain = prefix + name
            if domain in present:
                ctx.progress(f"removing libvirt domain {domain}, which an interrupted "
                             "`vagrant up` left unrecorded")
                libvirt.delete_domain(domain)
            for volume in volumes:
                if volume == f"{domain}.img" or re.fullmatch(
                        re.escape(domain) + r"-vd[a-z]+\.qcow2", volume):
                    ctx.progress(f"removing volume {volume}, which an interrupted "
                                 "`vagrant up` left")
                    libvirt.delete_volume(volume)

    def read_machine(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Attributes of a running VM, from `vagrant ssh-config <name>`."""
        name = inputs["name"]
        with self._locked(f"reading the ssh-config of {name}"):   # vagrant locks the VM
            _, conf = self.vagrant(inputs["backend"]).ssh_config(name)
        return {"name": name, "domain": inputs["domain"], "hostname": conf["HostName"],
                "port": int(conf.get("Port", 22)), "keyfile": conf["IdentityFile"],
                "vagrant_user": conf.get("User", "vagrant"),
                "addresses": [address for _, address in inputs["addresses"]]}

    def take_down(self, name: str, domain: str, ctx: ApplyContext) -> None:
        """`vagrant destroy -f <name>`, then whatever libvirt still holds of the domain
        (a VM no longer in the Vagrantfile is removed through libvirt alone), then the
        base-box volume when nothing uses it any more."""
        with self._locked(f"destroying {name}"):
            vagrant = self.vagrant()
            self._stop_orphans(vagrant, ctx)
            states = vagrant.status() if (self.files_dir() / "Vagrantfile").exists() else {}
            self._destroy(name, domain, states, ctx)
            self.remove_machine_file(name)
            self._release_base_volumes()

    def _destroy(self, name: str, domain: str, states: Mapping[str, str],
                 ctx: ApplyContext) -> None:
        if name in states:
            ctx.progress(f"vagrant destroy -f {name}")
            self.vagrant().destroy(name)
        if libvirt.delete_domain(domain):
            ctx.progress(f"removed libvirt domain {domain} left behind")

    # -- base box volumes: vagrant-libvirt uploads a box into the pool once per machine;
    # every bedform stack records the uploads it made in one machine-wide file (VAGRANT_HOME/
    # bedform-base-volumes.json, under flock), and the destroy of any stack removes those
    # no domain's disk is backed by any more. Write-ahead: the pool's volumes before an
    # `up` are kept in base-volumes.pending.json until that `up` ends, so a base volume an
    # `up` killed by SIGKILL uploaded is counted too.
    def _pending_file(self) -> Path:
        return self.files_dir() / "base-volumes.pending.json"

    @staticmethod
    @contextlib.contextmanager
    def _base_volumes() -> Iterator[set[str]]:
        """The machine-wide set of base volumes bedform uploaded, locked, saved on exit."""
        path = client.vagrant_home() / "bedform-base-volumes.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            known = set(json.loads(path.read_text())) if path.exists() else set()
            before = set(known)
            yield known
            if known != before:
                temporary = path.with_suffix(".tmp")
                temporary.write_text(json.dumps(sorted(known)))
                os.replace(temporary, path)

    def _before_upload(self) -> set[str]:
        """The pool's volumes now, written ahead of an `up` that may upload a base box."""
        self._settle_pending()
        before = set(libvirt.volumes())
        self._pending_file().write_text(json.dumps(sorted(before)))
        return before

    def _settle_pending(self) -> None:
        """Count the base volumes that appeared since an `up` killed midway."""
        pending = self._pending_file()
        if pending.exists():
            before = set(json.loads(pending.read_text()))
            self._remember_base_volumes(set(libvirt.volumes()) - before)

    def _remember_base_volumes(self, new: set[str]) -> None:
        uploaded = {v for v in new if BASE_VOLUME_MARK in v}
        if uploaded:
            with self._base_volumes() as known:
                known |= uploaded
        self._pending_file().unlink(missing_ok=True)

    def _release_base_volumes(self) -> None:
        self._settle_pending()
        with self._base_volumes() as known:
            present = set(libvirt.volumes())
            known &= present
            if not known:
                return
            used = libvirt.backing_files()
            for volume in sorted(known - used):
                libvirt.delete_volume(volume)
                known.discard(volume)

    # -- inventory ------------------------------------------------------------------------
    def inventory(self, name: str, conf: Any, records: Mapping[str, Record]) -> tuple[Any, Any]:
        from bedform.objects import DefaultNetwork, Host, Networks, Roles

        conf = self._as_conf(conf)
        roles, networks = Roles(), Networks()
        options = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   "-o IdentitiesOnly=yes")
        for vm in conf.vms():
            record = records.get(f"{name}.machine[{vm.name}]")
            if record is None or record.status != Status.READY or \
                    "hostname" not in record.attributes:
                continue
            attributes = record.attributes
            host = Host(attributes["hostname"], alias=vm.name, user=vm.user,
                        keyfile=attributes["keyfile"], port=attributes.get("port"),
                        extra={"ansible_ssh_common_args": options,
                               "private_addresses": list(attributes.get("addresses", []))})
            roles.add_one(host, list(vm.roles))
        for net in conf.networks:
            network = net.network
            entry = DefaultNetwork(address=net.cidr, gateway=None, dns=None,
                                   ip_start=str(network.network_address + 10),
                                   ip_end=str(network.broadcast_address - 10))
            networks.add_one(entry, list(net.roles))
        return roles, networks


def box_added(box: str) -> bool:
    """Whether `box` is added to vagrant for libvirt (a look at VAGRANT_HOME's files)."""
    folder = client.vagrant_home() / "boxes" / box.replace("/", "-VAGRANTSLASH-")
    return any(folder.glob("*/libvirt/metadata.json"))


def _info_name(record: Record) -> str:
    return str({**record.identity, **record.inputs, **record.attributes}.get("name", ""))


def _label(cidr: str) -> str:
    return cidr.replace(".", "-").replace("/", "-")
