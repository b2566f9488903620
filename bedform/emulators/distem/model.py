"""The Distem platform as the coordinator's `distemd` keeps it: physical nodes, virtual
networks, virtual nodes with their file system and interfaces.

A vnode goes INIT (created) → READY (file system set) → RUNNING (`status=RUNNING`);
`stop` makes it DOWN (startable again), `remove` deletes it. Interface addresses come from
the vnetwork in order, starting at its first host address (the lowest free one), unless
the interface description names one. What a RUNNING vnode is, is up to the `Containers`
backend: nothing (the API-only emulator) or a real host (the Grid'5000 box).

Errors are `DistemError(status, kind, message)`, the HTTP status and the Ruby class name
distemd puts in `X-Application-Error-Code`. This module runs inside the box's nodes as
part of the `distemd` program: standard library only, relative imports only.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any, Protocol

INIT, READY, RUNNING, DOWN = "INIT", "READY", "RUNNING", "DOWN"
NOT_FOUND = "Distem::Lib::ResourceNotFoundError"
INVALID = "Distem::Lib::InvalidParameterError"
EXISTS = "Distem::Lib::AlreadyExistingResourceError"
UNAVAILABLE = "Distem::Lib::UnavailableResourceError"
SHELL = "Distem::Lib::ShellError"


class DistemError(Exception):
    """An error answered with `status` and `X-Application-Error-Code: <kind>: <message>`."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message

    @property
    def code(self) -> str:
        return f"{self.kind}: {self.message}"


class Containers(Protocol):
    """What makes vnodes real (or not)."""

    def check(self, pnodes: list[str]) -> None:
        """Raise DistemError unless every address is a physical node distemd can use."""

    def start(self, vnode: dict[str, Any]) -> None:
        """Make a vnode description real (its host, its interfaces, its public key)."""

    def stop(self, name: str) -> None:
        """Remove what `start` made for the vnode `name` (nothing made: no error)."""

    def execute(self, name: str, command: str) -> str:
        """Run a shell command on a running vnode; its output."""


class NoContainers:
    """The API-only backend: any pnode is accepted, vnodes exist in the model only."""

    def check(self, pnodes: list[str]) -> None:
        """Every address is accepted."""

    def start(self, vnode: dict[str, Any]) -> None:
        """Nothing to start."""

    def stop(self, name: str) -> None:
        """Nothing to stop."""

    def execute(self, name: str, command: str) -> str:
        raise DistemError(501, UNAVAILABLE, "this distemd runs no container: commands on "
                                            "vnodes need the Grid'5000 box")


def _missing(what: str, name: str) -> DistemError:
    return DistemError(404, NOT_FOUND, f"{what} '{name}' not found")


class Platform:
    """The coordinator's model (thread-safe: one lock around every operation)."""

    def __init__(self, containers: Containers | None = None) -> None:
        self.containers: Containers = containers or NoContainers()
        self.lock = threading.RLock()
        self.pnodes: dict[str, dict[str, Any]] = {}
        self.vnetworks: dict[str, dict[str, Any]] = {}
        self.vnodes: dict[str, dict[str, Any]] = {}
        self._ids = 0

    # -- pnodes ---------------------------------------------------------------------------
    def pnode_init(self, targets: list[str]) -> list[dict[str, Any]]:
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise DistemError(400, INVALID, "target: a host name or a list of host names")
        self.containers.check(targets)
        for address in targets:
            if address not in self.pnodes:
                self.pnodes[address] = {
                    "id": str(len(self.pnodes)), "address": address, "status": RUNNING,
                    "algorithms": {"cpu": "hogs"},
                    "memory": {"capacity": 65536, "swap": 0},
                    "cpu": {"id": "0", "cores": [], "cores_alloc": [],
                            "critical_cache_links": []}}
        return [self.pnodes[a] for a in targets]

    def pnode(self, address: str) -> dict[str, Any]:
        if address not in self.pnodes:
            raise _missing("pnode", address)
        return self.pnodes[address]

    def pnode_quit(self, address: str) -> dict[str, Any]:
        pnode = self.pnode(address)
        for name in [n for n, v in self.vnodes.items() if v["host"] == address]:
            self.vnode_remove(name)
        del self.pnodes[address]
        return pnode

    def quit(self) -> list[dict[str, Any]]:
        """Every vnode removed, every vnetwork and pnode forgotten."""
        pnodes = list(self.pnodes.values())
        for name in list(self.vnodes):
            self.vnode_remove(name)
        self.vnetworks.clear()
        self.pnodes.clear()
        return pnodes

    # -- vnetworks ------------------------------------------------------------------------
    def vnetwork_create(self, name: str, address: str) -> dict[str, Any]:
        if not name:
            raise DistemError(400, INVALID, "name: required")
        if name in self.vnetworks:
            raise DistemError(400, EXISTS, f"vnetwork '{name}' already exists")
        try:
            network = ipaddress.IPv4Network(address, strict=True)
        except ValueError as error:
            raise DistemError(400, INVALID, f"address: {error}") from None
        self._ids += 1
        self.vnetworks[name] = {"name": name, "id": str(self._ids),
                                "address": str(network), "vnodes": [],
                                "vroutes": [], "opts": {}}
        return self.vnetworks[name]

    def vnetwork(self, name: str) -> dict[str, Any]:
        if name not in self.vnetworks:
            raise _missing("vnetwork", name)
        return self.vnetworks[name]

    def vnetwork_remove(self, name: str) -> dict[str, Any]:
        network = self.vnetwork(name)
        for vnode in self.vnodes.values():
            for viface in list(vnode["vifaces"]):
                if viface["vnetwork"] == name:
                    self.viface_remove(vnode["name"], viface["name"])
        return self.vnetworks.pop(name, network)

    def _allocate(self, network: dict[str, Any], wanted: str | None) -> str:
        net = ipaddress.IPv4Network(network["address"])
        used = {ipaddress.IPv4Interface(v["address"]).ip for vnode in self.vnodes.values()
                for v in vnode["vifaces"] if v["vnetwork"] == network["name"]}
        if wanted:
            try:
                ip = ipaddress.IPv4Interface(wanted).ip
            except ValueError as error:
                raise DistemError(400, INVALID, f"address: {error}") from None
            if ip not in net or ip in (net.network_address, net.broadcast_address):
                raise DistemError(400, INVALID, f"address {ip} is not a host of {net}")
            if ip in used:
                raise DistemError(400, UNAVAILABLE, f"address {ip} is already used")
            return f"{ip}/{net.prefixlen}"
        for ip in net.hosts():
            if ip not in used:
                return f"{ip}/{net.prefixlen}"
        raise DistemError(400, UNAVAILABLE, f"no free address left in {net}")

    # -- vnodes ---------------------------------------------------------------------------
    def vnode(self, name: str) -> dict[str, Any]:
        if name not in self.vnodes:
            raise _missing("vnode", name)
        return self.vnodes[name]

    def vnode_create(self, name: str, desc: dict[str, Any], ssh_key: dict[str, Any]
                     ) -> dict[str, Any]:
        if not name or "/" in name:
            raise DistemError(400, INVALID, f"vnode name {name!r}")
        if name in self.vnodes:
            raise DistemError(400, EXISTS, f"vnode '{name}' already exists")
        host = desc.get("host")
        if host is not None and host not in self.pnodes:
            raise _missing("pnode", str(host))
        self._ids += 1
        vnode: dict[str, Any] = {
            "name": name, "id": str(self._ids), "status": INIT, "host": host,
            "gateway": bool(desc.get("gateway", False)), "vfilesystem": None,
            "ssh_key": {k: ssh_key[k] for k in ("public", "private") if ssh_key.get(k)},
            "vifaces": [], "vcpu": None, "vmem": None}
        self.vnodes[name] = vnode
        if isinstance(desc.get("vfilesystem"), dict):
            self.vfilesystem_create(name, desc["vfilesystem"])
        for viface in desc.get("vifaces") or []:
            self.viface_create(name, str(viface.get("name", "")), viface)
        return vnode

    def vfilesystem_create(self, name: str, desc: dict[str, Any]) -> dict[str, Any]:
        vnode = self.vnode(name)
        image = desc.get("image")
        if not isinstance(image, str) or not image:
            raise DistemError(400, INVALID, "vfilesystem: an `image` is required")
        vnode["vfilesystem"] = {"vnode": name, "image": image,
                                "shared": str(desc.get("shared", "false")).lower() == "true",
                                "path": f"/tmp/distem/rootfs-unique/{name}",
                                "sharedpath": None}
        if vnode["status"] == INIT:
            vnode["status"] = READY
        return vnode["vfilesystem"]

    def viface(self, name: str, iface: str) -> dict[str, Any]:
        for viface in self.vnode(name)["vifaces"]:
            if viface["name"] == iface:
                return viface
        raise _missing("viface", f"{name}/{iface}")

    def viface_create(self, name: str, iface: str, desc: dict[str, Any]) -> dict[str, Any]:
        vnode = self.vnode(name)
        if not iface:
            raise DistemError(400, INVALID, "name: the interface needs a name")
        if any(v["name"] == iface for v in vnode["vifaces"]):
            raise DistemError(400, EXISTS, f"viface '{iface}' already exists on {name}")
        if vnode["status"] == RUNNING:
            raise DistemError(400, UNAVAILABLE, f"vnode '{name}' is running")
        network = self.vnetwork(str(desc.get("vnetwork", "")))
        viface = {"name": iface, "id": str(len(vnode["vifaces"])), "vnode": name,
                  "vnetwork": network["name"],
                  "address": self._allocate(network, desc.get("address")),
                  "macaddress": _mac(name, iface),
                  "default": str(desc.get("default", "false")).lower() == "true",
                  "input": {"bandwidth": None, "latency": None},
                  "output": {"bandwidth": None, "latency": None}}
        vnode["vifaces"].append(viface)
        network["vnodes"].append(name)
        return viface

    def viface_remove(self, name: str, iface: str) -> dict[str, Any]:
        viface = self.viface(name, iface)
        vnode = self.vnodes[name]
        if vnode["status"] == RUNNING:
            raise DistemError(400, UNAVAILABLE, f"vnode '{name}' is running")
        vnode["vifaces"].remove(viface)
        network = self.vnetworks.get(viface["vnetwork"])
        if network is not None and name in network["vnodes"]:
            network["vnodes"].remove(name)
        return viface

    def vnode_start(self, name: str) -> dict[str, Any]:
        vnode = self.vnode(name)
        if vnode["status"] == RUNNING:
            return vnode
        if vnode["vfilesystem"] is None:
            raise DistemError(400, UNAVAILABLE, f"vnode '{name}' has no file system")
        if vnode["host"] is None:
            if not self.pnodes:
                raise DistemError(400, UNAVAILABLE, "no physical node initialised")
            vnode["host"] = sorted(self.pnodes)[0]
        self.containers.start(vnode)
        vnode["status"] = RUNNING
        return vnode

    def vnode_stop(self, name: str) -> dict[str, Any]:
        vnode = self.vnode(name)
        if vnode["status"] == RUNNING:
            self.containers.stop(name)
        vnode["status"] = DOWN if vnode["vfilesystem"] is not None else INIT
        return vnode

    def vnode_remove(self, name: str) -> dict[str, Any]:
        vnode = self.vnode(name)
        if vnode["status"] == RUNNING:
            self.containers.stop(name)
        for viface in vnode["vifaces"]:
            network = self.vnetworks.get(viface["vnetwork"])
            if network is not None and name in network["vnodes"]:
                network["vnodes"].remove(name)
        return self.vnodes.pop(name)

    def vnode_update(self, name: str, kind: str, desc: dict[str, Any]) -> dict[str, Any]:
        """`PUT /vnodes/:name`: `type` update (desc.status, desc.host), stop, remove."""
        if kind in ("remove", "delete"):
            return self.vnode_remove(name)
        if kind == "stop":
            return self.vnode_stop(name)
        if kind != "update":
            raise DistemError(400, INVALID, f"type {kind!r}: update, stop or remove")
        vnode = self.vnode(name)
        if "host" in desc and desc["host"] != vnode["host"]:
            if vnode["status"] == RUNNING:
                raise DistemError(400, UNAVAILABLE, f"vnode '{name}' is running")
            self.pnode(str(desc["host"]))
            vnode["host"] = desc["host"]
        status = desc.get("status")
        if status == RUNNING:
            return self.vnode_start(name)
        if status in (DOWN, READY):
            return self.vnode_stop(name)
        if status is not None:
            raise DistemError(400, INVALID, f"status {status!r}: RUNNING, READY or DOWN")
        return vnode

    def execute(self, name: str, command: str) -> str:
        vnode = self.vnode(name)
        if vnode["status"] != RUNNING:
            raise DistemError(400, UNAVAILABLE, f"vnode '{name}' is not running")
        if not command:
            raise DistemError(400, INVALID, "command: required")
        return self.containers.execute(name, command)

    def vplatform(self) -> dict[str, Any]:
        return {"pnodes": list(self.pnodes.values()), "vnodes": list(self.vnodes.values()),
                "vnetworks": list(self.vnetworks.values())}


def _mac(name: str, iface: str) -> str:
    """A stable locally administered MAC per (vnode, interface)."""
    import hashlib

    digest = hashlib.blake2s(f"{name}/{iface}".encode(), digest_size=5).digest()
    return "fe:" + ":".join(f"{b:02x}" for b in digest)
