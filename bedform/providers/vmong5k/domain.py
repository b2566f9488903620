"""Libvirt domain XML and the shell scripts run on the nodes, rendered by bedform.

One script per node per apply: `setup_script` (hypervisor: libvirt present, working
directory, base image copied once, bridge `br0` over the node's NIC), `domains_script`
(destroy/undefine the domains to remove, one listing of the running domains, then per
domain to create a qcow2 overlay of the base image, its XML, `virsh define` and
`virsh start` unless it runs), and
`LIST_COMMAND` for a refresh. Every script is idempotent: run again after an
interruption it finishes the job without duplicating a domain.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import shlex
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

BRIDGE = "br0"
BASE_IMAGE = "enos_vmong5k-base-image.qcow2"
LIST_COMMAND = "virsh list --all"
METADATA_NS = "https://bedform.dev/vmong5k"
PACK_ABOVE = 32 * 1024


def render_xml(*, name: str, core: int, mem_mib: int, mac: str, disk: str,
               domain_type: str = "kvm", bridge: str = BRIDGE, key: str = "",
               extra_devices: str = "", extra_disk: str | None = None,
               direct_boot: Mapping[str, str] | None = None) -> str:
    """The domain XML of one VM (EnOSlib's template: memory in KiB, host-model CPU,
    virtio qcow2 disk, bridged virtio NIC with the VM's MAC, serial console, VNC); the
    stack's public key travels in the domain metadata. `direct_boot` (kernel, initrd,
    cmdline: paths on the node) boots that kernel instead of the disk's boot loader.
    The uuid derives from the MAC (`domain_uuid`): libvirt refuses to define again,
    without a uuid or with another one, a domain that exists (a resumed batch, a changed
    flavour)."""
    extra = ""
    if extra_disk:
        extra = (f"    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                 f"<source file={quoteattr(extra_disk)}/><target dev='vdz' bus='virtio'/>"
                 "</disk>\n")
    return (
        f"<domain type={quoteattr(domain_type)}>\n"
        f"  <name>{escape(name)}</name>\n"
        f"  <uuid>{domain_uuid(mac)}</uuid>\n"
        f"  <metadata><bedform:vm xmlns:bedform={quoteattr(METADATA_NS)}>"
        f"<bedform:ssh_key>{escape(key.strip())}</bedform:ssh_key></bedform:vm></metadata>\n"
        f"  <memory unit='KiB'>{mem_mib * 1024}</memory>\n"
        f"  <vcpu>{core}</vcpu>\n"
        f"  <os><type arch='x86_64'>hvm</type>{_boot(direct_boot)}</os>\n"
        "  <features><acpi/><apic/></features>\n"
        "  <cpu mode='host-model'/>\n"
        "  <devices>\n"
        f"    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file={quoteattr(disk)}/><target dev='vda' bus='virtio'/></disk>\n"
        f"{extra}"
        f"    <interface type='bridge'><source bridge={quoteattr(bridge)}/>"
        f"<mac address={quoteattr(mac)}/><model type='virtio'/></interface>\n"
        "    <serial type='pty'><target port='0'/></serial>\n"
        "    <console type='pty'><target type='serial' port='0'/></console>\n"
        "    <graphics type='vnc' port='-1' autoport='yes'/>\n"
        f"{'    ' + extra_devices.strip() + chr(10) if extra_devices.strip() else ''}"
        "  </devices>\n"
        "</domain>\n")


UUID_PREFIX = str(uuid.uuid5(uuid.NAMESPACE_URL, METADATA_NS))[:23]


def domain_uuid(mac: str) -> str:
    """The domain's uuid: a fixed prefix and the MAC's 12 hex digits (unique per MAC,
    and a batch of a thousand domains still compresses into one command line)."""
    return f"{UUID_PREFIX}-{mac.replace(':', '').lower()}"


def _boot(direct_boot: Mapping[str, str] | None) -> str:
    if not direct_boot:
        return "<boot dev='hd'/>"
    return "".join(f"<{tag}>{escape(direct_boot[tag])}</{tag}>"
                   for tag in ("kernel", "initrd", "cmdline") if direct_boot.get(tag))


def digest(xml: str) -> str:
    """What identifies a domain's definition in the state (a changed flavour changes it)."""
    return hashlib.sha256(xml.encode()).hexdigest()[:16]


def setup_script(*, working_dir: str, image: str, bridge: str = BRIDGE) -> str:
    """Hypervisor set-up on a node: libvirt and qemu-img present, the working directory,
    the base image copied once, a bridge over the NIC of the default route (the node's
    address and routes moved onto it)."""
    wd, base = shlex.quote(working_dir), shlex.quote(f"{working_dir}/{BASE_IMAGE}")
    img, br = shlex.quote(image), shlex.quote(bridge)
    return "\n".join([
        "set -e",
        "for p in virsh qemu-img; do command -v $p >/dev/null || "
        "{ echo \"libvirt is not installed on $(hostname): no $p\" >&2; exit 3; }; done",
        f"mkdir -p {wd} && chmod 711 {wd}",
        f"if [ ! -f {base} ]; then [ -f {img} ] || "
        f"{{ echo \"image {image} not found on $(hostname)\" >&2; exit 4; }}; "
        f"part={base}.part.$(hostname).$$; cp {img} \"$part\" && mv -f \"$part\" {base}; fi",
        f"if ! ip link show {br} >/dev/null 2>&1; then",
        "  nic=$(ip -o -4 route show default | awk '{print $5; exit}')",
        "  gw=$(ip -o -4 route show default | awk '{print $3; exit}')",
        "  addr=$(ip -o -4 addr show dev \"$nic\" | awk '{print $4; exit}')",
        "  routes=$(ip -4 route show dev \"$nic\" | awk '$1 ~ /\\// && !/proto kernel/"
        " {print $1}')",
        f"  ip link add {br} type bridge && ip link set {br} up",
        f"  ip addr del \"$addr\" dev \"$nic\" && ip link set \"$nic\" master {br}",
        f"  ip addr add \"$addr\" dev {br} && ip route replace default via \"$gw\" dev {br}",
        f"  for r in $routes; do ip route replace \"$r\" dev {br}; "
        "ip route del \"$r\" dev \"$nic\" 2>/dev/null || true; done",
        "fi",
    ])


def _remove_lines(names: Iterable[str], working_dir: str) -> list[str]:
    lines = []
    for name in names:
        q = shlex.quote(name)
        files = " ".join(shlex.quote(f"{working_dir}/{name}{suffix}")
                         for suffix in (".qcow2", ".xml", "-extra.raw"))
        lines.append(f"virsh destroy {q} >/dev/null 2>&1 || true; "
                     f"virsh undefine {q} >/dev/null 2>&1 || true; rm -f {files}")
    return lines


def _create_lines(domain: Mapping[str, Any], working_dir: str) -> list[str]:
    name = domain["name"]
    q = shlex.quote(name)
    disk = shlex.quote(domain["disk"])
    base = shlex.quote(f"{working_dir}/{BASE_IMAGE}")
    xml_file = shlex.quote(f"{working_dir}/{name}.xml")
    if domain.get("strategy") == "copy":
        make_disk = f"cp {base} {disk}.part && mv -f {disk}.part {disk}"
    else:
        make_disk = f"qemu-img create -q -f qcow2 -F qcow2 -b {base} {disk}"
    lines = [f"[ -f {disk} ] || {make_disk}"]
    if domain.get("extra_disk"):
        extra = shlex.quote(domain["extra_disk"])
        lines.append(f"[ -f {extra} ] || qemu-img create -q -f raw {extra} "
                     f"{int(domain['extra_disk_gb'])}G")
    marker = "BEDFORM_DOMAIN_XML"
    lines += [f"cat > {xml_file} <<'{marker}'\n{domain['xml'].rstrip()}\n{marker}",
              f"virsh define {xml_file} >/dev/null",
              f"case \" $running \" in *\" {name} \"*) ;; *) virsh start {q} >/dev/null;; esac"]
    return lines


def domains_script(*, working_dir: str, create: Sequence[Mapping[str, Any]],
                   remove: Iterable[str] = ()) -> str:
    """One node's batch: remove `remove` (names), then define and start `create`
    (domain dicts of the VM kind: name, xml, disk, strategy)."""
    lines = ["set -e", *_remove_lines(remove, working_dir)]
    if create:  # what already runs is left alone (a run resumed after an interruption)
        lines.append("running=$(virsh list --name | tr '\\n' ' ')")
    for domain in create:
        lines += _create_lines(domain, working_dir)
    return "\n".join(lines)


def packed(script: str, limit: int = PACK_ABOVE) -> str:
    """`script` as one command line short enough for exec's argument limit (128 KiB per
    argument): above `limit` bytes, gzip + base64 piped into sh (a batch of VMs whose
    XMLs differ by a few bytes compresses about 30 times)."""
    if len(script) <= limit:
        return script
    blob = base64.b64encode(gzip.compress(script.encode(), mtime=0)).decode()
    return f"echo {blob} | base64 -d | gunzip | sh"


def parse_list(text: str) -> dict[str, str]:
    """`virsh list --all` output → {domain name: state} ("running", "shut off"...)."""
    states: dict[str, str] = {}
    for line in text.splitlines()[2:]:
        fields = line.split(None, 2)
        if len(fields) == 3:
            states[fields[1]] = fields[2].strip()
    return states
