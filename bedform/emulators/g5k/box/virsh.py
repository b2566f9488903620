"""`virsh` on the box's nodes: libvirt's command for the domains VMonG5k defines.

Installed in the box's shared programs (/usr/local/bin of every node, before the
machine's own virsh). Subcommands: `list [--all] [--name]`, `define FILE`, `start`,
`destroy`, `undefine`, `domstate`, `dumpxml`. `define` validates the XML as libvirt
would (well-formed, a `<domain type=kvm|qemu>`, a name, a positive memory and vcpu, a
disk with a source, each interface with a valid MAC; a name already defined with another
uuid is refused) and keeps it per node under /root/.bedform-virsh (the node's own root
home: it goes with the node).

Light mode (the one mode): a running domain is its address, derived from its MAC by the
Grid'5000 DHCP convention (00:16:3e:b2:b3:b4 → 10.b2.b3.b4), added as a /32 on the
bridge its interface names, answered by the node's sshd. `start` fails like libvirt
when the bridge or the disk is missing. Cost per VM: one XML file and one `ip addr add`
(no process, no namespace). Every call is appended to calls.log, which tests count.

This file runs as a program on the nodes (stdlib only, no bedform import).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from pathlib import Path

# xml, re, uuid and subprocess are imported where used: every call is a process start,
# and a `virsh list` should not pay for what only `define` or `start` need
STATE = Path("/root/.bedform-virsh")
MAC = r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$"
G5K_PREFIX = "00:16:3e:"


class VirshError(Exception):
    """A refusal, printed as `error: ...` with exit status 1."""


def _read(name: str) -> dict:
    path = STATE / f"{name}.json"
    if not path.exists():
        raise VirshError(f"failed to get domain '{name}'")
    return json.loads(path.read_text())


def _write(name: str, domain: dict) -> None:
    path = STATE / f"{name}.json"
    path.with_suffix(".tmp").write_text(json.dumps(domain))
    path.with_suffix(".tmp").replace(path)


def _domains() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(STATE.glob("*.json"))}


def validate(text: str) -> dict:
    """The parts of a domain XML this emulation uses; VirshError as libvirt refuses."""
    import re
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise VirshError(f"(domain_definition):{error}") from None
    if root.tag != "domain":
        raise VirshError(f"XML error: unexpected root element <{root.tag}>, expecting <domain>")
    if root.get("type") not in ("kvm", "qemu"):
        raise VirshError(f"unknown virt type in domain definition: '{root.get('type')}'")
    name = (root.findtext("name") or "").strip()
    if not name or "/" in name:
        raise VirshError("XML error: a domain needs a valid <name>")
    for tag in ("memory", "vcpu"):
        value = (root.findtext(tag) or "").strip()
        if not value.isdigit() or int(value) <= 0:
            raise VirshError(f"XML error: missing or invalid <{tag}> ({value!r})")
    disks = root.findall("./devices/disk")
    sources = [d.find("source") for d in disks]
    if not disks or any(source is None or not source.get("file") for source in sources):
        raise VirshError("XML error: missing disk source file")
    interfaces = []
    for nic in root.findall("./devices/interface"):
        mac = nic.find("mac")
        address = mac.get("address", "") if mac is not None else ""
        if not re.match(MAC, address, re.I):
            raise VirshError(f"XML error: unable to parse mac address '{address}'")
        source = nic.find("source")
        interfaces.append({"mac": address.lower(),
                           "bridge": source.get("bridge") if source is not None else None})
    if not interfaces:
        raise VirshError("XML error: the domain has no network interface")
    return {"name": name, "uuid": (root.findtext("uuid") or "").strip(),
            "interfaces": interfaces, "disks": [source.get("file") for source in sources
                                               if source is not None]}


def address(mac: str) -> str | None:
    """The Grid'5000 DHCP address of a VM MAC (None for other MACs)."""
    if not mac.startswith(G5K_PREFIX):
        return None
    return "10." + ".".join(str(int(b, 16)) for b in mac[len(G5K_PREFIX):].split(":"))


def _ip(*args: str) -> None:
    import subprocess

    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0 and "File exists" not in done.stderr \
            and "Cannot assign" not in done.stderr:
        raise VirshError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def define(path: str) -> str:
    text = Path(path).read_text()
    parsed = validate(text)
    name = parsed["name"]
    old = _domains().get(name)
    if old is not None:
        # libvirt gives a definition without <uuid> a new one: refused like another uuid
        if old["uuid"] != parsed["uuid"]:
            raise VirshError(f"operation failed: domain '{name}' already exists with uuid "
                             f"{old['uuid']}")
        # redefined: same uuid and state, persistent again
        parsed.update(uuid=old["uuid"], state=old["state"], id=old.get("id"))
    import uuid

    parsed.setdefault("state", "shut off")
    parsed["uuid"] = parsed["uuid"] or str(uuid.uuid4())
    parsed["xml"] = text
    _write(name, parsed)
    return f"Domain '{name}' defined from {path}"


def start(name: str) -> str:
    domain = _read(name)
    if domain["state"] == "running":
        raise VirshError("Requested operation is not valid: domain is already running")
    for disk in domain["disks"]:
        if not os.path.exists(disk):
            raise VirshError(f"Cannot access storage file '{disk}': No such file or "
                             "directory")
    for nic in domain["interfaces"]:
        if nic["bridge"] and not Path(f"/sys/class/net/{nic['bridge']}").exists():
            raise VirshError(f"Cannot get interface MTU on '{nic['bridge']}': No such "
                             "device")
    for nic in domain["interfaces"]:
        ip = address(nic["mac"])
        if ip and nic["bridge"]:
            _ip("addr", "add", f"{ip}/32", "dev", nic["bridge"])
    ids = [d.get("id") or 0 for d in _domains().values()]
    domain.update(state="running", id=max(ids, default=0) + 1)
    _write(name, domain)
    return f"Domain '{name}' started"


def destroy(name: str) -> str:
    domain = _read(name)
    if domain["state"] != "running":
        raise VirshError("Requested operation is not valid: domain is not running")
    for nic in domain["interfaces"]:
        ip = address(nic["mac"])
        if ip and nic["bridge"]:
            with contextlib.suppress(VirshError):
                _ip("addr", "del", f"{ip}/32", "dev", nic["bridge"])
    domain.update(state="shut off", id=None)
    if domain.get("persistent", True):
        _write(name, domain)
    else:
        (STATE / f"{name}.json").unlink()
    return f"Domain '{name}' destroyed"


def undefine(name: str) -> str:
    domain = _read(name)
    if domain["state"] == "running":  # libvirt: it stays, transient, until destroyed
        domain["persistent"] = False
        _write(name, domain)
    else:
        (STATE / f"{name}.json").unlink()
    return f"Domain '{name}' has been undefined"


def listing(args: list[str]) -> str:
    domains = [(n, d) for n, d in _domains().items()
               if "--all" in args or d["state"] == "running"]
    if "--name" in args:
        return "\n".join(n for n, _ in domains) + ("\n" if domains else "")
    lines = [" Id   Name                 State", "-" * 42]
    lines += [f" {d.get('id') or '-':<4} {n:<20} {d['state']}" for n, d in domains]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    STATE.mkdir(mode=0o700, exist_ok=True)
    with open(STATE / "calls.log", "a") as log:
        log.write(" ".join(argv) + "\n")
    if not argv:
        print("usage: virsh list|define|start|destroy|undefine|domstate|dumpxml ...",
              file=sys.stderr)
        return 1
    command, args = argv[0], argv[1:]
    with open(STATE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if command == "list":
                sys.stdout.write(listing(args))
                return 0
            if command == "version":
                print("Compiled against library: libvirt (Grid'5000 box emulation)")
                return 0
            if not args:
                raise VirshError(f"command '{command}' requires an argument")
            if command == "domstate":
                print(_read(args[0])["state"])
            elif command == "dumpxml":
                sys.stdout.write(_read(args[0])["xml"])
            elif command in ("define", "start", "destroy", "undefine"):
                action = {"define": define, "start": start, "destroy": destroy,
                          "undefine": undefine}[command]
                print(action(args[0]))
            else:
                raise VirshError(f"unknown command: '{command}'")
        except VirshError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


def install(bin_dir: Path) -> Path:
    """Write this program as `virsh` into the box's shared programs."""
    program = bin_dir / "virsh"
    # the system interpreter: /root (where a pyenv lives) is each node's own on the box
    program.write_text("#!/usr/bin/python3 -IS\n" + Path(__file__).read_text())
    os.chmod(program, 0o755)
    return program


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
