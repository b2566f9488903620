"""The iotlabcli client bedform uses: credentials, base URL, calls, error mapping.

Credentials are read as iotlabcli reads them, but when a driver starts rather than when
iotlabcli is imported: the file named by `IOTLAB_PASSWORD_FILE`, else `~/.iotlabrc`,
holding `login:base64(password)`. The base URL is the first line of
`~/.iotlab.api-url`, else `IOTLAB_API_URL`, else the public API. A missing or broken
credentials file is a `PreflightError`. The password is kept in memory only, and no
error message carries it (iotlabcli's errors hold the URL and the body, never the
Authorization header).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

from bedform.errors import (
    InvalidReservationCritical,
    InvalidReservationTime,
    InvalidReservationTooOld,
    PreflightError,
    ProviderError,
)
from bedform.providers.g5k.client import PARIS

PASSWORD_FILE_ENV = "IOTLAB_PASSWORD_FILE"
API_URL_ENV = "IOTLAB_API_URL"
DEFAULT_API_URL = "https://www.iot-lab.info/api/"
ACTIVE_STATES = ("Running", "Launching", "toLaunch", "Waiting")


def password_file() -> Path:
    """Where iotlabcli reads the credentials from."""
    env = os.environ.get(PASSWORD_FILE_ENV)
    return Path(env) if env else Path.home() / ".iotlabrc"


def read_credentials() -> tuple[str, str]:
    """(login, password) from the iotlabcli password file, checked."""
    path = password_file()
    hint = (f"Run `iotlab-auth -u LOGIN` (it writes {path}), or point {PASSWORD_FILE_ENV} "
            "at a file holding `login:base64(password)`; `bedform emulate iotlab` writes one.")
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise PreflightError(f"IoT-LAB credentials file {path} not found", hint=hint) from None
    except OSError as error:
        raise PreflightError(f"cannot read IoT-LAB credentials file {path}: "
                             f"{error.strerror}", hint=hint) from None
    login, sep, encoded = text.partition(":")
    try:
        password = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        password = ""
    if not sep or not login or not password or ":" in encoded:
        raise PreflightError(f"IoT-LAB credentials file {path} is not "
                             "`login:base64(password)`", hint=hint)
    return login, password


def api_url() -> str:
    """The API base URL as iotlabcli would choose it, ending with '/'."""
    custom = Path.home() / ".iotlab.api-url"
    try:
        url = custom.read_text().strip()
    except OSError:
        url = os.environ.get(API_URL_ENV, "")
    url = url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


class IotlabApiError(ProviderError):
    """An IoT-LAB API call failed; `status` and the API's `detail` message."""

    def __init__(self, what: str, status: int | None, detail: str) -> None:
        super().__init__(f"IoT-LAB API {what} failed ({status}): {detail}")
        self.status = status
        self.detail = detail


def _detail(error: HTTPError) -> str:
    text = str(error.msg or "").strip()
    try:
        return str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        return text.replace("\n\t", " ")[:500]


class Api:
    """iotlabcli's `rest.Api` with the credentials and URL above and typed errors."""

    def __init__(self) -> None:
        from iotlabcli import rest

        self.username, password = read_credentials()
        self.url = api_url()
        self.rest = rest.Api(self.username, password)
        self.rest.url = self.url   # instance attribute: iotlabcli read its own at import

    def call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`function(self.rest, *args, **kwargs)`; HTTP and connection errors mapped."""
        try:
            return function(self.rest, *args, **kwargs)
        except HTTPError as error:
            failure = IotlabApiError(what, error.code, _detail(error))
            if error.code == 401:
                failure.hint = (f"Check the login and password in {password_file()} "
                                "(`iotlab-auth -u LOGIN` writes them).")
            raise failure from None
        except RuntimeError as error:   # iotlabcli wraps connection errors so
            raise ProviderError(f"cannot reach the IoT-LAB API at {self.url}: "
                                f"{_first_line(error)}",
                                hint="Check the network, or that the emulator runs and "
                                     f"{API_URL_ENV} points at it.") from None

    def get(self, path: str) -> Any:
        return self.call(f"GET {path}", lambda api: api.method(path))

    # -- experiments ---------------------------------------------------------------------
    def active_experiments(self) -> list[dict[str, Any]]:
        """Our experiments in an active state (one listing call)."""
        answer = self.call("GET experiments", lambda api: api.get_experiments(
            state=",".join(ACTIVE_STATES), limit=0, offset=0))
        return list((answer or {}).get("items", []))

    def experiment(self, exp_id: int) -> dict[str, Any] | None:
        """`GET experiments/{id}`; None when it does not exist."""
        try:
            return self.get(f"experiments/{exp_id}")
        except IotlabApiError as error:
            if error.status == 404:
                return None
            raise

    def stop(self, exp_id: int) -> bool:
        """Stop an experiment; False when it had already ended or is unknown."""
        try:
            self.call(f"DELETE experiments/{exp_id}",
                      lambda api: api.stop_experiment(exp_id))
        except IotlabApiError as error:
            if error.status == 404 or "already killed" in error.detail:
                return False
            raise
        return True

    def node_command(self, command: str, exp_id: int, nodes: list[str],
                     option: str | None = None) -> dict[str, list[str]]:
        """A node command (start, stop, reset, flash, profile...) through iotlabcli."""
        from iotlabcli import node

        return self.call(f"POST experiments/{exp_id}/nodes/{command}",
                         lambda api: node.node_command(api, command, exp_id, nodes, option))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def submit_error(error: IotlabApiError) -> Exception:
    """EnOSlib's mapping of a refused submission to a typed error."""
    text = error.detail
    match = re.search(r"could run at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
    if match:
        when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PARIS)
        return InvalidReservationTime(when, f"IoT-LAB: reservation not possible; it could "
                                            f"run at {match.group(1)} (Europe/Paris)")
    if "too old" in text.lower():
        return InvalidReservationTooOld("IoT-LAB: the reservation date is in the past")
    return InvalidReservationCritical(f"IoT-LAB refused the experiment: {text}")


def iso_to_epoch(text: str | None) -> float | None:
    """`YYYY-MM-DDTHH:MM:SSZ` → epoch; None for missing or the API's unset date (1970)."""
    if not text or text.startswith("1970-01-01"):
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def epoch_to_iso(epoch: float) -> str:
    """Epoch → the API's `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
