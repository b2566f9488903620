"""Time zones: reservation strings are Europe/Paris wall clock, epochs UTC, including
across the daylight-saving changes of 2026-03-29 and 2026-10-25."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bedform.api.g5k import G5k
from bedform.api.providers import Providers
from bedform.errors import InvalidReservationTime
from bedform.planner import slots
from bedform.providers.base import DriverContext
from bedform.providers.g5k import G5kConf
from bedform.providers.g5k.availability import paris_expressible
from bedform.providers.g5k.client import ApiError, epoch_to_paris, paris_to_epoch, submit_error
from bedform.providers.g5k.driver import G5kDriver
from tests.slots.conftest import busy, g5k_section, start_emulator


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("epoch", "paris"), [
    (utc(2026, 3, 29, 0, 30), "2026-03-29 01:30:00"),    # CET, before the change
    (utc(2026, 3, 29, 1, 30), "2026-03-29 03:30:00"),    # CEST: 02:xx does not exist
    (utc(2026, 10, 25, 0, 30), "2026-10-25 02:30:00"),   # CEST, first 02:30
    (utc(2026, 10, 25, 2, 30), "2026-10-25 03:30:00"),   # CET, after the change
    (utc(2026, 7, 1, 12, 0), "2026-07-01 14:00:00"),
    (utc(2026, 12, 1, 12, 0), "2026-12-01 13:00:00"),
])
def test_paris_strings_round_trip(epoch, paris):
    assert epoch_to_paris(epoch) == paris
    assert paris_to_epoch(paris) == epoch
    assert paris_expressible(epoch)


def test_repeated_october_hour_is_not_expressible():
    second = utc(2026, 10, 25, 1, 30)                     # the second 02:30 (CET)
    assert epoch_to_paris(second) == "2026-10-25 02:30:00"
    assert not paris_expressible(second)
    driver = G5kDriver(DriverContext("s", "", state_dir=None))  # type: ignore[arg-type]
    conf = G5kConf.from_dictionary(g5k_section(("lyon", "hercule", 1)))
    verdict = driver.test_slot(conf, second, second)
    assert verdict.ok is False and "daylight-saving" in verdict.reason
    assert verdict.hint == utc(2026, 10, 25, 2, 0)         # 03:00 CET, one name again


@pytest.mark.parametrize(("text", "epoch", "offset"), [
    ("2026-03-29 03:00:00", utc(2026, 3, 29, 1, 0), 2),
    ("2026-03-29 01:55:00", utc(2026, 3, 29, 0, 55), 1),
    ("2026-10-25 03:00:00", utc(2026, 10, 25, 2, 0), 1),
    ("2026-10-25 01:55:00", utc(2026, 10, 25, 23, 55) - 86400, 2),
])
def test_oar_refusal_hint_is_tz_aware_paris(text, epoch, offset):
    error = ApiError("POST", "/sites/lyon/jobs", 400, "Reservation mode: waiting "
                     f"validation...\nReservation not valid --> KO (This reservation "
                     f"could run at {text})")
    mapped = submit_error(error, "lyon", "{cluster='hercule'}/nodes=1")
    assert isinstance(mapped, InvalidReservationTime)
    assert mapped.datetime.tzinfo is not None
    assert mapped.datetime.utcoffset().total_seconds() == offset * 3600
    assert mapped.datetime.timestamp() == epoch


def test_with_reservation_writes_paris_wall_clock():
    driver = G5kDriver(DriverContext("s", "", state_dir=None))  # type: ignore[arg-type]
    conf = G5kConf.from_dictionary(g5k_section(("lyon", "hercule", 1), ("nancy", "gros", 1),
                                               walltime="02:00:00"))
    new = driver.with_reservation(conf, utc(2026, 10, 25, 2, 0), -300)
    assert new.reservation == "2026-10-25 03:00:00" and new.walltime == "01:55:00"
    assert conf.reservation is None and conf.walltime == "02:00:00"
    jobs = [r for r in driver.expand("g5k", new, {}) if r.kind == "g5k_job"]
    assert {j.inputs["reservation"] for j in jobs} == {"2026-10-25 03:00:00"}
    assert len(jobs) == 2                                 # one job per site, same start


@pytest.mark.parametrize("day", ["2026-03-29", "2026-10-25"])
def test_slot_across_the_change_on_the_emulator(g5k_emulator_factory, tmp_path,
                                                monkeypatch, day):
    midnight = datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp()
    emu = start_emulator(g5k_emulator_factory, tmp_path, monkeypatch, epoch=midnight)
    busy(emu, "lyon", "hercule", 4, "1:30:00")            # until 01:30 UTC
    conf = G5kConf.from_dictionary({**g5k_section(("lyon", "hercule", 1)),
                                    "job_name": "dst"})
    other = G5kConf.from_dictionary({**g5k_section(("nancy", "gros", 1)),
                                     "job_name": "dst2"})
    providers = Providers([G5k(conf, name="a"), G5k(other, name="b")])
    providers.async_init(start_time=midnight + 60, time_window=4 * 3600)
    expected = midnight + 60 + 18 * 300                    # first step after 01:30 UTC
    if day == "2026-10-25":
        expected = utc(2026, 10, 25, 2, 1)                 # 01:31-02:00 UTC is unnameable
    assert providers.reservation == expected, slots.fmt_utc(providers.reservation or 0)
    jobs = [j for s in emu.testbed.sites.values() for j in s.jobs.values()
            if j.user == "alice"]
    assert len(jobs) == 2 and {j.reservation for j in jobs} == {expected}
