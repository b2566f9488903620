"""JSON-schema validation of provider sections, with errors that name the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedform.errors import ConfigError, did_you_mean


def validate_section(schema: Mapping[str, Any], section: Mapping[str, Any]) -> None:
    """Raise `ConfigError` on the first (most relevant) schema violation of `section`."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match

    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = list(validator.iter_errors(section))
    if not errors:
        return
    error = best_match(errors)
    # a misspelled key (`resource:`) is both unknown and a missing required one: name
    # the unknown key, and the nearest known one, rather than the missing one
    unknown = next((e for e in errors if e.validator == "additionalProperties"
                    and e.absolute_path == error.absolute_path), None)
    if error.validator == "required" and unknown is not None:
        error = unknown
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed), key=str)
        nearest = did_you_mean(str(extra[0]), allowed) if len(extra) == 1 else ""
        raise ConfigError(
            f"unknown field {extra[0]!r}" if len(extra) == 1 else f"unknown fields {extra}",
            [*path, extra[0]] if len(extra) == 1 else path,
            hint=(nearest.strip() + " " if nearest else "")
            + (f"Allowed fields here: {', '.join(allowed)}." if allowed else ""),
        )
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        raise ConfigError(
            f"missing required field {missing!r}", [*path, missing],
            hint=f"Add `{missing}:` here.",
        )
    hint = error.schema.get("description", "") if isinstance(error.schema, Mapping) else ""
    raise ConfigError(error.message, path, hint=hint)
