"""The retry schedule and the verdict on each attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cairn_automations.domain.schedule import (
    AttemptResult,
    Verdict,
    jittered,
    judge,
    parse_retry_after,
)
from cairn_shared.settings import Settings

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DEFAULT = Settings.model_fields["webhook_retry_schedule_s"].get_default(call_default_factory=True)


def verdict_of(
    status: int | None, n: int = 1, retry_after: str | None = None
) -> tuple[Verdict, float | None]:
    outcome = judge(
        AttemptResult(status, retry_after), attempts_in_round=n, schedule=DEFAULT, now=NOW
    )
    delay = (
        None if outcome.next_attempt_at is None else (outcome.next_attempt_at - NOW).total_seconds()
    )
    return outcome.verdict, delay


def test_the_default_schedule_is_the_standard_webhooks_one() -> None:
    assert DEFAULT == [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert verdict_of(status) == (Verdict.DELIVERED, None)


def test_410_stops_and_disables() -> None:
    assert verdict_of(410) == (Verdict.GONE, None)


@pytest.mark.parametrize("status", [None, 301, 400, 404, 429, 500, 503])
def test_failures_retry_on_the_schedule(status: int | None) -> None:
    assert verdict_of(status, n=1) == (Verdict.RETRY, 5.0)
    assert verdict_of(status, n=2) == (Verdict.RETRY, 300.0)
    assert verdict_of(status, n=9) == (Verdict.RETRY, 86400.0)


def test_after_the_last_attempt_the_delivery_is_dead() -> None:
    outcome = judge(AttemptResult(500), attempts_in_round=10, schedule=DEFAULT, now=NOW)
    assert outcome.verdict is Verdict.DEAD
    assert "10 attempts" in outcome.reason


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_429_and_5xx_honour_retry_after(status: int) -> None:
    assert verdict_of(status, n=1, retry_after="120") == (Verdict.RETRY, 120.0)
    # Never sooner than the schedule.
    assert verdict_of(status, n=2, retry_after="1") == (Verdict.RETRY, 300.0)


def test_retry_after_is_ignored_on_other_statuses() -> None:
    assert verdict_of(404, n=1, retry_after="120") == (Verdict.RETRY, 5.0)


def test_retry_after_as_an_http_date_and_its_limits() -> None:
    later = (NOW + timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, NOW) == 600.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 0.0
    assert parse_retry_after("999999999", NOW) == 86400.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("nan", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_jitter_spreads_delays_but_never_the_immediate_attempt() -> None:
    assert jittered(0, 0.1, lambda: 1.0) == 0
    assert jittered(100, 0.1, lambda: 0.0) == pytest.approx(90)
    assert jittered(100, 0.1, lambda: 1.0) == pytest.approx(110)
    assert jittered(100, 0.0, lambda: 1.0) == 100
    outcome = judge(
        AttemptResult(500),
        attempts_in_round=1,
        schedule=[0, 10],
        now=NOW,
        jitter=0.5,
        rand=lambda: 0.0,
    )
    assert outcome.next_attempt_at == NOW + timedelta(seconds=5)
