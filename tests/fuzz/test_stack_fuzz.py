"""Generated stack files, valid and broken: never a traceback, always file and field."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.support import assert_clean, dotted, get, invoke, walk

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# -- valid stacks ----------------------------------------------------------------------

NAMES = st.from_regex(r"\A[a-z][a-z0-9]{0,10}\Z")
STACK_NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")


@st.composite
def local_sections(draw: st.DrawFn) -> dict[str, Any]:
    """A valid `local` provider section (see bedform/providers/local/config.py)."""
    net_ids = draw(st.lists(st.from_regex(r"\A[a-z][a-z0-9_-]{0,10}\Z").filter(
        lambda i: i not in ("lo", "all", "default")), max_size=3,
        unique_by=str.lower))
    networks = []
    for index, net_id in enumerate(net_ids):
        network: dict[str, Any] = {"id": net_id, "cidr": f"198.18.{index}.0/24"}
        if draw(st.booleans()):
            network["roles"] = draw(st.lists(NAMES, min_size=1, max_size=2))
        networks.append(network)
    groups = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    machines = []
    for group in groups:
        machine: dict[str, Any] = {"roles": [group, *draw(st.lists(NAMES, max_size=2))]}
        if draw(st.booleans()):
            machine["number"] = draw(st.integers(0, 20))
        if net_ids and draw(st.booleans()):
            machine["networks"] = draw(st.lists(st.sampled_from(net_ids), min_size=1,
                                                unique=True))
        machines.append(machine)
    resources: dict[str, Any] = {"machines": machines}
    if networks:
        resources["networks"] = networks
    section: dict[str, Any] = {"type": "local", "resources": resources}
    if draw(st.booleans()):
        section["user"] = draw(st.from_regex(r"\A[a-z_][a-z0-9_.-]{0,10}\Z"))
    if draw(st.booleans()):
        section["ssh"] = draw(st.booleans())
    if draw(st.booleans()):
        section["prefix"] = draw(st.from_regex(r"\A[a-z][a-z0-9]{0,7}\Z"))
    return section


@st.composite
def fake_sections(draw: st.DrawFn) -> dict[str, Any]:
    """A valid `fake` provider section (see tests/fakecloud.py); `cloud` is set later."""
    nets = draw(st.lists(NAMES, max_size=3, unique=True))
    jobs = draw(st.lists(NAMES, max_size=2, unique=True))
    servers = []
    for name in draw(st.lists(NAMES, max_size=3, unique=True)):
        server: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            server["count"] = draw(st.integers(0, 4))
        if draw(st.booleans()):
            server["size"] = draw(st.sampled_from(["small", "large"]))
        if nets and draw(st.booleans()):
            server["network"] = draw(st.sampled_from(nets))
        if jobs and draw(st.booleans()):
            server["job"] = draw(st.sampled_from(jobs))
        if draw(st.booleans()):
            server["roles"] = draw(st.lists(NAMES, min_size=1, max_size=2))
        servers.append(server)
    section: dict[str, Any] = {"type": "fake", "cloud": "CLOUD"}
    if nets:
        section["networks"] = [{"name": n, "cidr": f"10.0.{i}.0/24"}
                               for i, n in enumerate(nets)]
    if servers:
        section["servers"] = servers
    if jobs:
        section["jobs"] = [{"name": j, "walltime": draw(st.integers(1, 10**6))}
                           for j in jobs]
    if draw(st.booleans()):
        section["latency"] = 0
    return section


@st.composite
def stacks(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    sections = local_sections() if kind == "local" else fake_sections()
    providers = draw(st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9_-]{0,10}\Z"),
                                     sections, min_size=1, max_size=2))
    document: dict[str, Any] = {"providers": providers}
    if draw(st.booleans()):
        document["name"] = draw(STACK_NAMES)
    return document


def _dump(document: Any, root: Path) -> Path:
    """Write the document as YAML, pointing fake providers at a cloud under `root`."""
    text = yaml.safe_dump(document, allow_unicode=True)
    path = root / "bedform.yaml"
    path.write_text(text.replace("CLOUD", str(root / "cloud.json")), encoding="utf-8")
    return path


def _assert_names_file(result: Any, path: Path) -> None:
    assert str(path) in result.output, result.output


def _run(path: Path, command: str) -> Any:
    result = invoke("-c", str(path), command)
    assert_clean(result, f"{command} {path}:\n{path.read_text(errors='replace')}")
    return result


@SETTINGS
@given(document=stacks("local"))
def test_valid_local_stacks(document: dict[str, Any]) -> None:
    """Valid local stacks validate (plan would touch this machine: not run)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _dump(document, Path(tmp))
        result = _run(path, "validate")
        assert result.exit_code == 0, result.output
        assert not (Path(tmp) / ".bedform" / "state.json").exists()


@SETTINGS
@given(document=stacks("fake"))
def test_valid_fake_stacks(document: dict[str, Any]) -> None:
    """Valid fake stacks validate and plan."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _dump(document, Path(tmp))
        for command in ("validate", "plan"):
            result = _run(path, command)
            assert result.exit_code == 0, result.output
        assert not (Path(tmp) / ".bedform" / "state.json").exists()


# -- mutations -------------------------------------------------------------------------

def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


WRONG_VALUES = (st.none() | st.booleans() | st.integers(-10**30, 10**30)
                | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=10) | st.just([]) | st.just({})
                | st.lists(st.integers(), min_size=1, max_size=2)
                | st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), min_size=1))
# Key names bedform's dotted paths can show unambiguously (no dots or brackets).
FIELD_NAMES = st.text(st.characters(codec="utf-8", exclude_characters=".[]:\n\r",
                                    exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]),
                      min_size=1, max_size=12)


def _expect_error(document: Any, expected: str, kind: str, what: str) -> None:
    """Validate (and plan, for fake stacks): exit 1 naming the file and `expected`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _dump(document, Path(tmp))
        for command in ("validate", "plan") if kind == "fake" else ("validate",):
            result = _run(path, command)
            assert result.exit_code == 1, f"{what}: accepted\n{result.output}"
            assert str(path) in result.output, result.output
            if expected:
                assert f"{path}: {expected}: " in result.output, \
                    f"{what}: expected the field {expected}\n{result.output}"
        assert not (Path(tmp) / ".bedform" / "state.json").exists()


@SETTINGS
@given(kind=st.sampled_from(["local", "fake"]), data=st.data())
def test_wrong_type(kind: str, data: st.DataObject) -> None:
    """A value of another type at any path: the error names exactly that field."""
    document = data.draw(stacks(kind), label="stack")
    paths = [p for p, _ in walk(document) if p and p[-1] != "cloud"]
    path = data.draw(st.sampled_from(paths), label="path")
    original = get(document, path)
    value = data.draw(WRONG_VALUES.filter(lambda v: _type_name(v) != _type_name(original)),
                      label="value")
    mutated = copy.deepcopy(document)
    get(mutated, path[:-1])[path[-1]] = value
    _expect_error(mutated, dotted(path), kind, f"{dotted(path)} = {value!r}")


def _mappings(document: Any) -> list[tuple]:
    """Paths of the mappings that hold fields (the `providers` map holds names)."""
    return [p for p, v in walk(document) if isinstance(v, dict) and p != ("providers",)]


@SETTINGS
@given(kind=st.sampled_from(["local", "fake"]), data=st.data())
def test_unknown_field(kind: str, data: st.DataObject) -> None:
    """An unknown field anywhere: the error names it."""
    document = data.draw(stacks(kind), label="stack")
    path = data.draw(st.sampled_from(_mappings(document)), label="mapping")
    mapping = get(document, path)
    key = data.draw(FIELD_NAMES.filter(lambda k: k not in mapping and k != "type"),
                    label="key")
    mapping[key] = data.draw(WRONG_VALUES, label="value")
    _expect_error(document, dotted((*path, key)), kind, f"unknown {dotted((*path, key))}")


def _required(path: tuple, kind: str) -> set[str]:
    """The fields the schemas require in the mapping at `path`."""
    if path == ():
        return {"providers"}
    if len(path) == 2:
        return {"type", "resources" if kind == "local" else "cloud"}
    if path[-1] == "resources":
        return {"machines"}
    if isinstance(path[-1], int):
        return {"machines": {"roles"}, "servers": {"name"}, "jobs": {"name"},
                "networks": {"id", "cidr"} if kind == "local" else {"name", "cidr"}
                }.get(path[-2], set())
    return set()


@SETTINGS
@given(kind=st.sampled_from(["local", "fake"]), data=st.data())
def test_missing_required_field(kind: str, data: st.DataObject) -> None:
    """A required field removed: the error names it under its mapping."""
    document = data.draw(stacks(kind), label="stack")
    candidates = [(*p, k) for p in _mappings(document) for k in get(document, p)
                  if k in _required(p, kind)]
    path = data.draw(st.sampled_from(candidates), label="path")
    del get(document, path[:-1])[path[-1]]
    _expect_error(document, dotted(path), kind, f"missing {dotted(path)}")


@SETTINGS
@given(kind=st.sampled_from(["local", "fake"]), data=st.data())
def test_removed_field(kind: str, data: st.DataObject) -> None:
    """Any field removed: valid, or an error naming the file (and never a crash)."""
    document = data.draw(stacks(kind), label="stack")
    candidates = [(*p, k) for p in _mappings(document) for k in get(document, p)]
    path = data.draw(st.sampled_from(candidates), label="path")
    del get(document, path[:-1])[path[-1]]
    with tempfile.TemporaryDirectory() as tmp:
        stack = _dump(document, Path(tmp))
        for command in ("validate", "plan") if kind == "fake" else ("validate",):
            result = _run(stack, command)
            if result.exit_code == 1:
                _assert_names_file(result, stack)


@SETTINGS
@given(kind=st.sampled_from(["local", "fake"]), data=st.data())
def test_unicode_values(kind: str, data: st.DataObject) -> None:
    """Any unicode string in place of any string: valid or a clean error with the file."""
    document = data.draw(stacks(kind), label="stack")
    paths = [p for p, v in walk(document) if isinstance(v, str) and p[-1] != "cloud"]
    path = data.draw(st.sampled_from(paths), label="path")
    get(document, path[:-1])[path[-1]] = data.draw(st.text(min_size=1, max_size=30),
                                                   label="text")
    with tempfile.TemporaryDirectory() as tmp:
        stack = _dump(document, Path(tmp))
        result = _run(stack, "validate")
        if result.exit_code == 1:
            _assert_names_file(result, stack)


# -- text that is not a stack ----------------------------------------------------------

def _text_case(text: str | bytes, commands: tuple[str, ...] = ("validate", "plan")) -> None:
    """Validate (and plan) a stack file's raw text: accepted, or a clean error."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bedform.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text.replace("CLOUD", str(Path(tmp) / "cloud.json")),
                            encoding="utf-8")
        for command in commands:
            result = _run(path, command)
            if result.exit_code == 1:
                _assert_names_file(result, path)
        assert not (Path(tmp) / ".bedform" / "state.json").exists()


@SETTINGS
@given(text=st.text(max_size=200))
def test_random_text(text: str) -> None:
    """Random text (mostly invalid YAML or not a stack) is rejected cleanly."""
    _text_case(text)


@SETTINGS
@given(kind=st.sampled_from(["local", "fake"]), data=st.data())
def test_broken_yaml(kind: str, data: st.DataObject) -> None:
    """A valid stack's YAML with a tab, a bracket or a quote inserted, or truncated."""
    document = data.draw(stacks(kind), label="stack")
    text = yaml.safe_dump(document, default_flow_style=data.draw(st.booleans()))
    offset = data.draw(st.integers(0, len(text)), label="offset")
    junk = data.draw(st.sampled_from(["\t", "[", "{", "]", "'", '"', ": :", "- ", "&", "*x",
                                      "!!python/object:os.system", "%", "? ", "", "\x00"]),
                     label="junk")
    truncate = data.draw(st.booleans(), label="truncate")
    # plan on a local stack would look at this machine: validate only.
    _text_case(text[:offset] + junk + ("" if truncate else text[offset:]),
               ("validate", "plan") if kind == "fake" else ("validate",))


@SETTINGS
@given(top=st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
       | st.text(max_size=10) | st.lists(st.integers(), max_size=3))
def test_non_mapping_top_level(top: Any) -> None:
    """A scalar or a list at the top level: an error naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _dump(top, Path(tmp))
        result = _run(path, "validate")
        assert result.exit_code == 1 and str(path) in result.output, result.output


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_stack_file(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bedform.yaml"
        path.write_text(text)
        result = _run(path, "validate")
        assert result.exit_code == 1 and str(path) in result.output, result.output


def _local(**resources: Any) -> dict[str, Any]:
    return {"providers": {"here": {"type": "local", "resources": resources}}}


SEMANTIC = {
    "duplicate network id": (
        _local(machines=[{"roles": ["a"]}],
               networks=[{"id": "n", "cidr": "198.18.0.0/24"},
                         {"id": "n", "cidr": "198.18.1.0/24"}]),
        "providers.here.resources.networks[1].id"),
    "overlapping cidrs": (
        _local(machines=[{"roles": ["a"]}],
               networks=[{"id": "n", "cidr": "198.18.0.0/23"},
                         {"id": "m", "cidr": "198.18.1.0/24"}]),
        "providers.here.resources.networks[1].cidr"),
    "duplicate group": (_local(machines=[{"roles": ["a"]}, {"roles": ["a"]}]),
                        "providers.here.resources.machines[1].roles[0]"),
    "huge number": (_local(machines=[{"roles": ["a"], "number": 10**40}]),
                    "providers.here.resources.machines[0].number"),
    "float number": (_local(machines=[{"roles": ["a"], "number": 1.0}]),
                     "providers.here.resources.machines[0].number"),
    "unknown network": (_local(machines=[{"roles": ["a"], "networks": ["x"]}]),
                        "providers.here.resources.machines[0].networks[0]"),
    "ipv6 cidr": (_local(machines=[{"roles": ["a"]}],
                         networks=[{"id": "n", "cidr": "fd00::/64"}]),
                  "providers.here.resources.networks[0].cidr"),
    "unicode role": (_local(machines=[{"roles": ["sérveur"]}]),
                     "providers.here.resources.machines[0].roles[0]"),
    "unknown provider type": ({"providers": {"x": {"type": "nope"}}}, "providers.x.type"),
    "invalid provider name": ({"providers": {"X Y": {"type": "local"}}}, "providers.X Y"),
    "empty providers": ({"providers": {}}, "providers"),
    "fake unknown network": ({"providers": {"f": {"type": "fake", "cloud": "CLOUD",
                                                  "servers": [{"name": "a",
                                                               "network": "q"}]}}},
                             "providers.f.servers[0].network"),
}


@pytest.mark.parametrize("name", sorted(SEMANTIC))
def test_semantic_errors(name: str) -> None:
    document, expected = SEMANTIC[name]
    _expect_error(copy.deepcopy(document), expected, "local", name)


# -- bugs found by fuzzing, kept as deterministic reproductions ------------------------

@pytest.mark.parametrize("data", [b"\xff\xfe\x00abc", b"name: caf\xe9\n"])
def test_non_utf8_stack_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bedform.yaml"
        path.write_bytes(data)
        result = _run(path, "validate")
        assert result.exit_code == 1 and str(path) in result.output


@pytest.mark.parametrize("key", ["1", "~", "true", "1.5"])
def test_non_string_provider_name(key: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bedform.yaml"
        path.write_text(f"providers:\n  {key}: {{type: local, resources: "
                        "{machines: [{roles: [a]}]}}\n")
        result = _run(path, "validate")
        assert result.exit_code == 1 and f"{path}: providers" in result.output


def test_unknown_fields_of_mixed_key_types() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bedform.yaml"
        path.write_text("providers:\n  here:\n    type: local\n    resources: "
                        "{machines: [{roles: [a]}]}\n    1: x\n    foo: y\n")
        result = _run(path, "validate")
        assert result.exit_code == 1 and f"{path}: providers.here" in result.output


@pytest.mark.parametrize("name", ["duplicate network names", "undefined job"])
def test_planner_errors_name_the_file(name: str) -> None:
    section: dict[str, Any] = {"type": "fake", "cloud": "CLOUD"}
    if name == "duplicate network names":
        section["networks"] = [{"name": "n", "cidr": "10.0.0.0/24"},
                               {"name": "n", "cidr": "10.0.1.0/24"}]
    else:
        section["servers"] = [{"name": "a", "job": "nope"}]
    with tempfile.TemporaryDirectory() as tmp:
        path = _dump({"providers": {"f": section}}, Path(tmp))
        for command in ("validate", "plan"):
            result = _run(path, command)
            assert result.exit_code == 1
            assert f"{path}: providers.f" in result.output, result.output
