"""The `distem` client (PyPI) against the coordinator's distemd, from wherever bedform runs.

`coordinator_api(coordinator, jump)` yields a `DistemApi` for the coordinator's port 4567:
directly on a Grid'5000 machine, else through an `ssh -N -L` forward via the access
gateway (the system OpenSSH client, the user's agent and keys, as `bedform.remote`);
the forward is ended when the block exits, whatever happens. Every request is bounded
(`REQUEST_TIMEOUT`), proxies from the environment are ignored (the client would send a
loopback request to them), and the client's bare `Exception(<X-Application-Error-Code>)`
becomes a `DistemApiError`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from bedform.errors import ProviderError
from bedform.objects import Host
from bedform.providers.lifecycle import BlockingContext, Wait, poll
from bedform.remote import ssh_argv

API_PORT = 4567
REQUEST_TIMEOUT = 120.0
FORWARD_TIMEOUT = 20.0


class DistemApiError(ProviderError):
    """distemd refused a request; the message holds its X-Application-Error-Code."""

    @property
    def not_found(self) -> bool:
        return "ResourceNotFoundError" in self.message


class _BoundedSession(requests.Session):
    """A session whose requests time out (the distem client sets no timeout)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = REQUEST_TIMEOUT
        return super().send(request, **kwargs)


class DistemApi:
    """The coordinator's API through the `distem` client, with bedform's errors."""

    def __init__(self, address: str, port: int, coordinator: str) -> None:
        import distem

        self.coordinator = coordinator
        self.client = distem.Distem(serveraddr=address, port=port)
        session = _BoundedSession()
        session.trust_env = False
        self.client.client = session
        self.client.proxies = {}

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`distem.Distem.<method>(*args, **kwargs)`; DistemApiError on a refusal."""
        function: Callable[..., Any] = getattr(self.client, method)
        try:
            return function(*args, **kwargs)
        except (requests.RequestException, OSError):
            raise
        except Exception as error:  # the client raises bare Exception(<error code>)
            raise DistemApiError(f"distemd on {self.coordinator}: {method}: {error}") \
                from None

    def find(self, method: str, *args: Any) -> Any:
        """Like `call`, None when distemd answers that the object does not exist."""
        try:
            return self.call(method, *args)
        except DistemApiError as error:
            if error.not_found:
                return None
            raise


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _forward(coordinator: str, jump: Mapping[str, Any], keyfile: str | None
             ) -> Iterator[int]:
    """A local port forwarded to coordinator:4567 through the gateway of `jump`."""
    gateway = Host(str(jump["gateway"]), user=jump.get("gateway_user"), keyfile=keyfile,
                   port=jump.get("gateway_port"))
    port = _free_port()
    argv = ssh_argv(gateway, "")[:-3]   # the options, without "-- <host> <command>"
    argv += ["-N", "-o", "ExitOnForwardFailure=yes", "-L",
             f"127.0.0.1:{port}:{coordinator}:{API_PORT}", "--", gateway.address]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    def listening() -> tuple[bool, str]:
        if process.poll() is not None:
            error = (process.stderr.read() if process.stderr else b"").decode().strip()
            raise ProviderError(
                f"cannot forward a port to distemd on {coordinator} through "
                f"{gateway.address}: {error.splitlines()[-1] if error else 'ssh failed'}",
                hint="Check that your key reaches the gateway (ssh-agent), and that the "
                     "job's nodes are up.")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True, "starting"
        return True, "listening"

    try:
        poll(BlockingContext(), Wait(f"the port forward to distemd on {coordinator}",
                                     pending={"starting"}, target={"listening"},
                                     timeout=FORWARD_TIMEOUT, delays=(0.05,)), listening)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


@contextlib.contextmanager
def coordinator_api(coordinator: str, jump: Mapping[str, Any],
                    keyfile: str | None = None) -> Iterator[DistemApi]:
    """The coordinator's API, through the gateway when `jump` names one."""
    if not jump:
        yield DistemApi(coordinator, API_PORT, coordinator)
        return
    with _forward(coordinator, jump, keyfile) as port:
        api = DistemApi("127.0.0.1", port, coordinator)
        try:
            yield api
        finally:
            api.client.client.close()
