"""`Box`: the emulated testbed's machines, kept in step with the emulator's state.

After every API request (and every half second, for walltimes that end while nobody
asks) `reconcile` reads what the testbed says (running jobs, deployments, vlan
membership) and makes the hosts match: a node of a running job exists, a node whose
job ended stops answering, a finished deployment re-creates the node with the
deployment's key for root, a NIC whose vlan changed moves to that vlan's bridge.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bedform import machines

from ...distem import containers as distem_containers
from ...distem import daemon as distemd
from ..testbed import Testbed
from . import hosts, network, virsh
from .plan import BoxPlan, NodePlan, build
from .users import SUDO_KEY, write_shared_files

BOX_ROOT = Path("/run/bedform")
NETNS_ETC = Path("/etc/netns")  # files `ip netns exec` binds over /etc
RECONCILE_PERIOD = 0.5
CREATE_WORKERS = 4
FIRST_UID = 42001


@dataclass
class NodeSpec:
    """What the testbed says a node should be."""

    job: int
    user: str
    started: float
    deployment: str | None = None
    environment: str | None = None
    key: str | None = None
    vlans: dict[str, str] = field(default_factory=dict)  # NIC name -> vlan id
    subnets: tuple[str, ...] = ()  # the job's g5k-subnets, routed to its nodes

    @property
    def identity(self) -> tuple[int, str | None]:
        """A node is re-created when this changes (new job, new deployment)."""
        return (self.job, self.deployment)


@dataclass
class NodeHost:
    """A node that exists as a host."""

    plan: NodePlan
    netns: str
    spec: NodeSpec
    vlans: dict[str, str | None]  # NIC name -> vlan id its veth is in (None: no bridge)
    subnets: set[str] = field(default_factory=set)  # on-link routes on the primary NIC


class Box:
    """Network namespaces and sshds behind an access frontend, driven by a `Testbed`."""

    def __init__(self, testbed: Testbed, users: Iterable[str], *, box_id: str | None = None,
                 authorized_keys: Sequence[str] = (), sites: Iterable[str] | None = None,
                 root: Path = BOX_ROOT) -> None:
        self.testbed = testbed
        self.users = list(dict.fromkeys(users))
        self.box_id = box_id or secrets.token_hex(4)
        self.extra_keys = [k.strip() for k in authorized_keys if k.strip()]
        self.plan: BoxPlan = build(testbed.ref, self.box_id, sites)
        self.dir = root / f"{self.plan.ns_prefix}box"
        self.access: str | None = None
        self.nodes: dict[str, NodeHost] = {}
        self.last_error: str | None = None
        self._bridges: set[str] = set()
        self._subnet_routes: dict[str, str] = {}  # subnet -> prod bridge in the box
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.containers = distem_containers.DistemContainers(self)

    @property
    def broken(self) -> set[str]:
        """Nodes broken through the controls (the testbed fails their deployments)."""
        return self.testbed.broken

    # -- paths ---------------------------------------------------------------------------
    @property
    def key_dir(self) -> Path:
        """The users' private keys the box wrote (`<dir>/<user>`, `<user>.pub`)."""
        return self.dir / "keys"

    def user_key(self, user: str) -> Path:
        return self.key_dir / user

    def _shared(self) -> hosts.Shared:
        return hosts.Shared(etc=self.dir / "etc", home=self.dir / "home",
                            bin=self.dir / "bin", host_key=self.dir / "ssh_host_ed25519_key")

    def _files(self, netns: str) -> hosts.HostFiles:
        return hosts.HostFiles(self.dir / "hosts" / netns)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Box:
        """Purge what a killed box of the same id left, then build the box namespace,
        its bridges and the access frontend; reconcile in the background."""
        if os.geteuid() != 0:
            raise machines.MachineError(
                "the Grid'5000 box needs root (network namespaces, bridges, sshd)",
                hint="Run it as root, e.g. `sudo bedform emulate g5k --box`.")
        purge(self.box_id)
        self._stop.clear()
        try:
            self.dir.mkdir(parents=True, mode=0o755)
            os.chmod(self.dir, 0o755)
            shared = self._shared()
            machines.ensure_keypair(shared.host_key, f"g5kbox-{self.box_id}-host")
            user_keys = {u: [machines.ensure_keypair(self.user_key(u), f"{u}@g5kbox"),
                             *self.extra_keys] for u in self.users}
            hosts.create_namespaces(self.plan.box_netns, "access")
            link = network.access_link(self.box_id)
            self.access = network.create_box_network(self.plan, link)
            hosts_text = self.plan.hosts_file(self.access)
            write_shared_files(shared, hosts_text, user_keys,
                               first_uid=FIRST_UID, sudo_dir=self.dir / "sudo")
            virsh.install(shared.bin)  # libvirt's command on every node (VMonG5k)
            # Distem's daemon on every node, its containers made by this box
            distemd.install(shared.bin, self.containers.socket_path)
            self.containers.start()
            # `ip netns exec <box namespace> ssh <node>` resolves the testbed's names too
            machines.write_file(NETNS_ETC / self.plan.box_netns / "hosts", hosts_text, 0o644)
            files = self._files(self.plan.box_netns)
            hosts.prepare_files(files, root_keys=[], environment=None)
            hosts.start_sshd(self.plan.box_netns, files, shared, addresses=[self.access])
            if not hosts.wait_listening(self.plan.box_netns):
                raise machines.MachineError(
                    "the access frontend's sshd did not start",
                    hint=f"sshd log {files.log}:\n{machines.tail(files.log)}")
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(target=self._loop, name=f"g5kbox-{self.box_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, list]:
        """Tear everything down (idempotent); returns what was removed."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.containers.stop()
        with self._lock:
            self.nodes.clear()
            self._bridges.clear()
            self._subnet_routes.clear()
            return purge(self.box_id)

    def _loop(self) -> None:
        while not self._stop.wait(RECONCILE_PERIOD):
            self.reconcile()

    # -- reconcile -----------------------------------------------------------------------
    def desired(self) -> dict[str, NodeSpec]:
        """Nodes of running jobs, with their latest successful deployment and vlans."""
        tb = self.testbed
        out: dict[str, NodeSpec] = {}
        with tb.lock:
            tb.sync()
            for site in tb.sites.values():
                for job in site.active.values():
                    if job.state != "running" or job.alloc is None:
                        continue
                    for node in job.alloc.hosts:
                        if node in self.plan.nodes:
                            out[node] = NodeSpec(job.uid, job.user, job.started_at,
                                                 subnets=tuple(job.alloc.subnets))
                for dep in site.deployments.values():
                    if dep.status != "terminated" or not dep.result:
                        continue
                    for node, result in dep.result.items():
                        spec = out.get(node)
                        if spec and result["state"] == "OK" and dep.created_at >= spec.started:
                            spec.deployment, spec.environment = dep.uid, dep.environment
                            spec.key = dep.public_key
            for node, spec in out.items():
                plan = self.plan.nodes[node]
                vlan_of = tb.sites[plan.site].vlan_of
                for nic in plan.nics:
                    if nic.interface is not None:
                        spec.vlans[nic.name] = vlan_of.get(nic.interface, network.DEFAULT)
        return out

    def reconcile(self) -> None:
        """Make the hosts match the testbed; an error is kept in `last_error`, logged."""
        with self._lock:
            if self._stop.is_set():
                return
            try:
                self._reconcile(self.desired())
                self.last_error = None
            except (machines.MachineError, OSError) as exc:
                if str(exc) != self.last_error:  # said once, not every half second
                    print(f"g5kbox {self.box_id}: {exc}", file=sys.stderr, flush=True)
                self.last_error = str(exc)

    def _reconcile(self, desired: Mapping[str, NodeSpec]) -> None:
        for fqdn in [n for n in self.nodes if n not in desired]:
            self._remove(fqdn)
        fresh = []
        for fqdn, spec in desired.items():
            current = self.nodes.get(fqdn)
            if fqdn in self.broken or (current and current.spec.identity == spec.identity):
                continue
            if current is not None:
                self._remove(fqdn)
            fresh.append((self.plan.nodes[fqdn], spec))
        if fresh:  # node creation waits on processes: a few at once
            with ThreadPoolExecutor(CREATE_WORKERS, thread_name_prefix="g5kbox-node") as pool:
                for future in [pool.submit(self._create, node, spec) for node, spec in fresh]:
                    future.result()
        for fqdn, spec in desired.items():
            host = self.nodes.get(fqdn)
            if host is not None and fqdn not in self.broken:
                host.spec = spec
                self._place_nics(host)
                self._route_subnets(host)
        self._route_site_subnets(desired)

    def _route_subnets(self, host: NodeHost) -> None:
        """The job's subnets on-link on the node's primary NIC: VMs and containers of any
        node of the job reach each other with those addresses, as on the real testbed."""
        wanted = set(host.spec.subnets)
        if wanted != host.subnets:
            network.route_subnets(host.netns, host.plan.primary.name,
                                  add=wanted - host.subnets, remove=host.subnets - wanted)
            host.subnets = wanted

    def _route_site_subnets(self, desired: Mapping[str, NodeSpec]) -> None:
        """The same subnets on-link on the site's prod bridge, for the access frontend."""
        wanted = {subnet: self.plan.prod_bridges[self.plan.nodes[fqdn].site]
                  for fqdn, spec in desired.items() for subnet in spec.subnets}
        if wanted != self._subnet_routes:
            network.route_box_subnets(self.plan, wanted, self._subnet_routes)
            self._subnet_routes = wanted

    def _create(self, node: NodePlan, spec: NodeSpec) -> NodeHost:
        netns = self.plan.node_netns(node.fqdn)
        files = self._files(netns)
        hosts.remove(netns, files)  # a leftover of an interrupted creation
        hosts.create_namespaces(netns, node.uid)
        network.create_nics(self.plan, node, netns)
        if spec.deployment is not None:
            keys = [k for k in (spec.key or "").splitlines() if k.strip()]
        else:
            keys = [(self.dir / "sudo" / f"{SUDO_KEY}.pub").read_text()]
        hosts.prepare_files(files, root_keys=keys, environment=spec.environment)
        # as OAR does, only the job's owner (and root) may log in to the node
        hosts.start_sshd(netns, files, self._shared(), allow_users=["root", spec.user])
        if not hosts.wait_listening(netns):
            log = machines.tail(files.log)
            hosts.remove(netns, files)  # the next reconcile tries again
            raise machines.MachineError(f"the sshd of {node.fqdn} did not start", hint=log)
        host = NodeHost(node, netns, spec,
                        {nic.name: (network.DEFAULT if nic.primary else None)
                         for nic in node.nics})
        self.nodes[node.fqdn] = host
        return host

    def _place_nics(self, host: NodeHost) -> None:
        for nic in host.plan.nics:
            default = network.DEFAULT if nic.primary else None
            want = host.spec.vlans.get(nic.name, default)
            if want == network.DEFAULT and not nic.primary:
                want = None
            if host.vlans.get(nic.name) == want:
                continue
            if want is None:
                bridge = None
            elif want == network.DEFAULT:
                bridge = self.plan.prod_bridges[host.plan.site]
            else:
                vlan = self.plan.vlan(host.plan.site, want)
                if vlan is None:
                    continue
                network.ensure_vlan(self.plan, vlan, self.dir, self._bridges)
                bridge = vlan.bridge
            network.attach(self.plan, nic.veth, bridge)
            if nic.primary:
                network.readdress_primary(self.plan, host.plan, host.netns, want or "")
                host.subnets = set()  # flushing the NIC's addresses dropped its routes
            host.vlans[nic.name] = want

    def _remove(self, fqdn: str) -> None:
        self.containers.drop_node(fqdn)
        host = self.nodes.pop(fqdn, None)
        netns = host.netns if host else self.plan.node_netns(fqdn)
        hosts.remove(netns, self._files(netns))

    # -- controls ------------------------------------------------------------------------
    def break_node(self, fqdn: str) -> None:
        """The node stops answering (its sshd and sessions die) and fails deployments
        until `repair_node`."""
        if fqdn not in self.plan.nodes:
            raise KeyError(fqdn)
        with self._lock:
            self.testbed.broken.add(fqdn)
            host = self.nodes.get(fqdn)
            if host is not None:
                hosts.stop_processes(host.netns)

    def repair_node(self, fqdn: str) -> None:
        """Undo `break_node`: the node comes back on the next reconcile (re-created)."""
        with self._lock:
            self.testbed.broken.discard(fqdn)
            if fqdn in self.nodes:
                self._remove(fqdn)
        self.reconcile()

    def view(self) -> dict[str, Any]:
        """JSON view: the access frontend, every node host and its state."""
        with self._lock:
            nodes = [{
                "name": fqdn, "netns": host.netns, "job": host.spec.job,
                "user": host.spec.user, "deployment": host.spec.deployment,
                "environment": host.spec.environment,
                "nics": {nic: vid for nic, vid in host.vlans.items()},
                "broken": fqdn in self.broken,
            } for fqdn, host in sorted(self.nodes.items())]
            return {"box_id": self.box_id, "access": self.access,
                    "netns": self.plan.box_netns, "key_dir": str(self.key_dir),
                    "broken": sorted(self.broken), "last_error": self.last_error,
                    "hosts": nodes}


def purge(box_id: str) -> dict[str, list]:
    """Remove every namespace, interface, process and file of box `box_id` (a box killed
    with SIGKILL included)."""
    prefix = f"g5kbox-{box_id}-"
    found = machines.purge(prefix, f"gb{box_id}", hosts.UTS_DIR)
    directories = [BOX_ROOT / f"{prefix}box",
                   *(NETNS_ETC / name for name in machines.listdir(NETNS_ETC)
                     if name.startswith(prefix))]
    found["files"] = [str(d) for d in directories if d.exists()]
    for directory in directories:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(directory)
    return found
