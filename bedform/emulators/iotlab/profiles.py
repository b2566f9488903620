"""Monitoring profiles: validation with the value ranges of iotlabcli and the API."""

from __future__ import annotations

import re
from typing import Any

NODE_ARCHS = ("m3", "a8", "custom")
POWER_MODES = ("dc", "battery")
CONSUMPTION_PERIODS = (140, 204, 332, 588, 1100, 2116, 4156, 8244)
CONSUMPTION_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)
RADIO_MODES = ("rssi", "sniffer")
CHANNELS = range(11, 27)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ProfileError(ValueError):
    """A profile that the API refuses; the message names the field."""


def _int_in(value: Any, allowed: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        shown = (
            f"{allowed.start}..{allowed.stop - 1}"
            if isinstance(allowed, range)
            else ", ".join(map(str, allowed))
        )
        raise ProfileError(f"{field}: {value!r} is not allowed (expected one of {shown})")
    return value


def _bool(value: Any, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ProfileError(f"{field}: {value!r} must be true or false")
    return value


def _consumption(spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ProfileError("consumption: must be an object or null")
    flags = {k: _bool(spec.get(k), f"consumption.{k}") for k in ("power", "voltage", "current")}
    if not any(flags.values()):
        raise ProfileError("consumption: at least one of power, voltage, current must be true")
    return {
        "period": _int_in(spec.get("period"), CONSUMPTION_PERIODS, "consumption.period"),
        "average": _int_in(spec.get("average"), CONSUMPTION_AVERAGES, "consumption.average"),
        **flags,
    }


def _radio(spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ProfileError("radio: must be an object or null")
    mode = spec.get("mode")
    if mode not in RADIO_MODES:
        raise ProfileError(f"radio.mode: {mode!r} must be one of {', '.join(RADIO_MODES)}")
    channels = spec.get("channels")
    if not isinstance(channels, list) or not channels:
        raise ProfileError("radio.channels: must be a non-empty list of channels 11..26")
    channels = [_int_in(c, CHANNELS, "radio.channels") for c in channels]
    period, per_channel = spec.get("period"), spec.get("num_per_channel")
    if mode == "sniffer":
        if period is not None or per_channel is not None:
            raise ProfileError("radio: period and num_per_channel are not allowed for sniffer")
        if len(channels) != 1:
            raise ProfileError("radio.channels: sniffer mode takes exactly one channel")
        return {"mode": mode, "channels": channels, "period": None, "num_per_channel": None}
    period = _int_in(period, range(1, 65536), "radio.period")
    per_channel = _int_in(per_channel or 0, range(256), "radio.num_per_channel")
    if len(channels) > 1 and per_channel == 0:
        raise ProfileError("radio.num_per_channel: required (> 0) with several channels")
    return {"mode": mode, "channels": channels, "period": period, "num_per_channel": per_channel}


def validate_profile(body: Any) -> dict[str, Any]:
    """The normalized profile, or :class:`ProfileError` naming the bad field."""
    if not isinstance(body, dict):
        raise ProfileError("the profile must be a JSON object")
    name = body.get("profilename")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProfileError(
            f"profilename: {name!r} must be 1-64 letters, digits, '_', '-' or '.'"
        )
    arch = body.get("nodearch")
    if arch not in NODE_ARCHS:
        raise ProfileError(f"nodearch: {arch!r} must be one of {', '.join(NODE_ARCHS)}")
    power = body.get("power")
    if power not in POWER_MODES:
        raise ProfileError(f"power: {power!r} must be one of {', '.join(POWER_MODES)}")
    return {
        "profilename": name,
        "nodearch": arch,
        "power": power,
        "consumption": _consumption(body.get("consumption")),
        "radio": _radio(body.get("radio")),
    }
