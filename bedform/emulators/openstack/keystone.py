"""Keystone v3: version documents, tokens (password, application credential, token).

Served at the root of the emulator: ``GET /`` (300, versions), ``GET /v3``,
``POST|GET|HEAD|DELETE /v3/auth/tokens``, ``GET /v3/auth/catalog`` and
``GET /v3/auth/projects``. The other services call :meth:`Keystone.caller` to
check the ``X-Auth-Token`` of every request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..common import Request, Response, json_response
from .cloud import Cloud
from .model import CloudError, Project, Token, User, iso_time, seeded_id

IDENTITY_VERSION = "v3.14"
UNAUTHORIZED = "The request you have made requires authentication."
DEFAULT_DOMAIN = {"id": "default", "name": "Default"}
JSON_MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]

#: Builds the service catalog for a base URL (``http://host:port``).
CatalogBuilder = Callable[[str], list[dict[str, Any]]]


def keystone_error(status: int, title: str, message: str, base_url: str = "") -> CloudError:
    """An error in Keystone's (and keystonemiddleware's) shape."""
    headers = {"WWW-Authenticate": f'Keystone uri="{base_url}/v3"'} if status == 401 else {}
    return CloudError(status, {"error": {"code": status, "title": title, "message": message}},
                      headers)


@dataclass
class Caller:
    """Who is calling, as proven by a token: the scope every service works in.

    ``base_url`` is the root URL of the service called (links are built on it).
    """

    token: Token
    user: User
    project: Project
    base_url: str

    @property
    def project_id(self) -> str:
        """The scoped project."""
        return self.project.id

    @property
    def is_admin(self) -> bool:
        """Whether the token carries the ``admin`` role."""
        return "admin" in self.user.roles


class Keystone:
    """The identity service of a :class:`Cloud`."""

    def __init__(self, cloud: Cloud, catalog: CatalogBuilder) -> None:
        self.cloud = cloud
        self.catalog = catalog

    # ----------------------------------------------------------------- routes
    def handle(self, request: Request, parts: list[str], base_url: str) -> Response:
        """Answer an identity request (``parts``: the path split on ``/``)."""
        method = request.method
        match parts:
            case [] if method in ("GET", "HEAD"):
                return json_response({"versions": {"values": [self._version(base_url)]}}, 300)
            case ["v3"] if method in ("GET", "HEAD"):
                return json_response({"version": self._version(base_url)})
            case ["v3", "auth", "tokens"]:
                return self._tokens(request, base_url)
            case ["v3", "auth", "catalog"] if method == "GET":
                caller = self.caller(request, base_url, base_url)
                return json_response({"catalog": self.catalog(base_url)})
            case ["v3", "auth", "projects"] if method == "GET":
                caller = self.caller(request, base_url, base_url)
                projects = [self._project_view(self.cloud.projects[p])
                            for p in caller.user.project_ids]
                return json_response({"projects": projects})
        raise keystone_error(404, "Not Found", "The resource could not be found.")

    def _version(self, base_url: str) -> dict[str, Any]:
        return {
            "id": IDENTITY_VERSION,
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base_url}/v3/"}],
            "media-types": JSON_MEDIA,
        }

    def _tokens(self, request: Request, base_url: str) -> Response:
        if request.method == "POST":
            token = self.issue(request, base_url)
            return json_response(self.token_view(token, base_url), 201,
                                 {"X-Subject-Token": token.value})
        self.caller(request, base_url, base_url)
        subject = self._valid_token(request.header("X-Subject-Token") or "")
        if subject is None:
            raise keystone_error(404, "Not Found",
                                 "Could not find token: (the token is unknown or expired).")
        if request.method == "DELETE":
            with self.cloud.lock:
                self.cloud.tokens.pop(subject.value, None)
            return Response(204)
        if request.method in ("GET", "HEAD"):
            return json_response(self.token_view(subject, base_url), 200,
                                 {"X-Subject-Token": subject.value})
        raise keystone_error(405, "Method Not Allowed", "The method is not allowed.")

    # ----------------------------------------------------------------- tokens
    def issue(self, request: Request, base_url: str) -> Token:
        """Authenticate a ``POST /v3/auth/tokens`` body; 401 on bad credentials."""
        body = request.json()
        auth = body.get("auth") if isinstance(body, dict) else None
        auth = auth if isinstance(auth, dict) else {}
        identity = auth.get("identity")
        identity = identity if isinstance(identity, dict) else {}
        methods = identity.get("methods")
        if not isinstance(methods, list) or not methods:
            raise keystone_error(400, "Bad Request",
                                 "Invalid input for field 'identity': 'methods' is required.")
        with self.cloud.lock:
            user, project_id, credential_id = self._identify(identity, methods, base_url)
            scope = auth.get("scope")
            if scope is not None:
                if credential_id is not None:
                    raise keystone_error(401, "Unauthorized",
                                         "Application credentials cannot request a scope.",
                                         base_url)
                project_id = self._scoped_project(scope, base_url)
            if project_id not in user.project_ids:
                raise keystone_error(401, "Unauthorized", UNAUTHORIZED, base_url)
            now = self.cloud.clock.now()
            token = Token(secrets.token_hex(16), user.id, project_id, list(methods), now,
                          now + self.cloud.token_ttl, credential_id)
            self.cloud.tokens[token.value] = token
            return token

    def _identify(
        self, identity: Mapping[str, Any], methods: list[Any], base_url: str
    ) -> tuple[User, str, str | None]:
        """The user, its default project and the application credential used, if any."""
        cloud = self.cloud
        denied = keystone_error(401, "Unauthorized", UNAUTHORIZED, base_url)
        method = methods[0]
        section = identity.get(method)
        if not isinstance(section, dict):
            raise keystone_error(400, "Bad Request",
                                 f"Invalid input for field 'identity': '{method}' is required.")
        if method == "password":
            spec = section.get("user") or {}
            user = self._find_user(spec)
            if user is None or spec.get("password") != user.password:
                raise denied
            return user, user.project_ids[0], None
        if method == "application_credential":
            credential = cloud.app_credentials.get(str(section.get("id", "")))
            if credential is None and "name" in section:
                owner = self._find_user(section.get("user") or {})
                credential = next(
                    (c for c in cloud.app_credentials.values()
                     if owner is not None and c.user_id == owner.id
                     and c.name == section["name"]), None)
            if credential is None or section.get("secret") != credential.secret:
                raise denied
            return cloud.users[credential.user_id], credential.project_id, credential.id
        if method == "token":
            previous = self._valid_token(str(section.get("id", "")))
            if previous is None:
                raise denied
            return cloud.users[previous.user_id], previous.project_id, None
        raise keystone_error(401, "Unauthorized", f"Unsupported authentication method: {method}",
                             base_url)

    def _find_user(self, spec: Mapping[str, Any]) -> User | None:
        if "id" in spec:
            return self.cloud.users.get(str(spec["id"]))
        domain = spec.get("domain") or {}
        if not self._is_default_domain(domain):
            return None
        return self.cloud.user_named(str(spec.get("name", "")))

    @staticmethod
    def _is_default_domain(domain: Mapping[str, Any]) -> bool:
        if "id" in domain:
            return domain["id"] == DEFAULT_DOMAIN["id"]
        return domain.get("name", DEFAULT_DOMAIN["name"]) == DEFAULT_DOMAIN["name"]

    def _scoped_project(self, scope: Any, base_url: str) -> str:
        denied = keystone_error(401, "Unauthorized", UNAUTHORIZED, base_url)
        spec = scope.get("project") if isinstance(scope, dict) else None
        if not isinstance(spec, dict):
            raise denied  # domain and system scopes are not emulated
        if "id" in spec:
            if spec["id"] not in self.cloud.projects:
                raise denied
            return str(spec["id"])
        if not self._is_default_domain(spec.get("domain") or {}):
            raise denied
        try:
            return self.cloud.project(str(spec.get("name", ""))).id
        except KeyError:
            raise denied from None

    def _valid_token(self, value: str) -> Token | None:
        with self.cloud.lock:
            token = self.cloud.tokens.get(value)
            if token is None or token.expires_at <= self.cloud.clock.now():
                return None
            return token

    def caller(self, request: Request, host_url: str, service_root: str) -> Caller:
        """The caller proven by ``X-Auth-Token``, or 401 (keystonemiddleware's answer).

        ``service_root`` is the URL of the service being called (for its links).
        """
        token = self._valid_token(request.header("X-Auth-Token") or "")
        if token is None:
            raise keystone_error(401, "Unauthorized", UNAUTHORIZED, host_url)
        return Caller(token, self.cloud.users[token.user_id],
                      self.cloud.projects[token.project_id], service_root)

    # ------------------------------------------------------------------ views
    @staticmethod
    def _project_view(project: Project) -> dict[str, Any]:
        return {"id": project.id, "name": project.name, "domain_id": project.domain_id,
                "enabled": True, "is_domain": False, "parent_id": project.domain_id,
                "description": "", "links": {}, "tags": []}

    def token_view(self, token: Token, base_url: str) -> dict[str, Any]:
        """The ``{"token": …}`` body, with the catalog."""
        user = self.cloud.users[token.user_id]
        project = self.cloud.projects[token.project_id]
        body: dict[str, Any] = {
            "methods": token.methods,
            "user": {"id": user.id, "name": user.name, "domain": dict(DEFAULT_DOMAIN),
                     "password_expires_at": None},
            "audit_ids": [token.value[:22]],
            "issued_at": iso_time(token.issued_at, fraction=True),
            "expires_at": iso_time(token.expires_at, fraction=True),
            "project": {"id": project.id, "name": project.name, "domain": dict(DEFAULT_DOMAIN)},
            "is_domain": False,
            "roles": [{"id": seeded_id("role", role), "name": role} for role in user.roles],
            "catalog": self.catalog(base_url),
        }
        if token.app_credential_id is not None:
            credential = self.cloud.app_credentials[token.app_credential_id]
            body["application_credential"] = {"id": credential.id, "name": credential.name,
                                              "restricted": True}
        return {"token": body}
