"""The `os_ssh_ready` kind: every server answers SSH (switch `wait_ssh`, off by default).

After the servers are ACTIVE, a bounded wait until `ssh <user>@<fixed address> true`
succeeds on each, through the gateway's floating IP when there is one (EnOSlib's jump
model, with the user's own keys and agent: the Nova keypair's private key must be one
of them). EnOSlib has no such wait. Clouds without a dataplane (the API emulator, the
fake-driver fixture) never answer SSH, so it is off unless `wait_ssh: true`. Nothing
to delete.
"""

from __future__ import annotations

from typing import Any

from bedform.objects import Host
from bedform.providers.base import ApplyContext, KindSpec, Resource
from bedform.providers.kinds import KindHandler
from bedform.providers.lifecycle import Wait, poll
from bedform.remote import run
from bedform.state.model import Record

SSH_WAIT = 600.0


class SshReadyKind(KindHandler[Any]):
    """SSH reachability of the servers (see the module docstring)."""

    spec = KindSpec("os_ssh_ready", deploy=True, description="SSH wait on the servers")

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        extra: dict[str, Any] = {}
        if inputs.get("gateway"):
            extra = {"gateway": inputs["gateway"], "gateway_user": inputs["gateway_user"]}
        pending = {server["name"]: Host(server["address"], alias=server["name"],
                                        user=server["user"], extra=extra)
                   for server in inputs["servers"]}

        def read() -> tuple[list[str], str]:
            results = run(list(pending.values()), "true", timeout=30, check=False)
            for alias, result in results.items():
                if result.ok:
                    pending.pop(alias, None)
            return sorted(pending), "up" if not pending else "waiting"
        poll(ctx, Wait(what=f"SSH on {len(inputs['servers'])} server(s)",
                       pending={"waiting"}, target={"up"}, timeout=SSH_WAIT,
                       hint="Check that the keypair's private key is in your SSH agent "
                            "or ~/.ssh and that the security group lets SSH in, or set "
                            "`wait_ssh: false`."),
             read, lambda left, state: f"waiting for SSH on {', '.join(left[:5])}")
        return {"servers": sorted(s["name"] for s in inputs["servers"])}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing to delete."""
