"""The EnOSlib-style `Openstack` class: init, reload without changes, destroy."""

from __future__ import annotations

from bedform import Openstack, OpenstackConf
from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from tests.openstack.conftest import connection


def test_init_reload_destroy(emu, tmp_path):
    conf = (OpenstackConf.from_settings(key_name="mykey", image="cirros-0.6.2",
                                        user="cirros", cloud=DEFAULT_CLOUD_NAME,
                                        prefix="fac")
            .add_machine(roles=["server"], flavour="m1.tiny", number=2)
            .add_network("lan").finalize())
    provider = Openstack(conf, state_dir=tmp_path / "state")
    roles, networks = provider.init()
    assert sorted(h.alias for h in roles["server"]) == ["fac-0-0", "fac-0-1"]
    assert all(h.user == "cirros" and h.extra["gateway_user"] == "cirros"
               for h in roles["server"])
    assert str(networks["lan"][0].network) == "10.87.23.0/24"
    emu.clear_requests()
    again, _ = provider.init()
    assert [h.address for h in again["server"]] == [h.address for h in roles["server"]]
    assert [r for r in emu.requests() if r["method"] in ("POST", "PUT", "DELETE")
            and not r["path"].startswith("/v3/")] == []
    assert provider.is_created()
    provider.destroy()
    assert list(connection(emu).compute.servers()) == []
