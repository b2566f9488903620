"""`check()`: what EnOSlib's `check` shows, for bedform's provider types.

A dependency table (can each provider type's driver be imported?) and a connectivity
table (does this machine have what the provider needs: the driver's `preflight`, and
for Grid'5000 an answer from the API within the client's timeout). Printed with rich,
as EnOSlib does; returns the rows so scripts and tests can read them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bedform.errors import EnosError
from bedform.providers import driver_class, known_types
from bedform.providers.base import DriverContext

Row = tuple[str, str, bool | None, str]


def _connectivity(type_name: str, driver: Any) -> list[Row]:
    rows: list[Row] = []
    try:
        driver.preflight()
        rows.append((type_name, "preflight", True, ""))
    except (EnosError, OSError) as error:
        return [(type_name, "preflight", False, str(error))]
    if type_name == "g5k":
        from bedform.providers.g5k import api_utils

        try:
            sites = api_utils.get_sites()
            rows.append((type_name, "API", True, f"{len(sites)} site(s)"))
        except (EnosError, OSError) as error:
            rows.append((type_name, "API", False, str(error)))
    return rows


def check(platform_filter: list[str] | None = None) -> dict[str, list[Row]]:
    """Print and return the dependency and connectivity checks of the provider types
    (all, or those named in `platform_filter`)."""
    from rich.console import Console
    from rich.table import Table

    names = [n for n in known_types() if not platform_filter or n in platform_filter]
    deps: list[Row] = []
    conn: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bedform-check-") as scratch:
        context = DriverContext(stack_name="check", stack_id="", state_dir=Path(scratch))
        for name in names:
            try:
                klass = driver_class(name)
            except ImportError as error:
                deps.append((name, "import", False, str(error)))
                continue
            deps.append((name, "import", True, ""))
            conn += _connectivity(name, klass(context))
    console = Console()
    for title, rows in (("Dependency check", deps), ("Connectivity check", conn)):
        table = Table(title=title)
        for column in ("Provider", "Key", "Status", "Hint"):
            table.add_column(column)
        for provider, key, ok, hint in rows:
            table.add_row(provider, key, "?" if ok is None else "ok" if ok else "FAILED",
                          hint)
        console.print(table)
    return {"dependencies": deps, "connectivity": conn}
