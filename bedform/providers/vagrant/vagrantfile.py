"""The Vagrantfile of a provider instance, rendered from its configuration.

Written into the instance's state directory (never the user's current directory). The
Vagrantfile holds what all VMs share and loads one file per VM from `machines/`
(`<vm>.rb`, its own `Vagrant.configure` block): adding or removing a VM adds or removes
its file and leaves the Vagrantfile as it was, so growing a stack changes nothing that
exists. Every
private network names the isolated libvirt network bedform created for its cidr, with
`forward_mode none` and `always_destroy false`, so vagrant-libvirt neither makes a NAT
network nor deletes ours; the management network is the instance's own isolated one.
Under VirtualBox, private networks are internal networks (no host-only adapter).
"""

from __future__ import annotations

import hashlib
import json

import attrs

from bedform.providers.vagrant.config import VagrantConf, VmPlan

MACHINES_DIR = "machines"
ROOT_SSH_SCRIPT = "cp -r /home/vagrant/.ssh /root/ && chown -R root:root /root/.ssh"
"""The provisioner EnOSlib runs: root logs in with the Vagrant key."""


@attrs.frozen
class Names:
    """libvirt names of one provider instance (unique on this machine per stack)."""

    domain_prefix: str
    management_network: str
    networks: dict[str, str]
    """cidr -> libvirt network name."""


def _ruby(text: str) -> str:
    """A Ruby double-quoted string literal (JSON escapes are valid Ruby escapes)."""
    return json.dumps(text).replace("#{", "\\#{")


def _indent(snippet: str, spaces: int) -> list[str]:
    return [(" " * spaces + line) if line.strip() else "" for line in snippet.splitlines()]


def render(conf: VagrantConf, names: Names, header: str) -> str:
    """The Vagrantfile text (deterministic: same configuration, same bytes)."""
    management = conf.management_cidr
    lines = [
        f"# {header}",
        "# Rendered by bedform: edits are overwritten at the next apply.",
        'Vagrant.configure("2") do |config|',
        "  config.vm.box_check_update = false",
        '  config.vm.synced_folder ".", "/vagrant", disabled: true',
        *_indent(conf.config_extra, 2),
        "  config.vm.provider :libvirt do |lv|",
        f"    lv.default_prefix = {_ruby(names.domain_prefix)}",
        f"    lv.management_network_name = {_ruby(names.management_network)}",
        f"    lv.management_network_address = {_ruby(management)}",
        '    lv.management_network_mode = "none"',
        "    lv.management_network_keep = true",
        "  end",
    ]
    lines += [
        "end",
        "# one file per VM, each written before its `vagrant up`",
        f'Dir.glob(File.join(__dir__, "{MACHINES_DIR}", "*.rb")).sort.each {{ |path| load path }}',
    ]
    return "\n".join(lines) + "\n"


def machine(vm: VmPlan, names: Names) -> str:
    """The text of `machines/<vm>.rb`: the definition of one VM."""
    lines = ['# Rendered by bedform: edits are overwritten at the next apply.',
             'Vagrant.configure("2") do |config|', *_machine(vm, names), "end"]
    return "\n".join(lines) + "\n"


def _machine(vm: VmPlan, names: Names) -> list[str]:
    lines = [
        f"  config.vm.define {_ruby(vm.name)} do |my|",
        f"    my.vm.hostname = {_ruby(vm.name)}",
        f"    my.vm.box = {_ruby(vm.box)}",
        f'    my.vm.provision "shell", inline: {_ruby(ROOT_SSH_SCRIPT)}',
        *_indent(vm.config_extra_vm, 4),
    ]
    for cidr, address in vm.addresses:
        network = names.networks[cidr]
        lines.append(
            f"    my.vm.network :private_network, ip: {_ruby(address)}, auto_config: true, "
            f"libvirt__network_name: {_ruby(network)}, libvirt__forward_mode: \"none\", "
            f"libvirt__dhcp_enabled: false, libvirt__always_destroy: false, "
            f"virtualbox__intnet: {_ruby(network)}")
    lines += [
        "    my.vm.provider :libvirt do |lv|",
        f"      lv.cpus = {vm.cores}",
        f"      lv.memory = {vm.memory}",
        "    end",
        "    my.vm.provider :virtualbox do |vb|",
        f"      vb.cpus = {vm.cores}",
        f"      vb.memory = {vm.memory}",
        "    end",
        "  end",
    ]
    return lines


def digest(text: str) -> str:
    """The content digest the plan compares."""
    return hashlib.sha256(text.encode()).hexdigest()
