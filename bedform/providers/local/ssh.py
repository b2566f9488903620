"""The local provider's SSH kinds: the stack's key pair and the sshd of each host."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bedform import machines as system
from bedform.errors import ProviderError
from bedform.machines import netlink
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.lifecycle import Wait, WaitTimeout, poll
from bedform.providers.local.kinds import KEY, SSHD, LocalKind, Snapshot
from bedform.state.model import Record


class KeyKind(LocalKind):
    """The stack's ed25519 user key and sshd host key, files in the state directory."""

    spec = KindSpec(KEY, description="ed25519 user key and sshd host key of the stack")
    name_field = "file"

    def observe(self, record: Record, info: Mapping[str, Any], snap: Snapshot) -> Observed:
        key = self.driver.key_file(info["instance"])
        pub = key.with_name(key.name + ".pub")
        host_key = self.driver.host_key_file(info["instance"])
        if not (key.exists() and pub.exists() and host_key.exists()):
            return Observed(alive=False, reason="the ssh key files are gone")
        drift = []
        if key.stat().st_mode & 0o077:
            drift.append(f"{key} is readable by others")
        return Observed(alive=True, drift=drift, attributes={
            "keyfile": str(key), "public_key": pub.read_text().strip(),
            "host_public_key": record.attributes.get("host_public_key")})

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        instance = inputs["instance"]
        comment = f"bedform-{self.driver.context.stack_name}-{instance}"
        public = system.ensure_keypair(self.driver.key_file(instance), comment)
        host_public = system.ensure_keypair(self.driver.host_key_file(instance), f"{comment}-host")
        return {"keyfile": str(self.driver.key_file(instance)), "public_key": public,
                "host_public_key": host_public}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        info = {**record.attributes, **record.inputs, **record.identity}
        instance = info["instance"]
        for path in (self.driver.key_file(instance), self.driver.host_key_file(instance)):
            system.remove_file(path)
            system.remove_file(path.with_name(path.name + ".pub"))
        with contextlib.suppress(OSError):
            (self.driver.files_dir(instance) / "sshd").rmdir()  # only when empty


class SshdKind(LocalKind):
    """An OpenSSH server running inside a host, with the stack's keys."""

    spec = KindSpec(SSHD, deploy=True, description="OpenSSH server inside a host")
    name_field = "netns"

    def observe(self, record: Record, info: Mapping[str, Any], snap: Snapshot) -> Observed:
        nets = snap.nets
        config, pid_file, _ = self.driver.sshd_files(info["instance"], info["netns"])
        pid = sshd_pid(config, pid_file, info["netns"], record.attributes.get("pid"))
        if pid is None:
            return Observed(alive=False, reason="sshd is not running")
        drift = []
        inode = system.ns_inode(netlink.netns_path(info["netns"]))
        if inode is None or system.process_netns_inode(pid) != inode:
            drift.append(f"sshd runs outside namespace {info['netns']}")
        port = int(info.get("port", self.driver.ssh_port))
        ns = nets.get(info["netns"])
        listening = ns.listening if ns is not None else frozenset()
        for address in info.get("addresses", []):
            if (address, port) not in listening and ("0.0.0.0", port) not in listening:
                drift.append(f"sshd is not listening on {address}:{port}")
        return Observed(alive=True, drift=drift, attributes={
            "pid": pid, "addresses": list(info.get("addresses", [])), "port": port})

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        instance, netns, uts = inputs["instance"], inputs["netns"], inputs["uts"]
        host, port = inputs["host"], int(inputs["port"])
        addresses = list(inputs["addresses"])
        key, host_key = self.driver.key_file(instance), self.driver.host_key_file(instance)
        if not key.exists() or not host_key.exists():
            raise ProviderError(f"the stack's ssh keys are missing under {key.parent}",
                                hint=f"The key resource {instance}.key[ssh] creates them.")
        config, pid_file, log = self.driver.sshd_files(instance, netns)
        text = system.sshd_config(addresses=addresses, port=port, host_key=host_key,
                                  pid_file=pid_file,
                                  authorized_keys=key.with_name(key.name + ".pub"))
        pid = sshd_pid(config, pid_file, netns)
        if pid is not None:
            current = config.read_text() if config.exists() else ""
            inode = system.ns_inode(netlink.netns_path(netns))
            if current != text or system.process_netns_inode(pid) != inode:
                system.stop_process(pid, str(config))
                pid = None
        if pid is None:
            system.write_file(config, text)
            system.remove_file(pid_file)
            system.start_sshd(config, log, netns, uts)
        if addresses:
            ctx.progress(f"waiting for sshd of {host} on {addresses[0]}:{port}")
            if not system.wait_ssh(addresses[0], port, self.driver.ssh_timeout, ctx.sleep):
                raise ProviderError(
                    f"host {host}: sshd did not answer on {addresses[0]}:{port} within "
                    f"{self.driver.ssh_timeout:g} s",
                    hint=f"sshd log {log}:\n{system.tail(log)}")
        def started() -> tuple[int, str]:
            pid = sshd_pid(config, pid_file, netns)
            return (pid, "running") if pid else (0, "starting")
        wait = Wait(what=f"sshd of host {host} to write its pid file {pid_file}",
                    pending={"starting"}, target={"running"}, timeout=2.0,
                    delays=(0.005, 0.01, 0.02, 0.05))
        try:
            pid = poll(ctx, wait, started)
        except WaitTimeout:
            raise ProviderError(f"host {host}: sshd is not running",
                                hint=f"sshd log {log}:\n{system.tail(log)}") from None
        return {"pid": pid, "addresses": addresses, "port": port}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        info = {**record.attributes, **record.inputs, **record.identity}
        config, pid_file, log = self.driver.sshd_files(info["instance"], info["netns"])
        pid = sshd_pid(config, pid_file, info["netns"], record.attributes.get("pid"))
        if pid is not None:
            system.stop_process(pid, str(config))
        for path in (config, pid_file, log):
            system.remove_file(path)
        with contextlib.suppress(OSError):
            config.parent.rmdir()


def sshd_pid(config: Path, pid_file: Path, netns: str, *candidates: Any) -> int | None:
    """The pid of the sshd started with `config`, if one runs: the recorded pid, the pid
    file, else the host's processes (an sshd that could not write its pid file, on a full
    disk, is still found and adopted, never left holding the port)."""
    marker = str(config)
    for pid in (*candidates, system.read_pid(pid_file)):
        if pid is not None and system.is_running(int(pid)) and marker in system.cmdline(int(pid)):
            return int(pid)
    inode = system.ns_inode(netlink.netns_path(netns))
    if inode is None:
        return None
    return next((pid for pid in system.pids_in_netns(inode)
                 if marker in system.cmdline(pid)), None)


