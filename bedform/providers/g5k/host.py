"""`G5kHost`: one reserved node, from its job's attributes and its reference description.

A light object (no API call of its own): the driver or `api_utils.get_nodes` supplies the
node's reference description (`apinode`). NIC logic as EnOSlib's (§5.3 of the reference):
`get_nics` keeps the mountable, non-management Ethernet adapters as sorted (legacy
device, predictable name) pairs; the primary NIC is the first mounted one; secondary
network i goes on non-mounted NIC i (kavlan uses the legacy name, dhcp the predictable
one).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from bedform.objects import Host
from bedform.providers.g5k.api_utils import nics_of
from bedform.providers.g5k.objects import translate

NIC = tuple[str, str]

# Appends the user's NFS-home keys to root's authorized_keys, each key once (EnOSlib
# appends them again on every run).
GRANT_ROOT = (
    "cat ~/.ssh/id_rsa.pub ~/.ssh/id_ed25519.pub ~/.ssh/authorized_keys 2>/dev/null | "
    "sudo-g5k sh -c 'mkdir -p /root/.ssh && touch /root/.ssh/authorized_keys && "
    "while read -r k; do [ -n \"$k\" ] || continue; "
    "grep -qxF \"$k\" /root/.ssh/authorized_keys || echo \"$k\" >> /root/.ssh/authorized_keys; "
    "done'"
)


class G5kHost:
    """A Grid'5000 node of a job: `fqdn` (e.g. parasilo-3.rennes.grid5000.fr), its roles,
    primary network id and vlan (None for prod), secondary network ids in order."""

    def __init__(self, fqdn: str, *, roles: Sequence[str] = (),
                 primary_network: str | None = None, primary_vlan: str | None = None,
                 secondary_networks: Sequence[str] = (),
                 apinode: Mapping[str, Any] | None = None, user: str = "root",
                 extra: Mapping[str, Any] | None = None) -> None:
        self.fqdn = fqdn
        self.roles = list(roles)
        self.primary_network = primary_network
        self.primary_vlan = str(primary_vlan) if primary_vlan else None
        self.secondary_networks = list(secondary_networks)
        self.apinode: dict[str, Any] = dict(apinode or {})
        self.user = user
        self.extra = dict(extra or {})
        self.state: dict[str, Any] = {}

    @property
    def site(self) -> str:
        return self.fqdn.split(".")[1]

    @property
    def cluster(self) -> str:
        return self.fqdn.split("-", 1)[0]

    @property
    def ssh_address(self) -> str:
        """The name that reaches the node: its FQDN translated into its primary vlan."""
        return translate(self.fqdn, self.primary_vlan)

    def get_nics(self, extra_cond: Callable[[Mapping[str, Any]], bool] | None = None
                 ) -> list[NIC]:
        return nics_of(self.apinode, extra_cond)

    @property
    def primary_nic(self) -> NIC | None:
        mounted = self.get_nics(lambda a: bool(a.get("mounted")))
        return mounted[0] if mounted else None

    @property
    def _all_secondary_nics(self) -> list[NIC]:
        return self.get_nics(lambda a: not a.get("mounted"))

    @property
    def secondary_nics(self) -> list[tuple[NIC, str]]:
        """(NIC, network id) of each secondary network, in order."""
        nics = self._all_secondary_nics
        if len(self.secondary_networks) > len(nics):
            raise ValueError(f"{self.fqdn} has {len(nics)} secondary NIC(s) for "
                             f"{len(self.secondary_networks)} network(s)")
        return list(zip(nics, self.secondary_networks, strict=False))

    def vlan_interface(self, nic: NIC) -> str:
        """The kavlan pseudo-host of a NIC: `<node>-<legacy dev>.<site>.grid5000.fr`."""
        short, _, rest = self.fqdn.partition(".")
        return f"{short}-{nic[0]}.{rest}"

    def dhcp_networks_command(self, networks: Collection[str] | None = None) -> str:
        """Bring each secondary NIC up and run dhclient on it ("" when there is none);
        only the NICs of `networks` when given (e.g. the kavlan ones)."""
        names = [nic[1] for nic, net in self.secondary_nics
                 if networks is None or net in networks]
        if not names:
            return ""
        return "; ".join([*(f"ip link set {n} up" for n in names),
                          f"dhclient {' '.join(names)}"])

    @staticmethod
    def grant_root_access_command() -> str:
        """Run as the G5k user on a non-deploy node: root accepts the user's keys."""
        return GRANT_ROOT

    def mirror_state(self) -> dict[str, Any]:
        """Record (and return) the NIC layout: primary, secondary ↔ network."""
        self.state = {
            "primary_nic": self.primary_nic,
            "secondary_nics": [(list(nic), net) for nic, net in self.secondary_nics],
            "ssh_address": self.ssh_address,
        }
        return self.state

    def to_enoslib(self) -> Host:
        return Host(self.ssh_address, alias=self.ssh_address, user=self.user,
                    extra=self.extra)

    def __repr__(self) -> str:
        return (f"G5kHost({self.fqdn!r}, roles={self.roles!r}, "
                f"primary_network={self.primary_network!r})")
