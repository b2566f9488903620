"""The `iotlab_experiment` kind: the one IoT-LAB experiment of a provider instance.

Identity: name + user among the active states (Running, Launching, toLaunch, Waiting):
an experiment of ours with the stack's name is adopted, never submitted twice. Any
change of its inputs (walltime, start, the boards asked for) replaces it: IoT-LAB cannot
change a submitted experiment. An experiment that ended (walltime, stopped outside) is
gone, with a reason saying which and when. Refresh costs one listing of our active
experiments, plus a GET per recorded experiment only when it is gone (to say why).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bedform.errors import InvalidReservationTooOld, ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.g5k.client import epoch_to_paris, paris_to_epoch
from bedform.providers.iotlab.client import (
    Api,
    IotlabApiError,
    iso_to_epoch,
    submit_error,
)
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import Wait, adopt_or_create, delete_if_present, poll
from bedform.state.model import Record

if TYPE_CHECKING:
    from bedform.providers.iotlab.driver import IotlabDriver  # noqa: F401 - in a string

QUEUED = ("Waiting", "toLaunch", "Launching")
QUEUE_WAIT = 6 * 3600
"""How long past its scheduled start (or its submission) an experiment may stay queued."""


def find_ours(items: Sequence[Mapping[str, Any]], name: str | None) -> int | None:
    """The id of the first submitted experiment named `name` among `items`."""
    return min((int(i["id"]) for i in items if i.get("name") == name), default=None)


def _resources(groups: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """iotlabcli resource dicts: one alias per board group, or the physical list."""
    from iotlabcli.experiment import AliasNodes, exp_resources

    if groups and "hostname" in groups[0]:
        return [exp_resources(sorted({h for g in groups for h in g["hostname"]}))]
    return [exp_resources(AliasNodes(g["number"], g["site"], g["archi"], False))
            for g in groups]


def submit(api: Api, inputs: Mapping[str, Any], progress: Any = None) -> int:
    """Submit the experiment (no firmware, no profile: those are kinds of their own).

    A start time that has passed means "start now": that happens when an experiment of a
    reserved set is re-created after it ended, its inputs keeping the recorded start.
    """
    from iotlabcli.experiment import submit_experiment

    start = inputs.get("start_time")
    for attempt in (start, None) if start else (None,):
        epoch = int(paris_to_epoch(attempt)) if attempt else None
        try:
            answer = api.call("POST experiments", submit_experiment, inputs["name"],
                              inputs["duration"], _resources(inputs["groups"]), epoch)
            return int(answer["id"])
        except IotlabApiError as error:
            failure = submit_error(error)
            if not (isinstance(failure, InvalidReservationTooOld) and attempt):
                raise failure from None
        if progress is not None:
            progress(f"the start time {start} (Europe/Paris) has passed: submitting the "
                     "experiment to start now")
    raise AssertionError("unreachable")


def map_groups(groups: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]
               ) -> dict[str, list[str]]:
    """`groups[i]` → the boards of group i (EnOSlib's mapping, deterministic order).

    Board groups take `number` boards of their (site, archi) pool in board-number order;
    physical groups take their hostnames. A board left over, or missing, means the
    experiment does not match the configuration.
    """
    def order(node: Mapping[str, Any]) -> tuple[str, int]:
        short = node["network_address"].split(".")[0]
        family, _, number = short.rpartition("-")
        return family, int(number) if number.isdigit() else 0

    pools: dict[tuple[str, str], list[str]] = {}
    addresses = set()
    for node in sorted(nodes, key=order):
        pools.setdefault((node["site"], node["archi"]), []).append(node["network_address"])
        addresses.add(node["network_address"])
    mapped: dict[str, list[str]] = {}
    for group in groups:
        if "hostname" in group:
            missing = [h for h in group["hostname"] if h not in addresses]
            if missing:
                raise ProviderError(f"the experiment lacks board(s) {', '.join(missing)}")
            taken = list(group["hostname"])
            addresses -= set(taken)
        else:
            pool = pools.get((group["site"], group["archi"]), [])
            if len(pool) < group["number"]:
                raise ProviderError(f"the experiment has {len(pool)} {group['archi']} "
                                    f"board(s) on {group['site']}, {group['number']} asked")
            taken, pools[(group["site"], group["archi"])] = \
                pool[:group["number"]], pool[group["number"]:]
            addresses -= set(taken)
        mapped[f"groups[{group['index']}]"] = taken
    if addresses:
        raise ProviderError(f"the experiment holds board(s) no group asked for: "
                            f"{', '.join(sorted(addresses))}")
    return mapped


def experiment_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    """id, state, dates of an experiment as the API describes it."""
    started = iso_to_epoch(item.get("start_date"))
    duration = int(item.get("submitted_duration") or 0)
    return {"id": int(item["id"]), "state": item.get("state"), "started_at": started,
            "duration": duration,
            "expires_at": started + duration * 60 if started is not None else None}


class ExperimentKind(KindHandler["IotlabDriver"]):
    """IoT-LAB experiments (see the module docstring)."""

    spec = KindSpec("iotlab_experiment", expires=True,
                    description="IoT-LAB experiment holding every board of the provider")
    import_format = "the IoT-LAB experiment id, e.g. 400123"

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        listing = {int(item["id"]): item for item in self.driver.api.active_experiments()}
        result: dict[str, Observed] = {}
        for record in records:
            exp_id = record.attributes.get("id")
            if exp_id is None:
                exp_id = find_ours(list(listing.values()), record.identity.get("name"))
                if exp_id is None:
                    result[record.address] = Observed(alive=False, reason="not found")
                    continue
            item = listing.get(int(exp_id))
            if item is None:
                result[record.address] = self._gone(int(exp_id))
                continue
            attributes = {**record.attributes, **experiment_attributes(item)}
            result[record.address] = Observed(alive=True, attributes=attributes,
                                              expires_at=attributes.get("expires_at"))
        return result

    def _gone(self, exp_id: int) -> Observed:
        item = self.driver.api.experiment(exp_id)
        if item is None:
            return Observed(alive=False, reason=f"experiment {exp_id} deleted outside")
        stopped = iso_to_epoch(item.get("stop_date"))
        stamp = epoch_to_paris(stopped) + " Europe/Paris" if stopped else "?"
        ran = int(item.get("effective_duration") or 0)
        if item.get("state") == "Terminated" and ran >= int(item.get("submitted_duration", 0)):
            return Observed(alive=False, reason=f"expired at {stamp}")
        return Observed(alive=False,
                        reason=f"experiment {exp_id} ended ({item.get('state')}) at {stamp}, "
                               "stopped outside bedform")

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        api = self.driver.api
        exp_id = adopt_or_create(
            ctx, "id", find=lambda: find_ours(api.active_experiments(), inputs["name"]),
            create=lambda: submit(api, inputs, ctx.progress),
            label=f"experiment named {inputs['name']!r}")
        item = self.wait_running(ctx, exp_id, inputs.get("start_time"))
        return self._attributes(exp_id, item, inputs)

    def _attributes(self, exp_id: int, item: Mapping[str, Any],
                    inputs: Mapping[str, Any]) -> dict[str, Any]:
        nodes = self.driver.api.get(f"experiments/{exp_id}/nodes")["items"]
        boards = {n["network_address"]: {"archi": n["archi"], "site": n["site"],
                                         "uid": n.get("uid", "")} for n in nodes}
        return {**experiment_attributes(item), **map_groups(inputs["groups"], nodes),
                "boards": boards}

    def wait_running(self, ctx: ApplyContext, exp_id: int,
                     start_time: str | None = None) -> dict[str, Any]:
        """Poll experiment `exp_id` until it runs (bounded: QUEUE_WAIT past its start)."""
        api = self.driver.api
        start = paris_to_epoch(start_time) if start_time else time.time()
        wait = Wait(
            what=f"experiment {exp_id} to run", pending=QUEUED, target={"Running"},
            timeout=max(0.0, start - time.time()) + QUEUE_WAIT,
            hint=f"Experiment {exp_id} stays queued and recorded in the state: `bedform "
                 "apply` waits for it again, `bedform destroy` stops it.")

        def read() -> tuple[dict[str, Any] | None, str | None]:
            item = api.experiment(exp_id)
            return (item, item["state"]) if item is not None else (None, None)

        def describe(item: Mapping[str, Any], state: str) -> str:
            scheduled = iso_to_epoch(item.get("scheduled_date"))
            when = f", scheduled at {epoch_to_paris(scheduled)} Europe/Paris" \
                if scheduled else ""
            return f"experiment {exp_id} {state}{when}"
        return poll(ctx, wait, read, describe)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        exp_id = record.attributes.get("id")
        if exp_id is None:
            return
        delete_if_present(lambda: self.driver.api.stop(int(exp_id)),
                          gone=lambda error: isinstance(error, IotlabApiError)
                          and error.status in (403, 404))

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        try:
            item = self.driver.api.experiment(int(remote_id))
        except ValueError:
            item = None
        if item is None or item.get("state") not in ("Running", *QUEUED):
            raise ProviderError(f"no active experiment {remote_id} of yours",
                                hint=f"REMOTE_ID is {self.import_format}.")
        if item["state"] != "Running":
            raise ProviderError(f"experiment {remote_id} is {item['state']}, not running yet",
                                hint="Import it once it runs, or let `bedform apply` adopt "
                                     "it by name.")
        return self._attributes(int(remote_id), item, resource.inputs)
