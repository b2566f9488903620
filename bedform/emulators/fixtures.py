"""The bodies of the emulators' pytest factory fixtures (``yield from`` them): start
emulators on demand, stop them all at teardown, and for boxes remove what each left by
its id and fail the test when anything was left."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from .handle import EmulatorHandle

E = TypeVar("E", bound=EmulatorHandle)


def started_emulators(build: Callable[..., E], defaults: Mapping[str, Any]
                      ) -> Iterator[Callable[..., E]]:
    """Yield `start(**kwargs)`: an emulator built with `defaults` updated by `kwargs`,
    started; every one is stopped at teardown."""
    started: list[E] = []

    def start(**kwargs: Any) -> E:
        emulator = build(**{**defaults, **kwargs})
        started.append(emulator)
        return emulator.start()

    try:
        yield start
    finally:
        for emulator in started:
            emulator.stop()


def started_boxes(build: Callable[..., E], purge: Callable[[str], Mapping[str, list[Any]]],
                  defaults: Mapping[str, Any]) -> Iterator[Callable[..., E]]:
    """`started_emulators` with ``box=True``; at teardown each box is purged by its id,
    even when the test failed, and the test fails if anything had been left."""
    started: list[E] = []

    def start(**kwargs: Any) -> E:
        emulator = build(**{**defaults, **kwargs, "box": True})
        started.append(emulator)
        return emulator.start()

    try:
        yield start
    finally:
        leaks = {}
        for emulator in started:
            emulator.stop()
            assert emulator.box is not None
            left = purge(emulator.box.box_id)
            if any(left.values()):
                leaks[emulator.box.box_id] = left
        assert not leaks, f"boxes left {leaks}"
