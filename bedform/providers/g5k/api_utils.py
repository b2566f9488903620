"""The `g5k_api_utils` functions EnOSlib users call, as thin functions over `client.Api`.

Jobs, deployments and statuses are the API's JSON documents (dicts); a job carries its
`site`. Every function takes an optional `api` (default: one `Api()` per process, with
the credentials of `client.read_config`).

The cluster → site catalogue is cached per process and per API endpoint: the site list
is read once (`GET /sites`), and each site's clusters at most once
(`GET /sites/{site}/clusters`), only when a cluster is looked up that the sites read so
far do not hold. `clear_cache()` forgets it.

Departures from EnOSlib: `wait_for_jobs` raises when a job ends (killed, error) instead
of looping forever, and gives up after a `timeout` (every wait is bounded);
`grid_deploy` keeps every node deployed by earlier attempts.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bedform.errors import EnosError, ProviderError
from bedform.providers.g5k.availability import node_availability
from bedform.providers.g5k.checks import check_oar_request
from bedform.providers.g5k.client import Api, ApiError, config_path
from bedform.providers.g5k.deployments import DEPLOY_WAIT
from bedform.providers.g5k.jobs import QUEUE_WAIT, QUEUED, find_jobs
from bedform.providers.lifecycle import BlockingContext, Wait, poll

__all__ = [
    "can_start_on_cluster",
    "clear_cache",
    "enable_group_storage",
    "enable_home_for_job",
    "get_all_clusters_sites",
    "get_api_username",
    "get_cluster_site",
    "get_clusters_sites",
    "get_clusters_status",
    "get_nics",
    "get_nodes",
    "get_site_clusters",
    "get_sites",
    "grid_deploy",
    "grid_destroy_from_name",
    "grid_reload_jobs_from_ids",
    "grid_reload_jobs_from_name",
    "set_nodes_vlan",
    "submit_jobs",
    "wait_for_jobs",
]

_lock = threading.RLock()
_default_api: Api | None = None
_default_config: tuple[str, float] | None = None  # the file it was made from, its mtime
_sites: dict[str, list[str]] = {}                 # endpoint → site uids
_clusters: dict[str, dict[str, list[str]]] = {}   # endpoint → site → cluster uids


def _api(api: Api | None) -> Api:
    """`api`, else the default client, made again when the credentials file it came
    from is another one (BEDFORM_G5K_CONFIG changed) or has changed."""
    global _default_api, _default_config
    if api is not None:
        return api
    path = config_path()
    try:
        source = (str(path), path.stat().st_mtime)
    except OSError:
        source = (str(path), 0.0)
    with _lock:
        if _default_api is None or _default_config != source:
            _default_api, _default_config = Api(), source
        return _default_api


def _endpoint(api: Api) -> str:
    return str(getattr(api.gk, "_uri", "") or "default")


def clear_cache() -> None:
    """Forget the site and cluster catalogue (and the default client)."""
    global _default_api
    with _lock:
        _sites.clear()
        _clusters.clear()
        _default_api = None


def get_api_username(api: Api | None = None) -> str:
    return _api(api).username


# --------------------------------------------------------------------------- catalogue

def get_sites(api: Api | None = None) -> list[str]:
    """Every site uid (one `GET /sites` per process)."""
    api = _api(api)
    key = _endpoint(api)
    with _lock:
        if key not in _sites:
            _sites[key] = sorted(i["uid"] for i in api.get("/sites")["items"])
        return list(_sites[key])


def get_site_clusters(site: str, api: Api | None = None) -> list[str]:
    """The cluster uids of `site` (one `GET /sites/{site}/clusters` per process)."""
    api = _api(api)
    key = _endpoint(api)
    with _lock:
        known = _clusters.setdefault(key, {})
        if site not in known:
            known[site] = sorted(i["uid"] for i in
                                 api.get(f"/sites/{site}/clusters")["items"])
        return list(known[site])


def get_clusters_sites(clusters: Iterable[str], api: Api | None = None) -> dict[str, str]:
    """cluster → site, reading only as many sites as needed."""
    api = _api(api)
    wanted = list(dict.fromkeys(clusters))
    found: dict[str, str] = {}
    key = _endpoint(api)
    with _lock:
        for site, names in _clusters.get(key, {}).items():
            found.update({c: site for c in names if c in wanted})
        for site in get_sites(api):
            if all(c in found for c in wanted):
                break
            if site in _clusters.get(key, {}):
                continue
            found.update({c: site for c in get_site_clusters(site, api) if c in wanted})
    missing = [c for c in wanted if c not in found]
    if missing:
        raise EnosError(f"unknown Grid'5000 cluster(s): {', '.join(missing)}")
    return {c: found[c] for c in wanted}


def get_cluster_site(cluster: str, api: Api | None = None) -> str:
    return get_clusters_sites([cluster], api)[cluster]


def get_all_clusters_sites(api: Api | None = None) -> dict[str, str]:
    """cluster → site for the whole testbed (one call per site, once)."""
    api = _api(api)
    return {c: s for s in get_sites(api) for c in get_site_clusters(s, api)}


def get_nodes(cluster: str, api: Api | None = None) -> list[dict[str, Any]]:
    """The reference description of every node of `cluster`."""
    api = _api(api)
    site = get_cluster_site(cluster, api)
    return list(api.get(f"/sites/{site}/clusters/{cluster}/nodes")["items"])


def nics_of(description: Mapping[str, Any],
            extra_cond: Callable[[Mapping[str, Any]], bool] | None = None
            ) -> list[tuple[str, str]]:
    """EnOSlib's NIC filter on one node description: (legacy device, predictable name)
    of the mountable, non-management Ethernet adapters, sorted."""
    return sorted(
        (a["device"], a.get("name") or a["device"])
        for a in description.get("network_adapters", [])
        if a.get("mountable") and a.get("interface") == "Ethernet"
        and not a.get("management") and (extra_cond is None or extra_cond(a)))


def get_nics(cluster: str, extra_cond: Callable[[Mapping[str, Any]], bool] | None = None,
             api: Api | None = None) -> list[tuple[str, str]]:
    """The NICs of the first node of `cluster` (EnOSlib's `get_cluster_interfaces`)."""
    nodes = sorted(get_nodes(cluster, api), key=lambda n: n["uid"])
    return nics_of(nodes[0], extra_cond) if nodes else []


get_cluster_interfaces = get_nics


# --------------------------------------------------------------------------- status

def get_clusters_status(clusters: Iterable[str], api: Api | None = None
                        ) -> dict[str, dict[str, Any]]:
    """cluster → `GET /sites/{site}/clusters/{cluster}/status` (one call per cluster)."""
    api = _api(api)
    sites = get_clusters_sites(clusters, api)
    return {c: api.get(f"/sites/{s}/clusters/{c}/status") for c, s in sites.items()}


def can_start_on_cluster(nodes_status: Mapping[str, Any], nodes: int, start: float,
                         walltime: float) -> bool:
    """Whether `nodes` nodes of a cluster status' `nodes` map are free during
    [start, start + walltime) — the rule of the slot step (`availability`)."""
    free, _ = node_availability({"nodes": nodes_status}, start, walltime)
    return len(free) >= nodes


# --------------------------------------------------------------------------- jobs

def submit_jobs(job_specs: Sequence[tuple[Mapping[str, Any], str]],
                api: Api | None = None) -> list[dict[str, Any]]:
    """Submit `(job spec, site)` pairs; the created jobs (each with its `site`). When one
    submission fails, the jobs already submitted are deleted before raising. Every
    request is checked (`checks.check_oar_request`) before the first is submitted."""
    for spec, site in job_specs:
        check_oar_request(spec, site)
    api = _api(api)
    jobs: list[dict[str, Any]] = []
    try:
        for spec, site in job_specs:
            job = api.post(f"/sites/{site}/jobs", dict(spec))
            jobs.append({**job, "site": site})
    except ApiError:
        for job in jobs:
            with contextlib.suppress(ApiError):
                api.delete(f"/sites/{job['site']}/jobs/{job['uid']}")
        raise
    return jobs


def _refresh(job: Mapping[str, Any], api: Api) -> dict[str, Any]:
    return {**api.get(f"/sites/{job['site']}/jobs/{job['uid']}"), "site": job["site"]}


def wait_for_jobs(jobs: Sequence[Mapping[str, Any]], api: Api | None = None, *,
                  timeout: float | None = None, sleep: float = 1.0) -> list[dict[str, Any]]:
    """Poll until every job runs; their refreshed documents. Raises when a job ends
    before running, or after `timeout` seconds (default: QUEUE_WAIT, 6 h)."""
    api = _api(api)
    ctx = BlockingContext()
    current = []
    for job in jobs:
        site, uid = job["site"], job["uid"]
        wait = Wait(what=f"job {uid} on {site} to run", pending=QUEUED, target={"running"},
                    timeout=QUEUE_WAIT if timeout is None else timeout,
                    delays=(sleep,),
                    hint=f"Job {uid} stays in the OAR queue; call wait_for_jobs again or "
                         "delete it.")
        current.append({**poll(ctx, wait, functools.partial(_state, api, site, uid)),
                        "site": site})
    return current


def _state(api: Api, site: str, uid: int) -> tuple[dict[str, Any], str]:
    job = api.get(f"/sites/{site}/jobs/{uid}")
    return job, job.get("state", "")


def grid_reload_jobs_from_name(job_name: str, restrict_to: Iterable[str] | None = None,
                               api: Api | None = None) -> list[dict[str, Any]]:
    """The user's active jobs named `job_name`, one listing per site."""
    api = _api(api)
    sites = list(restrict_to) if restrict_to is not None else get_sites(api)
    return [_refresh({"uid": item["uid"], "site": site}, api)
            for site in sites for item in find_jobs(api, site, job_name)]


def grid_reload_jobs_from_ids(ids: Iterable[tuple[int, str]], api: Api | None = None
                              ) -> list[dict[str, Any]]:
    """The jobs `(uid, site)`."""
    api = _api(api)
    return [_refresh({"uid": uid, "site": site}, api) for uid, site in ids]


def grid_destroy_from_name(job_name: str, restrict_to: Iterable[str] | None = None,
                           api: Api | None = None) -> list[dict[str, Any]]:
    """Delete the user's active jobs named `job_name`; the jobs deleted."""
    api = _api(api)
    jobs = grid_reload_jobs_from_name(job_name, restrict_to, api)
    for job in jobs:
        try:
            api.delete(f"/sites/{job['site']}/jobs/{job['uid']}")
        except ApiError as error:
            if error.status not in (400, 404):
                raise
    return jobs


# --------------------------------------------------------------------------- nodes

def grid_deploy(site: str, nodes: Sequence[str], config: Mapping[str, Any],
                api: Api | None = None, *, attempts: int = 1, sleep: float = 1.0
                ) -> tuple[list[str], list[str]]:
    """kadeploy `config` (environment, key, version, vlan...) on `nodes`; (deployed,
    undeployed). Each further attempt is over the nodes still undeployed; each waits at
    most DEPLOY_WAIT (1 h)."""
    api = _api(api)
    ctx = BlockingContext()
    deployed: set[str] = set()
    for _ in range(max(1, attempts)):
        todo = [n for n in nodes if n not in deployed]
        if not todo:
            break
        body = {**{k: v for k, v in config.items() if k != "site"}, "nodes": todo}
        uid = api.post(f"/sites/{site}/deployments", body)["uid"]
        wait = Wait(what=f"deployment {uid} on {site} to end",
                    pending={"processing", "waiting"},
                    target={"terminated", "error", "canceled"}, timeout=DEPLOY_WAIT,
                    delays=(sleep,))

        def read(uid: str = uid) -> tuple[dict[str, Any], str]:
            run = api.get(f"/sites/{site}/deployments/{uid}")
            return run, run["status"]
        run = poll(ctx, wait, read)
        result = (run.get("result") or {}) if run["status"] == "terminated" else {}
        deployed |= {n for n in todo if result.get(n, {}).get("state") == "OK"}
    return sorted(deployed), sorted(set(nodes) - deployed)


def set_nodes_vlan(nodes: Sequence[str], interface: str, vlan_id: str | int,
                   api: Api | None = None) -> dict[str, Any]:
    """Put NIC `interface` (legacy name, e.g. eth1) of each node FQDN in `vlan_id`; the
    kavlan answer per interface, merged over the sites. Refusals raise."""
    api = _api(api)
    by_site: dict[str, list[str]] = {}
    for node in nodes:
        short, _, rest = node.partition(".")
        site = rest.split(".", 1)[0]
        by_site.setdefault(site, []).append(f"{short}-{interface}.{rest}")
    answer: dict[str, Any] = {}
    for site, names in sorted(by_site.items()):
        answer.update(api.post(f"/sites/{site}/vlans/{vlan_id}/nodes", names) or {})
    failures = [n for n, s in answer.items()
                if s == "failure" or (isinstance(s, dict) and s.get("status") == "failure")]
    if failures:
        raise ProviderError(f"kavlan {vlan_id} refused {', '.join(sorted(failures))}")
    return answer


# --------------------------------------------------------------------------- storage

def enable_group_storage(site: str, server: str, name: str, ips: Sequence[str],
                         termination_job: Mapping[str, Any] | None = None,
                         until: str | None = None, api: Api | None = None) -> Any:
    """`POST /sites/{site}/storage/{server}/{name}/access`: let `ips` (IPv4) mount the
    storage until the job ends (or the `until` date)."""
    api = _api(api)
    if termination_job is not None:
        termination: dict[str, Any] = {"job": termination_job["uid"],
                                       "site": termination_job.get("site", site)}
    elif until is not None:
        termination = {"until": until}
    else:
        raise ValueError("give termination_job or until")
    return api.post(f"/sites/{site}/storage/{server}/{name}/access",
                    {"ipv4": list(ips), "termination": termination})


def enable_home_for_job(job: Mapping[str, Any], ips: Sequence[str],
                        api: Api | None = None) -> Any:
    """The API user's home on the job's site, for `ips`, until the job ends."""
    api = _api(api)
    return enable_group_storage(job["site"], "home", api.username, ips, job, api=api)
