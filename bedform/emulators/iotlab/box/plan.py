"""Names and addresses of an IoT-LAB box, pure functions of the inventory and the box id.

- the box namespace holds the bridges: `fe` (the frontends and this machine, on one /24
  of 198.18.0.0/16) and one `s<i>` per site (the site's frontend and boards, 10.<i+1>/16);
- each site frontend `<site>.iot-lab.info` is a namespace with `eth0` on `fe` and `eth1`
  on its site bridge;
- the consoles of a site's firmware boards live in one namespace (`serial-<site>`)
  holding every such board's address, served by one process;
- each Linux board (A8, RPi) of a running experiment is a namespace of its own,
  `node-<board>`, on its site bridge.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..inventory import Inventory

PREFIX = "iotbox"
UPLINK = "uplink"
FRONT_BRIDGE = "fe"


@dataclass(frozen=True)
class SitePlan:
    """One site: its bridge, frontend and board network."""

    name: str
    index: int
    network: ipaddress.IPv4Network

    @property
    def bridge(self) -> str:
        return f"s{self.index}"

    @property
    def frontend(self) -> str:
        return f"{self.name}.iot-lab.info"

    @property
    def inside(self) -> ipaddress.IPv4Interface:
        """The frontend's address on the site network (its last host address)."""
        return ipaddress.IPv4Interface(f"{self.network.broadcast_address - 1}/"
                                       f"{self.network.prefixlen}")


@dataclass(frozen=True)
class BoardPlan:
    """One board: its FQDN, site, address on the site network, and veth in the box."""

    fqdn: str
    site: str
    address: ipaddress.IPv4Interface
    linux: bool
    veth: str

    @property
    def short(self) -> str:
        return self.fqdn.split(".")[0]


@dataclass
class BoxPlan:
    """Everything named in one box."""

    box_id: str
    sites: dict[str, SitePlan] = field(default_factory=dict)
    boards: dict[str, BoardPlan] = field(default_factory=dict)

    @property
    def ns_prefix(self) -> str:
        return f"{PREFIX}-{self.box_id}-"

    @property
    def box_netns(self) -> str:
        return f"{self.ns_prefix}box"

    @property
    def root_link(self) -> str:
        """The only interface of the box in this machine's root namespace."""
        return f"ib{self.box_id}"

    def frontend_netns(self, site: str) -> str:
        return f"{self.ns_prefix}fe-{site}"

    def console_netns(self, site: str) -> str:
        return f"{self.ns_prefix}serial-{site}"

    def node_netns(self, fqdn: str) -> str:
        board = self.boards[fqdn]
        return f"{self.ns_prefix}{board.short}-{board.site}"

    def hosts_file(self, frontends: dict[str, str]) -> str:
        """/etc/hosts of every box host: frontends, boards (`m3-1`), Linux boards
        (`node-a8-1`, also `a8-1`)."""
        lines = ["127.0.0.1 localhost"]
        for site, address in sorted(frontends.items()):
            lines.append(f"{address} {site}.iot-lab.info {site}")
        for board in self.boards.values():
            names = [board.fqdn, board.short]
            if board.linux:
                names = [f"node-{board.fqdn}", f"node-{board.short}", *names]
            lines.append(f"{board.address.ip} {' '.join(names)}")
        return "\n".join(lines) + "\n"


def build(inventory: Inventory, box_id: str, sites: list[str] | None = None) -> BoxPlan:
    """The plan of a box over `sites` (default: every site of the inventory)."""
    plan = BoxPlan(box_id)
    for index, site in enumerate(inventory.sites()):
        if sites is not None and site not in sites:
            continue
        network = ipaddress.IPv4Network(f"10.{index + 1}.0.0/16")
        plan.sites[site] = SitePlan(site, index, network)
        for number, board in enumerate(inventory.select(site)):
            address = ipaddress.IPv4Interface(
                f"{network.network_address + number + 1}/{network.prefixlen}")
            plan.boards[board.network_address] = BoardPlan(
                board.network_address, site, address, board.linux, f"n{index}x{number}")
    return plan
