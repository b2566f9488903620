"""The objects of the emulated cloud, its error type and its time format.

Identity and compute objects are dataclasses; Neutron resources are kept as the
JSON dictionaries the API shows (their attributes are what the list filters and
updates work on), so they need no class here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

#: Namespace of the deterministic ids given to seeded objects.
SEED_NAMESPACE = uuid.UUID("6f1c8f2e-3f0b-4d55-9a56-0c7a2b1e9d01")


def seeded_id(kind: str, name: str) -> str:
    """A stable hexadecimal id for a seeded object (the same after every reset)."""
    return uuid.uuid5(SEED_NAMESPACE, f"{kind}:{name}").hex


def dashed_id(kind: str, name: str) -> str:
    """A stable dashed UUID for a seeded object (Nova, Neutron and Glance use those)."""
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}:{name}"))


def iso_time(epoch: float, fraction: bool = False) -> str:
    """``2026-04-01T10:00:00Z`` (with microseconds when ``fraction``), in UTC."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    if fraction:
        stamp += f".{int((epoch % 1) * 1_000_000):06d}"
    return stamp + "Z"


class CloudError(Exception):
    """An error answered by one of the services.

    ``body`` is a JSON-able mapping (rendered as JSON) or a string (plain text),
    already in the shape of the service that raises it.
    """

    def __init__(
        self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def nova_error(status: int, message: str) -> CloudError:
    """An error in Nova's shape (``{"itemNotFound": {"code", "message"}}`` …)."""
    names = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
             405: "badMethod", 409: "conflictingRequest", 413: "overLimit"}
    return CloudError(status, {names.get(status, "computeFault"): {"code": status,
                                                                   "message": message}})


@dataclass
class Project:
    """A Keystone project in the ``Default`` domain."""

    id: str
    name: str
    domain_id: str = "default"


@dataclass
class User:
    """A Keystone user; member of ``project_ids`` (the first one is its default)."""

    id: str
    name: str
    password: str
    project_ids: list[str]
    roles: list[str] = field(default_factory=lambda: ["member", "reader"])
    domain_id: str = "default"


@dataclass
class AppCredential:
    """A Keystone application credential: authenticates as its user on its project."""

    id: str
    name: str
    secret: str
    user_id: str
    project_id: str


@dataclass
class Token:
    """An issued token (the value travels as ``X-Subject-Token``/``X-Auth-Token``)."""

    value: str
    user_id: str
    project_id: str
    methods: list[str]
    issued_at: float
    expires_at: float
    app_credential_id: str | None = None


@dataclass
class Flavor:
    """A Nova flavor."""

    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    swap: int = 0
    extra_specs: dict[str, str] = field(default_factory=dict)
    is_public: bool = True
    description: str | None = None


@dataclass
class Image:
    """A Glance image (always ``active`` and ``public`` here)."""

    id: str
    name: str
    os_distro: str
    os_version: str
    os_admin_user: str
    size: int
    min_disk: int = 0
    min_ram: int = 0
    disk_format: str = "qcow2"
    container_format: str = "bare"
    created_at: float = 0.0
    owner: str = ""


@dataclass
class Keypair:
    """A Nova key pair (owned by a user, not a project)."""

    id: int
    name: str
    user_id: str
    public_key: str
    fingerprint: str
    type: str
    created_at: float


@dataclass
class Server:
    """A Nova server; its state moves on the virtual clock (see ``nova.sync``)."""

    id: str
    name: str
    project_id: str
    user_id: str
    flavor_id: str
    image_id: str
    key_name: str | None
    port_ids: list[str]
    security_groups: list[str]
    created_at: float
    ready_at: float
    metadata: dict[str, str] = field(default_factory=dict)
    scheduler_hints: dict[str, Any] = field(default_factory=dict)
    availability_zone: str = "nova"
    description: str | None = None
    status: str = "BUILD"
    updated_at: float = 0.0
    launched_at: float | None = None
    fault: dict[str, Any] | None = None
    #: message of the ERROR this build ends in (set by a ``server_error`` fault)
    doomed: str | None = None
    admin_pass: str = ""
    #: ports the caller brought (kept, only unbound, when the server goes)
    given_port_ids: list[str] = field(default_factory=list)


@dataclass
class ServerErrorFault:
    """Make the next ``count`` server builds whose name matches ``name`` end in ERROR."""

    uid: int
    name: str
    count: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON view."""
        return {
            "uid": self.uid,
            "kind": "server_error",
            "name": self.name,
            "count": self.count,
            "message": self.message,
        }
