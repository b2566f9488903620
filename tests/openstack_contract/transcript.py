"""What a client saw: every HTTP answer of a call sequence, in a form two clouds share.

A `Recorder` hooks the requests session under keystoneauth (what openstacksdk,
novaclient, neutronclient, glanceclient and blazarclient all go through) and keeps, per
named step, each request's service, method, path with ids replaced by `{id}`, status,
and the fields clients read from the body (their JSON type, or their value where the
value is what a client branches on). Comparing two transcripts lists the differences.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Fields whose value (not only type) clients branch on.
VALUE_FIELDS = frozenset({"status", "router:external", "OS-EXT-IPS:type", "version",
                          "ip_version", "direction", "protocol", "admin_state_up",
                          "device_owner", "visibility", "disk_format", "message", "code",
                          "type", "NeutronError.type", "error_code"})
#: The fields clients read, per top-level key of a response body (a `*` is each item of
#: a list, `.` a key of an object).
READ_FIELDS: Mapping[str, tuple[str, ...]] = {
    "version": ("id", "status", "links", "version", "min_version"),
    "versions": ("*.id", "*.status", "*.links"),
    "token": ("expires_at", "catalog", "project.id", "user.id"),
    "keypair": ("name", "public_key", "fingerprint", "type"),
    "keypairs": ("*.keypair.name",),
    "images": ("*.id", "*.name", "*.status", "*.visibility", "*.min_disk", "*.disk_format"),
    "flavor": ("id", "name", "vcpus", "ram", "disk", "extra_specs"),
    "flavors": ("*.id", "*.name", "*.vcpus", "*.ram", "*.disk"),
    "networks": ("*.id", "*.name", "*.router:external", "*.subnets", "*.status",
                 "*.description"),
    "network": ("id", "name", "router:external", "subnets", "status", "description",
                "admin_state_up"),
    "subnet": ("id", "name", "cidr", "gateway_ip", "dns_nameservers", "allocation_pools",
               "ip_version", "network_id", "description"),
    "subnets": ("*.id", "*.name", "*.cidr"),
    "router": ("id", "name", "external_gateway_info.network_id",
               "external_gateway_info.external_fixed_ips", "status", "description"),
    "routers": ("*.id", "*.name", "*.external_gateway_info"),
    "subnet_id": (), "port_id": (), "tenant_id": (), "id": (),
    "security_group": ("id", "name", "description", "security_group_rules"),
    "security_groups": ("*.id", "*.name", "*.description"),
    "security_group_rule": ("id", "direction", "protocol", "port_range_min",
                            "port_range_max", "security_group_id"),
    "server": ("id", "name", "status", "addresses", "flavor", "image", "key_name",
               "metadata", "security_groups", "links", "OS-EXT-STS:vm_state", "fault"),
    "servers": ("*.id", "*.name", "*.status", "*.addresses", "*.metadata", "*.flavor"),
    "ports": ("*.id", "*.device_id", "*.device_owner", "*.fixed_ips", "*.network_id"),
    "floatingip": ("id", "floating_ip_address", "fixed_ip_address", "port_id",
                   "floating_network_id", "description"),
    "floatingips": ("*.id", "*.floating_ip_address", "*.fixed_ip_address", "*.port_id"),
    "badRequest": ("message", "code"),
    "itemNotFound": ("message", "code"),
    "forbidden": ("message", "code"),
    "NeutronError": ("type", "message", "detail"),
    "error": ("code", "title"),
    "lease": ("id", "name", "status", "start_date", "end_date", "reservations"),
    "leases": ("*.id", "*.name", "*.status"),
    "error_code": (), "error_message": (), "error_name": (),
}
EMPTY = "(empty list)"
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")


def shape(value: Any) -> str:
    """The JSON type of a value: null, bool, number, string, list, object."""
    if value is None:
        return "null"
    for kind, name in ((bool, "bool"), ((int, float), "number"), (str, "string"),
                       (list, "list"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def pick(body: Any, path: str) -> list[Any]:
    """The values at `path` (`*` = each item of a list) in a JSON body."""
    values = [body]
    for part in path.split("."):
        nxt = []
        for value in values:
            if part == "*" and isinstance(value, list):
                nxt.extend(value)
            elif isinstance(value, dict) and part in value:
                nxt.append(value[part])
        values = nxt
    return values


def summary(body: Any, template: Any = str) -> dict[str, str]:
    """Field -> shape (or value, through `template`: ids made `{id}`) of what clients
    read in a response body."""
    out: dict[str, str] = {}
    if not isinstance(body, dict):
        return out
    for top, value in body.items():
        fields = READ_FIELDS.get(top)
        if fields is None:
            continue
        out[top] = shape(value)
        for field in fields:
            found = pick(value, field)
            if not found:
                # an empty listing says nothing of its items' fields (what a cloud lists
                # depends on what earlier tests left there)
                empty = field.startswith("*") and value == []
                out[f"{top}.{field}"] = EMPTY if empty else "absent"
                continue
            leaf = field.rsplit(".", 1)[-1]
            kinds = sorted({shape(v) for v in found})
            if leaf in VALUE_FIELDS or f"{top}.{leaf}" in VALUE_FIELDS:
                out[f"{top}.{field}"] = "|".join(sorted({template(str(v)) for v in found}))
            else:
                out[f"{top}.{field}"] = "|".join(kinds)
    return out


class Recorder:
    """Collects the answers of a call sequence, step by step."""

    def __init__(self, endpoints: Mapping[str, str], prefix: str) -> None:
        self.endpoints = dict(endpoints)  # service type -> public URL of its endpoint
        self.prefix = prefix  # the run's name prefix, written `{prefix}`
        self.steps: list[dict[str, Any]] = []
        self.ids: set[str] = set()
        self._current: dict[str, Any] | None = None

    def attach(self, requests_session: Any) -> None:
        """Record every answer `requests_session` (a requests.Session) receives."""
        requests_session.hooks["response"].append(self._answer)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Group the requests made inside under `name`."""
        self._current = {"step": name, "calls": []}
        try:
            yield
        finally:
            self.steps.append(self._current)
            self._current = None

    def _service(self, url: str) -> tuple[str, str]:
        best = ("", url)
        for service, base in self.endpoints.items():
            base = base.rstrip("/")
            if url.startswith(base) and len(base) > len(self.endpoints.get(best[0], "")):
                best = (service, url[len(base):] or "/")
        return best

    def _answer(self, response: Any, *args: Any, **kwargs: Any) -> None:
        if self._current is None:
            return
        request = response.request
        service, rest = self._service(request.url)
        parts = urlsplit(rest.replace(self.prefix, "{prefix}"))
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        self._remember_ids(body)
        query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query)))
        self._current["calls"].append({
            "call": f"{service} {request.method} {self._template(parts.path)}"
                    + (f"?{self._template_query(query)}" if query else ""),
            "status": response.status_code,
            "fields": summary(body, self._template_text)})

    def _remember_ids(self, body: Any) -> None:
        if isinstance(body, dict):
            for key, value in body.items():
                if key.endswith("id") and isinstance(value, str) and value:
                    self.ids.add(value)
                self._remember_ids(value)
        elif isinstance(body, list):
            for item in body:
                self._remember_ids(item)

    def _template(self, path: str) -> str:
        return "/".join("{id}" if segment in self.ids or _UUID.match(segment) else segment
                        for segment in path.split("/"))

    def _template_text(self, text: str) -> str:
        """A message with the ids in it made `{id}`."""
        text = text.replace(self.prefix, "{prefix}")
        return " ".join("{id}" if word.strip(".,'\"") in self.ids
                        or _UUID.match(word.strip(".,'\"")) else word
                        for word in text.split(" "))

    def _template_query(self, query: str) -> str:
        return "&".join(
            f"{key}={{id}}" if value in self.ids or _UUID.match(value) else f"{key}={value}"
            for key, _, value in (item.partition("=") for item in query.split("&")))

    def transcript(self) -> list[dict[str, Any]]:
        """Per step, each distinct call once, in the order of its first answer, with its
        last answer (a poll is judged by where it ended, not by how often it asked)."""
        out = []
        for step in self.steps:
            last: dict[str, dict[str, Any]] = {}
            for call in step["calls"]:
                last[call["call"]] = call
            out.append({"step": step["step"], "calls": list(last.values())})
        return out


def differences(emulator: list[dict[str, Any]], real: list[dict[str, Any]]) -> list[str]:
    """Where the emulator's transcript differs from the real cloud's: calls one made and
    not the other, other statuses, fields absent or of another shape or value."""
    found = []
    real_steps = {step["step"]: step["calls"] for step in real}
    for step in emulator:
        name, theirs = step["step"], real_steps.get(step["step"], [])
        ours = {call["call"]: call for call in step["calls"]}
        reals = {call["call"]: call for call in theirs}
        for call in sorted(set(ours) - set(reals)):
            found.append(f"{name}: only the emulator: {call} -> {ours[call]['status']}")
        for call in sorted(set(reals) - set(ours)):
            found.append(f"{name}: only the real cloud: {call} -> {reals[call]['status']}")
        for call in sorted(set(ours) & set(reals)):
            mine, real_call = ours[call], reals[call]
            if mine["status"] != real_call["status"]:
                found.append(f"{name}: {call}: status {mine['status']}, real "
                             f"{real_call['status']}")
                continue
            for field, value in sorted(real_call["fields"].items()):
                emulated = mine["fields"].get(field, "absent")
                if emulated != value and EMPTY not in (emulated, value):
                    found.append(f"{name}: {call}: {field} = {emulated}, real {value}")
    return found
