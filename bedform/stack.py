"""Stack files: a name and named provider sections, each its provider's configuration.

```yaml
name: my-experiment
providers:
  here:
    type: local
    resources: {machines: [{roles: [client], number: 3}]}
```

Errors name the file, the YAML path and the fix; nothing is ever written while loading.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bedform.errors import ConfigError
from bedform.providers import driver_class

if TYPE_CHECKING:
    from bedform.providers.base import Driver

DEFAULT_FILE = "bedform.yaml"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
PROVIDER_PATTERN = r"^[a-z][a-z0-9_-]{0,30}$"

STACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["providers"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN,
                 "description": "Letters, digits, '.', '_' and '-', at most 63 characters."},
        "providers": {
            "type": "object", "minProperties": 1,
            "description": "Map each provider instance name to its configuration.",
            "additionalProperties": {
                "type": "object", "required": ["type"],
                "properties": {"type": {"type": "string"}},
            },
        },
    },
}


@attrs.frozen
class ProviderSection:
    """One provider instance of a stack: its name, type and loaded configuration."""

    name: str
    type: str
    section: Mapping[str, Any]
    conf: Any

    @property
    def driver_class(self) -> builtins.type[Driver]:  # `type` here is the field above
        """The driver class serving this provider type."""
        return driver_class(self.type)


@attrs.frozen
class Stack:
    """A validated stack: its name, provider sections and where its state lives."""

    name: str
    providers: dict[str, ProviderSection]
    state_dir: Path
    path: Path | None = None

    @property
    def label(self) -> str:
        """How to name the stack in messages."""
        return str(self.path) if self.path else self.name


def load_stack(path: str | Path, state_dir: str | Path | None = None) -> Stack:
    """Read and validate a stack file."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"stack file {path} not found",
                          hint="Create it (see examples/quickstart.yaml) or pass -c FILE."
                          ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                          hint="Save the stack file as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read stack file {path}: {exc}") from None
    try:
        data = yaml.load(text, Loader=_unique_keys_loader())  # a SafeLoader subclass
    except DuplicateKeyError as exc:
        raise ConfigError(str(exc), file=str(path),
                          hint="Keep one of them: YAML would silently keep the last.") \
            from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML{where}: {problem}", file=str(path),
                          hint="Fix the YAML syntax (indentation, quotes, colons).") from None
    path = path.resolve()
    stack = stack_from_dict(data, file=str(path), default_name=path.parent.name,
                            state_dir=Path(), path=path)
    resolved = Path(state_dir).expanduser().resolve() if state_dir else \
        default_state_dir(path.parent / ".bedform", stack.name)
    return attrs.evolve(stack, state_dir=resolved)


def default_state_dir(root: Path, name: str) -> Path:
    """Where a stack's state lives by default, `root` being `.bedform` beside the stack
    file: `root` itself for the first stack that records its state there (the layout of
    a directory with one stack file, and of earlier versions), `root/stacks/<name>` for
    any other stack, so stacks side by side never share a state. An unreadable state
    file counts as this stack's: the store then reports it, naming its backups."""
    recorded: object = ""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        recorded = json.loads((root / "state.json").read_text(encoding="utf-8")) \
            .get("stack", "")
    other = isinstance(recorded, str) and recorded not in ("", name)
    return root / "stacks" / name if other else root


class DuplicateKeyError(ValueError):
    """A mapping of the stack file holds the same key twice."""


def _unique_keys_loader() -> type:
    """A yaml SafeLoader that refuses a key repeated in one mapping (naming both lines)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if isinstance(key, str | int | float | bool) and key in seen:
                    raise DuplicateKeyError(f"duplicate key {key!r} at line {line} (first "
                                            f"at line {seen[key]})")
                if isinstance(key, str | int | float | bool):
                    seen[key] = line
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def stack_from_dict(data: Any, *, file: str | None = None, default_name: str = "stack",
                    state_dir: Path, path: Path | None = None) -> Stack:
    """Validate a stack document (parsed YAML) and load each provider's configuration."""
    from bedform.providers.schema import validate_section

    if not isinstance(data, dict):
        raise ConfigError("a stack file must be a mapping with `name` and `providers`",
                          file=file, hint="Start from examples/quickstart.yaml.")
    try:
        validate_section(STACK_SCHEMA, data)
        for name in data["providers"]:
            if not isinstance(name, str) or not re.match(PROVIDER_PATTERN, name):
                raise ConfigError(
                    f"invalid provider name {name!r}", ["providers", str(name)],
                    hint="Use lowercase letters, digits, '-' and '_', starting with a "
                    "letter (at most 31 characters).")
    except ConfigError as exc:
        raise exc.within(file) from None
    name = data.get("name") or _sanitise(default_name)
    providers = {}
    for provider_name, section in data["providers"].items():
        body = {k: v for k, v in section.items() if k != "type"}
        try:
            cls = driver_class(section["type"])
            conf = cls.load_config(body)
        except ConfigError as exc:
            raise exc.within(file, ("providers", provider_name)) from None
        providers[provider_name] = ProviderSection(provider_name, section["type"], body, conf)
    return Stack(name=name, providers=providers, state_dir=state_dir, path=path)


def _sanitise(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "stack"
    return cleaned[:63]
