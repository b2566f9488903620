"""Nova key pairs: import or generation, fingerprints, views by microversion."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .cloud import Cloud
from .model import Keypair, iso_time, nova_error

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9 _.@-]{1,255}$")


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint Nova shows (colon-separated), or 400 for a malformed key."""
    fields = public_key.strip().split()
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (IndexError, binascii.Error):
        raise nova_error(400, "Keypair data is invalid: failed to generate fingerprint") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def generate() -> tuple[str, str]:
    """A new RSA key pair as Nova makes one: (private PEM, public OpenSSH line)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return private, f"{public} Generated-by-Nova"


class Keypairs:
    """The ``/os-keypairs`` resource (callers hold ``cloud.lock``)."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def get(self, user_id: str, name: str) -> Keypair:
        """A user's key pair, or 404."""
        try:
            return self.cloud.keypairs[(user_id, name)]
        except KeyError:
            raise nova_error(404, f"Keypair {name} not found for user {user_id}") from None

    def list(self, user_id: str) -> list[Keypair]:
        """A user's key pairs, by name."""
        return sorted((k for (owner, _), k in self.cloud.keypairs.items() if owner == user_id),
                      key=lambda k: k.name)

    def create(self, user_id: str, spec: Any) -> tuple[Keypair, str | None]:
        """Import (``public_key``) or generate a key pair; returns it and the private key."""
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise nova_error(400, "Invalid input for field/attribute keypair. Value: None. "
                                  "'name' is a required property")
        name = spec["name"]
        if not NAME_PATTERN.match(name):
            raise nova_error(400, "Keypair data is invalid: Keypair name contains unsafe "
                                  "characters")
        limit = self.cloud.quota(self.cloud.users[user_id].project_ids[0], "key_pairs")
        if limit >= 0 and len(self.list(user_id)) + 1 > limit:
            raise nova_error(403, "Quota exceeded, too many key pairs.")
        if (user_id, name) in self.cloud.keypairs:
            raise nova_error(409, f"Key pair '{name}' already exists.")
        private = None
        public = spec.get("public_key")
        if not public:
            private, public = generate()
        keypair = Keypair(self.cloud.next_keypair_id, name, user_id, str(public).strip(),
                          fingerprint(str(public)), str(spec.get("type") or "ssh"),
                          self.cloud.clock.now())
        self.cloud.next_keypair_id += 1
        self.cloud.keypairs[(user_id, name)] = keypair
        return keypair, private

    def delete(self, user_id: str, name: str) -> None:
        """Forget a key pair (404 when unknown)."""
        self.get(user_id, name)
        del self.cloud.keypairs[(user_id, name)]


def keypair_view(keypair: Keypair, microversion: tuple[int, int], full: bool) -> dict[str, Any]:
    """A key pair as Nova shows it (``full``: the ``GET /os-keypairs/{name}`` fields)."""
    view: dict[str, Any] = {"name": keypair.name, "public_key": keypair.public_key,
                            "fingerprint": keypair.fingerprint}
    if microversion >= (2, 2):
        view["type"] = keypair.type
    if full:
        view.update({"user_id": keypair.user_id, "id": keypair.id,
                     "created_at": iso_time(keypair.created_at)[:-1], "deleted": False,
                     "deleted_at": None, "updated_at": None})
    return view
