"""The boards of the emulated FIT IoT-LAB testbed: sites, architectures, health.

A board is named like the real ones (``m3-12.grenoble.iot-lab.info``); its
``archi`` is the API string (``m3:at86rf231``). The health state (``Alive``,
``Absent``, ``Suspected``, ``Dead``) is the operators' view; ``Busy`` is
derived from the experiments that hold the board.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DOMAIN = "iot-lab.info"
HEALTH_STATES = ("Alive", "Absent", "Suspected", "Dead")
NODE_STATES = ("Alive", "Busy", "Absent", "Suspected", "Dead")
#: Architectures whose boards run Linux (SSH hosts ``node-<address>``); they cannot be flashed.
LINUX_FAMILIES = ("a8", "rpi3")

#: Site → architecture → number of boards.
DEFAULT_LAYOUT: dict[str, dict[str, int]] = {
    "grenoble": {"m3:at86rf231": 24, "a8:at86rf231": 8, "rpi3:at86rf233": 4},
    "lille": {"m3:at86rf231": 16, "nrf52dk:ble": 6, "rpi3:at86rf233": 2},
    "saclay": {"m3:at86rf231": 12, "a8:at86rf231": 6, "nrf52dk:ble": 4},
}
#: Boards out of order in the default inventory (documented in docs/emulators.md).
DEFAULT_HEALTH: dict[str, str] = {
    f"m3-16.lille.{DOMAIN}": "Absent",
    f"m3-12.saclay.{DOMAIN}": "Dead",
}


class InventoryError(ValueError):
    """A bad board name, architecture or state."""


def family_of(archi: str) -> str:
    """``m3:at86rf231`` → ``m3`` (the prefix of the board names)."""
    return archi.split(":", 1)[0]


@dataclass
class Board:
    """One board of the testbed."""

    network_address: str
    site: str
    archi: str
    number: int
    uid: str
    x: str
    y: str
    z: str
    health: str = "Alive"

    @property
    def family(self) -> str:
        """The architecture family (``m3``, ``a8``, …)."""
        return family_of(self.archi)

    @property
    def linux(self) -> bool:
        """Whether the board runs Linux (A8, Raspberry Pi) rather than a firmware."""
        return self.family in LINUX_FAMILIES

    def view(self, busy: bool) -> dict[str, Any]:
        """The API's Node object."""
        state = "Busy" if busy and self.health == "Alive" else self.health
        return {
            "archi": self.archi,
            "camera": 0,
            "mobile": 0,
            "mobility_type": "",
            "network_address": self.network_address,
            "production": "YES",
            "site": self.site,
            "state": state,
            "uid": self.uid,
            "x": self.x,
            "y": self.y,
            "z": self.z,
        }


def _make_board(site: str, archi: str, number: int, row: int) -> Board:
    family = family_of(archi)
    address = f"{family}-{number}.{site}.{DOMAIN}"
    uid = hashlib.sha256(address.encode()).hexdigest()[:4]
    column = (number - 1) % 8
    line = (number - 1) // 8
    return Board(
        network_address=address,
        site=site,
        archi=archi,
        number=number,
        uid=uid,
        x=f"{0.6 * column + 0.3:.2f}",
        y=f"{1.2 * line + 2.4 * row:.2f}",
        z=f"{2.0 + 0.6 * (row % 3):.2f}",
    )


class Inventory:
    """Every board, in site / family / number order."""

    def __init__(
        self,
        layout: Mapping[str, Mapping[str, int]] | None = None,
        health: Mapping[str, str] | None = None,
    ) -> None:
        layout = DEFAULT_LAYOUT if layout is None else layout
        boards: list[Board] = []
        for site, archis in layout.items():
            for row, (archi, count) in enumerate(archis.items()):
                if ":" not in archi:
                    raise InventoryError(f"archi {archi!r} must look like 'm3:at86rf231'")
                boards.extend(_make_board(site, archi, n, row) for n in range(1, int(count) + 1))
        boards.sort(key=lambda b: (b.site, b.family, b.number))
        self.boards: dict[str, Board] = {b.network_address: b for b in boards}
        self.initial_health = dict(DEFAULT_HEALTH if layout is DEFAULT_LAYOUT else {})
        self.initial_health.update(health or {})
        self.reset_health()

    def reset_health(self) -> None:
        """Back to the initial health of every board."""
        for board in self.boards.values():
            board.health = "Alive"
        for address, state in self.initial_health.items():
            self.set_health([address], state)

    def sites(self) -> list[str]:
        """Site names, sorted."""
        return sorted({b.site for b in self.boards.values()})

    def archis(self, site: str) -> list[str]:
        """Architectures present on a site, sorted."""
        return sorted({b.archi for b in self.boards.values() if b.site == site})

    def board(self, address: str) -> Board:
        """The board named ``address`` (FQDN)."""
        try:
            return self.boards[address]
        except KeyError:
            raise InventoryError(f"unknown node {address!r}") from None

    def select(self, site: str | None = None, archi: str | None = None) -> list[Board]:
        """Boards of a site and/or architecture (``archi`` may be a family, ``m3``)."""
        return [
            b
            for b in self.boards.values()
            if (site is None or b.site == site)
            and (archi is None or archi in (b.archi, b.family))
        ]

    def set_health(self, addresses: Iterable[str], state: str) -> list[str]:
        """Set the health state of boards; return their names."""
        if state not in HEALTH_STATES:
            raise InventoryError(f"state {state!r} must be one of {', '.join(HEALTH_STATES)}")
        boards = [self.board(address) for address in addresses]
        for board in boards:
            board.health = state
        return [b.network_address for b in boards]


def compress_ids(numbers: Iterable[int]) -> str:
    """``[1, 2, 3, 5, 8, 9]`` → ``1-3+5+8-9`` (IoT-LAB's id list syntax)."""
    ordered = sorted(set(numbers))
    ranges: list[str] = []
    start = previous = None
    for number in [*ordered, None]:
        if previous is not None and number is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return "+".join(ranges)


def ids_view(boards: Iterable[Board], states: Mapping[str, str]) -> list[dict[str, Any]]:
    """The ``nodes/ids`` layout: per site, per archi, per state, compressed numbers."""
    tree: dict[str, dict[str, dict[str, list[int]]]] = {}
    for board in boards:
        state = states[board.network_address]
        tree.setdefault(board.site, {}).setdefault(board.archi, {}).setdefault(state, []).append(
            board.number
        )
    return [
        {
            "site": site,
            "archis": [
                {
                    "archi": archi,
                    "states": [
                        {"state": state, "ids": compress_ids(numbers)}
                        for state, numbers in sorted(by_state.items())
                    ],
                }
                for archi, by_state in sorted(archis.items())
            ],
        }
        for site, archis in sorted(tree.items())
    ]
