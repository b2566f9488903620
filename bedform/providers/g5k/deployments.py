"""The `g5k_deployment` kind: kadeploy of the nodes of one primary network on one site.

Up to `MAX_DEPLOY` attempts, each over the nodes not deployed yet; earlier successes are
kept (checkpointed after every attempt). A node still failing is drift repaired in
place by the next apply, which redeploys that node alone. A deployment has nothing to
delete: its nodes go back with the job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.g5k.client import ApiError
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import Wait, poll
from bedform.state.model import Record, Status

if TYPE_CHECKING:
    from bedform.providers.g5k.driver import G5kDriver  # noqa: F401 - in a string

MAX_DEPLOY = 3
DEPLOY_WAIT = 3600
"""How long one kadeploy run may take (real ones take 5 to 15 minutes)."""


class DeploymentKind(KindHandler["G5kDriver"]):
    """kadeploy runs (see the module docstring)."""

    spec = KindSpec("g5k_deployment", deploy=True, repairs_drift=True,
                    update_changes={"deployed", "failed", "uids"},
                    description="kadeploy of the nodes of a primary network")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        result: dict[str, Observed] = {}
        for record in records:
            if record.status == Status.PENDING_CREATE:
                result[record.address] = Observed(
                    alive=bool(record.attributes.get("uids")), attributes=record.attributes,
                    reason="interrupted before kadeploy was called")
                continue
            job_address = record.dependencies[0] if record.dependencies else ""
            job = view.observed.get(job_address)
            uid = record.attributes.get("job_uid") or record.inputs.get("job_uid")
            if job is not None and (not job.alive or job.attributes.get("uid") != uid):
                result[record.address] = Observed(
                    alive=False, reason=f"its job {job_address} is gone")
            elif record.attributes.get("failed"):
                result[record.address] = Observed(
                    alive=True, drift=(f"nodes failed to deploy: "
                                       f"{', '.join(record.attributes['failed'])}",))
            else:
                result[record.address] = Observed(alive=True)
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        return self._deploy(resource, ctx, ctx.existing or {})

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        """Drift repair: redeploy the nodes that failed."""
        return self._deploy(resource, ctx, {**record.attributes, "pending": None})

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing to delete: the nodes go back with the job."""

    def _deploy(self, resource: Resource, ctx: ApplyContext,
                existing: Mapping[str, Any]) -> dict[str, Any]:
        """Deploy the nodes not yet deployed (`existing`: a recorded deployment to go on
        with)."""
        inputs = resource.inputs
        site, nodes = inputs["site"], sorted(inputs["nodes"])
        deployed: list[str] = list(existing.get("deployed", []))
        uids: list[str] = list(existing.get("uids", []))
        pending = existing.get("pending")
        failed: list[str] = []
        for attempt in range(MAX_DEPLOY):
            todo = [n for n in nodes if n not in deployed]
            if not todo:
                break
            if pending is None:
                pending = self._start(site, todo, inputs)
                uids.append(pending)
                ctx.checkpoint({"uids": uids, "pending": pending, "deployed": deployed,
                                "job_uid": inputs["job_uid"]})
            ctx.progress(f"deploying {inputs['environment']} on {len(todo)} node(s) "
                         f"(attempt {attempt + 1}/{MAX_DEPLOY})")
            run = self._wait(ctx, site, pending)
            result = run.get("result") or {} if run["status"] == "terminated" else {}
            ok = [n for n in todo if result.get(n, {}).get("state") == "OK"]
            deployed = sorted(set(deployed) | set(ok))
            failed = [n for n in nodes if n not in deployed]
            pending = None
            ctx.checkpoint({"uids": uids, "pending": None, "deployed": deployed,
                            "job_uid": inputs["job_uid"]})
        if not deployed:
            raise ProviderError(f"kadeploy of {inputs['environment']} failed on every node: "
                                f"{', '.join(nodes)}")
        if failed:
            ctx.progress(f"{len(failed)} node(s) failed after {MAX_DEPLOY} attempts: "
                         f"{', '.join(failed)}")
        return {"uids": uids, "pending": None, "deployed": deployed, "failed": failed,
                "job_uid": inputs["job_uid"], "vlan": inputs.get("vlan")}

    def _start(self, site: str, nodes: list[str], inputs: Mapping[str, Any]) -> str:
        body: dict[str, Any] = {"nodes": nodes, "environment": inputs["environment"],
                                "key": inputs["key"]}
        if inputs.get("version") is not None:
            body["version"] = inputs["version"]
        if inputs.get("vlan"):
            body["vlan"] = str(inputs["vlan"])
        return self.driver.api.post(f"/sites/{site}/deployments", body)["uid"]

    def _wait(self, ctx: ApplyContext, site: str, uid: str) -> dict[str, Any]:
        api = self.driver.api

        def read() -> tuple[dict[str, Any] | None, str | None]:
            try:
                run = api.get(f"/sites/{site}/deployments/{uid}")
            except ApiError as error:
                if error.status == 404:
                    return None, None
                raise
            return run, run["status"]
        wait = Wait(what=f"deployment {uid} on {site} to end",
                    pending={"processing", "waiting"},
                    target={"terminated", "error", "canceled"}, timeout=DEPLOY_WAIT,
                    hint="The nodes deployed so far are recorded; `bedform apply` "
                         "deploys the others again.")
        return poll(ctx, wait, read)
