from datetime import UTC, datetime, timedelta

import pytest

from app.services.sms import RetryPolicy

NOW = datetime(2025, 3, 14, 9, 26, tzinfo=UTC)


def no_jitter() -> float:
    return 0.0


def largest_jitter() -> float:
    return 0.999999


def wait_after(policy: RetryPolicy, attempts: int, rand=no_jitter) -> timedelta | None:
    at = policy.next_attempt_at(attempts, NOW, rand=rand)
    return None if at is None else at - NOW


def test_the_first_retry_waits_the_base_delay():
    policy = RetryPolicy(base_delay=timedelta(seconds=30), jitter=0.5)

    assert wait_after(policy, 1) == timedelta(seconds=30)


def test_each_failure_multiplies_the_wait_by_the_factor():
    policy = RetryPolicy(base_delay=timedelta(seconds=30), factor=2, max_attempts=8)

    waits = [wait_after(policy, attempts) for attempts in range(1, 5)]

    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]


def test_the_wait_never_exceeds_the_cap():
    policy = RetryPolicy(
        base_delay=timedelta(seconds=30), factor=2, max_delay=timedelta(hours=1), max_attempts=50
    )

    waits = [wait_after(policy, attempts) for attempts in range(1, 50)]

    assert max(w for w in waits if w is not None) == timedelta(hours=1)
    assert waits[-1] == timedelta(hours=1)


def test_a_huge_number_of_attempts_still_waits_the_cap():
    policy = RetryPolicy(factor=1000, max_attempts=10_000)

    assert wait_after(policy, 5_000) == timedelta(hours=1)


def test_equal_jitter_keeps_the_wait_between_half_and_all_of_the_delay():
    policy = RetryPolicy(base_delay=timedelta(seconds=60), jitter=0.5)

    shortest = wait_after(policy, 1, rand=largest_jitter)
    longest = wait_after(policy, 1, rand=no_jitter)

    assert timedelta(seconds=30) <= shortest < longest == timedelta(seconds=60)


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.75, 0.999999])
def test_jitter_stays_within_its_share_of_the_delay(draw):
    policy = RetryPolicy(base_delay=timedelta(seconds=40), factor=3, jitter=0.25)

    wait = wait_after(policy, 3, rand=lambda: draw)

    assert timedelta(seconds=270) <= wait <= timedelta(seconds=360)


def test_full_jitter_can_retry_almost_at_once_but_never_later_than_the_cap():
    policy = RetryPolicy(max_delay=timedelta(minutes=10), jitter=1.0, max_attempts=20)

    soonest = wait_after(policy, 15, rand=largest_jitter)
    latest = wait_after(policy, 15, rand=no_jitter)

    assert timedelta(0) <= soonest < timedelta(seconds=1)
    assert latest == timedelta(minutes=10)


def test_the_default_random_source_stays_within_bounds():
    policy = RetryPolicy(base_delay=timedelta(seconds=30), jitter=0.5)

    waits = [policy.next_attempt_at(2, NOW) - NOW for _ in range(200)]

    assert all(timedelta(seconds=30) <= w <= timedelta(seconds=60) for w in waits)


def test_no_retry_once_the_attempts_are_used_up():
    policy = RetryPolicy(max_attempts=3)

    assert policy.next_attempt_at(2, NOW) is not None
    assert policy.next_attempt_at(3, NOW) is None
    assert policy.next_attempt_at(4, NOW) is None


def test_a_single_attempt_policy_never_retries():
    policy = RetryPolicy(max_attempts=1)

    assert policy.next_attempt_at(1, NOW) is None


def test_the_retry_time_keeps_the_clock_time_zone():
    policy = RetryPolicy()

    at = policy.next_attempt_at(1, NOW, rand=no_jitter)

    assert at == NOW + timedelta(seconds=30)
    assert at.tzinfo is UTC


def test_asking_before_any_attempt_is_a_mistake():
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy().next_attempt_at(0, NOW)


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"base_delay": timedelta(0)}, "base_delay"),
        ({"max_delay": timedelta(seconds=1)}, "max_delay"),
        ({"factor": 0.5}, "factor"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"jitter": 1.5}, "jitter"),
    ],
)
def test_a_policy_that_cannot_work_is_refused(changes, complaint):
    with pytest.raises(ValueError, match=complaint):
        RetryPolicy(**changes)
