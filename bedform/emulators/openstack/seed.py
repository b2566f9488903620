"""What a fresh emulated cloud holds: flavors, images, the external network, quotas."""

from __future__ import annotations

from .model import Flavor, Image, dashed_id

#: m1.* flavors have ids equal to their names (EnOSlib looks flavors up by
#: ``name == id``); ``m1.xlarge`` and ``baremetal`` have ids that differ from
#: their names, as on most real clouds.
DEFAULT_FLAVORS: tuple[Flavor, ...] = (
    Flavor("m1.tiny", "m1.tiny", vcpus=1, ram=512, disk=1),
    Flavor("m1.small", "m1.small", vcpus=1, ram=2048, disk=20),
    Flavor("m1.medium", "m1.medium", vcpus=2, ram=4096, disk=40,
           extra_specs={"hw:cpu_policy": "shared"}),
    Flavor("m1.large", "m1.large", vcpus=4, ram=8192, disk=80,
           extra_specs={"hw:cpu_policy": "shared"}),
    Flavor("5", "m1.xlarge", vcpus=8, ram=16384, disk=160,
           extra_specs={"hw:cpu_policy": "shared", "hw:mem_page_size": "any"}),
    Flavor(dashed_id("flavor", "baremetal"), "baremetal", vcpus=48, ram=131072, disk=240,
           extra_specs={"resources:CUSTOM_BAREMETAL": "1", "resources:VCPU": "0",
                        "resources:MEMORY_MB": "0", "resources:DISK_GB": "0"}),
)  # fmt: skip

#: Public images; ``os_admin_user`` is the login the image's cloud-init creates.
DEFAULT_IMAGES: tuple[Image, ...] = (
    Image(dashed_id("image", "debian-12"), "debian-12", "debian", "12", "debian",
          size=398_458_880, min_disk=1),
    Image(dashed_id("image", "ubuntu-22.04"), "ubuntu-22.04", "ubuntu", "22.04", "ubuntu",
          size=671_350_784, min_disk=3),
    Image(dashed_id("image", "ubuntu-24.04"), "ubuntu-24.04", "ubuntu", "24.04", "ubuntu",
          size=597_820_416, min_disk=3),
    Image(dashed_id("image", "cirros-0.6.2"), "cirros-0.6.2", "cirros", "0.6.2", "cirros",
          size=21_430_272, min_disk=1),
)  # fmt: skip

#: The external network every project sees (devstack's addresses).
EXTERNAL_NETWORK = "public"
EXTERNAL_SUBNET = "public-subnet"
EXTERNAL_CIDR = "172.24.4.0/24"

#: Per-project limits, as a stock Nova and Neutron set them.
DEFAULT_QUOTAS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
}
