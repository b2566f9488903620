"""The Vagrantfile, the isolated network definitions and `vagrant status` parsing:
everything the provider decides without a VM."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bedform.errors import ProviderError
from bedform.providers.base import DriverContext
from bedform.providers.vagrant import libvirt
from bedform.providers.vagrant.client import VagrantClient
from bedform.providers.vagrant.driver import VagrantDriver

SECTION = {
    "config_extra": 'config.vm.post_up_message = "hello"',
    "resources": {
        "machines": [{"roles": ["server"], "flavour": "tiny"},
                     {"roles": ["client"], "number": 2, "flavour": "small",
                      "config_extra_vm": "my.vm.boot_timeout = 600"}],
        "networks": [{"cidr": "192.168.56.0/24", "roles": ["private"]}],
    },
}


def expand(tmp_path: Path, section=SECTION, stack_id="stack-1"):
    driver = VagrantDriver(DriverContext("st", stack_id, tmp_path))
    return {r.address: r for r in driver.expand("vms", section, {})}


def write_files(tmp_path: Path, section=SECTION) -> str:
    """The Vagrantfile and the VMs' files, written as apply does; all their text."""
    driver = VagrantDriver(DriverContext("st", "stack-1", tmp_path))
    resources = {r.address: r for r in driver.expand("vms", section, {})}
    (tmp_path / "Vagrantfile").write_text(resources["vms.vagrantfile[main]"].inputs["content"])
    driver.write_machine_files()
    return "".join(path.read_text() for path in
                   [tmp_path / "Vagrantfile", *sorted((tmp_path / "machines").glob("*.rb"))])


def test_vagrantfile_lives_in_the_state_directory_and_names_isolated_networks(tmp_path):
    resources = expand(tmp_path)
    vagrantfile = resources["vms.vagrantfile[main]"].inputs
    assert vagrantfile["path"] == str(tmp_path / "Vagrantfile")
    text = write_files(tmp_path)
    assert sorted(p.name for p in (tmp_path / "machines").iterdir()) == \
        ["enos-0.rb", "enos-1-1.rb", "enos-1-2.rb"]
    mgmt = resources["vms.network[management]"].inputs["name"]
    private = resources["vms.network[192.168.56.0/24]"].inputs["name"]
    assert f'lv.management_network_name = "{mgmt}"' in text
    assert 'lv.management_network_mode = "none"' in text
    assert text.count(f'libvirt__network_name: "{private}"') == 3
    assert text.count('libvirt__forward_mode: "none"') == 3
    assert 'config.vm.post_up_message = "hello"' in text
    assert text.count("my.vm.boot_timeout = 600") == 2
    assert 'ip: "192.168.56.245"' in text and 'ip: "192.168.56.243"' in text
    assert "lv.memory = 1024" in text


def test_a_flavour_change_touches_one_vm_and_growth_adds_only(tmp_path):
    before = expand(tmp_path)
    section = {**SECTION, "resources": {**SECTION["resources"], "machines": [
        {"roles": ["server"], "flavour": "small"}, SECTION["resources"]["machines"][1]]}}
    after = expand(tmp_path, section)
    changed = [a for a in before if before[a].inputs != after[a].inputs]
    assert changed == ["vms.machine[enos-0]"]     # its own file, not the Vagrantfile
    grown = {**SECTION, "resources": {**SECTION["resources"], "machines": [
        *SECTION["resources"]["machines"], {"roles": ["server"], "flavour": "tiny"}]}}
    after = expand(tmp_path, grown)
    assert [a for a in before if before[a].inputs != after[a].inputs] == []
    assert set(after) - set(before) == {"vms.machine[enos-2]"}


def test_names_differ_between_stacks(tmp_path):
    one, two = expand(tmp_path, stack_id="a"), expand(tmp_path, stack_id="b")
    assert one["vms.machine[enos-0]"].identity != two["vms.machine[enos-0]"].identity
    bridge = one["vms.network[management]"].inputs["bridge"]
    assert len(bridge) <= 15 and bridge != two["vms.network[management]"].inputs["bridge"]


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed")
@pytest.mark.parametrize("backend", ["libvirt", "virtualbox"])
def test_vagrant_validates_the_rendered_file(tmp_path, backend):
    write_files(tmp_path, {**SECTION, "backend": backend})
    done = subprocess.run(["vagrant", "validate"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env={"VAGRANT_CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin",
                               "HOME": str(Path.home())})
    assert done.returncode == 0, done.stdout + done.stderr


def test_network_definitions_are_isolated():
    xml = libvirt.network_xml("n", "bfv1", "192.168.56.0/24", dhcp=True)
    assert "<forward" not in xml and "<dns enable=\"no\"" in xml
    assert 'start="192.168.56.2"' in xml
    assert "<dhcp" not in libvirt.network_xml("n", "bfv1", "192.168.56.0/24", dhcp=False)


@pytest.mark.parametrize("xml", [
    "<network><name>default</name><forward mode='nat'/><dns enable='no'/></network>",
    "<network><name>r</name><forward mode='route'/><dns enable='no'/></network>",
    "<network><name>f</name><forward/><dns enable='no'/></network>",
    "<network><name>d</name></network>",
])
def test_a_network_that_would_forward_or_resolve_is_refused(xml):
    with pytest.raises(ProviderError) as caught:
        libvirt.check_isolated(xml)
    assert "isolated" in caught.value.hint or "dns" in caught.value.hint.lower()


def test_machine_readable_status_parsing(tmp_path):
    output = "\n".join([
        "1700000000,enos-0,metadata,provider,libvirt",
        "1700000000,enos-0,provider-name,libvirt",
        "1700000000,enos-0,state,running",
        "1700000000,enos-0,state-human-short,running",
        "1700000000,enos-1,provider-name,libvirt",
        "1700000000,enos-1,state,shutoff",
        "1700000000,enos-1,state-human-short,shutoff",
        "1700000000,enos-2,provider-name,libvirt",
        "1700000000,enos-2,state,not_created",
        "1700000000,enos-2,state-human-long,The environment has not yet been created."
        " Run `vagrant up` to%!(VAGRANT_COMMA) create it.",
        "1700000000,,ui,info,Current machine states:",
    ])
    statuses = VagrantClient(tmp_path).vagrant._parse_status(output)
    assert {s.name: s.state for s in statuses} == {"enos-0": "running", "enos-1": "poweroff",
                                     "enos-2": "not_created"}
