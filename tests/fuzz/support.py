"""Helpers of the fuzz tests: run the CLI in-process and check it failed cleanly."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from click.testing import CliRunner, Result

from bedform.cli import main
from tests.fakecloud import register


def invoke(*args: str) -> Result:
    """Run `bedform ARGS` in-process, catching whatever escapes."""
    register()
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def assert_clean(result: Result, context: str = "") -> None:
    """Exit 0 or 1, no escaped exception, no traceback, no internal error."""
    where = f"{context}\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        detail = "".join(traceback.format_exception(*result.exc_info))
        raise AssertionError(f"uncaught exception:\n{detail}{where}")
    assert result.exit_code in (0, 1), where
    assert "Traceback" not in result.output, where
    assert "unexpected internal error" not in result.output, where


def dotted(path: Sequence[str | int]) -> str:
    """`a.b[0].c`, as bedform's errors name YAML fields."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) of a parsed YAML/JSON document, the root included."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def get(node: Any, path: Sequence) -> Any:
    for part in path:
        node = node[part]
    return node
