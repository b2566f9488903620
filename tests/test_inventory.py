"""Ansible inventory, ssh config and JSON outputs of bedform.inventory."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bedform.inventory import (
    GATEWAY_KEYS,
    Hop,
    ansible_host_vars,
    ansible_inventory,
    jump_hops,
    outputs_json,
    ssh_common_args,
    ssh_config,
)
from bedform.objects import DefaultNetwork, Host, Networks, Roles, Serializable

SSH = shutil.which("ssh") or "/usr/bin/ssh"
needs_ssh = pytest.mark.skipif(not os.path.exists(SSH), reason="no ssh client")


class Sensor(Serializable):
    """A non-Host member (unregistered): skipped by Ansible/ssh outputs."""

    def __init__(self, address):
        self.address = address
        self.alias = address.split(".")[0]


def parse_ansible_ini(text: str) -> dict[str, dict[str, dict]]:
    """What Ansible's INI inventory plugin does with host lines: shlex split with
    comments, `key=value` tokens, values through ast.literal_eval when they parse."""
    groups: dict[str, dict[str, dict]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        section = re.fullmatch(r"\[([^\]]+)\]", line)
        if section:
            current = groups.setdefault(section.group(1), {})
            continue
        assert current is not None, f"host line outside a group: {line}"
        tokens = shlex.split(line, comments=True)
        variables = {}
        for token in tokens[1:]:
            assert "=" in token, f"not key=value: {token!r}"
            key, value = token.split("=", 1)
            with contextlib.suppress(ValueError, SyntaxError):
                value = ast.literal_eval(value)
            variables[key] = value
        current[tokens[0]] = variables
    return groups


def expand_ssh_tokens(command: str, host: str, port: int) -> str:
    """ssh's %-expansion of a ProxyCommand (%h, %p, %%)."""
    return re.sub(r"%([%hp])", lambda m: {"%": "%", "h": host, "p": str(port)}[m.group(1)],
                  command)


def option(args: list[str], name: str) -> str | None:
    """Value of `-o Name=value` in an ssh argument list."""
    for index, arg in enumerate(args):
        if arg == "-o" and args[index + 1].startswith(name + "="):
            return args[index + 1][len(name) + 1:]
    return None


def ssh_g(config: Path, alias: str) -> dict[str, str]:
    out = subprocess.run([SSH, "-G", "-F", str(config), alias], capture_output=True,
                         text=True, check=True, timeout=30, stdin=subprocess.DEVNULL)
    resolved = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        resolved.setdefault(key, value)
    return resolved


@pytest.fixture
def two_hop_host():
    return Host("10.16.0.7", "parasilo-7-kavlan-4", "root", "/keys/id_rsa", 22, {
        "gateway": "access.grid5000.fr",
        "gateway_user": "alice",
        "internal_gateway": "kavlan-4.rennes.grid5000.fr",
        "internal_gateway_port": 2200,
    })


# --------------------------------------------------------------------------- hops


def test_jump_hops_outermost_first_with_user_defaults():
    assert jump_hops(Host("h")) == []
    one = Host("h", user="root", extra={"gateway": "gw", "gateway_port": "2222"})
    assert jump_hops(one) == [Hop("gw", "root", 2222)]
    two = Host("h", user="root", extra={"gateway": "gw", "gateway_user": "alice",
                                        "internal_gateway": "igw",
                                        "internal_gateway_user": "bob"})
    assert jump_hops(two) == [Hop("gw", "alice"), Hop("igw", "bob")]
    only_internal = Host("h", extra={"internal_gateway": "igw"})
    assert jump_hops(only_internal) == [Hop("igw")]
    assert Hop("2001:db8::1", "u", 22).spec() == "u@[2001:db8::1]:22"
    assert Hop("gw").spec() == "gw"
    with pytest.raises(ValueError, match="gateway_port"):
        jump_hops(Host("h", extra={"gateway": "gw", "gateway_port": "x"}))


# --------------------------------------------------------------------------- Ansible


def test_ansible_inventory_groups_hosts_and_vars(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server = Host("10.0.0.2", "server-1", "root", "keys/id", 2222,
                  {"ansible_become": True, "disk": "/dev/sdb", "count": 3,
                   "zero": "012", "tags": ["a", "b c"], "note": "has # and 'q' and \"dq\"",
                   "multi": "line1\nline2", "empty": "", "none": None, "num_str": "12"})
    client = Host("10.0.0.3", "client-1", "debian")
    sensor = Sensor("m3-1.grenoble.iot-lab.info")
    roles = Roles(server=[server], client=[client], all_nodes=[client, server],
                  iot=[sensor])
    text = ansible_inventory(roles, Networks(lan=[DefaultNetwork("10.0.0.0/24")]))
    groups = parse_ansible_ini(text)
    assert list(groups) == ["all_nodes", "client", "iot", "server"]  # sorted
    assert list(groups["all_nodes"]) == ["client-1", "server-1"]  # by alias
    assert groups["iot"] == {}  # non-Host members are skipped
    assert groups["all_nodes"]["server-1"] == groups["server"]["server-1"]
    v = groups["server"]["server-1"]
    assert v["ansible_host"] == "10.0.0.2"
    assert v["ansible_user"] == "root"
    assert v["ansible_port"] == 2222
    assert v["ansible_ssh_private_key_file"] == str(tmp_path / "keys" / "id")
    assert shlex.split(v["ansible_ssh_common_args"]) == [
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    # every other extra key comes back with its type
    assert v["ansible_become"] is True
    assert v["disk"] == "/dev/sdb"
    assert v["count"] == 3
    assert v["zero"] == "012" and v["num_str"] == "12"  # strings stay strings
    assert v["tags"] == ["a", "b c"]
    assert v["note"] == "has # and 'q' and \"dq\""
    assert v["multi"] == "line1\nline2"
    assert v["empty"] == "" and v["none"] is None
    c = groups["client"]["client-1"]
    assert "ansible_port" not in c and "ansible_ssh_private_key_file" not in c
    assert c["ansible_user"] == "debian"
    assert ansible_host_vars(server)["count"] == 3


def test_ansible_one_hop_proxycommand():
    host = Host("10.0.0.9", "n9", "root", extra={"gateway": "gw.example",
                                                 "gateway_port": 2022, "forward_agent": True})
    args = shlex.split(ssh_common_args(host))
    assert option(args, "StrictHostKeyChecking") == "no"
    assert option(args, "UserKnownHostsFile") == "/dev/null"
    assert option(args, "ForwardAgent") == "yes"
    proxy = expand_ssh_tokens(option(args, "ProxyCommand"), "10.0.0.9", 22)
    hop = shlex.split(proxy)
    assert hop[:3] == ["ssh", "-W", "10.0.0.9:22"]
    assert hop[-1] == "gw.example"
    assert hop[hop.index("-l") + 1] == "root"  # gateway_user defaults to the host user
    assert hop[hop.index("-p") + 1] == "2022"
    assert option(hop, "StrictHostKeyChecking") == "no"
    assert not set(GATEWAY_KEYS) & set(ansible_host_vars(host))


def test_ansible_two_hop_chain_decodes_outermost_first(two_hop_host):
    groups = parse_ansible_ini(ansible_inventory(Roles(lan=[two_hop_host])))
    common = groups["lan"]["parasilo-7-kavlan-4"]["ansible_ssh_common_args"]
    args = shlex.split(common)  # what Ansible's ssh plugin does
    # the target's ssh expands its ProxyCommand and runs it: ssh to the INNER gateway...
    inner_cmd = shlex.split(expand_ssh_tokens(option(args, "ProxyCommand"), "10.16.0.7", 22))
    assert inner_cmd[:3] == ["ssh", "-W", "10.16.0.7:22"]
    assert inner_cmd[-1] == "kavlan-4.rennes.grid5000.fr"
    assert inner_cmd[inner_cmd.index("-l") + 1] == "root"
    assert inner_cmd[inner_cmd.index("-p") + 1] == "2200"
    # ...whose own ProxyCommand goes through the OUTER gateway
    outer_cmd = shlex.split(expand_ssh_tokens(option(inner_cmd, "ProxyCommand"),
                                              "kavlan-4.rennes.grid5000.fr", 2200))
    assert outer_cmd[:3] == ["ssh", "-W", "kavlan-4.rennes.grid5000.fr:2200"]
    assert outer_cmd[-1] == "access.grid5000.fr"
    assert outer_cmd[outer_cmd.index("-l") + 1] == "alice"
    assert "-p" not in outer_cmd and option(outer_cmd, "ProxyCommand") is None


@needs_ssh
def test_ansible_two_hop_chain_with_real_ssh(tmp_path, two_hop_host):
    """Run the real ssh client with the generated arguments; a fake `ssh` on PATH
    records how each ProxyCommand is invoked, proving the %-escaping and quoting."""
    log = tmp_path / "calls.jsonl"
    fake_dir = tmp_path / "bin"
    fake_dir.mkdir()
    fake = fake_dir / "ssh"
    fake.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        with open({str(log)!r}, "a") as f:
            f.write(json.dumps(sys.argv[1:]) + "\\n")
        sys.exit(1)
    """))
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_dir}:{os.environ.get('PATH', '')}",
           "SHELL": "/bin/sh"}
    base = [SSH, "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]

    def run(args: list[str]) -> list[str]:
        log.unlink(missing_ok=True)
        subprocess.run([*base, *args], env=env, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
        return json.loads(log.read_text().splitlines()[0])

    common = shlex.split(ssh_common_args(two_hop_host))
    first = run([*common, "-p", "22", "-l", "root", "10.16.0.7", "true"])
    assert first[:2] == ["-W", "10.16.0.7:22"]
    assert first[-1] == "kavlan-4.rennes.grid5000.fr"
    assert first[first.index("-p") + 1] == "2200"
    # the inner hop's ssh, run for real, invokes the outer hop with its own host/port
    second = run(first)
    assert second[:2] == ["-W", "kavlan-4.rennes.grid5000.fr:2200"]
    assert second[-1] == "access.grid5000.fr"
    assert second[second.index("-l") + 1] == "alice"


def test_extra_ansible_ssh_common_args_overrides_generated():
    vagrant = Host("127.0.0.1", "vm1", "vagrant", port=2200, extra={
        "gateway": "ignored.example",
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o IdentitiesOnly=yes",
    })
    v = parse_ansible_ini(ansible_inventory(Roles(r=[vagrant])))["r"]["vm1"]
    assert v["ansible_ssh_common_args"] == "-o StrictHostKeyChecking=no -o IdentitiesOnly=yes"


def test_ansible_inventory_rejects_conflicts_and_bad_names():
    a = Host("10.0.0.1", "n1")
    b = Host("10.0.0.2", "n1")
    with pytest.raises(ValueError, match="n1"):
        ansible_inventory(Roles(x=[a], y=[b]))
    # equal hosts under several roles are fine
    ansible_inventory(Roles(x=[a], y=[Host("10.0.0.1", "n1")]))
    with pytest.raises(ValueError, match="group"):
        ansible_inventory(Roles({"bad role": [a]}))
    with pytest.raises(ValueError, match="variable"):
        ansible_inventory(Roles(x=[Host("h", extra={"bad key": 1})]))
    with pytest.raises(ValueError, match="alias"):
        ansible_inventory(Roles(x=[Host("h", alias="a b")]))


def test_ansible_inventory_empty_role_and_determinism():
    hosts = [Host(f"10.0.0.{i}", f"n{i}") for i in (3, 1, 2)]
    one = ansible_inventory(Roles(b=hosts, a=[], c=hosts[:1]))
    two = ansible_inventory(Roles(c=hosts[:1], a=[], b=list(reversed(hosts))))
    assert one == two
    assert parse_ansible_ini(one)["a"] == {}
    assert list(parse_ansible_ini(one)["b"]) == ["n1", "n2", "n3"]


# --------------------------------------------------------------------------- ssh config


@needs_ssh
def test_ssh_config_resolves_with_ssh_g(tmp_path, two_hop_host):
    plain = Host("10.0.0.3", "client-1", "debian", "/keys/client key", 2222)
    direct = Host("10.0.0.4", "bare")
    roles = Roles(lan=[two_hop_host, plain], other=[direct, Sensor("m3-1.x")])
    config = tmp_path / "ssh_config"
    config.write_text(ssh_config(roles))

    g = ssh_g(config, "parasilo-7-kavlan-4")
    assert g["hostname"] == "10.16.0.7"
    assert g["user"] == "root"
    assert g["port"] == "22"
    assert g["identityfile"] == "/keys/id_rsa"
    assert g["identitiesonly"] == "yes"
    assert g["proxyjump"] == "alice@access.grid5000.fr,root@kavlan-4.rennes.grid5000.fr:2200"
    assert g["stricthostkeychecking"] == "false"
    assert g["userknownhostsfile"] == "/dev/null"
    assert g["loglevel"] == "ERROR"

    c = ssh_g(config, "client-1")
    assert (c["hostname"], c["user"], c["port"]) == ("10.0.0.3", "debian", "2222")
    assert c["identityfile"] == "/keys/client key"
    assert "proxyjump" not in c

    b = ssh_g(config, "bare")
    assert b["hostname"] == "10.0.0.4" and b["identitiesonly"] == "no"

    # ssh passes -F to the jump hosts: their block applies to them
    gw = ssh_g(config, "kavlan-4.rennes.grid5000.fr")
    assert gw["stricthostkeychecking"] == "false"
    assert gw["userknownhostsfile"] == "/dev/null"


def test_ssh_config_text_blocks_sorted_and_options():
    hosts = [Host("10.0.0.2", "b"), Host("10.0.0.1", "a", extra={"forward_agent": "yes"}),
             Host("10.0.0.3", "c", extra={"gateway": "2001:db8::1", "gateway_user": "u"})]
    text = ssh_config(Roles(r=hosts, s=hosts[:1]))
    assert re.findall(r"^Host (\S+)$", text, re.M) == ["a", "b", "c", "2001:db8::1"]
    block_a = text.split("Host a\n")[1].split("\n\n")[0]
    assert "  ForwardAgent yes" in block_a and "ProxyJump" not in block_a
    assert "  ProxyJump u@[2001:db8::1]" in text
    assert text.rstrip().endswith("Match all\n  Include ~/.ssh/config")
    assert "Include" not in ssh_config(Roles(r=hosts), include_user_config=False)


@needs_ssh
def test_ssh_config_escapes_and_honours_extra_ssh_args(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fabric = Host("10.20.0.5", "node-1", "ubuntu", "slice%key", extra={
        "ansible_ssh_common_args":
            "-o ProxyCommand='ssh -W %h:%p -q bastion_user@bastion.fabric' "
            "-o StrictHostKeyChecking=accept-new",
    })
    config = tmp_path / "cfg"
    config.write_text(ssh_config(Roles(n=[fabric]), include_user_config=False))
    g = ssh_g(config, "node-1")
    assert g["proxycommand"] == "ssh -W %h:%p -q bastion_user@bastion.fabric"
    assert g["stricthostkeychecking"] == "accept-new"  # the extra wins, as in Ansible
    # relative key file made absolute; '%' escaped (ssh -G prints it unexpanded)
    assert g["identityfile"] == str(tmp_path / "slice%%key")


def test_ssh_config_rejects_conflicting_aliases_and_bad_patterns():
    with pytest.raises(ValueError, match="n1"):
        ssh_config(Roles(x=[Host("10.0.0.1", "n1")], y=[Host("10.0.0.2", "n1")]))
    with pytest.raises(ValueError, match="pattern"):
        ssh_config(Roles(x=[Host("10.0.0.1", "web*")]))


# --------------------------------------------------------------------------- JSON


def test_outputs_json_document():
    shared = Host("10.0.0.2", "n2", "root", extra={"gateway": "gw"})
    other = Host("10.0.0.1", "n1")
    sensor = Sensor("m3-1.grenoble.iot-lab.info")
    roles = Roles(b=[shared, other], a=[shared], iot=[sensor])
    nets = Networks(lan=[DefaultNetwork("2001:db8::/64"), DefaultNetwork("10.0.0.0/24")])
    doc = outputs_json(roles, nets)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["roles"] == {"a": ["n2"], "b": ["n1", "n2"], "iot": ["m3-1"]}
    assert [roles["b"][i].alias for i in range(2)] == doc["roles"]["b"]
    assert list(doc["hosts"]) == ["m3-1", "n1", "n2"]
    assert doc["hosts"]["n2"] == shared.to_dict()
    assert doc["hosts"]["m3-1"] == {"type": "Sensor",
                                    "address": "m3-1.grenoble.iot-lab.info",
                                    "alias": "m3-1"}
    assert [n["address"] for n in doc["networks"]["lan"]] == ["10.0.0.0/24", "2001:db8::/64"]
    assert outputs_json(Roles())["networks"] == {}
    with pytest.raises(ValueError, match="n1"):
        outputs_json(Roles(x=[Host("10.0.0.1", "n1")], y=[Host("10.0.0.9", "n1")]))


def test_every_host_gets_python3_as_its_ansible_interpreter():
    """Issue 17 item 14: playbooks on minimal images need it, as EnOSlib sets it."""
    plain = Host("10.0.0.1", "n1", "root")
    own = Host("10.0.0.2", "n2", extra={"ansible_python_interpreter": "/opt/py/bin/python"})
    groups = parse_ansible_ini(ansible_inventory(Roles(r=[plain, own])))
    assert groups["r"]["n1"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert groups["r"]["n2"]["ansible_python_interpreter"] == "/opt/py/bin/python"
