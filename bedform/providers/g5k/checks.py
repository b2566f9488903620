"""Plan-time checks of a G5k configuration: what Grid'5000 would reject, rejected first.

`site_of` finds the site of a cluster (the packaged catalogue, then the API for
clusters it does not know, as EnOSlib asks the API). `check` rejects, naming the YAML
path and the nearest valid names: an unknown site, cluster, server or environment,
more nodes than a cluster has (or than accept the walltime: see `catalogue`), and an
OAR request that would be empty (a site whose every group has `nodes: 0` and no
network), which OAR would answer with a node nobody asked for. `check_oar_request`
is the last look at a job before it is submitted; `public_keys` finds the key a
deployment installs, or says how to make one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bedform.errors import ConfigError, EnosError, did_you_mean
from bedform.providers.g5k.catalogue import catalogue, format_walltime, walltime_seconds

if TYPE_CHECKING:
    from bedform.providers.g5k.config import G5kClusterConf, G5kConf, G5kServersConf

YamlPath = tuple[str | int, ...]


def _api_clusters(unknown: str, path: YamlPath, known: Iterable[str]) -> dict[str, str]:
    """cluster -> site as the API lists them, asked only for a name (`unknown`, a cluster
    or site) the catalogue lacks; a ConfigError at `path` when the API cannot answer."""
    from bedform.providers.g5k import api_utils

    try:
        return api_utils.get_all_clusters_sites()
    except (EnosError, OSError) as error:
        reason = error.message if isinstance(error, EnosError) else str(error)
        raise ConfigError(
            f"{unknown!r} is not in the packaged Grid'5000 catalogue, and the API could "
            f"not be asked ({reason})", path,
            hint=("Fix the name, or the credentials and network for a name newer than "
                  "the catalogue." + did_you_mean(unknown, known))) from None


def site_of(cluster: str, path: YamlPath) -> str:
    """The site of `cluster`: the catalogue's, else the API's; ConfigError at `path`."""
    known = catalogue().site_of(cluster)
    if known:
        return known
    remote = _api_clusters(cluster, path, catalogue().clusters)
    if cluster in remote:
        return remote[cluster]
    raise ConfigError(f"unknown Grid'5000 cluster {cluster!r}", path,
                      hint="Neither the packaged catalogue nor the API knows it."
                      + did_you_mean(cluster, [*catalogue().clusters, *remote]))


def check(conf: G5kConf) -> None:
    """Raise ConfigError for the first thing of `conf` Grid'5000 would reject."""
    from bedform.providers.g5k.config import G5kServersConf  # config imports this module

    walltime = walltime_seconds(conf.walltime)
    asked: dict[str, int] = {}  # cluster -> nodes asked by its groups so far
    for index, machine in enumerate(conf.machines):
        path: YamlPath = ("resources", "machines", index)
        _check_site(machine.site or "", (*path, "site"))
        asked[machine.cluster] = asked.get(machine.cluster, 0) + machine.nodes
        if isinstance(machine, G5kServersConf):  # its servers are never empty
            _check_servers(machine, path)
        else:
            _check_cluster(machine, path, asked[machine.cluster], walltime, conf.walltime)
    for index, net in enumerate(conf.networks):
        _check_site(net.site, ("resources", "networks", index, "site"))
    _check_environment(conf.env_name)
    _check_not_empty(conf)


def _check_site(site: str, path: YamlPath) -> None:
    sites = catalogue().sites
    if site in sites or site in set(_api_clusters(site, path, sites).values()):
        return
    raise ConfigError(f"unknown Grid'5000 site {site!r}", path,
                      hint=f"Known sites: {', '.join(sorted(sites))}."
                      + did_you_mean(site, sites))


def _check_cluster(machine: G5kClusterConf, path: YamlPath, asked: int, walltime: int,
                   text: str) -> None:
    """`asked`: the nodes of this cluster asked by this group and the ones before it."""
    info = catalogue().clusters.get(machine.cluster)
    # a cluster newer than the catalogue: the API knows where it is
    where = info.site if info else site_of(machine.cluster, (*path, "cluster"))
    if where != machine.site:
        raise ConfigError(f"cluster {machine.cluster!r} is at {where}, not {machine.site}",
                          (*path, "site"),
                          hint=f"Write `site: {where}` or drop `site:` (bedform finds it).")
    if info is None:
        return
    if asked > info.nodes:
        raise ConfigError(f"cluster {machine.cluster} has {info.nodes} node(s); "
                          f"{asked} asked" + (" by this group and the ones before it"
                                              if asked > machine.nodes else ""),
                          (*path, "nodes"),
                          hint=f"Ask for at most {info.nodes} in all, or add a group on "
                               "another cluster.")
    accepting = info.nodes_accepting(walltime)
    if asked > accepting:
        longest = info.longest_walltime
        raise ConfigError(
            f"walltime {text} is beyond the maximum of cluster {machine.cluster}: "
            f"{accepting} of its {info.nodes} node(s) accept it, {asked} asked",
            ("walltime",),
            hint=f"The longest walltime its nodes accept is {format_walltime(longest)} "
                 "(reference `max_walltime`); shorten `walltime` or ask for fewer nodes.")


def _check_servers(machine: G5kServersConf, path: YamlPath) -> None:
    info = catalogue().clusters.get(machine.cluster)
    if info is None:
        site_of(machine.cluster, (*path, "servers", 0))
        return
    for index, server in enumerate(machine.servers):
        node, _, _ = server.partition(".")
        if node not in info.max_walltimes:
            raise ConfigError(f"unknown Grid'5000 node {server!r}", (*path, "servers", index),
                              hint=f"Cluster {info.uid} has {info.nodes} node(s)."
                              + did_you_mean(node, info.max_walltimes))


def _check_environment(env_name: str | None) -> None:
    if not env_name or "@" in env_name or "/" in env_name or ":" in env_name:
        return  # a user's environment (name@owner) or a description file/URL
    known = catalogue().environments
    if env_name not in known:
        raise ConfigError(f"unknown Grid'5000 environment {env_name!r}", ("env_name",),
                          hint="Standard environments are named like debian12-min, "
                               "debian12-nfs, ubuntu2204-min; a user's is name@owner."
                               + did_you_mean(env_name, known))


def _check_not_empty(conf: G5kConf) -> None:
    for site in conf.sites:
        groups = [(i, m) for i, m in enumerate(conf.machines) if m.site == site]
        networks = [n for n in conf.networks if n.site == site and n.type != "prod"]
        if groups and not networks and all(m.nodes <= 0 for _, m in groups):
            raise ConfigError(
                f"every machine group on {site} asks for 0 nodes: the OAR request would "
                "be empty, and OAR would give one node nobody asked for",
                ("resources", "machines", groups[0][0], "nodes"),
                hint="Ask for 1 node or more, or remove the group.")


def check_oar_request(spec: Mapping[str, Any], site: str) -> None:
    """Refuse, before submitting, an OAR job whose resource request is empty or asks for
    zero of something (OAR would give a node nobody asked for, or refuse it late)."""
    text = str(spec.get("resources") or "")
    request, _, walltime = text.partition(",walltime=")
    where = f"the OAR request for {site} ({text!r})"
    if not request.strip():
        raise ConfigError(f"{where} asks for no resource", ("resources",),
                          hint="Ask for at least one node (or a VLAN or subnet).")
    if re.search(r"(?:^|[/+])[a-z_0-9]+=0+(?:\D|$)", request):
        raise ConfigError(f"{where} asks for 0 of a resource", ("resources",),
                          hint="Drop the part asking for 0, or ask for 1 or more.")
    if walltime and (not re.fullmatch(r"\d+:[0-5]\d:[0-5]\d", walltime)
                     or walltime_seconds(walltime) <= 0):
        raise ConfigError(f"{where} has walltime {walltime!r}", ("walltime",),
                          hint="Give a positive walltime as H:MM:SS.")


def public_keys(key: str | None) -> str:
    """The public key(s) a deployment installs for root: the file `key`, else every
    ~/.ssh/*.pub joined by newlines (EnOSlib's rule); ConfigError at `key` otherwise."""
    if key:
        path = Path(key).expanduser()
        try:
            text = path.read_text().strip()
        except OSError as error:
            raise ConfigError(f"cannot read public key {path}: {error.strerror}", ("key",),
                              hint=f"Create it with `ssh-keygen -t ed25519 -f "
                                   f"{str(path).removesuffix('.pub')}`, or point `key:` at "
                                   "an existing .pub file.") from None
        if not text:
            raise ConfigError(f"public key {path} is empty", ("key",),
                              hint="Point `key:` at a .pub file written by ssh-keygen.")
        return text
    keys = [text for path in sorted(Path("~/.ssh").expanduser().glob("*.pub"))
            if (text := path.read_text().strip())]
    if not keys:
        raise ConfigError("no public key to deploy with: ~/.ssh holds no *.pub file",
                          ("key",),
                          hint="Create one with `ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519` "
                               "(deployed nodes then accept it for root), or set "
                               "`key: <path to a .pub file>`.")
    return "\n".join(keys)

