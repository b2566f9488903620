"""Isolated libvirt networks and domain clean-up, through `virsh -c qemu:///system`.

An isolated network has no `<forward>` (nothing is routed or NATed off the machine),
DNS disabled, and a DHCP range only on the management network, whose dnsmasq then hands
out no gateway. `check_isolated` refuses any network definition that would forward.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

from bedform.errors import ProviderError

URI = "qemu:///system"
TIMEOUT = 60.0
POOL = "default"
HOST_HINT = "Set up this machine with `sudo bash scripts/vagrant-host.sh` (libvirtd running)."


def virsh(*args: str, timeout: float = TIMEOUT, check: bool = True) -> str:
    """Run one virsh command (bounded); its stdout. ProviderError when it fails."""
    program = _virsh_program()
    if program is None:
        raise ProviderError("virsh is not installed", hint=HOST_HINT)
    command = [program, "-c", URI, *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProviderError(f"`{' '.join(command)}` did not answer within {timeout:g} s",
                            hint=HOST_HINT) from None
    if check and done.returncode != 0:
        raise ProviderError(f"`virsh {' '.join(args)}` failed: {done.stderr.strip()}",
                            hint=HOST_HINT)
    return done.stdout


def _virsh_program() -> str | None:
    """libvirt's own virsh (the Debian package's) before any other on PATH."""
    return shutil.which("virsh", path="/usr/bin:/bin") or shutil.which("virsh")


def network_xml(name: str, bridge: str, cidr: str, dhcp: bool) -> str:
    """The definition of an isolated network; the host holds the first address."""
    network = ipaddress.IPv4Network(cidr)
    root = ET.Element("network")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "bridge", name=bridge, stp="off", delay="0")
    ET.SubElement(root, "dns", enable="no")
    ip = ET.SubElement(root, "ip", address=str(network.network_address + 1),
                       netmask=str(network.netmask))
    if dhcp:
        ET.SubElement(ET.SubElement(ip, "dhcp"), "range",
                      start=str(network.network_address + 2),
                      end=str(network.broadcast_address - 1))
    text = ET.tostring(root, encoding="unicode")
    check_isolated(text)
    return text


def check_isolated(xml: str) -> None:
    """Raise ProviderError unless the network definition `xml` keeps traffic local."""
    root = ET.fromstring(xml)
    name = root.findtext("name") or "?"
    forward = root.find("forward")
    if forward is not None:
        mode = forward.get("mode", "nat")
        raise ProviderError(
            f"libvirt network {name} forwards traffic off this machine (mode {mode})",
            hint="bedform only uses isolated networks (no <forward>): remove or rename "
                 "that network, or give this configuration another cidr.")
    dns = root.find("dns")
    if dns is None or dns.get("enable") != "no":
        raise ProviderError(f"libvirt network {name} runs a DNS forwarder",
                            hint="bedform's networks carry <dns enable='no'/>: remove or "
                                 "rename that network.")


def networks() -> dict[str, bool]:
    """Every libvirt network: name -> active (one `net-list` call)."""
    out: dict[str, bool] = {}
    for line in virsh("net-list", "--all").splitlines()[2:]:
        fields = line.split()
        if len(fields) >= 2:
            out[fields[0]] = fields[1] == "active"
    return out


def ensure_network(name: str, xml: str) -> None:
    """Define (if absent) and start the network `name`; an existing one must be isolated."""
    present = networks()
    if name in present:
        check_isolated(virsh("net-dumpxml", name))
    else:
        _define(xml)
    if not present.get(name):
        virsh("net-start", name)


def _define(xml: str) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(xml)
        handle.flush()
        virsh("net-define", handle.name)


def delete_network(name: str) -> bool:
    """Stop and undefine `name`; False when it was already gone."""
    present = networks()
    if name not in present:
        return False
    if present[name]:
        virsh("net-destroy", name)
    virsh("net-undefine", name)
    return True


def domains() -> dict[str, str]:
    """Every libvirt domain: name -> state ("running", "shut off", ...)."""
    out: dict[str, str] = {}
    for line in virsh("list", "--all").splitlines()[2:]:
        fields = line.split(None, 2)
        if len(fields) == 3:
            out[fields[1]] = fields[2].strip()
    return out


def delete_domain(name: str) -> bool:
    """Power off and undefine the domain with its storage; False when already gone."""
    state = domains().get(name)
    if state is None:
        return False
    if state != "shut off":
        virsh("destroy", name, check=False)
    virsh("undefine", name, "--remove-all-storage", "--nvram", check=False)
    if name in domains():
        raise ProviderError(f"libvirt domain {name} could not be removed", hint=HOST_HINT)
    return True


def backing_files() -> set[str]:
    """File names of the backing images of every domain's disks, running or not (the
    inactive XML does not show them: each disk's qcow2 header is read)."""
    names: set[str] = set()
    for domain in domains():
        for line in virsh("domblklist", domain, "--details", check=False).splitlines()[2:]:
            fields = line.split()
            if len(fields) != 4 or fields[1] != "disk" or not fields[3].startswith("/"):
                continue
            done = subprocess.run(["qemu-img", "info", "-U", "--output=json", fields[3]],
                                  capture_output=True, text=True, timeout=TIMEOUT,
                                  check=False)
            if done.returncode == 0:
                backing = json.loads(done.stdout).get("backing-filename")
                if backing:
                    names.add(backing.rsplit("/", 1)[-1])
    return names


def volumes(pool: str = POOL) -> list[str]:
    """Names of the volumes of `pool` (empty when the pool does not exist)."""
    text = virsh("vol-list", pool, check=False)
    return [line.split()[0] for line in text.splitlines()[2:] if line.split()]


def delete_volume(name: str, pool: str = POOL) -> None:
    virsh("vol-delete", "--pool", pool, name)
