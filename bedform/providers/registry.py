"""Which driver serves a provider `type`: the entry points of the `bedform.providers` group.

Every provider type, the built-in ones included, is an entry point named after the type
whose value is its driver class; a third-party provider becomes usable in stack files
by installing its package, which declares in its pyproject.toml:

    [project.entry-points."bedform.providers"]
    mycloud = "bedform_mycloud.driver:MyCloudDriver"

The installed entry points are read once, on first use, and a driver's module is
imported only when its type is asked for. `register_driver` adds a type for the running
process only (tests, benchmarks, applications embedding bedform).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from bedform.errors import ConfigError
from bedform.providers.base import Driver

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "bedform.providers"
BUILT_IN = ("g5k", "local")
DRIVER_MEMBERS = ("kinds", "capabilities", "load_config", "expand", "refresh", "create",
                  "update", "delete", "import_object", "inventory")

_in_process: dict[str, EntryPoint] = {}


@functools.cache
def installed() -> dict[str, tuple[EntryPoint, ...]]:
    """The installed entry points of the group, by provider type (read once)."""
    from importlib.metadata import entry_points

    found: dict[str, list[EntryPoint]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, []).append(entry)
    return {name: tuple(entries) for name, entries in found.items()}


def known_types() -> list[str]:
    """Every provider type a stack may use here, sorted."""
    return sorted({*installed(), *_in_process})


def register_driver(type_name: str, target: str) -> None:
    """Serve `type_name` with the driver class `target` ("module:Class") in this process.

    An installed type cannot be overridden: that would silently change what its stacks
    manage.
    """
    from importlib.metadata import EntryPoint

    entries = installed().get(type_name, ())
    if entries:
        raise ValueError(f"provider type {type_name!r} is already installed by "
                         f"{_packages(entries)}; register another name")
    _in_process[type_name] = EntryPoint(type_name, target, ENTRY_POINT_GROUP)


def driver_class(type_name: str) -> type[Driver]:
    """The driver class of a provider type, imported on first use.

    Raises ConfigError (at the section's `type`) for an unknown type, a type two
    installed packages claim, and an entry point that does not load or is no driver.
    """
    entries = (_in_process[type_name],) if type_name in _in_process \
        else installed().get(type_name, ())
    if not entries:
        raise ConfigError(f"unknown provider type {type_name!r}", ("type",),
                          hint=_unknown_hint())
    if len(entries) > 1:
        raise ConfigError(
            f"provider type {type_name!r} is declared by several packages: "
            f"{_packages(entries)}", ("type",),
            hint="Uninstall all but one of them (pip uninstall NAME).")
    entry = entries[0]
    package = _packages(entries)
    try:
        loaded = entry.load()
    except Exception as exc:
        fix = f"Reinstall or upgrade {package}, or uninstall it if unused." \
            if entry.dist is not None else "Fix the target given to register_driver."
        raise ConfigError(
            f"provider type {type_name!r} from {package} failed to load ({entry.value}): "
            f"{type(exc).__name__}: {exc}", ("type",), hint=fix) from exc
    missing = [name for name in DRIVER_MEMBERS if not hasattr(loaded, name)]
    if not isinstance(loaded, type) or missing:
        lacks = f"it lacks {', '.join(missing)}" if isinstance(loaded, type) \
            else f"it is a {type(loaded).__name__}, not a class"
        raise ConfigError(
            f"provider type {type_name!r} from {package} names {entry.value}, which is not "
            f"a bedform driver class: {lacks}", ("type",),
            hint=f"Report it to the authors of {package}." if entry.dist is not None
            else "Give register_driver a driver class.")
    return loaded


def _packages(entries: tuple[EntryPoint, ...]) -> str:
    names = []
    for entry in entries:
        dist = entry.dist
        names.append(f"package {dist.name} {dist.version}" if dist is not None
                     else "this process (register_driver)")
    return ", ".join(names)


def _unknown_hint() -> str:
    known = known_types()
    hint = f"Use one of: {', '.join(known)}." if known else "No provider type is installed."
    missing = [name for name in BUILT_IN if name not in installed()]
    if missing:
        hint += (f" The built-in types ({', '.join(missing)}) are not registered: reinstall"
                 " bedform (pip install -e . in its checkout) so its entry points exist.")
    return hint + (f" A third-party provider declares its type under the entry point group"
                   f" {ENTRY_POINT_GROUP!r} of its package; install that package.")


def import_formats() -> dict[str, str]:
    """Every importable kind of the provider types here, with what `bedform import` takes
    as its REMOTE_ID (imports every driver: for `import --help` only)."""
    formats: dict[str, str] = {}
    for type_name in known_types():
        try:
            klass = driver_class(type_name)
        except ConfigError:
            continue
        listed = getattr(klass, "import_formats", None)
        if listed is not None:
            formats.update({kind: text for kind, text in listed().items() if text})
    return dict(sorted(formats.items()))

