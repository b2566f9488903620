"""Provider types come from the `bedform.providers` entry points of installed packages.

The third-party case is real: a throwaway distribution is built from a pyproject.toml
and installed by pip (into a target directory), and the `bedform` command, run with that
directory on its path, finds the new type through the package metadata.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from bedform.errors import ConfigError
from bedform.providers import driver_class, known_types, register_driver
from bedform.providers.local.driver import LocalDriver
from bedform.providers.registry import installed
from bedform.stack import stack_from_dict

ROOT = Path(__file__).resolve().parent.parent
BEDFORM = Path(sys.executable).parent / "bedform"


def build_and_install(root: Path, name: str, entry_points: dict[str, str], module: str
                      ) -> Path:
    """Install a one-module distribution `name` declaring `entry_points` with pip;
    return the directory it went into."""
    source = root / f"{name}-src"
    module_name = name.replace("-", "_")
    (source / module_name).mkdir(parents=True)
    (source / module_name / "__init__.py").write_text(textwrap.dedent(module))
    points = "\n".join(f'{type_name} = "{target}"' for type_name, target in entry_points.items())
    (source / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "0.1"

        [project.entry-points."bedform.providers"]
        """) + points + "\n")
    target = root / f"{name}-site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--no-build-isolation", "--target", str(target),
                    str(source)], check=True, capture_output=True, text=True, timeout=120)
    return target


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plugins")
    tiny = build_and_install(root, "bedform-tinycloud", {
        "tiny": "bedform_tinycloud:TinyDriver",
        "broken": "bedform_tinycloud.gone:Driver",
        "notadriver": "bedform_tinycloud:VERSION",
    }, """\
        from tests.fakecloud import FakeDriver

        VERSION = "0.1"


        class TinyDriver(FakeDriver):
            type_name = "tiny"
        """)
    rival = build_and_install(root, "bedform-rivalcloud",
                              {"tiny": "bedform_rivalcloud:RivalDriver"}, "RivalDriver = None\n")
    return {"tiny": tiny, "rival": rival}


def bedform(stack: Path, *args: str, path: list[Path]) -> subprocess.CompletedProcess[str]:
    """The installed `bedform` command with `path` added to its import path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in [*path, ROOT])}
    return subprocess.run([str(BEDFORM), "--no-color", "-c", str(stack), *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=stack.parent)


def write_stack(tmp_path: Path, type_name: str) -> Path:
    stack = tmp_path / "bedform.yaml"
    stack.write_text(yaml.safe_dump({"name": "plugin", "providers": {"cloud": {
        "type": type_name, "cloud": str(tmp_path / "cloud.json"),
        "servers": [{"name": "web", "count": 2, "roles": ["server"]}]}}}))
    return stack


def test_an_installed_package_provides_a_provider_type(plugins, tmp_path) -> None:
    stack = write_stack(tmp_path, "tiny")
    applied = bedform(stack, "apply", "--auto-approve", path=[plugins["tiny"]])
    assert applied.returncode == 0, applied.stdout + applied.stderr
    output = bedform(stack, "output", path=[plugins["tiny"]])
    assert output.returncode == 0, output.stderr
    assert len(json.loads(output.stdout)["roles"]["server"]) == 2
    cloud = json.loads((tmp_path / "cloud.json").read_text())
    assert len([o for o in cloud["objects"].values() if o["kind"] == "fake_server"]) == 2
    destroyed = bedform(stack, "destroy", "--auto-approve", path=[plugins["tiny"]])
    assert destroyed.returncode == 0, destroyed.stderr


BUILT_IN = sorted(name for name, entries in installed().items()
                  if all(entry.module.startswith("bedform.") for entry in entries))

def test_without_the_package_the_type_is_unknown(plugins, tmp_path) -> None:
    result = bedform(write_stack(tmp_path, "tiny"), "validate", path=[])
    assert result.returncode == 1
    assert "providers.cloud.type: unknown provider type 'tiny'" in result.stderr
    assert f"Use one of: {', '.join(BUILT_IN)}." in result.stderr


def test_an_unknown_type_lists_the_installed_ones(plugins, tmp_path) -> None:
    result = bedform(write_stack(tmp_path, "tinny"), "validate", path=[plugins["tiny"]])
    assert result.returncode == 1
    assert "unknown provider type 'tinny'" in result.stderr
    listed = sorted([*BUILT_IN, "broken", "notadriver", "tiny"])
    assert f"Use one of: {', '.join(listed)}." in result.stderr


def test_an_entry_point_that_fails_to_load_names_its_package(plugins, tmp_path) -> None:
    result = bedform(write_stack(tmp_path, "broken"), "validate", path=[plugins["tiny"]])
    assert result.returncode == 1
    assert ("provider type 'broken' from package bedform-tinycloud 0.1 failed to load "
            "(bedform_tinycloud.gone:Driver): ModuleNotFoundError") in result.stderr
    assert "Reinstall or upgrade package bedform-tinycloud 0.1" in result.stderr
    result = bedform(write_stack(tmp_path, "notadriver"), "validate", path=[plugins["tiny"]])
    assert "which is not a bedform driver class: it is a str, not a class" in result.stderr


def test_a_type_two_packages_declare_is_refused(plugins, tmp_path) -> None:
    result = bedform(write_stack(tmp_path, "tiny"), "validate",
                     path=[plugins["tiny"], plugins["rival"]])
    assert result.returncode == 1
    assert "provider type 'tiny' is declared by several packages: package " \
        "bedform-tinycloud 0.1, package bedform-rivalcloud 0.1" in result.stderr


def test_the_built_in_types_are_entry_points_of_bedform() -> None:
    assert {"g5k", "local"} <= set(known_types())
    assert {entry.dist.name for name in ("g5k", "local") for entry in installed()[name]} \
        == {"bedform"}
    assert driver_class("local") is LocalDriver


def test_an_unknown_type_in_a_stack_names_the_field(tmp_path) -> None:
    with pytest.raises(ConfigError) as raised:
        stack_from_dict({"providers": {"here": {"type": "nope"}}}, file="s.yaml",
                        state_dir=tmp_path)
    assert raised.value.location == "s.yaml: providers.here.type"
    assert "Use one of:" in raised.value.hint and "local" in raised.value.hint


def test_register_driver_never_overrides_an_installed_type() -> None:
    with pytest.raises(ValueError, match="already installed by package bedform"):
        register_driver("local", "tests.fakecloud:FakeDriver")
    assert driver_class("local") is LocalDriver


def test_a_type_registered_in_process_that_fails_to_load_says_so() -> None:
    register_driver("misspelt", "tests.fakecloud:FakeDrivr")
    with pytest.raises(ConfigError) as raised:
        driver_class("misspelt")
    assert "from this process (register_driver) failed to load " \
        "(tests.fakecloud:FakeDrivr): AttributeError" in raised.value.message
    assert raised.value.hint == "Fix the target given to register_driver."


def test_import_help_lists_every_importable_kind() -> None:
    """`import --help` is generated: every kind whose handler can import (overrides
    `import_object`) says what its REMOTE_ID is (issue 17, item 10)."""
    from click.testing import CliRunner

    from bedform.cli import main
    from bedform.errors import ConfigError
    from bedform.providers import driver_class, known_types
    from bedform.providers.kinds import KindDriver, KindHandler

    importable = set()
    for type_name in known_types():
        try:
            klass = driver_class(type_name)
        except ConfigError:   # a broken type another test registered in this process
            continue
        if issubclass(klass, KindDriver):
            importable |= {h.spec.name for h in klass.handlers
                           if h.import_object is not KindHandler.import_object}
    assert {"g5k_job", "local_host", "iotlab_experiment", "blazar_lease"} <= importable
    text = CliRunner().invoke(main, ["import", "--help"]).output
    missing = {kind for kind in importable if f"  {kind} " not in text}
    assert not missing, text
