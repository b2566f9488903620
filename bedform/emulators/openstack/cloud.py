"""The emulated cloud's state: accounts, tokens, compute, images, networks, quotas.

One re-entrant lock guards everything; the services take it for each request.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..common import VirtualClock
from .model import (
    AppCredential,
    CloudError,
    Flavor,
    Image,
    Keypair,
    Project,
    Server,
    ServerErrorFault,
    Token,
    User,
    iso_time,
    seeded_id,
)
from .seed import DEFAULT_FLAVORS, DEFAULT_IMAGES, DEFAULT_QUOTAS, EXTERNAL_CIDR

ADMIN_PROJECT = "admin"
ADMIN_USER = "admin"


class Cloud:
    """Everything the emulated services know, reset to the seed on :meth:`reset`.

    ``users`` maps login to password; every user is a member of every project in
    ``projects`` (the first is its default). An ``admin`` user in an ``admin``
    project owns the external network. Each user also has an application
    credential (see :meth:`app_credential_of`).
    """

    def __init__(
        self,
        clock: VirtualClock,
        users: Mapping[str, str],
        projects: Sequence[str],
        *,
        region: str = "RegionOne",
        build_seconds: float = 5.0,
        token_ttl: float = 24 * 3600.0,
        flavors: Sequence[Flavor] = DEFAULT_FLAVORS,
        images: Sequence[Image] = DEFAULT_IMAGES,
        external_cidr: str = EXTERNAL_CIDR,
    ) -> None:
        if not projects:
            raise ValueError("projects: give at least one project name")
        if build_seconds < 0:
            raise ValueError("build_seconds must be >= 0")
        self.clock = clock
        self.lock = threading.RLock()
        self.region = region
        self.build_seconds = float(build_seconds)
        self.token_ttl = float(token_ttl)
        #: the external network's subnet (a box picks one free on this machine)
        self.external_cidr = external_cidr
        self._user_passwords = dict(users)
        self._project_names = [str(name) for name in projects]
        self._seed_flavors = tuple(flavors)
        self._seed_images = tuple(images)
        self.reset()

    # ------------------------------------------------------------------ seed
    def reset(self) -> None:
        """Forget everything created through the API; keep the seed."""
        with self.lock:
            now = self.clock.now()
            self.projects: dict[str, Project] = {}
            self.users: dict[str, User] = {}
            self.app_credentials: dict[str, AppCredential] = {}
            self.tokens: dict[str, Token] = {}
            for name in [ADMIN_PROJECT, *self._project_names]:
                self.projects.setdefault(seeded_id("project", name), Project(
                    seeded_id("project", name), name))
            admin = User(seeded_id("user", ADMIN_USER), ADMIN_USER, ADMIN_USER,
                         [seeded_id("project", ADMIN_PROJECT)], ["admin", "member", "reader"])
            self.users[admin.id] = admin
            member_of = [seeded_id("project", name) for name in self._project_names]
            for login, password in self._user_passwords.items():
                user = User(seeded_id("user", login), login, password, list(member_of))
                self.users[user.id] = user
                credential = AppCredential(
                    seeded_id("app-credential", login), f"{login}-credential",
                    seeded_id("app-credential-secret", login), user.id, member_of[0])
                self.app_credentials[credential.id] = credential
            self.flavors: dict[str, Flavor] = {
                f.id: replace(f, extra_specs=dict(f.extra_specs)) for f in self._seed_flavors
            }
            admin_project = seeded_id("project", ADMIN_PROJECT)
            self.images: dict[str, Image] = {
                image.id: replace(image, created_at=image.created_at or now,
                                  owner=image.owner or admin_project)
                for image in self._seed_images
            }
            self.keypairs: dict[tuple[str, str], Keypair] = {}
            self.next_keypair_id = 1
            self.servers: dict[str, Server] = {}
            self.server_faults: list[ServerErrorFault] = []
            self.next_fault_uid = 1
            self.networks: dict[str, dict[str, Any]] = {}
            self.subnets: dict[str, dict[str, Any]] = {}
            self.ports: dict[str, dict[str, Any]] = {}
            self.routers: dict[str, dict[str, Any]] = {}
            self.floatingips: dict[str, dict[str, Any]] = {}
            self.security_groups: dict[str, dict[str, Any]] = {}
            self.security_group_rules: dict[str, dict[str, Any]] = {}
            self.quotas: dict[str, dict[str, int]] = {
                pid: dict(DEFAULT_QUOTAS) for pid in self.projects
            }

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def new_id() -> str:
        """A fresh dashed UUID."""
        return str(uuid.uuid4())

    def stamp(self) -> str:
        """The current virtual time as the services print it."""
        return iso_time(self.clock.now())

    def project(self, name_or_id: str) -> Project:
        """A project by id or name, or ``KeyError``."""
        if name_or_id in self.projects:
            return self.projects[name_or_id]
        for project in self.projects.values():
            if project.name == name_or_id:
                return project
        raise KeyError(f"unknown project {name_or_id!r}")

    def user_named(self, name: str) -> User | None:
        """A user by login."""
        return next((u for u in self.users.values() if u.name == name), None)

    def app_credential_of(self, login: str) -> AppCredential:
        """The application credential seeded for ``login``."""
        return self.app_credentials[seeded_id("app-credential", login)]

    # ------------------------------------------------------------------ quotas
    def quota(self, project_id: str, resource: str) -> int:
        """The limit of ``resource`` for a project (-1: unlimited)."""
        return self.quotas.setdefault(project_id, dict(DEFAULT_QUOTAS))[resource]

    def set_quotas(self, project_id: str, limits: Mapping[str, Any]) -> dict[str, int]:
        """Change some limits of a project; return all its limits."""
        current = self.quotas.setdefault(project_id, dict(DEFAULT_QUOTAS))
        for resource, value in limits.items():
            if resource not in DEFAULT_QUOTAS:
                known = ", ".join(sorted(DEFAULT_QUOTAS))
                raise CloudError(400, f"unknown quota {resource!r} (known: {known})")
            if not isinstance(value, int) or value < -1:
                raise CloudError(400, f"quota {resource!r} must be an integer >= -1")
            current[resource] = value
        return dict(current)

    def add_server_fault(self, name: str, count: int | None, message: str) -> ServerErrorFault:
        """Make matching server builds end in ERROR."""
        fault = ServerErrorFault(self.next_fault_uid, name, count, message)
        self.next_fault_uid += 1
        self.server_faults.append(fault)
        return fault
