"""Unit tests of the emulator building blocks: clock, faults, OAR grammar, scheduler."""

import pytest

from bedform.emulators.common import FaultInjector, VirtualClock, normalize_path
from bedform.emulators.g5k.oarsql import FilterSyntaxError, compile_filter
from bedform.emulators.g5k.resources import (
    ResourceSyntaxError,
    format_duration,
    parse_duration,
    parse_resources,
)
from bedform.emulators.g5k.server import packaged_reference
from bedform.emulators.g5k.testbed import paris_time, parse_paris


class FakeReal:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_virtual_clock():
    real = FakeReal()
    clock = VirtualClock(epoch=1000, speed=10, real=real)
    real.t += 2
    assert clock.now() == 1020
    clock.set_speed(0)
    real.t += 5
    assert clock.now() == 1020
    assert clock.advance(30) == 1050
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        VirtualClock(speed=-1)


def test_fault_injector_counts():
    faults = FaultInjector()
    faults.add(path="/jobs$", method="POST", status=503, count=2)
    assert faults.take("GET", "/stable/sites/a/jobs") is None
    assert faults.take("post", "/stable/sites/a/jobs").status == 503
    assert faults.take("POST", "/stable/sites/a/jobs").status == 503
    assert faults.take("POST", "/stable/sites/a/jobs") is None
    with pytest.raises(ValueError):
        faults.add(status=99)


def test_normalize_path():
    assert normalize_path("//stable///sites/") == "/stable/sites"
    assert normalize_path("/") == "/"


@pytest.mark.parametrize(
    ("text", "props", "expected"),
    [
        ("cluster='parasilo'", {"cluster": "parasilo"}, True),
        ("(type='default' or type='disk') AND cluster='x'", {"type": "disk", "cluster": "x"}, True),
        ("network_address in ('a.fr', 'b.fr')", {"network_address": "b.fr"}, True),
        ("network_address NOT IN ('a.fr')", {"network_address": "a.fr"}, False),
        ("gpu_count > 0 and memnode >= 1024", {"gpu_count": 2, "memnode": "2048"}, True),
        ("cluster LIKE 'para%'", {"cluster": "paradoxe"}, True),
        ("gpu_model IS NULL", {}, True),
        ("NOT cluster = 'a'", {"cluster": "b"}, True),
        ("cluster != 'a'", {}, False),
    ],
)
def test_oar_sql_filters(text, props, expected):
    assert compile_filter(text).match(props) is expected


def test_oar_sql_errors():
    for bad in ("cluster=", "cluster = 'a' AND", "(cluster='a'", "cluster ~ 'a'"):
        with pytest.raises(FilterSyntaxError):
            compile_filter(bad)
    assert compile_filter("type='disk'").properties == {"type"}


def test_resource_grammar():
    req = parse_resources(
        "{network_address in ('p-1.r.fr', 'p-2.r.fr')}/nodes=2+{cluster='p'}/nodes=3"
        "+{type='kavlan'}/vlan=1+slash_22=1,walltime=02:00:00"
    )
    assert [g.kind for g in req.groups] == ["compute", "compute", "vlan", "subnet"]
    assert req.walltime == 7200
    assert req.groups[0].levels[0].name == "host"
    req = parse_resources("{type='kavlan'}/vlan=1+{cluster='paranoia'}nodes=1")
    assert req.groups[1].levels[0].count == 1
    req = parse_resources("{\"type='subnet'\"}/slash_21=4")
    assert req.groups[0].kind == "subnet" and req.groups[0].filter.properties == {"type"}
    assert parse_resources(None).groups[0].levels[0].count == 1
    assert parse_resources("/cluster=1/nodes=ALL/core=BEST").groups[0].levels[2].count == "BEST"
    for bad in ("nodes=0", "nodes=x", "foo=1", "core=1/nodes=1", "vlan=1/nodes=1", "{a='b'"):
        with pytest.raises(ResourceSyntaxError):
            parse_resources(bad)


def test_durations_and_dates():
    assert parse_duration("2") == 7200
    assert parse_duration("1:30") == 5400
    assert format_duration(3725) == "1:2:5"
    assert format_duration(3600, sign=True) == "+1:0:0"
    epoch = parse_paris("2026-07-01 12:00:00", 0)
    assert paris_time(epoch) == "2026-07-01 12:00:00"
    assert epoch == 1782900000  # CEST: 10:00 UTC
    assert parse_paris("now", 42.0) == 42.0
    with pytest.raises(ValueError):
        parse_paris("tomorrow", 0)


def test_reference_indexes():
    ref = packaged_reference()
    rennes = ref.index["rennes"]
    assert [h.uid for h in rennes.hosts if h.cluster == "parasilo"][:3] == [
        "parasilo-1",
        "parasilo-2",
        "parasilo-3",
    ]
    assert len(rennes.subnets) == 192
    assert str(rennes.subnets[0]) == "10.156.0.0/22"
    assert rennes.global_vlan == "16"
    assert ref.index["bordeaux"].vlans == {"DEFAULT": "NULL"}
    host = ref.host_by_fqdn["parasilo-1.rennes.grid5000.fr"]
    assert host.interfaces == [
        ("parasilo-1.rennes.grid5000.fr", "eth0", True),
        ("parasilo-1-eth1.rennes.grid5000.fr", "eth1", False),
    ]
    assert host.disks[0].key == "disk1.parasilo-1.rennes.grid5000.fr"
