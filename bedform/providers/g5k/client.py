"""The python-grid5000 client bedform uses: credentials, raw calls, error mapping.

Credentials come from the file named by `BEDFORM_G5K_CONFIG`, else
`~/.python-grid5000.yaml`. Besides python-grid5000's settings, it may name the SSH
`gateway` to the nodes (default access.grid5000.fr) and say `nodes_reachable: false`.
A missing or broken file is a `PreflightError`, never a silent fall-back to anonymous
access. The password is kept in memory only.
"""

from __future__ import annotations

import os
import re
import threading
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bedform.errors import (
    InvalidReservationCritical,
    InvalidReservationTime,
    InvalidReservationTooOld,
    NotEnoughNodesError,
    PreflightError,
    ProviderError,
)

PARIS = ZoneInfo("Europe/Paris")
CONFIG_ENV = "BEDFORM_G5K_CONFIG"
DEFAULT_TIMEOUT = 60
"""Seconds one HTTP request may take (python-grid5000 has no default)."""
RETRY_BUDGET = 60.0
"""Seconds after which a call that keeps failing transiently is no longer retried."""
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def config_path() -> Path:
    """Where the python-grid5000 configuration is read from."""
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path.home() / ".python-grid5000.yaml"


def read_config() -> dict[str, Any]:
    """The client configuration (uri, username, password...), checked."""
    path = config_path()
    hint = (f"Write {path} with `username:` and `password:` (and `uri:` for an emulator), "
            f"or point {CONFIG_ENV} at such a file; `bedform emulate g5k` writes one.")
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PreflightError(f"Grid'5000 credentials file {path} not found", hint=hint) \
            from None
    except (OSError, yaml.YAMLError) as error:
        raise PreflightError(f"cannot read Grid'5000 credentials file {path}: "
                             f"{type(error).__name__}", hint=hint) from None
    if not isinstance(data, dict) or not data.get("username"):
        raise PreflightError(f"Grid'5000 credentials file {path} has no `username`",
                             hint=hint)
    return data


def client_setting(name: str) -> Any:
    """One setting of the client configuration; None when it is absent or the file is
    missing or broken (`read_config` reports those when credentials are needed)."""
    try:
        return read_config().get(name)
    except PreflightError:
        return None


class Api:
    """Thin wrapper over `grid5000.Grid5000` raw HTTP calls with typed errors."""

    def __init__(self) -> None:
        from grid5000 import Grid5000

        conf = read_config()
        self.username: str = str(conf["username"])
        #: False when the configuration says `nodes_reachable: false` (an API without nodes)
        self.nodes_reachable: bool = conf.get("nodes_reachable", True) is not False
        kwargs = {k: conf[k] for k in ("uri", "username", "password", "verify_ssl",
                                       "sslcert", "sslkey", "timeout") if k in conf}
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        self.uri: str = str(kwargs.get("uri", "https://api.grid5000.fr/stable"))
        self._pause = threading.Event()   # never set: an interruptible sleep
        if str(kwargs.get("uri", "")).startswith("http://"):
            # nothing to verify over plain HTTP (an emulator): python-grid5000 would log
            # "Unverified HTTPS request is being made" for verify_ssl: false
            kwargs.pop("verify_ssl", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.gk = Grid5000(**kwargs)

    def get(self, path: str, **query: Any) -> Any:
        return self._call("get", path, query)

    def post(self, path: str, body: Any) -> Any:
        return self._call("post", path, None, body)

    def delete(self, path: str) -> Any:
        return self._call("delete", path, None)

    def _call(self, method: str, path: str, query: Any, body: Any = None) -> Any:
        """One API call; transient failures are retried with back-off for at most
        RETRY_BUDGET seconds: for a GET, an unreachable API, a timeout or a 502/503/504;
        for a POST or DELETE only what proves the request was not processed (connection
        refused, 503), so that a job is never submitted twice. (python-grid5000 itself
        retries connections and 500/502/504 of idempotent calls a few times.)"""
        started, attempt = time.monotonic(), 0
        while True:
            try:
                return self._call_once(method, path, query, body)
            except (ApiError, OSError) as error:
                waited = time.monotonic() - started
                if not self._transient(method, error) or waited >= RETRY_BUDGET:
                    raise self._final(method, path, error, waited) from None
            self._pause.wait(min(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)],
                                 max(0.0, RETRY_BUDGET - waited)))
            attempt += 1

    def _call_once(self, method: str, path: str, query: Any, body: Any) -> Any:
        from grid5000.exceptions import Grid5000Error, Grid5000ParsingError

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if method == "get":
                    return self.gk.http_get(path, query_data=query or {})
                if method == "post":
                    return self.gk.http_post(path, post_data=body)
                return self.gk.http_delete(path)
            except Grid5000ParsingError:
                return None  # e.g. the walltime endpoint's 202 text/plain answer
            except Grid5000Error as error:
                raise ApiError(method.upper(), path, getattr(error, "response_code", None),
                               str(getattr(error, "error_message", error))) from None

    @staticmethod
    def _transient(method: str, error: BaseException) -> bool:
        if isinstance(error, ApiError):
            return error.status == 503 or (method == "get" and error.status in (502, 504))
        if method == "get":
            return True   # refused, reset, timed out: a read can be repeated
        return "refused" in str(error).lower() or "NewConnectionError" in repr(error)

    def _final(self, method: str, path: str, error: BaseException,
               waited: float) -> ProviderError:
        if isinstance(error, ApiError):
            if error.status == 401:
                error.hint = (f"The credentials come from {config_path()} (or the file "
                              f"named by {CONFIG_ENV}): check `username` and `password`.")
            return error
        tried = f" (retried for {waited:.0f} s)" if waited else ""
        return ProviderError(
            f"the Grid'5000 API at {self.uri} is unreachable{tried}: {method.upper()} "
            f"{path}: {type(error).__name__}",
            hint=f"Check the network (VPN, proxy) and the `uri` in {config_path()}; the "
                 "state is unchanged by this failure: run the command again.")


class ApiError(ProviderError):
    """A Grid'5000 API call failed."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        super().__init__(f"Grid'5000 API {method} {path} failed ({status}): {message}")
        self.status = status
        self.detail = message


def submit_error(error: ApiError, site: str, resources: str) -> Exception:
    """EnOSlib's mapping of an OAR submission error to a typed error."""
    text = error.detail
    match = re.search(r"could run at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
    if match:
        when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PARIS)
        return InvalidReservationTime(when, f"{site}: reservation not possible; it could "
                                      f"run at {match.group(1)} (Europe/Paris)")
    if "too old" in text.lower():
        return InvalidReservationTooOld(f"{site}: the reservation date is in the past")
    if "not enough resources" in text.lower():
        return NotEnoughNodesError(
            f"{site}: Grid'5000 cannot satisfy {resources!r}: {text}. Ask for fewer nodes "
            "(or lower `min`), another cluster, or check the cluster status "
            "(`bedform slots`).")
    return InvalidReservationCritical(f"{site}: {text}")


def paris_to_epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PARIS).timestamp()


def epoch_to_paris(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, PARIS).strftime("%Y-%m-%d %H:%M:%S")
