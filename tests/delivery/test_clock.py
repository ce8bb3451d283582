"""The attempt clock: remaining time from the server's clock, pauses, extensions, credits."""

from __future__ import annotations

import datetime as dt

import pytest

from examserver.delivery.clock import AttemptStatus, Clock, ClockError

T0 = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
MIN = 60_000


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def running(duration_min: int = 120, earliest_min: int = 30) -> Clock:
    return Clock(AttemptStatus.waiting, duration_min * MIN, earliest_min * MIN).start(T0)


def test_waiting_attempt_shows_the_whole_duration() -> None:
    clock = Clock(AttemptStatus.waiting, 120 * MIN)
    assert clock.remaining_ms(at(500)) == 120 * MIN
    assert clock.elapsed_ms(at(500)) == 0


def test_running_attempt_counts_down_from_the_server_clock() -> None:
    clock = running()
    assert clock.remaining_ms(at(0)) == 120 * MIN
    assert clock.remaining_ms(at(45)) == 75 * MIN
    assert clock.remaining_ms(at(200)) == 0
    assert not clock.is_overdue(at(119.9))
    assert clock.is_overdue(at(120))


def test_pause_stops_the_time_and_resume_moves_the_deadline() -> None:
    clock = running().pause(at(10))
    assert clock.remaining_ms(at(10)) == clock.remaining_ms(at(60)) == 110 * MIN
    assert not clock.is_overdue(at(500))
    clock = clock.resume(at(25))
    assert clock.remaining_ms(at(25)) == 110 * MIN
    assert clock.deadline_at == at(135)
    assert clock.paused_ms == 15 * MIN


def test_pause_and_resume_are_idempotent() -> None:
    clock = running().pause(at(10))
    assert clock.pause(at(12)) == clock
    resumed = clock.resume(at(20))
    assert resumed.resume(at(30)) == resumed


def test_extension_during_a_pause_counts_after_resume() -> None:
    clock = running().pause(at(10)).extend(10 * MIN)
    assert clock.remaining_ms(at(11)) == 120 * MIN
    clock = clock.resume(at(20))
    assert clock.deadline_at == at(140)
    assert clock.allowed_ms == 130 * MIN


def test_restart_credit_only_for_running_attempts() -> None:
    clock = running().credit(3 * MIN)
    assert clock.remaining_ms(at(60)) == 63 * MIN
    paused = running().pause(at(5))
    assert paused.credit(3 * MIN) == paused
    waiting = Clock(AttemptStatus.waiting, 120 * MIN)
    assert waiting.credit(3 * MIN) == waiting


def test_earliest_submit() -> None:
    clock = running()
    assert not clock.may_submit(at(29))
    assert clock.may_submit(at(30))
    assert running(earliest_min=0).may_submit(at(0))


def test_refused_transitions_have_codes() -> None:
    clock = running()
    with pytest.raises(ClockError) as err:
        clock.start(at(1))
    assert err.value.code == "not_waiting"
    with pytest.raises(ClockError) as err:
        clock.extend(0)
    assert err.value.code == "bad_extension"
    done = clock.submit()
    assert done.remaining_ms(at(1)) == 0
    for action in (done.submit, lambda: done.extend(MIN), lambda: done.pause(at(2))):
        with pytest.raises(ClockError):
            action()
