"""The openstacksdk connection of a provider, and what its errors mean.

Credentials are read by openstacksdk's own loaders, in this order: the `cloud` of a
clouds.yaml (`OS_CLIENT_CONFIG_FILE` or the usual places), an EnOSlib `rc_file` (its
`export OS_X=value` lines, given to openstacksdk as they would come from the
environment), else the environment (`OS_CLOUD` or `OS_*`). Nothing of them is kept:
the state holds names and ids, never a password, token or application secret.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bedform.errors import PreflightError, ProviderError

MARKER = "bedform stack {stack}"
"""The description bedform gives the networks, routers, groups and IPs it makes."""

_EXPORT = re.compile(r"^\s*export\s+(OS_[A-Za-z0-9_]+)=(.*)$")


def read_rc_file(path: str | Path) -> dict[str, str]:
    """The `OS_*` variables an openrc file exports (quotes removed; values may hold
    `=`, unlike EnOSlib's parser). An interactive password prompt is not supported."""
    values: dict[str, str] = {}
    for line in Path(path).expanduser().read_text().splitlines():
        match = _EXPORT.match(line)
        if match is None:
            continue
        raw = match.group(2).strip()
        try:
            parts = shlex.split(raw, comments=True) if raw else [""]
        except ValueError:
            parts = [raw.strip("'\"")]
        values[match.group(1)] = parts[0] if parts else ""
    return values


def cloud_region(cloud: str | None = None, rc_file: str | None = None) -> Any:
    """openstacksdk's CloudRegion for the configured credentials (PreflightError
    naming the source when they are missing or incomplete)."""
    from keystoneauth1.exceptions import ClientException
    from openstack import exceptions
    from openstack.config import OpenStackConfig

    try:
        if rc_file:
            variables = read_rc_file(rc_file)
            if "OS_AUTH_URL" not in variables:
                raise PreflightError(f"{rc_file} exports no OS_AUTH_URL",
                                     hint="Download the project's openrc (v3) from the "
                                          "dashboard, or use `cloud:` with a clouds.yaml.")
            kwargs: dict[str, Any] = {key[3:].lower(): value
                                      for key, value in variables.items()}
            config = OpenStackConfig(load_yaml_config=False, load_envvars=False)
            return config.get_one(**kwargs)
        return OpenStackConfig().get_one(cloud=cloud)
    except OSError as error:
        raise PreflightError(f"cannot read rc_file {rc_file}: {error.strerror}") from None
    except (exceptions.ConfigException, ClientException, KeyError) as error:
        where = f"cloud {cloud!r}" if cloud else "the OS_* environment"
        raise PreflightError(f"no usable OpenStack credentials in {where}: "
                             f"{str(error).splitlines()[0][:200]}",
                             hint="Set `cloud:` to a cloud of your clouds.yaml "
                                  "(OS_CLIENT_CONFIG_FILE), `rc_file:` to an openrc "
                                  "file, or export OS_CLOUD / OS_AUTH_URL...") from None


def connect(cloud: str | None = None, rc_file: str | None = None) -> Any:
    """An openstacksdk Connection (no request is made before the first call)."""
    from openstack.connection import Connection

    return Connection(config=cloud_region(cloud, rc_file))


def is_not_found(error: BaseException) -> bool:
    """Whether an openstacksdk error says the object does not exist."""
    from openstack import exceptions

    return isinstance(error, exceptions.NotFoundException)


def http_message(error: BaseException) -> str:
    """The service's own words of an openstacksdk HTTP error (e.g. Nova's quota
    message), without the request id and URL the exception text carries."""
    details = getattr(error, "details", None)
    if isinstance(details, str) and details.strip():
        return details.strip()
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def refused(what: str, error: BaseException) -> ProviderError:
    """The error of a create the cloud refused: what, the cloud's reason, and the fix
    of a quota refusal."""
    message = http_message(error)
    status = getattr(error, "status_code", None)
    hint = ""
    if "quota" in message.lower() or status == 413:
        hint = ("The project's quota is used up: delete unused objects, ask the cloud "
                "operators for more, or ask for fewer/smaller servers. What was made is "
                "recorded; `bedform apply` continues from there.")
    return ProviderError(f"{what}: refused by the cloud: {message}", hint=hint)


@contextlib.contextmanager
def refusal(what: str) -> Iterator[None]:
    """An HTTP error of the cloud inside becomes `refused(what, error)`."""
    from openstack import exceptions

    try:
        yield
    except exceptions.HttpException as error:
        raise refused(what, error) from error
