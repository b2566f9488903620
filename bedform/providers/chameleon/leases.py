"""The `blazar_lease` kind: one Blazar lease with a `physical:host` reservation per
node type.

Identity is the lease name in the project. A lease in a reusable status (CREATING,
PENDING, STARTING, UPDATING, ACTIVE) left by a killed run is adopted, never doubled;
one that ended (TERMINATING, TERMINATED) or failed (ERROR) is drift: the plan creates
it again with its servers, and the create first deletes the dead lease of that name
(Blazar refuses a second lease with one name). A walltime change moves the lease's end
in place (`PUT /leases/{id}`) while the new end is still ahead, and more or fewer hosts
of a node type resize its reservation in place; otherwise (an end already past, a new
node type) the driver plans a replacement and says why (`replaced_because`). The wait
for ACTIVE is bounded (the start plus 15 minutes) and shows "lease … starts at …" while
PENDING; after an update, the wait while Blazar answers UPDATING is bounded too
(UPDATE_WAIT), so the state records the lease as it settled. A refusal for lack of
hosts names the node type, how many hosts are free and from when enough are (or, where
Blazar keeps its host allocations to admins, says so).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.chameleon.blazar import (
    ENDED,
    REUSABLE,
    Refused,
    blazar_refusal,
    epoch,
    is_missing,
    server_now,
    status_of,
    utc,
)
from bedform.providers.chameleon.config import format_reservation
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import Wait, adopt_or_create, poll
from bedform.state.model import Record, Status

START_WAIT = 900.0
"""How long past its start a lease may take to become ACTIVE."""
UPDATE_WAIT = 120.0
"""How long a lease may stay UPDATING after a change of its end or hosts."""


def reservation_key(node_type: str) -> str:
    """The lease attribute holding the reservation id of a node type (the servers'
    scheduler hint refers to it)."""
    return f"reservation:{node_type}"


def lease_attributes(lease: Mapping[str, Any]) -> dict[str, Any]:
    """What the state records of a lease."""
    attributes: dict[str, Any] = {
        "id": lease["id"], "name": lease["name"], "status": lease["status"],
        "start_date": epoch(lease.get("start_date")),
        "end_date": epoch(lease.get("end_date")),
        "expires_at": epoch(lease.get("end_date"))}
    for reservation in lease.get("reservations", []):
        node_type = node_type_of(reservation)
        if node_type:
            attributes[reservation_key(node_type)] = reservation["id"]
    return attributes


def node_type_of(reservation: Mapping[str, Any]) -> str | None:
    """The node type a `physical:host` reservation asks for (`["=", "$node_type", X]`)."""
    try:
        properties = json.loads(reservation.get("resource_properties") or "[]")
    except ValueError:
        return None
    if isinstance(properties, list) and len(properties) == 3 \
            and properties[1] == "$node_type":
        return str(properties[2])
    return None


class LeaseKind(KindHandler[Any]):
    """Blazar leases (see the module docstring)."""

    spec = KindSpec("blazar_lease", updatable={"walltime", "hosts"}, expires=True,
                    update_changes={"end_date", "expires_at"},
                    description="Blazar lease of bare-metal hosts")
    import_format = "the Blazar lease id (a UUID, as `openstack reservation lease list` shows)"

    @property
    def leases(self) -> Any:
        return self.driver.blazar.lease

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        listed = view.snapshot.leases()
        by_id = {lease["id"]: lease for lease in listed}
        result: dict[str, Observed] = {}
        for record in records:
            lease = by_id.get(record.attributes.get("id", ""))
            if lease is None and record.status == Status.PENDING_CREATE:
                lease = next((item for item in listed if item["name"] ==
                              record.identity.get("name") and item["status"] in REUSABLE),
                             None)
            result[record.address] = self._observe(lease, record)
        return result

    @staticmethod
    def _observe(lease: Mapping[str, Any] | None, record: Record) -> Observed:
        if lease is None:
            return Observed(alive=False, reason="lease deleted outside bedform")
        attributes = lease_attributes(lease)
        status = lease["status"]
        if status in ENDED:
            return Observed(alive=False, attributes=attributes,
                            reason=f"lease {lease['name']} expired at "
                                   f"{utc(attributes['end_date'])} ({status})")
        if status not in REUSABLE:
            reason = lease.get("status_reason") or "no reason given"
            return Observed(alive=False, attributes=attributes,
                            reason=f"lease {lease['name']} is in {status}: {reason}")
        return Observed(alive=True, attributes=attributes,
                        expires_at=attributes["end_date"])

    # -- create ----------------------------------------------------------------------------
    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        name = inputs["name"]

        def find() -> str | None:
            for lease in self.leases.list():
                if lease["name"] != name:
                    continue
                if lease["status"] in REUSABLE:
                    return str(lease["id"])
                ctx.progress(f"deleting lease {name} ({lease['id']}), {lease['status']}")
                self._delete(str(lease["id"]))
            return None
        lease_id = adopt_or_create(ctx, "id", find=find, create=lambda: self._submit(inputs),
                                   label=f"lease {name}")
        lease = self.wait_active(ctx, lease_id, name)
        return lease_attributes(lease)

    def _submit(self, inputs: Mapping[str, Any]) -> str:
        start = inputs.get("start")
        now = server_now(self.driver.blazar)
        begins = "now" if start is None or start <= now + 30 else format_reservation(start)
        end = format_reservation((now if begins == "now" else start) + inputs["walltime"])
        reservations = [{"min": count, "max": count, "resource_type": "physical:host",
                         "resource_properties": json.dumps(["=", "$node_type", node_type]),
                         "hypervisor_properties": ""}
                        for node_type, count in sorted(inputs["hosts"].items())]
        try:
            with blazar_refusal():
                return str(self.leases.create(inputs["name"], begins, end, reservations,
                                              [])["id"])
        except Refused as refused:
            raise self._explain(inputs, refused, now if start is None else start) from None

    def _explain(self, inputs: Mapping[str, Any], refused: Refused, start: float
                 ) -> ProviderError:
        """The refusal with what Blazar's allocations say of each node type."""
        message = f"lease {inputs['name']} refused by Blazar: {refused.message}"
        if "host" not in refused.message.lower():
            return ProviderError(message)
        try:
            verdict = self.driver.availability(fresh=True).check(
                inputs["hosts"], start, inputs["walltime"])
        except Exception as error:
            if status_of(error) != 403:
                raise
            # upstream Blazar's default policy: hosts and allocations are for admins
            asked = ", ".join(f"{count} {node_type}" for node_type, count
                              in sorted(inputs["hosts"].items()))
            message += (f" ({asked} asked; this cloud does not let its users read "
                        "Blazar's host allocations, so how many are free and from when "
                        "is unknown)")
        else:
            if verdict.ok is False:
                message += f" ({verdict.reason})"
        return ProviderError(message, hint="Ask for fewer hosts of that node type, start "
                                           "later (`reservation:`), or let `bedform slots` "
                                           "find a start when enough are free.")

    def wait_active(self, ctx: ApplyContext, lease_id: str, name: str) -> Mapping[str, Any]:
        """Poll the lease until ACTIVE; bounded by its start plus START_WAIT."""
        lease = self.leases.get(lease_id)
        skew = server_now(self.driver.blazar) - time.time()
        begins = (epoch(lease.get("start_date")) or time.time()) - skew

        def describe(current: Mapping[str, Any], status: str) -> str:
            if status == "PENDING":
                return f"lease {name} starts at {utc(epoch(current.get('start_date')))}"
            return f"lease {name} {status}"
        return poll(ctx, Wait(what=f"lease {name} ({lease_id}) to be ACTIVE",
                              pending=REUSABLE - {"ACTIVE"}, target={"ACTIVE"},
                              timeout=max(0.0, begins - time.time()) + START_WAIT,
                              not_found=2,
                              hint="The lease stays recorded; `bedform apply` keeps "
                                   "waiting for it, `bedform destroy` deletes it."),
                    lambda: self._read(lease_id, name), describe)

    def _read(self, lease_id: str, name: str) -> tuple[Any, str | None]:
        """The lease and its status for `poll`; ERROR is a failure that says why."""
        try:
            current = self.leases.get(lease_id)
        except Exception as error:
            if is_missing(error):
                return None, None
            raise
        if current["status"] == "ERROR":
            raise ProviderError(f"lease {name} ({lease_id}) went into ERROR: "
                                f"{current.get('status_reason') or 'no reason given'}",
                                hint="The next `bedform apply` deletes it and asks "
                                     "for a new lease.")
        return current, current["status"]

    # -- update, delete, import ------------------------------------------------------------
    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        lease_id = record.attributes["id"]
        inputs = resource.inputs
        changes: dict[str, Any] = {}
        if inputs["walltime"] != record.inputs.get("walltime"):
            start = record.attributes.get("start_date") or server_now(self.driver.blazar)
            changes["end_date"] = format_reservation(start + inputs["walltime"])
        if inputs["hosts"] != record.inputs.get("hosts"):
            changes["reservations"] = [
                {"id": record.attributes[reservation_key(node_type)], "min": count,
                 "max": count} for node_type, count in sorted(inputs["hosts"].items())]
        try:
            with blazar_refusal():
                lease = self.leases.update(lease_id, **changes)
        except Refused as refused:
            raise self._explain(inputs, refused, record.attributes.get("start_date")
                                or time.time()) from None
        name = str(record.attributes.get("name"))
        if lease.get("status") == "UPDATING":
            # Blazar answers the PUT while it moves the reservations, then settles
            lease = poll(ctx, Wait(what=f"lease {name} ({lease_id}) to finish its update",
                                   pending={"UPDATING"}, target=REUSABLE - {"UPDATING"},
                                   timeout=UPDATE_WAIT, not_found=2,
                                   hint="The new end is recorded by Blazar; `bedform "
                                        "apply` reads the lease again."),
                         lambda: self._read(lease_id, name))
        ctx.progress(f"lease {name} now ends at {utc(epoch(lease.get('end_date')))}")
        return lease_attributes(lease)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        lease_id = record.attributes.get("id")
        if lease_id is not None:
            self._delete(lease_id)

    def _delete(self, lease_id: str) -> None:
        """Delete a lease; one already gone counts as deleted."""
        try:
            self.leases.delete(lease_id)
        except Exception as error:
            if not is_missing(error):
                raise

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        try:
            lease = self.leases.get(remote_id)
        except Exception as error:
            if is_missing(error):
                raise ProviderError(f"no lease {remote_id} in the project") from None
            raise
        return lease_attributes(lease)
