"""JSON schema of the `iotlab` provider section and its constants (EnOSlib's fields,
the client's value ranges); `config.py` builds and checks the configuration objects."""

from __future__ import annotations

from typing import Any

DEFAULT_WALLTIME = "00:01"
WALLTIME_PATTERN = r"^\d+:[0-5]\d$"
START_PATTERN = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"
ARCHI_PATTERN = r"^[a-z0-9]+:[a-z0-9.]+$"
HOSTNAME_PATTERN = r"^[a-z0-9]+-\d+\.[a-z0-9]+\.iot-lab\.info$"
PROFILE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
FIRMWARE_SUFFIXES = (".elf", ".hex", ".bin")
LINUX_FAMILIES = ("a8", "rpi")
"""Boards whose network address starts with these run Linux: SSH hosts, not flashed."""
CONSUMPTION_PERIODS = [140, 204, 332, 588, 1100, 2116, 4156, 8244]
CONSUMPTION_AVERAGES = [1, 4, 16, 64, 128, 256, 512, 1024]
DEFAULT_FRONTEND = "{site}.iot-lab.info"

_ROLES = {"type": "array", "items": {"type": "string", "minLength": 1}}
_MACHINE_COMMON = {
    "roles": _ROLES,
    "image": {"type": "string", "minLength": 1,
              "description": "Path to a firmware file (.elf, .hex or .bin)."},
    "profile": {"type": "string", "pattern": PROFILE_NAME_PATTERN,
                "description": "Name of a monitoring profile (monitoring.profiles or one "
                               "that exists on IoT-LAB)."},
}
_BOARDS = {"type": "object", "additionalProperties": False,
           "required": ["roles", "archi", "site"],
           "properties": {**_MACHINE_COMMON,
                          "archi": {"type": "string", "pattern": ARCHI_PATTERN,
                                    "description": "The API architecture string, e.g. "
                                                   "m3:at86rf231 or a8:at86rf231."},
                          "site": {"type": "string", "pattern": r"^[a-z]+$"},
                          "number": {"type": "integer", "minimum": 1,
                                     "description": "How many boards (1 or more)."}}}
_PHYSICAL = {"type": "object", "additionalProperties": False,
             "required": ["roles", "hostname"],
             "properties": {**_MACHINE_COMMON,
                            "hostname": {"type": "array", "minItems": 1, "uniqueItems": True,
                                         "items": {"type": "string",
                                                   "pattern": HOSTNAME_PATTERN},
                                         "description": "Board FQDNs like "
                                                        "m3-1.grenoble.iot-lab.info."}}}
_RADIO = {"type": "object", "additionalProperties": False, "required": ["mode", "channels"],
          "properties": {
              "mode": {"type": "string", "enum": ["rssi", "sniffer"]},
              "channels": {"type": "array", "minItems": 1, "uniqueItems": True,
                           "items": {"type": "integer", "minimum": 11, "maximum": 26,
                                     "description": "An 802.15.4 channel, 11 to 26."},
                           "description": "802.15.4 channels, 11 to 26."},
              "period": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535,
                         "description": "Measure period in ms, 1 to 65535."},
              "num_per_channel": {"type": ["integer", "null"], "minimum": 0,
                                  "maximum": 255,
                                  "description": "Measures per channel, 0 to 255."}}}
_CONSUMPTION = {"type": "object", "additionalProperties": False,
                "required": ["period", "average"],
                "properties": {
                    "current": {"type": "boolean"}, "power": {"type": "boolean"},
                    "voltage": {"type": "boolean"},
                    "period": {"type": "integer", "enum": CONSUMPTION_PERIODS,
                               "description": f"One of {CONSUMPTION_PERIODS} (µs)."},
                    "average": {"type": "integer", "enum": CONSUMPTION_AVERAGES,
                                "description": f"One of {CONSUMPTION_AVERAGES}."}}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["resources"],
    "properties": {
        "job_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "walltime": {"type": "string", "pattern": WALLTIME_PATTERN,
                     "description": "HH:MM (hours and minutes), e.g. \"01:30\"."},
        "start_time": {"type": ["string", "null"], "pattern": START_PATTERN,
                       "description": "Europe/Paris time, YYYY-MM-DD HH:MM:SS."},
        "frontend": {"oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "object", "minProperties": 1,
             "additionalProperties": {"type": "string", "minLength": 1}}],
            "description": "SSH frontend of a site; {site} is replaced (default "
                           f"{DEFAULT_FRONTEND}); or a mapping site -> frontend address "
                           "(a box, a mirror), other sites keeping the default."},
        "wait_ssh": {"type": "boolean",
                     "description": "Also wait until A8/RPi nodes answer SSH through the "
                                    "site frontend (needs the frontends reachable)."},
        "resources": {
            "type": "object", "additionalProperties": False, "required": ["machines"],
            "properties": {
                "machines": {"oneOf": [
                    {"type": "array", "minItems": 1, "items": _BOARDS},
                    {"type": "array", "minItems": 1, "items": _PHYSICAL}],
                    "description": "All board groups (archi/site/number) or all physical "
                                   "groups (hostname), never a mix."},
                "networks": {"type": "array", "uniqueItems": True, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["id", "type", "roles", "site"],
                    "properties": {"id": {"type": "string", "minLength": 1},
                                   "type": {"type": "string", "enum": ["prod"]},
                                   "roles": _ROLES,
                                   "site": {"type": "string", "pattern": r"^[a-z]+$"}}}},
            },
        },
        "monitoring": {
            "type": "object", "additionalProperties": False, "required": ["profiles"],
            "properties": {"profiles": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "archi"],
                "properties": {"name": {"type": "string", "pattern": PROFILE_NAME_PATTERN},
                               "archi": {"type": "string", "enum": ["m3", "a8", "custom"]},
                               "radio": _RADIO, "consumption": _CONSUMPTION}}}}},
    },
}
