"""Outputs of `bedform output`: Ansible INI inventory, OpenSSH client config, JSON.

Jump hosts come from a host's `extra`, as in EnOSlib: `gateway`, `gateway_user`
(default: the host's user), `gateway_port`, `internal_gateway`,
`internal_gateway_user` (default: the host's user), `internal_gateway_port` and
`forward_agent`. They give a chain of at most two hops, outermost first (`jump_hops`).
Every other extra key is an Ansible host variable, as-is; an extra
`ansible_ssh_common_args` replaces the generated one (and, in the ssh config, its
`-o` options come first so they win over the generated lines).

Connections to the hosts and to the hops are made with `StrictHostKeyChecking no` and
`UserKnownHostsFile /dev/null`: testbed nodes are redeployed and their keys change.
Members of roles that are not `Host` (IoT-LAB sensors...) are skipped, except in JSON.
Relative key files are made absolute (the outputs may be used from another directory).
Two different hosts with the same alias are an error (ValueError).
"""

from __future__ import annotations

import ast
import ipaddress
import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar

from bedform.objects import (
    Host,
    Network,
    _jsonable,
    _member_to_dict,
    _ordered_members,
    networks_to_dict,
)

__all__ = [
    "GATEWAY_KEYS",
    "Hop",
    "ansible_host_vars",
    "ansible_inventory",
    "jump_hops",
    "outputs_json",
    "ssh_common_args",
    "ssh_config",
]

GATEWAY_KEYS = frozenset({
    "gateway",
    "gateway_user",
    "gateway_port",
    "internal_gateway",
    "internal_gateway_user",
    "internal_gateway_port",
    "forward_agent",
})
"""Extra keys that describe the SSH path; never written as Ansible variables."""

PYTHON_INTERPRETER = "/usr/bin/python3"
"""`ansible_python_interpreter` of every host, as EnOSlib sets it (minimal images have no
`python`, and interpreter discovery warns); an extra of the same name overrides it."""

_R = TypeVar("_R")
_NO_HOST_KEY_CHECK = ("StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null")


class Hop(NamedTuple):
    """One jump host: where to connect, as whom, on which port."""

    host: str
    user: str | None = None
    port: int | None = None

    def spec(self) -> str:
        """ProxyJump form `[user@]host[:port]` (IPv6 literal in brackets)."""
        host = self.host
        if _is_ipv6(host):
            host = f"[{host}]"
        text = f"{self.user}@{host}" if self.user else host
        return f"{text}:{self.port}" if self.port else text


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "yes", "true", "on", "y"}
    return bool(value)


def _hop_port(host: Host, key: str) -> int | None:
    value = host.extra.get(key)
    if value in (None, ""):
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"host {host.alias!r}: invalid {key} {value!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"host {host.alias!r}: invalid {key} {value!r}")
    return port


def jump_hops(host: Host) -> list[Hop]:
    """The jump hosts to reach `host`, outermost first (0, 1 or 2 hops)."""
    hops = []
    for prefix in ("gateway", "internal_gateway"):
        name = host.extra.get(prefix)
        if not name:
            continue
        user = host.extra.get(f"{prefix}_user") or host.user
        hops.append(Hop(str(name), str(user) if user else None,
                        _hop_port(host, f"{prefix}_port")))
    return hops


def _keyfile(path: str) -> str:
    if path.startswith("~"):
        return path
    return os.path.abspath(path)


# --------------------------------------------------------------------------- Ansible

_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+", re.ASCII)


def _sh_quote(word: str) -> str:
    """Quote a word for both /bin/sh and Python's shlex, as readably as possible."""
    if _SHELL_SAFE.fullmatch(word):
        return word
    if "'" not in word:
        return f"'{word}'"
    if not re.search(r'["$`\\!]', word):
        return f'"{word}"'
    return shlex.quote(word)


def _sh_join(words: Iterable[str]) -> str:
    return " ".join(_sh_quote(word) for word in words)


def _ini_quote(text: str) -> str:
    """Quote a value for Ansible's INI parser (Python shlex, posix mode)."""
    if _SHELL_SAFE.fullmatch(text):
        return text
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'



def _proxy_command(hops: list[Hop]) -> str:
    """The ProxyCommand, as ssh reads it (before its %-expansion), reaching the host
    through `hops` (outermost first). Literal `%` are doubled at every level; the inner
    hop's command is a ProxyCommand of the outer hop's ssh, hence escaped twice."""
    last = hops[-1]
    args = ["ssh", "-W", "%h:%p"]
    for option in (*_NO_HOST_KEY_CHECK, "LogLevel=ERROR"):
        args += ["-o", option]
    if last.user:
        args += ["-l", last.user]
    if last.port:
        args += ["-p", str(last.port)]
    if len(hops) > 1:
        args += ["-o", "ProxyCommand=" + _proxy_command(hops[:-1])]
    args.append(last.host)
    return _sh_join(arg if arg == "%h:%p" else arg.replace("%", "%%") for arg in args)


def ssh_common_args(host: Host) -> str:
    """`ansible_ssh_common_args` generated from the gateway extras (shell words)."""
    args: list[str] = []
    hops = jump_hops(host)
    if hops:
        args += ["-o", "ProxyCommand=" + _proxy_command(hops)]
    for option in _NO_HOST_KEY_CHECK:
        args += ["-o", option]
    if _truthy(host.extra.get("forward_agent", False)):
        args += ["-o", "ForwardAgent=yes"]
    return _sh_join(args)


def ansible_host_vars(host: Host) -> dict[str, Any]:
    """Ansible variables of `host`: connection variables, then every non-gateway extra
    key as-is (an extra key overrides a generated variable of the same name)."""
    variables: dict[str, Any] = {"ansible_host": host.address}
    if host.user:
        variables["ansible_user"] = host.user
    if host.port:
        variables["ansible_port"] = host.port
    if host.keyfile:
        variables["ansible_ssh_private_key_file"] = _keyfile(host.keyfile)
    variables["ansible_ssh_common_args"] = ssh_common_args(host)
    variables["ansible_python_interpreter"] = PYTHON_INTERPRETER
    for key, value in host.extra.items():
        if key not in GATEWAY_KEYS:
            variables[key] = value
    return variables


_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GROUP_NAME = re.compile(r"[^\s\[\]:#;=,'\"\\]+")
_INI_ALIAS = re.compile(r"[^\s\[\]#;=,'\"\\]+")


def _literal(text: str) -> bool:
    """Whether Ansible's INI parser (ast.literal_eval) would turn `text` into a non-str."""
    if (text[:1].isalpha() and text not in {"True", "False", "None"}
            and not any(quote in text for quote in "'\"")):
        return False  # a name or a syntax error, never a literal: skip the parser
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return not (isinstance(value, str) and value == text)


def _ini_value(value: Any) -> str:
    """`value` written so that Ansible's INI parser (shlex split, then literal_eval)
    reads back the same Python value."""
    if isinstance(value, str):
        text = repr(value) if ("\n" in value or "\r" in value or _literal(value)) else value
    elif value is None or isinstance(value, bool | int | float):
        text = repr(value)
    elif isinstance(value, Mapping | list | tuple | set | frozenset):
        text = repr(_jsonable(value))
    else:
        text = str(value)
        if _literal(text) or "\n" in text or "\r" in text:
            text = repr(text)
    return _ini_quote(text)


def _unique_hosts(roles: Mapping[str, Iterable[Any]],
                  render: Callable[[Host], _R]) -> dict[str, tuple[Host, _R]]:
    """alias → (Host, render(Host)) over every role, each object rendered once; two
    hosts whose renderings differ under one alias are an error."""
    seen: dict[str, tuple[Host, _R]] = {}
    done: set[int] = set()
    for role in roles:
        for member in roles[role]:
            if not isinstance(member, Host) or id(member) in done:
                continue
            done.add(id(member))
            rendered = render(member)
            previous = seen.get(member.alias)
            if previous is None:
                seen[member.alias] = (member, rendered)
            elif previous[1] != rendered:
                raise ValueError(
                    f"two different hosts share the alias {member.alias!r}: "
                    f"{previous[0]!r} and {member!r}"
                )
    return seen


def _host_line(host: Host) -> str:
    if not _INI_ALIAS.fullmatch(host.alias):
        raise ValueError(f"alias {host.alias!r} cannot be written in an Ansible inventory")
    parts = [host.alias]
    for key, value in ansible_host_vars(host).items():
        if not isinstance(key, str) or not _VAR_NAME.fullmatch(key):
            raise ValueError(
                f"host {host.alias!r}: extra key {key!r} is not a valid Ansible variable name"
            )
        parts.append(f"{key}={_ini_value(value)}")
    return " ".join(parts)


def ansible_inventory(roles: Mapping[str, Iterable[Any]],
                      networks: Mapping[str, Iterable[Network]] | None = None) -> str:
    """An Ansible INI inventory: one group per role (sorted), one line per host (sorted
    by alias) with its variables (`ansible_host_vars`). Non-Host members are skipped.
    `networks` is accepted for EnOSlib compatibility; it adds nothing today."""
    del networks
    rendered = _unique_hosts(roles, _host_line)
    lines = ["# Ansible inventory generated by bedform", ""]
    for role in sorted(roles, key=str):
        if not isinstance(role, str) or not _GROUP_NAME.fullmatch(role):
            raise ValueError(f"role {role!r} cannot be an Ansible group name")
        lines.append(f"[{role}]")
        aliases = {m.alias for m in roles[role] if isinstance(m, Host)}
        lines.extend(rendered[alias][1] for alias in sorted(aliases))
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- OpenSSH

_SSH_PATTERN_BAD = re.compile(r"[\s*?!,\"'#\\]")
# Options whose argument is the rest of the line, taken verbatim by ssh.
_RAW_OPTIONS = {"proxycommand", "localcommand", "remotecommand", "knownhostscommand"}


def _cfg_value(value: Any, *, percent: bool = False, what: str = "value") -> str:
    text = str(value)
    if any(c in text for c in "\"\n\r\\") or any(ord(c) < 32 for c in text):
        raise ValueError(f"{what} {text!r} cannot be written in an ssh config file")
    if percent:
        text = text.replace("%", "%%")
    if text == "" or re.search(r"[\s#']", text):
        text = f'"{text}"'
    return text


def _extra_ssh_options(host: Host) -> list[tuple[str, str]]:
    """(Keyword, value) pairs from an extra `ansible_ssh_common_args` (-o, -J, -A, -i,
    -p, -l), so the ssh config honours what the Ansible inventory would."""
    raw = host.extra.get("ansible_ssh_common_args")
    if not raw:
        return []
    words = shlex.split(str(raw))
    options: list[tuple[str, str]] = []
    flags = {"-J": "ProxyJump", "-i": "IdentityFile", "-p": "Port", "-l": "User"}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "-A":
            options.append(("ForwardAgent", "yes"))
            continue
        flag, inline = word[:2], word[2:]
        if flag not in (*flags, "-o"):
            continue
        if not inline:
            if index >= len(words):
                break
            inline = words[index]
            index += 1
        if flag != "-o":
            options.append((flags[flag], inline))
            continue
        match = re.match(r"\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$", inline, re.S)
        if match:
            options.append((match.group(1), match.group(2).strip()))
    return options


def _ssh_block(host: Host) -> list[str]:
    if not host.alias or _SSH_PATTERN_BAD.search(host.alias):
        raise ValueError(f"alias {host.alias!r} cannot be an ssh Host pattern")
    settings: list[tuple[str, str]] = []
    seen: set[str] = set()

    def put(keyword: str, value: str) -> None:
        if keyword.lower() not in seen:
            seen.add(keyword.lower())
            settings.append((keyword, value))

    for keyword, value in _extra_ssh_options(host):
        if keyword.lower() in _RAW_OPTIONS:
            if "\n" in value or "\r" in value:
                raise ValueError(f"host {host.alias!r}: {keyword} spans several lines")
            put(keyword, value)
        else:
            put(keyword, _cfg_value(value, what=f"host {host.alias!r}: {keyword}"))
    put("HostName", _cfg_value(host.address, percent=True, what="address"))
    if host.user:
        put("User", _cfg_value(host.user, what="user"))
    if host.port:
        put("Port", str(host.port))
    if host.keyfile:
        put("IdentityFile", _cfg_value(_keyfile(host.keyfile), percent=True, what="keyfile"))
        put("IdentitiesOnly", "yes")
    put("StrictHostKeyChecking", "no")
    put("UserKnownHostsFile", "/dev/null")
    put("LogLevel", "ERROR")
    hops = jump_hops(host)
    if hops:
        put("ProxyJump", ",".join(_cfg_value(hop.spec(), what="gateway") for hop in hops))
    if _truthy(host.extra.get("forward_agent", False)):
        put("ForwardAgent", "yes")
    return [f"Host {host.alias}", *(f"  {keyword} {value}" for keyword, value in settings)]


def ssh_config(roles: Mapping[str, Iterable[Any]], include_user_config: bool = True) -> str:
    """An OpenSSH client config for `ssh -F FILE ALIAS`: one `Host` block per host
    (sorted by alias), a block per jump host (no host-key checking; ssh passes `-F` to
    the hops so it applies), then, when `include_user_config`, `~/.ssh/config` for
    everything not set here (e.g. the user's key for the gateway)."""
    blocks = _unique_hosts(roles, _ssh_block)
    lines = ["# OpenSSH client configuration generated by bedform", ""]
    for alias in sorted(blocks):
        lines.extend(blocks[alias][1])
        lines.append("")
    gateways = sorted({hop.host for host, _ in blocks.values() for hop in jump_hops(host)}
                      - set(blocks))
    for gateway in gateways:
        if _SSH_PATTERN_BAD.search(gateway):
            raise ValueError(f"gateway {gateway!r} cannot be an ssh Host pattern")
        lines += [
            f"Host {gateway}",
            "  StrictHostKeyChecking no",
            "  UserKnownHostsFile /dev/null",
            "  LogLevel ERROR",
            "",
        ]
    if include_user_config:
        lines += ["Match all", "  Include ~/.ssh/config", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- JSON


def outputs_json(roles: Mapping[str, Iterable[Any]],
                 networks: Mapping[str, Iterable[Network]] | None = None) -> dict[str, Any]:
    """{"roles": {role: [alias, ...]}, "hosts": {alias: member dict},
    "networks": {role: [network dict, ...]}}. Roles and hosts sorted; a role's aliases
    in container order (so `roles[r][i]` is `doc["roles"][r][i]`). Non-Host members
    are included (registered ones with their own dict, others as type/address/alias)."""

    def describe(member: Any) -> dict[str, Any]:
        try:
            return _member_to_dict(member)
        except (TypeError, AttributeError):
            return {
                "type": type(member).__qualname__,
                "address": _jsonable(getattr(member, "address", None)),
                "alias": _jsonable(getattr(member, "alias", None)),
            }

    role_aliases: dict[str, list[str]] = {}
    hosts: dict[str, tuple[Any, dict[str, Any]]] = {}
    for role in sorted(roles, key=str):
        aliases = []
        for member in _ordered_members(roles[role]):
            alias = str(getattr(member, "alias", None) or getattr(member, "address", ""))
            description = describe(member)
            previous = hosts.get(alias)
            if previous is not None and previous[1] != description:
                raise ValueError(
                    f"two different members share the alias {alias!r}: "
                    f"{previous[0]!r} and {member!r}"
                )
            hosts.setdefault(alias, (member, description))
            aliases.append(alias)
        role_aliases[str(role)] = aliases
    return {
        "roles": role_aliases,
        "hosts": {alias: hosts[alias][1] for alias in sorted(hosts)},
        "networks": networks_to_dict(networks or {}),
    }
