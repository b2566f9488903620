#!/usr/bin/env python3
"""EnOSlib-style use of the OpenStack provider: a gateway and two workers.

    bedform emulate openstack &      # then export the OS_CLIENT_CONFIG_FILE line it prints
    openstack --os-cloud bedform-emulator keypair create \
        --public-key ~/.ssh/id_ed25519.pub mykey
    python examples/openstack_enoslib_style.py
"""

from __future__ import annotations

from bedform import Openstack, OpenstackConf

conf = (OpenstackConf.from_settings(key_name="mykey", image="debian-12", user="debian",
                                    cloud="bedform-emulator", prefix="enoslib-style")
        .add_machine(roles=["gateway"], flavour="m1.small", number=1)
        .add_machine(roles=["worker"], flavour="m1.tiny", number=2)
        .add_network("lan")
        .finalize())
provider = Openstack(conf, echo=print)
roles, networks = provider.init()          # a second run reloads: nothing is created again
for host in roles["worker"]:
    print(host.alias, host.address, "through", host.extra["gateway"])
print(networks["lan"])
provider.destroy()
