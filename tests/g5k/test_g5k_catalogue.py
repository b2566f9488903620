"""Plan-time checks against the packaged catalogue, and sites found from clusters.

Issue 11 (a group given only `cluster`), issue 17 items 4 (`nodes: 0`) and 9 (plan
accepts what Grid'5000 rejects).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.g5k.reference import ReferenceData, data_file
from bedform.errors import ConfigError
from bedform.providers.g5k import G5kConf, api_utils
from bedform.providers.g5k.checks import check_oar_request

pytestmark = pytest.mark.usefixtures("no_credentials")


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unless a test points at an emulator, the API cannot be asked."""
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(tmp_path / "missing.yaml"))
    api_utils.clear_cache()


def conf(*machines: dict[str, Any], networks: tuple[dict[str, Any], ...] = (),
         **top: Any) -> G5kConf:
    return G5kConf.from_dictionary({
        "job_type": "allow_classic_ssh", **top,
        "resources": {"machines": list(machines), "networks": list(networks)}})


def error(*machines: dict[str, Any], **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        conf(*machines, **kwargs)
    return info.value


def test_a_group_with_only_a_cluster_finds_its_site_and_prod_network() -> None:
    built = conf({"roles": ["a"], "cluster": "parasilo", "nodes": 2},
                 {"roles": ["b"], "cluster": "gros", "nodes": 1})
    assert [m.site for m in built.machines] == ["rennes", "nancy"]
    assert [m.primary_network for m in built.machines] == ["prod-rennes", "prod-nancy"]
    assert {(n.id, n.type, n.site) for n in built.networks} == {
        ("prod-rennes", "prod", "rennes"), ("prod-nancy", "prod", "nancy")}
    assert built.sites == ["nancy", "rennes"]
    builder = (G5kConf.from_settings(job_type="allow_classic_ssh")
               .add_machine(roles=["a"], cluster="parasilo", nodes=2)
               .add_machine(roles=["b"], cluster="gros", nodes=1).finalize())
    assert builder.to_dict() == built.to_dict()


def test_a_cluster_newer_than_the_catalogue_is_found_through_the_api(
        g5k_emulator_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = json.loads(data_file("g5k-reference.json").read_text())
    lyon = document["grid5000"]["sites"]["lyon"]["clusters"]
    newer = copy.deepcopy(lyon["sirius"])
    newer["uid"] = "zephyr"
    newer["nodes"] = {"zephyr-1": {**newer["nodes"]["sirius-1"], "uid": "zephyr-1"}}
    lyon["zephyr"] = newer
    emulator = g5k_emulator_factory(reference=ReferenceData(document))
    emulator.write_client_config(tmp_path / "g5k.yaml", "alice")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(tmp_path / "g5k.yaml"))
    api_utils.clear_cache()
    built = conf({"roles": ["a"], "cluster": "zephyr", "nodes": 1})
    assert built.machines[0].site == "lyon"
    assert built.machines[0].primary_network == "prod-lyon"
    with pytest.raises(ConfigError) as info:
        conf({"roles": ["a"], "cluster": "zephir", "nodes": 1})
    assert info.value.path == ("resources", "machines", 0, "cluster")
    assert "unknown Grid'5000 cluster 'zephir'" in str(info.value)
    assert "Did you mean 'zephyr'" in str(info.value)


def test_an_unknown_cluster_names_the_nearest_ones() -> None:
    failure = error({"roles": ["a"], "cluster": "parasilio", "nodes": 1})
    assert failure.path == ("resources", "machines", 0, "cluster")
    assert "'parasilio'" in str(failure) and "Did you mean 'parasilo'" in str(failure)


def test_an_unknown_site_names_the_nearest_one() -> None:
    failure = error({"roles": ["a"], "cluster": "parasilo", "site": "renes", "nodes": 1})
    assert failure.path == ("resources", "machines", 0, "site")
    assert "Did you mean 'rennes'" in str(failure)


def test_a_cluster_given_the_wrong_site() -> None:
    failure = error({"roles": ["a"], "cluster": "parasilo", "site": "nancy", "nodes": 1})
    assert failure.path == ("resources", "machines", 0, "site")
    assert "cluster 'parasilo' is at rennes, not nancy" in str(failure)


def test_more_nodes_than_the_cluster_has() -> None:
    assert conf({"roles": ["a"], "cluster": "parasilo", "nodes": 25}).machines[0].nodes == 25
    failure = error({"roles": ["a"], "cluster": "parasilo", "nodes": 26})
    assert failure.path == ("resources", "machines", 0, "nodes")
    assert "parasilo has 25 node(s); 26 asked" in str(failure)
    failure = error({"roles": ["a"], "cluster": "parasilo", "nodes": 20},
                    {"roles": ["b"], "cluster": "parasilo", "nodes": 6})
    assert failure.path == ("resources", "machines", 1, "nodes")
    assert "26 asked by this group and the ones before it" in str(failure)


def test_a_walltime_beyond_what_the_cluster_accepts() -> None:
    grvingt = {"roles": ["a"], "cluster": "grvingt", "nodes": 40}
    assert conf(grvingt, walltime="168:00:00", queue="production").walltime == "168:00:00"
    failure = error({**grvingt, "nodes": 50}, walltime="100:00:00", queue="production")
    assert failure.path == ("walltime",)
    assert "47 of its 63 node(s) accept it, 50 asked" in str(failure)
    failure = error({**grvingt, "nodes": 1}, walltime="169:00:00", queue="production")
    assert "0 of its 63" in str(failure) and "168:00:00" in str(failure)
    # clusters without a per-node limit take any walltime
    assert conf({"roles": ["a"], "cluster": "gros", "nodes": 1}, walltime="500:00:00")


def test_an_unknown_environment_names_the_nearest_ones() -> None:
    failure = error({"roles": ["a"], "cluster": "parasilo", "nodes": 1},
                    env_name="debian12-mni")
    assert failure.path == ("env_name",)
    assert "Did you mean 'debian12-min'" in str(failure)
    for name in ("debian11-base", "debian12-nfs", "ubuntu2204-min", "myenv@bob",
                 "http://example.org/env.dsc"):
        assert conf({"roles": ["a"], "cluster": "parasilo", "nodes": 1},
                    env_name=name).env_name == name


def test_an_unknown_server_names_the_nearest_ones() -> None:
    failure = error({"roles": ["a"], "servers": ["parasilo-13.rennes.grid5000.fr"]})
    assert failure.path == ("resources", "machines", 0, "servers", 0)
    assert "Did you mean" in str(failure) and "'parasilo-1'" in str(failure)


def test_zero_nodes_alone_on_a_site_is_refused() -> None:
    failure = error({"roles": ["a"], "cluster": "parasilo", "nodes": 0})
    assert failure.path == ("resources", "machines", 0, "nodes")
    assert "would be empty" in str(failure)
    # a zero-node group next to others, or next to a VLAN, asks for something
    assert conf({"roles": ["a"], "cluster": "parasilo", "nodes": 0},
                {"roles": ["b"], "cluster": "paradoxe", "nodes": 1})
    assert conf({"roles": ["a"], "cluster": "parasilo", "nodes": 0,
                 "primary_network": "v"},
                networks=({"id": "v", "type": "kavlan", "roles": ["v"], "site": "rennes"},),
                env_name="debian12-min")


@pytest.mark.parametrize(("resources", "where"), [
    (",walltime=01:00:00", "asks for no resource"),
    ("", "asks for no resource"),
    ("{cluster='parasilo'}/nodes=0,walltime=01:00:00", "asks for 0"),
    ("{cluster='parasilo'}/nodes=1+slash_22=0,walltime=01:00:00", "asks for 0"),
    ("{cluster='parasilo'}/nodes=1,walltime=00:00:00", "has walltime"),
])
def test_every_oar_request_is_checked_before_any_is_submitted(
        g5k_emulator_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        resources: str, where: str) -> None:
    g5k_emulator = g5k_emulator_factory()
    g5k_emulator.write_client_config(tmp_path / "g5k.yaml", "alice")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(tmp_path / "g5k.yaml"))
    api_utils.clear_cache()
    good = {"name": "x", "resources": "{cluster='parasilo'}/nodes=1,walltime=01:00:00",
            "command": "sleep 60"}
    with pytest.raises(ConfigError, match=where):
        api_utils.submit_jobs([(good, "rennes"), ({**good, "resources": resources}, "rennes")])
    assert [r for r in g5k_emulator.requests() if r["method"] == "POST"] == []
    check_oar_request(good, "rennes")


def test_a_stack_with_only_a_cluster_plans_a_job_on_its_site(stack) -> None:
    stack.write(job_type="deploy", env_name="debian12-min", walltime="01:00:00",
                resources={"machines": [{"roles": ["a"], "cluster": "gros", "nodes": 2}]})
    result = stack.run("plan")
    assert result.exit_code == 0, result.output
    assert "g5k.job[nancy]" in result.output and "g5k.deployment[nancy/prod-nancy]" \
        in result.output


def test_the_basic_tutorial_runs_with_clusters_only(
        emu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EnOSlib's tuto_grid5000_basic.py with `import bedform as en`; paravance is not in
    today's reference, so its group asks for paradoxe."""
    import logging

    import bedform as en

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519.pub").write_text("ssh-ed25519 AAAA me@here\n")
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    en.init_logging(level=logging.INFO)
    conf = (
        en.G5kConf.from_settings(job_name="tuto_grid5000_basic.py")
        .add_machine(roles=["groupA"], cluster="paradoxe", nodes=1)
        .add_machine(roles=["groupB"], cluster="parasilo", nodes=1)
    )
    provider = en.G5k(conf)
    try:
        roles, networks = provider.init()
        assert networks["prod"]  # the implicit prod network of rennes
        assert [h.address.split("-")[0] for h in roles["groupA"] + roles["groupB"]] == [
            "paradoxe", "parasilo"]
        assert all(h.address.endswith(".rennes.grid5000.fr") for h in roles.all())
    finally:
        provider.destroy()
    jobs = [r for r in emu.requests() if r["method"] == "POST"
            and r["path"].endswith("/jobs")]
    assert [r["path"] for r in jobs] == ["/stable/sites/rennes/jobs"]
