"""The EnOSlib-style `G5k` provider: `G5k(conf).init()` → (roles, networks), and its
firewall helpers (`fw_create`, `fw_delete`, `firewall`).

This facade drives the planner; the driver (providers/g5k/driver.py) never imports it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from bedform.api.provider import ReservingProvider
from bedform.errors import (
    ApplyError,
    ApplyInterrupted,
    InvalidReservationTime,
    InvalidReservationTooOld,
    NegativeWalltime,
)
from bedform.objects import Host
from bedform.planner.plan import Mode
from bedform.planner.render import human_event
from bedform.providers.base import DriverContext
from bedform.providers.g5k.client import PARIS, Api, ApiError, epoch_to_paris, paris_to_epoch
from bedform.providers.g5k.config import (
    G5kClusterConf,
    G5kConf,
    G5kNetworkConf,
    G5kServersConf,
    format_walltime,
    walltime_seconds,
)
from bedform.providers.g5k.driver import G5kDriver
from bedform.providers.g5k.jobs import SUBMIT_ONLY

__all__ = ["G5k", "G5kClusterConf", "G5kConf", "G5kNetworkConf", "G5kServersConf",
           "firewall", "fw_create", "fw_delete"]


class G5k(ReservingProvider):
    """Grid'5000 jobs, deployments and vlans through plan/apply."""

    type_name: ClassVar[str] = "g5k"
    driver_class: ClassVar[type[G5kDriver]] = G5kDriver
    provider_conf: G5kConf

    def set_reservation(self, timestamp: int) -> None:
        """Reserve in advance, starting at `timestamp` (UTC epoch), in Paris time."""
        self.provider_conf.reservation = epoch_to_paris(timestamp)

    def offset_walltime(self, offset: int) -> None:
        """Add `offset` seconds to the walltime (24 h and more work)."""
        seconds = walltime_seconds(self.provider_conf.walltime) + offset
        if seconds <= 0:
            raise NegativeWalltime("the walltime would be zero or negative")
        self.provider_conf.walltime = format_walltime(seconds)

    def _new_slot_driver(self) -> G5kDriver:
        """The driver slots are checked through (cluster status fetched once per provider
        instance, as in EnOSlib)."""
        return self.driver_class(DriverContext(stack_name=self.stack_name, stack_id="",
                                               state_dir=self.state_dir))

    def async_init(self, force_deploy: bool = False, start_time: int | None = None,
                   **kwargs: Any) -> None:
        """Submit the jobs (one per site, the same start) without waiting, through
        plan/apply: each is recorded (write-ahead) the moment it exists, and `init` then
        adopts and waits for it. An OAR refusal raises InvalidReservationTime(hint)."""
        if start_time is not None:
            self.set_reservation(start_time)
        engine = self._engine(driver_options={SUBMIT_ONLY: True})
        with engine.session("async_init") as session:
            jobs = [a for a, r in session.desired().resources.items() if r.kind == "g5k_job"]
            the_plan = session.plan(Mode.APPLY, targets=jobs)
            try:
                session.apply(the_plan, events=lambda event: self.echo(human_event(event)))
            except ApplyInterrupted:
                pass   # every job is submitted and recorded: `init` adopts and waits
            except ApplyError as error:   # an OAR refusal keeps its type for find_slot
                first = next(iter(error.failures.values()), None)
                if isinstance(first, InvalidReservationTime | InvalidReservationTooOld):
                    raise first from None
                raise

    def is_created(self) -> bool:
        """At least one active job of ours with the configuration's name (EnOSlib)."""
        return any(self._driver().find_jobs(self.provider_conf).values())

    def destroy(self, wait: bool = False, **kwargs: Any) -> None:
        """Destroy what the state holds, and jobs `async_init` submitted by name."""
        super().destroy(wait, **kwargs)
        self._driver().kill_jobs(self.provider_conf)

    @staticmethod
    def reservation_epoch(conf: G5kConf) -> float | None:
        return paris_to_epoch(conf.reservation) if conf.reservation else None

    @staticmethod
    def now_paris() -> str:
        return datetime.now(PARIS).strftime("%Y-%m-%d %H:%M:%S")

    def tunnel(self, address: str, port: int, local_port: int = 0) -> tuple[str, int, Any]:
        """EnOSlib's shortcut for `G5kTunnel(address, port, local_port).start()`."""
        from bedform.providers.g5k.tunnel import G5kTunnel

        return G5kTunnel(address, port, local_port).start()


def _node_fqdn(address: str) -> str:
    """The node FQDN behind a host address (`-kavlan-N` / `-ipv6` suffixes removed)."""
    short, _, rest = address.partition(".")
    short = re.sub(r"-kavlan-\d+$", "", re.sub(r"-ipv6$", "", short))
    return f"{short}.{rest}"


def _ipv6_name(fqdn: str) -> str:
    short, _, rest = fqdn.partition(".")
    return f"{short}-ipv6.{rest}"


class _Firewall:
    """Firewall openings of the provider's jobs (EnOSlib §5.1), reloaded by job name."""

    def __init__(self, provider: G5k) -> None:
        self.provider = provider

    def _jobs(self) -> list[dict[str, Any]]:
        conf = self.provider.provider_conf
        api = Api()
        name = conf.job_name or self.provider.stack_name
        jobs = []
        for site in conf.sites:
            items = api.get(f"/sites/{site}/jobs", user=api.username, name=name,
                            state="running", resources="yes")["items"]
            jobs += [{**item, "site": site} for item in items]
        return jobs

    def create(self, hosts: Iterable[Host] | None = None, port: Any = None,
               src_addr: Any = None, proto: str = "tcp+udp") -> None:
        api = Api()
        wanted = None if hosts is None else {_node_fqdn(h.address) for h in hosts} | \
            {_node_fqdn(h.alias) for h in hosts}
        for job in self._jobs():
            nodes = [n for n in job.get("assigned_nodes", []) if wanted is None or n in wanted]
            if not nodes:
                continue
            rule: dict[str, Any] = {"proto": proto, "addr": [_ipv6_name(n) for n in nodes]}
            if port is not None:
                rule["port"] = port
            if src_addr is not None:
                rule["src_addr"] = src_addr
            api.post(f"/sites/{job['site']}/firewall/{job['uid']}", [rule])

    def delete(self) -> None:
        api = Api()
        for job in self._jobs():
            with contextlib.suppress(ApiError):
                api.delete(f"/sites/{job['site']}/firewall/{job['uid']}")


def fw_create(provider: G5k, hosts: Iterable[Host] | None = None, port: Any = None,
              src_addr: Any = None, proto: str = "tcp+udp") -> None:
    """Open the firewall for `hosts` (all nodes when None); kavlan names work."""
    _Firewall(provider).create(hosts, port, src_addr, proto)


def fw_delete(provider: G5k) -> None:
    """Remove every opening of the provider's jobs."""
    _Firewall(provider).delete()


@contextlib.contextmanager
def firewall(provider: G5k, hosts: Iterable[Host] | None = None, port: Any = None,
             src_addr: Any = None, proto: str = "tcp+udp") -> Iterator[None]:
    """`with firewall(provider, hosts, port=8080):` — openings removed on exit."""
    fw_create(provider, hosts, port, src_addr, proto)
    try:
        yield
    finally:
        fw_delete(provider)


G5k.fw_create = fw_create  # type: ignore[attr-defined]
G5k.fw_delete = fw_delete  # type: ignore[attr-defined]
G5k.firewall = firewall  # type: ignore[attr-defined]
