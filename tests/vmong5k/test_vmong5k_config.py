"""VMonG5k configuration, placement and domain XML, without a testbed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.g5k.box import virsh
from bedform.errors import ConfigError
from bedform.providers.vmong5k import domain, placement
from bedform.providers.vmong5k.config import VMonG5kConf
from bedform.providers.vmong5k.kinds import domain_spec


def conf(**top: Any) -> VMonG5kConf:
    machines = top.pop("machines", [{"roles": ["vm"], "cluster": "parasilo"}])
    return VMonG5kConf.from_dictionary({"resources": {"machines": machines}, **top})


def error_of(**top: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        conf(**top)
    return caught.value


def test_enoslib_defaults() -> None:
    loaded = conf()
    assert loaded.image == "/grid5000/virt-images/debian11-x64-nfs.qcow2"
    assert (loaded.working_dir, loaded.strategy, loaded.subnet_type, loaded.domain_type) == \
        ("/tmp/enos_vmong5k", "cow", "slash_22", "kvm")
    machine = loaded.machines[0]
    assert (machine.number, machine.core, machine.mem, machine.site) == (1, 1, 512, "rennes")
    assert loaded.networks == ["enos_network"]
    # EnOSlib's default network list is shared between configurations: not here
    loaded.add_network("other")
    assert conf().networks == ["enos_network"]


def test_job_type_drops_deploy_and_flavours() -> None:
    loaded = conf(job_type=["deploy", "exotic"], machines=[
        {"roles": ["a"], "cluster": "parasilo", "flavour": "large", "number": 3},
        {"roles": ["b"], "cluster": "parasilo", "flavour_desc": {"core": 2, "mem": 1024}}])
    assert loaded.job_type == ["exotic"]
    assert [(m.core, m.mem) for m in loaded.machines] == [(4, 4096), (2, 1024)]


@pytest.mark.parametrize(("top", "path", "words"), [
    ({"imagee": "/x"}, ("imagee",), "unknown field"),
    ({"strategy": "clone"}, ("strategy",), "is not one of"),
    ({"image": "relative.qcow2"}, ("image",), "does not match"),
    ({"bridge": "a-bridge-name-too-long"}, ("bridge",), "does not match"),
    ({"direct_boot": {"initrd": "/boot/initrd.img"}}, ("direct_boot", "kernel"),
     "missing required field"),
    ({"direct_boot": {"kernel": "vmlinuz"}}, ("direct_boot", "kernel"), "does not match"),
    ({"machines": [{"roles": ["a"], "cluster": "parasilo", "flavour": "huge"}]},
     ("resources", "machines", 0, "flavour"), "is not one of"),
    ({"machines": [{"roles": ["a"], "cluster": "parasilo", "flavour": "tiny",
                    "flavour_desc": {"core": 1, "mem": 512}}]},
     ("resources", "machines", 0, "flavour"), "not both"),
    ({"machines": [{"roles": ["a"], "number": 2}]},
     ("resources", "machines", 0, "cluster"), "missing required field"),
    ({"machines": [{"roles": ["a"], "cluster": "parasillo"}]},
     ("resources", "machines", 0, "cluster"), "Did you mean 'parasilo'"),
    ({"machines": [{"roles": ["a"], "cluster": "parasilo",
                    "macs": ["00:16:3e:00:00:01"]}]},
     ("resources", "machines", 0, "macs"), "Computed from the subnet"),
    ({"machines": [{"roles": ["a"], "cluster": "parasilo",
                    "undercloud": ["gros-1.nancy.grid5000.fr"]}]},
     ("resources", "machines", 0, "undercloud"), "of the group's cluster"),
])
def test_bad_values_name_their_field(top: dict[str, Any], path: tuple[Any, ...],
                                     words: str) -> None:
    error = error_of(**top)
    assert error.path == path, error
    assert words in str(error)


def test_subnet_capacity_names_the_addresses_needed() -> None:
    placement.check_capacity(1021, "slash_22", 0)
    with pytest.raises(ConfigError, match="1022 VMs need 1022 addresses") as caught:
        placement.check_capacity(1022, "slash_22", 0)
    assert "slash_16" in caught.value.hint
    placement.check_capacity(3000, "slash_16", 0)


def test_addresses_follow_enoslib_derivation() -> None:
    subnets = ["10.158.4.0/22", "10.158.0.0/22"]
    first = placement.address(subnets, 0)
    assert first == {"ip": "10.158.0.2", "mac": "00:16:3e:9e:00:02",
                     "name": "virtual-158-0-2", "prefix": "22"}
    assert placement.address(subnets, 2)["mac"] == "00:16:3e:9e:00:04"
    assert placement.address(subnets, 1020)["ip"] == "10.158.3.254"
    assert placement.address(subnets, 1021)["ip"] == "10.158.4.2"
    assert placement.address(subnets, 0, skip=5)["ip"] == "10.158.0.7"


def test_slots_are_kept_and_new_vms_take_free_ones() -> None:
    assert placement.allocate_slots(["a", "b", "c"], {}) == {"a": 0, "b": 1, "c": 2}
    grown = placement.allocate_slots(["a", "b", "c", "x"], {"a": 0, "b": 1, "c": 2})
    assert grown == {"a": 0, "b": 1, "c": 2, "x": 3}
    after_shrink = placement.allocate_slots(["a", "c", "y"], {"a": 0, "c": 2})
    assert after_shrink == {"a": 0, "c": 2, "y": 1}


def test_node_count_as_enoslib() -> None:
    node = {"architecture": {"nb_threads": 32, "nb_cores": 16},
            "main_memory": {"ram_size": 128 * 1024 ** 3}}
    assert placement.node_count(100, 1, 512, node) == 4          # by threads
    assert placement.node_count(100, 1, 512, node, "core") == 7   # by cores
    assert placement.node_count(40, 1, 8192, node) == 3           # by memory
    assert placement.node_count(2, 16, 512, node) == 1            # 32 threads suffice
    assert placement.node_count(3, 32, 512, node) == 3            # at most one per VM


def test_rendered_xml_is_valid_for_libvirt(tmp_path: Path) -> None:
    xml = domain.render_xml(name="virtual-158-0-2", core=2, mem_mib=1024,
                            mac="00:16:3e:9e:00:02", disk="/tmp/d.qcow2",
                            key="ssh-ed25519 AAAA a@b", extra_disk="/tmp/e.raw")
    assert virsh.validate(xml)["interfaces"] == [{"mac": "00:16:3e:9e:00:02",
                                                  "bridge": "br0"}]
    assert libvirt_schema_errors(xml, tmp_path) in (None, "")


def libvirt_schema_errors(xml: str, tmp_path: Path) -> str | None:
    """libvirt's own RelaxNG verdict on a domain XML (None when not installed here)."""
    validator = shutil.which("virt-xml-validate")
    if not (validator and shutil.which("xmllint")):
        return None
    path = tmp_path / "d.xml"
    path.write_text(xml)
    done = subprocess.run([validator, str(path), "domain"], capture_output=True,
                          text=True, timeout=60)
    return "" if done.returncode == 0 else done.stderr


def test_direct_boot_and_bridge_reach_the_xml_of_every_vm(tmp_path: Path) -> None:
    loaded = conf(domain_type="qemu", bridge="bfmg0", direct_boot={
        "kernel": "/images/vmlinuz", "initrd": "/images/initrd.img",
        "cmdline": "root=/dev/vda rw console=ttyS0"})
    common = {"subnets": ["10.158.0.0/22"], "working_dir": loaded.working_dir,
              "domain_type": loaded.domain_type, "strategy": loaded.strategy,
              "bridge": loaded.bridge, "direct_boot": loaded.direct_boot}
    spec = domain_spec({"slot": 0, "flavour": {"core": 1, "mem": 512}}, common)
    xml = spec["xml"]
    assert "<kernel>/images/vmlinuz</kernel><initrd>/images/initrd.img</initrd>" \
           "<cmdline>root=/dev/vda rw console=ttyS0</cmdline>" in xml
    assert "<boot dev='hd'/>" not in xml and "<domain type=\"qemu\">" in xml
    assert virsh.validate(xml)["interfaces"] == [{"mac": "00:16:3e:9e:00:02",
                                                  "bridge": "bfmg0"}]
    assert libvirt_schema_errors(xml, tmp_path) in (None, "")
    # the defaults render EnOSlib's domain: boot from the disk, on br0
    plain = domain_spec({"slot": 0, "flavour": {"core": 1, "mem": 512}},
                        {**common, "bridge": conf().bridge, "direct_boot": None})["xml"]
    assert "<boot dev='hd'/>" in plain and "bridge=\"br0\"" in plain
    assert "ip link show bfmg0 " in domain.setup_script(working_dir="/w", image="/i",
                                                        bridge="bfmg0")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda x: x.replace("<name>vm1</name>", ""), "valid <name>"),
    (lambda x: x.replace("<memory unit='KiB'>524288</memory>", ""), "<memory>"),
    (lambda x: x.replace("<vcpu>1</vcpu>", "<vcpu>0</vcpu>"), "<vcpu>"),
    (lambda x: x.replace("00:16:3e:9e:00:02", "00:16:3e:9e:00"), "mac address"),
    (lambda x: x.replace("<domain type=\"kvm\">", "<domain type=\"lxc\">"), "virt type"),
    (lambda x: x.replace("</domain>", ""), "domain_definition"),
])
def test_box_virsh_rejects_what_libvirt_rejects(edit: Any, message: str) -> None:
    xml = domain.render_xml(name="vm1", core=1, mem_mib=512, mac="00:16:3e:9e:00:02",
                            disk="/tmp/d.qcow2")
    with pytest.raises(virsh.VirshError, match=message):
        virsh.validate(edit(xml))


def test_box_virsh_lifecycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(virsh, "STATE", tmp_path / "state")
    xml = domain.render_xml(name="vm1", core=1, mem_mib=512, mac="00:16:3e:9e:00:02",
                            disk=str(tmp_path / "missing.qcow2"))
    path = tmp_path / "vm1.xml"
    path.write_text(xml)
    assert virsh.main(["define", str(path)]) == 0
    assert virsh.main(["define", str(path)]) == 0    # redefining the same name: update
    own = f"<uuid>{domain.domain_uuid('00:16:3e:9e:00:02')}</uuid>"
    assert own in xml                                # the uuid derives from the MAC
    other = tmp_path / "other.xml"
    for uuid in ("<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>", ""):
        other.write_text(xml.replace(own, uuid))
        assert virsh.main(["define", str(other)]) == 1   # same name: another uuid or none
        assert "already exists" in capsys.readouterr().err
    assert virsh.main(["start", "vm1"]) == 1         # its disk does not exist
    assert "Cannot access storage file" in capsys.readouterr().err
    assert virsh.main(["list", "--all"]) == 0
    out = capsys.readouterr().out
    assert domain.parse_list(out) == {"vm1": "shut off"}
    assert virsh.main(["list"]) == 0
    assert domain.parse_list(capsys.readouterr().out) == {}
    assert virsh.main(["undefine", "vm1"]) == 0
    assert virsh.main(["domstate", "vm1"]) == 1
    assert (tmp_path / "state" / "calls.log").read_text().splitlines()[0] == \
        f"define {path}"


def test_a_big_batch_fits_one_command_line() -> None:
    common = {"subnets": ["10.156.0.0/22", "10.156.4.0/22"], "working_dir": "/w",
              "domain_type": "kvm", "strategy": "cow", "key": "ssh-ed25519 AAAA a@b"}
    vms = [domain_spec({"slot": slot, "flavour": {"core": 1, "mem": 512}}, common)
           for slot in range(1000)]
    script = domain.domains_script(working_dir="/w", create=vms)
    assert len(script) > 1_000_000   # far beyond exec's 128 KiB per argument
    command = domain.packed(script)
    assert len(command) < 64 * 1024
    unpacked = subprocess.run(["sh", "-c", command.removesuffix(" | sh")],
                              capture_output=True, text=True, timeout=30, check=True)
    assert unpacked.stdout == script
    assert domain.packed("true") == "true"
