"""`extra_ips` (issue 19): EnOSlib's extra Neutron ports on the shared network, their
fixed addresses in the inventory's networks (`extra_ips`), through the Python API of
`ChameleonBaremetal` (EnOSlib's `CBM`); destroy deletes them."""

from __future__ import annotations

import ipaddress

import openstack

from bedform.api.chameleon import CBM, CBMConf
from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from bedform.objects import networks_from_dict, networks_to_dict
from bedform.providers.chameleon.inventory import ChameleonNetwork
from tests.chameleon.conftest import blazar


def test_extra_ports_are_the_networks_extra_ips(site, tmp_path):
    conf = (CBMConf.from_settings(key_name="mykey", cloud=DEFAULT_CLOUD_NAME,
                                  lease_name="xips", walltime="01:00:00", extra_ips=2)
            .add_machine(roles=["server"], flavour="compute_haswell", number=1)
            .add_network("lan").finalize())
    provider = CBM(conf, state_dir=tmp_path / "state")
    roles, networks = provider.init()
    conn = openstack.connect(cloud=DEFAULT_CLOUD_NAME)
    ports = {p.name: p for p in conn.network.ports() if p.name.startswith("xips-port-")}
    assert sorted(ports) == ["xips-port-0", "xips-port-1"]
    assert all(not p.device_id for p in ports.values())  # made for the user, unattached
    fixed = [ports[f"xips-port-{n}"].fixed_ips[0]["ip_address"] for n in (0, 1)]

    [network] = networks["lan"]
    assert isinstance(network, ChameleonNetwork)
    assert network.extra_ips == fixed
    assert str(network.network) == "10.140.80.0/22"          # sharednet1's subnet
    assert all(ipaddress.ip_address(ip) in network.network for ip in fixed)
    assert not set(fixed) & {h.address for h in roles["server"]}
    assert networks_from_dict(networks_to_dict(networks)) == networks
    assert networks_from_dict(networks_to_dict(networks))["lan"][0].extra_ips == fixed

    _, networks_again = provider.init()                      # reload: same addresses
    assert networks_again["lan"][0].extra_ips == fixed
    provider.destroy()
    assert [p for p in conn.network.ports() if p.name.startswith("xips-")] == []
    assert blazar().lease.list() == []
    conn.close()

