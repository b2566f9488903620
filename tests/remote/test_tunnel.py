"""G5kTunnel through a local-provider host's sshd (the tunnel's gateway) to a port
served in that namespace (its own sshd): a TCP connection through it reads the banner."""

from __future__ import annotations

import socket

import pytest

from bedform.providers.g5k.tunnel import G5kTunnel

pytestmark = [pytest.mark.root]


def test_tunnel_through_a_local_host(hosts) -> None:
    gateway, target = hosts["node-1"], hosts["node-2"]
    tunnel = G5kTunnel(target.address, 22, gateway=gateway.address, user="root",
                       keyfile=gateway.keyfile, force=True)
    with tunnel as (address, port, forwarder):
        assert forwarder is not None and address == "127.0.0.1" and port > 0
        with socket.create_connection((address, port), timeout=5) as conn:
            conn.settimeout(5)
            assert conn.recv(64).startswith(b"SSH-2.0-")
    assert tunnel.tunnel is None
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=1).close()


def test_on_grid5000_it_is_a_no_op(monkeypatch) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda *a: "fnancy.nancy.grid5000.fr")
    with G5kTunnel("node.site.grid5000.fr", 80) as (address, port, tunnel):
        assert (address, port, tunnel) == ("node.site.grid5000.fr", 80, None)
