"""What the planner reads of a stack, as a protocol: the caller (the CLI, the EnOSlib
facade) loads the stack file and hands in any object of this shape, so the planner does
not depend on how stacks are read."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class SectionView(Protocol):
    """One provider instance: its type and its loaded configuration."""

    @property
    def type(self) -> str:
        """The provider type, which names the driver."""
        ...

    @property
    def conf(self) -> Any:
        """The configuration object the driver's `load_config` returned."""
        ...


class StackView(Protocol):
    """A stack: its name, its provider instances and where its state lives."""

    @property
    def name(self) -> str:
        """The stack name (remote objects are named after it)."""
        ...

    @property
    def providers(self) -> Mapping[str, SectionView]:
        """Provider instances by name."""
        ...

    @property
    def state_dir(self) -> Path:
        """The state directory."""
        ...

    @property
    def path(self) -> Path | None:
        """The stack file, when there is one (for error messages)."""
        ...

    @property
    def label(self) -> str:
        """How to name the stack in messages."""
        ...
