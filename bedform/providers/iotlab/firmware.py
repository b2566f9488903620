"""The `iotlab_firmware` kind: the firmware flashed on the boards of one group.

Its inputs are the experiment id, the group's boards, the firmware's file name, path
and sha256 content hash. A board is flashed only when that hash (or the file name the
testbed records) changed, when `force_deploy` asks for it (the kind is a deploy kind),
or when the experiment was re-created (its id changes, which replaces this object). A
board answering KO fails the apply with an error naming the boards; nothing is recorded,
so the next apply flashes the group again. A firmware file whose content changed since it
was flashed is shown as drift naming the boards to flash, repaired in place. Firmware
has nothing to delete: the testbed puts its idle firmware back when the experiment ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bedform.errors import ConfigError, ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.iotlab.dependents import dependency_gone
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.state.model import Record, Status

if TYPE_CHECKING:
    from bedform.providers.iotlab.driver import IotlabDriver  # noqa: F401 - in a string


def firmware_inputs(image: str, where: tuple[str | int, ...]) -> dict[str, Any]:
    """`name`, `path` and `sha256` of a firmware file (ConfigError at `where` if unreadable)."""
    path = Path(image).expanduser()
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read firmware {image}: {error.strerror}", where,
                          hint="Build the firmware first, or fix the path (relative paths "
                               "are read from the current directory).") from None
    if not content:
        raise ConfigError(f"firmware {image} is empty", where)
    return {"name": path.name, "path": str(path.resolve()),
            "sha256": hashlib.sha256(content).hexdigest()}


def _file_changed(record: Record) -> tuple[str, ...]:
    """Drift when the recorded firmware file now holds something else: the plan then
    says which boards get flashed and why."""
    inputs = record.inputs
    try:
        digest = hashlib.sha256(Path(inputs["path"]).read_bytes()).hexdigest()
    except (OSError, KeyError):
        return ()   # a missing file is the configuration's error, reported by expand
    if digest == inputs.get("sha256"):
        return ()
    boards = ", ".join(sorted(record.attributes.get("flashed", inputs.get("nodes", []))))
    return (f"firmware {inputs.get('name')} changed (sha256 {inputs.get('sha256', '')[:12]} "
            f"-> {digest[:12]}): flash {boards}",)


class FirmwareKind(KindHandler["IotlabDriver"]):
    """Firmware of a board group (see the module docstring)."""

    spec = KindSpec("iotlab_firmware", updatable={"sha256", "name", "path"}, deploy=True,
                    repairs_drift=True,
                    description="firmware flashed on the boards of a group")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        result: dict[str, Observed] = {}
        for record in records:
            if record.status == Status.PENDING_CREATE:
                result[record.address] = Observed(alive=False,
                                                  reason="interrupted while flashing")
                continue
            result[record.address] = dependency_gone(record, view) or Observed(
                alive=True, drift=_file_changed(record))
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        return self._flash(resource, ctx)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        """Flash again when the content (or the recorded name) changed; a moved file with
        the same content is only recorded."""
        before, after = record.inputs, resource.inputs
        if (before.get("sha256"), before.get("name")) == (after["sha256"], after["name"]):
            return dict(record.attributes)
        return self._flash(resource, ctx)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing to delete: the idle firmware comes back with the experiment's end."""

    def _flash(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        nodes = sorted(inputs["nodes"])
        path = Path(inputs["path"])
        try:
            content = path.read_bytes()
        except OSError as error:
            raise ProviderError(f"cannot read firmware {path}: {error.strerror}") from None
        digest = hashlib.sha256(content).hexdigest()
        if digest != inputs["sha256"]:
            raise ProviderError(f"firmware {path} changed since the plan was made",
                                hint="Run `bedform apply` again to plan with the new file.")
        ctx.progress(f"flashing {inputs['name']} on {len(nodes)} board(s)")
        answer = self.driver.api.node_command("flash", int(inputs["experiment"]), nodes,
                                              str(path))
        failed = sorted(answer.get("1") or [])
        if failed:
            raise ProviderError(f"flashing {inputs['name']} failed on {len(failed)} "
                                f"board(s): {', '.join(failed)}",
                                hint="Check the boards' state (`iotlab-status`); `bedform "
                                     "apply` flashes the group again.")
        return {"flashed": nodes, "sha256": digest, "experiment": inputs["experiment"]}
