"""In-process access to this machine's namespaces: rtnetlink snapshots and host setup.

`refresh` must observe 50 hosts x 2 networks in a few milliseconds, so it cannot spawn
one `ip` per namespace (about 3 ms each). Instead a short-lived worker thread enters each
namespace with `setns(2)` (namespaces are per thread on Linux, so the rest of the process
is untouched), opens a NETLINK_ROUTE socket there and dumps links and IPv4 addresses:
about 0.2 ms per namespace. The only mutation here is `setup_host` (create a host's
network and UTS namespaces, the same way `ip netns add` does); links, addresses and
routes are changed through `ip -batch`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal, overload

import attrs

CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
NETNS_RUN_DIR = "/run/netns"

_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_RTM_NEWLINK = 16
_RTM_GETLINK = 18
_RTM_NEWADDR = 20
_RTM_GETADDR = 22
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300

_IFLA_ADDRESS = 1
_IFLA_IFNAME = 3
_IFLA_LINK = 5
_IFLA_MASTER = 10
_IFLA_LINKINFO = 18
_IFLA_IFALIAS = 20
_IFLA_INFO_KIND = 1
_IFA_ADDRESS = 1
_IFA_LOCAL = 2

IFF_UP = 0x1

_HDR = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")


@attrs.frozen
class Link:
    """One network interface as rtnetlink reports it."""

    index: int
    name: str
    flags: int
    kind: str | None = None
    master: int | None = None
    link: int | None = None  # the peer's ifindex for a veth (in the peer's namespace)
    alias: str | None = None
    mac: str | None = None

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)


@attrs.frozen
class Snapshot:
    """Links and IPv4 addresses (`a.b.c.d/len`) of one namespace."""

    links: dict[int, Link]
    addresses: dict[int, tuple[str, ...]]
    listening: frozenset[tuple[str, int]] = frozenset()  # TCP (address, port) in LISTEN
    names: dict[str, Link] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "names", {link.name: link for link in self.links.values()})

    def by_name(self, name: str) -> Link | None:
        return self.names.get(name)

    def addresses_of(self, name: str) -> tuple[str, ...]:
        link = self.by_name(name)
        return self.addresses.get(link.index, ()) if link else ()

    def all_addresses(self) -> dict[str, str]:
        """address/len -> interface name."""
        return {
            address: self.links[index].name if index in self.links else "?"
            for index, addresses in self.addresses.items()
            for address in addresses
        }


def _attributes(buf: bytes, offset: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    end = len(buf)
    while offset + 4 <= end:
        length, kind = struct.unpack_from("=HH", buf, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = buf[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return out


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.split(b"\0", 1)[0].decode(errors="replace")


def _u32(value: bytes | None) -> int | None:
    return None if value is None or len(value) < 4 else struct.unpack_from("=I", value)[0]


def _dump(sock: socket.socket, msg_type: int, body: bytes) -> list[bytes]:
    sock.send(_HDR.pack(_HDR.size + len(body), msg_type, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0)
              + body)
    messages: list[bytes] = []
    while True:
        data = sock.recv(1 << 18)
        offset = 0
        while offset + _HDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _HDR.unpack_from(data, offset)
            if kind == _NLMSG_DONE:
                return messages
            if kind == _NLMSG_ERROR:
                error = struct.unpack_from("=i", data, offset + _HDR.size)[0]
                if error:
                    raise OSError(-error, os.strerror(-error))
                return messages
            messages.append(data[offset + _HDR.size : offset + length])
            offset += (length + 3) & ~3
            if length == 0:
                break


def snapshot(listening: bool = False) -> Snapshot:
    """Links and IPv4 addresses (and, if asked, listening TCP sockets) of the calling
    thread's network namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        links: dict[int, Link] = {}
        for msg in _dump(sock, _RTM_GETLINK, _IFINFO.pack(0, 0, 0, 0, 0)):
            _family, _type, index, flags, _change = _IFINFO.unpack_from(msg)
            attributes = _attributes(msg, _IFINFO.size)
            kind = None
            if _IFLA_LINKINFO in attributes:
                kind = _text(_attributes(attributes[_IFLA_LINKINFO], 0).get(_IFLA_INFO_KIND))
            mac = attributes.get(_IFLA_ADDRESS)
            links[index] = Link(
                index=index,
                name=_text(attributes.get(_IFLA_IFNAME)) or "",
                flags=flags,
                kind=kind,
                master=_u32(attributes.get(_IFLA_MASTER)),
                link=_u32(attributes.get(_IFLA_LINK)),
                alias=_text(attributes.get(_IFLA_IFALIAS)),
                mac=":".join(f"{b:02x}" for b in mac) if mac else None,
            )
        addresses: dict[int, list[str]] = {}
        for msg in _dump(sock, _RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(msg)
            if family != socket.AF_INET:
                continue
            attributes = _attributes(msg, _IFADDR.size)
            raw = attributes.get(_IFA_LOCAL) or attributes.get(_IFA_ADDRESS)
            if raw:
                addresses.setdefault(index, []).append(f"{socket.inet_ntoa(raw)}/{prefixlen}")
        return Snapshot(links, {k: tuple(v) for k, v in addresses.items()},
                        _listening() if listening else frozenset())
    finally:
        sock.close()


_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_TCP_LISTEN = 10


def _listening() -> frozenset[tuple[str, int]]:
    """IPv4 TCP sockets in LISTEN state (sock_diag: unlike /proc/net/tcp, it does not walk
    the whole connection table, so it costs microseconds)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG)
    try:
        sock.bind((0, 0))
        request = struct.pack("=BBBxI", socket.AF_INET, socket.IPPROTO_TCP, 0,
                              1 << _TCP_LISTEN) + bytes(48)
        out = set()
        for msg in _dump(sock, _SOCK_DIAG_BY_FAMILY, request):
            port = struct.unpack_from("!H", msg, 4)[0]
            out.add((socket.inet_ntoa(msg[8:12]), port))
        return frozenset(out)
    finally:
        sock.close()


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, nstype: int) -> None:
    if _libc.setns(fd, nstype) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


Observation = tuple[Snapshot | None, dict[str, Snapshot | None], dict[str, str | None]]
RootObservation = tuple[Snapshot, dict[str, Snapshot | None], dict[str, str | None]]


@overload
def observe(names: Iterable[str] = (), uts_paths: Iterable[str] = (), *,
            root: Literal[True], listening: bool = False) -> RootObservation: ...


@overload
def observe(names: Iterable[str] = (), uts_paths: Iterable[str] = (), *, root: bool = False,
            listening: bool = False) -> Observation: ...


def observe(names: Iterable[str] = (), uts_paths: Iterable[str] = (), *, root: bool = False,
            listening: bool = False) -> Observation:
    """Snapshot the root namespace (if `root`), each named network namespace (None when
    absent) and the hostname held by each persistent UTS namespace file (None when absent).

    Runs in a throw-away thread so that entering namespaces never affects the caller.
    """
    wanted = list(dict.fromkeys(names))
    utss = list(dict.fromkeys(uts_paths))
    nets: dict[str, Snapshot | None] = {}
    hostnames: dict[str, str | None] = {}
    root_snapshot: list[Snapshot] = []

    def visit(kind: str, nstype: int, paths: list[tuple[str, str]], read: Any) -> dict:
        out: dict[str, Any] = {}
        own = os.open(f"/proc/thread-self/ns/{kind}", os.O_RDONLY)
        try:
            for key, path in paths:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    out[key] = None
                    continue
                try:
                    _setns(fd, nstype)
                except OSError:
                    # Not a namespace (e.g. a stale file left by a killed `ip netns add`).
                    out[key] = None
                    continue
                finally:
                    os.close(fd)
                out[key] = read()
        finally:
            _setns(own, nstype)
            os.close(own)
        return out

    def work() -> None:
        if root:
            root_snapshot.append(snapshot())
        if wanted:
            nets.update(visit("net", CLONE_NEWNET,
                              [(name, netns_path(name)) for name in wanted],
                              lambda: snapshot(listening)))
        if utss:
            hostnames.update(visit("uts", CLONE_NEWUTS, [(p, p) for p in utss],
                                   socket.gethostname))

    _in_own_thread(work, "bedform-netns-reader")
    return (root_snapshot[0] if root_snapshot else None), nets, hostnames


_MS_BIND = 4096


def _bind(source: str, target: str) -> None:
    if _libc.mount(os.fsencode(source), os.fsencode(target), b"none", _MS_BIND, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"bind-mounting {source} on {target}: {os.strerror(errno)}")


def _unshare(nstype: int) -> None:
    if _libc.unshare(nstype) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")


def _set_up(index: int) -> None:
    """Bring an interface of the calling thread's network namespace up."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        body = _IFINFO.pack(0, 0, index, IFF_UP, IFF_UP)
        sock.send(_HDR.pack(_HDR.size + len(body), _RTM_NEWLINK, _NLM_F_REQUEST | 0x4, 1, 0)
                  + body)  # 0x4: NLM_F_ACK
        data = sock.recv(65536)
        kind = _HDR.unpack_from(data)[1]
        error = struct.unpack_from("=i", data, _HDR.size)[0] if kind == _NLMSG_ERROR else 0
        if error:
            raise OSError(-error, f"setting interface {index} up: {os.strerror(-error)}")
    finally:
        sock.close()


def setup_host(netns: str, uts_path: str, hostname: str,
               sysctls: dict[str, str] | None = None) -> None:
    """Ensure a persistent network namespace `netns` (loopback up, `sysctls` written) and a
    persistent UTS namespace bound at `uts_path` holding `hostname`.

    What `ip netns add`, `ip link set lo up` and `unshare --uts=FILE hostname` do, without
    three processes: a worker thread unshares, binds the new namespace file, and returns to
    the caller's namespaces. Needs /run/netns to be a shared mount already (the caller runs
    `ip netns add` once otherwise).
    """
    net_path = netns_path(netns)

    def enter_or_create(kind: str, nstype: int, path: str) -> None:
        if os.path.ismount(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                _setns(fd, nstype)
            finally:
                os.close(fd)
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a stale file left by a killed run
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
        try:
            _unshare(nstype)
            _bind(f"/proc/thread-self/ns/{kind}", path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise

    def work() -> None:
        own_net = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        own_uts = os.open("/proc/thread-self/ns/uts", os.O_RDONLY)
        try:
            enter_or_create("net", CLONE_NEWNET, net_path)
            _set_up(1)  # lo is ifindex 1 in every network namespace
            for key, value in (sysctls or {}).items():
                with open(f"/proc/sys/net/{key}", "w", encoding="ascii") as handle:
                    handle.write(f"{value}\n")
            os.makedirs(os.path.dirname(uts_path), exist_ok=True)
            enter_or_create("uts", CLONE_NEWUTS, uts_path)
            socket.sethostname(hostname)
        finally:
            try:
                _setns(own_net, CLONE_NEWNET)
                _setns(own_uts, CLONE_NEWUTS)
            finally:
                os.close(own_net)
                os.close(own_uts)

    _in_own_thread(work, "bedform-host-setup")


def mount_points() -> set[str]:
    """Every mount point of this process's mount namespace (one read of mountinfo)."""
    points: set[str] = set()
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.split(" ", 5)
            if len(fields) > 4:
                points.add(_unescape(fields[4]))
    return points


def _unescape(path: str) -> str:
    if "\\" not in path:
        return path
    return path.encode().decode("unicode_escape")


def in_netns(netns: str, work: Callable[[], None]) -> None:
    """Run `work` inside network namespace `netns` (a worker thread enters it; sockets
    it opens belong to that namespace); re-raise its error."""

    def entered() -> None:
        fd = os.open(netns_path(netns), os.O_RDONLY)
        try:
            _setns(fd, CLONE_NEWNET)
        finally:
            os.close(fd)
        work()

    _in_own_thread(entered, "bedform-netns-worker")


def _in_own_thread(work: Callable[[], None], name: str) -> None:
    """Run `work` in a throw-away thread (namespace changes stay there); re-raise its error."""
    failure: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=guarded, name=name)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
