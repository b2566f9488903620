"""Monitoring: the `iotlab_profile` and `iotlab_profile_association` kinds.

A profile (`monitoring.profiles` of the configuration) is created when no profile of
that name exists; one that existed before is used but never changed nor deleted
(`created: false` in the state). Whether a profile is ours is written ahead of the
`POST`, so a run killed right after it still deletes it at destroy. Refresh costs one
`GET monitoring` for every profile.

An association loads a profile on the boards of a group (`nodes/monitoring/<name>`);
changing the profile loads the new one in place; deleting it resets the boards'
profile while the experiment runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.iotlab.client import IotlabApiError
from bedform.providers.iotlab.dependents import follow_experiment
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import delete_if_present
from bedform.state.model import Record, Status

if TYPE_CHECKING:
    from bedform.providers.iotlab.driver import IotlabDriver  # noqa: F401 - in a string

PROFILE_FIELDS = ("profilename", "power", "nodearch", "radio", "consumption")


def _comparable(profile: Mapping[str, Any]) -> dict[str, Any]:
    """A profile's settings, without the null parts the API may fill in."""
    out = {k: profile.get(k) for k in PROFILE_FIELDS}
    for part in ("radio", "consumption"):
        settings = out[part]
        if isinstance(settings, Mapping):
            out[part] = {k: v for k, v in settings.items() if v is not None}
    return out


class ProfileKind(KindHandler["IotlabDriver"]):
    """Monitoring profiles (see the module docstring)."""

    spec = KindSpec("iotlab_profile", description="IoT-LAB monitoring profile")
    import_format = "the profile name"

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        existing = {p["profilename"]: p for p in self.driver.api.get("monitoring") or []}
        result: dict[str, Observed] = {}
        for record in records:
            name = record.identity.get("name") or record.inputs.get("profilename")
            found = existing.get(name)
            if found is None:
                result[record.address] = Observed(alive=False,
                                                  reason=f"profile {name!r} deleted outside")
                continue
            attributes = {"name": name,
                          "created": record.attributes.get("created", False)}
            if record.status == Status.PENDING_CREATE:
                result[record.address] = Observed(alive=True, attributes=attributes)
                continue
            drift = () if _comparable(found) == _comparable(record.inputs) else \
                (f"profile {name!r} settings changed outside",)
            result[record.address] = Observed(alive=True, attributes=attributes,
                                              drift=drift)
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        body = dict(resource.inputs)
        name = body["profilename"]
        api = self.driver.api
        if ctx.existing and ctx.existing.get("created"):
            return {"name": name, "created": True}
        found = next((p for p in api.get("monitoring") or [] if p["profilename"] == name),
                     None)
        if found is not None:
            if _comparable(found) != _comparable(body):
                raise ProviderError(
                    f"a profile named {name!r} exists with other settings",
                    hint="Rename the profile in monitoring.profiles, or delete the old one "
                         f"(`iotlab-profile del -n {name}`).")
            ctx.progress(f"using the existing profile {name!r} (it will not be deleted)")
            return {"name": name, "created": False}
        ctx.checkpoint({"name": name, "created": True})
        api.call("POST monitoring", lambda rest: rest.add_profile(body))
        return {"name": name, "created": True}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        if not record.attributes.get("created"):
            return
        name = record.attributes.get("name") or record.inputs["profilename"]
        delete_if_present(
            lambda: self.driver.api.call(f"DELETE monitoring/{name}",
                                         lambda rest: rest.del_profile(name)),
            gone=lambda error: isinstance(error, IotlabApiError) and error.status == 404)

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        names = {p["profilename"] for p in self.driver.api.get("monitoring") or []}
        if remote_id not in names:
            raise ProviderError(f"no profile named {remote_id!r}",
                                hint=f"REMOTE_ID is {self.import_format}.")
        return {"name": remote_id, "created": True}


class ProfileAssociationKind(KindHandler["IotlabDriver"]):
    """A profile loaded on the boards of a group (see the module docstring)."""

    spec = KindSpec("iotlab_profile_association", updatable={"profile"}, deploy=True,
                    description="monitoring profile loaded on the boards of a group")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        return follow_experiment(records, view, "interrupted while loading the profile")

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        nodes = sorted(inputs["nodes"])
        answer = self.driver.api.node_command("profile", int(inputs["experiment"]), nodes,
                                              inputs["profile"])
        failed = sorted(answer.get("1") or [])
        if failed:
            raise ProviderError(f"loading profile {inputs['profile']!r} failed on "
                                f"{len(failed)} board(s): {', '.join(failed)}")
        return {"boards": nodes, "profile": inputs["profile"]}

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        return self.create(resource, ctx)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        inputs = record.inputs
        delete_if_present(
            lambda: self.driver.api.node_command("profile-reset", int(inputs["experiment"]),
                                                 sorted(inputs["nodes"])),
            gone=lambda error: isinstance(error, IotlabApiError)
            and error.status in (400, 403, 404))
