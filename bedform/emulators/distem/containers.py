"""The Grid'5000 box's side of Distem: each RUNNING vnode is a real SSH host.

`distemd` (daemon.py, on a node of the box) asks for containers over the box's Unix socket,
one JSON line per request: `check` (are these pnodes nodes of a running job?), `start`,
`stop`, `execute`, `reset` (every container of that coordinator). A started vnode is a
network + UTS namespace with an sshd trusting the vnode's public key for root, wired to
its pnode by a veth (`if0` inside, holding the viface addresses; a /32 route to each on
the pnode, which answers ARP for them on its NIC and forwards): from the coordinator, any
pnode of the job, and the access frontend, the vnode answers at its address on the job's
subnet. Vnodes die with their pnode and with the coordinator's node (the box calls
`drop_node`), and their names carry the box's prefix, so the box's purge removes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bedform import machines
from bedform.machines import netlink

from ..g5k.box import hosts

if TYPE_CHECKING:
    from ..g5k.box.box import Box

VIFACE = "if0"
EXECUTE_TIMEOUT = 120


class ContainerError(Exception):
    """A refused container operation: distemd answers it with `status` and `kind`."""

    def __init__(self, message: str, status: int = 400,
                 kind: str = "Distem::Lib::UnavailableResourceError") -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


@dataclass(frozen=True)
class Vnode:
    """A started vnode: where it runs and what it is made of."""

    coordinator: str
    name: str
    pnode: str
    netns: str
    veth: str
    addresses: tuple[str, ...]


class DistemContainers:
    """Serves distemd's container requests for one box (see the module docstring)."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self.socket_path = box.dir / "distem.sock"
        self.vnodes: dict[tuple[str, str], Vnode] = {}
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        listener.listen(16)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name=f"distem-containers-{self.box.box_id}")
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and remove every vnode host."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        with self.box._lock:
            for key in list(self.vnodes):
                self._remove(key)

    def _accept(self) -> None:
        while self._listener is not None:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True,
                             name="distem-container-request").start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while not data.endswith(b"\n"):
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            try:
                answer: dict[str, Any] = {"result": self.handle(json.loads(data))}
            except ContainerError as error:
                answer = {"error": str(error), "status": error.status, "kind": error.kind}
            except (machines.MachineError, OSError, ValueError, KeyError) as error:
                answer = {"error": f"{type(error).__name__}: {error}", "status": 500,
                          "kind": "Distem::Lib::ShellError"}
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps(answer).encode() + b"\n")

    # -- requests ------------------------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> Any:
        """Answer one request of distemd (module docstring)."""
        op, coordinator = request.get("op"), str(request.get("coordinator", ""))
        with self.box._lock:
            if op == "check":
                down = [p for p in request.get("pnodes") or [] if not self._answers(p)]
                if down:
                    raise ContainerError(f"cannot reach {', '.join(down)} over SSH: not a "
                                         "node of a running job")
                return None
            if op == "reset":
                for key in [k for k in self.vnodes if k[0] == coordinator]:
                    self._remove(key)
                return None
            key = (coordinator, str(request.get("name", "")))
            if op == "start":
                self._remove(key)
                self._start(key, str(request["pnode"]), list(request.get("addresses") or []),
                            str(request.get("public_key") or ""))
                return None
            if op == "stop":
                self._remove(key)
                return None
            vnode = self.vnodes.get(key)
        if op == "execute":
            if vnode is None:
                raise ContainerError(f"vnode '{key[1]}' runs no container", 404,
                                     "Distem::Lib::ResourceNotFoundError")
            return self._execute(vnode, str(request.get("command", "")))
        raise ContainerError(f"unknown container operation {op!r}", 400,
                             "Distem::Lib::InvalidParameterError")

    def _answers(self, pnode: str) -> bool:
        return pnode in self.box.nodes and pnode not in self.box.broken

    def _start(self, key: tuple[str, str], pnode: str, addresses: list[str],
               public_key: str) -> None:
        if not self._answers(pnode):
            raise ContainerError(f"pnode {pnode} does not answer")
        host = self.box.nodes[pnode]
        digest = hashlib.blake2s("/".join(key).encode(), digest_size=4).hexdigest()
        vnode = Vnode(key[0], key[1], pnode, f"{self.box.plan.ns_prefix}vn{digest}",
                      f"dv{digest}", tuple(addresses))
        files = hosts.HostFiles(self.box.dir / "hosts" / vnode.netns)
        self.vnodes[key] = vnode   # recorded first: a failure below is cleaned by _remove
        try:
            hosts.create_namespaces(vnode.netns, key[1][:63] or "vnode")
            ips = [a.split("/", 1)[0] for a in addresses]
            machines.ip_batch([
                f"link add {vnode.veth} type veth peer name {VIFACE} netns {vnode.netns}",
                f"link set {vnode.veth} up",
                *(f"route replace {ip}/32 dev {vnode.veth}" for ip in ips),
            ], netns=host.netns, what=f"wiring vnode {key[1]} to {pnode}")
            # the pnode answers ARP for its vnodes on its NIC and routes to them
            netlink.setup_host(host.netns, hosts.uts_path(host.netns), host.plan.uid,
                               sysctls={"ipv4/conf/all/forwarding": "1",
                                        "ipv4/conf/all/rp_filter": "0",
                                        f"ipv4/conf/{vnode.veth}/rp_filter": "0",
                                        f"ipv4/conf/{vnode.veth}/proxy_arp": "1",
                                        f"ipv4/conf/{host.plan.primary.name}/proxy_arp": "1"})
            machines.ip_batch([*(f"addr add {a} dev {VIFACE}" for a in addresses),
                               f"link set {VIFACE} up", f"route add default dev {VIFACE}"],
                              netns=vnode.netns, what=f"addressing vnode {key[1]}")
            hosts.prepare_files(files, root_keys=[public_key] if public_key else [],
                                environment=None)
            hosts.start_sshd(vnode.netns, files, self.box._shared(), allow_users=["root"])
            if not hosts.wait_listening(vnode.netns):
                raise ContainerError(f"the sshd of vnode {key[1]} did not start: "
                                     f"{machines.tail(files.log)}", 500,
                                     "Distem::Lib::ShellError")
        except BaseException:
            self._remove(key)
            raise

    def _remove(self, key: tuple[str, str]) -> None:
        vnode = self.vnodes.pop(key, None)
        if vnode is not None:
            hosts.remove(vnode.netns, hosts.HostFiles(self.box.dir / "hosts" / vnode.netns))

    def _execute(self, vnode: Vnode, command: str) -> str:
        ip = machines.which("ip") or "ip"
        try:
            done = subprocess.run(
                [ip, "netns", "exec", vnode.netns, machines.which("nsenter") or "nsenter",
                 f"--uts={hosts.uts_path(vnode.netns)}", "--", "/bin/sh", "-c", command],
                capture_output=True, text=True, timeout=EXECUTE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise ContainerError(f"command timed out after {EXECUTE_TIMEOUT} s", 500,
                                 "Distem::Lib::ShellError") from None
        if done.returncode != 0:
            raise ContainerError(f"command exited {done.returncode}: "
                                 f"{done.stderr.strip()[-300:]}", 500, "Distem::Lib::ShellError")
        return done.stdout

    def drop_node(self, fqdn: str) -> None:
        """The node left the box: its vnodes, and those its distemd made, go with it."""
        host = self.box.nodes.get(fqdn)
        uid = host.plan.uid if host is not None else fqdn.split(".", 1)[0]
        for key, vnode in list(self.vnodes.items()):
            if vnode.pnode == fqdn or vnode.coordinator == uid:
                self._remove(key)

    def view(self) -> list[dict[str, Any]]:
        """The running vnode hosts (JSON)."""
        return [{"coordinator": v.coordinator, "name": v.name, "pnode": v.pnode,
                 "netns": v.netns, "addresses": list(v.addresses)}
                for v in sorted(self.vnodes.values(), key=lambda v: (v.coordinator, v.name))]
