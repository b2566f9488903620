"""The `iotlab_linux_ready` kind: A8 / Raspberry Pi boards of a group are up.

A bounded wait on the boards' state in the experiment (`GET experiments/<id>/nodes`):
`Busy` or `Alive` is up, `Suspected` is still waited for, `Dead` or `Absent` fails at
once with the boards named. With `wait_ssh: true` it then waits, also bounded, until
each board answers `ssh root@node-<board>` through its site frontend (what EnOSlib's
`wait_for_boot` checks); that needs the frontends reachable (the real ones, or the
emulator's box with `frontend` set to its addresses), so it is off by default. Nothing
to delete: the boards go back with the experiment.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.iotlab.dependents import follow_experiment
from bedform.providers.iotlab.serial import SSH_OPTIONS
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import Wait, poll
from bedform.state.model import Record

if TYPE_CHECKING:
    from bedform.providers.iotlab.driver import IotlabDriver  # noqa: F401 - in a string

BOOT_WAIT = 300
"""How long Linux boards may take to boot (EnOSlib waits 120 s, then only logs)."""
SSH_WAIT = 300
UP = frozenset({"Busy", "Alive"})
BROKEN = frozenset({"Dead", "Absent"})


def ssh_command(frontend: str, user: str, board: str) -> list[str]:
    """The non-interactive SSH probe of a Linux board through its site frontend (a
    ProxyCommand rather than -J, whose hop would not get these options)."""
    proxy = shlex.join(["ssh", *SSH_OPTIONS, "-W", "%h:%p", f"{user}@{frontend}"])
    return ["ssh", *SSH_OPTIONS, "-o", f"ProxyCommand={proxy}", f"root@node-{board}", "true"]


class LinuxReadyKind(KindHandler["IotlabDriver"]):
    """Boot wait of a group of Linux boards (see the module docstring)."""

    spec = KindSpec("iotlab_linux_ready", deploy=True,
                    description="boot wait of a group of A8/RPi boards")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        return follow_experiment(records, view, "interrupted while waiting for the boards")

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        exp_id, boards = int(inputs["experiment"]), sorted(inputs["nodes"])
        api = self.driver.api

        def read() -> tuple[dict[str, str] | None, str | None]:
            items = api.get(f"experiments/{exp_id}/nodes")["items"]
            states = {n["network_address"]: n.get("state", "") for n in items
                      if n["network_address"] in boards}
            broken = sorted(b for b, s in states.items() if s in BROKEN)
            if broken:
                raise ProviderError(f"board(s) {', '.join(broken)} are "
                                    f"{'/'.join(sorted({states[b] for b in broken}))}",
                                    hint="Ask for other boards (or fewer), or wait for the "
                                         "operators to repair them.")
            up = all(states.get(b) in UP for b in boards)
            return states, "up" if up else "booting"

        def describe(states: Mapping[str, str], state: str) -> str:
            waiting = sorted(b for b in boards if states.get(b) not in UP)
            return f"{len(waiting)} board(s) booting: {', '.join(waiting[:5])}"
        poll(ctx, Wait(what=f"{len(boards)} Linux board(s) of experiment {exp_id} to boot",
                       pending={"booting"}, target={"up"}, timeout=BOOT_WAIT), read, describe)
        if inputs.get("wait_ssh"):
            self._wait_ssh(ctx, boards, inputs["frontends"], inputs["user"])
        return {"boards": boards, "ssh_checked": bool(inputs.get("wait_ssh"))}

    def _wait_ssh(self, ctx: ApplyContext, boards: list[str], frontends: Mapping[str, str],
                  user: str) -> None:
        pending = list(boards)

        def read() -> tuple[list[str], str]:
            for board in list(pending):
                site = board.split(".")[1]
                try:
                    probe = subprocess.run(ssh_command(frontends[site], user, board),
                                           capture_output=True, timeout=60, check=False)
                except subprocess.TimeoutExpired:
                    continue
                if probe.returncode == 0:
                    pending.remove(board)
            return pending, "up" if not pending else "waiting"

        poll(ctx, Wait(what=f"SSH on {len(boards)} Linux board(s) through the frontends",
                       pending={"waiting"}, target={"up"}, timeout=SSH_WAIT,
                       hint="Check that your SSH key is registered on IoT-LAB and the "
                            "frontend is reachable, or set `wait_ssh: false`."),
             read, lambda left, state: f"waiting for SSH on {', '.join(left[:5])}")

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing to delete: the boards go back with the experiment."""
