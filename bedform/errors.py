"""Typed errors. EnOSlib's names are kept where they exist so `except` clauses port.

Every error a user can cause carries enough to print one clear paragraph: what went
wrong, where (file and field) and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' Did you mean …?' with the nearest known names, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(set(known)), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


class EnosError(Exception):
    """Base class of every bedform error (EnOSlib's name, kept for ported scripts)."""

    hint: str = ""

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        text = self.message or self.__class__.__name__
        return f"{text}\n{self.hint}" if self.hint else text



class ConfigError(EnosError):
    """Invalid configuration: names the file, the field path and the fix."""

    def __init__(
        self,
        message: str,
        path: Sequence[str | int] = (),
        hint: str = "",
        file: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.path = tuple(path)
        self.file = file

    @property
    def location(self) -> str:
        """`file: a.b[0].c` or whichever part is known."""
        dotted = ""
        for part in self.path:
            if isinstance(part, int) and not isinstance(part, bool):
                dotted += f"[{part}]"
            else:
                dotted += f".{part}" if dotted else str(part)
        if self.file and dotted:
            return f"{self.file}: {dotted}"
        return self.file or dotted

    def within(self, file: str | None = None, prefix: Sequence[str | int] = ()) -> ConfigError:
        """The same error placed inside `file` under the YAML path `prefix`."""
        return ConfigError(self.message, (*prefix, *self.path), self.hint, file or self.file)

    def __str__(self) -> str:
        where = self.location
        text = f"{where}: {self.message}" if where else self.message
        return f"{text}\n{self.hint}" if self.hint else text


class StateError(EnosError):
    """The state file cannot be read or written."""


class StateLockedError(StateError):
    """Another bedform run holds the state lock."""

    def __init__(self, message: str, info: dict | None = None, hint: str = "") -> None:
        super().__init__(message, hint)
        self.info = info or {}


class StalePlanError(EnosError):
    """A saved plan no longer matches the state or the configuration."""


class PreflightError(EnosError):
    """This machine lacks something a provider needs (privileges, a program)."""


class ProviderError(EnosError):
    """A testbed call failed; the message names the resource and the API's words."""


class ApplyError(EnosError):
    """One or more changes failed during apply; the state keeps everything that succeeded."""

    def __init__(self, message: str, failures: dict[str, BaseException] | None = None,
                 hint: str = "") -> None:
        super().__init__(message, hint)
        self.failures = failures or {}


class ApplyInterrupted(EnosError):
    """The run was interrupted (SIGINT); the state is consistent and apply resumes."""


class InvalidReservationTime(EnosError):
    """The requested slot is not free; `datetime` hints at the next possible start."""

    def __init__(self, date_time: datetime, message: str = "") -> None:
        super().__init__(message or f"Reservation not possible, next slot at {date_time}")
        self.datetime = date_time


class InvalidReservationTooOld(EnosError):
    """The reservation date is in the past."""

    def __init__(self, message: str = "Reservation time is in the past") -> None:
        super().__init__(message)
        self.msg = message


class InvalidReservationCritical(EnosError):
    """A reservation failed for a reason other than a busy slot."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.msg = message


class NoSlotError(EnosError):
    """No common slot was found for the providers in the given window."""


class NegativeWalltime(EnosError):
    """A walltime offset would give a walltime of zero or less."""


class DeployError(EnosError):
    """The concrete reservation cannot be mapped onto the configuration."""


class MissingNetworkError(DeployError):
    """A network of the configuration has no counterpart in the reservation."""

    def __init__(self, site: str, n_type: str) -> None:
        super().__init__(f"Missing network of type {n_type} on site {site}")
        self.site = site
        self.n_type = n_type


class NotEnoughNodesError(DeployError):
    """Fewer nodes than the configuration's minimum were obtained."""


class EnosFailedHostsError(EnosError):
    """A remote command failed on some hosts."""

    def __init__(self, hosts: Sequence[object], message: str = "") -> None:
        super().__init__(message or f"Command failed on {len(hosts)} host(s)")
        self.hosts = list(hosts)


class EnosUnreachableHostsError(EnosError):
    """Some hosts could not be reached over SSH."""

    def __init__(self, hosts: Sequence[object], message: str = "") -> None:
        super().__init__(message or f"{len(hosts)} host(s) unreachable")
        self.hosts = list(hosts)


class EnosSSHNotReady(EnosError):
    """Hosts did not answer over SSH within the allowed time."""
