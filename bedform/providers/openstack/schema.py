"""JSON schema of a `type: openstack` section (EnOSlib's fields plus bedform's)."""

from __future__ import annotations

from typing import Any

DEFAULT_CIDR = "10.87.23.0/24"
DEFAULT_DNS = ("8.8.8.8", "8.8.4.4")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

_ROLES = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
_POOL = {"type": "object", "additionalProperties": False, "required": ["start", "end"],
         "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
         "description": "First and last address of the subnet's allocation pool."}
_NAMED = {"type": "object", "additionalProperties": False, "required": ["name"],
          "properties": {"name": {"type": "string", "minLength": 1}}}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key_name", "image", "user", "resources"],
    "properties": {
        "key_name": {"type": "string", "minLength": 1,
                     "description": "The Nova keypair installed on the servers."},
        "image": {"type": "string", "minLength": 1,
                  "description": "Glance image name (or id) of every server."},
        "user": {"type": "string", "minLength": 1,
                 "description": "The SSH login of the image (debian, ubuntu, cirros...)."},
        "rc_file": {"type": "string", "minLength": 1,
                    "description": "An openrc file (`export OS_...=...` lines)."},
        "cloud": {"type": "string", "minLength": 1,
                  "description": "A cloud of clouds.yaml (default: OS_CLOUD, OS_* vars)."},
        "prefix": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 40,
                   "description": "Prefix of every object name (default: the stack name)."},
        "network": _NAMED,
        "subnet": {"type": "object", "additionalProperties": False, "required": ["name"],
                   "properties": {"name": {"type": "string", "minLength": 1},
                                  "cidr": {"type": "string"}}},
        "configure_network": {"type": "boolean"},
        "gateway": {"type": "boolean",
                    "description": "Attach a floating IP to one server and jump through it."},
        "gateway_user": {"type": "string", "minLength": 1},
        "allocation_pool": _POOL,
        "dns_nameservers": {"type": "array", "items": {"type": "string"}},
        "external_network": {"type": "string", "minLength": 1,
                             "description": "Default: the first `router:external` network."},
        "wait_ssh": {"type": "boolean",
                     "description": "After ACTIVE, wait until every server answers SSH."},
        "resources": {
            "type": "object", "additionalProperties": False, "required": ["machines"],
            "properties": {
                "machines": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["roles", "flavour"],
                    "properties": {
                        "roles": _ROLES,
                        "flavour": {"type": "string", "minLength": 1},
                        "number": {"type": "integer", "minimum": 0},
                        "image": {"type": "string", "minLength": 1},
                        "user": {"type": "string", "minLength": 1}}}},
                "networks": {"type": "array", "items": {"type": "string", "minLength": 1},
                             "description": "Role names of the one private subnet."},
            },
        },
    },
}
