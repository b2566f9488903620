"""`G5kTunnel`: reach a node's port from outside Grid'5000 through an SSH gateway.

    with G5kTunnel("parasilo-3.rennes.grid5000.fr", 8080) as (host, port, tunnel):
        requests.get(f"http://{host}:{port}/")

On a Grid'5000 machine (local FQDN containing `grid5000.fr`) it is a no-op returning
(address, port, None), unless `force=True`. Elsewhere it forwards 127.0.0.1:local_port
(0: an ephemeral port) to address:port through `gateway` (default: the client
configuration's `gateway`, else `access.grid5000.fr`) as `user` (default: the API
user), with sshtunnel/paramiko, the user's agent and keys plus `keyfile`.
"""

from __future__ import annotations

import socket
from typing import Any

ACCESS = "access.grid5000.fr"


class G5kTunnel:
    def __init__(self, address: str, port: int, local_port: int = 0, *,
                 gateway: str | None = None, gateway_port: int = 22, user: str | None = None,
                 keyfile: str | None = None, force: bool = False) -> None:
        self.address = address
        self.port = int(port)
        self.local_port = int(local_port)
        if gateway is None:
            from bedform.providers.g5k.client import client_setting

            gateway = str(client_setting("gateway") or ACCESS)
        self.gateway = gateway
        self.gateway_port = int(gateway_port)
        self.user = user
        self.keyfile = keyfile
        self.force = force
        self.tunnel: Any = None

    def _user(self) -> str:
        if self.user:
            return self.user
        from bedform.providers.g5k.client import read_config

        return str(read_config()["username"])

    def start(self) -> tuple[str, int, Any]:
        if not self.force and "grid5000.fr" in socket.getfqdn():
            return self.address, self.port, None
        import logging

        import sshtunnel

        logger = logging.getLogger("bedform.tunnel")
        logger.addHandler(logging.NullHandler())
        tunnel = sshtunnel.SSHTunnelForwarder(
            (self.gateway, self.gateway_port), ssh_username=self._user(),
            ssh_pkey=self.keyfile, allow_agent=True,
            remote_bind_address=(self.address, self.port),
            local_bind_address=("127.0.0.1", self.local_port), logger=logger,
            set_keepalive=5.0)
        tunnel.start()
        self.tunnel = tunnel
        return "127.0.0.1", int(tunnel.local_bind_port), tunnel

    def close(self) -> None:
        if self.tunnel is not None:
            self.tunnel.stop(force=True)
            self.tunnel = None

    def __enter__(self) -> tuple[str, int, Any]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
