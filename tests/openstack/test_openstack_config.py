"""OpenstackConf: EnOSlib's fields and builders, and errors that name the YAML path."""

from __future__ import annotations

import pytest

from bedform.errors import ConfigError
from bedform.providers.openstack.config import OpenstackConf, load


def base(**top):
    return {"key_name": "k", "image": "debian-12", "user": "debian", **top,
            "resources": {"machines": [{"roles": ["a"], "flavour": "m1.tiny",
                                        "number": 2}], "networks": ["lan"]}}


def test_builder_equals_dictionary_and_fills_machines():
    built = (OpenstackConf.from_settings(key_name="k", image="debian-12", user="debian")
             .add_machine(roles=["a"], flavour="m1.tiny", number=2)
             .add_network("lan").finalize())
    assert built.to_dict() == load(base()).to_dict()
    assert built.machines[0].image == "debian-12" and built.machines[0].user == "debian"
    assert built.gateway_user == "debian"                  # EnOSlib leaves None
    assert built.names("stk") == {"prefix": "stk", "network": "stk-network",
                                  "subnet": "stk-subnet", "router": "stk-router",
                                  "secgroup": "stk-secgroup"}
    assert built.pool() == {"start": "10.87.23.10", "end": "10.87.23.100"}


@pytest.mark.parametrize(("section", "path", "words"), [
    ({**base(), "flavor": "x"}, ("flavor",), "unknown field"),
    (base(subnet={"name": "s", "cidr": "10.0.0.0/33"}), ("subnet", "cidr"), "CIDR"),
    (base(allocation_pool={"start": "10.87.24.1", "end": "10.87.24.9"}),
     ("allocation_pool", "start"), "outside the subnet"),
    (base(allocation_pool={"start": "10.87.23.50", "end": "10.87.23.9"}),
     ("allocation_pool", "start"), "after its end"),
    (base(dns_nameservers=["8.8.8.8", "dns.example"]), ("dns_nameservers", 1), "IPv4"),
    (base(cloud="c", rc_file="/etc/hostname"), ("cloud",), "both set"),
    (base(rc_file="/nonexistent/openrc"), ("rc_file",), "is not a file"),
    (base(prefix="bad prefix"), ("prefix",), "does not match"),
    ({"key_name": "k", "image": "i", "user": "u",
      "resources": {"machines": [{"roles": ["a"], "number": 1}]}},
     ("resources", "machines", 0, "flavour"), "missing required field"),
])
def test_errors_name_the_field(section, path, words):
    with pytest.raises(ConfigError) as info:
        load(section)
    assert info.value.path == path, info.value
    assert words in str(info.value)
