"""`IotlabBox`: the emulated IoT-LAB's frontends and boards as real hosts, kept in step
with the testbed.

The testbed tells the box about launches, ends and node commands (its `listeners`);
the box then reconciles in its own thread (also every half second, for walltimes that
end while nobody asks): a Linux board of a running experiment is an SSH host, root
accepting its user's keys; a firmware board of a running, powered experiment has a
console (ports 20000 and 30000) whose counter restarts when it is launched, flashed or
reset; each experiment gets `~/.iot-lab/<id>/` on the frontends of its sites.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bedform import machines
from bedform.machines import netlink

from ...g5k.box import hosts
from ...g5k.box.network import access_link
from ...g5k.box.users import write_accounts
from ..testbed import Testbed
from .plan import FRONT_BRIDGE, UPLINK, BoxPlan, build

BOX_ROOT = Path("/run/bedform")
FRONT_RANGE = ipaddress.IPv4Network("198.18.0.0/16")
RECONCILE_PERIOD = 0.5
FIRST_UID = 43001
EXPERIMENT_DIRS = ("log", "sniffer", "consumption", "radio", "event")
HERE = Path(__file__).parent


class IotlabBox:
    """Site frontends, board consoles and Linux boards, driven by a `Testbed`."""

    def __init__(self, testbed: Testbed, users: Iterable[str], *, box_id: str | None = None,
                 authorized_keys: Sequence[str] = (), sites: Iterable[str] | None = None,
                 root: Path = BOX_ROOT) -> None:
        self.testbed = testbed
        self.users = list(dict.fromkeys(users))
        self.box_id = box_id or secrets.token_hex(4)
        self.extra_keys = [k.strip() for k in authorized_keys if k.strip()]
        self.plan: BoxPlan = build(testbed.inventory, self.box_id,
                                   list(sites) if sites is not None else None)
        self.dir = root / f"{self.plan.ns_prefix}box"
        self.frontends: dict[str, str] = {}  # site -> address reachable from this machine
        self.nodes: dict[str, tuple[int, str]] = {}  # Linux board -> (experiment, user)
        self.consoles: dict[str, tuple[tuple[Any, ...], float]] = {}  # board -> (key, since)
        self.experiments: set[int] = set()
        self.last_error: str | None = None
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- paths ---------------------------------------------------------------------------
    @property
    def key_dir(self) -> Path:
        """The users' private keys the box wrote (`<dir>/<user>`, `<user>.pub`)."""
        return self.dir / "keys"

    def user_key(self, user: str) -> Path:
        return self.key_dir / user

    def home(self, site: str, user: str) -> Path:
        """`user`'s home directory on the frontend of `site`, seen from this machine."""
        return self.dir / "home" / site / user

    def _shared(self, site: str) -> hosts.Shared:
        return hosts.Shared(etc=self.dir / "etc", home=self.dir / "home" / site,
                            bin=self.dir / "bin", host_key=self.dir / "ssh_host_ed25519_key")

    def _files(self, netns: str) -> hosts.HostFiles:
        return hosts.HostFiles(self.dir / "hosts" / netns)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> IotlabBox:
        """Purge what a killed box of the same id left, build the networks, frontends and
        consoles, then follow the testbed in the background."""
        if os.geteuid() != 0:
            raise machines.MachineError(
                "the IoT-LAB box needs root (network namespaces, sshd)",
                hint="Run it as root, e.g. `sudo bedform emulate iotlab --box`.")
        purge(self.box_id)
        self._stop.clear()
        try:
            self._build()
        except BaseException:
            self.stop()
            raise
        self.testbed.listeners.append(self._on_event)
        self._thread = threading.Thread(target=self._loop, name=f"iotbox-{self.box_id}",
                                        daemon=True)
        self._thread.start()
        self.reconcile()
        return self

    def _build(self) -> None:
        plan = self.plan
        self.dir.mkdir(parents=True, mode=0o755)
        os.chmod(self.dir, 0o755)
        (self.dir / "experiments").mkdir(mode=0o755)
        machines.ensure_keypair(self.dir / "ssh_host_ed25519_key", f"iotbox-{self.box_id}")
        user_keys = {u: [machines.ensure_keypair(self.user_key(u), f"{u}@iotbox"),
                         *self.extra_keys] for u in self.users}
        hosts.create_namespaces(plan.box_netns, "box")
        link = access_link(self.box_id, FRONT_RANGE, 24)
        addresses = list(link.hosts())
        machines.ip_batch([
            f"link add {plan.root_link} type veth peer name {UPLINK} netns {plan.box_netns}",
            f"addr add {addresses[0]}/{link.prefixlen} dev {plan.root_link}",
            f"link set {plan.root_link} up"], what="creating the box's link")
        box = [f"link add {FRONT_BRIDGE} type bridge", f"link set {FRONT_BRIDGE} up",
               f"link set {UPLINK} master {FRONT_BRIDGE}", f"link set {UPLINK} up"]
        for site in plan.sites.values():
            self.frontends[site.name] = str(addresses[1 + site.index])
            hosts.create_namespaces(plan.frontend_netns(site.name), site.name)
            hosts.create_namespaces(plan.console_netns(site.name), f"serial-{site.name}")
            box += [f"link add {site.bridge} type bridge", f"link set {site.bridge} up",
                    f"link add f{site.index}a type veth peer name eth0 netns "
                    f"{plan.frontend_netns(site.name)}",
                    f"link add f{site.index}b type veth peer name eth1 netns "
                    f"{plan.frontend_netns(site.name)}",
                    f"link add c{site.index} type veth peer name eth0 netns "
                    f"{plan.console_netns(site.name)}",
                    f"link set f{site.index}a master {FRONT_BRIDGE}",
                    f"link set f{site.index}b master {site.bridge}",
                    f"link set c{site.index} master {site.bridge}",
                    *(f"link set {name} up" for name in
                      (f"f{site.index}a", f"f{site.index}b", f"c{site.index}"))]
        machines.ip_batch(box, netns=plan.box_netns, what="creating the box's bridges")
        for site in plan.sites.values():
            machines.ip_batch([
                f"addr add {self.frontends[site.name]}/{link.prefixlen} dev eth0",
                f"addr add {site.inside} dev eth1", "link set eth0 up", "link set eth1 up"],
                netns=plan.frontend_netns(site.name), what=f"addressing {site.frontend}")
            machines.ip_batch(["link set eth0 up", *(
                f"addr add {board.address} dev eth0" for board in plan.boards.values()
                if board.site == site.name and not board.linux)],
                netns=plan.console_netns(site.name), what=f"addressing {site.name}'s consoles")
            self._start_console(site.name)
        shared = self._shared(next(iter(plan.sites)))
        write_accounts(shared, plan.hosts_file(self.frontends), user_keys,
                       first_uid=FIRST_UID, label="IoT-LAB box",
                       homes=[self.dir / "home" / site for site in plan.sites])
        self._install_tools(shared.bin)
        for name in plan.sites:
            netns = plan.frontend_netns(name)
            files = self._files(netns)
            hosts.prepare_files(files, root_keys=[], environment=None)
            hosts.start_sshd(netns, files, self._shared(name), allow_users=self.users)
            if not hosts.wait_listening(netns):
                raise machines.MachineError(f"the sshd of {name}.iot-lab.info did not start",
                                            hint=machines.tail(files.log))

    def _install_tools(self, directory: Path) -> None:
        text = (HERE / "aggregators.py").read_text().replace(
            'BOX_DIR = ""', f"BOX_DIR = {str(self.dir)!r}", 1)
        for name in ("serial_aggregator", "sniffer_aggregator"):
            program = directory / name
            program.write_text("#!/usr/bin/python3\n" + text)
            os.chmod(program, 0o755)

    def _start_console(self, site: str) -> None:
        state = self.dir / "consoles" / f"{site}.json"
        machines.write_file(state, json.dumps({"boards": {}}), 0o644)
        log = state.with_suffix(".log")
        with open(log, "ab") as output:
            subprocess.Popen(
                [machines.which("ip") or "ip", "netns", "exec", self.plan.console_netns(site),
                 sys.executable, str(HERE / "console.py"), str(state)],
                stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                start_new_session=True)

    def stop(self) -> dict[str, list]:
        """Tear everything down (idempotent); returns what was removed."""
        self._stop.set()
        self._wake.set()
        with contextlib.suppress(ValueError):
            self.testbed.listeners.remove(self._on_event)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            self.nodes.clear()
            self.consoles.clear()
            self.experiments.clear()
            return purge(self.box_id)

    def _on_event(self, event: str, exp_id: int, boards: list[str]) -> None:
        self._wake.set()  # called under the testbed lock: reconcile in the box's thread

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(RECONCILE_PERIOD)
            self._wake.clear()
            self.reconcile()

    # -- reconcile -----------------------------------------------------------------------
    def reconcile(self) -> None:
        """Make the hosts match the testbed; an error is kept in `last_error`, logged."""
        with self._lock:
            if self._stop.is_set():
                return
            try:
                self._reconcile()
                self.last_error = None
            except (machines.MachineError, OSError) as exc:
                if str(exc) != self.last_error:
                    print(f"iotbox {self.box_id}: {exc}", file=sys.stderr, flush=True)
                self.last_error = str(exc)

    def _desired(self) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[Any, ...]],
                                dict[str, str], dict[int, dict[str, Any]]]:
        """Linux boards, consoles (board -> identity of its run), firmware names and
        experiments, as the testbed says now."""
        tb = self.testbed
        linux: dict[str, tuple[int, str]] = {}
        consoles: dict[str, tuple[Any, ...]] = {}
        names: dict[str, str] = {}
        experiments: dict[int, dict[str, Any]] = {}
        with tb.lock:
            now = tb.sync()
            for exp in tb.experiments.values():
                if not exp.launched or exp.finished or exp.state(now) != "Running":
                    continue
                experiments[exp.id] = {"id": exp.id, "user": exp.user, "nodes": exp.boards}
                for address in exp.boards:
                    board, run = tb.inventory.board(address), tb.runtime[address]
                    if (address not in self.plan.boards or board.health != "Alive"
                            or not run.powered or run.experiment != exp.id):
                        continue
                    if board.linux:
                        linux[address] = (exp.id, exp.user)
                        continue
                    firmware = run.firmware
                    consoles[address] = (exp.id, run.flashes, run.resets,
                                         firmware.sha256 if firmware else None)
                    names[address] = firmware.name if firmware else "idle"
        return linux, consoles, names, experiments

    def _reconcile(self) -> None:
        linux, consoles, names, experiments = self._desired()
        for exp_id in set(experiments) - self.experiments:
            self._experiment_dirs(experiments[exp_id])
        for exp_id in self.experiments - set(experiments):
            machines.remove_file(self.dir / "experiments" / f"{exp_id}.json")
        self.experiments = set(experiments)
        for fqdn in [n for n in self.nodes if linux.get(n) != self.nodes[n]]:
            self._remove_node(fqdn)
        for fqdn, owner in linux.items():
            if fqdn not in self.nodes:
                self._create_node(fqdn, owner)
        now = time.time()
        fresh = {fqdn: (key, self.consoles[fqdn][1] if fqdn in self.consoles
                        and self.consoles[fqdn][0] == key else now)
                 for fqdn, key in consoles.items()}
        if fresh != self.consoles:
            for site in self.plan.sites:
                boards = {fqdn: {"ip": str(self.plan.boards[fqdn].address.ip),
                                 "firmware": names[fqdn], "since": since}
                          for fqdn, (_, since) in fresh.items()
                          if self.plan.boards[fqdn].site == site}
                machines.replace_file(self.dir / "consoles" / f"{site}.json",
                                      json.dumps({"boards": boards}), 0o644)
            self.consoles = fresh

    def _experiment_dirs(self, experiment: dict[str, Any]) -> None:
        """`~/.iot-lab/<id>/...` on the frontends of the experiment's sites, and the node
        list the aggregators read."""
        machines.replace_file(self.dir / "experiments" / f"{experiment['id']}.json",
                              json.dumps(experiment), 0o644)
        if experiment["user"] not in self.users:
            return
        uid = FIRST_UID + self.users.index(experiment["user"])
        for site in {node.split(".")[1] for node in experiment["nodes"]} & set(self.plan.sites):
            base = self.home(site, experiment["user"]) / ".iot-lab"
            for path in (base, base / str(experiment["id"]),
                         *(base / str(experiment["id"]) / d for d in EXPERIMENT_DIRS)):
                path.mkdir(exist_ok=True, mode=0o755)
                os.chown(path, uid, uid)

    def _create_node(self, fqdn: str, owner: tuple[int, str]) -> None:
        board = self.plan.boards[fqdn]
        netns = self.plan.node_netns(fqdn)
        files = self._files(netns)
        hosts.remove(netns, files)  # a leftover of an interrupted creation
        hosts.create_namespaces(netns, f"node-{board.short}")
        _, nets, _ = netlink.observe([self.plan.box_netns])
        present = nets.get(self.plan.box_netns)
        stale = present is not None and present.by_name(board.veth) is not None
        machines.ip_batch([
            f"link del {board.veth}" if stale else "",
            f"link add {board.veth} type veth peer name eth0 netns {netns}",
            f"link set {board.veth} master {self.plan.sites[board.site].bridge}",
            f"link set {board.veth} up"], netns=self.plan.box_netns,
            what=f"connecting {fqdn}")
        machines.ip_batch(["link set eth0 up", f"addr add {board.address} dev eth0"],
                          netns=netns, what=f"addressing node-{fqdn}")
        user = owner[1]
        keys = [*self.extra_keys, *self.testbed.sshkeys.get(user, [])]
        if user in self.users:
            keys.append(self.user_key(user).with_suffix(".pub").read_text())
        hosts.prepare_files(files, root_keys=keys, environment=None)
        hosts.start_sshd(netns, files, self._shared(board.site), allow_users=["root"])
        if not hosts.wait_listening(netns):
            log = machines.tail(files.log)
            hosts.remove(netns, files)
            raise machines.MachineError(f"the sshd of node-{fqdn} did not start", hint=log)
        self.nodes[fqdn] = owner

    def _remove_node(self, fqdn: str) -> None:
        self.nodes.pop(fqdn, None)
        netns = self.plan.node_netns(fqdn)
        hosts.remove(netns, self._files(netns))

    # -- views ---------------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        """JSON view: frontends, Linux nodes, consoles."""
        with self._lock:
            return {"box_id": self.box_id, "frontends": dict(self.frontends),
                    "key_dir": str(self.key_dir), "last_error": self.last_error,
                    "nodes": {fqdn: {"experiment": exp, "user": user,
                                     "netns": self.plan.node_netns(fqdn)}
                              for fqdn, (exp, user) in sorted(self.nodes.items())},
                    "consoles": {fqdn: {"since": since} for fqdn, (_, since)
                                 in sorted(self.consoles.items())}}


def purge(box_id: str) -> dict[str, list]:
    """Remove every namespace, interface, process and file of box `box_id` (a box killed
    with SIGKILL included)."""
    prefix = f"iotbox-{box_id}-"
    found = machines.purge(prefix, f"ib{box_id}", hosts.UTS_DIR)
    directory = BOX_ROOT / f"{prefix}box"
    found["files"] = [str(directory)] if directory.exists() else []
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(directory)
    return found
