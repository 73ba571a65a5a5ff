"""`health_check`'s circuit breaker per target: opens after `failureThreshold` consecutive
target failures, lets one check through `recheckSeconds` later, closes on success, re-opens on
failure; observability's down verdict opens it too, and is re-checked on the router's clock."""

from __future__ import annotations

from hyperstrate_providers import ErrorClass
from hyperstrate_router.application.inference.state import Target
from hyperstrate_router.application.inference.target_health import (
    Outcome,
    TargetHealth,
    outcome_of,
)
from hyperstrate_router.domain.features import HealthCheckConfig

CONFIG = HealthCheckConfig(failure_threshold=2, recheck_seconds=10.0)
TARGET = Target(id="t1", registration_id="reg1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _health() -> tuple[TargetHealth, Clock]:
    clock = Clock()
    return TargetHealth(clock), clock


def _fail(health: TargetHealth, times: int = 1) -> None:
    for _ in range(times):
        health.record("r", TARGET, CONFIG, Outcome.FAILURE)


def test_only_failures_of_the_target_count() -> None:
    assert outcome_of(ErrorClass.SERVER_ERROR) is Outcome.FAILURE
    assert outcome_of(ErrorClass.TIMEOUT) is Outcome.FAILURE
    assert outcome_of(ErrorClass.CONNECTION) is Outcome.FAILURE
    assert outcome_of(ErrorClass.BAD_REQUEST) is Outcome.NEUTRAL
    assert outcome_of(ErrorClass.RATE_LIMITED) is Outcome.NEUTRAL


def test_it_opens_after_the_threshold_of_consecutive_failures() -> None:
    health, _ = _health()
    _fail(health)
    assert health.available("r", TARGET, CONFIG)
    _fail(health)
    assert not health.available("r", TARGET, CONFIG)
    assert not health.admit("r", TARGET, CONFIG)


def test_a_success_between_failures_starts_the_count_again() -> None:
    health, _ = _health()
    _fail(health)
    health.record("r", TARGET, CONFIG, Outcome.SUCCESS)
    _fail(health)
    assert health.available("r", TARGET, CONFIG)


def test_half_open_lets_one_check_through_and_a_success_closes_it() -> None:
    health, clock = _health()
    _fail(health, 2)
    clock.now += 10
    assert health.admit("r", TARGET, CONFIG)  # the check
    assert not health.admit("r", TARGET, CONFIG)  # one at a time
    health.record("r", TARGET, CONFIG, Outcome.SUCCESS)
    assert health.admit("r", TARGET, CONFIG) and health.admit("r", TARGET, CONFIG)


def test_a_failed_check_opens_it_for_another_recheck_period() -> None:
    health, clock = _health()
    _fail(health, 2)
    clock.now += 10
    assert health.admit("r", TARGET, CONFIG)
    _fail(health)  # one failure is enough while half-open
    clock.now += 9
    assert not health.available("r", TARGET, CONFIG)
    clock.now += 1
    assert health.admit("r", TARGET, CONFIG)


def test_a_check_that_never_reports_back_lapses() -> None:
    health, clock = _health()
    _fail(health, 2)
    clock.now += 10
    assert health.admit("r", TARGET, CONFIG)  # its client left: no outcome comes
    clock.now += 10
    assert health.admit("r", TARGET, CONFIG)


def test_a_neutral_outcome_frees_the_check_without_a_verdict() -> None:
    health, clock = _health()
    _fail(health, 2)
    clock.now += 10
    assert health.admit("r", TARGET, CONFIG)
    health.record("r", TARGET, CONFIG, Outcome.NEUTRAL)  # e.g. the client's bad request
    assert health.admit("r", TARGET, CONFIG)


def test_breakers_are_per_router_target() -> None:
    health, _ = _health()
    _fail(health, 2)
    assert health.available("other-router", TARGET, CONFIG)
    assert health.available("r", Target(id="t2", registration_id="reg1"), CONFIG)


def test_a_down_report_opens_it_until_the_routers_own_recheck() -> None:
    health, clock = _health()
    health.report("reg1", healthy=False)
    assert not health.available("r", TARGET, CONFIG)
    clock.now += 10
    assert health.admit("r", TARGET, CONFIG)  # the router re-checks on its own schedule
    health.record("r", TARGET, CONFIG, Outcome.SUCCESS)
    assert health.available("r", TARGET, CONFIG)  # the report is spent for this target


def test_a_healthy_report_closes_what_the_down_report_opened() -> None:
    health, _ = _health()
    health.report("reg1", healthy=False)
    assert not health.available("r", TARGET, CONFIG)
    health.report("reg1", healthy=True)
    assert health.available("r", TARGET, CONFIG)


def test_a_target_pointed_at_another_registration_starts_afresh() -> None:
    health, _ = _health()
    _fail(health, 2)
    moved = Target(id="t1", registration_id="reg2")
    assert health.available("r", moved, CONFIG)
