"""Gratuitous ARP: a host announces its addresses, as a booting machine does, so that
neighbours still caching an earlier owner's MAC for an address learn the new one."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from bedform.machines import netlink
from bedform.machines.errors import MachineError

_ETH_P_ARP = 0x0806
_BROADCAST = b"\xff" * 6


def announce(netns: str, interfaces: Sequence[tuple[str, str, str]]) -> None:
    """Broadcast one gratuitous ARP request per (interface, MAC, IPv4 address) of `netns`."""

    def send() -> None:
        for name, mac, address in interfaces:
            hardware = bytes.fromhex(mac.replace(":", ""))
            ip = socket.inet_aton(address)
            frame = (_BROADCAST + hardware + _ETH_P_ARP.to_bytes(2, "big")
                     + bytes.fromhex("0001080006040001") + hardware + ip + bytes(6) + ip)
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
                sock.bind((name, 0))
                sock.send(frame)

    try:
        netlink.in_netns(netns, send)
    except OSError as exc:
        raise MachineError(f"announcing {netns}'s addresses failed: {exc}") from None
